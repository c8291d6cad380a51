//! What `stored-never-removed` asks of a container and a read: whether a local container
//! outlives the connections stored in it, whether the function returns it, which fields a
//! pattern takes out, the `match`es on reads inside loops, their `Ok(0)` and `Err` arms, and
//! what runs after a loop ends.

use std::collections::HashSet;

use nginx_parser::Span;
use syn::visit::{self, Visit};
use syn::{Block, Expr, Pat, Stmt};

use crate::rust::flow::summary::Container;
use crate::rust::model::sockets::contains;
use crate::rust::node_span;

/// Field names that some pattern of the file destructures (`let Server { conns, .. } = self`):
/// removals through the bound name are not followed back to the field.
pub(crate) fn destructured_fields(file: &syn::File) -> HashSet<String> {
    #[derive(Default)]
    struct Finder(HashSet<String>);
    impl<'a> Visit<'a> for Finder {
        fn visit_pat_struct(&mut self, p: &'a syn::PatStruct) {
            for f in &p.fields {
                if let syn::Member::Named(i) = &f.member {
                    self.0.insert(i.to_string());
                }
            }
            visit::visit_pat_struct(self, p);
        }
    }
    let mut f = Finder::default();
    f.visit_file(file);
    f.0
}

/// A local container that outlives the connections: bound before a loop that stores into it.
pub(crate) fn long_lived_local(block: &Block, name: &str, store: Span) -> bool {
    #[derive(Default)]
    struct Finder<'n> {
        name: &'n str,
        binding: Option<Span>,
        loops: Vec<Span>,
    }
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, l: &'a syn::Local) {
            let named = matches!(&l.pat, Pat::Ident(i) if i.ident == self.name)
                || matches!(&l.pat, Pat::Type(t) if matches!(&*t.pat, Pat::Ident(i) if i.ident == self.name));
            if named && self.binding.is_none() {
                self.binding = Some(node_span(l));
            }
            visit::visit_local(self, l);
        }
        fn visit_expr(&mut self, e: &'a Expr) {
            if matches!(e, Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_)) {
                self.loops.push(node_span(e));
            }
            visit::visit_expr(self, e);
        }
    }
    let mut f = Finder {
        name,
        ..Default::default()
    };
    f.visit_block(block);
    let Some(binding) = f.binding else {
        return false;
    };
    f.loops
        .iter()
        .any(|l| contains(*l, store) && !contains(*l, binding))
}

/// Whether the function's tail expression gives the container away.
pub(crate) fn returned(block: &Block, c: &Container) -> bool {
    let Container::Local(name) = c else {
        return false;
    };
    match block.stmts.last() {
        Some(Stmt::Expr(e, None)) => {
            crate::rust::flow::summary::root_name(e).as_deref() == Some(name)
        }
        _ => false,
    }
}

/// `match` expressions on a read (`read`, `try_read`, `recv`, `read_line`...), with the loops
/// around each, outermost first.
#[derive(Default)]
pub(crate) struct Reads<'a> {
    loops: Vec<Span>,
    pub(crate) found: Vec<(&'a syn::ExprMatch, Vec<Span>)>,
}

impl<'a> Visit<'a> for Reads<'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr_closure(&mut self, c: &'a syn::ExprClosure) {
        let outer = std::mem::take(&mut self.loops);
        visit::visit_expr_closure(self, c);
        self.loops = outer;
    }
    fn visit_expr(&mut self, e: &'a Expr) {
        let is_loop = matches!(e, Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_));
        if is_loop {
            self.loops.push(node_span(e));
        }
        if let Expr::Match(m) = e {
            if let Expr::MethodCall(call) = crate::rust::model::sockets::through_access(&m.expr) {
                let method = call.method.to_string();
                if method.contains("read") || method.contains("recv") {
                    self.found.push((m, self.loops.clone()));
                }
            }
        }
        visit::visit_expr(self, e);
        if is_loop {
            self.loops.pop();
        }
    }
}

/// Whether an arm leaves its loop with an unlabelled `break` (not one of a nested loop).
pub(crate) fn breaks(body: &Expr) -> bool {
    #[derive(Default)]
    struct Finder(bool, usize);
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr(&mut self, e: &'a Expr) {
            match e {
                Expr::Break(b) if self.1 == 0 && b.label.is_none() => self.0 = true,
                Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_) => {
                    self.1 += 1;
                    visit::visit_expr(self, e);
                    self.1 -= 1;
                    return;
                }
                _ => {}
            }
            visit::visit_expr(self, e);
        }
    }
    let mut f = Finder::default();
    f.visit_expr(body);
    f.0
}

/// The statements that run after the loop at `inner` ends: those after it in every block of
/// the function that contains it.
pub(crate) fn stmts_after(block: &Block, inner: Span) -> Vec<&Stmt> {
    struct Finder<'a> {
        inner: Span,
        out: Vec<&'a Stmt>,
    }
    impl<'a> Visit<'a> for Finder<'a> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_block(&mut self, b: &'a Block) {
            if contains(node_span(b), self.inner) {
                self.out.extend(
                    b.stmts
                        .iter()
                        .filter(|s| node_span(*s).start >= self.inner.end),
                );
            }
            visit::visit_block(self, b);
        }
    }
    let mut f = Finder {
        inner,
        out: Vec::new(),
    };
    f.visit_block(block);
    f.out
}
