//! An nginx configuration parser that keeps what a linter needs: byte spans on every directive,
//! word and brace, comments, every syntax error with recovery, and include resolution.
//!
//! The lexical grammar is nginx's own (`ngx_conf_read_token`); docs/nginx-grammar.md lists each
//! rule with the nginx source that decides it and where crossplane differs.

pub mod ast;
pub mod crossplane;
pub mod error;
pub mod include;
mod lexer;
mod parser;
pub mod span;

pub use ast::{Block, BlockKind, Comment, Config, Directive, Quote, Word};
pub use error::{ParseError, ParseErrorKind};
pub use include::{
    load, ConfigTree, FileId, IncludeError, IncludeErrorKind, IncludeOptions, SourceFile,
};
pub use parser::{parse, parse_with, Parse, ParseOptions, Reading, MAX_ERRORS};
pub use span::{LineIndex, Span};
