//! The end-of-stream path of one read inside the loop that repeats it: which code runs when the
//! read returns 0 (the `Ok(0)` arm or the arm that binds the count, the rest of the loop body,
//! the branch of an `if n == 0`), and whether anything on it can leave the loop, test the
//! count, or hand the connection to other code. Built on [`crate::rust::flow::control`]; used by
//! `eof-ignored`.

use std::collections::HashSet;

use nginx_parser::Span;
use proc_macro2::TokenTree;
use syn::visit::{self, Visit};
use syn::{BinOp, Expr, Pat, Stmt};

use crate::rust::flow::control::{contains, exits_of_stmts, place_key, Exit, LoopKind, LoopSite};
use crate::rust::flow::eof::frozen::{frozen_branches, pure_condition};
use crate::rust::flow::eof::zeros::accumulators;
use crate::rust::flow::eof::{is_nonzero_test, is_zero_test, ReadSite, READS};
use crate::rust::flow::select::SelectBranch;
use crate::rust::model::channels::{is_sender, SENDS};
use crate::rust::model::sockets::{
    idents_in_expr, idents_in_macro, is_print_macro, through_access, through_wrappers,
};
use crate::rust::node_span;
use crate::rust::syntax::patterns::{is_ok_zero, only_err};

/// How a read's result is consumed.
pub enum Form<'a> {
    /// `match read { .. }`.
    Match(&'a syn::ExprMatch),
    /// `let n = read?;` (or `let n = match read { Ok(n) => n, .. }`, whose other arms are in
    /// `skip`).
    Bound { pat: &'a Pat, skip: Vec<Span> },
    /// `read?;` or `let _ = read;`.
    Discarded,
    /// `while let Ok(n) = read { .. }`.
    WhileLet(&'a Pat),
    /// `if let Ok(n) = read { .. } else { .. }`.
    IfLet(&'a Pat, &'a syn::ExprIf),
    /// `missing -= read?`.
    Counter(&'a syn::ExprBinary),
}

/// A read whose end of stream stays in its loop: where to say so, and how.
pub struct Verdict {
    pub at: Span,
    pub label: String,
    /// The loop drains a non-blocking socket until `WouldBlock`.
    pub would_block: bool,
    /// A test that could leave the loop but reads only what end of stream does not change.
    pub frozen_test: Option<Span>,
}

/// Methods on a connection that neither close it nor hand it over.
const WRITES: &[&str] = &[
    "write",
    "write_all",
    "flush",
    "peer_addr",
    "local_addr",
    "as_raw_fd",
];

/// Methods that move a buffer's cursor or length by a count and do nothing else with it.
const BOOKKEEPING: &[&str] = &[
    "advance",
    "advance_mut",
    "set_len",
    "truncate",
    "consume",
    "set_filled",
    "assume_init",
];

/// Judges a read of `site` consumed as `form` inside `lp`: a [`Verdict`] when no path leaves
/// the loop at end of stream.
pub fn judge(
    site: &ReadSite,
    form: &Form<'_>,
    lp: &LoopSite<'_>,
    stream_fields: &HashSet<String>,
    senders: &HashSet<String>,
) -> Option<Verdict> {
    let mut skip = Vec::new();
    let (count, at, mut label) = match form {
        Form::Match(m) => {
            let (arm, count) = eof_arm(m)?;
            skip.extend(
                m.arms
                    .iter()
                    .filter(|a| !std::ptr::eq(*a, arm))
                    .map(node_span),
            );
            // An arm that ends in `continue` goes round again: what follows the match in the
            // loop body is not on its path.
            if ends_in_continue(&arm.body) {
                skip.extend(after_in_loop(lp.body, node_span(*m)));
            }
            let label = match &count {
                None if is_ok_zero(&arm.pat) => {
                    "end of stream (`Ok(0)`) lands here, and this arm stays in the loop".to_string()
                }
                None => "this arm also matches end of stream (`Ok(0)`), and stays in the loop"
                    .to_string(),
                Some(n)
                    if matches!(
                        site.helper,
                        Some(crate::rust::flow::eof::EofSummary::Value(_))
                    ) =>
                {
                    format!("at end of stream `{n}` holds the helper's success value, and this arm carries on")
                }
                Some(n) => format!(
                    "`{n}` is 0 at end of stream, and this arm carries on without testing it"
                ),
            };
            (count, node_span(&arm.pat), label)
        }
        Form::Bound { pat, skip: arms } => {
            skip.extend(arms.iter().copied());
            let name = ident(pat)?;
            let label = match site.helper {
                Some(crate::rust::flow::eof::EofSummary::Value(_)) => format!(
                    "at end of stream `{name}` holds the helper's success value, and nothing tests it"
                ),
                _ => format!("`{name}` is 0 at end of stream, and nothing tests it"),
            };
            (Some(name), node_span(*pat), label)
        }
        Form::Discarded => (
            None,
            site.span,
            "the byte count is discarded: at end of stream it is 0 and the loop carries on"
                .to_string(),
        ),
        Form::WhileLet(pat) => {
            let count = match_ok(pat)?;
            (
                count,
                node_span(*pat),
                "this pattern also matches end of stream (`Ok(0)`), so the loop goes on"
                    .to_string(),
            )
        }
        Form::IfLet(pat, i) => {
            let count = match_ok(pat)?;
            skip.extend(i.else_branch.as_ref().map(|(_, e)| node_span(&**e)));
            (
                count,
                node_span(*pat),
                "this pattern also matches end of stream (`Ok(0)`)".to_string(),
            )
        }
        Form::Counter(b) => (
            None,
            node_span(*b),
            format!(
                "`{}` stops changing at end of stream: the read adds 0",
                counter_name(&b.left)?
            ),
        ),
    };
    if matches!(form, Form::WhileLet(_)) && lp.kind != LoopKind::WhileLet {
        return None;
    }
    let body = &lp.body.stmts;
    let mut at = at;
    let value = matches!(
        site.helper,
        Some(crate::rust::flow::eof::EofSummary::Value(_))
    );
    if let (Some(n), true) = (&count, value) {
        // A helper's value: passing it on is treating it as data; only a test of it counts.
        if in_condition(n, body, &skip, site.span) {
            return None;
        }
    } else if let Some(n) = &count {
        let (skipped, point) = count_path(n, body, &skip)?;
        skip.extend(skipped);
        if let Some((span, text)) = point {
            (at, label) = (span, text);
        }
    }
    // `read_line` / `read_until` append: an empty line is their end of stream, so a test of
    // the line is a test for it. (A `read` buffer keeps its old bytes and says nothing.)
    let appends = matches!(site.name.as_str(), "read_line" | "read_until");
    if let (Some(buf), true) = (&site.buffer, appends) {
        if in_condition(buf, body, &skip, site.span) {
            return None;
        }
    }
    // A `while` condition or a `while let` scrutinee (of a loop whose header is not this read)
    // that calls something is evaluated again each time round and may end the loop at end of
    // stream: `while let Ok(p @ 1..) = conn.peek(&mut buf) { conn.read(&mut buf[..p])?; }`.
    let header_is_this_read = matches!(form, Form::WhileLet(_));
    if matches!(lp.kind, LoopKind::While | LoopKind::WhileLet)
        && !header_is_this_read
        && !lp.cond.is_some_and(pure_condition)
    {
        return None;
    }
    // `total += n; if total == want { break }`: at end of stream the total stops changing, so
    // a test of it that was false on the last data stays false; any test whose inputs end of
    // stream does not change decides the same way every round (frozen.rs).
    let mut sums: Vec<String> = accumulators(body, count.as_deref());
    if let Form::Counter(b) = form {
        sums.extend(place_key(&b.left));
    }
    let frozen = frozen_branches(body, &skip, &sums, count.as_deref(), site.span);
    skip.extend(&frozen.skipped);
    let harmless = |t: &Expr| {
        contains(node_span(t), site.span)
            || harmless_try(t, count.as_deref(), site.buffer.as_deref(), senders)
    };
    // `total = total + n` assigns the same value at end of stream: no flag changes.
    let flag = |name: &str| {
        !sums.iter().any(|s| s == name)
            && (lp
                .cond
                .is_some_and(|c| idents_in_expr(c).iter().any(|i| i == name))
                || in_condition(name, body, &[], site.span))
    };
    if exits_of_stmts(body, &skip)
        .drop_untested_assignments(flag)
        .judge(harmless)
        != Exit::Stays
    {
        return None;
    }
    if let Some(root) = &site.root {
        if handed_over(root, body, &skip, stream_fields, site.span) {
            return None;
        }
    }
    let would_block = idents_in_expr(lp.expr).iter().any(|i| i == "WouldBlock");
    Some(Verdict {
        at,
        label,
        would_block,
        frozen_test: frozen.leaving_tests.first().copied(),
    })
}

/// The arm of a match on a read that end of stream reaches, with the count it binds: an
/// `Ok(0)` arm, or the first unguarded `Ok(n)` / `Ok(_)` / catch-all arm.
fn eof_arm(m: &syn::ExprMatch) -> Option<(&syn::Arm, Option<String>)> {
    for arm in &m.arms {
        let (pat, guarded) = match &arm.pat {
            Pat::Guard(g) => (&*g.pat, true),
            p => (p, false),
        };
        if only_err(pat) {
            continue;
        }
        if is_ok_zero(pat) {
            return (!guarded).then_some((arm, None));
        }
        let count = match pat {
            Pat::Wild(_) => None,
            Pat::Ident(i) if i.subpat.is_none() => return None,
            p => match_ok(p)?,
        };
        return (!guarded).then_some((arm, count));
    }
    None
}

/// Whether an arm's body ends by going round its loop (an unlabelled `continue` as its last
/// statement).
fn ends_in_continue(body: &Expr) -> bool {
    match body {
        Expr::Continue(c) => c.label.is_none(),
        Expr::Block(b) => match b.block.stmts.last() {
            Some(Stmt::Expr(e, _)) => ends_in_continue(e),
            _ => false,
        },
        _ => false,
    }
}

/// What a path through `at` that goes round the loop with `continue` does not run: the
/// statements after `at` in the blocks that contain it, and the branches of the `if`s and
/// `match`es around it that lead elsewhere (not entering closures or inner loops, whose
/// `continue` is their own). Next time round, the same path is taken unless something on it
/// changed; what it assigns is judged as a possible exit by the caller.
fn after_in_loop(body: &syn::Block, at: Span) -> Vec<Span> {
    struct After {
        at: Span,
        out: Vec<Span>,
    }
    impl<'a> Visit<'a> for After {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_block(&mut self, b: &'a syn::Block) {
            if !contains(node_span(b), self.at) {
                return;
            }
            for stmt in &b.stmts {
                let span = node_span(stmt);
                if span.start >= self.at.end {
                    // As the exit scan meets them: the expression, a `let`'s initialiser.
                    match stmt {
                        Stmt::Expr(e, _) => self.out.push(node_span(e)),
                        Stmt::Local(l) => self
                            .out
                            .extend(l.init.as_ref().map(|i| node_span(&*i.expr))),
                        _ => self.out.push(span),
                    }
                } else if contains(span, self.at) {
                    self.visit_stmt(stmt);
                }
            }
        }
        fn visit_expr(&mut self, e: &'a Expr) {
            // Only what is around `at`: its own branches are the path's.
            if !contains(node_span(e), self.at) || node_span(e) == self.at {
                return;
            }
            match e {
                Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_) => return,
                // The branch not taken to reach `at`.
                Expr::If(i) if contains(node_span(&i.then_branch), self.at) => {
                    self.out
                        .extend(i.else_branch.as_ref().map(|(_, e)| node_span(&**e)));
                }
                Expr::If(i)
                    if i.else_branch.is_some() && !contains(node_span(&*i.cond), self.at) =>
                {
                    self.out.push(node_span(&i.then_branch));
                }
                Expr::Match(m) if !contains(node_span(&*m.expr), self.at) => {
                    self.out.extend(
                        m.arms
                            .iter()
                            .filter(|a| !contains(node_span(*a), self.at))
                            .map(node_span),
                    );
                }
                _ => {}
            }
            visit::visit_expr(self, e);
        }
    }
    let mut a = After {
        at,
        out: Vec::new(),
    };
    a.visit_block(body);
    a.out
}

/// `Ok(n)` → `Some(Some("n"))`, `Ok(_)` → `Some(None)`; any other pattern → `None`.
fn match_ok(pat: &Pat) -> Option<Option<String>> {
    let Pat::TupleStruct(t) = pat else {
        return None;
    };
    let is_ok = t.path.segments.last().is_some_and(|s| s.ident == "Ok");
    if !is_ok || t.elems.len() != 1 {
        return None;
    }
    match &t.elems[0] {
        Pat::Wild(_) | Pat::Rest(_) => Some(None),
        Pat::Ident(i) if i.subpat.is_none() => Some(Some(i.ident.to_string())),
        _ => None,
    }
}

fn ident(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(i) if i.subpat.is_none() => Some(i.ident.to_string()),
        Pat::Type(t) => ident(&t.pat),
        _ => None,
    }
}

/// The counter of `counter += read?` as written: a name, or a name behind `*`.
fn counter_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => {
            ident_expr(&u.expr).map(|n| format!("*{n}"))
        }
        e => ident_expr(e),
    }
}

fn ident_expr(e: &Expr) -> Option<String> {
    match e {
        Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
        _ => None,
    }
}

/// A `?` that cannot fire at end of stream: on a read (which returns `Ok(0)`), a `flush`, a
/// write of data that is empty then (`&buf[..n]`, the line), or a send on a channel (`senders`,
/// [`crate::rust::model::channels`]: it fails only when the receivers are gone, whatever the
/// connection does).
fn harmless_try(
    t: &Expr,
    count: Option<&str>,
    buffer: Option<&str>,
    senders: &HashSet<String>,
) -> bool {
    let Expr::MethodCall(m) = through_wrappers(t) else {
        return false;
    };
    let method = m.method.to_string();
    if READS.contains(&method.as_str()) || method == "flush" {
        return true;
    }
    if SENDS.contains(&method.as_str()) && is_sender(senders, &m.receiver) {
        return true;
    }
    let empty = |a: &Expr| match through_access(a) {
        Expr::Index(i) => match &*i.index {
            Expr::Range(r) => r
                .end
                .as_deref()
                .and_then(ident_expr)
                .is_some_and(|e| Some(e.as_str()) == count),
            _ => false,
        },
        Expr::MethodCall(b) if b.method == "as_bytes" => {
            ident_expr(through_access(&b.receiver)).as_deref() == buffer && buffer.is_some()
        }
        e => buffer.is_some() && ident_expr(e).as_deref() == buffer,
    };
    matches!(method.as_str(), "write" | "write_all") && m.args.len() == 1 && empty(&m.args[0])
}

/// Where a finding points and what its label says.
type Point = (Span, String);

/// How the tests of the count `n` shape the end-of-stream path through `body`: `None` when the
/// count is tested in a way the path cannot follow (it may lead out); else the branches the path
/// does not take (the `else` of `if n == 0`, the branch of a data-only `if n > 0`) and, when a
/// test decides the path, where to point and what to say.
fn count_path(n: &str, body: &[Stmt], skip: &[Span]) -> Option<(Vec<Span>, Option<Point>)> {
    let uses = CountUses::scan(n, body, skip);
    if uses.tested {
        return None;
    }
    if let Some(test) = uses.zero_tests.first() {
        let other = test.else_branch.as_ref().map(|(_, e)| node_span(&**e));
        let label = format!("at end of stream `{n}` is 0, and this branch stays in the loop");
        return Some((
            other.into_iter().collect(),
            Some((node_span(&test.cond), label)),
        ));
    }
    if let Some(test) = uses.data_only_tests.first() {
        // At end of stream the branch is skipped and the rest of the loop runs.
        let branches = uses
            .data_only_tests
            .iter()
            .map(|t| node_span(&t.then_branch))
            .collect();
        let label = format!(
            "at end of stream `{n}` is 0: this test only skips the data, and the loop goes on"
        );
        return Some((branches, Some((node_span(&test.cond), label))));
    }
    Some((Vec::new(), None))
}

/// How a count is used on the end-of-stream path.
struct CountUses<'a> {
    name: &'a str,
    skip: &'a [Span],
    /// Mentions other than arithmetic, slicing, formatting and zero tests.
    tested: bool,
    zero_tests: Vec<&'a syn::ExprIf>,
    /// `if n > 0 { .. }` with no `else`: the branch runs only on data.
    data_only_tests: Vec<&'a syn::ExprIf>,
}

impl<'a> CountUses<'a> {
    fn scan(name: &'a str, body: &'a [Stmt], skip: &'a [Span]) -> Self {
        let mut u = CountUses {
            name,
            skip,
            tested: false,
            zero_tests: Vec::new(),
            data_only_tests: Vec::new(),
        };
        for s in body {
            u.visit_stmt(s);
        }
        u
    }

    fn is_name(&self, e: &Expr) -> bool {
        matches!(e, Expr::Path(p) if p.path.is_ident(self.name))
    }
}

impl<'a> Visit<'a> for CountUses<'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr(&mut self, e: &'a Expr) {
        if self.skip.contains(&node_span(e)) {
            return;
        }
        match e {
            Expr::If(i) if is_zero_test(&i.cond, self.name) => {
                self.zero_tests.push(i);
                self.visit_block(&i.then_branch);
                if let Some((_, e)) = &i.else_branch {
                    self.visit_expr(e);
                }
                return;
            }
            Expr::If(i) if i.else_branch.is_none() && is_nonzero_test(&i.cond, self.name) => {
                self.data_only_tests.push(i);
                return;
            }
            Expr::Binary(b) if is_arith(&b.op) => {
                for side in [&*b.left, &*b.right] {
                    if !self.is_name(side) {
                        self.visit_expr(side);
                    }
                }
                return;
            }
            Expr::Index(i) => {
                self.visit_expr(&i.expr);
                return;
            }
            // Buffer bookkeeping with the count (`buf.advance_mut(n)`) tests nothing.
            Expr::MethodCall(m) if BOOKKEEPING.contains(&m.method.to_string().as_str()) => {
                self.visit_expr(&m.receiver);
                for a in &m.args {
                    if !self.is_name(a) {
                        self.visit_expr(a);
                    }
                }
                return;
            }
            Expr::Macro(m) => {
                self.tested |= unprinted_mention(&m.mac, self.name);
                return;
            }
            e if self.is_name(e) => self.tested = true,
            _ => {}
        }
        visit::visit_expr(self, e);
    }
    fn visit_arm(&mut self, arm: &'a syn::Arm) {
        if !self.skip.contains(&node_span(arm)) {
            visit::visit_arm(self, arm);
        }
    }
    fn visit_stmt_macro(&mut self, m: &'a syn::StmtMacro) {
        self.tested |= unprinted_mention(&m.mac, self.name);
    }
}

/// Whether a macro other than a print macro (`println!`, `log::info!`...) names `name` in its
/// tokens: what it does with the value cannot be seen.
pub(crate) fn unprinted_mention(mac: &syn::Macro, name: &str) -> bool {
    let printed = mac
        .path
        .segments
        .last()
        .is_some_and(|s| is_print_macro(&s.ident.to_string()));
    !printed && tokens_mention(&mac.tokens, name)
}

fn is_arith(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::Add(_)
            | BinOp::Sub(_)
            | BinOp::Mul(_)
            | BinOp::Div(_)
            | BinOp::Rem(_)
            | BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
    )
}

fn tokens_mention(tokens: &proc_macro2::TokenStream, name: &str) -> bool {
    let mut stack = vec![tokens.clone().into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(tt) = top.next() else {
            stack.pop();
            continue;
        };
        match tt {
            TokenTree::Ident(i) if i == name => return true,
            TokenTree::Group(g) => stack.push(g.stream().into_iter()),
            _ => {}
        }
    }
    false
}

/// Whether a condition looks at `name`: it mentions it other than as the data of a write or a
/// send (`if w.write_all(line.as_bytes()).is_err()` tests the write, not the line).
fn tests_name(cond: &Expr, name: &str) -> bool {
    struct Finder<'n>(&'n str, bool);
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
            let carries = ["write", "write_all", "send"].iter().any(|w| m.method == w);
            if carries {
                self.visit_expr(&m.receiver);
            } else {
                visit::visit_expr_method_call(self, m);
            }
        }
        fn visit_ident(&mut self, i: &'a proc_macro2::Ident) {
            self.1 |= i == self.0;
        }
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            self.1 |= idents_in_macro(m).iter().any(|i| i == self.0);
        }
    }
    let mut f = Finder(name, false);
    f.visit_expr(cond);
    f.1
}

/// Whether `name` appears in a condition (`if`, `while`, `match` scrutinee, guard) on the path.
fn in_condition(name: &str, body: &[Stmt], skip: &[Span], read: Span) -> bool {
    struct Cond<'s> {
        name: &'s str,
        skip: &'s [Span],
        read: Span,
        hit: bool,
    }
    impl<'a> Visit<'a> for Cond<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr(&mut self, e: &'a Expr) {
            if self.skip.contains(&node_span(e)) {
                return;
            }
            let cond = match e {
                Expr::If(i) => Some(&*i.cond),
                Expr::While(w) => Some(&*w.cond),
                Expr::Match(m) => Some(&*m.expr),
                _ => None,
            };
            // The read's own scrutinee (`match s.read(&mut buf)`) is not a test of its buffer.
            self.hit |= cond
                .is_some_and(|c| !contains(node_span(c), self.read) && tests_name(c, self.name));
            visit::visit_expr(self, e);
        }
        fn visit_arm(&mut self, arm: &'a syn::Arm) {
            if !self.skip.contains(&node_span(arm)) {
                visit::visit_arm(self, arm);
            }
        }
        fn visit_pat_guard(&mut self, g: &'a syn::PatGuard) {
            self.hit |= idents_in_expr(&g.guard).iter().any(|i| i == self.name);
            visit::visit_pat_guard(self, g);
        }
    }
    let mut c = Cond {
        name,
        skip,
        read,
        hit: false,
    };
    for s in body {
        c.visit_stmt(s);
    }
    c.hit
}

/// Whether the end-of-stream path does something with the connection (its root name) other
/// than reading or writing it: `drop`, `shutdown`, `conns.remove(..)`, passing it to a
/// function, a method on `self` that may close `self.stream`.
fn handed_over(
    root: &str,
    body: &[Stmt],
    skip: &[Span],
    stream_fields: &HashSet<String>,
    read: Span,
) -> bool {
    struct Mentions<'s> {
        root: &'s str,
        skip: &'s [Span],
        fields: &'s HashSet<String>,
        neutral: Vec<Span>,
        mentions: Vec<Span>,
        opaque: bool,
    }
    impl<'a> Visit<'a> for Mentions<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr(&mut self, e: &'a Expr) {
            let span = node_span(e);
            if self.skip.contains(&span) {
                return;
            }
            match e {
                Expr::MethodCall(m) => {
                    let method = m.method.to_string();
                    // The read itself (a helper's call too: `conn.receive(&mut buf)`).
                    let the_read = crate::rust::model::sockets::method_span(m) == self.neutral[0];
                    if the_read
                        || READS.contains(&method.as_str())
                        || WRITES.contains(&method.as_str())
                    {
                        self.neutral.push(span);
                    }
                }
                Expr::Field(f) if self.root == "self" => {
                    if let syn::Member::Named(n) = &f.member {
                        if !self.fields.contains(&n.to_string()) {
                            self.neutral.push(span);
                        }
                    }
                }
                Expr::Path(p) if p.path.is_ident(self.root) => self.mentions.push(span),
                Expr::Macro(m) => {
                    self.opaque |= unprinted_mention(&m.mac, self.root);
                }
                _ => {}
            }
            visit::visit_expr(self, e);
        }
        fn visit_arm(&mut self, arm: &'a syn::Arm) {
            if !self.skip.contains(&node_span(arm)) {
                visit::visit_arm(self, arm);
            }
        }
        fn visit_stmt_macro(&mut self, m: &'a syn::StmtMacro) {
            self.opaque |= unprinted_mention(&m.mac, self.root);
        }
    }
    let mut m = Mentions {
        root,
        skip,
        fields: stream_fields,
        neutral: vec![read],
        mentions: Vec::new(),
        opaque: false,
    };
    for s in body {
        m.visit_stmt(s);
    }
    m.opaque
        || m.mentions
            .iter()
            .any(|s| !m.neutral.iter().any(|n| contains(*n, *s)))
}

/// Judges the read of `branches[read]` in a `select!` that is the whole body of `lp`: at end of
/// stream the read branch is ready at once on every iteration, so the loop never ends unless
/// that branch leaves it. Other branches that may leave (a shutdown signal, a timeout) make the
/// loop end some day: silent. A `?` in another branch is not such an exit: it fires on an error
/// of that branch's own work (a write upstream), which the peer's close does not bring, so the
/// loop spins until some unrelated failure.
pub fn judge_select(
    site: &ReadSite,
    branches: &[SelectBranch],
    read: usize,
    lp: &LoopSite<'_>,
    mac: Span,
    stream_fields: &HashSet<String>,
    senders: &HashSet<String>,
) -> Option<Verdict> {
    let only_select = matches!(lp.body.stmts.as_slice(), [s] if contains(node_span(s), mac));
    if !only_select || (lp.kind != LoopKind::Loop) {
        return None;
    }
    let others_stay = branches
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != read)
        .all(|(_, b)| {
            crate::rust::flow::control::exits(&b.body, &[]).judge(|_| true) == Exit::Stays
        });
    if !others_stay {
        return None;
    }
    let branch = &branches[read];
    let mut skip = Vec::new();
    let (count, at, label) = if is_ok_zero(&branch.pat) {
        (
            None,
            node_span(&branch.pat),
            "end of stream (`Ok(0)`) lands here, and this branch stays in the loop".to_string(),
        )
    } else if let Some(count) = match_ok(&branch.pat) {
        (
            count,
            node_span(&branch.pat),
            "this branch also runs at end of stream (`Ok(0)`), and stays in the loop".to_string(),
        )
    } else {
        // `r = s.read(..) => match r { .. }`.
        let result = ident(&branch.pat)?;
        let m = match &branch.body {
            Expr::Match(m) => m,
            Expr::Block(b) => match b.block.stmts.first() {
                Some(Stmt::Expr(Expr::Match(m), _)) => m,
                _ => return None,
            },
            _ => return None,
        };
        if !matches!(&*m.expr, Expr::Path(p) if p.path.is_ident(&result)) {
            return None;
        }
        let (arm, count) = eof_arm(m)?;
        skip.extend(
            m.arms
                .iter()
                .filter(|a| !std::ptr::eq(*a, arm))
                .map(node_span),
        );
        (
            count,
            node_span(&arm.pat),
            "end of stream lands in this arm, and it stays in the loop".to_string(),
        )
    };
    let body = [Stmt::Expr(branch.body.clone(), None)];
    let (mut at, mut label) = (at, label);
    if let Some(n) = &count {
        let (skipped, point) = count_path(n, &body, &skip)?;
        skip.extend(skipped);
        if let Some((span, text)) = point {
            (at, label) = (span, text);
        }
    }
    let harmless = |t: &Expr| harmless_try(t, count.as_deref(), site.buffer.as_deref(), senders);
    if exits_of_stmts(&body, &skip).judge(harmless) != Exit::Stays {
        return None;
    }
    if let Some(root) = &site.root {
        if handed_over(root, &body, &skip, stream_fields, site.span) {
            return None;
        }
    }
    Some(Verdict {
        at,
        label,
        would_block: false,
        frozen_test: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rust::flow::select::select_branches;

    fn mac(src: &str) -> syn::Macro {
        syn::parse_str(src).expect("test macro parses")
    }

    #[test]
    fn select_branches_parse_and_garbage_does_not() {
        let m = mac("tokio::select! { biased; Ok(n) = rd.read(&mut buf) => { f(n) } r = rx.recv(), if open => match r { _ => {} }, else => break }");
        let branches = select_branches(&m).expect("branches parse");
        assert_eq!(branches.len(), 2);
        assert!(match_ok(&branches[0].pat).is_some());
        assert_eq!(ident(&branches[1].pat).as_deref(), Some("r"));
        // Not select syntax: no branches, and no panic.
        assert!(select_branches(&mac("select! { => => , ; }")).is_none());
        assert!(select_branches(&mac("select!(a, b)")).is_none());
    }

    #[test]
    fn eof_arms() {
        let m: syn::ExprMatch = syn::parse_str(
            "match r { Err(e) if e.kind() == WouldBlock => break, Ok(n) => f(n), Err(_) => return }",
        )
        .expect("match parses");
        let (arm, count) = eof_arm(&m).expect("an arm takes end of stream");
        assert_eq!(count.as_deref(), Some("n"));
        assert!(std::ptr::eq(arm, &m.arms[1]));
        // A guard on the count: which arm end of stream reaches is not known.
        let guarded: syn::ExprMatch = syn::parse_str(
            "match r { Ok(n) if n > 0 => f(n), Ok(_) => continue, Err(_) => break }",
        )
        .expect("match parses");
        assert!(eof_arm(&guarded).is_none());
        let zero: syn::ExprMatch =
            syn::parse_str("match r { Ok(0) => continue, Ok(n) => f(n), Err(_) => break }")
                .expect("match parses");
        assert_eq!(eof_arm(&zero).map(|(_, c)| c), Some(None));
    }

    #[test]
    fn harmless_tries() {
        let t = |src: &str| {
            let e: Expr = syn::parse_str(src).expect("expression parses");
            let senders: HashSet<String> = ["tx".to_string()].into();
            harmless_try(&e, Some("n"), Some("line"), &senders)
        };
        assert!(t("s.write_all(&buf[..n])"));
        assert!(t("w.write_all(line.as_bytes())"));
        assert!(t("s.read(&mut buf)"));
        assert!(t("s.flush()"));
        assert!(!t("s.write_all(b\"pong\")"));
        assert!(!t("parse(&buf[..n])"));
        assert!(t("tx.send(buf.split().freeze()).await"));
        assert!(t("tx.as_mut().expect(\"open\").send(chunk).await"));
        assert!(!t("tx.try_send(chunk)"));
        assert!(!t("sink.send(Message::Binary(data)).await"));
    }
}
