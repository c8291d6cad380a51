//! Loops bounded by something other than the stream: a round counter (`tries += 1; if tries >
//! MAX { return }`) or a clock (`if start.elapsed() > limit { break }`). Breaking the
//! end-of-stream check of a read in such a loop makes it spin until the bound, then leave: the
//! connection is let go, so nothing stays in CLOSE_WAIT, and RS001 (which says the loop never
//! ends) is right to stay silent. The tool counts these mutants apart.

use std::collections::HashSet;

use syn::visit::{self, Visit};
use syn::{BinOp, Expr};

use lints::rust::flow::control::place_key;

use crate::leaves;

/// Whether the loop `body` has an exit behind a test of a round counter or of a clock.
pub(crate) fn is_bounded(body: &syn::Block) -> bool {
    let mut scan = Scan::default();
    scan.visit_block(body);
    scan.tests.iter().any(|(cond, then)| {
        leaves(|l| l.visit_block(then)) && (reads_a_clock(cond) || reads_any(cond, &scan.counters))
    })
}

#[derive(Default)]
struct Scan<'a> {
    /// Places incremented by a constant (`tries += 1`).
    counters: HashSet<String>,
    tests: Vec<(&'a Expr, &'a syn::Block)>,
}

impl<'a> Visit<'a> for Scan<'a> {
    fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
    fn visit_expr_binary(&mut self, b: &'a syn::ExprBinary) {
        if matches!(b.op, BinOp::AddAssign(_) | BinOp::SubAssign(_))
            && matches!(&*b.right, Expr::Lit(_))
        {
            self.counters.extend(place_key(&b.left));
        }
        visit::visit_expr_binary(self, b);
    }
    fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
        self.tests.push((&i.cond, &i.then_branch));
        visit::visit_expr_if(self, i);
    }
}

fn reads_a_clock(cond: &Expr) -> bool {
    struct Clock(bool);
    impl<'a> Visit<'a> for Clock {
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            self.0 |= m.method == "elapsed";
            visit::visit_expr_method_call(self, m);
        }
        fn visit_expr_path(&mut self, p: &'a syn::ExprPath) {
            self.0 |= p.path.segments.last().is_some_and(|s| s.ident == "now");
        }
    }
    let mut c = Clock(false);
    c.visit_expr(cond);
    c.0
}

fn reads_any(cond: &Expr, places: &HashSet<String>) -> bool {
    struct Reads<'p>(&'p HashSet<String>, bool);
    impl<'a> Visit<'a> for Reads<'_> {
        fn visit_expr(&mut self, e: &'a Expr) {
            if place_key(e).is_some_and(|k| self.0.contains(&k)) {
                self.1 = true;
                return;
            }
            visit::visit_expr(self, e);
        }
    }
    let mut r = Reads(places, false);
    r.visit_expr(cond);
    r.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounded(src: &str) -> bool {
        let b: syn::Block = syn::parse_str(src).unwrap();
        is_bounded(&b)
    }

    #[test]
    fn a_round_counter_or_a_clock_bounds_a_loop() {
        assert!(bounded(
            "{ tries += 1; if tries > MAX { return Err(e); } s.read(&mut b); }"
        ));
        assert!(bounded(
            "{ if start.elapsed() >= limit { break; } s.read(&mut b); }"
        ));
        assert!(bounded(
            "{ if Instant::now() > deadline { break; } s.read(&mut b); }"
        ));
        // A flag set elsewhere, a test that does not leave, a count of bytes: not bounds.
        assert!(!bounded(
            "{ if stop.load(Relaxed) { break; } s.read(&mut b); }"
        ));
        assert!(!bounded(
            "{ tries += 1; if tries > MAX { warn!(); } s.read(&mut b); }"
        ));
        assert!(!bounded(
            "{ got += n; if got > want { break; } s.read(&mut b); }"
        ));
    }
}
