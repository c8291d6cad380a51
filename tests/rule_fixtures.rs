//! Every rule's fixtures: `fixtures/<family>/<rule-name>/fires*` must produce exactly the
//! diagnostics annotated inline (`# expect: rule-name` / `// expect: rule-name` at the end of
//! the offending line, or alone on the line before it), `silent*` files must produce none, and
//! the human rendering of each file is compared with the blessed `<file>.out` beside it
//! (`BLESS=1 cargo test` rewrites them; `FIXTURES=family[/rule]` narrows a run).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const FAMILIES: &[&str] = &["nginx", "sysctl", "rust", "meta"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (line, rule name) pairs annotated in a fixture.
fn expectations(text: &str) -> BTreeSet<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(pos) = line.find("expect: ") else {
            continue;
        };
        let before = line[..pos].trim();
        let marker_only = before == "#" || before == "//";
        let names = line[pos + "expect: ".len()..].trim();
        // Alone on its line: the annotation is about the next line.
        let target = if marker_only { i + 2 } else { i + 1 };
        for name in names.split(',') {
            out.insert((target, name.trim().to_string()));
        }
    }
    out
}

fn run(file: &Path, family: &str, format: &str) -> (Value, String) {
    let mut cmd = Command::cargo_bin("waitlint").unwrap();
    cmd.current_dir(root())
        .arg("check")
        .arg("--isolated")
        .args(["--format", format])
        .args(["--color", "never"])
        .arg("--fail-on")
        .arg("info");
    if family != "meta" {
        cmd.args(["--kind", family]);
    }
    let rel = file.strip_prefix(root()).unwrap();
    let output = cmd.arg(rel).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let json = if format == "json" {
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{}: bad JSON ({e}): {stdout}", rel.display()))
    } else {
        Value::Null
    };
    (json, stdout)
}

/// `FIXTURES=nginx` or `FIXTURES=nginx/keepalive-disabled` limits a run (and a BLESS) to one
/// family or one rule.
fn selected(family: &str, rule: &str) -> bool {
    match std::env::var("FIXTURES") {
        Ok(f) if !f.is_empty() => f == family || f == format!("{family}/{rule}"),
        _ => true,
    }
}

fn fixture_files() -> Vec<(String, String, PathBuf)> {
    let mut out = Vec::new();
    for family in FAMILIES {
        let dir = root().join("fixtures").join(family);
        let Ok(rules) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut rules: Vec<_> = rules
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            // fixtures/rust/src holds the crate that compiles the Rust fixtures, not a rule.
            .filter(|p| p.file_name().is_some_and(|n| n != "src" && n != "target"))
            .collect();
        rules.sort();
        for rule_dir in rules {
            let rule = rule_dir.file_name().unwrap().to_string_lossy().into_owned();
            if !selected(family, &rule) {
                continue;
            }
            let mut files: Vec<_> = std::fs::read_dir(&rule_dir)
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "out"))
                .collect();
            files.sort();
            for f in files {
                out.push((family.to_string(), rule.clone(), f));
            }
        }
    }
    out
}

#[test]
fn fixtures_fire_exactly_where_annotated() {
    let mut failures = Vec::new();
    for (family, rule, file) in fixture_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let expected = expectations(&text);
        if name.starts_with("silent") && !expected.is_empty() {
            failures.push(format!(
                "{}: a silent fixture has expect annotations",
                file.display()
            ));
        }
        if name.starts_with("fires") && !expected.iter().any(|(_, r)| *r == rule) {
            failures.push(format!(
                "{}: a firing fixture must expect `{rule}` at least once",
                file.display()
            ));
        }
        let (json, _) = run(&file, &family, "json");
        let rel = file
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let actual: BTreeSet<(usize, String)> = json["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["file"] == rel.as_str())
            .map(|d| {
                (
                    d["line"].as_u64().unwrap() as usize,
                    d["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for missing in expected.difference(&actual) {
            failures.push(format!(
                "{rel}:{}: expected `{}`, not reported",
                missing.0, missing.1
            ));
        }
        for extra in actual.difference(&expected) {
            failures.push(format!(
                "{rel}:{}: `{}` reported but not expected",
                extra.0, extra.1
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn fixtures_render_as_blessed() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for (family, _, file) in fixture_files() {
        let (_, human) = run(&file, &family, "human");
        let blessed = file.with_file_name(format!(
            "{}.out",
            file.file_name().unwrap().to_string_lossy()
        ));
        if bless {
            std::fs::write(&blessed, &human).unwrap();
            continue;
        }
        match std::fs::read_to_string(&blessed) {
            Ok(want) if want == human => {}
            Ok(want) => failures.push(format!(
                "{}: rendering changed (run `BLESS=1 cargo test --test rule_fixtures` if intended)\n--- blessed\n{want}\n--- now\n{human}",
                file.display()
            )),
            Err(_) => failures.push(format!(
                "{}: no blessed rendering; run `BLESS=1 cargo test --test rule_fixtures`",
                blessed.display()
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_firing_and_a_silent_fixture() {
    if std::env::var("FIXTURES").is_ok_and(|f| !f.is_empty()) {
        eprintln!("FIXTURES is set: completeness is not judged on a narrowed run");
        return;
    }
    let files = fixture_files();
    let mut missing = Vec::new();
    for rule in lints::registry::all() {
        let family = rule.family.as_str();
        let has = |prefix: &str| {
            files.iter().any(|(f, r, p)| {
                f == family
                    && r == rule.name
                    && p.file_name().unwrap().to_string_lossy().starts_with(prefix)
            })
        };
        if !has("fires") || !has("silent") {
            missing.push(format!(
                "{} ({}): fixtures/{family}/{}/fires* and silent* are required",
                rule.name, rule.code, rule.name
            ));
        }
    }
    assert!(missing.is_empty(), "\n{}", missing.join("\n"));
}

#[test]
fn annotations_parse() {
    let e = expectations("a;  # expect: x\n# expect: y, z\nb;\n");
    let want: BTreeSet<(usize, String)> = [
        (1, "x".to_string()),
        (3, "y".to_string()),
        (3, "z".to_string()),
    ]
    .into_iter()
    .collect();
    assert_eq!(e, want);
}
