//! What a rule reports. Rules build diagnostics with [`Diagnostic::new`] and the builder methods;
//! rendering (line/column, snippets, formats) is the CLI's job.

use nginx_parser::Span;

use crate::registry::Rule;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// A file of the unit being linted: index into the unit's file list (for nginx, the
/// `ConfigTree`'s file ids; for a single file, always 0).
pub type FileIndex = usize;

/// A span in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: FileIndex,
    pub span: Span,
}

impl Location {
    pub fn new(file: FileIndex, span: Span) -> Location {
        Location { file, span }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub location: Location,
    pub message: String,
}

/// Replace the bytes at `location` by `replacement` (an insertion when the span is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub location: Location,
    pub replacement: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    /// What applying it does, imperative: `replace 0 with 65s`.
    pub description: String,
    pub edits: Vec<Edit>,
    /// Safe fixes are applied by `--fix`; unsafe ones change behaviour beyond the finding and
    /// are only shown.
    pub safe: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub rule: &'static Rule,
    /// The rule's default severity until configuration overrides it.
    pub severity: Severity,
    /// What is wrong: lowercase, no final period, names the value.
    pub message: String,
    /// The offending token, with an optional short label.
    pub primary: Label,
    /// Context that makes it wrong (the inheriting server, the accept site...).
    pub secondary: Vec<Label>,
    /// Why it matters.
    pub notes: Vec<String>,
    /// What to do.
    pub help: Vec<String>,
    pub fix: Option<Fix>,
}

impl Diagnostic {
    pub fn new(rule: &'static Rule, at: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            rule,
            severity: rule.default_severity,
            message: message.into(),
            primary: Label {
                location: at,
                message: String::new(),
            },
            secondary: Vec::new(),
            notes: Vec::new(),
            help: Vec::new(),
            fix: None,
        }
    }

    /// The label printed under the primary span.
    pub fn primary_label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    pub fn label(mut self, at: Location, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            location: at,
            message: message.into(),
        });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
    }

    pub fn fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    pub fn location(&self) -> Location {
        self.primary.location
    }
}
