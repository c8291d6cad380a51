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
    contains, method_span, through_access, through_wrappers, Imports,
};
use crate::rust::node_span;
use crate::rust::syntax::calls::path_segments;

/// A wait found in a task body, before the ownership checks.
pub(crate) enum Found {
    Pending,
    /// A loop on `rx.recv()` (or `for m in rx`) with no way out: the receiver's name.
    RecvLoop(String, String),
    /// A `select!` directly in a `loop` that has no way out besides the macro's branches.
    Select(syn::Macro),
}

/// The waits of a task body (its own code: closures and async blocks inside run elsewhere).
#[derive(Default)]
pub(crate) struct Waits {
    /// (primary span, position, what).
    pub(crate) found: Vec<(Span, u32, Found)>,
}

impl<'a> Visit<'a> for Waits {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
    fn visit_expr_await(&mut self, a: &'a syn::ExprAwait) {
        if let Expr::Call(c) = through_parens(&a.base) {
            if is_pending(&c.func) {
                let at = node_span(a);
                self.found.push((at, at.start, Found::Pending));
            }
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

fn through_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
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
    life: &Lifetimes,
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
        if has_exit(Body::Expr(handler), None) || sees_eof(pat, handler) || gives_away(pat, handler)
        {
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
