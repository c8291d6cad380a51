//! The tokens a mio event loop handles (`listener-never-accepted`): what the arms of
//! `match event.token()` name, `Token(n)` values of the file's constants, tokens compared with
//! `==`, and the token a `register` call gives a source.

use std::collections::{HashMap, HashSet};

use nginx_parser::Span;
use syn::visit::Visit;
use syn::{Block, Expr};

use crate::rust::model::sockets::{
    idents_in_expr, idents_in_macro, idents_in_pat, is_print_macro, through_access,
};
use crate::rust::node_span;
use crate::rust::syntax::calls::{file_constants, path_ends_with};

/// The tokens a file's event loop handles: what the arms of its token matches name, and the
/// identifiers it compares with `==`.
pub(crate) struct HandledTokens<'f> {
    consts: HashMap<String, &'f Expr>,
    source: &'f str,
    /// Identifiers, `=<value>` for the values of `Token(<value>)`, [`ANY`].
    handled: HashSet<String>,
}

impl<'f> HandledTokens<'f> {
    /// The tokens handled by `matches` (the file's `match event.token()`s) and the file's
    /// comparisons.
    pub(crate) fn of(
        file: &'f syn::File,
        source: &'f str,
        matches: &[&syn::ExprMatch],
    ) -> HandledTokens<'f> {
        let mut tokens = HandledTokens {
            consts: file_constants(file),
            source,
            handled: HashSet::new(),
        };
        // What every arm of every token match names: identifiers, and values of `Token(n)` constants.
        let mut handled: HashSet<String> = HashSet::new();
        for m in matches {
            for arm in &m.arms {
                for id in idents_in_pat(&arm.pat) {
                    match tokens.consts.get(&id).and_then(|e| tokens.value(e)) {
                        Some(v) => {
                            handled.insert(format!("={v}"));
                        }
                        // A constant of another file (`use crate::tokens::LISTENER`): its value may
                        // be any token's, so every token counts as handled.
                        None if is_const_name(&id) => {
                            handled.insert(ANY.to_string());
                        }
                        None => {}
                    }
                    handled.insert(id);
                }
                let text: String = source
                    .get(node_span(&arm.pat).range())
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                for (i, _) in text.match_indices("Token(") {
                    if let Some(end) = text[i..].find(')') {
                        handled.insert(format!("={}", &text[i + 6..i + end]));
                    }
                }
            }
        }
        handled.extend(compared_idents(file));
        tokens.handled = handled;
        tokens
    }

    /// The value `n` of a token written `Token(n)`, directly or as a constant of the file.
    fn value(&self, e: &Expr) -> Option<String> {
        let e = match e {
            Expr::Path(p) if p.path.segments.len() == 1 => self
                .consts
                .get(&p.path.segments[0].ident.to_string())
                .copied()?,
            e => e,
        };
        match e {
            Expr::Call(c) if c.args.len() == 1 && path_ends_with(&c.func, &["Token"]) => Some(
                self.source
                    .get(node_span(&c.args[0]).range())?
                    .trim()
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// Whether the event loop handles `token` (by name or by value), or may: every token counts
    /// as handled when a match names a constant of another file, and a token that is neither a
    /// name nor a known value cannot be judged.
    pub(crate) fn handles(&self, token: &Expr) -> bool {
        let name = match token {
            Expr::Path(p) if p.path.segments.len() == 1 => {
                Some(p.path.segments[0].ident.to_string())
            }
            _ => None,
        };
        let known = name.as_ref().is_some_and(|n| self.handled.contains(n))
            || self
                .value(token)
                .is_some_and(|v| self.handled.contains(&format!("={v}")));
        known || self.handled.contains(ANY) || (name.is_none() && self.value(token).is_none())
    }
}

/// Stands for every token in the set of handled ones.
const ANY: &str = "=*";

/// A SCREAMING_CASE name: a constant, in a pattern.
fn is_const_name(id: &str) -> bool {
    id.len() > 1
        && id.starts_with(|c: char| c.is_ascii_uppercase())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The token argument of the `register`/`reregister` call at `call`.
pub(crate) fn register_token(block: &Block, call: Span) -> Option<Expr> {
    struct Finder(Span, Option<Expr>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            if node_span(m) == self.0 && m.args.len() >= 2 {
                self.1 = Some(through_access(&m.args[1]).clone());
            }
            syn::visit::visit_expr_method_call(self, m);
        }
    }
    let mut f = Finder(call, None);
    f.visit_block(block);
    f.1
}

/// Identifiers compared with `==`/`!=` anywhere in the file, or named in a `matches!`-like macro:
/// a token tested that way is handled.
fn compared_idents(file: &syn::File) -> Vec<String> {
    struct Finder(Vec<String>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_binary(&mut self, b: &'ast syn::ExprBinary) {
            if matches!(b.op, syn::BinOp::Eq(_) | syn::BinOp::Ne(_)) {
                self.0.extend(idents_in_expr(&b.left));
                self.0.extend(idents_in_expr(&b.right));
            }
            syn::visit::visit_expr_binary(self, b);
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            if !m
                .path
                .segments
                .last()
                .is_some_and(|s| is_print_macro(&s.ident.to_string()))
            {
                self.0.extend(idents_in_macro(m));
            }
        }
    }
    let mut f = Finder(Vec::new());
    f.visit_file(file);
    f.0
}
