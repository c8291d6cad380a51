//! `--format rustc-json`: cargo's `compiler-message` JSON lines, one finding per line, in the
//! shape `cargo check --message-format=json` prints. rust-analyzer reads these from
//! `rust-analyzer.check.overrideCommand` (it parses each line as cargo_metadata's `Message`), so
//! waitlint's findings show up beside the compiler's, with secondary labels as related
//! information and fixes as quick fixes.
//!
//! Columns are 1-based and counted in characters, like rustc's; `byte_start`/`byte_end` are byte
//! offsets into the file.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, Config};
use lints::{Diagnostic, Location};
use serde_json::{json, Value};

use crate::render::{level, line_text, range};
use crate::report::{Report, Source};

/// The cargo package and target a file belongs to, as cargo names them in `compiler-message`.
pub struct Owner {
    pub package_id: String,
    pub manifest_path: String,
    /// cargo's target object: `{ kind, crate_types, name, src_path, edition, doc, doctest, test }`.
    pub target: Value,
}

/// How files are named and attributed to packages: `waitlint check` names them as it found
/// them; `waitlint cargo-check` names them relative to the workspace root and attributes each to
/// its cargo package, as cargo itself does.
pub trait Context {
    /// `file_name` in spans: relative to the workspace root (the directory rust-analyzer runs
    /// the command in) or absolute.
    fn file_name(&self, source: &Source) -> String;
    fn owner(&self, source: &Source) -> Owner;
}

/// The context of a plain `waitlint check`: no cargo metadata, one pseudo-package.
pub struct Standalone {
    cwd: PathBuf,
}

impl Standalone {
    pub fn new(cwd: &Path) -> Standalone {
        Standalone {
            cwd: cwd.to_path_buf(),
        }
    }
}

impl Context for Standalone {
    fn file_name(&self, source: &Source) -> String {
        source.name.clone()
    }

    fn owner(&self, source: &Source) -> Owner {
        Owner {
            package_id: "waitlint".into(),
            manifest_path: self.cwd.join("Cargo.toml").to_string_lossy().into_owned(),
            target: pseudo_target(&absolute(&self.cwd, &source.path)),
        }
    }
}

/// `path` made absolute against `cwd`, without `.` components (`./nginx.conf`).
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    cwd.join(path)
        .components()
        .filter(|c| *c != std::path::Component::CurDir)
        .collect()
}

/// A target object for a file cargo knows nothing about (an nginx configuration...).
pub fn pseudo_target(path: &Path) -> Value {
    json!({
        "kind": ["lib"],
        "crate_types": ["lib"],
        "name": "waitlint",
        "src_path": path.to_string_lossy(),
        "edition": "2021",
        "doc": false,
        "doctest": false,
        "test": false,
    })
}

/// Every diagnostic as one `compiler-message` line.
pub fn render(report: &Report, context: &dyn Context, out: &mut dyn Write) -> io::Result<()> {
    let names: Vec<String> = report
        .sources
        .iter()
        .map(|s| context.file_name(s))
        .collect();
    let mut files = SimpleFiles::new();
    for (s, name) in report.sources.iter().zip(&names) {
        files.add(name.clone(), s.display_text());
    }
    for d in &report.diagnostics {
        let source = &report.sources[d.primary.location.file];
        let owner = context.owner(source);
        let line = json!({
            "reason": "compiler-message",
            "package_id": owner.package_id,
            "manifest_path": owner.manifest_path,
            "target": owner.target,
            "message": message(report, &names, d, rendered(&files, d)),
        });
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
    }
    Ok(())
}

fn message(report: &Report, names: &[String], d: &Diagnostic, rendered: String) -> Value {
    let primary_label = (!d.primary.message.is_empty()).then_some(d.primary.message.as_str());
    let mut spans = vec![span(
        report,
        names,
        d.primary.location,
        true,
        primary_label,
        None,
    )];
    spans.extend(
        d.secondary
            .iter()
            .map(|l| span(report, names, l.location, false, Some(&l.message), None)),
    );
    let mut children: Vec<Value> = d.notes.iter().map(|n| child("note", n, vec![])).collect();
    children.extend(d.help.iter().map(|h| child("help", h, vec![])));
    if let Some(fix) = &d.fix {
        let applicability = if fix.safe {
            "MachineApplicable"
        } else {
            "MaybeIncorrect"
        };
        let spans = fix
            .edits
            .iter()
            .map(|e| {
                span(
                    report,
                    names,
                    e.location,
                    true,
                    None,
                    Some((&e.replacement, applicability)),
                )
            })
            .collect();
        children.push(child("help", &fix.description, spans));
    }
    json!({
        "$message_type": "diagnostic",
        "message": d.message,
        "code": { "code": d.rule.code, "explanation": null },
        "level": level(d.severity),
        "spans": spans,
        "children": children,
        "rendered": rendered,
    })
}

fn child(level: &str, message: &str, spans: Vec<Value>) -> Value {
    json!({
        "$message_type": "diagnostic",
        "message": message,
        "code": null,
        "level": level,
        "spans": spans,
        "children": [],
        "rendered": null,
    })
}

/// A rustc span, with the text of each line it covers and the highlighted columns on it.
fn span(
    report: &Report,
    names: &[String],
    at: Location,
    is_primary: bool,
    label: Option<&str>,
    suggestion: Option<(&str, &str)>,
) -> Value {
    let source = &report.sources[at.file];
    let (line_start, column_start, line_end, column_end) = range(report, at);
    let text: Vec<Value> = (line_start..=line_end)
        .map(|line| {
            let text = line_text(source, line);
            let start = if line == line_start { column_start } else { 1 };
            let end = if line == line_end {
                column_end
            } else {
                text.chars().count() + 1
            };
            json!({ "text": text, "highlight_start": start, "highlight_end": end })
        })
        .collect();
    json!({
        "file_name": names[at.file],
        "byte_start": at.span.start,
        "byte_end": at.span.end,
        "line_start": line_start,
        "line_end": line_end,
        "column_start": column_start,
        "column_end": column_end,
        "is_primary": is_primary,
        "text": text,
        "label": label,
        "suggested_replacement": suggestion.map(|s| s.0),
        "suggestion_applicability": suggestion.map(|s| s.1),
        "expansion": null,
    })
}

/// The human rendering of one diagnostic (rustc's `rendered`, shown by editors on demand).
fn rendered(files: &SimpleFiles<String, String>, d: &Diagnostic) -> String {
    let diagnostic = crate::render::human::codespan_diagnostic(d);
    term::emit_into_string(&Config::default(), files, &diagnostic)
        .unwrap_or_else(|_| format!("{}: {}\n", level(d.severity), d.message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Kind;
    use nginx_parser::Span;

    fn report(text: &str, span: Span) -> Report {
        let source = Source::new(
            PathBuf::from("a.conf"),
            "a.conf".into(),
            Kind::Nginx,
            text.as_bytes().to_vec(),
        );
        let d = Diagnostic::new(
            &lints::meta::SYNTAX_ERROR,
            Location::new(0, span),
            "message",
        );
        Report {
            sources: vec![source],
            diagnostics: vec![d],
            failures: Vec::new(),
            warnings: Vec::new(),
            files_checked: 1,
        }
    }

    #[test]
    fn a_span_over_several_lines_highlights_each() {
        // From `{` on line 1 to the `b` on line 3, through a line of characters.
        let text = "ab {\n  ü é\nbc\n";
        let report = report(text, Span::new(3, text.find("c").unwrap()));
        let v = span(
            &report,
            &["a.conf".into()],
            report.diagnostics[0].primary.location,
            true,
            None,
            None,
        );
        assert_eq!(v["line_start"], 1);
        assert_eq!(v["column_start"], 4);
        assert_eq!(v["line_end"], 3);
        assert_eq!(v["column_end"], 2);
        assert_eq!(
            v["text"],
            json!([
                { "text": "ab {", "highlight_start": 4, "highlight_end": 5 },
                { "text": "  ü é", "highlight_start": 1, "highlight_end": 6 },
                { "text": "bc", "highlight_start": 1, "highlight_end": 2 },
            ])
        );
    }

    #[test]
    fn every_line_is_one_compiler_message() {
        let report = report("x;\n", Span::new(0, 1));
        let mut out = Vec::new();
        render(&report, &Standalone::new(Path::new("/w")), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["reason"], "compiler-message");
        assert_eq!(v["target"]["src_path"], "/w/a.conf");
        assert_eq!(v["message"]["level"], "error");
        assert!(v["message"]["rendered"]
            .as_str()
            .unwrap()
            .contains("a.conf:1:1"));
    }
}
