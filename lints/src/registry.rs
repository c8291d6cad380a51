//! Rule metadata. Each rule is declared once, with [`declare_rule!`], in its own file; its doc
//! comment is its documentation, the single source of `waitlint explain`, SARIF help, the JSON
//! `help_uri` text and the README rules table.

use crate::diagnostic::Severity;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Nginx,
    Sysctl,
    Rust,
    /// About waitlint itself: syntax errors, unused suppressions.
    Meta,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Nginx => "nginx",
            Family::Sysctl => "sysctl",
            Family::Rust => "rust",
            Family::Meta => "meta",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable code, never reused: `NGX001`.
    pub code: &'static str,
    /// Kebab-case name that says what is flagged: `keepalive-disabled`.
    pub name: &'static str,
    pub family: Family,
    pub default_severity: Severity,
    /// One line, lowercase, no final period.
    pub summary: &'static str,
    /// Markdown with the sections What it does / Why is this bad? / Example / Use instead.
    doc: &'static str,
    /// Whether the rule can offer a fix.
    pub fixable: bool,
}

impl Rule {
    #[doc(hidden)]
    pub const fn new(
        code: &'static str,
        name: &'static str,
        family: Family,
        default_severity: Severity,
        summary: &'static str,
        doc: &'static str,
        fixable: bool,
    ) -> Rule {
        Rule {
            code,
            name,
            family,
            default_severity,
            summary,
            doc,
            fixable,
        }
    }

    /// The documentation as Markdown: the doc comment with rustdoc's leading space removed.
    pub fn documentation(&self) -> String {
        let mut out = String::with_capacity(self.doc.len());
        for line in self.doc.lines() {
            out.push_str(line.strip_prefix(' ').unwrap_or(line));
            out.push('\n');
        }
        out.trim().to_string() + "\n"
    }

    /// The body of one `## Section` of the documentation, without its heading.
    pub fn section(&self, heading: &str) -> Option<String> {
        let doc = self.documentation();
        let mut lines = doc
            .lines()
            .skip_while(|l| l.trim() != format!("## {heading}"));
        lines.next()?;
        let body: Vec<&str> = lines.take_while(|l| !l.starts_with("## ")).collect();
        Some(body.join("\n").trim().to_string())
    }

    /// Where the documentation is published (the rule table in the README).
    pub fn help_uri(&self) -> String {
        format!(
            "https://github.com/waitlint/waitlint/blob/main/docs/rules.md#{}",
            self.name
        )
    }
}

/// Declares a rule: its doc comment is its documentation.
///
/// ```ignore
/// declare_rule! {
///     /// ## What it does
///     /// ...
///     pub KEEPALIVE_DISABLED {
///         code: "NGX001",
///         name: "keepalive-disabled",
///         family: Nginx,
///         severity: Warning,
///         summary: "keep-alive is switched off, so nginx closes every connection first",
///         fixable: true,
///     }
/// }
/// ```
#[macro_export]
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        pub $ident:ident {
            code: $code:literal,
            name: $name:literal,
            family: $family:ident,
            severity: $severity:ident,
            summary: $summary:literal,
            fixable: $fixable:literal $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        pub static $ident: $crate::registry::Rule = $crate::registry::Rule::new(
            $code,
            $name,
            $crate::registry::Family::$family,
            $crate::diagnostic::Severity::$severity,
            $summary,
            concat!($($doc, "\n"),*),
            $fixable,
        );
    };
}

/// Every rule, in code order.
pub fn all() -> &'static [&'static Rule] {
    crate::ALL_RULES
}

/// Finds a rule by code (case-insensitive) or name.
pub fn find(code_or_name: &str) -> Option<&'static Rule> {
    all()
        .iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
}

/// Rules selected by a code, a name, a code prefix (`NGX`, `NGX0`) or `ALL`.
pub fn select(selector: &str) -> Vec<&'static Rule> {
    if selector.eq_ignore_ascii_case("all") {
        return all().to_vec();
    }
    if let Some(rule) = find(selector) {
        return vec![rule];
    }
    all()
        .iter()
        .copied()
        .filter(|r| {
            r.code.len() >= selector.len()
                && r.code[..selector.len()].eq_ignore_ascii_case(selector)
        })
        .collect()
}
