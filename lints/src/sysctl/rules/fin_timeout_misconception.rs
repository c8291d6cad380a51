use crate::diagnostic::Diagnostic;
use crate::sysctl::{at, keys, Context};

crate::declare_rule! {
    /// ## What it does
    /// Points out, as information, that `net.ipv4.tcp_fin_timeout` set to anything but its
    /// default of 60 does not change TIME_WAIT, which it is usually set for.
    ///
    /// ## Why is this bad?
    /// It is not bad in itself; it is probably not doing what it was written for. Tuning guides
    /// present `tcp_fin_timeout = 30` as "TIME_WAIT in 30 seconds". On Linux, TIME_WAIT always
    /// lasts 60 seconds: `TCP_TIMEWAIT_LEN` is a constant compiled into the kernel, and no
    /// sysctl changes it.
    ///
    /// `tcp_fin_timeout` governs the state before it, FIN_WAIT_2, and only for orphaned
    /// sockets, those the application has already closed. The side that closes first sends its
    /// FIN; once the peer acknowledges it, the socket is in FIN_WAIT_2 until the peer sends its
    /// own FIN, then in TIME_WAIT for 60 seconds. A peer that never sends its FIN (it crashed,
    /// or it keeps its half of the connection open) would leave an orphan waiting forever;
    /// `tcp_fin_timeout` is how long the kernel waits before dropping it, in seconds, and never
    /// less than 3.5 retransmission timeouts. A socket the application still holds (after
    /// `shutdown()` rather than `close()`) waits as long as the application wants.
    ///
    /// So the setting is useful against a pile of FIN-WAIT-2 sockets in `ss -tan`, and useless
    /// against TIME-WAIT. Fewer TIME_WAIT sockets come from closing fewer connections first:
    /// letting the clients close (HTTP keep-alive), or reusing connections (pools, upstream
    /// keep-alive).
    ///
    /// The lab checks this on a real kernel (`docs/evidence.md`): with `tcp_fin_timeout = 30`,
    /// TIME_WAIT sockets start with 60 s on their timer and orphaned FIN_WAIT_2 sockets with
    /// 30 s; with 0, orphans get 0.7 s (3.5 times a 200 ms retransmission timeout); a socket
    /// held after `shutdown()` has no timer at all.
    ///
    /// ## Example
    /// ```ini
    /// # shorten TIME_WAIT
    /// net.ipv4.tcp_fin_timeout = 15
    /// ```
    ///
    /// ## Use instead
    /// ```ini
    /// # orphaned sockets in FIN_WAIT_2 from clients that vanish: give up after 15 s
    /// net.ipv4.tcp_fin_timeout = 15
    /// ```
    pub FIN_TIMEOUT_MISCONCEPTION {
        code: "SYS006",
        name: "fin-timeout-misconception",
        family: Sysctl,
        severity: Info,
        summary: "`tcp_fin_timeout` is changed, but it bounds FIN_WAIT_2, not TIME_WAIT, which stays 60 s",
        fixable: false,
    }
}

/// The kernel's default, in seconds.
const DEFAULT: i64 = 60;

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let Some((_, n)) = ctx.effective_integer(keys::TCP_FIN_TIMEOUT) else {
        return;
    };
    if n.value == DEFAULT {
        return;
    }
    let label = if n.value > 0 {
        format!(
            "orphaned FIN_WAIT_2 sockets wait at most {} s for the peer's FIN",
            n.value
        )
    } else {
        "orphaned FIN_WAIT_2 sockets wait only 3.5 retransmission timeouts".to_string()
    };
    let mut d = Diagnostic::new(
        &FIN_TIMEOUT_MISCONCEPTION,
        at(n.span),
        format!(
            "`{} = {}` does not change how long TIME_WAIT lasts",
            keys::TCP_FIN_TIMEOUT,
            n.value
        ),
    )
    .primary_label(label)
    .note("TIME_WAIT lasts 60 s on Linux whatever the sysctls say: TCP_TIMEWAIT_LEN is a constant compiled into the kernel")
    .note("tcp_fin_timeout bounds FIN_WAIT_2, the state before TIME_WAIT, for sockets the application has already closed: this host's FIN was acknowledged and the peer has not sent its own");
    if n.value <= 0 {
        d = d.note("the kernel never waits less than 3.5 retransmission timeouts, so this does not mean \"no wait\"");
    }
    out.push(d.help("to have fewer TIME_WAIT sockets, close fewer connections first (let clients close: HTTP keep-alive; reuse connections: pools); keep this line if orphaned FIN-WAIT-2 sockets from vanished peers are the problem"));
}
