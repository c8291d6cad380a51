//! The `waitlint` command line.

mod args;
mod cargo_check;
mod config;
mod crates;
mod discover;
mod explain;
mod fix;
mod parse_cmd;
mod progress;
mod render;
mod report;
mod run;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::args::{CheckArgs, ColorChoice, Format};

#[derive(Parser)]
#[command(
    name = "waitlint",
    version,
    about = "Finds the nginx, sysctl and Rust code that piles up TCP connections in TIME_WAIT and CLOSE_WAIT",
    after_help = "`waitlint PATH...` is short for `waitlint check PATH...`.\n\nExit status: 0 no findings at or above --fail-on, 1 findings, 2 a file could not be read or parsed, or a usage or configuration error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lint files and directories (the default command)
    Check(CheckArgs),
    /// Print a rule's documentation
    Explain(explain::ExplainArgs),
    /// List every rule
    Rules(explain::RulesArgs),
    /// Parse one nginx configuration and print its tree (a syntax parse: fragments are fine)
    Parse(parse_cmd::ParseArgs),
    /// `cargo check` JSON lines plus waitlint's findings on Rust files (for rust-analyzer)
    CargoCheck(cargo_check::CargoCheckArgs),
}

const SUBCOMMANDS: &[&str] = &["check", "explain", "rules", "parse", "cargo-check", "help"];

/// `waitlint PATH` means `waitlint check PATH`: insert `check` when the first argument is not a
/// subcommand or a top-level flag.
fn with_default_command(mut argv: Vec<OsString>) -> Vec<OsString> {
    if let Some(first) = argv.get(1).and_then(|a| a.to_str()) {
        let top_level_flag = matches!(first, "-h" | "--help" | "-V" | "--version");
        if !SUBCOMMANDS.contains(&first) && !top_level_flag {
            argv.insert(1, OsString::from("check"));
        }
    }
    argv
}

/// The stack of every analysis thread. syn and the rules recurse once per level of nesting of
/// the code they read, and a file nested deeper than the default 2 MB allows would abort the
/// whole run (`lints::rust::nesting` turns away what this does not cover). Only what is used
/// is committed.
const ANALYSIS_STACK: usize = 256 << 20;

fn main() -> ExitCode {
    // Fails only when the pool was already built (never here): rayon's default is kept then.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(ANALYSIS_STACK)
        .build_global();
    let cli = Cli::parse_from(with_default_command(std::env::args_os().collect()));
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Explain(args) => explain::explain(&args),
        Command::Rules(args) => explain::rules(&args),
        Command::Parse(args) => parse_cmd::run(&args),
        Command::CargoCheck(args) => cargo_check::run(&args),
    }
}

/// `is_terminal`: whether the stream the output goes to is a terminal.
fn color_choice(choice: ColorChoice, is_terminal: bool) -> termcolor::ColorChoice {
    match choice {
        ColorChoice::Always => termcolor::ColorChoice::Always,
        ColorChoice::Never => termcolor::ColorChoice::Never,
        ColorChoice::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            if !no_color && is_terminal {
                termcolor::ColorChoice::Auto
            } else {
                termcolor::ColorChoice::Never
            }
        }
    }
}

fn check(args: &CheckArgs) -> ExitCode {
    if args.fix || args.diff {
        return fix::run(args);
    }
    let outcome = run::check(args);
    if let Some(fatal) = &outcome.fatal {
        eprintln!("waitlint: error: {fatal}");
        return ExitCode::from(2);
    }
    ExitCode::from(print_report(&outcome.report, args, false))
}

/// Prints a report in the format asked for, to stdout (or to stderr when `to_stderr`: `--fix`
/// on stdin prints the fixed text to stdout), and returns the exit status.
fn print_report(report: &report::Report, args: &CheckArgs, to_stderr: bool) -> u8 {
    for w in &report.warnings {
        eprintln!("waitlint: warning: {w}");
    }
    let written = match args.format {
        Format::Human => {
            let mut out = if to_stderr {
                let color = color_choice(args.color, std::io::stderr().is_terminal());
                termcolor::StandardStream::stderr(color)
            } else {
                let color = color_choice(args.color, std::io::stdout().is_terminal());
                termcolor::StandardStream::stdout(color)
            };
            render::human::render(report, &mut out, args.statistics)
        }
        Format::Json => {
            let mut out: Box<dyn Write> = if to_stderr {
                Box::new(std::io::stderr().lock())
            } else {
                Box::new(std::io::stdout().lock())
            };
            serde_json::to_writer_pretty(&mut out, &render::json::document(report))
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        Format::Sarif | Format::Github | Format::Short | Format::RustcJson => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let mut out: std::io::BufWriter<Box<dyn Write>> =
                std::io::BufWriter::new(if to_stderr {
                    Box::new(std::io::stderr().lock())
                } else {
                    Box::new(std::io::stdout().lock())
                });
            match args.format {
                Format::Sarif => {
                    let status = run::exit_status(report, args);
                    let doc = render::sarif::document(report, status, &cwd);
                    serde_json::to_writer_pretty(&mut out, &doc)
                        .map_err(std::io::Error::from)
                        .and_then(|()| writeln!(out))
                }
                Format::Github => render::github::render(report, &mut out),
                Format::Short => render::short::render(report, &mut out),
                _ => render::rustc_json::render(
                    report,
                    &render::rustc_json::Standalone::new(&cwd),
                    &mut out,
                ),
            }
            .and_then(|()| out.flush())
        }
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("waitlint: error: cannot write output: {e}");
            return 2;
        }
    }
    if args.format != Format::Human {
        for f in &report.failures {
            eprintln!("waitlint: error: {}: {}", f.path, f.message);
        }
    }
    run::exit_status(report, args)
}
