//! The real-bug suite: published CLOSE_WAIT / descriptor-leak / spin-at-end-of-stream bugs in
//! crates of crates.io, each as the version with the bug and the version with the maintainers'
//! fix (`lab/real-bugs.tsv`). Both versions are fetched from the registry at run time with
//! `cargo info NAME@VERSION` (which unpacks the crate into cargo's registry sources); the
//! repository holds no code of theirs. waitlint is run from each crate's root as a user would
//! (`waitlint check --format short .`). The findings of the case's rule inside the named
//! function (`buggy_fn/fixed_fn` when the fix renamed it) are compared by message, and a case
//! is
//! - caught when the buggy version has a finding there that the fixed version does not (the
//!   fix made it go away; a finding about something else in the same function, present in
//!   both, is not this bug), and
//! - quiet in the fixed version when the fix brought no finding of its own there.
//!
//! A file written `buggy_path|fixed_path` is where the fix moved the function. A fixed
//! version written `crate@version` was published under another name (the maintained
//! fork the bug's issue points to).
//!
//! Usage: `real-bugs [--waitlint BIN] [--manifest FILE]`. Exits 1 when a case the manifest
//! marks `caught` is no longer caught (or its fixed version fires): recall must not regress.
//! A crate that cannot be fetched is a warning, not a failure (the registry may be out of
//! reach), and so is a case marked `missed` that is now caught (update the manifest).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use syn::spanned::Spanned;
use syn::visit::Visit;

struct Case {
    id: String,
    krate: String,
    buggy: String,
    fixed: String,
    file: String,
    function: String,
    rule: String,
    expect: String,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut waitlint = PathBuf::from("target/release/waitlint");
    let mut manifest = PathBuf::from("lab/real-bugs.tsv");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--waitlint" => waitlint = args.next().expect("--waitlint BIN").into(),
            "--manifest" => manifest = args.next().expect("--manifest FILE").into(),
            other => {
                eprintln!("real-bugs: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let waitlint = std::fs::canonicalize(&waitlint).unwrap_or_else(|e| {
        eprintln!(
            "real-bugs: {}: {e} (build it: cargo build --release)",
            waitlint.display()
        );
        std::process::exit(2)
    });
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| {
        eprintln!("real-bugs: {}: {e}", manifest.display());
        std::process::exit(2)
    });
    let cases = parse_manifest(&text);
    let mut regressions = 0;
    let (mut caught, mut quiet, mut fetched) = (0, 0, 0);
    println!(
        "{:<28} {:<22} {:<6} {:<10} {:<10} manifest",
        "case", "crate", "rule", "buggy", "fixed"
    );
    for case in &cases {
        let buggy_findings = judge(&waitlint, case, &case.buggy);
        let fixed_findings = judge(&waitlint, case, &case.fixed);
        let (Some(b), Some(f)) = (buggy_findings, fixed_findings) else {
            println!(
                "{:<28} {:<22} {:<6} {:<10} {:<10} {}  (warning: not fetched)",
                case.id, case.krate, case.rule, "-", "-", case.expect
            );
            continue;
        };
        let buggy = b.difference(&f).next().is_some();
        let fixed = f.difference(&b).next().is_some();
        fetched += 1;
        caught += usize::from(buggy);
        quiet += usize::from(!fixed);
        let mut remark = String::new();
        if case.expect == "caught" && (!buggy || fixed) {
            regressions += 1;
            remark = "  REGRESSION".into();
        } else if case.expect == "missed" && buggy && !fixed {
            remark = "  (now caught: mark it caught in the manifest)".into();
        }
        println!(
            "{:<28} {:<22} {:<6} {:<10} {:<10} {}{remark}",
            case.id,
            case.krate,
            case.rule,
            if buggy { "caught" } else { "missed" },
            if fixed { "FIRES" } else { "quiet" },
            case.expect,
        );
    }
    println!(
        "\ncaught in buggy: {caught} / {fetched}; quiet in fixed: {quiet} / {fetched}; \
         cases: {}; not fetched: {}",
        cases.len(),
        cases.len() - fetched
    );
    if regressions > 0 {
        eprintln!("real-bugs: {regressions} case(s) marked caught regressed");
        std::process::exit(1);
    }
}

fn parse_manifest(text: &str) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() || i == 0 && line.starts_with("id\t") {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 8 {
            eprintln!(
                "real-bugs: manifest line {} has {} columns, not 10",
                i + 1,
                f.len()
            );
            std::process::exit(2);
        }
        out.push(Case {
            id: f[0].into(),
            krate: f[1].into(),
            buggy: f[2].into(),
            fixed: f[3].into(),
            file: f[4].into(),
            function: f[5].into(),
            rule: f[6].into(),
            expect: f[7].into(),
        });
    }
    out
}

/// The messages of the case's rule's findings inside its function in `version`; `None` when
/// the crate could not be fetched or the file is missing.
fn judge(waitlint: &Path, case: &Case, version: &str) -> Option<BTreeSet<String>> {
    // `other-crate@1.2.3` when the fix was published under another name (a maintained fork).
    let (krate, number) = version.split_once('@').unwrap_or((&case.krate, version));
    let root = fetch(krate, number)?;
    // `buggy_path|fixed_path` when the fix moved the function to another file.
    let path = match case.file.split_once('|') {
        Some((buggy, _)) if version == case.buggy => buggy,
        Some((_, fixed)) => fixed,
        None => case.file.as_str(),
    };
    let file = root.join(path);
    let source = std::fs::read_to_string(&file).ok()?;
    // `buggy_fn/fixed_fn` when the fix renamed the function.
    let function = match case.function.split_once('/') {
        Some((buggy, _)) if version == case.buggy => buggy,
        Some((_, fixed)) => fixed,
        None => case.function.as_str(),
    };
    let ranges = function_lines(&source, function);
    if ranges.is_empty() {
        eprintln!(
            "real-bugs: {} {version}: no fn {function} in {}",
            case.krate, path
        );
        return None;
    }
    let out = Command::new(waitlint)
        .args(["check", "--format", "short", "--no-ignore", "."])
        .current_dir(&root)
        .output()
        .ok()?;
    let report = String::from_utf8_lossy(&out.stdout);
    let found = report
        .lines()
        .filter(|l| {
            let Some((line_path, rest)) = l.split_once(':') else {
                return false;
            };
            let line_path = line_path.trim_start_matches("./");
            let line: usize = rest
                .split(':')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            line_path == path
                && l.ends_with(&format!("[{}]", case.rule))
                && ranges.iter().any(|(a, b)| (*a..=*b).contains(&line))
        })
        // `path:line:col: severity: message [CODE]`: the message, without the position.
        .map(|l| l.splitn(4, ':').nth(3).unwrap_or(l).trim().to_string())
        .collect();
    Some(found)
}

/// The crate's sources, unpacked by `cargo info` into cargo's registry cache.
fn fetch(krate: &str, version: &str) -> Option<PathBuf> {
    let dir = format!("{krate}-{version}");
    if let Some(found) = registry_src(&dir) {
        return Some(found);
    }
    let status = Command::new("cargo")
        .args(["info", "--quiet", &format!("{krate}@{version}")])
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        eprintln!("real-bugs: warning: cannot fetch {krate} {version}");
        return None;
    }
    registry_src(&dir)
}

fn registry_src(dir: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let src = home.join("registry/src");
    std::fs::read_dir(src)
        .ok()?
        .flatten()
        .map(|index| index.path().join(dir))
        .find(|p| p.join("Cargo.toml").is_file())
}

/// The line ranges (1-based, inclusive) of the functions named `name` in `source`.
fn function_lines(source: &str, name: &str) -> Vec<(usize, usize)> {
    struct Fns<'n> {
        name: &'n str,
        found: BTreeMap<usize, usize>,
    }
    impl Fns<'_> {
        fn add(&mut self, ident: &syn::Ident, node: &impl Spanned) {
            if ident == self.name {
                let s = node.span();
                self.found.insert(s.start().line, s.end().line);
            }
        }
    }
    impl<'a> Visit<'a> for Fns<'_> {
        fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
            self.add(&f.sig.ident, f);
            syn::visit::visit_item_fn(self, f);
        }
        fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
            self.add(&f.sig.ident, f);
            syn::visit::visit_impl_item_fn(self, f);
        }
        fn visit_trait_item_fn(&mut self, f: &'a syn::TraitItemFn) {
            self.add(&f.sig.ident, f);
            syn::visit::visit_trait_item_fn(self, f);
        }
    }
    let Ok(file) = syn::parse_file(source) else {
        return Vec::new();
    };
    let mut v = Fns {
        name,
        found: BTreeMap::new(),
    };
    v.visit_file(&file);
    v.found.into_iter().collect()
}
