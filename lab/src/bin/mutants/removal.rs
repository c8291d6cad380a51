//! `drop-removal` mutants (RS002): the calls that take a connection out of its container,
//! turned into lookups.
//!
//! A removal is mutated when its container is one the file stores connections in, by
//! waitlint's own model of stores ([`stores`]: accepted sockets, connection-owning parameters,
//! containers declared to hold connections), as a read is RS001's own `READS`: a store the
//! model does not see gives no mutant, so this measures the judgement of removals, not the
//! finding of stores. `conns.remove(&token)` becomes `conns.get(&token)` (so do `swap_remove`,
//! `remove_entry`...; a `retain(..)` statement is deleted): the code around it is unchanged and
//! the element stays.
//!
//! Only a removal on the end-of-stream path counts (kind `drop-removal`): inside a match arm on
//! a read that takes `Ok(0)`, in the branch of a zero test of a count read in the same block,
//! or in the branch of a flag returned by a function of the file that handles a zero read
//! (`let done = handle(conn)?; if done { conns.remove(&t); }`). Other removals (a failed
//! connect, a write error, shutdown) are listed as `other path` and not counted: keeping such a
//! connection leaks its descriptor, but the peer did not close it, so nothing waits in
//! CLOSE_WAIT.

use std::collections::HashSet;

use lints::rust::analysis::FileAnalysis;
use lints::rust::flow::crate_facts::CrateFacts;
use lints::rust::flow::eof::is_zero_test;
use lints::rust::flow::summary::{holders, stores, Container};
use lints::rust::model::sockets::strip_pat_type;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Pat, Stmt};

use crate::{is_read, is_zero_read_arm, read_count, Mutant};

const REMOVALS: &[&str] = &[
    "remove",
    "remove_entry",
    "try_remove",
    "swap_remove",
    "shift_remove",
    "retain",
    "retain_mut",
];

/// Whether the text may hold a removal mutant: a removing call and a storing one. Most files
/// have neither, and the analysis that finds stores is not cheap.
pub fn worth_analysing(source: &str) -> bool {
    let removes = REMOVALS.iter().any(|r| source.contains(&format!(".{r}(")));
    removes
        && [
            ".insert(",
            ".or_insert(",
            ".push(",
            ".push_back(",
            ".push_front(",
        ]
        .iter()
        .any(|s| source.contains(s))
}

/// The removal mutants of a file.
pub fn mutants(file: &syn::File) -> Vec<Mutant> {
    let facts = CrateFacts::default();
    let analysis = FileAnalysis::new(file, &facts);
    let (summaries, imports, types) = (analysis.summaries(), analysis.imports(), analysis.types());
    let fns = analysis.non_test_functions();
    // Locals are containers of their own function only.
    let mut stored: HashSet<(Option<usize>, Container)> = HashSet::new();
    for (i, f) in fns.iter().enumerate() {
        let aliases = summaries.function_aliases(f);
        let names = holders(imports, types, f);
        for s in stores(summaries, types, f, &names, &aliases) {
            let scope = matches!(s.container, Container::Local(_)).then_some(i);
            stored.insert((scope, s.container));
        }
    }
    let mut out = Vec::new();
    if stored.is_empty() {
        return out;
    }
    let eof_fns: HashSet<String> = fns
        .iter()
        .filter(|f| handles_zero_read(f.block))
        .map(|f| f.name.clone())
        .collect();
    for (i, f) in fns.iter().enumerate() {
        let aliases = summaries.function_aliases(f);
        let function = (
            f.sig.fn_token.span.start().line,
            f.block.brace_token.span.close().end().line,
        );
        let mut calls = Removals {
            eof_fns: &eof_fns,
            on_eof: 0,
            counts: Vec::new(),
            flags: Vec::new(),
            found: Vec::new(),
        };
        calls.visit_block(f.block);
        for found in calls.found {
            let m = found.call;
            let Some(c) = summaries.container_of(&m.receiver, &aliases) else {
                continue;
            };
            let scope = matches!(c, Container::Local(_)).then_some(i);
            if !stored.contains(&(scope, c)) {
                continue;
            }
            let retain = m.method == "retain" || m.method == "retain_mut";
            let (range, replace) = match found.stmt {
                Some(stmt) if retain => (stmt.span().byte_range(), ""),
                _ if retain => continue,
                _ => (m.method.span().byte_range(), "get"),
            };
            out.push(Mutant {
                kind: if found.on_eof {
                    "drop-removal"
                } else {
                    "other path"
                },
                rule: "RS002",
                cut: range.start..range.end,
                replace,
                function,
                line: m.method.span().start().line,
                // A removal is judged wherever it is, in or out of a loop.
                bounded: false,
                stream: None,
            });
        }
    }
    out
}

struct Found<'a> {
    call: &'a syn::ExprMethodCall,
    /// The statement, when the call is one (`conns.retain(..);`).
    stmt: Option<&'a Stmt>,
    on_eof: bool,
}

/// The removing calls of a function body, each with whether it is on the end-of-stream path.
struct Removals<'a, 'f> {
    eof_fns: &'f HashSet<String>,
    /// How many enclosing arms or branches handle end of stream.
    on_eof: usize,
    /// Names bound from a read (`let n = conn.read(..)?`).
    counts: Vec<String>,
    /// Names bound from a call to a function that handles a zero read.
    flags: Vec<String>,
    found: Vec<Found<'a>>,
}

impl<'a> Removals<'a, '_> {
    fn push(&mut self, e: &'a Expr, stmt: Option<&'a Stmt>) {
        if let Expr::MethodCall(m) = removal_root(e) {
            if REMOVALS.contains(&m.method.to_string().as_str()) {
                self.found.push(Found {
                    call: m,
                    stmt,
                    on_eof: self.on_eof > 0,
                });
            }
        }
    }

    fn on_eof_path(&mut self, f: impl FnOnce(&mut Self)) {
        self.on_eof += 1;
        f(self);
        self.on_eof -= 1;
    }
}

impl<'a> Visit<'a> for Removals<'a, '_> {
    fn visit_item(&mut self, _: &'a syn::Item) {}
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Expr(e, _) => match e {
                Expr::If(i) => {
                    if let Expr::Let(l) = &*i.cond {
                        self.push(&l.expr, Some(stmt));
                    }
                }
                e => self.push(e, Some(stmt)),
            },
            Stmt::Local(l) => {
                if let Some(init) = &l.init {
                    self.push(&init.expr, matches!(&l.pat, Pat::Wild(_)).then_some(stmt));
                    if let Some(count) = read_count(l) {
                        self.counts.push(count);
                    } else if let Pat::Ident(p) = strip_pat_type(&l.pat) {
                        if called(&init.expr).is_some_and(|c| self.eof_fns.contains(&c)) {
                            self.flags.push(p.ident.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
        syn::visit::visit_stmt(self, stmt);
    }
    fn visit_arm(&mut self, arm: &'a syn::Arm) {
        if is_zero_read_arm(arm) {
            self.on_eof_path(|s| syn::visit::visit_arm(s, arm));
        } else {
            syn::visit::visit_arm(self, arm);
        }
    }
    fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
        let on_eof = self.counts.iter().any(|n| is_zero_test(&i.cond, n))
            || matches!(&*i.cond, Expr::Path(p)
                if p.path.get_ident().is_some_and(|id| self.flags.contains(&id.to_string())));
        if !on_eof {
            return syn::visit::visit_expr_if(self, i);
        }
        self.visit_expr(&i.cond);
        self.on_eof_path(|s| s.visit_block(&i.then_branch));
        if let Some((_, e)) = &i.else_branch {
            self.visit_expr(e);
        }
    }
}

/// Whether a function body handles a zero read: an `Ok(0)` arm of a match on a read, or a zero
/// test of a count read in the same body.
fn handles_zero_read(block: &syn::Block) -> bool {
    struct Finder {
        counts: Vec<String>,
        found: bool,
    }
    impl<'a> Visit<'a> for Finder {
        fn visit_item(&mut self, _: &'a syn::Item) {}
        fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
            if is_read(&m.expr) && m.arms.iter().any(is_zero_read_arm) {
                self.found = true;
            }
            syn::visit::visit_expr_match(self, m);
        }
        fn visit_local(&mut self, l: &'a syn::Local) {
            self.counts.extend(read_count(l));
            syn::visit::visit_local(self, l);
        }
        fn visit_expr_if(&mut self, i: &'a syn::ExprIf) {
            if self.counts.iter().any(|n| is_zero_test(&i.cond, n)) {
                self.found = true;
            }
            syn::visit::visit_expr_if(self, i);
        }
    }
    let mut f = Finder {
        counts: Vec::new(),
        found: false,
    };
    f.visit_block(block);
    f.found
}

/// The function a `let` initialiser calls, through `?`, `.await`, `match` and the value of an
/// `if`: `handle` in `handle(conn)?`, `self.handle(..)`, `Self::handle(..)`.
fn called(e: &Expr) -> Option<String> {
    match e {
        Expr::Try(t) => called(&t.expr),
        Expr::Await(a) => called(&a.base),
        Expr::Match(m) => called(&m.expr),
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        },
        Expr::MethodCall(m) => Some(m.method.to_string()),
        // `let done = if let Some(c) = conns.get_mut(&t) { handle(c)? } else { false };`
        Expr::If(i) => match i.then_branch.stmts.last() {
            Some(Stmt::Expr(e, None)) => called(e),
            _ => None,
        },
        _ => None,
    }
}

/// The call a statement or initialiser starts from: `conns.remove(t)` in
/// `conns.remove(t).consume()`, `conns.remove(t)?`, `conns.remove(t).is_some()`.
fn removal_root(e: &Expr) -> &Expr {
    match e {
        Expr::MethodCall(m) if !REMOVALS.contains(&m.method.to_string().as_str()) => {
            removal_root(&m.receiver)
        }
        Expr::Try(t) => removal_root(&t.expr),
        Expr::Await(a) => removal_root(&a.base),
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(usize, &'static str, &'static str)> {
        let file = syn::parse_file(src).unwrap();
        let mut out: Vec<_> = mutants(&file)
            .into_iter()
            .map(|m| (m.line, m.kind, m.replace))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn removals_on_the_end_of_stream_path_are_told_from_the_others() {
        let src = "
struct Conn { socket: TcpStream }
struct Server { conns: HashMap<Token, Conn> }
impl Server {
    fn readable(&mut self, t: Token) {
        let c = self.conns.get_mut(&t).unwrap();
        match c.socket.read(&mut buf) {
            Ok(0) => {
                self.conns.remove(&t);
            }
            Ok(n) => {}
            Err(_) => {
                let gone = self.conns.swap_remove(&t).unwrap();
            }
        }
    }
    fn event(&mut self, t: Token) -> io::Result<()> {
        let done = if let Some(c) = self.conns.get_mut(&t) { handle(c)? } else { false };
        if done {
            if let Some(c) = self.conns.remove(&t) {}
        }
        self.conns.retain(|_, c| c.open);
        Ok(())
    }
}
fn handle(c: &mut Conn) -> io::Result<bool> {
    let n = c.socket.read(&mut buf)?;
    if n == 0 { return Ok(true); }
    Ok(false)
}
impl Server {
    fn add(&mut self, t: Token, c: Conn) { self.conns.insert(t, c); }
}
";
        assert_eq!(
            kinds(src),
            [
                (9, "drop-removal", "get"),
                (13, "other path", "get"),
                (20, "drop-removal", "get"),
                (22, "other path", ""),
            ]
        );
    }

    #[test]
    fn containers_that_hold_no_connection_give_no_mutant() {
        let src = "
struct Server { names: HashMap<Token, String> }
impl Server {
    fn readable(&mut self, t: Token, s: &mut TcpStream) {
        match s.read(&mut buf) {
            Ok(0) => { self.names.remove(&t); }
            _ => {}
        }
    }
    fn add(&mut self, t: Token, name: String) { self.names.insert(t, name); }
}";
        assert!(kinds(src).is_empty());
    }
}
