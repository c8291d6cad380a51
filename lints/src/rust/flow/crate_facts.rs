//! Summaries of the functions a file calls but another file of its crate defines.
//!
//! Rules judge a call through the callee's summary ([`crate::rust::flow::summary`], [`crate::rust::flow::eof`]). A
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

use crate::diagnostic::{FileIndex, Location};
use crate::rust::analysis::FileAnalysis;
use crate::rust::flow::eof::EofSummary;
use crate::rust::flow::summary::{Container, Summary};
use crate::rust::model::sockets::Imports;
use crate::rust::syntax::calls::path_segments;

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
            // `Ok(..)`, `Poll::Ready(..)`, `Message::Text(..)`: constructors, not functions.
            if name.starts_with(|ch: char| ch.is_ascii_uppercase()) {
                return None;
            }
            let resolved = imports.resolve(&segs);
            let rooted = resolved
                .iter()
                .any(|p| p.len() >= 2 && matches!(p[0].as_str(), "crate" | "super" | "self"));
            if let [ty, _] = segs.as_slice() {
                // A type of the crate: `Self`, one the file defines, or one it imports from the
                // crate (not `Vec::new`, `TcpStream::connect`, `Arc::clone`).
                if ty.starts_with(|ch: char| ch.is_ascii_uppercase()) {
                    return (ty == "Self" || imports.defines(ty) || rooted).then(|| {
                        CrateCallee::Associated {
                            ty: ty.clone(),
                            name,
                        }
                    });
                }
            }
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
    /// Private fields holding stored connections that nothing in the file removes from: a
    /// method in a child module's file may (it sees the parent's private fields).
    pub fields: BTreeSet<String>,
}

impl Misses {
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty() && self.reads.is_empty() && self.fields.is_empty()
    }

    /// The function names wanted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.calls.iter().chain(&self.reads).map(CrateCallee::name)
    }
}

/// The functions a crate's misses ask for: each name with the types whose `impl` must hold it
/// (`None`: a free function, in any file), and whether a call's effects are wanted or only
/// its end of stream.
#[derive(Debug, Default)]
pub struct Wanted {
    fns: HashMap<String, WantedFn>,
    fields: HashSet<String>,
}

#[derive(Debug)]
struct WantedFn {
    types: Option<HashSet<String>>,
    for_effects: bool,
}

impl Wanted {
    pub fn add(&mut self, misses: &Misses) {
        let all = misses.calls.iter().map(|c| (c, true));
        for (c, for_effects) in all.chain(misses.reads.iter().map(|c| (c, false))) {
            let types = match c {
                CrateCallee::Free(_) => None,
                CrateCallee::Associated { ty, .. } if ty != "Self" => Some([ty.clone()].into()),
                CrateCallee::Method(_) | CrateCallee::Associated { .. } => {
                    Some(misses.self_types.clone())
                }
            };
            let entry = self
                .fns
                .entry(c.name().to_string())
                .or_insert_with(|| WantedFn {
                    types: Some(HashSet::new()),
                    for_effects: false,
                });
            entry.for_effects |= for_effects;
            match (entry.types.as_mut(), types) {
                (Some(all), Some(types)) => all.extend(types),
                (_, None) => entry.types = None,
                (None, Some(_)) => {}
            }
        }
        self.fields.extend(misses.fields.iter().cloned());
    }

    pub fn is_empty(&self) -> bool {
        self.fns.is_empty() && self.fields.is_empty()
    }

    /// The function names wanted.
    pub fn names(&self) -> HashSet<String> {
        self.fns.keys().cloned().collect()
    }

    /// The fields whose removals are wanted.
    pub fn fields(&self) -> &HashSet<String> {
        &self.fields
    }

    /// Whether the source mentions a wanted field (`.conns`): it may remove from it.
    pub fn may_remove_field_in(&self, source: &[u8]) -> bool {
        self.fields.iter().any(|f| {
            let needle = format!(".{f}");
            memchr::memmem::find_iter(source, needle.as_bytes())
                .any(|at| source.get(at + needle.len()).is_none_or(|b| !is_ident(*b)))
        })
    }

    /// Whether only the end of stream of this function is wanted: then a name the crate
    /// defines twice tells nothing (see [`CrateFacts::eof`]), and its files need no parse.
    pub fn only_end_of_stream(&self, name: &str) -> bool {
        self.fns.get(name).is_some_and(|w| !w.for_effects)
    }

    /// The wanted functions the source may define: a byte scan for `fn name`, and for a
    /// method, for an `impl` of one of its types (a comment or string may match too;
    /// [`facts_of`] then finds nothing). Only the files of a crate that can answer are parsed:
    /// every file defines some `fn new`, few an `impl Server`.
    pub fn defined_in<'w>(&'w self, source: &[u8]) -> BTreeSet<&'w str> {
        let mut out = BTreeSet::new();
        let mut checked: HashSet<&str> = HashSet::new();
        for at in memchr::memmem::find_iter(source, b"fn ") {
            if at > 0 && is_ident(source[at - 1]) {
                continue;
            }
            let rest = &source[at + 3..];
            let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
            let len = rest[start..].iter().take_while(|b| is_ident(**b)).count();
            let Ok(name) = std::str::from_utf8(&rest[start..start + len]) else {
                continue;
            };
            let Some((name, wanted)) = self.fns.get_key_value(name) else {
                continue;
            };
            if !checked.insert(name.as_str()) {
                continue;
            }
            let fits = wanted
                .types
                .as_ref()
                .is_none_or(|types| types.iter().any(|t| implements(source, t.as_bytes())));
            if fits {
                out.insert(name.as_str());
            }
        }
        out
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `ty` appears where an `impl` names its type: after `impl`, `for`, or the `>` of
/// `impl<T>`.
fn implements(source: &[u8], ty: &[u8]) -> bool {
    memchr::memmem::find_iter(source, ty).any(|at| {
        let end = at + ty.len();
        if end < source.len() && is_ident(source[end]) {
            return false;
        }
        let before = source[..at].trim_ascii_end();
        before.ends_with(b">")
            || [&b"impl"[..], b"for"].iter().any(|kw| {
                before.ends_with(kw)
                    && (before.len() == kw.len() || !is_ident(before[before.len() - kw.len() - 1]))
            })
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
    /// The wanted fields that a function of the file removes from.
    pub removed_fields: HashSet<String>,
}

impl FileFacts {
    pub fn is_empty(&self) -> bool {
        self.defines.is_empty() && self.removed_fields.is_empty()
    }
}

/// Summarises the functions of `source` named in `wanted`, and says which of `fields` its
/// functions remove from. A file that does not parse tells nothing (its own lint reports the
/// parse error).
pub fn facts_of(source: &str, wanted: &HashSet<String>, fields: &HashSet<String>) -> FileFacts {
    let mut out = FileFacts::default();
    let shallow = crate::rust::syntax::nesting::check(source.as_bytes()).is_ok();
    if let (true, Ok(file)) = (shallow, syn::parse_file(source)) {
        let none = CrateFacts::default();
        let analysis = FileAnalysis::new(&file, &none);
        for f in analysis.non_test_functions() {
            if wanted.contains(&f.name) {
                *out.defines.entry(f.name.clone()).or_default() += 1;
            }
        }
        if !fields.is_empty() {
            out.removed_fields = analysis
                .summaries()
                .all()
                .flat_map(|s| &s.removes)
                .filter_map(|c| match c {
                    Container::Field(n) if fields.contains(n) => Some(n.clone()),
                    _ => None,
                })
                .collect();
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
    removed_fields: HashSet<String>,
}

impl CrateFacts {
    /// Adds one file's facts; locations in it become file index `file` (the caller's index of
    /// that file in the diagnostics of the file linted with these facts).
    pub fn add(&mut self, file: FileIndex, facts: FileFacts) {
        self.removed_fields.extend(facts.removed_fields);
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
            || misses.fields.iter().any(|f| self.removes_field(f))
    }

    /// Whether a function of the crate removes from a field of this name (`self.conns.remove(..)`
    /// in a method of a child module's file).
    pub fn removes_field(&self, name: &str) -> bool {
        self.removed_fields.contains(name)
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
        let src = "use crate::conn::close; use super::codec; use crate::net::Conn; \
                   use std::mem::forget; use tokio::spawn; use std::net::TcpStream; struct Server;";
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
            callee(src, "Conn::new(s)"),
            Some(CrateCallee::Associated {
                ty: "Conn".into(),
                name: "new".into()
            })
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
            "TcpStream::connect(a)",
            "Vec::new()",
        ] {
            assert_eq!(callee(src, call), None, "{call}");
        }
    }

    #[test]
    fn definitions_are_found_by_their_fn_keyword_and_impl() {
        let mut wanted = Wanted::default();
        wanted.add(&Misses {
            calls: [
                CrateCallee::Free("read_frame".into()),
                CrateCallee::Method("close".into()),
            ]
            .into(),
            reads: BTreeSet::new(),
            self_types: ["Server".to_string()].into(),
            fields: ["conns".to_string()].into(),
        });
        assert!(wanted.may_remove_field_in(b"self.conns.remove(&t);"));
        assert!(!wanted.may_remove_field_in(b"self.conns_count += 1;"));
        let yes: [&[u8]; 4] = [
            b"impl Server { pub fn close(&mut self) {} }",
            b"impl<T> Drop for Server { fn close(&mut self) {} }",
            b"impl<T: Read> Server<T> { fn close(&mut self) {} }",
            b"fn  read_frame<R>(r: R) {}",
        ];
        for src in yes {
            assert!(
                !wanted.defined_in(src).is_empty(),
                "{}",
                String::from_utf8_lossy(src)
            );
        }
        let no: [&[u8]; 5] = [
            b"impl Client { fn close(&mut self) {} }",
            b"impl ServerConfig { fn close(&mut self) {} } // Server",
            b"fn closed() {} fn reclose() {}",
            b"self.close(); let f = read_frame;",
            b"defn read_frame",
        ];
        for src in no {
            assert!(
                wanted.defined_in(src).is_empty(),
                "{}",
                String::from_utf8_lossy(src)
            );
        }
        assert!(!wanted.only_end_of_stream("close"));
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
        let facts = facts_of(src, &wanted, &HashSet::new());
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
        let fields: HashSet<String> = ["conns", "peers"].map(String::from).into();
        assert_eq!(
            facts_of(src, &HashSet::new(), &fields).removed_fields,
            ["conns".to_string()].into(),
            "`close_connection` removes from `self.conns`"
        );
        // A second definition of the name elsewhere in the crate makes it ambiguous.
        crate_facts.add(4, facts_of(src, &wanted, &HashSet::new()));
        assert!(crate_facts.eof("read_frame").is_none());
    }
}
