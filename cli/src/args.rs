//! Command-line arguments of `waitlint check`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Source snippets with labels, notes and help (codespan-reporting)
    Human,
    /// One JSON document, version 1 (docs/json-output.md)
    Json,
    /// SARIF 2.1.0 for code scanning
    Sarif,
    /// GitHub Actions workflow commands (annotations)
    Github,
    /// gcc-style `path:line:col: severity: message [CODE]`, one line each
    Short,
    /// cargo's `compiler-message` JSON lines, for rust-analyzer
    RustcJson,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub enum Kind {
    Nginx,
    Sysctl,
    Rust,
}

impl Kind {
    #[allow(dead_code)]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Sysctl => "sysctl",
            Kind::Rust => "rust",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
}

#[derive(Args, Clone, Debug)]
#[command(group(clap::ArgGroup::new("fixing").args(["fix", "diff"]).multiple(true)))]
pub struct CheckArgs {
    /// Files or directories to check (default: the current directory); `-` reads standard input
    pub paths: Vec<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,

    /// When to colour human output (NO_COLOR is honoured)
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,

    /// Treat the files named on the command line (and stdin) as this kind
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,

    /// The path (and so the kind) of the file read from stdin (`-`)
    #[arg(long, value_name = "NAME")]
    pub stdin_filename: Option<PathBuf>,

    /// Do not skip what .gitignore and .ignore files exclude
    #[arg(long)]
    pub no_ignore: bool,

    /// Skip paths matching this glob (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Apply exclusions to files named on the command line too
    #[arg(long)]
    pub force_exclude: bool,

    /// Lowest severity that makes the exit status 1
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,

    /// Exit 0 even when there are findings (errors reading or parsing still exit 2)
    #[arg(long)]
    pub exit_zero: bool,

    /// Only run these rules: codes, names or code prefixes (comma-separated, repeatable)
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub select: Vec<String>,

    /// Do not run these rules: codes, names or code prefixes
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub ignore: Vec<String>,

    /// Print the number of findings per rule
    #[arg(long)]
    pub statistics: bool,

    /// Use this configuration file instead of looking for waitlint.toml
    #[arg(long, value_name = "PATH", conflicts_with = "isolated")]
    pub config: Option<PathBuf>,

    /// Ignore every configuration file
    #[arg(long)]
    pub isolated: bool,

    /// The nginx version to assume for version-dependent defaults (default 1.22)
    #[arg(long, value_name = "VERSION")]
    pub nginx_version: Option<String>,

    /// Apply the safe fixes, then report what remains (with `-`, print the fixed text to
    /// stdout instead of writing; docs/fixes.md)
    #[arg(long)]
    pub fix: bool,

    /// With --fix or --diff, also apply unsafe fixes (they change behaviour beyond the finding)
    #[arg(long, requires = "fixing")]
    pub unsafe_fixes: bool,

    /// Print what --fix would change as a unified diff and write nothing; exit 1 when there is
    /// something to change, 0 when not
    #[arg(long)]
    pub diff: bool,
}
