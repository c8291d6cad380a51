//! The tokenizer, a transcription of nginx's `ngx_conf_read_token` (src/core/ngx_conf_file.c)
//! into `nom` scanners. docs/nginx-grammar.md cites the source line behind each decision.

use nom::bytes::complete::{take_till, take_while};
use nom::IResult;
use nom::Parser;

use crate::ast::{Comment, Quote, Word};
use crate::error::{ParseError, ParseErrorKind};
use crate::parser::Reading;
use crate::span::Span;

#[derive(Debug)]
pub(crate) enum Token {
    Word(Word),
    Semicolon(Span),
    Open(Span),
    Close(Span),
    Comment(Comment),
    /// A lexical error; the lexer has already moved past it.
    Error(ParseError),
    Eof,
}

pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    /// An error detected while reading the previous token, reported after it.
    pending: Option<ParseError>,
    reading: Reading,
}

const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Bytes at which the fast scan of a bare word stops: its terminators and the two bytes that
/// change how the next byte is read (`\` escapes it, `$` lets a `{` continue the word).
const WORD_STOP: [bool; 256] = stops(b" \t\r\n;{\\$");

/// The same in crossplane's reading, where `}` also ends a word.
const CROSSPLANE_WORD_STOP: [bool; 256] = stops(b" \t\r\n;{}\\$");

const fn stops(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

fn spaces(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(is_space).parse(i)
}

fn until_line_end(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_till(|b| b == b'\n').parse(i)
}

fn plain_word_bytes(stop: &'static [bool; 256]) -> impl Fn(&[u8]) -> IResult<&[u8], &[u8]> {
    move |i| take_till(|b| stop[b as usize]).parse(i)
}

fn quoted_run(quote: u8) -> impl Fn(&[u8]) -> IResult<&[u8], &[u8]> {
    move |i| take_till(|b| b == quote || b == b'\\').parse(i)
}

/// The value nginx copies out of a token: `\"`, `\'`, `\\` lose their backslash, `\t`, `\r`,
/// `\n` become control characters, any other escape is kept as written.
pub(crate) fn unescape(raw: &[u8]) -> Box<[u8]> {
    if !raw.contains(&b'\\') {
        return raw.into();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' {
            match raw.get(i + 1) {
                Some(&c @ (b'"' | b'\'' | b'\\')) => {
                    out.push(c);
                    i += 2;
                    continue;
                }
                Some(b't') => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                Some(b'r') => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(b);
        i += 1;
    }
    out.into_boxed_slice()
}

/// How a byte is shown in a message: printable ASCII as itself, anything else as `\xNN`.
pub(crate) fn show_byte(src: &[u8], at: usize) -> String {
    match src.get(at) {
        Some(&b) if b.is_ascii_graphic() => (b as char).to_string(),
        Some(&b) => format!("\\x{b:02x}"),
        None => "end of file".to_string(),
    }
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a [u8], start: usize, reading: Reading) -> Lexer<'a> {
        Lexer {
            src,
            pos: start,
            pending: None,
            reading,
        }
    }

    fn rest(&self) -> &'a [u8] {
        &self.src[self.pos..]
    }

    fn advance_past(&mut self, rest: &[u8]) {
        self.pos = self.src.len() - rest.len();
    }

    pub(crate) fn next_token(&mut self) -> Token {
        if let Some(e) = self.pending.take() {
            return Token::Error(e);
        }
        if let Ok((rest, _)) = spaces(self.rest()) {
            self.advance_past(rest);
        }
        let start = self.pos;
        let Some(&b) = self.src.get(start) else {
            return Token::Eof;
        };
        match b {
            b';' => {
                self.pos += 1;
                Token::Semicolon(Span::new(start, start + 1))
            }
            b'{' => {
                self.pos += 1;
                Token::Open(Span::new(start, start + 1))
            }
            b'}' => {
                self.pos += 1;
                Token::Close(Span::new(start, start + 1))
            }
            b'#' => self.comment(start),
            b'"' | b'\'' => self.quoted(start, b),
            _ => self.bare_word(start),
        }
    }

    fn comment(&mut self, start: usize) -> Token {
        let (rest, body) = until_line_end(&self.src[start + 1..]).unwrap_or((&[], &[]));
        self.advance_past(rest);
        let text = body.strip_suffix(b"\r").unwrap_or(body);
        let end = start + 1 + text.len();
        Token::Comment(Comment {
            span: Span::new(start, end),
            text: text.into(),
        })
    }

    /// A quoted word. nginx reads it until the matching unescaped quote, across lines; the
    /// closing quote must be followed by whitespace, `;`, `{` or `)`.
    fn quoted(&mut self, start: usize, quote: u8) -> Token {
        let scan = quoted_run(quote);
        let mut i = start + 1;
        loop {
            let (rest, _) = scan(&self.src[i..]).unwrap_or((&[], &[]));
            i = self.src.len() - rest.len();
            match self.src.get(i) {
                Some(b'\\') => i = (i + 2).min(self.src.len()),
                Some(_) => break,
                None => {
                    self.pos = self.src.len();
                    let kind = if quote == b'"' { "double" } else { "single" };
                    return Token::Error(ParseError::new(
                        ParseErrorKind::UnterminatedQuote,
                        Span::new(start, start + 1),
                        format!("unterminated {kind}-quoted string"),
                    ));
                }
            }
        }
        let close = i;
        self.pos = close + 1;
        match self.src.get(self.pos) {
            // crossplane ends the word at its closing quote, whatever follows.
            _ if self.reading == Reading::Crossplane => {}
            None => {}
            Some(&c) if is_space(c) || c == b';' || c == b'{' || c == b')' => {}
            Some(_) => {
                let shown = show_byte(self.src, self.pos);
                let len = char_len(self.src, self.pos);
                self.pending = Some(ParseError::new(
                    ParseErrorKind::UnexpectedAfterQuote,
                    Span::new(self.pos, self.pos + len),
                    format!(
                        "unexpected \"{shown}\" after a closing quote (expected whitespace, \";\", \"{{\" or \")\")"
                    ),
                ));
            }
        }
        Token::Word(Word {
            span: Span::new(start, close + 1),
            quote: if quote == b'"' {
                Quote::Double
            } else {
                Quote::Single
            },
            value: unescape(&self.src[start + 1..close]),
        })
    }

    /// A bare word: ends at whitespace, `;` or `{` (a `}` does not end it); `\` makes the next
    /// byte ordinary; a `{` right after `$` stays in the word (`${var}`).
    ///
    /// In crossplane's reading `}` ends the word too, and a `${` takes every byte up to its `}`
    /// or to whitespace, then the byte after, even whitespace (its lexer appends the byte that
    /// ended the `${...}` loop to the word).
    fn bare_word(&mut self, start: usize) -> Token {
        let len = self.src.len();
        let crossplane = self.reading == Reading::Crossplane;
        let scan = plain_word_bytes(if crossplane {
            &CROSSPLANE_WORD_STOP
        } else {
            &WORD_STOP
        });
        let mut i = start;
        let mut escaped = false;
        loop {
            let (rest, _) = scan(&self.src[i..]).unwrap_or((&[], &[]));
            i = len - rest.len();
            match self.src.get(i) {
                Some(b'\\') => {
                    escaped = true;
                    i = (i + 2).min(len);
                }
                Some(b'$') if crossplane => {
                    i += 1;
                    if self.src.get(i) == Some(&b'{') {
                        let body = &self.src[i..];
                        let taken = body
                            .iter()
                            .position(|&b| b == b'}' || is_space(b))
                            .map_or(body.len(), |p| p + usize::from(body[p] == b'}'));
                        escaped |= body[..taken].contains(&b'\\');
                        i += taken;
                        if self.src.get(i).is_some_and(|&b| is_space(b)) {
                            i += 1;
                        }
                    }
                }
                Some(b'$') => {
                    i += 1;
                    while self.src.get(i) == Some(&b'{') {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        self.pos = i;
        let raw = &self.src[start..i];
        Token::Word(Word {
            span: Span::new(start, i),
            quote: Quote::None,
            value: if escaped { unescape(raw) } else { raw.into() },
        })
    }

    /// The raw Lua body of a `*_by_lua_block` directive, from the `{` at `open` to its matching
    /// `}`, skipping Lua strings, long brackets and comments so braces and quotes inside them do
    /// not count (as lua-nginx-module's own block reader does).
    pub(crate) fn lua_body(&mut self, open: usize) -> Result<Word, ParseError> {
        let src = self.src;
        let mut depth = 1u32;
        let mut i = open + 1;
        let unterminated = |what: &str| {
            ParseError::new(
                ParseErrorKind::BadLuaBlock,
                Span::empty(src.len()),
                format!("unexpected end of file inside {what} of a Lua block, expecting \"}}\""),
            )
            .with_related(Span::new(open, open + 1), "the Lua block starts here")
        };
        // Every failure below is end of file, so the whole rest is the broken body: tokens
        // resume there. Resuming after the `{` would read the body as directives and rescan it
        // from each later `*_by_lua_block {` in it, in quadratic time.
        self.pos = src.len();
        // Per quote (`'`, `"`): where the last short string found unclosed stopped scanning.
        // Rescanning from each quote inside it (`"\"\"\"...`) would take quadratic time.
        let mut unclosed_until = [0usize; 2];
        while i < src.len() {
            match src[i] {
                b'-' if src.get(i + 1) == Some(&b'-') => {
                    i += 2;
                    if let Some(level) = long_bracket_open(src, i) {
                        i = long_bracket_close(src, i + level + 2, level)
                            .ok_or_else(|| unterminated("a long comment"))?;
                    } else {
                        let (rest, _) = until_line_end(&src[i..]).unwrap_or((&[], &[]));
                        i = src.len() - rest.len();
                    }
                }
                b'[' => match long_bracket_open(src, i) {
                    Some(level) => {
                        i = long_bracket_close(src, i + level + 2, level)
                            .ok_or_else(|| unterminated("a long string"))?;
                    }
                    None => i += 1,
                },
                q @ (b'"' | b'\'') => {
                    // lua-nginx-module's lexer (ngx_http_lua_lex) only recognises a short
                    // string that closes on the same line; otherwise the quote is an ordinary
                    // character, so a `}` after it still counts.
                    let slot = usize::from(q == b'"');
                    if i < unclosed_until[slot] {
                        // Escaped inside an unclosed string of the same quote that started
                        // earlier: scanning from here would follow that scan to the same end.
                        i += 1;
                        continue;
                    }
                    let mut j = i + 1;
                    let closed = loop {
                        let (rest, _) = take_till::<_, _, nom::error::Error<&[u8]>>(|b| {
                            b == q || b == b'\\' || b == b'\n'
                        })
                        .parse(&src[j..])
                        .unwrap_or((&[], &[]));
                        j = src.len() - rest.len();
                        match src.get(j) {
                            Some(b'\\') => j = (j + 2).min(src.len()),
                            Some(&b) if b == q => break Some(j + 1),
                            _ => break None,
                        }
                    };
                    if closed.is_none() {
                        unclosed_until[slot] = j;
                    }
                    i = closed.unwrap_or(i + 1);
                }
                b'{' => {
                    depth += 1;
                    i += 1;
                }
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = i + 1;
                        return Ok(Word {
                            span: Span::new(open, i + 1),
                            quote: Quote::LuaBlock,
                            value: src[open + 1..i].into(),
                        });
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        Err(unterminated("the body"))
    }
}

/// At `[` `=`* `[`, the number of `=` (the long bracket's level).
fn long_bracket_open(src: &[u8], at: usize) -> Option<usize> {
    if src.get(at) != Some(&b'[') {
        return None;
    }
    let level = src[at + 1..].iter().take_while(|&&b| b == b'=').count();
    (src.get(at + 1 + level) == Some(&b'[')).then_some(level)
}

/// The offset just past the `]` `=`{level} `]` that closes a long bracket, searching from `from`.
fn long_bracket_close(src: &[u8], from: usize, level: usize) -> Option<usize> {
    let mut i = from;
    while i < src.len() {
        if src[i] == b']' {
            let eq = src[i + 1..].iter().take_while(|&&b| b == b'=').count();
            if eq == level && src.get(i + 1 + eq) == Some(&b']') {
                return Some(i + 2 + eq);
            }
        }
        i += 1;
    }
    None
}

/// Length in bytes of the UTF-8 character at `at` (1 for an invalid byte).
fn char_len(src: &[u8], at: usize) -> usize {
    let b = src[at];
    let n = match b {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    };
    if at + n <= src.len() && std::str::from_utf8(&src[at..at + n]).is_ok() {
        n
    } else {
        1
    }
}
