use std::collections::BTreeMap;

use super::upstream::{
    closer, closer_label, closer_note, handshake_note, pool, proxy_requests, unix_only,
    version_note, Closer, Pool, FRAGMENT_NOTE, KEEPALIVE_DEFAULTS,
};
use crate::diagnostic::{Diagnostic, Fix, Location};
use crate::nginx::model::{insert_after, Entry, NodeId, PassTarget, TopLevel};
use crate::nginx::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags requests that nginx hands to a backend over connections it cannot keep: a
    /// `proxy_pass`, `grpc_pass` or `fastcgi_pass` to an `upstream` block without `keepalive`
    /// (upstream keep-alive is off by default before nginx 1.29.7; the rule is silent from 1.29.7,
    /// where every upstream block keeps `keepalive 32 local` unless told `keepalive 0`), and one
    /// to an address (`http://127.0.0.1:8080`, `127.0.0.1:9000`, a host name with no upstream
    /// block of that name), which nginx never keeps alive, in any version.
    ///
    /// `keepalive 0` is reported too: from 1.29.7 it switches the default pool off, and before
    /// 1.29.7 nginx rejects it (`invalid value`), so the configuration does not load (reported
    /// as an error).
    ///
    /// Silent for unix-domain sockets (no TCP, no TIME_WAIT), for addresses built from variables
    /// (`http://$backend`: known only per request), for `uwsgi_pass` and `scgi_pass` (those
    /// protocols have no keep-alive), and for `stream {}` upstreams (plain TCP proxying: one
    /// backend connection per client connection, nothing to pool).
    ///
    /// ## Why is this bad?
    /// Toward its backends nginx is the client. Without a pool of idle connections it opens a
    /// new TCP connection for every request and drops it after the response. Which side closes
    /// first is the side that keeps the connection in TIME_WAIT (60 s on Linux):
    ///
    /// - With nginx's proxy defaults before 1.29.7 (`proxy_http_version 1.0`, `Connection:
    ///   close`) the backend closes after its response: TIME_WAIT piles up on the backend, one
    ///   socket per request, costing it memory and `net.ipv4.tcp_max_tw_buckets` slots.
    /// - With `proxy_http_version 1.1` and `proxy_set_header Connection ""`, or with gRPC, the
    ///   backend would keep the connection, so nginx closes it: TIME_WAIT lands on nginx, each
    ///   socket holding an ephemeral port toward that backend ip:port for 60 s. The default
    ///   port range 32768–60999 has 28 232 ports: about 470 new connections per second to one
    ///   backend address, after which `connect()` fails with `EADDRNOTAVAIL` and clients get 502.
    /// - FastCGI without `fastcgi_keep_conn on`: nginx does not set `FCGI_KEEP_CONN`, and the
    ///   FastCGI specification has the application (php-fpm) close after its response.
    ///
    /// Measured with nginx 1.22.1 (loopback, 50 requests; the lab's experiment in
    /// `docs/evidence.md`): the backend accepted 50 connections and held 50 TIME_WAIT sockets
    /// with the defaults; with HTTP/1.1 and no pool it accepted 50 and nginx held the 50
    /// TIME_WAIT sockets; with a pool it accepted one, and neither side held any.
    /// Either way every request also pays a TCP handshake (and a TLS one for `https://`).
    ///
    /// ## Example
    /// ```nginx
    /// upstream app {
    ///     server 10.0.0.5:8080;
    /// }
    /// server {
    ///     listen 80;
    ///     location / {
    ///         proxy_pass http://app;
    ///     }
    ///     location /static/ {
    ///         proxy_pass http://10.0.0.6:8080;
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```nginx
    /// upstream app {
    ///     server 10.0.0.5:8080;
    ///     keepalive 32;
    /// }
    /// upstream static {
    ///     server 10.0.0.6:8080;
    ///     keepalive 16;
    /// }
    /// server {
    ///     listen 80;
    ///     proxy_http_version 1.1;           # not needed from nginx 1.29.7
    ///     proxy_set_header Connection "";   # idem
    ///     location / {
    ///         proxy_pass http://app;
    ///     }
    ///     location /static/ {
    ///         proxy_pass http://static;
    ///     }
    /// }
    /// ```
    pub UPSTREAM_WITHOUT_KEEPALIVE {
        code: "NGX007",
        name: "upstream-without-keepalive",
        family: Nginx,
        severity: Info,
        summary: "requests go to a backend without a keep-alive pool, so every one opens and closes a TCP connection",
        fixable: true,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let model = &ctx.model;
    // Every unmatched name is a host name only when the whole configuration is in view.
    let complete = model.top_level == TopLevel::Main && ctx.tree.errors.is_empty();
    let mut by_upstream: BTreeMap<NodeId, Vec<(NodeId, Entry<'_>)>> = BTreeMap::new();
    for (node, pass) in model.keepalive_passes() {
        match PassTarget::of(pass.directive) {
            PassTarget::Name(name) => match model.upstream_named(&name) {
                Some(up) => by_upstream.entry(up).or_default().push((node, pass)),
                None if complete => out.push(address(
                    ctx,
                    node,
                    pass,
                    &name,
                    "a host name with no upstream block of that name",
                )),
                None => {}
            },
            // A port after an upstream block's name is a configuration error, not an address.
            PassTarget::Address(addr)
                if model
                    .upstream_named(addr.rsplit_once(':').map_or(&*addr, |(h, _)| h))
                    .is_some() => {}
            PassTarget::Address(addr) => out.push(address(
                ctx,
                node,
                pass,
                &addr,
                "an address, not an upstream block",
            )),
            _ => {}
        }
    }
    for (up, passes) in by_upstream {
        if unix_only(model, up) {
            continue;
        }
        let Some(opener) = model.nodes[up].opener else {
            continue;
        };
        let Some(name) = opener.directive.arg(0) else {
            continue;
        };
        let (mut d, zero) = match pool(model, ctx.settings, up) {
            Pool::Explicit(_) | Pool::Default => continue,
            Pool::Missing => (
                Diagnostic::new(&UPSTREAM_WITHOUT_KEEPALIVE, Location::new(opener.file, name.span), format!("upstream `{}` has no `keepalive`, so nginx opens a new connection for every request", name.text()))
                    .primary_label("no `keepalive` in this block")
                    .note(version_note(ctx.settings, "upstream blocks keep no idle connections unless `keepalive` is set; from 1.29.7 they keep 32 by default")),
                false,
            ),
            Pool::Zero(e) if ctx.settings.nginx_version < KEEPALIVE_DEFAULTS => {
                // Not a pool switched off but a configuration that does not load.
                let mut d = Diagnostic::new(&UPSTREAM_WITHOUT_KEEPALIVE, e.arg_location(0), format!("upstream `{}` sets `keepalive 0`, which nginx {} rejects", name.text(), ctx.settings.nginx_version))
                    .primary_label("`invalid value \"0\" in \"keepalive\" directive`: the configuration does not load")
                    .label(opener.head(), "in this upstream")
                    .note(version_note(ctx.settings, "`keepalive` takes a number of at least 1 before 1.29.7; from 1.29.7, `keepalive 0` switches off the pool kept by default"))
                    .help("remove it (no pool before 1.29.7), or keep a pool with `keepalive 32;`");
                d.severity = crate::diagnostic::Severity::Error;
                out.push(d);
                continue;
            }
            Pool::Zero(e) => (
                Diagnostic::new(&UPSTREAM_WITHOUT_KEEPALIVE, e.arg_location(0), format!("upstream `{}` sets `keepalive 0`, so nginx opens a new connection for every request", name.text()))
                    .primary_label("no idle connection is kept")
                    .label(opener.head(), "in this upstream")
                    .note(version_note(ctx.settings, "`keepalive 0` switches off the pool kept by default since 1.29.7")),
                true,
            ),
        };
        let mut closers: Vec<Closer> = Vec::new();
        for &(node, pass) in passes.iter().take(5) {
            let c = closer(ctx, node, pass);
            d = d.label(
                pass.head(),
                format!("requests pass here; {}", closer_label(c, pass)),
            );
            closers.push(c);
        }
        if passes.len() > 5 {
            d = d.note(format!(
                "{} more locations pass requests to it",
                passes.len() - 5
            ));
        }
        closers.sort();
        closers.dedup();
        for c in closers {
            if let Some(n) = closer_note(c) {
                d = d.note(n);
            }
        }
        if passes
            .iter()
            .any(|&(n, p)| p.directive.is("proxy_pass") && proxy_requests(ctx, n).outer)
        {
            d = d.note(FRAGMENT_NOTE);
        }
        let entries: Vec<Entry<'_>> = passes.iter().map(|&(_, p)| p).collect();
        d = d.note(handshake_note(&entries));
        out.push(finish(ctx, d, up, &passes, zero));
    }
}

/// Help and fix for an upstream block without a pool.
fn finish(
    ctx: &Context<'_>,
    mut d: Diagnostic,
    up: NodeId,
    passes: &[(NodeId, Entry<'_>)],
    zero: bool,
) -> Diagnostic {
    let mut also = Vec::new();
    if passes.iter().any(|&(n, p)| {
        p.directive.is("proxy_pass") && {
            let r = proxy_requests(ctx, n);
            r.http10.is_some() || r.close.is_some()
        }
    }) {
        also.push("`proxy_http_version 1.1;` and `proxy_set_header Connection \"\";` where it is proxied (before 1.29.7 nginx otherwise sends HTTP/1.0 with `Connection: close`, and the backend still closes every connection)");
    }
    if passes
        .iter()
        .any(|&(n, p)| p.directive.is("fastcgi_pass") && closer(ctx, n, p) == Closer::Backend)
    {
        also.push("`fastcgi_keep_conn on;` where it is passed to FastCGI (each kept connection holds a FastCGI worker while idle)");
    }
    let also = if also.is_empty() {
        String::new()
    } else {
        format!(", and {}", also.join(", and "))
    };
    if zero {
        return d.help(format!(
            "remove `keepalive 0` unless the backend cannot handle keep-alive{also}"
        ));
    }
    d = d.help(format!(
        "add `keepalive 32;` (idle connections kept per worker) to the upstream block{also}"
    ));
    // After the last `server` or balancing method (`keepalive` must follow the method), or
    // after the last line when servers come from elsewhere (`state`, the API).
    const AFTER: &[&str] = &[
        "server",
        "hash",
        "ip_hash",
        "least_conn",
        "least_time",
        "random",
        "sticky",
    ];
    let directives = &ctx.model.nodes[up].directives;
    let last = directives
        .iter()
        .rev()
        .find(|e| AFTER.iter().any(|n| e.directive.is(n)))
        .or(directives.last())
        .copied();
    match last {
        Some(last) if Some(last.file) == ctx.model.nodes[up].opener.map(|o| o.file) => d.fix(Fix {
            description: "add `keepalive 32;` to the upstream block".into(),
            edits: vec![insert_after(ctx.tree, last, "keepalive 32;")],
            safe: true,
        }),
        _ => d,
    }
}

/// A pass straight to an address: an implicit upstream, which nginx never keeps alive.
fn address(ctx: &Context<'_>, node: NodeId, pass: Entry<'_>, addr: &str, what: &str) -> Diagnostic {
    let d = pass.directive;
    let c = closer(ctx, node, pass);
    let mut diag = Diagnostic::new(
        &UPSTREAM_WITHOUT_KEEPALIVE,
        pass.arg_location(0),
        format!("`{}` connects straight to `{addr}`, so nginx opens a new connection for every request", d.head_text()),
    )
    .primary_label(format!("{what}; {}", closer_label(c, pass)))
    .note("nginx keeps idle connections only to `upstream` blocks, never to an address written in the directive (not even from 1.29.7, where upstream blocks keep 32 by default)");
    if let Some(n) = closer_note(c) {
        diag = diag.note(n);
    }
    if d.is("proxy_pass") && proxy_requests(ctx, node).outer {
        diag = diag.note(FRAGMENT_NOTE);
    }
    diag = diag.note(handshake_note(&[pass]));
    let scheme = d
        .arg(0)
        .map(|a| a.text().to_ascii_lowercase())
        .unwrap_or_default();
    let has_port = addr.rsplit_once(']').map_or(addr, |(_, p)| p).contains(':');
    let server = if scheme.starts_with("https://") && !has_port {
        format!("{addr}:443")
    } else {
        addr.to_string()
    };
    let pass_to = match d.name.text().as_ref() {
        "proxy_pass" if scheme.starts_with("https://") => "proxy_pass https://backend".to_string(),
        "proxy_pass" => "proxy_pass http://backend".to_string(),
        other => format!("{other} backend"),
    };
    diag.help(format!("define `upstream backend {{ server {server}; keepalive 32; }}` in http and use `{pass_to};` here (see upstream-keepalive-unused for what the location needs)"))
}
