//! Shared by the client keep-alive rules (NGX002 to NGX011): what nginx accepts as the value of
//! each client keep-alive directive, where those directives are client settings, how a message
//! names the nginx version it assumed, and how numbers are written in notes.
//!
//! The value readers return `None` for anything nginx rejects; the rules that judge values skip
//! those silently, and `invalid-keepalive-value` (NGX011) reports them.

use nginx_parser::{Directive, Word};

use crate::nginx::model::{ContextKind, Entry, Model, NodeId};
use crate::nginx::time::{parse_time, Resolution};
use crate::settings::{NginxVersion, Settings};

/// nginx 1.19.10: `keepalive_time` appears and the `keepalive_requests` default goes from 100 to
/// 1000.
pub const V1_19_10: NginxVersion = NginxVersion(1, 19, 10);

/// Linux keeps a TIME_WAIT socket for 60 seconds (`TCP_TIMEWAIT_LEN`, fixed in the kernel).
pub const TIME_WAIT_SECONDS: f64 = 60.0;

/// Contexts where the client keep-alive directives are client settings: not `upstream` (where
/// `keepalive_*` govern nginx's own connections to backends), not `stream` or `mail`.
pub fn is_client_context(kind: ContextKind) -> bool {
    matches!(
        kind,
        ContextKind::Http | ContextKind::Server | ContextKind::Location | ContextKind::If
    )
}

/// Every directive named `name` written in a client context, with its context, in source order.
pub fn occurrences<'t>(model: &Model<'t>, name: &str) -> Vec<(NodeId, Entry<'t>)> {
    let mut out = Vec::new();
    for (id, node) in model.nodes.iter().enumerate() {
        if is_client_context(node.kind) {
            out.extend(model.local_all(id, name).into_iter().map(|e| (id, e)));
        }
    }
    out
}

/// A count as `ngx_atoi` reads it: decimal digits only, no sign, no overflow.
pub fn parse_count(value: &[u8]) -> Option<i64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0i64, |n, &b| {
        n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

/// The idle timeout of a valid `keepalive_timeout` (1 or 2 arguments: a time in milliseconds,
/// then the `Keep-Alive: timeout=` header value in whole seconds), in milliseconds.
pub fn keepalive_timeout_ms(d: &Directive) -> Option<i64> {
    if !(1..=2).contains(&d.args.len()) {
        return None;
    }
    let timeout = parse_time(&d.args[0].value, Resolution::Milliseconds)?;
    if let Some(header) = d.arg(1) {
        parse_time(&header.value, Resolution::Seconds)?;
    }
    Some(timeout)
}

/// The value of a valid `keepalive_requests`.
pub fn keepalive_requests(d: &Directive) -> Option<i64> {
    match d.args.as_slice() {
        [n] => parse_count(&n.value),
        _ => None,
    }
}

/// The value of a valid `keepalive_time`, in milliseconds.
pub fn keepalive_time_ms(d: &Directive) -> Option<i64> {
    match d.args.as_slice() {
        [t] => parse_time(&t.value, Resolution::Milliseconds),
        _ => None,
    }
}

/// A value of `keepalive_disable`; nginx compares them case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disable {
    None,
    Msie6,
    Safari,
}

pub fn disable_value(word: &Word) -> Option<Disable> {
    let v = &*word.value;
    if v.eq_ignore_ascii_case(b"none") {
        Some(Disable::None)
    } else if v.eq_ignore_ascii_case(b"msie6") {
        Some(Disable::Msie6)
    } else if v.eq_ignore_ascii_case(b"safari") {
        Some(Disable::Safari)
    } else {
        None
    }
}

/// The values of a valid `keepalive_disable` (at least one argument, each known).
pub fn keepalive_disable(d: &Directive) -> Option<Vec<Disable>> {
    if d.args.is_empty() {
        return None;
    }
    d.args.iter().map(disable_value).collect()
}

/// The note that says which nginx version a version-dependent finding assumed and how to set
/// it; `None` when the user set the version.
pub fn version_note(settings: &Settings) -> Option<String> {
    (!settings.nginx_version_configured).then(|| {
        format!(
            "waitlint assumed nginx {} (its default); set the version you run with `--nginx-version` or `nginx_version` in waitlint.toml",
            settings.nginx_version
        )
    })
}

/// A number for a note: whole with thin grouping (`6 000`) from 10 up, one decimal below.
pub fn count(n: f64) -> String {
    if n >= 9.95 {
        let digits = format!("{}", n.round() as u64);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    } else {
        let s = format!("{n:.1}");
        s.strip_suffix(".0").map_or(s.clone(), str::to_string)
    }
}

/// The bytes to delete to remove a directive: its line too when nothing else is on it.
pub fn removal_span(text: &[u8], span: nginx_parser::Span) -> nginx_parser::Span {
    let (start, end) = (span.start as usize, span.end as usize);
    let line_start = text[..start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line_end = text[end..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |p| end + p + 1);
    let blank = |s: &[u8]| s.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    if blank(&text[line_start..start]) && blank(&text[end..line_end]) {
        nginx_parser::Span::new(line_start, line_end)
    } else {
        span
    }
}

/// Runs one rule's check on a configuration given as text, for the rules' unit tests (the
/// fixtures cover the default settings; these cover other nginx versions and options).
#[cfg(test)]
pub(crate) fn run_on(
    text: &str,
    settings: &Settings,
    check: super::Check,
) -> Vec<crate::diagnostic::Diagnostic> {
    let tree = nginx_parser::ConfigTree {
        files: vec![nginx_parser::SourceFile {
            path: "test.conf".into(),
            text: text.as_bytes().to_vec(),
            parse: nginx_parser::parse(text.as_bytes()),
        }],
        includes: std::collections::HashMap::new(),
        errors: Vec::new(),
    };
    let ctx = crate::nginx::Context {
        tree: &tree,
        model: Model::build(&tree),
        settings,
    };
    let mut out = Vec::new();
    check(&ctx, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_ngx_atoi() {
        assert_eq!(parse_count(b"1000"), Some(1000));
        assert_eq!(parse_count(b"0"), Some(0));
        for bad in ["", "-1", "+5", "1k", "99999999999999999999"] {
            assert_eq!(parse_count(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn numbers_for_notes() {
        assert_eq!(count(6000.0), "6 000");
        assert_eq!(count(600_000.0), "600 000");
        assert_eq!(count(100.0), "100");
        assert_eq!(count(16.67), "17");
        assert_eq!(count(2.0), "2");
        assert_eq!(count(0.5), "0.5");
    }

    #[test]
    fn removal_takes_the_line_when_alone() {
        let text = b"a {\n    add_header Connection close;\n}\n";
        let start = 8;
        let end = start + "add_header Connection close;".len();
        assert_eq!(
            removal_span(text, nginx_parser::Span::new(start, end)),
            nginx_parser::Span::new(4, end + 1)
        );
        let inline = b"a { b; add_header X y; }";
        let s = nginx_parser::Span::new(7, 22);
        assert_eq!(removal_span(inline, s), s);
    }
}
