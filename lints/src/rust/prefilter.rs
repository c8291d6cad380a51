//! The cheap first pass: a file that mentions none of the trigger words cannot match any rule,
//! so it is not parsed at all.

/// Words at least one of which every rule's pattern contains. Kept specific: a common word here
/// means parsing most of a tree for nothing. Calls are matched with their `(` (`accept(` also
/// finds `.accept()`, `libc::accept(`, `poll_accept(`) and enum paths with their `::`, so that
/// prose ("accepted", "don't forget") and generated bindings (windows-sys's `KeepAliveState`,
/// `ERROR_CONNECTION_ABORTED`) do not count: on the real-world corpus of scripts/bench-rust the
/// bare words sent 83 MB of 211 MB to the parser, these 22 MB.
const TRIGGERS: &[&[u8]] = &[
    b"linger",
    b"keep_alive",
    b"keepalive",
    b"KeepAlive::",
    b"pool_max_idle",
    b"pool_idle_timeout",
    b"force_close",
    b"ConnectionType::",
    b"ClientBuilder",
    b"Client::default",
    b"reqwest",
    // `Connection: close` needs a literal close value (header name `CONNECTION` or "connection").
    b"\"close\"",
    b"\"Close\"",
    b"\"CLOSE\"",
    b"Client::new",
    b"Client::builder",
    b"accept(",
    b"accept4(",
    b"accept_raw(",
    b"incoming(",
    b"into_raw_fd",
    b"into_raw_socket",
    b"forget(",
    b"Box::leak",
    b"ManuallyDrop::new",
    b"Listener::bind",
    b"TcpStream",
    b"copy_bidirectional",
    // Streams of frames or lines over a connection (`FramedRead::new`, `Framed::new`,
    // `codec.framed(conn)`); not a bare `Framed`, which Windows bindings spell in constant names.
    b"FramedRead",
    b"Framed::",
    b"Framed<",
    b".framed(",
    b"next_line(",
    b"UnixStream",
];

/// A read of a connection whose type only its declaration names (a generic `R: AsyncRead`, a
/// `&mut dyn Read`, a field of a crate struct) needs both a read call and a reader trait used as
/// a bound (`use std::io::Read` alone, in every file that reads a file, does not count: on the
/// corpus a bare `Read` sent 35 MB to the parser, the bounds 23 MB, the other triggers 20 MB).
const READ_CALLS: &[&[u8]] = &[b"read(", b"read_buf(", b"read_line(", b"read_until("];

/// How a reader trait is written as a bound: `R: Read`, `T: Write + Read`, `&mut dyn Read`,
/// `impl AsyncRead`, path-qualified or not.
fn reader_bounds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for before in [": ", "+ ", "dyn ", "impl "] {
        for path in [
            "",
            "io::",
            "std::io::",
            "tokio::io::",
            "futures::io::",
            "futures::",
        ] {
            for t in ["Read", "BufRead", "AsyncRead", "AsyncBufRead"] {
                out.push(format!("{before}{path}{t}").into_bytes());
            }
        }
    }
    out
}

/// The trigger words and read calls in one automaton, so a file is scanned once (a scan per
/// word cost more than the rules on the files that pass).
static WORDS: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(TRIGGERS.iter().chain(READ_CALLS))
        .expect("the trigger words build an automaton")
});

/// The reader bounds, looked for only in files with a read call.
static BOUNDS: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::new(reader_bounds()).expect("the bounds build an automaton")
});

/// Whether a file may match a rule: a trigger word, or a reader bound with a read call. A file
/// whose only read is a method of a crate wrapper (`conn.receive(&mut buf)` on a
/// `&mut NetworkConnection<T>`) is not looked at: letting through every file with a reader
/// bound and a loop cost 8-10 % of the corpus run (measured in session 6).
pub fn may_match(source: &[u8]) -> bool {
    let mut reads = false;
    for m in WORDS.find_iter(source) {
        if m.pattern().as_usize() < TRIGGERS.len() {
            return true;
        }
        reads = true;
    }
    reads && BOUNDS.is_match(source)
}

#[cfg(test)]
mod tests {
    #[test]
    fn triggers() {
        assert!(super::may_match(b"sock.set_linger(None)"));
        assert!(!super::may_match(b"fn main() { println!(\"hi\"); }"));
    }

    #[test]
    fn calls_trigger_and_prose_does_not() {
        for code in [
            &b"let (s, _) = listener.accept().await?;"[..],
            b"let fd = libc::accept4(lfd, p, l, 0);",
            b"for s in l.incoming() {}",
            b"std::mem::forget(stream);",
            b"let s = ManuallyDrop::new(s);",
            b"HttpServer::new(f).keep_alive(KeepAlive::Disabled)",
            b"res.headers_mut().insert(CONNECTION, HeaderValue::from_static(\"close\"));",
            b"(\"Connection\", \"Close\")",
            b"fn f<R: AsyncRead>(r: R) { r.read(&mut b) }",
            b"fn f<R: std::io::Read>(r: R) { r.read(&mut b) }",
            b"fn f(r: &mut dyn io::BufRead) { r.read_line(&mut b) }",
        ] {
            assert!(super::may_match(code), "{}", String::from_utf8_lossy(code));
        }
        for prose in [
            &b"/// Returns once the peer accepted the offer; don't forget the incoming queue."[..],
            b"pub const ERROR_CONNECTION_ABORTED: u32 = 1236;",
            b"pub type KeepAliveState = i32;",
            b"fn f<R: AsyncRead>(r: R) -> R { r }",
            b"use std::io::Read; fn f(p: &Path) { File::open(p)?.read(&mut b)?; }",
            b"use std::io::Read; fn f(v: &[u8]) { loop { step(v); } }",
        ] {
            assert!(
                !super::may_match(prose),
                "{}",
                String::from_utf8_lossy(prose)
            );
        }
    }
}
