use super::upstream::{closer_note, pool, unix_only, version_note, Closer, Pool};
use crate::diagnostic::{Diagnostic, Edit, Fix};
use crate::nginx::model::{ContextKind, Entry};
use crate::nginx::time::{format_ms, parse_time, Resolution};
use crate::nginx::Context;
use crate::settings::NginxVersion;

crate::declare_rule! {
    /// ## What it does
    /// Flags limits in an http `upstream` block that make nginx close its pooled connections to
    /// the backend so often that the pool barely helps:
    ///
    /// - `keepalive_requests` below `min` (default 100): nginx closes a connection after that
    ///   many requests (nginx's default is 1000 since 1.19.10, 100 before; `0` or `1` means
    ///   every connection serves a single request);
    /// - `keepalive_timeout` below `threshold` (default 1s): nginx closes connections idle that
    ///   long (default 60s; `0` closes them as soon as they are idle);
    /// - `keepalive_time` below `time_threshold` (default 1m): nginx closes a connection once
    ///   it has lived that long (default 1h);
    ///
    /// and the directives the assumed nginx version does not know (`keepalive_requests` and
    /// `keepalive_timeout` in upstream blocks need 1.15.3, `keepalive_time` 1.19.10). Silent
    /// when the upstream keeps no pool (see upstream-without-keepalive) or uses only unix-domain
    /// sockets.
    ///
    /// ## Why is this bad?
    /// In each case nginx closes the connection itself, so TIME_WAIT (60 s) lands on nginx, each
    /// socket holding an ephemeral port toward the backend address. The default port range
    /// 32768–60999 has 28 232 ports: about 470 new connections per second to one backend address
    /// before `connect()` fails. With `keepalive_requests 10` that limit is reached at 4 700
    /// requests per second; with 100, at 47 000 (measured with nginx 1.22.1, see
    /// `docs/evidence.md`: 50 requests through `keepalive_requests 10` took 5 backend connections
    /// and left 5 TIME_WAIT sockets on nginx, `keepalive_timeout 0` left 50).
    /// A `keepalive_time` shorter than TIME_WAIT itself keeps more sockets in TIME_WAIT than in
    /// the pool.
    ///
    /// The thresholds are low on purpose. 100 requests was nginx's own default for years. An
    /// upstream `keepalive_timeout` should stay *below* the backend's idle timeout (gunicorn 2s,
    /// Node.js 5s), so that nginx, not the backend, closes idle connections and never sends a
    /// request on a connection the backend is closing: only values under a second are flagged.
    /// `keepalive_time` exists to rotate connections (rebalancing, leaky backends), which
    /// takes minutes, not seconds.
    ///
    /// ## Example
    /// ```nginx
    /// upstream app {
    ///     server 10.0.0.5:8080;
    ///     keepalive 32;
    ///     keepalive_requests 10;
    ///     keepalive_timeout 200ms;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// upstream app {
    ///     server 10.0.0.5:8080;
    ///     keepalive 32;
    ///     keepalive_requests 1000;
    ///     keepalive_timeout 4s;    # below the backend's idle timeout
    /// }
    /// ```
    pub UPSTREAM_KEEPALIVE_LIMITS_LOW {
        code: "NGX009",
        name: "upstream-keepalive-limits-low",
        family: Nginx,
        severity: Warning,
        summary: "upstream keep-alive limits so low that nginx keeps closing its connections to the backend",
        fixable: true,
        options: [
            { name: "min", kind: Integer, default: "100", doc: "smallest upstream keepalive_requests not flagged" },
            { name: "threshold", kind: Time, default: "1s", doc: "shortest upstream keepalive_timeout not flagged" },
            { name: "time_threshold", kind: Time, default: "1m", doc: "shortest upstream keepalive_time not flagged" },
        ],
    }
}

/// `4700` as `4 700`, like the other numbers in messages.
fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

const RULE: &crate::registry::Rule = &UPSTREAM_KEEPALIVE_LIMITS_LOW;

/// The upstream limits: name, version that added it, whether it is a time.
const LIMITS: &[(&str, NginxVersion, bool)] = &[
    ("keepalive_requests", NginxVersion(1, 15, 3), false),
    ("keepalive_timeout", NginxVersion(1, 15, 3), true),
    ("keepalive_time", NginxVersion(1, 19, 10), true),
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let model = &ctx.model;
    for up in model.nodes_of(ContextKind::Upstream) {
        let name = model.nodes[up]
            .opener
            .and_then(|o| o.directive.arg(0))
            .map_or(String::new(), |a| a.text().into_owned());
        let pooled = matches!(
            pool(model, ctx.settings, up),
            Pool::Explicit(_) | Pool::Default
        );
        for &(directive, since, is_time) in LIMITS {
            let Some(e) = model.local(up, directive) else {
                continue;
            };
            if ctx.settings.nginx_version < since {
                out.push(
                    Diagnostic::new(
                        RULE,
                        e.head(),
                        format!(
                            "`{directive}` in an upstream block needs nginx {since}, newer than {}",
                            ctx.settings.nginx_version
                        ),
                    )
                    .primary_label("unknown to this nginx version")
                    .note(version_note(
                        ctx.settings,
                        &format!(
                            "it rejects the configuration ({})",
                            if directive == "keepalive_time" {
                                "unknown directive \"keepalive_time\"".to_string()
                            } else {
                                format!("\"{directive}\" directive is not allowed here")
                            }
                        ),
                    ))
                    .help(format!(
                        "remove it, or set the nginx version you run if it is {since} or newer"
                    )),
                );
                continue;
            }
            if !pooled || unix_only(model, up) {
                continue;
            }
            let Some(arg) = e.directive.arg(0) else {
                continue;
            };
            let value = if is_time {
                parse_time(&arg.value, Resolution::Milliseconds)
            } else {
                arg.text().parse::<i64>().ok()
            };
            let Some(value) = value else { continue };
            if let Some(d) = judge(ctx, e, directive, value, &name) {
                out.push(d);
            }
        }
    }
}

fn judge(
    ctx: &Context<'_>,
    e: Entry<'_>,
    directive: &str,
    value: i64,
    name: &str,
) -> Option<Diagnostic> {
    let raw = e
        .directive
        .arg(0)
        .map_or(String::new(), |a| a.text().into_owned());
    let (message, effect, replacement, help) = match directive {
        "keepalive_requests" => {
            let min = ctx.settings.number(RULE, "min");
            if value >= min {
                return None;
            }
            let default = if ctx.settings.nginx_version >= NginxVersion(1, 19, 10) {
                1000
            } else {
                100
            };
            let effect = if value <= 1 {
                "every connection serves one request: the pool never reuses a connection"
                    .to_string()
            } else {
                format!("one new connection per {value} requests: the ports run out at about {} requests per second to one backend address", thousands(470 * value))
            };
            (
                if value <= 1 {
                    format!("`keepalive_requests {raw}` makes nginx close every connection to upstream `{name}` after one request")
                } else {
                    format!("`keepalive_requests {raw}` makes nginx close each connection to upstream `{name}` after {value} requests")
                },
                effect,
                Some(default.to_string()),
                format!("raise it to at least {min}, or remove it for the default of {default}"),
            )
        }
        "keepalive_timeout" => {
            let threshold = ctx.settings.number(RULE, "threshold");
            if value >= threshold {
                return None;
            }
            let effect = if value == 0 {
                "connections are closed as soon as they are idle: the pool never reuses a connection".to_string()
            } else {
                format!(
                    "after every pause in traffic longer than {}, requests find the pool empty and open new connections",
                    format_ms(value)
                )
            };
            (
                if value == 0 {
                    format!("`keepalive_timeout {raw}` makes nginx close idle connections to upstream `{name}` at once")
                } else {
                    format!("`keepalive_timeout {raw}` makes nginx close connections to upstream `{name}` idle for {}", format_ms(value))
                },
                effect,
                None,
                format!("raise it to at least {}, and keep it below the backend's own idle timeout (gunicorn 2s, Node.js 5s; nginx's default is 60s) so that nginx, not the backend, closes idle connections", format_ms(threshold)),
            )
        }
        _ => {
            let threshold = ctx.settings.number(RULE, "time_threshold");
            if value >= threshold {
                return None;
            }
            let effect = if value == 0 {
                "a connection is reused only within the millisecond it was opened: the pool barely reuses anything".to_string()
            } else {
                format!(
                    "every pooled connection is replaced every {}; {}",
                    format_ms(value),
                    if value < 60_000 {
                        "shorter than TIME_WAIT itself, so a busy pool leaves more sockets in TIME_WAIT than it keeps open"
                    } else {
                        "each replacement leaves a TIME_WAIT socket"
                    }
                )
            };
            (
                if value == 0 {
                    format!("`keepalive_time {raw}` makes nginx close each connection to upstream `{name}` after its first request or two")
                } else {
                    format!("`keepalive_time {raw}` makes nginx close each connection to upstream `{name}` once it has lived {}", format_ms(value))
                },
                effect,
                Some("1h".to_string()),
                format!(
                    "raise it to at least {}, or remove it for the default of 1h",
                    format_ms(threshold)
                ),
            )
        }
    };
    let mut d = Diagnostic::new(RULE, e.arg_location(0), message)
        .primary_label("nginx closes the connection when this limit is reached")
        .note(closer_note(Closer::Nginx).unwrap_or_default())
        .note(effect)
        .help(help);
    if directive == "keepalive_requests" {
        d = d.note(version_note(
            ctx.settings,
            "the default is 100 before 1.19.10, 1000 from 1.19.10",
        ));
    }
    if let Some(replacement) = replacement {
        d = d.fix(Fix {
            description: format!("replace `{raw}` with `{replacement}`"),
            edits: vec![Edit {
                location: e.arg_location(0),
                replacement,
            }],
            // A low limit is sometimes deliberate (rebalancing, a leaky backend).
            safe: false,
        });
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::super::upstream::test_support::lint;
    use crate::settings::{NginxVersion, OptionValue, Settings};

    const CONF: &str = "upstream app { server 10.0.0.5:8080; keepalive 8; keepalive_requests 50; keepalive_timeout 2s; keepalive_time 10m; }";

    #[test]
    fn options_move_the_thresholds() {
        let mut s = Settings::default();
        let found = lint(CONF, &s);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("after 50 requests"));
        s.options.insert(
            ("upstream-keepalive-limits-low", "min".into()),
            OptionValue::Integer(10),
        );
        s.options.insert(
            ("upstream-keepalive-limits-low", "threshold".into()),
            OptionValue::Time(5000),
        );
        s.options.insert(
            ("upstream-keepalive-limits-low", "time_threshold".into()),
            OptionValue::Time(3_600_000),
        );
        let found: Vec<String> = lint(CONF, &s).into_iter().map(|d| d.message).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("idle for 2s") && found[1].contains("lived 10m"),
            "{found:?}"
        );
    }

    #[test]
    fn directives_the_version_lacks() {
        let s = Settings {
            nginx_version: NginxVersion(1, 18, 0),
            nginx_version_configured: true,
            ..Settings::default()
        };
        let found = lint(CONF, &s);
        assert!(
            found.iter().any(|d| d.message
                == "`keepalive_time` in an upstream block needs nginx 1.19.10, newer than 1.18.0"),
            "{found:?}"
        );
        assert!(found
            .iter()
            .any(|d| d.notes.iter().any(|n| n.contains("100 before 1.19.10"))));
        let s = Settings {
            nginx_version: NginxVersion(1, 14, 2),
            ..Settings::default()
        };
        let found = lint(CONF, &s);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().all(|d| d.message.contains("needs nginx")));
        assert!(
            found[0].notes[0].contains("nginx 1.14.2 assumed (set `--nginx-version`"),
            "{:?}",
            found[0].notes
        );
    }
}
