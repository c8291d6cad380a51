//! Crate-wide function summaries (`cli/src/crates.rs`, `lints::rust::crate_facts`): a call to a
//! function another file of the crate defines is judged by that function, whether that file is
//! checked in the same run or not (a pre-commit run names only the changed files).

use std::path::Path;

use serde_json::Value;

/// A mio server that stores accepted streams in `self.connections` and leaves their removal to
/// `self.close_connection(token)`, which its child module `conn.rs` defines (a child module sees
/// the private fields).
const SERVER: &str = r#"
mod conn;

use std::collections::HashMap;
use std::io::{self, Read};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

pub struct Server {
    poll: Poll,
    listener: TcpListener,
    connections: HashMap<Token, TcpStream>,
    next: usize,
}

impl Server {
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(128);
        loop {
            self.poll.poll(&mut events, None)?;
            for event in events.iter() {
                match event.token() {
                    Token(0) => self.accept_all()?,
                    token => self.readable(token),
                }
            }
        }
    }

    fn accept_all(&mut self) -> io::Result<()> {
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            let token = Token(self.next);
            self.next += 1;
            self.poll.registry().register(&mut stream, token, Interest::READABLE)?;
            self.connections.insert(token, stream);
        }
    }

    fn readable(&mut self, token: Token) {
        let mut buf = [0u8; 4096];
        loop {
            let Some(stream) = self.connections.get_mut(&token) else { return };
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => {
                    self.close_connection(token);
                    return;
                }
                Ok(_) => {}
            }
        }
    }
}
"#;

const CLOSES: &str = r#"
use mio::Token;
use super::Server;

impl Server {
    pub(crate) fn close_connection(&mut self, token: Token) {
        if let Some(mut stream) = self.connections.remove(&token) {
            let _ = self.poll.registry().deregister(&mut stream);
        }
    }
}
"#;

const ONLY_LOGS: &str = r#"
use mio::Token;
use super::Server;

impl Server {
    pub(crate) fn close_connection(&mut self, token: Token) {
        eprintln!("closing {token:?}");
    }
}
"#;

/// A child module that sweeps the parent's private `connections` field, in a method that the
/// storing file never calls (a timer elsewhere does).
const SWEEPS: &str = r#"
use super::Server;

impl Server {
    pub fn sweep_closed(&mut self) {
        self.connections.retain(|_, stream| stream.peer_addr().is_ok());
    }
}
"#;

/// A thread-per-connection server whose read helper lives in `codec.rs`.
const MAIN: &str = r#"
mod codec;

use std::io::Write;
use std::net::TcpListener;

use crate::codec::read_frame;

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:7000")?;
    for stream in listener.incoming() {
        let mut stream = stream?;
        std::thread::spawn(move || loop {
            match read_frame(&mut stream) {
                Ok(frame) => {
                    let _ = stream.write_all(&frame);
                }
                Err(_) => return,
            }
        });
    }
    Ok(())
}
"#;

/// End of stream comes back as an empty frame.
const CODEC_EMPTY_FRAME: &str = r#"
use std::io::{self, Read};
use std::net::TcpStream;

pub fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; 1024];
    match stream.read(&mut buf) {
        Ok(0) => Ok(Vec::new()),
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => Err(e),
    }
}
"#;

/// End of stream comes back as an error.
const CODEC_EOF_ERROR: &str = r#"
use std::io::{self, Read};
use std::net::TcpStream;

pub fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; 1024];
    match stream.read(&mut buf) {
        Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => Err(e),
    }
}
"#;

fn crate_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir(dir.path().join(".git")).expect("mkdir .git");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"split\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .expect("write Cargo.toml");
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write source");
    }
    dir
}

/// `waitlint check --format json ARGS` in `dir`: the findings as (code, file, line) and the
/// files of every label.
fn check(dir: &Path, args: &[&str]) -> (Vec<(String, String, u64)>, Vec<String>) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_waitlint"))
        .current_dir(dir)
        .args(["check", "--format", "json"])
        .args(args)
        .output()
        .expect("waitlint runs");
    assert!(
        output.status.code().is_some_and(|c| c < 2),
        "exit status {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    let diagnostics = doc["diagnostics"].as_array().expect("diagnostics array");
    let findings = diagnostics
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_string(),
                d["file"].as_str().unwrap_or_default().to_string(),
                d["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let label_files = diagnostics
        .iter()
        .flat_map(|d| d["labels"].as_array().into_iter().flatten())
        .map(|l| l["file"].as_str().unwrap_or_default().to_string())
        .collect();
    (findings, label_files)
}

#[test]
fn a_removal_in_another_file_of_the_crate_counts_even_when_only_the_caller_is_checked() {
    let dir = crate_with(&[
        ("src/server/mod.rs", SERVER),
        ("src/server/conn.rs", CLOSES),
    ]);
    for args in [&["src/server/mod.rs"][..], &["."], &["src"]] {
        let (findings, _) = check(dir.path(), args);
        assert_eq!(findings, [], "check {args:?}");
    }
}

#[test]
fn a_helper_in_another_file_that_does_not_remove_is_judged_by_what_it_does() {
    let dir = crate_with(&[
        ("src/server/mod.rs", SERVER),
        ("src/server/conn.rs", ONLY_LOGS),
    ]);
    let (findings, _) = check(dir.path(), &["src/server/mod.rs"]);
    assert_eq!(
        findings,
        [("RS002".to_string(), "src/server/mod.rs".to_string(), 41)]
    );
    // A nested crate is another crate: its helper does not answer this one's calls.
    let dir = crate_with(&[
        ("src/server/mod.rs", SERVER),
        ("src/server/conn.rs", ONLY_LOGS),
        ("vendored/Cargo.toml", "[package]\nname = \"v\"\n"),
        ("vendored/src/lib.rs", CLOSES),
    ]);
    let (findings, _) = check(dir.path(), &["src/server/mod.rs"]);
    assert_eq!(findings.len(), 1, "{findings:?}");
}

#[test]
fn a_field_cleaned_in_a_child_module_file_counts() {
    let server = SERVER.replace(
        "self.close_connection(token);",
        "eprintln!(\"{token:?} done\");",
    );
    let dir = crate_with(&[
        ("src/server/mod.rs", &server),
        ("src/server/conn.rs", SWEEPS),
    ]);
    let (findings, _) = check(dir.path(), &["src/server/mod.rs"]);
    assert_eq!(
        findings,
        [],
        "the sweep in conn.rs removes from `self.connections`"
    );
    let dir = crate_with(&[("src/server/mod.rs", &server), ("src/server/conn.rs", "")]);
    let (findings, _) = check(dir.path(), &["src/server/mod.rs"]);
    assert_eq!(findings.len(), 1, "no sweep anywhere: {findings:?}");
}

#[test]
fn end_of_stream_returned_as_success_by_a_helper_of_another_file_is_followed() {
    let dir = crate_with(&[("src/main.rs", MAIN), ("src/codec.rs", CODEC_EMPTY_FRAME)]);
    for args in [&["src/main.rs"][..], &["."]] {
        let (findings, label_files) = check(dir.path(), args);
        assert_eq!(
            findings,
            [("RS001".to_string(), "src/main.rs".to_string(), 15)],
            "check {args:?}"
        );
        assert!(
            label_files.iter().any(|f| f == "src/codec.rs"),
            "the helper's `Ok(0)` arm is labelled in its own file: {label_files:?}"
        );
    }
    let dir = crate_with(&[("src/main.rs", MAIN), ("src/codec.rs", CODEC_EOF_ERROR)]);
    let (findings, _) = check(dir.path(), &["src/main.rs"]);
    assert_eq!(findings, [], "end of stream is an error: the loop returns");
}

#[test]
fn human_output_shows_the_helper_file_with_its_source() {
    let dir = crate_with(&[("src/main.rs", MAIN), ("src/codec.rs", CODEC_EMPTY_FRAME)]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_waitlint"))
        .current_dir(dir.path())
        .args(["check", "--color", "never", "."])
        .output()
        .expect("waitlint runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("┌─ src/codec.rs:8:9") && text.contains("Ok(0) => Ok(Vec::new()),"),
        "{text}"
    );
}

/// A relay between two connections, which `relay-half-close-unbounded` flags.
const RELAY: &str = r#"
use tokio::io::copy_bidirectional;
use tokio::net::TcpStream;

pub async fn relay(mut client: TcpStream, mut backend: TcpStream) {
    let _ = copy_bidirectional(&mut client, &mut backend).await;
}
"#;

#[test]
fn integration_tests_and_benchmarks_of_a_crate_are_test_code() {
    let dir = crate_with(&[
        ("src/lib.rs", RELAY),
        ("tests/relay.rs", RELAY),
        ("tests/common/mod.rs", RELAY),
        ("benches/relay.rs", RELAY),
        ("examples/relay.rs", RELAY),
    ]);
    for args in [&["."][..], &["tests", "benches", "src", "examples"]] {
        let (findings, _) = check(dir.path(), args);
        let mut files: Vec<&str> = findings.iter().map(|(_, f, _)| f.as_str()).collect();
        files.sort();
        assert_eq!(files, ["examples/relay.rs", "src/lib.rs"], "check {args:?}");
    }
    // From inside the crate's test directory, the crate root is found the same way.
    let (findings, _) = check(&dir.path().join("tests"), &["."]);
    assert_eq!(findings, [], "check . in tests/");
}

/// A connection wrapper of the crate whose `receive` hands the read's count back as is.
const NETWORK_PASSES_ZERO: &str = r#"use std::io::Read;

pub struct NetworkConnection<T: Read> {
    io: T,
}

impl<T: Read> NetworkConnection<T> {
    pub fn receive(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        self.io.read(buffer)
    }
}
"#;

/// The same wrapper turning end of stream into an error.
const NETWORK_EOF_ERROR: &str = r#"use std::io::Read;

pub struct NetworkConnection<T: Read> {
    io: T,
}

impl<T: Read> NetworkConnection<T> {
    pub fn receive(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self.io.read(buffer)? {
            0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => Ok(n),
        }
    }
}
"#;

/// A packet reader of another file, written against the wrapper: its loop calls the wrapper's
/// method on a parameter of the wrapper's type. (The file also reads a greeting itself: a file
/// whose only reads are a wrapper's methods is not past the prefilter, see `prefilter.rs`.)
const CLIENT: &str = r#"use std::io::Read;

use crate::network::NetworkConnection;

pub fn receive_packet<T: Read>(buf: &mut [u8], conn: &mut NetworkConnection<T>) -> std::io::Result<usize> {
    let mut i = 0;
    loop {
        let len = conn.receive(&mut buf[i..i + 1])?;
        i = i + len;
        if i > 1 {
            return Ok(i);
        }
    }
}

pub fn greeting<R: Read>(r: &mut R) -> std::io::Result<usize> {
    let mut hello = [0u8; 4];
    r.read(&mut hello)
}
"#;

#[test]
fn a_method_of_a_crate_wrapper_is_resolved_by_the_receivers_declared_type() {
    let lib = "pub mod client;\npub mod network;\n";
    let dir = crate_with(&[
        ("src/lib.rs", lib),
        ("src/client.rs", CLIENT),
        ("src/network.rs", NETWORK_PASSES_ZERO),
    ]);
    for args in [&["src/client.rs"][..], &["."]] {
        let (findings, _) = check(dir.path(), args);
        assert_eq!(
            findings,
            [("RS001".to_string(), "src/client.rs".to_string(), 8)],
            "check {args:?}"
        );
    }
    let dir = crate_with(&[
        ("src/lib.rs", lib),
        ("src/client.rs", CLIENT),
        ("src/network.rs", NETWORK_EOF_ERROR),
    ]);
    let (findings, _) = check(dir.path(), &["."]);
    assert_eq!(findings, [], "end of stream is an error: the loop returns");
}
