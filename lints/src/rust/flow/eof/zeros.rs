//! Values that are 0 at end of stream, and the places that only grow by them. Once a read
//! returns 0, every later round of the loop reads 0 again; what a round computes from that 0
//! is 0 too, and a total that only grows by such values stops changing (its tests freeze, see
//! [`super::frozen`]).
//!
//! Zero at end of stream, in a loop body:
//! - the read's count;
//! - a cast of a zero value (`n as u64`), and a local every binding of which is zero;
//! - the length of a buffer the round empties (`buf.len()`): one that a statement of the loop
//!   body drains every round (`buf.split()`, `buf.clear()`, `mem::take(&mut buf)`) and that
//!   nothing else in the loop grows except by the count (`buf.advance_mut(n)`,
//!   `buf.extend_from_slice(&chunk[..n])`) or touches except for its capacity. The first round
//!   at end of stream empties it; it grows by 0 from then on. A body sender that reads into
//!   such a buffer, sends `buf.split()` and adds `buf.len()` to what it has written keeps the
//!   written total still at end of stream (reqwest's blocking body sender, mutated).

use std::collections::HashSet;

use syn::visit::{self, Visit};
use syn::{BinOp, Expr, Pat, Stmt};

use crate::rust::flow::control::place_key;
use crate::rust::syntax::calls::{is_zero_int, path_ends_with};

/// Methods that empty the buffer they are called on (or that take its bytes, leaving it empty).
const DRAINS: &[&str] = &["split", "clear", "drain", "split_off"];

/// Methods that only grow a buffer by the length of their argument, or by it: given the count,
/// they add 0 at end of stream.
const GROWS_BY_ARGUMENT: &[&str] = &["advance_mut", "extend_from_slice", "put_slice"];

/// Methods that leave a buffer's length alone.
const KEEPS_LENGTH: &[&str] = &[
    "len",
    "is_empty",
    "capacity",
    "reserve",
    "spare_capacity_mut",
    "chunk_mut",
    "as_ref",
    "as_slice",
    "iter",
];

/// The places that only grow by values that are 0 at end of stream in `body` (`total += n`,
/// `total = total + n`, `self.written += len` with `let len = buf.len()` of a buffer the round
/// empties): end of stream adds 0 to them.
pub(super) fn accumulators(body: &[Stmt], count: Option<&str>) -> Vec<String> {
    let Some(count) = count else {
        return Vec::new();
    };
    let zeros = Zeros::of(body, count);
    struct Sums<'z>(&'z Zeros, Vec<String>);
    impl<'a> Visit<'a> for Sums<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_binary(&mut self, b: &'a syn::ExprBinary) {
            if matches!(b.op, BinOp::AddAssign(_)) && self.0.is_zero(&b.right) {
                self.1.extend(place_key(&b.left));
            }
            visit::visit_expr_binary(self, b);
        }
        // `total = total + n`.
        fn visit_expr_assign(&mut self, a: &'a syn::ExprAssign) {
            if let Expr::Binary(b) = &*a.right {
                let left = place_key(&a.left);
                let grows = (place_key(&b.left) == left && self.0.is_zero(&b.right))
                    || (place_key(&b.right) == left && self.0.is_zero(&b.left));
                if matches!(b.op, BinOp::Add(_)) && left.is_some() && grows {
                    self.1.extend(left);
                }
            }
            visit::visit_expr_assign(self, a);
        }
    }
    let mut sums = Sums(&zeros, Vec::new());
    for s in body {
        sums.visit_stmt(s);
    }
    sums.1
}

/// The names that are 0 at end of stream in a loop body, and its buffers that the round empties.
struct Zeros {
    names: HashSet<String>,
    emptied: HashSet<String>,
}

impl Zeros {
    fn of(body: &[Stmt], count: &str) -> Zeros {
        let mut zeros = Zeros {
            names: HashSet::from([count.to_string()]),
            emptied: emptied_buffers(body, count),
        };
        let mut lets = Lets::default();
        for s in body {
            lets.visit_stmt(s);
        }
        // Locals computed from other such locals: to a fixed point.
        loop {
            let more: Vec<String> = lets
                .inits
                .iter()
                .filter(|(name, _)| !zeros.names.contains(name))
                .filter(|(name, _)| {
                    !lets.other.contains(name)
                        && lets
                            .inits
                            .iter()
                            .filter(|(n, _)| n == name)
                            .all(|(_, init)| zeros.is_zero(init))
                })
                .map(|(name, _)| name.clone())
                .collect();
            if more.is_empty() {
                return zeros;
            }
            zeros.names.extend(more);
        }
    }

    fn is_zero(&self, e: &Expr) -> bool {
        match e {
            Expr::Paren(p) => self.is_zero(&p.expr),
            Expr::Cast(c) => self.is_zero(&c.expr),
            Expr::Path(p) => p
                .path
                .get_ident()
                .is_some_and(|i| self.names.contains(&i.to_string())),
            Expr::MethodCall(m) if m.method == "len" && m.args.is_empty() => {
                place_key(&m.receiver).is_some_and(|b| self.emptied.contains(&b))
            }
            _ => false,
        }
    }
}

/// The `let name = init;` bindings of a loop body, and the names it binds any other way.
#[derive(Default)]
struct Lets<'a> {
    inits: Vec<(String, &'a Expr)>,
    other: HashSet<String>,
}

impl<'a> Visit<'a> for Lets<'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_local(&mut self, l: &'a syn::Local) {
        match (&l.pat, &l.init) {
            (Pat::Ident(p), Some(init)) if p.subpat.is_none() && init.diverge.is_none() => {
                self.inits.push((p.ident.to_string(), &*init.expr));
            }
            _ => self.other.extend(super::pat_idents(&l.pat)),
        }
        visit::visit_local(self, l);
    }
}

/// The buffers (simple names) that a statement of the loop body drains every round and that
/// nothing else in the body changes except by the count or in capacity. A `continue` may skip
/// the drain: then none is.
fn emptied_buffers(body: &[Stmt], count: &str) -> HashSet<String> {
    let mut drained = HashSet::new();
    for s in body {
        let mut top = Drains::default();
        top.visit_stmt(s);
        drained.extend(top.drained);
    }
    if drained.is_empty() {
        return drained;
    }
    let mut uses = Uses {
        count,
        buffers: &drained,
        spoiled: HashSet::new(),
        continues: false,
        depth: 0,
    };
    for s in body {
        uses.visit_stmt(s);
    }
    if uses.continues {
        return HashSet::new();
    }
    drained.retain(|b| !uses.spoiled.contains(b));
    drained
}

/// Drains reached whenever their statement runs: not inside a branch, a loop or a closure.
#[derive(Default)]
struct Drains {
    drained: HashSet<String>,
}

impl<'a> Visit<'a> for Drains {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr(&mut self, e: &'a Expr) {
        match e {
            // Only the condition and the scrutinee always run.
            Expr::If(i) => self.visit_expr(&i.cond),
            Expr::Match(m) => self.visit_expr(&m.expr),
            Expr::Loop(_)
            | Expr::While(_)
            | Expr::ForLoop(_)
            | Expr::Closure(_)
            | Expr::Async(_) => {}
            // `a && b`, `a || b`: the right side may not run.
            Expr::Binary(b) if matches!(b.op, BinOp::And(_) | BinOp::Or(_)) => {
                self.visit_expr(&b.left)
            }
            Expr::MethodCall(m) if DRAINS.contains(&m.method.to_string().as_str()) => {
                let whole = m.method != "drain"
                    || matches!(m.args.first(), Some(Expr::Range(r)) if r.start.is_none() && r.end.is_none());
                let split_off_all =
                    m.method != "split_off" || m.args.first().is_some_and(is_zero_int);
                if whole && split_off_all {
                    self.drained.extend(simple_name(&m.receiver));
                }
                visit::visit_expr(self, e);
            }
            // `mem::take(&mut buf)`, `std::mem::take(&mut self.buf)` takes a simple name only.
            Expr::Call(c) if is_take(&c.func) => {
                if let Some(Expr::Reference(r)) = c.args.first() {
                    self.drained.extend(simple_name(&r.expr));
                }
                visit::visit_expr(self, e);
            }
            _ => visit::visit_expr(self, e),
        }
    }
}

fn is_take(func: &Expr) -> bool {
    path_ends_with(func, &["mem", "take"])
}

fn simple_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Paren(p) => simple_name(&p.expr),
        Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
        _ => None,
    }
}

/// What else the loop body does to the drained buffers: anything but draining, growing by the
/// count and capacity spoils one.
struct Uses<'b> {
    count: &'b str,
    buffers: &'b HashSet<String>,
    spoiled: HashSet<String>,
    /// A `continue` of this loop (not of a loop inside it).
    continues: bool,
    /// Loops and closures entered.
    depth: usize,
}

impl Uses<'_> {
    fn buffer(&self, e: &Expr) -> Option<String> {
        simple_name(e).filter(|b| self.buffers.contains(b))
    }

    /// `n`, or `&x[..n]` / `&x[0..n]` (a slice of the count's length).
    fn by_count(&self, e: &Expr) -> bool {
        match e {
            Expr::Path(p) => p.path.is_ident(self.count),
            Expr::Reference(r) => self.by_count(&r.expr),
            Expr::Index(i) => match &*i.index {
                Expr::Range(r) => {
                    let from_zero = r.start.as_deref().is_none_or(is_zero_int);
                    from_zero && r.end.as_deref().is_some_and(|e| self.by_count(e))
                }
                _ => false,
            },
            _ => false,
        }
    }
}

impl<'a> Visit<'a> for Uses<'_> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr(&mut self, e: &'a Expr) {
        match e {
            Expr::Continue(_) if self.depth == 0 => self.continues = true,
            Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_) | Expr::Closure(_) => {
                self.depth += 1;
                visit::visit_expr(self, e);
                self.depth -= 1;
                return;
            }
            Expr::MethodCall(m) => {
                if let Some(b) = self.buffer(&m.receiver) {
                    let method = m.method.to_string();
                    let fine = DRAINS.contains(&method.as_str())
                        || KEEPS_LENGTH.contains(&method.as_str())
                        || (GROWS_BY_ARGUMENT.contains(&method.as_str())
                            && m.args.len() == 1
                            && self.by_count(&m.args[0]));
                    if !fine {
                        self.spoiled.insert(b);
                    }
                    // The receiver is accounted for; its arguments are not.
                    for a in &m.args {
                        self.visit_expr(a);
                    }
                    return;
                }
            }
            Expr::Call(c) if is_take(&c.func) => {
                // A drain (`mem::take(&mut buf)`).
                for a in &c.args {
                    if let Expr::Reference(r) = a {
                        if self.buffer(&r.expr).is_some() {
                            continue;
                        }
                    }
                    self.visit_expr(a);
                }
                return;
            }
            Expr::Assign(a) => {
                if let Some(b) = self.buffer(&a.left) {
                    self.spoiled.insert(b);
                }
            }
            Expr::Binary(b) if crate::rust::model::sockets::is_compound_assign(&b.op) => {
                if let Some(name) = self.buffer(&b.left) {
                    self.spoiled.insert(name);
                }
            }
            // Handed out mutably, moved or read by index-free use: anything may happen to it.
            Expr::Reference(r) if r.mutability.is_some() => {
                if let Some(b) = self.buffer(&r.expr) {
                    self.spoiled.insert(b);
                }
            }
            _ => {}
        }
        visit::visit_expr(self, e);
    }
    // A macro's tokens are not parsed: one that names a buffer (`write!(buf, ..)`) may grow it.
    fn visit_macro(&mut self, mac: &'a syn::Macro) {
        for t in mac.tokens.clone() {
            if let proc_macro2::TokenTree::Ident(i) = t {
                let name = i.to_string();
                if self.buffers.contains(&name) {
                    self.spoiled.insert(name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(src: &str) -> Vec<String> {
        let block: syn::Block = syn::parse_str(src).unwrap();
        let Some(Stmt::Expr(Expr::Loop(lp), _)) = block.stmts.first() else {
            panic!("a loop first")
        };
        accumulators(&lp.body.stmts, Some("n"))
    }

    #[test]
    fn totals_of_the_count_and_of_what_it_computes() {
        assert_eq!(
            sums("{ loop { let n = r.read(&mut b)?; total += n; } }"),
            ["total"]
        );
        assert_eq!(
            sums("{ loop { let n = r.read(&mut b)?; let got = n as u64; self.seen = self.seen + got; } }"),
            ["self.seen"]
        );
        // Shadowed by something else: not zero.
        assert!(sums(
            "{ loop { let n = r.read(&mut b)?; let got = n; let got = 5; total += got; } }"
        )
        .is_empty());
    }

    #[test]
    fn the_length_of_a_buffer_the_round_empties() {
        // The body sender: read into `buf`, send it all, count what was sent.
        let sender = "{ loop {
            if Some(written) == limit { return Ok(()); }
            if buf.is_empty() {
                buf.reserve(8192);
                match body.read(&mut chunk) {
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) => return Err(e),
                }
            }
            let len = buf.len() as u64;
            tx.send(std::mem::take(&mut buf))?;
            written += len;
        } }";
        assert_eq!(sums(sender), ["written"]);
        // Drained only on one branch: at end of stream it may keep old bytes.
        let conditional = sender.replace(
            "tx.send(std::mem::take(&mut buf))?;",
            "if ready { tx.send(std::mem::take(&mut buf))?; }",
        );
        assert!(sums(&conditional).is_empty());
        // Grown by something other than the count.
        let header = sender.replace("buf.reserve(8192);", "buf.extend_from_slice(b\"> \");");
        assert!(sums(&header).is_empty());
        // A `continue` may skip the drain.
        let skips = sender.replace(
            "let len = buf.len() as u64;",
            "if paused { continue; } let len = buf.len() as u64;",
        );
        assert!(sums(&skips).is_empty());
        // `buf.split()` drains too; `buf.split_to(4)` does not.
        let split = sender.replace("std::mem::take(&mut buf)", "buf.split().freeze()");
        assert_eq!(sums(&split), ["written"]);
        let split_to = sender.replace("std::mem::take(&mut buf)", "buf.split_to(4).freeze()");
        assert!(sums(&split_to).is_empty());
    }
}
