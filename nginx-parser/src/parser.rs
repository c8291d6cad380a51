//! The block structure on top of the tokens: nginx's `ngx_conf_parse`, with error recovery and
//! without recursion (an explicit stack of open blocks).

use crate::ast::{
    is_lua_block_name, Block, BlockKind, Comment, Config, Directive, Word, TABLE_BLOCKS,
};
use crate::error::{ParseError, ParseErrorKind};
use crate::lexer::{Lexer, Token};
use crate::span::Span;

/// Limits that keep hostile input from exhausting the stack or memory, and whose reading of the
/// text to follow.
#[derive(Clone, Debug)]
pub struct ParseOptions {
    /// Deepest block nesting accepted; deeper blocks are skipped with an error.
    pub max_depth: usize,
    /// Largest file accepted, in bytes.
    pub max_file_size: usize,
    pub reading: Reading,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_depth: 256,
            max_file_size: 256 * 1024 * 1024,
            reading: Reading::Nginx,
        }
    }
}

/// Where nginx and crossplane read the same text differently, which one to follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reading {
    /// nginx's own reading (`ngx_conf_read_token`, `ngx_conf_parse`): what nginx builds, and
    /// what every rule checks.
    #[default]
    Nginx,
    /// crossplane 0.5.8's lenient reading, for `waitlint parse --format crossplane`, whose
    /// consumers expect crossplane's tree (docs/nginx-grammar.md lists the five differences): a
    /// closing quote ends a word, `}` ends a word, a `${...}` takes the whitespace after it, a
    /// `}` that cuts a statement short ends the statement and not the block, and braces are
    /// balanced by counting them.
    Crossplane,
}

/// A parsed file: always a tree, plus every error met while building it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parse {
    pub config: Config,
    pub errors: Vec<ParseError>,
}

impl Parse {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Parses one file with the default limits.
pub fn parse(src: &[u8]) -> Parse {
    parse_with(src, &ParseOptions::default())
}

/// Most syntax errors recorded for one file.
pub const MAX_ERRORS: usize = 1000;

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub fn parse_with(src: &[u8], options: &ParseOptions) -> Parse {
    let mut errors = Vec::new();
    if src.len() > options.max_file_size || src.len() > u32::MAX as usize {
        errors.push(ParseError::new(
            ParseErrorKind::TooLarge,
            Span::empty(0),
            format!(
                "file is {} bytes, larger than the limit of {} bytes",
                src.len(),
                options.max_file_size.min(u32::MAX as usize)
            ),
        ));
        return Parse {
            config: Config::default(),
            errors,
        };
    }
    let mut start = 0;
    if src.starts_with(BOM) {
        errors.push(ParseError::new(
            ParseErrorKind::ByteOrderMark,
            Span::new(0, BOM.len()),
            "file starts with a UTF-8 byte order mark, which nginx reads as part of the first directive name",
        ));
        start = BOM.len();
    }
    Parser {
        lexer: Lexer::new(src, start, options.reading),
        src,
        options,
        stack: vec![Frame::root()],
        words: Vec::new(),
        skip: None,
        braces: 0,
        comments: Vec::new(),
        errors,
    }
    .run()
}

struct Frame {
    /// The directive that opened this block (name and arguments) and its `{`; `None` at top level.
    head: Option<(Vec<Word>, Span)>,
    kind: BlockKind,
    directives: Vec<Directive>,
}

impl Frame {
    fn root() -> Frame {
        Frame {
            head: None,
            kind: BlockKind::Directives,
            directives: Vec::new(),
        }
    }
}

struct Parser<'a, 'o> {
    lexer: Lexer<'a>,
    src: &'a [u8],
    options: &'o ParseOptions,
    /// Open blocks, innermost last; the first frame is the file's top level.
    stack: Vec<Frame>,
    /// Words of the statement being read.
    words: Vec<Word>,
    /// While discarding a broken statement: how many of its own `{` are still open.
    skip: Option<u32>,
    /// `{` minus `}` read so far: crossplane decides balance by this count, not by blocks.
    braces: i64,
    comments: Vec<Comment>,
    errors: Vec<ParseError>,
}

fn name_of(words: &[Word]) -> String {
    words
        .first()
        .map(|w| w.text().into_owned())
        .unwrap_or_default()
}

impl Parser<'_, '_> {
    fn run(mut self) -> Parse {
        loop {
            match self.lexer.next_token() {
                Token::Comment(c) => self.comments.push(c),
                Token::Word(w) => {
                    if self.skip.is_none() {
                        self.words.push(w);
                    }
                }
                Token::Error(e) => {
                    self.error(e);
                    self.words.clear();
                    self.skip = Some(0);
                }
                Token::Semicolon(semi) => self.semicolon(semi),
                Token::Open(open) => self.open(open),
                Token::Close(close) => self.close(close),
                Token::Eof => {
                    self.eof();
                    break;
                }
            }
        }
        let root = self
            .stack
            .pop()
            .expect("the top-level frame is never popped");
        Parse {
            config: Config {
                directives: root.directives,
                comments: self.comments,
            },
            errors: self.errors,
        }
    }

    /// Records an error, up to [`MAX_ERRORS`]: a hostile file of ten million `;` must not hold
    /// ten million error values. The first error past the cap says that the rest were dropped.
    fn error(&mut self, e: ParseError) {
        match self.errors.len().cmp(&MAX_ERRORS) {
            std::cmp::Ordering::Less => self.errors.push(e),
            std::cmp::Ordering::Equal => self.errors.push(ParseError::new(
                ParseErrorKind::TooManyErrors,
                e.span,
                format!("more than {MAX_ERRORS} syntax errors; the rest are not reported"),
            )),
            std::cmp::Ordering::Greater => {}
        }
    }

    fn top(&mut self) -> &mut Frame {
        self.stack
            .last_mut()
            .expect("the top-level frame is never popped")
    }

    fn semicolon(&mut self, semi: Span) {
        match self.skip {
            Some(0) => {
                self.skip = None;
                return;
            }
            Some(_) => return,
            None => {}
        }
        if self.words.is_empty() {
            self.error(ParseError::new(
                ParseErrorKind::MissingDirectiveName,
                semi,
                "unexpected \";\" with no directive before it",
            ));
            return;
        }
        self.end_statement(Some(semi));
    }

    /// Adds the statement read so far (not empty) to the open block, ending at its `;` or, in
    /// crossplane's reading, at its last word.
    fn end_statement(&mut self, semicolon: Option<Span>) {
        // Draining keeps `self.words` as a buffer for the next statement, and collecting a
        // drain allocates exactly the arguments' length (millions of them in a large file).
        let mut words = self.words.drain(..);
        let name = words.next().expect("checked non-empty");
        let span = match semicolon {
            Some(semi) => name.span.cover(semi),
            None => name
                .span
                .cover(words.as_slice().last().map_or(name.span, |w| w.span)),
        };
        let directive = Directive {
            name,
            args: words.collect(),
            semicolon,
            block: None,
            span,
        };
        self.top().directives.push(directive);
    }

    fn open(&mut self, open: Span) {
        self.braces += 1;
        if let Some(depth) = self.skip.as_mut() {
            *depth += 1;
            return;
        }
        if self.words.is_empty() {
            self.error(ParseError::new(
                ParseErrorKind::MissingDirectiveName,
                open,
                "unexpected \"{\" with no directive before it",
            ));
            self.skip = Some(1);
            return;
        }
        if is_lua_block_name(&self.words[0].value) {
            match self.lexer.lua_body(open.start as usize) {
                Ok(body) => {
                    // The Lua body's `}` closed its `{`.
                    self.braces -= 1;
                    let mut words = self.words.drain(..);
                    let name = words.next().expect("checked non-empty");
                    let span = name.span.cover(body.span);
                    let mut args = Vec::with_capacity(words.len() + 1);
                    args.extend(words);
                    args.push(body);
                    self.top().directives.push(Directive {
                        name,
                        args,
                        semicolon: None,
                        block: None,
                        span,
                    });
                }
                Err(e) => {
                    self.error(e);
                    self.words.clear();
                }
            }
            return;
        }
        let parent_kind = self.top().kind;
        if parent_kind == BlockKind::Table {
            let table = self
                .stack
                .last()
                .and_then(|f| f.head.as_ref())
                .map(|(w, _)| name_of(w));
            self.error(ParseError::new(
                ParseErrorKind::BlockInTable,
                open,
                format!(
                    "unexpected \"{{\": the lines of a \"{}\" block are key-value pairs and cannot open blocks",
                    table.unwrap_or_default()
                ),
            ));
            self.words.clear();
            self.skip = Some(1);
            return;
        }
        if self.stack.len() > self.options.max_depth {
            self.error(ParseError::new(
                ParseErrorKind::TooDeep,
                open,
                format!(
                    "blocks nested more than {} levels deep",
                    self.options.max_depth
                ),
            ));
            self.words.clear();
            self.skip = Some(1);
            return;
        }
        let kind = if TABLE_BLOCKS.iter().any(|t| self.words[0].is(t)) {
            BlockKind::Table
        } else {
            BlockKind::Directives
        };
        let words = self.words.drain(..).collect();
        self.stack.push(Frame {
            head: Some((words, open)),
            kind,
            directives: Vec::new(),
        });
    }

    fn close(&mut self, close: Span) {
        self.braces -= 1;
        let crossplane = self.options.reading == Reading::Crossplane;
        if crossplane && self.braces < 0 {
            self.error(ParseError::new(
                ParseErrorKind::UnbalancedCloseBrace,
                close,
                "unexpected \"}\" with no open block",
            ));
            self.words.clear();
            self.braces = 0;
            return;
        }
        if crossplane && self.skip.is_none() && !self.words.is_empty() {
            // crossplane's _parse takes `}` as the statement's terminator, like `;`, and reads
            // on in the same block.
            self.end_statement(None);
            return;
        }
        if let Some(depth) = self.skip {
            self.skip = None;
            if depth > 0 {
                // The `}` ends a block of the discarded statement, and with it the statement
                // once every block it opened is closed.
                if depth > 1 {
                    self.skip = Some(depth - 1);
                }
                return;
            }
            // The `}` closes the enclosing block: handle it below.
        }
        if !self.words.is_empty() {
            self.unterminated();
        }
        if self.stack.len() == 1 {
            self.error(ParseError::new(
                ParseErrorKind::UnbalancedCloseBrace,
                close,
                "unexpected \"}\" with no open block",
            ));
            return;
        }
        self.pop_block(close);
    }

    fn pop_block(&mut self, close: Span) {
        let frame = self
            .stack
            .pop()
            .expect("checked: more than the top-level frame");
        let (words, open) = frame.head.expect("only the top-level frame has no head");
        let mut directives = frame.directives;
        // A growing vector has up to twice the room it needs; a closed block no longer grows.
        directives.shrink_to_fit();
        let mut words = words.into_iter();
        let name = words.next().expect("a block always has a directive name");
        let span = name.span.cover(close).cover(open);
        let directive = Directive {
            name,
            args: words.collect(),
            semicolon: None,
            block: Some(Block {
                open,
                close,
                kind: frame.kind,
                directives,
            }),
            span,
        };
        self.top().directives.push(directive);
    }

    /// A statement cut short by `}` or end of file: report it at its last word and drop it.
    fn unterminated(&mut self) {
        let last = self.words.last().map(|w| w.span).unwrap_or_default();
        let first = self.words.first().map(|w| w.span).unwrap_or_default();
        self.error(
            ParseError::new(
                ParseErrorKind::MissingSemicolon,
                last,
                format!(
                    "directive \"{}\" is not terminated by \";\"",
                    name_of(&self.words)
                ),
            )
            .with_related(first, "directive starts here"),
        );
        self.words.clear();
    }

    fn eof(&mut self) {
        // Point just past the last token rather than at a trailing empty line, so that editors
        // show the error where the reader looks for the missing brace.
        let content_end = self
            .src
            .iter()
            .rposition(|b| !b" \t\r\n".contains(b))
            .map_or(0, |i| i + 1);
        let end = Span::empty(content_end);
        let skipped_open = matches!(self.skip, Some(d) if d > 0);
        if self.options.reading == Reading::Crossplane {
            self.crossplane_eof(end);
            return;
        }
        if self.skip.is_none() && !self.words.is_empty() {
            self.unterminated();
        }
        if self.stack.len() > 1 || skipped_open {
            let mut error = ParseError::new(
                ParseErrorKind::UnclosedBlock,
                end,
                "unexpected end of file, expecting \"}\"",
            );
            if let Some((words, open)) = self.stack.last().and_then(|f| f.head.as_ref()) {
                error = error.with_related(
                    *open,
                    format!("\"{}\" block opened here is never closed", name_of(words)),
                );
            }
            self.error(error);
        }
        while self.stack.len() > 1 {
            self.pop_block(end);
        }
    }

    /// End of file as crossplane meets it: its brace count is checked first (the lexer raises
    /// when it runs out), then a statement still reading arguments fails with no line (its
    /// `_parse` gets `StopIteration`); blocks left open by a `}` taken as a terminator are
    /// closed silently.
    fn crossplane_eof(&mut self, end: Span) {
        if self.braces > 0 {
            self.error(ParseError::new(
                ParseErrorKind::UnclosedBlock,
                end,
                "unexpected end of file, expecting \"}\"",
            ));
        } else if self.skip.is_none() && !self.words.is_empty() {
            let name = name_of(&self.words);
            self.error(ParseError::new(
                ParseErrorKind::EndOfFileInStatement,
                end,
                format!(
                    "unexpected end of file in directive \"{name}\", expecting \";\" or \"}}\""
                ),
            ));
            self.words.clear();
        }
        while self.stack.len() > 1 {
            self.pop_block(end);
        }
    }
}
