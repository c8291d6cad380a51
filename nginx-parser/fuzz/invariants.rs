//! Structural invariants that every parse must satisfy, whatever the input: spans inside the
//! file, words equal to their source text, children inside their parent's braces, tokens and
//! comments in source order without overlap, and, for a file without errors, no byte outside a
//! token or comment except whitespace.
//!
//! [`check_round_trip`] adds that a file without errors, written back from its words' raw text,
//! parses without errors to the same tree.
//!
//! Shared by the fuzz target (`fuzz_targets/parse.rs`) and `tests/robustness.rs` through
//! `#[path]`, so that both check exactly the same properties. Iterative: the tree is walked with
//! an explicit stack.

#![allow(dead_code)]

use nginx_parser::ast::TABLE_BLOCKS;
use nginx_parser::{BlockKind, Config, Directive, Parse, ParseOptions, Quote, Reading, Span, Word};

/// Checks every invariant of `parse`, the result of parsing `src` with `options`.
pub fn check(src: &[u8], parse: &Parse, options: &ParseOptions) -> Result<(), String> {
    let config = &parse.config;
    for e in &parse.errors {
        in_bounds(src, e.span, "error")?;
        if let Some((related, _)) = &e.related {
            in_bounds(src, *related, "related")?;
        }
        if e.message.is_empty() {
            return Err(format!("error {:?} has an empty message", e.kind));
        }
    }

    // Every token span (words, `;`, `{`, non-empty `}`) and every comment, to check order and
    // overlap across the whole file.
    let mut pieces: Vec<(Span, &'static str)> = Vec::new();

    // (directive, depth, the span its parent's block leaves for it)
    let mut stack: Vec<(&Directive, usize, Span)> = Vec::new();
    let whole = Span {
        start: 0,
        end: src.len() as u32,
    };
    check_siblings(&config.directives, whole)?;
    stack.extend(config.directives.iter().rev().map(|d| (d, 0, whole)));
    while let Some((d, depth, room)) = stack.pop() {
        check_directive(src, d, depth, room, options, &mut pieces)?;
        if let Some(b) = &d.block {
            let inner = Span {
                start: b.open.end,
                end: b.close.start,
            };
            check_siblings(&b.directives, inner)?;
            stack.extend(b.directives.iter().rev().map(|c| (c, depth + 1, inner)));
        }
    }

    for c in &config.comments {
        in_bounds(src, c.span, "comment")?;
        let raw = &src[c.span.range()];
        if raw.first() != Some(&b'#') {
            return Err(format!("comment {:?} does not start with #", c.span));
        }
        if raw.contains(&b'\n') {
            return Err(format!("comment {:?} spans a line break", c.span));
        }
        if *c.text != raw[1..] {
            return Err(format!("comment {:?} text differs from its source", c.span));
        }
        let after = &src[c.span.end as usize..];
        if !(after.is_empty() || after[0] == b'\n' || after.starts_with(b"\r\n") || after == b"\r")
        {
            return Err(format!(
                "comment {:?} stops before the end of its line",
                c.span
            ));
        }
        pieces.push((c.span, "comment"));
    }
    for pair in config.comments.windows(2) {
        if pair[0].span.end > pair[1].span.start {
            return Err(format!(
                "comments out of order or overlapping: {:?} then {:?}",
                pair[0].span, pair[1].span
            ));
        }
    }

    pieces.sort_by_key(|(s, _)| (s.start, s.end));
    for pair in pieces.windows(2) {
        let ((a, what_a), (b, what_b)) = (pair[0], pair[1]);
        if a.end > b.start {
            return Err(format!("{what_a} {a:?} overlaps {what_b} {b:?}"));
        }
    }

    if parse.errors.is_empty() {
        // Nothing was dropped: every byte belongs to a token or a comment, or is whitespace
        // (or, in crossplane's reading, a `}` that ended a statement).
        let dropped: &[u8] = match options.reading {
            Reading::Nginx => b" \t\r\n",
            Reading::Crossplane => b" \t\r\n}",
        };
        let mut at = 0usize;
        for (span, _) in &pieces {
            let gap = &src[at..span.start as usize];
            if let Some(i) = gap.iter().position(|b| !dropped.contains(b)) {
                return Err(format!(
                    "no error, but byte {} ({:#04x}) is in no token or comment",
                    at + i,
                    gap[i]
                ));
            }
            at = span.end as usize;
        }
        if let Some(i) = src[at..].iter().position(|b| !dropped.contains(b)) {
            return Err(format!(
                "no error, but byte {} ({:#04x}) is in no token or comment",
                at + i,
                src[at + i]
            ));
        }
    }
    Ok(())
}

fn in_bounds(src: &[u8], span: Span, what: &str) -> Result<(), String> {
    if span.start > span.end || span.end as usize > src.len() {
        return Err(format!(
            "{what} span {span:?} is not inside the input (0..{})",
            src.len()
        ));
    }
    Ok(())
}

/// Children lie inside `room` (their parent's braces, or the file) in increasing order.
fn check_siblings(directives: &[Directive], room: Span) -> Result<(), String> {
    for d in directives {
        if d.span.start < room.start || d.span.end > room.end {
            return Err(format!(
                "directive {:?} at {:?} is outside its parent's block {room:?}",
                d.name.text(),
                d.span
            ));
        }
    }
    for pair in directives.windows(2) {
        if pair[0].span.end > pair[1].span.start {
            return Err(format!(
                "sibling directives out of order or overlapping: {:?} then {:?}",
                pair[0].span, pair[1].span
            ));
        }
    }
    Ok(())
}

fn check_directive(
    src: &[u8],
    d: &Directive,
    depth: usize,
    room: Span,
    options: &ParseOptions,
    pieces: &mut Vec<(Span, &'static str)>,
) -> Result<(), String> {
    let name = d.name.text().into_owned();
    let fail = |what: String| Err(format!("directive {name:?} at {:?}: {what}", d.span));
    in_bounds(src, d.span, "directive")?;
    // `max_depth` blocks may nest, so the directives inside the innermost are one level deeper.
    if depth > options.max_depth || (d.block.is_some() && depth >= options.max_depth) {
        return fail(format!(
            "at depth {depth}, deeper than the limit {}",
            options.max_depth
        ));
    }
    if d.span.start < room.start || d.span.end > room.end {
        return fail(format!("outside its parent's block {room:?}"));
    }
    if d.span.start != d.name.span.start {
        return fail("does not start at its name".into());
    }
    let mut last_end = d.name.span.start;
    for (i, w) in std::iter::once(&d.name).chain(&d.args).enumerate() {
        check_word(src, w)?;
        if w.span.start < last_end {
            return fail(format!("word {i} at {:?} overlaps the word before", w.span));
        }
        if w.quote == Quote::LuaBlock && i != d.args.len() {
            return fail("a Lua body that is not the last word".into());
        }
        last_end = w.span.end;
        pieces.push((w.span, "word"));
    }
    match (d.semicolon, &d.block) {
        (Some(semi), None) => {
            in_bounds(src, semi, "semicolon")?;
            if &src[semi.range()] != b";" || semi.start < last_end || d.span.end != semi.end {
                return fail(format!("bad semicolon {semi:?}"));
            }
            pieces.push((semi, "semicolon"));
        }
        (None, Some(b)) => {
            in_bounds(src, b.open, "block open")?;
            in_bounds(src, b.close, "block close")?;
            if &src[b.open.range()] != b"{" || b.open.start < last_end {
                return fail(format!("bad block open {:?}", b.open));
            }
            if !(b.close.is_empty() || &src[b.close.range()] == b"}") || b.close.start < b.open.end
            {
                return fail(format!("bad block close {:?}", b.close));
            }
            if d.span.end != b.close.end {
                return fail(format!("does not end at its block's close {:?}", b.close));
            }
            let table = TABLE_BLOCKS.iter().any(|t| d.name.is(t));
            if table != (b.kind == BlockKind::Table) {
                return fail(format!("block kind {:?}", b.kind));
            }
            pieces.push((b.open, "block open"));
            if !b.close.is_empty() {
                pieces.push((b.close, "block close"));
            }
        }
        (None, None) => {
            let last = d.args.last().unwrap_or(&d.name);
            let lua = last.quote == Quote::LuaBlock && d.is_lua_block();
            // In crossplane's reading a `}` may end a statement (and not its block).
            let cut_by_brace = options.reading == Reading::Crossplane;
            if !(lua || cut_by_brace) || d.span.end != last.span.end {
                return fail("neither a semicolon, a block nor a Lua body".into());
            }
        }
        (Some(_), Some(_)) => return fail("both a semicolon and a block".into()),
    }
    Ok(())
}

fn check_word(src: &[u8], w: &Word) -> Result<(), String> {
    in_bounds(src, w.span, "word")?;
    let raw = w.raw(src);
    let bad = |what: &str| Err(format!("{:?} word at {:?}: {what}", w.quote, w.span));
    match w.quote {
        Quote::None => {
            match raw.first() {
                None => return bad("empty"),
                Some(b) if b" \t\r\n;{}#\"'".contains(b) => return bad("starts with a delimiter"),
                Some(_) => {}
            }
            if *w.value != *unescape(raw) {
                return bad("value is not the unescaped raw text");
            }
        }
        Quote::Single | Quote::Double => {
            let q = if w.quote == Quote::Single {
                b'\''
            } else {
                b'"'
            };
            if raw.len() < 2 || raw[0] != q || raw[raw.len() - 1] != q {
                return bad("not enclosed in its quotes");
            }
            if *w.value != *unescape(&raw[1..raw.len() - 1]) {
                return bad("value is not the unescaped text between the quotes");
            }
        }
        Quote::LuaBlock => {
            if raw.len() < 2 || raw[0] != b'{' || raw[raw.len() - 1] != b'}' {
                return bad("not enclosed in braces");
            }
            if *w.value != raw[1..raw.len() - 1] {
                return bad("value is not the text between the braces");
            }
        }
    }
    if w.inner_span().start < w.span.start || w.inner_span().end > w.span.end {
        return bad("inner span outside the word");
    }
    Ok(())
}

/// Writes the tree back from the words' raw text: name and arguments separated by one space,
/// then `;`, ` {` ... `}`, or nothing after a Lua body (which carries its own braces).
pub fn reemit(src: &[u8], config: &Config) -> Vec<u8> {
    let mut out = Vec::new();
    let mut open = 0;
    for (depth, d) in config.walk() {
        while open > depth {
            out.extend_from_slice(b"}\n");
            open -= 1;
        }
        out.extend_from_slice(d.name.raw(src));
        for arg in &d.args {
            out.push(b' ');
            out.extend_from_slice(arg.raw(src));
        }
        if d.block.is_some() {
            out.extend_from_slice(b" {\n");
            open += 1;
        } else if d.semicolon.is_some() {
            out.extend_from_slice(b";\n");
        } else {
            out.push(b'\n');
        }
    }
    for _ in 0..open {
        out.extend_from_slice(b"}\n");
    }
    // A byte order mark is an error only at the very start of a file: one that began a word
    // after a comment or a line break must not land there.
    if out.starts_with(b"\xEF\xBB\xBF") {
        out.insert(0, b'\n');
    }
    out
}

type Shape = Vec<(
    usize,
    Vec<(Box<[u8]>, Quote)>,
    Option<BlockKind>,
    Option<usize>,
)>;

/// What the tree means: per directive, its depth, words (value and quote kind), block kind and
/// number of children.
fn shape(config: &Config) -> Shape {
    config
        .walk()
        .map(|(depth, d)| {
            let words = std::iter::once(&d.name)
                .chain(&d.args)
                .map(|w| (w.value.clone(), w.quote))
                .collect();
            (
                depth,
                words,
                d.block.as_ref().map(|b| b.kind),
                d.block.as_ref().map(|b| b.directives.len()),
            )
        })
        .collect()
}

/// For an input without errors: the re-emitted tree parses without errors to the same tree.
pub fn check_round_trip(src: &[u8], parse: &Parse) -> Result<(), String> {
    if !parse.is_ok() {
        return Ok(());
    }
    let again = reemit(src, &parse.config);
    let reparsed = nginx_parser::parse(&again);
    check(&again, &reparsed, &ParseOptions::default())?;
    if !reparsed.is_ok() {
        return Err(format!(
            "re-emitted text {:?} has errors: {:?}",
            String::from_utf8_lossy(&again),
            reparsed.errors
        ));
    }
    if shape(&reparsed.config) != shape(&parse.config) {
        return Err(format!(
            "re-emitted text {:?} parses to a different tree",
            String::from_utf8_lossy(&again)
        ));
    }
    Ok(())
}

/// nginx's unescaping, written independently of the lexer: `\"`, `\'`, `\\` lose the backslash,
/// `\t`, `\r`, `\n` become control characters, anything else stays as written.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let replaced = match bytes.peek() {
            Some(&c @ (b'"' | b'\'' | b'\\')) => Some(c),
            Some(b't') => Some(b'\t'),
            Some(b'r') => Some(b'\r'),
            Some(b'n') => Some(b'\n'),
            _ => None,
        };
        match replaced {
            Some(c) => {
                out.push(c);
                bytes.next();
            }
            None => out.push(b),
        }
    }
    out
}
