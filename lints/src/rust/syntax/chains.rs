//! Builder and method chains without types: a chain walked down to the value it starts from
//! (`Response::builder().status(503).header(..)` starts from `Response::builder()`), the path
//! that value is, and which crates a file mentions as path roots.

use syn::{Expr, ExprMethodCall};

use crate::rust::syntax::calls::path_segments;

/// Through what does not change which value an expression is: parentheses, `&`, `?`, `.await`,
/// and `.unwrap()` / `.expect(..)`.
pub fn strip(mut expr: &Expr) -> &Expr {
    loop {
        expr = match expr {
            Expr::Paren(p) => &p.expr,
            Expr::Reference(r) => &r.expr,
            Expr::Try(t) => &t.expr,
            Expr::Await(a) => &a.base,
            Expr::Group(g) => &g.expr,
            Expr::MethodCall(m) if matches!(m.method.to_string().as_str(), "unwrap" | "expect") => {
                &m.receiver
            }
            _ => return expr,
        };
    }
}

/// A method chain from the outside in: `a.b().c()?.d()` gives the root `a` and the calls `d`,
/// `c`, `b`, outermost first.
pub fn chain(expr: &Expr) -> (&Expr, Vec<&ExprMethodCall>) {
    let mut calls = Vec::new();
    let mut at = strip(expr);
    while let Expr::MethodCall(m) = at {
        calls.push(m);
        at = strip(&m.receiver);
    }
    (at, calls)
}

/// The segments of the path a chain starts from, when it starts with a call of a path
/// (`Response::builder()` gives `["Response", "builder"]`) or with a path (`res`).
pub fn root_path(root: &Expr) -> Option<Vec<String>> {
    match root {
        Expr::Call(c) => path_segments(strip(&c.func)),
        _ => path_segments(root),
    }
}

/// Whether the file mentions `krate::` as a path root (in a `use` or an expression): not as the
/// tail of a longer name (`my_hyper::`) nor as a module of another crate (`actix_web::http::`),
/// which a plain substring test would take for the crate.
pub fn mentions_crate(source: &str, krate: &str) -> bool {
    let needle = format!("{krate}::");
    // memchr's SIMD search: this runs on every parsed file, several times.
    memchr::memmem::find_iter(source.as_bytes(), needle.as_bytes()).any(|at| {
        let before = source[..at].chars().next_back();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_and_mentions() {
        let e: Expr =
            syn::parse_str("Response::builder().status(200).header(a, b).body(x)?").unwrap();
        let (root, calls) = chain(&e);
        assert_eq!(
            root_path(root),
            Some(vec!["Response".to_string(), "builder".to_string()])
        );
        let names: Vec<String> = calls.iter().map(|c| c.method.to_string()).collect();
        assert_eq!(names, ["body", "header", "status"]);
        assert!(mentions_crate("use hyper::server;", "hyper"));
        assert!(!mentions_crate(
            "use my_hyper::server; hyper_util::x",
            "hyper"
        ));
        assert!(!mentions_crate("use actix_web::http::header;", "http"));
    }
}
