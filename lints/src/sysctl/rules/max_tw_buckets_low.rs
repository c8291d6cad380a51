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
    /// logged `TCP: time wait bucket table overflow`). Nothing is reset and nothing fails
    /// visibly, but those connections lose what TIME_WAIT is for:
    ///
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
                "TIME_WAIT lasts 60 s, so the cap is reached as soon as this host closes {per_second} connections per second first; past it each newly closed one is freed at once and only counted in TcpExtTCPTimeWaitOverflow (`nstat -az TcpExtTCPTimeWaitOverflow`)"
            ),
        )
    };
    out.push(
        Diagnostic::new(&MAX_TW_BUCKETS_LOW, at(n.span), message)
            .primary_label(label)
            .note(reached)
            .note("those connections lose TIME_WAIT's protection: if this host's last ACK is lost, the peer's resent FIN gets a RST instead of an ACK, and a late segment of the old connection can be taken as data by a new one with the same addresses and ports")
            .note("the cap does not make this host close fewer connections first, which is where TIME_WAIT comes from; a TIME_WAIT socket costs about 256 bytes, so 100 000 of them take about 25 MB")
            .help("delete the line to keep the kernel default (half its established-connections hash table, sized from memory); to have fewer TIME_WAIT sockets, let the peers close first (HTTP keep-alive, connection pools)")
            .fix(Fix {
                description: format!("delete the `{}` line", keys::TCP_MAX_TW_BUCKETS),
                edits: vec![delete_line(a)],
                // The default can be much larger: more memory in the worst case.
                safe: false,
            }),
    );
}
