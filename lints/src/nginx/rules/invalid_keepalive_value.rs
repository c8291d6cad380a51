use nginx_parser::Word;

use crate::diagnostic::{Diagnostic, Location};
use crate::nginx::rules::client_keepalive::{self as ka, V1_19_10};
use crate::nginx::time::{parse_time, Resolution};
use crate::nginx::{Context, Entry, NodeId};

crate::declare_rule! {
    /// ## What it does
    /// Checks the arguments of the client keep-alive directives in `http`, `server`, `location`
    /// and `if` blocks as nginx does when it reads the configuration:
    /// - `keepalive_timeout` takes 1 or 2 arguments: the idle timeout, a time with millisecond
    ///   resolution (`M` and `y` are rejected), then the `Keep-Alive: timeout=` header value, a
    ///   time in whole seconds (`ms` is rejected);
    /// - `keepalive_requests` takes one non-negative integer;
    /// - `keepalive_time` takes one time with millisecond resolution (on nginx 1.19.10 and later;
    ///   before, the directive does not exist and `keepalive-time-short` says so);
    /// - `keepalive_disable` takes one or more of `none`, `msie6`, `safari`;
    /// - `keepalive_timeout`, `keepalive_requests` and `keepalive_time` may be set once per block.
    ///
    /// Times are digits with units `ms s m h d w M y`, largest first, each at most once; a bare
    /// number is seconds; no decimals, no variables. The `upstream` directives of the same names
    /// are not checked here.
    ///
    /// ## Why is this bad?
    /// nginx refuses the whole configuration: `nginx -t` fails with `"keepalive_timeout"
    /// directive invalid value` (or `invalid number`, `invalid number of arguments`, `is
    /// duplicate`), a fresh start fails and a reload is rejected, so the old configuration keeps
    /// running. The keep-alive setting you meant, and with it who closes connections first and
    /// holds their TIME_WAIT, never takes effect. The other keep-alive rules skip such values:
    /// this rule is where they are reported.
    ///
    /// Checked with `nginx -t` on nginx 1.22.1 (`docs/evidence.md`): each invalid value in this
    /// rule's test fixture makes it fail, and the unusual spellings the rule accepts load.
    ///
    /// ## Example
    /// ```nginx
    /// http {
    ///     keepalive_timeout 1.5m 60s;
    ///     keepalive_requests 1k;
    ///     server {
    ///         listen 80;
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// http {
    ///     keepalive_timeout 90s 60s;
    ///     keepalive_requests 1000;
    ///     server {
    ///         listen 80;
    ///     }
    /// }
    /// ```
    pub INVALID_KEEPALIVE_VALUE {
        code: "NGX011",
        name: "invalid-keepalive-value",
        family: Nginx,
        severity: Error,
        summary: "a client keep-alive directive with arguments nginx rejects, so the configuration does not load",
        fixable: false,
    }
}

/// Directive, (fewest, most) arguments, and how many arguments nginx wants, in words.
const DIRECTIVES: &[(&str, usize, usize, &str)] = &[
    (
        "keepalive_timeout",
        1,
        2,
        "1 or 2: the idle timeout, then optionally the `Keep-Alive: timeout=` header value",
    ),
    ("keepalive_requests", 1, 1, "exactly 1"),
    ("keepalive_time", 1, 1, "exactly 1"),
    ("keepalive_disable", 1, usize::MAX, "at least 1"),
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for &(name, fewest, most, wanted) in DIRECTIVES {
        if name == "keepalive_time" && ctx.settings.nginx_version < V1_19_10 {
            continue;
        }
        let mut seen: Vec<(NodeId, Entry<'_>)> = Vec::new();
        for (node, entry) in ka::occurrences(&ctx.model, name) {
            let d = entry.directive;
            let first = seen.iter().find(|(n, _)| *n == node).map(|(_, e)| *e);
            seen.push((node, entry));
            if !(fewest..=most).contains(&d.args.len()) {
                out.push(
                    rejected(
                        entry,
                        entry.head(),
                        "invalid number of arguments",
                        &format!("invalid number of arguments in \"{name}\" directive"),
                    )
                    .primary_label(format!("{} arguments; nginx wants {wanted}", d.args.len())),
                );
                continue;
            }
            if let Some(d) = bad_value(entry) {
                out.push(d);
                continue;
            }
            if let (Some(first), false) = (first, name == "keepalive_disable") {
                out.push(
                    rejected(
                        entry,
                        entry.head(),
                        "directive is duplicate",
                        &format!("\"{name}\" directive is duplicate"),
                    )
                    .primary_label("set a second time in the same block")
                    .label(first.head(), "first set here")
                    .help("keep one of them"),
                );
            }
        }
    }
}

/// The diagnostic for a directive nginx refuses: `why` is nginx's reason, `says` its line.
fn rejected(entry: Entry<'_>, at: Location, why: &str, says: &str) -> Diagnostic {
    Diagnostic::new(
        &INVALID_KEEPALIVE_VALUE,
        at,
        format!("nginx rejects `{}`: {why}", entry.directive.head_text()),
    )
    .note(format!(
        "`nginx -t` fails with `{says}`: nginx does not start with this configuration and a reload keeps the old one, so the keep-alive setting meant here never applies"
    ))
}

/// The first argument nginx rejects, as a diagnostic.
fn bad_value(entry: Entry<'_>) -> Option<Diagnostic> {
    let d = entry.directive;
    let name = d.name.text();
    let loc = |w: &Word| Location::new(entry.file, w.span);
    if d.is("keepalive_disable") {
        let w = d.args.iter().find(|w| ka::disable_value(w).is_none())?;
        return Some(
            rejected(
                entry,
                loc(w),
                &format!("invalid value \"{}\"", w.text()),
                &format!("invalid value \"{}\"", w.text()),
            )
            .primary_label("not one of `none`, `msie6`, `safari`")
            .help("the values are `none`, `msie6` (nginx's default) and `safari`"),
        );
    }
    if d.is("keepalive_requests") {
        let w = &d.args[0];
        ka::parse_count(&w.value).is_none().then_some(())?;
        return Some(
            rejected(
                entry,
                loc(w),
                "invalid number",
                &format!("\"{name}\" directive invalid number"),
            )
            .primary_label("not a whole number: digits only, no sign, no unit")
            .help("write a count such as `1000`"),
        );
    }
    for (i, w) in d.args.iter().enumerate() {
        let resolution = if i == 0 {
            Resolution::Milliseconds
        } else {
            Resolution::Seconds
        };
        if parse_time(&w.value, resolution).is_none() {
            return Some(
                rejected(entry, loc(w), "invalid value", &format!("\"{name}\" directive invalid value"))
                    .primary_label(time_problem(&w.value, resolution))
                    .help(match resolution {
                        Resolution::Milliseconds => "write a time with units `ms s m h d w`, largest first: `75s`, `1m30s`, `500ms`",
                        Resolution::Seconds => "write whole seconds, with units `s m h d w M y` if any: `60`, `1m`",
                    }),
            );
        }
    }
    None
}

/// Why `ngx_parse_time` refuses a value, as far as it can be said in a few words.
fn time_problem(value: &[u8], resolution: Resolution) -> &'static str {
    let has = |b: u8| value.contains(&b);
    if has(b'$') {
        "variables are not accepted here"
    } else if has(b'.') || has(b',') {
        "not a time: no decimals"
    } else if resolution == Resolution::Milliseconds && (has(b'M') || has(b'y')) {
        "`M` (month) and `y` (year) are not accepted: this time is kept in milliseconds"
    } else if resolution == Resolution::Seconds && value.windows(2).any(|w| w == b"ms") {
        "`ms` is not accepted: this argument is whole seconds"
    } else {
        "not a time nginx reads: units largest first, each once"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::rules::client_keepalive::run_on;
    use crate::settings::{NginxVersion, Settings};

    fn messages(conf: &str, s: &Settings) -> Vec<String> {
        run_on(conf, s, check)
            .into_iter()
            .map(|d| d.message)
            .collect()
    }

    #[test]
    fn what_nginx_rejects() {
        let s = Settings::default();
        let cases = [
            ("keepalive_timeout 1M", "invalid value"),
            ("keepalive_timeout 5 500ms", "invalid value"),
            ("keepalive_timeout 5 5 5", "invalid number of arguments"),
            ("keepalive_timeout", "invalid number of arguments"),
            ("keepalive_requests -1", "invalid number"),
            ("keepalive_requests 1 2", "invalid number of arguments"),
            ("keepalive_time 1y", "invalid value"),
            ("keepalive_disable chrome", "invalid value \"chrome\""),
            (
                "keepalive_timeout 5; keepalive_timeout 6",
                "directive is duplicate",
            ),
        ];
        for (conf, want) in cases {
            let m = messages(&format!("http {{ {conf}; }}"), &s);
            assert_eq!(m.len(), 1, "{conf}: {m:?}");
            assert!(m[0].ends_with(want), "{conf}: {m:?}");
        }
        for fine in [
            "keepalive_timeout 5 1M",
            "keepalive_timeout 1h30m 60",
            "keepalive_disable Safari msie6 none",
            "keepalive_disable msie6; keepalive_disable safari",
            "keepalive_requests 0",
        ] {
            assert!(
                messages(&format!("http {{ {fine}; }}"), &s).is_empty(),
                "{fine}"
            );
        }
        // upstream keep-alive directives are another matter.
        assert!(messages(
            "http { upstream u { server a; keepalive_timeout 1 2; } }",
            &s
        )
        .is_empty());
    }

    #[test]
    fn keepalive_time_is_left_alone_before_it_exists() {
        let s = Settings {
            nginx_version: NginxVersion(1, 18, 0),
            ..Settings::default()
        };
        assert!(messages("http { keepalive_time 1y; }", &s).is_empty());
    }
}
