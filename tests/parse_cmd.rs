//! `waitlint parse`: nginx's reading in its own JSON, crossplane's reading in crossplane's shape,
//! through the binary users run.

use assert_cmd::Command;
use serde_json::Value;

/// A `location` whose `proxy_pass` lacks its `;`: nginx rejects it, crossplane nests the next
/// `location` inside it.
const CUT_SHORT: &str =
    "http {\n  location /a {\n    proxy_pass http://a\n  }\n  location /b {\n    return 204;\n  }\n}\n";

fn parse(format: &str, text: &str) -> (i32, Value) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("nginx.conf");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_waitlint"))
        .args(["parse", "--format", format, "--single-file"])
        .arg(&file)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    (out.status.code().expect("exit status"), doc)
}

#[test]
fn the_crossplane_format_reads_as_crossplane_does() {
    let (code, doc) = parse("crossplane", CUT_SHORT);
    assert_eq!(code, 0);
    assert_eq!(doc["status"], "ok");
    let http = &doc["config"][0]["parsed"][0];
    assert_eq!(http["block"].as_array().unwrap().len(), 1);
    let a = &http["block"][0];
    assert_eq!(a["block"][0]["args"][0], "http://a");
    assert_eq!(a["block"][1]["args"][0], "/b");
}

#[test]
fn the_json_format_reads_as_nginx_does() {
    let (code, doc) = parse("json", CUT_SHORT);
    assert_eq!(code, 1);
    assert_eq!(doc["errors"][0]["kind"], "MissingSemicolon");
    assert_eq!(doc["errors"][0]["line"], 3);
    let http = &doc["directives"][0];
    assert_eq!(http["block"]["directives"].as_array().unwrap().len(), 2);
}
