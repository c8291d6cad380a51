//! Repositories waitlint does not trust (issue 12, docs/security.md): each test builds the
//! hostile input in a temporary directory and runs the real binary on it.
#![cfg(unix)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// A Rust file with one RS001 finding, checked beside every hostile file to show that the run
/// goes on and reports it.
const SERVER_WITH_FINDING: &str = "use std::io::Read;
use std::net::TcpStream;

pub fn serve(mut s: TcpStream) {
    let mut b = [0u8; 8];
    let mut total = 0;
    loop {
        match s.read(&mut b) {
            Ok(n) => total += n,
            Err(_) => return,
        }
        println!(\"{total}\");
    }
}
";

/// Rustc accepts all of these; each used to overflow a worker's stack and abort the run with
/// no output at all.
fn too_deep() -> Vec<(&'static str, String)> {
    let head = "use std::net::TcpStream;\n";
    vec![
        (
            "parens.rs",
            format!(
                "{head}fn f() -> i32 {{ {}1{} }}\n",
                "(".repeat(1200),
                ")".repeat(1200)
            ),
        ),
        (
            "blocks.rs",
            format!(
                "{head}fn f() {{ {}{} }}\n",
                "{ ".repeat(1200),
                "}".repeat(1200)
            ),
        ),
        (
            "generics.rs",
            format!(
                "{head}type T = {}u8{};\n",
                "Vec<".repeat(2000),
                ">".repeat(2000)
            ),
        ),
        (
            "chain.rs",
            format!("{head}fn f(x: Foo) {{ x{}; }}\n", ".a()".repeat(2000)),
        ),
    ]
}

fn write(dir: &Path, rel: &str, text: &str) {
    std::fs::write(dir.join(rel), text).unwrap();
}

fn check_json(dir: &Path) -> (Option<i32>, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_waitlint"))
        .current_dir(dir)
        .args(["check", "--format", "json", "."])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), doc)
}

fn rules(doc: &Value) -> Vec<(String, String)> {
    doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap_or_default().to_string(),
                d["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn rust_nested_past_the_limit_is_a_file_not_checked_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "server.rs", SERVER_WITH_FINDING);
    for (name, text) in too_deep() {
        write(dir.path(), name, &text);
    }
    let (code, doc) = check_json(dir.path());
    assert_eq!(code, Some(2), "{doc}");
    assert_eq!(
        rules(&doc),
        [("server.rs".to_string(), "RS001".to_string())],
        "{doc}"
    );
    let unparsed = doc["summary"]["unparsed_files"].as_array().unwrap();
    let unreadable = doc["summary"]["unreadable_files"].as_array().unwrap();
    let failures: Vec<String> = unparsed
        .iter()
        .chain(unreadable)
        .map(|f| f.to_string())
        .collect();
    for (name, _) in too_deep() {
        let failure = failures
            .iter()
            .find(|f| f.contains(name))
            .unwrap_or_else(|| panic!("{name} is not reported: {failures:?}"));
        assert!(
            failure.contains("nested") || failure.contains("chained"),
            "{failure}"
        );
    }
}

#[test]
fn rust_nested_just_under_the_limit_is_analysed_without_overflowing() {
    let head = "use std::io::Read;\nuse std::net::TcpStream;\n";
    let n = 990;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "server.rs", SERVER_WITH_FINDING);
    write(
        dir.path(),
        "parens.rs",
        &format!(
            "{head}fn f() -> i32 {{ {}1{} }}\n",
            "(".repeat(n),
            ")".repeat(n)
        ),
    );
    write(
        dir.path(),
        "generics.rs",
        &format!("{head}type T = {}u8{};\n", "Vec<".repeat(n), ">".repeat(n)),
    );
    write(
        dir.path(),
        "macros.rs",
        &format!(
            "{head}fn f() {{ let v = {}1{}; }}\n",
            "vec![".repeat(n),
            "]".repeat(n)
        ),
    );
    write(
        dir.path(),
        "chain.rs",
        &format!("{head}fn f(x: Foo) {{ x{}; }}\n", ".a()".repeat(1000)),
    );
    // A read that ignores end of stream under `if`s nested nearly to the limit: the rules
    // recurse through all of them, and still find it.
    write(
        dir.path(),
        "branches.rs",
        &format!(
            "{head}pub fn f(mut s: TcpStream, x: bool) {{ let mut b = [0u8; 8]; loop {{ {}match s.read(&mut b) {{ Ok(n) => {{ let _ = n + 1; }} Err(_) => return }}{} }} }}\n",
            "if x { ".repeat(n - 10),
            "}".repeat(n - 10)
        ),
    );
    let (code, doc) = check_json(dir.path());
    assert_eq!(code, Some(1), "{doc}");
    let mut found = rules(&doc);
    found.sort();
    assert_eq!(
        found,
        [
            ("branches.rs".to_string(), "RS001".to_string()),
            ("server.rs".to_string(), "RS001".to_string())
        ],
        "{doc}"
    );
}
