use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::Visit;
use syn::{Block, Expr, Member, Pat};

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::calls::{file_constants, path_ends_with};
use crate::rust::sockets::{
    contains, functions, idents_in_expr, idents_in_macro, idents_in_pat, is_print_macro,
    listener_ctor, method_span, socket2_ctor, structs, through_access, token_matches, uses,
    uses_in_file, Function, Imports, Target, Use, UseKind,
};
use crate::rust::{node_span, span_of, Context};

use super::blocked_while_owning::{has_exit, local_name, mentions, Body, Spawns};

crate::declare_rule! {
    /// ## What it does
    /// Flags a listening socket that nothing accepts from:
    /// - a listener bound in a function (`TcpListener::bind` / `UnixListener::bind` of std,
    ///   tokio, mio, async-std, async-net or smol, or a socket2 `Socket` after `listen`) that the
    ///   function keeps open (it loops or awaits afterwards) without ever calling `accept`,
    ///   `incoming` or `poll_accept` on it, handing it to another function, returning it,
    ///   dropping it or storing it;
    /// - a listener stored in a private field of a struct of the file that no code of the file
    ///   accepts from or hands over;
    /// - a mio listener registered with a token (`registry.register(&mut listener, SERVER, ..)`)
    ///   that no arm of the file's `match event.token()` handles;
    /// - an accept loop that leaves on its first accept error (`listener.accept()?`, an `Err`
    ///   arm that breaks or returns, `while let Ok(..) = listener.accept()`, `let s = s?` over
    ///   `incoming()`) while another owner keeps the listener open: the loop runs in a spawned
    ///   task or thread on an `Arc` clone (`let l = Arc::clone(&listener)`, or a clone of
    ///   `self.listener`) and the spawner keeps running with the original, or it is a `&self`
    ///   method run by a task on a clone of the `Arc` that holds the struct.
    ///
    /// A loop that owns its listener (moved in, not shared), one that logs the error and
    /// continues, and one whose error propagates to `main` are not flagged: when they end, the
    /// listener is closed.
    ///
    /// A listener given to anything (`axum::serve(listener, app)`, `TcpListenerStream::new`, a
    /// function of the crate), moved into a task, or used in a way the analysis cannot follow
    /// counts as accepted from. Tests are not checked.
    ///
    /// ## Why is this bad?
    /// The kernel does not wait for `accept()`: it completes every handshake on a listening
    /// socket and queues the connection in the backlog. Clients see a successful connect, send
    /// their request and wait; when they give up and close, the kernel acknowledges their FIN
    /// and the queued connection moves to CLOSE_WAIT, where it stays, because this process never
    /// accepts it and so never closes it. The connections and their buffers are held until the
    /// listener is closed, which for a server's listener means until the process exits. Once
    /// the backlog is full, the kernel drops new connection attempts: clients time out instead
    /// of being refused, which is slower to notice and to diagnose. (No descriptor is allocated
    /// before `accept()`, so unlike a leaked socket this does not end in EMFILE.)
    ///
    /// An accept loop that stops at the first error strands its listener the same way, and it
    /// stops under load: `accept()` fails transiently with EMFILE/ENFILE when descriptors run
    /// out and with ECONNABORTED when a client resets before it is accepted. If the loop was
    /// the listener's last owner the listener closes and clients are refused; when an `Arc`
    /// or a struct keeps it open, the backlog fills with connections nobody will accept.
    /// Measured on this rule's fixtures in `docs/evidence.md`: 20 connections in CLOSE_WAIT,
    /// none of them holding a descriptor of the process (they sit in the backlog).
    ///
    /// ## Example
    /// ```rust
    /// match event.token() {
    ///     // the listener was registered with SERVER, but no arm handles it:
    ///     // new connections are never accepted
    ///     token => handle_client(token),
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// match event.token() {
    ///     SERVER => loop {
    ///         match listener.accept() {
    ///             Ok((stream, _)) => register(stream),
    ///             Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
    ///             Err(e) => return Err(e),
    ///         }
    ///     },
    ///     token => handle_client(token),
    /// }
    /// ```
    pub LISTENER_NEVER_ACCEPTED {
        code: "RS004",
        name: "listener-never-accepted",
        family: Rust,
        severity: Error,
        summary: "a bound listener is never accepted from, so the kernel queues connections that sit in CLOSE_WAIT when clients give up",
        fixable: false,
    }
}

const NOTE: &str = "the kernel completes the handshake of every connection to a listening socket and queues it for accept(); clients send their request and wait, and when they give up, their FIN is acknowledged by the kernel and the queued connection sits in CLOSE_WAIT, because this process never accepts it and so never closes it; the connections and their buffers are held until the listener is closed (for a listener that lives as long as the process, until it exits), and once the backlog is full the kernel drops new connection attempts, so clients time out instead of being refused";

const ACCEPTING: &[&str] = &[
    "accept",
    "incoming",
    "poll_accept",
    "accept_raw",
    "accept4",
    "into_incoming",
];

/// Methods that use a listener without accepting or handing it over (`as_raw_fd` is not one:
/// the raw fd may be accepted from).
const NEUTRAL: &[&str] = &[
    "local_addr",
    "set_nonblocking",
    "set_ttl",
    "ttl",
    "take_error",
    "only_v6",
    "set_only_v6",
    "listen",
    "bind",
    "set_reuse_address",
    "set_reuse_port",
    "reuse_address",
    "is_nonblocking",
];

#[derive(PartialEq)]
enum Verdict {
    /// Accepted from, handed over, dropped or used in a way the analysis cannot follow.
    Handled,
    Neutral,
    Stored(Span, String, String),
}

fn verdict(u: &Use) -> Verdict {
    match &u.kind {
        UseKind::Receiver { method }
            if NEUTRAL.contains(&method.as_str()) || method.starts_with("set_") =>
        {
            Verdict::Neutral
        }
        UseKind::MacroArg { name } if is_print_macro(name) => Verdict::Neutral,
        UseKind::Operand => Verdict::Neutral,
        UseKind::StoredIn { ty, field } => Verdict::Stored(u.context, ty.clone(), field.clone()),
        _ => Verdict::Handled,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let imports = Imports::of(ctx.file);
    let fns = functions(ctx.file);
    let (structs, _) = structs(ctx.file);
    // Fields that hold a listener, with where it is stored and bound.
    let mut fields: Vec<(Span, String, String, Span)> = Vec::new();
    let mut locals: HashMap<usize, Vec<(String, Span)>> = HashMap::new();
    for (i, f) in fns.iter().enumerate().filter(|(_, f)| !f.is_test) {
        let mut binds = Binds {
            imports: &imports,
            locals: Vec::new(),
            stored: Vec::new(),
        };
        binds.visit_block(f.block);
        fields.extend(binds.stored);
        // `let _guard = ..`: a listener kept on purpose (a reserved port), not forgotten.
        for (name, ctor, after, socket2) in binds
            .locals
            .into_iter()
            .filter(|(n, ..)| !n.starts_with('_'))
        {
            let uses: Vec<Use> = uses(&imports, f.block, &Target::Local(name.clone()))
                .into_iter()
                .filter(|u| u.span.start >= after)
                .collect();
            if socket2
                && !uses
                    .iter()
                    .any(|u| matches!(&u.kind, UseKind::Receiver { method } if method == "listen"))
            {
                continue;
            }
            locals.entry(i).or_default().push((name.clone(), ctor));
            let verdicts: Vec<Verdict> = uses.iter().map(verdict).collect();
            if verdicts.contains(&Verdict::Handled) {
                continue;
            }
            if let Some(Verdict::Stored(at, ty, field)) = verdicts
                .into_iter()
                .find(|v| matches!(v, Verdict::Stored(..)))
            {
                fields.push((at, ty, field, ctor));
                continue;
            }
            if let Some(kept) = kept_open(f, after) {
                out.push(
                    Diagnostic::new(&LISTENER_NEVER_ACCEPTED, Location::new(0, ctor), format!("listener `{name}` is bound but never accepted from"))
                        .primary_label(format!("`{name}` is bound here; nothing calls `accept` on it or hands it over"))
                        .label(Location::new(0, kept), format!("`{}` keeps running here with the listener open", f.name))
                        .note(NOTE)
                        .help("accept from the listener (or hand it to the server that does), or drop it as soon as it is not needed"),
                );
            }
        }
    }
    let mut reported = HashSet::new();
    for (at, ty, field, ctor) in &fields {
        let Some(def) = structs.get(ty) else { continue };
        if def
            .fields
            .iter()
            .any(|(n, _, public)| n == field && *public)
            || !reported.insert(field.clone())
        {
            continue;
        }
        let handled = uses_in_file(&imports, &fns, &Target::Field(field.clone()))
            .iter()
            .any(|u| verdict(u) != Verdict::Neutral)
            || destructured(ctx.file, field);
        if !handled {
            out.push(
                Diagnostic::new(&LISTENER_NEVER_ACCEPTED, Location::new(0, *at), format!("the listener stored in `{ty}::{field}` is never accepted from"))
                    .primary_label(format!("stored here; no code of this file accepts from `.{field}` or hands it over"))
                    .label(Location::new(0, *ctor), "the listener is bound here")
                    .note(NOTE)
                    .help(format!("accept from `self.{field}` in the event loop (or hand it to the server that does), or do not keep a listener nobody serves")),
            );
        }
    }
    mio_tokens(ctx, &imports, &fns, &locals, &fields, out);
    accept_exits(&fns, out);
}

/// Listener bindings of one function: `let l = TcpListener::bind(..)?` (name, call span, whether
/// it is a socket2 `Socket` that must still be `listen`ed), and listeners bound straight into a
/// field (`Server { listener: TcpListener::bind(..)? }`, `self.listener = Some(..)`).
struct Binds<'i> {
    imports: &'i Imports,
    /// Name, bind call, end of the `let` statement, whether it is a socket2 `Socket`.
    locals: Vec<(String, Span, u32, bool)>,
    stored: Vec<(Span, String, String, Span)>,
}

impl<'ast> Visit<'ast> for Binds<'_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_local(&mut self, l: &'ast syn::Local) {
        let pat = match &l.pat {
            Pat::Type(t) => &*t.pat,
            p => p,
        };
        if let (Pat::Ident(i), Some(init)) = (pat, &l.init) {
            if let Some(span) = listener_ctor(self.imports, &init.expr) {
                self.locals
                    .push((i.ident.to_string(), span, node_span(l).end, false));
            } else if let Some(span) = socket2_ctor(self.imports, &init.expr) {
                self.locals
                    .push((i.ident.to_string(), span, node_span(l).end, true));
            }
        }
        syn::visit::visit_local(self, l);
    }
    fn visit_expr_struct(&mut self, s: &'ast syn::ExprStruct) {
        let ty = s
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        for fv in &s.fields {
            if let (Member::Named(field), Some(ctor)) = (
                &fv.member,
                listener_ctor(self.imports, unwrap_some(&fv.expr)),
            ) {
                self.stored
                    .push((node_span(&fv.member), ty.clone(), field.to_string(), ctor));
            }
        }
        syn::visit::visit_expr_struct(self, s);
    }
}

/// `Some(x)` → `x`, else the expression itself.
fn unwrap_some(e: &Expr) -> &Expr {
    crate::rust::calls::unwrap_some(e).unwrap_or(e)
}

/// Where a function keeps running after the `let` that binds a listener (ending at `after`), with the listener still open: a
/// `loop`, a `while`, a `for` over connections (`incoming()`), an `.await` or a `.join()` after
/// it, in the function's own body (a closure or an async block runs elsewhere). A function that
/// binds and returns (a free-port probe) keeps nothing open. `None` too when the function
/// connects somewhere: binding and connecting without accepting is a client test's set-up.
fn kept_open(f: &Function<'_>, after: u32) -> Option<Span> {
    /// The first loop, the first `.await`/`.join()`, whether the function connects.
    struct Finder(u32, Option<Span>, Option<Span>, bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_expr(&mut self, e: &'ast Expr) {
            let (looping, waiting) = match e {
                Expr::Loop(l) => (Some(span_of(l.loop_token.span)), None),
                Expr::While(w) => (Some(span_of(w.while_token.span)), None),
                Expr::ForLoop(l) if calls_method(&l.expr, "incoming") => {
                    (Some(span_of(l.for_token.span)), None)
                }
                Expr::Await(a) => (None, Some(span_of(a.await_token.span))),
                Expr::MethodCall(m) if m.method == "join" && m.args.is_empty() => {
                    (None, Some(span_of(m.method.span())))
                }
                _ => (None, None),
            };
            self.3 |= match e {
                Expr::Call(c) => crate::rust::calls::path_ends_with(&c.func, &["connect"]),
                Expr::MethodCall(m) => m.method == "connect",
                _ => false,
            };
            if let Some(k) = looping.filter(|k| k.start >= self.0) {
                self.1.get_or_insert(k);
            }
            if let Some(k) = waiting.filter(|k| k.start >= self.0) {
                self.2.get_or_insert(k);
            }
            syn::visit::visit_expr(self, e);
        }
    }
    let mut finder = Finder(after, None, None, false);
    finder.visit_block(f.block);
    finder.1.or(finder.2).filter(|_| !finder.3)
}

/// Whether a method named `method` is called anywhere in `expr`'s receiver chain.
fn calls_method(expr: &Expr, method: &str) -> bool {
    let mut e = expr;
    loop {
        e = match e {
            Expr::MethodCall(m) if m.method == method => return true,
            Expr::MethodCall(m) => &m.receiver,
            Expr::Paren(p) => &p.expr,
            Expr::Reference(r) => &r.expr,
            _ => return false,
        };
    }
}

/// Whether some pattern of the file takes the field out (`let Server { listener, .. } = self`).
fn destructured(file: &syn::File, field: &str) -> bool {
    struct Finder<'f>(&'f str, bool);
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_pat_struct(&mut self, p: &'ast syn::PatStruct) {
            self.1 |= p
                .fields
                .iter()
                .any(|f| matches!(&f.member, Member::Named(i) if i == self.0));
            syn::visit::visit_pat_struct(self, p);
        }
    }
    let mut f = Finder(field, false);
    f.visit_file(file);
    f.1
}

/// The mio case: a listener registered with a token no `match event.token()` arm handles.
fn mio_tokens(
    ctx: &Context<'_>,
    imports: &Imports,
    fns: &[Function<'_>],
    locals: &HashMap<usize, Vec<(String, Span)>>,
    fields: &[(Span, String, String, Span)],
    out: &mut Vec<Diagnostic>,
) {
    let matches = token_matches(ctx.file);
    if matches.is_empty() {
        return;
    }
    let consts = file_constants(ctx.file);
    let value = |e: &Expr| -> Option<String> {
        let e = match e {
            Expr::Path(p) if p.path.segments.len() == 1 => {
                consts.get(&p.path.segments[0].ident.to_string()).copied()?
            }
            e => e,
        };
        match e {
            Expr::Call(c)
                if c.args.len() == 1 && crate::rust::calls::path_ends_with(&c.func, &["Token"]) =>
            {
                Some(
                    ctx.source
                        .get(node_span(&c.args[0]).range())?
                        .trim()
                        .to_string(),
                )
            }
            _ => None,
        }
    };
    // What every arm of every token match names: identifiers, and values of `Token(n)` constants.
    let mut handled: HashSet<String> = HashSet::new();
    for m in &matches {
        for arm in &m.arms {
            for id in idents_in_pat(&arm.pat) {
                match consts.get(&id).and_then(|e| value(e)) {
                    Some(v) => {
                        handled.insert(format!("={v}"));
                    }
                    // A constant of another file (`use crate::tokens::LISTENER`): its value may
                    // be any token's, so every token counts as handled.
                    None if is_const_name(&id) => {
                        handled.insert(ANY.to_string());
                    }
                    None => {}
                }
                handled.insert(id);
            }
            let text: String = ctx
                .source
                .get(node_span(&arm.pat).range())
                .unwrap_or("")
                .split_whitespace()
                .collect();
            for (i, _) in text.match_indices("Token(") {
                if let Some(end) = text[i..].find(')') {
                    handled.insert(format!("={}", &text[i + 6..i + end]));
                }
            }
        }
    }
    handled.extend(compared_idents(ctx.file));
    for (i, f) in fns.iter().enumerate().filter(|(_, f)| !f.is_test) {
        let mut targets: Vec<(Target, String)> = locals
            .get(&i)
            .into_iter()
            .flatten()
            .map(|(n, _)| (Target::Local(n.clone()), format!("`{n}`")))
            .collect();
        targets.extend(
            fields
                .iter()
                .map(|(_, _, field, _)| (Target::Field(field.clone()), format!("`self.{field}`"))),
        );
        for (target, shown) in targets {
            for u in uses(imports, f.block, &target) {
                let UseKind::Argument {
                    callee, index: 0, ..
                } = &u.kind
                else {
                    continue;
                };
                if !callee.named(&["register", "reregister"]) {
                    continue;
                }
                let Some(token) = register_token(f.block, u.context) else {
                    continue;
                };
                let name = match &token {
                    Expr::Path(p) if p.path.segments.len() == 1 => {
                        Some(p.path.segments[0].ident.to_string())
                    }
                    _ => None,
                };
                let known = name.as_ref().is_some_and(|n| handled.contains(n))
                    || value(&token).is_some_and(|v| handled.contains(&format!("={v}")));
                if known || handled.contains(ANY) || (name.is_none() && value(&token).is_none()) {
                    continue;
                }
                // A listener also accepted outside every token match is served regardless of tokens.
                let accepted_elsewhere = uses_in_file(imports, fns, &target).iter().any(|a| matches!(&a.kind, UseKind::Receiver { method } if ACCEPTING.contains(&method.as_str())) && !matches.iter().any(|m| contains(node_span(*m), a.span)));
                if accepted_elsewhere {
                    continue;
                }
                let written = ctx
                    .source
                    .get(node_span(&token).range())
                    .unwrap_or("token")
                    .to_string();
                out.push(
                    Diagnostic::new(&LISTENER_NEVER_ACCEPTED, Location::new(0, node_span(&token)), format!("listener {shown} is registered with token `{written}`, but no `match` on event tokens handles `{written}`"))
                        .primary_label(format!("the listener's readiness events carry `{written}`"))
                        .label(Location::new(0, node_span(&*matches[0].expr)), format!("no arm of this match handles `{written}`, so new connections are never accepted"))
                        .note(NOTE)
                        .help(format!("add an arm for `{written}` that accepts until `WouldBlock`, or register the listener with the token the event loop expects")),
                );
            }
        }
    }
}

/// Stands for every token in the set of handled ones.
const ANY: &str = "=*";

/// A SCREAMING_CASE name: a constant, in a pattern.
fn is_const_name(id: &str) -> bool {
    id.len() > 1
        && id.starts_with(|c: char| c.is_ascii_uppercase())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The token argument of the `register`/`reregister` call at `call`.
fn register_token(block: &Block, call: Span) -> Option<Expr> {
    struct Finder(Span, Option<Expr>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            if node_span(m) == self.0 && m.args.len() >= 2 {
                self.1 = Some(through_access(&m.args[1]).clone());
            }
            syn::visit::visit_expr_method_call(self, m);
        }
    }
    let mut f = Finder(call, None);
    f.visit_block(block);
    f.1
}

/// Identifiers compared with `==`/`!=` anywhere in the file, or named in a `matches!`-like macro:
/// a token tested that way is handled.
fn compared_idents(file: &syn::File) -> Vec<String> {
    struct Finder(Vec<String>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_binary(&mut self, b: &'ast syn::ExprBinary) {
            if matches!(b.op, syn::BinOp::Eq(_) | syn::BinOp::Ne(_)) {
                self.0.extend(idents_in_expr(&b.left));
                self.0.extend(idents_in_expr(&b.right));
            }
            syn::visit::visit_expr_binary(self, b);
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            if !m
                .path
                .segments
                .last()
                .is_some_and(|s| is_print_macro(&s.ident.to_string()))
            {
                self.0.extend(idents_in_macro(m));
            }
        }
    }
    let mut f = Finder(Vec::new());
    f.visit_file(file);
    f.0
}

// ---------------------------------------------------------------------------------------------
// An accept loop that ends on its first error while another owner keeps the listener open

const ACCEPT_EXIT_NOTE: &str = "accept() fails transiently, and exactly under load: EMFILE/ENFILE when the process runs out of file descriptors, ECONNABORTED when a client resets before it is accepted, ENOBUFS/ENOMEM; when such an error ends the loop, the listener is not closed, because another owner still holds it, so the kernel keeps completing handshakes into the backlog: clients send their request and wait, and when they give up, their connections sit in CLOSE_WAIT until the process exits";

/// A shared listener's accept loop, in a spawned task or in a `&self` method that one runs,
/// that leaves on an accept error while the listener stays open elsewhere.
fn accept_exits(fns: &[Function<'_>], out: &mut Vec<Diagnostic>) {
    // `&self` methods whose accept loop on `self.<field>` leaves on an error, by name.
    let methods: HashMap<String, (Span, Span, String)> = fns
        .iter()
        .filter(|f| !f.is_test && borrows_self(f))
        .filter_map(|f| {
            let (exit, accept, field) =
                exits_on_error(Body::Block(f.block), &|e| self_field(e).is_some())?;
            Some((f.name.clone(), (exit, accept, field?)))
        })
        .collect();
    for f in fns.iter().filter(|f| !f.is_test) {
        let mut shared: Vec<(String, Share)> = shared_names(f.block).into_iter().collect();
        shared.sort_by_key(|(_, share)| share.made.start);
        if shared.is_empty() {
            continue;
        }
        let mut spawns = Spawns(Vec::new());
        spawns.visit_block(f.block);
        for (spawn, arg) in spawns.0 {
            let Some(body) = task_body(arg) else { continue };
            let captured = mentions(body);
            for (clone, share) in &shared {
                if !captured.iter().any(|(n, _)| n == clone) {
                    continue;
                }
                let is_clone = |e: &Expr| local_name(e).as_deref() == Some(clone.as_str());
                let found = match exits_on_error(body, &is_clone) {
                    Some((exit, accept, _)) => Some((exit, accept, format!("`{clone}`"))),
                    _ => runs_method(body, clone, &methods)
                        .map(|(exit, accept, field)| (exit, accept, format!("`self.{field}`"))),
                };
                let Some((exit, accept, shown)) = found else {
                    continue;
                };
                let owner = &share.owner;
                let mut d = Diagnostic::new(&LISTENER_NEVER_ACCEPTED, Location::new(0, exit), format!("the accept loop on {shown} ends on the first accept error, but the listener stays open"))
                    .primary_label("an accept error leaves the loop here")
                    .label(Location::new(0, accept), "connections are accepted here");
                if owner.starts_with("self.") {
                    d = d.label(
                        Location::new(0, share.made),
                        format!("`{clone}` is a clone of `{owner}`, which stays in the struct"),
                    );
                } else if let Some(at) = keeps_running(f, node_span(arg))
                    .filter(|at| !dropped_between(f.block, owner, node_span(arg).end, at.start))
                {
                    d = d
                        .label(
                            Location::new(0, share.made),
                            format!("`{clone}` is a clone of `{owner}`"),
                        )
                        .label(
                            Location::new(0, at),
                            format!("`{}` keeps running here and still holds `{owner}`", f.name),
                        );
                } else {
                    continue;
                }
                out.push(
                    d.label(Location::new(0, spawn), "the accept loop runs in this task")
                        .note(ACCEPT_EXIT_NOTE)
                        .help("log the error and keep accepting (pause briefly on EMFILE/ENFILE), or make the loop the listener's only owner (move it in, no `Arc`), so that it is closed when the loop ends"),
                );
            }
        }
    }
}

/// The code a spawned closure or async block runs (`move` ones only: others borrow).
fn task_body(arg: &Expr) -> Option<Body<'_>> {
    match arg {
        Expr::Closure(c) if c.capture.is_some() => Some(match &*c.body {
            Expr::Async(a) => Body::Block(&a.block),
            e => Body::Expr(e),
        }),
        Expr::Async(a) if a.capture.is_some() => Some(Body::Block(&a.block)),
        _ => None,
    }
}

/// A name that shares a value with another owner.
struct Share {
    /// The other owner: a local `Arc` or `self.<field>`.
    owner: String,
    /// The `let` that makes the clone.
    made: Span,
}

/// `let c = a.clone()` / `Arc::clone(&a)` where `a = Arc::new(..)` in the same body, or
/// `let c = self.field.clone()`: the clone's name and what it shares.
fn shared_names(block: &Block) -> HashMap<String, Share> {
    struct Finder {
        /// Names bound to `Arc::new(..)`.
        arcs: HashSet<String>,
        out: HashMap<String, Share>,
    }
    impl<'ast> Visit<'ast> for Finder {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_local(&mut self, l: &'ast syn::Local) {
            let name = match &l.pat {
                Pat::Ident(i) => Some(i.ident.to_string()),
                Pat::Type(t) => match &*t.pat {
                    Pat::Ident(i) => Some(i.ident.to_string()),
                    _ => None,
                },
                _ => None,
            };
            if let (Some(name), Some(init)) = (name, &l.init) {
                fn arc<'e>(e: &'e Expr, method: &str) -> Option<&'e Expr> {
                    match e {
                        Expr::Call(c) if c.args.len() == 1 => {
                            path_ends_with(&c.func, &["Arc", method]).then(|| &c.args[0])
                        }
                        _ => None,
                    }
                }
                let value = crate::rust::sockets::through_wrappers(&init.expr);
                let cloned = match value {
                    Expr::MethodCall(m) if m.method == "clone" && m.args.is_empty() => {
                        Some(through_access(&m.receiver))
                    }
                    e => arc(e, "clone").map(through_access),
                };
                if arc(value, "new").is_some() {
                    self.arcs.insert(name.clone());
                }
                let owner = cloned.and_then(|e| match (local_name(e), self_field(e)) {
                    (Some(a), _) => self.arcs.contains(&a).then_some(a),
                    (None, Some(field)) => Some(format!("self.{field}")),
                    _ => None,
                });
                if let Some(owner) = owner {
                    let made = node_span(l);
                    self.out.insert(name, Share { owner, made });
                }
            }
            syn::visit::visit_local(self, l);
        }
    }
    let mut f = Finder {
        arcs: HashSet::new(),
        out: HashMap::new(),
    };
    f.visit_block(block);
    f.out
}

/// `self.field` (through `&`, `as_ref()`...): the field's name.
fn self_field(e: &Expr) -> Option<String> {
    match through_access(e) {
        Expr::Field(f) if local_name(&f.base).as_deref() == Some("self") => match &f.member {
            Member::Named(i) => Some(i.to_string()),
            Member::Unnamed(_) => None,
        },
        _ => None,
    }
}

/// Whether a method takes `&self` (the struct, and its listener, stay with the caller).
fn borrows_self(f: &Function<'_>) -> bool {
    matches!(f.sig.inputs.first(), Some(syn::FnArg::Receiver(r)) if matches!(r.kind, syn::ReceiverKind::Reference(..)))
}

/// `clone.method(..)` in a task body for one of `methods`.
fn runs_method(
    body: Body<'_>,
    clone: &str,
    methods: &HashMap<String, (Span, Span, String)>,
) -> Option<(Span, Span, String)> {
    struct Finder<'m>(
        &'m str,
        &'m HashMap<String, (Span, Span, String)>,
        Option<(Span, Span, String)>,
    );
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            if local_name(through_access(&m.receiver)).as_deref() == Some(self.0) {
                if let Some(found) = self.1.get(&m.method.to_string()) {
                    self.2.get_or_insert(found.clone());
                }
            }
            syn::visit::visit_expr_method_call(self, m);
        }
    }
    let mut f = Finder(clone, methods, None);
    body.visit(&mut f);
    f.2
}

/// Where a loop in `body` leaves on an accept error of the listener `is_listener` recognises:
/// `listener.accept()?` (or `.await?`, `unwrap()`, `expect(..)`), a `match` on the accept
/// whose `Err` arm breaks or returns, `while let Ok(..) = listener.accept()`, or `let s = s?`
/// in `for s in listener.incoming()`. Returns the exit, the accept call and the field name
/// when the listener is `self.<field>`.
fn exits_on_error(
    body: Body<'_>,
    is_listener: &dyn Fn(&Expr) -> bool,
) -> Option<(Span, Span, Option<String>)> {
    struct Finder<'p> {
        is_listener: &'p dyn Fn(&Expr) -> bool,
        loops: usize,
        /// Names bound to the items of `incoming()` by an enclosing `for`.
        items: Vec<(String, Span, Option<String>)>,
        found: Option<(Span, Span, Option<String>)>,
    }
    impl Finder<'_> {
        /// The accept call `e` is (through `.await` and parentheses) on the listener.
        fn accept(&self, e: &Expr, methods: &[&str]) -> Option<(Span, Option<String>)> {
            let mut e = e;
            while let Expr::Await(a) = e {
                e = &a.base;
            }
            match e {
                Expr::Paren(p) => self.accept(&p.expr, methods),
                Expr::MethodCall(m)
                    if methods.iter().any(|w| m.method == w)
                        && (self.is_listener)(through_access(&m.receiver)) =>
                {
                    Some((method_span(m), self_field(&m.receiver)))
                }
                _ => None,
            }
        }
        fn hit(&mut self, exit: Span, (accept, field): (Span, Option<String>)) {
            if self.loops > 0 {
                self.found.get_or_insert((exit, accept, field));
            }
        }
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_expr_try(&mut self, t: &'ast syn::ExprTry) {
            if let Some(a) = self.accept(&t.expr, &["accept"]) {
                self.hit(span_of(t.question_token.span), a);
            } else if let Some((_, accept, field)) =
                local_name(&t.expr).and_then(|n| self.items.iter().find(|(i, ..)| *i == n).cloned())
            {
                self.hit(span_of(t.question_token.span), (accept, field));
            }
            syn::visit::visit_expr_try(self, t);
        }
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            if m.method == "unwrap" || m.method == "expect" {
                if let Some(a) = self.accept(&m.receiver, &["accept"]) {
                    self.hit(method_span(m), a);
                }
            }
            syn::visit::visit_expr_method_call(self, m);
        }
        fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
            let item = local_name(&m.expr)
                .and_then(|n| self.items.iter().find(|(i, ..)| *i == n).cloned())
                .map(|(_, accept, field)| (accept, field));
            if let Some(a) = self.accept(&m.expr, &["accept"]).or(item) {
                let err_exits = m.arms.iter().find(|arm| {
                    matches!(&arm.pat, Pat::TupleStruct(t) if t.path.segments.last().is_some_and(|s| s.ident == "Err"))
                        && has_exit(Body::Expr(&arm.body), None)
                });
                if let Some(arm) = err_exits {
                    self.hit(node_span(&arm.pat), a);
                }
            }
            syn::visit::visit_expr_match(self, m);
        }
        fn visit_expr_while(&mut self, w: &'ast syn::ExprWhile) {
            self.loops += 1;
            if let Expr::Let(l) = &*w.cond {
                let ok = matches!(&*l.pat, Pat::TupleStruct(t) if t.path.segments.last().is_some_and(|s| s.ident == "Ok"));
                if let (true, Some(a)) = (ok, self.accept(&l.expr, &["accept"])) {
                    self.hit(node_span(&*l.pat), a);
                }
            }
            syn::visit::visit_expr_while(self, w);
            self.loops -= 1;
        }
        fn visit_expr_loop(&mut self, l: &'ast syn::ExprLoop) {
            self.loops += 1;
            syn::visit::visit_expr_loop(self, l);
            self.loops -= 1;
        }
        fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
            self.loops += 1;
            let pushed = match (&*f.pat, self.accept(&f.expr, &["incoming"])) {
                (Pat::Ident(i), Some((accept, field))) => {
                    self.items.push((i.ident.to_string(), accept, field));
                    true
                }
                _ => false,
            };
            syn::visit::visit_expr_for_loop(self, f);
            if pushed {
                self.items.pop();
            }
            self.loops -= 1;
        }
    }
    let mut f = Finder {
        is_listener,
        loops: 0,
        items: Vec::new(),
        found: None,
    };
    body.visit(&mut f);
    f.found
}

/// Where a function keeps running after the task spawned with `task` (a loop, an `.await`), so
/// that what it holds stays alive after the task has ended. Waiting for the task itself (its
/// handle awaited, `spawn(..).await`) or joining threads (`.join()`, a `for` loop that joins)
/// ends when the tasks end, and does not count.
fn keeps_running(f: &Function<'_>, task: Span) -> Option<Span> {
    /// The name the spawn's handle is bound to: `let h = thread::spawn(..)`.
    struct Handle(Span, Option<String>);
    impl<'ast> Visit<'ast> for Handle {
        fn visit_local(&mut self, l: &'ast syn::Local) {
            if let (Pat::Ident(i), Some(init)) = (&l.pat, &l.init) {
                if contains(node_span(&*init.expr), self.0) {
                    self.1 = Some(i.ident.to_string());
                }
            }
            syn::visit::visit_local(self, l);
        }
    }
    struct Finder(Span, Option<String>, Option<Span>);
    impl Finder {
        /// Whether `e` is the spawned task itself: its handle, or the spawn call.
        fn is_task(&self, e: &Expr) -> bool {
            let e = crate::rust::sockets::through_wrappers(e);
            contains(node_span(e), self.0)
                || local_name(e).is_some_and(|n| Some(&n) == self.1.as_ref())
        }
    }
    impl<'ast> Visit<'ast> for Finder {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_expr(&mut self, e: &'ast Expr) {
            let at = match e {
                Expr::Loop(l) => Some(span_of(l.loop_token.span)),
                Expr::While(w) => Some(span_of(w.while_token.span)),
                Expr::ForLoop(l) if !joins(&l.body) => Some(span_of(l.for_token.span)),
                Expr::Await(a) if !self.is_task(&a.base) => Some(span_of(a.await_token.span)),
                _ => None,
            };
            if let Some(at) = at.filter(|at| at.start >= self.0.end) {
                self.2.get_or_insert(at);
            }
            syn::visit::visit_expr(self, e);
        }
    }
    fn joins(body: &Block) -> bool {
        struct Joins(bool);
        impl<'ast> Visit<'ast> for Joins {
            fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
                self.0 |= m.method == "join";
                syn::visit::visit_expr_method_call(self, m);
            }
        }
        let mut j = Joins(false);
        j.visit_block(body);
        j.0
    }
    let mut handle = Handle(task, None);
    handle.visit_block(f.block);
    let mut finder = Finder(task, handle.1, None);
    finder.visit_block(f.block);
    finder.2
}

/// Whether `drop(name)` is called between `from` and `to`: the spawner lets go of its owner
/// before it keeps running, and the task is the last one.
fn dropped_between(block: &Block, name: &str, from: u32, to: u32) -> bool {
    struct Finder<'n>(&'n str, u32, u32, bool);
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            let at = node_span(c).start;
            self.3 |= path_ends_with(&c.func, &["drop"])
                && c.args.len() == 1
                && local_name(&c.args[0]).as_deref() == Some(self.0)
                && (self.1..self.2).contains(&at);
            syn::visit::visit_expr_call(self, c);
        }
    }
    let mut f = Finder(name, from, to, false);
    f.visit_block(block);
    f.3
}
