//! `sysctl.conf` and `sysctl.d/*.conf` files, read the way procps-ng `sysctl -p` (4.x) and
//! systemd-sysctl read them, with byte spans on keys and values.
//!
//! The grammar, one line at a time (only LF ends a line):
//!
//! - Leading and trailing whitespace (C `isspace`: space, tab, CR, LF, VT, FF) is ignored, so
//!   CRLF files read like LF files.
//! - A line that is empty after that is skipped.
//! - A line whose first non-blank byte is `#` or `;` is a comment. Only there: neither tool
//!   knows trailing comments. `key = 1 # why` hands the value `1 # why` to the kernel, which
//!   for an integer setting reads the numbers it expects and ignores the rest of the write
//!   (`1` is set), while `key = 1# why` is rejected with EINVAL. [`Assignment::numbers`]
//!   models that.
//! - Otherwise the line is split at its first `=`: the key before it, the value after it (`=`
//!   may appear in the value), both trimmed. The value may be empty (both tools then write an
//!   empty string, which integer settings reject) and may hold several fields separated by
//!   blanks (`ip_local_port_range = 32768 60999`), kept as written.
//! - A key starting with `-` means "ignore errors for this key". systemd-sysctl then ignores
//!   any failure to write it (missing key, rejected value); procps 4.0 only ignores failing to
//!   open it (permission denied), and still fails on a missing key (`cannot stat
//!   /proc/sys/...`) or a rejected value. Blanks after the `-` are dropped, as systemd does
//!   (procps would keep them in the key and fail).
//! - A line without `=` is a syntax error (procps: `invalid syntax, continuing...`; systemd:
//!   `Line is not an assignment, ignoring`), except `-key` alone, which both tools read as an
//!   exclusion from a glob assignment such as `net.ipv4.conf.*.rp_filter = 2` (a lone `-`
//!   excludes nothing and is ignored by both). `= value` without a key is an error too (both
//!   tools try to write to `/proc/sys/` itself). procps silently skips a one-byte last line
//!   without line break; it is reported here, as systemd does.
//! - Keys are normalised to the dotted form `sysctl` prints. If the first separator is `/`,
//!   the key is written as a path (`net/ipv4/tcp_tw_reuse`) and every `/` becomes `.` and every
//!   `.` becomes `/` (an interface `eth0.100` is `net/ipv4/conf/eth0.100/rp_filter`, printed
//!   `net.ipv4.conf.eth0/100.rp_filter`); otherwise the key is kept as written.
//! - A key with `*`, `?` or `[` is a glob over the keys the kernel has; rules do not expand
//!   globs, so [`SysctlFile::effective`] never returns one.
//! - Later assignments of a key override earlier ones: procps writes each line in turn,
//!   systemd-sysctl keeps only the last; either way the last one is in effect.
//!
//! Files are bytes: nothing here requires UTF-8, and no input makes the parser panic. A UTF-8
//! byte order mark is reported (both tools read it as part of the first key) and skipped.
//!
//! Verified against procps-ng 4.0.2 (`sysctl --dry-run -p FILE`, and `sysctl -p FILE` in a
//! throwaway network namespace, `unshare -n`) and systemd 252's systemd-sysctl on Linux 6.18.

use std::borrow::Cow;

use nginx_parser::Span;

/// The largest file read, as for nginx files: spans are `u32`.
const MAX_FILE_SIZE: usize = 256 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A parsed file: every assignment and exclusion in file order, and the lines that could not
/// be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SysctlFile {
    pub assignments: Vec<Assignment>,
    pub exclusions: Vec<Exclusion>,
    pub errors: Vec<SyntaxError>,
}

/// `key = value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// Normalised, dotted: `net.ipv4.tcp_tw_reuse` however it was written.
    pub key: String,
    /// The key as written, without the `-` prefix.
    pub key_span: Span,
    /// Written with a leading `-`: errors for this key are ignored.
    pub ignore_errors: bool,
    /// The value as the tools hand it to the kernel: trimmed, inner blanks kept.
    pub value: Vec<u8>,
    /// Where the value is; empty (right after `=`) for an empty value.
    pub value_span: Span,
    /// The whole line with its line break: what deleting the assignment removes.
    pub line_span: Span,
    /// The key holds `*`, `?` or `[`.
    pub glob: bool,
}

/// `-key` alone on its line: the key is left out of glob assignments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    pub key: String,
    pub key_span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub kind: SyntaxErrorKind,
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyntaxErrorKind {
    /// A line without `=` (and not `-key`).
    NotAnAssignment,
    /// `= value`.
    NoKey,
    ByteOrderMark,
    TooLarge,
}

/// An integer of a value, as the kernel read it, and where it is in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Number {
    pub value: i64,
    pub span: Span,
}

/// Why the kernel rejects a value (the write fails with EINVAL and the setting keeps its
/// previous value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    /// The offending part of the value (an empty span for an empty value).
    pub span: Span,
    /// Lowercase, no final period: `expected a number, found `x``.
    pub problem: String,
}

impl SysctlFile {
    /// Every assignment of a (normalised) key, in file order. Globs are never returned.
    pub fn assignments_of<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Assignment> {
        self.assignments
            .iter()
            .filter(move |a| !a.glob && a.key == key)
    }

    /// The assignment of a key that takes effect: the last one.
    pub fn effective(&self, key: &str) -> Option<&Assignment> {
        self.assignments
            .iter()
            .rev()
            .find(|a| !a.glob && a.key == key)
    }

    /// The last assignment of a key that comes before byte `offset`: the value in effect when
    /// procps writes the line at `offset`.
    pub fn effective_before(&self, key: &str, offset: u32) -> Option<&Assignment> {
        self.assignments
            .iter()
            .rev()
            .find(|a| !a.glob && a.key == key && a.line_span.start < offset)
    }
}

impl Assignment {
    /// The value as text (invalid UTF-8 replaced), for messages.
    pub fn value_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.value)
    }

    /// The first `count` integers of the value, read as the kernel's `proc_dointvec` family
    /// reads a write: blanks skipped, an optional `-`, then C `strtoul` with base 0 (`0x1f` is
    /// hexadecimal, `010` octal); each number must be followed by a space, tab, line break or
    /// the end; at most 20 characters per number; values must fit a C `int`. Reading stops
    /// after `count` numbers or at the end of the value, and what follows is ignored (so
    /// `1 # why` is 1). Fewer than `count` numbers is not an error here (the kernel keeps the
    /// old value of the rest); no number at all is.
    pub fn numbers(&self, count: usize) -> Result<Vec<Number>, ValueError> {
        let base = self.value_span.start as usize;
        let v = &self.value;
        let span = |from: usize, to: usize| Span::new(base + from, base + to);
        let mut out = Vec::new();
        let mut i = 0;
        while out.len() < count {
            while i < v.len() && is_kernel_space(v[i]) {
                i += 1;
            }
            if i == v.len() {
                break;
            }
            let start = i;
            let token_end = v[i..]
                .iter()
                .position(|&b| is_kernel_space(b))
                .map_or(v.len(), |p| i + p);
            let bad = |problem: String| ValueError {
                span: span(start, token_end),
                problem,
            };
            let token = String::from_utf8_lossy(&v[start..token_end]).into_owned();
            let negative = v[i] == b'-';
            if negative {
                i += 1;
            }
            if !v.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(bad(format!("expected a number, found `{token}`")));
            }
            let (radix, digits_start) = match (v.get(i), v.get(i + 1), v.get(i + 2)) {
                (Some(b'0'), Some(b'x' | b'X'), Some(c)) if c.is_ascii_hexdigit() => (16, i + 2),
                (Some(b'0'), _, _) => (8, i),
                _ => (10, i),
            };
            let mut magnitude: u64 = 0;
            let mut overflow = false;
            i = digits_start;
            while let Some(d) = v.get(i).and_then(|&b| (b as char).to_digit(radix)) {
                match magnitude
                    .checked_mul(u64::from(radix))
                    .and_then(|m| m.checked_add(u64::from(d)))
                {
                    Some(m) => magnitude = m,
                    None => overflow = true,
                }
                i += 1;
            }
            // The kernel copies at most 21 bytes of the number and refuses one that fills them.
            if i - start >= 21 || overflow {
                return Err(bad(format!("`{token}` is too large")));
            }
            if let Some(&next) = v.get(i) {
                if !matches!(next, b' ' | b'\t' | b'\n') {
                    let what = match radix {
                        8 if next.is_ascii_digit() => " (a leading 0 makes it octal)",
                        _ => "",
                    };
                    return Err(bad(format!("`{token}` is not a number{what}")));
                }
            }
            let value = if negative {
                -(magnitude as i128)
            } else {
                magnitude as i128
            };
            if value < i128::from(i32::MIN) || value > i128::from(i32::MAX) {
                return Err(bad(format!("`{token}` does not fit a 32-bit integer")));
            }
            out.push(Number {
                value: value as i64,
                span: span(start, i),
            });
        }
        if out.is_empty() {
            return Err(ValueError {
                span: self.value_span,
                problem: "the value is empty".to_string(),
            });
        }
        Ok(out)
    }

    /// The text of a part of the value (a [`Number`]'s span), for messages.
    pub fn text_at(&self, span: Span) -> Cow<'_, str> {
        let base = self.value_span.start;
        let from = span.start.saturating_sub(base) as usize;
        let to = (span.end.saturating_sub(base) as usize).min(self.value.len());
        String::from_utf8_lossy(self.value.get(from..to).unwrap_or_default())
    }

    /// The value as one integer, when the kernel reads one.
    pub fn integer(&self) -> Option<Number> {
        self.numbers(1).ok()?.first().copied()
    }
}

/// The kernel's `isspace` (lib/ctype.c), which also counts Latin-1 NBSP.
fn is_kernel_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0)
}

/// C `isspace` in the C locale, which procps uses to trim keys and values.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `start..end` of `text` without leading and trailing C whitespace.
fn trim(text: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && is_c_space(text[start]) {
        start += 1;
    }
    while end > start && is_c_space(text[end - 1]) {
        end -= 1;
    }
    (start, end)
}

/// The dotted form of a key: a key whose first separator is `/` is a path, with `.` and `/`
/// swapped (procps' `slashdot`, systemd's `sysctl_normalize`).
pub fn normalize_key(key: &[u8]) -> String {
    let key = String::from_utf8_lossy(key);
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect(),
        _ => key.into_owned(),
    }
}

fn is_glob(key: &[u8]) -> bool {
    key.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// Parses a file. Never fails: lines that cannot be read are [`SysctlFile::errors`].
pub fn parse(text: &[u8]) -> SysctlFile {
    let mut file = SysctlFile::default();
    if text.len() > MAX_FILE_SIZE {
        file.errors.push(SyntaxError {
            kind: SyntaxErrorKind::TooLarge,
            span: Span::empty(0),
            message: format!(
                "file is {} bytes, larger than the limit of {MAX_FILE_SIZE} bytes",
                text.len()
            ),
        });
        return file;
    }
    let mut line_start = 0;
    if text.starts_with(BOM) {
        file.errors.push(SyntaxError {
            kind: SyntaxErrorKind::ByteOrderMark,
            span: Span::new(0, BOM.len()),
            message: "file starts with a UTF-8 byte order mark, which sysctl reads as part of the first key".to_string(),
        });
        line_start = BOM.len();
    }
    while line_start < text.len() {
        let line_end =
            memchr::memchr(b'\n', &text[line_start..]).map_or(text.len(), |p| line_start + p);
        let next = (line_end + 1).min(text.len());
        parse_line(
            text,
            line_start,
            line_end,
            Span::new(line_start, next),
            &mut file,
        );
        line_start = line_end + 1;
    }
    file
}

fn parse_line(text: &[u8], start: usize, end: usize, line_span: Span, file: &mut SysctlFile) {
    let (start, end) = trim(text, start, end);
    if start == end || matches!(text[start], b'#' | b';') {
        return;
    }
    let line = &text[start..end];
    let dash = line[0] == b'-';
    let key_start = if dash { start + 1 } else { start };
    let Some(eq) = memchr::memchr(b'=', line).map(|p| start + p) else {
        let (ks, ke) = trim(text, key_start, end);
        if !dash {
            file.errors.push(SyntaxError {
                kind: SyntaxErrorKind::NotAnAssignment,
                span: Span::new(start, end),
                message: "line is not an assignment: expected `key = value`".to_string(),
            });
        } else if ks < ke {
            file.exclusions.push(Exclusion {
                key: normalize_key(&text[ks..ke]),
                key_span: Span::new(ks, ke),
            });
        }
        // A lone `-` excludes nothing, silently, for both tools.
        return;
    };
    let (ks, ke) = trim(text, key_start, eq);
    if ks == ke {
        file.errors.push(SyntaxError {
            kind: SyntaxErrorKind::NoKey,
            span: Span::new(eq, eq + 1),
            message: "no key before `=`".to_string(),
        });
        return;
    }
    let (vs, ve) = trim(text, eq + 1, end);
    let value_span = if vs < ve {
        Span::new(vs, ve)
    } else {
        Span::empty(eq + 1)
    };
    file.assignments.push(Assignment {
        key: normalize_key(&text[ks..ke]),
        key_span: Span::new(ks, ke),
        ignore_errors: dash,
        value: text[vs..ve.max(vs)].to_vec(),
        value_span,
        line_span,
        glob: is_glob(&text[ks..ke]),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Assignment {
        let f = parse(text.as_bytes());
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        assert_eq!(f.assignments.len(), 1, "{text:?}");
        f.assignments[0].clone()
    }

    fn at(text: &str, span: Span) -> &str {
        &text[span.range()]
    }

    #[test]
    fn assignment_forms() {
        for text in [
            "net.ipv4.tcp_tw_reuse = 1\n",
            "net.ipv4.tcp_tw_reuse=1\n",
            "  net.ipv4.tcp_tw_reuse\t=\t1  \n",
            "net/ipv4/tcp_tw_reuse = 1\n",
            "net.ipv4.tcp_tw_reuse = 1",
            "net.ipv4.tcp_tw_reuse = 1\r\n",
            "\tnet/ipv4/tcp_tw_reuse =1\r\n",
        ] {
            let a = one(text);
            assert_eq!(a.key, "net.ipv4.tcp_tw_reuse", "{text:?}");
            assert_eq!(a.value, b"1", "{text:?}");
            assert_eq!(at(text, a.value_span), "1", "{text:?}");
            assert!(at(text, a.key_span).starts_with("net"), "{text:?}");
            assert!(!a.ignore_errors && !a.glob);
            assert_eq!(a.line_span, Span::new(0, text.len()));
        }
    }

    #[test]
    fn dash_prefix_ignores_errors() {
        let text = "-net.ipv4.tcp_tw_recycle = 0\n";
        let a = one(text);
        assert!(a.ignore_errors);
        assert_eq!(a.key, "net.ipv4.tcp_tw_recycle");
        assert_eq!(at(text, a.key_span), "net.ipv4.tcp_tw_recycle");
        // systemd drops blanks after the dash.
        assert_eq!(one("- net.ipv4.x = 1").key, "net.ipv4.x");
    }

    #[test]
    fn comments_only_at_line_start() {
        let f = parse(b"# a = 1\n  ; b = 2\n\t# c\n;\n#\n");
        assert_eq!(f, SysctlFile::default());
        // A `#` after the value is part of the value, as procps and systemd pass it on.
        let text = "net.ipv4.tcp_max_tw_buckets = 5000 # why\n";
        let a = one(text);
        assert_eq!(a.value, b"5000 # why");
        assert_eq!(a.integer().map(|n| n.value), Some(5000));
        assert_eq!(at(text, a.integer().unwrap().span), "5000");
    }

    #[test]
    fn values_keep_their_fields() {
        let text = "net.ipv4.ip_local_port_range =\t1024    65000\t\r\n";
        let a = one(text);
        assert_eq!(a.value, b"1024    65000");
        let n = a.numbers(2).unwrap();
        assert_eq!(n.iter().map(|n| n.value).collect::<Vec<_>>(), [1024, 65000]);
        assert_eq!(at(text, n[1].span), "65000");
        // `=` in the value belongs to the value.
        assert_eq!(one("kernel.x = a=b").value, b"a=b");
    }

    #[test]
    fn empty_value_is_an_assignment() {
        let text = "net.ipv4.tcp_fin_timeout =   \n";
        let a = one(text);
        assert!(a.value.is_empty());
        assert_eq!(a.value_span, Span::empty(text.find('=').unwrap() + 1));
        assert_eq!(a.numbers(1).unwrap_err().problem, "the value is empty");
    }

    #[test]
    fn blank_lines_and_crlf() {
        let f = parse(b"\n\r\n   \n\t\r\na = 1\r\n\r\nb=2");
        assert!(f.errors.is_empty());
        assert_eq!(
            f.assignments
                .iter()
                .map(|a| (a.key.as_str(), a.value.as_slice()))
                .collect::<Vec<_>>(),
            [("a", &b"1"[..]), ("b", &b"2"[..])]
        );
    }

    #[test]
    fn lines_without_equals() {
        let text = "just a line\nx\n-net.ipv4.conf.eth0.rp_filter\n-\n= 5\n";
        let f = parse(text.as_bytes());
        let errors: Vec<(&str, &str)> = f
            .errors
            .iter()
            .map(|e| (at(text, e.span), e.message.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (
                    "just a line",
                    "line is not an assignment: expected `key = value`"
                ),
                ("x", "line is not an assignment: expected `key = value`"),
                ("=", "no key before `=`"),
            ]
        );
        assert_eq!(f.exclusions.len(), 1);
        assert_eq!(f.exclusions[0].key, "net.ipv4.conf.eth0.rp_filter");
        assert!(f.assignments.is_empty());
    }

    #[test]
    fn keys_normalise_like_slashdot() {
        assert_eq!(
            normalize_key(b"net/ipv4/tcp_tw_reuse"),
            "net.ipv4.tcp_tw_reuse"
        );
        assert_eq!(
            normalize_key(b"net.ipv4.tcp_tw_reuse"),
            "net.ipv4.tcp_tw_reuse"
        );
        // A VLAN interface: the first separator decides.
        assert_eq!(
            normalize_key(b"net/ipv4/conf/eth0.100/rp_filter"),
            "net.ipv4.conf.eth0/100.rp_filter"
        );
        assert_eq!(
            normalize_key(b"net.ipv4.conf.eth0/100.rp_filter"),
            "net.ipv4.conf.eth0/100.rp_filter"
        );
        assert_eq!(normalize_key(b"kernel"), "kernel");
    }

    #[test]
    fn globs_are_marked_and_not_effective() {
        let f = parse(b"net.ipv4.tcp_tw_* = 1\nnet.ipv4.tcp_tw_reuse = 0\n");
        assert!(f.assignments[0].glob);
        assert_eq!(f.effective("net.ipv4.tcp_tw_reuse").unwrap().value, b"0");
        assert!(f.effective("net.ipv4.tcp_tw_*").is_none());
    }

    #[test]
    fn last_assignment_wins() {
        let text = "net.ipv4.tcp_fin_timeout = 10\nnet/ipv4/tcp_fin_timeout = 20\n-net.ipv4.tcp_fin_timeout = 60\nnet.ipv4.tcp_fin_timeout_x = 1\n";
        let f = parse(text.as_bytes());
        assert_eq!(f.assignments_of("net.ipv4.tcp_fin_timeout").count(), 3);
        assert_eq!(
            f.effective("net.ipv4.tcp_fin_timeout").unwrap().value,
            b"60"
        );
        let second = text.find("net/").unwrap() as u32;
        assert_eq!(
            f.effective_before("net.ipv4.tcp_fin_timeout", second)
                .unwrap()
                .value,
            b"10"
        );
        assert!(f.effective_before("net.ipv4.tcp_fin_timeout", 0).is_none());
    }

    #[test]
    fn byte_order_mark_is_reported_and_skipped() {
        let f = parse(b"\xEF\xBB\xBFnet.core.somaxconn = 1024\n");
        assert_eq!(f.errors.len(), 1);
        assert_eq!(f.errors[0].span, Span::new(0, 3));
        assert_eq!(f.assignments[0].key, "net.core.somaxconn");
    }

    #[test]
    fn non_utf8_is_read_as_bytes() {
        let text = b"net.ipv4.tcp_fin_timeout = 30\nkernel.\xff\xfe = \xc3(\n\xa0net.ipv4.tcp_max_tw_buckets = \xa09\nnet.ipv4.tcp_fin_timeout = 9\xa0\n";
        let f = parse(text);
        assert!(f.errors.is_empty());
        assert_eq!(f.assignments.len(), 4);
        assert_eq!(f.assignments[1].key, "kernel.\u{fffd}\u{fffd}");
        assert_eq!(f.assignments[1].value, b"\xc3(");
        // NBSP is not blank to procps (the key keeps it, and names no setting)...
        assert_eq!(f.assignments[2].key, "\u{fffd}net.ipv4.tcp_max_tw_buckets");
        // ...but the kernel skips it before a number, and refuses it after one.
        assert_eq!(f.assignments[2].integer().map(|n| n.value), Some(9));
        assert_eq!(f.assignments[3].integer(), None);
    }

    fn numbers(value: &str, count: usize) -> Result<Vec<i64>, String> {
        one(&format!("k = {value}"))
            .numbers(count)
            .map(|n| n.iter().map(|n| n.value).collect())
            .map_err(|e| e.problem)
    }

    /// Each case checked with `sysctl -p` in a network namespace on Linux 6.18.
    #[test]
    fn numbers_read_as_the_kernel_reads_them() {
        assert_eq!(numbers("0x10", 1), Ok(vec![16]));
        assert_eq!(numbers("0X1F", 1), Ok(vec![31]));
        assert_eq!(numbers("010", 1), Ok(vec![8]));
        assert_eq!(numbers("-1", 1), Ok(vec![-1]));
        assert_eq!(numbers("9 9", 1), Ok(vec![9]));
        assert_eq!(numbers("2 # why", 1), Ok(vec![2]));
        assert_eq!(numbers("2000 3000 4000", 2), Ok(vec![2000, 3000]));
        assert_eq!(numbers("40000", 2), Ok(vec![40000]));
        assert_eq!(numbers("0", 1), Ok(vec![0]));
        assert_eq!(numbers("2147483647", 1), Ok(vec![2147483647]));
        assert_eq!(numbers("-2147483648", 1), Ok(vec![-2147483648]));
        for (bad, problem) in [
            ("1#x", "`1#x` is not a number"),
            ("+7", "expected a number, found `+7`"),
            ("08", "`08` is not a number (a leading 0 makes it octal)"),
            ("1.5", "`1.5` is not a number"),
            ("yes", "expected a number, found `yes`"),
            ("-", "expected a number, found `-`"),
            ("3000000000", "`3000000000` does not fit a 32-bit integer"),
            (
                "99999999999999999999",
                "`99999999999999999999` is too large",
            ),
            (
                "000000000000000000001",
                "`000000000000000000001` is too large",
            ),
            ("2000,3000", "`2000,3000` is not a number"),
        ] {
            assert_eq!(numbers(bad, 2), Err(problem.to_string()), "{bad}");
        }
        // A bad second number fails the whole write.
        assert_eq!(
            numbers("2000 # x", 2),
            Err("expected a number, found `#`".to_string())
        );
    }

    /// Deterministic byte soups (a xorshift generator, biased toward the bytes the grammar
    /// cares about): the parser and the number reader never panic, every span stays inside the
    /// input, and a value is exactly the bytes its span covers.
    #[test]
    fn never_panics_on_generated_input() {
        const ALPHABET: &[u8] = b"=#;- \t\r\n./*0123456789xX-+aZ\xa0\xff\xc3\xef\xbb\xbf\x00";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let len = (next() % 64) as usize + usize::from(round % 7 == 0) * 200;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 5 == 0 {
                        (r >> 8) as u8
                    } else {
                        ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                    }
                })
                .collect();
            let f = parse(&bytes);
            let inside = |s: Span| s.start <= s.end && s.end as usize <= bytes.len();
            for a in &f.assignments {
                assert!(inside(a.key_span) && inside(a.value_span) && inside(a.line_span));
                assert_eq!(&bytes[a.value_span.range()], a.value.as_slice());
                for count in 1..=3 {
                    match a.numbers(count) {
                        Ok(ns) => assert!(ns.iter().all(|n| inside(n.span))),
                        Err(e) => assert!(inside(e.span)),
                    }
                }
            }
            for e in &f.errors {
                assert!(inside(e.span));
            }
        }
    }
}
