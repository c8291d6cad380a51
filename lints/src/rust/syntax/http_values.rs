//! What the arguments of HTTP server builders mean (`server-keepalive-disabled`): a `false`,
//! actix-web's disabled keep-alive, the text of a header literal, a `Connection: close`
//! header, and whether a builder chain builds a request or an actix-web response rather than a
//! response this server sends.

use std::collections::HashMap;

use syn::{Expr, Lit};

use crate::rust::syntax::calls::{is_zero_duration, path_ends_with, unwrap_some};
use crate::rust::syntax::chains::{chain, root_path, strip};

/// A `false` literal, or a constant of the file that is one.
pub(crate) fn is_false(expr: &Expr, consts: &HashMap<String, &Expr>) -> bool {
    match strip(expr) {
        Expr::Lit(l) => matches!(&l.lit, Lit::Bool(b) if !b.value),
        Expr::Path(p) if p.path.segments.len() == 1 => {
            let name = p.path.segments[0].ident.to_string();
            consts.get(&name).is_some_and(
                |v| matches!(strip(v), Expr::Lit(l) if matches!(&l.lit, Lit::Bool(b) if !b.value)),
            )
        }
        _ => false,
    }
}

/// What actix-web turns into `KeepAlive::Disabled`: `KeepAlive::Disabled`, `None`, a zero
/// duration (bare, in `Some` or in `KeepAlive::Timeout`).
pub(crate) fn is_actix_disabled(expr: &Expr, consts: &HashMap<String, &Expr>) -> bool {
    let expr = strip(expr);
    if path_ends_with(expr, &["KeepAlive", "Disabled"])
        || path_ends_with(expr, &["None"])
        || is_zero_duration(expr, consts)
    {
        return true;
    }
    if let Expr::Call(c) = expr {
        if path_ends_with(&c.func, &["KeepAlive", "Timeout"]) && c.args.len() == 1 {
            return is_zero_duration(&c.args[0], consts);
        }
    }
    unwrap_some(expr).is_some_and(|inner| is_zero_duration(inner, consts))
}

/// The text of a string or byte-string literal, through `&`, `[..]` and the usual constructors
/// (`HeaderValue::from_static("close")`, `"close".parse().unwrap()`).
pub(crate) fn literal_text(expr: &Expr) -> Option<String> {
    match strip(expr) {
        Expr::Lit(l) => match &l.lit {
            Lit::Str(s) => Some(s.value()),
            Lit::ByteStr(b) => String::from_utf8(b.value()).ok(),
            _ => None,
        },
        Expr::Index(i) => literal_text(&i.expr),
        Expr::Call(c) if c.args.len() == 1 => {
            let ctor = ["from_static", "from_str", "from_bytes", "try_from", "from"];
            ctor.iter()
                .any(|f| {
                    path_ends_with(&c.func, &["HeaderValue", f])
                        || path_ends_with(&c.func, &["HeaderName", f])
                })
                .then(|| literal_text(&c.args[0]))
                .flatten()
        }
        Expr::MethodCall(m)
            if matches!(m.method.to_string().as_str(), "parse" | "try_into" | "into") =>
        {
            literal_text(&m.receiver)
        }
        _ => None,
    }
}

/// A `Connection: close` header: the name as a constant or a literal, the value a literal.
pub(crate) fn is_connection_close(name: &Expr, value: &Expr) -> bool {
    let name_ok = path_ends_with(strip(name), &["CONNECTION"])
        || literal_text(name).is_some_and(|n| n.trim().eq_ignore_ascii_case("connection"));
    name_ok && literal_text(value).is_some_and(|v| v.trim().eq_ignore_ascii_case("close"))
}

/// Whether a builder chain builds a request: a client asking for `Connection: close` makes the
/// server close, but that is the client's choice, not this server's.
pub(crate) fn is_request(receiver: &Expr) -> bool {
    let (root, calls) = chain(receiver);
    let request_call = calls.iter().any(|c| {
        matches!(
            c.method.to_string().as_str(),
            "get" | "post" | "put" | "patch" | "delete" | "head" | "request" | "method" | "uri"
        )
    });
    request_call
        || root_path(root).unwrap_or_default().iter().any(|s| {
            let s = s.to_ascii_lowercase();
            s.contains("req") || s.contains("client")
        })
}

/// An actix-web response builder, which drops a hand-set `Connection` header.
pub(crate) fn is_actix_response(receiver: &Expr) -> bool {
    root_path(chain(receiver).0)
        .unwrap_or_default()
        .iter()
        .any(|s| s.starts_with("HttpResponse"))
}

/// A response this server sends whose headers it controls (not a request, not actix-web).
pub(crate) fn is_served_response(receiver: &Expr) -> bool {
    !is_request(receiver) && !is_actix_response(receiver)
}
