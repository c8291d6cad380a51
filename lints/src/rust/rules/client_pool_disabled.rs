use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, ExprCall, ExprMethodCall, Pat};

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::flow::per_request::Regions;
use crate::rust::model::sockets::{method_span, Imports};
use crate::rust::syntax::calls::{file_constants, is_zero_duration, is_zero_int, unwrap_some};
use crate::rust::syntax::chains::{chain, mentions_crate, root_path, strip};
use crate::rust::syntax::enclosing::{track_enclosing_fns, EnclosingFns};
use crate::rust::{span_of, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags HTTP clients that cannot reuse connections: a pool switched off
    /// (`pool_max_idle_per_host(0)` or `pool_idle_timeout(Duration::ZERO)` on reqwest's async or
    /// blocking `ClientBuilder`, hyper 0.14's `Client::builder()`, hyper-util's legacy
    /// `Client::builder(exec)`), and a client built per request: `reqwest::Client::new()`,
    /// `Client::builder()...build()`, `reqwest::blocking::Client::new()` or the one-shot
    /// `reqwest::get(url)` inside a request handler (an actix or axum route, a function or
    /// closure passed to axum's `get(..)`, actix's `.to(..)` or hyper's `service_fn(..)`, a
    /// `Service::call`), inside a loop that sends its requests through it, or inside a function
    /// of the file that sends with it (and so drops it at its end) and that is called in such a
    /// loop or handler, or by a function that is, a few calls deep (`fetch(url)` called for
    /// every URL of a polling loop). A client built once, in `main`, a `static`,
    /// `OnceLock`/`LazyLock` or application state, or returned to the caller or kept in a
    /// struct, is not flagged.
    /// Test code (`#[test]`, `#[tokio::test]`... functions and `#[cfg(test)]` modules) is not
    /// checked: tests switch this on purpose, to exercise it.
    ///
    /// ## Why is this bad?
    /// A client keeps the connections it opened in its pool so the next request to the same
    /// server reuses one. A client with no pool, or a new client (and so a new, empty pool) per
    /// request, opens a new TCP connection for every request and closes it itself, when the
    /// response is read or the client is dropped. The client closes first, so the TIME_WAIT lands
    /// on the client: one socket for 60 s per request. Toward one server address and port, the
    /// default 28,232 ephemeral ports (32768–60999) then run out at about 470 requests/s, and new
    /// connections fail with "cannot assign requested address"; before that, every request pays a
    /// TCP handshake, and a TLS handshake for HTTPS. Measured in `docs/evidence.md`: 20 requests
    /// without a pool opened 20 connections and left their TIME_WAIT on the client, none on the
    /// server; with the default pool, one connection and no TIME_WAIT.
    ///
    /// ## Example
    /// ```rust
    /// async fn proxy(Path(id): Path<u32>) -> String {
    ///     let client = reqwest::Client::new();
    ///     client.get(format!("http://backend/items/{id}")).send().await?.text().await?
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(reqwest::Client::new);
    ///
    /// async fn proxy(Path(id): Path<u32>) -> String {
    ///     CLIENT.get(format!("http://backend/items/{id}")).send().await?.text().await?
    /// }
    /// ```
    pub CLIENT_POOL_DISABLED {
        code: "RS009",
        name: "client-pool-disabled",
        family: Rust,
        severity: Warning,
        summary: "an HTTP client without a usable connection pool opens and closes a connection per request and holds its TIME_WAIT",
        fixable: false,
    }
}

/// Methods that send a request on the client they are called on.
const REQUESTS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "head", "request", "execute",
];
/// Functions that implement a pool setting under its own name (hyper's deprecated
/// `keep_alive(false)` calls `self.pool_max_idle_per_host(0)`): the crate's code, not a use.
const POOL_SETTINGS: &[&str] = &["keep_alive", "pool_max_idle_per_host", "pool_idle_timeout"];

/// A client constructed here.
struct Site {
    span: Span,
    /// `reqwest::get(url)`: a client, and a request sent on it.
    one_shot: bool,
    /// The variable it is bound to (`let client = ..`).
    binding: Option<String>,
    /// The function it is built in.
    function: Option<String>,
}

struct Finder<'a> {
    uses: &'a Imports,
    consts: HashMap<String, &'a Expr>,
    hyper: bool,
    fns: EnclosingFns,
    sites: Vec<Site>,
    /// Byte ranges of client constructions that a request is sent on directly.
    direct: HashSet<(usize, usize)>,
    /// Variables a request is sent on, or that are passed to a function, where, and in which
    /// function.
    sent: Vec<(String, usize, Option<String>)>,
    /// Calls of functions by name (`fetch(..)`, `self.fetch(..)`, `Self::fetch(..)`): the
    /// callee, where, and the calling function.
    calls: Vec<(String, proc_macro2::Span, Option<String>)>,
    pools: Vec<(nginx_parser::Span, &'static str)>,
}

/// The functions of the file called where code runs more than once (in a loop, a request
/// handler, or a function that is itself so called), each with one such call and its label.
fn repeated_functions(
    calls: &[(String, proc_macro2::Span, Option<String>)],
    regions: &Regions,
) -> HashMap<String, (proc_macro2::Span, String)> {
    let mut out: HashMap<String, (proc_macro2::Span, String)> = HashMap::new();
    for (callee, at, _) in calls {
        let place = regions.at(at.byte_range().start);
        let label = match (place.once, place.handler, place.in_loop) {
            (true, _, _) => continue,
            (_, Some(_), _) => format!("`{callee}` is called here, for every request"),
            (_, None, Some(_)) => {
                format!("`{callee}` is called here, on every iteration of a loop")
            }
            _ => continue,
        };
        out.entry(callee.clone()).or_insert((*at, label));
    }
    // Callers that run more than once make their callees do so, a few calls deep.
    for _ in 0..4 {
        let before = out.len();
        for (callee, at, caller) in calls {
            let Some(caller) = caller.as_deref().filter(|c| out.contains_key(*c)) else {
                continue;
            };
            if out.contains_key(callee) || regions.at(at.byte_range().start).once {
                continue;
            }
            let label =
                format!("`{callee}` is called here, by `{caller}`, which runs more than once");
            out.insert(callee.clone(), (*at, label));
        }
        if out.len() == before {
            break;
        }
    }
    out
}

fn range(node: &impl Spanned) -> (usize, usize) {
    let r = node.span().byte_range();
    (r.start, r.end)
}

impl Finder<'_> {
    /// A client construction: `Some(false)` for a client (`Client::new()`, or a builder about
    /// to be built when `built`), `Some(true)` for the one-shot `reqwest::get`.
    /// The path as written counts too: `hyper::Client::new()` is hyper's client even where
    /// `hyper` is another name for the crate (`use hyper014 as hyper;`).
    fn made(&self, call: &ExprCall, built: bool) -> Option<bool> {
        let func = strip(&call.func);
        let written = root_path(func).into_iter();
        (self.uses.resolve_expr(func).into_iter().chain(written)).find_map(|c| {
            let n = c.len();
            if n < 2 || !["reqwest", "hyper", "hyper_util"].contains(&c[0].as_str()) {
                return None;
            }
            match (c[n - 2].as_str(), c[n - 1].as_str()) {
                ("reqwest" | "blocking", "get") if c[0] == "reqwest" => Some(true),
                ("Client", "new" | "default") => Some(false),
                ("Client", "builder") | ("ClientBuilder", "new") if built => Some(false),
                _ => None,
            }
        })
    }

    /// A request sent on `value` (`value.get(..)`), or `value` handed to a function.
    fn note_sent(&mut self, value: &Expr) {
        match chain(value).0 {
            Expr::Call(c) => {
                self.direct.insert(range(c));
            }
            Expr::Path(p) if p.path.segments.len() == 1 => {
                let function = self.fns.innermost().map(str::to_string);
                self.sent
                    .push((p.path.segments[0].ident.to_string(), range(p).0, function));
            }
            _ => {}
        }
    }
}

impl<'a> Visit<'a> for Finder<'a> {
    track_enclosing_fns!('a, fns);

    fn visit_local(&mut self, local: &'a syn::Local) {
        let before = self.sites.len();
        syn::visit::visit_local(self, local);
        let pat = match &local.pat {
            Pat::Type(t) => &*t.pat,
            p => p,
        };
        if let (Pat::Ident(id), Some(init)) = (pat, &local.init) {
            if let Expr::Call(root) = chain(&init.expr).0 {
                let root = range(root);
                for site in self.sites[before..]
                    .iter_mut()
                    .filter(|s| range(&s.span) == root)
                {
                    site.binding = Some(id.ident.to_string());
                }
            }
        }
    }

    fn visit_expr_call(&mut self, call: &'a ExprCall) {
        if let Some(one_shot) = self.made(call, false) {
            self.sites.push(Site {
                span: call.span(),
                one_shot,
                binding: None,
                function: self.fns.innermost().map(str::to_string),
            });
        }
        if let Expr::Path(p) = &*call.func {
            let segs: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            if let [name] | [_, name] = segs.as_slice() {
                if segs.len() == 1 || segs[0] == "Self" {
                    let caller = self.fns.innermost().map(str::to_string);
                    self.calls.push((name.clone(), call.span(), caller));
                }
            }
        }
        // A variable passed to a function (`fetch(&client, url)`) is used there; not one moved
        // into a value (`Arc::new(client)`, `Some(client)`) or dropped.
        let func = root_path(&call.func).unwrap_or_default();
        let function = func
            .iter()
            .all(|s| s.starts_with(|c: char| c.is_lowercase()));
        if !func.is_empty() && function && func.last().is_some_and(|f| f != "drop") {
            call.args.iter().for_each(|a| self.note_sent(a));
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'a ExprMethodCall) {
        let method = call.method.to_string();
        let arg = call.args.first().filter(|_| call.args.len() == 1);
        let zero_const = |e: &Expr| match strip(e) {
            Expr::Path(p) => p
                .path
                .get_ident()
                .and_then(|i| self.consts.get(&i.to_string()))
                .is_some_and(|v| is_zero_int(v)),
            _ => false,
        };
        let zero_duration = |e: &Expr| {
            is_zero_duration(e, &self.consts)
                || unwrap_some(e).is_some_and(|d| is_zero_duration(d, &self.consts))
        };
        let client_builder =
            root_path(chain(&call.receiver).0).is_some_and(|r| r.iter().any(|s| s == "Client"));
        let pool = match (method.as_str(), arg) {
            ("pool_max_idle_per_host", Some(a)) if is_zero_int(a) || zero_const(a) => {
                Some("pool_max_idle_per_host(0)")
            }
            ("pool_idle_timeout", Some(a)) if zero_duration(a) => Some("pool_idle_timeout(0)"),
            ("keep_alive", Some(Expr::Lit(l)))
                if self.hyper
                    && client_builder
                    && matches!(&l.lit, syn::Lit::Bool(b) if !b.value) =>
            {
                Some("keep_alive(false)")
            }
            _ => None,
        };
        let implementing = self.fns.innermost_is(|f| POOL_SETTINGS.contains(&f));
        if let (Some(what), false) = (pool, implementing) {
            self.pools.push((method_span(call), what));
        }
        if matches!(method.as_str(), "build" | "build_http") {
            if let Expr::Call(root) = chain(&call.receiver).0 {
                if self.made(root, true) == Some(false) {
                    self.sites.push(Site {
                        span: root.span(),
                        one_shot: false,
                        binding: None,
                        function: self.fns.innermost().map(str::to_string),
                    });
                }
            }
        }
        if REQUESTS.contains(&method.as_str()) {
            self.note_sent(&call.receiver);
        }
        if matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident("self")) {
            let caller = self.fns.innermost().map(str::to_string);
            self.calls.push((method, call.method.span(), caller));
        }
        syn::visit::visit_expr_method_call(self, call);
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let m = |krate: &str| mentions_crate(ctx.source, krate);
    let uses = ctx.analysis.imports();
    let mut finder = Finder {
        uses,
        consts: file_constants(ctx.file),
        hyper: m("hyper") || m("hyper_util"),
        fns: EnclosingFns::default(),
        sites: Vec::new(),
        direct: HashSet::new(),
        sent: Vec::new(),
        calls: Vec::new(),
        pools: Vec::new(),
    };
    finder.visit_file(ctx.file);
    // Where code runs per request is asked only about clients built in the file.
    if finder.pools.is_empty() && finder.sites.is_empty() {
        return;
    }
    let regions = Regions::of(ctx.file, uses, m("axum"), m("actix_web"));
    let quote = |span: nginx_parser::Span| {
        let written = ctx
            .source
            .get(span.range())
            .filter(|t| t.len() <= 70 && !t.contains('\n'));
        written
            .map(|w| format!("`{w}`"))
            .unwrap_or_else(|| "this client".into())
    };
    let note = "the client closes first, so the TIME_WAIT lands on this client: one socket held for 60 s per request; toward one server address and port the default 28,232 ephemeral ports (32768-60999) run out at about 470 requests/s, after which new connections fail with \"cannot assign requested address\"";
    for (span, what) in finder.pools {
        if ctx.analysis.in_test(span) {
            continue;
        }
        let message = match what {
            "pool_idle_timeout(0)" => "idle connections expire at once, so this client closes every connection after one response",
            "keep_alive(false)" => "on hyper's client builder this switches the connection pool off, so the client closes every connection after one response",
            _ => "this client keeps no idle connections, so it closes every connection after one response",
        };
        out.push(
            Diagnostic::new(&CLIENT_POOL_DISABLED, Location::new(0, span), format!("{}: {message}", quote(span)))
                .primary_label("connection pool off")
                .note(note)
                .help("remove this setting (the default pool keeps idle connections for reuse); to drop idle connections sooner, set `pool_idle_timeout` a little below the server's keep-alive timeout"),
        );
    }
    // Where each variable was sent on: (name, innermost loop), and (name, function).
    let sent: HashSet<(String, usize)> = finder
        .sent
        .iter()
        .filter_map(|(name, at, _)| Some((name.clone(), regions.at(*at).in_loop?.0)))
        .collect();
    let sent_in: HashSet<(&str, &str)> = finder
        .sent
        .iter()
        .filter_map(|(name, _, f)| Some((name.as_str(), f.as_deref()?)))
        .collect();
    let repeated = repeated_functions(&finder.calls, &regions);
    for site in finder.sites {
        if ctx.analysis.in_test(crate::rust::span_of(site.span)) {
            continue;
        }
        let place = regions.at(site.span.byte_range().start);
        let (context, label) = match (place.handler, place.in_loop) {
            _ if place.once => continue,
            (Some(handler), _) => (
                "for every request this handler serves".to_string(),
                (handler, "runs for every request"),
            ),
            (None, Some((id, keyword))) => {
                let used = site
                    .binding
                    .as_ref()
                    .is_some_and(|b| sent.contains(&(b.clone(), id)));
                if !(site.one_shot || used || finder.direct.contains(&range(&site.span))) {
                    continue;
                }
                (
                    "on every iteration of this loop".to_string(),
                    (keyword, "this loop"),
                )
            }
            (None, None) => {
                // A function that builds a client, sends with it and drops it, called where
                // code runs more than once: its pool dies with each call.
                let Some((function, (call, label))) = site
                    .function
                    .as_deref()
                    .and_then(|f| Some((f, repeated.get(f)?)))
                else {
                    continue;
                };
                let used = site
                    .binding
                    .as_deref()
                    .is_some_and(|b| sent_in.contains(&(b, function)));
                if !(site.one_shot || used || finder.direct.contains(&range(&site.span))) {
                    continue;
                }
                (
                    format!("on every call of `{function}`"),
                    (*call, label.as_str()),
                )
            }
        };
        let span = span_of(site.span);
        let (what, help) = if site.one_shot {
            ("and a new connection", "create one `reqwest::Client` (in `main`, a `static LazyLock`, or the application state) and send with `client.get(url)`: clones share one pool")
        } else {
            ("with an empty connection pool", "build the client once (in `main`, a `static LazyLock`/`OnceLock`, or the application state) and clone it where it is needed: clones share one pool")
        };
        out.push(
            Diagnostic::new(
                &CLIENT_POOL_DISABLED,
                Location::new(0, span),
                format!(
                    "{} builds a new HTTP client, {what}, {context}",
                    quote(span)
                ),
            )
            .primary_label("new client, so a new connection per request")
            .label(Location::new(0, span_of(label.0)), label.1)
            .note(note)
            .help(help),
        );
    }
}
