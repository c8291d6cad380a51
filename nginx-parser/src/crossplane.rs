//! Output in the shape of crossplane's JSON (`crossplane parse`), and waitlint's own AST as JSON.
//!
//! crossplane is the reference nginx parser most tools compare against; this output lets
//! `../shared/bin/nginx-conformance` diff the two on real configs. Words are printed as
//! crossplane's lexer reads them ([`crossplane_word`]), which is what crossplane's consumers and
//! its `build` expect; nginx's own values are in [`ast_json`]. The tree is waitlint's parse in
//! crossplane's reading ([`crate::Reading::Crossplane`]; docs/nginx-grammar.md lists where it
//! departs from nginx's), as lossy UTF-8.

use serde_json::{json, Map, Value};

use crate::ast::{Comment, Directive, Quote, Word};
use crate::error::ParseErrorKind;
use crate::parser::Parse;
use crate::span::{LineIndex, Span};

fn text(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

/// One file's entry of crossplane's `config` list.
pub struct FilePayload<'a> {
    pub file: &'a str,
    pub source: &'a [u8],
    pub parse: &'a Parse,
    /// Errors found outside the parser (e.g. a missing include), with their spans in this file.
    pub extra_errors: Vec<(Span, String)>,
}

/// For an `include` directive of file `index`, the indexes of the files it pulled in.
pub type IncludesOf<'a> = &'a dyn Fn(usize, &Directive) -> Vec<usize>;

/// Options of the crossplane rendering.
pub struct CrossplaneOptions<'a> {
    pub include_comments: bool,
    /// For an `include` directive (by its name span), the indexes of the files it pulled in,
    /// which crossplane prints as `includes`; `None` for a single-file parse.
    pub includes: Option<IncludesOf<'a>>,
}

/// The whole crossplane document for a list of files (the first is the main file).
pub fn document(files: &[FilePayload<'_>], options: &CrossplaneOptions<'_>) -> Value {
    let mut all_errors = Vec::new();
    let mut configs = Vec::new();
    for (index, f) in files.iter().enumerate() {
        let lines = LineIndex::new(f.source);
        // crossplane gives no line for end of file inside a statement.
        let mut errors: Vec<(Span, &str, bool)> = f
            .parse
            .errors
            .iter()
            .map(|e| {
                let lined = e.kind != ParseErrorKind::EndOfFileInStatement;
                (e.span, e.message.as_str(), lined)
            })
            .chain(f.extra_errors.iter().map(|(s, m)| (*s, m.as_str(), true)))
            .collect();
        errors.sort_by_key(|(span, _, _)| span.start);
        let mut file_errors = Vec::new();
        for &(span, message, lined) in &errors {
            let (error, line) = if lined {
                let line = lines.line(span.start);
                (format!("{message} in {}:{line}", f.file), Value::from(line))
            } else {
                (format!("{message} in {}", f.file), Value::Null)
            };
            all_errors.push(json!({ "file": f.file, "error": error, "line": line }));
            file_errors.push(json!({ "error": error, "line": line }));
        }
        let mut cursor = 0;
        let renderer = Renderer {
            source: f.source,
            lines: &lines,
            comments: &f.parse.config.comments,
            options,
            file_index: index,
        };
        let parsed = renderer.block(&f.parse.config.directives, u32::MAX, &mut cursor);
        configs.push(json!({
            "file": f.file,
            "status": if errors.is_empty() { "ok" } else { "failed" },
            "errors": file_errors,
            "parsed": parsed,
        }));
    }
    json!({
        "status": if all_errors.is_empty() { "ok" } else { "failed" },
        "errors": all_errors,
        "config": configs,
    })
}

struct Renderer<'a> {
    source: &'a [u8],
    lines: &'a LineIndex,
    comments: &'a [Comment],
    options: &'a CrossplaneOptions<'a>,
    file_index: usize,
}

impl Renderer<'_> {
    fn comment(&self, c: &Comment, line: usize) -> Value {
        json!({ "directive": "#", "line": line, "args": [], "comment": text(crossplane_comment(&c.text)) })
    }

    /// The directives of a block that ends at byte `end`, with the comments that fall among
    /// them. Like crossplane, a comment between a directive's arguments comes right after the
    /// directive (and its block), on the directive's line. Recursion depth is bounded by the
    /// parser's nesting limit.
    fn block(&self, directives: &[Directive], end: u32, cursor: &mut usize) -> Vec<Value> {
        let mut out = Vec::with_capacity(directives.len());
        for d in directives {
            self.comments_before(d.span.start, cursor, &mut out);
            let line = self.lines.line(d.name.span.start);
            let head_end = d
                .block
                .as_ref()
                .map(|b| b.open.start)
                .or(d.semicolon.map(|s| s.start))
                .unwrap_or(d.span.end);
            let mut trailing = Vec::new();
            while let Some(c) = self
                .comments
                .get(*cursor)
                .filter(|c| c.span.start < head_end)
            {
                if self.options.include_comments {
                    trailing.push(self.comment(c, line));
                }
                *cursor += 1;
            }
            let mut stmt = Map::new();
            stmt.insert(
                "directive".into(),
                Value::String(crossplane_word(&d.name, self.source)),
            );
            stmt.insert("line".into(), line.into());
            stmt.insert("args".into(), Value::Array(crossplane_args(d, self.source)));
            if let Some(includes) = self.options.includes {
                if d.is("include") {
                    stmt.insert("includes".into(), json!(includes(self.file_index, d)));
                }
            }
            if let Some(b) = &d.block {
                let inner = self.block(&b.directives, b.close.start, cursor);
                stmt.insert("block".into(), Value::Array(inner));
            }
            out.push(Value::Object(stmt));
            out.extend(trailing);
        }
        self.comments_before(end, cursor, &mut out);
        out
    }

    fn comments_before(&self, offset: u32, cursor: &mut usize, out: &mut Vec<Value>) {
        while let Some(c) = self.comments.get(*cursor).filter(|c| c.span.start < offset) {
            if self.options.include_comments {
                out.push(self.comment(c, self.lines.line(c.span.start)));
            }
            *cursor += 1;
        }
    }
}

/// A word as crossplane's lexer reads it: as written, quotes removed, and in a quoted word only
/// its own escaped quote unescaped (`\"` inside `"..."`); every other escape stays as written
/// (`\n` is two characters, `\"` in a bare word too). nginx unescapes more (`\t`, `\r`, `\n`,
/// `\\` and both quotes, in every word): that value is `Word::value`, printed by
/// [`ast_json`]. A Lua block's body is its value.
fn crossplane_word(w: &Word, source: &[u8]) -> String {
    let raw = w.raw(source);
    let quote = match w.quote {
        Quote::Double => b'"',
        Quote::Single => b'\'',
        Quote::None => return String::from_utf8_lossy(raw).into_owned(),
        Quote::LuaBlock => return String::from_utf8_lossy(&w.value).into_owned(),
    };
    let inner = raw
        .strip_prefix(&[quote])
        .and_then(|r| r.strip_suffix(&[quote]))
        .unwrap_or(raw);
    let mut out = Vec::with_capacity(inner.len());
    let mut rest = inner;
    while let Some((&b, tail)) = rest.split_first() {
        match (b, tail.first()) {
            (b'\\', Some(&next)) => {
                if next != quote {
                    out.push(b'\\');
                }
                out.push(next);
                rest = &tail[1..];
            }
            _ => {
                out.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A comment as crossplane's lexer reads it: its escape iterator glues a backslash to the next
/// character, so a comment ending in an unpaired `\` ends at that `\`+LF pair, without the
/// backslash (nginx keeps it: a comment runs to the end of the line).
fn crossplane_comment(text: &[u8]) -> &[u8] {
    let backslashes = text.iter().rev().take_while(|&&b| b == b'\\').count();
    if backslashes % 2 == 1 {
        &text[..text.len() - 1]
    } else {
        text
    }
}

/// Arguments as crossplane prints them: `if` loses the parentheses around its condition.
fn crossplane_args(d: &Directive, source: &[u8]) -> Vec<Value> {
    let mut args: Vec<String> = d.args.iter().map(|a| crossplane_word(a, source)).collect();
    if d.is("if")
        && args.first().is_some_and(|a| a.starts_with('('))
        && args.last().is_some_and(|a| a.ends_with(')'))
    {
        // The same steps, in the same order, as crossplane's _prepare_if_args.
        args[0] = args[0][1..].trim_start().to_string();
        let last = args.len() - 1;
        let trimmed = args[last]
            .strip_suffix(')')
            .unwrap_or(&args[last])
            .trim_end()
            .to_string();
        args[last] = trimmed;
        let start = usize::from(args[0].is_empty());
        let end = args.len() - usize::from(args[last].is_empty());
        args = if start <= end {
            args[start..end].to_vec()
        } else {
            Vec::new()
        };
    }
    args.into_iter().map(Value::String).collect()
}

fn span_json(s: Span) -> Value {
    json!([s.start, s.end])
}

fn word_json(w: &Word, source: &[u8]) -> Value {
    json!({
        "value": text(&w.value),
        "raw": text(w.raw(source)),
        "quote": w.quote.as_str(),
        "span": span_json(w.span),
    })
}

/// waitlint's own tree as JSON: every directive, word, brace and comment with its byte span
/// (and line, for reading). The format of `waitlint parse --format json`.
pub fn ast_json(file: &str, source: &[u8], parse: &Parse) -> Value {
    let lines = LineIndex::new(source);
    // Iterative so that the depth of the output does not depend on recursion; each stack entry
    // is an iterator over a block's directives and the array being filled for it.
    fn directive_json(d: &Directive, source: &[u8], lines: &LineIndex) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), word_json(&d.name, source));
        m.insert(
            "args".into(),
            Value::Array(d.args.iter().map(|a| word_json(a, source)).collect()),
        );
        m.insert("span".into(), span_json(d.span));
        m.insert("line".into(), lines.line(d.span.start).into());
        if let Some(s) = d.semicolon {
            m.insert("semicolon".into(), span_json(s));
        }
        if d.args.iter().any(|a| a.quote == Quote::LuaBlock) {
            m.insert("lua_block".into(), true.into());
        }
        m
    }
    type Level<'a> = (
        std::slice::Iter<'a, Directive>,
        Vec<Value>,
        Option<Map<String, Value>>,
    );
    let mut stack: Vec<Level<'_>> = vec![(parse.config.directives.iter(), Vec::new(), None)];
    let directives = loop {
        let top = stack
            .last_mut()
            .expect("stack holds the top level until it is returned");
        match top.0.next() {
            Some(d) => {
                let m = directive_json(d, source, &lines);
                match &d.block {
                    Some(b) => {
                        let mut m = m;
                        m.insert(
                            "block".into(),
                            json!({
                                "kind": match b.kind { crate::BlockKind::Directives => "directives", crate::BlockKind::Table => "table" },
                                "open": span_json(b.open),
                                "close": span_json(b.close),
                            }),
                        );
                        stack.push((b.directives.iter(), Vec::new(), Some(m)));
                    }
                    None => top.1.push(Value::Object(m)),
                }
            }
            None => {
                let (_, children, head) = stack.pop().expect("non-empty");
                match head {
                    Some(mut m) => {
                        if let Some(Value::Object(b)) = m.get_mut("block") {
                            b.insert("directives".into(), Value::Array(children));
                        }
                        stack
                            .last_mut()
                            .expect("a block has a parent level")
                            .1
                            .push(Value::Object(m));
                    }
                    None => break children,
                }
            }
        }
    };
    let comments: Vec<Value> = parse
        .config
        .comments
        .iter()
        .map(|c| json!({ "text": text(&c.text), "span": span_json(c.span), "line": lines.line(c.span.start) }))
        .collect();
    let errors: Vec<Value> = parse
        .errors
        .iter()
        .map(|e| {
            let mut m = json!({
                "kind": format!("{:?}", e.kind),
                "message": e.message,
                "span": span_json(e.span),
                "line": lines.line(e.span.start),
            });
            if let Some((span, label)) = &e.related {
                m["related"] = json!({ "span": span_json(*span), "line": lines.line(span.start), "message": label });
            }
            m
        })
        .collect();
    json!({ "file": file, "directives": directives, "comments": comments, "errors": errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The crossplane document of one file: its statements' directive and args, and comments.
    fn parsed(source: &str) -> Value {
        let parse = crate::parse(source.as_bytes());
        let doc = document(
            &[FilePayload {
                file: "t.conf",
                source: source.as_bytes(),
                parse: &parse,
                extra_errors: Vec::new(),
            }],
            &CrossplaneOptions {
                include_comments: true,
                includes: None,
            },
        );
        doc["config"][0]["parsed"].clone()
    }

    #[test]
    fn words_keep_their_escapes_as_crossplane_reads_them() {
        let p = parsed(r#"return 200 "ok\n\t\\ \"q\" \'s\'" 'a\'b\"c' ^[a-z\"]+ "";"#);
        assert_eq!(p[0]["directive"], "return");
        assert_eq!(
            p[0]["args"],
            json!([
                "200",
                r#"ok\n\t\\ "q" \'s\'"#,
                r#"a'b\"c"#,
                r#"^[a-z\"]+"#,
                ""
            ])
        );
        // nginx's values are unescaped: the rules see those (Word::value).
        let parse = crate::parse(br#"return 200 "ok\n";"#);
        assert_eq!(&*parse.config.directives[0].args[1].value, b"ok\n");
    }

    #[test]
    fn a_comment_ending_in_an_unpaired_backslash_loses_it() {
        let p = parsed("# one \\\n# two \\\\\n# three\n");
        let comments: Vec<&Value> = (0..3).map(|i| &p[i]["comment"]).collect();
        assert_eq!(comments, [" one ", " two \\\\", " three"]);
    }
}
