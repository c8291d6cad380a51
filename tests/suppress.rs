//! Inline suppressions through the command line: `# waitlint: disable=...` and
//! `# waitlint: disable-file=...` in nginx and sysctl files, `// waitlint: allow(...)` in Rust,
//! and `unused-suppression` (WL003) with its fix.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

struct Run {
    status: i32,
    diagnostics: Vec<Value>,
}

/// Lints one file (written as `name` in a fresh repository) with `--fail-on info`.
fn lint(name: &str, text: &str, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    write(dir.path(), name, text);
    lint_in(
        dir.path(),
        &[&["--fail-on", "info"], extra, &[name]].concat(),
    )
}

fn lint_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::cargo_bin("waitlint")
        .unwrap()
        .current_dir(dir)
        .args(["check", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    Run {
        status: output.status.code().unwrap(),
        diagnostics: json["diagnostics"].as_array().unwrap().clone(),
    }
}

/// (line, code) of every finding.
fn found(run: &Run) -> Vec<(u64, String)> {
    run.diagnostics
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn at(line: u64, code: &str) -> (u64, String) {
    (line, code.to_string())
}

/// Applies a finding's fix edits to the text.
fn apply_fix(text: &str, d: &Value) -> String {
    let mut edits: Vec<(usize, usize, String)> = d["fix"]["edits"]
        .as_array()
        .expect("a fix")
        .iter()
        .map(|e| {
            (
                e["byte_start"].as_u64().unwrap() as usize,
                e["byte_end"].as_u64().unwrap() as usize,
                e["replacement"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, replacement) in edits {
        out.replace_range(start..end, &replacement);
    }
    out
}

#[test]
fn end_of_line_by_name() {
    let r = lint(
        "nginx.conf",
        "http {\n    keepalive_timeout 0;  # waitlint: disable=keepalive-disabled\n}\n",
        &[],
    );
    assert!(found(&r).is_empty());
    assert_eq!(r.status, 0);
}

#[test]
fn line_before_by_code() {
    let r = lint(
        "nginx.conf",
        "http {\n    # waitlint: disable=NGX001 -- old clients need it\n\n    # (blank and comment lines are skipped)\n    keepalive_timeout 0;\n    keepalive_requests 0;\n}\n",
        &[],
    );
    // Only the next line is silenced.
    assert_eq!(found(&r), [at(6, "NGX001")]);
}

#[test]
fn disable_file() {
    let r = lint(
        "nginx.conf",
        "# waitlint: disable-file=keepalive-disabled\nhttp {\n    keepalive_timeout 0;\n    server {\n        keepalive_requests 0;\n    }\n}\n",
        &[],
    );
    assert!(found(&r).is_empty());
}

#[test]
fn unused_suppression_is_reported_at_the_comment_with_its_fix() {
    let text = "http {\n    keepalive_timeout 65s;  # waitlint: disable=keepalive-disabled\n    # waitlint: disable=NGX001\n    keepalive_requests 1000;\n}\n";
    let r = lint("nginx.conf", text, &[]);
    assert_eq!(found(&r), [at(2, "WL003"), at(3, "WL003")]);
    assert_eq!(r.status, 1); // info findings with --fail-on info
    let first = &r.diagnostics[0];
    assert_eq!(first["column"], 29);
    assert_eq!(first["severity"], "info");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("reported nothing on line 2"),
        "{first}"
    );
    assert_eq!(first["fix"]["safe"], true);
    assert_eq!(
        apply_fix(text, first),
        "http {\n    keepalive_timeout 65s;\n    # waitlint: disable=NGX001\n    keepalive_requests 1000;\n}\n"
    );
    // A comment alone on its line goes with its line.
    let second = &r.diagnostics[1];
    assert!(second["message"]
        .as_str()
        .unwrap()
        .contains("reported nothing on line 4"));
    assert_eq!(
        apply_fix(text, second),
        "http {\n    keepalive_timeout 65s;  # waitlint: disable=keepalive-disabled\n    keepalive_requests 1000;\n}\n"
    );
}

#[test]
fn unknown_name_in_a_list_is_removed_alone() {
    let text = "http {\n    keepalive_timeout 0; # waitlint: disable=keepalive-disbled,NGX001\n}\n";
    let r = lint("nginx.conf", text, &[]);
    assert_eq!(found(&r), [at(2, "WL003")]);
    let d = &r.diagnostics[0];
    assert!(d["message"]
        .as_str()
        .unwrap()
        .contains("`keepalive-disbled` is not a waitlint rule"));
    assert_eq!(
        apply_fix(text, d),
        "http {\n    keepalive_timeout 0; # waitlint: disable=NGX001\n}\n"
    );
}

#[test]
fn hash_inside_a_quoted_nginx_string_is_not_a_suppression() {
    let r = lint(
        "nginx.conf",
        "http {\n    add_header X-Note \"# waitlint: disable-file=keepalive-disabled\";\n    keepalive_timeout 0;\n}\n",
        &[],
    );
    assert_eq!(found(&r), [at(3, "NGX001")]);
}

#[test]
fn suppressions_in_an_included_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join(".git")).unwrap();
    write(
        d,
        "nginx/nginx.conf",
        "http {\n    include timeouts.inc;\n}\n",
    );
    write(
        d,
        "nginx/timeouts.inc",
        "keepalive_timeout 0; # waitlint: disable=keepalive-disabled\n",
    );
    let r = lint_in(d, &["--fail-on", "info", "nginx/nginx.conf"]);
    assert!(found(&r).is_empty());
}

#[test]
fn syntax_errors_cannot_be_suppressed() {
    let r = lint(
        "nginx.conf",
        "http {\n    # waitlint: disable=syntax-error\n    keepalive_timeout 65s\n}\n",
        &[],
    );
    let codes: Vec<String> = found(&r).into_iter().map(|(_, c)| c).collect();
    assert!(codes.contains(&"WL001".to_string()), "{codes:?}");
    assert!(codes.contains(&"WL003".to_string()), "{codes:?}");
    assert_eq!(r.status, 2);
}

#[test]
fn unused_suppression_follows_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join(".git")).unwrap();
    write(
        d,
        "nginx.conf",
        "keepalive_timeout 65s; # waitlint: disable=NGX001\n",
    );
    write(
        d,
        "waitlint.toml",
        "[rules.unused-suppression]\nseverity = \"off\"\n",
    );
    assert!(found(&lint_in(d, &["--fail-on", "info", "."])).is_empty());
    assert_eq!(
        found(&lint_in(d, &["--isolated", "--fail-on", "info", "."])),
        [at(1, "WL003")]
    );
}

#[test]
fn sysctl_suppressions_are_read() {
    let r = lint(
        "sysctl.conf",
        "# waitlint: disable=keepalive-disabled\nnet.ipv4.tcp_fin_timeout = 60\nnet.core.somaxconn = 4096 # waitlint: disable=nope\n",
        &[],
    );
    assert_eq!(found(&r), [at(1, "WL003"), at(3, "WL003")]);
    assert!(r.diagnostics[0]["message"]
        .as_str()
        .unwrap()
        .contains("on line 2"));
}

#[test]
fn rust_allow_on_the_line_before_and_on_an_item() {
    // No Rust rule fires yet, so both suppressions are unused: their messages show what they
    // cover (the next line; the whole item, attributes and body through its closing brace).
    let text = r#"fn main() {
    // waitlint: allow(keepalive-disabled)
    let s = "// waitlint: allow(nope)";
}

// waitlint: allow(NGX001)
#[inline]
pub(crate) fn handler() {
    let brace = '}';
    if true { drop(brace) }
}
"#;
    let r = lint("src/main.rs", text, &[]);
    assert_eq!(found(&r), [at(2, "WL003"), at(6, "WL003")]);
    let message = |i: usize| r.diagnostics[i]["message"].as_str().unwrap().to_string();
    assert!(message(0).contains("on line 3"), "{}", message(0));
    assert!(
        message(1).contains("in the item on lines 7-11"),
        "{}",
        message(1)
    );
}

/// A Rust file whose `zero-linger` (RS007) findings the suppressions below are about.
const LINGER_PRELUDE: &str = "use std::time::Duration;\nuse socket2::Socket;\n";

fn rust_lint(body: &str) -> Run {
    lint("src/lib.rs", &format!("{LINGER_PRELUDE}{body}"), &[])
}

/// The 1-based line of the first line of `body` containing `needle`, in the linted file.
fn line_of(body: &str, needle: &str) -> u64 {
    let prelude = LINGER_PRELUDE.lines().count();
    let index = body.lines().position(|l| l.contains(needle)).unwrap();
    (prelude + index + 1) as u64
}

#[test]
fn rust_allow_covers_an_item_with_doc_comments_and_attributes() {
    let body = r#"// waitlint: allow(zero-linger)
/// Resets on purpose: the peer is known to be gone.
#[inline]
#[cfg(all(
    unix,
    not(target_os = "wasi")
))]
pub fn reset(s: &Socket) {
    let why = "} a brace in a string";
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(why);
}

pub fn other(s: &Socket) {
    s.set_linger(Some(Duration::ZERO)).unwrap(); // still reported
}
"#;
    let r = rust_lint(body);
    assert_eq!(found(&r), [at(line_of(body, "still reported"), "RS007")]);
}

#[test]
fn rust_allow_before_a_nested_function_covers_only_that_function() {
    let body = r#"pub fn outer(s: &Socket) {
    // waitlint: allow(RS007)
    fn inner(s: &Socket) {
        s.set_linger(Some(Duration::ZERO)).unwrap(); // inner
    }
    inner(s);
    s.set_linger(Some(Duration::ZERO)).unwrap(); // outer
}
"#;
    let r = rust_lint(body);
    assert_eq!(found(&r), [at(line_of(body, "// outer"), "RS007")]);

    // Before the outer function, it covers the nested one too.
    let body = format!("// waitlint: allow(RS007)\n{body}");
    assert!(found(&rust_lint(&body)).is_empty());
}

#[test]
fn rust_allow_covers_a_function_with_a_multi_line_signature() {
    let body = r#"// waitlint: allow(zero-linger)
pub fn configure(
    s: &Socket,
    hard: bool,
) -> std::io::Result<()>
where
    Socket: Send,
{
    if hard {
        s.set_linger(Some(Duration::ZERO))?;
    }
    Ok(())
}
"#;
    let r = rust_lint(body);
    assert!(found(&r).is_empty(), "{:?}", r.diagnostics);
}

#[test]
fn rust_allow_before_a_statement_covers_the_whole_statement() {
    let body = r#"pub fn both(s: &Socket, t: &Socket) {
    // waitlint: allow(zero-linger)
    s
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    t.set_linger(Some(Duration::ZERO)).unwrap(); // not covered
}
"#;
    let r = rust_lint(body);
    assert_eq!(found(&r), [at(line_of(body, "not covered"), "RS007")]);
    // The finding is on the statement's second line: the next line alone would not cover it.
    let uncovered = rust_lint(&body.replace("// waitlint: allow(zero-linger)", "// x"));
    assert_eq!(
        found(&uncovered)[0],
        at(line_of(body, ".set_linger"), "RS007")
    );
    // An unused one says which lines it covers: the statement's, from the syntax tree.
    let body = "pub fn f(s: &Socket) {\n    // waitlint: allow(socket-leaked)\n    let n = [\n        1,\n    ];\n    s.set_linger(None).unwrap();\n    drop(n);\n}\n";
    let r = rust_lint(body);
    assert_eq!(found(&r), [at(line_of(body, "allow"), "WL003")]);
    let message = r.diagnostics[0]["message"].as_str().unwrap();
    let (first, last) = (line_of(body, "let n"), line_of(body, "];"));
    assert!(
        message.contains(&format!("in the item on lines {first}-{last}")),
        "{message}"
    );
}
