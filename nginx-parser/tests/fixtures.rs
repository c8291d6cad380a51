//! Golden tests for the parser: every `fixtures/parser/valid/*.conf` and
//! `fixtures/parser/errors/*.conf` is parsed and its tree is compared with the `.tree` file
//! beside it. `BLESS=1 cargo test -p nginx-parser --test fixtures` (re)writes the `.tree` files
//! instead; review every change to them, a blessed tree is only as good as its review.
//!
//! Only `valid/` and `errors/` are walked: `regressions/` and `includes/` have tests of their own.
//!
//! The `.tree` format, one line per item, children indented by two spaces:
//!
//! ```text
//! directive "listen" none 2:5 [20..26] span [20..32] ; [31..32]
//!   arg "8080" none 2:12 [27..31]
//! directive "http" none 4:1 [40..44] span [40..90]
//!   block directives { 4:6 [45..46] } 9:1 [89..90]
//!     directive ...
//! comment " text" 3:1 [33..39]
//! error MissingSemicolon 4:9 [55..60] directive "x" is not terminated by ";" (related 3:5 [50..51] directive starts here)
//! ```
//!
//! A word is shown as its value, its quote kind (`none`, `single`, `double`, `lua-block`), the
//! `line:column` of its first byte (from the crate's `LineIndex`: 1-based, columns in
//! characters) and its byte span; ` raw ...` follows when the text as written is not simply the
//! value between its quotes (an escape was unescaped). Values are printed with Rust's `{:?}`, so
//! control characters are visible; a value that is not valid UTF-8 is printed as a byte string
//! `b"..."` with `\xNN` escapes. A directive line shows its name as a word, then its whole span
//! and its `;` if it has one. A block shows its kind and both braces; a `}` never written (end
//! of file) is shown as `} missing`. Comments, then errors, follow the tree in source order.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use nginx_parser::{parse, Directive, LineIndex, Quote, Span, Word};

fn fixtures_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/parser");
    root.canonicalize().unwrap_or(root)
}

/// Every file under `dir` (recursively), sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {d:?}: {e}"));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A value as `{:?}` of the text, or as a byte string when it is not UTF-8.
fn show(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => format!("{s:?}"),
        Err(_) => format!("b\"{}\"", bytes.escape_ascii()),
    }
}

struct Dump<'a> {
    src: &'a [u8],
    lines: LineIndex,
    out: String,
}

impl Dump<'_> {
    fn pos(&self, span: Span) -> String {
        let (line, col) = self.lines.line_col(self.src, span.start);
        format!("{line}:{col} [{}..{}]", span.start, span.end)
    }

    fn word(&self, w: &Word) -> String {
        let mut s = format!(
            "{} {} {}",
            show(&w.value),
            w.quote.as_str(),
            self.pos(w.span)
        );
        let raw = w.raw(self.src);
        let plain: Vec<u8> = match w.quote {
            Quote::None => w.value.to_vec(),
            Quote::Single => [b"'", &*w.value, b"'"].concat(),
            Quote::Double => [b"\"", &*w.value, b"\""].concat(),
            Quote::LuaBlock => [b"{", &*w.value, b"}"].concat(),
        };
        if raw != plain.as_slice() {
            write!(s, " raw {}", show(raw)).unwrap();
        }
        s
    }

    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn directive(&mut self, depth: usize, d: &Directive) {
        let mut head = format!(
            "directive {} span [{}..{}]",
            self.word(&d.name),
            d.span.start,
            d.span.end
        );
        if let Some(semi) = d.semicolon {
            write!(head, " ; [{}..{}]", semi.start, semi.end).unwrap();
        }
        self.line(depth, &head);
        for a in &d.args {
            let text = format!("arg {}", self.word(a));
            self.line(depth + 1, &text);
        }
        if let Some(b) = &d.block {
            let kind = match b.kind {
                nginx_parser::BlockKind::Directives => "directives",
                nginx_parser::BlockKind::Table => "table",
            };
            let close = if b.close.is_empty() {
                format!("}} missing {}", self.pos(b.close))
            } else {
                format!("}} {}", self.pos(b.close))
            };
            let text = format!("block {kind} {{ {} {close}", self.pos(b.open));
            self.line(depth + 1, &text);
            for child in &b.directives {
                self.directive(depth + 2, child);
            }
        }
    }
}

/// The `.tree` text of one source file.
fn render(src: &[u8]) -> (String, usize) {
    let parsed = parse(src);
    let mut dump = Dump {
        src,
        lines: LineIndex::new(src),
        out: String::new(),
    };
    for d in &parsed.config.directives {
        dump.directive(0, d);
    }
    for c in &parsed.config.comments {
        let text = format!("comment {} {}", show(&c.text), dump.pos(c.span));
        dump.line(0, &text);
    }
    for e in &parsed.errors {
        let mut text = format!("error {:?} {} {}", e.kind, dump.pos(e.span), e.message);
        if let Some((span, label)) = &e.related {
            write!(text, " (related {} {label})", dump.pos(*span)).unwrap();
        }
        dump.line(0, &text);
    }
    (dump.out, parsed.errors.len())
}

/// The first line where `a` and `b` differ, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    let (mut la, mut lb) = (a.lines(), b.lines());
    let mut n = 1;
    loop {
        match (la.next(), lb.next()) {
            (None, None) => return "(only line endings differ)".to_string(),
            (x, y) if x == y => n += 1,
            (x, y) => {
                return format!(
                    "line {n}:\n    expected: {}\n    actual:   {}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of file>")
                )
            }
        }
    }
}

#[test]
fn parser_fixtures_match_their_trees() {
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    let root = fixtures_root();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (dir, expect_errors) in [("valid", false), ("errors", true)] {
        let files = files_under(&root.join(dir));
        let confs: Vec<&PathBuf> = files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        assert!(!confs.is_empty(), "no .conf fixtures in {dir}/");
        for p in files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "tree"))
        {
            if !p.with_extension("conf").exists() {
                failures.push(format!(
                    "{}: stray .tree without its .conf (delete it)",
                    p.strip_prefix(&root).unwrap_or(p).display()
                ));
            }
        }
        for conf in confs {
            checked += 1;
            let name = conf.strip_prefix(&root).unwrap_or(conf).display();
            let src = std::fs::read(conf).unwrap_or_else(|e| panic!("reading {conf:?}: {e}"));
            let (tree, errors) = render(&src);
            match (expect_errors, errors) {
                (false, n) if n > 0 => failures.push(format!(
                    "{name}: a valid/ fixture has {n} parse error(s); fix it or move it to errors/"
                )),
                (true, 0) => failures.push(format!(
                    "{name}: an errors/ fixture parses without error; fix it or move it to valid/"
                )),
                _ => {}
            }
            let tree_path = conf.with_extension("tree");
            if bless {
                if std::fs::read_to_string(&tree_path).ok().as_deref() != Some(tree.as_str()) {
                    std::fs::write(&tree_path, &tree)
                        .unwrap_or_else(|e| panic!("writing {tree_path:?}: {e}"));
                    eprintln!("blessed {}", tree_path.display());
                }
                continue;
            }
            match std::fs::read_to_string(&tree_path) {
                Err(_) => failures.push(format!(
                    "{name}: no expected tree {}; run `BLESS=1 cargo test -p nginx-parser --test fixtures` \
                     to write it, then review it",
                    tree_path.display()
                )),
                Ok(expected) if expected != tree => failures.push(format!(
                    "{name}: the tree differs from {} at {}\n  (if the change is intended, run \
                     `BLESS=1 cargo test -p nginx-parser --test fixtures` and review the diff)",
                    tree_path.display(),
                    first_difference(&expected, &tree)
                )),
                Ok(_) => {}
            }
        }
    }
    assert!(checked > 0, "no fixtures found under {}", root.display());
    assert!(
        failures.is_empty(),
        "{} fixture problem(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
