//! Inline suppressions: comments that silence a rule at one place.
//!
//! - nginx and sysctl: `# waitlint: disable=NAME[,NAME]` at the end of a line silences those
//!   rules on that line; alone on its line it silences the next line that is neither blank nor a
//!   comment. `# waitlint: disable-file=NAME[,NAME]` anywhere silences them in the whole file.
//! - Rust: `// waitlint: allow(NAME[, NAME])` alone on its line silences the next line that is
//!   neither blank nor a comment or, when an item (`fn`, `impl`, `mod`, `struct`..., at any
//!   depth), an associated item, a statement, a match arm, a field or a variant starts there,
//!   the whole of it, attributes and doc comments included. Those extents come from the syntax
//!   tree the Rust analyzer parsed ([`RustItems`]). At the end of a line it silences that line.
//!
//! Names are rule names or codes. Text after the name list is free: `# waitlint:
//! disable=keepalive-disabled -- legacy clients`. A finding belongs to the line where its
//! primary span starts. Syntax errors cannot be suppressed.
//!
//! Everything here is a pure function of the source text, its comments (and for Rust its item
//! extents) and the diagnostics: the CLI reads the files and decides when to call [`apply`].

use nginx_parser::{Comment, LineIndex, Span};

use crate::diagnostic::{Diagnostic, Edit, FileIndex, Fix, Location};
use crate::meta::{SYNTAX_ERROR, UNUSED_SUPPRESSION};
use crate::registry::{self, Rule};

/// Whether a text may hold suppressions at all: files without it skip all the work.
pub fn may_have_suppressions(text: &[u8]) -> bool {
    memchr::memmem::find(text, b"waitlint:").is_some()
}

/// The lines (1-based, inclusive) or the file a suppression silences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The comment's own line (a comment at the end of a line).
    Line(usize),
    /// The line after the comment (skipping blank and comment lines); `None` when the file ends
    /// first.
    NextLine(Option<usize>),
    /// A Rust item (and its attributes), first and last line.
    Item(usize, usize),
    /// The whole file.
    File,
}

impl Scope {
    fn contains(self, line: usize) -> bool {
        match self {
            Scope::Line(l) | Scope::NextLine(Some(l)) => l == line,
            Scope::NextLine(None) => false,
            Scope::Item(first, last) => (first..=last).contains(&line),
            Scope::File => true,
        }
    }

    fn describe(self) -> String {
        match self {
            Scope::Line(l) | Scope::NextLine(Some(l)) => format!("on line {l}"),
            Scope::NextLine(None) => "after the comment (the file ends first)".to_string(),
            Scope::Item(first, last) => format!("in the item on lines {first}-{last}"),
            Scope::File => "in this file".to_string(),
        }
    }
}

/// One name of a suppression's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuppressedName {
    pub text: String,
    pub span: Span,
    /// `None` when the name is neither a rule name nor a code.
    pub rule: Option<&'static Rule>,
}

/// One suppression comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// The comment, from `#` or `//` to the end of the line.
    pub comment: Span,
    /// What removing the comment deletes: its whole line (line break included) when it is
    /// alone on it, else the comment and the blanks before it.
    pub removal: Span,
    pub scope: Scope,
    /// Empty when the comment starts with `waitlint:` but is not a suppression waitlint reads.
    pub names: Vec<SuppressedName>,
    /// The separator to use when the list is rewritten (`,` or `, `, as written).
    separator: &'static str,
}

impl Suppression {
    fn indices_of(&self, rule: &Rule) -> impl Iterator<Item = usize> + '_ {
        let rule: *const Rule = rule;
        self.names
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.rule.is_some_and(|r| std::ptr::eq(r, rule)))
            .map(|(i, _)| i)
    }
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// The bytes of 0-based line `index`, without its line break.
fn line_bytes<'t>(text: &'t [u8], lines: &LineIndex, index: usize) -> &'t [u8] {
    let start = lines.line_start(index).unwrap_or(text.len() as u32) as usize;
    let end = lines
        .line_start(index + 1)
        .map_or(text.len(), |s| s as usize - 1);
    &text[start.min(text.len())..end.max(start).min(text.len())]
}

/// The end of the line break after `offset` (`\r\n` or `\n`), or the end of the text.
fn after_line_break(text: &[u8], offset: usize) -> usize {
    let mut i = offset;
    while i < text.len() && text[i] != b'\n' {
        i += 1;
    }
    (i + 1).min(text.len())
}

/// The span that removes a comment at `start..end`: the whole line when nothing but blanks
/// precede it, else the comment and the blanks before it.
fn removal_span(text: &[u8], line_start: usize, start: usize, end: usize) -> (Span, bool) {
    if is_blank(&text[line_start..start]) {
        (Span::new(line_start, after_line_break(text, end)), true)
    } else {
        let mut from = start;
        while from > line_start && matches!(text[from - 1], b' ' | b'\t') {
            from -= 1;
        }
        (Span::new(from, end), false)
    }
}

/// The first line after 0-based line `index` for which `is_code` holds, 1-based.
fn next_code_line(
    lines: &LineIndex,
    index: usize,
    is_code: impl Fn(usize) -> bool,
) -> Option<usize> {
    (index + 1..lines.line_count())
        .find(|&i| is_code(i))
        .map(|i| i + 1)
}

/// What a `waitlint:` comment says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DirectiveKind {
    Disable,
    DisableFile,
    Allow,
}

/// A parsed `waitlint:` comment: its kind, its names as (text, offset in the comment body) and
/// its separator style; `kind` is `None` when it starts with `waitlint:` but is none of them.
#[derive(Debug, PartialEq, Eq)]
struct Directive {
    kind: Option<DirectiveKind>,
    names: Vec<(String, usize)>,
    separator: &'static str,
}

impl Directive {
    const MALFORMED: Directive = Directive {
        kind: None,
        names: Vec::new(),
        separator: ",",
    };
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Reads `NAME[, NAME]...` from `s` at `at`; returns the names, where the list ends, and the
/// separator style.
fn name_list(s: &str, mut at: usize) -> (Vec<(String, usize)>, usize, &'static str) {
    let b = s.as_bytes();
    let mut names = Vec::new();
    let mut spaced = false;
    loop {
        while at < b.len() && b[at] == b' ' {
            at += 1;
        }
        let start = at;
        while at < b.len() && is_name_byte(b[at]) {
            at += 1;
        }
        if at == start {
            break;
        }
        names.push((s[start..at].to_string(), start));
        let mut next = at;
        while next < b.len() && b[next] == b' ' {
            next += 1;
        }
        if next < b.len() && b[next] == b',' {
            spaced |= b.get(next + 1) == Some(&b' ');
            at = next + 1;
        } else {
            break;
        }
    }
    (names, at, if spaced { ", " } else { "," })
}

/// Parses a comment's text (after `#` or `//`). `None` when it is not a `waitlint:` comment.
fn parse_directive(body: &str) -> Option<Directive> {
    let lead = body.len() - body.trim_start().len();
    let rest = body[lead..].strip_prefix("waitlint:")?;
    let mut at = lead + "waitlint:".len();
    at += rest.len() - rest.trim_start().len();
    let tail = &body[at..];
    let Some((kind, prefix)) = [
        (DirectiveKind::DisableFile, "disable-file="),
        (DirectiveKind::Disable, "disable="),
        (DirectiveKind::Allow, "allow("),
    ]
    .into_iter()
    .find(|(_, p)| tail.starts_with(p)) else {
        return Some(Directive::MALFORMED);
    };
    let (names, end, separator) = name_list(body, at + prefix.len());
    if names.is_empty()
        || (kind == DirectiveKind::Allow && !body[end..].trim_start().starts_with(')'))
    {
        return Some(Directive::MALFORMED);
    }
    Some(Directive {
        kind: Some(kind),
        names,
        separator,
    })
}

fn resolve(names: Vec<(String, usize)>, body_offset: usize) -> Vec<SuppressedName> {
    names
        .into_iter()
        .map(|(text, at)| SuppressedName {
            rule: registry::find(&text),
            span: Span::new(body_offset + at, body_offset + at + text.len()),
            text,
        })
        .collect()
}

/// A `#` comment of nginx or sysctl at `start..end` (the `#` at `start`).
fn hash_comment(
    text: &[u8],
    lines: &LineIndex,
    start: usize,
    end: usize,
    is_code_line: &dyn Fn(usize) -> bool,
) -> Option<Suppression> {
    let body = String::from_utf8_lossy(&text[start + 1..end]);
    let directive = parse_directive(&body)?;
    let index = lines.line(start as u32) - 1;
    let line_start = lines.line_start(index).unwrap_or(0) as usize;
    let (removal, alone) = removal_span(text, line_start, start, end);
    // Lossy decoding keeps offsets only for valid UTF-8; a comment with invalid bytes before
    // its names is rare enough to be read as malformed.
    let valid = std::str::from_utf8(&text[start + 1..end]).is_ok();
    let directive = if valid {
        directive
    } else {
        Directive::MALFORMED
    };
    let scope = match directive.kind {
        Some(DirectiveKind::Disable) if alone => {
            Scope::NextLine(next_code_line(lines, index, is_code_line))
        }
        Some(DirectiveKind::DisableFile) => Scope::File,
        _ => Scope::Line(index + 1),
    };
    let (names, separator) = match directive.kind {
        Some(DirectiveKind::Disable | DirectiveKind::DisableFile) => {
            (resolve(directive.names, start + 1), directive.separator)
        }
        _ => (Vec::new(), ","),
    };
    Some(Suppression {
        comment: Span::new(start, end),
        removal,
        scope,
        names,
        separator,
    })
}

/// The suppressions of an nginx file, from the parser's comments (so a `#` inside a quoted
/// string is never read as one).
pub fn nginx(text: &[u8], comments: &[Comment]) -> Vec<Suppression> {
    if !may_have_suppressions(text) {
        return Vec::new();
    }
    let lines = LineIndex::new(text);
    // Lines that hold nothing but a comment.
    let mut comment_lines = std::collections::HashSet::new();
    for c in comments {
        let index = lines.line(c.span.start) - 1;
        let line_start = lines.line_start(index).unwrap_or(0) as usize;
        if is_blank(&text[line_start..c.span.start as usize]) {
            comment_lines.insert(index);
        }
    }
    let is_code_line =
        |i: usize| !comment_lines.contains(&i) && !is_blank(line_bytes(text, &lines, i));
    comments
        .iter()
        .filter_map(|c| {
            let start = c.span.start as usize;
            // The span stops before the line break; a CR before it is not the comment's.
            let mut end = (c.span.end as usize).min(text.len());
            while end > start + 1 && text[end - 1] == b'\r' {
                end -= 1;
            }
            hash_comment(text, &lines, start, end, &is_code_line)
        })
        .collect()
}

/// The suppressions of a sysctl file: a comment runs from the first `#` of a line to its end
/// (sysctl has no quoting); lines starting with `#` or `;` are comment lines.
pub fn sysctl(text: &[u8]) -> Vec<Suppression> {
    if !may_have_suppressions(text) {
        return Vec::new();
    }
    let lines = LineIndex::new(text);
    let is_code_line = |i: usize| {
        let line = line_bytes(text, &lines, i);
        let first = line.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\r'));
        !matches!(first, None | Some(b'#' | b';'))
    };
    let mut out = Vec::new();
    for index in 0..lines.line_count() {
        let line_start = lines.line_start(index).unwrap_or(0) as usize;
        let line = line_bytes(text, &lines, index);
        let Some(hash) = line.iter().position(|&b| b == b'#') else {
            continue;
        };
        let mut end = line_start + line.len();
        while end > line_start + hash + 1 && text[end - 1] == b'\r' {
            end -= 1;
        }
        out.extend(hash_comment(
            text,
            &lines,
            line_start + hash,
            end,
            &is_code_line,
        ));
    }
    out
}

/// What the Rust scanner finds outside strings, chars and comments.
struct RustScan {
    /// `//` comments (not doc comments `///`, `//!`): (start of `//`, end of line).
    line_comments: Vec<(usize, usize)>,
    /// Per 0-based line: whether it holds anything but blanks and comments.
    has_code: Vec<bool>,
}

/// A small Rust lexer: enough to tell code from strings and comments (nested block comments,
/// raw strings, byte and C strings, char literals versus lifetimes).
fn scan_rust(text: &str, lines: &LineIndex) -> RustScan {
    let b = text.as_bytes();
    let mut out = RustScan {
        line_comments: Vec::new(),
        has_code: vec![false; lines.line_count()],
    };
    let mark = |has_code: &mut Vec<bool>, from: usize, to: usize| {
        let first = lines.line(from as u32) - 1;
        let last = lines.line(to.saturating_sub(1).max(from) as u32) - 1;
        for flag in &mut has_code[first..=last] {
            *flag = true;
        }
    };
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p);
                let mut trimmed = end;
                while trimmed > i && b[trimmed - 1] == b'\r' {
                    trimmed -= 1;
                }
                let doc = matches!(b.get(i + 2), Some(b'!'))
                    || (b.get(i + 2) == Some(&b'/') && b.get(i + 3) != Some(&b'/'));
                if !doc {
                    out.line_comments.push((i, trimmed));
                }
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 1;
                i += 2;
                while i < b.len() && depth > 0 {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(b.len());
                mark(&mut out.has_code, start, i);
            }
            b'r' if {
                // A raw string: `r"`, `r#"`, after nothing or after `b`/`c` (`br"`, `cr"`).
                let prefix_ok = i == 0
                    || !is_ident(b[i - 1])
                    || (matches!(b[i - 1], b'b' | b'c') && (i < 2 || !is_ident(b[i - 2])));
                let hashes = b[i + 1..].iter().take_while(|&&x| x == b'#').count();
                prefix_ok && b.get(i + 1 + hashes) == Some(&b'"')
            } =>
            {
                let start = i;
                let hashes = b[i + 1..].iter().take_while(|&&x| x == b'#').count();
                i += 2 + hashes;
                loop {
                    if i >= b.len() {
                        break;
                    }
                    if b[i] == b'"'
                        && b.len() >= i + 1 + hashes
                        && b[i + 1..i + 1 + hashes].iter().all(|&x| x == b'#')
                    {
                        i += 1 + hashes;
                        break;
                    }
                    i += 1;
                }
                mark(&mut out.has_code, start, i.min(b.len()));
            }
            b'\'' => {
                let start = i;
                if b.get(i + 1) == Some(&b'\\') {
                    // An escaped char: `'\n'`, `'\''`, `'\u{7f}'`.
                    i += 3;
                    while i < b.len() && b[i] != b'\'' && b[i] != b'\n' {
                        i += 1;
                    }
                    i = (i + 1).min(b.len());
                } else {
                    let width = text[i + 1..].chars().next().map_or(0, char::len_utf8);
                    if width > 0 && b.get(i + 1 + width) == Some(&b'\'') {
                        i += 2 + width; // a char literal such as '{'
                    } else {
                        i += 1; // a lifetime or a label
                    }
                }
                mark(&mut out.has_code, start, i);
            }
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            _ => {
                mark(&mut out.has_code, i, i + 1);
                i += 1;
            }
        }
    }
    out
}

/// The extents of a Rust file's items and statements, from its syntax tree: what a suppression
/// alone on the line before one of them covers. The Rust analyzer builds it from the parse it
/// lints ([`crate::rust::lint_in_crate`]), so a file is parsed once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RustItems {
    /// (start, end) byte offsets, outer attributes and doc comments included, sorted by start
    /// and, for equal starts, longest first.
    extents: Vec<(u32, u32)>,
}

impl RustItems {
    /// Every item of `file` (at any depth: in modules, impls, traits, function bodies), every
    /// associated item, statement, match arm, struct field and enum variant. Must run while
    /// proc-macro2 still holds the parse's span information.
    pub fn of(file: &syn::File) -> RustItems {
        use syn::spanned::Spanned;
        use syn::visit::Visit;
        struct Collect(Vec<(u32, u32)>);
        impl Collect {
            fn add(&mut self, node: &impl Spanned) {
                let r = node.span().byte_range();
                self.0.push((r.start as u32, r.end.max(r.start) as u32));
            }
        }
        impl<'a> Visit<'a> for Collect {
            fn visit_item(&mut self, i: &'a syn::Item) {
                self.add(i);
                syn::visit::visit_item(self, i);
            }
            fn visit_impl_item(&mut self, i: &'a syn::ImplItem) {
                self.add(i);
                syn::visit::visit_impl_item(self, i);
            }
            fn visit_trait_item(&mut self, i: &'a syn::TraitItem) {
                self.add(i);
                syn::visit::visit_trait_item(self, i);
            }
            fn visit_foreign_item(&mut self, i: &'a syn::ForeignItem) {
                self.add(i);
                syn::visit::visit_foreign_item(self, i);
            }
            fn visit_stmt(&mut self, s: &'a syn::Stmt) {
                self.add(s);
                syn::visit::visit_stmt(self, s);
            }
            fn visit_arm(&mut self, a: &'a syn::Arm) {
                self.add(a);
                syn::visit::visit_arm(self, a);
            }
            fn visit_field(&mut self, f: &'a syn::Field) {
                self.add(f);
                syn::visit::visit_field(self, f);
            }
            fn visit_variant(&mut self, v: &'a syn::Variant) {
                self.add(v);
                syn::visit::visit_variant(self, v);
            }
        }
        let mut collect = Collect(Vec::new());
        collect.visit_file(file);
        let mut extents = collect.0;
        extents.sort_by_key(|&(start, end)| (start, std::cmp::Reverse(end)));
        RustItems { extents }
    }

    /// The outermost extent that starts first within `from..to`.
    fn first_in(&self, from: u32, to: u32) -> Option<(u32, u32)> {
        let i = self.extents.partition_point(|&(start, _)| start < from);
        self.extents
            .get(i)
            .filter(|&&(start, _)| start < to)
            .copied()
    }
}

/// The suppressions of a Rust file: `// waitlint: allow(NAME[, NAME])`. `items` are the file's
/// item and statement extents ([`RustItems::of`]); without them (a file that does not parse) a
/// comment alone on its line covers the next code line only.
pub fn rust(text: &str, items: &RustItems) -> Vec<Suppression> {
    let bytes = text.as_bytes();
    if !may_have_suppressions(bytes) {
        return Vec::new();
    }
    let lines = LineIndex::new(bytes);
    let scan = scan_rust(text, &lines);
    let mut out = Vec::new();
    for &(start, end) in &scan.line_comments {
        let Some(directive) = parse_directive(&text[start + 2..end]) else {
            continue;
        };
        let index = lines.line(start as u32) - 1;
        let line_start = lines.line_start(index).unwrap_or(0) as usize;
        let (removal, alone) = removal_span(bytes, line_start, start, end);
        let (names, separator) = match directive.kind {
            Some(DirectiveKind::Allow) => {
                (resolve(directive.names, start + 2), directive.separator)
            }
            _ => (Vec::new(), ","),
        };
        let scope = if names.is_empty() || !alone {
            Scope::Line(index + 1)
        } else {
            rust_target(bytes.len(), &lines, &scan, items, index, end)
        };
        out.push(Suppression {
            comment: Span::new(start, end),
            removal,
            scope,
            names,
            separator,
        });
    }
    out
}

/// What a Rust suppression alone on 0-based line `index` and ending at `after` covers: the
/// next code line or, when an item or a statement starts there (its attributes included), all
/// of it.
fn rust_target(
    len: usize,
    lines: &LineIndex,
    scan: &RustScan,
    items: &RustItems,
    index: usize,
    after: usize,
) -> Scope {
    let code = |i: usize| scan.has_code.get(i).copied().unwrap_or(false);
    let Some(first) = next_code_line(lines, index, code) else {
        return Scope::NextLine(None);
    };
    // Doc comments are not code lines, but they are attributes: an item's extent starts at its
    // first one, which may lie between the suppression and the first code line.
    let to = lines.line_start(first).unwrap_or(len as u32);
    match items.first_in(after as u32, to) {
        Some((start, end)) => {
            let (first_line, last_line) = (
                lines.line(start),
                lines.line(end.saturating_sub(1).max(start)),
            );
            if first_line == last_line && first_line == first {
                Scope::NextLine(Some(first))
            } else {
                Scope::Item(first_line, last_line)
            }
        }
        None => Scope::NextLine(Some(first)),
    }
}

fn names_list(names: &[&SuppressedName]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", n.text))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why one name suppresses nothing.
fn reason(name: &SuppressedName, scope: Scope) -> String {
    match name.rule {
        None => format!("`{}` is not a waitlint rule name or code", name.text),
        Some(r) if std::ptr::eq(r, &SYNTAX_ERROR) => {
            format!("`{}`: syntax errors cannot be suppressed", name.text)
        }
        Some(r) => format!(
            "`{}` ({}) reported nothing {}",
            name.text,
            if name.text == r.name { r.code } else { r.name },
            scope.describe()
        ),
    }
}

/// The WL003 finding for a suppression whose names at `unused` suppress nothing (all of them,
/// or a malformed comment when it has no names).
fn unused_report(file: FileIndex, s: &Suppression, unused: &[usize]) -> Diagnostic {
    let at = Location::new(file, s.comment);
    if s.names.is_empty() {
        return Diagnostic::new(
            &UNUSED_SUPPRESSION,
            at,
            "this `waitlint:` comment is not a suppression waitlint understands",
        )
        .primary_label("suppresses nothing")
        .help("write `waitlint: disable=NAME`, `waitlint: disable-file=NAME` (nginx, sysctl) or `waitlint: allow(NAME)` (Rust)");
    }
    let names: Vec<&SuppressedName> = unused.iter().map(|&i| &s.names[i]).collect();
    let all = unused.len() == s.names.len();
    let message = if names.len() == 1 {
        format!("unused suppression: {}", reason(names[0], s.scope))
    } else {
        format!("unused suppression of {}", names_list(&names))
    };
    let mut d = Diagnostic::new(&UNUSED_SUPPRESSION, at, message).primary_label(if all {
        "suppresses nothing".to_string()
    } else {
        format!("{} suppresses nothing", names_list(&names))
    });
    if names.len() > 1 {
        for n in &names {
            d = d.note(reason(n, s.scope));
        }
    }
    d = d.note("a stale suppression would hide the next real finding here");
    let fix = if all {
        Fix {
            description: "remove the suppression comment".to_string(),
            edits: vec![Edit {
                location: Location::new(file, s.removal),
                replacement: String::new(),
            }],
            safe: true,
        }
    } else {
        let kept: Vec<&str> = s
            .names
            .iter()
            .enumerate()
            .filter(|(i, _)| !unused.contains(i))
            .map(|(_, n)| n.text.as_str())
            .collect();
        let first = s.names.first().expect("names is not empty").span;
        let last = s.names.last().expect("names is not empty").span;
        Fix {
            description: format!("remove {} from the suppression", names_list(&names)),
            edits: vec![Edit {
                location: Location::new(file, first.cover(last)),
                replacement: kept.join(s.separator),
            }],
            safe: true,
        }
    };
    d.fix(fix)
}

/// Applies a file's suppressions to a unit's diagnostics: removes the findings in `file` they
/// silence and adds a WL003 (`unused-suppression`) finding for each suppression, or each name
/// of one, that silences nothing. Findings in other files and syntax errors are left alone.
/// `unused-suppression` itself can be named (`disable-file=unused-suppression`).
pub fn apply(
    file: FileIndex,
    text: &[u8],
    suppressions: &[Suppression],
    diagnostics: Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    if suppressions.is_empty() {
        return diagnostics;
    }
    let lines = LineIndex::new(text);
    let mut used: Vec<Vec<bool>> = suppressions
        .iter()
        .map(|s| vec![false; s.names.len()])
        .collect();
    let silence = |rule: &Rule, line: usize, used: &mut Vec<Vec<bool>>| {
        let mut hit = false;
        for (s, flags) in suppressions.iter().zip(used.iter_mut()) {
            if s.scope.contains(line) {
                for i in s.indices_of(rule) {
                    flags[i] = true;
                    hit = true;
                }
            }
        }
        hit
    };
    let mut out: Vec<Diagnostic> = diagnostics
        .into_iter()
        .filter(|d| {
            let loc = d.primary.location;
            if loc.file != file
                || std::ptr::eq(d.rule, &SYNTAX_ERROR)
                || std::ptr::eq(d.rule, &UNUSED_SUPPRESSION)
            {
                return true;
            }
            !silence(d.rule, lines.line(loc.span.start), &mut used)
        })
        .collect();
    // Unused names other than `unused-suppression`; their reports can themselves be silenced
    // by a suppression of `unused-suppression`.
    let is_meta = |n: &SuppressedName| n.rule.is_some_and(|r| std::ptr::eq(r, &UNUSED_SUPPRESSION));
    let mut pending: Vec<Vec<usize>> = Vec::with_capacity(suppressions.len());
    for (s, flags) in suppressions.iter().zip(&used) {
        let unused: Vec<usize> = (0..s.names.len())
            .filter(|&i| !flags[i] && !is_meta(&s.names[i]))
            .collect();
        pending.push(unused);
    }
    let mut reported = vec![false; suppressions.len()];
    for (k, s) in suppressions.iter().enumerate() {
        if pending[k].is_empty() && !s.names.is_empty() {
            continue;
        }
        let line = lines.line(s.comment.start);
        reported[k] = !silence(&UNUSED_SUPPRESSION, line, &mut used);
    }
    for (k, s) in suppressions.iter().enumerate() {
        let mut unused = if reported[k] {
            pending[k].clone()
        } else {
            Vec::new()
        };
        unused.extend((0..s.names.len()).filter(|&i| !used[k][i] && is_meta(&s.names[i])));
        unused.sort_unstable();
        if !unused.is_empty() || (reported[k] && s.names.is_empty()) {
            out.push(unused_report(file, s, &unused));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::rules::keepalive_disabled::KEEPALIVE_DISABLED;

    fn finding(text: &str, needle: &str) -> Diagnostic {
        let at = text.find(needle).expect("needle in text");
        Diagnostic::new(
            &KEEPALIVE_DISABLED,
            Location::new(0, Span::new(at, at + needle.len())),
            "keepalive_timeout is 0",
        )
    }

    fn nginx_apply(text: &str, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
        let parse = nginx_parser::parse(text.as_bytes());
        let s = nginx(text.as_bytes(), &parse.config.comments);
        apply(0, text.as_bytes(), &s, diagnostics)
    }

    fn parsed_items(text: &str) -> RustItems {
        let file = syn::parse_file(text).expect("valid Rust");
        let items = RustItems::of(&file);
        proc_macro2::extra::invalidate_current_thread_spans();
        items
    }

    fn rust_parsed(text: &str) -> Vec<Suppression> {
        rust(text, &parsed_items(text))
    }

    fn codes(ds: &[Diagnostic]) -> Vec<&'static str> {
        ds.iter().map(|d| d.rule.code).collect()
    }

    fn apply_fix(text: &str, d: &Diagnostic) -> String {
        let mut out = text.to_string();
        let mut edits = d.fix.as_ref().expect("a fix").edits.clone();
        edits.sort_by_key(|e| std::cmp::Reverse(e.location.span.start));
        for e in edits {
            out.replace_range(e.location.span.range(), &e.replacement);
        }
        out
    }

    #[test]
    fn directives_parse() {
        let d = |kind, names: &[(&str, usize)], separator| {
            Some(Directive {
                kind: Some(kind),
                names: names.iter().map(|(n, at)| (n.to_string(), *at)).collect(),
                separator,
            })
        };
        assert_eq!(parse_directive(" plain comment"), None);
        assert_eq!(
            parse_directive(" waitlint: disable=a,b"),
            d(DirectiveKind::Disable, &[("a", 19), ("b", 21)], ",")
        );
        assert_eq!(
            parse_directive("waitlint:disable-file=NGX001, x -- why"),
            d(
                DirectiveKind::DisableFile,
                &[("NGX001", 22), ("x", 30)],
                ", "
            )
        );
        assert_eq!(
            parse_directive(" waitlint: allow(a, b)"),
            d(DirectiveKind::Allow, &[("a", 17), ("b", 20)], ", ")
        );
        for bad in [
            " waitlint: allow(a",
            " waitlint: disabel=a",
            " waitlint: disable=",
        ] {
            assert_eq!(parse_directive(bad), Some(Directive::MALFORMED), "{bad}");
        }
    }

    #[test]
    fn nginx_end_of_line() {
        let text = "http {\n    keepalive_timeout 0;  # waitlint: disable=keepalive-disabled\n}\n";
        let out = nginx_apply(text, vec![finding(text, "0;")]);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn nginx_line_before_skips_blank_and_comment_lines() {
        let text = "http {\n    # waitlint: disable=NGX001\n\n    # why: legacy clients\n    keepalive_timeout 0;\n}\n";
        let out = nginx_apply(text, vec![finding(text, "0;")]);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn nginx_disable_file() {
        let text = "http {\n    keepalive_timeout 0;\n    server { keepalive_timeout 0s; }\n}\n# waitlint: disable-file=keepalive-disabled\n";
        let out = nginx_apply(text, vec![finding(text, "0;"), finding(text, "0s;")]);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn nginx_unused_is_reported_with_a_fix() {
        let text =
            "http {\n    keepalive_timeout 65s;  # waitlint: disable=keepalive-disabled\n}\n";
        let out = nginx_apply(text, Vec::new());
        assert_eq!(codes(&out), ["WL003"]);
        let d = &out[0];
        assert_eq!(d.primary.location.span, {
            let at = text.find('#').unwrap();
            Span::new(at, at + "# waitlint: disable=keepalive-disabled".len())
        });
        assert!(
            d.message.contains("reported nothing on line 2"),
            "{}",
            d.message
        );
        assert!(d.fix.as_ref().unwrap().safe);
        assert_eq!(
            apply_fix(text, d),
            "http {\n    keepalive_timeout 65s;\n}\n"
        );
    }

    #[test]
    fn nginx_unused_line_comment_is_removed_with_its_line() {
        let text = "http {\n    # waitlint: disable=nope\n    keepalive_timeout 65s;\n}\n";
        let out = nginx_apply(text, Vec::new());
        assert_eq!(codes(&out), ["WL003"]);
        assert!(out[0].message.contains("`nope` is not a waitlint rule"));
        assert_eq!(
            apply_fix(text, &out[0]),
            "http {\n    keepalive_timeout 65s;\n}\n"
        );
    }

    #[test]
    fn nginx_partly_unused_list_loses_only_the_unused_name() {
        let text = "http {\n    keepalive_timeout 0; # waitlint: disable=nope, keepalive-disabled, NGX001\n}\n";
        let out = nginx_apply(text, vec![finding(text, "0;")]);
        assert_eq!(codes(&out), ["WL003"]);
        assert_eq!(
            apply_fix(text, &out[0]),
            "http {\n    keepalive_timeout 0; # waitlint: disable=keepalive-disabled, NGX001\n}\n"
        );
    }

    #[test]
    fn nginx_hash_in_a_string_is_not_a_comment() {
        let text = "http {\n    add_header X \"# waitlint: disable=keepalive-disabled\";\n    keepalive_timeout 0;\n}\n";
        let out = nginx_apply(text, vec![finding(text, "0;")]);
        assert_eq!(codes(&out), ["NGX001"]);
    }

    #[test]
    fn syntax_errors_cannot_be_suppressed() {
        let text = "http {\n    keepalive_timeout 0  # waitlint: disable=syntax-error\n}\n";
        let syntax = Diagnostic::new(
            &SYNTAX_ERROR,
            Location::new(0, Span::new(6, 7)),
            "missing `;`",
        );
        let out = nginx_apply(text, vec![syntax]);
        assert_eq!(codes(&out), ["WL001", "WL003"]);
        assert!(out[1].message.contains("cannot be suppressed"));
    }

    #[test]
    fn other_files_are_left_alone() {
        let text = "keepalive_timeout 0; # waitlint: disable=keepalive-disabled\n";
        let mut other = finding(text, "0;");
        other.primary.location.file = 1;
        let out = nginx_apply(text, vec![other]);
        assert_eq!(codes(&out), ["NGX001", "WL003"]);
    }

    #[test]
    fn unused_suppression_can_be_silenced() {
        let text = "# waitlint: disable-file=unused-suppression\nkeepalive_timeout 65s; # waitlint: disable=NGX001\n";
        assert!(nginx_apply(text, Vec::new()).is_empty());
        // ... and is itself reported when there is nothing to silence.
        let text = "# waitlint: disable-file=unused-suppression\n";
        assert_eq!(codes(&nginx_apply(text, Vec::new())), ["WL003"]);
    }

    #[test]
    fn malformed_comments_are_reported_without_a_fix() {
        let text = "keepalive_timeout 65s; # waitlint: disabel=NGX001\n";
        let out = nginx_apply(text, Vec::new());
        assert_eq!(codes(&out), ["WL003"]);
        assert!(out[0].fix.is_none());
    }

    #[test]
    fn sysctl_comments() {
        let text = "# waitlint: disable=NGX001\n; a comment\nnet.ipv4.tcp_tw_reuse = 0\nnet.core.somaxconn = 1 # waitlint: disable=keepalive-disabled\n";
        let s = sysctl(text.as_bytes());
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].scope, Scope::NextLine(Some(3)));
        assert_eq!(s[1].scope, Scope::Line(4));
        let out = apply(0, text.as_bytes(), &s, vec![finding(text, "0\n")]);
        assert_eq!(codes(&out), ["WL003"]);
        assert_eq!(
            out[0].primary.location.span.start as usize,
            text.rfind('#').unwrap()
        );
    }

    #[test]
    fn rust_line_before_and_end_of_line() {
        let text = "fn main() {\n    // waitlint: allow(keepalive-disabled)\n    let a = 1;\n    let b = 2; // waitlint: allow(NGX001)\n}\n";
        let s = rust_parsed(text);
        assert_eq!(
            s.iter().map(|s| s.scope).collect::<Vec<_>>(),
            [Scope::NextLine(Some(3)), Scope::Line(4)]
        );
        let out = apply(
            0,
            text.as_bytes(),
            &s,
            vec![finding(text, "a = 1"), finding(text, "b = 2")],
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn rust_item_is_covered_through_its_closing_brace() {
        let text = r##"// waitlint: allow(keepalive-disabled)
/// Docs.
#[derive(Debug)]
#[cfg(all(
    unix,
    test
))]
pub(crate) fn f(x: [u8; 4]) -> usize {
    let s = "}}}";
    let c = '}';
    let r = r#"{"#;
    /* } */ // }
    if true { 1 } else { 2 }
}
fn g() {}
"##;
        let s = rust_parsed(text);
        assert_eq!(s.len(), 1);
        // The doc comment is the item's first attribute.
        assert_eq!(s[0].scope, Scope::Item(2, 14));
        let inside = finding(text, "if true");
        let outside = finding(text, "fn g");
        let out = apply(0, text.as_bytes(), &s, vec![inside, outside]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].primary.location.span.start as usize,
            text.find("fn g").unwrap()
        );
    }

    #[test]
    fn rust_strings_and_doc_comments_are_not_suppressions() {
        let text =
            "const S: &str = \"// waitlint: allow(x)\";\n/// waitlint: allow(x)\nfn f() {}\n";
        assert!(rust_parsed(text).is_empty());
    }

    #[test]
    fn rust_items_come_from_the_syntax_tree() {
        let text = "struct S(u32);\nimpl S {\n    fn f(&self) -> u32 {\n        fn inner() {}\n        match self.0 {\n            0 => 1,\n            n => n,\n        }\n    }\n}\n";
        let items = parsed_items(text);
        let at = |needle: &str| text.find(needle).unwrap() as u32;
        let line_end = |needle: &str| {
            (at(needle) as usize + text[at(needle) as usize..].find('\n').unwrap()) as u32
        };
        // The struct, the impl, the method, the nested fn (item and statement), the match
        // statement and its arms.
        assert_eq!(items.first_in(0, 1), Some((0, 14)));
        assert_eq!(
            items.first_in(at("impl"), at("impl") + 1),
            Some((at("impl"), text.len() as u32 - 1))
        );
        assert_eq!(
            items.first_in(at("fn f"), at("fn f") + 1).map(|e| e.1),
            Some(line_end("    }\n}"))
        );
        assert_eq!(
            items.first_in(at("fn inner"), at("fn inner") + 1),
            Some((at("fn inner"), line_end("fn inner")))
        );
        assert_eq!(
            items.first_in(at("0 =>"), at("0 =>") + 1).map(|e| e.0),
            Some(at("0 =>"))
        );
        assert_eq!(items.first_in(at("1,") + 2, at("n =>")), None);
    }
}
