//! Where code runs again and again, without types: once per request (route handlers, functions
//! and closures handed to a router or to `service_fn`, `Service::call`), once per loop iteration
//! (`for`, `while`, `loop`, a stream's `for_each`), or once at all (`static`s, `LazyLock::new`,
//! `OnceLock::get_or_init`).
//!
//! A file is walked once into nested regions (byte ranges); [`Regions::at`] then says where a
//! position is. Closures and async blocks belong to the code around them (a closure spawned in a
//! loop runs per iteration); a nested `fn` starts afresh.

use std::collections::HashSet;

use proc_macro2::{Span, TokenTree};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Attribute, Expr, ExprCall, ExprMethodCall, Meta};

use crate::rust::model::sockets::Imports;
use crate::rust::syntax::chains::{chain, strip};

/// Route attributes (`#[get("/")]`) and axum's routing functions (`get(handler)`).
const ROUTES: &[&str] = &[
    "get", "post", "put", "patch", "delete", "head", "options", "trace", "connect", "any", "route",
];
/// Methods whose closure runs once: `OnceLock::get_or_init(|| ..)`.
const ONCE: &[&str] = &[
    "get_or_init",
    "get_or_try_init",
    "get_or_insert_with",
    "call_once",
    "call_once_force",
];
/// Types whose `new(|| ..)` closure runs once.
const LAZY: &[&str] = &["LazyLock", "Lazy", "LazyCell", "OnceLock", "OnceCell"];
/// Stream methods whose closure runs per item.
const STREAM_LOOPS: &[&str] = &[
    "for_each",
    "for_each_concurrent",
    "try_for_each",
    "try_for_each_concurrent",
];

#[derive(Clone, Copy)]
enum Kind {
    Function,
    Handler(Span),
    Loop(Span),
    Once,
}

/// Where a position is.
#[derive(Clone, Copy, Default)]
pub struct Place {
    /// The request handler the position runs in, by the span naming it.
    pub handler: Option<Span>,
    /// The innermost loop of the enclosing function: an id unique in the file, and the keyword.
    pub in_loop: Option<(usize, Span)>,
    /// In code that runs once (a `static`, a lazy initialiser).
    pub once: bool,
}

pub struct Regions {
    /// (start, end, kind), in the order the walk entered them (outer before inner).
    regions: Vec<(usize, usize, Kind)>,
}

impl Regions {
    pub fn of(file: &syn::File, uses: &Imports, axum: bool, actix: bool) -> Regions {
        let mut names = Names {
            uses,
            axum,
            actix,
            handlers: HashSet::new(),
        };
        names.visit_file(file);
        let mut walk = Walk {
            names,
            service_impl: false,
            regions: Vec::new(),
        };
        walk.visit_file(file);
        Regions {
            regions: walk.regions,
        }
    }

    pub fn at(&self, offset: usize) -> Place {
        let mut place = Place::default();
        let inside = self
            .regions
            .iter()
            .enumerate()
            .filter(|(_, r)| r.0 <= offset && offset < r.1);
        for (id, &(_, _, kind)) in inside.collect::<Vec<_>>().into_iter().rev() {
            match kind {
                Kind::Loop(keyword) => {
                    place.in_loop = place.in_loop.or(Some((id, keyword)));
                    continue;
                }
                Kind::Handler(name) => place.handler = Some(name),
                Kind::Once => place.once = true,
                Kind::Function => {}
            }
            break;
        }
        place
    }
}

fn range(node: &impl Spanned) -> (usize, usize) {
    let r = node.span().byte_range();
    (r.start, r.end)
}

/// `#[get("/")]`, `#[actix_web::post("/x")]`, `#[route("/", method = "GET")]`.
fn is_route_attr(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        let Meta::List(list) = &a.meta else { return false };
        let route = list.path.segments.last().is_some_and(|s| ROUTES.contains(&s.ident.to_string().as_str()));
        route && matches!(list.tokens.clone().into_iter().next(), Some(TokenTree::Literal(l)) if l.to_string().starts_with('"'))
    })
}

fn last(expr: &Expr) -> Option<String> {
    match strip(expr) {
        Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// The functions a file hands to a router or to `service_fn`, by name.
struct Names<'u> {
    uses: &'u Imports,
    axum: bool,
    actix: bool,
    handlers: HashSet<String>,
}

impl Names<'_> {
    /// axum's `get(handler)`, also imported under another name (`get as route_get`), and not
    /// `reqwest::get`.
    fn is_route(&self, func: &Expr) -> bool {
        let paths = self.uses.resolve_expr(strip(func));
        let reqwest = paths
            .iter()
            .any(|c| c.first().is_some_and(|f| f == "reqwest"));
        self.axum
            && !reqwest
            && paths
                .iter()
                .any(|c| c.last().is_some_and(|l| ROUTES.contains(&l.as_str())))
    }

    /// Whether the arguments of this call are request handlers.
    fn takes_handler(&self, call: &ExprCall) -> bool {
        let name = last(&call.func).unwrap_or_default();
        name == "service_fn" || (self.actix && name == "to") || self.is_route(&call.func)
    }

    fn method_takes_handler(&self, call: &ExprMethodCall) -> bool {
        let method = call.method.to_string();
        let route_chain =
            matches!(chain(&call.receiver).0, Expr::Call(c) if self.is_route(&c.func));
        (self.actix && method == "to") || (route_chain && ROUTES.contains(&method.as_str()))
    }
}

impl<'a> Visit<'a> for Names<'_> {
    fn visit_expr_call(&mut self, call: &'a ExprCall) {
        if self.takes_handler(call) {
            self.handlers.extend(call.args.iter().filter_map(last));
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'a ExprMethodCall) {
        if self.method_takes_handler(call) {
            self.handlers.extend(call.args.iter().filter_map(last));
        }
        syn::visit::visit_expr_method_call(self, call);
    }
}

struct Walk<'u> {
    names: Names<'u>,
    service_impl: bool,
    regions: Vec<(usize, usize, Kind)>,
}

impl Walk<'_> {
    fn region(&mut self, node: &impl Spanned, kind: Kind) {
        let (start, end) = range(node);
        self.regions.push((start, end, kind));
    }

    fn function(
        &mut self,
        attrs: &[Attribute],
        ident: &syn::Ident,
        block: &syn::Block,
        call: bool,
    ) {
        let name = ident.to_string();
        let handler =
            is_route_attr(attrs) || self.names.handlers.contains(&name) || (call && name == "call");
        self.region(
            block,
            if handler {
                Kind::Handler(ident.span())
            } else {
                Kind::Function
            },
        );
    }

    /// Closures among `args` run as `kind` (a handler closure is named by the call it is given
    /// to: `service_fn`, `get`, `.to`).
    fn closures<'e>(&mut self, args: impl Iterator<Item = &'e Expr>, kind: Kind) {
        for arg in args {
            if let Expr::Closure(c) = arg {
                self.region(&c.body, kind);
            }
        }
    }
}

impl<'a> Visit<'a> for Walk<'_> {
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        self.function(&f.attrs, &f.sig.ident, &f.block, false);
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        self.function(&f.attrs, &f.sig.ident, &f.block, self.service_impl);
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_item_impl(&mut self, item: &'a syn::ItemImpl) {
        let outer = self.service_impl;
        let service = item.trait_.as_ref().and_then(|(p, _)| p.segments.last());
        self.service_impl = service.is_some_and(|s| s.ident == "Service");
        syn::visit::visit_item_impl(self, item);
        self.service_impl = outer;
    }

    fn visit_item_static(&mut self, s: &'a syn::ItemStatic) {
        self.region(&s.expr, Kind::Once);
        syn::visit::visit_item_static(self, s);
    }

    fn visit_item_const(&mut self, c: &'a syn::ItemConst) {
        self.region(&c.expr, Kind::Once);
        syn::visit::visit_item_const(self, c);
    }

    fn visit_expr_for_loop(&mut self, l: &'a syn::ExprForLoop) {
        self.region(&l.body, Kind::Loop(l.for_token.span));
        syn::visit::visit_expr_for_loop(self, l);
    }

    fn visit_expr_while(&mut self, l: &'a syn::ExprWhile) {
        self.region(&l.body, Kind::Loop(l.while_token.span));
        syn::visit::visit_expr_while(self, l);
    }

    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        self.region(&l.body, Kind::Loop(l.loop_token.span));
        syn::visit::visit_expr_loop(self, l);
    }

    fn visit_expr_call(&mut self, call: &'a ExprCall) {
        if LAZY
            .iter()
            .any(|t| crate::rust::syntax::calls::path_ends_with(&call.func, &[t, "new"]))
        {
            self.closures(call.args.iter(), Kind::Once);
        } else if self.names.takes_handler(call) {
            self.closures(call.args.iter(), Kind::Handler(call.func.span()));
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'a ExprMethodCall) {
        let method = call.method.to_string();
        if ONCE.contains(&method.as_str()) {
            self.closures(call.args.iter(), Kind::Once);
        } else if STREAM_LOOPS.contains(&method.as_str()) {
            self.closures(call.args.iter(), Kind::Loop(call.method.span()));
        } else if self.names.method_takes_handler(call) {
            self.closures(call.args.iter(), Kind::Handler(call.method.span()));
        }
        syn::visit::visit_expr_method_call(self, call);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(src: &str, marker: &str) -> Place {
        let file: syn::File = syn::parse_str(src).unwrap();
        let uses = Imports::of(&file);
        let regions = Regions::of(
            &file,
            &uses,
            src.contains("axum::"),
            src.contains("actix_web::"),
        );
        regions.at(src.find(marker).unwrap())
    }

    #[test]
    fn places() {
        let src = "use axum::routing::get as route;
            fn main() { for x in y { HERE1; std::thread::spawn(move || HERE2); fn inner() { HERE3 } } }
            async fn handler() { let c = CELL.get_or_init(|| HERE4); loop { HERE5 } }
            fn app() { route(handler).post(|| async { HERE6 }) }";
        let p = |m| place(src, m);
        assert!(p("HERE1").in_loop.is_some() && p("HERE2").in_loop.is_some());
        assert!(p("HERE3").in_loop.is_none() && p("HERE3").handler.is_none());
        assert!(p("HERE4").once && p("HERE4").handler.is_none());
        assert!(p("HERE5").handler.is_some() && p("HERE5").in_loop.is_some());
        assert!(p("HERE6").handler.is_some());
    }
}
