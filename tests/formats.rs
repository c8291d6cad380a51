//! The machine-readable output formats of `waitlint check` (sarif, github, short, rustc-json)
//! and `waitlint cargo-check`, run through the built binary on small trees made here.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const NGINX_CONF: &str = "\
events {}
http {
    keepalive_timeout 0;
    include conf.d/*.conf;
}
";

/// `listen 80` lacks its `;`.
const BROKEN_CONF: &str = "\
server {
    listen 80
}
";

/// A temporary directory with its canonical path (the one the binary sees as its cwd).
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    fn new(files: &[(&str, &[u8])]) -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical tempdir");
        let tree = Tree { _dir: dir, root };
        for (name, text) in files {
            tree.write(name, text);
        }
        tree
    }

    fn write(&self, name: &str, text: &[u8]) {
        let path = self.root.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// The usual fixture: a finding in nginx.conf and a syntax error in conf.d/x.conf.
    fn fixture() -> Tree {
        Tree::new(&[
            ("nginx.conf", NGINX_CONF.as_bytes()),
            ("conf.d/x.conf", BROKEN_CONF.as_bytes()),
        ])
    }

    /// `waitlint check --format FORMAT .` run inside the tree: (exit code, stdout, stderr).
    fn check(&self, format: &str) -> (i32, String, String) {
        let output = Command::cargo_bin("waitlint")
            .expect("binary")
            .current_dir(&self.root)
            .args(["check", "--format", format, "."])
            .output()
            .expect("run waitlint");
        (
            output.status.code().expect("exit code"),
            String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        )
    }

    /// Output with the temporary path and the version made stable for snapshots.
    fn redact(&self, s: &str) -> String {
        let version = env!("CARGO_PKG_VERSION");
        s.replace(&*self.root.to_string_lossy(), "[TMP]")
            .replace(&format!("\"{version}\""), "\"[VERSION]\"")
    }
}

fn sarif(tree: &Tree) -> Value {
    let (_, stdout, stderr) = tree.check("sarif");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("SARIF is not JSON: {e}\n{stderr}"))
}

/// 1-based line and column (in characters) of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).expect("needle in text");
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

// ---- snapshots -----------------------------------------------------------------------------

#[test]
fn short_snapshot() {
    let tree = Tree::fixture();
    let (code, stdout, _) = tree.check("short");
    assert_eq!(code, 2, "a syntax error makes the exit status 2");
    insta::assert_snapshot!("short", tree.redact(&stdout));
}

#[test]
fn github_snapshot() {
    let tree = Tree::fixture();
    let (code, stdout, _) = tree.check("github");
    assert_eq!(code, 2);
    insta::assert_snapshot!("github", tree.redact(&stdout));
}

#[test]
fn sarif_snapshot() {
    let tree = Tree::fixture();
    let (code, stdout, _) = tree.check("sarif");
    assert_eq!(code, 2);
    // The rules (their documentation) and rule indexes change whenever a rule is added or its
    // documentation edited; sarif_is_valid_and_meets_github_requirements checks them instead.
    let mut log: Value = serde_json::from_str(&stdout).expect("SARIF is JSON");
    let run = &mut log["runs"][0];
    run["tool"]["driver"]["rules"] = Value::from("[one per registered rule]");
    for result in run["results"].as_array_mut().expect("results") {
        result["ruleIndex"] = Value::from("[index]");
    }
    for n in run["invocations"][0]["toolExecutionNotifications"]
        .as_array_mut()
        .expect("notifications")
    {
        if n.get("associatedRule").is_some() {
            n["associatedRule"]["index"] = Value::from("[index]");
        }
    }
    let pretty = serde_json::to_string_pretty(&log).expect("JSON");
    insta::assert_snapshot!("sarif", tree.redact(&pretty));
}

#[test]
fn rustc_json_snapshot() {
    let tree = Tree::fixture();
    let (code, stdout, _) = tree.check("rustc-json");
    assert_eq!(code, 2);
    insta::assert_snapshot!("rustc_json", tree.redact(&stdout));
}

// ---- sarif ---------------------------------------------------------------------------------

fn assert_schema_valid(log: &Value) {
    let schema: Value = serde_json::from_str(include_str!("sarif-2.1.0.json")).expect("schema");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF fails the schema:\n{}",
        errors.join("\n")
    );
}

/// What GitHub code scanning checks on upload beyond the schema.
fn assert_github_requirements(log: &Value) {
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "waitlint");
    assert!(driver["version"].is_string());
    assert!(driver["informationUri"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let rules = driver["rules"].as_array().expect("rules");
    let codes: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let registered: Vec<&str> = lints::registry::all().iter().map(|r| r.code).collect();
    assert_eq!(
        codes, registered,
        "every registered rule, in registry order"
    );
    for r in rules {
        for key in [
            "name",
            "shortDescription",
            "fullDescription",
            "help",
            "helpUri",
        ] {
            assert!(!r[key].is_null(), "rule {} has {key}", r["id"]);
        }
        assert!(r["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("## What it does"));
    }
    let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .expect("%SRCROOT% declared");
    assert!(
        base.starts_with("file:///") && base.ends_with('/'),
        "{base}"
    );
    assert!(run["invocations"][0]["executionSuccessful"].is_boolean());

    let results = run["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for result in results {
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(
            rules[index]["id"], result["ruleId"],
            "ruleIndex points at ruleId"
        );
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        let locations = result["locations"].as_array().expect("locations");
        assert_eq!(locations.len(), 1);
        let physical = &locations[0]["physicalLocation"];
        let artifact = &physical["artifactLocation"];
        let uri = artifact["uri"].as_str().unwrap();
        assert!(
            !uri.contains(':') && !uri.starts_with('/') && !uri.contains('\\'),
            "relative URI with forward slashes: {uri}"
        );
        assert_eq!(artifact["uriBaseId"], "%SRCROOT%");
        let region = &physical["region"];
        for key in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(region[key].as_u64().unwrap() >= 1, "{key} is 1-based");
        }
        let fingerprint = result["partialFingerprints"]["waitlint/v1"]
            .as_str()
            .expect("partialFingerprints");
        assert_eq!(fingerprint.len(), 16);
    }
}

#[test]
fn sarif_is_valid_and_meets_github_requirements() {
    let tree = Tree::fixture();
    let log = sarif(&tree);
    assert_schema_valid(&log);
    assert_github_requirements(&log);

    let run = &log["runs"][0];
    let base = format!("file://{}/", tree.root.display());
    assert_eq!(run["originalUriBaseIds"]["%SRCROOT%"]["uri"], base.as_str());
    // The syntax error: a result, and a notification that the file was only partly checked.
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert_eq!(invocation["exitCode"], 2);
    let notifications = invocation["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert!(notifications
        .iter()
        .any(
            |n| n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "conf.d/x.conf"
                && n["associatedRule"]["id"] == "WL001"
        ));
}

#[test]
fn sarif_locations_fixes_and_related_locations() {
    let site = "# café\nserver {\n    keepalive_requests 0;\n}\n";
    let tree = Tree::new(&[
        ("nginx.conf", NGINX_CONF.as_bytes()),
        ("sites-enabled/my site.conf", site.as_bytes()),
        ("src/bad.rs", b"fn main() {}\n\xff\n"),
    ]);
    let log = sarif(&tree);
    assert_schema_valid(&log);
    assert_github_requirements(&log);
    let run = &log["runs"][0];
    let results = run["results"].as_array().unwrap();
    let uris: Vec<&str> = results
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(uris, ["nginx.conf", "sites-enabled/my%20site.conf"]);

    let second = &results[1];
    let (line, column) = position(site, "0;");
    let region = &second["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], line);
    assert_eq!(region["startColumn"], column);
    assert_eq!(region["endColumn"], column + 1);
    let related = &second["relatedLocations"][0];
    assert_eq!(related["id"], 1);
    assert!(related["message"]["text"]
        .as_str()
        .unwrap()
        .starts_with("nginx closes every connection itself"));
    assert_eq!(
        related["physicalLocation"]["region"]["startColumn"],
        position(site, "keepalive_requests").1
    );
    let change = &second["fixes"][0]["artifactChanges"][0];
    assert_eq!(
        change["artifactLocation"]["uri"],
        "sites-enabled/my%20site.conf"
    );
    let replacement = &change["replacements"][0];
    assert_eq!(replacement["insertedContent"]["text"], "1000");
    assert_eq!(replacement["deletedRegion"]["startColumn"], column);

    // The file that is not UTF-8 could not be checked at all.
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notification = &invocation["toolExecutionNotifications"][0];
    assert_eq!(notification["level"], "error");
    assert_eq!(
        notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "src/bad.rs"
    );
}

fn fingerprints(log: &Value) -> Vec<(String, u64)> {
    log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["partialFingerprints"]["waitlint/v1"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r["locations"][0]["physicalLocation"]["region"]["startLine"]
                    .as_u64()
                    .unwrap(),
            )
        })
        .collect()
}

#[test]
fn fingerprints_survive_lines_added_above() {
    let conf = "http {\n    keepalive_timeout 0s;\n    server {\n        keepalive_timeout 0;\n    }\n    server {\n        keepalive_timeout 0;\n    }\n}\n";
    let tree = Tree::new(&[("nginx.conf", conf.as_bytes())]);
    let before = fingerprints(&sarif(&tree));
    assert_eq!(before.len(), 3);
    // The two server findings have the same line text: the occurrence index tells them apart.
    assert_ne!(before[1].0, before[2].0);
    assert_ne!(before[0].0, before[1].0);

    tree.write(
        "nginx.conf",
        format!("# added later\n\nevents {{}}\n{conf}").as_bytes(),
    );
    let after = fingerprints(&sarif(&tree));
    assert_eq!(after.len(), 3);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.0, a.0, "fingerprint kept");
        assert_eq!(b.1 + 3, a.1, "while the line moved");
    }

    // Changing the flagged line itself makes a new finding; the others keep theirs.
    tree.write(
        "nginx.conf",
        conf.replace("keepalive_timeout 0s;", "keepalive_timeout 0ms;")
            .as_bytes(),
    );
    let changed = fingerprints(&sarif(&tree));
    assert_ne!(changed[0].0, before[0].0);
    assert_eq!(changed[1..], before[1..]);
}

// ---- github --------------------------------------------------------------------------------

#[test]
fn github_commands_escape_properties_and_data() {
    let tree = Tree::new(&[
        (
            "nginx.conf",
            b"http {\n    include \"missing,1:2%.conf\";\n}\n" as &[u8],
        ),
        (
            "conf.d/we,ird:na%me.conf",
            b"server {\n    keepalive_timeout 0;\n}\n",
        ),
    ]);
    let (code, stdout, _) = tree.check("github");
    assert_eq!(code, 1);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");

    // In properties `,` `:` `%` are escaped; the data keeps `:` and `,`, escapes `%` and newlines.
    let weird = lines[0];
    assert!(
        weird.starts_with("::warning file=conf.d/we%2Cird%3Ana%25me.conf,line=2,col=23,endLine=2,endColumn=24,title=NGX001 keepalive-disabled::"),
        "{weird}"
    );
    let data = weird
        .split_once("keepalive-disabled::")
        .map(|(_, d)| d)
        .unwrap();
    assert!(
        data.contains("`keepalive_timeout 0` switches keep-alive off"),
        "{data}"
    );
    assert!(
        data.contains("%0Ahelp: set `keepalive_timeout 65s;`"),
        "help after an escaped newline: {data}"
    );
    assert!(!weird.contains('\r'));

    let include = lines[1];
    assert!(
        include.starts_with("::warning file=nginx.conf,line=2,col=5,"),
        "{include}"
    );
    assert!(include.contains("title=WL002 include-error::"), "{include}");
    assert!(include.contains("missing,1:2%25.conf"), "{include}");
}

// ---- short ---------------------------------------------------------------------------------

#[test]
fn short_lines_parse_as_gcc_diagnostics() {
    let tree = Tree::fixture();
    let (_, stdout, _) = tree.check("short");
    let pattern = regex::Regex::new(
        r"^(?P<path>[^:]+):(?P<line>[1-9]\d*):(?P<col>[1-9]\d*): (?P<severity>error|warning|note): (?P<message>.+) \[(?P<code>[A-Z]+\d{3})\]$",
    )
    .unwrap();
    let parsed: Vec<(String, usize, usize, String, String)> = stdout
        .lines()
        .map(|line| {
            let c = pattern
                .captures(line)
                .unwrap_or_else(|| panic!("not a gcc-style line: {line:?}"));
            (
                c["path"].to_string(),
                c["line"].parse().unwrap(),
                c["col"].parse().unwrap(),
                c["severity"].to_string(),
                c["code"].to_string(),
            )
        })
        .collect();
    let (line, col) = position(NGINX_CONF, "0;");
    let (bline, bcol) = position(BROKEN_CONF, "80");
    assert_eq!(
        parsed,
        [
            (
                "conf.d/x.conf".into(),
                bline,
                bcol,
                "error".into(),
                "WL001".into()
            ),
            (
                "nginx.conf".into(),
                line,
                col,
                "warning".into(),
                "NGX001".into()
            ),
        ]
    );
}

#[test]
fn short_reads_standard_input_with_a_file_name() {
    let output = Command::cargo_bin("waitlint")
        .unwrap()
        .args([
            "check",
            "-",
            "--stdin-filename",
            "conf.d/site.conf",
            "--format",
            "short",
        ])
        .write_stdin("server {\n  keepalive_timeout 0;\n}\n")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("conf.d/site.conf:2:21: warning: "),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1);
}

// ---- rustc-json ----------------------------------------------------------------------------

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
            assert!(v.is_object(), "{line}");
            v
        })
        .collect()
}

/// rust-analyzer parses each line as cargo_metadata's `Message`: a compiler message must come
/// out as one, not as `Unknown` or an error.
fn assert_rust_analyzer_reads(line: &str) -> cargo_metadata::diagnostic::Diagnostic {
    match serde_json::from_str::<cargo_metadata::Message>(line) {
        Ok(cargo_metadata::Message::CompilerMessage(m)) => m.message,
        other => panic!("rust-analyzer would not read {line:?}: {other:?}"),
    }
}

#[test]
fn rustc_json_lines_are_compiler_messages_pointing_into_the_files() {
    let tree = Tree::fixture();
    let (_, stdout, _) = tree.check("rustc-json");
    let messages = json_lines(&stdout);
    assert_eq!(messages.len(), 2);
    for m in &messages {
        assert_eq!(m["reason"], "compiler-message");
        assert!(m["package_id"].is_string());
        assert_eq!(m["message"]["$message_type"], "diagnostic");
    }
    for line in stdout.lines() {
        assert_rust_analyzer_reads(line);
    }

    let keepalive = messages
        .iter()
        .find(|m| m["message"]["code"]["code"] == "NGX001")
        .expect("NGX001");
    let message = &keepalive["message"];
    assert_eq!(message["level"], "warning");
    let span = &message["spans"][0];
    let (line, column) = position(NGINX_CONF, "0;");
    assert_eq!(span["file_name"], "nginx.conf");
    assert_eq!(span["is_primary"], true);
    assert_eq!(span["line_start"], line);
    assert_eq!(span["line_end"], line);
    assert_eq!(span["column_start"], column);
    assert_eq!(span["column_end"], column + 1);
    let offset = NGINX_CONF.find("0;").unwrap();
    assert_eq!(span["byte_start"], offset);
    assert_eq!(span["byte_end"], offset + 1);
    assert_eq!(span["text"][0]["text"], "    keepalive_timeout 0;");
    assert_eq!(span["text"][0]["highlight_start"], column);
    assert_eq!(span["text"][0]["highlight_end"], column + 1);
    assert_eq!(message["spans"][1]["is_primary"], false);
    assert!(message["spans"][1]["label"].is_string());
    let children = message["children"].as_array().unwrap();
    assert!(children.iter().any(|c| c["level"] == "note"));
    let fix = children
        .iter()
        .find(|c| !c["spans"].as_array().unwrap().is_empty())
        .expect("the fix as a suggestion");
    assert_eq!(fix["level"], "help");
    assert_eq!(fix["spans"][0]["suggested_replacement"], "65s");
    assert_eq!(
        fix["spans"][0]["suggestion_applicability"],
        "MaybeIncorrect"
    );
    assert!(message["rendered"]
        .as_str()
        .unwrap()
        .contains("nginx.conf:3:23"));

    let syntax = messages
        .iter()
        .find(|m| m["message"]["code"]["code"] == "WL001")
        .expect("WL001");
    assert_eq!(syntax["message"]["level"], "error");
    assert_eq!(
        syntax["message"]["spans"][0]["file_name"],
        Path::new("conf.d").join("x.conf").to_str().unwrap()
    );
}

// ---- cargo-check ---------------------------------------------------------------------------

fn cargo_check(tree: &Tree, args: &[&str]) -> (i32, String, String) {
    let output = Command::cargo_bin("waitlint")
        .unwrap()
        .current_dir(&tree.root)
        .env("CARGO_TARGET_DIR", tree.root.join("target"))
        .env("CARGO_TERM_COLOR", "never")
        .arg("cargo-check")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().expect("exit code"),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn cargo_check_prints_only_cargo_json_lines_and_keeps_cargo_status() {
    let manifest =
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";
    let tree = Tree::new(&[
        ("Cargo.toml", manifest.as_bytes()),
        ("src/main.rs", b"fn main() {\n    let unused = 1;\n}\n"),
        // nginx findings are for `waitlint check`, not for the Rust editor.
        ("nginx.conf", NGINX_CONF.as_bytes()),
    ]);
    let (code, stdout, stderr) = cargo_check(&tree, &["--", "--offline"]);
    assert_eq!(code, 0, "{stderr}");
    let lines = json_lines(&stdout);
    assert!(lines
        .iter()
        .any(|l| l["reason"] == "compiler-message"
            && l["message"]["code"]["code"] == "unused_variables"));
    assert_eq!(lines.last().unwrap()["reason"], "build-finished");
    assert!(!stdout.contains("NGX001"));
    for line in stdout.lines() {
        serde_json::from_str::<cargo_metadata::Message>(line).expect("cargo message");
    }

    // A Rust file waitlint cannot read: cargo succeeds, waitlint's error makes the status 1.
    tree.write("src/generated.rs", b"\xff\n");
    let (code, stdout, stderr) = cargo_check(&tree, &["--offline"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("generated.rs"), "{stderr}");
    json_lines(&stdout);

    // cargo's failure wins.
    tree.write("src/main.rs", b"fn main() {\n    let x: u8 = \"no\";\n}\n");
    let (code, stdout, _) = cargo_check(&tree, &["--", "--offline"]);
    assert_eq!(code, 101);
    let lines = json_lines(&stdout);
    assert!(lines
        .iter()
        .any(|l| l["reason"] == "compiler-message" && l["message"]["level"] == "error"));
}
