use crate::diagnostic::{Diagnostic, Fix};
use crate::sysctl::{at, delete_line, keys, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags `net.ipv4.tcp_max_tw_buckets` set below the rule's `min` option (16384 unless
    /// configured).
    ///
    /// ## Why is this bad?
    /// The setting caps how many sockets the kernel keeps in TIME_WAIT. A host that closes `N`
    /// connections per second first holds about `N × 60` of them (TIME_WAIT lasts 60 seconds on
    /// Linux), so a cap of 5000 is reached at 84 closes per second. From then on each newly
    /// closed connection skips TIME_WAIT: the kernel frees it at once and only counts it in
    /// `TcpExtTCPTimeWaitOverflow` (`nstat -az TcpExtTCPTimeWaitOverflow`; older kernels also
    /// logged `TCP: time wait bucket table overflow`). Those connections lose what TIME_WAIT
    /// is for, and most of them are cut short before it:
    ///
    /// - the cap also counts this host's orphaned FIN_WAIT_2 sockets (closed by the
    ///   application, waiting for the peer's FIN) whenever `tcp_fin_timeout` is 60 or less, as
    ///   it is by default: the kernel keeps them in the same table. Past the cap such a
    ///   connection is freed as soon as the peer acknowledges this host's FIN, so when the
    ///   peer's own FIN follows, it is answered with a RST instead of an ACK. A peer that has
    ///   already closed its socket does not notice; one that has only shut down its sending
    ///   side, or is still sending, gets `ECONNRESET`;
    /// - if this host's last ACK is lost, the peer resends its FIN and gets a RST instead of
    ///   an ACK;
    /// - a delayed segment of the old connection can be accepted by a new connection between
    ///   the same two addresses and ports, as data that was never sent on it.
    ///
    /// And the cap fixes nothing: the sockets pile up because this host closes connections
    /// first, which the cap does not change. A TIME_WAIT socket is small (about 256 bytes of
    /// kernel memory, no buffers): 100 000 of them take about 25 MB. The kernel's own default
    /// is half the size of its established-connections hash table, which it sizes from memory
    /// at boot (`sysctl net.ipv4.tcp_max_tw_buckets` on a host without this line shows it). The
    /// kernel documentation says it plainly: the limit exists only to prevent simple
    /// denial-of-service attacks and must not be lowered artificially.
    ///
    /// The lab checks this on a real kernel (`docs/evidence.md`): with a cap of 10, 100
    /// connections that the server closed first, each client closing 0.1 s later, left 10
    /// sockets in TIME_WAIT, raised `TcpExtTCPTimeWaitOverflow` by 90, and 90 clients got a RST
    /// for their FIN.
    ///
    /// ## Example
    /// ```ini
    /// net.ipv4.tcp_max_tw_buckets = 5000
    /// ```
    ///
    /// ## Use instead
    /// ```ini
    /// # no tcp_max_tw_buckets line: keep the kernel default;
    /// # let clients close first (HTTP keep-alive) to have fewer TIME_WAIT sockets
    /// ```
    pub MAX_TW_BUCKETS_LOW {
        code: "SYS005",
        name: "max-tw-buckets-low",
        family: Sysctl,
        severity: Warning,
        summary: "`tcp_max_tw_buckets` is low: beyond it, closed connections skip TIME_WAIT and lose its protection",
        fixable: true,
        options: [
            { name: "min", kind: Integer, default: "16384", doc: "smallest `tcp_max_tw_buckets` that is not flagged" },
        ],
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let Some((a, n)) = ctx.effective_integer(keys::TCP_MAX_TW_BUCKETS) else {
        return;
    };
    let min = ctx.settings.number(&MAX_TW_BUCKETS_LOW, "min");
    if n.value >= min {
        return;
    }
    let (message, label, reached) = if n.value <= 0 {
        (
            format!("`{} = {}` keeps no socket in TIME_WAIT", keys::TCP_MAX_TW_BUCKETS, n.value),
            "every closed connection skips TIME_WAIT".to_string(),
            "with this value every connection this host closes first is freed at once, without TIME_WAIT".to_string(),
        )
    } else {
        let per_second = (n.value + 59) / 60;
        (
            format!(
                "`{} = {}` caps TIME_WAIT at {} sockets",
                keys::TCP_MAX_TW_BUCKETS,
                n.value,
                n.value
            ),
            format!("past {} sockets, closed connections skip TIME_WAIT", n.value),
            format!(
                "TIME_WAIT lasts 60 s, so the cap is reached as soon as this host closes {per_second} connection{} per second first; past it each newly closed one is freed at once and only counted in TcpExtTCPTimeWaitOverflow (`nstat -az TcpExtTCPTimeWaitOverflow`)",
                if per_second == 1 { "" } else { "s" }
            ),
        )
    };
    // Up to 60 s the kernel holds an orphaned FIN_WAIT_2 socket in the TIME_WAIT table, so the
    // cap cuts connections off before the peer's FIN (measured by the lab: docs/evidence.md).
    let orphans_capped = ctx
        .effective_integer(keys::TCP_FIN_TIMEOUT)
        .is_none_or(|(_, f)| f.value <= 60);
    let lost: &[&str] = if orphans_capped {
        &[
            "the cap also counts orphaned FIN_WAIT_2 sockets when tcp_fin_timeout is 60 or less (the default): past it a connection is freed as soon as the peer acknowledges this host's FIN, and the peer's own FIN gets a RST instead of an ACK (ECONNRESET for a peer that has only shut down its sending side)",
            "those connections also lose TIME_WAIT's protection: a late segment of the old connection can be taken as data by a new one with the same addresses and ports",
        ]
    } else {
        &["those connections lose TIME_WAIT's protection: if this host's last ACK is lost, the peer's resent FIN gets a RST instead of an ACK, and a late segment of the old connection can be taken as data by a new one with the same addresses and ports"]
    };
    let mut d = Diagnostic::new(&MAX_TW_BUCKETS_LOW, at(n.span), message)
        .primary_label(label)
        .note(reached);
    for note in lost {
        d = d.note(*note);
    }
    out.push(
        d.note("the cap does not make this host close fewer connections first, which is where TIME_WAIT comes from; a TIME_WAIT socket costs about 256 bytes, so 100 000 of them take about 25 MB")
            .help("delete the line to keep the kernel default (half its established-connections hash table, sized from memory); to have fewer TIME_WAIT sockets, let the peers close first (HTTP keep-alive, connection pools)")
            .fix(Fix {
                description: format!("delete the `{}` line", keys::TCP_MAX_TW_BUCKETS),
                edits: vec![delete_line(a)],
                // The default can be much larger: more memory in the worst case.
                safe: false,
            }),
    );
}
