//! `Reading::Crossplane`, the reading behind `waitlint parse --format crossplane`: on each input
//! where crossplane 0.5.8 departs from nginx, the crossplane document is crossplane's, and
//! nginx's reading (what the rules see) still reports what nginx reports.

use nginx_parser::crossplane::{document, CrossplaneOptions, FilePayload};
use nginx_parser::{parse, parse_with, ParseErrorKind, ParseOptions, Reading};
use serde_json::{json, Value};

/// The crossplane document of `source` read as crossplane reads it.
fn crossplane(source: &str) -> Value {
    let options = ParseOptions {
        reading: Reading::Crossplane,
        ..ParseOptions::default()
    };
    let parse = parse_with(source.as_bytes(), &options);
    let doc = document(
        &[FilePayload {
            file: "t.conf",
            source: source.as_bytes(),
            parse: &parse,
            extra_errors: Vec::new(),
        }],
        &CrossplaneOptions {
            include_comments: false,
            includes: None,
        },
    );
    doc["config"][0].clone()
}

/// nginx's error kinds for `source`.
fn nginx_errors(source: &str) -> Vec<ParseErrorKind> {
    parse(source.as_bytes())
        .errors
        .iter()
        .map(|e| e.kind)
        .collect()
}

#[test]
fn a_closing_quote_ends_the_word() {
    let c = crossplane("add_header X \"left\"-quote;\n");
    assert_eq!(c["status"], "ok");
    assert_eq!(c["parsed"][0]["args"], json!(["X", "left", "-quote"]));
    assert_eq!(
        nginx_errors("add_header X \"left\"-quote;\n"),
        [ParseErrorKind::UnexpectedAfterQuote]
    );
}

#[test]
fn a_closing_brace_ends_a_bare_word() {
    // `}` ends the word `a`, and then the statement `a` (not the block); by count, the last
    // `}` is then one too many.
    let c = crossplane("events { a}b; }\n");
    assert_eq!(c["status"], "failed");
    assert_eq!(c["errors"][0]["line"], 1);
    assert_eq!(
        c["parsed"][0]["block"],
        json!([
            { "directive": "a", "line": 1, "args": [] },
            { "directive": "b", "line": 1, "args": [] }
        ])
    );
    // nginx reads `a}b` as one word.
    let n = parse(b"events { a}b; }\n");
    assert!(n.is_ok());
    assert_eq!(
        &*n.config.directives[0].block.as_ref().unwrap().directives[0]
            .name
            .value,
        b"a}b"
    );
}

#[test]
fn a_parameter_expansion_takes_the_whitespace_after_it() {
    let c = crossplane("try_files /abc/${uri} /abc/${uri}.html;\n");
    assert_eq!(
        c["parsed"][0]["args"],
        json!(["/abc/${uri} /abc/${uri}.html"])
    );
    // Only one byte of whitespace: the next one ends the word.
    let c = crossplane("set $a ${b}  c;\n");
    assert_eq!(c["parsed"][0]["args"], json!(["$a", "${b} ", "c"]));
    let n = parse(b"try_files /abc/${uri} /abc/${uri}.html;\n");
    assert_eq!(n.config.directives[0].args.len(), 2);
}

#[test]
fn a_brace_that_cuts_a_statement_short_ends_the_statement_not_the_block() {
    let source = "http {\n  location /a {\n    proxy_pass http://a\n  }\n  location /b {\n    proxy_pass http://b;\n  }\n}\n";
    let c = crossplane(source);
    assert_eq!(c["status"], "ok");
    let a = &c["parsed"][0]["block"][0];
    assert_eq!(a["args"], json!(["/a"]));
    assert_eq!(
        a["block"][0],
        json!({ "directive": "proxy_pass", "line": 3, "args": ["http://a"] })
    );
    // `location /b` lands inside `location /a`, as in crossplane.
    assert_eq!(a["block"][1]["args"], json!(["/b"]));
    assert_eq!(c["parsed"][0]["block"].as_array().unwrap().len(), 1);
    assert_eq!(nginx_errors(source), [ParseErrorKind::MissingSemicolon]);
}

#[test]
fn end_of_file_inside_a_statement_has_no_line_unless_a_block_is_open() {
    let c = crossplane("# comment\nlisten 80\n");
    assert_eq!(c["status"], "failed");
    assert_eq!(c["errors"][0]["line"], Value::Null);
    // An open block is reported first, at the last token's line, as crossplane's brace count does.
    let c = crossplane("http {\n  listen 80\n");
    assert_eq!(c["errors"][0]["line"], 2);
    assert_eq!(c["errors"].as_array().unwrap().len(), 1);
}

#[test]
fn braces_are_balanced_by_count() {
    // A `}` that ends a statement still counts: one `}` too many is reported where crossplane
    // reports it.
    let c = crossplane("events {\n  a\n}\n}\n");
    assert_eq!(c["status"], "failed");
    assert_eq!(c["errors"][0]["line"], 4);
    // Lua bodies keep their braces to themselves.
    let c = crossplane("content_by_lua_block { if x then y() end }\n");
    assert_eq!(c["status"], "ok");
}
