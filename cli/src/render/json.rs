//! `--format json`: one document, version 1, described in docs/json-output.md and
//! docs/json-output.schema.json.

use lints::{Label, Location, Severity};
use serde_json::{json, Value};

use crate::render::range;
use crate::report::Report;

fn location(report: &Report, at: Location) -> Value {
    let (line, column, end_line, end_column) = range(report, at);
    json!({
        "file": report.sources[at.file].name,
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "byte_start": at.span.start,
        "byte_end": at.span.end,
    })
}

fn label(report: &Report, l: &Label) -> Value {
    let mut v = location(report, l.location);
    v["message"] = json!(l.message);
    v
}

pub fn document(report: &Report) -> Value {
    let diagnostics: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let mut v = json!({
                "code": d.rule.code,
                "name": d.rule.name,
                "severity": d.severity.as_str(),
                "message": d.message,
            });
            let at = location(report, d.primary.location);
            for (k, val) in at.as_object().expect("location is an object") {
                v[k] = val.clone();
            }
            v["label"] = json!(d.primary.message);
            v["labels"] = json!(d
                .secondary
                .iter()
                .map(|l| label(report, l))
                .collect::<Vec<_>>());
            v["notes"] = json!(d.notes);
            v["help"] = json!(d.help);
            v["fix"] = match &d.fix {
                Some(fix) => json!({
                    "description": fix.description,
                    "safe": fix.safe,
                    "edits": fix.edits.iter().map(|e| {
                        let mut v = location(report, e.location);
                        v["replacement"] = json!(e.replacement);
                        v
                    }).collect::<Vec<_>>(),
                }),
                None => Value::Null,
            };
            v["documentation"] = json!(d.rule.help_uri());
            v
        })
        .collect();
    json!({
        "version": 1,
        "tool": { "name": "waitlint", "version": env!("CARGO_PKG_VERSION") },
        "diagnostics": diagnostics,
        "summary": {
            "files_checked": report.files_checked,
            "errors": report.count(Severity::Error),
            "warnings": report.count(Severity::Warning),
            "infos": report.count(Severity::Info),
            "unparsed_files": report.unparsed_files(),
            "unreadable_files": report.failures.iter().map(|f| json!({ "file": f.path, "message": f.message })).collect::<Vec<_>>(),
        },
    })
}
