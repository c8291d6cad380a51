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
    b"UnixStream",
];

pub fn may_match(source: &[u8]) -> bool {
    TRIGGERS
        .iter()
        .any(|t| memchr::memmem::find(source, t).is_some())
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
        ] {
            assert!(super::may_match(code), "{}", String::from_utf8_lossy(code));
        }
        for prose in [
            &b"/// Returns once the peer accepted the offer; don't forget the incoming queue."[..],
            b"pub const ERROR_CONNECTION_ABORTED: u32 = 1236;",
            b"pub type KeepAliveState = i32;",
        ] {
            assert!(
                !super::may_match(prose),
                "{}",
                String::from_utf8_lossy(prose)
            );
        }
    }
}
