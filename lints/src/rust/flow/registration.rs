//! What `stream-never-registered` asks of a function: which names are listeners (registered
//! listeners do not count for streams), the names that view a container's elements, and
//! whether a registration happens on only one branch of an `if` or `match` that stores on
//! every path, and where a function of the file that stores a stream it is given is called.

use std::collections::HashSet;

use nginx_parser::Span;
use syn::visit::{self, Visit};
use syn::{Block, Expr, Pat};

use crate::rust::flow::summary::{root_name, Container};
use crate::rust::model::sockets::{contains, listener_ctor, strip_pat_type, Function, Imports};
use crate::rust::node_span;

/// Whether a registered root name is a listener (bound from `TcpListener::bind`, or named
/// like one) or a waker.
pub(crate) fn is_listener(listeners: &HashSet<String>, name: &str) -> bool {
    let lower = name.to_lowercase();
    listeners.contains(name)
        || ["listener", "server", "acceptor", "waker"]
            .iter()
            .any(|w| lower.contains(w))
}

/// Names bound to a listener in a body: `let l = TcpListener::bind(..)`, `from_std(..)`.
pub(crate) fn listener_names(imports: &Imports, block: &Block) -> Vec<String> {
    struct Finder<'i> {
        imports: &'i Imports,
        out: Vec<String>,
    }
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let (Some(init), Pat::Ident(i)) = (&l.init, strip_pat_type(&l.pat)) {
                let from_std = matches!(crate::rust::model::sockets::through_wrappers(&init.expr),
                    Expr::Call(c) if matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "from_std")));
                if from_std || listener_ctor(self.imports, &init.expr).is_some() {
                    self.out.push(i.ident.to_string());
                }
            }
            visit::visit_local(self, l);
        }
    }
    let mut f = Finder {
        imports,
        out: Vec::new(),
    };
    f.visit_block(block);
    f.out
}

/// Names bound to an element of the container (`if let Some(c) = conns.get_mut(&t)`,
/// `for (t, c) in conns.iter_mut()`), plus the container's own name.
pub(crate) fn views(block: &Block, container: &Container) -> HashSet<String> {
    let base = match container {
        Container::Field(n) | Container::Static(n) | Container::Local(n) => n.clone(),
        Container::Param(_) => return HashSet::new(),
    };
    struct Finder {
        base: String,
        out: HashSet<String>,
    }
    impl Finder {
        fn bind(&mut self, pat: &Pat, init: &Expr) {
            if root_name(init).as_deref() == Some(self.base.as_str()) {
                let mut names = Vec::new();
                pat_names(pat, &mut names);
                self.out.extend(names);
            }
        }
    }
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let Some(init) = &l.init {
                self.bind(&l.pat, &init.expr);
            }
            visit::visit_local(self, l);
        }
        fn visit_expr_let(&mut self, l: &'a syn::ExprLet) {
            self.bind(&l.pat, &l.expr);
            visit::visit_expr_let(self, l);
        }
        fn visit_expr_for_loop(&mut self, f: &'a syn::ExprForLoop) {
            self.bind(&f.pat, &f.expr);
            visit::visit_expr_for_loop(self, f);
        }
    }
    let mut f = Finder {
        out: HashSet::from([base.clone()]),
        base,
    };
    f.visit_block(block);
    f.out
}

fn pat_names(pat: &Pat, out: &mut Vec<String>) {
    let mut f = Names(out);
    f.visit_pat(pat);
}

struct Names<'o>(&'o mut Vec<String>);

impl<'a> Visit<'a> for Names<'_> {
    fn visit_pat_ident(&mut self, i: &'a syn::PatIdent) {
        self.0.push(i.ident.to_string());
        visit::visit_pat_ident(self, i);
    }
}

/// The registration `reg` lies in one branch of an `if` / `match` that does not contain the
/// store: returns the registration and the branch (or the whole `if`, when it has no `else`)
/// on which the stream goes unregistered, unless that branch leaves (`return`, `continue`,
/// `break`, `?`, a panic).
pub(crate) fn only_on_branch(block: &Block, reg: Span, store: Span) -> Option<(Span, Span)> {
    struct Finder {
        reg: Span,
        store: Span,
        found: Option<(Span, Span)>,
    }
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
            let then = node_span(&i.then_branch);
            if contains(then, self.reg) && !contains(node_span(i), self.store) {
                let other = match &i.else_branch {
                    None => Some(node_span(&*i.cond)),
                    Some((_, e)) if !leaves(e) => Some(node_span(&**e)),
                    Some(_) => None,
                };
                if let Some(o) = other {
                    self.found = Some((self.reg, o));
                }
            }
            visit::visit_expr_if(self, i);
        }
        fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
            if !contains(node_span(m), self.store) {
                if let Some(arm) = m
                    .arms
                    .iter()
                    .find(|a| contains(node_span(&*a.body), self.reg))
                {
                    let _ = arm;
                    if let Some(other) = m
                        .arms
                        .iter()
                        .find(|a| !contains(node_span(&*a.body), self.reg) && !leaves(&a.body))
                    {
                        self.found = Some((self.reg, node_span(&other.pat)));
                    }
                }
            }
            visit::visit_expr_match(self, m);
        }
    }
    let mut f = Finder {
        reg,
        store,
        found: None,
    };
    f.visit_block(block);
    f.found
}

/// Whether a branch leaves the enclosing code instead of falling through to the store.
fn leaves(e: &Expr) -> bool {
    #[derive(Default)]
    struct Finder(bool);
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr(&mut self, e: &'a Expr) {
            match e {
                Expr::Return(_) | Expr::Continue(_) | Expr::Break(_) | Expr::Try(_) => {
                    self.0 = true
                }
                Expr::Macro(m)
                    if m.mac.path.segments.last().is_some_and(|s| {
                        matches!(
                            s.ident.to_string().as_str(),
                            "panic" | "unreachable" | "todo" | "unimplemented"
                        )
                    }) =>
                {
                    self.0 = true
                }
                _ => visit::visit_expr(self, e),
            }
        }
    }
    let mut f = Finder::default();
    f.visit_expr(e);
    f.0
}

/// The calls in `block` of the file's function `f`, by name as the file writes them (`f(..)`,
/// `Self::f(..)`, `self.f(..)` for a method), each with the argument given for `f`'s parameter
/// at `index` (counting `self`): the call's span and that argument.
pub(crate) fn calls_of<'a>(
    block: &'a syn::Block,
    f: &Function<'_>,
    index: usize,
) -> Vec<(Span, &'a Expr)> {
    struct Finder<'n, 'a> {
        name: &'n str,
        method: bool,
        index: usize,
        out: Vec<(Span, &'a Expr)>,
    }
    impl<'a> Visit<'a> for Finder<'_, 'a> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
            let named = crate::rust::syntax::calls::path_segments(&c.func).is_some_and(|s| match s
                .as_slice()
            {
                [n] => !self.method && n == self.name,
                [ty, n] => ty == "Self" && n == self.name,
                _ => false,
            });
            if let (true, Some(arg)) = (named, c.args.iter().nth(self.index)) {
                self.out.push((node_span(c), arg));
            }
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            let on_self = matches!(&*m.receiver, Expr::Path(p) if p.path.is_ident("self"));
            if self.method && on_self && m.method == self.name && self.index > 0 {
                if let Some(arg) = m.args.iter().nth(self.index - 1) {
                    self.out.push((node_span(m), arg));
                }
            }
            syn::visit::visit_expr_method_call(self, m);
        }
    }
    let method = matches!(f.sig.inputs.first(), Some(syn::FnArg::Receiver(_)));
    let mut finder = Finder {
        name: &f.name,
        method,
        index,
        out: Vec::new(),
    };
    finder.visit_block(block);
    finder.out
}
