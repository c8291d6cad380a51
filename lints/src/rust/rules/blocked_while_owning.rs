use std::collections::HashMap;

use nginx_parser::Span;
use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use syn::visit::Visit;
use syn::{Block, Expr, Pat, Stmt};

use crate::diagnostic::{Diagnostic, Location};
use crate::rust::sockets::{
    accepted_names, contains, functions, method_span, through_access, through_wrappers, Function,
    Imports, Shape,
};
use crate::rust::{node_span, span_of, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags a task or thread that owns an accepted connection and then waits on something the
    /// peer's close cannot end. The connection is followed from `accept()` into the closure or
    /// async block given to `tokio::spawn`, `thread::spawn`, `spawn_local`, `task::spawn`...
    /// (and one level into a function of the file that the socket is passed to), through
    /// `into_split()`, `split()`, `BufReader::new(..)` and the like. While the socket (or one of
    /// its halves) is still held, the task:
    /// - awaits `std::future::pending()` (or `futures::future::pending()`);
    /// - loops on `rx.recv()` (`while let Some(m) = rx.recv().await`, `for m in rx`) of an mpsc
    ///   channel whose sender `tx` it holds itself (created in the task or moved into it, never
    ///   moved elsewhere or dropped), with no `break` or `return` in the loop;
    /// - runs a `loop` around `tokio::select!` / `futures::select!` whose branch that reads
    ///   the socket does not finish the task at EOF: a `read` whose `Ok(0)` is neither matched
    ///   nor compared, a `next()` whose `None` is ignored, with no `break` or `return`.
    ///
    /// Anything the analysis cannot see (the sender given to another task, a `while` condition,
    /// an `else` branch, a function of the crate given the read result) counts as a way out.
    ///
    /// ## Why is this bad?
    /// When the client closes, its FIN reaches the kernel, which acknowledges it and moves the
    /// connection to CLOSE_WAIT: it stays there until this process closes its side, which here
    /// happens when the task drops the socket. A task parked on `pending()`, or on a channel
    /// whose last sender it holds itself, never gets there; a `select!` loop that ignores EOF
    /// keeps polling a finished read (spinning a core) or waits on its other branches forever.
    /// Every such client leaves one connection, one file descriptor and its buffers behind
    /// until the process exits; under load they add up to EMFILE and refused connections.
    /// Measured on this rule's fixtures in `docs/evidence.md`.
    ///
    /// ## Example
    /// ```rust
    /// tokio::spawn(async move {
    ///     let (mut rd, mut wr) = socket.into_split();
    ///     let (tx, mut rx) = mpsc::channel(16);
    ///     tokio::spawn(read_lines(rd, tx.clone()));
    ///     // `tx` is still held here: recv() never returns None, `wr` is never dropped
    ///     while let Some(line) = rx.recv().await {
    ///         wr.write_all(line.as_bytes()).await?;
    ///     }
    /// });
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// tokio::spawn(async move {
    ///     let (mut rd, mut wr) = socket.into_split();
    ///     let (tx, mut rx) = mpsc::channel(16);
    ///     tokio::spawn(read_lines(rd, tx)); // the reader's EOF drops the last sender
    ///     while let Some(line) = rx.recv().await {
    ///         wr.write_all(line.as_bytes()).await?;
    ///     }
    /// });
    /// ```
    pub BLOCKED_WHILE_OWNING {
        code: "RS006",
        name: "blocked-while-owning",
        family: Rust,
        severity: Error,
        summary: "a task that owns a connection waits on something the peer's close cannot end, so the connection stays in CLOSE_WAIT",
        fixable: false,
    }
}

const NOTE: &str = "after the peer's FIN the kernel acknowledges it and the connection sits in CLOSE_WAIT until this process closes its side; the task that owns the socket never reaches the point where it is dropped, so the connection, its file descriptor and its buffers are held until the process exits";

/// What a task waits on that the peer's close does not end.
enum Wait {
    Pending,
    /// The loop's `recv`, the receiver, the sender the task holds.
    OwnSender(String, String),
    /// The `select!` branch's read, the reader, what EOF returns.
    SelectIgnoresEof(String, &'static str),
}

fn report(out: &mut Vec<Diagnostic>, at: Span, wait: &Wait, socket: &str, task: &Task<'_>) {
    let (message, label, help) = match wait {
        Wait::Pending => (
            format!("task that owns the accepted socket `{socket}` waits forever on `pending()`"),
            "`pending()` never completes: the task never drops the socket".to_string(),
            "let the task end (and drop the socket) when the connection is done; to keep something alive, await the thing that should end it (a shutdown signal, the read half reaching EOF) instead of `pending()`".to_string(),
        ),
        Wait::OwnSender(rx, tx) => (
            format!("task that owns the accepted socket `{socket}` loops on `{rx}` while it holds the channel's sender `{tx}`"),
            format!("`{rx}` only ends when every sender is dropped, and this task still holds `{tx}`"),
            format!("move `{tx}` to the task that produces the messages (or `drop({tx})` once it is cloned), so the channel closes when that task ends at EOF"),
        ),
        Wait::SelectIgnoresEof(reader, eof) => (
            format!("`select!` loop of a task that owns the accepted socket `{socket}` does not end when `{reader}` reaches EOF"),
            if *eof == "Ok(0)" {
                format!("at EOF this returns `{eof}` at once, every time, and the branch neither breaks nor returns: the loop spins with the socket open")
            } else {
                format!("at EOF this returns `{eof}`, and the branch neither breaks nor returns")
            },
            format!("end the task on EOF in this branch (`{eof} => break`), so it drops the socket"),
        ),
    };
    out.push(
        Diagnostic::new(&BLOCKED_WHILE_OWNING, Location::new(0, at), message)
            .primary_label(label)
            .label(
                Location::new(0, task.accept),
                "the connection is accepted here",
            )
            .label(
                Location::new(0, task.spawn),
                "the task that owns it is spawned here",
            )
            .note(NOTE)
            .help(help),
    );
}

/// The code a spawned task runs, with the names that own the connection when it starts.
struct Task<'a> {
    body: Body<'a>,
    /// The spawned expression (the closure, the async block, the call).
    whole: Span,
    owned: Vec<String>,
    accept: Span,
    spawn: Span,
}

#[derive(Clone, Copy)]
pub(crate) enum Body<'a> {
    Block(&'a Block),
    Expr(&'a Expr),
}

impl<'a> Body<'a> {
    pub(crate) fn visit<V: Visit<'a>>(self, v: &mut V) {
        match self {
            Body::Block(b) => v.visit_block(b),
            Body::Expr(e) => v.visit_expr(e),
        }
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let imports = Imports::of(ctx.file);
    let fns = functions(ctx.file);
    // Free functions by name; a name defined twice (in two modules, say) is not followed.
    let mut local_fns: HashMap<String, &Function<'_>> = HashMap::new();
    let mut twice = Vec::new();
    for f in fns.iter().filter(|f| f.self_ty.is_none()) {
        if local_fns.insert(f.name.clone(), f).is_some() {
            twice.push(f.name.clone());
        }
    }
    for name in twice {
        local_fns.remove(&name);
    }
    for f in fns.iter().filter(|f| !f.is_test) {
        let accepted = accepted_names(&imports, f.block);
        if !accepted.values().any(|a| a.shape == Shape::Socket) {
            continue;
        }
        let mut spawns = Spawns(Vec::new());
        spawns.visit_block(f.block);
        for (spawn, arg) in spawns.0 {
            let task = match arg {
                Expr::Closure(c) if c.capture.is_some() => Body::Expr(&c.body),
                Expr::Async(a) if a.capture.is_some() => Body::Block(&a.block),
                Expr::Call(_) => Body::Expr(arg),
                _ => continue,
            };
            let captured = mentions(task);
            // The first accepted socket the task mentions (`let out = stream` makes two names).
            let Some((name, accept)) = captured.iter().find_map(|(m, _)| {
                accepted
                    .get(m)
                    .filter(|a| a.shape == Shape::Socket)
                    .map(|a| (m.clone(), a.site))
            }) else {
                continue;
            };
            let task = Task {
                body: task,
                whole: node_span(arg),
                owned: vec![name.clone()],
                accept,
                spawn,
            };
            examine(&imports, f.block, &task, &local_fns, &name, 0, out);
        }
    }
}

/// Looks for waits in `task` (and one level into a function of the file it passes the socket
/// to). `spawner` is the function body the task was spawned from.
fn examine(
    imports: &Imports,
    spawner: &Block,
    task: &Task<'_>,
    local_fns: &HashMap<String, &Function<'_>>,
    socket: &str,
    depth: usize,
    out: &mut Vec<Diagnostic>,
) {
    let life = Lifetimes::of(task.body, &task.owned);
    let mut waits = Waits::default();
    task.body.visit(&mut waits);
    for (at, pos, wait) in waits.found {
        let wait = match wait {
            Found::Pending => Some((at, Wait::Pending)),
            Found::RecvLoop(rx, shown) => own_sender(imports, spawner, task, &rx, pos)
                .map(|tx| (at, Wait::OwnSender(shown, tx))),
            Found::Select(mac) => select_ignores_eof(&mac, &life)
                .map(|(at, reader, eof)| (at, Wait::SelectIgnoresEof(reader, eof))),
        };
        if let Some((at, wait)) = wait.filter(|_| life.alive_at(pos)) {
            report(out, at, &wait, socket, task);
        }
    }
    if depth > 0 {
        return;
    }
    // `handle(socket).await` in the task, or `tokio::spawn(handle(socket))`.
    for (callee, index, _) in &life.passed {
        let Some(f) = local_fns.get(callee) else {
            continue;
        };
        let Some(syn::FnArg::Typed(param)) = f.sig.inputs.iter().nth(*index) else {
            continue;
        };
        let Pat::Ident(p) = &*param.pat else { continue };
        let inner = Task {
            body: Body::Block(f.block),
            whole: node_span(f.block),
            owned: vec![p.ident.to_string()],
            accept: task.accept,
            spawn: task.spawn,
        };
        examine(imports, f.block, &inner, local_fns, socket, 1, out);
    }
}

/// Calls that run their argument as a task or a thread: `tokio::spawn`, `thread::spawn`,
/// `task::spawn_local`, `spawn_blocking`, `thread::Builder::new().spawn(..)`, `rt.spawn(..)`.
const SPAWNERS: &[&str] = &["spawn", "spawn_local", "spawn_blocking"];

/// Every spawn call of a function body: the spawner's name and the spawned argument.
pub(crate) struct Spawns<'a>(pub(crate) Vec<(Span, &'a Expr)>);

impl<'a> Visit<'a> for Spawns<'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        if let (Expr::Path(p), Some(arg)) = (&*c.func, c.args.first()) {
            if p.path
                .segments
                .last()
                .is_some_and(|s| SPAWNERS.iter().any(|w| s.ident == w))
            {
                self.0.push((node_span(&p.path), arg));
            }
        }
        syn::visit::visit_expr_call(self, c);
    }
    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        if m.args.len() == 1 && SPAWNERS.iter().any(|w| m.method == w) {
            self.0.push((span_of(m.method.span()), &m.args[0]));
        }
        syn::visit::visit_expr_method_call(self, m);
    }
}

/// The single-segment path named by `expr`, if it is one.
pub(crate) fn local_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            Some(p.path.segments[0].ident.to_string())
        }
        _ => None,
    }
}

/// Every identifier a body mentions (paths of one segment, macro tokens), with its position.
pub(crate) fn mentions(body: Body<'_>) -> Vec<(String, u32)> {
    struct Finder(Vec<(String, u32)>);
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_path(&mut self, p: &'a syn::ExprPath) {
            if let Some(name) = local_name(&Expr::Path(p.clone())) {
                self.0.push((name, node_span(p).start));
            }
        }
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            let mut stack = vec![m.tokens.clone()];
            while let Some(ts) = stack.pop() {
                for tt in ts {
                    match tt {
                        TokenTree::Ident(i) => {
                            self.0.push((i.to_string(), span_of(i.span()).start))
                        }
                        TokenTree::Group(g) => stack.push(g.stream()),
                        _ => {}
                    }
                }
            }
        }
    }
    let mut f = Finder(Vec::new());
    body.visit(&mut f);
    f.0.sort_by_key(|&(_, at)| at);
    f.0
}

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

/// The names that hold the connection in a task, and where each is given away.
struct Lifetimes {
    owned: Vec<String>,
    /// The first position where a name is moved away (passed by value, captured by another
    /// closure, consumed by `into_*`).
    kills: HashMap<String, u32>,
    /// The block each derived name is bound in: it is dropped at the block's end.
    scopes: HashMap<String, Span>,
    /// By-value passes to a function named by one segment: (callee, argument index, position).
    passed: Vec<(String, usize, u32)>,
}

impl Lifetimes {
    fn of(body: Body<'_>, roots: &[String]) -> Lifetimes {
        let mut life = Lifetimes {
            owned: roots.to_vec(),
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
    fn alive_at(&self, pos: u32) -> bool {
        let at = Span::new(pos as usize, pos as usize);
        self.owned.iter().any(|n| {
            self.kills.get(n).is_none_or(|&k| k > pos)
                && self.scopes.get(n).is_none_or(|&block| contains(block, at))
        })
    }

    fn owns(&self, expr: &Expr) -> Option<String> {
        local_name(through_access(expr)).filter(|n| self.owned.contains(n))
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
        let mut e = through_wrappers(expr);
        loop {
            e = match e {
                Expr::Path(_) => return owned(e),
                Expr::MethodCall(m) if DERIVING.iter().any(|d| m.method == d) => {
                    through_wrappers(through_access(&m.receiver))
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

fn pat_idents(pat: &Pat, out: &mut Vec<String>) {
    struct Finder<'o>(&'o mut Vec<String>);
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_pat_ident(&mut self, p: &'a syn::PatIdent) {
            self.0.push(p.ident.to_string());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    Finder(out).visit_pat(pat);
}

struct Kills<'l> {
    names: &'l [String],
    /// A closure whose span contains this one is looked into rather than counted as taking
    /// the names (the task being judged, inside the block that spawns it).
    inside: Option<Span>,
    kills: &'l mut HashMap<String, u32>,
    passed: &'l mut Vec<(String, usize, u32)>,
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

/// A wait found in a task body, before the ownership checks.
enum Found {
    Pending,
    /// A loop on `rx.recv()` (or `for m in rx`) with no way out: the receiver's name.
    RecvLoop(String, String),
    /// A `select!` directly in a `loop` that has no way out besides the macro's branches.
    Select(syn::Macro),
}

/// The waits of a task body (its own code: closures and async blocks inside run elsewhere).
#[derive(Default)]
struct Waits {
    /// (primary span, position, what).
    found: Vec<(Span, u32, Found)>,
}

impl<'a> Visit<'a> for Waits {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
    fn visit_expr_await(&mut self, a: &'a syn::ExprAwait) {
        if let Expr::Call(c) = through_parens(&a.base) {
            if is_pending(&c.func) {
                let at = node_span(a);
                self.found.push((at, at.start, Found::Pending));
            }
        }
        syn::visit::visit_expr_await(self, a);
    }
    fn visit_expr_while(&mut self, w: &'a syn::ExprWhile) {
        if let Expr::Let(l) = &*w.cond {
            if let Expr::MethodCall(m) = through_wrappers(&l.expr) {
                let recv = ["recv", "blocking_recv", "recv_async"]
                    .iter()
                    .any(|r| m.method == r);
                if let (true, Some(rx)) = (recv, local_name(through_access(&m.receiver))) {
                    if !has_exit(Body::Block(&w.body), None) {
                        let at = method_span(m);
                        let shown = format!("{rx}.{}()", m.method);
                        self.found.push((at, at.start, Found::RecvLoop(rx, shown)));
                    }
                }
            }
        }
        syn::visit::visit_expr_while(self, w);
    }
    fn visit_expr_for_loop(&mut self, f: &'a syn::ExprForLoop) {
        let rx = match through_access(&f.expr) {
            Expr::MethodCall(m)
                if m.args.is_empty() && (m.method == "iter" || m.method == "into_iter") =>
            {
                local_name(through_access(&m.receiver))
            }
            e => local_name(e),
        };
        if let Some(rx) = rx.filter(|_| !has_exit(Body::Block(&f.body), None)) {
            let at = node_span(&*f.expr);
            let shown = format!("for .. in {rx}");
            self.found.push((at, at.start, Found::RecvLoop(rx, shown)));
        }
        syn::visit::visit_expr_for_loop(self, f);
    }
    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        // The loop's own statements, one by one: a `select!` among them is judged without
        // counting its own branches as the loop's way out.
        for stmt in &l.body.stmts {
            let mac = match stmt {
                Stmt::Macro(m) => Some(&m.mac),
                Stmt::Expr(Expr::Macro(m), _) => Some(&m.mac),
                _ => None,
            };
            match mac {
                Some(mac) if is_select(mac) => {
                    if !has_exit(Body::Block(&l.body), Some(node_span(mac))) {
                        let at = node_span(mac);
                        self.found.push((at, at.start, Found::Select(mac.clone())));
                    }
                }
                _ => self.visit_stmt(stmt),
            }
        }
    }
}

fn through_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// `std::future::pending`, `core::future::pending`, `futures::future::pending` as written
/// (`pending()`, `future::pending::<()>()`).
fn is_pending(func: &Expr) -> bool {
    let Expr::Path(p) = func else { return false };
    let segs: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    match segs.as_slice() {
        [.., last] if last != "pending" => false,
        [_] => true,
        [.., module, _] => module == "future",
        [] => false,
    }
}

fn is_select(mac: &syn::Macro) -> bool {
    mac.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "select" || s.ident == "select_biased")
}

/// Whether a loop body (or a `select!` branch) can leave: `return`, a `break` of this loop
/// (unlabelled outside inner loops, or labelled), `panic!` and the like, `process::exit`, or
/// `break`/`return` in a macro's tokens (other than the macro at `skip`).
pub(crate) fn has_exit(body: Body<'_>, skip: Option<Span>) -> bool {
    struct Finder {
        depth: usize,
        skip: Option<Span>,
        found: bool,
    }
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
        fn visit_expr_return(&mut self, _: &'a syn::ExprReturn) {
            self.found = true;
        }
        fn visit_expr_break(&mut self, b: &'a syn::ExprBreak) {
            self.found |= self.depth == 0 || b.label.is_some();
        }
        fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
            self.depth += 1;
            syn::visit::visit_expr_loop(self, l);
            self.depth -= 1;
        }
        fn visit_expr_while(&mut self, w: &'a syn::ExprWhile) {
            self.depth += 1;
            syn::visit::visit_expr_while(self, w);
            self.depth -= 1;
        }
        fn visit_expr_for_loop(&mut self, f: &'a syn::ExprForLoop) {
            self.depth += 1;
            syn::visit::visit_expr_for_loop(self, f);
            self.depth -= 1;
        }
        fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
            self.found |= matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "exit"));
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            if Some(node_span(m)) == self.skip {
                return;
            }
            let name = m.path.segments.last().map(|s| s.ident.to_string());
            self.found |= matches!(
                name.as_deref(),
                Some("panic" | "unreachable" | "todo" | "unimplemented")
            );
            let mut stack = vec![m.tokens.clone()];
            while let Some(ts) = stack.pop() {
                for tt in ts {
                    match tt {
                        TokenTree::Ident(i) if i == "break" || i == "return" => self.found = true,
                        TokenTree::Group(g) => stack.push(g.stream()),
                        _ => {}
                    }
                }
            }
        }
    }
    let mut f = Finder {
        depth: 0,
        skip,
        found: false,
    };
    body.visit(&mut f);
    f.found
}

/// Functions that make an mpsc channel, whose receiver ends only when every sender is gone.
const CHANNELS: &[&str] = &[
    "channel",
    "unbounded_channel",
    "sync_channel",
    "unbounded",
    "bounded",
];

/// The sender the task holds of the channel whose receiver `rx` it loops on at `pos`: created
/// with it by `let (tx, rx) = mpsc::channel(..)`, held by the task (created in it or moved into
/// it) and never moved elsewhere or dropped before the loop.
fn own_sender(
    imports: &Imports,
    spawner: &Block,
    task: &Task<'_>,
    rx: &str,
    pos: u32,
) -> Option<String> {
    struct Finder<'i>(&'i Imports, &'i str, Option<(Pat, u32)>);
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_local(&mut self, l: &'a syn::Local) {
            if let (Pat::Tuple(t), Some(init)) = (&l.pat, &l.init) {
                let receiver = t.elems.iter().nth(1).and_then(|p| match p {
                    Pat::Ident(i) => Some(i.ident.to_string()),
                    _ => None,
                });
                if t.elems.len() == 2 && receiver.as_deref() == Some(self.1) {
                    if let Expr::Call(c) = through_wrappers(&init.expr) {
                        if is_channel(self.0, &c.func) {
                            self.2 = Some((t.elems[0].clone(), node_span(l).start));
                        }
                    }
                }
            }
            syn::visit::visit_local(self, l);
        }
    }
    let mut f = Finder(imports, rx, None);
    f.visit_block(spawner);
    let (Pat::Ident(tx), made_at) = f.2? else {
        return None; // `let (_, rx)`: the sender is dropped at once
    };
    let tx = tx.ident.to_string();
    let names = [tx.clone()];
    let in_task = contains(task.whole, Span::new(made_at as usize, made_at as usize));
    if !in_task && !mentions(task.body).iter().any(|(n, _)| *n == tx) {
        return None;
    }
    let mut kills = HashMap::new();
    let mut passed = Vec::new();
    let mut k = Kills {
        names: &names,
        inside: Some(task.whole),
        kills: &mut kills,
        passed: &mut passed,
    };
    k.visit_block(spawner);
    let moved = kills
        .get(&tx)
        .is_some_and(|&at| !contains(task.whole, Span::new(at as usize, at as usize)) || at < pos);
    (!moved).then_some(tx)
}

fn is_channel(imports: &Imports, func: &Expr) -> bool {
    imports.resolve_expr(func).iter().any(|c| {
        let last = c.last().map_or("", String::as_str);
        let first = c.first().map_or("", String::as_str);
        CHANNELS.contains(&last)
            && (c.iter().any(|s| s == "mpsc")
                || matches!(
                    first,
                    "crossbeam_channel" | "crossbeam" | "flume" | "async_channel"
                ))
    })
}

/// Reads whose future returns `Ok(0)` at EOF, and streams whose `next` returns `None`.
const READS: &[&str] = &["read", "read_buf", "read_line", "read_until"];
const NEXTS: &[(&str, &str)] = &[
    ("next", "None"),
    ("next_line", "Ok(None)"),
    ("try_next", "Ok(None)"),
];

/// One branch of a `select!`: `pattern = future [, if cond] => handler`, or `else => handler`.
struct Branch {
    pat: Option<Pat>,
    future: Option<Expr>,
    handler: Option<Expr>,
}

/// The branches of a `select!` (tokio's or futures'), each part parsed when it can be.
fn branches(tokens: TokenStream) -> Vec<Branch> {
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // `biased;`
    if matches!(tts.first(), Some(TokenTree::Ident(b)) if b == "biased") {
        i = 2;
    }
    let is_punct = |tt: &TokenTree, c: char| matches!(tt, TokenTree::Punct(p) if p.as_char() == c);
    while i < tts.len() {
        let start = i;
        while i + 1 < tts.len()
            && !(matches!(&tts[i], TokenTree::Punct(p) if p.as_char() == '=' && p.spacing() == Spacing::Joint)
                && is_punct(&tts[i + 1], '>'))
        {
            i += 1;
        }
        if i + 1 >= tts.len() {
            break;
        }
        let head = &tts[start..i];
        i += 2;
        let handler_start = i;
        if matches!(tts.get(i), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace) {
            i += 1;
        } else {
            while i < tts.len() && !is_punct(&tts[i], ',') {
                i += 1;
            }
        }
        let handler: TokenStream = tts[handler_start..i].iter().cloned().collect();
        if i < tts.len() && is_punct(&tts[i], ',') {
            i += 1;
        }
        let handler = syn::parse2::<Expr>(handler).ok();
        if matches!(head, [TokenTree::Ident(e)] if e == "else") {
            out.push(Branch {
                pat: None,
                future: None,
                handler,
            });
            continue;
        }
        // The `=` between the pattern and the future: alone, not part of `==`/`<=`/`=>`.
        let eq = head.iter().enumerate().position(|(k, tt)| {
            matches!(tt, TokenTree::Punct(p) if p.as_char() == '=' && p.spacing() == Spacing::Alone)
                && !matches!(k.checked_sub(1).map(|j| &head[j]), Some(TokenTree::Punct(q)) if q.spacing() == Spacing::Joint)
        });
        let Some(eq) = eq else { continue };
        let pat: TokenStream = head[..eq].iter().cloned().collect();
        let rest = &head[eq + 1..];
        let cond = (0..rest.len()).find(|&k| {
            is_punct(&rest[k], ',')
                && matches!(rest.get(k + 1), Some(TokenTree::Ident(x)) if x == "if")
        });
        let future: TokenStream = rest[..cond.unwrap_or(rest.len())].iter().cloned().collect();
        out.push(Branch {
            pat: syn::parse::Parser::parse2(Pat::parse_multi, pat).ok(),
            future: syn::parse2::<Expr>(future).ok(),
            handler,
        });
    }
    out
}

/// The branch of a `select!` in an endless `loop` that reads the connection and does not end
/// the task at EOF: its future's span, the reader and what EOF returns.
fn select_ignores_eof(mac: &syn::Macro, life: &Lifetimes) -> Option<(Span, String, &'static str)> {
    let all = branches(mac.tokens.clone());
    let has_else = all.iter().any(|b| b.future.is_none() && b.pat.is_none());
    for b in &all {
        let (Some(pat), Some(future), Some(handler)) = (&b.pat, &b.future, &b.handler) else {
            continue;
        };
        let mut call = through_wrappers(future);
        while let Expr::MethodCall(m) = call {
            if m.method != "fuse" {
                break;
            }
            call = through_wrappers(&m.receiver);
        }
        let Expr::MethodCall(m) = call else { continue };
        let Some(reader) = life.owns(&m.receiver) else {
            continue;
        };
        let method = m.method.to_string();
        let eof = if READS.contains(&method.as_str()) {
            "Ok(0)"
        } else if let Some((_, eof)) = NEXTS.iter().find(|(n, _)| *n == method) {
            eof
        } else {
            continue;
        };
        if has_exit(Body::Expr(handler), None) || sees_eof(pat, handler) || gives_away(pat, handler)
        {
            continue;
        }
        // `Some(line) = lines.next()`: at EOF the branch is disabled and `select!` waits on the
        // others; with no other branch it panics, with `else` the task may end there.
        let refutable = matches!(pat, Pat::TupleStruct(t) if t.path.segments.last().is_some_and(|s| s.ident == "Some" || s.ident == "Ok"));
        if refutable && (has_else || all.len() < 2) {
            continue;
        }
        return Some((node_span(future), reader, eof));
    }
    None
}

/// Whether a branch looks at EOF itself: a `0` or `None` in its pattern or handler, or
/// `is_empty()` / `is_none()`.
fn sees_eof(pat: &Pat, handler: &Expr) -> bool {
    struct Finder(bool);
    impl<'a> Visit<'a> for Finder {
        fn visit_lit_int(&mut self, l: &'a syn::LitInt) {
            self.0 |= l.base10_digits() == "0";
        }
        fn visit_ident(&mut self, i: &'a proc_macro2::Ident) {
            self.0 |= i == "None" || i == "is_empty" || i == "is_none";
        }
    }
    let mut f = Finder(false);
    f.visit_pat(pat);
    f.visit_expr(handler);
    f.0
}

/// Whether the handler passes what the branch bound to a function (of the crate, say) that may
/// end the task on EOF in a way the analysis cannot see.
fn gives_away(pat: &Pat, handler: &Expr) -> bool {
    let mut bound = Vec::new();
    pat_idents(pat, &mut bound);
    struct Finder<'b>(&'b [String], bool);
    impl<'a> Visit<'a> for Finder<'_> {
        fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
            for arg in &c.args {
                let found = mentions(Body::Expr(arg));
                self.1 |= found.iter().any(|(n, _)| self.0.contains(n));
            }
            syn::visit::visit_expr_call(self, c);
        }
    }
    let mut f = Finder(&bound, false);
    f.visit_expr(handler);
    f.1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branches of a `select!` with `body`, and the macro's source for [`text`].
    fn parse_branches(body: &str) -> (Vec<Branch>, String) {
        let source = format!("tokio::select! {{ {body} }}");
        let mac: syn::Macro = syn::parse_str(&source).unwrap();
        (branches(mac.tokens), source)
    }

    /// The source text of a parsed part, without blanks.
    fn text(source: &str, e: &Option<Expr>) -> String {
        e.as_ref()
            .map(|e| source[node_span(e).range()].replace(' ', ""))
            .unwrap_or_default()
    }

    #[test]
    fn select_branches_are_split_and_parsed() {
        let (b, src) = parse_branches(
            "biased;
             n = rd.read(&mut buf), if open => { wr.write_all(&buf[..n?]).await?; }
             Some(m) = rx.recv() => handle(m),
             _ = tick.tick() => {}
             else => break,",
        );
        assert_eq!(b.len(), 4);
        assert_eq!(text(&src, &b[0].future), "rd.read(&mutbuf)");
        assert!(matches!(b[0].pat, Some(Pat::Ident(_))));
        assert_eq!(text(&src, &b[1].future), "rx.recv()");
        assert_eq!(text(&src, &b[1].handler), "handle(m)");
        assert!(matches!(b[1].pat, Some(Pat::TupleStruct(_))));
        assert!(matches!(b[2].handler, Some(Expr::Block(_))));
        assert!(b[3].pat.is_none() && b[3].future.is_none());
        assert!(matches!(b[3].handler, Some(Expr::Break(_))));
    }

    #[test]
    fn comparisons_in_a_future_are_not_the_pattern_separator() {
        let (b, src) = parse_branches("ok = async { a == b } => {}");
        assert_eq!(b.len(), 1);
        assert_eq!(text(&src, &b[0].future), "async{a==b}");
    }

    #[test]
    fn exits() {
        let exit = |src: &str| {
            let block: Block = syn::parse_str(src).unwrap();
            has_exit(Body::Block(&block), None)
        };
        assert!(exit("{ if x { break; } }"));
        assert!(exit("{ return; }"));
        assert!(exit("{ panic!(\"no\") }"));
        assert!(exit("{ std::process::exit(1) }"));
        assert!(exit("{ tokio::select! { _ = a => break, } }"));
        assert!(exit("{ loop { break 'outer; } }"));
        assert!(!exit("{ loop { break; } }"));
        assert!(!exit("{ for x in y { if x { break } } }"));
        assert!(!exit("{ let f = || return 1; x?; }"));
    }

    #[test]
    fn pending_spellings() {
        let callee = |src: &str| syn::parse_str::<Expr>(src).unwrap();
        assert!(is_pending(&callee("pending")));
        assert!(is_pending(&callee("std::future::pending::<()>")));
        assert!(is_pending(&callee("future::pending")));
        assert!(!is_pending(&callee("poll::pending")));
        assert!(!is_pending(&callee("pending_jobs")));
    }
}
