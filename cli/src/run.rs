//! `waitlint check`: discover, lint in parallel, merge into one deterministic report.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use lints::{Diagnostic, Severity};
use rayon::prelude::*;

use crate::args::{CheckArgs, Kind};
use crate::config::{ConfigError, ConfigStore};
use crate::discover::{self, Target};
use crate::report::{Failure, Report, Source};

/// What linting one target produced: its files (the target and, for nginx, what it includes),
/// diagnostics indexing those files, and failures.
struct Unit {
    files: Vec<(PathBuf, Kind, Vec<u8>)>,
    diagnostics: Vec<Diagnostic>,
    failures: Vec<Failure>,
}

fn display_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

fn lint_target(target: &Target, stdin: Option<&[u8]>, configs: &ConfigStore) -> Unit {
    let mut unit = Unit {
        files: Vec::new(),
        diagnostics: Vec::new(),
        failures: Vec::new(),
    };
    let config = match configs.for_path(&target.path) {
        Ok(c) => c,
        Err(ConfigError(message)) => {
            unit.failures.push(Failure {
                path: display_name(&target.path),
                message,
            });
            return unit;
        }
    };
    match target.kind {
        Kind::Nginx => {
            let tree = match stdin {
                Some(text) => {
                    let parse = nginx_parser::parse(text);
                    nginx_parser::ConfigTree {
                        files: vec![nginx_parser::SourceFile {
                            path: target.path.clone(),
                            text: text.to_vec(),
                            parse,
                        }],
                        includes: Default::default(),
                        errors: Vec::new(),
                    }
                }
                None => match nginx_parser::load(&target.path, &Default::default()) {
                    Ok(tree) => tree,
                    Err(e) => {
                        unit.failures.push(Failure {
                            path: display_name(&target.path),
                            message: e.error.to_string(),
                        });
                        return unit;
                    }
                },
            };
            unit.diagnostics = lints::nginx::lint(&tree, &config.settings);
            unit.files = tree
                .files
                .into_iter()
                .map(|f| (f.path, Kind::Nginx, f.text))
                .collect();
        }
        Kind::Sysctl | Kind::Rust => {
            let text = match stdin {
                Some(t) => t.to_vec(),
                None => match std::fs::read(&target.path) {
                    Ok(t) => t,
                    Err(e) => {
                        unit.failures.push(Failure {
                            path: display_name(&target.path),
                            message: e.to_string(),
                        });
                        return unit;
                    }
                },
            };
            if target.kind == Kind::Rust {
                if let Err(e) = std::str::from_utf8(&text) {
                    let (line, column) =
                        nginx_parser::LineIndex::new(&text).line_col(&text, e.valid_up_to() as u32);
                    unit.failures.push(Failure {
                        path: display_name(&target.path),
                        message: format!("{line}:{column}: not valid UTF-8, so not Rust source"),
                    });
                    return unit;
                }
            }
            unit.files.push((target.path.clone(), target.kind, text));
        }
    }
    unit
}

/// The rule filter from `--select`/`--ignore` and per-rule severities.
fn keep(d: &Diagnostic, args: &CheckArgs) -> bool {
    // Syntax errors always show: they decide the exit status and explain missing findings.
    if std::ptr::eq(d.rule, &lints::meta::SYNTAX_ERROR) {
        return true;
    }
    let matches = |sel: &String| {
        lints::registry::select(sel)
            .iter()
            .any(|r| std::ptr::eq(*r, d.rule))
    };
    (args.select.is_empty() || args.select.iter().any(matches)) && !args.ignore.iter().any(matches)
}

pub struct Outcome {
    pub report: Report,
    /// The run itself failed before linting (bad configuration, bad arguments).
    pub fatal: Option<String>,
}

pub fn check(args: &CheckArgs) -> Outcome {
    let empty = |fatal: String| Outcome {
        report: Report {
            sources: Vec::new(),
            diagnostics: Vec::new(),
            failures: Vec::new(),
            warnings: Vec::new(),
            files_checked: 0,
        },
        fatal: Some(fatal),
    };
    for sel in args.select.iter().chain(&args.ignore) {
        if lints::registry::select(sel).is_empty() {
            return empty(format!(
                "unknown rule selector `{sel}`: see `waitlint rules`"
            ));
        }
    }
    let configs = match ConfigStore::new(args) {
        Ok(c) => c,
        Err(e) => return empty(e.0),
    };
    let mut exclude = globset::GlobSetBuilder::new();
    for glob in &args.exclude {
        match globset::Glob::new(glob) {
            Ok(g) => {
                exclude.add(g);
            }
            Err(e) => return empty(format!("--exclude {glob}: {e}")),
        }
    }
    let exclude = match exclude.build() {
        Ok(e) => e,
        Err(e) => return empty(e.to_string()),
    };

    let mut paths: Vec<PathBuf> = args.paths.clone();
    if paths.is_empty() {
        paths.push(PathBuf::from("."));
    }
    let mut stdin_target = None;
    if let Some(pos) = paths.iter().position(|p| p.as_os_str() == "-") {
        paths.remove(pos);
        let name = args
            .stdin_filename
            .clone()
            .unwrap_or_else(|| PathBuf::from("<stdin>"));
        let kind = args
            .kind
            .or_else(|| discover::kind_from_path(&name))
            .or_else(|| {
                name.extension()
                    .is_some_and(|e| e == "conf")
                    .then_some(Kind::Nginx)
            });
        let Some(kind) = kind else {
            return empty("cannot tell what kind of input stdin is: pass --stdin-filename NAME or --kind nginx|sysctl|rust".into());
        };
        let mut text = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut text) {
            return empty(format!("cannot read standard input: {e}"));
        }
        stdin_target = Some((Target { path: name, kind }, text));
    }

    let found = if paths.is_empty() {
        discover::Discovery::default()
    } else {
        discover::discover(
            &paths,
            &discover::Options {
                respect_ignore_files: !args.no_ignore,
                exclude: &exclude,
                force_exclude: args.force_exclude,
                kind: args.kind,
            },
        )
    };
    let progress = crate::progress::Progress::new(found.targets.len(), args.format);
    let mut units: Vec<Unit> = found
        .targets
        .par_iter()
        .map(|t| {
            let unit = lint_target(t, None, &configs);
            progress.tick();
            unit
        })
        .collect();
    progress.finish();
    if let Some((target, text)) = &stdin_target {
        units.push(lint_target(target, Some(text), &configs));
    }

    // Merge: one source per file (a file included by several configurations, or also linted on
    // its own, is reported once), diagnostics re-indexed into the merged list.
    let mut sources: Vec<Source> = Vec::new();
    let mut by_identity: HashMap<PathBuf, usize> = HashMap::new();
    let mut diagnostics = Vec::new();
    let mut failures: Vec<Failure> = found
        .failures
        .into_iter()
        .map(|(p, message)| Failure {
            path: display_name(&p),
            message,
        })
        .collect();
    let mut checked = 0;
    for unit in units {
        failures.extend(unit.failures);
        let mut map = Vec::with_capacity(unit.files.len());
        for (path, kind, text) in unit.files {
            let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let id = *by_identity.entry(identity).or_insert_with(|| {
                checked += 1;
                sources.push(Source::new(path.clone(), display_name(&path), kind, text));
                sources.len() - 1
            });
            map.push(id);
        }
        for mut d in unit.diagnostics {
            d.primary.location.file = map[d.primary.location.file];
            for l in &mut d.secondary {
                l.location.file = map[l.location.file];
            }
            if let Some(fix) = &mut d.fix {
                for e in &mut fix.edits {
                    e.location.file = map[e.location.file];
                }
            }
            diagnostics.push(d);
        }
    }
    diagnostics.retain(|d| keep(d, args));
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            (
                sources[d.primary.location.file].name.clone(),
                d.primary.location.span.start,
                d.primary.location.span.end,
                d.rule.code,
                d.message.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    diagnostics.dedup_by(|a, b| {
        a.rule == b.rule && a.primary.location == b.primary.location && a.message == b.message
    });
    failures.sort_by(|a, b| a.path.cmp(&b.path));
    Outcome {
        report: Report {
            sources,
            diagnostics,
            failures,
            warnings: found.warnings,
            files_checked: checked,
        },
        fatal: None,
    }
}

/// 0: nothing at or above the threshold; 1: findings at or above it; 2: the run failed, or a
/// file could not be read or parsed.
pub fn exit_status(report: &Report, args: &CheckArgs) -> u8 {
    if !report.failures.is_empty() || !report.unparsed_files().is_empty() {
        return 2;
    }
    if args.exit_zero {
        return 0;
    }
    let threshold = match args.fail_on {
        Some(crate::args::FailOn::Error) => Severity::Error,
        Some(crate::args::FailOn::Info) => Severity::Info,
        Some(crate::args::FailOn::Warning) | None => Severity::Warning,
    };
    u8::from(report.diagnostics.iter().any(|d| d.severity >= threshold))
}
