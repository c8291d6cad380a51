//! The command-line contract of `waitlint check`, `explain` and `rules`: flags, exit statuses,
//! output formats, colour, stdin and determinism.
//!
//! Exit statuses: 0 no finding at or above `--fail-on` (default `warning`), 1 findings, 2 a file
//! could not be read or parsed, or a usage or configuration error.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// keep-alive off: one NGX001 (warning) at 2:23.
const WARNING: &str = "server {\n    keepalive_timeout 0;\n}\n";
/// A missing absolute include: one WL002 downgraded to info.
const INFO: &str = "include /nonexistent/waitlint-test/x.conf;\n";
/// Both of the above in one file.
const WARNING_AND_INFO: &str =
    "include /nonexistent/waitlint-test/x.conf;\nserver {\n    keepalive_timeout 0;\n}\n";
const CLEAN: &str = "server {\n    keepalive_timeout 65s;\n}\n";
/// A missing `;`: one WL001 (error), exit 2.
const BROKEN: &str = "server {\n    keepalive_timeout 0\n}\n";

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("temporary directory");
        // A repository root, so that no .gitignore above the temporary directory applies.
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        Project { dir }
    }

    fn with(files: &[(&str, &str)]) -> Project {
        let p = Project::new();
        for (path, text) in files {
            p.file(path, text);
        }
        p
    }

    fn file(&self, rel: &str, text: &str) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `waitlint ARGS...` run in the project directory, colour and NO_COLOR neutralised.
    fn waitlint(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_waitlint"));
        cmd.current_dir(self.path())
            .env_remove("NO_COLOR")
            .args(args);
        cmd
    }

    /// `waitlint check ARGS... --format json`: the exit status and the document.
    fn json(&self, args: &[&str]) -> (i32, Value) {
        let mut full = vec!["check"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--format", "json"]);
        let out = self.waitlint(&full).output().unwrap();
        let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); stdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().expect("exit status"), doc)
    }
}

/// The rule codes of a JSON document's diagnostics, in output order.
fn codes(doc: &Value) -> Vec<String> {
    doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8(cmd.output().unwrap().stdout).unwrap()
}

// ---- exit statuses ----

#[test]
fn exit_0_when_there_is_nothing_to_report() {
    let p = Project::with(&[("conf.d/api.conf", CLEAN)]);
    p.waitlint(&["check", "conf.d/api.conf"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "1 file: 0 errors, 0 warnings, 0 infos",
        ));
}

#[test]
fn exit_1_on_a_warning() {
    let p = Project::with(&[("conf.d/api.conf", WARNING)]);
    p.waitlint(&["check", "conf.d/api.conf", "--color", "never"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "warning[NGX001/keepalive-disabled]",
        ))
        .stdout(predicate::str::contains("conf.d/api.conf:2:23"));
}

#[test]
fn exit_2_on_a_syntax_error_and_on_a_missing_path() {
    let p = Project::with(&[("conf.d/api.conf", BROKEN)]);
    p.waitlint(&["check", "conf.d/api.conf", "--color", "never"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("error[WL001/syntax-error]"))
        .stdout(predicate::str::contains("conf.d/api.conf:2:"));
    p.waitlint(&["check", "no/such/file.conf", "--color", "never"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("no/such/file.conf"));
}

#[test]
fn exit_2_on_usage_errors() {
    let p = Project::with(&[("conf.d/api.conf", CLEAN)]);
    p.waitlint(&["check", "--no-such-flag"]).assert().code(2);
    p.waitlint(&["check", "--format", "yaml"]).assert().code(2);
    p.waitlint(&["check", "--fail-on", "never"])
        .assert()
        .code(2);
    p.waitlint(&["check", "--config", "waitlint.toml", "--isolated"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
    p.waitlint(&["check", "conf.d/api.conf", "--nginx-version", "latest"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--nginx-version latest"));
    p.waitlint(&["check", "conf.d/api.conf", "--nginx-version", "1.25.3"])
        .assert()
        .code(0);
    p.waitlint(&["check", "conf.d/api.conf", "--exclude", "a[b"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--exclude a[b"));
}

// ---- --fail-on and --exit-zero ----

#[test]
fn an_info_finding_does_not_fail_by_default() {
    let p = Project::with(&[("conf.d/inc.conf", INFO)]);
    let (status, doc) = p.json(&["conf.d/inc.conf"]);
    assert_eq!(codes(&doc), ["WL002"]);
    assert_eq!(doc["diagnostics"][0]["severity"], "info");
    assert_eq!(status, 0);
}

#[test]
fn fail_on_sets_the_lowest_failing_severity() {
    let p = Project::with(&[("conf.d/inc.conf", INFO), ("conf.d/api.conf", WARNING)]);
    let status = |args: &[&str]| p.waitlint(args).output().unwrap().status.code().unwrap();
    // info only
    assert_eq!(
        status(&["check", "conf.d/inc.conf", "--fail-on", "info"]),
        1
    );
    assert_eq!(
        status(&["check", "conf.d/inc.conf", "--fail-on", "warning"]),
        0
    );
    assert_eq!(
        status(&["check", "conf.d/inc.conf", "--fail-on", "error"]),
        0
    );
    // a warning
    assert_eq!(
        status(&["check", "conf.d/api.conf", "--fail-on", "info"]),
        1
    );
    assert_eq!(
        status(&["check", "conf.d/api.conf", "--fail-on", "warning"]),
        1
    );
    assert_eq!(
        status(&["check", "conf.d/api.conf", "--fail-on", "error"]),
        0
    );
    // a syntax error is an error-level finding, and a file not fully checked: 2 regardless
    p.file("conf.d/broken.conf", BROKEN);
    assert_eq!(
        status(&["check", "conf.d/broken.conf", "--fail-on", "error"]),
        2
    );
}

#[test]
fn exit_zero_ignores_findings_but_not_failures() {
    let p = Project::with(&[("conf.d/api.conf", WARNING), ("conf.d/inc.conf", INFO)]);
    p.waitlint(&["check", "conf.d", "--exit-zero", "--fail-on", "info"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 warning, 1 info"));
    p.file("conf.d/broken.conf", BROKEN);
    p.waitlint(&["check", "conf.d", "--exit-zero"])
        .assert()
        .code(2);
    p.waitlint(&["check", "conf.d/api.conf", "missing.conf", "--exit-zero"])
        .assert()
        .code(2);
}

// ---- --select and --ignore ----

#[test]
fn select_by_code_name_and_prefix() {
    let p = Project::with(&[("conf.d/both.conf", WARNING_AND_INFO)]);
    let (status, doc) = p.json(&["conf.d/both.conf"]);
    assert_eq!(codes(&doc), ["WL002", "NGX001"]);
    assert_eq!(status, 1);
    for selector in ["NGX001", "ngx001", "keepalive-disabled", "NGX", "ngx0"] {
        let (status, doc) = p.json(&["conf.d/both.conf", "--select", selector]);
        assert_eq!(codes(&doc), ["NGX001"], "--select {selector}");
        assert_eq!(status, 1);
    }
    for selector in ["WL002", "include-error", "WL", "WL00"] {
        let (status, doc) = p.json(&["conf.d/both.conf", "--select", selector]);
        assert_eq!(codes(&doc), ["WL002"], "--select {selector}");
        assert_eq!(status, 0, "only an info is left");
    }
    let (_, doc) = p.json(&["conf.d/both.conf", "--select", "NGX001,include-error"]);
    assert_eq!(codes(&doc), ["WL002", "NGX001"]);
    let (_, doc) = p.json(&[
        "conf.d/both.conf",
        "--select",
        "NGX001",
        "--select",
        "WL002",
    ]);
    assert_eq!(codes(&doc), ["WL002", "NGX001"]);
    let (_, doc) = p.json(&["conf.d/both.conf", "--select", "ALL"]);
    assert_eq!(codes(&doc), ["WL002", "NGX001"]);
}

#[test]
fn ignore_by_code_name_and_prefix() {
    let p = Project::with(&[("conf.d/both.conf", WARNING_AND_INFO)]);
    for selector in ["NGX001", "keepalive-disabled", "NGX", "N"] {
        let (status, doc) = p.json(&["conf.d/both.conf", "--ignore", selector]);
        assert_eq!(codes(&doc), ["WL002"], "--ignore {selector}");
        assert_eq!(status, 0);
        assert_eq!(doc["summary"]["warnings"], 0);
        assert_eq!(doc["summary"]["infos"], 1);
    }
    let (status, doc) = p.json(&["conf.d/both.conf", "--ignore", "NGX001,WL002"]);
    assert_eq!(codes(&doc), Vec::<String>::new());
    assert_eq!(status, 0);
    // --ignore wins over --select
    let (_, doc) = p.json(&["conf.d/both.conf", "--select", "ALL", "--ignore", "WL"]);
    assert_eq!(codes(&doc), ["NGX001"]);
}

#[test]
fn syntax_errors_are_reported_whatever_is_selected() {
    let p = Project::with(&[("conf.d/broken.conf", BROKEN)]);
    for args in [["--ignore", "WL001"], ["--select", "NGX001"]] {
        let mut full = vec!["conf.d/broken.conf"];
        full.extend_from_slice(&args);
        let (status, doc) = p.json(&full);
        assert_eq!(codes(&doc), ["WL001"], "{args:?}");
        assert_eq!(status, 2);
    }
}

#[test]
fn an_unknown_selector_is_a_usage_error() {
    let p = Project::with(&[("conf.d/api.conf", WARNING)]);
    for flag in ["--select", "--ignore"] {
        p.waitlint(&["check", "conf.d/api.conf", flag, "NGX001,NOPE999"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("unknown rule selector `NOPE999`"));
    }
}

// ---- --statistics ----

#[test]
fn statistics_count_findings_per_rule() {
    let p = Project::with(&[
        ("conf.d/a.conf", WARNING_AND_INFO),
        ("conf.d/b.conf", WARNING),
    ]);
    let out = p
        .waitlint(&["check", "conf.d", "--statistics", "--color", "never"])
        .assert()
        .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("\n    2  NGX001  keepalive-disabled\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n    1  WL002  include-error\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("2 files: 0 errors, 2 warnings, 1 info (2 with a suggested fix)\n"));
    // Without the flag, no statistics.
    let plain = stdout_of(&mut p.waitlint(&["check", "conf.d", "--color", "never"]));
    assert!(!plain.contains("NGX001  keepalive-disabled"), "{plain}");
}

// ---- human output and colour ----

#[test]
fn human_output_snapshot() {
    let p = Project::with(&[
        ("conf.d/a.conf", WARNING_AND_INFO),
        ("conf.d/b.conf", CLEAN),
        ("conf.d/c.conf", BROKEN),
    ]);
    let out = p
        .waitlint(&["check", "conf.d", "--format", "human", "--color", "never"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains('\x1b'));
    insta::assert_snapshot!("human_color_never", stdout);
}

#[test]
fn color_always_writes_ansi_escapes() {
    let p = Project::with(&[("conf.d/api.conf", WARNING)]);
    let always = stdout_of(&mut p.waitlint(&["check", "conf.d/api.conf", "--color", "always"]));
    assert!(always.contains("\x1b["), "{always:?}");
    // NO_COLOR does not override an explicit --color always.
    let always = stdout_of(
        p.waitlint(&["check", "conf.d/api.conf", "--color", "always"])
            .env("NO_COLOR", "1"),
    );
    assert!(always.contains("\x1b["), "{always:?}");
}

#[test]
fn no_escapes_with_color_never_no_color_or_a_pipe() {
    let p = Project::with(&[("conf.d/api.conf", WARNING)]);
    let never = stdout_of(&mut p.waitlint(&["check", "conf.d/api.conf", "--color", "never"]));
    assert!(!never.contains('\x1b'), "{never:?}");
    let auto = stdout_of(
        p.waitlint(&["check", "conf.d/api.conf", "--color", "auto"])
            .env("NO_COLOR", "1"),
    );
    assert!(!auto.contains('\x1b'), "{auto:?}");
    // A pipe is not a terminal: auto means no colour.
    let piped = stdout_of(&mut p.waitlint(&["check", "conf.d/api.conf"]));
    assert!(!piped.contains('\x1b'), "{piped:?}");
    assert_eq!(auto, never);
    assert_eq!(piped, never);
}

/// `--color auto` on a real terminal (util-linux `script` allocates one): colour, unless
/// NO_COLOR is set.
#[cfg(target_os = "linux")]
#[test]
fn color_auto_on_a_terminal_honours_no_color() {
    let p = Project::with(&[("conf.d/api.conf", WARNING)]);
    let bin = env!("CARGO_BIN_EXE_waitlint");
    let on_tty = |no_color: Option<&str>| -> String {
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-q", "-e", "-c"])
            .arg(format!("'{bin}' check conf.d/api.conf --color auto"))
            .arg("/dev/null")
            .current_dir(p.path())
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .stdin(std::process::Stdio::null());
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("this test needs util-linux `script` to get a terminal: {e}")
        });
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let colored = on_tty(None);
    assert!(colored.contains("keepalive-disabled"), "{colored:?}");
    assert!(colored.contains("\x1b["), "{colored:?}");
    let plain = on_tty(Some("1"));
    assert!(plain.contains("keepalive-disabled"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "{plain:?}");
}

// ---- `waitlint PATH` ----

#[test]
fn check_is_the_default_command() {
    let p = Project::with(&[("conf.d/api.conf", WARNING), ("conf.d/inc.conf", INFO)]);
    for args in [
        vec!["conf.d/api.conf"],
        vec!["conf.d", "--format", "json"],
        vec!["conf.d", "--statistics", "--color", "never"],
        vec!["conf.d/inc.conf", "--fail-on", "info"],
    ] {
        let short = p.waitlint(&args).output().unwrap();
        let mut long_args = vec!["check"];
        long_args.extend_from_slice(&args);
        let long = p.waitlint(&long_args).output().unwrap();
        assert_eq!(short.status.code(), long.status.code(), "{args:?}");
        assert_eq!(short.stdout, long.stdout, "{args:?}");
        assert_eq!(short.status.code(), Some(1), "{args:?}");
    }
    // Flags first work too: anything that is not a subcommand starts `check`'s arguments.
    let short = p
        .waitlint(&["--format", "json", "conf.d/api.conf"])
        .output()
        .unwrap();
    let long = p
        .waitlint(&["check", "--format", "json", "conf.d/api.conf"])
        .output()
        .unwrap();
    assert_eq!(short.stdout, long.stdout);
    assert_eq!(short.status.code(), Some(1));
    // `check` without a path lints the current directory.
    p.waitlint(&["check", "--color", "never"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("conf.d/api.conf:2:23"))
        .stdout(predicate::str::contains(
            "2 files: 0 errors, 1 warning, 1 info",
        ));
    // Bare `waitlint` is a usage error that shows the commands, not a lint of `.`.
    p.waitlint(&[])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("check"));
}

// ---- explain and rules ----

fn rules_json() -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_waitlint"))
        .args(["rules", "--format", "json"])
        .assert()
        .code(0);
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    v.as_array().expect("an array of rules").clone()
}

#[test]
fn rules_json_lists_every_rule_with_every_field() {
    let rules = rules_json();
    assert!(!rules.is_empty());
    let mut codes = std::collections::HashSet::new();
    let mut names = std::collections::HashSet::new();
    for r in &rules {
        let obj = r.as_object().unwrap();
        for field in [
            "code",
            "name",
            "family",
            "severity",
            "summary",
            "fixable",
            "documentation",
        ] {
            assert!(obj.contains_key(field), "no `{field}` in {r}");
        }
        if let Some(options) = obj.get("options") {
            assert!(options.is_array(), "{r}");
        }
        let code = r["code"].as_str().unwrap();
        let name = r["name"].as_str().unwrap();
        assert!(
            code.len() >= 4
                && code.chars().take_while(char::is_ascii_uppercase).count() >= 2
                && code.ends_with(|c: char| c.is_ascii_digit()),
            "code {code}"
        );
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "name {name}"
        );
        assert!(codes.insert(code.to_string()), "duplicate code {code}");
        assert!(names.insert(name.to_string()), "duplicate name {name}");
        assert!(
            ["nginx", "sysctl", "rust", "meta"].contains(&r["family"].as_str().unwrap()),
            "{r}"
        );
        assert!(
            ["error", "warning", "info"].contains(&r["severity"].as_str().unwrap()),
            "{r}"
        );
        let summary = r["summary"].as_str().unwrap();
        assert!(!summary.is_empty() && !summary.ends_with('.'), "{summary}");
        assert!(r["fixable"].is_boolean());
        let doc = r["documentation"].as_str().unwrap();
        for section in [
            "## What it does",
            "## Why is this bad?",
            "## Example",
            "## Use instead",
        ] {
            assert!(doc.contains(section), "{code} lacks {section}");
        }
    }
    // Every registered rule: the text listing has one line per rule, in the same order.
    let text = stdout_of(Command::new(env!("CARGO_BIN_EXE_waitlint")).arg("rules"));
    let listed: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let from_json: Vec<&str> = rules.iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(listed, from_json);
    for known in ["NGX001", "WL001", "WL002", "WL003"] {
        assert!(from_json.contains(&known), "{known} missing");
    }
}

#[test]
fn explain_works_for_every_rule_by_code_and_by_name() {
    for r in rules_json() {
        let code = r["code"].as_str().unwrap();
        let name = r["name"].as_str().unwrap();
        let doc = r["documentation"].as_str().unwrap();
        let by_code = Command::new(env!("CARGO_BIN_EXE_waitlint"))
            .args(["explain", code])
            .assert()
            .code(0)
            .stdout(predicate::str::starts_with(format!("# {name} ({code})\n")))
            .stdout(predicate::str::contains(doc))
            .stdout(predicate::str::contains(r["summary"].as_str().unwrap()))
            .get_output()
            .stdout
            .clone();
        let by_name = Command::new(env!("CARGO_BIN_EXE_waitlint"))
            .args(["explain", name])
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        assert_eq!(by_code, by_name, "{code} / {name}");
        let lower = Command::new(env!("CARGO_BIN_EXE_waitlint"))
            .args(["explain", &code.to_ascii_lowercase()])
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        assert_eq!(by_code, lower, "codes are case-insensitive");
    }
}

#[test]
fn explain_an_unknown_rule_exits_2() {
    for unknown in ["NGX999", "keepalive", "no-such-rule"] {
        Command::new(env!("CARGO_BIN_EXE_waitlint"))
            .args(["explain", unknown])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(format!(
                "no rule named `{unknown}`"
            )));
    }
    Command::new(env!("CARGO_BIN_EXE_waitlint"))
        .arg("explain")
        .assert()
        .code(2);
}

// ---- determinism ----

#[test]
fn output_order_is_the_same_on_every_run() {
    let p = Project::new();
    let mut expected_files = Vec::new();
    for i in 0..60 {
        for dir in ["conf.d", "sites-enabled", "nginx/deep/er"] {
            let rel = format!("{dir}/site-{i:02}.conf");
            // Findings of two rules at varying positions, and one file in five clean.
            let text = match i % 5 {
                0 => CLEAN.to_string(),
                1 => WARNING_AND_INFO.to_string(),
                _ => format!("{}{WARNING}", "# padding\n".repeat(i % 7)),
            };
            p.file(&rel, &text);
            if i % 5 != 0 {
                expected_files.push(rel);
            }
        }
    }
    expected_files.sort();
    let first_json = stdout_of(&mut p.waitlint(&["check", ".", "--format", "json"]));
    let first_human = stdout_of(&mut p.waitlint(&["check", ".", "--color", "never"]));
    for run in 1..5 {
        let json = stdout_of(&mut p.waitlint(&["check", ".", "--format", "json"]));
        assert!(json == first_json, "JSON output differs on run {run}");
        let human = stdout_of(&mut p.waitlint(&["check", ".", "--color", "never"]));
        assert!(human == first_human, "human output differs on run {run}");
    }
    let doc: Value = serde_json::from_str(&first_json).unwrap();
    assert_eq!(doc["summary"]["files_checked"], 180);
    let files: Vec<String> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "NGX001")
        .map(|d| d["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(files, expected_files, "sorted by file name");
}

// ---- stdin ----

#[test]
fn stdin_with_a_file_name() {
    let p = Project::new();
    let out = p
        .waitlint(&[
            "check",
            "-",
            "--stdin-filename",
            "conf.d/x.conf",
            "--format",
            "json",
        ])
        .write_stdin(WARNING)
        .assert()
        .code(1);
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(codes(&doc), ["NGX001"]);
    assert_eq!(doc["diagnostics"][0]["file"], "conf.d/x.conf");
    assert_eq!(doc["diagnostics"][0]["line"], 2);
    assert_eq!(doc["diagnostics"][0]["column"], 23);
    assert_eq!(doc["summary"]["files_checked"], 1);
    // The name decides the kind: read as sysctl, nginx text is not a list of assignments, and
    // no nginx rule runs on it.
    p.waitlint(&["check", "-", "--stdin-filename", "etc/sysctl.d/10-net.conf"])
        .write_stdin(WARNING)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("WL001/syntax-error"))
        .stdout(predicate::str::contains("NGX001").not());
}

#[test]
fn stdin_with_a_kind() {
    let p = Project::new();
    let out = p
        .waitlint(&["check", "-", "--kind", "nginx", "--format", "json"])
        .write_stdin(WARNING)
        .assert()
        .code(1);
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(codes(&doc), ["NGX001"]);
    assert_eq!(doc["diagnostics"][0]["file"], "<stdin>");
    // --kind wins over the name.
    p.waitlint(&[
        "check",
        "-",
        "--kind",
        "nginx",
        "--stdin-filename",
        "notes.txt",
        "--color",
        "never",
    ])
    .write_stdin(WARNING)
    .assert()
    .code(1)
    .stdout(predicate::str::contains("notes.txt:2:23"));
}

#[test]
fn stdin_and_paths_together() {
    let p = Project::with(&[("conf.d/file.conf", WARNING)]);
    let out = p
        .waitlint(&[
            "check",
            "conf.d/file.conf",
            "-",
            "--stdin-filename",
            "conf.d/stdin.conf",
            "--format",
            "json",
        ])
        .write_stdin(WARNING)
        .assert()
        .code(1);
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let files: Vec<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["conf.d/file.conf", "conf.d/stdin.conf"]);
}

#[test]
fn stdin_without_a_name_or_kind_is_a_clear_error() {
    let p = Project::new();
    for args in [
        vec!["check", "-"],
        vec!["check", "-", "--stdin-filename", "README"],
    ] {
        p.waitlint(&args)
            .write_stdin(WARNING)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(
                "cannot tell what kind of input stdin is",
            ))
            .stderr(predicate::str::contains("--stdin-filename"))
            .stderr(predicate::str::contains("--kind"));
    }
}

// ---- JSON format basics (the schema is checked in tests/json_output.rs) ----

#[test]
fn json_and_human_agree_on_the_exit_status() {
    let p = Project::with(&[
        ("conf.d/a.conf", WARNING),
        ("conf.d/b.conf", INFO),
        ("conf.d/c.conf", CLEAN),
    ]);
    for extra in [&[][..], &["--fail-on", "error"], &["--select", "WL"]] {
        let mut args = vec!["check", "conf.d"];
        args.extend_from_slice(extra);
        let human = p.waitlint(&args).output().unwrap().status.code();
        args.extend_from_slice(&["--format", "json"]);
        let json = p.waitlint(&args).output().unwrap().status.code();
        assert_eq!(human, json, "{extra:?}");
    }
}
