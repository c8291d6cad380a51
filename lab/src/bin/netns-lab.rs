//! `netns-lab EXPERIMENT SYSCTL_FILE`: runs one sysctl experiment of the proof lab in a network
//! namespace of its own and prints what it measured as JSON on stdout.
//!
//! It enters a new network namespace (root only), brings its loopback up, applies the sysctl
//! file there as `sysctl -p` would (only per-namespace TCP keys; see `waitlint_lab::netns`),
//! then runs servers and clients with std sockets on 127.0.0.1 and reads the namespace's own
//! `/proc/net/tcp`, `/proc/net/netstat` and `/proc/net/snmp`. The host's settings and tables
//! are never touched. Every experiment is bounded: at most a few hundred connections and a
//! few seconds of waiting; the 60 s of TIME_WAIT are read from its timer, not waited out.
//!
//! Experiments:
//! - `tw-buckets`: 100 connections the server closes first, clients closing 0.1 s after the
//!   server's FIN: TIME_WAIT sockets, `TCPTimeWaitOverflow`, resets sent and seen.
//! - `fin-timeout`: TIME_WAIT timers of server-closed connections, and the FIN_WAIT_2 of
//!   clients that close first against a server that never closes, orphaned (`close`) or held
//!   (`shutdown`), before and after 2.5 s.
//! - `client-ports`: 200 outgoing connections to one destination that the client closes first,
//!   then 20 more at half the TIME_WAIT reuse delay and 20 more past it; the local port range
//!   starts at 100 ports (60000-60099) unless the file sets it, so that running out takes 100
//!   connections.
//! - `server-tw`: 100 connections the server closes first; its TIME_WAIT before and after the
//!   reuse delay, and a client reconnecting from the same port.
//! - `apply`: only applies the file (which keys the kernel has, which values it rejects).
//! - `sysctl-tools`: hands the file to procps `sysctl -p` and to `systemd-sysctl` instead of
//!   applying it (only files whose every line is a `net.` key: see `outside_the_namespace`).

use serde_json::{json, Value};
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;
use std::process::Command;
use std::process::ExitCode;
use std::time::Duration;
use waitlint_lab::netns::{self, PrivateNamespace};
use waitlint_lab::tcp_states::{self, State, TimedSocket};

/// The servers' port: outside every local port range the experiments set.
const SERVER_PORT: u16 = 8080;
/// How long a blocking read may take before the experiment gives up.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [experiment, file] = &args[..] else {
        eprintln!(
            "usage: netns-lab tw-buckets|fin-timeout|client-ports|server-tw|apply|sysctl-tools SYSCTL_FILE"
        );
        return ExitCode::from(2);
    };
    let run: fn(&Path) -> Outcome = match experiment.as_str() {
        "tw-buckets" => |_| tw_buckets(),
        "fin-timeout" => |_| fin_timeout(),
        "client-ports" => |_| client_ports(),
        "server-tw" => |_| server_tw(),
        "apply" => |_| Ok(json!({})),
        "sysctl-tools" => sysctl_tools,
        other => {
            eprintln!("netns-lab: unknown experiment `{other}`");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("netns-lab: cannot read {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let sysctl = lints::sysctl::parse(&text);
    let path = match std::fs::canonicalize(file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("netns-lab: {file}: {e}");
            return ExitCode::from(2);
        }
    };
    let tools_run_it = experiment == "sysctl-tools";
    if tools_run_it {
        if let Some(line) = outside_the_namespace(&text) {
            eprintln!("netns-lab: refusing to hand {file} to sysctl tools: `{line}` is not a net.* key, so it would not stay inside the namespace");
            return ExitCode::from(2);
        }
    }
    // Before any thread exists: unshare moves only the calling thread.
    let ns = match PrivateNamespace::enter() {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("netns-lab: {e}");
            return ExitCode::from(2);
        }
    };
    // What the file changes from: a new namespace starts from the kernel's defaults.
    let defaults: serde_json::Map<String, Value> = netns::PER_NAMESPACE_KEYS
        .iter()
        .filter_map(|k| Some((k.to_string(), Value::from(netns::read(k).ok()?))))
        .collect();
    let mut lab_settings = Vec::new();
    if experiment == "client-ports" {
        // The default range has 28232 ports; 100 make running out quick to reach.
        let range = ("net.ipv4.ip_local_port_range", "60000 60099");
        if let Err(e) = ns.write(range.0, range.1) {
            eprintln!("netns-lab: cannot set {}: {e}", range.0);
            return ExitCode::FAILURE;
        }
        lab_settings.push(json!({"key": range.0, "value": range.1}));
    }
    // sysctl-tools lets procps and systemd apply the file themselves.
    let applied: Vec<Value> = if tools_run_it {
        Vec::new()
    } else {
        ns.apply(&sysctl)
            .into_iter()
            .map(|a| json!({"key": a.key, "value": a.value, "outcome": a.outcome}))
            .collect()
    };
    let result = run(&path);
    // What the file left in place, for each key it names (null: no such key).
    let mut after = serde_json::Map::new();
    for a in sysctl.assignments.iter().filter(|a| !a.glob) {
        let value = netns::read(&a.key)
            .ok()
            .map(|v| Value::from(v.split_whitespace().collect::<Vec<_>>().join(" ")));
        after.insert(a.key.clone(), value.unwrap_or(Value::Null));
    }
    match result {
        Ok(result) => {
            let out = json!({
                "experiment": experiment,
                "file": file,
                "kernel": netns::read("kernel.osrelease").unwrap_or_default(),
                "defaults": defaults,
                "lab_settings": lab_settings,
                "applied": applied,
                "after": after,
                "result": result,
            });
            println!("{out:#}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("netns-lab: {experiment}: {e}");
            ExitCode::FAILURE
        }
    }
}

type Outcome = Result<Value, String>;

/// The first line of a sysctl file that could set something outside `net.`, which a network
/// namespace does not make private (`kernel.*`, `vm.*`): such a file is never handed to the
/// real tools. Read line by line rather than through the parser, so that no difference
/// between the parser and the tools can let such a line through.
fn outside_the_namespace(text: &[u8]) -> Option<String> {
    text.split(|&b| b == b'\n')
        .map(|line| line.trim_ascii())
        .filter(|line| !line.is_empty() && !line.starts_with(b"#") && !line.starts_with(b";"))
        .find(|line| {
            let key = line.strip_prefix(b"-").unwrap_or(line).trim_ascii_start();
            !(key.starts_with(b"net.") || key.starts_with(b"net/"))
        })
        .map(|line| String::from_utf8_lossy(line).into_owned())
}

/// `sysctl -p FILE` (procps) and `systemd-sysctl FILE`, each with the absolute path of one
/// file (without one, both would apply the host's whole configuration): exit status and
/// messages.
fn sysctl_tools(file: &Path) -> Outcome {
    const SYSTEMD_SYSCTL: &str = "/usr/lib/systemd/systemd-sysctl";
    let run = |program: &str, args: &[&std::ffi::OsStr]| -> Result<Value, String> {
        let out = Command::new(program)
            .args(args)
            .output()
            .map_err(io_err(program))?;
        Ok(json!({
            "status": out.status.code(),
            "stderr": String::from_utf8_lossy(&out.stderr).lines().collect::<Vec<_>>(),
        }))
    };
    // An ordinary PATH may lack /usr/sbin, where Debian puts procps' sysctl.
    let procps_sysctl = ["/usr/sbin/sysctl", "/sbin/sysctl"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("sysctl");
    let procps = run(procps_sysctl, &["-p".as_ref(), file.as_os_str()])?;
    let systemd = if Path::new(SYSTEMD_SYSCTL).exists() {
        run(SYSTEMD_SYSCTL, &[file.as_os_str()])?
    } else {
        Value::Null
    };
    Ok(json!({"procps": procps, "systemd": systemd}))
}

fn io_err(what: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn server() -> Result<(TcpListener, SocketAddr), String> {
    let listener = TcpListener::bind(("127.0.0.1", SERVER_PORT)).map_err(io_err("bind"))?;
    let addr = listener.local_addr().map_err(io_err("local_addr"))?;
    Ok((listener, addr))
}

fn accept(listener: &TcpListener) -> Result<TcpStream, String> {
    let (s, _) = listener.accept().map_err(io_err("accept"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(io_err("set_read_timeout"))?;
    Ok(s)
}

/// Reads until the peer's FIN; anything else means the experiment is not what it claims.
fn expect_eof(stream: &mut TcpStream) -> Result<(), String> {
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(io_err("set_read_timeout"))?;
    match stream.read(&mut [0u8; 16]) {
        Ok(0) => Ok(()),
        Ok(_) => Err("unexpected data instead of the peer's FIN".into()),
        Err(e) => Err(format!("waiting for the peer's FIN: {e}")),
    }
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn counter(read: io::Result<i64>) -> Result<i64, String> {
    read.map_err(io_err("counter"))
}

fn sysctl(key: &str) -> Result<String, String> {
    netns::read(key).map_err(io_err(key))
}

fn sysctl_number(key: &str) -> Result<i64, String> {
    let text = sysctl(key)?;
    text.parse()
        .map_err(|_| format!("{key} is `{text}`, not a number"))
}

fn table() -> Result<Vec<TimedSocket>, String> {
    tcp_states::timed_sockets().map_err(io_err("/proc/net/tcp"))
}

/// Seconds until a socket's timer fires, to the hundredth.
fn seconds(ticks: u64) -> f64 {
    (ticks as f64 / netns::ticks_per_second() as f64 * 100.0).round() / 100.0
}

/// Count, timer kinds and the range of remaining times of some sockets.
fn timers(sockets: &[&TimedSocket]) -> Value {
    let mut kinds: Vec<u8> = sockets.iter().map(|s| s.timer).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let secs = sockets.iter().map(|s| seconds(s.ticks));
    json!({
        "sockets": sockets.len(),
        "timer_kinds": kinds,
        "timer_seconds_min": secs.clone().reduce(f64::min),
        "timer_seconds_max": secs.reduce(f64::max),
    })
}

/// 100 connections that the server closes first. Clients close 0.1 s after the server's FIN,
/// as real ones take a moment to: by then that FIN is acknowledged and the server's socket is
/// in FIN_WAIT_2. Clients shut down writing rather than close, so a reset is visible to them.
fn tw_buckets() -> Outcome {
    const CONNECTIONS: usize = 100;
    let (listener, addr) = server()?;
    let overflow_before = counter(netns::tcp_ext("TCPTimeWaitOverflow"))?;
    let resets_before = counter(netns::tcp_mib("OutRsts"))?;
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let client = TcpStream::connect(addr).map_err(io_err("connect"))?;
        drop(accept(&listener)?);
        clients.push(client);
    }
    sleep_ms(100);
    for client in &mut clients {
        expect_eof(client)?;
        client
            .shutdown(Shutdown::Write)
            .map_err(io_err("shutdown"))?;
    }
    sleep_ms(100);
    let mut resets_seen = 0;
    for client in &clients {
        if let Some(e) = client.take_error().map_err(io_err("SO_ERROR"))? {
            if e.raw_os_error() == Some(libc::ECONNRESET) {
                resets_seen += 1;
            } else {
                return Err(format!("unexpected client error: {e}"));
            }
        }
    }
    drop(clients);
    sleep_ms(50);
    let time_wait =
        tcp_states::count_now(SERVER_PORT, State::TimeWait).map_err(io_err("/proc/net/tcp"))?;
    let tw_sock_size = std::fs::read_to_string("/proc/slabinfo")
        .ok()
        .and_then(|t| netns::slab_object_size(&t, "tw_sock_TCP"));
    Ok(json!({
        "connections": CONNECTIONS,
        "tcp_max_tw_buckets": sysctl_number("net.ipv4.tcp_max_tw_buckets")?,
        "tcp_fin_timeout": sysctl_number("net.ipv4.tcp_fin_timeout")?,
        "server_time_wait": time_wait.server,
        "client_time_wait": time_wait.client,
        "time_wait_overflow": counter(netns::tcp_ext("TCPTimeWaitOverflow"))? - overflow_before,
        "resets_sent": counter(netns::tcp_mib("OutRsts"))? - resets_before,
        "clients_reset": resets_seen,
        "tw_sock_bytes": tw_sock_size,
    }))
}

/// How long TIME_WAIT and FIN_WAIT_2 last, from their timers, and what is left after 2.5 s.
fn fin_timeout() -> Outcome {
    const EACH: usize = 10;
    const WAIT_MS: u64 = 2500;
    let (listener, addr) = server()?;
    // The server closes first: its sockets go to TIME_WAIT.
    for _ in 0..EACH {
        let mut client = TcpStream::connect(addr).map_err(io_err("connect"))?;
        drop(accept(&listener)?);
        expect_eof(&mut client)?;
    }
    // The clients close first and the server never sends its FIN. `close` orphans the
    // client's socket; `shutdown` keeps it owned by the application.
    let mut open_server_sides = Vec::new();
    let mut orphaned_ports = Vec::new();
    let mut held = Vec::new();
    for i in 0..2 * EACH {
        let client = TcpStream::connect(addr).map_err(io_err("connect"))?;
        open_server_sides.push(accept(&listener)?);
        let port = client.local_addr().map_err(io_err("local_addr"))?.port();
        if i % 2 == 0 {
            orphaned_ports.push(port);
            drop(client);
        } else {
            client
                .shutdown(Shutdown::Write)
                .map_err(io_err("shutdown"))?;
            held.push(client);
        }
    }
    let held_ports: Vec<u16> = held
        .iter()
        .map(|c| c.local_addr().map(|a| a.port()))
        .collect::<io::Result<_>>()
        .map_err(io_err("local_addr"))?;
    sleep_ms(100);
    let observe = |ports: &[u16], state: State| -> Result<Vec<TimedSocket>, String> {
        Ok(table()?
            .into_iter()
            .filter(|s| {
                s.socket.state == state as u8
                    && s.socket.remote_port == SERVER_PORT
                    && ports.contains(&s.socket.local_port)
            })
            .collect())
    };
    let server_time_wait = |table: &[TimedSocket]| -> Vec<TimedSocket> {
        table
            .iter()
            .filter(|s| {
                s.socket.state == State::TimeWait as u8 && s.socket.local_port == SERVER_PORT
            })
            .copied()
            .collect()
    };
    let time_wait = server_time_wait(&table()?);
    let orphaned = observe(&orphaned_ports, State::FinWait2)?;
    let half_closed = observe(&held_ports, State::FinWait2)?;
    sleep_ms(WAIT_MS);
    let time_wait_after = server_time_wait(&table()?);
    let orphaned_after = observe(&orphaned_ports, State::FinWait2)?;
    let half_closed_after = observe(&held_ports, State::FinWait2)?;
    drop(held);
    drop(open_server_sides);
    Ok(json!({
        "tcp_fin_timeout": sysctl_number("net.ipv4.tcp_fin_timeout")?,
        "time_wait": timers(&time_wait.iter().collect::<Vec<_>>()),
        "orphaned_fin_wait_2": timers(&orphaned.iter().collect::<Vec<_>>()),
        "held_fin_wait_2": timers(&half_closed.iter().collect::<Vec<_>>()),
        "waited_seconds": WAIT_MS as f64 / 1000.0,
        "after_wait": {
            "time_wait": time_wait_after.len(),
            "orphaned_fin_wait_2": orphaned_after.len(),
            "held_fin_wait_2": half_closed_after.len(),
        },
    }))
}

/// Connection attempts of [`client_ports`]: how many connected and how many found no port.
#[derive(Default)]
struct Attempts {
    connected: usize,
    no_port: usize,
}

fn connect_and_close_first(
    listener: &TcpListener,
    addr: SocketAddr,
    n: usize,
    probe: &mut Option<Probe>,
) -> Result<Attempts, String> {
    let mut attempts = Attempts::default();
    for _ in 0..n {
        let client = match TcpStream::connect(addr) {
            Ok(c) => c,
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {
                attempts.no_port += 1;
                continue;
            }
            Err(e) => return Err(format!("connect: {e}")),
        };
        let mut server_side = accept(listener)?;
        if probe.is_none() {
            *probe = Some(timestamp_probe(&client)?);
        }
        drop(client);
        expect_eof(&mut server_side)?;
        attempts.connected += 1;
    }
    Ok(attempts)
}

/// Outgoing connections to one destination that the client closes first, as nginx does to
/// an upstream without `keepalive`: each leaves its local port in TIME_WAIT.
fn client_ports() -> Outcome {
    const FIRST: usize = 200;
    const SECOND: usize = 20;
    let (listener, addr) = server()?;
    let mut probe = None;
    let first = connect_and_close_first(&listener, addr, FIRST, &mut probe)?;
    let (timestamps, clock_offset_ms) = probe.ok_or("no connection succeeded")?;
    sleep_ms(50);
    let client_tw: Vec<TimedSocket> = table()?
        .into_iter()
        .filter(|s| s.socket.state == State::TimeWait as u8 && s.socket.remote_port == SERVER_PORT)
        .collect();
    let reuse_delay_ms = netns::read("net.ipv4.tcp_tw_reuse_delay")
        .ok()
        .and_then(|t| t.parse::<u64>().ok());
    // tcp_tw_reuse may take a TIME_WAIT port once its last timestamp is this old (1 s before
    // it was a setting); bounded so that no file makes the experiment long. Tried halfway
    // there, then past it.
    let delay_ms = reuse_delay_ms.unwrap_or(1000).min(4000);
    sleep_ms(delay_ms / 2);
    let early = connect_and_close_first(&listener, addr, SECOND, &mut probe)?;
    let wait_ms = delay_ms + 300;
    sleep_ms(wait_ms - delay_ms / 2);
    let second = connect_and_close_first(&listener, addr, SECOND, &mut probe)?;
    Ok(json!({
        "ip_local_port_range": sysctl("net.ipv4.ip_local_port_range")?.split_whitespace().collect::<Vec<_>>().join(" "),
        "tcp_tw_reuse": sysctl_number("net.ipv4.tcp_tw_reuse")?,
        "tcp_timestamps": sysctl_number("net.ipv4.tcp_timestamps")?,
        "tcp_tw_reuse_delay_ms": reuse_delay_ms,
        "connections_carry_timestamps": timestamps,
        "timestamp_clock_offset_ms": clock_offset_ms,
        "first": {"attempts": FIRST, "connected": first.connected, "eaddrnotavail": first.no_port},
        "client_time_wait": timers(&client_tw.iter().collect::<Vec<_>>()),
        "early": {"after_ms": delay_ms / 2, "attempts": SECOND, "connected": early.connected, "eaddrnotavail": early.no_port},
        "waited_ms": wait_ms,
        "second": {"attempts": SECOND, "connected": second.connected, "eaddrnotavail": second.no_port},
    }))
}

/// Whether a connection carries TCP timestamps, and its timestamp clock's offset from boot time.
type Probe = (bool, Option<i64>);

/// Whether a connection carries TCP timestamps (`TCPI_OPT_TIMESTAMPS` in `TCP_INFO`), and how
/// far its timestamp clock (`TCP_TIMESTAMP`, in ms) is from the time since boot.
fn timestamp_probe(stream: &TcpStream) -> Result<Probe, String> {
    const TCPI_OPT_TIMESTAMPS: u8 = 1;
    let fd = stream.as_raw_fd();
    // SAFETY: tcp_info is plain data; the kernel writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(format!("TCP_INFO: {}", io::Error::last_os_error()));
    }
    let timestamps = info.tcpi_options & TCPI_OPT_TIMESTAMPS != 0;
    let mut ts: u32 = 0;
    let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
    // SAFETY: TCP_TIMESTAMP writes one u32.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_TIMESTAMP,
            (&mut ts as *mut u32).cast(),
            &mut len,
        )
    };
    let offset = (rc == 0 && timestamps).then(|| {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        let mono_ms = (now.tv_sec as u64 * 1000 + now.tv_nsec as u64 / 1_000_000) as u32;
        i64::from(ts.wrapping_sub(mono_ms) as i32)
    });
    Ok((timestamps, offset))
}

/// A client socket bound to `port` before it connects, to come back from the same port.
fn connect_from(port: u16, to: SocketAddr) -> io::Result<TcpStream> {
    let SocketAddr::V4(to) = to else {
        return Err(io::Error::other("IPv4 only"));
    };
    let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a plain socket call; ownership of the descriptor passes to the TcpStream.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket that nothing else owns.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let local = sockaddr(*to.ip(), port);
    let remote = sockaddr(*to.ip(), to.port());
    // SAFETY: both addresses are valid sockaddr_in values that outlive the calls.
    unsafe {
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0
            || libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(stream)
}

/// 100 connections the server closes first, then a client that reconnects from the port of
/// a connection the server holds in TIME_WAIT.
fn server_tw() -> Outcome {
    const CONNECTIONS: usize = 100;
    const RETURNING_PORT: u16 = 40000;
    let (listener, addr) = server()?;
    let close_by_server = |client: io::Result<TcpStream>| -> Result<(), String> {
        let mut client = client.map_err(io_err("connect"))?;
        drop(accept(&listener)?);
        expect_eof(&mut client)
    };
    close_by_server(connect_from(RETURNING_PORT, addr))?;
    for _ in 1..CONNECTIONS {
        close_by_server(TcpStream::connect(addr))?;
    }
    sleep_ms(50);
    let server_time_wait = || -> Result<Vec<TimedSocket>, String> {
        Ok(table()?
            .into_iter()
            .filter(|s| {
                s.socket.state == State::TimeWait as u8 && s.socket.local_port == SERVER_PORT
            })
            .collect())
    };
    let before = server_time_wait()?;
    let returning_in_time_wait = before
        .iter()
        .any(|s| s.socket.remote_port == RETURNING_PORT);
    let reconnect = match connect_from(RETURNING_PORT, addr) {
        Ok(mut client) => {
            drop(accept(&listener)?);
            expect_eof(&mut client)?;
            "accepted".to_string()
        }
        Err(e) => format!("failed: {e}"),
    };
    // Past the reuse delay however it is set (1 s unless a file shortens it).
    let reuse_delay_ms = netns::read("net.ipv4.tcp_tw_reuse_delay")
        .ok()
        .and_then(|t| t.parse::<u64>().ok());
    let wait_ms = reuse_delay_ms.unwrap_or(1000).clamp(1000, 4000) + 300;
    sleep_ms(wait_ms);
    let after = server_time_wait()?;
    Ok(json!({
        "connections": CONNECTIONS,
        "tcp_tw_reuse": sysctl_number("net.ipv4.tcp_tw_reuse")?,
        "tcp_timestamps": sysctl_number("net.ipv4.tcp_timestamps")?,
        "server_time_wait": timers(&before.iter().collect::<Vec<_>>()),
        "returning_port_in_time_wait": returning_in_time_wait,
        "reconnect_from_same_port": reconnect,
        "waited_ms": wait_ms,
        "server_time_wait_after_wait": timers(&after.iter().collect::<Vec<_>>()),
    }))
}

#[cfg(test)]
mod tests {
    use super::outside_the_namespace;

    #[test]
    fn only_net_keys_go_to_the_sysctl_tools() {
        let ok = b"# kernel.pid_max = 1\n; vm.swappiness = 1\n\nnet.ipv4.tcp_tw_reuse = 1\n-net/ipv4/tcp_tw_recycle=0\n  - net.core.somaxconn = 1\r\n";
        assert_eq!(outside_the_namespace(ok), None);
        let bad = b"net.ipv4.tcp_tw_reuse = 1\n-kernel.pid_max = 1\n";
        assert_eq!(
            outside_the_namespace(bad).as_deref(),
            Some("-kernel.pid_max = 1")
        );
        assert!(outside_the_namespace(b"network.x = 1\n").is_some());
        assert!(outside_the_namespace(b"\xef\xbb\xbfnet.ipv4.tcp_tw_reuse = 1\n").is_some());
    }
}
