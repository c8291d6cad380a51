//! Tiny HTTP/1.1 clients over std `TcpStream`, enough to drive nginx the way real clients do:
//! a keep-alive client that reuses its connection for as long as the server allows (and, like a
//! connection pool, notices when the server closed it while idle), a client that sends
//! `Connection: close`, and a custom `User-Agent`.
//! Every read and write has a timeout, so a misbehaving server fails the experiment instead of
//! hanging it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long a client waits for the server's FIN after a response that ends the connection.
pub const CLOSE_GRACE: Duration = Duration::from_millis(20);

/// How long any single connect, read or write may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// `1.0` or `1.1`.
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Every value of a header, in order (names compare case-insensitively).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether any `Connection` header lists the token (`close`, `keep-alive`).
    pub fn connection_has(&self, token: &str) -> bool {
        self.header_values("connection")
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection ends after this response (RFC 9112 §9.3): `Connection: close`
    /// anywhere, or HTTP/1.0 without `Connection: keep-alive`. An HTTP/1.1 client must close.
    pub fn ends_connection(&self) -> bool {
        self.connection_has("close")
            || (self.version == "1.0" && !self.connection_has("keep-alive"))
    }
}

/// What the client puts in its requests.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `User-Agent` to send; none when `None`.
    pub user_agent: Option<String>,
    /// Send `Connection: close` with every request (and so never reuse a connection).
    pub send_close: bool,
}

/// An HTTP/1.1 client with at most one connection, reused while the server keeps it open.
///
/// After a response that ends the connection it closes its socket, as curl and browsers do, but
/// first gives the server [`CLOSE_GRACE`] to close its side: on a real network a server's FIN
/// travels right behind the last byte of its response, so a client always finds it there,
/// while on loopback a fast client could close a few microseconds before the server and take
/// the TIME_WAIT that the network would have left on the server. Before reusing an idle
/// connection it checks whether the server closed it meanwhile, as connection pools do, and
/// then opens a new one.
pub struct Client {
    addr: SocketAddr,
    options: ClientOptions,
    conn: Option<BufReader<TcpStream>>,
    local_ports: Vec<u16>,
    requests: usize,
}

impl Client {
    pub fn new(addr: SocketAddr, options: ClientOptions) -> Client {
        Client {
            addr,
            options,
            conn: None,
            local_ports: Vec::new(),
            requests: 0,
        }
    }

    /// A keep-alive client with no `User-Agent`.
    pub fn keep_alive(addr: SocketAddr) -> Client {
        Client::new(addr, ClientOptions::default())
    }

    /// Connections opened so far.
    pub fn connections(&self) -> usize {
        self.local_ports.len()
    }

    /// The local port of each connection opened so far: with the server's port, they identify
    /// this client's sockets among everything else in `/proc/net/tcp`.
    pub fn local_ports(&self) -> &[u16] {
        &self.local_ports
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests
    }

    /// Sends `GET path` and reads the response, on the open connection when the server still
    /// keeps it, else on a new one.
    pub fn get(&mut self, path: &str) -> io::Result<Response> {
        if self.conn.as_ref().is_some_and(|c| !still_open(c.get_ref())) {
            // The server closed it while we were idle: our close now completes its close.
            self.conn = None;
        }
        let conn = match &mut self.conn {
            Some(c) => c,
            None => {
                let stream = connect(self.addr)?;
                self.local_ports.push(stream.local_addr()?.port());
                self.conn.insert(BufReader::new(stream))
            }
        };
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
        if let Some(ua) = &self.options.user_agent {
            request.push_str(&format!("User-Agent: {ua}\r\n"));
        }
        if self.options.send_close {
            request.push_str("Connection: close\r\n");
        }
        request.push_str("\r\n");
        conn.get_mut().write_all(request.as_bytes())?;
        let response = read_response(conn)?;
        self.requests += 1;
        if response.ends_connection() || self.options.send_close {
            if let Some(c) = self.conn.take() {
                wait_for_eof(c.into_inner(), CLOSE_GRACE);
            }
        }
        Ok(response)
    }

    /// Closes the open connection, if any (the client closes first).
    pub fn close(&mut self) {
        self.conn = None;
    }
}

/// Opens a connection with the lab's timeouts.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Reads (and discards) until the peer closes or `grace` passes, then closes.
fn wait_for_eof(mut stream: TcpStream, grace: Duration) {
    let deadline = Instant::now() + grace;
    let mut buf = [0u8; 512];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Whether the peer has neither closed the connection nor sent anything unasked: a
/// non-blocking peek sees end-of-file when its FIN has arrived.
fn still_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let open = matches!(stream.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    open && stream.set_nonblocking(false).is_ok()
}

fn bad_data(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Most bytes of head or body the lab accepts: its servers send a few bytes.
const MAX_LEN: usize = 1 << 20;

/// Reads one line ending in CRLF (or LF), without it.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    let n = reader.take(8192).read_line(&mut line)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a complete response",
        ));
    }
    if !line.ends_with('\n') {
        return Err(bad_data("line too long or truncated"));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads a header block up to its empty line.
pub fn read_headers(reader: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            return Ok(headers);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad_data(format!("malformed header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
        if headers.len() > 100 {
            return Err(bad_data("more than 100 headers"));
        }
    }
}

/// Reads one response: status line, headers, and a body delimited by `Content-Length`,
/// chunked encoding, or (without either) the end of the connection.
pub fn read_response(reader: &mut impl BufRead) -> io::Result<Response> {
    let status_line = read_line(reader)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts
        .next()
        .and_then(|v| v.strip_prefix("HTTP/"))
        .ok_or_else(|| bad_data(format!("not an HTTP status line: {status_line:?}")))?
        .to_string();
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_data(format!("no status code in {status_line:?}")))?;
    let headers = read_headers(reader)?;
    let mut response = Response {
        version,
        status,
        headers,
        body: Vec::new(),
    };
    let chunked = response
        .header_values("transfer-encoding")
        .iter()
        .any(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = response
        .header_values("content-length")
        .first()
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| bad_data(format!("bad Content-Length {v:?}")))
        })
        .transpose()?;
    if status == 204 || status == 304 || (100..200).contains(&status) {
        // No body, whatever the headers say.
    } else if chunked {
        response.body = read_chunked(reader)?;
    } else if let Some(n) = length {
        if n > MAX_LEN {
            return Err(bad_data(format!("body of {n} bytes is too large")));
        }
        response.body = vec![0; n];
        reader.read_exact(&mut response.body)?;
    } else {
        reader
            .take(MAX_LEN as u64)
            .read_to_end(&mut response.body)?;
    }
    Ok(response)
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| bad_data(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            read_headers(reader)?;
            return Ok(body);
        }
        if body.len() + size > MAX_LEN {
            return Err(bad_data("chunked body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader)?.is_empty() {
            return Err(bad_data("chunk not followed by CRLF"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> io::Result<Response> {
        read_response(&mut BufReader::new(text.as_bytes()))
    }

    #[test]
    fn reads_content_length_and_both_connection_headers() {
        let r = parse("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\nNEXT").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"ok\n");
        assert_eq!(r.header_values("CONNECTION"), ["keep-alive", "close"]);
        assert!(r.ends_connection());
    }

    #[test]
    fn reads_chunked_bodies_and_keeps_http11_connections() {
        let r = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n1\r\n!\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"ok!");
        assert!(!r.ends_connection());
    }

    #[test]
    fn http10_ends_the_connection_unless_keep_alive_is_said() {
        let r = parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert!(r.ends_connection());
        let r = parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        assert!(!r.ends_connection());
    }

    #[test]
    fn truncated_or_malformed_responses_are_errors_not_panics() {
        for text in [
            "",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok",
            "SMTP ready\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }
}
