//! What a task that owns a connection waits on that the peer's close cannot end
//! (`blocked-while-owning`): `pending()`, a loop on a channel whose sender the task holds
//! itself, a `select!` loop whose read branch ignores end of stream.

use std::collections::HashMap;

use nginx_parser::Span;
use syn::visit::Visit;
use syn::{Block, Expr, Pat, Stmt};

use crate::rust::flow::ownership::{pat_idents, Kills, Lifetimes};
use crate::rust::flow::select::{branches, is_select};
use crate::rust::flow::tasks::{has_exit, local_name, mentions, Body};
use crate::rust::model::sockets::{
    contains, method_span, strip_pat_type, through_access, through_wrappers, Imports,
};
use crate::rust::node_span;
use crate::rust::syntax::calls::path_segments;
use crate::rust::syntax::patterns::{is_none, is_ok_zero, variant};

/// A wait found in a task body, before the ownership checks.
pub(crate) enum Found {
    Pending,
    /// A loop on `rx.recv()` (or `for m in rx`) with no way out: the receiver's name.
    RecvLoop(String, String),
    /// A `select!` directly in a `loop` that has no way out besides the macro's branches.
    Select(syn::Macro),
}

/// The waits of a task body (its own code: closures and async blocks inside run elsewhere,
/// unless the task awaits them itself).
#[derive(Default)]
pub(crate) struct Waits<'a> {
    /// (primary span, position, what).
    pub(crate) found: Vec<(Span, u32, Found)>,
    /// What each local was bound to: a future bound now may be awaited later.
    bound: HashMap<String, &'a Expr>,
}

impl<'a> Waits<'a> {
    /// What an awaited expression runs in this task: `pending()` itself, a local bound to it, a
    /// pinned, boxed or fused one, an `async` block (run here, so its waits are this task's), or
    /// a `match`/`if` with an arm that is one of these.
    fn awaited(&mut self, e: &'a Expr, depth: usize) -> bool {
        if depth > 4 {
            return false;
        }
        match through_access(e) {
            Expr::Call(c) if is_pending(&c.func) => true,
            Expr::Call(c) if c.args.len() == 1 && is_future_wrapper(&c.func) => {
                self.awaited(&c.args[0], depth + 1)
            }
            Expr::MethodCall(m)
                if m.args.is_empty()
                    && matches!(
                        m.method.to_string().as_str(),
                        "boxed" | "boxed_local" | "fuse"
                    ) =>
            {
                self.awaited(&m.receiver, depth + 1)
            }
            e @ Expr::Path(_) => match local_name(e).and_then(|n| self.bound.get(&n).copied()) {
                Some(init) => self.awaited(init, depth + 1),
                None => false,
            },
            Expr::Async(a) => {
                self.visit_block(&a.block);
                false
            }
            Expr::Block(b) => b.block.stmts.last().is_some_and(|s| match s {
                Stmt::Expr(e, None) => self.awaited(e, depth + 1),
                _ => false,
            }),
            Expr::Match(m) => {
                let arms: Vec<bool> = m
                    .arms
                    .iter()
                    .map(|a| self.awaited(&a.body, depth + 1))
                    .collect();
                arms.contains(&true)
            }
            Expr::If(i) => {
                let then = i.then_branch.stmts.last().is_some_and(|s| match s {
                    Stmt::Expr(e, None) => self.awaited(e, depth + 1),
                    _ => false,
                });
                let other = i
                    .else_branch
                    .as_ref()
                    .is_some_and(|(_, e)| self.awaited(e, depth + 1));
                then || other
            }
            _ => false,
        }
    }
}

/// Calls that wrap a future without changing when it ends: `Box::pin(f)`, `Either::Left(f)`.
fn is_future_wrapper(func: &Expr) -> bool {
    path_segments(func).is_some_and(|segs| {
        matches!(
            segs.iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            [.., "Box", "pin"] | [.., "Either", "Left" | "Right"] | ["Left" | "Right"]
        )
    })
}

impl<'a> Visit<'a> for Waits<'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
    fn visit_local(&mut self, l: &'a syn::Local) {
        if let (Pat::Ident(p), Some(init)) = (strip_pat_type(&l.pat), &l.init) {
            self.bound.insert(p.ident.to_string(), &init.expr);
        }
        syn::visit::visit_local(self, l);
    }
    fn visit_expr_await(&mut self, a: &'a syn::ExprAwait) {
        if self.awaited(&a.base, 0) {
            let at = node_span(a);
            self.found.push((at, at.start, Found::Pending));
        }
        syn::visit::visit_expr_await(self, a);
    }
    fn visit_expr_while(&mut self, w: &'a syn::ExprWhile) {
        if let Expr::Let(l) = &*w.cond {
            if let Expr::MethodCall(m) = through_wrappers(&l.expr) {
                let recv = ["recv", "blocking_recv", "recv_async"]
                    .iter()
                    .any(|r| m.method == r);
                if let (true, Some(rx)) = (recv, local_name(through_access(&m.receiver))) {
                    if !has_exit(Body::Block(&w.body), None) {
                        let at = method_span(m);
                        let shown = format!("{rx}.{}()", m.method);
                        self.found.push((at, at.start, Found::RecvLoop(rx, shown)));
                    }
                }
            }
        }
        syn::visit::visit_expr_while(self, w);
    }
    fn visit_expr_for_loop(&mut self, f: &'a syn::ExprForLoop) {
        let rx = match through_access(&f.expr) {
            Expr::MethodCall(m)
                if m.args.is_empty() && (m.method == "iter" || m.method == "into_iter") =>
            {
                local_name(through_access(&m.receiver))
            }
            e => local_name(e),
        };
        if let Some(rx) = rx.filter(|_| !has_exit(Body::Block(&f.body), None)) {
            let at = node_span(&*f.expr);
            let shown = format!("for .. in {rx}");
            self.found.push((at, at.start, Found::RecvLoop(rx, shown)));
        }
        syn::visit::visit_expr_for_loop(self, f);
    }
    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        // The loop's own statements, one by one: a `select!` among them is judged without
        // counting its own branches as the loop's way out.
        for stmt in &l.body.stmts {
            let mac = match stmt {
                Stmt::Macro(m) => Some(&m.mac),
                Stmt::Expr(Expr::Macro(m), _) => Some(&m.mac),
                _ => None,
            };
            match mac {
                Some(mac) if is_select(mac) => {
                    if !has_exit(Body::Block(&l.body), Some(node_span(mac))) {
                        let at = node_span(mac);
                        self.found.push((at, at.start, Found::Select(mac.clone())));
                    }
                }
                _ => self.visit_stmt(stmt),
            }
        }
    }
}

/// `std::future::pending`, `core::future::pending`, `futures::future::pending` as written
/// (`pending()`, `future::pending::<()>()`).
fn is_pending(func: &Expr) -> bool {
    let Some(segs) = path_segments(func).filter(|_| matches!(func, Expr::Path(_))) else {
        return false;
    };
    match segs.as_slice() {
        [.., last] if last != "pending" => false,
        [_] => true,
        [.., module, _] => module == "future",
        [] => false,
    }
}

/// Functions that make an mpsc channel, whose receiver ends only when every sender is gone.
const CHANNELS: &[&str] = &[
    "channel",
    "unbounded_channel",
    "sync_channel",
    "unbounded",
    "bounded",
];

/// The sender the task holds of the channel whose receiver `rx` it loops on at `pos`: created
/// with it by `let (tx, rx) = mpsc::channel(..)`, held by the task (created in it or moved into
/// it) and never moved elsewhere or dropped before the loop. The task is the expression
/// `task_whole` spans, running `task_body`.
pub(crate) fn own_sender(
    imports: &Imports,
    spawner: &Block,
    task_whole: Span,
    task_body: Body<'_>,
    rx: &str,
    pos: u32,
) -> Option<String> {
    struct Finder<'i>(&'i Imports, &'i str, Option<(Pat, u32)>);
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let (Pat::Tuple(t), Some(init)) = (&l.pat, &l.init) {
                let receiver = t.elems.iter().nth(1).and_then(|p| match p {
                    Pat::Ident(i) => Some(i.ident.to_string()),
                    _ => None,
                });
                if t.elems.len() == 2 && receiver.as_deref() == Some(self.1) {
                    if let Expr::Call(c) = through_wrappers(&init.expr) {
                        if is_channel(self.0, &c.func) {
                            self.2 = Some((t.elems[0].clone(), node_span(l).start));
                        }
                    }
                }
            }
            syn::visit::visit_local(self, l);
        }
    }
    let mut f = Finder(imports, rx, None);
    f.visit_block(spawner);
    let (Pat::Ident(tx), made_at) = f.2? else {
        return None; // `let (_, rx)`: the sender is dropped at once
    };
    let tx = tx.ident.to_string();
    let names = [tx.clone()];
    let in_task = contains(task_whole, Span::new(made_at as usize, made_at as usize));
    if !in_task && !mentions(task_body).iter().any(|(n, _)| *n == tx) {
        return None;
    }
    let mut kills = HashMap::new();
    let mut passed = Vec::new();
    let mut k = Kills {
        names: &names,
        inside: Some(task_whole),
        kills: &mut kills,
        passed: &mut passed,
    };
    k.visit_block(spawner);
    let moved = kills
        .get(&tx)
        .is_some_and(|&at| !contains(task_whole, Span::new(at as usize, at as usize)) || at < pos);
    (!moved).then_some(tx)
}

fn is_channel(imports: &Imports, func: &Expr) -> bool {
    imports.resolve_expr(func).iter().any(|c| {
        let last = c.last().map_or("", String::as_str);
        let first = c.first().map_or("", String::as_str);
        CHANNELS.contains(&last)
            && (c.iter().any(|s| s == "mpsc")
                || matches!(
                    first,
                    "crossbeam_channel" | "crossbeam" | "flume" | "async_channel"
                ))
    })
}

/// Reads whose future returns `Ok(0)` at EOF, and streams whose `next` returns `None`.
const READS: &[&str] = &["read", "read_buf", "read_line", "read_until"];
const NEXTS: &[(&str, &str)] = &[
    ("next", "None"),
    ("next_line", "Ok(None)"),
    ("try_next", "Ok(None)"),
];

/// The branch of a `select!` in an endless `loop` that reads the connection and does not end
/// the task at EOF: its future's span, the reader and what EOF returns.
pub(crate) fn select_ignores_eof(
    mac: &syn::Macro,
    life: &Lifetimes<'_>,
) -> Option<(Span, String, &'static str)> {
    let all = branches(mac.tokens.clone());
    let has_else = all.iter().any(|b| b.future.is_none() && b.pat.is_none());
    for b in &all {
        let (Some(pat), Some(future), Some(handler)) = (&b.pat, &b.future, &b.handler) else {
            continue;
        };
        let mut call = through_wrappers(future);
        while let Expr::MethodCall(m) = call {
            if m.method != "fuse" {
                break;
            }
            call = through_wrappers(&m.receiver);
        }
        let Expr::MethodCall(m) = call else { continue };
        let Some(reader) = life.owns(&m.receiver) else {
            continue;
        };
        let method = m.method.to_string();
        let eof = if READS.contains(&method.as_str()) {
            "Ok(0)"
        } else if let Some((_, eof)) = NEXTS.iter().find(|(n, _)| *n == method) {
            eof
        } else {
            continue;
        };
        let ends = match eof_path_exits(pat, handler, eof) {
            Some(exits) => exits,
            None => {
                has_exit(Body::Expr(handler), None)
                    || sees_eof(pat, handler)
                    || gives_away(pat, handler)
            }
        };
        if ends {
            continue;
        }
        // `Some(line) = lines.next()`: at EOF the branch is disabled and `select!` waits on the
        // others; with no other branch it panics, with `else` the task may end there.
        let refutable = matches!(pat, Pat::TupleStruct(t) if t.path.segments.last().is_some_and(|s| s.ident == "Some" || s.ident == "Ok"));
        if refutable && (has_else || all.len() < 2) {
            continue;
        }
        return Some((node_span(future), reader, eof));
    }
    None
}

/// Where the branch's handler sends the EOF value, when it says so exactly: whether that path
/// leaves the loop. `match res { Ok(0) => .., }`, `match msg { None => .., }`, an `if let` or
/// `let .. else` that only a `Some` passes (EOF takes the `else`). `None` when the handler has
/// no such form (the cruder checks decide).
fn eof_path_exits(pat: &Pat, handler: &Expr, eof: &str) -> Option<bool> {
    let Pat::Ident(bound) = strip_pat_type(pat) else {
        return None;
    };
    let is_bound = |e: &Expr| local_name(through_access(e)).is_some_and(|n| bound.ident == n);
    let exits = |b: Body<'_>| has_exit(b, None);
    // Only a `Some(..)` (or `Ok(Some(..))`) passes: EOF (`None`, `Ok(None)`) does not.
    let is = |p: &Pat, name: &str| variant(p).is_some_and(|(v, _)| v == name);
    let only_some = |p: &Pat| match (eof, variant(p)) {
        ("None", _) => is(p, "Some"),
        ("Ok(None)", Some((v, Some(inner)))) => v == "Ok" && is(inner, "Some"),
        _ => false,
    };
    let stmts: Vec<&Stmt> = match handler {
        Expr::Block(b) => b.block.stmts.iter().collect(),
        _ => Vec::new(),
    };
    let exprs = stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Expr(e, _) => Some(e),
            _ => None,
        })
        .chain((!matches!(handler, Expr::Block(_))).then_some(handler));
    for e in exprs {
        match e {
            Expr::Match(m) if is_bound(&m.expr) => {
                let arm = m.arms.iter().find(|a| is_eof_pat(&a.pat, eof))?;
                return Some(exits(Body::Expr(&arm.body)));
            }
            Expr::If(i) => {
                if let Expr::Let(l) = &*i.cond {
                    if is_bound(&l.expr) && only_some(&l.pat) {
                        return Some(
                            i.else_branch
                                .as_ref()
                                .is_some_and(|(_, e)| exits(Body::Expr(e))),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    for s in stmts {
        if let Stmt::Local(l) = s {
            if let (Some(init), Some((_, diverge))) =
                (&l.init, l.init.as_ref().and_then(|i| i.diverge.as_ref()))
            {
                if is_bound(&init.expr) && only_some(&l.pat) {
                    return Some(exits(Body::Expr(diverge)));
                }
            }
        }
    }
    None
}

/// Whether an arm's pattern is exactly the EOF value (`None`, `Ok(0)`, `Ok(None)`), alone or
/// in an or-pattern.
fn is_eof_pat(pat: &Pat, eof: &str) -> bool {
    match (pat, eof) {
        (Pat::Or(o), _) => o.cases.iter().any(|p| is_eof_pat(p, eof)),
        (p, "None") => is_none(p),
        (p, "Ok(None)") => {
            matches!(variant(p), Some((ok, Some(inner))) if ok == "Ok" && is_none(inner))
        }
        (p, "Ok(0)") => is_ok_zero(p),
        _ => false,
    }
}

/// Whether a branch looks at EOF itself: a `0` or `None` in its pattern or handler, or
/// `is_empty()` / `is_none()`.
fn sees_eof(pat: &Pat, handler: &Expr) -> bool {
    struct Finder(bool);
    impl<'a> Visit<'a> for Finder {
        fn visit_lit_int(&mut self, l: &'a syn::LitInt) {
            self.0 |= l.base10_digits() == "0";
        }
        fn visit_ident(&mut self, i: &'a proc_macro2::Ident) {
            self.0 |= i == "None" || i == "is_empty" || i == "is_none";
        }
    }
    let mut f = Finder(false);
    f.visit_pat(pat);
    f.visit_expr(handler);
    f.0
}

/// Whether the handler passes what the branch bound to a function (of the crate, say) that may
/// end the task on EOF in a way the analysis cannot see.
fn gives_away(pat: &Pat, handler: &Expr) -> bool {
    let mut bound = Vec::new();
    pat_idents(pat, &mut bound);
    struct Finder<'b>(&'b [String], bool);
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
            for arg in &c.args {
                let found = mentions(Body::Expr(arg));
                self.1 |= found.iter().any(|(n, _)| self.0.contains(n));
            }
            syn::visit::visit_expr_call(self, c);
        }
    }
    let mut f = Finder(&bound, false);
    f.visit_expr(handler);
    f.1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of the `pending()` waits found in a function body.
    fn pending_lines(body: &str) -> Vec<usize> {
        let block: Block = syn::parse_str(body).unwrap();
        let mut w = Waits::default();
        w.visit_block(&block);
        w.found
            .iter()
            .filter(|(_, _, f)| matches!(f, Found::Pending))
            .map(|(at, _, _)| body[..at.start as usize].lines().count())
            .collect()
    }

    #[test]
    fn pending_reached_through_names_wrappers_blocks_and_arms() {
        let body = "{
            let forever = pending::<()>();
            forever.await;
            Box::pin(pending::<()>()).await;
            let later = async { pending::<()>().await };
            later.await;
            let wait = match idle { Some(d) => sleep(d).boxed(), None => pending().boxed() };
            wait.await;
            tokio::time::timeout(d, pending::<()>()).await;
            let bounded = sleep(d);
            bounded.await;
            let unawaited = async { pending::<()>().await };
        }";
        // The async block's own wait is reported where it is written (line 5).
        assert_eq!(pending_lines(body), [3, 4, 5, 8]);
    }

    #[test]
    fn pending_spellings() {
        let callee = |src: &str| syn::parse_str::<Expr>(src).unwrap();
        assert!(is_pending(&callee("pending")));
        assert!(is_pending(&callee("std::future::pending::<()>")));
        assert!(is_pending(&callee("future::pending")));
        assert!(!is_pending(&callee("poll::pending")));
        assert!(!is_pending(&callee("pending_jobs")));
    }
}
