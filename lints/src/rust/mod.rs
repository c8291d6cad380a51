//! Rust rules: the CLOSE_WAIT side (sockets that some path never drops) and Rust code that makes
//! a server or client close first (zero linger, keep-alive switched off, client pools off).
//!
//! Files are parsed with `syn` (no compiling, no type checking). A byte-level prefilter skips
//! files that mention none of the APIs the rules look for, so most of a large tree is never
//! parsed. Positions come from proc-macro2's `span-locations` as byte ranges.

pub mod analysis;
pub mod flow;
pub mod model;
pub mod prefilter;
pub mod rules;
pub mod syntax;

use nginx_parser::Span;

use crate::diagnostic::{Diagnostic, Location, Severity};
use crate::settings::Settings;
use crate::suppress::RustItems;

/// What a rule sees.
pub struct Context<'a> {
    pub file: &'a syn::File,
    pub source: &'a str,
    pub settings: &'a Settings,
    /// What several rules compute from the file, built once on first use.
    pub analysis: &'a analysis::FileAnalysis<'a>,
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

/// Lints one Rust source file alone (file index 0 in the returned diagnostics); the CLI uses
/// [`lint_in_crate`], which also gives the suppression extents and the crate-wide questions.
pub fn lint(source: &str, settings: &Settings) -> Vec<Diagnostic> {
    lint_in_crate(source, settings, &flow::crate_facts::CrateFacts::default()).diagnostics
}

/// What linting one file within its crate gives.
#[derive(Default)]
pub struct FileLint {
    pub diagnostics: Vec<Diagnostic>,
    /// The extents of the file's items and statements for its suppression comments
    /// (`suppress::rust`), from the same parse; empty when the file has no `waitlint:` comment
    /// or does not parse.
    pub items: RustItems,
    /// Calls the rules could not judge that a function of another file of the crate may
    /// answer: linting again with [`flow::crate_facts::CrateFacts`] for them may find more.
    pub misses: flow::crate_facts::Misses,
    /// Set when the file nests deeper than the analysis reads: it was not analysed.
    pub too_deep: Option<syntax::nesting::TooDeep>,
}

/// Lints one Rust source file, with what `crate_facts` says about the functions other files of
/// its crate define (see [`crate_facts`]).
pub fn lint_in_crate(
    source: &str,
    settings: &Settings,
    crate_facts: &flow::crate_facts::CrateFacts,
) -> FileLint {
    let wants_items = crate::suppress::may_have_suppressions(source.as_bytes());
    let wants_rules = prefilter::may_match(source.as_bytes());
    if !wants_rules && !wants_items {
        return FileLint::default();
    }
    // Nested past what the analysis can recurse through: not analysed (the CLI reports it as
    // a file it could not check). Scanned only here, for the files the prefilter lets through.
    if let Err(too_deep) = syntax::nesting::check(source.as_bytes()) {
        return FileLint {
            too_deep: Some(too_deep),
            ..FileLint::default()
        };
    }
    let parsed = syn::parse_file(source);
    let mut out = FileLint::default();
    match parsed {
        Ok(mut file) => {
            if memchr::memmem::find(source.as_bytes(), b"try!").is_some() {
                syntax::desugar::desugar_try_macros(&mut file);
            }
            if wants_items {
                out.items = RustItems::of(&file);
            }
            let analysis = analysis::FileAnalysis::new(&file, crate_facts);
            let ctx = Context {
                file: &file,
                source,
                settings,
                analysis: &analysis,
            };
            if wants_rules {
                for (_, check) in rules::ALL {
                    check(&ctx, &mut out.diagnostics);
                }
            }
            out.misses = analysis.misses();
        }
        Err(_) if !wants_rules => {}
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
            out.diagnostics.push(d);
        }
    }
    // proc-macro2 keeps every parsed file's text in a thread-local map for span lookups; drop it
    // so memory does not grow with the number of files a worker thread has parsed.
    proc_macro2::extra::invalidate_current_thread_spans();
    out
}

/// Drops a `blocked-while-owning` finding on the same `select!` read as an `eof-ignored`
/// finding (its primary label overlaps one of the `eof-ignored` finding's labels): both describe one bug (the read branch ignores end of stream), and `eof-ignored`
/// names it more precisely. Run after suppressions and rule selection, so that when only one of
/// the two is enabled its finding stays.
pub fn drop_subsumed(diagnostics: &mut Vec<Diagnostic>) {
    let eof: Vec<Location> = diagnostics
        .iter()
        .filter(|d| std::ptr::eq(d.rule, &rules::eof_ignored::EOF_IGNORED))
        .flat_map(|d| std::iter::once(&d.primary).chain(&d.secondary))
        .map(|label| label.location)
        .collect();
    if eof.is_empty() {
        return;
    }
    let overlaps = |a: &Location, b: &Location| {
        a.file == b.file && a.span.start < b.span.end && b.span.start < a.span.end
    };
    diagnostics.retain(|d| {
        !std::ptr::eq(d.rule, &rules::blocked_while_owning::BLOCKED_WHILE_OWNING)
            || !eof.iter().any(|e| overlaps(e, &d.primary.location))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_select_read_that_ignores_eof_is_reported_once_as_eof_ignored() {
        let source = r#"
use tokio::io::{AsyncReadExt, AsyncWriteExt};
pub async fn serve(listener: tokio::net::TcpListener, feed: tokio::sync::broadcast::Sender<Vec<u8>>) {
    loop {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut rx = feed.subscribe();
        tokio::spawn(async move {
            let (mut rd, mut wr) = socket.split();
            let mut buf = [0u8; 1024];
            loop {
                tokio::select! {
                    Ok(n) = rd.read(&mut buf) => { let _ = wr.write_all(&buf[..n]).await; }
                    Ok(msg) = rx.recv() => { let _ = wr.write_all(&msg).await; }
                }
            }
        });
    }
}
"#;
        let mut found = lint(source, &Settings::default());
        let codes = |d: &[Diagnostic]| d.iter().map(|d| d.rule.code).collect::<Vec<_>>();
        assert_eq!(codes(&found), ["RS001", "RS006"], "both rules see the read");
        let mut only_rs006: Vec<Diagnostic> = found
            .iter()
            .filter(|d| d.rule.code == "RS006")
            .cloned()
            .collect();
        drop_subsumed(&mut found);
        assert_eq!(codes(&found), ["RS001"]);
        drop_subsumed(&mut only_rs006);
        assert_eq!(
            codes(&only_rs006),
            ["RS006"],
            "kept when eof-ignored is not enabled"
        );
    }
}
