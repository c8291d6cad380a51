//! Counting TCP states from `/proc/net/tcp` and `/proc/net/tcp6`, split by which side of a
//! connection a socket is: the server's own sockets have the server port as their local port,
//! the clients' sockets have it as their remote port.

use std::fmt;

/// TCP states as the kernel numbers them in `/proc/net/tcp` (include/net/tcp_states.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Established = 0x01,
    FinWait1 = 0x04,
    FinWait2 = 0x05,
    TimeWait = 0x06,
    Close = 0x07,
    CloseWait = 0x08,
    LastAck = 0x09,
    Listen = 0x0A,
}

/// One socket line of `/proc/net/tcp{,6}`: ports and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Socket {
    pub local_port: u16,
    pub remote_port: u16,
    pub state: u8,
}

/// Sockets of one port, by side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Sockets whose local port is the port: the server's side of each connection.
    pub server: usize,
    /// Sockets whose remote port is the port: the clients' side.
    pub client: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server {}, client {}", self.server, self.client)
    }
}

/// Every TCP socket of this network namespace, IPv4 and IPv6.
pub fn sockets() -> std::io::Result<Vec<Socket>> {
    let mut out = Vec::new();
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        match std::fs::read_to_string(path) {
            Ok(text) => out.extend(parse(&text)),
            // A kernel without IPv6 has no tcp6 table.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.ends_with('6') => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Parses the text of `/proc/net/tcp` (or tcp6); the header line and malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Socket> {
    text.lines().skip(1).filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Socket> {
    // "  0: 0100007F:1F90 0100007F:D2B4 06 ..." — sl, local, remote, state.
    let mut fields = line.split_whitespace().skip(1);
    let port = |addr: &str| u16::from_str_radix(addr.rsplit_once(':')?.1, 16).ok();
    let local_port = port(fields.next()?)?;
    let remote_port = port(fields.next()?)?;
    let state = u8::from_str_radix(fields.next()?, 16).ok()?;
    Some(Socket {
        local_port,
        remote_port,
        state,
    })
}

/// Counts the sockets in `state` on each side of `port`.
pub fn count(sockets: &[Socket], port: u16, state: State) -> Counts {
    let mut c = Counts::default();
    for s in sockets.iter().filter(|s| s.state == state as u8) {
        if s.local_port == port {
            c.server += 1;
        } else if s.remote_port == port {
            c.client += 1;
        }
    }
    c
}

/// Reads the tables and counts `state` on each side of `port`.
pub fn count_now(port: u16, state: State) -> std::io::Result<Counts> {
    Ok(count(&sockets()?, port, state))
}

/// A socket with its pending timer, from the `tr tm->when` columns of `/proc/net/tcp{,6}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedSocket {
    pub socket: Socket,
    /// Which timer runs: 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT (also an orphan's
    /// FIN_WAIT_2 once the kernel holds it as a TIME_WAIT-style socket), 4 zero window probe.
    pub timer: u8,
    /// Time until it fires, in clock ticks (`sysconf(_SC_CLK_TCK)`, 100 per second on Linux).
    pub ticks: u64,
}

/// Every TCP socket of this network namespace with its timer, IPv4 and IPv6.
pub fn timed_sockets() -> std::io::Result<Vec<TimedSocket>> {
    let mut out = Vec::new();
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        match std::fs::read_to_string(path) {
            Ok(text) => out.extend(parse_timed(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.ends_with('6') => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Parses `/proc/net/tcp` (or tcp6) with timers; the header line and malformed lines are skipped.
pub fn parse_timed(text: &str) -> Vec<TimedSocket> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let socket = parse_line(line)?;
            // sl, local, remote, st, tx_queue:rx_queue, tr:tm->when
            let (timer, when) = line.split_whitespace().nth(5)?.split_once(':')?;
            Some(TimedSocket {
                socket,
                timer: u8::from_str_radix(timer, 16).ok()?,
                ticks: u64::from_str_radix(when, 16).ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D2B4 06 00000000:00000000 03:00000F9E 00000000     0        0 0 3 0000000000000000
   2: 0100007F:D2B4 0100007F:1F90 08 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:D2B6 0100007F:1F90 06 00000000:00000000 03:00000F9E 00000000     0        0 0 3 0000000000000000
";

    #[test]
    fn parses_ports_and_states_and_splits_sides() {
        let socks = parse(SAMPLE);
        assert_eq!(socks.len(), 4);
        assert_eq!(socks[1].local_port, 8080);
        assert_eq!(socks[1].remote_port, 0xD2B4);
        let tw = count(&socks, 8080, State::TimeWait);
        assert_eq!(
            tw,
            Counts {
                server: 1,
                client: 1
            }
        );
        let cw = count(&socks, 8080, State::CloseWait);
        assert_eq!(
            cw,
            Counts {
                server: 0,
                client: 1
            }
        );
        assert_eq!(count(&socks, 8080, State::Listen).server, 1);
    }

    #[test]
    fn parses_timers() {
        let socks = parse_timed(SAMPLE);
        assert_eq!(socks.len(), 4);
        assert_eq!((socks[0].timer, socks[0].ticks), (0, 0));
        assert_eq!((socks[1].timer, socks[1].ticks), (3, 0xF9E));
        assert_eq!(socks[1].socket, parse(SAMPLE)[1]);
    }

    #[test]
    fn reads_this_machines_tables() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(count_now(port, State::Listen).unwrap().server, 1);
    }
}
