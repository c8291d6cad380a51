use crate::diagnostic::{Diagnostic, Fix};
use crate::sysctl::{at, delete_line, keys, Assignment, Context};

crate::declare_rule! {
    /// ## What it does
    /// Flags every assignment of `net.ipv4.tcp_tw_recycle`, whatever its value.
    ///
    /// ## Why is this bad?
    /// The option was removed in Linux 4.12 (2017). On any current kernel the key does not
    /// exist, so the line can only fail: `sysctl -p` prints `cannot stat
    /// /proc/sys/net/ipv4/tcp_tw_recycle: No such file or directory` and exits with status 1,
    /// even when the key is written with a leading `-` (procps 4.0 honours `-` only for
    /// permission errors); systemd-sysctl and `sysctl --system` log it and go on. A
    /// provisioning script that checks the exit status of `sysctl -p` stops there, and one
    /// that does not learns to ignore it, and then misses the next real error.
    ///
    /// On kernels before 4.12, `tcp_tw_recycle = 1` was worse than useless. It cut TIME_WAIT
    /// from 60 seconds to 3.5 retransmission timeouts and, to stay safe without it, remembered
    /// for 60 seconds the last TCP timestamp received from each peer *IP address*, dropping any
    /// new SYN from that address that carried an older timestamp. But timestamps come from
    /// each host's own clock, and clients behind one NAT (an office, a carrier-grade NAT, a
    /// Kubernetes node's SNAT) share one address without sharing one clock: the server then
    /// silently drops the SYNs of every client whose clock is behind the last one it heard
    /// from. Their connections time out at random, nothing is logged, and only the
    /// `TcpExtPAWSPassive` counter (`nstat`) moves. Once Linux 4.10 gave timestamps a random
    /// offset per connection, even a single client failed the check; that is why the option
    /// was removed rather than fixed.
    ///
    /// TIME_WAIT on a server means the server closes connections first. The cure is to let
    /// the clients close (HTTP keep-alive); for a host that runs out of ports on its own
    /// outgoing connections, `net.ipv4.tcp_tw_reuse = 1` is the safe way to reuse them.
    ///
    /// The lab checks on a current kernel that the key is gone and what `sysctl -p` and
    /// systemd-sysctl then do (`docs/evidence.md`).
    ///
    /// ## Example
    /// ```ini
    /// net.ipv4.tcp_tw_reuse = 1
    /// net.ipv4.tcp_tw_recycle = 1
    /// ```
    ///
    /// ## Use instead
    /// ```ini
    /// net.ipv4.tcp_tw_reuse = 1
    /// ```
    pub TCP_TW_RECYCLE {
        code: "SYS001",
        name: "tcp-tw-recycle",
        family: Sysctl,
        severity: Error,
        summary: "`tcp_tw_recycle` is set: removed in Linux 4.12, and before that it dropped connections from clients behind NAT",
        fixable: true,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let all: Vec<&Assignment> = ctx.file.assignments_of(keys::TCP_TW_RECYCLE).collect();
    if let Some((last, earlier)) = all.split_last() {
        out.push(report(last, earlier));
    }
}

fn report(a: &Assignment, earlier: &[&Assignment]) -> Diagnostic {
    // A non-zero number switched it on; 0 or an unreadable value only fails on new kernels.
    let number = a.integer();
    let enables = number.is_some_and(|n| n.value != 0);
    // What the kernel would read, without text after it (`1 # legacy` is 1).
    let (value, span) = match number {
        Some(n) => (a.text_at(n.span), n.span),
        None => (a.value_text(), a.value_span),
    };
    let (message, label) = if enables {
        (
            format!("`{} = {value}` enables TIME_WAIT recycling, which broke clients behind NAT and was removed in Linux 4.12", keys::TCP_TW_RECYCLE),
            "before Linux 4.12: SYNs from clients behind NAT are dropped",
        )
    } else {
        (
            format!(
                "`{}` was removed in Linux 4.12; on current kernels this line only produces an error",
                keys::TCP_TW_RECYCLE
            ),
            "no such key since Linux 4.12",
        )
    };
    let mut d = Diagnostic::new(&TCP_TW_RECYCLE, at(span), message)
        .primary_label(label)
        .label(
            at(a.key_span),
            "`sysctl -p`: cannot stat /proc/sys/net/ipv4/tcp_tw_recycle",
        );
    for e in earlier {
        d = d.label(at(e.key_span), "also set here, and fails the same way");
    }
    if enables {
        d = d.note("before 4.12 the kernel remembered the last TCP timestamp of each client IP address for 60 s and dropped SYNs carrying an older one; clients sharing a NAT address have unrelated clocks, so all but one of them are dropped, silently");
    }
    let fails = if a.ignore_errors {
        "on Linux 4.12 and later `sysctl -p` fails on this line even with the `-` prefix (procps honours it only for permission errors); systemd-sysctl skips it"
    } else {
        "on Linux 4.12 and later `sysctl -p` fails on this line and exits with status 1; systemd-sysctl logs it and skips it"
    };
    let lines = if earlier.is_empty() {
        "the line"
    } else {
        "every `tcp_tw_recycle` line"
    };
    d.note(fails)
        .help(format!("delete {lines}; if TIME_WAIT piles up on a server, let the clients close first (HTTP keep-alive); for outgoing connections, `net.ipv4.tcp_tw_reuse = 1` reuses TIME_WAIT ports safely"))
        .fix(Fix {
            description: format!("delete {lines}"),
            edits: earlier
                .iter()
                .copied()
                .chain([a])
                .map(delete_line)
                .collect(),
            // Deleting restores the kernel default, 0, where the key still exists, and removes
            // an error where it does not.
            safe: true,
        })
}
