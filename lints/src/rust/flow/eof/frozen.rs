//! Tests that end of stream freezes. Once a read returns 0, every later round of the loop reads
//! 0 again; a test whose inputs that round does not change (the count, an accumulator the count
//! adds to, a field no code on the end-of-stream path writes, a local computed from those)
//! decides the same way every time round. So an `if` around the read keeps choosing the
//! read's branch, and an exit behind such a test is never taken: the loop goes round for
//! ever. Used by [`crate::rust::flow::eof::paths::judge`].

use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::{self, Visit};
use syn::{BinOp, Expr, Pat, Stmt};

use crate::rust::flow::control::{
    block_always_leaves, contains, exits, exits_of_stmts, place_key, Exit,
};
use crate::rust::flow::eof::pat_idents;
use crate::rust::model::sockets::{idents_in_expr, is_print_macro, macro_name};
use crate::rust::node_span;

/// Methods a test may call and still depend only on the value it is called on.
pub(super) const PURE: &[&str] = &[
    "len",
    "is_empty",
    "ends_with",
    "starts_with",
    "contains",
    "remaining",
    "has_remaining",
];

fn is_name(e: &Expr, name: &str) -> bool {
    matches!(e, Expr::Path(p) if p.path.is_ident(name))
}

/// The branches of `if`s on the end-of-stream path of the read at `read` (the loop `body`
/// without `skip`) that end of stream never takes, because the test is frozen (see the module
/// comment): the branch of an `if` around the read that does not hold it, and the `then`
/// branch of any other frozen test that always leaves the loop (it did not leave when the read
/// was reached, so it never will) or that tests an accumulator of `sums` (false on the last
/// data, it stays false).
///
/// Tests can freeze one another: the `if` around the read is frozen only if the branch it does
/// not take never runs, and a test inside that branch may be frozen only if the outer one is.
/// So this is a greatest fixed point: every candidate test is first assumed frozen (its untaken
/// branch skipped), then the tests that the remaining writes change are thawed (their branch
/// runs again, with its writes), until no test changes. What is left holds together: if every
/// test decided the same way on one round at end of stream, the writes of that round change
/// none of their inputs, so they decide the same way on the next.
pub(super) fn frozen_branches(
    body: &[Stmt],
    skip: &[Span],
    sums: &[String],
    count: Option<&str>,
    read: Span,
) -> FrozenBranches {
    let mut candidates: HashMap<Span, Candidate> = HashMap::new();
    let mut thawed: HashSet<Span> = HashSet::new();
    loop {
        let mut skipped = skip.to_vec();
        skipped.extend(
            candidates
                .iter()
                .filter(|(at, _)| !thawed.contains(*at))
                .map(|(_, c)| c.branch),
        );
        let mut path = Path {
            skip: &skipped,
            count,
            sums,
            writes: Vec::new(),
            locals: HashMap::new(),
            bound: HashSet::new(),
            ifs: Vec::new(),
            closures: 0,
        };
        for s in body {
            path.visit_stmt(s);
        }
        let frozen = Frozen::new(&path, count, sums);
        let mut met = Vec::new();
        let mut thaw = Vec::new();
        let mut held = Vec::new();
        for i in &path.ifs {
            let at = node_span(*i);
            if thawed.contains(&at) {
                continue;
            }
            let Some(c) = candidates.get(&at) else {
                // First met (it was inside a skipped branch, or this is the first round):
                // assumed frozen, judged next round with its branch skipped.
                met.extend(Candidate::of(i, read, &frozen).map(|c| (at, c)));
                continue;
            };
            // What the untaken branch writes does not count: it does not run (or, when it
            // leaves the loop, runs once).
            if frozen.test(&i.cond, Some(c.branch)) {
                held.push(*c);
            } else {
                thaw.push(at);
            }
        }
        if met.is_empty() && thaw.is_empty() {
            let mut out = FrozenBranches::default();
            // The test the reader counted on to end the loop: one that checks what the reads
            // add up to, else one whose branch always leaves, else the first.
            held.sort_by_key(|c| (!c.reads_a_sum, c.exits != Exit::Leaves, c.cond.start));
            for c in held {
                out.skipped.push(c.branch);
                if c.exits != Exit::Stays {
                    out.leaving_tests.push(c.cond);
                }
            }
            out.skipped.sort_by_key(|s| s.start);
            return out;
        }
        candidates.extend(met);
        thawed.extend(thaw);
    }
}

/// A test that end of stream may freeze, and the branch it would then never take.
#[derive(Clone, Copy)]
struct Candidate {
    branch: Span,
    /// Whether that branch leaves the loop.
    exits: Exit,
    cond: Span,
    /// The test reads an accumulator of the count.
    reads_a_sum: bool,
}

impl Candidate {
    fn of(i: &syn::ExprIf, read: Span, frozen: &Frozen) -> Option<Candidate> {
        if matches!(&*i.cond, Expr::Let(_)) {
            return None;
        }
        let then = node_span(&i.then_branch);
        // Which branch is untaken first, and only then how it ends: scanning every branch of
        // every `if` made deeply nested code quadratic.
        let then_exits = || exits_of_stmts(&i.then_branch.stmts, &[]).judge(|_| false);
        let (branch, exits) = if contains(node_span(i), read) {
            if contains(then, read) {
                let (_, e) = i.else_branch.as_ref()?;
                (node_span(&**e), exits(e, &[]).judge(|_| false))
            } else {
                (then, then_exits())
            }
        } else if block_always_leaves(&i.then_branch) || frozen.reads_a_sum(&i.cond) {
            (then, then_exits())
        } else {
            return None;
        };
        Some(Candidate {
            branch,
            exits,
            cond: node_span(&i.cond),
            reads_a_sum: frozen.reads_a_sum(&i.cond),
        })
    }
}

/// What [`frozen_branches`] finds.
#[derive(Default)]
pub(super) struct FrozenBranches {
    /// Branches end of stream never takes.
    pub skipped: Vec<Span>,
    /// The conditions of frozen tests whose untaken branch would leave the loop, the one the
    /// reader most likely counted on to end it first.
    pub leaving_tests: Vec<Span>,
}

/// What the end-of-stream path writes, the locals it computes, and its `if`s.
struct Path<'a, 's> {
    skip: &'s [Span],
    count: Option<&'s str>,
    sums: &'s [String],
    /// Places written (`x`, `self.buf`, `buf.#elems` for a write through an index; `*` for
    /// anything), and where.
    writes: Vec<(String, Span)>,
    /// `let name = init;` in the loop body, recomputed every round (every binding of a
    /// shadowed name).
    locals: HashMap<String, Vec<&'a Expr>>,
    /// Other names the loop body binds (patterns): their values are not followed.
    bound: HashSet<String>,
    ifs: Vec<&'a syn::ExprIf>,
    /// Closures entered.
    closures: usize,
}

impl Path<'_, '_> {
    fn write(&mut self, place: &Expr) {
        let key = match place {
            Expr::Index(i) => place_key(&i.expr).map(|k| format!("{k}.#elems")),
            e => place_key(e),
        };
        self.writes
            .push((key.unwrap_or_else(|| "*".into()), node_span(place)));
    }

    /// `total += n`, `total = total + n`, or `total += read?` for an accumulator: adds the
    /// count, 0 at end of stream.
    fn adds_the_count(&self, e: &Expr) -> bool {
        if let Expr::Binary(b) = e {
            if matches!(b.op, BinOp::AddAssign(_))
                && place_key(&b.left).is_some_and(|k| self.sums.contains(&k))
            {
                return true;
            }
        }
        let Some(count) = self.count else {
            return false;
        };
        match e {
            Expr::Binary(b) => matches!(b.op, BinOp::AddAssign(_)) && is_name(&b.right, count),
            Expr::Assign(a) => match &*a.right {
                Expr::Binary(b) if matches!(b.op, BinOp::Add(_)) => {
                    let left = place_key(&a.left);
                    let operands = [place_key(&b.left), place_key(&b.right)];
                    left.is_some()
                        && operands.contains(&left)
                        && operands.contains(&Some(count.to_string()))
                }
                _ => false,
            },
            _ => false,
        }
    }
}

impl<'a> Visit<'a> for Path<'a, '_> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr(&mut self, e: &'a Expr) {
        if self.skip.contains(&node_span(e)) {
            return;
        }
        if self.adds_the_count(e) {
            match e {
                Expr::Binary(b) => self.visit_expr(&b.right),
                Expr::Assign(a) => self.visit_expr(&a.right),
                _ => {}
            }
            return;
        }
        match e {
            Expr::Assign(a) => {
                self.write(&a.left);
                self.visit_expr(&a.right);
                return;
            }
            Expr::Binary(b) if crate::rust::model::sockets::is_compound_assign(&b.op) => {
                self.write(&b.left);
                self.visit_expr(&b.right);
                return;
            }
            Expr::Reference(r) if r.mutability.is_some() => self.write(&r.expr),
            Expr::MethodCall(m) if !PURE.contains(&m.method.to_string().as_str()) => {
                // A method may change what it is called on (`buf.clear()`, `self.step()`).
                if let Some(k) = place_key(&m.receiver) {
                    self.writes.push((k, node_span(m)));
                }
            }
            Expr::Call(c) => {
                for a in &c.args {
                    if matches!(a, Expr::Path(p) if p.path.is_ident("self")) {
                        self.writes.push(("self".into(), node_span(a)));
                    }
                }
            }
            // A closure writes what its body writes, whenever it runs (`.map_err(|e| ..)`); its
            // tests are not the loop's.
            Expr::Closure(c) => {
                for input in &c.inputs {
                    self.bound.extend(pat_idents(input));
                }
                self.closures += 1;
                self.visit_expr(&c.body);
                self.closures -= 1;
                return;
            }
            Expr::Async(_) => {
                self.writes.push(("*".into(), node_span(e)));
                return;
            }
            Expr::If(i) if self.closures == 0 => self.ifs.push(i),
            Expr::Macro(m) => {
                self.visit_macro(&m.mac);
                return;
            }
            _ => {}
        }
        visit::visit_expr(self, e);
    }
    fn visit_stmt_macro(&mut self, m: &'a syn::StmtMacro) {
        self.visit_macro(&m.mac);
    }
    fn visit_macro(&mut self, mac: &'a syn::Macro) {
        let name = macro_name(mac);
        // Print and assert macros only read their arguments.
        if !is_print_macro(&name) {
            self.writes.push(("*".into(), node_span(mac)));
        }
    }
    fn visit_local(&mut self, l: &'a syn::Local) {
        match (&l.pat, &l.init) {
            (Pat::Ident(p), Some(init)) if p.subpat.is_none() && init.diverge.is_none() => {
                self.locals
                    .entry(p.ident.to_string())
                    .or_default()
                    .push(&*init.expr);
            }
            _ => self.bound.extend(pat_idents(&l.pat)),
        }
        visit::visit_local(self, l);
    }
    fn visit_arm(&mut self, arm: &'a syn::Arm) {
        if !self.skip.contains(&node_span(arm)) {
            self.bound.extend(pat_idents(&arm.pat));
            visit::visit_arm(self, arm);
        }
    }
    fn visit_block(&mut self, b: &'a syn::Block) {
        if !self.skip.contains(&node_span(b)) {
            visit::visit_block(self, b);
        }
    }
    fn visit_expr_let(&mut self, l: &'a syn::ExprLet) {
        self.bound.extend(pat_idents(&l.pat));
        visit::visit_expr_let(self, l);
    }
}

/// Judges expressions on the end-of-stream path: frozen when they only read places the path
/// does not write.
struct Frozen<'p, 'a, 's> {
    path: &'p Path<'a, 's>,
    count: Option<&'p str>,
    sums: &'p [String],
}

impl<'p, 'a, 's> Frozen<'p, 'a, 's> {
    fn new(path: &'p Path<'a, 's>, count: Option<&'p str>, sums: &'p [String]) -> Self {
        Frozen { path, count, sums }
    }

    /// Whether `e` has the same value every round at end of stream, not counting the writes
    /// inside `ignored` (a branch that leaves the loop when it runs).
    fn test(&self, e: &Expr, ignored: Option<Span>) -> bool {
        // A local is frozen when every binding of its name is computed from frozen values;
        // `let len = len as usize` reads the binding before it, judged in the same round.
        let mut locals = HashSet::new();
        loop {
            let more: Vec<&String> = self
                .path
                .locals
                .iter()
                .filter(|(name, inits)| {
                    !locals.contains(name.as_str())
                        && inits
                            .iter()
                            .all(|init| self.reads_frozen(init, name, &locals, ignored))
                })
                .map(|(name, _)| name)
                .collect();
            if more.is_empty() {
                break;
            }
            locals.extend(more.into_iter().map(String::as_str));
        }
        self.reads_frozen(e, "", &locals, ignored)
    }

    /// Whether `e` reads only frozen places, counting `locals` and the local `name` as frozen.
    fn reads_frozen(
        &self,
        e: &Expr,
        name: &str,
        locals: &HashSet<&str>,
        ignored: Option<Span>,
    ) -> bool {
        let mut reads = Vec::new();
        reads_of(e, &mut reads)
            && reads
                .iter()
                .all(|r| r.split('.').next() == Some(name) || self.unchanged(r, locals, ignored))
    }

    fn written(&self, place: &str, ignored: Option<Span>) -> bool {
        self.path
            .writes
            .iter()
            .filter(|(_, at)| ignored.is_none_or(|i| !contains(i, *at)))
            .any(|(w, _)| overlaps(w, place))
    }

    fn unchanged(&self, place: &str, locals: &HashSet<&str>, ignored: Option<Span>) -> bool {
        let root = place.split('.').next().unwrap_or(place);
        // The count is 0 every round at end of stream, but was not on the last data: its tests
        // are the end-of-stream tests themselves (paths.rs `count_path`).
        if Some(root) == self.count {
            return false;
        }
        if self.path.locals.contains_key(root) && root != "self" {
            return locals.contains(root) && !self.written(place, ignored);
        }
        if self.path.bound.contains(root) {
            return false;
        }
        !self.written(place, ignored)
    }

    fn reads_a_sum(&self, cond: &Expr) -> bool {
        let mut reads = Vec::new();
        reads_of(cond, &mut reads);
        reads.iter().any(|r| self.sums.iter().any(|s| s == r))
            || idents_in_expr(cond)
                .iter()
                .any(|i| self.sums.iter().any(|s| s == i))
    }
}

/// Whether a write of place `w` may change place `r`: one is a prefix of the other, segment by
/// segment (`self` changes `self.len`, `buf` changes `buf.#len`; `buf.#elems` does not).
fn overlaps(w: &str, r: &str) -> bool {
    if w == "*" {
        return true;
    }
    let (mut a, mut b) = (w.split('.'), r.split('.'));
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => {}
            (Some(_), Some(_)) => return false,
            _ => return true,
        }
    }
}

/// Collects the places `e` reads into `out`; `false` when `e` calls or does something whose
/// value cannot be judged from the places it reads.
fn reads_of(e: &Expr, out: &mut Vec<String>) -> bool {
    match e {
        Expr::Lit(_) => true,
        Expr::Path(p) => {
            // A constant or unit variant (`MAX`, `State::Done`) is not a place.
            if let Some(i) = p.path.get_ident() {
                out.push(i.to_string());
            }
            true
        }
        Expr::Field(_) => match place_key(e) {
            Some(k) => {
                out.push(k);
                true
            }
            None => false,
        },
        Expr::MethodCall(m) if PURE.contains(&m.method.to_string().as_str()) => {
            let Some(k) = place_key(&m.receiver) else {
                return false;
            };
            // A length does not change when elements are written through an index.
            let len = matches!(m.method.to_string().as_str(), "len" | "is_empty");
            out.push(if len { format!("{k}.#len") } else { k });
            m.args.iter().all(|a| reads_of(a, out))
        }
        // A function of frozen arguments (`u64::from_le_bytes(self.len_buf)`); one with none
        // may read a clock or a global (`Instant::now()`).
        Expr::Call(c) => {
            matches!(&*c.func, Expr::Path(_))
                && !c.args.is_empty()
                && c.args.iter().all(|a| reads_of(a, out))
        }
        Expr::Binary(b) => reads_of(&b.left, out) && reads_of(&b.right, out),
        Expr::Unary(u) => reads_of(&u.expr, out),
        Expr::Paren(p) => reads_of(&p.expr, out),
        Expr::Group(g) => reads_of(&g.expr, out),
        Expr::Cast(c) => reads_of(&c.expr, out),
        Expr::Reference(r) => r.mutability.is_none() && reads_of(&r.expr, out),
        Expr::Index(i) => {
            let elems = place_key(&i.expr).map(|k| format!("{k}.#elems"));
            match elems {
                Some(k) => out.push(k),
                None => return false,
            }
            reads_of(&i.index, out)
        }
        Expr::If(i) => {
            reads_of(&i.cond, out)
                && block_reads(&i.then_branch, out)
                && i.else_branch.as_ref().is_none_or(|(_, e)| reads_of(e, out))
        }
        Expr::Block(b) if b.label.is_none() => block_reads(&b.block, out),
        _ => false,
    }
}

/// A block that is one expression (`{ u64::from_le_bytes(buf) }`).
fn block_reads(b: &syn::Block, out: &mut Vec<String>) -> bool {
    match b.stmts.as_slice() {
        [Stmt::Expr(e, None)] => reads_of(e, out),
        _ => false,
    }
}

/// A `while` condition that depends only on local data the loop body changes in place.
pub(super) fn pure_condition(cond: &Expr) -> bool {
    struct Pure(bool);
    impl<'ast> Visit<'ast> for Pure {
        fn visit_expr(&mut self, e: &'ast Expr) {
            match e {
                Expr::Call(_) | Expr::Macro(_) | Expr::Await(_) => self.0 = false,
                Expr::MethodCall(m) if !PURE.contains(&m.method.to_string().as_str()) => {
                    self.0 = false
                }
                Expr::Path(p) if p.path.is_ident("self") => self.0 = false,
                _ => {}
            }
            visit::visit_expr(self, e);
        }
    }
    let mut p = Pure(true);
    p.visit_expr(cond);
    p.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frozen branches of the body of the first loop in `src`, for the read `inner.read`,
    /// as the source text of each branch.
    fn frozen(src: &str, count: &str, sums: &[&str]) -> Vec<String> {
        let block: syn::Block = syn::parse_str(src).unwrap();
        let Some(Stmt::Expr(Expr::Loop(lp), _)) = block.stmts.first() else {
            panic!("a loop first")
        };
        let read = find_read(&lp.body).expect("a read");
        let sums: Vec<String> = sums.iter().map(ToString::to_string).collect();
        let spans = frozen_branches(&lp.body.stmts, &[], &sums, Some(count), read).skipped;
        let text = |s: Span| src[s.start as usize..s.end as usize].to_string();
        spans.into_iter().map(text).collect()
    }

    fn find_read(b: &syn::Block) -> Option<Span> {
        struct Find(Option<Span>);
        impl<'a> Visit<'a> for Find {
            fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
                if m.method == "read" {
                    self.0 = Some(node_span(m));
                }
                visit::visit_expr_method_call(self, m);
            }
        }
        let mut f = Find(None);
        f.visit_block(b);
        f.0
    }

    #[test]
    fn a_test_of_fields_the_path_does_not_write_keeps_choosing_the_read() {
        let src = "{ loop {
            if self.want != self.pos { return Ok(1); } else {
                let len = u64::from_le_bytes(self.len_buf) as usize;
                if len == 0 { return Ok(0); }
                if self.got == len { return Ok(len); }
                let n = self.inner.read(&mut buf[self.got..len])?;
                self.got += n;
            }
        } }";
        assert_eq!(
            frozen(src, "n", &["self.got"]),
            [
                "{ return Ok(1); }",
                "{ return Ok(0); }",
                "{ return Ok(len); }"
            ]
        );
    }

    #[test]
    fn tests_that_freeze_one_another_are_found_together() {
        // The header branch writes `self.len_pos`, which the outer test reads: the outer test
        // is frozen only if that branch never runs, which holds only if the outer test is.
        // Its count has its own name (`k`): nothing is matched by name.
        let src = "{ loop {
            if self.len_pos != 8 {
                match self.inner.read(&mut self.len_buf[self.len_pos..]) {
                    Ok(k) => self.len_pos += k,
                    Err(e) => return Err(e),
                }
            } else {
                if self.got == len { return Ok(len); }
                let n = self.inner.read(&mut buf[self.got..len])?;
                self.got += n;
            }
        } }";
        let frozen_now = frozen(src, "n", &["self.got"]);
        assert_eq!(frozen_now.len(), 2, "{frozen_now:?}");
        assert!(frozen_now[0].contains("self.len_pos += k"));
        assert_eq!(frozen_now[1], "{ return Ok(len); }");
        // The body's path writes `self.len_pos` too: the outer test thaws, and only the test of
        // the sum stays frozen.
        let thawed = src.replace("self.got += n;", "self.got += n; self.len_pos = 0;");
        assert_eq!(frozen(&thawed, "n", &["self.got"]), ["{ return Ok(len); }"]);
    }

    #[test]
    fn a_write_a_call_or_a_clock_thaws_the_test() {
        // The path writes `self.pos`: the branch around the read may change.
        let src = "{ loop { if self.pos < 4 { self.pos = 0; let n = self.inner.read(&mut b)?; } else { break; } } }";
        assert!(frozen(src, "n", &[]).is_empty());
        // `self.step()` may change any field of `self`.
        let src =
            "{ loop { if self.done { break; } self.step(); let n = self.inner.read(&mut b)?; } }";
        assert!(frozen(src, "n", &[]).is_empty());
        // A deadline reads the clock.
        let src = "{ loop { if Instant::now() > deadline { break; } let n = self.inner.read(&mut b)?; } }";
        assert!(frozen(src, "n", &[]).is_empty());
        // An exit that is not the whole branch (it may not leave) stays unless it tests a sum.
        let src = "{ loop { if self.idle { if x.poll() { break; } } let n = self.inner.read(&mut b)?; } }";
        assert!(frozen(src, "n", &[]).is_empty());
    }

    #[test]
    fn a_closure_writes_what_its_body_writes() {
        // `map_err(|e| ..)` changes nothing: the test of `self.pos` stays frozen.
        let src = "{ loop { if self.pos == 4 { break; } let n = self.inner.read(&mut b).map_err(|e| wrap(e))?; } }";
        assert_eq!(frozen(src, "n", &[]), ["{ break; }"]);
        // A closure that sets the field thaws it; an `if` inside a closure is not the loop's.
        let src = "{ loop { if self.pos == 4 { break; } let n = self.inner.read(&mut b).map_err(|e| { if e.fatal() { self.pos = 4; } e })?; } }";
        assert!(frozen(src, "n", &[]).is_empty());
    }

    #[test]
    fn writes_through_an_index_leave_the_length() {
        let src = "{ loop { if buf.len() == 0 { break; } let n = s.read(&mut buf[..])?; } }";
        assert_eq!(frozen(src, "n", &[]), ["{ break; }"]);
        let src =
            "{ loop { if buf.len() == 0 { break; } buf.clear(); let n = s.read(&mut buf[..])?; } }";
        assert!(frozen(src, "n", &[]).is_empty());
    }
}
