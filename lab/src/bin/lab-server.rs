//! Runs one fixture program of `fixtures/rust/` as a server, for the lab's experiments
//! (`lab/tests/rust_servers.rs`): `lab-server <entry>` binds `127.0.0.1:0`, hands the listener to
//! the fixture's entry point, prints the port on stdout (one line) and serves until killed.
//! `lab-server --list` prints the entry names.

use std::future::Future;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use waitlint_rust_fixtures as fx;

type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;

/// How an entry point wants its server socket.
enum Entry {
    /// A bound std listener (or its fd), served on this thread.
    Std(fn(TcpListener)),
    /// A bound tokio listener, served on a multi-threaded runtime.
    Tokio(fn(tokio::net::TcpListener) -> BoxFuture),
    /// An address to bind itself (`127.0.0.1:0`); the port is found afterwards from the
    /// process's own listening sockets.
    Addr(fn(SocketAddr)),
    /// A relay: a bound tokio listener and the address of a backend that never closes a
    /// connection (it accepts and holds each one, in this process), so that whatever a relay
    /// keeps open is kept as long as the backend keeps its side.
    Relay(fn(tokio::net::TcpListener, SocketAddr) -> BoxFuture),
}

/// Entry names are `<rule>/<fixture file stem>::<function>`, the function being a `pub fn` of
/// that fixture file.
const ENTRIES: &[(&str, Entry)] = &[
    (
        "relay-half-close-unbounded/fires::relay",
        Entry::Relay(|l, backend| {
            Box::pin(async move {
                let _ = fx::relay_half_close_unbounded__fires::relay(l, backend).await;
            })
        }),
    ),
    (
        "relay-half-close-unbounded/silent::relay_eof_timeout",
        Entry::Relay(|l, backend| {
            Box::pin(async move {
                let _ = fx::relay_half_close_unbounded__silent::relay_eof_timeout(l, backend).await;
            })
        }),
    ),
    (
        "socket-leaked/fires_std::serve_banner",
        Entry::Std(|l| {
            let _ = fx::socket_leaked__fires_std::serve_banner(&l);
        }),
    ),
    (
        "socket-leaked/fires_raw::serve_libc",
        Entry::Std(|l| fx::socket_leaked__fires_raw::serve_libc(l.as_raw_fd())),
    ),
    (
        "socket-leaked/silent::serve_libc",
        Entry::Std(|l| fx::socket_leaked__silent::serve_libc(l.as_raw_fd())),
    ),
    (
        "socket-leaked/fires_tokio::run",
        Entry::Tokio(|l| {
            Box::pin(async move {
                let _ = fx::socket_leaked__fires_tokio::run(l).await;
            })
        }),
    ),
    (
        "socket-leaked/fires_tokio::run_manual",
        Entry::Tokio(|l| {
            Box::pin(async move {
                let _ = fx::socket_leaked__fires_tokio::run_manual(l).await;
            })
        }),
    ),
    (
        "socket-leaked/silent::into_blocking",
        Entry::Tokio(|l| {
            Box::pin(async move {
                let _ = fx::socket_leaked__silent::into_blocking(l).await;
            })
        }),
    ),
    (
        "listener-never-accepted/fires_mio::run",
        Entry::Addr(|addr| {
            let _ = fx::listener_never_accepted__fires_mio::run(addr);
        }),
    ),
    (
        "listener-never-accepted/silent::mio_loop",
        Entry::Addr(|addr| {
            let _ = fx::listener_never_accepted__silent::mio_loop(addr);
        }),
    ),
    (
        "eof-ignored/fires_std_thread::serve_std_spin",
        Entry::Std(fx::eof_ignored__fires_std_thread::serve_std_spin),
    ),
    (
        "eof-ignored/silent_std::serve_std_closes",
        Entry::Std(fx::eof_ignored__silent_std::serve_std_closes),
    ),
    (
        "eof-ignored/fires_tokio::serve_tokio_spin",
        Entry::Tokio(|l| Box::pin(fx::eof_ignored__fires_tokio::serve_tokio_spin(l))),
    ),
    (
        "eof-ignored/silent_async::serve_tokio_closes",
        Entry::Tokio(|l| Box::pin(fx::eof_ignored__silent_async::serve_tokio_closes(l))),
    ),
    (
        "eof-ignored/fires_poll_read::serve_poll_read_spin",
        Entry::Tokio(|l| Box::pin(fx::eof_ignored__fires_poll_read::serve_poll_read_spin(l))),
    ),
    (
        "eof-ignored/silent_poll_read::serve_poll_read_closes",
        Entry::Tokio(|l| Box::pin(fx::eof_ignored__silent_poll_read::serve_poll_read_closes(l))),
    ),
    (
        "eof-ignored/fires_mio::serve_mio_spin",
        Entry::Std(|l| {
            let _ = fx::eof_ignored__fires_mio::serve_mio_spin(l);
        }),
    ),
    (
        "eof-ignored/silent_mio::serve_mio_closes",
        Entry::Std(|l| {
            let _ = fx::eof_ignored__silent_mio::serve_mio_closes(l);
        }),
    ),
    (
        "stored-never-removed/fires_std_broadcast::serve_chat_broadcast",
        Entry::Std(|l| {
            let _ = fx::stored_never_removed__fires_std_broadcast::serve_chat_broadcast(l);
        }),
    ),
    (
        "stored-never-removed/silent_retain_sweep::serve_chat_retain",
        Entry::Std(|l| {
            let _ = fx::stored_never_removed__silent_retain_sweep::serve_chat_retain(l);
        }),
    ),
    (
        "stream-never-registered/fires_mio_unregistered::serve_mio_unregistered",
        Entry::Std(|l| {
            let _ = fx::stream_never_registered__fires_mio_unregistered::serve_mio_unregistered(l);
        }),
    ),
    (
        "stream-never-registered/silent_mio_registered::serve_mio_registered",
        Entry::Std(|l| {
            let _ = fx::stream_never_registered__silent_mio_registered::serve_mio_registered(l);
        }),
    ),
    (
        "blocked-while-owning/fires_pending::serve",
        Entry::Tokio(|l| {
            Box::pin(async move {
                let _ = fx::blocked_while_owning__fires_pending::serve(l).await;
            })
        }),
    ),
    (
        "blocked-while-owning/silent_pending::serve",
        Entry::Tokio(|l| {
            Box::pin(async move {
                let _ = fx::blocked_while_owning__silent_pending::serve(l).await;
            })
        }),
    ),
    (
        "blocked-while-owning/fires_select::serve",
        Entry::Tokio(|l| {
            Box::pin(async move {
                let _ = fx::blocked_while_owning__fires_select::serve(l).await;
            })
        }),
    ),
    (
        "blocked-while-owning/silent_select_eof::serve",
        Entry::Tokio(|l| {
            Box::pin(async move {
                let _ = fx::blocked_while_owning__silent_select_eof::serve(l).await;
            })
        }),
    ),
    (
        "zero-linger/fires_lab_server::serve_and_reset",
        Entry::Std(fx::zero_linger__fires_lab_server::serve_and_reset),
    ),
    (
        "zero-linger/silent_lab_server::serve_and_close",
        Entry::Std(fx::zero_linger__silent_lab_server::serve_and_close),
    ),
    (
        "server-keepalive-disabled/fires_hyper::serve_http1",
        Entry::Tokio(|l| {
            Box::pin(async move {
                let _ = fx::server_keepalive_disabled__fires_hyper::serve_http1(l).await;
            })
        }),
    ),
    (
        "server-keepalive-disabled/silent_hyper::serve",
        Entry::Tokio(|l| {
            Box::pin(async move {
                let _ = fx::server_keepalive_disabled__silent_hyper::serve(l, true).await;
            })
        }),
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name] = args.as_slice() else {
        eprintln!("usage: lab-server <entry> | --list");
        return ExitCode::from(2);
    };
    if name == "--list" {
        for (name, _) in ENTRIES {
            println!("{name}");
        }
        return ExitCode::SUCCESS;
    }
    let Some((_, entry)) = ENTRIES.iter().find(|(n, _)| n == name) else {
        eprintln!("lab-server: no entry `{name}` (see `lab-server --list`)");
        return ExitCode::from(2);
    };
    match run(entry) {
        Ok(()) => {
            eprintln!("lab-server: `{name}` returned; a server is expected to run until killed");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("lab-server: `{name}`: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(entry: &Entry) -> std::io::Result<()> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    match entry {
        Entry::Std(serve) => {
            let listener = TcpListener::bind(loopback)?;
            announce(listener.local_addr()?.port())?;
            serve(listener);
        }
        Entry::Tokio(serve) => serve_tokio(loopback, |listener| serve(listener))?,
        Entry::Relay(serve) => {
            let backend = holding_backend(loopback)?;
            serve_tokio(loopback, |listener| serve(listener, backend))?;
        }
        Entry::Addr(serve) => {
            let serve = *serve;
            let server = std::thread::spawn(move || serve(loopback));
            let port = own_listening_port(&server)?;
            announce(port)?;
            let _ = server.join();
        }
    }
    Ok(())
}

/// Binds a tokio listener on a two-worker runtime, announces its port, and serves with it.
fn serve_tokio(
    loopback: SocketAddr,
    serve: impl FnOnce(tokio::net::TcpListener) -> BoxFuture,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(loopback).await?;
        announce(listener.local_addr()?.port())?;
        serve(listener).await;
        Ok(())
    })
}

/// A backend that accepts connections and never closes one, nor reads from it: the kernel still
/// acknowledges a relay's FIN, so the relay sees its write side shut down and the backend's
/// side stays open for as long as this process lives.
fn holding_backend(loopback: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(loopback)?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().map_while(Result::ok) {
            held.push(conn);
        }
    });
    Ok(addr)
}

fn announce(port: u16) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{port}")?;
    out.flush()
}

/// Waits for the server thread to bind, then finds its port: the one listening socket among
/// this process's descriptors (matched by inode in `/proc/net/tcp`).
fn own_listening_port(server: &std::thread::JoinHandle<()>) -> std::io::Result<u16> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(port) = listening_port_of_this_process()? {
            return Ok(port);
        }
        if server.is_finished() {
            return Err(std::io::Error::other(
                "the server returned before it listened",
            ));
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::other(
                "the server did not listen within 30 s",
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn listening_port_of_this_process() -> std::io::Result<Option<u16>> {
    let mut inodes = Vec::new();
    for fd in std::fs::read_dir("/proc/self/fd")? {
        let Ok(target) = std::fs::read_link(fd?.path()) else {
            continue; // the descriptor read_dir itself uses, closed by now
        };
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
        {
            inodes.push(inode.to_string());
        }
    }
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            // sl local remote st tx:rx tr:when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state == "0A" && inodes.iter().any(|i| i == inode) {
                let port = local
                    .rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
                if port.is_some() {
                    return Ok(port);
                }
            }
        }
    }
    Ok(None)
}
