//! End of stream handed to the caller as success: a helper of the crate whose `Ok(0)` arm (or
//! `if n == 0` branch) returns `Ok(())` ([`EofSummary::Value`]) is called on a connection taken
//! from a container, and the caller removes the connection only when the result is an `Err`
//! (`is_err()`, `if let Err(..)`, a `match` whose `Ok` arm does nothing; on the call, on a name
//! bound to it, or on a closure called on the spot whose body is only such calls with `?`). End
//! of stream and "nothing more to read for now" look the same to the caller, so the closed
//! connection stays. The connection is an element of the container: `conns.get_mut(&t)`,
//! `slab[k]`, or a name bound to one (`if let Some(conn) = ..`, `let Some(conn) = .. else`).
//!
//! What the analysis cannot see counts in the code's favour: the caller's `Ok` path doing
//! anything that may end the connection, another removal of the container outside those `Err`
//! paths (a hang-up handler, a sweep), a container handed to code the file does not define, and
//! a helper of the file that is not `-> Result<(), _>` or whose end-of-stream branch does
//! anything but return (`conn.closed = true`, a call, a removal).

use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::{self, Visit};
use syn::{Block, Expr, Pat, ReturnType};

use crate::diagnostic::Location;
use crate::rust::flow::eof::{pat_idents, EofHelpers, EofSummary};
use crate::rust::flow::summary::{Container, Effects, Store, Summaries};
use crate::rust::model::sockets::{contains, method_span, through_access, Function};
use crate::rust::node_span;
use crate::rust::syntax::patterns::only_err;

/// A helper call on a stored connection whose result is only checked for `Err`, with the
/// removal that runs on that `Err` path.
#[derive(Clone, Debug)]
pub(crate) struct ErrOnlyRemoval {
    pub helper: String,
    /// The helper's `Ok(0)` arm or `if n == 0` branch, as the summary gives it.
    pub eof: Location,
    /// The helper call whose result is checked.
    pub call: Span,
    /// The removal on the `Err` path.
    pub removal: Span,
    /// The container, as the calling function names it.
    pub container: Container,
}

/// The checks of `f` that remove a stored connection only when a success-at-EOF helper fails.
/// `fns` are the file's functions (to judge a helper of this file and the file's other
/// removals).
pub(crate) fn err_only_removals(
    summaries: &Summaries<'_>,
    helpers: &EofHelpers<'_>,
    fns: &[Function<'_>],
    f: &Function<'_>,
) -> Vec<ErrOnlyRemoval> {
    let aliases = summaries.function_aliases(f);
    let mut checks = Checks {
        summaries,
        helpers,
        aliases: &aliases,
        elements: HashMap::new(),
        results: HashMap::new(),
        found: Vec::new(),
    };
    // Twice: an element may be used before the statement that binds it is visited.
    for _ in 0..2 {
        checks.found.clear();
        checks.visit_block(f.block);
    }
    if checks.found.is_empty() {
        return Vec::new();
    }
    let whole = summaries.effects(Some(f.block), None, &aliases);
    let mut out = Vec::new();
    for check in &checks.found {
        let Some(removal) = check.err.iter().find_map(|r| {
            r.effects(summaries, &aliases)
                .removes
                .into_iter()
                .find(|(c, _)| *c == check.container)
                .map(|(_, at)| at)
        }) else {
            continue;
        };
        let ok_ends = check
            .ok
            .iter()
            .any(|r| r.effects(summaries, &aliases).may_end_connection() || r.leaves());
        let err_regions: Vec<Span> = checks
            .found
            .iter()
            .filter(|c| c.container == check.container)
            .flat_map(|c| c.err.iter().map(Region::span))
            .collect();
        let removed_elsewhere = whole
            .removes
            .iter()
            .any(|(c, at)| *c == check.container && !err_regions.iter().any(|r| contains(*r, *at)));
        if ok_ends
            || removed_elsewhere
            || whole.hands_over.contains(&check.container)
            || !helper_returns_unit_at_eof(summaries, fns, check)
            || other_functions_remove(summaries, fns, f, &check.container, &check.err)
        {
            continue;
        }
        out.push(ErrOnlyRemoval {
            helper: check.helper.clone(),
            eof: check.eof,
            call: check.call,
            removal,
            container: check.container.clone(),
        });
    }
    out
}

/// A branch or an arm body.
#[derive(Clone, Copy)]
enum Region<'a> {
    Block(&'a Block),
    Expr(&'a Expr),
}

impl Region<'_> {
    fn effects(&self, summaries: &Summaries<'_>, aliases: &HashMap<String, Container>) -> Effects {
        match self {
            Region::Block(b) => summaries.effects(Some(b), None, aliases),
            Region::Expr(e) => summaries.effects(None, Some(e), aliases),
        }
    }

    fn span(&self) -> Span {
        match self {
            Region::Block(b) => node_span(*b),
            Region::Expr(e) => node_span(*e),
        }
    }

    /// The names of the functions and methods the region calls.
    fn callees(&self) -> Vec<String> {
        let mut calls = Calls::default();
        match self {
            Region::Block(b) => calls.visit_block(b),
            Region::Expr(e) => calls.visit_expr(e),
        }
        calls.0.into_iter().map(|(name, _)| name).collect()
    }

    /// Whether the region may leave the enclosing loop or function (`break`, `return`): the
    /// code after it may then end the connection.
    fn leaves(&self) -> bool {
        #[derive(Default)]
        struct Finder(bool);
        impl<'a> Visit<'a> for Finder {
            fn visit_item(&mut self, _: &'a syn::Item) {}
            fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
            fn visit_expr(&mut self, e: &'a Expr) {
                self.0 |= matches!(e, Expr::Break(_) | Expr::Return(_));
                visit::visit_expr(self, e);
            }
        }
        let mut f = Finder::default();
        match self {
            Region::Block(b) => f.visit_block(b),
            Region::Expr(e) => f.visit_expr(e),
        }
        f.0
    }
}

/// A helper call on a stored connection and the paths its result takes.
struct Check<'a> {
    helper: String,
    eof: Location,
    call: Span,
    container: Container,
    /// Code that runs only when the helper failed (`then` of `is_err()`, `Err` arms).
    err: Vec<Region<'a>>,
    /// Code that runs when it succeeded (`else`, `Ok` and `_` arms).
    ok: Vec<Region<'a>>,
}

struct Checks<'s, 'i, 'a> {
    summaries: &'s Summaries<'i>,
    helpers: &'s EofHelpers<'s>,
    aliases: &'s HashMap<String, Container>,
    /// Names bound to an element of a container (`if let Some(conn) = conns.get_mut(&t)`).
    elements: HashMap<String, Container>,
    /// Names bound to a helper's result (`let r = handle(conn);`), with the helper call.
    results: HashMap<String, &'a Expr>,
    found: Vec<Check<'a>>,
}

impl<'a> Checks<'_, '_, 'a> {
    /// The container an element expression is taken from: a name bound to one, `c.get_mut(k)`,
    /// `c.get(k)`, `c[k]` (through `&mut`, `unwrap()`...).
    fn element(&self, expr: &Expr) -> Option<Container> {
        match through_access(expr) {
            Expr::Path(p) => p
                .path
                .get_ident()
                .and_then(|i| self.elements.get(&i.to_string()).cloned()),
            Expr::MethodCall(m) if m.method == "get_mut" || m.method == "get" => {
                let c = self.summaries.container_of(&m.receiver, self.aliases)?;
                // `X.get()` of a lazily built static is the static itself, not an element.
                (m.args.len() == 1).then_some(c)
            }
            Expr::Index(i) => self.summaries.container_of(&i.expr, self.aliases),
            _ => None,
        }
    }

    /// A call of a success-at-EOF helper on an element: `conn.handle()`, `handle(conn)`,
    /// `self.handle(conn)`.
    fn helper_call(&self, expr: &Expr) -> Option<(String, Location, Span, Container)> {
        let mut e = expr;
        while let Expr::Await(a) = e {
            e = &a.base;
        }
        let (name, span, container) = match e {
            Expr::MethodCall(m) => {
                let c = self
                    .element(&m.receiver)
                    .or_else(|| m.args.iter().find_map(|a| self.element(a)))?;
                (m.method.to_string(), method_span(m), c)
            }
            Expr::Call(c) => {
                let Expr::Path(p) = &*c.func else { return None };
                let name = p.path.get_ident()?.to_string();
                let cont = c.args.iter().find_map(|a| self.element(a))?;
                (name, node_span(c), cont)
            }
            _ => return None,
        };
        match self.helpers.of_call(e) {
            Some(EofSummary::Value(at)) => Some((name, at, span, container)),
            _ => None,
        }
    }

    fn bind(&mut self, pat: &Pat, init: &Expr) {
        if let Some(c) = self.element(init) {
            for n in pat_idents(pat) {
                self.elements.insert(n, c.clone());
            }
        }
    }

    /// The helper call whose result `expr` is: the call itself, or a name bound to it.
    fn result_of(&self, expr: &'a Expr) -> &'a Expr {
        match expr {
            Expr::Path(p) => p
                .path
                .get_ident()
                .and_then(|i| self.results.get(&i.to_string()).copied())
                .unwrap_or(expr),
            _ => expr,
        }
    }

    /// The helper call a closure called on the spot runs, when its body is only `helper(..)?;`
    /// statements and `Ok(())`: `(|| { handle(conn)?; flush(conn)?; Ok(()) })()`. Anything else
    /// in the body may turn the end of stream into an error.
    fn closure_result(&self, init: &'a Expr) -> Option<&'a Expr> {
        let Expr::Call(c) = init else { return None };
        let mut func = &*c.func;
        while let Expr::Paren(p) = func {
            func = &p.expr;
        }
        let Expr::Closure(closure) = func else {
            return None;
        };
        let Expr::Block(body) = &*closure.body else {
            return None;
        };
        let (tail, steps) = body.block.stmts.split_last()?;
        let ok_tail = matches!(tail, syn::Stmt::Expr(e, None) if matches!(e, Expr::Call(_)) && crate::rust::flow::summary::is_unit_value(Some(e)));
        let mut calls = steps.iter().map(|s| match s {
            syn::Stmt::Expr(Expr::Try(t), Some(_)) if self.helper_call(&t.expr).is_some() => {
                Some(&*t.expr)
            }
            _ => None,
        });
        let first = calls.next()??;
        (ok_tail && calls.all(|c| c.is_some())).then_some(first)
    }

    fn push(&mut self, call: &'a Expr, err: Vec<Region<'a>>, ok: Vec<Region<'a>>) {
        let call = self.result_of(call);
        if let Some((helper, eof, call, container)) = self.helper_call(call) {
            self.found.push(Check {
                helper,
                eof,
                call,
                container,
                err,
                ok,
            });
        }
    }
}

impl<'a> Visit<'a> for Checks<'_, '_, 'a> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_local(&mut self, l: &'a syn::Local) {
        if let Some(init) = &l.init {
            self.bind(&l.pat, &init.expr);
            if let Pat::Ident(name) = &l.pat {
                let call = Some(&*init.expr)
                    .filter(|e| self.helper_call(e).is_some())
                    .or_else(|| self.closure_result(&init.expr));
                if let Some(call) = call {
                    self.results.insert(name.ident.to_string(), call);
                }
            }
        }
        visit::visit_local(self, l);
    }
    fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
        let then = vec![Region::Block(&i.then_branch)];
        let otherwise = i.else_branch.iter().map(|(_, e)| Region::Expr(e)).collect();
        match &*i.cond {
            Expr::Let(l) if only_err(&l.pat) => self.push(&l.expr, then, otherwise),
            Expr::Let(l) => self.bind(&l.pat, &l.expr),
            Expr::MethodCall(m) if m.method == "is_err" && m.args.is_empty() => {
                self.push(&m.receiver, then, otherwise)
            }
            _ => {}
        }
        visit::visit_expr_if(self, i);
    }
    fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
        let (err, ok): (Vec<_>, Vec<_>) = m.arms.iter().partition(|a| only_err(&a.pat));
        if !err.is_empty() {
            let body =
                |arms: Vec<&'a syn::Arm>| arms.into_iter().map(|a| Region::Expr(&a.body)).collect();
            self.push(&m.expr, body(err), body(ok));
        }
        for arm in &m.arms {
            self.bind(&arm.pat, &m.expr);
        }
        visit::visit_expr_match(self, m);
    }
}

/// Whether a helper of this file returns `Result<(), _>` and its end-of-stream branch only
/// returns. The body of a helper from another file of the crate is not at hand: its summary is
/// taken at its word only for a container local to the caller (a field may be swept, by a flag
/// the helper sets, in a file this analysis does not see).
fn helper_returns_unit_at_eof(
    summaries: &Summaries<'_>,
    fns: &[Function<'_>],
    check: &Check<'_>,
) -> bool {
    let (name, eof) = (check.helper.as_str(), check.eof);
    if eof.file != 0 {
        return matches!(check.container, Container::Local(_) | Container::Param(_));
    }
    let mut defs = fns.iter().filter(|g| g.name == name);
    let (Some(helper), None) = (defs.next(), defs.next()) else {
        return false;
    };
    if !returns_unit_result(&helper.sig.output) {
        return false;
    }
    let aliases = summaries.function_aliases(helper);
    eof_branch(helper.block, eof.span)
        .is_some_and(|r| !r.effects(summaries, &aliases).may_end_connection())
}

/// `Result<(), E>`, `io::Result<()>`.
fn returns_unit_result(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let syn::Type::Path(p) = &**ty else {
        return false;
    };
    let Some(last) = p.path.segments.last().filter(|s| s.ident == "Result") else {
        return false;
    };
    matches!(&last.arguments, syn::PathArguments::AngleBracketed(a)
        if matches!(a.args.first(), Some(syn::GenericArgument::Type(syn::Type::Tuple(t))) if t.elems.is_empty()))
}

/// The arm body whose pattern, or the `then` branch whose condition, is at `at`.
fn eof_branch(block: &Block, at: Span) -> Option<Region<'_>> {
    struct Finder<'a> {
        at: Span,
        found: Option<Region<'a>>,
    }
    impl<'a> Visit<'a> for Finder<'a> {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_arm(&mut self, a: &'a syn::Arm) {
            if node_span(&a.pat) == self.at {
                self.found = Some(Region::Expr(&a.body));
            }
            visit::visit_arm(self, a);
        }
        fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
            if node_span(&*i.cond) == self.at {
                self.found = Some(Region::Block(&i.then_branch));
            }
            visit::visit_expr_if(self, i);
        }
    }
    let mut f = Finder { at, found: None };
    f.visit_block(block);
    f.found
}

/// Whether a function of the file other than `f` removes from the container (a sweep, a
/// hang-up handler), except the functions called on the `Err` paths themselves.
fn other_functions_remove(
    summaries: &Summaries<'_>,
    fns: &[Function<'_>],
    f: &Function<'_>,
    container: &Container,
    err: &[Region<'_>],
) -> bool {
    if !matches!(container, Container::Field(_) | Container::Static(_)) {
        return false;
    }
    let called: HashSet<String> = err.iter().flat_map(Region::callees).collect();
    fns.iter()
        .filter(|g| !std::ptr::eq(g.block, f.block) && !called.contains(&g.name))
        .any(|g| {
            let e = summaries.effects(Some(g.block), None, &summaries.function_aliases(g));
            e.removes.iter().any(|(c, _)| c == container) || e.hands_over.contains(container)
        })
}

/// The calls a piece of code makes: the method's name or the path's last segment, and the
/// span a summary's effects are reported at.
#[derive(Default)]
struct Calls(Vec<(String, Span)>);

impl<'a> Visit<'a> for Calls {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        self.0.push((m.method.to_string(), method_span(m)));
        visit::visit_expr_method_call(self, m);
    }
    fn visit_expr_call(&mut self, c: &'a syn::ExprCall) {
        if let Expr::Path(p) = &*c.func {
            if let Some(last) = p.path.segments.last() {
                self.0.push((last.ident.to_string(), node_span(c)));
            }
        }
        visit::visit_expr_call(self, c);
    }
}

/// The store that puts the connections into the container `f` removes from: the same field or
/// static, the same local of `f`, or, for a parameter of `f`, a local or parameter of a
/// function that passes it to `f` and removes from it nowhere else.
pub(crate) fn matching_store<'s>(
    summaries: &Summaries<'_>,
    fns: &[Function<'_>],
    f: &Function<'_>,
    container: &Container,
    stores: &'s [(usize, Store)],
) -> Option<&'s Store> {
    stores
        .iter()
        .find(|(i, s)| {
            let g = &fns[*i];
            match container {
                Container::Field(_) | Container::Static(_) => s.container == *container,
                Container::Local(_) => s.container == *container && std::ptr::eq(g.block, f.block),
                Container::Param(_) => {
                    matches!(s.container, Container::Local(_) | Container::Param(_))
                        && passes_and_keeps(summaries, g, &s.container, &f.name)
                }
            }
        })
        .map(|(_, s)| s)
}

/// Whether `g` calls `callee` and removes from `container` nowhere but in those calls.
fn passes_and_keeps(
    summaries: &Summaries<'_>,
    g: &Function<'_>,
    container: &Container,
    callee: &str,
) -> bool {
    let mut calls = Calls::default();
    calls.visit_block(g.block);
    let at_calls: Vec<Span> = calls
        .0
        .into_iter()
        .filter(|(name, _)| name == callee)
        .map(|(_, at)| at)
        .collect();
    if at_calls.is_empty() {
        return false;
    }
    let e = summaries.effects(Some(g.block), None, &summaries.function_aliases(g));
    !e.hands_over.contains(container)
        && !e
            .removes
            .iter()
            .any(|(c, at)| c == container && !at_calls.iter().any(|s| contains(*s, *at)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rust::flow::crate_facts::CrateFacts;
    use crate::rust::flow::eof::summaries as eof_summaries;
    use crate::rust::model::sockets::{functions, Imports};
    use crate::rust::model::types::TypeModel;

    /// The helpers named by the findings of every function of `src`.
    fn findings(src: &str) -> Vec<String> {
        let file = syn::parse_file(src).expect("test source parses");
        let imports = Imports::of(&file);
        let fns = functions(&file);
        let none = CrateFacts::default();
        let summaries = Summaries::of(&file, &imports, &fns, &none);
        let helpers = EofHelpers::file_only(eof_summaries(&imports, &fns, &TypeModel::of(&file)));
        fns.iter()
            .flat_map(|f| err_only_removals(&summaries, &helpers, &fns, f))
            .map(|r| r.helper)
            .collect()
    }

    const HELPER: &str = "struct Conn { stream: TcpStream }
        fn handle(conn: &mut Conn) -> io::Result<()> {
            match conn.stream.read(&mut [0; 64]) {
                Ok(0) => return Ok(()),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
        }";

    fn with_helper(caller: &str) -> Vec<String> {
        findings(&format!("{HELPER}\n{caller}"))
    }

    #[test]
    fn err_only_checks_on_elements_of_a_container() {
        for caller in [
            "fn f(t: Token) { if let Some(c) = conns.get_mut(&t) { if handle(c).is_err() { conns.remove(&t); } } }",
            "fn f(t: Token) { let c = conns.get_mut(&t).unwrap(); if let Err(_) = handle(c) { conns.remove(&t); } }",
            "fn f(i: usize) { match handle(&mut conns[i]) { Ok(()) => {} Err(e) => { log(&e); conns.swap_remove(i); } } }",
            "fn f(i: usize) { if handle(conns.get_mut(&i).unwrap()).is_err() { conns.remove(&i); } }",
            "impl S { fn f(&mut self, t: Token) { let Some(c) = self.conns.get_mut(&t) else { return }; if handle(c).is_err() { self.close(t); } } fn close(&mut self, t: Token) { self.conns.remove(&t); } }",
            // The result bound first, or the helper's `?` in a closure called on the spot.
            "fn f(t: Token) { let c = conns.get_mut(&t).unwrap(); let r = handle(c); if r.is_err() { conns.remove(&t); } }",
            "fn f(t: Token) { let c = conns.get_mut(&t).unwrap(); let r = (|| -> io::Result<()> { handle(c)?; Ok(()) })(); if let Err(_) = r { conns.remove(&t); } }",
        ] {
            assert_eq!(with_helper(caller), ["handle"], "{caller}");
        }
    }

    #[test]
    fn success_paths_that_may_end_the_connection() {
        for caller in [
            // The `Ok` path removes, breaks out, or acts on something unknown.
            "fn f(t: Token) { if let Some(c) = conns.get_mut(&t) { if handle(c).is_err() { conns.remove(&t); } else if c.done { conns.remove(&t); } } }",
            "fn f(t: Token) { loop { let c = conns.get_mut(&t).unwrap(); match handle(c) { Ok(()) => break, Err(_) => { conns.remove(&t); } } } }",
            "fn f(t: Token) { let c = conns.get_mut(&t).unwrap(); match handle(c) { Ok(()) => c.flush_later(), Err(_) => { conns.remove(&t); } } }",
            "fn f(t: Token) { let c = conns.get_mut(&t).unwrap(); match handle(c) { Ok(()) | Err(_) => { conns.remove(&t); } } }",
            // Another removal in the function (a hang-up check), or the container given away.
            "fn f(t: Token, ev: &Event) { if let Some(c) = conns.get_mut(&t) { if handle(c).is_err() { conns.remove(&t); } } if ev.is_read_closed() { conns.remove(&t); } }",
            "fn f(t: Token) { if let Some(c) = conns.get_mut(&t) { if handle(c).is_err() { conns.remove(&t); } } sweep_idle(&mut conns); }",
            // Another function of the file sweeps the field.
            "impl S { fn f(&mut self, t: Token) { if let Some(c) = self.conns.get_mut(&t) { if handle(c).is_err() { self.conns.remove(&t); } } } fn tick(&mut self) { self.conns.retain(|_, c| c.alive()); } }",
            // The result is forwarded, or the helper runs on something not taken from a container.
            "fn f(t: Token) -> io::Result<()> { let c = conns.get_mut(&t).unwrap(); handle(c)?; Ok(()) }",
            "fn f(t: Token, mut up: Conn) { if handle(&mut up).is_err() { conns.remove(&t); } }",
            // A closure whose other steps may fail at end of stream.
            "fn f(t: Token) { let c = conns.get_mut(&t).unwrap(); let r = (|| -> io::Result<()> { handle(c)?; c.check_open()?; Ok(()) })(); if r.is_err() { conns.remove(&t); } }",
        ] {
            assert!(with_helper(caller).is_empty(), "{caller}");
        }
    }

    #[test]
    fn helpers_that_tell_the_caller_or_end_the_connection() {
        let caller = "fn f(t: Token) { if let Some(c) = conns.get_mut(&t) { if handle(c).is_err() { conns.remove(&t); } } }";
        for helper in [
            // A flag, an error, a flag field, a call that may close.
            "fn handle(c: &mut Conn) -> io::Result<bool> { match c.stream.read(&mut b) { Ok(0) => return Ok(false), Ok(_) => Ok(true), Err(e) => Err(e) } }",
            "fn handle(c: &mut Conn) -> io::Result<()> { match c.stream.read(&mut b) { Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()), Ok(_) => Ok(()), Err(e) => Err(e) } }",
            "fn handle(c: &mut Conn) -> io::Result<()> { match c.stream.read(&mut b) { Ok(0) => { c.closed = true; return Ok(()) } Ok(_) => Ok(()), Err(e) => Err(e) } }",
            "fn handle(c: &mut Conn) -> io::Result<()> { match c.stream.read(&mut b) { Ok(0) => { c.stream.shutdown(Shutdown::Both).ok(); return Ok(()) } Ok(_) => Ok(()), Err(e) => Err(e) } }",
        ] {
            let src = format!("struct Conn {{ stream: TcpStream }}\n{helper}\n{caller}");
            assert!(findings(&src).is_empty(), "{helper}");
        }
        let branch = "fn handle(c: &mut TcpStream) -> io::Result<()> { loop { let n = c.read(&mut b)?; if n == 0 { return Ok(()); } } }";
        assert_eq!(findings(&format!("{branch}\n{caller}")), ["handle"]);
    }

    /// RS002's end-of-stream-as-success findings of a whole file.
    fn rule_findings(src: &str) -> usize {
        crate::rust::lint(src, &crate::Settings::default())
            .iter()
            .filter(|d| d.rule.code == "RS002" && d.message.contains("reported as success"))
            .count()
    }

    #[test]
    fn the_store_that_fills_the_container() {
        let accept = "fn serve(l: TcpListener) { let mut conns = HashMap::new(); loop { let (s, _) = l.accept().unwrap(); conns.insert(t, Conn { stream: s }); BODY } }";
        let local = accept.replace(
            "BODY",
            "if let Some(c) = conns.get_mut(&t) { if handle(c).is_err() { conns.remove(&t); } }",
        );
        assert_eq!(rule_findings(&format!("{HELPER}\n{local}")), 1);
        // A parameter of the event-loop function, filled by its caller.
        let event = "fn on_event(conns: &mut HashMap<Token, Conn>, t: Token) { if let Some(c) = conns.get_mut(&t) { if handle(c).is_err() { conns.remove(&t); } } }";
        let passes = accept.replace("BODY", "on_event(&mut conns, t);");
        assert_eq!(rule_findings(&format!("{HELPER}\n{event}\n{passes}")), 1);
        // ... unless that caller also removes on its own (a hang-up check).
        let hangs_up = accept.replace(
            "BODY",
            "on_event(&mut conns, t); if hup { conns.remove(&t); }",
        );
        assert_eq!(rule_findings(&format!("{HELPER}\n{event}\n{hangs_up}")), 0);
        // Another function's local of the same name is another container.
        let other = "fn other(t: Token) { let mut conns: HashMap<Token, Conn> = load(); if let Some(c) = conns.get_mut(&t) { if handle(c).is_err() { conns.remove(&t); } } }";
        let plain = accept.replace("BODY", "");
        assert_eq!(rule_findings(&format!("{HELPER}\n{other}\n{plain}")), 0);
    }

    #[test]
    fn helpers_of_another_file_of_the_crate() {
        let helper = HELPER.replace("fn handle", "pub fn handle");
        let wanted: HashSet<String> = ["handle".to_string()].into();
        let mut facts = CrateFacts::default();
        facts.add(
            1,
            crate::rust::flow::crate_facts::facts_of(&helper, &wanted, &Default::default()),
        );
        let lint = |src: &str| -> Vec<Location> {
            crate::rust::lint_in_crate(src, &crate::Settings::default(), &facts)
                .diagnostics
                .into_iter()
                .filter(|d| d.message.contains("reported as success"))
                .map(|d| d.primary.location)
                .collect()
        };
        let local = "use crate::conn::handle;
            fn serve(l: TcpListener) { let mut conns = HashMap::new(); loop {
                let (s, _) = l.accept().unwrap(); conns.insert(t, Conn { stream: s });
                if let Some(c) = conns.get_mut(&t) { if handle(c).is_err() { conns.remove(&t); } }
            } }";
        let found = lint(local);
        assert_eq!(found.len(), 1);
        // The label points into the helper's file, where the summary found the arm.
        assert_eq!(found[0].file, 1);
        let (start, end) = (found[0].span.start as usize, found[0].span.end as usize);
        assert_eq!(&helper[start..end], "Ok(0)");
        // A field may be swept elsewhere in the crate, by a flag the helper sets.
        let field = "use crate::conn::handle;
            impl S { fn serve(&mut self) { loop {
                let (s, _) = self.l.accept().unwrap(); self.conns.insert(t, Conn { stream: s });
                if let Some(c) = self.conns.get_mut(&t) { if handle(c).is_err() { self.conns.remove(&t); } }
            } } }";
        assert!(lint(field).is_empty());
    }
}
