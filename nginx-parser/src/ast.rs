//! The syntax tree: directives, their words and blocks, and comments, all with byte spans.

use std::borrow::Cow;

use crate::span::Span;

/// How a word was written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quote {
    /// A bare word: `keepalive_timeout`.
    None,
    /// `'single quoted'`.
    Single,
    /// `"double quoted"`.
    Double,
    /// The raw Lua body of a `*_by_lua_block { ... }` directive; the span covers the braces.
    LuaBlock,
}

impl Quote {
    pub fn as_str(self) -> &'static str {
        match self {
            Quote::None => "none",
            Quote::Single => "single",
            Quote::Double => "double",
            Quote::LuaBlock => "lua-block",
        }
    }
}

/// One token of a directive: its name or an argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The raw text, quotes included (`source[span]`).
    pub span: Span,
    pub quote: Quote,
    /// The value nginx sees: quotes removed and `\"`, `\'`, `\\`, `\t`, `\r`, `\n` unescaped
    /// (other escapes such as the regex `\.` are kept as written). Bytes, not UTF-8: nginx reads
    /// configuration files as bytes.
    pub value: Box<[u8]>,
}

impl Word {
    /// The raw text as written, quotes and escapes included.
    pub fn raw<'s>(&self, source: &'s [u8]) -> &'s [u8] {
        &source[self.span.range()]
    }

    /// The value as text; invalid UTF-8 becomes U+FFFD.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.value)
    }

    /// True when the value is exactly `s`.
    pub fn is(&self, s: &str) -> bool {
        &*self.value == s.as_bytes()
    }

    /// The span of the value without its quotes (or the Lua body without its braces).
    pub fn inner_span(&self) -> Span {
        match self.quote {
            Quote::None => self.span,
            _ if self.span.len() >= 2 => Span {
                start: self.span.start + 1,
                end: self.span.end - 1,
            },
            _ => self.span,
        }
    }
}

/// How the lines of a block are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Ordinary directives (`http`, `server`, `location`, `if`, `upstream`...).
    Directives,
    /// A table whose lines are `key value;` pairs read by the directive's own handler
    /// (`map`, `geo`, `types`, `split_clients`, `match`, `charset_map`). They are stored as
    /// [`Directive`]s (name = key) but are not directives; nested blocks are errors, as in nginx.
    Table,
}

/// Directives whose block is a table of `key value;` lines rather than directives.
pub const TABLE_BLOCKS: &[&str] = &[
    "map",
    "geo",
    "types",
    "split_clients",
    "match",
    "charset_map",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The `{`.
    pub open: Span,
    /// The `}`; an empty span at end of file when the block was never closed.
    pub close: Span,
    pub kind: BlockKind,
    pub directives: Vec<Directive>,
}

impl Block {
    /// From the `{` to the `}`.
    pub fn span(&self) -> Span {
        self.open.cover(self.close)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    pub name: Word,
    pub args: Vec<Word>,
    /// The terminating `;` of a simple directive.
    pub semicolon: Option<Span>,
    pub block: Option<Block>,
    /// From the first byte of the name to the `;` or the closing `}` included.
    pub span: Span,
}

impl Directive {
    /// True when the directive is named `name`.
    pub fn is(&self, name: &str) -> bool {
        self.name.is(name)
    }

    pub fn arg(&self, index: usize) -> Option<&Word> {
        self.args.get(index)
    }

    /// The directives of its block (empty without a block).
    pub fn children(&self) -> &[Directive] {
        self.block.as_ref().map_or(&[], |b| &b.directives)
    }

    /// The span from the name to the last argument, without terminator or block: the part a
    /// diagnostic about the directive itself should underline.
    pub fn head_span(&self) -> Span {
        self.args
            .last()
            .map_or(self.name.span, |a| self.name.span.cover(a.span))
    }

    /// The directive as text for messages: name and argument values separated by spaces
    /// (`keepalive_timeout 0`); a Lua body is shown as `{...}`.
    pub fn head_text(&self) -> String {
        let mut out = self.name.text().into_owned();
        for a in &self.args {
            out.push(' ');
            if a.quote == Quote::LuaBlock {
                out.push_str("{...}");
            } else {
                out.push_str(&a.text());
            }
        }
        out
    }

    /// True for `*_by_lua_block` directives, whose body is raw Lua kept as one argument.
    pub fn is_lua_block(&self) -> bool {
        is_lua_block_name(&self.name.value)
    }
}

pub(crate) fn is_lua_block_name(name: &[u8]) -> bool {
    name.ends_with(b"_by_lua_block")
}

/// A `#` comment. Comments are kept apart from the directive tree, in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// From the `#` to the end of the line (the line break excluded).
    pub span: Span,
    /// The text after `#`, a trailing CR excluded.
    pub text: Box<[u8]>,
}

impl Comment {
    pub fn text_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.text)
    }
}

/// One parsed file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub directives: Vec<Directive>,
    /// Every comment of the file in source order, including those inside blocks and between
    /// the arguments of a directive (but not those inside a Lua body, which is Lua).
    pub comments: Vec<Comment>,
}

impl Config {
    /// Every directive of the tree in source order (depth first), with its depth (0 = top level).
    pub fn walk(&self) -> Walk<'_> {
        Walk {
            stack: vec![self.directives.iter()],
        }
    }
}

/// Depth-first iterator over a directive tree, without recursion.
pub struct Walk<'a> {
    stack: Vec<std::slice::Iter<'a, Directive>>,
}

impl<'a> Iterator for Walk<'a> {
    type Item = (usize, &'a Directive);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let top = self.stack.last_mut()?;
            match top.next() {
                Some(d) => {
                    let depth = self.stack.len() - 1;
                    if let Some(b) = &d.block {
                        self.stack.push(b.directives.iter());
                    }
                    return Some((depth, d));
                }
                None => {
                    self.stack.pop();
                }
            }
        }
    }
}
