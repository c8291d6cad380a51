use super::upstream::{
    closer_note, handshake_note, hidden_include, pool, proxy_requests, unix_only, version_note,
    Cause, Closer, Pool,
};
use crate::diagnostic::{Diagnostic, Edit, Fix};
use crate::nginx::model::{insert_after, Entry, NodeId, PassTarget};
use crate::nginx::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags a `proxy_pass` or `fastcgi_pass` to an upstream block that keeps idle connections
    /// (`keepalive N`, or by default from nginx 1.29.7) while the location's requests tell the
    /// backend to close:
    ///
    /// - `proxy_http_version` is 1.0 (nginx's default before 1.29.7): an HTTP/1.0 request
    ///   without `Connection: keep-alive` ends with the backend closing;
    /// - the `Connection` header is not cleared with `proxy_set_header Connection "";` (before
    ///   1.29.7 nginx sends `Connection: close` by default), or is set to `close`, or to a
    ///   variable whose `map` gives ordinary requests `close` (the websocket recipe
    ///   `map $http_upgrade $connection_upgrade { default upgrade; '' close; }`);
    /// - `fastcgi_keep_conn` is not `on` (the default in every version) for FastCGI.
    ///
    /// `proxy_set_header` is inherited all or nothing: a location (or server) that sets any
    /// `proxy_set_header` of its own drops every inherited one, `Connection ""` included.
    ///
    /// Not checked: `grpc_pass` (HTTP/2 has no `Connection` header to clear), and locations
    /// whose settings may come from an include that could not be read.
    ///
    /// ## Why is this bad?
    /// The pool only keeps connections the backend leaves open. Told to close, the backend
    /// closes each connection after its response, so nginx opens a new one for every request
    /// anyway and TIME_WAIT (60 s) piles up on the backend, one socket per request, while the
    /// `keepalive` line suggests the problem is solved. Measured with nginx 1.22.1 (loopback,
    /// 50 requests, `keepalive 16`): with HTTP/1.0, or with HTTP/1.1 but `Connection: close`,
    /// 50 TIME_WAIT sockets on the backend; with both fixed, none (the lab's experiment in
    /// `docs/evidence.md`: the backend accepted 50 connections, then one).
    ///
    /// ## Example
    /// ```nginx
    /// upstream app {
    ///     server 10.0.0.5:8080;
    ///     keepalive 32;
    /// }
    /// server {
    ///     location / {
    ///         proxy_pass http://app;
    ///         proxy_set_header Host $host;
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
    /// server {
    ///     location / {
    ///         proxy_pass http://app;
    ///         proxy_http_version 1.1;
    ///         proxy_set_header Host $host;
    ///         proxy_set_header Connection "";
    ///     }
    /// }
    /// ```
    pub UPSTREAM_KEEPALIVE_UNUSED {
        code: "NGX008",
        name: "upstream-keepalive-unused",
        family: Nginx,
        severity: Warning,
        summary: "an upstream keeps idle connections but the requests sent to it make the backend close each one",
        fixable: true,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for (node, pass) in ctx.model.keepalive_passes() {
        let PassTarget::Name(name) = PassTarget::of(pass.directive) else {
            continue;
        };
        let Some(up) = ctx.model.upstream_named(&name) else {
            continue;
        };
        if unix_only(&ctx.model, up) {
            continue;
        }
        let (pool_text, pool_at, pool_label) = match pool(&ctx.model, ctx.settings, up) {
            Pool::Explicit(e) => (
                format!("`{}`", e.directive.head_text()),
                e.head(),
                "keeps idle connections for reuse, but the backend closes each one first",
            ),
            Pool::Default => (
                "default `keepalive 32 local`".to_string(),
                ctx.model.nodes[up].opener.map_or(pass.head(), |o| o.head()),
                "keeps up to 32 idle connections by default (nginx 1.29.7+), but the backend closes each one first",
            ),
            Pool::Missing | Pool::Zero(_) => continue,
        };
        let diag = if pass.directive.is("proxy_pass") {
            proxy(ctx, node, pass, &name, &pool_text)
        } else if pass.directive.is("fastcgi_pass") {
            fastcgi(ctx, node, pass, &name, &pool_text)
        } else {
            None
        };
        if let Some(d) = diag {
            out.push(d.label(pool_at, pool_label).note(handshake_note(&[pass])));
        }
    }
}

/// Whether `e` is written directly in `node` (not inherited).
fn is_local(ctx: &Context<'_>, node: NodeId, e: &Entry<'_>) -> bool {
    ctx.model.nodes[node]
        .directives
        .iter()
        .any(|l| std::ptr::eq(l.directive, e.directive))
}

fn proxy(
    ctx: &Context<'_>,
    node: NodeId,
    pass: Entry<'_>,
    name: &str,
    pool: &str,
) -> Option<Diagnostic> {
    let r = proxy_requests(ctx, node);
    if r.hidden {
        // A file that could not be read may set what is missing here.
        return None;
    }
    let via = match &r.close {
        Some(Cause::Map(h, _)) => format!(
            " through `{}`",
            h.directive
                .arg(1)
                .map_or(String::new(), |a| a.text().into_owned())
        ),
        _ => String::new(),
    };
    let what = match (&r.http10, &r.close) {
        (None, None) => return None,
        (Some(_), None) => "go out as HTTP/1.0".to_string(),
        (Some(_), Some(_)) => format!("go out as HTTP/1.0 with `Connection: close`{via}"),
        (None, Some(_)) => format!("carry `Connection: close`{via}"),
    };
    // The primary label goes on a wrong value written next to the proxy_pass, else on it.
    let local_version = match r.http10 {
        Some(Cause::Explicit(e)) if is_local(ctx, node, &e) => Some(e),
        _ => None,
    };
    let local_close = match r.close {
        Some(Cause::Explicit(e)) if is_local(ctx, node, &e) => Some(e),
        _ => None,
    };
    let primary = local_version
        .map(|e| e.arg_location(0))
        .or(local_close.map(|e| e.arg_location(1)))
        .unwrap_or(pass.arg_location(0));
    let mut d = Diagnostic::new(
        &UPSTREAM_KEEPALIVE_UNUSED,
        primary,
        format!("requests to upstream `{name}` {what}, so its {pool} pool is never used"),
    )
    .primary_label("makes the backend close the connection after each response");
    if primary != pass.arg_location(0) {
        d = d.label(pass.head(), format!("requests to `{name}` pass here"));
    }
    for (cause, what, arg) in [
        (&r.http10, "HTTP/1.0", 0),
        (&r.close, "`Connection: close`", 1),
    ] {
        match cause {
            Some(Cause::Explicit(e)) if e.arg_location(arg) != primary => {
                d = d.label(e.head(), format!("{what} set here"))
            }
            Some(Cause::Map(h, line)) => {
                d = d
                    .label(h.head(), "`Connection` comes from this variable")
                    .label(
                        line.head(),
                        "ordinary requests (no `Upgrade` header) get `close` here",
                    )
            }
            _ => {}
        }
    }
    if let (Some(s), Some((_, group))) = (r.shadowed, &r.headers) {
        d = d.label(
            s.head(),
            "not inherited where requests are proxied (all or nothing)",
        );
        if let Some(own) = group.first() {
            d = d.label(
                own.head(),
                "`proxy_set_header` lines of its own here replace every inherited one",
            );
        }
    }
    d = d.note(closer_note(Closer::Backend).unwrap_or_default());
    let fact = match (&r.http10, &r.close) {
        (Some(Cause::Default), Some(Cause::Default)) => Some("before 1.29.7 nginx sends HTTP/1.0 requests with `Connection: close` unless told otherwise"),
        (Some(Cause::Default), _) => Some("before 1.29.7 nginx sends HTTP/1.0 requests unless `proxy_http_version` says otherwise"),
        (_, Some(Cause::Default)) => Some("before 1.29.7 nginx sends `Connection: close` unless a `proxy_set_header Connection` in effect says otherwise"),
        _ => None,
    };
    if let Some(fact) = fact {
        d = d.note(version_note(ctx.settings, fact));
    }
    if r.outer {
        d = d.note("this file is read as included in http: an including http block that sets what is missing here would make the pool work");
    }
    // The fix: lines added after the proxy_pass, and values replaced.
    let mut lines: Vec<String> = Vec::new();
    let mut edits = Vec::new();
    let mut safe = true;
    let mut changes: Vec<String> = Vec::new();
    match (r.http10, local_version) {
        (Some(_), Some(e)) => {
            // An explicit 1.0 may be deliberate (a backend that mishandles HTTP/1.1).
            edits.push(Edit {
                location: e.arg_location(0),
                replacement: "1.1".into(),
            });
            safe = false;
            changes.push("`proxy_http_version 1.1;`".into());
        }
        (Some(cause), None) => {
            // Overriding a 1.0 set higher up may undo a deliberate choice.
            safe &= matches!(cause, Cause::Default);
            lines.push("proxy_http_version 1.1;".into());
            changes.push("`proxy_http_version 1.1;`".into());
        }
        _ => {}
    }
    match r.close {
        Some(Cause::Default) => {
            if let Some((_, group)) = r.headers.as_ref().filter(|(at, _)| *at != node) {
                // One proxy_set_header here drops every inherited one: copy them along.
                for e in group {
                    let text = &ctx.tree.files[e.file].text[e.directive.span.range()];
                    safe &= !text.contains(&b'\n');
                    lines.push(String::from_utf8_lossy(text).into_owned());
                }
                d = d.note(format!("this location inherits {} `proxy_set_header` lines; one set here replaces them all, so the fix copies them", group.len()));
            }
            lines.push("proxy_set_header Connection \"\";".into());
            changes.push("`proxy_set_header Connection \"\";`".into());
        }
        Some(Cause::Explicit(e)) if local_close.is_some() => {
            edits.push(Edit {
                location: e.arg_location(1),
                replacement: "\"\"".into(),
            });
            safe = false;
            changes.push("`proxy_set_header Connection \"\";`".into());
        }
        Some(Cause::Explicit(_)) => {
            changes.push("`proxy_set_header Connection \"\";` instead of `close`".into());
            return Some(d.help(format!(
                "use {} for the requests to `{name}`",
                changes.join(" and ")
            )));
        }
        Some(Cause::Map(h, line)) => {
            // The map is shared: every location using the variable changes.
            edits.push(Edit {
                location: line.arg_location(0),
                replacement: "\"\"".into(),
            });
            safe = false;
            let var = h
                .directive
                .arg(1)
                .map_or(String::new(), |a| a.text().into_owned());
            d = d.help(format!("map ordinary requests to an empty value (`{} \"\";` in the map of `{var}`; upgrade requests keep `upgrade`), which changes every location using `{var}`", if line.directive.name.value.is_empty() { "''" } else { "default" }));
        }
        None => {}
    }
    if !changes.is_empty() {
        d = d.help(format!(
            "use {} for the requests to `{name}`",
            changes.join(" and ")
        ));
    }
    if !lines.is_empty() {
        edits.push(insert_after(ctx.tree, pass, &lines.join("\n")));
    }
    let mut described = changes;
    if matches!(r.close, Some(Cause::Map(..))) {
        described.push("an empty `Connection` for ordinary requests in the map".into());
    }
    let description = format!("set {}", described.join(" and "));
    Some(d.fix(Fix {
        description,
        edits,
        safe,
    }))
}

fn fastcgi(
    ctx: &Context<'_>,
    node: NodeId,
    pass: Entry<'_>,
    name: &str,
    pool: &str,
) -> Option<Diagnostic> {
    let explicit = match ctx.model.effective(node, "fastcgi_keep_conn") {
        Some((_, e)) if e.directive.arg(0).is_some_and(|a| a.is("on")) => return None,
        Some((n, e)) => Some((n, e)),
        // A file that could not be read may set it.
        None if hidden_include(ctx, node) => return None,
        None => None,
    };
    let primary = match explicit {
        Some((n, e)) if n == node => e.arg_location(0),
        _ => pass.arg_location(0),
    };
    let mut d = Diagnostic::new(&UPSTREAM_KEEPALIVE_UNUSED, primary, format!("`fastcgi_keep_conn` is off for requests to upstream `{name}`, so its {pool} pool is never used"))
        .primary_label("the FastCGI server is told to close the connection after each response");
    if primary != pass.arg_location(0) {
        d = d.label(pass.head(), format!("requests to `{name}` pass here"));
    } else if let Some((_, e)) = explicit {
        d = d.label(e.head(), "set off here");
    }
    let fix = match explicit {
        Some((n, e)) if n == node => Edit {
            location: e.arg_location(0),
            replacement: "on".into(),
        },
        _ => insert_after(ctx.tree, pass, "fastcgi_keep_conn on;"),
    };
    Some(
        d.note(closer_note(Closer::Backend).unwrap_or_default())
            .help("set `fastcgi_keep_conn on;`; each kept connection then holds a FastCGI worker (a php-fpm child) while idle in nginx's pool, so keep `keepalive` × worker_processes well below the server's worker count (pm.max_children)")
            .fix(Fix { description: "set `fastcgi_keep_conn on;`".into(), edits: vec![fix], safe: false }),
    )
}
