//! How deeply a Rust source nests, measured on its bytes before it is parsed. syn, and every
//! visitor after it, recurses once per level of nesting (brackets, generic arguments, method
//! calls chained on one another), so a file nested deep enough overflows any thread's stack
//! and aborts the whole run; a long chain also costs time that grows with its square. rustc
//! accepts such files, and a hostile repository can commit one. A file past [`MAX_DEPTH`] or
//! [`MAX_CHAIN`] is not analysed: it is reported as a file that could not be checked.
//!
//! The scan skips comments, strings, byte strings, raw strings and character literals, so
//! brackets inside them do not count. `<` counts as an opening only right after a name or `::`
//! (`Vec<`, `::<`), and the angle depth starts again at every `;`, `{` and `}`: a comparison
//! (`a < b`) may add a level until then, which only makes the measure larger.

/// Nesting levels (brackets and generic arguments together) past which a file is not analysed.
/// Real code stays under 60; with the CLI's analysis stack, files more than ten times deeper
/// than this were analysed without trouble.
pub const MAX_DEPTH: usize = 1000;

/// Method calls chained on the result of a call (`x.a().b().c()`) in one statement, past which
/// a file is not analysed. Builders in real code chain a few dozen.
pub const MAX_CHAIN: usize = 1000;

/// What makes a file too deep to analyse.
#[derive(Debug, PartialEq, Eq)]
pub enum TooDeep {
    /// Brackets and generic arguments nested this deep, at this byte offset.
    Nesting { depth: usize, at: usize },
    /// This many method calls chained in one statement, the last at this byte offset.
    Chain { calls: usize, at: usize },
}

impl std::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TooDeep::Nesting { depth, .. } => write!(
                f,
                "nested {depth} levels deep (brackets and generic arguments), past the {MAX_DEPTH} levels the analysis reads, so not checked"
            ),
            TooDeep::Chain { calls, .. } => write!(
                f,
                "{calls} method calls chained in one statement, past the {MAX_CHAIN} the analysis reads, so not checked"
            ),
        }
    }
}

impl TooDeep {
    /// The byte offset where the limit was passed.
    pub fn offset(&self) -> usize {
        match self {
            TooDeep::Nesting { at, .. } | TooDeep::Chain { at, .. } => *at,
        }
    }
}

/// `Err` when `source` nests deeper than the analysis reads (see the module comment).
pub fn check(source: &[u8]) -> Result<(), TooDeep> {
    let mut brackets = 0usize;
    let mut angles = 0usize;
    let mut chain = 0usize;
    // The last byte that was not whitespace, outside comments and literals.
    let mut last = b' ';
    let mut i = 0;
    while i < source.len() {
        let b = source[i];
        let next = source.get(i + 1).copied();
        match b {
            b'/' if next == Some(b'/') => {
                i = memchr::memchr(b'\n', &source[i..]).map_or(source.len(), |n| i + n);
                continue;
            }
            b'/' if next == Some(b'*') => {
                i = skip_block_comment(source, i);
                continue;
            }
            b'"' => {
                i = skip_string(source, i + 1);
                last = b'"';
                continue;
            }
            b'r' if starts_a_literal(source, i) && is_raw_string(source, i) => {
                i = skip_raw_string(source, i + 1);
                last = b'"';
                continue;
            }
            b'\'' => {
                i = skip_char(source, i);
                last = b'\'';
                continue;
            }
            b'(' | b'[' | b'{' => {
                brackets += 1;
                if b == b'{' {
                    angles = 0;
                    chain = 0;
                }
            }
            b')' | b']' | b'}' => {
                brackets = brackets.saturating_sub(1);
                if b == b'}' {
                    angles = 0;
                    chain = 0;
                }
            }
            b'<' if is_ident(last) || last == b':' => angles += 1,
            b'>' if angles > 0 && !matches!(last, b'-' | b'=') => angles -= 1,
            b';' | b',' => {
                chain = 0;
                if b == b';' {
                    angles = 0;
                }
            }
            b'.' if matches!(last, b')' | b'?' | b']') && next != Some(b'.') => {
                chain += 1;
                if chain > MAX_CHAIN {
                    return Err(TooDeep::Chain {
                        calls: chain,
                        at: i,
                    });
                }
            }
            _ => {}
        }
        if brackets + angles > MAX_DEPTH {
            return Err(TooDeep::Nesting {
                depth: brackets + angles,
                at: i,
            });
        }
        if !b.is_ascii_whitespace() {
            last = b;
        }
        i += 1;
    }
    Ok(())
}

/// Whether the `r` at `i` is not inside a name: nothing before it, or only a `b` (`br"..."`).
fn starts_a_literal(source: &[u8], i: usize) -> bool {
    let before = |k: usize| i.checked_sub(k).map(|j| source[j]);
    match before(1) {
        Some(b'b') => !before(2).is_some_and(is_ident),
        Some(b) => !is_ident(b),
        None => true,
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The offset after a block comment starting at `i` (`/*`), nested ones included.
fn skip_block_comment(source: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < source.len() {
        match (source[i], source.get(i + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                i += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// The offset after a string whose contents start at `i`.
fn skip_string(source: &[u8], mut i: usize) -> usize {
    while i < source.len() {
        match source[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Whether a raw string (`r"`, `r#"`, `br#"`) starts at the `r` at `i`.
fn is_raw_string(source: &[u8], i: usize) -> bool {
    let hashes = source[i + 1..].iter().take_while(|b| **b == b'#').count();
    source.get(i + 1 + hashes) == Some(&b'"')
}

/// The offset after a raw string whose `#`s start at `i`.
fn skip_raw_string(source: &[u8], i: usize) -> usize {
    let hashes = source[i..].iter().take_while(|b| **b == b'#').count();
    let mut j = i + hashes + 1;
    while j < source.len() {
        if source[j] == b'"'
            && source[j + 1..].len() >= hashes
            && source[j + 1..j + 1 + hashes].iter().all(|b| *b == b'#')
        {
            return j + 1 + hashes;
        }
        j += 1;
    }
    j
}

/// The offset after a character literal at `i` (`'x'`, `'\n'`, `'\u{1F600}'`), or just after
/// the quote of a lifetime (`'a`).
fn skip_char(source: &[u8], i: usize) -> usize {
    let rest = &source[i + 1..];
    if rest.first() == Some(&b'\\') {
        // An escape: up to the closing quote, at most a `\u{..}` away.
        return rest
            .iter()
            .take(12)
            .skip(2)
            .position(|b| *b == b'\'')
            .map_or(i + 1, |n| i + 1 + 2 + n + 1);
    }
    // One character (up to 4 bytes of UTF-8) and a closing quote; otherwise a lifetime.
    let width = match rest.first() {
        Some(b) if *b >= 0xF0 => 4,
        Some(b) if *b >= 0xE0 => 3,
        Some(b) if *b >= 0xC0 => 2,
        Some(_) => 1,
        None => return i + 1,
    };
    if rest.get(width) == Some(&b'\'') {
        i + 1 + width + 1
    } else {
        i + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_code_passes() {
        let src = br##"
            use std::collections::HashMap;
            fn f<'a, T: Into<Vec<u8>>>(x: &'a [u8], m: HashMap<String, Vec<Option<u8>>>) -> Result<(), ()> {
                let c = '{'; let s = "((( [[[ {{{"; let r = r#"(((("#;
                // (((((
                /* ((( /* ((( */ */
                if x.len() < 3 && x.len() > 1 { return Ok(()); }
                let v = x.iter().map(|b| b + 1).filter(|b| *b > 2).collect::<Vec<_>>();
                let b = br"\"; let e = '\'';
                Ok(())
            }
        "##;
        assert_eq!(check(src), Ok(()));
    }

    #[test]
    fn deep_brackets_generics_and_chains_are_turned_away() {
        let deep = |open: &str, close: &str, n: usize| {
            format!("fn f() {{ {}1{} }}", open.repeat(n), close.repeat(n))
        };
        assert!(check(deep("(", ")", 900).as_bytes()).is_ok());
        assert!(matches!(
            check(deep("(", ")", 1200).as_bytes()),
            Err(TooDeep::Nesting { .. })
        ));
        assert!(matches!(
            check(deep("{ ", "}", 1200).as_bytes()),
            Err(TooDeep::Nesting { .. })
        ));
        assert!(matches!(
            check(deep("vec![", "]", 1200).as_bytes()),
            Err(TooDeep::Nesting { .. })
        ));
        let generic = format!("type T = {}u8{};", "Vec<".repeat(2000), ">".repeat(2000));
        assert!(matches!(
            check(generic.as_bytes()),
            Err(TooDeep::Nesting { .. })
        ));
        let chain = format!("fn f(x: X) {{ x{}; }}", ".a()".repeat(2000));
        assert!(matches!(
            check(chain.as_bytes()),
            Err(TooDeep::Chain { .. })
        ));
        // Brackets in strings and comments do not count; statements end chains.
        let quoted = format!(
            "fn f() {{ let s = \"{}\"; // {}\n }}",
            "(".repeat(5000),
            "(".repeat(5000)
        );
        assert!(check(quoted.as_bytes()).is_ok());
        let statements = format!("fn f(x: X) {{ {} }}", "x.a().b();".repeat(2000));
        assert!(check(statements.as_bytes()).is_ok());
    }
}
