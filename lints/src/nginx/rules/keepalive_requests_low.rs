use crate::diagnostic::{Diagnostic, Edit, Fix, Location};
use crate::nginx::effective::{self, Setting};
use crate::nginx::model::{ContextKind, NodeId};
use crate::nginx::rules::client_keepalive::{self as ka, TIME_WAIT_SECONDS, V1_19_10};
use crate::nginx::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags a `keepalive_requests` under the `min` option (1000 by default) where it takes
    /// effect, in `http`, `server` or `location` blocks (a value every server and location below
    /// overrides is reported only as information). Also flags nginx's own default when it is
    /// under `min`: before nginx 1.19.10 the default was 100, so a configuration that never sets
    /// `keepalive_requests` and runs on an older nginx is reported once, at the `http` block (or
    /// the first server of a fragment). The assumed version is set with `--nginx-version` or
    /// `nginx_version` in waitlint.toml. `0` is `keepalive-disabled` (NGX001); invalid values
    /// are `invalid-keepalive-value` (NGX011); `keepalive_requests` in an `upstream` block is
    /// about nginx's connections to backends and is not checked here.
    ///
    /// ## Why is this bad?
    /// After that many requests on one connection nginx answers with `Connection: close` and
    /// closes the connection itself (for HTTP/2, since 1.19.7, it sends GOAWAY and closes). The
    /// side that closes first keeps the socket in TIME_WAIT for 60 seconds on Linux, so busy
    /// clients cost the server one TIME_WAIT socket per `keepalive_requests` requests: at
    /// 10 000 requests per second and a cap of 100 the server closes 100 connections a second
    /// and about 6 000 sockets sit in TIME_WAIT at any time (100/s × 60 s), with 100 new TCP (and
    /// TLS) handshakes a second. With 1000 it is 10 a second and about 600. A TIME_WAIT socket
    /// holds no file descriptor but a few hundred bytes of kernel memory and a slot in the
    /// connection table.
    ///
    /// The fix puts 1000 (or `min` when it is larger): nginx's default since 1.19.10, raised
    /// from 100 because long-lived connections with many requests are normal (HTTP/2 multiplexes
    /// a whole page over one).
    ///
    /// Measured (`docs/evidence.md`, nginx 1.22.1 on loopback): 100 back-to-back requests under
    /// `keepalive_requests 10` took 10 connections, each closed by nginx (10 TIME_WAIT sockets on
    /// nginx); under 1000, one connection and none.
    ///
    /// ## Example
    /// ```nginx
    /// http {
    ///     keepalive_requests 100;
    ///     server {
    ///         listen 80;
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// http {
    ///     keepalive_requests 1000;
    ///     server {
    ///         listen 80;
    ///     }
    /// }
    /// ```
    pub KEEPALIVE_REQUESTS_LOW {
        code: "NGX003",
        name: "keepalive-requests-low",
        family: Nginx,
        severity: Warning,
        summary: "keepalive_requests so low that nginx closes busy client connections first and holds their TIME_WAIT",
        fixable: true,
        options: [
            { name: "min", kind: Integer, default: "1000", doc: "smallest keepalive_requests that is not flagged" },
        ],
    }
}

/// nginx's default before 1.19.10.
const OLD_DEFAULT: i64 = 100;
/// The request rate the notes put numbers on.
const RATE: f64 = 10_000.0;

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let min = ctx.settings.number(&KEEPALIVE_REQUESTS_LOW, "min");
    let replacement = min.max(1000);
    for setting in effective::settings(&ctx.model, "keepalive_requests") {
        let Some(n) = ka::keepalive_requests(setting.entry.directive) else {
            continue;
        };
        if n == 0 || n >= min {
            continue;
        }
        if setting.is_dead() {
            out.push(effective::dead(
                &KEEPALIVE_REQUESTS_LOW,
                &ctx.model,
                &setting,
            ));
            continue;
        }
        out.push(report(ctx, &setting, n, replacement));
    }
    if ctx.settings.nginx_version < V1_19_10 && OLD_DEFAULT < min {
        let users = effective::default_users(&ctx.model, "keepalive_requests");
        if let Some(d) = report_default(ctx, &users, replacement) {
            out.push(d);
        }
    }
}

/// What a cap of `n` costs at [`RATE`], for the notes.
fn cost(n: i64) -> String {
    // Rounded as shown, so that the product in the note adds up.
    let exact = RATE / n as f64;
    let closes = if exact >= 9.95 {
        exact.round()
    } else {
        (exact * 10.0).round() / 10.0
    };
    let waiting = closes * TIME_WAIT_SECONDS;
    let overflow = if waiting > 100_000.0 {
        ", likely more than `net.ipv4.tcp_max_tw_buckets` (sized from memory at boot; past it the kernel destroys TIME_WAIT sockets early and logs `time wait bucket table overflow`)"
    } else {
        ""
    };
    format!(
        "at 10 000 requests/s a cap of {n} closes {} connections a second, so about {} sockets sit in TIME_WAIT on the server at any time ({}/s × 60 s){overflow}, with as many new TCP (and TLS) handshakes a second",
        ka::count(closes),
        ka::count(waiting),
        ka::count(closes)
    )
}

fn report(ctx: &Context<'_>, setting: &Setting<'_>, n: i64, replacement: i64) -> Diagnostic {
    let arg = &setting.entry.directive.args[0];
    let at = Location::new(setting.entry.file, arg.span);
    let diag = Diagnostic::new(
        &KEEPALIVE_REQUESTS_LOW,
        at,
        format!(
            "`keepalive_requests {n}` makes nginx close each client connection after {n} request{} {}",
            if n == 1 { "" } else { "s" },
            ctx.model.scope_phrase(setting.node)
        ),
    )
    .primary_label(format!("nginx closes the connection after request {n}"))
    .note(format!(
        "nginx closes first, so the TIME_WAIT (60 s) is the server's: {}; with {replacement} it would be {} a second and about {}",
        cost(n),
        ka::count(RATE / replacement as f64),
        ka::count(RATE / replacement as f64 * TIME_WAIT_SECONDS)
    ))
    .help(format!(
        "raise it: `keepalive_requests {replacement};` (nginx's default since 1.19.10 is 1000)"
    ))
    .fix(Fix {
        description: format!("replace `{}` with `{replacement}`", arg.text()),
        edits: vec![Edit {
            location: at,
            replacement: replacement.to_string(),
        }],
        safe: true,
    });
    effective::label_inheritors(diag, &ctx.model, setting, &format!("the cap of {n}"))
}

/// The implicit default of nginx before 1.19.10, reported once: at the `http` block, or at the
/// first server (or location) of a fragment that uses it.
fn report_default(ctx: &Context<'_>, users: &[NodeId], replacement: i64) -> Option<Diagnostic> {
    if users.is_empty() {
        return None;
    }
    let model = &ctx.model;
    let http = model
        .nodes_of(ContextKind::Http)
        .find(|&h| model.nodes[h].opener.is_some());
    let mut servers: Vec<NodeId> = users
        .iter()
        .map(|&u| model.server_of(u).unwrap_or(u))
        .collect();
    servers.dedup();
    let anchor = match http {
        Some(h) => model.nodes[h].opener?,
        None => servers.iter().find_map(|&s| model.nodes[s].opener)?,
    };
    let version = ctx.settings.nginx_version;
    let (message, label) = if http.is_some() {
        (
            format!("keepalive_requests is not set, so nginx {version} closes each client connection after 100 requests (its default before 1.19.10)"),
            "no keepalive_requests here or below: nginx's default of 100 applies",
        )
    } else {
        // A fragment: the http block that includes it may set one.
        (
            format!("keepalive_requests is not set in this file, so unless the http block that includes it sets one, nginx {version} closes each client connection after 100 requests (its default before 1.19.10)"),
            "no keepalive_requests in this server or this file",
        )
    };
    let mut diag = Diagnostic::new(
        &KEEPALIVE_REQUESTS_LOW,
        Location::new(anchor.file, anchor.directive.name.span),
        message,
    )
    .primary_label(label);
    for &s in servers.iter().take(5) {
        match model.opener_location(s) {
            Some(at) if at.span != anchor.head().span || at.file != anchor.file => {
                diag = diag.label(at, "this server uses the default of 100");
            }
            _ => {}
        }
    }
    // An include that could not be followed may set it.
    let within = |e: &nginx_parser::IncludeError| {
        http.is_none() || e.file != anchor.file || anchor.directive.span.contains(e.span.start)
    };
    for e in ctx.tree.errors.iter().filter(|e| within(e)).take(3) {
        diag = diag.label(
            Location::new(e.file, e.span),
            "could not be followed: a keepalive_requests in it would apply instead",
        );
    }
    diag = diag.note(format!(
        "nginx closes first, so the TIME_WAIT (60 s) is the server's: {}",
        cost(OLD_DEFAULT)
    ));
    if let Some(note) = ka::version_note(ctx.settings) {
        diag = diag.note(note);
    }
    diag = diag.help(format!(
        "set `keepalive_requests {replacement};` in the http block{} (the default from nginx 1.19.10 on)",
        if http.is_some() { "" } else { " that includes this file" }
    ));
    if http.is_some() {
        if let Some(fix) = insert_fix(ctx, anchor, replacement) {
            diag = diag.fix(fix);
        }
    }
    Some(diag)
}

/// Inserts `keepalive_requests N;` as the first line of the http block, indented like the line
/// it goes before.
fn insert_fix(ctx: &Context<'_>, http: crate::nginx::Entry<'_>, n: i64) -> Option<Fix> {
    let block = http.directive.block.as_ref()?;
    let first = block.directives.first()?;
    let text = &ctx.tree.files[http.file].text;
    let start = first.span.start as usize;
    let line_start = text[..start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let indent = &text[line_start..start];
    if !indent.iter().all(|&b| b == b' ' || b == b'\t') {
        return None;
    }
    Some(Fix {
        description: format!("add `keepalive_requests {n};` to the http block"),
        edits: vec![Edit {
            location: Location::new(http.file, nginx_parser::Span::empty(start)),
            replacement: format!(
                "keepalive_requests {n};\n{}",
                String::from_utf8_lossy(indent)
            ),
        }],
        safe: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{NginxVersion, OptionValue, Settings};

    const BARE: &str = "http {\n    server {\n        listen 80;\n    }\n}\n";

    #[test]
    fn the_old_default_is_reported_once_before_1_19_10() {
        let mut s = Settings::default();
        assert!(ka::run_on(BARE, &s, check).is_empty());
        s.nginx_version = NginxVersion(1, 18, 0);
        let found = ka::run_on(BARE, &s, check);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("nginx 1.18.0"),
            "{}",
            found[0].message
        );
        assert!(found[0].notes.iter().any(|n| n.contains("--nginx-version")));
        assert!(
            found[0].notes[0].contains("about 6 000 sockets"),
            "{:?}",
            found[0].notes
        );
        let fix = found[0].fix.as_ref().unwrap();
        assert_eq!(fix.edits[0].replacement, "keepalive_requests 1000;\n    ");
        s.nginx_version_configured = true;
        let found = ka::run_on(BARE, &s, check);
        assert!(!found[0].notes.iter().any(|n| n.contains("--nginx-version")));
        // Set somewhere that covers every server: nothing to say about the default.
        let set = "http { keepalive_requests 5000; server { listen 80; } }";
        assert!(ka::run_on(set, &s, check).is_empty());
        // A min at or under 100 accepts the old default.
        s.options.insert(
            (KEEPALIVE_REQUESTS_LOW.name, "min".into()),
            OptionValue::Integer(100),
        );
        assert!(ka::run_on(BARE, &s, check).is_empty());
    }

    #[test]
    fn a_fragment_reports_the_default_at_its_first_server() {
        let s = Settings {
            nginx_version: NginxVersion(1, 14, 2),
            ..Settings::default()
        };
        let conf = "server { listen 80; }\nserver { listen 81; keepalive_requests 500; }\nserver { listen 82; }\n";
        let found = ka::run_on(conf, &s, check);
        assert_eq!(found.len(), 2, "{found:?}");
        let default = found
            .iter()
            .find(|d| d.message.contains("is not set"))
            .unwrap();
        assert_eq!(default.secondary.len(), 1);
        assert!(default.fix.is_none());
    }

    #[test]
    fn numbers_follow_the_value() {
        let s = Settings::default();
        let found = ka::run_on("server { listen 80; keepalive_requests 50; }", &s, check);
        assert!(
            found[0].notes[0].contains("closes 200 connections a second, so about 12 000 sockets"),
            "{:?}",
            found[0].notes
        );
        for v in ["0", "-5", "1k", "1 2"] {
            let conf = format!("server {{ listen 80; keepalive_requests {v}; }}");
            assert!(ka::run_on(&conf, &s, check).is_empty(), "{v}");
        }
    }
}
