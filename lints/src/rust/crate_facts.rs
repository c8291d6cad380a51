//! Summaries of the functions a file calls but another file of its crate defines.
//!
//! Rules judge a call through the callee's summary ([`super::summary`], [`super::eof`]). A
//! callee the file does not define is unknown, and counts in the code's favour: a connection
//! handed to it may be closed there. Linting a file alone, a helper in another file of the same
//! crate (`self.close_connection(token)` in `conn.rs`, `use crate::codec::read_frame`) is such
//! an unknown callee, and a bug it hides is missed.
//!
//! The CLI therefore lints in two passes (see `docs/rust-analysis.md`, "Crate-wide summaries"):
//!
//! 1. every file on its own; the analysis records the calls it wanted to judge but could not
//!    resolve in the file ([`crate_callee`] decides which calls may be crate-local);
//! 2. for the files with such calls, the other files of the crate (the nearest `Cargo.toml`)
//!    that define one of those names are summarised ([`facts_of`]), merged into [`CrateFacts`],
//!    and the calling file is linted again with them.
//!
//! Only calls that can be crate-local are resolved across files: `self.method(..)` (a method of
//! the same `impl`, possibly in another file), `Self::f`/`Type::f`, and paths that `use` items
//! or the path itself root in the crate (`crate::`, `super::`, `self::`). A method called on any
//! other receiver (`conn.read(..)`) stays file-local: without types, its name alone would match
//! every unrelated method of the crate with that name (`read`, `close`, `send`).

use std::collections::{BTreeSet, HashMap, HashSet};

use syn::Expr;

use super::analysis::FileAnalysis;
use super::calls::path_segments;
use super::eof::EofSummary;
use super::sockets::Imports;
use super::summary::Summary;
use crate::diagnostic::{FileIndex, Location};

/// A call that may run a function of another file of the crate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CrateCallee {
    /// `self.name(..)`: a method.
    Method(String),
    /// `Type::name(..)` / `Self::name(..)` (`Self` when the type is written `Self`).
    Associated { ty: String, name: String },
    /// A free function reached through the crate (`crate::a::name`, an imported `name`).
    Free(String),
}

impl CrateCallee {
    pub fn name(&self) -> &str {
        match self {
            CrateCallee::Method(n) | CrateCallee::Free(n) => n,
            CrateCallee::Associated { name, .. } => name,
        }
    }
}

/// Whether `call` may run a function of another file of the crate, and which.
pub fn crate_callee(imports: &Imports, call: &Expr) -> Option<CrateCallee> {
    match call {
        Expr::MethodCall(m) => {
            let on_self = matches!(&*m.receiver, Expr::Path(p) if p.path.is_ident("self"));
            on_self.then(|| CrateCallee::Method(m.method.to_string()))
        }
        Expr::Call(c) => {
            let segs = path_segments(&c.func).filter(|_| matches!(&*c.func, Expr::Path(_)))?;
            let name = segs.last()?.clone();
            if let [ty, _] = segs.as_slice() {
                let is_type = ty == "Self" || ty.starts_with(|ch: char| ch.is_ascii_uppercase());
                // `Poll::Ready(..)`, `Message::Text(..)`: enum variants, not functions.
                if is_type && name.starts_with(|ch: char| ch.is_ascii_uppercase()) {
                    return None;
                }
                if is_type {
                    return Some(CrateCallee::Associated {
                        ty: ty.clone(),
                        name,
                    });
                }
            }
            let rooted = imports
                .resolve(&segs)
                .iter()
                .any(|p| p.len() >= 2 && matches!(p[0].as_str(), "crate" | "super" | "self"));
            rooted.then_some(CrateCallee::Free(name))
        }
        _ => None,
    }
}

/// What a file's rules asked about calls that another file of its crate may answer.
#[derive(Clone, Debug, Default)]
pub struct Misses {
    /// Calls whose effects (removals, registrations, consumed arguments) a rule wanted.
    pub calls: BTreeSet<CrateCallee>,
    /// Calls on a connection that may return its end of stream as success.
    pub reads: BTreeSet<CrateCallee>,
    /// The types the file's `impl` blocks are for: what `self` may be.
    pub self_types: HashSet<String>,
}

impl Misses {
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty() && self.reads.is_empty()
    }

    /// The function names wanted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.calls.iter().chain(&self.reads).map(CrateCallee::name)
    }
}

/// Whether the source may define a function with one of `wanted` names: a byte scan for `fn
/// name` (a comment or string may match too; [`facts_of`] then finds nothing), so that only
/// the files of a crate that can answer are parsed.
pub fn may_define(source: &[u8], wanted: &HashSet<String>) -> bool {
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    memchr::memmem::find_iter(source, b"fn ").any(|at| {
        if at > 0 && is_ident(source[at - 1]) {
            return false;
        }
        let rest = &source[at + 3..];
        let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
        let len = rest[start..].iter().take_while(|b| is_ident(**b)).count();
        std::str::from_utf8(&rest[start..start + len]).is_ok_and(|name| wanted.contains(name))
    })
}

/// What one file of a crate says about the functions it defines with the wanted names.
#[derive(Debug, Default)]
pub struct FileFacts {
    /// How many functions with each wanted name the file defines (tests not counted).
    pub defines: HashMap<String, usize>,
    pub summaries: Vec<Summary>,
    /// End-of-stream summaries, with locations in this file (file index 0).
    pub eof: HashMap<String, EofSummary>,
}

/// Summarises the functions of `source` named in `wanted`. A file that does not parse tells
/// nothing (its own lint reports the parse error).
pub fn facts_of(source: &str, wanted: &HashSet<String>) -> FileFacts {
    let mut out = FileFacts::default();
    if let Ok(file) = syn::parse_file(source) {
        let none = CrateFacts::default();
        let analysis = FileAnalysis::new(&file, &none);
        for f in analysis.non_test_functions() {
            if wanted.contains(&f.name) {
                *out.defines.entry(f.name.clone()).or_default() += 1;
            }
        }
        if !out.defines.is_empty() {
            out.summaries = analysis
                .summaries()
                .all()
                .filter(|s| wanted.contains(&s.name))
                .cloned()
                .collect();
            out.eof = analysis
                .eof_helpers()
                .local()
                .iter()
                .filter(|(name, _)| wanted.contains(*name))
                .map(|(name, s)| (name.clone(), *s))
                .collect();
        }
    }
    proc_macro2::extra::invalidate_current_thread_spans();
    out
}

/// The summaries of the functions other files of a crate define, by name.
#[derive(Debug, Default)]
pub struct CrateFacts {
    summaries: HashMap<String, Vec<Summary>>,
    eof: HashMap<String, EofSummary>,
    defined: HashMap<String, usize>,
}

impl CrateFacts {
    /// Adds one file's facts; locations in it become file index `file` (the caller's index of
    /// that file in the diagnostics of the file linted with these facts).
    pub fn add(&mut self, file: FileIndex, facts: FileFacts) {
        for (name, n) in facts.defines {
            *self.defined.entry(name).or_default() += n;
        }
        for s in facts.summaries {
            self.summaries.entry(s.name.clone()).or_default().push(s);
        }
        for (name, s) in facts.eof {
            let s = match s {
                EofSummary::Value(at) => EofSummary::Value(Location::new(file, at.span)),
                EofSummary::Count => EofSummary::Count,
            };
            self.eof.insert(name, s);
        }
    }

    /// Whether the crate defines a function with this name.
    pub fn defines(&self, name: &str) -> bool {
        self.defined.contains_key(name)
    }

    /// The summaries a crate-local call may run (see [`crate_callee`]): for `self.f()`,
    /// methods of the types the calling file implements (`self_types`; with `None`, of any
    /// type), methods of that type for `Type::f`, free functions for a rooted path. Empty when
    /// the crate defines no function that fits.
    pub fn callees(
        &self,
        callee: &CrateCallee,
        self_types: Option<&HashSet<String>>,
    ) -> Vec<&Summary> {
        let all = self
            .summaries
            .get(callee.name())
            .map_or(&[][..], Vec::as_slice);
        let of_self_type = |s: &Summary| {
            self_types.is_none_or(|types| s.self_ty.as_ref().is_some_and(|t| types.contains(t)))
        };
        all.iter()
            .filter(|s| match callee {
                CrateCallee::Method(_) => s.has_self && of_self_type(s),
                CrateCallee::Associated { ty, .. } => {
                    ty == "Self" || s.self_ty.as_deref() == Some(ty.as_str())
                }
                CrateCallee::Free(_) => s.self_ty.is_none(),
            })
            .collect()
    }

    /// Whether these facts answer one of a file's misses: linting it again may then change
    /// its findings.
    pub fn answers(&self, misses: &Misses) -> bool {
        misses
            .calls
            .iter()
            .any(|c| !self.callees(c, Some(&misses.self_types)).is_empty())
            || misses.reads.iter().any(|c| self.eof(c.name()).is_some())
    }

    /// The end-of-stream summary of a function the crate defines exactly once (two of one name
    /// cannot be told apart at a call, as within a file).
    pub fn eof(&self, name: &str) -> Option<EofSummary> {
        (self.defined.get(name) == Some(&1))
            .then(|| self.eof.get(name).copied())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callee(src: &str, call: &str) -> Option<CrateCallee> {
        let file = syn::parse_file(src).expect("test source parses");
        let imports = Imports::of(&file);
        let e: Expr = syn::parse_str(call).expect("test call parses");
        crate_callee(&imports, &e)
    }

    #[test]
    fn which_calls_may_be_crate_local() {
        let src =
            "use crate::conn::close; use super::codec; use std::mem::forget; use tokio::spawn;";
        assert_eq!(
            callee(src, "self.close_connection(t)"),
            Some(CrateCallee::Method("close_connection".into()))
        );
        assert_eq!(
            callee(src, "close(c)"),
            Some(CrateCallee::Free("close".into()))
        );
        assert_eq!(
            callee(src, "codec::read_frame(&mut s)"),
            Some(CrateCallee::Free("read_frame".into()))
        );
        assert_eq!(
            callee(src, "crate::util::drain(&mut s)"),
            Some(CrateCallee::Free("drain".into()))
        );
        assert_eq!(
            callee(src, "Server::handle(&mut s)"),
            Some(CrateCallee::Associated {
                ty: "Server".into(),
                name: "handle".into()
            })
        );
        // Other receivers, external paths, unimported names and variants stay file-local.
        for call in [
            "conn.close()",
            "forget(s)",
            "spawn(f)",
            "helper(s)",
            "io::copy(a, b)",
            "Poll::Ready(r)",
        ] {
            assert_eq!(callee(src, call), None, "{call}");
        }
    }

    #[test]
    fn definitions_are_found_by_their_fn_keyword() {
        let wanted: HashSet<String> = ["close", "read_frame"].map(String::from).into();
        assert!(may_define(
            b"impl S { pub fn close(&mut self) {} }",
            &wanted
        ));
        assert!(may_define(b"fn  read_frame<R>(r: R) {}", &wanted));
        assert!(!may_define(b"fn closed() {} fn reclose() {}", &wanted));
        assert!(!may_define(b"self.close(); let f = read_frame;", &wanted));
        assert!(!may_define(b"defn close", &wanted), "part of a longer word");
    }

    #[test]
    fn facts_keep_the_wanted_functions_and_their_end_of_stream() {
        let src = r#"
use std::io::Read;
use std::net::TcpStream;
impl Server {
    fn close_connection(&mut self, token: usize) { self.conns.remove(&token); }
    fn unrelated(&mut self) {}
}
pub fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut b = [0u8; 64];
    match s.read(&mut b) { Ok(0) => Ok(Vec::new()), Ok(n) => Ok(b[..n].to_vec()), Err(e) => Err(e) }
}
"#;
        let wanted: HashSet<String> = ["close_connection", "read_frame", "absent"]
            .map(String::from)
            .into();
        let facts = facts_of(src, &wanted);
        assert_eq!(facts.defines.len(), 2);
        let mut crate_facts = CrateFacts::default();
        crate_facts.add(3, facts);
        let close = CrateCallee::Method("close_connection".into());
        let server: HashSet<String> = ["Server".to_string()].into();
        let client: HashSet<String> = ["Client".to_string()].into();
        let method = crate_facts.callees(&close, Some(&server));
        assert_eq!(method.len(), 1);
        assert!(
            !method[0].removes.is_empty(),
            "the helper's removal is known"
        );
        assert!(
            crate_facts.callees(&close, Some(&client)).is_empty(),
            "`self.close_connection()` in `impl Client` is not `Server`'s"
        );
        assert!(crate_facts
            .callees(&CrateCallee::Free("close_connection".into()), None)
            .is_empty());
        match crate_facts.eof("read_frame") {
            Some(EofSummary::Value(at)) => assert_eq!(at.file, 3),
            other => panic!("read_frame returns end of stream as a value, got {other:?}"),
        }
        assert!(!crate_facts.defines("unrelated"), "not wanted, not kept");
        // A second definition of the name elsewhere in the crate makes it ambiguous.
        crate_facts.add(4, facts_of(src, &wanted));
        assert!(crate_facts.eof("read_frame").is_none());
    }
}
