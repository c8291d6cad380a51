use crate::diagnostic::Diagnostic;
use crate::sysctl::{at, keys, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags `net.ipv4.tcp_tw_reuse` set to 1 (reuse for every connection) or 2 (loopback
    /// only) in a file that also sets `net.ipv4.tcp_timestamps = 0`.
    ///
    /// ## Why is this bad?
    /// `tcp_tw_reuse` lets `connect()` take over the local port of a connection that is still
    /// in TIME_WAIT, instead of failing with `EADDRNOTAVAIL` ("Cannot assign requested
    /// address") once every port toward a destination is waiting. TIME_WAIT exists so that a
    /// late segment of the old connection is not taken for data of a new one with the same
    /// addresses and ports; reuse keeps that guarantee only through TCP timestamps
    /// (RFC 7323). The kernel takes over a TIME_WAIT socket only if the old connection carried
    /// timestamps and its last one is at least a second old (`tcp_tw_reuse_delay`, 1000 ms, on
    /// recent kernels); the new connection then starts with a later timestamp and a higher
    /// sequence number, and the peer's PAWS check (Protection Against Wrapped Sequences)
    /// discards anything stamped earlier.
    ///
    /// With `tcp_timestamps = 0` no connection carries timestamps, so no TIME_WAIT socket ever
    /// qualifies: `tcp_tw_reuse` silently does nothing, and a client that opens many short
    /// connections to one backend still runs out of ports after `ports / 60` connections per
    /// second. Reuse also needs the peer to answer with timestamps; nearly every TCP stack
    /// does.
    ///
    /// The lab checks this on a real kernel (`docs/evidence.md`): once every local port toward
    /// a destination was in TIME_WAIT and older than the reuse delay, `connect()` took them
    /// over when the connections had carried timestamps, and still failed with
    /// `EADDRNOTAVAIL` with `tcp_timestamps = 0`.
    ///
    /// ## Example
    /// ```ini
    /// net.ipv4.tcp_tw_reuse = 1
    /// net.ipv4.tcp_timestamps = 0
    /// ```
    ///
    /// ## Use instead
    /// ```ini
    /// net.ipv4.tcp_tw_reuse = 1
    /// net.ipv4.tcp_timestamps = 1
    /// ```
    pub TW_REUSE_WITHOUT_TIMESTAMPS {
        code: "SYS002",
        name: "tw-reuse-without-timestamps",
        family: Sysctl,
        severity: Warning,
        summary: "`tcp_tw_reuse` is enabled while `tcp_timestamps = 0`, so it never reuses anything",
        fixable: false,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let Some((_, r)) = ctx.effective_integer(keys::TCP_TW_REUSE) else {
        return;
    };
    let Some((_, t)) = ctx.effective_integer(keys::TCP_TIMESTAMPS) else {
        return;
    };
    let scope = match r.value {
        1 => "",
        2 => " (2: loopback connections only)",
        _ => return,
    };
    if t.value != 0 {
        return;
    }
    out.push(
        Diagnostic::new(
            &TW_REUSE_WITHOUT_TIMESTAMPS,
            at(r.span),
            format!(
                "`{} = {}`{scope} has no effect because `{} = 0`",
                keys::TCP_TW_REUSE,
                r.value,
                keys::TCP_TIMESTAMPS
            ),
        )
        .primary_label("never reuses a TIME_WAIT port")
        .label(at(t.span), "no connection carries TCP timestamps")
        .note("connect() takes over a TIME_WAIT port only when the old connection used TCP timestamps and its last one is over 1 s old: the new connection's later timestamp is what lets the peer discard late segments of the old one")
        .note("without timestamps, once every local port toward a destination is in TIME_WAIT, connect() fails with EADDRNOTAVAIL (\"Cannot assign requested address\")")
        .help(format!(
            "set `{} = 1` (the kernel default) or delete that line; then tcp_tw_reuse works for outgoing connections",
            keys::TCP_TIMESTAMPS
        )),
    );
}
