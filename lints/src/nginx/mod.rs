//! nginx rules: the TIME_WAIT side. Rules receive a loaded configuration (main file and
//! includes) and report where nginx will close connections first.

pub mod effective;
pub mod model;
pub mod rules;
pub mod time;

use nginx_parser::ConfigTree;

use crate::diagnostic::{Diagnostic, Location};
use crate::settings::Settings;

pub use model::{ContextKind, Entry, Model, NodeId};

/// What a rule sees: the configuration, its effective model and the run's settings.
pub struct Context<'a> {
    pub tree: &'a ConfigTree,
    pub model: Model<'a>,
    pub settings: &'a Settings,
}

/// Runs every nginx rule on a configuration.
pub fn check(tree: &ConfigTree, settings: &Settings) -> Vec<Diagnostic> {
    let ctx = Context {
        tree,
        model: Model::build(tree),
        settings,
    };
    let mut out = Vec::new();
    for (_, check) in rules::ALL {
        check(&ctx, &mut out);
    }
    out
}

/// Everything waitlint reports about a configuration: syntax errors of every file, includes that
/// cannot be followed, and the findings of every nginx rule.
pub fn lint(tree: &ConfigTree, settings: &Settings) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (id, file) in tree.files.iter().enumerate() {
        for e in &file.parse.errors {
            let mut d = Diagnostic::new(&crate::meta::SYNTAX_ERROR, Location::new(id, e.span), e.message.clone())
                .note("nginx would refuse this configuration; the statement is skipped and the rest of the file is still checked");
            if let Some((span, label)) = &e.related {
                d = d.label(Location::new(id, *span), label.clone());
            }
            out.push(d);
        }
    }
    for e in &tree.errors {
        let mut d = Diagnostic::new(
            &crate::meta::INCLUDE_ERROR,
            Location::new(e.file, e.span),
            e.message.clone(),
        );
        let absolute = tree.files[e.file]
            .parse
            .config
            .walk()
            .find(|(_, d)| d.span == e.span)
            .and_then(|(_, d)| d.arg(0))
            .is_some_and(|a| a.value.first() == Some(&b'/'));
        if e.kind == nginx_parser::IncludeErrorKind::Missing && absolute {
            // An absolute path usually names the server's filesystem, not the repository's.
            d.severity = crate::Severity::Info;
            d = d.note("absolute include paths usually exist only on the server; settings in that file are not checked");
        }
        out.push(d);
    }
    out.extend(check(tree, settings));
    out
}
