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

/// The type of a rule option's value in `waitlint.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptionKind {
    /// A TOML integer: `min = 1000`.
    Integer,
    /// A TOML string in nginx's time syntax: `threshold = "10s"`, `"1m30s"`, `"500ms"`.
    Time,
    /// A TOML string.
    String,
}

impl OptionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OptionKind::Integer => "integer",
            OptionKind::Time => "time",
            OptionKind::String => "string",
        }
    }
}

/// An option a rule reads from its `[rules.<name>]` table in `waitlint.toml`.
#[derive(Debug, PartialEq, Eq)]
pub struct RuleOption {
    /// snake_case: `threshold`, `min`.
    pub name: &'static str,
    pub kind: OptionKind,
    /// The default, written as in `waitlint.toml` without quotes: `10s`, `1000`.
    pub default: &'static str,
    /// One line, lowercase, no final period.
    pub doc: &'static str,
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
    /// What can be set in the rule's `[rules.<name>]` table besides `severity`.
    pub options: &'static [RuleOption],
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
            options: &[],
        }
    }

    #[doc(hidden)]
    pub const fn with_options(self, options: &'static [RuleOption]) -> Rule {
        Rule { options, ..self }
    }

    /// A declared option by name.
    pub fn option(&self, name: &str) -> Option<&'static RuleOption> {
        self.options.iter().find(|o| o.name == name)
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
///         // Optional; none when left out.
///         options: [
///             { name: "threshold", kind: Time, default: "10s", doc: "shortest timeout that is not flagged" },
///         ],
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
            fixable: $fixable:literal
            $(, options: [
                $({
                    name: $oname:literal,
                    kind: $okind:ident,
                    default: $odefault:literal,
                    doc: $odoc:literal $(,)?
                }),* $(,)?
            ])?
            $(,)?
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
        ).with_options(&[$($($crate::registry::RuleOption {
                name: $oname,
                kind: $crate::registry::OptionKind::$okind,
                default: $odefault,
                doc: $odoc,
            }),*)?]);
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

#[cfg(test)]
mod tests {
    use super::*;

    crate::declare_rule! {
        /// ## What it does
        /// Nothing: it exercises the macro.
        pub WITH_OPTIONS {
            code: "NGX999",
            name: "with-options",
            family: Nginx,
            severity: Info,
            summary: "a rule with options",
            fixable: false,
            options: [
                { name: "threshold", kind: Time, default: "10s", doc: "shortest timeout not flagged" },
                { name: "min", kind: Integer, default: "1000", doc: "smallest value not flagged", },
            ],
        }
    }

    crate::declare_rule! {
        /// ## What it does
        /// Nothing.
        pub WITHOUT_OPTIONS {
            code: "NGX998",
            name: "without-options",
            family: Nginx,
            severity: Info,
            summary: "a rule without options",
            fixable: false
        }
    }

    #[test]
    fn options_are_declared_and_default_to_none() {
        assert_eq!(WITH_OPTIONS.options.len(), 2);
        let threshold = WITH_OPTIONS.option("threshold").unwrap();
        assert_eq!(threshold.kind, OptionKind::Time);
        assert_eq!(threshold.default, "10s");
        assert_eq!(
            WITH_OPTIONS.option("min").unwrap().kind,
            OptionKind::Integer
        );
        assert!(WITH_OPTIONS.option("nope").is_none());
        assert!(WITHOUT_OPTIONS.options.is_empty());
    }
}
