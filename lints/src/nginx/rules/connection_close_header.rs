use std::collections::BTreeMap;

use nginx_parser::{Directive, Span};

use crate::diagnostic::{Diagnostic, Edit, Fix, Location};
use crate::nginx::effective::{self, Setting};
use crate::nginx::model::{ContextKind, Model, NodeId};
use crate::nginx::rules::client_keepalive as ka;
use crate::nginx::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags a `Connection: close` response header added by hand: `add_header Connection close`
    /// (any case, quoted or not, with or without `always`) and headers-more's
    /// `more_set_headers "Connection: close"` (or `'Connection:close'`), in `http`, `server`,
    /// `location` and `if` blocks. `add_header` lines are inherited all or nothing, so an
    /// `http`-level one is reported with the servers that really send it; when every block below
    /// has `add_header` lines of its own it never applies and is reported only as information.
    /// `more_set_headers` lines add up from `http` down, so they apply everywhere below.
    /// `proxy_set_header Connection ...` is a request header toward a backend, not this.
    ///
    /// ## Why is this bad?
    /// The header does not make nginx close the connection. nginx still treats the connection as
    /// keep-alive and writes its own `Connection: keep-alive`, so the response carries both
    /// headers. An HTTP/1.1 client that honours `close` (RFC 9112 §9.6 requires it) closes the
    /// connection itself after the response: the client closes first, so the TIME_WAIT lands on
    /// the client, not on nginx (measured on nginx 1.22.1, see `docs/evidence.md`: 50 requests
    /// took 50 connections and left 0 TIME_WAIT sockets on the server, 50 on the client; the same
    /// with headers-more 0.34, which does not replace nginx's own Connection header). There each socket holds a local port for 60 seconds:
    /// with Linux's default port range (28 232 ports) a client that connects from one address
    /// to this server, as a proxy or load balancer does, can open only about 470 connections a
    /// second before it runs out, and every request pays a new TCP (and TLS) handshake. A client
    /// that ignores `close` keeps the connection open until nginx closes it after
    /// `keepalive_timeout`; that TIME_WAIT is the server's.
    ///
    /// Over HTTP/2 nginx sends the header too, and HTTP/2 forbids connection-specific header
    /// fields (RFC 9113 §8.2.2): strict clients reject the response (curl fails the stream with
    /// PROTOCOL_ERROR).
    ///
    /// ## Example
    /// ```nginx
    /// server {
    ///     listen 80;
    ///     location /api/ {
    ///         add_header Connection close;
    ///         proxy_pass http://127.0.0.1:8080;
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// server {
    ///     listen 80;
    ///     location /api/ {
    ///         proxy_pass http://127.0.0.1:8080;
    ///     }
    /// }
    /// ```
    pub CONNECTION_CLOSE_HEADER {
        code: "NGX006",
        name: "connection-close-header",
        family: Nginx,
        severity: Warning,
        summary: "a hand-added `Connection: close` header, which makes clients close every connection and hold the TIME_WAIT",
        fixable: true,
    }
}

/// Whether a header value lists the `close` option (`close`, `Close`, `keep-alive, close`).
fn says_close(value: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("close"))
}

/// `add_header Connection close [always]`.
fn is_add_header_close(d: &Directive) -> bool {
    match d.args.as_slice() {
        [name, value] => {
            name.value.eq_ignore_ascii_case(b"connection") && says_close(&value.text())
        }
        [name, value, always] => {
            always.is("always")
                && name.value.eq_ignore_ascii_case(b"connection")
                && says_close(&value.text())
        }
        _ => false,
    }
}

/// The arguments of a `more_set_headers` that set `Connection: close`. As headers-more reads
/// them, an argument starting with `-` is an option (`-s` and `-t` take the next argument as
/// their value), anything else a header.
fn more_set_close(d: &Directive) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < d.args.len() {
        let a = d.args[i].text();
        if a.starts_with('-') {
            i += if a == "-s" || a == "-t" { 2 } else { 1 };
            continue;
        }
        if let Some((name, value)) = a.split_once(':') {
            if name.trim().eq_ignore_ascii_case("connection") && says_close(value) {
                out.push(i);
            }
        }
        i += 1;
    }
    out
}

/// Where responses are produced: leaf servers and locations, and `if` blocks (whose
/// `add_header` lines apply when the condition holds).
fn contexts(model: &Model<'_>) -> Vec<NodeId> {
    let mut out = model.request_contexts();
    out.extend(model.nodes_of(ContextKind::If));
    out
}

/// Keeps the users where nginx keeps connections alive; false when keep-alive is off wherever
/// the header applies (nginx then sends `Connection: close` itself, and keepalive-disabled says
/// so).
fn keepalive_on(model: &Model<'_>, setting: &mut Setting<'_>) -> bool {
    let off = |node: NodeId| {
        let zero = |name: &str, read: fn(&Directive) -> Option<i64>| {
            model
                .effective(node, name)
                .is_some_and(|(_, e)| read(e.directive) == Some(0))
        };
        zero("keepalive_timeout", ka::keepalive_timeout_ms)
            || zero("keepalive_requests", ka::keepalive_requests)
            || zero("keepalive_time", ka::keepalive_time_ms)
    };
    if setting.users.is_empty() {
        return setting.has_contexts_below || !off(setting.node);
    }
    setting.users.retain(|&u| !off(u));
    !setting.users.is_empty()
}

fn is_below(model: &Model<'_>, mut node: NodeId, ancestor: NodeId) -> bool {
    loop {
        if node == ancestor {
            return true;
        }
        match model.nodes[node].parent {
            Some(p) => node = p,
            None => return false,
        }
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let model = &ctx.model;
    let contexts = contexts(model);
    // add_header: the lines of the nearest level that has any apply, all or nothing.
    let mut found: BTreeMap<(NodeId, usize, u32), Setting<'_>> = BTreeMap::new();
    for (node, entry) in ka::occurrences(model, "add_header") {
        if is_add_header_close(entry.directive) {
            let setting = Setting {
                entry,
                node,
                users: Vec::new(),
                has_contexts_below: contexts.iter().any(|&c| is_below(model, c, node)),
            };
            found.insert((node, entry.file, entry.directive.span.start), setting);
        }
    }
    for &c in &contexts {
        let Some(level) = model
            .inheritance_chain(c)
            .into_iter()
            .find(|&n| model.local(n, "add_header").is_some())
        else {
            continue;
        };
        for s in found.values_mut().filter(|s| s.node == level) {
            s.users.push(c);
        }
    }
    for setting in found.values_mut() {
        if !keepalive_on(model, setting) {
            continue;
        }
        if setting.is_dead() {
            out.push(effective::dead(&CONNECTION_CLOSE_HEADER, model, setting));
        } else {
            out.push(report(ctx, setting, 1));
        }
    }
    // more_set_headers: inherited additively, so it applies in every context below.
    for (node, entry) in ka::occurrences(model, "more_set_headers") {
        for index in more_set_close(entry.directive) {
            let setting = Setting {
                entry,
                node,
                users: contexts
                    .iter()
                    .copied()
                    .filter(|&c| is_below(model, c, node))
                    .collect(),
                has_contexts_below: false,
            };
            let mut setting = setting;
            if keepalive_on(model, &mut setting) {
                out.push(report(ctx, &setting, index));
            }
        }
    }
}

fn report(ctx: &Context<'_>, setting: &Setting<'_>, index: usize) -> Diagnostic {
    let d = setting.entry.directive;
    let file = setting.entry.file;
    let add_header = d.is("add_header");
    let word = &d.args[index];
    let written = if add_header {
        d.head_text()
    } else {
        let raw = word.raw(&ctx.tree.files[file].text);
        format!("more_set_headers {}", String::from_utf8_lossy(raw))
    };
    let mut diag = Diagnostic::new(
        &CONNECTION_CLOSE_HEADER,
        Location::new(file, word.span),
        format!(
            "`{written}` sends `Connection: close` beside nginx's own `Connection: keep-alive` {}",
            ctx.model.scope_phrase(setting.node)
        ),
    )
    .primary_label("clients that honour this close the connection after each response that carries it")
    .note(if add_header {
        "nginx does not close: it keeps the connection alive, so the client closes first and the TIME_WAIT lands on the client (measured on nginx 1.22.1: 0 TIME_WAIT sockets on the server, 50 on the client, for 50 requests)"
    } else {
        "headers-more does not replace nginx's own Connection header and nginx does not close: the client closes first and the TIME_WAIT lands on the client (measured with headers-more 0.34 on nginx 1.22.1: 0 TIME_WAIT sockets on the server)"
    })
    .note("each client TIME_WAIT socket holds a local port for 60 s: a client connecting from one address (a proxy, a load balancer) can open only about 470 connections a second with Linux's default 28 232 ports, and every request pays a new TCP (and TLS) handshake; over HTTP/2 the header is forbidden (RFC 9113 §8.2.2) and strict clients such as curl reject the response")
    .help("remove it: nginx writes the Connection header itself")
    .help("if connections here must not be reused, `keepalive_timeout 0;` says so consistently, and then nginx closes first and holds the TIME_WAIT");
    diag = diag.fix(removal(ctx, setting, index));
    if add_header {
        diag = label_droppers(diag, &ctx.model, setting);
    }
    effective::label_inheritors(diag, &ctx.model, setting, "this header")
}

/// Labels the servers below an http-level `add_header` that do not send it because add_header
/// lines of their own (in the server or its locations) replace the inherited ones.
fn label_droppers(mut diag: Diagnostic, model: &Model<'_>, setting: &Setting<'_>) -> Diagnostic {
    if model.nodes[setting.node].kind != ContextKind::Http {
        return diag;
    }
    let sends = |server: NodeId| {
        setting
            .users
            .iter()
            .any(|&u| model.server_of(u) == Some(server))
    };
    let own_lines = |server: NodeId| {
        (0..model.nodes.len())
            .any(|n| is_below(model, n, server) && model.local(n, "add_header").is_some())
    };
    let droppers = model
        .nodes_of(ContextKind::Server)
        .filter(|&s| is_below(model, s, setting.node) && !sends(s) && own_lines(s));
    for s in droppers.take(3) {
        if let Some(at) = model.opener_location(s) {
            diag = diag.label(
                at,
                "its own add_header lines replace the inherited ones: this server does not send it",
            );
        }
    }
    diag
}

/// Removes the header: the whole directive, or only the argument when a `more_set_headers`
/// sets other headers too.
fn removal(ctx: &Context<'_>, setting: &Setting<'_>, index: usize) -> Fix {
    let model = &ctx.model;
    let d = setting.entry.directive;
    let file = setting.entry.file;
    let text = &ctx.tree.files[file].text;
    let others = d
        .args
        .iter()
        .enumerate()
        .any(|(i, a)| i != index && a.text().contains(':'));
    if d.is("more_set_headers") && others && index > 0 {
        let span = Span {
            start: d.args[index - 1].span.end,
            end: d.args[index].span.end,
        };
        return Fix {
            description: "remove the `Connection: close` argument".to_string(),
            edits: vec![Edit {
                location: Location::new(file, span),
                replacement: String::new(),
            }],
            safe: true,
        };
    }
    // The last add_header of a block: removing it makes the block inherit the add_header lines
    // of the block above, a change beyond this header.
    let inherits_instead = d.is("add_header")
        && model.local_all(setting.node, "add_header").len() == 1
        && model
            .inheritance_chain(setting.node)
            .into_iter()
            .skip(1)
            .any(|n| model.local(n, "add_header").is_some());
    Fix {
        description: if inherits_instead {
            "remove the directive (this block then inherits the add_header lines of the block above)".to_string()
        } else {
            "remove the directive".to_string()
        },
        edits: vec![Edit {
            location: Location::new(file, ka::removal_span(text, d.span)),
            replacement: String::new(),
        }],
        safe: !inherits_instead,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[test]
    fn spellings() {
        let s = Settings::default();
        for fires in [
            "add_header Connection close",
            "add_header connection \"Close\" always",
            "add_header CONNECTION 'keep-alive, close'",
            "more_set_headers \"Connection: close\"",
            "more_set_headers -s 200 'Connection:close' 'X-A: b'",
            "more_set_headers -t 'text/html' -s '200 204' 'Connection: Close'",
        ] {
            let conf = format!("server {{ listen 80; {fires}; }}");
            assert_eq!(ka::run_on(&conf, &s, check).len(), 1, "{fires}");
        }
        for quiet in [
            "add_header Connection keep-alive",
            "add_header X-Connection close",
            "add_header Connection $connection_header",
            "proxy_set_header Connection close",
            "more_set_headers 'X-Note: Connection: close'",
            "more_clear_headers Connection",
            "more_set_headers -t 'Connection: close' 'X-A: b'",
        ] {
            let conf = format!("server {{ listen 80; {quiet}; }}");
            assert!(ka::run_on(&conf, &s, check).is_empty(), "{quiet}");
        }
    }

    #[test]
    fn silent_where_nginx_closes_anyway() {
        let s = Settings::default();
        let conf = "server { listen 80; keepalive_timeout 0; add_header Connection close; }";
        assert!(ka::run_on(conf, &s, check).is_empty());
        let conf = "http { add_header Connection close; server { listen 80; keepalive_requests 0; } server { listen 81; } }";
        let found = ka::run_on(conf, &s, check);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].secondary.len(), 1);
    }

    #[test]
    fn removing_the_last_add_header_of_a_block_is_not_safe() {
        let s = Settings::default();
        let conf =
            "server { listen 80; add_header X-A b; location / { add_header Connection close; } }";
        let found = ka::run_on(conf, &s, check);
        assert!(!found[0].fix.as_ref().unwrap().safe);
        let conf =
            "server { listen 80; location / { add_header X-A b; add_header Connection close; } }";
        let found = ka::run_on(conf, &s, check);
        assert!(found[0].fix.as_ref().unwrap().safe);
    }
}
