//! `waitlint cargo-check [-- CARGO ARGS]`: `cargo check --message-format=json`, then waitlint's
//! findings on the workspace's Rust files as more `compiler-message` lines. It is meant for
//! rust-analyzer's `check.overrideCommand` (see docs/editors.md): the editor shows the compiler's
//! diagnostics and waitlint's from one command.
//!
//! Standard output carries nothing but JSON lines: cargo's, forwarded byte for byte as they come
//! (so the editor's progress keeps moving), then waitlint's. Everything else goes to standard
//! error. waitlint lints while cargo compiles.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::{Args, Parser};
use serde_json::Value;

use crate::args::{CheckArgs, Kind};
use crate::render::rustc_json::{self, Owner};
use crate::report::Source;

#[derive(Args, Debug)]
#[command(override_usage = "waitlint cargo-check [-- <CARGO_ARGS>...]")]
pub struct CargoCheckArgs {
    /// Arguments for `cargo check`, after `--` (`--workspace`, `--all-targets`, `-p NAME`...)
    #[arg(
        value_name = "CARGO_ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub cargo_args: Vec<OsString>,
}

/// What waitlint's own pass produced.
struct Lint {
    /// `compiler-message` lines, ready to print.
    lines: Vec<u8>,
    /// An error-level finding or a Rust file that could not be checked.
    errors: bool,
}

pub fn run(args: &CargoCheckArgs) -> ExitCode {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command.arg("check");
    if !args
        .cargo_args
        .iter()
        .any(|a| a.to_string_lossy().starts_with("--message-format"))
    {
        command.arg("--message-format=json");
    }
    command
        .args(&args.cargo_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "waitlint: error: cannot run `{} check`: {e}",
                cargo.to_string_lossy()
            );
            return ExitCode::from(2);
        }
    };

    let manifest_path = manifest_path(&args.cargo_args);
    let lint = std::thread::spawn(move || lint_workspace(&cargo, manifest_path.as_deref()));

    let mut out = std::io::stdout().lock();
    let forwarded = match child.stdout.take() {
        Some(from) => forward(from, &mut out),
        None => Ok(()),
    };
    let status = child.wait();
    let lint = lint
        .join()
        .unwrap_or_else(|_| Err("waitlint's own check panicked".to_string()));

    let cargo_code: u8 = match &status {
        Ok(s) => s.code().map_or(101, |c| u8::try_from(c).unwrap_or(101)),
        Err(e) => {
            eprintln!("waitlint: error: cargo check did not finish: {e}");
            101
        }
    };
    let (written, waitlint_code) = match lint {
        Ok(lint) => (
            forwarded.and_then(|()| out.write_all(&lint.lines).and_then(|()| out.flush())),
            u8::from(lint.errors),
        ),
        Err(message) => {
            eprintln!("waitlint: error: {message}");
            (forwarded, 2)
        }
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("waitlint: error: cannot write output: {e}");
        }
    }
    // cargo's failure first: it is what the editor must show; then waitlint's.
    ExitCode::from(if cargo_code != 0 {
        cargo_code
    } else {
        waitlint_code
    })
}

/// Copies cargo's standard output to ours unchanged, flushing as it comes, and makes sure it
/// ends with a newline so that waitlint's lines start on their own.
fn forward(mut from: impl Read, out: &mut impl Write) -> std::io::Result<()> {
    let mut buffer = [0u8; 16 * 1024];
    let mut last = b'\n';
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buffer[..n])?;
        out.flush()?;
        last = buffer[n - 1];
    }
    if last != b'\n' {
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The `--manifest-path` given to cargo, so `cargo metadata` looks at the same workspace.
fn manifest_path(cargo_args: &[OsString]) -> Option<OsString> {
    let mut args = cargo_args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "--manifest-path" {
            return args.next().cloned();
        }
        if let Some(value) = arg
            .to_str()
            .and_then(|a| a.strip_prefix("--manifest-path="))
        {
            return Some(OsString::from(value));
        }
    }
    None
}

/// `check` arguments as if given on the command line, so every default stays the one of
/// `waitlint check`.
#[derive(Parser)]
#[command(no_binary_name = true)]
struct Check {
    #[command(flatten)]
    args: CheckArgs,
}

fn lint_workspace(cargo: &OsStr, manifest_path: Option<&OsStr>) -> Result<Lint, String> {
    let mut metadata = Command::new(cargo);
    metadata.args(["metadata", "--format-version", "1", "--no-deps"]);
    if let Some(path) = manifest_path {
        metadata.arg("--manifest-path").arg(path);
    }
    let output = metadata
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run `cargo metadata`: {e}"))?;
    if !output.status.success() {
        return Err(format!("`cargo metadata` failed ({})", output.status));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cannot read `cargo metadata` output: {e}"))?;
    let workspace = Workspace::new(&metadata)?;

    let check = Check::try_parse_from([
        OsStr::new("--format"),
        OsStr::new("rustc-json"),
        OsStr::new("--"),
        workspace.root.as_os_str(),
    ])
    .map_err(|e| e.to_string())?;
    let outcome = crate::run::check(&check.args);
    if let Some(fatal) = outcome.fatal {
        return Err(fatal);
    }
    let mut report = outcome.report;
    // The editor asked about Rust: configuration files elsewhere in the tree are for
    // `waitlint check`.
    report
        .diagnostics
        .retain(|d| report.sources[d.primary.location.file].kind == Kind::Rust);
    for w in &report.warnings {
        eprintln!("waitlint: warning: {w}");
    }
    let mut errors = report
        .diagnostics
        .iter()
        .any(|d| d.severity == lints::Severity::Error);
    for f in &report.failures {
        if Path::new(&f.path).extension().is_some_and(|e| e == "rs") {
            eprintln!("waitlint: error: {}: {}", f.path, f.message);
            errors = true;
        }
    }
    let mut lines = Vec::new();
    rustc_json::render(&report, &workspace, &mut lines)
        .map_err(|e| format!("cannot render findings: {e}"))?;
    Ok(Lint { lines, errors })
}

/// A workspace member as `cargo metadata` describes it.
struct Package {
    id: String,
    manifest_path: String,
    /// The directory of its Cargo.toml.
    dir: PathBuf,
    /// Each target with the directory of its root source file.
    targets: Vec<(PathBuf, Value)>,
}

/// Attributes files to workspace packages the way cargo would.
struct Workspace {
    root: PathBuf,
    packages: Vec<Package>,
}

impl Workspace {
    fn new(metadata: &Value) -> Result<Workspace, String> {
        let root = metadata["workspace_root"]
            .as_str()
            .ok_or("`cargo metadata` output has no workspace_root")?;
        let packages = metadata["packages"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                let manifest_path = p["manifest_path"].as_str()?;
                let targets = p["targets"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|t| {
                        let src = Path::new(t["src_path"].as_str()?);
                        Some((src.parent()?.to_path_buf(), target(t)))
                    })
                    .collect();
                Some(Package {
                    id: p["id"].as_str()?.to_string(),
                    manifest_path: manifest_path.to_string(),
                    dir: Path::new(manifest_path).parent()?.to_path_buf(),
                    targets,
                })
            })
            .collect();
        Ok(Workspace {
            root: PathBuf::from(root),
            packages,
        })
    }
}

/// The target object of a `compiler-message`, from the one `cargo metadata` prints.
fn target(t: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in [
        "kind",
        "crate_types",
        "name",
        "src_path",
        "edition",
        "doc",
        "doctest",
        "test",
    ] {
        if let Some(v) = t.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

impl rustc_json::Context for Workspace {
    fn file_name(&self, source: &Source) -> String {
        source
            .path
            .strip_prefix(&self.root)
            .unwrap_or(&source.path)
            .to_string_lossy()
            .into_owned()
    }

    fn owner(&self, source: &Source) -> Owner {
        // The innermost package whose directory holds the file, then its target whose root
        // source file is in the innermost directory holding the file (`src/` for the library,
        // `tests/` for a test...), or its first target.
        let package = self
            .packages
            .iter()
            .filter(|p| source.path.starts_with(&p.dir))
            .max_by_key(|p| p.dir.components().count());
        let Some(package) = package else {
            return Owner {
                package_id: "waitlint".into(),
                manifest_path: self.root.join("Cargo.toml").to_string_lossy().into_owned(),
                target: rustc_json::pseudo_target(&source.path),
            };
        };
        let target = package
            .targets
            .iter()
            .filter(|(dir, _)| source.path.starts_with(dir))
            .max_by_key(|(dir, _)| dir.components().count())
            .or_else(|| package.targets.first())
            .map_or_else(
                || rustc_json::pseudo_target(&source.path),
                |(_, t)| t.clone(),
            );
        Owner {
            package_id: package.id.clone(),
            manifest_path: package.manifest_path.clone(),
            target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_path_in_both_spellings() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            manifest_path(&args(&["--workspace", "--manifest-path", "a/Cargo.toml"])),
            Some(OsString::from("a/Cargo.toml"))
        );
        assert_eq!(
            manifest_path(&args(&["--manifest-path=b/Cargo.toml"])),
            Some(OsString::from("b/Cargo.toml"))
        );
        assert_eq!(manifest_path(&args(&["--workspace"])), None);
    }

    #[test]
    fn forward_adds_a_missing_final_newline_only() {
        let mut out = Vec::new();
        forward(&b"{\"a\":1}\n{\"b\":2}"[..], &mut out).unwrap();
        assert_eq!(out, b"{\"a\":1}\n{\"b\":2}\n");
        let mut out = Vec::new();
        forward(&b"x\n"[..], &mut out).unwrap();
        assert_eq!(out, b"x\n");
        let mut out = Vec::new();
        forward(&b""[..], &mut out).unwrap();
        assert!(out.is_empty());
    }
}
