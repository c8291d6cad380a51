//! Parsing the branches of `tokio::select!` / `futures::select!`. Two readings, for two needs:
//! [`branches`] splits the tokens and parses each part on its own, so one odd branch does not
//! hide the others, and keeps `else` (`blocked-while-owning` asks whether the loop has one);
//! [`select_branches`] parses the whole body or nothing (`eof-ignored` judges a read against
//! all the other branches, so it must see every one of them or stay silent).

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use syn::{Expr, Pat};

/// Whether a macro is a `select!` (tokio's, futures', `select_biased!`).
pub(crate) fn is_select(mac: &syn::Macro) -> bool {
    mac.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "select" || s.ident == "select_biased")
}

/// One branch of a `select!`: `pattern = future [, if cond] => handler`, or `else => handler`.
pub(crate) struct Branch {
    pub(crate) pat: Option<Pat>,
    pub(crate) future: Option<Expr>,
    pub(crate) handler: Option<Expr>,
}

/// The branches of a `select!` (tokio's or futures'), each part parsed when it can be.
pub(crate) fn branches(tokens: TokenStream) -> Vec<Branch> {
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // `biased;`
    if matches!(tts.first(), Some(TokenTree::Ident(b)) if b == "biased") {
        i = 2;
    }
    let is_punct = |tt: &TokenTree, c: char| matches!(tt, TokenTree::Punct(p) if p.as_char() == c);
    while i < tts.len() {
        let start = i;
        while i + 1 < tts.len()
            && !(matches!(&tts[i], TokenTree::Punct(p) if p.as_char() == '=' && p.spacing() == Spacing::Joint)
                && is_punct(&tts[i + 1], '>'))
        {
            i += 1;
        }
        if i + 1 >= tts.len() {
            break;
        }
        let head = &tts[start..i];
        i += 2;
        let handler_start = i;
        if matches!(tts.get(i), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace) {
            i += 1;
        } else {
            while i < tts.len() && !is_punct(&tts[i], ',') {
                i += 1;
            }
        }
        let handler: TokenStream = tts[handler_start..i].iter().cloned().collect();
        if i < tts.len() && is_punct(&tts[i], ',') {
            i += 1;
        }
        let handler = syn::parse2::<Expr>(handler).ok();
        if matches!(head, [TokenTree::Ident(e)] if e == "else") {
            out.push(Branch {
                pat: None,
                future: None,
                handler,
            });
            continue;
        }
        // The `=` between the pattern and the future: alone, not part of `==`/`<=`/`=>`.
        let eq = head.iter().enumerate().position(|(k, tt)| {
            matches!(tt, TokenTree::Punct(p) if p.as_char() == '=' && p.spacing() == Spacing::Alone)
                && !matches!(k.checked_sub(1).map(|j| &head[j]), Some(TokenTree::Punct(q)) if q.spacing() == Spacing::Joint)
        });
        let Some(eq) = eq else { continue };
        let pat: TokenStream = head[..eq].iter().cloned().collect();
        let rest = &head[eq + 1..];
        let cond = (0..rest.len()).find(|&k| {
            is_punct(&rest[k], ',')
                && matches!(rest.get(k + 1), Some(TokenTree::Ident(x)) if x == "if")
        });
        let future: TokenStream = rest[..cond.unwrap_or(rest.len())].iter().cloned().collect();
        out.push(Branch {
            pat: syn::parse::Parser::parse2(Pat::parse_multi, pat).ok(),
            future: syn::parse2::<Expr>(future).ok(),
            handler,
        });
    }
    out
}

/// One branch of `tokio::select!`: `pattern = future (, if condition)? => body`.
pub struct SelectBranch {
    pub pat: Pat,
    pub future: Expr,
    pub body: Expr,
}

/// The branches of a `select!` macro, or `None` when its body does not parse as branches (then
/// the macro is left to the token scan of [`crate::rust::flow::control`]).
pub fn select_branches(mac: &syn::Macro) -> Option<Vec<SelectBranch>> {
    use syn::parse::ParseStream;
    use syn::Token;
    mac.parse_body_with(|input: ParseStream<'_>| {
        let mut out = Vec::new();
        if input.peek(syn::Ident) && input.fork().parse::<syn::Ident>()? == "biased" {
            input.parse::<syn::Ident>()?;
            input.parse::<Token![;]>()?;
        }
        while !input.is_empty() {
            if input.peek(Token![else]) {
                input.parse::<Token![else]>()?;
                input.parse::<Token![=>]>()?;
                input.parse::<Expr>()?;
                input.parse::<Option<Token![,]>>()?;
                continue;
            }
            let pat = Pat::parse_multi(input)?;
            input.parse::<Token![=]>()?;
            let future: Expr = input.parse()?;
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![if]>()?;
                input.parse::<Expr>()?;
            }
            input.parse::<Token![=>]>()?;
            let body: Expr = input.parse()?;
            input.parse::<Option<Token![,]>>()?;
            out.push(SelectBranch { pat, future, body });
        }
        Ok(out)
    })
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rust::node_span;

    /// The branches of a `select!` with `body`, and the macro's source for [`text`].
    fn parse_branches(body: &str) -> (Vec<Branch>, String) {
        let source = format!("tokio::select! {{ {body} }}");
        let mac: syn::Macro = syn::parse_str(&source).unwrap();
        (branches(mac.tokens), source)
    }

    /// The source text of a parsed part, without blanks.
    fn text(source: &str, e: &Option<Expr>) -> String {
        e.as_ref()
            .map(|e| source[node_span(e).range()].replace(' ', ""))
            .unwrap_or_default()
    }

    #[test]
    fn select_branches_are_split_and_parsed() {
        let (b, src) = parse_branches(
            "biased;
             n = rd.read(&mut buf), if open => { wr.write_all(&buf[..n?]).await?; }
             Some(m) = rx.recv() => handle(m),
             _ = tick.tick() => {}
             else => break,",
        );
        assert_eq!(b.len(), 4);
        assert_eq!(text(&src, &b[0].future), "rd.read(&mutbuf)");
        assert!(matches!(b[0].pat, Some(Pat::Ident(_))));
        assert_eq!(text(&src, &b[1].future), "rx.recv()");
        assert_eq!(text(&src, &b[1].handler), "handle(m)");
        assert!(matches!(b[1].pat, Some(Pat::TupleStruct(_))));
        assert!(matches!(b[2].handler, Some(Expr::Block(_))));
        assert!(b[3].pat.is_none() && b[3].future.is_none());
        assert!(matches!(b[3].handler, Some(Expr::Break(_))));
    }

    #[test]
    fn comparisons_in_a_future_are_not_the_pattern_separator() {
        let (b, src) = parse_branches("ok = async { a == b } => {}");
        assert_eq!(b.len(), 1);
        assert_eq!(text(&src, &b[0].future), "async{a==b}");
    }
}
