//! End of stream of a stream of frames or lines read from a connection, for `eof-ignored`:
//! `next()` on a value the function holds as a connection (a `FramedRead::new(conn, codec)`,
//! a `Framed`, a `BufReader::new(conn).lines()`, a WebSocket stream, a field whose declared
//! type wraps a connection) returns `None` once the peer has closed, and `try_next()` and
//! `next_line()` return `Ok(None)`; each returns it again, at once, on every later call. A
//! loop whose `None` path neither leaves nor drops the stream spins, and the connection stays
//! in CLOSE_WAIT.
//!
//! The `None` path of one call inside its loop is read from the call's place: `while let`
//! (this loop's own condition), `match`, `if let`, `let .. else`, a value bound by `let` and
//! then tested (`is_none()`, `is_some()`, `if let`, `match`), or a result discarded. `?`,
//! `unwrap()` and `expect()` on an `Option` leave at `None`. Anything else done with a bound
//! value counts in the code's favour.

use nginx_parser::Span;
use syn::visit::{self, Visit};
use syn::{Block, Expr, Pat, Stmt};

use crate::rust::flow::control::{contains, exits, exits_of_stmts, Exit, Flow, LoopKind, LoopSite};
use crate::rust::flow::eof::paths::unprinted_mention;
use crate::rust::flow::eof::Streams;
use crate::rust::model::sockets::method_span;
use crate::rust::node_span;

/// Methods of a stream of frames, and whether their end of stream is `Ok(None)` (else `None`).
const FRAME_READS: &[(&str, bool)] = &[("next", false), ("try_next", true), ("next_line", true)];

/// One frame read whose end of stream stays in its loop.
pub struct FrameFinding {
    /// The call (method name to closing parenthesis).
    pub call: Span,
    pub method: String,
    /// Where end of stream goes wrong, and what to say there.
    pub at: Span,
    pub label: String,
    /// The loop's keyword.
    pub keyword: Span,
    /// The connection's root name.
    pub root: Option<String>,
}

/// A frame read found in a function body, with where its result goes.
struct Site<'a> {
    call: &'a syn::ExprMethodCall,
    /// End of stream is `Ok(None)` at the place the value lands (no `?` on the way).
    ok_none: bool,
    /// A `?` on the way passes only errors (the read's end of stream is `Ok(None)`).
    errors_only_try: bool,
    place: Place<'a>,
}

enum Place<'a> {
    /// `call;` or `let _ = call;`.
    Discarded,
    /// `let x = call;`.
    Bound(String),
    /// `let PAT = call else { .. }`.
    LetElse(&'a Pat, &'a Expr),
    Match(&'a syn::ExprMatch),
    /// `if let PAT = call { .. } else { .. }`.
    IfLet(&'a Pat, &'a syn::ExprIf),
    /// `while let PAT = call` (a loop's condition).
    WhileLet(&'a Pat),
}

/// The frame reads of a function body whose end of stream stays in the loop that repeats them.
pub fn find(streams: &Streams<'_>, block: &Block) -> Vec<FrameFinding> {
    let mut finder = Finder {
        streams,
        sites: Vec::new(),
    };
    finder.visit_block(block);
    if finder.sites.is_empty() {
        return Vec::new();
    }
    let flow = Flow::of(block);
    let mut out = Vec::new();
    for site in finder.sites {
        let call = method_span(site.call);
        let Some(lp) = flow.enclosing_loop(call) else {
            continue;
        };
        if lp.kind == LoopKind::For {
            continue;
        }
        if let Some((at, label)) = judge(&site, call, lp) {
            out.push(FrameFinding {
                call,
                method: site.call.method.to_string(),
                at,
                label,
                keyword: lp.keyword,
                root: Streams::root(&site.call.receiver),
            });
        }
    }
    out
}

/// Where end of stream stays in the loop, and the label; `None` when it leaves (or may).
fn judge(site: &Site<'_>, call: Span, lp: &LoopSite<'_>) -> Option<(Span, String)> {
    let eof = if site.ok_none { "`Ok(None)`" } else { "`None`" };
    let mut skip: Vec<Span> = Vec::new();
    // The code end of stream runs into first (an arm, a branch): when it goes round the loop
    // with `continue`, nothing after it matters.
    let mut first: Option<&Expr> = None;
    let mut continues_at_once = false;
    let (at, label) = match &site.place {
        Place::Discarded => (
            call,
            format!(
                "the result is discarded: at end of stream it is {eof} and the loop carries on"
            ),
        ),
        Place::LetElse(pat, diverge) => {
            if !matches_eof(pat, site.ok_none) {
                return exits(diverge, &[])
                    .judge(|_| false)
                    .eq(&Exit::Stays)
                    .then(|| {
                        (
                            node_span(*diverge),
                            format!(
                                "end of stream ({eof}) takes this `else`, which stays in the loop"
                            ),
                        )
                    });
            }
            (
                node_span(*pat),
                format!("this pattern also matches end of stream ({eof})"),
            )
        }
        Place::Match(m) => {
            let arm = m
                .arms
                .iter()
                .find(|a| arm_matches_eof(&a.pat, site.ok_none))?;
            skip.extend(
                m.arms
                    .iter()
                    .filter(|a| !std::ptr::eq(*a, arm))
                    .map(node_span),
            );
            first = Some(&arm.body);
            (
                node_span(&arm.pat),
                format!("end of stream ({eof}) lands here, and this arm stays in the loop"),
            )
        }
        Place::IfLet(pat, i) => {
            if matches_eof(pat, site.ok_none) {
                skip.extend(i.else_branch.as_ref().map(|(_, e)| node_span(&**e)));
                (
                    node_span(*pat),
                    format!("this pattern also matches end of stream ({eof})"),
                )
            } else {
                skip.push(node_span(&i.then_branch));
                (
                    node_span(*pat),
                    format!(
                        "at end of stream ({eof}) this branch is skipped, and the loop goes on"
                    ),
                )
            }
        }
        Place::WhileLet(pat) => {
            if !matches_eof(pat, site.ok_none) {
                return None;
            }
            (
                node_span(*pat),
                format!("this pattern also matches end of stream ({eof}), so the loop goes on"),
            )
        }
        Place::Bound(name) => {
            let uses = OptionUses::scan(name, &lp.body.stmts);
            // A test for `None` decides; without one, any other use may handle it.
            if uses.other && uses.none_tests.is_empty() {
                return None;
            }
            match (uses.none_tests.first(), uses.some_only.first()) {
                (Some(test), _) => {
                    skip.extend(test.else_branch.as_ref().map(|(_, e)| node_span(&**e)));
                    continues_at_once = continues_only(&test.then_branch);
                    (
                        node_span(&test.cond),
                        format!(
                            "at end of stream `{name}` is {eof}, and this branch stays in the loop"
                        ),
                    )
                }
                (None, Some(test)) => {
                    skip.extend(uses.some_only.iter().map(|i| node_span(&i.then_branch)));
                    (
                        node_span(&test.cond),
                        format!("at end of stream `{name}` is {eof}: this test only skips the frame, and the loop goes on"),
                    )
                }
                (None, None) => (
                    call,
                    format!("at end of stream `{name}` is {eof}, and nothing tests it"),
                ),
            }
        }
    };
    if let Some(region) = first {
        let scan = exits(region, &[]);
        continues_at_once = scan.judge(|_| false) == Exit::Stays && !scan.continues.is_empty();
    }
    if continues_at_once {
        // Back at the top of the loop, code before the read may still leave (a flag checked
        // first thing).
        let before = lp
            .body
            .stmts
            .iter()
            .take_while(|s| !contains(node_span(*s), call))
            .count();
        let exit = exits_of_stmts(&lp.body.stmts[..before], &[]).judge(|_| false);
        return (exit == Exit::Stays).then_some((at, label));
    }
    if lp.kind == LoopKind::While {
        // A condition the body may change decides as much as the read.
        return None;
    }
    let harmless = |t: &Expr| contains(node_span(t), call) && site.errors_only_try;
    let exit = exits_of_stmts(&lp.body.stmts, &skip)
        .drop_untested_assignments(|name| {
            lp.cond.is_some_and(|c| {
                crate::rust::model::sockets::idents_in_expr(c)
                    .iter()
                    .any(|i| i == name)
            })
        })
        .judge(harmless);
    (exit == Exit::Stays).then_some((at, label))
}

/// Whether a block goes round the loop (`continue`) and can do nothing else to leave it.
fn continues_only(block: &Block) -> bool {
    let scan = exits_of_stmts(&block.stmts, &[]);
    scan.judge(|_| false) == Exit::Stays && !scan.continues.is_empty()
}

/// Whether a pattern matches the end of stream of a frame read: `None` (or `Ok(None)`), `_`, a
/// binding, or `Ok(x)` / `Ok(_)` of an `Ok(None)` read.
fn matches_eof(pat: &Pat, ok_none: bool) -> bool {
    match pat {
        Pat::Or(o) => o.cases.iter().any(|c| matches_eof(c, ok_none)),
        Pat::Paren(p) => matches_eof(&p.pat, ok_none),
        Pat::Type(t) => matches_eof(&t.pat, ok_none),
        Pat::Wild(_) => true,
        Pat::Ident(i) => i.subpat.is_none(),
        Pat::Path(p) => !ok_none && p.path.is_ident("None"),
        // `Ok(None)`, `Ok(_)`, `Ok(x)` of an `Ok(None)` read.
        Pat::TupleStruct(t) if ok_none => {
            t.elems.len() == 1
                && t.path.segments.last().is_some_and(|s| s.ident == "Ok")
                && matches_eof(&t.elems[0], false)
        }
        _ => false,
    }
}

/// An arm's pattern that end of stream reaches (a guard makes it unknown: not this arm).
fn arm_matches_eof(pat: &Pat, ok_none: bool) -> bool {
    !matches!(pat, Pat::Guard(_)) && matches_eof(pat, ok_none)
}

struct Finder<'s, 'f, 'a> {
    streams: &'s Streams<'f>,
    sites: Vec<Site<'a>>,
}

impl<'a> Finder<'_, '_, 'a> {
    /// The frame read `expr` is (through `.await`, parentheses, and `?` of an `Ok(None)` read),
    /// unless something on the way leaves at end of stream (`?`, `unwrap`, `expect` of an
    /// `Option`).
    fn frame_read(&self, mut expr: &'a Expr) -> Option<(&'a syn::ExprMethodCall, bool, bool)> {
        let mut tried = false;
        loop {
            expr = match expr {
                Expr::Await(a) => &a.base,
                Expr::Paren(p) => &p.expr,
                Expr::Try(t) => {
                    tried = true;
                    &t.expr
                }
                Expr::MethodCall(m) => {
                    let method = m.method.to_string();
                    if let Some((_, ok_none)) = FRAME_READS.iter().find(|(n, _)| *n == method) {
                        let leaves = tried && !ok_none;
                        // After `?`, an `Ok(None)` read's value is a plain `Option`.
                        let option = !ok_none || tried;
                        return (m.args.is_empty() && !leaves && self.streams.holds(&m.receiver))
                            .then_some((m, !option, tried && *ok_none));
                    }
                    return None;
                }
                _ => return None,
            };
        }
    }

    fn push(&mut self, expr: &'a Expr, place: Place<'a>) -> bool {
        match self.frame_read(expr) {
            Some((call, ok_none, errors_only_try)) => {
                self.sites.push(Site {
                    call,
                    ok_none,
                    errors_only_try,
                    place,
                });
                true
            }
            None => false,
        }
    }
}

impl<'a> Visit<'a> for Finder<'_, '_, 'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}

    fn visit_stmt(&mut self, s: &'a Stmt) {
        match s {
            Stmt::Local(l) => {
                if let Some(init) = &l.init {
                    let pat = crate::rust::model::sockets::strip_pat_type(&l.pat);
                    let place = match (&init.diverge, pat) {
                        (Some((_, d)), _) => Place::LetElse(&l.pat, d),
                        (None, Pat::Wild(_)) => Place::Discarded,
                        (None, Pat::Ident(i)) if i.subpat.is_none() => {
                            Place::Bound(i.ident.to_string())
                        }
                        _ => return visit::visit_stmt(self, s),
                    };
                    if self.push(&init.expr, place) {
                        if let Some((_, d)) = &init.diverge {
                            self.visit_expr(d);
                        }
                        return;
                    }
                }
            }
            Stmt::Expr(e, Some(_)) if self.push(e, Place::Discarded) => return,
            _ => {}
        }
        visit::visit_stmt(self, s);
    }

    fn visit_expr(&mut self, e: &'a Expr) {
        match e {
            Expr::Match(m) if self.push(&m.expr, Place::Match(m)) => {
                for arm in &m.arms {
                    self.visit_arm(arm);
                }
                return;
            }
            Expr::If(i) => {
                if let Expr::Let(l) = &*i.cond {
                    if self.push(&l.expr, Place::IfLet(&l.pat, i)) {
                        self.visit_block(&i.then_branch);
                        if let Some((_, e)) = &i.else_branch {
                            self.visit_expr(e);
                        }
                        return;
                    }
                }
            }
            Expr::While(w) => {
                if let Expr::Let(l) = &*w.cond {
                    if self.push(&l.expr, Place::WhileLet(&l.pat)) {
                        self.visit_block(&w.body);
                        return;
                    }
                }
            }
            _ => {}
        }
        visit::visit_expr(self, e);
    }
}

/// How a bound frame is used in the loop body.
struct OptionUses<'a> {
    name: &'a str,
    /// `if x.is_none() { .. }`.
    none_tests: Vec<&'a syn::ExprIf>,
    /// Branches that run only on a frame: `if x.is_some() { .. }` and `if let Some(..) = x`
    /// with no `else`.
    some_only: Vec<&'a syn::ExprIf>,
    /// Any other mention (passed on, matched, unwrapped...): what happens at `None` is not
    /// known here.
    other: bool,
}

impl<'a> OptionUses<'a> {
    fn scan(name: &'a str, body: &'a [Stmt]) -> Self {
        let mut u = OptionUses {
            name,
            none_tests: Vec::new(),
            some_only: Vec::new(),
            other: false,
        };
        for s in body {
            u.visit_stmt(s);
        }
        u
    }

    fn is_name(&self, e: &Expr) -> bool {
        matches!(e, Expr::Path(p) if p.path.is_ident(self.name))
    }

    /// `x.is_none()` / `x.is_some()`: which of the two, if `e` is one.
    fn test(&self, e: &Expr) -> Option<bool> {
        match e {
            Expr::MethodCall(m) if m.args.is_empty() && self.is_name(&m.receiver) => {
                match m.method.to_string().as_str() {
                    "is_none" => Some(true),
                    "is_some" => Some(false),
                    _ => None,
                }
            }
            Expr::Paren(p) => self.test(&p.expr),
            _ => None,
        }
    }
}

impl<'a> Visit<'a> for OptionUses<'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr(&mut self, e: &'a Expr) {
        if let Expr::If(i) = e {
            let some_pattern = match &*i.cond {
                Expr::Let(l) => {
                    self.is_name(&l.expr)
                        && matches!(&*l.pat, Pat::TupleStruct(t) if t.path.segments.last().is_some_and(|s| s.ident == "Some"))
                }
                _ => false,
            };
            match (self.test(&i.cond), some_pattern, &i.else_branch) {
                (Some(true), _, _) => {
                    self.none_tests.push(i);
                    self.visit_block(&i.then_branch);
                    if let Some((_, e)) = &i.else_branch {
                        self.visit_expr(e);
                    }
                    return;
                }
                (Some(false), _, None) | (None, true, None) => {
                    self.some_only.push(i);
                    return;
                }
                _ => {}
            }
        }
        if self.is_name(e) {
            self.other = true;
        }
        visit::visit_expr(self, e);
    }
    fn visit_macro(&mut self, m: &'a syn::Macro) {
        self.other |= unprinted_mention(m, self.name);
    }
}
