//! Syntax errors. The parser reports every one it meets and recovers, so one typo does not hide
//! the rest of the file.

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// A character right after a closing quote that is not whitespace, `;`, `{` or `)`.
    UnexpectedAfterQuote,
    /// `;` or `{` with no directive name before it.
    MissingDirectiveName,
    /// `}` with no open block.
    UnbalancedCloseBrace,
    /// A directive followed by `}` or end of file instead of `;` or `{`.
    MissingSemicolon,
    /// End of file inside a block.
    UnclosedBlock,
    /// End of file inside a statement, in crossplane's reading (crossplane reports it without
    /// a line; nginx's reading reports [`ParseErrorKind::MissingSemicolon`] at the last word).
    EndOfFileInStatement,
    /// End of file inside a quoted string.
    UnterminatedQuote,
    /// A `*_by_lua_block` directive not followed by `{`, or a Lua body never closed.
    BadLuaBlock,
    /// A `{` inside a table block (`map`, `types`...), which nginx rejects.
    BlockInTable,
    /// Blocks nested deeper than the limit.
    TooDeep,
    /// The file is larger than the limit.
    TooLarge,
    /// More errors than the parser records; the first one past the limit says so.
    TooManyErrors,
    /// The file starts with a UTF-8 byte order mark, which nginx reads as part of the first token.
    ByteOrderMark,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// The offending token (or an empty span where something is missing).
    pub span: Span,
    /// What is wrong, lowercase, without a final period, nginx's wording where nginx has one.
    pub message: String,
    /// Context that explains the error, e.g. the `{` of a block that is never closed.
    pub related: Option<(Span, String)>,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, span: Span, message: impl Into<String>) -> ParseError {
        ParseError {
            kind,
            span,
            message: message.into(),
            related: None,
        }
    }

    pub(crate) fn with_related(mut self, span: Span, label: impl Into<String>) -> ParseError {
        self.related = Some((span, label.into()));
        self
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}
