//! The cheap first pass: a file that mentions none of the trigger words cannot match any rule,
//! so it is not parsed at all.

/// Words at least one of which every rule's pattern contains. Kept specific: a common word here
/// means parsing most of a tree for nothing.
const TRIGGERS: &[&[u8]] = &[
    b"linger",
    b"keep_alive",
    b"keepalive",
    b"KeepAlive",
    b"pool_max_idle",
    b"pool_idle_timeout",
    b"force_close",
    b"ConnectionType",
    b"ClientBuilder",
    b"Client::default",
    b"reqwest",
    b"CONNECTION",
    b"\"close\"",
    b"Client::new",
    b"Client::builder",
    b"accept",
    b"incoming",
    b"into_raw_fd",
    b"into_raw_socket",
    b"forget",
    b"Box::leak",
    b"ManuallyDrop",
    b"Listener::bind",
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
}
