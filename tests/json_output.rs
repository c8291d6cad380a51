//! `waitlint check --format json` against docs/json-output.schema.json, on real output for
//! several inputs, plus what a schema cannot say: counts that agree, positions that agree with
//! the text, character (not byte, not UTF-16) columns.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{json, Value};

const WARNING: &str = "server {\n    keepalive_timeout 0;\n}\n";
const INFO: &str = "include /nonexistent/waitlint-test/x.conf;\n";
const CLEAN: &str = "server {\n    keepalive_timeout 65s;\n}\n";
const BROKEN: &str = "server {\n    keepalive_timeout 0\n}\n";

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json-output.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema())
        .expect("the schema compiles")
}

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new(files: &[(&str, &[u8])]) -> Tree {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        for (rel, bytes) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        Tree { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `waitlint check ARGS --format json`, checks the document against the schema and
    /// the invariants, and returns it with the exit status.
    fn check(&self, args: &[&str], stdin: Option<&[u8]>) -> (i32, Value) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_waitlint"));
        cmd.current_dir(self.path())
            .arg("check")
            .args(args)
            .args(["--format", "json"]);
        if let Some(bytes) = stdin {
            cmd.write_stdin(bytes.to_vec());
        }
        let out = cmd.output().unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        let errors: Vec<String> = validator()
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "output does not match docs/json-output.schema.json:\n{}\n{doc:#}",
            errors.join("\n")
        );
        invariants(&doc);
        positions_match_the_text(&doc, self.path());
        (out.status.code().unwrap(), doc)
    }
}

/// The 1-based line and character column of a byte offset, computed independently of waitlint:
/// lines end at `\n`, an invalid UTF-8 byte counts as one character.
fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before[line_start..]
        .utf8_chunks()
        .map(|c| c.valid().chars().count() + c.invalid().len())
        .sum::<usize>()
        + 1;
    (line, column)
}

/// Every span of every diagnostic, label and edit that points into a file on disk: its
/// line/column pairs are those of its byte offsets in that file.
fn positions_match_the_text(doc: &Value, root: &Path) {
    let mut spans: Vec<&Value> = Vec::new();
    for d in doc["diagnostics"].as_array().unwrap() {
        spans.push(d);
        spans.extend(d["labels"].as_array().unwrap());
        if let Some(edits) = d["fix"]["edits"].as_array() {
            spans.extend(edits);
        }
    }
    for s in spans {
        let Ok(text) = std::fs::read(root.join(s["file"].as_str().unwrap())) else {
            continue; // stdin
        };
        let (start, end) = (
            s["byte_start"].as_u64().unwrap() as usize,
            s["byte_end"].as_u64().unwrap() as usize,
        );
        assert!(end <= text.len(), "span past the end of the file: {s}");
        let expected = (line_col(&text, start), line_col(&text, end));
        let actual = (
            (
                s["line"].as_u64().unwrap() as usize,
                s["column"].as_u64().unwrap() as usize,
            ),
            (
                s["end_line"].as_u64().unwrap() as usize,
                s["end_column"].as_u64().unwrap() as usize,
            ),
        );
        assert_eq!(actual, expected, "positions disagree with the bytes: {s}");
    }
}

/// What the schema cannot express.
fn invariants(doc: &Value) {
    let diagnostics = doc["diagnostics"].as_array().unwrap();
    let summary = &doc["summary"];
    for (field, severity) in [
        ("errors", "error"),
        ("warnings", "warning"),
        ("infos", "info"),
    ] {
        let n = diagnostics
            .iter()
            .filter(|d| d["severity"] == severity)
            .count();
        assert_eq!(summary[field], n, "summary.{field}");
    }
    let spans = diagnostics.iter().chain(
        diagnostics
            .iter()
            .flat_map(|d| d["labels"].as_array().unwrap()),
    );
    for s in spans {
        let (l, c, el, ec) = (&s["line"], &s["column"], &s["end_line"], &s["end_column"]);
        let start = (l.as_u64().unwrap(), c.as_u64().unwrap());
        let end = (el.as_u64().unwrap(), ec.as_u64().unwrap());
        assert!(start <= end, "span ends before it starts: {s}");
        assert!(s["byte_start"].as_u64() <= s["byte_end"].as_u64(), "{s}");
    }
    // Sorted by file, then offset.
    let keys: Vec<(String, u64)> = diagnostics
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap().to_string(),
                d["byte_start"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "diagnostics are sorted by file and position");
    // Every unparsed file has a WL001 diagnostic, and every WL001 file is unparsed.
    let mut with_syntax_errors: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d["code"] == "WL001")
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    with_syntax_errors.dedup();
    assert_eq!(summary["unparsed_files"], json!(with_syntax_errors));
    for d in diagnostics {
        let code = d["code"].as_str().unwrap();
        let name = d["name"].as_str().unwrap();
        assert!(
            d["documentation"].as_str().unwrap().ends_with(name),
            "{code}: {}",
            d["documentation"]
        );
    }
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::meta::validate(&schema).expect("valid against the 2020-12 meta-schema");
}

#[test]
fn the_schema_rejects_what_waitlint_never_writes() {
    let v = validator();
    let (_, good) = Tree::new(&[("conf.d/a.conf", WARNING.as_bytes())]).check(&["."], None);
    assert!(v.is_valid(&good));
    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 7] = [
        ("unknown top-level field", |d| d["extra"] = json!(1)),
        ("version 2", |d| d["version"] = json!(2)),
        ("unknown diagnostic field", |d| {
            d["diagnostics"][0]["extra"] = json!(true)
        }),
        ("0-based column", |d| {
            d["diagnostics"][0]["column"] = json!(0)
        }),
        ("unknown severity", |d| {
            d["diagnostics"][0]["severity"] = json!("fatal")
        }),
        ("fix without edits", |d| {
            d["diagnostics"][0]["fix"]["edits"] = json!([])
        }),
        ("missing summary count", |d| {
            d["summary"].as_object_mut().unwrap().remove("infos");
        }),
    ];
    for (what, mutate) in mutations {
        let mut doc = good.clone();
        mutate(&mut doc);
        assert!(
            !v.is_valid(&doc),
            "the schema accepts a document with {what}"
        );
    }
}

#[test]
fn clean_input() {
    let t = Tree::new(&[("conf.d/a.conf", CLEAN.as_bytes())]);
    let (status, doc) = t.check(&["."], None);
    assert_eq!(status, 0);
    assert_eq!(
        doc,
        json!({
            "version": 1,
            "tool": { "name": "waitlint", "version": env!("CARGO_PKG_VERSION") },
            "diagnostics": [],
            "summary": {
                "files_checked": 1,
                "errors": 0,
                "warnings": 0,
                "infos": 0,
                "unparsed_files": [],
                "unreadable_files": []
            }
        })
    );
}

#[test]
fn no_input_at_all() {
    let t = Tree::new(&[]);
    let (status, doc) = t.check(&["."], None);
    assert_eq!(status, 0);
    assert_eq!(doc["summary"]["files_checked"], 0);
}

#[test]
fn findings() {
    let t = Tree::new(&[
        ("conf.d/a.conf", WARNING.as_bytes()),
        ("conf.d/b.conf", INFO.as_bytes()),
    ]);
    let (status, doc) = t.check(&["."], None);
    assert_eq!(status, 1);
    // Wording belongs to the rule (and changes); the shape and the positions are checked here.
    let d = &doc["diagnostics"][0];
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "code",
            "name",
            "severity",
            "message",
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "byte_start",
            "byte_end",
            "label",
            "labels",
            "notes",
            "help",
            "fix",
            "documentation"
        ],
        "fields in the documented order"
    );
    assert_eq!(
        (&d["code"], &d["name"], &d["severity"], &d["file"]),
        (
            &json!("NGX001"),
            &json!("keepalive-disabled"),
            &json!("warning"),
            &json!("conf.d/a.conf")
        )
    );
    assert_eq!(
        [&d["line"], &d["column"], &d["end_line"], &d["end_column"]],
        [&json!(2), &json!(23), &json!(2), &json!(24)]
    );
    assert_eq!((&d["byte_start"], &d["byte_end"]), (&json!(31), &json!(32)));
    for text in [&d["message"], &d["label"], &d["notes"][0], &d["help"][0]] {
        assert!(!text.as_str().unwrap().is_empty(), "{d:#}");
    }
    // The secondary label starts at the directive name.
    let label = &d["labels"][0];
    assert_eq!((&label["line"], &label["column"]), (&json!(2), &json!(5)));
    assert_eq!(label["byte_start"], 13);
    assert!(!label["message"].as_str().unwrap().is_empty());
    let edit = &d["fix"]["edits"][0];
    assert_eq!(edit["replacement"], "65s");
    assert_eq!(
        (&edit["byte_start"], &edit["byte_end"]),
        (&json!(31), &json!(32))
    );
    assert_eq!((&edit["line"], &edit["column"]), (&json!(2), &json!(23)));
    assert_eq!(d["fix"]["safe"], false);
    assert!(d["documentation"].as_str().unwrap().starts_with("https://"));
    assert_eq!(&WARNING[31..32], "0");
    let info = &doc["diagnostics"][1];
    assert_eq!(
        (&info["code"], &info["severity"], &info["file"]),
        (&json!("WL002"), &json!("info"), &json!("conf.d/b.conf"))
    );
    assert_eq!(info["fix"], Value::Null);
    assert_eq!(info["labels"], json!([]));
    assert_eq!(doc["summary"]["files_checked"], 2);
}

#[test]
fn broken_config() {
    let t = Tree::new(&[
        ("conf.d/broken.conf", BROKEN.as_bytes()),
        ("conf.d/ok.conf", WARNING.as_bytes()),
    ]);
    let (status, doc) = t.check(&["."], None);
    assert_eq!(status, 2);
    assert_eq!(
        doc["summary"]["unparsed_files"],
        json!(["conf.d/broken.conf"])
    );
    assert_eq!(doc["summary"]["errors"], 1);
    let d = &doc["diagnostics"][0];
    assert_eq!(
        (&d["code"], &d["name"]),
        (&json!("WL001"), &json!("syntax-error"))
    );
    assert_eq!((&d["line"], &d["column"]), (&json!(2), &json!(23)));
    assert_eq!(d["labels"][0]["message"], "directive starts here");
}

#[test]
fn unreadable_and_binary_files() {
    let t = Tree::new(&[
        ("conf.d/ok.conf", WARNING.as_bytes()),
        ("conf.d/blob.conf", b"server {\0\x1b[31m}"),
        ("src/lib.rs", b"// \xff\n"),
    ]);
    // Unreadable whoever runs the test (root ignores mode 000): /proc/self/mem's first page is
    // never mapped, so reading it fails with EIO. Elsewhere, a link to nothing.
    let target = if Path::new("/proc/self/mem").exists() {
        "/proc/self/mem"
    } else {
        "/nonexistent/waitlint-test"
    };
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, t.path().join("conf.d/unreadable.conf")).unwrap();
    let (status, doc) = t.check(&[".", "missing.conf"], None);
    assert_eq!(status, 2);
    let unreadable = doc["summary"]["unreadable_files"].as_array().unwrap();
    let files: Vec<&str> = unreadable
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "conf.d/blob.conf",
            "conf.d/unreadable.conf",
            "missing.conf",
            "src/lib.rs"
        ]
    );
    assert_eq!(
        unreadable[0]["message"],
        "1:9: contains a NUL byte: a binary file, not checked"
    );
    assert_eq!(
        unreadable[3]["message"],
        "1:4: not valid UTF-8, so not Rust source"
    );
    assert_eq!(doc["summary"]["files_checked"], 1);
    assert_eq!(doc["diagnostics"][0]["file"], "conf.d/ok.conf");
}

#[test]
fn stdin() {
    let t = Tree::new(&[]);
    let (status, doc) = t.check(
        &["-", "--stdin-filename", "conf.d/x.conf"],
        Some(WARNING.as_bytes()),
    );
    assert_eq!(status, 1);
    assert_eq!(doc["diagnostics"][0]["file"], "conf.d/x.conf");
    let (_, doc) = t.check(&["-", "--kind", "nginx"], Some(WARNING.as_bytes()));
    assert_eq!(doc["diagnostics"][0]["file"], "<stdin>");
}

/// 1-based columns in characters: not bytes (UTF-8), not UTF-16 code units.
#[test]
fn columns_count_characters_after_non_ascii_text() {
    // "é" is 2 bytes, "→" 3, "😀" 4 bytes and 2 UTF-16 units: one character each.
    let prefix = "    set $greeting \"héllo → 😀\"; keepalive_timeout ";
    let text = format!("server {{\n{prefix}0;\n}}\n");
    let t = Tree::new(&[("conf.d/utf8.conf", text.as_bytes())]);
    let (_, doc) = t.check(&["conf.d/utf8.conf"], None);
    let d = &doc["diagnostics"][0];
    let column = prefix.chars().count() + 1;
    assert_eq!(column, 50);
    assert_ne!(column, prefix.len() + 1, "bytes would differ");
    assert_ne!(
        column,
        prefix.encode_utf16().count() + 1,
        "UTF-16 units would differ"
    );
    assert_eq!(d["line"], 2);
    assert_eq!(d["column"], column);
    assert_eq!(d["end_line"], 2);
    assert_eq!(d["end_column"], column + 1);
    // Byte offsets stay bytes.
    let byte_start = "server {\n".len() + prefix.len();
    assert_eq!(d["byte_start"], byte_start);
    assert_eq!(d["byte_end"], byte_start + 1);
    assert_eq!(&text[byte_start..byte_start + 1], "0");
    // The secondary label starts at the directive name; its end is checked against the text
    // with every other position by `Tree::check`.
    let name_column = prefix.find("keepalive_timeout").unwrap();
    let name_column = prefix[..name_column].chars().count() + 1;
    assert_eq!(d["labels"][0]["column"], name_column);
}

#[test]
fn an_invalid_utf8_byte_counts_as_one_column() {
    // nginx reads bytes: a Latin-1 "é" is fine in a configuration.
    let mut text = b"server {\n    set $x \"caf".to_vec();
    text.push(0xe9);
    text.extend_from_slice(b"\"; keepalive_timeout 0;\n}\n");
    let t = Tree::new(&[("conf.d/latin1.conf", &text)]);
    let (_, doc) = t.check(&["conf.d/latin1.conf"], None);
    let d = &doc["diagnostics"][0];
    let prefix = "    set $x \"caf?\"; keepalive_timeout ";
    assert_eq!(d["line"], 2);
    assert_eq!(d["column"], prefix.chars().count() + 1);
    assert_eq!(d["byte_start"], "server {\n".len() + prefix.len());
}

#[test]
fn a_finding_in_an_included_file_points_into_that_file() {
    let t = Tree::new(&[
        ("nginx.conf", b"http {\n    include conf.d/*.conf;\n}\n"),
        (
            "conf.d/api.conf",
            b"# api\nserver {\n    keepalive_timeout 0s;\n}\n",
        ),
    ]);
    let (status, doc) = t.check(&["nginx.conf"], None);
    assert_eq!(status, 1);
    let diagnostics = doc["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{doc:#}");
    let d = &diagnostics[0];
    assert_eq!(d["file"], "conf.d/api.conf");
    assert_eq!((&d["line"], &d["column"]), (&json!(3), &json!(23)));
    assert_eq!(d["fix"]["edits"][0]["file"], "conf.d/api.conf");
    assert_eq!(
        doc["summary"]["files_checked"], 2,
        "the included file is checked once"
    );
}
