//! Analyses of one file that several rules need, built once per file on first use and shared
//! through [`Context::analysis`](crate::rust::Context): the resolved `use` items, the function
//! bodies, and the crate-local function summaries of [`crate::rust::flow::summary`]. A file whose rules
//! never ask for one (most files stop at a rule's cheap early check) never pays for it.

use std::cell::OnceCell;
use std::collections::HashMap;

use crate::rust::flow::crate_facts::{CrateFacts, Misses};
use crate::rust::flow::eof::EofHelpers;
use crate::rust::flow::summary::{holders, Held, Summaries};
use crate::rust::model::sockets::{functions, Function, Imports};
use crate::rust::model::types::TypeModel;

pub struct FileAnalysis<'a> {
    file: &'a syn::File,
    crate_facts: &'a CrateFacts,
    imports: OnceCell<Imports>,
    functions: OnceCell<Vec<Function<'a>>>,
    non_test_functions: OnceCell<Vec<Function<'a>>>,
    summaries: OnceCell<Summaries<'a>>,
    types: OnceCell<TypeModel<'a>>,
    holders: OnceCell<Vec<HashMap<String, Held>>>,
    eof_helpers: OnceCell<EofHelpers<'a>>,
    test_bodies: OnceCell<Vec<nginx_parser::Span>>,
    /// Fields asked about with [`FileAnalysis::field_removed_in_crate`] that the crate's
    /// facts did not answer.
    field_misses: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl<'a> FileAnalysis<'a> {
    /// `crate_facts`: what other files of the crate say about functions this one calls
    /// (empty when the file is linted alone).
    pub fn new(file: &'a syn::File, crate_facts: &'a CrateFacts) -> FileAnalysis<'a> {
        FileAnalysis {
            file,
            crate_facts,
            imports: OnceCell::new(),
            functions: OnceCell::new(),
            non_test_functions: OnceCell::new(),
            summaries: OnceCell::new(),
            types: OnceCell::new(),
            holders: OnceCell::new(),
            eof_helpers: OnceCell::new(),
            test_bodies: OnceCell::new(),
            field_misses: Default::default(),
        }
    }

    /// The file's `use` items, to resolve the paths it calls.
    pub fn imports(&'a self) -> &'a Imports {
        self.imports.get_or_init(|| Imports::of(self.file))
    }

    /// Every function of the file with a body (see [`functions`]).
    pub fn functions(&'a self) -> &'a [Function<'a>] {
        self.functions.get_or_init(|| functions(self.file))
    }

    /// The functions that are not tests.
    pub fn non_test_functions(&'a self) -> &'a [Function<'a>] {
        self.non_test_functions.get_or_init(|| {
            self.functions()
                .iter()
                .filter(|f| !f.is_test)
                .cloned()
                .collect()
        })
    }

    /// The summaries of the functions that are not tests.
    pub fn summaries(&'a self) -> &'a Summaries<'a> {
        self.summaries.get_or_init(|| {
            Summaries::of(
                self.file,
                self.imports(),
                self.non_test_functions(),
                self.crate_facts,
            )
        })
    }

    /// What the file's declarations say about types: which hold a connection that can be read.
    pub fn types(&'a self) -> &'a TypeModel<'a> {
        self.types.get_or_init(|| TypeModel::of(self.file))
    }

    /// The names that hold a connection in each function of [`Self::non_test_functions`], in
    /// the same order ([`holders`]).
    pub fn holders(&'a self) -> &'a [HashMap<String, Held>] {
        self.holders.get_or_init(|| {
            self.non_test_functions()
                .iter()
                .map(|f| holders(self.imports(), self.types(), f))
                .collect()
        })
    }

    /// The functions that hand end of stream back to their caller as success, by name
    /// ([`crate::rust::flow::eof::summaries`]).
    pub fn eof_helpers(&'a self) -> &'a EofHelpers<'a> {
        self.eof_helpers.get_or_init(|| {
            let local =
                crate::rust::flow::eof::summaries(self.imports(), self.functions(), self.types());
            EofHelpers::with_crate(local, self.imports(), self.crate_facts)
        })
    }

    /// The calls the rules wanted judged that a function in another file of the crate may
    /// answer, and that `crate_facts` did not: linting the file again with the crate's
    /// summaries of those functions may change its findings.
    pub fn misses(&'a self) -> Misses {
        let mut out = Misses::default();
        if let Some(s) = self.summaries.get() {
            out.calls = s.misses();
        }
        if let Some(h) = self.eof_helpers.get() {
            // End of stream matters where a loop goes round on it: a read elsewhere, however
            // its helper treats end of stream, runs once.
            let misses = h.misses();
            if !misses.is_empty() {
                let loops = loop_bodies(self.file);
                out.reads = misses
                    .into_iter()
                    .filter(|(_, at)| loops.iter().any(|l| l.start <= at.start && at.end <= l.end))
                    .map(|(callee, _)| callee)
                    .collect();
            }
        }
        out.fields = self.field_misses.borrow().clone();
        if !out.is_empty() {
            out.self_types = self
                .functions()
                .iter()
                .filter_map(|f| f.self_ty.clone())
                .collect();
        }
        out
    }

    /// Whether a function in another file of the crate removes from a field of this name (a
    /// method in a child module's file sees the parent's private fields). Unknown until the
    /// crate's facts are in: the question is then recorded for the second pass.
    pub fn field_removed_in_crate(&self, name: &str) -> bool {
        let removed = self.crate_facts.removes_field(name);
        if !removed {
            self.field_misses.borrow_mut().insert(name.to_string());
        }
        removed
    }

    /// Whether `span` lies in test code: the body of a `#[test]` (`#[tokio::test]`...)
    /// function or of a function in a `#[cfg(test)]` module. Tests switch keep-alive, pools and
    /// linger off on purpose, to exercise those paths; they are not what gets deployed.
    pub fn in_test(&'a self, span: nginx_parser::Span) -> bool {
        let bodies = self.test_bodies.get_or_init(|| {
            self.functions()
                .iter()
                .filter(|f| f.is_test)
                .map(|f| crate::rust::node_span(f.block))
                .collect()
        });
        bodies
            .iter()
            .any(|b| b.start <= span.start && span.end <= b.end)
    }
}

/// The spans of the file's loop bodies (`loop`, `while`, `for`).
fn loop_bodies(file: &syn::File) -> Vec<nginx_parser::Span> {
    use syn::visit::Visit;
    #[derive(Default)]
    struct Loops(Vec<nginx_parser::Span>);
    impl<'a> Visit<'a> for Loops {
        fn visit_expr_loop(&mut self, l: &'a syn::ExprLoop) {
            self.0.push(crate::rust::node_span(&l.body));
            syn::visit::visit_expr_loop(self, l);
        }
        fn visit_expr_while(&mut self, w: &'a syn::ExprWhile) {
            self.0.push(crate::rust::node_span(w));
            syn::visit::visit_expr_while(self, w);
        }
        fn visit_expr_for_loop(&mut self, f: &'a syn::ExprForLoop) {
            self.0.push(crate::rust::node_span(&f.body));
            syn::visit::visit_expr_for_loop(self, f);
        }
    }
    let mut loops = Loops::default();
    loops.visit_file(file);
    loops.0
}
