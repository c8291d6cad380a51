//! Analyses of one file that several rules need, built once per file on first use and shared
//! through [`Context::analysis`](super::Context): the resolved `use` items, the function
//! bodies, and the crate-local function summaries of [`super::summary`]. A file whose rules
//! never ask for one (most files stop at a rule's cheap early check) never pays for it.

use std::cell::OnceCell;

use super::sockets::{functions, Function, Imports};
use super::summary::Summaries;

pub struct FileAnalysis<'a> {
    file: &'a syn::File,
    imports: OnceCell<Imports>,
    functions: OnceCell<Vec<Function<'a>>>,
    non_test_functions: OnceCell<Vec<Function<'a>>>,
    summaries: OnceCell<Summaries<'a>>,
    test_bodies: OnceCell<Vec<nginx_parser::Span>>,
}

impl<'a> FileAnalysis<'a> {
    pub fn new(file: &'a syn::File) -> FileAnalysis<'a> {
        FileAnalysis {
            file,
            imports: OnceCell::new(),
            functions: OnceCell::new(),
            non_test_functions: OnceCell::new(),
            summaries: OnceCell::new(),
            test_bodies: OnceCell::new(),
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
        self.summaries
            .get_or_init(|| Summaries::of(self.file, self.imports(), self.non_test_functions()))
    }

    /// Whether `span` lies in test code: the body of a `#[test]` (`#[tokio::test]`...)
    /// function or of a function in a `#[cfg(test)]` module. Tests switch keep-alive, pools and
    /// linger off on purpose, to exercise those paths; they are not what gets deployed.
    pub fn in_test(&'a self, span: nginx_parser::Span) -> bool {
        let bodies = self.test_bodies.get_or_init(|| {
            self.functions()
                .iter()
                .filter(|f| f.is_test)
                .map(|f| super::node_span(f.block))
                .collect()
        });
        bodies
            .iter()
            .any(|b| b.start <= span.start && span.end <= b.end)
    }
}
