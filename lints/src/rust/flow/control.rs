//! A small per-function control-flow view, for rules that ask "what happens next" about one
//! expression of a body: which loop repeats it, and whether a region of code (a `match` arm,
//! the branch of an `if n == 0`, the rest of a loop body) leaves that loop, may leave it, or
//! stays in it.
//!
//! No graph is built: Rust's structured control flow answers these questions syntactically.
//!
//! - [`Flow::of`] collects the loops (`loop`, `while`, `while let`, `for`) and the nested
//!   bodies (closures, `async` blocks) of a function body. [`Flow::enclosing_loop`] is the
//!   innermost loop that repeats a span *in the same body*: a loop outside a closure or an
//!   `async` block does not repeat the code inside it (that code runs when the closure is
//!   called or the future polled, possibly on another thread), so a `return` in a closure leaves
//!   the closure, not the loop.
//! - [`exits`] scans a region (an expression, a block) for what can leave the loop the region
//!   runs in: `break` (unlabelled ones only outside nested loops; labelled ones always count),
//!   `return`, `?`, diverging macros and calls (`panic!`, `unreachable!`, `bail!`,
//!   `std::process::exit`...), `continue`, and plain assignments (`done = true`: a flag that a
//!   loop condition or a later check may read). Closures, `async` blocks and nested items are
//!   their own bodies and are not scanned. Macro bodies are scanned as tokens (`break`,
//!   `return`, `?` inside `tokio::select!` count as possible exits), so a macro body syn
//!   cannot parse never makes the scan fail. `skip` spans cut sub-regions out of the scan (the
//!   arms of a `match` that a given value does not reach).
//! - [`Exits::judge`] turns the scan into an [`Exit`]: `Leaves` when every path ends in a
//!   `break`/`return`/diverging call, `MayLeave` when some path can, `Stays` when none can.
//!   The caller says which `?` operators cannot fire (a `?` on the read being judged, a write
//!   of an empty slice).
//!
//! Recursion follows the syntax tree's nesting only, like syn's visitors.

use nginx_parser::Span;
use proc_macro2::TokenTree;
use syn::visit::{self, Visit};
use syn::{Block, Expr, Stmt};

use crate::rust::node_span;
use crate::rust::syntax::calls::path_segments;
use crate::rust::syntax::patterns::only_err;

/// The kinds of loops; a `for` loop runs over a finite or external iterator, so most rules do
/// not treat it as repeating forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopKind {
    Loop,
    While,
    WhileLet,
    For,
}

/// One loop of a function body.
#[derive(Clone, Copy)]
pub struct LoopSite<'a> {
    pub expr: &'a Expr,
    pub kind: LoopKind,
    /// The whole loop expression.
    pub span: Span,
    /// The `loop` / `while` / `for` keyword.
    pub keyword: Span,
    pub body: &'a Block,
    /// The condition of a `while` or the scrutinee of a `while let`.
    pub cond: Option<&'a Expr>,
}

/// The loops and nested bodies of one function body.
#[derive(Default)]
pub struct Flow<'a> {
    loops: Vec<LoopSite<'a>>,
    bodies: Vec<Span>,
}

impl<'a> Flow<'a> {
    pub fn of(block: &'a Block) -> Flow<'a> {
        let mut flow = Flow::default();
        flow.visit_block(block);
        flow
    }

    /// The innermost loop that repeats `at` within the same body (no closure or `async` block
    /// between the loop and `at`).
    pub fn enclosing_loop(&self, at: Span) -> Option<&LoopSite<'a>> {
        let body = self.body_of(at);
        self.loops
            .iter()
            .filter(|l| contains(l.span, at) && body.is_none_or(|b| contains(b, l.span)))
            .min_by_key(|l| l.span.end - l.span.start)
    }

    /// The innermost closure or `async` block containing `at`, if any.
    pub fn body_of(&self, at: Span) -> Option<Span> {
        self.bodies
            .iter()
            .filter(|b| contains(**b, at))
            .min_by_key(|b| b.end - b.start)
            .copied()
    }
}

impl<'a> Visit<'a> for Flow<'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr(&mut self, e: &'a Expr) {
        let site = |kind, keyword, body, cond| LoopSite {
            expr: e,
            kind,
            span: node_span(e),
            keyword,
            body,
            cond,
        };
        match e {
            Expr::Loop(l) => self.loops.push(site(
                LoopKind::Loop,
                node_span(&l.loop_token),
                &l.body,
                None,
            )),
            Expr::While(w) => {
                let kind = if matches!(&*w.cond, Expr::Let(_)) {
                    LoopKind::WhileLet
                } else {
                    LoopKind::While
                };
                let cond = match &*w.cond {
                    Expr::Let(l) => &*l.expr,
                    c => c,
                };
                self.loops
                    .push(site(kind, node_span(&w.while_token), &w.body, Some(cond)));
            }
            Expr::ForLoop(f) => self.loops.push(site(
                LoopKind::For,
                node_span(&f.for_token),
                &f.body,
                Some(&f.expr),
            )),
            Expr::Closure(_) | Expr::Async(_) => self.bodies.push(node_span(e)),
            _ => {}
        }
        visit::visit_expr(self, e);
    }
}

pub use crate::rust::model::sockets::contains;

/// How a region ends, relative to the loop it runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every path leaves the loop (or the function).
    Leaves,
    /// Some path may leave it.
    MayLeave,
    /// No path leaves it: it continues the loop or falls through.
    Stays,
}

/// What a scanned region can do to leave its loop.
#[derive(Default)]
pub struct Exits<'a> {
    /// `break`s that leave the loop, `return`s, diverging macros and calls.
    pub leaving: Vec<Span>,
    /// `continue`s of the loop itself.
    pub continues: Vec<Span>,
    /// The operands of `?` operators.
    pub tries: Vec<&'a Expr>,
    /// Macros whose tokens contain `break`, `return` or `?`.
    pub opaque: Vec<Span>,
    /// Left-hand sides of plain assignments (`done = true`).
    pub assigned: Vec<&'a Expr>,
    /// Whether every path of the region ends by leaving.
    pub always: bool,
}

impl Exits<'_> {
    /// The region's [`Exit`], counting a `?` whose operand satisfies `harmless` as unable to
    /// fire, and any plain assignment as a possible exit (a flag read elsewhere).
    pub fn judge(&self, harmless: impl Fn(&Expr) -> bool) -> Exit {
        if self.always {
            Exit::Leaves
        } else if !self.leaving.is_empty()
            || !self.opaque.is_empty()
            || !self.assigned.is_empty()
            || self.tries.iter().any(|t| !harmless(t))
        {
            Exit::MayLeave
        } else {
            Exit::Stays
        }
    }
}

impl<'a> Exits<'a> {
    /// Forgets the assignments to a local that nothing of the loop tests (`carry = leftover`
    /// feeds the next read; it is no flag): only a flag a condition reads can end the loop.
    /// Assignments to fields and through `*` stay possible exits (other code may read them).
    pub fn drop_untested_assignments(mut self, tested: impl Fn(&str) -> bool) -> Self {
        self.assigned.retain(|target| match target {
            Expr::Path(p) => p.path.get_ident().is_none_or(|i| tested(&i.to_string())),
            _ => true,
        });
        self
    }
}

/// The arms of a state machine that the end-of-stream path of the read at `site` cannot reach.
/// When the loop body matches on a place (`match *stage`, `match self.state`) and the arm that
/// holds the read assigns that place nowhere outside `skip` (the regions end of stream does not
/// run), the next round enters the same arm and reads again: the other arms' exits are not on
/// this path.
pub fn other_state_arms(body: &[Stmt], site: Span, skip: &[Span]) -> Vec<Span> {
    for stmt in body {
        let Stmt::Expr(Expr::Match(m), _) = stmt else {
            continue;
        };
        if !contains(node_span(m), site) {
            continue;
        }
        let Some(state) = place_key(&m.expr) else {
            return Vec::new();
        };
        let Some(arm) = m.arms.iter().find(|a| contains(node_span(*a), site)) else {
            return Vec::new();
        };
        struct Assigns<'k, 's> {
            state: &'k str,
            skip: &'s [Span],
            found: bool,
        }
        impl<'ast> Visit<'ast> for Assigns<'_, '_> {
            fn visit_expr(&mut self, e: &'ast Expr) {
                if self.skip.contains(&node_span(e)) {
                    return;
                }
                if let Expr::Assign(a) = e {
                    self.found |= place_key(&a.left).as_deref() == Some(self.state);
                }
                visit::visit_expr(self, e);
            }
            fn visit_block(&mut self, b: &'ast Block) {
                if !self.skip.contains(&node_span(b)) {
                    visit::visit_block(self, b);
                }
            }
            fn visit_arm(&mut self, a: &'ast syn::Arm) {
                if !self.skip.contains(&node_span(a)) {
                    visit::visit_arm(self, a);
                }
            }
            // A macro may assign it (`ready!` does not; an unknown one might).
            fn visit_macro(&mut self, mac: &'ast syn::Macro) {
                let text = mac.tokens.to_string();
                self.found |= text.contains(self.state.rsplit('.').next().unwrap_or(self.state));
            }
        }
        let mut scan = Assigns {
            state: &state,
            skip,
            found: false,
        };
        scan.visit_arm(arm);
        if scan.found {
            return Vec::new();
        }
        return m
            .arms
            .iter()
            .filter(|a| !std::ptr::eq(*a, arm))
            .map(node_span)
            .collect();
    }
    Vec::new()
}

/// A place as text (`stage`, `self.state`), through `*`, `&mut` and parentheses.
pub fn place_key(e: &Expr) -> Option<String> {
    match e {
        Expr::Paren(p) => place_key(&p.expr),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => place_key(&u.expr),
        Expr::Reference(r) => place_key(&r.expr),
        Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
        Expr::Field(f) => match &f.member {
            syn::Member::Named(n) => Some(format!("{}.{n}", place_key(&f.base)?)),
            syn::Member::Unnamed(i) => Some(format!("{}.{}", place_key(&f.base)?, i.index)),
        },
        _ => None,
    }
}

/// Macros that never return.
const DIVERGING_MACROS: &[&str] = &[
    "panic",
    "unreachable",
    "todo",
    "unimplemented",
    "bail",
    "fail",
];

/// Functions that never return, by their path's last segments.
const DIVERGING_CALLS: &[&[&str]] = &[&["process", "exit"], &["process", "abort"], &["panic_any"]];

/// Scans `region` for what can leave the loop it runs in; sub-regions whose span is in `skip`
/// are not looked at.
pub fn exits<'a>(region: &'a Expr, skip: &[Span]) -> Exits<'a> {
    let mut scan = Scan {
        skip,
        depth: 0,
        out: Exits::default(),
    };
    scan.visit_expr(region);
    scan.out.always = always_leaves(region);
    scan.out
}

/// [`exits`] over a sequence of statements (the rest of a loop body).
pub fn exits_of_stmts<'a>(stmts: &'a [Stmt], skip: &[Span]) -> Exits<'a> {
    let mut scan = Scan {
        skip,
        depth: 0,
        out: Exits::default(),
    };
    for s in stmts {
        scan.visit_stmt(s);
    }
    // A skipped statement is not on the path judged.
    scan.out.always = stmts
        .iter()
        .filter(|s| !matches!(s, Stmt::Expr(e, _) if skip.contains(&node_span(e))))
        .any(stmt_always_leaves);
    scan.out
}

struct Scan<'s, 'a> {
    skip: &'s [Span],
    /// Nested loops entered: an unlabelled `break`/`continue` inside one is about that loop.
    depth: usize,
    out: Exits<'a>,
}

impl<'a> Visit<'a> for Scan<'_, 'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr(&mut self, e: &'a Expr) {
        let span = node_span(e);
        if self.skip.contains(&span) {
            return;
        }
        // `if let Err(e) = op { return }`, `if op.is_err() { break }`: the branch runs only when
        // `op` fails, so its exits are `op`'s failure, like a `?` on it.
        if let Expr::If(i) = e {
            if let Some(op) = failure_of(&i.cond) {
                self.guarded(op, |s| s.visit_block(&i.then_branch));
                self.visit_expr(op);
                if let Some((_, other)) = &i.else_branch {
                    self.visit_expr(other);
                }
                return;
            }
        }
        match e {
            Expr::Closure(_) | Expr::Async(_) => return,
            Expr::Loop(_) | Expr::While(_) | Expr::ForLoop(_) => {
                self.depth += 1;
                visit::visit_expr(self, e);
                self.depth -= 1;
                return;
            }
            Expr::Break(b) if self.depth == 0 || b.label.is_some() => self.out.leaving.push(span),
            Expr::Continue(c) if self.depth == 0 || c.label.is_some() => {
                self.out.continues.push(span)
            }
            Expr::Return(_) => self.out.leaving.push(span),
            Expr::Try(t) => self.out.tries.push(&t.expr),
            Expr::Match(m) if m.arms.iter().any(|a| only_err(&a.pat)) => {
                self.visit_expr(&m.expr);
                for arm in &m.arms {
                    if only_err(&arm.pat) && !self.skip.contains(&node_span(arm)) {
                        self.guarded(&m.expr, |s| s.visit_expr(&arm.body));
                    } else {
                        self.visit_arm(arm);
                    }
                }
                return;
            }
            Expr::Assign(a) => self.out.assigned.push(&a.left),
            Expr::Call(c) if is_diverging_call(&c.func) => self.out.leaving.push(span),
            Expr::Macro(m) => {
                self.visit_macro_body(&m.mac);
                return;
            }
            _ => {}
        }
        visit::visit_expr(self, e);
    }
    fn visit_stmt_macro(&mut self, m: &'a syn::StmtMacro) {
        self.visit_macro_body(&m.mac);
    }
    fn visit_arm(&mut self, arm: &'a syn::Arm) {
        if self.skip.contains(&node_span(arm)) {
            return;
        }
        visit::visit_arm(self, arm);
    }
    // A skipped branch of an `if` is a block (`if n > 0 { .. }` runs only on data).
    fn visit_block(&mut self, b: &'a syn::Block) {
        if !self.skip.contains(&node_span(b)) {
            visit::visit_block(self, b);
        }
    }
}

impl<'a> Scan<'_, 'a> {
    /// Scans a region that runs only when `op` fails: any exit in it is recorded as `op`'s
    /// failure (an operand of [`Exits::tries`]), which the judge may know cannot happen.
    fn guarded(&mut self, op: &'a Expr, region: impl FnOnce(&mut Self)) {
        let mut inner = Scan {
            skip: self.skip,
            depth: self.depth,
            out: Exits::default(),
        };
        region(&mut inner);
        let o = inner.out;
        if !(o.leaving.is_empty()
            && o.opaque.is_empty()
            && o.tries.is_empty()
            && o.assigned.is_empty())
        {
            self.out.tries.push(op);
        }
        self.out.continues.extend(o.continues);
    }
    fn visit_macro_body(&mut self, mac: &'a syn::Macro) {
        let span = node_span(mac);
        if mac
            .path
            .segments
            .last()
            .is_some_and(|s| DIVERGING_MACROS.contains(&s.ident.to_string().as_str()))
        {
            self.out.leaving.push(span);
            return;
        }
        if token_exit(mac.tokens.clone()) {
            self.out.opaque.push(span);
        }
    }
}

/// The operation a condition tests for failure: `op` in `let Err(..) = op` or `op.is_err()`.
fn failure_of(cond: &Expr) -> Option<&Expr> {
    match cond {
        Expr::Let(l) if only_err(&l.pat) => Some(&l.expr),
        Expr::MethodCall(m) if m.method == "is_err" && m.args.is_empty() => Some(&m.receiver),
        _ => None,
    }
}

/// Whether tokens contain `break`, `return` or `?` at any depth.
fn token_exit(tokens: proc_macro2::TokenStream) -> bool {
    let mut stack = vec![tokens.into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(tt) = top.next() else {
            stack.pop();
            continue;
        };
        match tt {
            TokenTree::Ident(i) if i == "break" || i == "return" => return true,
            TokenTree::Punct(p) if p.as_char() == '?' => return true,
            TokenTree::Group(g) => stack.push(g.stream().into_iter()),
            _ => {}
        }
    }
    false
}

fn is_diverging_call(func: &Expr) -> bool {
    let Some(segs) = path_segments(func).filter(|_| matches!(func, Expr::Path(_))) else {
        return false;
    };
    DIVERGING_CALLS.iter().any(|tail| {
        segs.len() >= tail.len()
            && segs[segs.len() - tail.len()..]
                .iter()
                .map(String::as_str)
                .eq(tail.iter().copied())
    })
}

/// Whether every path through a block leaves the loop it runs in (see [`always_leaves`]).
pub fn block_always_leaves(b: &Block) -> bool {
    b.stmts.iter().any(stmt_always_leaves)
}

fn stmt_always_leaves(s: &Stmt) -> bool {
    match s {
        Stmt::Expr(e, _) => always_leaves(e),
        Stmt::Macro(m) => m
            .mac
            .path
            .segments
            .last()
            .is_some_and(|s| DIVERGING_MACROS.contains(&s.ident.to_string().as_str())),
        _ => false,
    }
}

/// Whether every path through `e` leaves the loop it runs in: a `break`, a `return`, a
/// diverging macro or call, a block with such a statement, an `if` with both branches leaving,
/// a `match` whose every arm leaves. Depth follows the expression's nesting (a `match` in a
/// block in an arm...), as a syn visitor would.
pub fn always_leaves(e: &Expr) -> bool {
    match e {
        Expr::Break(_) | Expr::Return(_) => true,
        Expr::Call(c) => is_diverging_call(&c.func),
        Expr::Macro(m) => m
            .mac
            .path
            .segments
            .last()
            .is_some_and(|s| DIVERGING_MACROS.contains(&s.ident.to_string().as_str())),
        Expr::Paren(p) => always_leaves(&p.expr),
        Expr::Block(b) if b.label.is_none() => b.block.stmts.iter().any(stmt_always_leaves),
        Expr::Unsafe(u) => u.block.stmts.iter().any(stmt_always_leaves),
        Expr::If(i) => {
            i.then_branch.stmts.iter().any(stmt_always_leaves)
                && i.else_branch
                    .as_ref()
                    .is_some_and(|(_, e)| always_leaves(e))
        }
        Expr::Match(m) => !m.arms.is_empty() && m.arms.iter().all(|a| always_leaves(&a.body)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(src: &str) -> syn::Block {
        syn::parse_str(src).expect("test body parses")
    }

    fn arm_exit(src: &str, arm: usize) -> Exit {
        let b = body(src);
        let Some(Stmt::Expr(Expr::Match(m), _)) = b.stmts.first() else {
            panic!("first statement is a match");
        };
        exits(&m.arms[arm].body, &[]).judge(|_| false)
    }

    #[test]
    fn arms_that_leave_continue_or_fall_through() {
        let src = "{ match r { Ok(0) => break, Ok(n) => { continue } Err(e) => return Err(e), Ok(_) => {} } }";
        assert_eq!(arm_exit(src, 0), Exit::Leaves);
        assert_eq!(arm_exit(src, 1), Exit::Stays);
        assert_eq!(arm_exit(src, 2), Exit::Leaves);
        assert_eq!(arm_exit(src, 3), Exit::Stays);
    }

    #[test]
    fn partial_exits_flags_and_tries() {
        let src = "{ match r { Ok(n) => if n > 3 { break }, Ok(_) => { done = true; } Ok(_) => f()?, Ok(_) => { panic!(\"x\") } Ok(_) => { drop(s); break } } }";
        assert_eq!(arm_exit(src, 0), Exit::MayLeave);
        assert_eq!(arm_exit(src, 1), Exit::MayLeave);
        assert_eq!(arm_exit(src, 2), Exit::MayLeave);
        assert_eq!(arm_exit(src, 3), Exit::Leaves);
        assert_eq!(arm_exit(src, 4), Exit::Leaves);
    }

    #[test]
    fn nested_bodies_and_loops_are_their_own() {
        // A `return` in a closure and a `break` of an inner loop do not leave the outer loop;
        // a labelled break does.
        let src = "{ match r { Ok(_) => { spawn(move || { return; }); } Ok(_) => { for x in y { break; } } Ok(_) => { for x in y { break 'outer; } } Ok(_) => { select! { x = f() => break } } } }";
        assert_eq!(arm_exit(src, 0), Exit::Stays);
        assert_eq!(arm_exit(src, 1), Exit::Stays);
        assert_eq!(arm_exit(src, 2), Exit::MayLeave);
        assert_eq!(arm_exit(src, 3), Exit::MayLeave);
    }

    #[test]
    fn enclosing_loop_stops_at_closures() {
        let b =
            body("{ loop { let a = 1; spawn(move || { let b = 2; }); while x { let c = 3; } } }");
        let flow = Flow::of(&b);
        let (outer, inner) = (&flow.loops[0], &flow.loops[1]);
        assert_eq!(outer.kind, LoopKind::Loop);
        assert_eq!(inner.kind, LoopKind::While);
        assert_eq!(
            flow.enclosing_loop(node_span(inner.body)).map(|l| l.span),
            Some(inner.span)
        );
        assert_eq!(
            flow.enclosing_loop(node_span(outer.body)).map(|l| l.span),
            Some(outer.span)
        );
        // Code inside the closure runs when the closure is called: no loop repeats it here.
        let closure = flow.bodies[0];
        assert!(flow
            .enclosing_loop(Span::new(
                closure.start as usize + 1,
                closure.end as usize - 1
            ))
            .is_none());
    }
}
