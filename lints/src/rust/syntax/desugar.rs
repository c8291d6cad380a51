//! Old spellings rewritten to the syntax the analysis reads, once per file before any rule
//! runs: `try!(expr)` (Rust 2015, still in old crates) becomes `expr?`, which is what it
//! expands to, so the control flow of its error path is seen like any other `?`.

use syn::visit_mut::{self, VisitMut};
use syn::Expr;

/// Rewrites `try!(e)` into `e?` throughout `file` (a body that does not parse as one
/// expression stays a macro).
pub fn desugar_try_macros(file: &mut syn::File) {
    TryMacros.visit_file_mut(file);
}

struct TryMacros;

impl VisitMut for TryMacros {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if let Expr::Macro(m) = e {
            if m.mac.path.is_ident("try") {
                if let Ok(inner) = m.mac.parse_body::<Expr>() {
                    let question = syn::token::Question {
                        spans: [m.mac.bang_token.span],
                    };
                    *e = Expr::Try(syn::ExprTry {
                        attrs: std::mem::take(&mut m.attrs),
                        expr: Box::new(inner),
                        question_token: question,
                    });
                }
            }
        }
        visit_mut::visit_expr_mut(self, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::visit::Visit;

    /// (`?` operators, `try!` macros) in a file.
    fn count(file: &syn::File) -> (usize, usize) {
        struct Count(usize, usize);
        impl<'ast> Visit<'ast> for Count {
            fn visit_expr_try(&mut self, t: &'ast syn::ExprTry) {
                self.0 += 1;
                syn::visit::visit_expr_try(self, t);
            }
            fn visit_macro(&mut self, m: &'ast syn::Macro) {
                self.1 += usize::from(m.path.is_ident("try"));
            }
        }
        let mut c = Count(0, 0);
        c.visit_file(file);
        (c.0, c.1)
    }

    #[test]
    fn try_macros_become_question_marks() {
        let mut file: syn::File = syn::parse_str(
            "fn f() { let n = try!(s.read(&mut b)); let m = try!(try!(g())); try!(a b c); }",
        )
        .expect("parses");
        assert_eq!(count(&file), (0, 3));
        desugar_try_macros(&mut file);
        // Three `?`, and the body that is no expression stays a macro.
        assert_eq!(count(&file), (3, 1));
    }

    /// A 2015-edition read loop (imap 0.3.3's `readline`): the `try!` is seen as `?`, and the
    /// count's only test is data-only.
    #[test]
    fn a_read_inside_try_is_judged() {
        let src = "use std::io::Read;\nuse std::net::TcpStream;\n\
            fn readline(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {\n\
                let mut line = Vec::new();\n\
                while line.len() < 2 {\n\
                    let b: &mut [u8] = &mut [0];\n\
                    let n = try!(stream.read(b));\n\
                    if n > 0 { line.push(b[0]); }\n\
                }\n\
                Ok(line)\n\
            }\n";
        let found = crate::rust::lint(src, &crate::Settings::default());
        let codes: Vec<&str> = found.iter().map(|d| d.rule.code).collect();
        assert_eq!(codes, ["RS001"], "{src}");
    }
}
