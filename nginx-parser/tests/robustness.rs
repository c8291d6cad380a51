//! The parser on hostile input: property tests over random bytes, nginx token soups and
//! generated valid configurations, targeted tests for the inputs that break naive parsers (deep
//! nesting, huge tokens, floods of delimiters, unterminated quotes and Lua bodies), and every
//! regression input under fixtures/parser/regressions/.
//!
//! Each property checks the invariants of `fuzz/invariants.rs` (shared with the fuzz target).
//! The default case counts keep this file fast; `PROPTEST_CASES=100000 cargo test -p
//! nginx-parser --release --test robustness` runs a long campaign.

#[path = "../fuzz/invariants.rs"]
mod invariants;

use std::path::Path;

use nginx_parser::{
    parse, parse_with, Config, Parse, ParseErrorKind, ParseOptions, Quote, Reading, Span,
};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

/// `cases` unless `PROPTEST_CASES` says otherwise; failures are shrunk and printed, not written
/// next to the sources (a regression input belongs in fixtures/parser/regressions/).
fn proptest_config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config.failure_persistence = None;
    config
}

/// Parses with the default options and checks every invariant, determinism included.
fn checked_parse(src: &[u8]) -> Result<Parse, String> {
    checked_parse_with(src, &ParseOptions::default())
}

fn checked_parse_with(src: &[u8], options: &ParseOptions) -> Result<Parse, String> {
    let parse = parse_with(src, options);
    invariants::check(src, &parse, options)?;
    if parse_with(src, options) != parse {
        return Err("parsing the same input twice gave different results".into());
    }
    Ok(parse)
}

/// Every invariant in nginx's reading (round trip included), and in crossplane's reading.
fn check_all(src: &[u8]) -> Result<Parse, String> {
    let parse = checked_parse(src)?;
    invariants::check_round_trip(src, &parse)?;
    let crossplane = ParseOptions {
        reading: Reading::Crossplane,
        ..ParseOptions::default()
    };
    checked_parse_with(src, &crossplane)?;
    Ok(parse)
}

/// Fragments that mean something to nginx's tokenizer, the parser or the Lua body reader.
const FRAGMENTS: &[&[u8]] = &[
    b"{",
    b"}",
    b";",
    b"\"",
    b"'",
    b"\\",
    b"\\\"",
    b"\\\\",
    b"$",
    b"${",
    b"#",
    b"# c\n",
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b"  ",
    b"\t",
    b"a",
    b"b",
    b"x1",
    b"on",
    b"server",
    b"location",
    b"location ~ \\.php$",
    b"if (",
    b")",
    b"($a = ",
    b"map $a $b",
    b"types",
    b"content_by_lua_block",
    b"set_by_lua_block $x",
    b"[[",
    b"]]",
    b"[==[",
    b"]==]",
    b"[=",
    b"--",
    b"--[[",
    b"ngx.say(\"}\")",
    b"\xff",
    b"\xc3\xa9",
    b"\xef\xbb\xbf",
    b"include",
    b"\0",
];

fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..64).prop_map(|v| v.concat())
}

/// Random bytes drawn mostly from the bytes the tokenizer treats specially.
fn significant_bytes() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: &'static [u8] = b"{};\"'\\$#\n\r \tab()[]=-~\xff";
    prop::collection::vec(prop::sample::select(alphabet), 0..256)
}

/// One step of a generated configuration.
#[derive(Clone, Debug)]
enum Step {
    Simple(usize, Vec<usize>),
    Open(usize),
    Close,
    Lua(usize, Vec<usize>),
    Comment(usize),
}

const NAMES: &[&str] = &[
    "listen",
    "keepalive_timeout",
    "proxy_pass",
    "\"quoted_name\"",
    "'single'",
    "set",
    "map",
    "include",
    "a}b",
    "x$",
    "esc\\;aped",
    "non\u{e9}ascii",
];
const ARGS: &[&str] = &[
    "on",
    "75s",
    "\"a b\"",
    "'x;y'",
    "\"esc\\\"aped\"",
    "'it\\'s'",
    "\"\\\\\"",
    "\"\"",
    "''",
    "$host",
    "${host}x",
    "\\.php$",
    "~*",
    "^/(.*)$",
    "http://u:8080/",
    "a}b",
    "\"{\"",
    "\"multi\nline\"",
    "\\;",
    "a#b",
    "\"x\")",
    "($a",
    "\\{",
    "\"tab\\there\"",
];
const BLOCKS: &[&str] = &[
    "http",
    "server",
    "location ~ \\.php$",
    "location = /x",
    "if ($a = \"b\")",
    "if ($a ~* '^x{2}$')",
    "upstream u",
    "events",
    "map $a $b",
    "types",
];
const LUA_NAMES: &[&str] = &[
    "content_by_lua_block",
    "set_by_lua_block $x",
    "access_by_lua_block",
];
const LUA_PARTS: &[&str] = &[
    " ngx.say(\"}\") ",
    "-- } comment\n",
    "--[[ } ]]",
    "local s = [==[ }]] ]==]",
    "local t = { a = { 1 } }",
    "'{'",
    "\"\\\"}\"",
    "\n",
    " x = 1 ",
    "[=[ ]] ]=]",
    "if a then end",
    "n = #t",
];
const COMMENTS: &[&str] = &["# comment {;\"'\n", "#\r\n", "# \u{e9}\n", "#}\n"];
const SEPARATORS: &[&str] = &[" ", "\t", "\n", "\r\n", "  "];

fn step() -> impl Strategy<Value = Step> {
    let words = prop::collection::vec(0..ARGS.len(), 0..4);
    prop_oneof![
        4 => (0..NAMES.len(), words).prop_map(|(n, a)| Step::Simple(n, a)),
        2 => (0..BLOCKS.len()).prop_map(Step::Open),
        2 => Just(Step::Close),
        1 => (0..LUA_NAMES.len(), prop::collection::vec(0..LUA_PARTS.len(), 0..5))
            .prop_map(|(n, p)| Step::Lua(n, p)),
        1 => (0..COMMENTS.len()).prop_map(Step::Comment),
    ]
}

/// A configuration nginx would tokenize without error (tables hold only `key value;` lines).
fn valid_config() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(step(), 0..40),
        prop::collection::vec(0..SEPARATORS.len(), 8),
    )
        .prop_map(|(steps, seps)| {
            let mut out = String::new();
            // Per open block: is it a table?
            let mut open: Vec<bool> = Vec::new();
            let mut sep = seps.iter().cycle().map(|&i| SEPARATORS[i]);
            for step in steps {
                let in_table = open.last() == Some(&true);
                match step {
                    Step::Simple(name, args) => {
                        out.push_str(NAMES[name]);
                        for a in args {
                            out.push_str(sep.next().unwrap_or(" "));
                            out.push_str(ARGS[a]);
                        }
                        out.push(';');
                    }
                    Step::Open(_) | Step::Lua(..) if in_table => out.push_str("key value;"),
                    Step::Open(block) => {
                        out.push_str(BLOCKS[block]);
                        out.push_str(sep.next().unwrap_or(" "));
                        out.push('{');
                        let name = BLOCKS[block].split(' ').next().unwrap_or_default();
                        open.push(name == "map" || name == "types");
                    }
                    Step::Close => {
                        if open.pop().is_some() {
                            out.push('}');
                        }
                    }
                    Step::Lua(name, parts) => {
                        out.push_str(LUA_NAMES[name]);
                        out.push_str(" {");
                        for p in parts {
                            out.push_str(LUA_PARTS[p]);
                        }
                        out.push('}');
                    }
                    Step::Comment(c) => out.push_str(COMMENTS[c]),
                }
                out.push_str(sep.next().unwrap_or(" "));
            }
            for _ in open {
                out.push('}');
            }
            out.into_bytes()
        })
}

proptest! {
    #![proptest_config(proptest_config(512))]

    #[test]
    fn random_bytes(src in prop::collection::vec(any::<u8>(), 0..512)) {
        check_all(&src).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn significant_byte_soup(src in significant_bytes()) {
        check_all(&src).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn token_soups(src in token_soup()) {
        check_all(&src).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn token_soups_under_tight_limits(src in token_soup(), depth in 0usize..4) {
        let options = ParseOptions { max_depth: depth, max_file_size: 200, ..ParseOptions::default() };
        checked_parse_with(&src, &options).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn valid_configs_parse_without_errors_and_round_trip(src in valid_config()) {
        let parse = check_all(&src).map_err(TestCaseError::fail)?;
        prop_assert!(
            parse.is_ok(),
            "{:?}: {:?}",
            String::from_utf8_lossy(&src),
            parse.errors
        );
    }
}

/// The errors as (kind, span) pairs, for exact comparisons.
fn kinds(parse: &Parse) -> Vec<(ParseErrorKind, Span)> {
    parse.errors.iter().map(|e| (e.kind, e.span)).collect()
}

/// Exactly these errors; on failure shows only the first few (some inputs have a million).
#[track_caller]
fn assert_errors(parse: &Parse, expected: &[(ParseErrorKind, Span)]) {
    let got = kinds(parse);
    if got != expected {
        panic!(
            "expected errors {expected:?}, got {}, starting with {:?}",
            got.len(),
            &got[..got.len().min(6)]
        );
    }
}

fn span(start: usize, end: usize) -> Span {
    Span::new(start, end)
}

fn max_depth(config: &Config) -> usize {
    config.walk().map(|(d, _)| d).max().unwrap_or(0)
}

#[test]
fn a_million_nested_braces_stop_at_the_depth_limit() {
    let src = b"b{".repeat(1_000_000);
    let parse = checked_parse(&src).unwrap();
    // 256 blocks are kept; the 257th `{` (byte 2 * 256 + 1) is the error, and the rest of the
    // file is skipped as its body, which end of file leaves open.
    assert_errors(
        &parse,
        &[
            (ParseErrorKind::TooDeep, span(513, 514)),
            (ParseErrorKind::UnclosedBlock, Span::empty(src.len())),
        ],
    );
    assert_eq!(
        parse.errors[1].related.as_ref().map(|r| r.0),
        Some(span(511, 512)),
        "the innermost kept block is the one reported as never closed"
    );
    assert_eq!(parse.config.walk().count(), 256);
    assert_eq!(max_depth(&parse.config), 255);
    drop(parse);

    // Without names, the first `{` is the error and everything after it is its body.
    let src = b"{".repeat(1_000_000);
    let parse = checked_parse(&src).unwrap();
    assert_errors(
        &parse,
        &[
            (ParseErrorKind::MissingDirectiveName, span(0, 1)),
            (ParseErrorKind::UnclosedBlock, Span::empty(src.len())),
        ],
    );
    assert!(parse.config.directives.is_empty());
}

#[test]
fn the_deepest_tree_of_the_default_limit_drops_clones_and_compares_on_a_small_stack() {
    // The tree's derived Drop, Clone, PartialEq and Debug recurse once per level, so the depth
    // limit is what bounds their stack use: at 256 levels a debug build needs under 512 KiB.
    let depth = ParseOptions::default().max_depth;
    let src = [b"b{".repeat(depth), b"x;".to_vec(), b"}".repeat(depth)].concat();
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            let parse = parse(&src);
            assert!(parse.is_ok(), "{:?}", parse.errors);
            assert_eq!(max_depth(&parse.config), depth);
            let copy = parse.clone();
            assert_eq!(copy, parse);
            assert!(!format!("{copy:?}").is_empty());
            drop(copy);
            drop(parse);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_hundred_thousand_closed_blocks_recover_after_the_depth_limit() {
    let n = 100_000;
    let src = [b"b{".repeat(n), b"}".repeat(n), b"after;".to_vec()].concat();
    let parse = checked_parse(&src).unwrap();
    assert_errors(&parse, &[(ParseErrorKind::TooDeep, span(513, 514))]);
    // The skipped block swallows its own n - 256 closing braces; the 256 after close the kept
    // blocks, and the directive after them is back at top level.
    let top = &parse.config.directives;
    assert_eq!(top.len(), 2);
    assert!(top[1].is("after"));
    let outer = top[0].block.as_ref().unwrap();
    assert_eq!(outer.close, span(3 * n - 1, 3 * n));
    assert_eq!(parse.config.walk().count(), 257);
    assert_eq!(max_depth(&parse.config), 255);
    let (_, innermost) = parse.config.walk().nth(255).unwrap();
    let first_kept_close = 2 * n + (n - 256);
    assert_eq!(
        innermost.block.as_ref().unwrap().close,
        span(first_kept_close, first_kept_close + 1)
    );
}

#[test]
fn a_ten_megabyte_word() {
    let n = 10 * 1024 * 1024;
    let mut src = vec![b'a'; n];
    let parse = checked_parse(&src).unwrap();
    assert_errors(&parse, &[(ParseErrorKind::MissingSemicolon, span(0, n))]);
    assert_eq!(
        parse.errors[0].related.as_ref().map(|r| r.0),
        Some(span(0, n))
    );

    src.push(b';');
    let parse = checked_parse(&src).unwrap();
    assert!(parse.is_ok());
    assert_eq!(parse.config.directives[0].name.value.len(), n);
    assert_eq!(parse.config.directives[0].span, span(0, n + 1));
}

#[test]
fn a_megabyte_of_semicolons() {
    let n = 1024 * 1024;
    let src = vec![b';'; n];
    let parse = checked_parse(&src).unwrap();
    assert!(parse.config.directives.is_empty());
    // Errors are capped: the first MAX_ERRORS are recorded, then one that says the rest
    // were dropped.
    let cap = nginx_parser::MAX_ERRORS;
    assert_eq!(parse.errors.len(), cap + 1);
    for (i, e) in parse.errors[..cap].iter().enumerate() {
        assert_eq!(
            (e.kind, e.span),
            (ParseErrorKind::MissingDirectiveName, span(i, i + 1))
        );
    }
    assert_eq!(parse.errors[cap].kind, ParseErrorKind::TooManyErrors);
}

#[test]
fn unterminated_quotes_at_end_of_file() {
    for (src, open) in [
        (&b"a \"b"[..], 2),
        (b"a 'b c;\n}", 2),
        (b"a \"b\\\"", 2),
        (b"a \"b\\", 2),
        (b"\"", 0),
        (b"server { listen \"80;\n", 16),
    ] {
        let parse = checked_parse(src).unwrap();
        let first = (ParseErrorKind::UnterminatedQuote, span(open, open + 1));
        assert_eq!(
            kinds(&parse)[0],
            first,
            "{:?}",
            String::from_utf8_lossy(src)
        );
        assert!(
            parse.config.walk().all(|(_, d)| !d.is("a")),
            "the broken statement is dropped"
        );
    }
    // Nothing else is wrong in a file whose only problem is the quote.
    let parse = checked_parse(b"a \"b").unwrap();
    assert_eq!(parse.errors.len(), 1);
    // Inside a block, end of file also leaves the block open.
    let src = b"server { listen \"80;\n";
    let parse = checked_parse(src).unwrap();
    assert_errors(
        &parse,
        &[
            (ParseErrorKind::UnterminatedQuote, span(16, 17)),
            (ParseErrorKind::UnclosedBlock, Span::empty(20)),
        ],
    );
}

#[test]
fn unterminated_lua_blocks() {
    // Each: the source, and the byte of the `{` that starts the Lua body.
    for (src, open) in [
        (&b"content_by_lua_block { ngx.say(1)"[..], 21),
        (b"content_by_lua_block {", 21),
        (b"content_by_lua_block { s = [[ } ", 21),
        (b"content_by_lua_block { s = [==[ }]] ", 21),
        (b"content_by_lua_block { --[[ } ", 21),
        (b"content_by_lua_block { s = \"}\" ", 21),
        (b"content_by_lua_block { s = '\\'}' ", 21),
        (b"set_by_lua_block $x { { }", 20),
    ] {
        let parse = checked_parse(src).unwrap();
        assert_eq!(
            kinds(&parse),
            [(ParseErrorKind::BadLuaBlock, Span::empty(src.len()))],
            "{:?}: {:?}",
            String::from_utf8_lossy(src),
            parse.errors
        );
        assert_eq!(
            parse.errors[0].related.as_ref().map(|r| r.0),
            Some(span(open, open + 1))
        );
        assert!(parse.config.directives.is_empty());
    }
}

#[test]
fn unterminated_lua_bodies_cost_linear_time() {
    // Each body opens a long string that is never closed. Were the reader to resume after the
    // `{` of a broken body, every later `_by_lua_block {` would rescan to end of file again.
    let n = 50_000;
    let src = b"a_by_lua_block{[[".repeat(n);
    // No wall-clock assertion (speed is measured in benchmarks): a quadratic reader shows up
    // as this test taking minutes, and as exactly one error here rather than thousands.
    let parse = checked_parse(&src).unwrap();
    assert_errors(
        &parse,
        &[(ParseErrorKind::BadLuaBlock, Span::empty(src.len()))],
    );
}

#[test]
fn lua_strings_unclosed_on_their_line_cost_linear_time() {
    // A quote whose string does not close on its line is an ordinary character, and so is
    // every escaped quote inside it: none may start a new scan to the end of the line.
    let n = 200_000;
    for run in [&b"\"\\"[..], b"'\\", b"\"\\'\\"] {
        let body = run.repeat(n);
        let src = [b"content_by_lua_block {".as_slice(), &body, b"}"].concat();
        let parse = checked_parse(&src).unwrap();
        assert!(parse.is_ok(), "{:?}", parse.errors);
        assert_eq!(*parse.config.directives[0].args[0].value, *body);
    }
}

/// Where a Lua body that starts at the `{` at `open` ends (its `}`), read the slow, obvious way:
/// the reference for the reader's shortcuts.
fn naive_lua_end(src: &[u8], open: usize) -> Option<usize> {
    fn long_open(src: &[u8], at: usize) -> Option<usize> {
        if src.get(at) != Some(&b'[') {
            return None;
        }
        let level = src[at + 1..].iter().take_while(|&&b| b == b'=').count();
        (src.get(at + 1 + level) == Some(&b'[')).then_some(level)
    }
    fn long_close(src: &[u8], from: usize, level: usize) -> Option<usize> {
        let close = [b"]".as_slice(), &b"=".repeat(level), b"]"].concat();
        (from..src.len())
            .find(|&i| src[i..].starts_with(&close))
            .map(|i| i + close.len())
    }
    let mut depth = 1;
    let mut i = open + 1;
    while i < src.len() {
        match src[i] {
            b'-' if src.get(i + 1) == Some(&b'-') => {
                i += 2;
                match long_open(src, i) {
                    Some(level) => i = long_close(src, i + level + 2, level)?,
                    None => {
                        while i < src.len() && src[i] != b'\n' {
                            i += 1;
                        }
                    }
                }
            }
            b'[' => match long_open(src, i) {
                Some(level) => i = long_close(src, i + level + 2, level)?,
                None => i += 1,
            },
            q @ (b'"' | b'\'') => {
                let mut j = i + 1;
                let mut closed = None;
                while j < src.len() {
                    match src[j] {
                        b'\\' => j += 2,
                        b'\n' => break,
                        c if c == q => {
                            closed = Some(j + 1);
                            break;
                        }
                        _ => j += 1,
                    }
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
                    return Some(i);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

const LUA_FRAGMENTS: &[&[u8]] = &[
    b"\"", b"'", b"\\", b"{", b"}", b"\n", b"a", b" ", b"[[", b"]]", b"[=[", b"]=]", b"--",
    b"--[[", b"-",
];

proptest! {
    #![proptest_config(proptest_config(512))]

    #[test]
    fn lua_bodies_end_where_the_reference_reader_says(
        body in prop::collection::vec(prop::sample::select(LUA_FRAGMENTS), 0..48)
    ) {
        let src = [b"content_by_lua_block {".as_slice(), &body.concat()].concat();
        let parse = checked_parse(&src).map_err(TestCaseError::fail)?;
        match naive_lua_end(&src, 21) {
            Some(end) => {
                let d = &parse.config.directives[0];
                prop_assert!(d.is_lua_block());
                prop_assert_eq!(d.args[0].span, span(21, end + 1));
            }
            None => prop_assert_eq!(
                parse.errors.first().map(|e| e.kind),
                Some(ParseErrorKind::BadLuaBlock)
            ),
        }
    }
}

#[test]
fn a_file_of_closing_braces() {
    let n = 10_000;
    let src = vec![b'}'; n];
    let parse = checked_parse(&src).unwrap();
    assert!(parse.config.directives.is_empty());
    // Errors are capped: the first MAX_ERRORS are recorded, then one that says the rest
    // were dropped.
    let cap = nginx_parser::MAX_ERRORS;
    assert_eq!(parse.errors.len(), cap + 1);
    for (i, e) in parse.errors[..cap].iter().enumerate() {
        assert_eq!(
            (e.kind, e.span),
            (ParseErrorKind::UnbalancedCloseBrace, span(i, i + 1))
        );
    }
    assert_eq!(parse.errors[cap].kind, ParseErrorKind::TooManyErrors);
}

#[test]
fn files_over_the_size_limit_are_refused_whole() {
    let options = ParseOptions {
        max_file_size: 64,
        ..ParseOptions::default()
    };
    let at_limit = [b"a;".repeat(31), b"b;".to_vec()].concat();
    assert_eq!(at_limit.len(), 64);
    let parse = checked_parse_with(&at_limit, &options).unwrap();
    assert!(parse.is_ok());
    assert_eq!(parse.config.directives.len(), 32);

    let over = [at_limit, b" ".to_vec()].concat();
    let parse = checked_parse_with(&over, &options).unwrap();
    assert_errors(&parse, &[(ParseErrorKind::TooLarge, Span::empty(0))]);
    assert_eq!(parse.config, Config::default());
}

/// A name for a change that breaks a tree, and the change.
type Corruption = (&'static str, fn(&mut Parse));

/// The checker itself: a correct tree passes, and each kind of corruption is caught.
#[test]
fn the_invariant_checker_catches_broken_trees() {
    let src = b"http {\n  # c\n  a \"b\";\n  c d;\n}\n";
    let options = ParseOptions::default();
    let good = parse(src);
    assert!(good.is_ok());
    invariants::check(src, &good, &options).unwrap();

    let corruptions: &[Corruption] = &[
        ("span past the end", |p| {
            p.config.directives[0].span.end += 1
        }),
        ("word value", |p| {
            p.config.directives[0].name.value = b"htt".as_slice().into()
        }),
        ("word span", |p| p.config.directives[0].name.span.start += 1),
        ("sibling order", |p| {
            p.config.directives[0]
                .block
                .as_mut()
                .unwrap()
                .directives
                .swap(0, 1)
        }),
        ("comment overlapping a word", |p| {
            p.config.comments[0].span.end += 3
        }),
        ("dropped bytes", |p| p.config.comments.clear()),
        ("quote kind", |p| {
            p.config.directives[0].block.as_mut().unwrap().directives[0].args[0].quote =
                Quote::Single
        }),
    ];
    for &(what, corrupt) in corruptions {
        let mut bad = good.clone();
        corrupt(&mut bad);
        assert!(
            invariants::check(src, &bad, &options).is_err(),
            "not caught: {what}"
        );
    }
    let mut bad = good.clone();
    let child = bad.config.directives[0]
        .block
        .as_mut()
        .unwrap()
        .directives
        .pop()
        .unwrap();
    bad.config.directives.push(child);
    assert!(
        invariants::check(src, &bad, &options).is_err(),
        "not caught: a child moved out of its block"
    );
}

/// Every `.conf` under fixtures/parser/regressions/ is an input that once broke the parser. It
/// must satisfy the invariants and, when a `.errors` file sits beside it, give exactly the errors
/// listed there, one `Kind start..end` a line.
#[test]
fn regression_inputs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/parser/regressions");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "conf") {
            continue;
        }
        let src = std::fs::read(&path).unwrap();
        let parse = check_all(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Ok(expected) = std::fs::read_to_string(path.with_extension("errors")) {
            let got: String = parse
                .errors
                .iter()
                .map(|e| format!("{:?} {}..{}\n", e.kind, e.span.start, e.span.end))
                .collect();
            assert_eq!(got, expected, "{}", path.display());
        }
        count += 1;
    }
    assert!(count > 0, "no regression inputs in {}", dir.display());
}
