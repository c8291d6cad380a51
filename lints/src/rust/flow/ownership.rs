//! The names that hold an accepted connection inside a task (`blocked-while-owning`): the
//! socket, what is derived from it (`into_split()` halves, `BufReader::new(..)`, `lines()`),
//! the block each is bound in, and where each is given away (moved into a call, another task,
//! a struct).

use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::Visit;
use syn::{Block, Expr, Member, Pat};

use crate::rust::flow::tasks::{local_name, mentions, Body};
use crate::rust::model::sockets::{contains, through_access, through_wrappers};
use crate::rust::node_span;

/// Methods whose result still holds the connection (`let (rd, wr) = socket.into_split()`,
/// `let lines = reader.lines()`); `into_*` ones consume the receiver.
const DERIVING: &[&str] = &[
    "into_split",
    "split",
    "lines",
    "bytes",
    "into_std",
    "framed",
];

/// Constructors that wrap the connection (`BufReader::new(rd)`, `tokio::io::split(socket)`).
const WRAPPING: &[&str] = &["new", "with_capacity", "split", "from_std"];

/// Methods of TLS and WebSocket acceptors and connectors that take the connection by value and
/// return the stream that owns it (`TlsAcceptor::accept(stream)`, `TlsConnector::connect(domain,
/// stream)`).
const HANDSHAKES: &[&str] = &["accept", "connect", "accept_with", "connect_with"];

/// The names that hold the connection in a task, and where each is given away.
pub(crate) struct Lifetimes<'f> {
    pub(crate) owned: Vec<String>,
    /// Fields whose declared type owns a connection: `x.conn` holds one when `x` is owned.
    fields: &'f HashSet<String>,
    /// The first position where a name is moved away (passed by value, captured by another
    /// closure, consumed by `into_*`).
    pub(crate) kills: HashMap<String, u32>,
    /// The block each derived name is bound in: it is dropped at the block's end.
    pub(crate) scopes: HashMap<String, Span>,
    /// By-value passes to a function named by one segment: (callee, argument index, position).
    pub(crate) passed: Vec<(String, usize, u32)>,
}

impl<'f> Lifetimes<'f> {
    pub(crate) fn of(body: Body<'_>, roots: &[String], fields: &'f HashSet<String>) -> Self {
        let mut life = Lifetimes {
            owned: roots.to_vec(),
            fields,
            kills: HashMap::new(),
            scopes: HashMap::new(),
            passed: Vec::new(),
        };
        // Two passes pick up names derived from derived names (`rd` → `BufReader` → `lines`).
        for _ in 0..3 {
            let mut d = Derive {
                owned: &mut life.owned,
                scopes: &mut life.scopes,
                blocks: Vec::new(),
            };
            body.visit(&mut d);
        }
        let mut k = Kills {
            names: &life.owned,
            inside: None,
            kills: &mut life.kills,
            passed: &mut life.passed,
        };
        body.visit(&mut k);
        life
    }

    /// Whether some name still holds the connection at `pos`: not given away before it, and
    /// (for a name bound in the task) bound in a block that `pos` is in.
    pub(crate) fn alive_at(&self, pos: u32) -> bool {
        let at = Span::new(pos as usize, pos as usize);
        self.owned.iter().any(|n| {
            self.kills.get(n).is_none_or(|&k| k > pos)
                && self.scopes.get(n).is_none_or(|&block| contains(block, at))
        })
    }

    /// The connection `expr` reaches, as written: an owned name (`rd`), or a connection-owning
    /// field of one (`self.conn`).
    pub(crate) fn owns(&self, expr: &Expr) -> Option<String> {
        match through_access(expr) {
            Expr::Field(f) => match &f.member {
                Member::Named(n) if self.fields.contains(&n.to_string()) => {
                    self.owns(&f.base).map(|base| format!("{base}.{n}"))
                }
                _ => None,
            },
            e => local_name(e).filter(|n| self.owned.contains(n)),
        }
    }
}

/// Finds the names derived from the connection, and the block each is bound in.
struct Derive<'l> {
    owned: &'l mut Vec<String>,
    scopes: &'l mut HashMap<String, Span>,
    blocks: Vec<Span>,
}

impl Derive<'_> {
    /// Whether `expr` still holds a connection name: the name itself, or a chain of deriving
    /// methods and wrapping constructors around it (`BufReader::new(rd).lines()`).
    fn holds(&self, expr: &Expr) -> bool {
        let owned =
            |e: &Expr| local_name(through_access(e)).is_some_and(|n| self.owned.contains(&n));
        let moved = |e: &Expr| local_name(e).is_some_and(|n| self.owned.contains(&n));
        let mut e = through_wrappers(expr);
        loop {
            e = match e {
                Expr::Path(_) => return owned(e),
                Expr::MethodCall(m) if DERIVING.iter().any(|d| m.method == d) => {
                    through_wrappers(through_access(&m.receiver))
                }
                // A call the connection is moved into returns what holds it: a wrapper or a
                // handshake of another crate (`accept_async(stream).await?`), whatever its name.
                Expr::Call(c) if c.args.iter().any(&moved) => return true,
                // A TLS or WebSocket acceptor's handshake (`acceptor.accept(stream).await?`).
                Expr::MethodCall(m)
                    if HANDSHAKES.iter().any(|h| m.method == h) && m.args.iter().any(&moved) =>
                {
                    return true
                }
                Expr::Call(c) if matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| WRAPPING.iter().any(|w| s.ident == w))) =>
                {
                    if c.args.iter().any(owned) {
                        return true;
                    }
                    match c
                        .args
                        .iter()
                        .find(|a| matches!(a, Expr::Call(_) | Expr::MethodCall(_)))
                    {
                        Some(inner) => through_wrappers(inner),
                        None => return false,
                    }
                }
                _ => return false,
            };
        }
    }
}

impl<'a> Visit<'a> for Derive<'_> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
    fn visit_block(&mut self, b: &'a Block) {
        self.blocks.push(node_span(b));
        syn::visit::visit_block(self, b);
        self.blocks.pop();
    }
    fn visit_local(&mut self, l: &'a syn::Local) {
        if let Some(init) = &l.init {
            if self.holds(&init.expr) {
                let mut names = Vec::new();
                pat_idents(&l.pat, &mut names);
                for n in names {
                    if let Some(&block) = self.blocks.last() {
                        self.scopes.entry(n.clone()).or_insert(block);
                    }
                    if !self.owned.contains(&n) {
                        self.owned.push(n);
                    }
                }
            }
        }
        syn::visit::visit_local(self, l);
    }
}

pub(crate) fn pat_idents(pat: &Pat, out: &mut Vec<String>) {
    struct Finder<'o>(&'o mut Vec<String>);
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_pat_ident(&mut self, p: &'a syn::PatIdent) {
            self.0.push(p.ident.to_string());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    Finder(out).visit_pat(pat);
}

pub(crate) struct Kills<'l> {
    pub(crate) names: &'l [String],
    /// A closure whose span contains this one is looked into rather than counted as taking
    /// the names (the task being judged, inside the block that spawns it).
    pub(crate) inside: Option<Span>,
    pub(crate) kills: &'l mut HashMap<String, u32>,
    pub(crate) passed: &'l mut Vec<(String, usize, u32)>,
}

impl Kills<'_> {
    fn kill(&mut self, expr: &Expr) {
        if let Some(n) = local_name(expr).filter(|n| self.names.contains(n)) {
            let at = node_span(expr).start;
            let k = self.kills.entry(n).or_insert(at);
            *k = (*k).min(at);
        }
    }
    fn capture(&mut self, at: u32, body: Body<'_>) {
        for (n, _) in mentions(body) {
            if self.names.contains(&n) {
                let k = self.kills.entry(n).or_insert(at);
                *k = (*k).min(at);
            }
        }
    }
}

impl<'a> Visit<'a> for Kills<'_> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr_closure(&mut self, c: &'a syn::ExprClosure) {
        let span = node_span(c);
        if c.capture.is_none() || self.inside.is_some_and(|i| contains(span, i)) {
            syn::visit::visit_expr_closure(self, c);
        } else {
            self.capture(span.start, Body::Expr(&c.body));
        }
    }
    fn visit_expr_async(&mut self, a: &'a syn::ExprAsync) {
        let span = node_span(a);
        if a.capture.is_none() || self.inside.is_some_and(|i| contains(span, i)) {
            syn::visit::visit_expr_async(self, a);
        } else {
            self.capture(span.start, Body::Block(&a.block));
        }
    }
    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        let callee = local_name(&c.func);
        for (i, arg) in c.args.iter().enumerate() {
            self.kill(arg);
            if let (Some(callee), Some(_)) =
                (&callee, local_name(arg).filter(|n| self.names.contains(n)))
            {
                self.passed.push((callee.clone(), i, node_span(arg).start));
            }
        }
        syn::visit::visit_expr_call(self, c);
    }
    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        m.args.iter().for_each(|a| self.kill(a));
        if m.method.to_string().starts_with("into_") {
            self.kill(through_wrappers(&m.receiver));
        }
        syn::visit::visit_expr_method_call(self, m);
    }
    fn visit_local(&mut self, l: &'a syn::Local) {
        if let Some(init) = &l.init {
            self.kill(through_wrappers(&init.expr));
        }
        syn::visit::visit_local(self, l);
    }
    fn visit_expr_assign(&mut self, a: &'a syn::ExprAssign) {
        self.kill(&a.right);
        syn::visit::visit_expr_assign(self, a);
    }
    fn visit_field_value(&mut self, f: &'a syn::FieldValue) {
        self.kill(&f.expr);
        syn::visit::visit_field_value(self, f);
    }
    fn visit_expr_tuple(&mut self, t: &'a syn::ExprTuple) {
        t.elems.iter().for_each(|e| self.kill(e));
        syn::visit::visit_expr_tuple(self, t);
    }
}
