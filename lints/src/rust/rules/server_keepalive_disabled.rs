use std::collections::HashMap;

use syn::visit::Visit;
use syn::{Expr, ExprArray, ExprCall, ExprMethodCall};

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::model::sockets::method_span;
use crate::rust::syntax::calls::{file_constants, path_ends_with};
use crate::rust::syntax::chains::{chain, mentions_crate, root_path, strip};
use crate::rust::syntax::enclosing::{track_enclosing_fns, EnclosingFns};
use crate::rust::syntax::http_values::{
    is_actix_disabled, is_connection_close, is_false, is_request, is_served_response,
};
use crate::rust::{node_span, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags HTTP servers whose keep-alive is switched off: hyper 1's
    /// `http1::Builder::keep_alive(false)`, hyper-util's `auto::Builder::http1().keep_alive(false)`,
    /// hyper 0.14's `http1_keepalive(false)` and `Http::http1_keep_alive(false)`, actix-web's
    /// `HttpServer::keep_alive(KeepAlive::Disabled)` (or `None`, or a zero duration); and
    /// handlers that force the connection closed: a `Connection: close` header on a hyper, axum
    /// or warp response (`.header(..)`, `headers_mut().insert(..)`, `[(CONNECTION, "close")]`,
    /// `warp::reply::with_header`), actix's `force_close()` and `ConnectionType::Close`.
    /// TCP keep-alive (`SO_KEEPALIVE`, `tcp_keepalive`, `set_keepalive`) is another thing and is
    /// never flagged; nor is a `Connection` header in actix-web or tiny_http responses, which those
    /// servers drop before sending.
    /// Test code (`#[test]`, `#[tokio::test]`... functions and `#[cfg(test)]` modules) is not
    /// checked: tests switch this on purpose, to exercise it.
    ///
    /// ## Why is this bad?
    /// Without keep-alive the server closes the connection after every response. The side that
    /// closes first holds TIME_WAIT, so every request leaves one socket in TIME_WAIT on the server
    /// for 60 s (60,000 of them at 1,000 requests/s), and every request pays a new TCP handshake,
    /// plus a TLS handshake when there is one, before it can be sent. Clients that pool their
    /// connections lose the pool, and those that race a reused connection against the server's
    /// close see spurious "connection reset" errors. (On loopback, a client that closes the moment
    /// it has read the response can beat the server's FIN and take the TIME_WAIT itself; over a
    /// network the server's FIN, sent right after the response, arrives first.) Measured on this
    /// rule's fixtures in `docs/evidence.md`.
    ///
    /// ## Example
    /// ```rust
    /// let mut http = hyper::server::conn::http1::Builder::new();
    /// http.keep_alive(false);
    /// http.serve_connection(io, service).await?;
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// // Keep-alive is on by default; bound idle connections with a timeout instead.
    /// let mut http = hyper::server::conn::http1::Builder::new();
    /// http.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(30));
    /// http.serve_connection(io, service).await?;
    /// ```
    pub SERVER_KEEPALIVE_DISABLED {
        code: "RS008",
        name: "server-keepalive-disabled",
        family: Rust,
        severity: Warning,
        summary: "an HTTP server with keep-alive switched off closes every connection first and holds its TIME_WAIT",
        fixable: false,
    }
}

#[derive(Clone, Copy)]
enum Kind {
    /// A keep-alive switch on the server builder, with the help that fits the crate.
    Switch(&'static str),
    /// A response that forces the connection closed.
    Close,
}

const HYPER_HELP: &str = "remove `keep_alive(false)` (keep-alive is on by default); to bound idle connections, give the builder a `timer` and a `header_read_timeout`, which also limits the wait for the next request";
const HYPER014_HELP: &str = "remove it (keep-alive is on by default); to bound idle connections, set `http1_header_read_timeout`, which also limits the wait for the next request";
const ACTIX_HELP: &str = "keep the default (a 5 s keep-alive) or set the idle time you want with `keep_alive(Duration::from_secs(..))`";

struct Finder<'a> {
    consts: HashMap<String, &'a Expr>,
    /// hyper or hyper-util, whose builders take `keep_alive(false)`.
    hyper: bool,
    /// actix-web or actix-http: `KeepAlive`, `force_close()`.
    actix: bool,
    /// A server that honours a `Connection: close` header set in a response.
    header_server: bool,
    axum: bool,
    warp: bool,
    /// Names of the enclosing functions: a crate's own `fn force_close` that sets
    /// `ConnectionType::Close` implements the switch, it does not use it.
    fns: EnclosingFns,
    out: Vec<(nginx_parser::Span, Kind)>,
}

/// The switches this rule looks for, which the crates that offer them implement under the
/// same names.
const SWITCHES: &[&str] = &[
    "keep_alive",
    "http1_keepalive",
    "http1_keep_alive",
    "force_close",
    "set_connection_type",
];

impl<'a> Visit<'a> for Finder<'a> {
    track_enclosing_fns!('a, fns);

    fn visit_expr_method_call(&mut self, call: &'a ExprMethodCall) {
        let method = call.method.to_string();
        let args: Vec<&Expr> = call.args.iter().collect();
        let found = match (method.as_str(), args.as_slice()) {
            ("keep_alive", [arg]) => {
                // hyper 0.14's client builder also has a (deprecated) `keep_alive(false)`: it
                // turns off the client's pool, which is client-pool-disabled's business.
                let client = root_path(chain(&call.receiver).0)
                    .is_some_and(|r| r.iter().any(|s| s == "Client"));
                if self.hyper && !client && is_false(arg, &self.consts) {
                    Some(Kind::Switch(HYPER_HELP))
                } else {
                    (self.actix && is_actix_disabled(arg, &self.consts))
                        .then_some(Kind::Switch(ACTIX_HELP))
                }
            }
            ("http1_keepalive" | "http1_keep_alive", [arg])
                if self.hyper && is_false(arg, &self.consts) =>
            {
                Some(Kind::Switch(HYPER014_HELP))
            }
            // awc's client requests have a `force_close()` too: that is the client's choice.
            ("force_close", []) if self.actix && !is_request(&call.receiver) => Some(Kind::Close),
            ("set_connection_type", [arg])
                if self.actix && path_ends_with(strip(arg), &["ConnectionType", "Close"]) =>
            {
                Some(Kind::Close)
            }
            ("header", [name, value])
                if self.header_server
                    && is_connection_close(name, value)
                    && is_served_response(&call.receiver) =>
            {
                Some(Kind::Close)
            }
            ("insert" | "append", [name, value])
                if self.header_server && is_connection_close(name, value) =>
            {
                let (_, calls) = chain(&call.receiver);
                let on_headers = calls.first().is_some_and(|c| c.method == "headers_mut");
                (on_headers && is_served_response(&call.receiver)).then_some(Kind::Close)
            }
            _ => None,
        };
        let implementing = self.fns.innermost_is(|f| SWITCHES.contains(&f));
        if let (Some(kind), false) = (found, implementing) {
            self.out.push((method_span(call), kind));
        }
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_call(&mut self, call: &'a ExprCall) {
        // warp::reply::with_header(reply, "connection", "close")
        if self.warp
            && path_ends_with(&call.func, &["with_header"])
            && call.args.len() == 3
            && is_connection_close(&call.args[1], &call.args[2])
        {
            self.out.push((node_span(call), Kind::Close));
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_expr_array(&mut self, array: &'a ExprArray) {
        // axum's response parts: `([(header::CONNECTION, "close")], body)`.
        if self.axum {
            for elem in &array.elems {
                if let Expr::Tuple(t) = elem {
                    if t.elems.len() == 2 && is_connection_close(&t.elems[0], &t.elems[1]) {
                        self.out.push((node_span(t), Kind::Close));
                    }
                }
            }
        }
        syn::visit::visit_expr_array(self, array);
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let m = |krate: &str| mentions_crate(ctx.source, krate);
    let hyper = m("hyper") || m("hyper_util");
    let (axum, warp) = (m("axum"), m("warp"));
    let mut finder = Finder {
        consts: file_constants(ctx.file),
        hyper,
        actix: m("actix_web") || m("actix_http"),
        header_server: hyper || axum || warp || m("http"),
        axum,
        warp,
        fns: EnclosingFns::default(),
        out: Vec::new(),
    };
    finder.visit_file(ctx.file);
    for (span, kind) in finder.out {
        if ctx.analysis.in_test(span) {
            continue;
        }
        let written = ctx
            .source
            .get(span.range())
            .filter(|t| t.len() <= 70 && !t.contains('\n'));
        let quoted = written.map(|w| format!("`{w}`: ")).unwrap_or_default();
        let d = match kind {
            Kind::Switch(help) => Diagnostic::new(&SERVER_KEEPALIVE_DISABLED, Location::new(0, span), format!("{quoted}keep-alive is switched off, so this server closes every connection after one response"))
                .primary_label("keep-alive off")
                .note("the server closes first, so the TIME_WAIT lands on the server: one socket held for 60 s per request (60,000 at 1,000 requests/s), and every request pays a new TCP handshake (and TLS, if any)")
                .help(help),
            Kind::Close => Diagnostic::new(&SERVER_KEEPALIVE_DISABLED, Location::new(0, span), format!("{quoted}this response makes the server close the connection after sending it"))
                .primary_label("forces `Connection: close`")
                .note("after such a response the server closes first, so the TIME_WAIT lands on the server: one socket held for 60 s per response that carries it, and the client's next request pays a new TCP handshake (and TLS, if any)")
                .help("remove it and let the connection live; if connections must be retired, do it rarely (after many requests or a long age), not on every response"),
        };
        out.push(d);
    }
}

#[cfg(test)]
mod tests {
    fn findings(source: &str) -> usize {
        let found = crate::rust::lint(source, &crate::Settings::default());
        found.iter().filter(|d| d.rule.code == "RS008").count()
    }

    #[test]
    fn warp_replies_and_look_alikes() {
        // warp (no fixture: the fixtures crate does not build warp) runs on hyper 0.14, which
        // honours a `Connection: close` set in a reply.
        let warp = r#"fn r() { warp::reply::with_header(warp::reply(), "Connection", "close"); }"#;
        assert_eq!(findings(warp), 1);
        let keep =
            r#"fn r() { warp::reply::with_header(warp::reply(), "connection", "keep-alive"); }"#;
        assert_eq!(findings(keep), 0);
        // Without a hyper, axum, warp or http mention, a `keep_alive(false)` is someone else's.
        assert_eq!(findings("fn f(b: &mut B) { b.keep_alive(false); }"), 0);
    }
}
