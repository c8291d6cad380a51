//! End of stream at the poll level, for `eof-ignored`: a loop that polls a connection's
//! `poll_read` and goes round again when the poll reports end of stream.
//!
//! - tokio's `AsyncRead::poll_read(cx, &mut ReadBuf)` reports end of stream as
//!   `Poll::Ready(Ok(()))` with nothing added to `buf.filled()`; futures-io's
//!   `poll_read(cx, &mut [u8])` and `poll_read_buf` (tokio-util) as `Poll::Ready(Ok(0))`.
//! - A poll is recognised as a method (`Pin::new(&mut self.io).poll_read(cx, &mut rb)`,
//!   `this.io.as_mut().poll_read_buf(..)`) or a function (`AsyncRead::poll_read(pin, ..)`,
//!   `tokio_util::io::poll_read_buf(pin, ..)`), inside `ready!(..)`, with `?`, consumed by a
//!   `match` (the arm end of stream reaches: `Poll::Ready(Ok(()))`, `Ok(n)`, `Ok(0)`, `_`...),
//!   `if let` / `while let`, `let n = ..?` or as a statement.
//! - The end-of-stream path is the body of the loop that repeats the poll (`loop` and
//!   `while let` on the poll itself; `for` and `while` loops are not judged) with the arms
//!   end of stream does not reach cut out, the `else` of an `if` that holds at end of stream
//!   (`rb.filled().is_empty()`, `n == 0`, `buf.filled().len() == before`) and the `then` of
//!   one that cannot (`!is_empty()`, `n > 0`, `buf.filled().len() > before`, or `&&` with
//!   such an operand) cut out too. The loop is reported only when nothing left on it may leave
//!   the loop ([`exits_of_stmts`]: `break`, `return`, a `?` other than on the poll, a
//!   flag assignment, `ready!` on another future, a macro with `break`/`return`/`?`), no other
//!   condition, macro or `match` looks at what was filled (any such test counts as handling
//!   end of stream), and the connection is not handed to other code (mentioned other than to
//!   poll it, or `self` given to a method that may close it).
//!
//! Only polls on a connection count, decided as everywhere in RS001 by [`Streams`] on the type
//! model: a socket field, parameter or local, an accepted socket, or a wrapper generic over
//! `T: AsyncRead` (its poll loop spins for every reader it wraps, sockets included).

use std::collections::HashSet;

use nginx_parser::Span;
use syn::visit::{self, Visit};
use syn::{BinOp, Block, Expr, Pat, Stmt, UnOp};

use crate::rust::flow::control::{
    contains, exits, exits_of_stmts, other_state_arms, place_key, Exit, Flow, LoopKind, LoopSite,
};
use crate::rust::flow::eof::{pat_idents, Streams};
use crate::rust::model::sockets::{is_print_macro, method_span, through_access, through_wrappers};
use crate::rust::node_span;
use crate::rust::syntax::calls::{is_zero_int, path_ends_with};

/// Polls whose end of stream is an empty success.
const POLL_READS: &[&str] = &["poll_read", "poll_read_buf"];

/// Methods on the connection that neither close it nor hand it over.
const NEUTRAL: &[&str] = &[
    "poll_read",
    "poll_read_buf",
    "poll_write",
    "poll_write_buf",
    "poll_write_vectored",
    "poll_flush",
    "peer_addr",
    "local_addr",
];

/// Methods on `self` that only reach its fields (pin projection).
const PROJECTIONS: &[&str] = &["as_mut", "get_mut", "project", "as_ref", "get_ref"];

/// A poll loop that goes round again at end of stream.
#[derive(Debug)]
pub struct PollFinding {
    /// The `poll_read` call (method name to closing parenthesis).
    pub poll: Span,
    /// `poll_read` or `poll_read_buf`.
    pub name: String,
    /// Whether the poll reports a byte count (`Ready(Ok(0))` at end of stream) rather than
    /// filling a `ReadBuf` (`Ready(Ok(()))` with nothing filled).
    pub counts: bool,
    /// Where the empty case carries on.
    pub at: Span,
    pub label: String,
    /// The keyword of the loop that repeats the poll.
    pub keyword: Span,
}

/// The poll loops of one function body that ignore end of stream.
pub fn find(streams: &Streams<'_>, body: &Block) -> Vec<PollFinding> {
    find_on(&|e| streams.holds(e), body)
}

/// [`find`], with `is_conn` saying which receivers are connections.
fn find_on(is_conn: &dyn Fn(&Expr) -> bool, body: &Block) -> Vec<PollFinding> {
    let mut sites = Sites {
        is_conn,
        found: Vec::new(),
    };
    sites.visit_block(body);
    if sites.found.is_empty() {
        return Vec::new();
    }
    let flow = Flow::of(body);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (poll, form) in &sites.found {
        let Some(lp) = flow.enclosing_loop(poll.span) else {
            continue;
        };
        if !seen.insert(poll.span) {
            continue;
        }
        if let Some(f) = judge(poll, form, lp, body) {
            out.push(f);
        }
    }
    out
}

/// One poll of a connection.
#[derive(Debug)]
struct Poll {
    span: Span,
    /// The whole call, receiver included.
    whole: Span,
    name: String,
    /// The buffer argument's name (`rb` in `&mut rb`, `buf` in `&mut this.buf`).
    buffer: Option<String>,
    /// The connection expression's field name (`io` in `self.io`), if a field.
    field: Option<String>,
    /// Its root name (`self`, `this`, `stream`).
    root: Option<String>,
}

/// How a poll's result is consumed.
enum Form<'a> {
    Match(&'a syn::ExprMatch),
    /// `ready!(..)?;`, `let _ = ..`.
    Discarded,
    /// `let n = ready!(..)?;` (the diverging `else` of a `let .. else` in `skip`).
    Bound(&'a Pat, Option<Span>),
    IfLet(&'a Pat, &'a syn::ExprIf),
    WhileLet(&'a Pat),
}

/// Whether `expr` (through `ready!`, `?`, parentheses) polls a connection.
fn poll_site(is_conn: &dyn Fn(&Expr) -> bool, expr: &Expr) -> Option<Poll> {
    let e = through_wrappers(expr);
    let (conn, buffer, span, name) = match e {
        Expr::Macro(m) => return poll_in_macro(is_conn, &m.mac),
        Expr::MethodCall(m) if POLL_READS.contains(&m.method.to_string().as_str()) => (
            &*m.receiver,
            m.args.last(),
            method_span(m),
            m.method.to_string(),
        ),
        Expr::Call(c) => {
            let name = POLL_READS
                .iter()
                .find(|n| path_ends_with(&c.func, &[n]))?
                .to_string();
            (c.args.first()?, c.args.last(), node_span(c), name)
        }
        _ => return None,
    };
    let conn = unpin(conn);
    if !is_conn(conn) {
        return None;
    }
    Some(Poll {
        span,
        whole: node_span(e),
        name,
        buffer: buffer.and_then(key_of),
        field: match conn {
            Expr::Field(f) => match &f.member {
                syn::Member::Named(n) => Some(n.to_string()),
                syn::Member::Unnamed(_) => None,
            },
            _ => None,
        },
        root: Streams::root(conn),
    })
}

/// A poll inside `ready!(..)` (std's, futures', tokio's).
fn poll_in_macro(is_conn: &dyn Fn(&Expr) -> bool, mac: &syn::Macro) -> Option<Poll> {
    if mac.path.segments.last().is_none_or(|s| s.ident != "ready") {
        return None;
    }
    let inner: Expr = mac.parse_body().ok()?;
    poll_site(is_conn, &inner)
}

/// `Pin::new(&mut x)`, `Pin::new_unchecked(&mut x)` → `x`.
fn unpin(mut e: &Expr) -> &Expr {
    loop {
        e = through_access(e);
        match e {
            Expr::Call(c)
                if c.args.len() == 1
                    && (path_ends_with(&c.func, &["Pin", "new"])
                        || path_ends_with(&c.func, &["Pin", "new_unchecked"])) =>
            {
                e = &c.args[0];
            }
            _ => return e,
        }
    }
}

/// The name a buffer argument is known by: `rb` in `&mut rb`, `buf` in `&mut this.buf`.
fn key_of(e: &Expr) -> Option<String> {
    match through_access(e) {
        Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
        Expr::Field(f) => match &f.member {
            syn::Member::Named(n) => Some(n.to_string()),
            syn::Member::Unnamed(_) => None,
        },
        Expr::Index(i) => key_of(&i.expr),
        _ => None,
    }
}

struct Sites<'s> {
    is_conn: &'s dyn Fn(&Expr) -> bool,
    found: Vec<(Poll, Form<'s>)>,
}

impl<'ast: 's, 's> Visit<'ast> for Sites<'s> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let Some(init) = &l.init {
            if let Some(poll) = poll_site(self.is_conn, &init.expr) {
                let form = match &l.pat {
                    Pat::Wild(_) => Form::Discarded,
                    p => Form::Bound(p, init.diverge.as_ref().map(|(_, e)| node_span(&**e))),
                };
                self.found.push((poll, form));
            }
        }
        visit::visit_local(self, l);
    }
    fn visit_stmt(&mut self, stmt: &'ast Stmt) {
        let discarded = match stmt {
            Stmt::Expr(e, Some(_)) => poll_site(self.is_conn, e),
            Stmt::Macro(m) => poll_in_macro(self.is_conn, &m.mac),
            _ => None,
        };
        if let Some(poll) = discarded {
            self.found.push((poll, Form::Discarded));
        }
        visit::visit_stmt(self, stmt);
    }
    fn visit_expr(&mut self, e: &'ast Expr) {
        let found = match e {
            Expr::Match(m) => poll_site(self.is_conn, &m.expr).map(|p| (p, Form::Match(m))),
            Expr::If(i) => match &*i.cond {
                Expr::Let(l) => {
                    poll_site(self.is_conn, &l.expr).map(|p| (p, Form::IfLet(&l.pat, i)))
                }
                _ => None,
            },
            Expr::While(w) => match &*w.cond {
                Expr::Let(l) => {
                    poll_site(self.is_conn, &l.expr).map(|p| (p, Form::WhileLet(&l.pat)))
                }
                _ => None,
            },
            _ => None,
        };
        self.found.extend(found);
        visit::visit_expr(self, e);
    }
}

/// What a pattern on a poll's result binds at end of stream: `None` when end of stream does
/// not match it (or the pattern is not understood), `Some(None)` when it matches without
/// binding the count, `Some(Some(n))` when it binds the count (or the whole result) to `n`.
/// `exact` is set for an `Ok(0)`.
fn eof_binding(pat: &Pat, exact: &mut bool) -> Option<Option<String>> {
    match pat {
        Pat::Wild(_) => Some(None),
        Pat::Ident(i) if i.subpat.is_none() => Some(Some(i.ident.to_string())),
        Pat::Tuple(t) if t.elems.is_empty() => Some(None),
        Pat::Paren(p) => eof_binding(&p.pat, exact),
        Pat::Type(t) => eof_binding(&t.pat, exact),
        Pat::Lit(l) if matches!(&l.lit, syn::Lit::Int(i) if i.base10_digits() == "0") => {
            *exact = true;
            Some(None)
        }
        Pat::TupleStruct(t) if t.elems.len() == 1 => {
            let last = t.path.segments.last()?.ident.to_string();
            match last.as_str() {
                "Ready" | "Ok" => eof_binding(&t.elems[0], exact),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The arm of a `match` on a poll that end of stream reaches, with the count it binds; `None`
/// when the first arm it may reach is guarded or not understood.
fn eof_arm<'a>(m: &'a syn::ExprMatch, exact: &mut bool) -> Option<(&'a syn::Arm, Option<String>)> {
    for arm in &m.arms {
        if is_err_or_pending(&arm.pat) {
            continue;
        }
        // A guard may let end of stream through to a later arm.
        if matches!(arm.pat, Pat::Guard(_)) {
            return None;
        }
        return Some((arm, eof_binding(&arm.pat, exact)?));
    }
    None
}

/// `Poll::Pending`, `Err(..)`, `Poll::Ready(Err(..))`.
fn is_err_or_pending(pat: &Pat) -> bool {
    match pat {
        Pat::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Pending"),
        Pat::Ident(i) => i.ident == "Pending",
        Pat::TupleStruct(t) => match t.path.segments.last() {
            Some(s) if s.ident == "Err" => true,
            Some(s) if s.ident == "Ready" && t.elems.len() == 1 => is_err_or_pending(&t.elems[0]),
            _ => false,
        },
        Pat::Or(o) => o.cases.iter().all(is_err_or_pending),
        Pat::Guard(g) => is_err_or_pending(&g.pat),
        _ => false,
    }
}

fn judge<'a>(
    poll: &Poll,
    form: &Form<'a>,
    lp: &LoopSite<'a>,
    fn_body: &Block,
) -> Option<PollFinding> {
    let mut skip = Vec::new();
    let mut cut: Vec<&syn::ExprIf> = Vec::new();
    let mut exact = false;
    // `{eof}` is filled in once the form of the result is known.
    let what = |_: bool| "end of stream ({eof})";
    let (count, at, label) = match form {
        Form::Match(m) => {
            let (arm, count) = eof_arm(m, &mut exact)?;
            // An `Ok(0)` arm is the code's own end-of-stream handling unless it only goes
            // round again.
            if exact && !inert(&arm.body) {
                return None;
            }
            skip.extend(
                m.arms
                    .iter()
                    .filter(|a| !std::ptr::eq(*a, arm))
                    .map(node_span),
            );
            let label = format!("{} lands in this arm, which stays in the loop", what(exact));
            (count, node_span(&arm.pat), label)
        }
        Form::Discarded => (
            None,
            poll.span,
            "returns {eof} at end of stream, and nothing after it tests what was read".to_string(),
        ),
        Form::Bound(pat, diverge) => {
            skip.extend(*diverge);
            let count = match pat {
                Pat::Tuple(t) if t.elems.is_empty() => None,
                p => eof_binding(p, &mut exact)?,
            };
            let label = match &count {
                Some(n) => format!("`{n}` is 0 at end of stream, and nothing tests it"),
                None => format!(
                    "{} matches this pattern, and nothing tests what was read",
                    what(exact)
                ),
            };
            (count, node_span(*pat), label)
        }
        Form::IfLet(pat, i) if is_err_or_pending(pat) => {
            // `if let Err(e) = ready!(..) { .. }`: end of stream takes the `else` and the rest.
            skip.push(node_span(*i));
            cut.push(i);
            (
                None,
                poll.span,
                "returns {eof} at end of stream, and nothing after it tests what was read"
                    .to_string(),
            )
        }
        Form::IfLet(pat, i) => {
            let count = eof_binding(pat, &mut exact)?;
            skip.extend(i.else_branch.as_ref().map(|(_, e)| node_span(&**e)));
            let label = format!("{} matches this pattern too", what(exact));
            (count, node_span(*pat), label)
        }
        Form::WhileLet(pat) => {
            if lp.kind != LoopKind::WhileLet
                || !lp.cond.is_some_and(|c| contains(node_span(c), poll.span))
            {
                return None;
            }
            let count = eof_binding(pat, &mut exact)?;
            let label = format!(
                "{} matches this pattern too, so the loop goes on",
                what(exact)
            );
            (count, node_span(*pat), label)
        }
    };
    // A `while` condition or a `while let` on something else may end the loop.
    if lp.kind != LoopKind::Loop && !matches!(form, Form::WhileLet(_)) {
        return None;
    }
    let counts = exact || count.is_some() || poll.name == "poll_read_buf";
    let eof = if counts {
        "`Ready(Ok(0))`"
    } else {
        "`Ready(Ok(()))` with nothing filled"
    };
    let label = label.replace("{eof}", eof);
    let data = DataNames::of(poll, count.as_deref(), fn_body);
    let walk = |skip: Vec<Span>, cut: Vec<&'a syn::ExprIf>| {
        let mut path = EofPath {
            data: &data,
            skip,
            cut_thens: cut,
            test: None,
            tested: false,
            poll: poll.span,
        };
        for s in &lp.body.stmts {
            path.visit_stmt(s);
        }
        path
    };
    let mut path = walk(skip.clone(), cut.clone());
    // In a state machine whose state end of stream does not change, the other states' arms
    // are not on the path: walk again without them.
    let states = other_state_arms(&lp.body.stmts, poll.span, &path.skip);
    if !states.is_empty() {
        path = walk([skip, states].concat(), cut);
    }
    if path.tested {
        return None;
    }
    let harmless = |t: &Expr| contains(node_span(t), poll.span);
    if exits_of_stmts(&lp.body.stmts, &path.skip).judge(harmless) != Exit::Stays {
        return None;
    }
    let other_branches = path.cut_thens.iter().filter_map(|i| i.else_branch.as_ref());
    for (_, e) in other_branches {
        if exits(e, &path.skip).judge(harmless) != Exit::Stays {
            return None;
        }
    }
    if handed_over(poll, &lp.body.stmts, &path.skip) {
        return None;
    }
    let (at, label) = match path.test {
        Some((cond, true)) => (
            node_span(cond),
            "at end of stream nothing is filled, so this holds, and its branch goes round again"
                .to_string(),
        ),
        Some((cond, false)) => (
            node_span(cond),
            "at end of stream nothing is filled, so this is false, and the loop polls again"
                .to_string(),
        ),
        None => (at, label),
    };
    Some(PollFinding {
        poll: poll.span,
        name: poll.name.clone(),
        counts,
        at,
        label,
        keyword: lp.keyword,
    })
}

/// The names that carry what a poll read: the buffer, the count, and `let`s computed from them
/// (`let n = rb.filled().len()`, `let data = rb.filled()`); and the snapshots taken before the
/// poll (`let before = buf.filled().len()`).
struct DataNames {
    buffer: Option<String>,
    data: HashSet<String>,
    snapshots: HashSet<String>,
    /// Places that only grow by what was read (`*buf_pos += n`): at end of stream they keep
    /// the value of the round before.
    accumulators: HashSet<String>,
}

impl DataNames {
    fn of(poll: &Poll, count: Option<&str>, body: &Block) -> Self {
        struct Lets<'a>(Vec<(&'a syn::Local, Span)>);
        impl<'a> Visit<'a> for Lets<'a> {
            fn visit_item(&mut self, _: &'a syn::Item) {}
            fn visit_local(&mut self, l: &'a syn::Local) {
                self.0.push((l, node_span(l)));
                visit::visit_local(self, l);
            }
        }
        let mut lets = Lets(Vec::new());
        lets.visit_block(body);
        let mut names = DataNames {
            buffer: poll.buffer.clone(),
            data: count.map(ToString::to_string).into_iter().collect(),
            snapshots: HashSet::new(),
            accumulators: HashSet::new(),
        };
        // Twice: a derived name may feed another.
        for _ in 0..2 {
            for (l, span) in &lets.0 {
                let Some(init) = &l.init else { continue };
                if !names.is_data(&init.expr) {
                    continue;
                }
                let target = if span.end <= poll.span.start {
                    &mut names.snapshots
                } else {
                    &mut names.data
                };
                target.extend(pat_idents(&l.pat));
            }
        }
        struct Sums<'n>(&'n DataNames, Vec<String>);
        impl<'a> Visit<'a> for Sums<'_> {
            fn visit_item(&mut self, _: &'a syn::Item) {}
            fn visit_expr_binary(&mut self, b: &'a syn::ExprBinary) {
                if matches!(b.op, BinOp::AddAssign(_)) && self.0.is_data(&b.right) {
                    self.1.extend(place_key(&b.left));
                }
                visit::visit_expr_binary(self, b);
            }
        }
        let mut sums = Sums(&names, Vec::new());
        sums.visit_block(body);
        names.accumulators = sums.1.into_iter().collect();
        names
    }

    /// Whether a condition compares places that keep their value at end of stream: an
    /// accumulator of what was read against a literal, a constant or another place, with no
    /// call. At end of stream it answers as in the round before, and that round came back to
    /// this read, so a branch it guards that would have left did not run then and does not now.
    fn stale(&self, c: &Expr) -> bool {
        fn leaves_ok(e: &Expr, names: &DataNames, seen: &mut bool) -> bool {
            match e {
                Expr::Paren(p) => leaves_ok(&p.expr, names, seen),
                Expr::Cast(c) => leaves_ok(&c.expr, names, seen),
                Expr::Lit(_) => true,
                Expr::Binary(b) if !matches!(b.op, BinOp::And(_) | BinOp::Or(_)) => {
                    leaves_ok(&b.left, names, seen) && leaves_ok(&b.right, names, seen)
                }
                e => match place_key(e) {
                    Some(key) => {
                        *seen |= names.accumulators.contains(&key);
                        !names.data.contains(&key)
                    }
                    None => false,
                },
            }
        }
        let Expr::Binary(b) = c else {
            return false;
        };
        let comparison = matches!(
            b.op,
            BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_) | BinOp::Eq(_) | BinOp::Ne(_)
        );
        let mut seen = false;
        comparison && leaves_ok(c, self, &mut seen) && seen
    }

    /// Whether `e` mentions the buffer, the count, a derived name or a snapshot.
    fn mentioned(&self, e: &Expr) -> bool {
        let mut m = Mentions {
            names: self,
            data: false,
            any: false,
        };
        m.visit_expr(e);
        m.any
    }

    /// Whether `e` is what was read: mentions the count or a derived name, or calls
    /// `filled()` on the buffer.
    fn is_data(&self, e: &Expr) -> bool {
        let mut m = Mentions {
            names: self,
            data: false,
            any: false,
        };
        m.visit_expr(e);
        m.data
    }

    fn is_snapshot(&self, e: &Expr) -> bool {
        matches!(through_access(e), Expr::Path(p) if p.path.get_ident().is_some_and(|i| self.snapshots.contains(&i.to_string())))
    }
}

struct Mentions<'n> {
    names: &'n DataNames,
    data: bool,
    any: bool,
}

impl<'a> Visit<'a> for Mentions<'_> {
    fn visit_expr(&mut self, e: &'a Expr) {
        let is_buffer = |e: &Expr| {
            let key = match through_access(e) {
                Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
                Expr::Field(f) => match &f.member {
                    syn::Member::Named(n) => Some(n.to_string()),
                    syn::Member::Unnamed(_) => None,
                },
                _ => None,
            };
            key.is_some() && key == self.names.buffer
        };
        match e {
            Expr::MethodCall(m)
                if matches!(m.method.to_string().as_str(), "filled" | "filled_mut")
                    && is_buffer(&m.receiver) =>
            {
                self.data = true;
                self.any = true;
            }
            Expr::Path(p) => {
                if let Some(i) = p.path.get_ident().map(ToString::to_string) {
                    self.data |= self.names.data.contains(&i);
                    self.any |= self.names.data.contains(&i)
                        || self.names.snapshots.contains(&i)
                        || self.names.buffer.as_deref() == Some(i.as_str());
                }
            }
            Expr::Field(_) if is_buffer(e) => self.any = true,
            Expr::Macro(m) => {
                let idents = crate::rust::model::sockets::idents_in_macro(&m.mac);
                let hit = |set: &HashSet<String>| idents.iter().any(|i| set.contains(i));
                self.data |= hit(&self.names.data) || idents.iter().any(|i| i == "filled");
                self.any |= hit(&self.names.data)
                    || hit(&self.names.snapshots)
                    || idents
                        .iter()
                        .any(|i| Some(i.as_str()) == self.names.buffer.as_deref());
            }
            _ => {}
        }
        visit::visit_expr(self, e);
    }
}

/// What a condition on the end-of-stream path says about what was read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cond {
    /// It does not look at it.
    Plain,
    /// It holds when nothing was read (`is_empty()`, `n == 0`, `len() == before`).
    Empty,
    /// It holds only when something was (`!is_empty()`, `n > 0`, `len() > before`).
    NonEmpty,
    /// Anything else: the code tests what it read, and may handle end of stream.
    Tested,
}

fn classify(c: &Expr, names: &DataNames) -> Cond {
    if !names.mentioned(c) {
        return Cond::Plain;
    }
    let side = |e: &Expr| {
        if is_zero_int(e) || names.is_snapshot(e) {
            Side::Zero
        } else if matches!(e, Expr::Lit(l) if matches!(&l.lit, syn::Lit::Int(i) if i.base10_digits() == "1"))
        {
            Side::One
        } else if names.is_data(e) {
            Side::Data
        } else {
            Side::Other
        }
    };
    match c {
        Expr::Paren(p) => classify(&p.expr, names),
        Expr::Unary(u) if matches!(u.op, UnOp::Not(_)) => match classify(&u.expr, names) {
            Cond::Empty => Cond::NonEmpty,
            Cond::NonEmpty => Cond::Empty,
            other => other,
        },
        Expr::MethodCall(m) if m.method == "is_empty" && m.args.is_empty() => {
            if names.is_data(&m.receiver) {
                Cond::Empty
            } else {
                Cond::Tested
            }
        }
        Expr::Binary(b) => {
            let (l, r) = (&*b.left, &*b.right);
            match b.op {
                BinOp::And(_) => {
                    let (l, r) = (classify(l, names), classify(r, names));
                    if l == Cond::NonEmpty || r == Cond::NonEmpty {
                        Cond::NonEmpty
                    } else {
                        Cond::Tested
                    }
                }
                BinOp::Or(_) => {
                    let (l, r) = (classify(l, names), classify(r, names));
                    if l == Cond::Empty || r == Cond::Empty {
                        Cond::Empty
                    } else {
                        Cond::Tested
                    }
                }
                op => compare(op, side(l), side(r)),
            }
        }
        _ => Cond::Tested,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// `0` or a snapshot of the filled length before the poll.
    Zero,
    One,
    Data,
    Other,
}

fn compare(op: BinOp, l: Side, r: Side) -> Cond {
    use Side::{Data, One, Zero};
    match (op, l, r) {
        (BinOp::Eq(_), Data, Zero) | (BinOp::Eq(_), Zero, Data) => Cond::Empty,
        (BinOp::Le(_), Data, Zero) | (BinOp::Ge(_), Zero, Data) => Cond::Empty,
        (BinOp::Lt(_), Data, One) | (BinOp::Gt(_), One, Data) => Cond::Empty,
        (BinOp::Ne(_), Data, Zero) | (BinOp::Ne(_), Zero, Data) => Cond::NonEmpty,
        (BinOp::Gt(_), Data, Zero) | (BinOp::Lt(_), Zero, Data) => Cond::NonEmpty,
        (BinOp::Ge(_), Data, One) | (BinOp::Le(_), One, Data) => Cond::NonEmpty,
        _ => Cond::Tested,
    }
}

/// Walks the end-of-stream path of a loop body: cuts the branches end of stream does not
/// take, and notes any other look at what was read.
struct EofPath<'a, 'n> {
    data: &'n DataNames,
    skip: Vec<Span>,
    /// `if`s whose `then` end of stream never runs (skipped whole; their `else` is judged
    /// apart).
    cut_thens: Vec<&'a syn::ExprIf>,
    /// The first condition that decides on what was read, and whether it holds at end of
    /// stream.
    test: Option<(&'a Expr, bool)>,
    /// Something on the path looks at what was read, or may return `Pending` on its own.
    tested: bool,
    poll: Span,
}

impl<'a> Visit<'a> for EofPath<'a, '_> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr(&mut self, e: &'a Expr) {
        if self.skip.contains(&node_span(e)) {
            return;
        }
        match e {
            Expr::Closure(_) | Expr::Async(_) => return,
            Expr::If(i) if !matches!(&*i.cond, Expr::Let(_)) => {
                match classify(&i.cond, self.data) {
                    Cond::Plain if self.data.stale(&i.cond) => {
                        self.test.get_or_insert((&i.cond, false));
                        self.skip.push(node_span(e));
                        self.cut_thens.push(i);
                        if let Some((_, other)) = &i.else_branch {
                            self.visit_expr(other);
                        }
                        return;
                    }
                    Cond::Plain => {}
                    Cond::Tested => self.tested = true,
                    // A branch taken on an empty read that does anything but go round
                    // again (set a flag through a method, hand the state on) is the code's
                    // own end-of-stream handling.
                    Cond::Empty if !inert_block(&i.then_branch) => self.tested = true,
                    Cond::NonEmpty if i.else_branch.as_ref().is_some_and(|(_, e)| !inert(e)) => {
                        self.tested = true
                    }
                    Cond::Empty => {
                        self.test.get_or_insert((&i.cond, true));
                        if let Some((_, other)) = &i.else_branch {
                            self.skip.push(node_span(&**other));
                        }
                        self.visit_block(&i.then_branch);
                        return;
                    }
                    Cond::NonEmpty => {
                        self.test.get_or_insert((&i.cond, false));
                        self.skip.push(node_span(e));
                        self.cut_thens.push(i);
                        if let Some((_, other)) = &i.else_branch {
                            self.visit_expr(other);
                        }
                        return;
                    }
                }
            }
            Expr::If(i) => self.tested |= self.data.mentioned(&i.cond),
            Expr::While(w) => self.tested |= self.data.mentioned(&w.cond),
            Expr::Match(m) if !contains(node_span(&*m.expr), self.poll) => {
                self.tested |= self.data.mentioned(&m.expr)
            }
            Expr::Macro(m) => self.tested |= self.looks_at(&m.mac) || self.waits(&m.mac),
            _ => {}
        }
        visit::visit_expr(self, e);
    }
    fn visit_local(&mut self, l: &'a syn::Local) {
        // `let Some(x) = data.first() else { .. }` tests what was read.
        if let Some(init) = &l.init {
            if init.diverge.is_some() && !contains(node_span(&*init.expr), self.poll) {
                self.tested |= self.data.mentioned(&init.expr);
            }
        }
        visit::visit_local(self, l);
    }
    fn visit_arm(&mut self, arm: &'a syn::Arm) {
        if self.skip.contains(&node_span(arm)) {
            return;
        }
        visit::visit_arm(self, arm);
    }
    fn visit_pat_guard(&mut self, g: &'a syn::PatGuard) {
        self.tested |= self.data.mentioned(&g.guard);
        visit::visit_pat_guard(self, g);
    }
    fn visit_stmt_macro(&mut self, m: &'a syn::StmtMacro) {
        self.tested |= self.looks_at(&m.mac) || self.waits(&m.mac);
    }
}

/// Whether a branch only goes round again: empty, `continue`, or printing.
fn inert(e: &Expr) -> bool {
    match e {
        Expr::Continue(c) => c.label.is_none(),
        Expr::Tuple(t) => t.elems.is_empty(),
        Expr::Block(b) => inert_block(&b.block),
        Expr::Macro(m) => prints(&m.mac),
        _ => false,
    }
}

fn inert_block(b: &Block) -> bool {
    b.stmts.iter().all(|s| match s {
        Stmt::Expr(e, _) => inert(e),
        Stmt::Macro(m) => prints(&m.mac),
        _ => false,
    })
}

/// A print or log macro (not an assertion, which panics).
fn prints(mac: &syn::Macro) -> bool {
    mac.path.segments.last().is_some_and(|s| {
        let name = s.ident.to_string();
        is_print_macro(&name)
            && !name.contains("assert")
            && name != "panic"
            && name != "unreachable"
            && name != "todo"
    })
}

impl EofPath<'_, '_> {
    /// `ready!` on another future (`ready!(this.tx.poll_reserve(cx))`) returns `Pending` when
    /// that future is not ready: the loop may leave there, and what wakes it is not the socket.
    fn waits(&self, mac: &syn::Macro) -> bool {
        mac.path.segments.last().is_some_and(|s| s.ident == "ready")
            && !contains(node_span(mac), self.poll)
    }

    /// A macro other than a print macro that names what was read (`assert!(n > 0)`,
    /// `ensure!(..)`): what it does with it cannot be seen. `ready!` around the poll is the
    /// poll itself.
    fn looks_at(&self, mac: &syn::Macro) -> bool {
        // An assertion on what was read panics at end of stream: a way out of the loop.
        if prints(mac) || contains(node_span(mac), self.poll) {
            return false;
        }
        let Ok(e) = mac.parse_body::<Expr>() else {
            return self.data.mentioned(&Expr::Macro(syn::ExprMacro {
                attrs: Vec::new(),
                mac: mac.clone(),
            }));
        };
        self.data.mentioned(&e)
    }
}

/// Whether the end-of-stream path does something with the connection other than polling or
/// writing it: `drop`, a shutdown, passing it on, or (for a field) calling a method of the
/// struct that holds it, which may close it.
fn handed_over(poll: &Poll, body: &[Stmt], skip: &[Span]) -> bool {
    struct Uses<'p> {
        poll: &'p Poll,
        skip: &'p [Span],
        found: bool,
    }
    impl<'a> Visit<'a> for Uses<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr(&mut self, e: &'a Expr) {
            let span = node_span(e);
            if self.skip.contains(&span) || contains(self.poll.whole, span) {
                return;
            }
            match e {
                Expr::MethodCall(m) => {
                    let method = m.method.to_string();
                    let on_conn = self.is_conn(unpin(&m.receiver));
                    if on_conn && NEUTRAL.contains(&method.as_str()) {
                        // The receiver is the connection: polled or written, not handed over.
                        for a in &m.args {
                            self.visit_expr(a);
                        }
                        return;
                    }
                    let on_root = self.poll.field.is_some()
                        && matches!(through_access(&m.receiver), Expr::Path(p) if p.path.get_ident().is_some_and(|i| Some(i.to_string()) == self.poll.root));
                    if on_root && !PROJECTIONS.contains(&method.as_str()) {
                        self.found = true;
                    }
                }
                Expr::Field(f) => {
                    if let syn::Member::Named(n) = &f.member {
                        if Some(n.to_string()) == self.poll.field {
                            self.found = true;
                            return;
                        }
                    }
                    // `this.buf`: another field of the struct, not the connection.
                    if self.poll.field.is_some() {
                        return;
                    }
                }
                Expr::Path(p)
                    if self.poll.field.is_none()
                        && p.path
                            .get_ident()
                            .is_some_and(|i| Some(i.to_string()) == self.poll.root) =>
                {
                    self.found = true;
                }
                Expr::Call(c) if self.poll.field.is_some() => {
                    // `helper(self)`, `Self::close(this)`: the struct is handed over.
                    let root = |a: &Expr| matches!(through_access(a), Expr::Path(p) if p.path.get_ident().is_some_and(|i| Some(i.to_string()) == self.poll.root));
                    self.found |= c.args.iter().any(root);
                }
                // `ready!(..)` around the poll is the poll itself.
                Expr::Macro(m) if !contains(node_span(m), self.poll.span) => {
                    let idents = crate::rust::model::sockets::idents_in_macro(&m.mac);
                    let name = self.poll.field.as_ref().or(self.poll.root.as_ref());
                    let printed = m
                        .mac
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| is_print_macro(&s.ident.to_string()));
                    self.found |= !printed && idents.iter().any(|i| Some(i) == name);
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
    }
    impl Uses<'_> {
        fn is_conn(&self, e: &Expr) -> bool {
            match e {
                Expr::Field(f) => {
                    matches!(&f.member, syn::Member::Named(n) if Some(n.to_string()) == self.poll.field)
                }
                Expr::Path(p) => {
                    self.poll.field.is_none()
                        && p.path
                            .get_ident()
                            .is_some_and(|i| Some(i.to_string()) == self.poll.root)
                }
                _ => false,
            }
        }
    }
    let mut uses = Uses {
        poll,
        skip,
        found: false,
    };
    for s in body {
        uses.visit_stmt(s);
    }
    uses.found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rust::model::sockets::{functions, Imports};

    /// The findings of every function of `src`, as the lines of their primary spans'
    /// first token.
    fn findings(src: &str) -> Vec<PollFinding> {
        let file = syn::parse_file(src).expect("test source parses");
        let imports = Imports::of(&file);
        let types = crate::rust::model::types::TypeModel::of(&file);
        let mut out = Vec::new();
        for f in functions(&file) {
            let streams = Streams::of(&imports, &f, &types, false);
            out.extend(find(&streams, f.block));
        }
        out
    }

    fn text(src: &str, span: Span) -> &str {
        &src[span.start as usize..span.end as usize]
    }

    /// A struct over a socket and one method with `body` (`this` is the struct, `rb` a
    /// `ReadBuf`).
    fn method(body: &str) -> String {
        format!(
            "struct C {{ io: TcpStream, other: File, out: Vec<u8>, eof: bool, n: usize }}
             impl C {{ fn poll_x(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {{
                 let this = self.get_mut(); let mut chunk = [0u8; 64]; {body} }} }}"
        )
    }

    #[track_caller]
    fn fires_at(body: &str, at: &str) {
        let src = method(body);
        let found = findings(&src);
        assert_eq!(found.len(), 1, "one finding in {body}");
        assert_eq!(text(&src, found[0].at), at, "{body}");
        assert_eq!(text(&src, found[0].keyword), "loop");
    }

    #[track_caller]
    fn silent(body: &str) {
        let src = method(body);
        let found = findings(&src);
        assert!(found.is_empty(), "silent: {body}: {found:?}");
    }

    #[test]
    fn tokio_loops_that_go_round_on_an_empty_read() {
        fires_at(
            "loop { let before = buf.filled().len(); ready!(Pin::new(&mut this.io).poll_read(cx, buf))?; if buf.filled().len() > before { return Poll::Ready(Ok(())); } }",
            "buf.filled().len() > before",
        );
        fires_at(
            "loop { let mut rb = ReadBuf::new(&mut chunk); match Pin::new(&mut this.io).poll_read(cx, &mut rb) { Poll::Ready(Ok(())) => this.out.extend_from_slice(rb.filled()), Poll::Ready(Err(e)) => return Poll::Ready(Err(e)), Poll::Pending => return Poll::Pending } }",
            "Poll::Ready(Ok(()))",
        );
        fires_at(
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; if rb.filled().is_empty() { continue; } this.out.extend_from_slice(rb.filled()); }",
            "rb.filled().is_empty()",
        );
        // Only logging on the empty read is still going round.
        fires_at(
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; if rb.filled().len() == 0 { log::debug!(\"empty read\"); continue; } this.out.extend_from_slice(rb.filled()); }",
            "rb.filled().len() == 0",
        );
        // Discarded, with the data only copied and counted.
        fires_at(
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(this.io.poll_read(cx, &mut rb))?; this.n += rb.filled().len(); }",
            "poll_read(cx, &mut rb)",
        );
        // `match ready!(..)` and `if let Err(..)`.
        fires_at(
            "loop { let mut rb = ReadBuf::new(&mut chunk); match ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb)) { Ok(()) => { let data = rb.filled(); this.out.extend_from_slice(data); } Err(e) => return Poll::Ready(Err(e)) } }",
            "Ok(())",
        );
        fires_at(
            "loop { let mut rb = ReadBuf::new(&mut chunk); if let Err(e) = ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb)) { return Poll::Ready(Err(e)); } this.out.extend_from_slice(rb.filled()); }",
            "poll_read(cx, &mut rb)",
        );
    }

    #[test]
    fn byte_counts_of_futures_io_and_poll_read_buf() {
        fires_at(
            "loop { let n = ready!(Pin::new(&mut this.io).poll_read(cx, &mut chunk))?; this.out.extend_from_slice(&chunk[..n]); }",
            "n",
        );
        fires_at(
            "loop { match Pin::new(&mut this.io).poll_read(cx, &mut chunk) { Poll::Ready(Ok(0)) => continue, Poll::Ready(Ok(n)) => this.n += n, Poll::Ready(Err(e)) => return Poll::Ready(Err(e)), Poll::Pending => return Poll::Pending } }",
            "Poll::Ready(Ok(0))",
        );
        fires_at(
            "loop { let n = ready!(tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.out))?; this.n += n; }",
            "n",
        );
        let src = method("loop { let n = ready!(tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.out))?; this.n += n; }");
        let found = findings(&src);
        assert!(found[0].counts);
        assert_eq!(found[0].name, "poll_read_buf");
        silent("loop { let n = ready!(Pin::new(&mut this.io).poll_read(cx, &mut chunk))?; if n == 0 { return Poll::Ready(Ok(())); } this.out.extend_from_slice(&chunk[..n]); }");
        silent("loop { match Pin::new(&mut this.io).poll_read(cx, &mut chunk) { Poll::Ready(Ok(0)) => break, Poll::Ready(Ok(n)) => this.n += n, Poll::Ready(Err(e)) => return Poll::Ready(Err(e)), Poll::Pending => return Poll::Pending } } Poll::Ready(Ok(()))");
    }

    #[test]
    fn loops_that_test_what_was_filled_are_silent() {
        for body in [
            // Before and after compared, then returned.
            "loop { let before = buf.filled().len(); ready!(Pin::new(&mut this.io).poll_read(cx, buf))?; if buf.filled().len() == before { return Poll::Ready(Ok(())); } }",
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; if rb.filled().is_empty() { return Poll::Ready(Ok(())); } this.out.extend_from_slice(rb.filled()); }",
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; let n = rb.filled().len(); if n == 0 { break; } this.n += n; } Poll::Ready(Ok(()))",
            // An eof flag, a guard, an unknown test of the data.
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; this.eof = rb.filled().is_empty(); }",
            "loop { let mut rb = ReadBuf::new(&mut chunk); match Pin::new(&mut this.io).poll_read(cx, &mut rb) { Poll::Ready(Ok(())) if rb.filled().is_empty() => {}, Poll::Ready(Ok(())) => {}, _ => return Poll::Pending } }",
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; if rb.filled().len() < rb.capacity() { continue; } }",
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; if let Some(p) = rb.filled().iter().position(|b| *b == b'\\n') { this.n = p; } }",
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; assert!(!rb.filled().is_empty()); }",
            // The empty case handled by the code's own means: a method that records it, an
            // `Ok(0)` arm that does more than go round.
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; if rb.filled().is_empty() { this.flags.insert(EOF); } this.out.extend_from_slice(rb.filled()); }",
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; if !rb.filled().is_empty() { this.out.extend_from_slice(rb.filled()); } else { this.state.close(); } }",
            "loop { match Pin::new(&mut this.io).poll_read(cx, &mut chunk) { Poll::Ready(Ok(0)) => this.closing.set(true), Poll::Ready(Ok(n)) => this.n += n, Poll::Ready(Err(e)) => return Poll::Ready(Err(e)), Poll::Pending => return Poll::Pending } }",
            // Returns on the first `Ready`, whatever it holds.
            "loop { let mut rb = ReadBuf::new(&mut chunk); let res = ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb)); return Poll::Ready(res); }",
            // Forwarding, no loop.
            "Pin::new(&mut this.io).poll_read(cx, buf)",
        ] {
            silent(body);
        }
    }

    #[test]
    fn other_ways_out_and_other_readers_are_silent() {
        for body in [
            // A `?` on something that can fail, a write that may fail after the peer's RST.
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; ready!(Pin::new(&mut this.io).poll_write(cx, rb.filled()))?; }",
            // Waits on another future, which returns `Pending` when it is not ready.
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; ready!(this.tx.poll_ready(cx)); this.n += 1; }",
            // The struct's own method may close the socket.
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; this.consume(rb.filled()); }",
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; this.io.shutdown(); }",
            // Not a connection: a file field.
            "loop { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.other).poll_read(cx, &mut rb))?; this.n += rb.filled().len(); }",
            // A `for` loop, a `while` with its own condition, a poll in a closure.
            "for _ in 0..3 { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; } Poll::Ready(Ok(()))",
            "while this.n < 10 { let mut rb = ReadBuf::new(&mut chunk); ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?; this.n += 1; } Poll::Ready(Ok(()))",
            "loop { let f = |cx: &mut Context<'_>| { let mut rb = ReadBuf::new(&mut chunk); Pin::new(&mut this.io).poll_read(cx, &mut rb) }; if f(cx).is_pending() { return Poll::Pending; } }",
        ] {
            silent(body);
        }
    }

    #[test]
    fn while_let_on_the_poll_itself() {
        let src = method("let mut rb = ReadBuf::new(&mut chunk); while let Poll::Ready(Ok(())) = Pin::new(&mut this.io).poll_read(cx, &mut rb) { this.n += rb.filled().len(); rb.clear(); } Poll::Pending");
        let found = findings(&src);
        assert_eq!(found.len(), 1);
        assert_eq!(text(&src, found[0].at), "Poll::Ready(Ok(()))");
        assert_eq!(text(&src, found[0].keyword), "while");
        assert!(!found[0].counts);
        silent("let mut rb = ReadBuf::new(&mut chunk); while let Poll::Ready(Ok(())) = Pin::new(&mut this.io).poll_read(cx, &mut rb) { if rb.filled().is_empty() { break; } rb.clear(); } Poll::Pending");
    }

    #[test]
    fn conditions_on_what_was_read() {
        let names = DataNames {
            buffer: Some("rb".into()),
            data: ["n".to_string()].into_iter().collect(),
            snapshots: ["before".to_string()].into_iter().collect(),
            accumulators: ["got".to_string(), "self.pos".to_string()]
                .into_iter()
                .collect(),
        };
        // Accumulators compared with what does not change at end of stream are stale; a
        // comparison with a call or with the count itself is not.
        let stale = |src: &str| names.stale(&syn::parse_str::<Expr>(src).expect("parses"));
        assert!(stale("got >= 2"));
        assert!(stale("*self.pos < self.len"));
        assert!(stale("got + 1 == LIMIT"));
        assert!(!stale("got >= limit()"));
        assert!(!stale("got >= n"));
        assert!(!stale("other >= 2"));
        assert!(!stale("got >= 2 && ready"));
        for (src, cond) in [
            ("rb.filled().is_empty()", Cond::Empty),
            ("!rb.filled().is_empty()", Cond::NonEmpty),
            ("n == 0", Cond::Empty),
            ("0 < n", Cond::NonEmpty),
            ("n >= 1", Cond::NonEmpty),
            ("rb.filled().len() == before", Cond::Empty),
            ("rb.filled().len() != before", Cond::NonEmpty),
            ("n > 0 && ready", Cond::NonEmpty),
            ("n == 0 || closing", Cond::Empty),
            ("n == 0 && closing", Cond::Tested),
            ("rb.remaining() == 0", Cond::Tested),
            ("rb.filled()[0] == b'x'", Cond::Tested),
            ("self.closing", Cond::Plain),
        ] {
            let e: Expr = syn::parse_str(src).expect("condition parses");
            assert_eq!(classify(&e, &names), cond, "{src}");
        }
    }
}
