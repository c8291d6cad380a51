//! A small HTTP/1.1 backend for nginx to proxy to, on an ephemeral loopback port. It counts the
//! connections it accepts and closes them the way real servers do: after a response to
//! `Connection: close`, after a response to HTTP/1.0 without `Connection: keep-alive`, and when
//! a connection has been idle for its idle timeout. Otherwise it keeps the connection for the
//! next request. So the number of accepted connections says how well the proxy reuses them.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::http::read_headers;

/// How long a connection may sit idle before the backend closes it (shorter than any
/// experiment's wait, longer than nginx needs between two proxied requests).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Stats {
    /// The peer port of each accepted connection.
    peers: Mutex<Vec<u16>>,
    requests: AtomicUsize,
}

/// A running backend; stops (and joins its accept thread) on drop.
pub struct Backend {
    addr: SocketAddr,
    stats: Arc<Stats>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Backend {
    /// Starts a backend on `127.0.0.1:<ephemeral>`.
    pub fn start() -> io::Result<Backend> {
        let listener = bind_unused_port()?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let stats = Arc::clone(&stats);
            let stopping = Arc::clone(&stopping);
            std::thread::Builder::new()
                .name(format!("backend-{}", addr.port()))
                .spawn(move || accept_loop(listener, &stats, &stopping))?
        };
        Ok(Backend {
            addr,
            stats,
            stopping,
            acceptor: Some(acceptor),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.peer_ports().len()
    }

    /// The peer (nginx's) port of each accepted connection: with the backend's port, they
    /// identify this experiment's sockets among everything else in `/proc/net/tcp`.
    pub fn peer_ports(&self) -> Vec<u16> {
        self.stats
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept; the connection is dropped unanswered.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// Binds `127.0.0.1:<ephemeral>` on a port that no other socket uses as either end, so that the
/// TIME_WAIT counted on it is this experiment's alone: a port whose earlier connections still sit
/// in TIME_WAIT (from a server that listened there a moment ago) is free to bind, but its
/// leftovers would be counted.
pub fn bind_unused_port() -> io::Result<TcpListener> {
    // Held until the end, so that each bind returns a new port.
    let mut rejected = Vec::new();
    for _ in 0..50 {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let sockets = crate::tcp_states::sockets()?;
        let others = sockets
            .iter()
            .filter(|s| s.local_port == port || s.remote_port == port)
            .count();
        // Our own listening socket is the one expected.
        if others <= 1 {
            return Ok(listener);
        }
        rejected.push(listener);
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no loopback port without leftover connections in 50 tries",
    ))
}

fn accept_loop(listener: TcpListener, stats: &Arc<Stats>, stopping: &AtomicBool) {
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        stats
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(peer.port());
        let stats = Arc::clone(stats);
        // Each connection thread ends when its peer closes or after IDLE_TIMEOUT.
        let _ = std::thread::Builder::new().spawn(move || {
            let _ = serve(stream, &stats);
        });
    }
}

/// What a request asks of the connection.
struct Request {
    http10: bool,
    connection: Vec<String>,
}

impl Request {
    fn keeps_connection(&self) -> bool {
        let has = |t: &str| self.connection.iter().any(|c| c.eq_ignore_ascii_case(t));
        if has("close") {
            false
        } else if self.http10 {
            has("keep-alive")
        } else {
            true
        }
    }
}

fn serve(stream: TcpStream, stats: &Stats) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream);
    loop {
        // End of file or the idle timeout: close (an idle timeout makes us the closing side).
        let Some(request) = read_request(&mut reader)? else {
            return Ok(());
        };
        stats.requests.fetch_add(1, Ordering::SeqCst);
        let keep = request.keeps_connection();
        let version = if request.http10 { "1.0" } else { "1.1" };
        let connection = match (keep, request.http10) {
            (false, _) => "Connection: close\r\n",
            (true, true) => "Connection: keep-alive\r\n",
            (true, false) => "",
        };
        let response = format!(
            "HTTP/{version} 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{connection}\r\nbackend\n",
            BODY.len()
        );
        if keep {
            reader.get_mut().write_all(response.as_bytes())?;
        } else {
            close_after(reader.into_inner(), response.as_bytes())?;
            return Ok(());
        }
    }
}

const BODY: &str = "backend\n";

/// Sends the last response with the FIN in the same segment, as it arrives over a real network
/// (on loopback the proxy could otherwise read the response and close in the microseconds
/// between our write and our close), then waits for the peer to close too, as nginx's
/// lingering close does.
fn close_after(stream: TcpStream, last: &[u8]) -> io::Result<()> {
    set_cork(&stream, true);
    (&stream).write_all(last)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    set_cork(&stream, false);
    let mut sink = [0u8; 512];
    while matches!((&stream).read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

/// TCP_CORK: hold partial segments; a shutdown while corked sends the FIN with the data.
fn set_cork(stream: &TcpStream, on: bool) {
    use std::os::fd::AsRawFd;
    let value: libc::c_int = on.into();
    // SAFETY: a valid socket descriptor and a c_int option of the right size.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Reads one request head (and discards a `Content-Length` body); `None` when the peer closed
/// the connection or left it idle.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    match reader.by_ref().take(8192).read_line(&mut line) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    }
    let version = line.split_whitespace().nth(2).unwrap_or("");
    let http10 = match version {
        "HTTP/1.0" => true,
        "HTTP/1.1" => false,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an HTTP/1.x request line: {line:?}"),
            ))
        }
    };
    let headers = read_headers(reader)?;
    let mut connection = Vec::new();
    let mut body_len = 0u64;
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("connection") {
            connection.extend(value.split(',').map(|t| t.trim().to_string()));
        } else if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().unwrap_or(0);
        }
    }
    io::copy(&mut reader.by_ref().take(body_len), &mut io::sink())?;
    Ok(Some(Request { http10, connection }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{connect, read_response, Client};

    fn raw(backend: &Backend, request: &str) -> (crate::http::Response, bool) {
        let stream = connect(backend.addr()).unwrap();
        let mut reader = BufReader::new(stream);
        reader.get_mut().write_all(request.as_bytes()).unwrap();
        let response = read_response(&mut reader).unwrap();
        // Closed by the backend: the next read sees end of file at once.
        let mut rest = Vec::new();
        reader
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let closed = matches!(reader.read_to_end(&mut rest), Ok(0));
        (response, closed)
    }

    #[test]
    fn keeps_http11_connections_and_counts_them() {
        let backend = Backend::start().unwrap();
        let mut client = Client::keep_alive(backend.addr());
        for _ in 0..5 {
            let r = client.get("/").unwrap();
            assert_eq!((r.status, r.body.as_slice()), (200, &b"backend\n"[..]));
        }
        assert_eq!(client.connections(), 1);
        assert_eq!(backend.requests(), 5);
        assert_eq!(backend.accepted(), 1);
    }

    #[test]
    fn a_connection_close_client_opens_a_connection_per_request() {
        let backend = Backend::start().unwrap();
        let options = crate::http::ClientOptions {
            send_close: true,
            ..Default::default()
        };
        let mut client = Client::new(backend.addr(), options);
        for _ in 0..3 {
            assert!(client.get("/").unwrap().connection_has("close"));
        }
        assert_eq!(client.connections(), 3);
        assert_eq!(backend.accepted(), 3);
        assert_eq!(backend.peer_ports(), client.local_ports());
    }

    #[test]
    fn closes_after_connection_close_and_plain_http10() {
        let backend = Backend::start().unwrap();
        let (r, closed) = raw(
            &backend,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(r.connection_has("close") && closed);
        let (r, closed) = raw(&backend, "GET / HTTP/1.0\r\n\r\n");
        assert!(r.ends_connection() && closed);
        let (r, closed) = raw(&backend, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(r.connection_has("keep-alive") && !closed);
        assert_eq!(backend.accepted(), 3);
    }
}
