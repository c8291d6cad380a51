//! What the end-of-stream rules know: which values of a function hold a connection (so a read
//! on them can return `Ok(0)` when the peer closes), which calls are such reads, and which
//! functions of the file hand the end of stream back to their caller (one level of calls).
//!
//! - [`Streams`]: the names of one function that hold a connection or a container of
//!   connections: accepted sockets ([`accepted_names`]), parameters and `let`s whose declared
//!   type is a reader of a connection ([`TypeModel::is_reader`]: socket types, generics and
//!   trait objects bounded by `Read`/`AsyncRead`..., wrappers and containers of them),
//!   `TcpStream::connect(..)`, aliases (`let s = &mut
//!   stream`), `BufReader::new(s)`, `s.try_clone()`, `s.split()` / `into_split()` /
//!   `io::split(s)` halves, `s.take(n)` / `s.chain(t)`, containers a socket is `insert`ed or `push`ed into and what their
//!   `get_mut` / `get` / index returns, and fields of the file's structs whose type mentions a
//!   stream type (`self.stream`, `self.conns.get_mut(&token)`). Files, stdin and anything the
//!   analysis cannot trace are not connections: a rule built on this stays silent on them.
//! - [`read_site`]: a call that returns a byte count that is 0 at end of stream: `read`,
//!   `read_buf`, `try_read`, `read_line`, `read_until`, `read_vectored` on a connection (with
//!   `.await`, `?`, `unwrap`... around it), or a call of a function of the file whose
//!   [`EofSummary`] says it returns the end of stream as success.
//! - [`summaries`]: for each function of the file, whether a read on one of its parameters
//!   (or `self`) reaches a successful return at end of stream: it returns the read's count
//!   itself (`s.read(buf)` as its tail, `let n = s.read(buf)?; Ok(n)`), or its `Ok(0)` arm /
//!   `if n == 0` branch returns `Ok(..)`.

pub mod frames;
mod frozen;
pub mod paths;
pub mod poll_reads;
pub mod propagation;
mod zeros;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::{self, Visit};
use syn::{Block, Expr, Member, Pat, Stmt};

use crate::diagnostic::Location;
use crate::rust::flow::control::contains;
use crate::rust::flow::crate_facts::{crate_callee, CrateCallee, CrateFacts};
use crate::rust::model::sockets::{
    accepted_names, method_span, strip_pat_type, through_access, through_wrappers, Function,
    Imports, Shape,
};
use crate::rust::model::types::{Scope, TypeModel};
use crate::rust::node_span;
use crate::rust::syntax::patterns::is_ok_zero;

/// Methods whose result counts bytes read and is 0 at end of stream. `peek` (std's and tokio's
/// `TcpStream::peek`) consumes nothing, so at end of stream it returns 0 at every call.
pub const READS: &[&str] = &[
    "read",
    "peek",
    "read_buf",
    "try_read",
    "try_read_buf",
    "read_line",
    "read_until",
    "read_vectored",
];

/// Methods whose result (on a connection or a container of them) is still one.
const STREAM_METHODS: &[&str] = &[
    "try_clone",
    "split",
    "into_split",
    "get_mut",
    "get",
    "by_ref",
    "get_ref",
    "as_mut",
    "borrow_mut",
    "lock",
];

/// Constructors whose result wraps the connection given to them.
const WRAPPING_CALLS: &[&str] = &["new", "with_capacity", "split", "from_std", "with_config"];

/// The names of one function that hold a connection (or a container of connections).
pub struct Streams<'f> {
    names: HashSet<String>,
    types: &'f TypeModel<'f>,
    /// The function's generic parameters that are readers.
    scope: Scope,
    /// Accept sites of accepted sockets, by name.
    pub accepted: HashMap<String, Span>,
    /// The declared type of each connection parameter, by its last path segment
    /// (`NetworkConnection` for `conn: &mut NetworkConnection<T>`): what a method called on
    /// it resolves against.
    declared: HashMap<String, String>,
}

impl<'f> Streams<'f> {
    /// The connections of `f`; with `all_params`, every parameter counts as one (to summarise a
    /// helper whose callers pass a connection).
    pub fn of(
        imports: &Imports,
        f: &Function<'_>,
        types: &'f TypeModel<'f>,
        all_params: bool,
    ) -> Self {
        let mut streams = Streams {
            names: HashSet::new(),
            types,
            scope: types.scope(&f.generics()),
            accepted: HashMap::new(),
            declared: HashMap::new(),
        };
        for (name, a) in accepted_names(imports, f.block) {
            if a.shape == Shape::Socket {
                streams.accepted.insert(name.clone(), a.site);
                streams.names.insert(name);
            }
        }
        for input in &f.sig.inputs {
            if let syn::FnArg::Typed(t) = input {
                if all_params || types.is_reader(&t.ty, &streams.scope) {
                    let names = pat_idents(&t.pat);
                    if let Some(head) = type_head(&t.ty) {
                        streams
                            .declared
                            .extend(names.iter().map(|n| (n.clone(), head.clone())));
                    }
                    streams.names.extend(names);
                }
            }
        }
        // Twice: a name may be used before the statement that makes it a container.
        for _ in 0..2 {
            let mut binder = Binder {
                streams: &mut streams,
                imports,
            };
            binder.visit_block(f.block);
        }
        streams
    }

    /// Whether `expr` holds a connection: a name or field of one, through `&`, `lock()`,
    /// `unwrap()`, `get_mut(..)` on a container, indexing.
    pub fn holds(&self, expr: &Expr) -> bool {
        match through_access(expr) {
            Expr::Path(p) => p
                .path
                .get_ident()
                .is_some_and(|i| self.names.contains(&i.to_string())),
            Expr::Field(f) => match &f.member {
                Member::Named(i) => self.types.reader_fields().contains(&i.to_string()),
                // An element of a tuple that holds one (`sender.body.0` of a
                // `body: (Box<dyn Read + Send>, Option<u64>)`).
                Member::Unnamed(_) => self.holds(&f.base),
            },
            Expr::MethodCall(m) if STREAM_METHODS.contains(&m.method.to_string().as_str()) => {
                self.holds(&m.receiver)
            }
            Expr::Index(i) => self.holds(&i.expr),
            _ => false,
        }
    }

    /// The declared type (last path segment) of a connection parameter `expr` names.
    pub fn declared_type(&self, expr: &Expr) -> Option<&str> {
        match through_access(expr) {
            Expr::Path(p) => p
                .path
                .get_ident()
                .and_then(|i| self.declared.get(&i.to_string()))
                .map(String::as_str),
            _ => None,
        }
    }

    /// Whether a value bound from `init` holds a connection.
    fn source(&self, imports: &Imports, init: &Expr) -> bool {
        let init = through_wrappers(init);
        if self.holds(init) {
            return true;
        }
        match init {
            Expr::Call(c) => {
                let connect = imports.calls_tail(&c.func, &["TcpStream", "connect"])
                    || imports.calls_tail(&c.func, &["UnixStream", "connect"]);
                // A constructor given a connection wraps it: `BufReader::new(conn)`,
                // `FramedRead::new(conn, codec)`, `io::split(conn)`.
                let wraps = matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| WRAPPING_CALLS.contains(&s.ident.to_string().as_str())));
                connect || (wraps && c.args.iter().any(|a| self.source(imports, a)))
            }
            // `codec.framed(conn)`, `BufReader::new(conn).lines()`.
            Expr::MethodCall(m) => match m.method.to_string().as_str() {
                "framed" => m.args.iter().any(|a| self.holds(a)),
                // `reader.take(limit)`, `reader.chain(other)`: readers of the connection that
                // return `Ok(0)` at its end (and at the limit).
                "take" | "chain" => self.holds(&m.receiver),
                "lines" => m.args.is_empty() && self.source(imports, &m.receiver),
                _ => false,
            },
            _ => false,
        }
    }

    /// The root name of a connection expression (`conns` in `conns.get_mut(&t).unwrap()`,
    /// `self` in `self.stream`).
    pub fn root(expr: &Expr) -> Option<String> {
        match through_access(expr) {
            Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
            Expr::Field(f) => Self::root(&f.base),
            Expr::MethodCall(m) => Self::root(&m.receiver),
            Expr::Index(i) => Self::root(&i.expr),
            _ => None,
        }
    }
}

/// The last path segment of a type, through references: `NetworkConnection` for
/// `&'a mut NetworkConnection<T>`.
fn type_head(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Reference(r) => type_head(&r.elem),
        syn::Type::Paren(p) => type_head(&p.elem),
        syn::Type::Group(g) => type_head(&g.elem),
        syn::Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().map(|s| s.ident.to_string())
        }
        _ => None,
    }
}

struct Binder<'s, 'f, 'i> {
    streams: &'s mut Streams<'f>,
    imports: &'i Imports,
}

impl<'ast> Visit<'ast> for Binder<'_, '_, '_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
        // `fn_service(move |mut stream: TcpStream| ..)`: a closure's declared parameters.
        for input in &c.inputs {
            if let Pat::Type(t) = input {
                if self.streams.types.is_reader(&t.ty, &self.streams.scope) {
                    self.streams.names.extend(pat_idents(&t.pat));
                }
            }
        }
        visit::visit_expr_closure(self, c);
    }
    fn visit_local(&mut self, l: &'ast syn::Local) {
        // `let Self { inner, stage, .. } = &mut *self;`: a binding of a field that is a reader.
        if let Pat::Struct(p) = strip_pat_type(&l.pat) {
            for field in &p.fields {
                if let Member::Named(name) = &field.member {
                    if self
                        .streams
                        .types
                        .reader_fields()
                        .contains(&name.to_string())
                    {
                        self.streams.names.extend(pat_idents(&field.pat));
                    }
                }
            }
        }
        let typed = matches!(&l.pat, Pat::Type(t) if self.streams.types.is_reader(&t.ty, &self.streams.scope));
        if typed
            || l.init
                .as_ref()
                .is_some_and(|i| self.streams.source(self.imports, &i.expr))
        {
            self.streams.names.extend(pat_idents(&l.pat));
        }
        visit::visit_local(self, l);
    }
    fn visit_expr_let(&mut self, l: &'ast syn::ExprLet) {
        if self.streams.source(self.imports, &l.expr) {
            self.streams.names.extend(pat_idents(&l.pat));
        }
        visit::visit_expr_let(self, l);
    }
    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        if self.streams.source(self.imports, &m.expr) {
            for arm in &m.arms {
                self.streams.names.extend(pat_idents(&arm.pat));
            }
        }
        visit::visit_expr_match(self, m);
    }
    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        // `conns.insert(token, stream)`, `conns.push(stream)`: `conns` holds connections.
        if matches!(
            m.method.to_string().as_str(),
            "insert" | "push" | "push_back"
        ) && m.args.iter().any(|a| self.streams.holds(a))
        {
            if let Some(Expr::Path(p)) = Some(through_access(&m.receiver)) {
                if let Some(i) = p.path.get_ident() {
                    self.streams.names.insert(i.to_string());
                }
            }
        }
        visit::visit_expr_method_call(self, m);
    }
}

/// The names a pattern binds (through `Some(..)`, `Ok(..)`, tuples, `mut`, `ref`, types).
pub fn pat_idents(pat: &Pat) -> Vec<String> {
    struct Names(Vec<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(p.ident.to_string());
            visit::visit_pat_ident(self, p);
        }
    }
    let mut n = Names(Vec::new());
    n.visit_pat(pat);
    n.0
}

/// What a function of the file does with the end of stream of a read on its parameter.
#[derive(Clone, Copy, Debug)]
pub enum EofSummary {
    /// It returns the byte count (0 at end of stream) to its caller.
    Count,
    /// It returns `Ok(..)` at end of stream (at the given arm or branch): the caller cannot
    /// tell end of stream from a value. The location's file is 0 for a function of the file
    /// being linted, and another file of the crate for one from the crate's summaries.
    Value(Location),
}

/// A call whose result says "end of stream" only by being 0 or an ordinary-looking `Ok(..)`.
#[derive(Clone, Debug)]
pub struct ReadSite {
    /// The call (method name to closing parenthesis for a method).
    pub span: Span,
    /// The read method, or the helper's name.
    pub name: String,
    /// The helper's summary when the call is to a function of the file.
    pub helper: Option<EofSummary>,
    /// The connection expression's root name (`stream`, `self`, `conns`).
    pub root: Option<String>,
    /// Whether the read is awaited (async).
    pub awaited: bool,
    /// The buffer a `read_line` / `read_until` appends to (`line` in `&mut line`).
    pub buffer: Option<String>,
}

/// Whether `expr` (through `?`, `.await`, `unwrap`...) is a read on a connection or a call of a
/// summarised helper with a connection argument (or on `self`).
pub fn read_site(streams: &Streams<'_>, helpers: &EofHelpers<'_>, expr: &Expr) -> Option<ReadSite> {
    let awaited = has_await(expr);
    let call = through_wrappers(expr);
    match call {
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            if READS.contains(&name.as_str()) && streams.holds(&m.receiver) {
                let buffer = m.args.last().and_then(|a| match through_access(a) {
                    Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
                    _ => None,
                });
                return Some(ReadSite {
                    span: method_span(m),
                    name,
                    helper: None,
                    root: Streams::root(&m.receiver),
                    awaited,
                    buffer,
                });
            }
            let on_self =
                matches!(through_access(&m.receiver), Expr::Path(p) if p.path.is_ident("self"));
            // A cheap lookup first: most method calls are not helpers.
            let helper = if streams.holds(&m.receiver) {
                helpers.of_method_on_connection(call, streams.declared_type(&m.receiver))?
            } else {
                helpers.of_call(call)?
            };
            let declared = helpers.reads_declared_reader(call);
            let arg = m.args.iter().find(|a| streams.holds(a));
            // The connection is the receiver, unless the helper reads a parameter declared as
            // a reader (`self.read_frame(&mut reader)`): then it is that argument.
            let root = if streams.holds(&m.receiver) || (on_self && !declared) {
                Streams::root(&m.receiver)
            } else {
                arg.and_then(Streams::root)
            };
            (on_self || declared || streams.holds(&m.receiver) || arg.is_some()).then(|| ReadSite {
                span: method_span(m),
                name,
                helper: Some(helper),
                root,
                awaited,
                buffer: None,
            })
        }
        Expr::Call(c) => {
            let Expr::Path(p) = &*c.func else { return None };
            let name = p.path.segments.last()?.ident.to_string();
            let arg = c.args.iter().find(|a| streams.holds(a));
            // A helper that reads a parameter declared as a reader reads a connection whatever
            // the caller passes; any other call needs an argument that holds one (checked
            // before the lookup, which records crate-wide questions).
            if arg.is_none() && !helpers.reads_declared_reader(call) {
                return None;
            }
            let helper = helpers.of_call(call)?;
            Some(ReadSite {
                span: node_span(c),
                name,
                helper: Some(helper),
                root: arg.and_then(Streams::root),
                awaited,
                buffer: None,
            })
        }
        _ => None,
    }
}

fn has_await(mut expr: &Expr) -> bool {
    loop {
        expr = match expr {
            Expr::Await(_) => return true,
            Expr::Try(t) => &t.expr,
            Expr::Paren(p) => &p.expr,
            Expr::MethodCall(m) if m.args.len() <= 1 => &m.receiver,
            _ => return false,
        }
    }
}

/// Whether `e` is `name == 0`, `0 == name`, `name < 1` (through parentheses and casts), or an
/// `||` with such an operand.
pub fn is_zero_test(e: &Expr, name: &str) -> bool {
    let (count, int) = (|e: &Expr| is_count(e, name), is_int);
    match e {
        Expr::Paren(p) => is_zero_test(&p.expr, name),
        Expr::Binary(b) => match b.op {
            syn::BinOp::Eq(_) | syn::BinOp::Le(_) => {
                (count(&b.left) && int(&b.right, "0")) || (int(&b.left, "0") && count(&b.right))
            }
            syn::BinOp::Lt(_) => count(&b.left) && int(&b.right, "1"),
            syn::BinOp::Or(_) => is_zero_test(&b.left, name) || is_zero_test(&b.right, name),
            _ => false,
        },
        _ => false,
    }
}

/// The count `name`, through parentheses and casts (`(n as u64)`).
fn is_count(mut e: &Expr, name: &str) -> bool {
    loop {
        e = match e {
            Expr::Paren(p) => &p.expr,
            Expr::Cast(c) => &c.expr,
            Expr::Path(p) => return p.path.is_ident(name),
            _ => return false,
        };
    }
}

/// The integer literal `v`.
fn is_int(e: &Expr, v: &str) -> bool {
    matches!(e, Expr::Lit(l) if matches!(&l.lit, syn::Lit::Int(i) if i.base10_digits() == v))
}

/// Whether `e` is false when the count `name` is zero, so that its branch runs only on data and
/// at end of stream the code after it runs as if nothing happened: `n > 0`, `n != 0`, `0 < n`,
/// `n >= 1`; and, counts being unsigned, `n > k` and `k < n` for any `k`, `n >= K` and `n == K`
/// for a literal above zero or a named constant (`n >= HEADER_LEN`: a size of nothing is never
/// worth naming).
pub fn is_nonzero_test(e: &Expr, name: &str) -> bool {
    let count = |e: &Expr| is_count(e, name);
    match e {
        Expr::Paren(p) => is_nonzero_test(&p.expr, name),
        Expr::Binary(b) => match b.op {
            syn::BinOp::Ne(_) => {
                (count(&b.left) && is_int(&b.right, "0"))
                    || (is_int(&b.left, "0") && count(&b.right))
            }
            syn::BinOp::Gt(_) => count(&b.left),
            syn::BinOp::Lt(_) => count(&b.right),
            syn::BinOp::Ge(_) | syn::BinOp::Eq(_) => {
                (count(&b.left) && is_positive_size(&b.right))
                    || (matches!(b.op, syn::BinOp::Eq(_))
                        && count(&b.right)
                        && is_positive_size(&b.left))
            }
            syn::BinOp::Le(_) => count(&b.right) && is_positive_size(&b.left),
            syn::BinOp::And(_) => is_nonzero_test(&b.left, name) || is_nonzero_test(&b.right, name),
            _ => false,
        },
        _ => false,
    }
}

/// An integer literal above zero, or a named constant (`HEADER_LEN`, `Frame::SIZE`), through
/// parentheses and casts.
fn is_positive_size(mut e: &Expr) -> bool {
    loop {
        e = match e {
            Expr::Paren(p) => &p.expr,
            Expr::Cast(c) => &c.expr,
            Expr::Lit(l) => {
                return matches!(&l.lit, syn::Lit::Int(i) if i.base10_parse::<u128>().is_ok_and(|v| v > 0))
            }
            Expr::Path(p) => {
                return p.path.segments.last().is_some_and(|s| {
                    let name = s.ident.to_string();
                    name.len() > 1
                        && name
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                })
            }
            _ => return false,
        };
    }
}

/// The functions whose calls [`read_site`] treats as reads: those of the file that hand end of
/// stream back to their caller ([`summaries`]), and, for a call that may reach another file of
/// the crate ([`crate_callee`]), the crate's.
pub struct EofHelpers<'a> {
    local: EofSummaries,
    crate_wide: Option<(&'a Imports, &'a CrateFacts)>,
    /// Crate-local calls on a connection that the crate's summaries did not answer, with the
    /// call's span.
    misses: RefCell<Vec<(CrateCallee, Span)>>,
}

impl<'a> EofHelpers<'a> {
    /// The file's helpers only.
    pub fn file_only(local: EofSummaries) -> EofHelpers<'a> {
        EofHelpers {
            local,
            crate_wide: None,
            misses: RefCell::new(Vec::new()),
        }
    }

    /// The file's helpers, then the crate's.
    pub fn with_crate(
        local: EofSummaries,
        imports: &'a Imports,
        crate_facts: &'a CrateFacts,
    ) -> EofHelpers<'a> {
        EofHelpers {
            local,
            crate_wide: Some((imports, crate_facts)),
            misses: RefCell::new(Vec::new()),
        }
    }

    /// The file's own helpers, by name.
    pub fn local(&self) -> &HashMap<String, EofSummary> {
        &self.local.by_name
    }

    /// Whether `call` runs a function of the file whose read is on a parameter declared as a
    /// reader ([`EofSummaries::on_declared_reader`]).
    pub fn reads_declared_reader(&self, call: &Expr) -> bool {
        local_name(call).is_some_and(|n| self.local.on_declared_reader.contains(&n))
    }

    /// The summary of the function `call` runs, if it hands end of stream back: a function of
    /// the file called by name (`helper(..)`, `x.helper(..)`), else one of the crate that the
    /// call may reach ([`crate_callee`]).
    pub fn of_call(&self, call: &Expr) -> Option<EofSummary> {
        if let Some(s) = local_name(call).and_then(|n| self.local.by_name.get(&n)) {
            return Some(*s);
        }
        let (imports, facts) = self.crate_wide?;
        let callee = crate_callee(imports, call)?;
        let found = facts.eof(callee.name());
        if found.is_none() && !facts.defines(callee.name()) {
            self.misses.borrow_mut().push((callee, node_span(call)));
        }
        found
    }

    /// The summary of the method `call` runs on a value that holds a connection
    /// (`conn.receive(&mut buf)` with `conn: &mut NetworkConnection<T>`, `T: Read`): a method
    /// of the file, else the crate's method of that name. The receiver's declared type is a
    /// connection wrapper, and what is not std's read is a method of that wrapper, so the name
    /// is resolved in the crate even off `self` (when the crate defines it once).
    pub fn of_method_on_connection(&self, call: &Expr, ty: Option<&str>) -> Option<EofSummary> {
        let Expr::MethodCall(m) = call else {
            return None;
        };
        let name = m.method.to_string();
        if let Some(s) = self.local.by_name.get(&name) {
            return Some(*s);
        }
        let (imports, facts) = self.crate_wide?;
        let found = facts.eof(&name);
        // Asked of the crate by the receiver's type, when the crate may define it.
        let crate_type = ty.filter(|t| {
            t.starts_with(|c: char| c.is_ascii_uppercase())
                && (imports.defines(t)
                    || imports.resolve(&[t.to_string()]).iter().any(|p| {
                        p.len() >= 2 && matches!(p[0].as_str(), "crate" | "super" | "self")
                    }))
        });
        if let (None, false, Some(ty)) = (found, facts.defines(&name), crate_type) {
            self.misses.borrow_mut().push((
                CrateCallee::Associated {
                    ty: ty.to_string(),
                    name,
                },
                node_span(call),
            ));
        }
        found
    }

    /// See [`crate::rust::flow::summary::Summaries::misses`]; with the span of each call.
    pub fn misses(&self) -> Vec<(CrateCallee, Span)> {
        self.misses.borrow().clone()
    }
}

/// The name a call of a function of the file is made by (`helper(..)`, `x.helper(..)`).
fn local_name(call: &Expr) -> Option<String> {
    match call {
        Expr::MethodCall(m) => Some(m.method.to_string()),
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
            _ => None,
        },
        _ => None,
    }
}

/// What the file's functions do with end of stream ([`summaries`]).
#[derive(Default)]
pub struct EofSummaries {
    /// The functions that hand end of stream back as success, by name.
    pub by_name: HashMap<String, EofSummary>,
    /// Those whose read is on a parameter declared as a reader (`reader: &mut R` with
    /// `R: AsyncRead`, `&mut dyn Read`, `&mut TcpStream`): whatever a caller passes there is read
    /// as a connection, so a call is judged even when the caller's argument cannot be traced
    /// (`conn.reader.take().unwrap()` of a struct of another file).
    pub on_declared_reader: HashSet<String>,
}

/// The summaries of the file's functions that hand end of stream back as success, by name.
pub fn summaries(imports: &Imports, fns: &[Function<'_>], types: &TypeModel<'_>) -> EofSummaries {
    let mut defined: HashMap<&str, usize> = HashMap::new();
    for f in fns {
        *defined.entry(f.name.as_str()).or_default() += 1;
    }
    let none = EofHelpers::file_only(EofSummaries::default());
    let mut out = EofSummaries::default();
    // A name defined twice in the file cannot be told apart at a call: neither is used.
    for f in fns
        .iter()
        .filter(|f| !f.is_test && defined.get(f.name.as_str()) == Some(&1))
    {
        // Every parameter counts first (a caller may pass a connection to any of them); most
        // functions hand nothing back, and only those that do are looked at again with their
        // declared types alone.
        let streams = Streams::of(imports, f, types, true);
        let Some(s) = summarise(&streams, &none, f.block) else {
            continue;
        };
        let declared = Streams::of(imports, f, types, false);
        if let Some(d) = summarise(&declared, &none, f.block) {
            out.by_name.insert(f.name.clone(), d);
            out.on_declared_reader.insert(f.name.clone());
        } else {
            out.by_name.insert(f.name.clone(), s);
        }
    }
    out
}

fn summarise(streams: &Streams<'_>, helpers: &EofHelpers<'_>, block: &Block) -> Option<EofSummary> {
    // The byte count returned: `s.read(buf)` as the tail, or `Ok(n)` of a `let n = read`.
    let mut counts: Vec<String> = Vec::new();
    for stmt in &block.stmts {
        if let Stmt::Local(l) = stmt {
            if let (Some(init), Pat::Ident(i)) = (&l.init, &l.pat) {
                if counts_bytes(streams, helpers, &init.expr) {
                    counts.push(i.ident.to_string());
                }
            }
        }
    }
    if let Some(Stmt::Expr(tail, None)) = block.stmts.last() {
        if read_site(streams, helpers, tail).is_some() && !matches!(tail, Expr::Try(_)) {
            return Some(EofSummary::Count);
        }
        if let Some(inner) = ok_value(tail) {
            if matches!(inner, Expr::Path(p) if p.path.get_ident().is_some_and(|i| counts.contains(&i.to_string())))
            {
                return Some(EofSummary::Count);
            }
        }
    }
    let mut finder = EofReturn {
        streams,
        helpers,
        counts,
        tail: block.stmts.last().and_then(|s| match s {
            Stmt::Expr(e, None) => Some(node_span(e)),
            _ => None,
        }),
        found: None,
    };
    finder.visit_block(block);
    finder
        .found
        .map(|span| EofSummary::Value(Location::new(0, span)))
}

/// Whether a `let` initializer is a read's byte count: the read itself, or a `match` on it
/// whose `Ok(n)` arm gives `n` (`let n = match s.read(&mut b) { Ok(n) => n, Err(e) if
/// would_block(&e) => return Ok(()), Err(e) => return Err(e) }`).
fn counts_bytes(streams: &Streams<'_>, helpers: &EofHelpers<'_>, init: &Expr) -> bool {
    if let Expr::Match(m) = init {
        let passes_count = m.arms.iter().any(|arm| match (&arm.pat, &*arm.body) {
            (Pat::TupleStruct(t), Expr::Path(body)) => {
                t.path.is_ident("Ok")
                    && matches!(t.elems.first(), Some(Pat::Ident(n)) if body.path.is_ident(&n.ident))
            }
            _ => false,
        });
        return passes_count && read_site(streams, helpers, &m.expr).is_some();
    }
    read_site(streams, helpers, init).is_some()
}

/// `Ok(x)` → `x`.
fn ok_value(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Call(c)
            if c.args.len() == 1 && matches!(&*c.func, Expr::Path(p) if p.path.is_ident("Ok")) =>
        {
            Some(&c.args[0])
        }
        Expr::Return(r) => r.expr.as_deref().and_then(ok_value),
        Expr::Block(b) => match b.block.stmts.last() {
            Some(Stmt::Expr(e, _)) => ok_value(e),
            _ => None,
        },
        _ => None,
    }
}

/// Finds an `Ok(0)` arm of a match on a read, or the branch of an `if n == 0` on a read's
/// count, that returns `Ok(..)` (with `return`, or as the value of the function's tail).
struct EofReturn<'s, 'f> {
    streams: &'s Streams<'f>,
    helpers: &'s EofHelpers<'s>,
    counts: Vec<String>,
    tail: Option<Span>,
    found: Option<Span>,
}

impl EofReturn<'_, '_> {
    fn returns_ok(&self, body: &Expr, in_tail: bool) -> bool {
        match body {
            Expr::Return(r) => r.expr.as_deref().and_then(ok_value).is_some(),
            Expr::Block(b) => match b.block.stmts.last() {
                Some(Stmt::Expr(e, _)) => self.returns_ok(e, in_tail),
                _ => false,
            },
            e => in_tail && ok_value(e).is_some(),
        }
    }
}

impl<'ast> Visit<'ast> for EofReturn<'_, '_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        if read_site(self.streams, self.helpers, &m.expr).is_some() {
            let in_tail = self.tail.is_some_and(|t| contains(t, node_span(m)));
            for arm in &m.arms {
                if is_ok_zero(&arm.pat) && self.returns_ok(&arm.body, in_tail) {
                    self.found.get_or_insert(node_span(&arm.pat));
                }
            }
        }
        visit::visit_expr_match(self, m);
    }
    fn visit_expr_if(&mut self, i: &'ast syn::ExprIf) {
        if self.counts.iter().any(|n| is_zero_test(&i.cond, n)) {
            let returns = match i.then_branch.stmts.last() {
                Some(Stmt::Expr(e, _)) => self.returns_ok(e, false),
                _ => false,
            };
            if returns {
                self.found.get_or_insert(node_span(&i.cond));
            }
        }
        visit::visit_expr_if(self, i);
    }
    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let (Some(init), Pat::Ident(i)) = (&l.init, &l.pat) {
            if counts_bytes(self.streams, self.helpers, &init.expr) {
                self.counts.push(i.ident.to_string());
            }
        }
        visit::visit_local(self, l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rust::model::sockets::functions;

    fn parse(src: &str) -> syn::File {
        syn::parse_file(src).expect("test source parses")
    }

    fn summary_of(src: &str, name: &str) -> Option<EofSummary> {
        let file = parse(src);
        let imports = Imports::of(&file);
        let fns = functions(&file);
        summaries(&imports, &fns, &TypeModel::of(&file))
            .by_name
            .get(name)
            .copied()
    }

    #[test]
    fn helpers_that_return_end_of_stream_as_success() {
        let value = "fn m(s: &mut TcpStream) -> io::Result<Vec<u8>> { let mut b = [0; 8]; match s.read(&mut b) { Ok(0) => return Ok(Vec::new()), Ok(n) => Ok(b[..n].to_vec()), Err(e) => Err(e) } }";
        assert!(matches!(summary_of(value, "m"), Some(EofSummary::Value(_))));
        let branch = "fn m(s: &mut TcpStream) -> io::Result<String> { let n = s.read(&mut b)?; if n == 0 { return Ok(String::new()); } Ok(x) }";
        assert!(matches!(
            summary_of(branch, "m"),
            Some(EofSummary::Value(_))
        ));
        let count = "fn fill(s: &mut TcpStream, b: &mut [u8]) -> io::Result<usize> { s.read(b) }";
        assert!(matches!(summary_of(count, "fill"), Some(EofSummary::Count)));
        let matched = "fn m(s: &mut TcpStream) -> io::Result<()> { let n = match s.read(&mut b) { Ok(n) => n, Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()), Err(e) => return Err(e) }; if n == 0 { return Ok(()); } handle(&b[..n]); Ok(()) }";
        assert!(matches!(
            summary_of(matched, "m"),
            Some(EofSummary::Value(_))
        ));
        let count_ok =
            "fn fill(s: &mut TcpStream, b: &mut [u8]) -> io::Result<usize> { let n = s.read(b)?; Ok(n) }";
        assert!(matches!(
            summary_of(count_ok, "fill"),
            Some(EofSummary::Count)
        ));
    }

    #[test]
    fn helpers_that_report_end_of_stream_or_do_not_read() {
        let err = "fn m(s: &mut TcpStream) -> io::Result<usize> { match s.read(&mut b) { Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()), Ok(n) => Ok(n), Err(e) => Err(e) } }";
        assert!(summary_of(err, "m").is_none());
        let exact = "fn m(s: &mut TcpStream) -> io::Result<()> { s.read_exact(&mut b) }";
        assert!(summary_of(exact, "m").is_none());
        // Two functions of one name: calls cannot be told apart.
        let twice = "mod a { fn f(s: &mut TcpStream) -> io::Result<usize> { s.read(b) } } mod b { fn f() {} }";
        assert!(summary_of(twice, "f").is_none());
    }

    #[test]
    fn connections_are_traced_through_wrappers_and_containers() {
        let src = "struct C { sock: TcpStream } fn f(p: &mut TcpStream, file: File) { let (s, _) = l.accept().unwrap(); let r = BufReader::new(&s); let w = s.try_clone().unwrap(); let mut conns = HashMap::new(); conns.insert(1, s); let c = conns.get_mut(&1).unwrap(); }";
        let file = parse(src);
        let imports = Imports::of(&file);
        let fns = functions(&file);
        let types = TypeModel::of(&file);
        let streams = Streams::of(&imports, &fns[0], &types, false);
        for name in ["p", "s", "r", "w", "conns", "c", "self.sock"] {
            let e: Expr = syn::parse_str(name).expect("name parses");
            assert!(streams.holds(&e), "{name} holds a connection");
        }
        for name in ["file", "l", "self.other"] {
            let e: Expr = syn::parse_str(name).expect("name parses");
            assert!(!streams.holds(&e), "{name} is not a connection");
        }
    }

    #[test]
    fn zero_tests() {
        for (src, yes) in [
            ("n == 0", true),
            ("0 == n", true),
            ("n < 1", true),
            ("(n as usize) == 0 || closed", true),
            ("n > 0", false),
            ("m == 0", false),
        ] {
            let e: Expr = syn::parse_str(src).expect("test expression parses");
            assert_eq!(is_zero_test(&e, "n"), yes, "{src}");
        }
        let p: Pat = syn::parse::Parser::parse_str(Pat::parse_multi, "Ok(0) | Err(_)")
            .expect("pattern parses");
        assert!(is_ok_zero(&p));
    }
}
