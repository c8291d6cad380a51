use crate::diagnostic::{Diagnostic, Location};
use crate::rust::flow::relays::unbounded_relays;
use crate::rust::Context;

crate::declare_rule! {
    /// ## What it does
    /// Flags a TCP relay between two connections that forwards one side's end of stream and
    /// then waits, with no time limit, for the other direction to end: tokio's
    /// `copy_bidirectional` (and `copy_bidirectional_with_sizes`), and two copies (`io::copy` of
    /// std, tokio, futures, async-std or smol) whose reader is each other's writer, running at
    /// once (joined with `join!`/`try_join!`/`join(..)`, or one of them in a spawned task or
    /// thread). Halves (`split`, `into_split`), clones (`try_clone`) and wrappers are followed
    /// to the connection they belong to, and a future bound to a name counts where the name is
    /// joined or spawned.
    ///
    /// Silent when something bounds the remaining direction: the relay or one copy inside a
    /// timeout (`tokio::time::timeout(..)`, a `.timeout(..)` method, or a named future given to
    /// one), inside `select!` (the first end drops the other direction), a read timeout in the
    /// function (`set_read_timeout`, `TimeoutStream`, `TimeoutReader`), a task aborted, or a
    /// connection shut down for reading (`Shutdown::Both` or `Shutdown::Read` ends the other
    /// copy's read). Copies that run one after the other are not a relay.
    ///
    /// ## Why is this bad?
    /// When the client closes, its FIN puts the relay's client socket in CLOSE_WAIT; the relay
    /// forwards the end of stream as a shutdown of its write side toward the backend and keeps
    /// copying the backend's answer. The client socket is closed only when that other direction
    /// ends too, which the backend decides: a backend that keeps its half open (a long poll, a
    /// pooled keep-alive connection that ignores half-close, a stuck process) keeps the relay's
    /// client socket in CLOSE_WAIT, with its descriptor and buffers, for as long as it likes.
    /// The same holds the other way round when the backend closes first and the client keeps
    /// its half open. Measured on this rule's fixtures in `docs/evidence.md`: 20 clients that
    /// sent a line and closed left 20 relay sockets in CLOSE_WAIT behind a backend that does not
    /// close, and none once the remaining direction had a one-second limit.
    ///
    /// Half-close is part of TCP, and a relay that must carry it faithfully (a protocol whose
    /// answer comes after the request's end of stream) cannot cut the remaining direction
    /// short: shadowsocks-rust added a timeout after the first end of stream and reverted it
    /// for that reason (issue #1195). So this is a note: decide how long a half-closed
    /// connection may live, and bound it.
    ///
    /// ## Example
    /// ```rust
    /// let mut backend = TcpStream::connect(addr).await?;
    /// copy_bidirectional(&mut client, &mut backend).await?;
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// let (mut cr, mut cw) = client.into_split();
    /// let (mut br, mut bw) = backend.into_split();
    /// let up = async move { let r = io::copy(&mut cr, &mut bw).await; bw.shutdown().await.ok(); r };
    /// let down = async move { let r = io::copy(&mut br, &mut cw).await; cw.shutdown().await.ok(); r };
    /// tokio::pin!(up, down);
    /// tokio::select! {
    ///     _ = &mut up => { let _ = timeout(AFTER_EOF, &mut down).await; }
    ///     _ = &mut down => { let _ = timeout(AFTER_EOF, &mut up).await; }
    /// }
    /// ```
    pub RELAY_HALF_CLOSE_UNBOUNDED {
        code: "RS010",
        name: "relay-half-close-unbounded",
        family: Rust,
        severity: Info,
        summary: "a relay forwards one side's end of stream and waits without a limit for the other, so the side that closed stays in CLOSE_WAIT as long as the other peer keeps its half open",
        fixable: false,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    // Every relay this rule knows is a call named `copy..`.
    if memchr::memmem::find(ctx.source.as_bytes(), b"copy").is_none() {
        return;
    }
    let imports = ctx.analysis.imports();
    for f in ctx.analysis.non_test_functions() {
        for relay in unbounded_relays(imports, f.block) {
            let message = match relay.other {
                None => "this relay waits without a limit for both directions to end: once one peer closes, its connection stays in CLOSE_WAIT until the other peer closes too",
                Some(_) => "these two copies relay one connection to another and both are waited for without a limit: once one peer closes, its connection stays in CLOSE_WAIT until the other peer closes too",
            };
            let mut d = Diagnostic::new(
                &RELAY_HALF_CLOSE_UNBOUNDED,
                Location::new(0, relay.span),
                message,
            )
            .primary_label(match relay.other {
                None => "returns only when both directions have ended",
                Some(_) => "one direction",
            });
            if let Some(other) = relay.other {
                d = d.label(
                    Location::new(0, other),
                    "the other direction, waited for without a limit",
                );
            }
            out.push(
                d.note("the peer that closes first gets its FIN acknowledged and the relay's socket to it moves to CLOSE_WAIT; the relay closes that socket only when the other direction ends, which the other peer decides, so a backend (or client) that keeps its half open holds the closed side's descriptor and buffers for as long as it likes")
                    .help("bound the direction that is still open once the first has ended (wrap the remaining copy in `tokio::time::timeout`), or give both directions an idle timeout; keep the limit long enough for answers that legitimately follow a half-close"),
            );
        }
    }
}
