//! `waitlint.toml`: discovery (nearest file wins, stops at the repository root), `--config`,
//! `--isolated`, every key, and errors that cite file:line:col and exit 2.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const KEEPALIVE_OFF: &str = "http {\n    keepalive_timeout 0;\n}\n";

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A repository (a `.git` directory) in a temporary directory.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    dir
}

struct Run {
    status: i32,
    json: Value,
    stderr: String,
}

fn run(cwd: &Path, args: &[&str]) -> Run {
    let output = Command::cargo_bin("waitlint")
        .unwrap()
        .current_dir(cwd)
        .arg("check")
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    Run {
        status: output.status.code().unwrap(),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// (file, code, severity) of every finding.
fn findings(run: &Run) -> Vec<(String, String, String)> {
    run.json["diagnostics"]
        .as_array()
        .unwrap_or_else(|| panic!("no JSON report; stderr: {}", run.stderr))
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap().to_string(),
                d["code"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn finding(file: &str, code: &str, severity: &str) -> (String, String, String) {
    (file.to_string(), code.to_string(), severity.to_string())
}

fn severity_config(severity: &str) -> String {
    format!("[rules.keepalive-disabled]\nseverity = \"{severity}\"\n")
}

#[test]
fn nearest_file_wins_and_discovery_stops_at_the_repository_root() {
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    // Outside both repositories: never read.
    write(t, "waitlint.toml", &severity_config("off"));
    std::fs::create_dir_all(t.join("repo/.git")).unwrap();
    write(t, "repo/waitlint.toml", &severity_config("info"));
    write(t, "repo/a/nginx.conf", KEEPALIVE_OFF);
    write(t, "repo/b/waitlint.toml", &severity_config("error"));
    write(t, "repo/b/c/nginx.conf", KEEPALIVE_OFF);
    std::fs::create_dir_all(t.join("other/.git")).unwrap();
    write(t, "other/x/nginx.conf", KEEPALIVE_OFF);

    let r = run(t, &["repo", "other"]);
    assert_eq!(
        findings(&r),
        [
            finding("other/x/nginx.conf", "NGX001", "warning"),
            finding("repo/a/nginx.conf", "NGX001", "info"),
            finding("repo/b/c/nginx.conf", "NGX001", "error"),
        ]
    );
    assert_eq!(r.status, 1);

    // The repository root's own waitlint.toml is read (the search stops there, inclusive),
    // also when the run starts inside the repository.
    let r = run(&t.join("repo/a"), &["nginx.conf"]);
    assert_eq!(findings(&r), [finding("nginx.conf", "NGX001", "info")]);
}

#[test]
fn config_flag_uses_one_file_for_everything() {
    let dir = repo();
    let d = dir.path();
    write(d, "waitlint.toml", &severity_config("off"));
    write(d, "a/nginx.conf", KEEPALIVE_OFF);
    write(d, "b/waitlint.toml", &severity_config("off"));
    write(d, "b/nginx.conf", KEEPALIVE_OFF);
    write(d, "ci/strict.toml", &severity_config("error"));
    let r = run(d, &["--config", "ci/strict.toml", "."]);
    assert_eq!(
        findings(&r),
        [
            finding("a/nginx.conf", "NGX001", "error"),
            finding("b/nginx.conf", "NGX001", "error"),
        ]
    );
    let r = run(d, &["--config", "missing.toml", "."]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("missing.toml: cannot read"),
        "{}",
        r.stderr
    );
}

#[test]
fn isolated_ignores_every_file() {
    let dir = repo();
    let d = dir.path();
    write(d, "waitlint.toml", "this is not toml");
    write(d, "nginx.conf", KEEPALIVE_OFF);
    let r = run(d, &["--isolated", "."]);
    assert_eq!(findings(&r), [finding("nginx.conf", "NGX001", "warning")]);
    assert_eq!(r.status, 1);
}

#[test]
fn severity_override_decides_the_exit_status() {
    let dir = repo();
    let d = dir.path();
    write(d, "nginx.conf", KEEPALIVE_OFF);
    // A warning does not fail --fail-on error...
    assert_eq!(run(d, &["--isolated", "--fail-on", "error", "."]).status, 0);
    // ... an error does.
    write(d, "waitlint.toml", &severity_config("error"));
    let r = run(d, &["--fail-on", "error", "."]);
    assert_eq!(findings(&r), [finding("nginx.conf", "NGX001", "error")]);
    assert_eq!(r.status, 1);
}

#[test]
fn off_removes_the_findings() {
    let dir = repo();
    let d = dir.path();
    write(d, "nginx.conf", KEEPALIVE_OFF);
    write(d, "waitlint.toml", &severity_config("off"));
    let r = run(d, &["--fail-on", "info", "."]);
    assert!(findings(&r).is_empty(), "{:?}", r.json);
    assert_eq!(r.status, 0);
    // A rule can also be named by its code.
    write(d, "waitlint.toml", "[rules.NGX001]\nseverity = \"off\"\n");
    assert!(findings(&run(d, &["."])).is_empty());
}

#[test]
fn fail_on_in_the_file_and_the_flag_that_wins() {
    let dir = repo();
    let d = dir.path();
    write(d, "nginx.conf", KEEPALIVE_OFF);
    write(d, "waitlint.toml", "fail_on = \"error\"\n");
    assert_eq!(run(d, &["."]).status, 0);
    assert_eq!(run(d, &["--fail-on", "warning", "."]).status, 1);
    write(
        d,
        "waitlint.toml",
        "fail_on = \"info\"\n[rules.keepalive-disabled]\nseverity = \"info\"\n",
    );
    assert_eq!(run(d, &["."]).status, 1);
}

#[test]
fn unknown_key_cites_file_line_and_column_and_exits_2() {
    let dir = repo();
    let d = dir.path();
    write(d, "conf/nginx.conf", KEEPALIVE_OFF);
    write(
        d,
        "conf/waitlint.toml",
        "fail_on = \"warning\"\n\n  colour = \"red\"\n",
    );
    let r = run(d, &["."]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr
            .contains("conf/waitlint.toml:3:3: unknown key `colour`"),
        "{}",
        r.stderr
    );
    // Reported once, not per file.
    assert_eq!(r.stderr.matches("unknown key").count(), 1, "{}", r.stderr);
}

#[test]
fn bad_values_and_types_are_errors() {
    let dir = repo();
    let d = dir.path();
    write(d, "nginx.conf", KEEPALIVE_OFF);
    let cases = [
        (
            "nginx_version = \"one.twenty\"\n",
            "waitlint.toml:1:1: `nginx_version`: `one.twenty` is not a version",
        ),
        (
            "\nnginx_version = 1.25\n",
            "waitlint.toml:2:1: `nginx_version` must be a string, found a float",
        ),
        (
            "fail_on = \"sometimes\"\n",
            "waitlint.toml:1:1: `fail_on`: `sometimes` is not one of",
        ),
        (
            "[rules.keepalive-disabeld]\nseverity = \"off\"\n",
            "waitlint.toml:1:8: unknown rule `keepalive-disabeld`",
        ),
        (
            "[rules.keepalive-disabled]\nseverity = \"loud\"\n",
            "waitlint.toml:2:1: `rules.keepalive-disabled.severity`: `loud` is not one of",
        ),
        (
            "[rules.keepalive-disabled]\nthreshold = \"10s\"\n",
            "waitlint.toml:2:1: unknown option `threshold` for rule `keepalive-disabled`",
        ),
        (
            "exclude = [\"vendor\", 3]\n",
            "waitlint.toml:1:1: `exclude` must be an array of strings, found an integer",
        ),
        (
            "[per_path_ignores]\n\"legacy/**\" = [\"nope\"]\n",
            "waitlint.toml:2:1: `per_path_ignores.\"legacy/**\"`: unknown rule `nope`",
        ),
        ("fail_on = \"error\n", "waitlint.toml:1:"),
    ];
    for (text, want) in cases {
        write(d, "waitlint.toml", text);
        let r = run(d, &["."]);
        assert_eq!(r.status, 2, "{text}");
        assert!(
            r.stderr.contains(want),
            "{text:?}: wanted {want:?}, got {}",
            r.stderr
        );
    }
}

#[test]
fn bad_nginx_version_flag_exits_2() {
    let dir = repo();
    let d = dir.path();
    write(d, "nginx.conf", KEEPALIVE_OFF);
    let r = run(d, &["--nginx-version", "latest", "."]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("--nginx-version latest"), "{}", r.stderr);
    // A good version in the file is accepted.
    write(d, "waitlint.toml", "nginx_version = \"1.25.3\"\n");
    assert_eq!(run(d, &["."]).status, 1);
}

#[test]
fn per_path_ignores_silence_rules_under_a_glob() {
    let dir = repo();
    let d = dir.path();
    write(d, "legacy/nginx.conf", KEEPALIVE_OFF);
    write(d, "current/nginx.conf", KEEPALIVE_OFF);
    write(
        d,
        "waitlint.toml",
        "[per_path_ignores]\n\"legacy/**\" = [\"keepalive-disabled\"]\n",
    );
    let r = run(d, &["."]);
    assert_eq!(
        findings(&r),
        [finding("current/nginx.conf", "NGX001", "warning")]
    );
    // Globs are relative to the configuration file's directory, not to where waitlint runs.
    let r = run(&d.join("legacy"), &["."]);
    assert!(findings(&r).is_empty(), "{:?}", r.json);
}

#[test]
fn exclude_drops_files_under_the_configuration() {
    let dir = repo();
    let d = dir.path();
    write(d, "vendor/nginx.conf", KEEPALIVE_OFF);
    write(d, "site/nginx.conf", KEEPALIVE_OFF);
    write(d, "site/old.nginx", KEEPALIVE_OFF);
    write(d, "waitlint.toml", "exclude = [\"vendor\", \"*.nginx\"]\n");
    let r = run(d, &["."]);
    assert_eq!(
        findings(&r),
        [finding("site/nginx.conf", "NGX001", "warning")]
    );
    assert_eq!(r.json["summary"]["files_checked"], 1);
    // A file named on the command line is linted anyway, unless --force-exclude.
    let r = run(d, &["vendor/nginx.conf"]);
    assert_eq!(r.json["summary"]["files_checked"], 1);
    let r = run(d, &["--force-exclude", "vendor/nginx.conf"]);
    assert_eq!(r.json["summary"]["files_checked"], 0);
}

#[test]
fn the_documentation_covers_every_key_and_rule_option() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .unwrap();
    for key in [
        "nginx_version",
        "fail_on",
        "exclude",
        "[rules.",
        "severity",
        "per_path_ignores",
        "--config",
        "--isolated",
        "waitlint: disable=",
        "waitlint: disable-file=",
        "waitlint: allow(",
    ] {
        assert!(
            doc.contains(key),
            "docs/configuration.md does not mention {key}"
        );
    }
    // Rule options are documented once, generated from the registry into docs/rules.md (kept
    // current by lints/tests/registry.rs); the configuration guide points there.
    assert!(
        doc.contains("docs/rules.md") || doc.contains("rules.md"),
        "docs/configuration.md must point to docs/rules.md for rule options"
    );
    let rules_doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md"))
            .unwrap();
    for rule in lints::registry::all() {
        for option in rule.options {
            assert!(
                rules_doc.contains(&format!("`{}` (", option.name))
                    && rules_doc.contains(rule.name),
                "docs/rules.md does not document option `{}` of `{}`",
                option.name,
                rule.name
            );
        }
    }
}

#[test]
fn the_documented_example_is_accepted() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .unwrap();
    let example = doc
        .split("## A complete example")
        .nth(1)
        .and_then(|s| s.split("```toml\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("docs/configuration.md has a complete example");
    let dir = repo();
    let d = dir.path();
    write(d, "waitlint.toml", example);
    write(d, "legacy/nginx.conf", KEEPALIVE_OFF);
    write(d, "vendor/nginx.conf", KEEPALIVE_OFF);
    write(d, "site/nginx.conf", KEEPALIVE_OFF);
    let r = run(d, &["."]);
    assert_eq!(
        findings(&r),
        [finding("site/nginx.conf", "NGX001", "error")],
        "{}",
        r.stderr
    );
    assert_eq!(r.status, 1);
}
