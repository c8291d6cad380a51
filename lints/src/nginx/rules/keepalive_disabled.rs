use crate::diagnostic::{Diagnostic, Edit, Fix, Location};
use crate::nginx::time::{parse_time, Resolution};
use crate::nginx::{Context, Visit};

crate::declare_rule! {
    /// ## What it does
    /// Flags `keepalive_timeout 0`, `keepalive_requests 0` and `keepalive_time 0` (in any zero
    /// spelling: `0`, `0s`, `0ms`, `"0"`) in `http`, `server` and `location` blocks.
    ///
    /// ## Why is this bad?
    /// Each of them switches HTTP keep-alive off: nginx answers every request with
    /// `Connection: close` and then closes the connection itself. The side that closes first
    /// is the one that keeps the socket in TIME_WAIT, for 60 seconds on Linux (2 MSL, not
    /// tunable). So the server, not its clients, collects one TIME_WAIT socket per request: at
    /// 1 000 requests per second that is about 60 000 sockets, each holding kernel memory and
    /// a slot in the connection hash table, and every request also pays a new TCP (and TLS)
    /// handshake. With keep-alive on, clients reuse connections and, when a connection finally
    /// ends, it is usually the client that closes first and holds the TIME_WAIT.
    ///
    /// ## Example
    /// ```nginx
    /// http {
    ///     keepalive_timeout 0;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// http {
    ///     keepalive_timeout 65s;
    /// }
    /// ```
    pub KEEPALIVE_DISABLED {
        code: "NGX001",
        name: "keepalive-disabled",
        family: Nginx,
        severity: Warning,
        summary: "keep-alive is switched off, so nginx closes every connection first and holds its TIME_WAIT",
        fixable: true,
    }
}

/// Upstream blocks have their own `keepalive_*` directives, about nginx's connections to
/// backends; those are other rules.
const CLIENT_CONTEXTS: &[&str] = &["http", "server", "location", "if"];

fn is_zero(visit: &Visit<'_>, resolution: Option<Resolution>) -> bool {
    let Some(arg) = visit.directive.arg(0) else {
        return false;
    };
    match resolution {
        Some(r) => parse_time(&arg.value, r) == Some(0),
        None => !arg.value.is_empty() && arg.value.iter().all(|&b| b == b'0'),
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    ctx.for_each(|visit| {
        let d = visit.directive;
        if !visit.parent().is_some_and(|p| CLIENT_CONTEXTS.contains(&p)) {
            return;
        }
        let (resolution, what) = if d.is("keepalive_timeout") {
            (Some(Resolution::Milliseconds), "keepalive_timeout is 0")
        } else if d.is("keepalive_time") {
            (Some(Resolution::Milliseconds), "keepalive_time is 0")
        } else if d.is("keepalive_requests") {
            (None, "keepalive_requests is 0")
        } else {
            return;
        };
        if !is_zero(visit, resolution) {
            return;
        }
        out.push(report(visit, what));
    });
}

fn report(visit: &Visit<'_>, what: &str) -> Diagnostic {
    let d = visit.directive;
    let arg = d.arg(0).expect("is_zero checked the first argument");
    let scope = visit.parent().unwrap_or("main");
    let (replacement, effect) = if d.is("keepalive_requests") {
        (
            "1000",
            "close each connection itself after its first request",
        )
    } else if d.is("keepalive_time") {
        ("1h", "close each connection itself after its first request")
    } else {
        (
            "65s",
            "answer `Connection: close` and close each connection itself",
        )
    };
    Diagnostic::new(
        &KEEPALIVE_DISABLED,
        Location::new(visit.file, arg.span),
        format!("{what}: keep-alive is off in this {scope} block"),
    )
    .primary_label("keep-alive switched off here")
    .label(
        Location::new(visit.file, d.name.span),
        format!("nginx will {effect}"),
    )
    .note(
        "the side that closes a TCP connection first keeps it in TIME_WAIT for 60 s; with keep-alive off that is the server, once per request",
    )
    .help(format!("set `{} {replacement};` (or remove the directive to get nginx's default)", d.name.text()))
    .fix(Fix {
        description: format!("replace `{}` with `{replacement}`", arg.text()),
        edits: vec![Edit {
            location: Location::new(visit.file, arg.span),
            replacement: replacement.to_string(),
        }],
        // Re-enabling keep-alive is the point of the finding, but it changes how long idle
        // connections stay open: the user applies it knowingly.
        safe: false,
    })
}
