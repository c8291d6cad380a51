//! sysctl rules: kernel settings that are meant to fight TIME_WAIT and either cannot, cannot
//! any more, or do harm. Rules receive one parsed `sysctl.conf` / `sysctl.d/*.conf` file and
//! judge the value in effect for each key (the last assignment).

pub mod parse;
pub mod rules;

pub use parse::{parse, Assignment, Number, SyntaxErrorKind, SysctlFile};

use crate::diagnostic::{Diagnostic, Edit, Location};
use crate::settings::Settings;

/// The keys the rules read, in the dotted form [`parse::normalize_key`] produces.
pub mod keys {
    pub const TCP_TW_RECYCLE: &str = "net.ipv4.tcp_tw_recycle";
    pub const TCP_TW_REUSE: &str = "net.ipv4.tcp_tw_reuse";
    pub const TCP_TIMESTAMPS: &str = "net.ipv4.tcp_timestamps";
    pub const TCP_MAX_TW_BUCKETS: &str = "net.ipv4.tcp_max_tw_buckets";
    pub const TCP_FIN_TIMEOUT: &str = "net.ipv4.tcp_fin_timeout";
    pub const IP_LOCAL_PORT_RANGE: &str = "net.ipv4.ip_local_port_range";
    pub const IP_UNPRIVILEGED_PORT_START: &str = "net.ipv4.ip_unprivileged_port_start";
}

/// A sysctl file is linted on its own: every location is in file 0 of its unit.
pub const FILE: crate::diagnostic::FileIndex = 0;

/// What a rule sees: the parsed file and the run's settings.
pub struct Context<'a> {
    pub file: &'a SysctlFile,
    pub settings: &'a Settings,
}

impl Context<'_> {
    /// The integer value in effect for a key, with the assignment that sets it, when the
    /// kernel would read one.
    pub fn effective_integer(&self, key: &str) -> Option<(&Assignment, Number)> {
        let a = self.file.effective(key)?;
        Some((a, a.integer()?))
    }
}

pub fn at(span: nginx_parser::Span) -> Location {
    Location::new(FILE, span)
}

/// The edit that deletes an assignment's whole line.
pub fn delete_line(a: &Assignment) -> Edit {
    Edit {
        location: at(a.line_span),
        replacement: String::new(),
    }
}

/// Runs every sysctl rule on a file.
pub fn check(file: &SysctlFile, settings: &Settings) -> Vec<Diagnostic> {
    let ctx = Context { file, settings };
    let mut out = Vec::new();
    for (_, check) in rules::ALL {
        check(&ctx, &mut out);
    }
    out
}

/// Everything waitlint reports about a sysctl file: its syntax errors and the findings of
/// every sysctl rule.
pub fn lint(file: &SysctlFile, settings: &Settings) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = file
        .errors
        .iter()
        .map(|e| {
            let d = Diagnostic::new(&crate::meta::SYNTAX_ERROR, at(e.span), e.message.clone());
            match e.kind {
                SyntaxErrorKind::NotAnAssignment => d.note("`sysctl -p` warns `invalid syntax, continuing...` (and exits 0), systemd-sysctl logs `Line is not an assignment, ignoring` and exits 1; both skip the line, and so does waitlint: the rest of the file is still checked"),
                SyntaxErrorKind::NoKey => d.note("both sysctl tools try to write the value to /proc/sys/ itself and fail; the line is skipped and the rest of the file is still checked"),
                SyntaxErrorKind::ByteOrderMark => d.note("the first line's key starts with the invisible bytes EF BB BF, so that key does not exist; save the file as UTF-8 without BOM"),
                SyntaxErrorKind::TooLarge => d,
            }
        })
        .collect();
    out.extend(check(file, settings));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::OptionValue;

    fn codes(text: &str, settings: &Settings) -> Vec<&'static str> {
        lint(&parse(text.as_bytes()), settings)
            .iter()
            .map(|d| d.rule.code)
            .collect()
    }

    #[test]
    fn syntax_errors_and_findings() {
        let text = "net.ipv4.tcp_syncookies 1\nnet.ipv4.tcp_fin_timeout = 30\n";
        assert_eq!(codes(text, &Settings::default()), ["WL001", "SYS006"]);
    }

    #[test]
    fn options_are_read_from_settings() {
        let text =
            "net.ipv4.tcp_max_tw_buckets = 5000\nnet.ipv4.ip_local_port_range = 50000 51000\n";
        assert_eq!(codes(text, &Settings::default()), ["SYS005", "SYS007"]);
        let mut settings = Settings::default();
        settings.options.insert(
            ("max-tw-buckets-low", "min".to_string()),
            OptionValue::Integer(1000),
        );
        settings.options.insert(
            ("local-port-range-narrow", "min_ports".to_string()),
            OptionValue::Integer(1000),
        );
        assert!(codes(text, &settings).is_empty());
    }

    #[test]
    fn only_the_effective_assignment_is_judged() {
        let text = "net.ipv4.tcp_timestamps = 0\nnet/ipv4/tcp_timestamps = 1\nnet.ipv4.tcp_fin_timeout = 5\n-net.ipv4.tcp_fin_timeout = 60\n";
        assert!(codes(text, &Settings::default()).is_empty());
    }
}
