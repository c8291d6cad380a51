//! Spawned tasks and what their code mentions, shared by the rules that follow a value into a
//! task or thread (`blocked-while-owning`, `listener-never-accepted`): the spawn calls of a
//! function body, the body a spawned closure or async block runs, the names it mentions, and
//! whether a loop body can leave.

use nginx_parser::Span;
use proc_macro2::TokenTree;
use syn::visit::Visit;
use syn::{Block, Expr};

use crate::rust::{node_span, span_of};

/// The code of a task: a block (an async block, a function body) or an expression (a closure's
/// body, a spawned call).
#[derive(Clone, Copy)]
pub(crate) enum Body<'a> {
    Block(&'a Block),
    Expr(&'a Expr),
}

impl<'a> Body<'a> {
    pub(crate) fn visit<V: Visit<'a>>(self, v: &mut V) {
        match self {
            Body::Block(b) => v.visit_block(b),
            Body::Expr(e) => v.visit_expr(e),
        }
    }
}

/// Calls that run their argument as a task or a thread: `tokio::spawn`, `thread::spawn`,
/// `task::spawn_local`, `spawn_blocking`, `thread::Builder::new().spawn(..)`, `rt.spawn(..)`.
pub(crate) const SPAWNERS: &[&str] = &["spawn", "spawn_local", "spawn_blocking"];

/// Every spawn call of a function body: the spawner's name and the spawned argument.
pub(crate) struct Spawns<'a>(pub(crate) Vec<(Span, &'a Expr)>);

impl<'a> Visit<'a> for Spawns<'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        if let (Expr::Path(p), Some(arg)) = (&*c.func, c.args.first()) {
            if p.path
                .segments
                .last()
                .is_some_and(|s| SPAWNERS.iter().any(|w| s.ident == w))
            {
                self.0.push((node_span(&p.path), arg));
            }
        }
        syn::visit::visit_expr_call(self, c);
    }
    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        if m.args.len() == 1 && SPAWNERS.iter().any(|w| m.method == w) {
            self.0.push((span_of(m.method.span()), &m.args[0]));
        }
        syn::visit::visit_expr_method_call(self, m);
    }
}

/// The single-segment path named by `expr`, if it is one.
pub(crate) fn local_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            Some(p.path.segments[0].ident.to_string())
        }
        _ => None,
    }
}

/// Every identifier a body mentions (paths of one segment, macro tokens), with its position.
pub(crate) fn mentions(body: Body<'_>) -> Vec<(String, u32)> {
    struct Finder(Vec<(String, u32)>);
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_path(&mut self, p: &'a syn::ExprPath) {
            if let Some(name) = local_name(&Expr::Path(p.clone())) {
                self.0.push((name, node_span(p).start));
            }
        }
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            let mut stack = vec![m.tokens.clone()];
            while let Some(ts) = stack.pop() {
                for tt in ts {
                    match tt {
                        TokenTree::Ident(i) => {
                            self.0.push((i.to_string(), span_of(i.span()).start))
                        }
                        TokenTree::Group(g) => stack.push(g.stream()),
                        _ => {}
                    }
                }
            }
        }
    }
    let mut f = Finder(Vec::new());
    body.visit(&mut f);
    f.0.sort_by_key(|&(_, at)| at);
    f.0
}

/// The code a spawned closure or async block runs (`move` ones only: others borrow).
pub(crate) fn task_body(arg: &Expr) -> Option<Body<'_>> {
    match arg {
        Expr::Closure(c) if c.capture.is_some() => Some(match &*c.body {
            Expr::Async(a) => Body::Block(&a.block),
            e => Body::Expr(e),
        }),
        Expr::Async(a) if a.capture.is_some() => Some(Body::Block(&a.block)),
        _ => None,
    }
}

/// Whether a loop body (or a `select!` branch) can leave: `return`, a `break` of this loop
/// (unlabelled outside inner loops, or labelled), `panic!` and the like, `process::exit`, or
/// `break`/`return` in a macro's tokens (other than the macro at `skip`).
pub(crate) fn has_exit(body: Body<'_>, skip: Option<Span>) -> bool {
    struct Finder {
        depth: usize,
        skip: Option<Span>,
        found: bool,
    }
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
        fn visit_expr_return(&mut self, _: &'a syn::ExprReturn) {
            self.found = true;
        }
        fn visit_expr_break(&mut self, b: &'a syn::ExprBreak) {
            self.found |= self.depth == 0 || b.label.is_some();
        }
        fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
            self.depth += 1;
            syn::visit::visit_expr_loop(self, l);
            self.depth -= 1;
        }
        fn visit_expr_while(&mut self, w: &'a syn::ExprWhile) {
            self.depth += 1;
            syn::visit::visit_expr_while(self, w);
            self.depth -= 1;
        }
        fn visit_expr_for_loop(&mut self, f: &'a syn::ExprForLoop) {
            self.depth += 1;
            syn::visit::visit_expr_for_loop(self, f);
            self.depth -= 1;
        }
        fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
            self.found |= matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "exit"));
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            if Some(node_span(m)) == self.skip {
                return;
            }
            let name = m.path.segments.last().map(|s| s.ident.to_string());
            self.found |= matches!(
                name.as_deref(),
                Some("panic" | "unreachable" | "todo" | "unimplemented")
            );
            let mut stack = vec![m.tokens.clone()];
            while let Some(ts) = stack.pop() {
                for tt in ts {
                    match tt {
                        TokenTree::Ident(i) if i == "break" || i == "return" => self.found = true,
                        TokenTree::Group(g) => stack.push(g.stream()),
                        _ => {}
                    }
                }
            }
        }
    }
    let mut f = Finder {
        depth: 0,
        skip,
        found: false,
    };
    body.visit(&mut f);
    f.found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits() {
        let exit = |src: &str| {
            let block: Block = syn::parse_str(src).unwrap();
            has_exit(Body::Block(&block), None)
        };
        assert!(exit("{ if x { break; } }"));
        assert!(exit("{ return; }"));
        assert!(exit("{ panic!(\"no\") }"));
        assert!(exit("{ std::process::exit(1) }"));
        assert!(exit("{ tokio::select! { _ = a => break, } }"));
        assert!(exit("{ loop { break 'outer; } }"));
        assert!(!exit("{ loop { break; } }"));
        assert!(!exit("{ for x in y { if x { break } } }"));
        assert!(!exit("{ let f = || return 1; x?; }"));
    }
}
