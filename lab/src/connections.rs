//! The client side of the Rust experiments: [`line_client`] talks to the line-protocol
//! fixtures, [`concurrently`] runs many of them at once, and [`Connections`] counts the kernel's
//! sockets of exactly those connections.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::tcp_states::{self, Counts, State};

/// How a client's conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The server closed with FIN: read returned 0.
    Eof,
    /// The server's close reached the client as RST: read failed with ECONNRESET.
    Reset,
    /// The client stopped waiting (the reply was complete, or no end came in time).
    ClientClosed,
    /// connect, write or read failed otherwise.
    Error,
}

/// What one client saw.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// The client's own port, which tells this connection's sockets from any other socket
    /// that happens to use the server's port number (`None` if connect failed).
    pub local_port: Option<u16>,
    pub reply: Vec<u8>,
    pub ending: Ending,
}

/// What a line client waits for before it closes.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    /// Close right after sending: a client that expects no answer (a subscription, a log line).
    Nothing,
    /// Read the reply's first line, then close: a client done with its answer.
    FirstLine,
    /// Read until the server ends the connection (FIN or RST).
    ServerClose,
}

/// Connects, sends `request`, reads what `wait` says (each read bounded by `timeout`; a client
/// whose server never answers gives up after it), and closes its socket (FIN: the
/// client has read everything the server sent, so close() does not turn into RST).
pub fn line_client(
    addr: SocketAddr,
    request: &[u8],
    wait: Wait,
    timeout: Duration,
) -> Conversation {
    let mut reply = Vec::new();
    let mut local_port = None;
    let ending = match converse(addr, request, wait, timeout, &mut local_port, &mut reply) {
        Ok(ending) => ending,
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ending::Reset,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ending::ClientClosed
        }
        Err(_) => Ending::Error,
    };
    Conversation {
        local_port,
        reply,
        ending,
    }
}

fn converse(
    addr: SocketAddr,
    request: &[u8],
    wait: Wait,
    timeout: Duration,
    local_port: &mut Option<u16>,
    reply: &mut Vec<u8>,
) -> io::Result<Ending> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    *local_port = Some(stream.local_addr()?.port());
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(request)?;
    if matches!(wait, Wait::Nothing) {
        return Ok(Ending::ClientClosed);
    }
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(Ending::Eof);
        }
        reply.extend_from_slice(&buf[..n]);
        if matches!(wait, Wait::FirstLine) && reply.contains(&b'\n') {
            // Everything the server sent is read, so dropping the stream sends FIN, not RST.
            return Ok(Ending::ClientClosed);
        }
    }
}

/// Runs `clients` copies of `client` at once, each on its own thread, and returns what each saw.
pub fn concurrently<T: Send + 'static>(
    clients: usize,
    client: impl Fn() -> T + Send + Sync + 'static,
) -> Vec<T> {
    let client = Arc::new(client);
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let client = Arc::clone(&client);
            thread::spawn(move || client())
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a client thread panicked"))
        .collect()
}

/// The sockets of one experiment's connections: the server's port and the clients' own ports.
/// Counting by the server's port alone would also count an unrelated socket that happens to
/// use that number (a client of another test whose ephemeral port it is: std's listeners set
/// SO_REUSEADDR, so the kernel may hand out the same number to both).
pub struct Connections {
    port: u16,
    clients: HashSet<u16>,
}

impl Connections {
    /// The connections between the server's `port` and the clients' own ports.
    pub fn new(port: u16, clients: impl IntoIterator<Item = u16>) -> Connections {
        Connections {
            port,
            clients: clients.into_iter().collect(),
        }
    }

    /// Each of the connections' sockets: whether it is the server's (else the client's), and
    /// its state. Panics when `/proc/net/tcp` cannot be read: an experiment that cannot see
    /// the sockets must fail, not count zero.
    pub fn sockets(&self) -> Vec<(bool, u8)> {
        tcp_states::sockets()
            .unwrap_or_else(|e| panic!("cannot read /proc/net/tcp: {e}"))
            .iter()
            .filter_map(|s| {
                if s.local_port == self.port && self.clients.contains(&s.remote_port) {
                    Some((true, s.state))
                } else if s.remote_port == self.port && self.clients.contains(&s.local_port) {
                    Some((false, s.state))
                } else {
                    None
                }
            })
            .collect()
    }

    /// The connections' sockets in `state`, by side.
    pub fn count(&self, state: State) -> Counts {
        let mut counts = Counts::default();
        for (server, st) in self.sockets() {
            if st == state as u8 {
                if server {
                    counts.server += 1;
                } else {
                    counts.client += 1;
                }
            }
        }
        counts
    }

    /// The server's connections that it has not closed yet: established or waiting in
    /// CLOSE_WAIT (in its accept queue or accepted).
    pub fn server_open(&self) -> usize {
        self.sockets()
            .iter()
            .filter(|(server, st)| {
                *server && (*st == State::Established as u8 || *st == State::CloseWait as u8)
            })
            .count()
    }

    /// The server's sockets of these connections, in any state.
    pub fn server_sockets(&self) -> usize {
        self.sockets().iter().filter(|(server, _)| *server).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn counts_only_the_given_clients_connections_on_each_side() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let ours = TcpStream::connect(addr).unwrap();
        let (_ours_accepted, _) = listener.accept().unwrap();
        let other = TcpStream::connect(addr).unwrap();
        let (_other_accepted, _) = listener.accept().unwrap();
        let conns = Connections::new(addr.port(), [ours.local_addr().unwrap().port()]);
        let established = conns.count(State::Established);
        assert_eq!((established.server, established.client), (1, 1));
        assert_eq!(conns.server_open(), 1);
        assert_eq!(conns.server_sockets(), 1);
        drop(other);
    }
}
