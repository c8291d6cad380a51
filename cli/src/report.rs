//! The result of a run, in the form every output format renders from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lints::{Diagnostic, Severity};
use nginx_parser::LineIndex;

use crate::args::Kind;

/// A file findings point into. `Diagnostic` locations index `Report::sources`.
pub struct Source {
    /// The path as the user gave it or as it was reached (relative when the input was).
    pub name: String,
    pub path: PathBuf,
    pub kind: Kind,
    pub text: Vec<u8>,
    pub lines: LineIndex,
}

impl Source {
    pub fn new(path: PathBuf, name: String, kind: Kind, text: Vec<u8>) -> Source {
        let lines = LineIndex::new(&text);
        Source {
            name,
            path,
            kind,
            text,
            lines,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        self.lines.line_col(&self.text, offset)
    }

    /// The text with every invalid UTF-8 byte and control character replaced by `?`, so byte
    /// offsets stay valid for renderers that need `&str` and nothing in a file drives the terminal.
    pub fn display_text(&self) -> String {
        let mut out = String::with_capacity(self.text.len());
        for chunk in self.text.utf8_chunks() {
            // Control characters (ESC...) would act on the terminal: show them as `?` too;
            // each is one byte, so offsets stay valid.
            out.extend(chunk.valid().chars().map(|c| {
                if c.is_control() && !matches!(c, '\t' | '\n' | '\r') && c.len_utf8() == 1 {
                    '?'
                } else {
                    c
                }
            }));
            out.extend(std::iter::repeat_n('?', chunk.invalid().len()));
        }
        out
    }
}

/// A file that could not be examined at all.
pub struct Failure {
    pub path: String,
    pub message: String,
}

pub struct Report {
    pub sources: Vec<Source>,
    /// Sorted by file name, then position, then code.
    pub diagnostics: Vec<Diagnostic>,
    pub failures: Vec<Failure>,
    /// Notes about the run itself (symlink loops skipped...).
    pub warnings: Vec<String>,
    /// Files linted (includes followed count once each).
    pub files_checked: usize,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Names of files whose syntax errors mean they were not fully checked.
    pub fn unparsed_files(&self) -> Vec<&str> {
        let mut files: Vec<&str> = self
            .diagnostics
            .iter()
            .filter(|d| std::ptr::eq(d.rule, &lints::meta::SYNTAX_ERROR))
            .map(|d| self.sources[d.primary.location.file].name.as_str())
            .collect();
        files.dedup();
        files
    }

    /// Findings per rule code, for `--statistics`.
    pub fn statistics(&self) -> BTreeMap<&'static str, (usize, &'static lints::Rule)> {
        let mut stats = BTreeMap::new();
        for d in &self.diagnostics {
            stats.entry(d.rule.code).or_insert((0, d.rule)).0 += 1;
        }
        stats
    }
}
