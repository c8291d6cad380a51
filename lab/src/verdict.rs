//! The linter's verdict on the fixture a lab server runs: which lines of one function a rule
//! flags, with the same library call the CLI makes for a Rust file (`lints::rust::lint`).

use std::ops::RangeInclusive;
use std::path::Path;

use syn::visit::Visit;

/// The lines (1-based) of `function` in `source` (a free function, or a method of an `impl`
/// block) and of every function of the file it reaches by name, directly or through others: the
/// code a server entry point runs for its connections (`thread::spawn(move || handle(s))`). A
/// type's name (`Forward { io, tx }.await`) reaches every method of its `impl` blocks.
pub fn reachable_lines(source: &str, function: &str) -> Option<Vec<RangeInclusive<usize>>> {
    let file = syn::parse_file(source).ok()?;
    let mut collector = Functions::default();
    collector.visit_file(&file);
    let functions = collector.found;
    let mut todo = vec![function.to_string()];
    let mut seen: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        for f in functions.iter().filter(|f| f.name == name) {
            lines.push(f.lines.clone());
            todo.extend(f.mentions.iter().cloned());
        }
        seen.push(name);
    }
    // A method is reached by its name and by its type's.
    lines.sort_by_key(|l| (*l.start(), *l.end()));
    lines.dedup();
    (!lines.is_empty()).then_some(lines)
}

/// A function of the file: its name, lines, and the names it mentions (calls, methods, paths).
struct Function {
    name: String,
    lines: RangeInclusive<usize>,
    mentions: Vec<String>,
}

#[derive(Default)]
struct Functions {
    found: Vec<Function>,
    /// The type of the `impl` block being visited.
    self_ty: Option<String>,
}

impl Functions {
    fn add(&mut self, ident: &syn::Ident, node: &dyn syn::spanned::Spanned, block: &syn::Block) {
        let span = node.span();
        let mut names = Names::default();
        names.visit_block(block);
        let function = Function {
            name: ident.to_string(),
            lines: span.start().line..=span.end().line,
            mentions: names.0,
        };
        if let Some(ty) = &self.self_ty {
            self.found.push(Function {
                name: ty.clone(),
                lines: function.lines.clone(),
                mentions: function.mentions.clone(),
            });
        }
        self.found.push(function);
    }
}

impl<'ast> Visit<'ast> for Functions {
    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let outer = self.self_ty.take();
        if let syn::Type::Path(p) = &*item.self_ty {
            self.self_ty = p.path.segments.last().map(|s| s.ident.to_string());
        }
        syn::visit::visit_item_impl(self, item);
        self.self_ty = outer;
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.add(&item.sig.ident, item, &item.block);
        syn::visit::visit_item_fn(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.add(&item.sig.ident, item, &item.block);
        syn::visit::visit_impl_item_fn(self, item);
    }
}

/// Every name a body mentions as a path's last segment or a method.
#[derive(Default)]
struct Names(Vec<String>);

impl<'ast> Visit<'ast> for Names {
    fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
        if let Some(last) = path.path.segments.last() {
            self.0.push(last.ident.to_string());
        }
        syn::visit::visit_expr_path(self, path);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.0.push(call.method.to_string());
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_struct(&mut self, e: &'ast syn::ExprStruct) {
        if let Some(last) = e.path.segments.last() {
            self.0.push(last.ident.to_string());
        }
        syn::visit::visit_expr_struct(self, e);
    }
}

/// The lines of the code `function` runs (see [`reachable_lines`]) in the file at `path` where
/// `rule` (its kebab-case name) reports a finding, with default settings.
pub fn flagged_lines(path: &Path, function: &str, rule: &str) -> Result<Vec<usize>, String> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let lines = reachable_lines(&source, function)
        .ok_or_else(|| format!("no function `{function}` in {}", path.display()))?;
    let settings = lints::settings::Settings::default();
    let mut flagged: Vec<usize> = lints::rust::lint(&source, &settings)
        .iter()
        .filter(|d| d.rule.name == rule)
        .map(|d| line_of(&source, d.primary.location.span.start as usize))
        .filter(|line| lines.iter().any(|l| l.contains(line)))
        .collect();
    flagged.sort_unstable();
    flagged.dedup();
    Ok(flagged)
}

fn line_of(source: &str, offset: usize) -> usize {
    1 + source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_calls_to_functions_and_methods_of_the_file() {
        let source = "fn entry() {\n    spawn(move || handle());\n}\n\nfn handle() {\n    S.step();\n}\n\nfn unused() {}\n\nstruct S;\nimpl S {\n    fn step(&self) {\n        entry();\n    }\n}\n";
        assert_eq!(
            reachable_lines(source, "entry"),
            Some(vec![1..=3, 5..=7, 13..=15])
        );
        assert_eq!(reachable_lines(source, "unused"), Some(vec![9..=9]));
        assert_eq!(reachable_lines(source, "missing"), None);
        let future = "fn serve() {\n    spawn(Forward { io }.await);\n}\n\nimpl Future for Forward {\n    fn poll(&mut self) {}\n}\n\nimpl Other {\n    fn poll(&mut self) {}\n}\n";
        assert_eq!(
            reachable_lines(future, "serve"),
            Some(vec![1..=3, 6..=6]),
            "a struct literal reaches its type's methods, not another type's"
        );
    }

    #[test]
    fn offsets_map_to_one_based_lines() {
        assert_eq!(line_of("ab\ncd\n", 0), 1);
        assert_eq!(line_of("ab\ncd\n", 3), 2);
        assert_eq!(line_of("ab\ncd\n", 99), 3);
    }
}
