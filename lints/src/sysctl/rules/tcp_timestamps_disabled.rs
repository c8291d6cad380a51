use crate::diagnostic::{Diagnostic, Edit, Fix};
use crate::sysctl::{at, keys, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags `net.ipv4.tcp_timestamps = 0`.
    ///
    /// ## Why is this bad?
    /// TCP timestamps (RFC 7323) are an 8-byte option on every segment: the sender's clock and
    /// an echo of the peer's. Switching them off removes three things:
    ///
    /// - **PAWS**, Protection Against Wrapped Sequences. The sequence number has 32 bits, so it
    ///   wraps after 4 GiB: every 34 s at 1 Gbit/s, every 3.4 s at 10 Gbit/s, well within the
    ///   time a delayed segment can survive in a network. With timestamps, a segment stamped
    ///   earlier than the last one accepted is dropped; without them, a duplicate from a
    ///   previous wrap can be accepted as new data.
    /// - **TIME_WAIT reuse.** `net.ipv4.tcp_tw_reuse` may hand the port of a TIME_WAIT
    ///   connection to a new outgoing one only when the old connection used timestamps, because
    ///   the new one's later timestamps are what make the old one's late segments recognisable.
    ///   Without them it silently does nothing, including the loopback-only reuse that is the
    ///   kernel's default (`tcp_tw_reuse = 2`). And a server's TIME_WAIT sockets then let a
    ///   returning client in early only on a higher sequence number, no longer on a newer
    ///   timestamp.
    /// - **Precise round-trip times** for retransmitted data, and the quickest way to see
    ///   that a retransmission was not needed (the original was only late), which lets the
    ///   sender undo the slow-down it applied.
    ///
    /// Timestamps are often switched off to hide the host's uptime. Current kernels add a random
    /// offset to the timestamp clock (`tcp_timestamps = 1`), so they no longer reveal it.
    ///
    /// The lab checks this on a real kernel (`docs/evidence.md`): with `tcp_timestamps = 0`,
    /// the default loopback reuse gave no TIME_WAIT port back to `connect()`, and with
    /// timestamps on it did; a connection's timestamp clock was the time since boot with
    /// `tcp_timestamps = 2` and off by a random amount with 1.
    ///
    /// ## Example
    /// ```ini
    /// net.ipv4.tcp_timestamps = 0
    /// ```
    ///
    /// ## Use instead
    /// ```ini
    /// net.ipv4.tcp_timestamps = 1
    /// ```
    pub TCP_TIMESTAMPS_DISABLED {
        code: "SYS003",
        name: "tcp-timestamps-disabled",
        family: Sysctl,
        severity: Warning,
        summary: "`tcp_timestamps = 0` removes PAWS protection and makes `tcp_tw_reuse` inert",
        fixable: true,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let Some((a, t)) = ctx.effective_integer(keys::TCP_TIMESTAMPS) else {
        return;
    };
    if t.value != 0 {
        return;
    }
    let mut d = Diagnostic::new(
        &TCP_TIMESTAMPS_DISABLED,
        at(t.span),
        format!("`{} = 0` switches TCP timestamps off", keys::TCP_TIMESTAMPS),
    )
    .primary_label("no PAWS, no TIME_WAIT reuse");
    if let Some((_, r)) = ctx.effective_integer(keys::TCP_TW_REUSE) {
        if matches!(r.value, 1 | 2) {
            d = d.label(at(r.span), "does nothing without timestamps");
        }
    }
    out.push(
        d.note("the sequence number wraps every 34 s at 1 Gbit/s (3.4 s at 10 Gbit/s); without timestamps a delayed duplicate from an earlier wrap can be accepted as new data")
            .note("connect() can no longer take over ports in TIME_WAIT (tcp_tw_reuse needs timestamps on the old connection), so a client closing many short connections to one destination runs out of ports sooner")
            .note("timestamps no longer reveal uptime: current kernels add a random offset to them")
            .help(format!("set `{} = 1` (the kernel default) or delete the line", keys::TCP_TIMESTAMPS))
            .fix(Fix {
                description: format!("replace `{}` with `1`", a.text_at(t.span)),
                edits: vec![Edit {
                    location: at(t.span),
                    replacement: "1".to_string(),
                }],
                // It changes every TCP handshake of the host: applied only when asked for.
                safe: false,
            }),
    );
}
