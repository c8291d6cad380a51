//! Rust rules: the CLOSE_WAIT side (sockets that some path never drops) and Rust code that makes
//! a server or client close first (zero linger, keep-alive switched off, client pools off).
//!
//! Files are parsed with `syn` (no compiling, no type checking). A byte-level prefilter skips
//! files that mention none of the APIs the rules look for, so most of a large tree is never
//! parsed. Positions come from proc-macro2's `span-locations` as byte ranges.

pub mod calls;
pub mod chains;
pub mod per_request;
pub mod prefilter;
pub mod rules;
pub mod sockets;

use nginx_parser::Span;

use crate::diagnostic::{Diagnostic, Location, Severity};
use crate::settings::Settings;

/// What a rule sees.
pub struct Context<'a> {
    pub file: &'a syn::File,
    pub source: &'a str,
    pub settings: &'a Settings,
}

/// The byte span of a syntax node, from proc-macro2's location tracking.
pub fn span_of(span: proc_macro2::Span) -> Span {
    let r = span.byte_range();
    Span::new(r.start, r.end.max(r.start))
}

/// The span of any syntax node.
pub fn node_span<T: syn::spanned::Spanned>(node: &T) -> Span {
    span_of(node.span())
}

/// Lints one Rust source file (file index 0 in the returned diagnostics).
pub fn lint(source: &str, settings: &Settings) -> Vec<Diagnostic> {
    if !prefilter::may_match(source.as_bytes()) {
        return Vec::new();
    }
    let parsed = syn::parse_file(source);
    let out = match parsed {
        Ok(file) => {
            let ctx = Context {
                file: &file,
                source,
                settings,
            };
            let mut out = Vec::new();
            for (_, check) in rules::ALL {
                check(&ctx, &mut out);
            }
            out
        }
        Err(e) => {
            let span = span_of(e.span());
            let mut d = Diagnostic::new(
                &crate::meta::RUST_PARSE_FAILURE,
                Location::new(0, span),
                format!("cannot parse this file as Rust: {e}"),
            )
            .note("the file was not checked; syn parses the 2021 and 2024 editions of stable Rust")
            .help("if the file is valid Rust that syn cannot read yet, exclude it or report it");
            d.severity = Severity::Info;
            vec![d]
        }
    };
    // proc-macro2 keeps every parsed file's text in a thread-local map for span lookups; drop it
    // so memory does not grow with the number of files a worker thread has parsed.
    proc_macro2::extra::invalidate_current_thread_spans();
    out
}
