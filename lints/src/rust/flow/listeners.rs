//! Where a function binds a listener and whether it keeps running with it open
//! (`listener-never-accepted`): `let` bindings of a listener constructor, listeners bound
//! straight into a struct field, the loop or `.await` after the binding, and struct patterns
//! that take a field out; and what each use of a listener does with it.

use nginx_parser::Span;
use syn::visit::Visit;
use syn::{Expr, Member, Pat};

use crate::rust::model::sockets::{
    is_print_macro, listener_ctor, socket2_ctor, Function, Imports, Use, UseKind,
};
use crate::rust::{node_span, span_of};

/// Listener bindings of one function: `let l = TcpListener::bind(..)?` (name, call span, whether
/// it is a socket2 `Socket` that must still be `listen`ed), and listeners bound straight into a
/// field (`Server { listener: TcpListener::bind(..)? }`, `self.listener = Some(..)`).
pub(crate) struct Binds<'i> {
    pub(crate) imports: &'i Imports,
    /// Name, bind call, end of the `let` statement, whether it is a socket2 `Socket`.
    pub(crate) locals: Vec<(String, Span, u32, bool)>,
    pub(crate) stored: Vec<(Span, String, String, Span)>,
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
    crate::rust::syntax::calls::unwrap_some(e).unwrap_or(e)
}

/// Where a function keeps running after the `let` that binds a listener (ending at `after`), with the listener still open: a
/// `loop`, a `while`, a `for` over connections (`incoming()`), an `.await` or a `.join()` after
/// it, in the function's own body (a closure or an async block runs elsewhere). A function that
/// binds and returns (a free-port probe) keeps nothing open. `None` too when the function
/// connects somewhere: binding and connecting without accepting is a client test's set-up.
pub(crate) fn kept_open(f: &Function<'_>, after: u32) -> Option<Span> {
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
                Expr::Call(c) => crate::rust::syntax::calls::path_ends_with(&c.func, &["connect"]),
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
pub(crate) fn destructured(file: &syn::File, field: &str) -> bool {
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

/// Methods that accept from a listener.
pub(crate) const ACCEPTING: &[&str] = &[
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

/// What one use of a listener does with it.
#[derive(PartialEq)]
pub(crate) enum Verdict {
    /// Accepted from, handed over, dropped or used in a way the analysis cannot follow.
    Handled,
    Neutral,
    Stored(Span, String, String),
}

pub(crate) fn verdict(u: &Use) -> Verdict {
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
