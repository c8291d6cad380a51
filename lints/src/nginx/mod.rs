//! nginx rules: the TIME_WAIT side. Rules receive a loaded configuration (main file and
//! includes) and report where nginx will close connections first.

pub mod model;
pub mod rules;
pub mod time;

use nginx_parser::{ConfigTree, Directive, FileId};

use crate::diagnostic::{Diagnostic, Location};
use crate::settings::Settings;

/// What a rule sees: the configuration and the run's settings.
pub struct Context<'a> {
    pub tree: &'a ConfigTree,
    pub settings: &'a Settings,
}

/// One directive as nginx reads it, with the names of the blocks around it (outermost first) and
/// the file it comes from.
pub struct Visit<'a> {
    pub file: FileId,
    pub directive: &'a Directive,
    pub parents: &'a [&'a str],
}

impl Visit<'_> {
    pub fn location(&self) -> Location {
        Location::new(self.file, self.directive.head_span())
    }

    /// The block directly around the directive (`None` at top level).
    pub fn parent(&self) -> Option<&str> {
        self.parents.last().copied()
    }
}

impl<'a> Context<'a> {
    /// Calls `f` for every directive of the configuration, includes expanded, in source order.
    /// Iterative: nesting is bounded by the parser's limit, not by the call stack.
    pub fn for_each(&self, mut f: impl FnMut(&Visit<'_>)) {
        let tree = self.tree;
        let Some(main) = tree.files.first() else {
            return;
        };
        let mut names: Vec<String> = Vec::new();
        let mut stack = vec![(tree.expand(0, &main.parse.config.directives), 0usize)];
        while let Some((items, index)) = stack.last_mut() {
            let Some(&(file, directive)) = items.get(*index) else {
                stack.pop();
                names.pop();
                continue;
            };
            *index += 1;
            let parents: Vec<&str> = names.iter().map(String::as_str).collect();
            f(&Visit {
                file,
                directive,
                parents: &parents,
            });
            if let Some(block) = &directive.block {
                names.push(directive.name.text().into_owned());
                stack.push((tree.expand(file, &block.directives), 0));
            }
        }
    }
}

/// Runs every nginx rule on a configuration.
pub fn check(tree: &ConfigTree, settings: &Settings) -> Vec<Diagnostic> {
    let ctx = Context { tree, settings };
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
