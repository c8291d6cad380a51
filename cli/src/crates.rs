//! The second pass over Rust files: crate-wide function summaries.
//!
//! The first pass lints every file on its own. A file whose rules met a call that a function in
//! another file of its crate may answer (`self.close_connection(token)` defined in `conn.rs`)
//! records it (`misses`). Here the files of that crate (the Rust targets under the same nearest
//! `Cargo.toml`) that define such a function are summarised, and each file whose calls they
//! answer is linted again with the crate's summaries. Files with no such call, most of a large
//! tree, are parsed once. See `lints::rust::flow::crate_facts` and docs/rust-analysis.md.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use lints::rust::flow::crate_facts::{self, CrateFacts, FileFacts, Wanted};
use rayon::prelude::*;

use crate::args::Kind;
use crate::config::ConfigStore;
use crate::discover::{self, Target};
use crate::run::Unit;

/// The nearest ancestor directory of each path that holds a `Cargo.toml`, looked up once per
/// directory.
#[derive(Default)]
struct Roots(HashMap<PathBuf, Option<PathBuf>>);

impl Roots {
    fn of(&mut self, file: &Path) -> Option<PathBuf> {
        let dir = file.parent()?;
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        self.of_dir(dir)
    }

    fn of_dir(&mut self, dir: &Path) -> Option<PathBuf> {
        if let Some(known) = self.0.get(dir) {
            return known.clone();
        }
        let found = if dir.join("Cargo.toml").is_file() {
            Some(dir.to_path_buf())
        } else {
            match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => self.of_dir(p),
                // The root directory: no crate.
                None if dir.is_absolute() => None,
                // `src` relative to the working directory: its parent is `.`, and above that
                // the paths become absolute.
                _ if dir != Path::new(".") => self.of_dir(Path::new(".")),
                _ => std::fs::canonicalize(dir)
                    .ok()
                    .and_then(|abs| abs.parent().map(Path::to_path_buf))
                    .and_then(|p| self.of_dir(&p)),
            }
        };
        self.0.insert(dir.to_path_buf(), found.clone());
        found
    }
}

/// Drops the Rust rules' findings in a crate's integration tests and benchmarks (files under
/// `tests/` or `benches/` beside its `Cargo.toml`): they are test code, which the rules skip as
/// they skip `#[test]` functions and `#[cfg(test)]` modules.
pub(crate) fn drop_test_code(targets: &[Target], units: &mut [Unit]) {
    let mut roots = Roots::default();
    for (target, unit) in targets.iter().zip(units) {
        if target.kind != Kind::Rust || unit.diagnostics.is_empty() {
            continue;
        }
        let Some(root) = roots.of(&target.path) else {
            continue;
        };
        // The root is absolute when it lies above the working directory.
        let absolute = root
            .is_absolute()
            .then(|| std::fs::canonicalize(&target.path).ok())
            .flatten();
        let relative = match (target.path.strip_prefix(&root), &absolute) {
            (Ok(relative), _) => relative,
            (Err(_), _) if root == Path::new(".") => &target.path,
            (Err(_), Some(absolute)) => match absolute.strip_prefix(&root) {
                Ok(relative) => relative,
                Err(_) => continue,
            },
            (Err(_), None) => continue,
        };
        let first = relative
            .components()
            .find(|c| !matches!(c, std::path::Component::CurDir));
        if first.is_some_and(|c| c.as_os_str() == "tests" || c.as_os_str() == "benches") {
            unit.diagnostics
                .retain(|d| d.rule.family != lints::registry::Family::Rust);
        }
    }
}

/// Lints again, with their crate's summaries, the Rust files whose first lint met calls that
/// another file of the crate answers. `units[i]` is the first lint of `targets[i]`.
pub(crate) fn second_pass(targets: &[Target], units: &mut [Unit], configs: &ConfigStore) {
    if units.iter().all(|u| u.misses.is_empty()) {
        return;
    }
    let mut roots = Roots::default();
    let crate_of: Vec<Option<PathBuf>> = targets
        .iter()
        .map(|t| (t.kind == Kind::Rust).then(|| roots.of(&t.path)).flatten())
        .collect();
    let mut wanted: HashMap<&Path, Wanted> = HashMap::new();
    for (unit, root) in units.iter().zip(&crate_of) {
        if let (Some(root), false) = (root, unit.misses.is_empty()) {
            wanted.entry(root).or_default().add(&unit.misses);
        }
    }
    if wanted.is_empty() {
        return;
    }
    // Every Rust file of those crates, checked or not: a pre-commit run names only the
    // changed files, and the helper that closes the connection may be in an unchanged one.
    let crate_files: HashMap<&Path, Vec<PathBuf>> = wanted
        .keys()
        .map(|root| (*root, rust_files(root, &mut roots)))
        .collect();
    let jobs: Vec<(&Path, usize)> = crate_files
        .iter()
        .flat_map(|(root, files)| (0..files.len()).map(move |k| (*root, k)))
        .collect();
    let names: HashMap<&Path, HashSet<String>> =
        wanted.iter().map(|(root, w)| (*root, w.names())).collect();
    // A cheap byte scan first: which files may define which wanted names (their text kept for
    // the parse that follows).
    let scanned: Vec<Scanned> = jobs
        .par_iter()
        .filter_map(|&(root, k)| {
            let text = std::fs::read(&crate_files[root][k]).ok()?;
            let names: Vec<String> = wanted[root]
                .defined_in(&text)
                .into_iter()
                .map(str::to_string)
                .collect();
            let fields = wanted[root].may_remove_field_in(&text);
            (fields || !names.is_empty()).then_some(Scanned {
                root,
                file: k,
                text,
                fields,
                names,
            })
        })
        .collect();
    // A function wanted only for its end of stream and defined in several files is ambiguous
    // (as within a file): those files are not parsed for it.
    let mut definitions: HashMap<(&Path, &str), usize> = HashMap::new();
    for s in &scanned {
        for name in &s.names {
            *definitions.entry((s.root, name.as_str())).or_default() += 1;
        }
    }
    let worth_parsing = |s: &Scanned| {
        s.fields
            || s.names.iter().any(|name| {
                !wanted[s.root].only_end_of_stream(name)
                    || definitions[&(s.root, name.as_str())] == 1
            })
    };
    let no_fields = HashSet::new();
    let summarised: Vec<(&Path, usize, FileFacts)> = scanned
        .par_iter()
        .filter(|s| worth_parsing(s))
        .filter_map(|s| {
            let fields = if s.fields {
                wanted[s.root].fields()
            } else {
                &no_fields
            };
            let text = std::str::from_utf8(&s.text).ok()?;
            let facts = crate_facts::facts_of(text, &names[s.root], fields);
            (!facts.is_empty()).then_some((s.root, s.file, facts))
        })
        .collect();
    let mut per_crate: HashMap<&Path, CrateFacts> = HashMap::new();
    for (root, k, facts) in summarised {
        per_crate.entry(root).or_default().add(k + 1, facts);
    }
    let again: Vec<usize> = (0..units.len())
        .filter(|&i| {
            let Some(facts) = crate_of[i].as_deref().and_then(|r| per_crate.get(r)) else {
                return false;
            };
            facts.answers(&units[i].misses)
        })
        .collect();
    let relinted: Vec<(usize, Unit)> = again
        .par_iter()
        .filter_map(|&i| {
            let root = crate_of[i].as_deref()?;
            let config = configs.for_path(&targets[i].path).ok()?;
            let text = source_of(targets, units, i)?;
            let lint = lints::rust::lint_in_crate(&text, &config.settings, &per_crate[root]);
            Some((
                i,
                with_crate_files(&targets[i], text, lint, &crate_files[root]),
            ))
        })
        .collect();
    for (i, unit) in relinted {
        units[i].diagnostics = unit.diagnostics;
        units[i].rust_items = unit.rust_items;
        units[i].files = unit.files;
    }
    // The texts kept for this pass go, unless something renders from them.
    for unit in units.iter_mut() {
        if std::mem::take(&mut unit.misses).is_empty() || !unit.diagnostics.is_empty() {
            continue;
        }
        if let Some((_, _, text)) = unit.files.first_mut() {
            if !lints::suppress::may_have_suppressions(text) {
                *text = Vec::new();
            }
        }
    }
}

/// A file of a crate the byte scan found worth a look.
struct Scanned<'r> {
    root: &'r Path,
    /// Its index among the crate's files.
    file: usize,
    text: Vec<u8>,
    /// It mentions a wanted field.
    fields: bool,
    /// The wanted functions it may define.
    names: Vec<String>,
}

/// The Rust files of a crate: what discovery finds under its root (the same rules as the
/// run's walk: hidden, `target/` and git-ignored paths left out), less the files of nested
/// crates (their own nearest `Cargo.toml`).
fn rust_files(root: &Path, roots: &mut Roots) -> Vec<PathBuf> {
    let no_exclude = globset::GlobSet::empty();
    let found = discover::discover(
        &[root.to_path_buf()],
        &discover::Options {
            respect_ignore_files: true,
            exclude: &no_exclude,
            force_exclude: false,
            kind: None,
        },
    );
    found
        .targets
        .into_iter()
        .filter(|t| t.kind == Kind::Rust)
        .map(|t| t.path)
        .filter(|p| roots.of(p).as_deref() == Some(root))
        .collect()
}

/// The text of a target: the one the first pass kept, else read again. `None` for a file that
/// is not UTF-8 or cannot be read now (the first pass reported it).
fn source_of(targets: &[Target], units: &[Unit], i: usize) -> Option<String> {
    let kept = units[i].files.first().map(|(_, _, text)| text);
    let bytes = match kept {
        Some(text) if !text.is_empty() => text.clone(),
        _ => std::fs::read(&targets[i].path).ok()?,
    };
    String::from_utf8(bytes).ok()
}

/// The unit of a file linted with its crate's summaries: a label in another file of the crate
/// (a helper's `Ok(0)` arm) brings that file into the unit, and its index is remapped.
fn with_crate_files(
    target: &Target,
    text: String,
    lint: lints::rust::FileLint,
    crate_files: &[PathBuf],
) -> Unit {
    let mut files = vec![(target.path.clone(), Kind::Rust, text.into_bytes())];
    let mut index: HashMap<usize, usize> = HashMap::from([(0, 0)]);
    let mut diagnostics = lint.diagnostics;
    for d in &mut diagnostics {
        let locations = std::iter::once(&mut d.primary)
            .chain(d.secondary.iter_mut())
            .map(|l| &mut l.location);
        for location in locations {
            let mapped = *index.entry(location.file).or_insert_with(|| {
                let other = &crate_files[location.file - 1];
                let text = std::fs::read(other).unwrap_or_default();
                files.push((other.clone(), Kind::Rust, text));
                files.len() - 1
            });
            location.file = mapped;
        }
    }
    Unit {
        files,
        diagnostics,
        failures: Vec::new(),
        comments: HashMap::new(),
        rust_items: HashMap::from([(0, lint.items)]),
        misses: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_belongs_to_the_nearest_cargo_toml() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let ws = dir.path();
        std::fs::write(ws.join("Cargo.toml"), "[workspace]\n").expect("write");
        std::fs::create_dir_all(ws.join("member/src/net")).expect("mkdir");
        std::fs::write(ws.join("member/Cargo.toml"), "[package]\n").expect("write");
        std::fs::create_dir_all(ws.join("tools")).expect("mkdir");
        let mut roots = Roots::default();
        assert_eq!(
            roots.of(&ws.join("member/src/net/conn.rs")),
            Some(ws.join("member"))
        );
        assert_eq!(
            roots.of(&ws.join("member/src/main.rs")),
            Some(ws.join("member"))
        );
        assert_eq!(roots.of(&ws.join("tools/gen.rs")), Some(ws.to_path_buf()));
        // No Cargo.toml up to the root directory: no crate (and the walk up ends).
        let loose = tempfile::tempdir().expect("temporary directory");
        assert_eq!(
            roots.of(&loose.path().join("a.rs")),
            None,
            "a Cargo.toml above the temporary directory would make this test meaningless"
        );
    }
}
