use crate::diagnostic::{Diagnostic, Edit, Fix, Location};
use crate::nginx::effective::{self, Setting};
use crate::nginx::rules::client_keepalive::{self as ka, TIME_WAIT_SECONDS};
use crate::nginx::time::{format_ms, parse_time, Resolution};
use crate::nginx::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags a `keepalive_timeout` whose first argument (how long nginx keeps an idle client
    /// connection open, with millisecond resolution) is shorter than the `threshold` option
    /// (10s by default), where it takes effect: in `http`, `server` or `location` blocks. A value
    /// that every server and location below overrides is reported only as information. `0` is
    /// `keepalive-disabled` (NGX001); invalid values are `invalid-keepalive-value` (NGX011);
    /// `keepalive_timeout` inside an `upstream` block is about nginx's connections to backends
    /// and is not checked here.
    ///
    /// ## Why is this bad?
    /// When a client connection has been idle for the timeout, nginx closes it. The side that
    /// closes a TCP connection first is the one that keeps it in TIME_WAIT, for 60 seconds on
    /// Linux, so with a short timeout it is the server that collects them: every client that
    /// pauses longer than the timeout between two requests (a person reading a page, a script
    /// polling every few seconds) costs the server one TIME_WAIT socket and the client a new
    /// TCP (and TLS) handshake. A client polling every 10 seconds against `keepalive_timeout 5s`
    /// reconnects for every request and leaves about 6 sockets in TIME_WAIT on the server at any
    /// time; against 65 seconds it keeps one connection open. A TIME_WAIT socket holds no file
    /// descriptor but a few hundred bytes of kernel memory and a slot in the connection table;
    /// past `net.ipv4.tcp_max_tw_buckets` the kernel drops them early and logs an overflow.
    /// Since nginx 1.19.7 the same timeout also closes idle HTTP/2 connections.
    ///
    /// The fix puts `65s`, or the threshold when it is larger: 65 seconds is the value of the
    /// sample `nginx.conf` shipped with nginx, a little under nginx's own default of 75 seconds,
    /// long enough for a client to come back after a pause. The threshold alone would only
    /// silence the rule. A second argument (the `Keep-Alive: timeout=` header) is left as
    /// written.
    ///
    /// Measured (`docs/evidence.md`, nginx 1.22.1 on loopback, scaled down): a client polling every
    /// 300 ms against `keepalive_timeout 100ms` reconnected for each of its 10 polls, leaving 10
    /// TIME_WAIT sockets on nginx; against `65s` it kept one connection and nginx held none.
    ///
    /// ## Example
    /// ```nginx
    /// http {
    ///     keepalive_timeout 5s;
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
    pub KEEPALIVE_TIMEOUT_SHORT {
        code: "NGX002",
        name: "keepalive-timeout-short",
        family: Nginx,
        severity: Warning,
        summary: "keepalive_timeout so short that nginx closes idle clients first and holds their TIME_WAIT",
        fixable: true,
        options: [
            { name: "threshold", kind: Time, default: "10s", doc: "shortest keepalive_timeout that is not flagged" },
        ],
    }
}

/// What the fix puts when the threshold is lower: the sample nginx.conf's value.
const SUGGESTED_MS: i64 = 65_000;

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let threshold = ctx.settings.number(&KEEPALIVE_TIMEOUT_SHORT, "threshold");
    for setting in effective::settings(&ctx.model, "keepalive_timeout") {
        let Some(ms) = ka::keepalive_timeout_ms(setting.entry.directive) else {
            continue;
        };
        if ms == 0 || ms >= threshold {
            continue;
        }
        if setting.is_dead() {
            out.push(effective::dead(
                &KEEPALIVE_TIMEOUT_SHORT,
                &ctx.model,
                &setting,
            ));
            continue;
        }
        out.push(report(ctx, &setting, ms, threshold));
    }
}

fn report(ctx: &Context<'_>, setting: &Setting<'_>, ms: i64, threshold: i64) -> Diagnostic {
    let d = setting.entry.directive;
    let arg = &d.args[0];
    let at = Location::new(setting.entry.file, arg.span);
    let value = format_ms(ms);
    let replacement = if threshold <= SUGGESTED_MS {
        "65s".to_string()
    } else {
        format_ms(threshold)
    };
    // A client polling at the first whole second past the timeout reconnects every time.
    let interval = (ms / 1000 + 1) * 1000;
    let waiting = (TIME_WAIT_SECONDS * 1000.0 / interval as f64).max(1.0);
    let mut diag = Diagnostic::new(
        &KEEPALIVE_TIMEOUT_SHORT,
        at,
        format!(
            "`keepalive_timeout {}` closes idle client connections after {value} {}",
            arg.text(),
            ctx.model.scope_phrase(setting.node)
        ),
    )
    .primary_label(format!(
        "nginx closes a connection idle for {value} (threshold {})",
        format_ms(threshold)
    ))
    .note(format!(
        "nginx closes first, so the server holds each such connection in TIME_WAIT for 60 s: a client polling every {} reconnects for every request, leaving about {} of its sockets in TIME_WAIT on the server and paying a new TCP (and TLS) handshake each time, where a {replacement} timeout keeps one connection open",
        format_ms(interval),
        ka::count(waiting)
    ))
    .help(format!(
        "raise it: `keepalive_timeout {replacement};` (nginx's default is 75s)"
    ))
    .fix(Fix {
        description: format!("replace `{}` with `{replacement}`", arg.text()),
        edits: vec![Edit {
            location: at,
            replacement,
        }],
        safe: true,
    });
    if let Some(header) = d
        .arg(1)
        .and_then(|h| parse_time(&h.value, Resolution::Seconds))
    {
        diag = diag.help(format!(
            "the second argument, the `Keep-Alive: timeout={header}` header, is left as written: a client that honours it closes after {header} idle seconds itself, and then the TIME_WAIT is the client's"
        ));
    }
    effective::label_inheritors(
        diag,
        &ctx.model,
        setting,
        &format!("the {value} idle timeout"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{OptionValue, Settings};

    #[test]
    fn threshold_option_and_fix_value() {
        let mut s = Settings::default();
        let conf = "http { keepalive_timeout 30s; server { listen 80; } }";
        assert!(ka::run_on(conf, &s, check).is_empty());
        s.options.insert(
            (KEEPALIVE_TIMEOUT_SHORT.name, "threshold".into()),
            OptionValue::Time(120_000),
        );
        let found = ka::run_on(conf, &s, check);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].fix.as_ref().unwrap().edits[0].replacement, "2m");
    }

    #[test]
    fn zero_and_invalid_values_are_left_to_other_rules() {
        let s = Settings::default();
        for v in ["0", "0s", "5M", "5s 500ms", "5s 5 5", "$t"] {
            let conf = format!("server {{ listen 80; keepalive_timeout {v}; }}");
            assert!(ka::run_on(&conf, &s, check).is_empty(), "{v}");
        }
        let found = ka::run_on(
            "server { listen 80; keepalive_timeout 500ms 1; }",
            &s,
            check,
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0].notes[0].contains("every 1s"),
            "{:?}",
            found[0].notes
        );
        assert!(
            found[0].notes[0].contains("about 60 of"),
            "{:?}",
            found[0].notes
        );
    }
}
