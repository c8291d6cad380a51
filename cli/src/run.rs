//! `waitlint check`: discover, lint in parallel, merge into one deterministic report.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lints::{Diagnostic, Severity};
use rayon::prelude::*;

use crate::args::{CheckArgs, Kind};
use crate::config::{ConfigError, ConfigStore, FileConfig};
use crate::discover::{self, Target};
use crate::report::{Failure, Report, Source};

/// What linting one target produced: its files (the target and, for nginx, what it includes),
/// diagnostics indexing those files, and failures. The text of a Rust or sysctl file is empty
/// when it has no finding and no suppression comment.
pub(crate) struct Unit {
    pub(crate) files: Vec<(PathBuf, Kind, Vec<u8>)>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) failures: Vec<Failure>,
    /// The parser's comments of the nginx files (by index into `files`) that may hold
    /// suppressions.
    pub(crate) comments: HashMap<usize, Vec<nginx_parser::Comment>>,
    /// The item extents of the Rust files (by index into `files`) that may hold suppressions,
    /// from the parse that linted them.
    pub(crate) rust_items: HashMap<usize, lints::suppress::RustItems>,
    /// A Rust file's calls that another file of its crate may answer (`crates::second_pass`).
    pub(crate) misses: lints::rust::flow::crate_facts::Misses,
}

fn display_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// A NUL byte means a binary file, not configuration or source: one clear failure instead of
/// syntax errors that quote binary bytes (and whatever escape sequences they hold).
fn binary_failure(path: &Path, text: &[u8]) -> Option<Failure> {
    // `contains` on bytes is core's word-at-a-time memchr, many times faster than `position`,
    // which matters when every file of a large tree goes through here.
    if !text.contains(&0) {
        return None;
    }
    let at = text.iter().position(|&b| b == 0)?;
    let (line, column) = nginx_parser::LineIndex::new(text).line_col(text, at as u32);
    Some(Failure {
        path: display_name(path),
        message: format!("{line}:{column}: contains a NUL byte: a binary file, not checked"),
    })
}

type Loaded = Result<nginx_parser::ConfigTree, nginx_parser::include::LoadError>;

/// Directories whose files are fragments included from the configuration directory above them.
const FRAGMENT_DIRS: &[&str] = &[
    "conf.d",
    "sites-enabled",
    "sites-available",
    "snippets",
    "vhosts.d",
];

/// Loads an nginx target with its includes. nginx resolves relative includes against its
/// configuration prefix (the directory of nginx.conf); for a fragment linted on its own in
/// `conf.d/`, `sites-enabled/`... that prefix is the directory above.
fn load_nginx(path: &Path) -> Loaded {
    let parent = path.parent();
    let base = parent
        .filter(|d| {
            d.file_name()
                .is_some_and(|n| FRAGMENT_DIRS.contains(&n.to_string_lossy().as_ref()))
        })
        .and_then(Path::parent)
        .map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        });
    let options = nginx_parser::IncludeOptions {
        base_dir: base,
        ..Default::default()
    };
    nginx_parser::load(path, &options)
}

/// Nginx targets that another linted configuration already includes: they are checked as part
/// of that configuration, with its context, and not again on their own (so each finding is
/// reported once, at its own file and line). Targets only reachable through an include cycle
/// among themselves have no root and stay linted on their own.
fn covered_by_roots(targets: &[Target], trees: &[Option<Loaded>]) -> HashSet<usize> {
    let identity = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let index: HashMap<PathBuf, usize> = targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == Kind::Nginx)
        .map(|(i, t)| (identity(&t.path), i))
        .collect();
    let mut includes: Vec<Vec<usize>> = vec![Vec::new(); targets.len()];
    let mut included = vec![false; targets.len()];
    for (i, tree) in trees.iter().enumerate() {
        let Some(Ok(tree)) = tree else { continue };
        for f in tree.files.iter().skip(1) {
            if let Some(&j) = index.get(&identity(&f.path)) {
                if j != i {
                    includes[i].push(j);
                    included[j] = true;
                }
            }
        }
    }
    let mut covered = HashSet::new();
    for root in (0..targets.len()).filter(|&i| trees[i].is_some() && !included[i]) {
        covered.extend(includes[root].iter().copied());
    }
    covered
}

fn lint_target(target: &Target, stdin: Option<&[u8]>, configs: &ConfigStore) -> Unit {
    lint_loaded(target, stdin, None, configs)
}

fn lint_loaded(
    target: &Target,
    stdin: Option<&[u8]>,
    preloaded: Option<Loaded>,
    configs: &ConfigStore,
) -> Unit {
    let mut unit = Unit {
        files: Vec::new(),
        diagnostics: Vec::new(),
        failures: Vec::new(),
        comments: HashMap::new(),
        rust_items: HashMap::new(),
        misses: Default::default(),
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
                None => match preloaded.unwrap_or_else(|| load_nginx(&target.path)) {
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
            if let Some(failure) = binary_failure(&target.path, &tree.files[0].text) {
                unit.failures.push(failure);
                return unit;
            }
            unit.diagnostics = lints::nginx::lint(&tree, &config.settings);
            unit.comments = tree
                .files
                .iter()
                .enumerate()
                .filter(|(_, f)| lints::suppress::may_have_suppressions(&f.text))
                .map(|(i, f)| (i, f.parse.config.comments.clone()))
                .collect();
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
            if let Some(failure) = binary_failure(&target.path, &text) {
                unit.failures.push(failure);
                return unit;
            }
            if target.kind == Kind::Sysctl {
                // Read as bytes, like sysctl: a line that cannot be read is a WL001
                // syntax error (exit status 2), and the rest of the file is still checked.
                let file = lints::sysctl::parse(&text);
                unit.diagnostics = lints::sysctl::lint(&file, &config.settings);
            }
            if target.kind == Kind::Rust {
                if let Ok(source) = std::str::from_utf8(&text) {
                    let lint = lints::rust::lint_in_crate(
                        source,
                        &config.settings,
                        &lints::rust::flow::crate_facts::CrateFacts::default(),
                    );
                    if let Some(too_deep) = &lint.too_deep {
                        let (line, column) = nginx_parser::LineIndex::new(&text)
                            .line_col(&text, too_deep.offset() as u32);
                        unit.failures.push(Failure {
                            path: display_name(&target.path),
                            message: format!("{line}:{column}: {too_deep}"),
                        });
                        return unit;
                    }
                    unit.diagnostics = lint.diagnostics;
                    unit.rust_items.insert(0, lint.items);
                    // Standard input has no crate around it.
                    if stdin.is_none() {
                        unit.misses = lint.misses;
                    }
                }
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
            // A file with nothing to report keeps no text: nothing renders from it, and on a
            // large tree the text of every file would otherwise stay in memory to the end.
            let keep_text = stdin.is_some()
                || !unit.diagnostics.is_empty()
                || !unit.misses.is_empty()
                || lints::suppress::may_have_suppressions(&text);
            let text = if keep_text { text } else { Vec::new() };
            unit.files.push((target.path.clone(), target.kind, text));
        }
    }
    unit
}

/// Applies each file's inline suppressions (`# waitlint: disable=...`, `// waitlint:
/// allow(...)`) to the merged findings, before any other filtering: a suppression is used when
/// its rule reported there, whatever the configuration and `--select` then keep. Adds the
/// `unused-suppression` findings.
fn apply_suppressions(
    mut diagnostics: Vec<Diagnostic>,
    sources: &[Source],
    comments: &HashMap<usize, Vec<nginx_parser::Comment>>,
    rust_items: &HashMap<usize, lints::suppress::RustItems>,
) -> Vec<Diagnostic> {
    use lints::suppress;
    for (id, source) in sources.iter().enumerate() {
        if !suppress::may_have_suppressions(&source.text) {
            continue;
        }
        let suppressions = match source.kind {
            Kind::Nginx => {
                suppress::nginx(&source.text, comments.get(&id).map_or(&[], Vec::as_slice))
            }
            Kind::Sysctl => suppress::sysctl(&source.text),
            Kind::Rust => match std::str::from_utf8(&source.text) {
                Ok(text) => {
                    suppress::rust(text, rust_items.get(&id).unwrap_or(&Default::default()))
                }
                Err(_) => continue,
            },
        };
        diagnostics = suppress::apply(id, &source.text, &suppressions, diagnostics);
    }
    diagnostics
}

/// The configuration of the file a finding is in: `per_path_ignores`, and a severity set in
/// `[rules.<name>]` (`off` drops the finding). Syntax errors are never dropped.
fn configure(d: &mut Diagnostic, config: &FileConfig, path: &Path) -> bool {
    if std::ptr::eq(d.rule, &lints::meta::SYNTAX_ERROR) {
        return true;
    }
    if config.ignores(path, d.rule) {
        return false;
    }
    match config.settings.severities.get(d.rule.name) {
        Some(None) => false,
        Some(Some(severity)) => {
            d.severity = *severity;
            true
        }
        None => true,
    }
}

/// The rule filter from `--select`/`--ignore`.
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
        stdin_target = Some((
            Target {
                path: name,
                kind,
                sniff: false,
            },
            text,
        ));
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
    // Each file's configuration, resolved before linting so that a bad `waitlint.toml` stops
    // the run once; its `exclude` drops walked files (and named ones with --force-exclude).
    let named: HashSet<&Path> = paths
        .iter()
        .filter(|p| !p.is_dir())
        .map(PathBuf::as_path)
        .collect();
    let mut targets = Vec::with_capacity(found.targets.len());
    for target in found.targets {
        let config = match configs.for_path(&target.path) {
            Ok(c) => c,
            Err(e) => return empty(e.0),
        };
        if config.excludes(&target.path)
            && (args.force_exclude || !named.contains(target.path.as_path()))
        {
            continue;
        }
        targets.push(target);
    }
    if let Some((target, _)) = &stdin_target {
        if let Err(e) = configs.for_path(&target.path) {
            return empty(e.0);
        }
    }
    // nginx configurations are loaded first so that fragments a root includes are linted
    // once, inside that root.
    let trees: Vec<Option<Loaded>> = targets
        .par_iter()
        .map(|t| (t.kind == Kind::Nginx).then(|| load_nginx(&t.path)))
        .collect();
    // A walked `.conf` that only its content classifies stays when this one load says nginx; one
    // that cannot be read stays too, so `lint_loaded` reports it like any unreadable file.
    let (targets, trees): (Vec<Target>, Vec<Option<Loaded>>) = targets
        .into_iter()
        .zip(trees)
        .filter(|(target, tree)| match tree {
            Some(Ok(tree)) if target.sniff => discover::looks_like_nginx(&tree.files[0].parse),
            _ => true,
        })
        .unzip();
    let progress = crate::progress::Progress::new(targets.len(), args.format);
    let covered = covered_by_roots(&targets, &trees);
    let mut units: Vec<Unit> = targets
        .par_iter()
        .zip(trees.into_par_iter())
        .enumerate()
        .map(|(i, (t, tree))| {
            let unit = if covered.contains(&i) {
                Unit {
                    files: Vec::new(),
                    diagnostics: Vec::new(),
                    failures: Vec::new(),
                    comments: HashMap::new(),
                    rust_items: HashMap::new(),
                    misses: Default::default(),
                }
            } else {
                lint_loaded(t, None, tree, &configs)
            };
            progress.tick();
            unit
        })
        .collect();
    progress.finish();
    crate::crates::second_pass(&targets, &mut units, &configs);
    crate::crates::drop_test_code(&targets, &mut units);
    if let Some((target, text)) = &stdin_target {
        units.push(lint_target(target, Some(text), &configs));
    }

    // Merge: one source per file (a file included by several configurations, or also linted on
    // its own, is reported once), diagnostics re-indexed into the merged list.
    let mut sources: Vec<Source> = Vec::new();
    let mut by_identity: HashMap<PathBuf, usize> = HashMap::new();
    let mut diagnostics = Vec::new();
    let mut comments: HashMap<usize, Vec<nginx_parser::Comment>> = HashMap::new();
    let mut rust_items: HashMap<usize, lints::suppress::RustItems> = HashMap::new();
    let mut failures: Vec<Failure> = found
        .failures
        .into_iter()
        .map(|(p, message)| Failure {
            path: display_name(&p),
            message,
        })
        .collect();
    let mut checked = 0;
    // One system call per path component: resolved in parallel, not in this serial merge.
    let identities: Vec<Vec<PathBuf>> = units
        .par_iter()
        .map(|unit| {
            unit.files
                .iter()
                .map(|(path, _, _)| std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()))
                .collect()
        })
        .collect();
    for (unit, unit_identities) in units.into_iter().zip(identities) {
        failures.extend(unit.failures);
        let mut map = Vec::with_capacity(unit.files.len());
        for ((path, kind, text), identity) in unit.files.into_iter().zip(unit_identities) {
            let id = match by_identity.get(&identity) {
                Some(&id) => {
                    // A file with nothing to report on its own keeps no text; another file's
                    // finding may still label it (a helper in another file of the crate).
                    if sources[id].text.is_empty() && !text.is_empty() {
                        sources[id] = Source::new(path.clone(), display_name(&path), kind, text);
                    }
                    id
                }
                None => {
                    checked += 1;
                    sources.push(Source::new(path.clone(), display_name(&path), kind, text));
                    by_identity.insert(identity, sources.len() - 1);
                    sources.len() - 1
                }
            };
            map.push(id);
        }
        for (index, file_comments) in unit.comments {
            comments.entry(map[index]).or_insert(file_comments);
        }
        for (index, items) in unit.rust_items {
            rust_items.entry(map[index]).or_insert(items);
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
    let mut diagnostics = apply_suppressions(diagnostics, &sources, &comments, &rust_items);
    // Looked up in parallel; the first error in source order stops the run, so the message
    // does not depend on thread timing.
    let looked_up: Vec<Result<Arc<FileConfig>, ConfigError>> = sources
        .par_iter()
        .map(|source| configs.for_path(&source.path))
        .collect();
    let file_configs: Vec<Arc<FileConfig>> = match looked_up.into_iter().collect() {
        Ok(c) => c,
        Err(e) => return empty(e.0),
    };
    diagnostics.retain_mut(|d| {
        let file = d.primary.location.file;
        configure(d, &file_configs[file], &sources[file].path) && keep(d, args)
    });
    lints::rust::drop_subsumed(&mut diagnostics);
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
    let flag = args.fail_on.map(|f| match f {
        crate::args::FailOn::Error => Severity::Error,
        crate::args::FailOn::Info => Severity::Info,
        crate::args::FailOn::Warning => Severity::Warning,
    });
    // Without the flag, each finding is judged by the `fail_on` of its file's configuration
    // (read again: the report does not keep it; the files are cached per run).
    let configs = match flag {
        Some(_) => None,
        None => ConfigStore::new(args).ok(),
    };
    let threshold = |d: &Diagnostic| {
        flag.or_else(|| {
            let path = &report.sources[d.primary.location.file].path;
            configs.as_ref()?.for_path(path).ok()?.fail_on
        })
        .unwrap_or(Severity::Warning)
    };
    u8::from(
        report
            .diagnostics
            .iter()
            .any(|d| d.severity >= threshold(d)),
    )
}
