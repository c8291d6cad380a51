//! Accept loops that leave on their first error, and who else holds the listener
//! (`listener-never-accepted`): `Arc` clones and clones of `self.<field>` moved into a task,
//! `&self` methods a task runs, where a loop leaves on an accept error, and whether the spawner
//! keeps running (and holding the listener) after the task is spawned.

use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::Visit;
use syn::{Block, Expr, Member, Pat};

use crate::rust::flow::tasks::{has_exit, local_name, task_body, Body, Spawns};
use crate::rust::model::sockets::{
    contains, is_fd_closing, is_raw_accept, method_span, through_access, Function, Imports,
};
use crate::rust::syntax::calls::path_ends_with;
use crate::rust::{node_span, span_of};

/// A name that shares a value with another owner.
pub(crate) struct Share {
    /// The other owner: a local `Arc` or `self.<field>`.
    pub(crate) owner: String,
    /// The `let` that makes the clone.
    pub(crate) made: Span,
}

/// `let c = a.clone()` / `Arc::clone(&a)` where `a = Arc::new(..)` in the same body, or
/// `let c = self.field.clone()`: the clone's name and what it shares.
pub(crate) fn shared_names(block: &Block) -> HashMap<String, Share> {
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
                let value = crate::rust::model::sockets::through_wrappers(&init.expr);
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
pub(crate) fn self_field(e: &Expr) -> Option<String> {
    match through_access(e) {
        Expr::Field(f) if local_name(&f.base).as_deref() == Some("self") => match &f.member {
            Member::Named(i) => Some(i.to_string()),
            Member::Unnamed(_) => None,
        },
        _ => None,
    }
}

/// Whether a method takes `&self` (the struct, and its listener, stay with the caller).
pub(crate) fn borrows_self(f: &Function<'_>) -> bool {
    matches!(f.sig.inputs.first(), Some(syn::FnArg::Receiver(r)) if matches!(r.kind, syn::ReceiverKind::Reference(..)))
}

/// `clone.method(..)` in a task body for one of `methods`.
pub(crate) fn runs_method(
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
pub(crate) fn exits_on_error(
    body: Body<'_>,
    is_listener: &dyn Fn(&Expr) -> bool,
) -> Option<(Span, Span, Option<String>)> {
    struct Finder<'p> {
        is_listener: &'p dyn Fn(&Expr) -> bool,
        loops: usize,
        /// Names bound to the items of `incoming()` by an enclosing `for`.
        items: Vec<(String, Span, Option<String>)>,
        /// Names bound to what a raw accept returned (`let c = libc::accept(fd, ..)`), tested
        /// for failure with `c < 0` / `c == -1`.
        raw: Vec<(String, Span)>,
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
                Expr::Unsafe(u) => match u.block.stmts.as_slice() {
                    [syn::Stmt::Expr(e, None)] => self.accept(e, methods),
                    _ => None,
                },
                Expr::MethodCall(m)
                    if methods.iter().any(|w| m.method == w)
                        && (self.is_listener)(through_access(&m.receiver)) =>
                {
                    Some((method_span(m), self_field(&m.receiver)))
                }
                // A raw listening descriptor: `accept(fd)`, `accept4(fd, flags)` (libc, nix).
                Expr::Call(c)
                    if methods.contains(&"accept")
                        && (path_ends_with(&c.func, &["accept"])
                            || path_ends_with(&c.func, &["accept4"]))
                        && c.args.first().is_some_and(|a| (self.is_listener)(a)) =>
                {
                    Some((node_span(c), None))
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
        fn visit_local(&mut self, l: &'ast syn::Local) {
            if let (Pat::Ident(i), Some(init)) = (&l.pat, &l.init) {
                if let Some((accept, None)) = self.accept(&init.expr, &["accept"]) {
                    self.raw.push((i.ident.to_string(), accept));
                }
            }
            syn::visit::visit_local(self, l);
        }
        fn visit_expr_if(&mut self, i: &'ast syn::ExprIf) {
            // `if c < 0 { return .. }` / `if c == -1 { break }` after a raw accept.
            if let Expr::Binary(b) = &*i.cond {
                let failed = match (&b.op, &*b.right) {
                    (syn::BinOp::Lt(_), Expr::Lit(l)) => {
                        matches!(&l.lit, syn::Lit::Int(n) if n.base10_digits() == "0")
                    }
                    (syn::BinOp::Eq(_), Expr::Unary(u)) => {
                        matches!(u.op, syn::UnOp::Neg(_))
                            && matches!(&*u.expr, Expr::Lit(l) if matches!(&l.lit, syn::Lit::Int(n) if n.base10_digits() == "1"))
                    }
                    _ => false,
                };
                let raw = local_name(&b.left)
                    .and_then(|n| self.raw.iter().find(|(r, _)| *r == n).cloned());
                if let (true, Some((_, accept))) = (failed, raw) {
                    if has_exit(Body::Block(&i.then_branch), None) {
                        self.hit(node_span(&*i.cond), (accept, None));
                    }
                }
            }
            syn::visit::visit_expr_if(self, i);
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
        raw: Vec::new(),
        found: None,
    };
    body.visit(&mut f);
    f.found
}

/// Where a function keeps running after the task spawned with `task` (a loop, an `.await`), so
/// that what it holds stays alive after the task has ended. Waiting for the task itself (its
/// handle awaited, `spawn(..).await`) or joining threads (`.join()`, a `for` loop that joins)
/// ends when the tasks end, and does not count.
pub(crate) fn keeps_running(f: &Function<'_>, task: Span) -> Option<Span> {
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
            let e = crate::rust::model::sockets::through_wrappers(e);
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
pub(crate) fn dropped_between(block: &Block, name: &str, from: u32, to: u32) -> bool {
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

/// Accept loops on a raw listening descriptor of `f` that leave on their first accept error:
/// `accept4(fd, ..)` whose `Err` arm breaks, in `f` or in a task it spawns. A raw fd is a number,
/// so leaving the loop closes nothing: unless `f` closes the descriptor, the listener stays
/// open with nobody accepting from it. Descriptors borrowed from an owner
/// (`let fd = listener.as_raw_fd()`) are left out: the owner closes them when it is dropped.
/// Returns the exit, the accept call and the descriptor's name.
pub(crate) fn raw_listener_exits(imports: &Imports, f: &Function<'_>) -> Vec<(Span, Span, String)> {
    struct Descriptors<'i> {
        imports: &'i Imports,
        accepted_from: Vec<String>,
        locals: HashSet<String>,
        borrowed: HashSet<String>,
        closed: HashSet<String>,
    }
    impl<'ast> Visit<'ast> for Descriptors<'_> {
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            let first = c.args.first().and_then(local_name);
            if is_raw_accept(self.imports, &c.func) {
                self.accepted_from.extend(first);
            } else if is_fd_closing(self.imports, &c.func) {
                self.closed.extend(c.args.iter().filter_map(local_name));
            }
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_local(&mut self, l: &'ast syn::Local) {
            if let Pat::Ident(i) = crate::rust::model::sockets::strip_pat_type(&l.pat) {
                let name = i.ident.to_string();
                let borrowed = l.init.as_ref().is_some_and(|init| {
                    matches!(&*init.expr, Expr::MethodCall(m) if m.method == "as_raw_fd" || m.method == "as_fd")
                });
                if borrowed {
                    self.borrowed.insert(name.clone());
                }
                self.locals.insert(name);
            }
            syn::visit::visit_local(self, l);
        }
    }
    let mut d = Descriptors {
        imports,
        accepted_from: Vec::new(),
        locals: HashSet::new(),
        borrowed: HashSet::new(),
        closed: HashSet::new(),
    };
    d.visit_block(f.block);
    if d.accepted_from.is_empty() {
        return Vec::new();
    }
    let mut spawns = Spawns(Vec::new());
    spawns.visit_block(f.block);
    let mut bodies = vec![Body::Block(f.block)];
    bodies.extend(spawns.0.iter().filter_map(|(_, arg)| task_body(arg)));
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for name in &d.accepted_from {
        let kept =
            d.locals.contains(name) && !d.borrowed.contains(name) && !d.closed.contains(name);
        if !kept || !seen.insert(name.clone()) {
            continue;
        }
        let is_listener = |e: &Expr| local_name(e).as_deref() == Some(name.as_str());
        for &body in &bodies {
            if let Some((exit, accept, _)) = exits_on_error(body, &is_listener) {
                out.push((exit, accept, name.clone()));
                break;
            }
        }
    }
    out
}
