//! Mutation recall on real crates: finds the code of real crates that handles end of stream or
//! lets a stored connection go, breaks exactly that one thing, and counts the mutants the
//! matching rule flags (`eof-ignored`, RS001; `stored-never-removed`, RS002; a `select!` loop's
//! end of stream, RS001 or `blocked-while-owning`, RS006).
//!
//! Usage: `mutants [--waitlint BIN] [--list FILE] [--min-share PERCENT] CRATE_DIR...` (each a crate root with a
//! `Cargo.toml`; `.ci/run` passes the 25 network crates of `../shared/bin/rust-corpus servers`).
//! Each crate is copied to a temporary directory; the copy's files are mutated one at a time and
//! waitlint runs from the copy's root on the mutated file, as a user would, so the crate-wide
//! pass sees the rest of the crate.
//!
//! The mutations, each inside a loop (outside one, end of stream is seen once and nothing spins):
//! - `drop-eof-arm`: delete a `match` arm `Ok(0) => ..` (`Ready(Ok(0))`, `Ok(n) if n == 0 =>
//!   ..`) of a match on a read (`read`, `read_buf`, `try_read`, `read_line`, `read_until`,
//!   `read_vectored`), so that the arm binding the count takes end of stream; in an or-pattern
//!   (`Ok(0) | Err(_) => ..`) delete the `Ok(0)` alternative alone (`drop-eof-alternative`:
//!   deleting the arm would leave errors unmatched, and the mutant would not compile);
//! - `select-eof-arm` (RS001 or RS006): in a `select!` inside a loop, empty the arm of a branch
//!   on a read or a stream's `next()` that takes end of stream (`Ok(0)`, `None`, `Ok(None)`)
//!   and leaves the loop;
//! - `drop-eof-test`: delete an `if n == 0 { .. }` (`n < 1`, `0 == n`, `n == 0 || ..`) whose
//!   branch leaves the loop, where `n` is bound from such a read in the same block (`let n =
//!   read?;`, `let n = match read { Ok(n) => n, .. };`);
//! - `drop-removal` (RS002, in or out of a loop): turn a call that takes an element out of a
//!   container the file stores connections in into a lookup (`conns.remove(&token)` becomes
//!   `conns.get(&token)`, as do `swap_remove`, `remove_entry`...; a `retain(..)` statement is
//!   deleted), so that the code around it is unchanged and the element stays. Which containers hold connections is
//!   waitlint's own answer ([`stores`]: accepted sockets, connection-owning parameters,
//!   containers declared to hold connections), as a read is for RS001: a store the model does
//!   not see gives no mutant, so this measures the judgement of removals, not the finding of
//!   stores.
//!
//! An RS001 mutant is flagged when RS001 reports a finding inside the mutated function that it
//! does not report on the unmutated file; an RS002 mutant when RS002 reports a new finding
//! anywhere in the file (it lands on the store or the read, rarely in the removing function).
//! Two kinds of RS001 mutant are counted apart: one in a function that reads a file or standard
//! input (its text names `stdin`, `File::`, `fs::` or `OpenOptions`) or whose `select!` branch
//! is on a set of tasks, a channel or a timer the function binds (`let mut futures =
//! FuturesUnordered::new()`: its `None` means the set is empty), as `not a connection` (a
//! loop that ignores the end of a file spins too, but leaves nothing in CLOSE_WAIT), and one in
//! a loop bounded by a round counter or a clock, as `bounded loop` (`bounds.rs`: it spins until
//! the bound, then lets the connection go). The share flagged is printed; `--list FILE` writes
//! every mutant with its verdict, to read the misses. With `--min-share`, the run fails (exit
//! 1) when the share flagged is below it, or when no mutant was found at all.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Pat, Stmt};

// What RS001 itself calls a read, a zero test, a test function: the mutants break the code
// the rule is about, recognised the same way.
use lints::rust::flow::eof::{is_zero_test, READS};
use lints::rust::flow::select::select_branches;
use lints::rust::model::sockets::{is_cfg_test, is_test_attr, strip_pat_type};

mod bounds;
mod removal;

pub(crate) struct Mutant {
    pub kind: &'static str,
    /// The rule that should flag the mutant.
    pub rule: &'static str,
    /// Byte range to replace, and with what (deleted when empty).
    pub cut: std::ops::Range<usize>,
    pub replace: &'static str,
    /// Line range (1-based) of the enclosing function.
    pub function: (usize, usize),
    pub line: usize,
    /// The loop around the mutated code has a round counter or a clock that ends it
    /// ([`bounds`]): counted apart.
    pub bounded: bool,
    /// For a `select!` branch on `name.next()`, the name: a set of tasks or a channel bound to
    /// it in the function is not a connection (counted apart).
    pub stream: Option<String>,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut waitlint = PathBuf::from("target/release/waitlint");
    let mut list: Option<PathBuf> = None;
    let mut min_share: Option<f64> = None;
    let mut crates = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--waitlint" => waitlint = args.next().expect("--waitlint BIN").into(),
            "--list" => list = Some(args.next().expect("--list FILE").into()),
            "--min-share" => {
                min_share = args.next().and_then(|v| v.parse().ok());
                if min_share.is_none() {
                    eprintln!("mutants: --min-share wants a number (a percentage)");
                    std::process::exit(2);
                }
            }
            _ => crates.push(PathBuf::from(a)),
        }
    }
    let waitlint = std::fs::canonicalize(&waitlint).unwrap_or_else(|e| {
        eprintln!(
            "mutants: {}: {e} (build it: cargo build --release)",
            waitlint.display()
        );
        std::process::exit(2)
    });
    let mut report = String::new();
    let (mut total, mut flagged, mut files, mut others, mut bounded) = (0, 0, 0, 0, 0);
    let mut by_rule: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for krate in &crates {
        let name = krate
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let work = tempfile::tempdir().expect("a temporary directory");
        let copy = work.path().join(&name);
        if let Err(e) = copy_dir(krate, &copy) {
            eprintln!("mutants: cannot copy {}: {e}", krate.display());
            continue;
        }
        let (mut n, mut f) = (0, 0);
        for file in rust_files(&copy) {
            let Ok(source) = std::fs::read_to_string(&file) else {
                continue;
            };
            let mutants = find_mutants(&source);
            if mutants.is_empty() {
                continue;
            }
            let rel = file
                .strip_prefix(&copy)
                .expect("inside the copy")
                .to_path_buf();
            let mut before: HashMap<&str, BTreeSet<usize>> = HashMap::new();
            let lines: Vec<&str> = source.lines().collect();
            for m in &mutants {
                let body = lines[m.function.0 - 1..m.function.1.min(lines.len())].join("\n");
                // Mutants counted apart: listed with why, not counted.
                let file_read = m.rule.contains("RS001")
                    && (["stdin", "File::", "fs::", "OpenOptions"]
                        .iter()
                        .any(|w| body.contains(w))
                        || m.stream
                            .as_deref()
                            .is_some_and(|s| binds_not_a_connection(&body, s)));
                let apart = if file_read {
                    Some(("not a connection", &mut files, m.kind))
                } else if m.bounded {
                    Some(("bounded loop", &mut bounded, m.kind))
                } else if m.kind == "other path" {
                    // Removals off the end-of-stream path.
                    Some(("other path", &mut others, m.rule))
                } else {
                    None
                };
                if let Some((why, tally, what)) = apart {
                    *tally += 1;
                    report.push_str(&format!(
                        "{why}\t{name}/{}:{}\t{what}\n",
                        rel.display(),
                        m.line
                    ));
                    continue;
                }
                let mut mutated = source.clone();
                mutated.replace_range(m.cut.clone(), m.replace);
                let removed_lines = source[m.cut.clone()].matches('\n').count();
                let before = before
                    .entry(m.rule)
                    .or_insert_with(|| findings(&waitlint, &copy, &rel, m.rule));
                std::fs::write(&file, &mutated).expect("write the mutant");
                let after = findings(&waitlint, &copy, &rel, m.rule);
                std::fs::write(&file, &source).expect("restore the file");
                let (start, end) = (m.function.0, m.function.1 - removed_lines);
                let hit = after.iter().any(|l| {
                    (!m.rule.contains("RS001") || (start..=end).contains(l))
                        && !before.contains(&shift(*l, m.line, removed_lines))
                });
                let tally = by_rule.entry(m.rule).or_default();
                tally.0 += usize::from(hit);
                tally.1 += 1;
                n += 1;
                f += usize::from(hit);
                report.push_str(&format!(
                    "{}\t{}/{}:{}\t{}\n",
                    if hit { "flagged" } else { "missed" },
                    name,
                    rel.display(),
                    m.line,
                    m.kind
                ));
            }
        }
        if n > 0 {
            println!("{name:<24} {f:>3} / {n:<3} flagged");
        }
        total += n;
        flagged += f;
    }
    let share = if total == 0 {
        0.0
    } else {
        100.0 * flagged as f64 / total as f64
    };
    println!("\nmutants flagged: {flagged} / {total} ({share:.0} %); not counted: {files} not connections (files, stdin, sets of tasks), {bounded} in loops bounded by a round counter or a clock, {others} removals off the end-of-stream path");
    for (rule, (f, n)) in &by_rule {
        println!("  {rule}: {f} / {n}");
    }
    if let Some(list) = list {
        std::fs::write(&list, report).expect("write the list");
    }
    if let Some(min) = min_share {
        if total == 0 || share < min {
            eprintln!("mutants: {share:.0} % flagged, below the required {min} %");
            std::process::exit(1);
        }
    }
}

/// A finding's line in the unmutated file, for a line of the mutant.
fn shift(line: usize, cut_line: usize, removed: usize) -> usize {
    if line >= cut_line {
        line + removed
    } else {
        line
    }
}

/// The lines of `rule`'s findings in `rel`, running waitlint from `root`.
fn findings(waitlint: &Path, root: &Path, rel: &Path, rule: &str) -> BTreeSet<usize> {
    let out = Command::new(waitlint)
        .args([
            "check",
            "--format",
            "short",
            "--select",
            rule,
            "--no-ignore",
        ])
        .arg(rel)
        .current_dir(root)
        .output()
        .expect("waitlint runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| rule.split(',').any(|r| l.ends_with(&format!("[{r}]"))))
        .filter_map(|l| l.split(':').nth(1)?.parse().ok())
        .collect()
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The crate's `.rs` files outside `tests/` and `benches/` and not named as tests (`test.rs`,
/// `*_tests.rs`): tests read on purpose until they see what they expect.
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() {
                if !matches!(name.as_str(), "tests" | "benches" | "target")
                    && !name.starts_with('.')
                {
                    stack.push(p);
                }
            } else if name.ends_with(".rs")
                && !matches!(name.as_str(), "test.rs" | "tests.rs")
                && !name.ends_with("_test.rs")
                && !name.ends_with("_tests.rs")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The mutation points of a file.
fn find_mutants(source: &str) -> Vec<Mutant> {
    let Ok(file) = syn::parse_file(source) else {
        return Vec::new();
    };
    let mut finder = Finder {
        function: None,
        loops: 0,
        bounded: Vec::new(),
        out: Vec::new(),
    };
    finder.visit_file(&file);
    let mut out = finder.out;
    if removal::worth_analysing(source) {
        out.extend(removal::mutants(&file));
    }
    out
}

struct Finder {
    function: Option<(usize, usize)>,
    loops: usize,
    /// Per enclosing loop, innermost last: whether it is bounded ([`bounds::is_bounded`]).
    bounded: Vec<bool>,
    out: Vec<Mutant>,
}

impl Finder {
    fn range(&self, node: &impl Spanned) -> std::ops::Range<usize> {
        let r = node.span().byte_range();
        r.start..r.end
    }
    fn push(&mut self, kind: &'static str, cut: std::ops::Range<usize>, line: usize) {
        if let (Some(function), true) = (self.function, self.loops > 0) {
            self.out.push(Mutant {
                kind,
                rule: "RS001",
                cut,
                replace: "",
                function,
                line,
                bounded: self.bounded.last().copied().unwrap_or(false),
                stream: None,
            });
        }
    }
    fn in_fn(&mut self, span: proc_macro2::Span, f: impl FnOnce(&mut Self)) {
        let saved = (self.function, self.loops);
        self.function = Some((span.start().line, span.end().line));
        self.loops = 0;
        f(self);
        (self.function, self.loops) = saved;
    }
}

impl<'a> Visit<'a> for Finder {
    fn visit_macro(&mut self, mac: &'a syn::Macro) {
        let is_select = mac
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "select" || s.ident == "select_biased");
        if let (true, Some(branches)) = (is_select, select_branches(mac)) {
            for b in branches {
                if !is_stream_read(&b.future) {
                    continue;
                }
                let Expr::Block(body) = &b.body else { continue };
                for stmt in &body.block.stmts {
                    let Stmt::Expr(Expr::Match(m), _) = stmt else {
                        continue;
                    };
                    for arm in m
                        .arms
                        .iter()
                        .filter(|a| is_eof_arm(a) && leaves(|l| l.visit_expr(&a.body)))
                    {
                        let cut = self.range(&arm.body);
                        if let (Some(function), true) = (self.function, self.loops > 0) {
                            self.out.push(Mutant {
                                kind: "select-eof-arm",
                                rule: "RS001,RS006",
                                cut,
                                replace: "{}",
                                function,
                                line: arm.span().start().line,
                                bounded: self.bounded.last().copied().unwrap_or(false),
                                stream: next_receiver(&b.future),
                            });
                        }
                    }
                }
            }
        }
        syn::visit::visit_macro(self, mac);
    }
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        if !is_test_attr(&f.attrs) {
            self.in_fn(f.span(), |s| syn::visit::visit_item_fn(s, f));
        }
    }
    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        if !is_test_attr(&f.attrs) {
            self.in_fn(f.span(), |s| syn::visit::visit_impl_item_fn(s, f));
        }
    }
    fn visit_item_mod(&mut self, m: &'a syn::ItemMod) {
        if !is_cfg_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }
    fn visit_expr_closure(&mut self, c: &'a syn::ExprClosure) {
        let saved = self.loops;
        self.loops = 0;
        syn::visit::visit_expr_closure(self, c);
        self.loops = saved;
    }
    fn visit_expr_async(&mut self, a: &'a syn::ExprAsync) {
        let saved = self.loops;
        self.loops = 0;
        syn::visit::visit_expr_async(self, a);
        self.loops = saved;
    }
    fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
        self.loops += 1;
        self.bounded.push(bounds::is_bounded(&l.body));
        syn::visit::visit_expr_loop(self, l);
        self.bounded.pop();
        self.loops -= 1;
    }
    fn visit_expr_while(&mut self, w: &'a syn::ExprWhile) {
        self.loops += 1;
        self.bounded.push(bounds::is_bounded(&w.body));
        syn::visit::visit_expr_while(self, w);
        self.bounded.pop();
        self.loops -= 1;
    }
    fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
        if is_read(&m.expr) && m.arms.len() > 1 {
            for arm in &m.arms {
                // `Ok(0) | Err(_) => ..`: drop the `Ok(0)` alternative alone (deleting the arm
                // would leave errors unmatched, and the mutant would not compile).
                if let Pat::Or(o) = &arm.pat {
                    let cases: Vec<&Pat> = o.cases.iter().collect();
                    if let Some(i) = cases.iter().position(|p| matches_ok_zero(p)) {
                        if cases.len() > 1 {
                            let cut = if i == 0 {
                                self.range(cases[0]).start..self.range(cases[1]).start
                            } else {
                                self.range(cases[i - 1]).end..self.range(cases[i]).end
                            };
                            self.push("drop-eof-alternative", cut, arm.span().start().line);
                            continue;
                        }
                    }
                }
                if is_zero_read_arm(arm) {
                    let mut cut = self.range(arm);
                    if arm.comma.is_some() && !cut.is_empty() {
                        // The span of an arm ends before its comma on some syn versions.
                        cut.end = self.range(&arm.comma).end.max(cut.end);
                    }
                    self.push("drop-eof-arm", cut, arm.span().start().line);
                }
            }
        }
        syn::visit::visit_expr_match(self, m);
    }
    fn visit_block(&mut self, b: &'a syn::Block) {
        // `let n = read?; .. if n == 0 { break }` in one block.
        let mut counts: Vec<String> = Vec::new();
        for stmt in &b.stmts {
            match stmt {
                Stmt::Local(l) => counts.extend(read_count(l)),
                Stmt::Expr(Expr::If(i), _)
                    if counts.iter().any(|n| is_zero_test(&i.cond, n))
                        && leaves(|l| l.visit_block(&i.then_branch)) =>
                {
                    let cut = self.range(stmt);
                    self.push("drop-eof-test", cut, i.span().start().line);
                }
                _ => {}
            }
        }
        syn::visit::visit_block(self, b);
    }
}

/// The count a `let` binds from a read: `n` in `let n = read?;` or
/// `let n = match read { Ok(n) => n, .. };`.
pub(crate) fn read_count(l: &syn::Local) -> Option<String> {
    let (Pat::Ident(p), Some(init)) = (strip_pat_type(&l.pat), &l.init) else {
        return None;
    };
    let read = match &*init.expr {
        Expr::Match(m) => is_read(&m.expr),
        e => is_read(e),
    };
    read.then(|| p.ident.to_string())
}

/// A `select!` branch's future that reads a stream: a read call (see [`is_read`]), or the
/// next item of a stream of frames or lines (`next()`, `next_line()`, `try_next()`).
/// The name `x` of a `x.next()` future (through `&mut`, `?` and `.await`).
fn next_receiver(e: &Expr) -> Option<String> {
    match e {
        Expr::Try(t) => next_receiver(&t.expr),
        Expr::Await(a) => next_receiver(&a.base),
        Expr::Paren(p) => next_receiver(&p.expr),
        Expr::Reference(r) => next_receiver(&r.expr),
        Expr::MethodCall(m) if m.method == "next" => match &*m.receiver {
            Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
            _ => None,
        },
        _ => None,
    }
}

/// Constructors of streams whose end is not a connection's: sets of futures or tasks (`None`
/// when the set is empty), channels and timers.
const NOT_CONNECTIONS: &[&str] = &[
    "FuturesUnordered::new()",
    "FuturesOrdered::new()",
    "JoinSet::new()",
    "SelectAll::new()",
    "select_all(",
    "interval(",
    "channel(",
];

/// Whether the function text `body` binds `stream` from one of [`NOT_CONNECTIONS`].
fn binds_not_a_connection(body: &str, stream: &str) -> bool {
    body.lines().any(|line| {
        line.contains(&format!("{stream} = ")) && NOT_CONNECTIONS.iter().any(|c| line.contains(c))
    })
}

fn is_stream_read(e: &Expr) -> bool {
    is_read(e)
        || matches!(e, Expr::MethodCall(m) if ["next", "next_line", "try_next"].iter().any(|n| m.method == n))
}

/// A `match` arm for end of stream alone: `None`, `Ok(None)`, or a zero read (see
/// [`is_zero_read_arm`]).
fn is_eof_arm(arm: &syn::Arm) -> bool {
    let is_none = |p: &Pat| matches!(p, Pat::Ident(i) if i.ident == "None");
    is_zero_read_arm(arm)
        || is_none(&arm.pat)
        || matches!(&arm.pat, Pat::TupleStruct(t) if t.path.is_ident("Ok")
            && t.elems.len() == 1 && is_none(&t.elems[0]))
}

/// A read call, through `?`, `.await`, parentheses and `unwrap`-like methods.
pub(crate) fn is_read(e: &Expr) -> bool {
    match e {
        Expr::Try(t) => is_read(&t.expr),
        Expr::Await(a) => is_read(&a.base),
        Expr::Paren(p) => is_read(&p.expr),
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            READS.contains(&name.as_str())
                || (matches!(name.as_str(), "unwrap" | "expect" | "map_err")
                    && is_read(&m.receiver))
        }
        _ => false,
    }
}

/// An arm that takes a zero read: `Ok(0)`, `Ok(0) | Err(_)`, `Ready(Ok(0))`, `Ok(n) if n == 0`.
pub(crate) fn is_zero_read_arm(arm: &syn::Arm) -> bool {
    matches_ok_zero(&arm.pat)
        || match &arm.pat {
            Pat::Guard(g) => match &*g.pat {
                Pat::TupleStruct(t) => match t.elems.first() {
                    Some(Pat::Ident(n)) => is_zero_test(&g.guard, &n.ident.to_string()),
                    _ => false,
                },
                _ => false,
            },
            _ => false,
        }
}

/// `Ok(0)`, `Ready(Ok(0))`, `Ok(0) | ..`.
pub(crate) fn matches_ok_zero(p: &Pat) -> bool {
    match p {
        Pat::Or(o) => o.cases.iter().any(matches_ok_zero),
        Pat::TupleStruct(t) => {
            let last = t.path.segments.last().map(|s| s.ident.to_string());
            match (last.as_deref(), t.elems.first()) {
                (Some("Ok"), Some(Pat::Lit(l))) => {
                    matches!(&l.lit, syn::Lit::Int(i) if i.base10_digits() == "0")
                }
                (Some("Ready"), Some(inner)) => matches_ok_zero(inner),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether the code `walk` visits leaves the loop or the function (`break`, `return`).
fn leaves(walk: impl FnOnce(&mut Leaves)) -> bool {
    let mut l = Leaves(false);
    walk(&mut l);
    l.0
}

struct Leaves(bool);

impl<'a> Visit<'a> for Leaves {
    fn visit_expr_break(&mut self, _: &'a syn::ExprBreak) {
        self.0 = true;
    }
    fn visit_expr_return(&mut self, _: &'a syn::ExprReturn) {
        self.0 = true;
    }
    fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_select_on_a_set_of_tasks_is_not_a_connection() {
        let src = "
async fn retry() {
    let mut futures = FuturesUnordered::new();
    loop {
        futures_util::select! {
            result = futures.next() => {
                match result {
                    Some(r) => return r,
                    None => return Err(()),
                }
            }
            _ = &mut timer => {}
        }
    }
}";
        let mutants = find_mutants(src);
        assert_eq!(mutants.len(), 1);
        let stream = mutants[0].stream.as_deref().expect("the branch's stream");
        assert_eq!(stream, "futures");
        assert!(binds_not_a_connection(src, stream));
        // A connection's frames are one.
        let framed = src.replace("FuturesUnordered::new()", "Framed::new(sock, codec)");
        assert!(!binds_not_a_connection(&framed, stream));
    }

    #[test]
    fn select_eof_arms_that_leave_become_empty() {
        let src = "
async fn serve(mut rx: Stream, mut tick: Interval) {
    loop {
        tokio::select! {
            msg = rx.next() => {
                match msg {
                    Some(m) => handle(m),
                    None => break,
                }
            }
            n = sock.read(&mut buf) => {
                match n {
                    Ok(0) => return,
                    Ok(n) => {}
                    Err(_) => break,
                }
            }
            _ = tick.tick() => {
                match state {
                    None => break,
                    Some(_) => {}
                }
            }
        }
    }
    tokio::select! {
        msg = rx.next() => match msg { None => return, Some(_) => {} },
    }
}";
        let found: Vec<(usize, &str, &str)> = find_mutants(src)
            .into_iter()
            .map(|m| (m.line, m.kind, m.replace))
            .collect();
        // The timer's `None` arm is not end of stream; outside a loop nothing spins.
        assert_eq!(
            found,
            [(8, "select-eof-arm", "{}"), (13, "select-eof-arm", "{}")]
        );
    }
}
