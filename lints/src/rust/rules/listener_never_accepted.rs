use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::Visit;
use syn::{Block, Expr, Member, Pat};

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::calls::file_constants;
use crate::rust::sockets::{
    contains, functions, idents_in_expr, idents_in_macro, idents_in_pat, is_print_macro,
    listener_ctor, socket2_ctor, structs, through_access, token_matches, uses, uses_in_file,
    Function, Imports, Target, Use, UseKind,
};
use crate::rust::{node_span, span_of, Context};

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
    ///   that no arm of the file's `match event.token()` handles.
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
