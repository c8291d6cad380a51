use crate::diagnostic::{Diagnostic, Edit, Fix, Location};
use crate::nginx::effective::{self, Setting};
use crate::nginx::time::{parse_time, Resolution};
use crate::nginx::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags `keepalive_timeout 0`, `keepalive_requests 0` and `keepalive_time 0` (in any zero
    /// spelling: `0`, `0s`, `0ms`, `"0"`) where they take effect: in `http`, `server`,
    /// `location` or `if` blocks, unless every server and location below sets its own value
    /// (then the value is dead, and reported only as information).
    ///
    /// ## Why is this bad?
    /// Each of them switches HTTP keep-alive off: nginx answers with `Connection: close` (or,
    /// for `keepalive_requests 0` and `keepalive_time 0`, after the first request) and closes
    /// the connection itself. The side that closes a TCP connection first is the one that keeps
    /// it in TIME_WAIT, for 60 seconds on Linux (2 MSL, fixed in the kernel). So the server, not
    /// its clients, collects one TIME_WAIT socket per request: at 1 000 requests per second that
    /// is about 60 000 sockets, each holding memory and a slot in the kernel's connection table,
    /// and every request also pays a new TCP (and TLS) handshake. With keep-alive on, clients
    /// reuse connections, and when a connection finally ends after its idle timeout it is one
    /// connection per client rather than one per request.
    ///
    /// `reset_timedout_connection on` does not help: it only resets connections that timed out
    /// while a request was in progress (and, since 1.15.2, those closed with `return 444`);
    /// connections closed after a response are closed normally and still leave TIME_WAIT.
    ///
    /// Measured (`docs/evidence.md`, nginx 1.22.1 on loopback): with `keepalive_timeout 0`, 50
    /// requests took 50 connections and left 50 TIME_WAIT sockets on nginx, none on the client;
    /// with `65s`, one connection and none on nginx.
    ///
    /// ## Example
    /// ```nginx
    /// http {
    ///     keepalive_timeout 0;
    ///     server {
    ///         listen 80;
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// http {
    ///     keepalive_timeout 65s;
    ///     server {
    ///         listen 80;
    ///     }
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

/// The directives that switch keep-alive off at zero, how their value is read, the value the
/// fix puts instead, and what nginx then does.
const SWITCHES: &[(&str, Option<Resolution>, &str, &str)] = &[
    (
        "keepalive_timeout",
        Some(Resolution::Milliseconds),
        "65s",
        "answers `Connection: close` and closes every connection itself",
    ),
    (
        "keepalive_requests",
        None,
        "1000",
        "closes every connection itself after its first request",
    ),
    (
        "keepalive_time",
        Some(Resolution::Milliseconds),
        "1h",
        "closes every connection itself after its first request",
    ),
];

fn is_zero(setting: &Setting<'_>, resolution: Option<Resolution>) -> bool {
    let Some(arg) = setting.entry.directive.arg(0) else {
        return false;
    };
    match resolution {
        Some(r) => parse_time(&arg.value, r) == Some(0),
        None => !arg.value.is_empty() && arg.value.iter().all(|&b| b == b'0'),
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for &(name, resolution, replacement, effect) in SWITCHES {
        for setting in effective::settings(&ctx.model, name) {
            if !is_zero(&setting, resolution) {
                continue;
            }
            if setting.is_dead() {
                out.push(effective::dead(&KEEPALIVE_DISABLED, &ctx.model, &setting));
                continue;
            }
            out.push(report(ctx, &setting, replacement, effect));
        }
    }
}

fn report(ctx: &Context<'_>, setting: &Setting<'_>, replacement: &str, effect: &str) -> Diagnostic {
    let d = setting.entry.directive;
    let arg = d.arg(0).expect("is_zero checked the first argument");
    let file = setting.entry.file;
    let diag = Diagnostic::new(
        &KEEPALIVE_DISABLED,
        Location::new(file, arg.span),
        format!(
            "`{} {}` switches keep-alive off {}",
            d.name.text(),
            arg.text(),
            ctx.model.scope_phrase(setting.node)
        ),
    )
    .primary_label("keep-alive switched off here")
    .label(setting.entry.head(), format!("nginx {effect}"))
    .note(
        "the side that closes a TCP connection first keeps it in TIME_WAIT for 60 s; here that is the server, once per request",
    )
    .help(format!(
        "set `{} {replacement};` (or remove the directive to get nginx's default)",
        d.name.text()
    ))
    .fix(Fix {
        description: format!("replace `{}` with `{replacement}`", arg.text()),
        edits: vec![Edit {
            location: Location::new(file, arg.span),
            replacement: replacement.to_string(),
        }],
        // Re-enabling keep-alive is the point of the finding, but it changes how long idle
        // connections stay open: applied only when asked for.
        safe: false,
    });
    effective::label_inheritors(diag, &ctx.model, setting, "keep-alive switched off")
}
