//! Output formats. Each renders a whole [`Report`]; none of them runs rules or reads files.

pub mod github;
pub mod human;
pub mod json;
pub mod rustc_json;
pub mod sarif;
pub mod short;

use crate::report::{Report, Source};
use lints::{Location, Severity};

/// 1-based start line/column and end line/column (columns in characters) of a location.
pub fn range(report: &Report, at: Location) -> (usize, usize, usize, usize) {
    let source: &Source = &report.sources[at.file];
    let (line, column) = source.line_col(at.span.start);
    let (end_line, end_column) = source.line_col(at.span.end);
    (line, column, end_line, end_column)
}

/// The word gcc, SARIF and rustc use for a severity: waitlint's `info` is their `note`.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The text of the 1-based `line` of a source, without its line ending, with every invalid
/// UTF-8 byte shown as `?` so that character columns from [`range`] still point into it.
pub fn line_text(source: &Source, line: usize) -> String {
    let Some(start) = line.checked_sub(1).and_then(|i| source.lines.line_start(i)) else {
        return String::new();
    };
    let end = source
        .lines
        .line_start(line)
        .map_or(source.text.len(), |next| next as usize);
    let bytes = &source.text[(start as usize).min(end)..end];
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    lossy(bytes)
}

/// `bytes` as text with every invalid UTF-8 byte replaced by `?` (one character per byte, the
/// way [`nginx_parser::LineIndex::line_col`] counts them).
pub fn lossy(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat_n('?', chunk.invalid().len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Kind;
    use std::path::PathBuf;

    #[test]
    fn info_is_a_note_elsewhere() {
        assert_eq!(level(Severity::Error), "error");
        assert_eq!(level(Severity::Warning), "warning");
        assert_eq!(level(Severity::Info), "note");
    }

    #[test]
    fn line_text_strips_line_endings_and_keeps_columns() {
        let source = Source::new(
            PathBuf::from("a.conf"),
            "a.conf".into(),
            Kind::Nginx,
            b"one\r\ntw\xffo\nlast".to_vec(),
        );
        assert_eq!(line_text(&source, 1), "one");
        assert_eq!(line_text(&source, 2), "tw?o");
        assert_eq!(line_text(&source, 3), "last");
        assert_eq!(line_text(&source, 4), "");
        assert_eq!(line_text(&source, 0), "");
    }
}
