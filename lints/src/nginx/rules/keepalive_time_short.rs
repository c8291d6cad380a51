use crate::diagnostic::{Diagnostic, Edit, Fix, Location, Severity};
use crate::nginx::effective::{self, Setting};
use crate::nginx::rules::client_keepalive::{self as ka, TIME_WAIT_SECONDS, V1_19_10};
use crate::nginx::time::format_ms;
use crate::nginx::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags a `keepalive_time` (the longest a client connection may live, however busy; nginx
    /// 1.19.10 and later, default 1h) shorter than the `threshold` option (10m by default), where
    /// it takes effect in `http`, `server` or `location` blocks; a value every server and
    /// location below overrides is reported only as information. `0` is `keepalive-disabled`
    /// (NGX001); invalid values are `invalid-keepalive-value` (NGX011). When the assumed nginx
    /// version is older than 1.19.10 (`--nginx-version`, or `nginx_version` in waitlint.toml),
    /// it instead reports every `keepalive_time` as an error: the directive does not exist there
    /// and `nginx -t` fails with `unknown directive "keepalive_time"`. `keepalive_time` in an
    /// `upstream` block is about nginx's connections to backends and is not checked here.
    ///
    /// ## Why is this bad?
    /// When a connection is older than `keepalive_time`, nginx answers its next request with
    /// `Connection: close` (for HTTP/2, GOAWAY) and closes it itself, even if the client was
    /// sending requests back to back. The side that closes first keeps the socket in TIME_WAIT
    /// for 60 seconds on Linux, so every busy client costs the server one TIME_WAIT socket and a
    /// new TCP (and TLS) handshake per `keepalive_time`: with 1 000 busy clients and
    /// `keepalive_time 1m` that is about 17 closes a second and 1 000 sockets in TIME_WAIT at any
    /// time; with the default 1h, about 17 sockets. The directive exists to bound the life of one
    /// connection (memory nginx allocates for a connection is freed only when it closes), which
    /// needs hours, not seconds.
    ///
    /// The fix puts `1h` (nginx's default), or the threshold when it is larger.
    ///
    /// Measured (`docs/evidence.md`, nginx 1.22.1 on loopback, scaled down): a client sending a
    /// request every 50 ms for 2.5 s under `keepalive_time 500ms` needed 5 connections, and nginx
    /// closed each one that reached the limit (4 TIME_WAIT sockets on nginx); under `1h`, one
    /// connection and none.
    ///
    /// ## Example
    /// ```nginx
    /// http {
    ///     keepalive_time 1m;
    ///     server {
    ///         listen 80;
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// http {
    ///     keepalive_time 1h;
    ///     server {
    ///         listen 80;
    ///     }
    /// }
    /// ```
    pub KEEPALIVE_TIME_SHORT {
        code: "NGX004",
        name: "keepalive-time-short",
        family: Nginx,
        severity: Warning,
        summary: "keepalive_time so short that nginx closes even busy client connections first and holds their TIME_WAIT",
        fixable: true,
        options: [
            { name: "threshold", kind: Time, default: "10m", doc: "shortest keepalive_time that is not flagged" },
        ],
    }
}

/// nginx's default, what the fix puts unless the threshold is larger.
const DEFAULT_MS: i64 = 3_600_000;
/// The number of busy clients the notes put numbers on.
const CLIENTS: f64 = 1000.0;

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    if ctx.settings.nginx_version < V1_19_10 {
        for (_, entry) in ka::occurrences(&ctx.model, "keepalive_time") {
            out.push(unknown(ctx, entry));
        }
        return;
    }
    let threshold = ctx.settings.number(&KEEPALIVE_TIME_SHORT, "threshold");
    for setting in effective::settings(&ctx.model, "keepalive_time") {
        let Some(ms) = ka::keepalive_time_ms(setting.entry.directive) else {
            continue;
        };
        if ms == 0 || ms >= threshold {
            continue;
        }
        if setting.is_dead() {
            out.push(effective::dead(&KEEPALIVE_TIME_SHORT, &ctx.model, &setting));
            continue;
        }
        out.push(report(ctx, &setting, ms, threshold));
    }
}

/// Busy clients reconnect once per lifetime: (closes per second, sockets in TIME_WAIT).
fn churn(ms: i64) -> (f64, f64) {
    let closes = CLIENTS * 1000.0 / ms as f64;
    (closes, closes * TIME_WAIT_SECONDS)
}

fn report(ctx: &Context<'_>, setting: &Setting<'_>, ms: i64, threshold: i64) -> Diagnostic {
    let arg = &setting.entry.directive.args[0];
    let at = Location::new(setting.entry.file, arg.span);
    let value = format_ms(ms);
    let replacement = format_ms(threshold.max(DEFAULT_MS));
    let (closes, waiting) = churn(ms);
    let (_, waiting_default) = churn(threshold.max(DEFAULT_MS));
    let diag = Diagnostic::new(
        &KEEPALIVE_TIME_SHORT,
        at,
        format!(
            "`keepalive_time {}` makes nginx close every client connection after {value}, however busy, {}",
            arg.text(),
            ctx.model.scope_phrase(setting.node)
        ),
    )
    .primary_label(format!(
        "connections live at most {value} (threshold {})",
        format_ms(threshold)
    ))
    .note(format!(
        "nginx closes first (the first response after {value} carries `Connection: close`), so the TIME_WAIT (60 s) is the server's: 1 000 busy clients make {} reconnections a second and leave about {} sockets in TIME_WAIT, each reconnection a new TCP (and TLS) handshake; with {replacement} it would be about {} sockets",
        ka::count(closes),
        ka::count(waiting),
        ka::count(waiting_default)
    ))
    .help(format!(
        "raise it: `keepalive_time {replacement};` (nginx's default is 1h)"
    ))
    .fix(Fix {
        description: format!("replace `{}` with `{replacement}`", arg.text()),
        edits: vec![Edit {
            location: at,
            replacement,
        }],
        safe: true,
    });
    effective::label_inheritors(
        diag,
        &ctx.model,
        setting,
        &format!("the {value} connection lifetime"),
    )
}

/// `keepalive_time` on an nginx older than 1.19.10, where it does not exist.
fn unknown(ctx: &Context<'_>, entry: crate::nginx::Entry<'_>) -> Diagnostic {
    let version = ctx.settings.nginx_version;
    let mut diag = Diagnostic::new(
        &KEEPALIVE_TIME_SHORT,
        Location::new(entry.file, entry.directive.name.span),
        format!("`keepalive_time` does not exist in nginx {version}: it was added in 1.19.10"),
    )
    .primary_label(format!("unknown directive in nginx {version}"))
    .note("`nginx -t` fails with `unknown directive \"keepalive_time\"`, and nginx will not start or reload with this configuration");
    diag.severity = Severity::Error;
    if let Some(note) = ka::version_note(ctx.settings) {
        diag = diag.note(note);
    }
    diag.help("remove it, or upgrade to nginx 1.19.10 or later (where connections live at most 1h by default)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{NginxVersion, Settings};

    #[test]
    fn before_1_19_10_the_directive_does_not_exist() {
        let conf = "http { keepalive_time 1h; server { listen 80; keepalive_time 0; } upstream u { server a; keepalive_time 1m; } }";
        let mut s = Settings::default();
        assert!(ka::run_on(conf, &s, check).is_empty());
        s.nginx_version = NginxVersion(1, 18, 0);
        let found = ka::run_on(conf, &s, check);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|d| d.severity == Severity::Error));
        assert!(found[0].message.contains("nginx 1.18.0"));
        assert!(found[0].notes.iter().any(|n| n.contains("--nginx-version")));
    }

    #[test]
    fn numbers_follow_the_value() {
        let s = Settings::default();
        let found = ka::run_on("server { listen 80; keepalive_time 1m; }", &s, check);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].notes[0]
                .contains("make 17 reconnections a second and leave about 1 000 sockets"),
            "{:?}",
            found[0].notes
        );
        assert!(
            found[0].notes[0].ends_with("with 1h it would be about 17 sockets"),
            "{:?}",
            found[0].notes
        );
        for v in ["0", "10m", "2h", "1M", "1 2"] {
            let conf = format!("server {{ listen 80; keepalive_time {v}; }}");
            assert!(ka::run_on(&conf, &s, check).is_empty(), "{v}");
        }
    }
}
