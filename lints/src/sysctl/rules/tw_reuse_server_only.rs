use crate::diagnostic::Diagnostic;
use crate::sysctl::{at, keys, Context};

crate::declare_rule! {
    /// ## What it does
    /// Points out, as information, what `net.ipv4.tcp_tw_reuse = 1` can and cannot do. It is
    /// often set on servers to get rid of TIME_WAIT sockets, which it never does there. Nothing
    /// is reported when `tcp_timestamps = 0` makes it inert (`tw-reuse-without-timestamps`
    /// says so).
    ///
    /// ## Why is this bad?
    /// It is not bad; it is often misunderstood. The side of a TCP connection that closes first
    /// keeps it in TIME_WAIT for 60 seconds. `tcp_tw_reuse` only changes what `connect()` does
    /// when it looks for a local port: it may take one whose previous connection to the same
    /// destination is still in TIME_WAIT, once that connection's last timestamp is a second
    /// old, and that TIME_WAIT socket then ends early. No other TIME_WAIT socket is shortened,
    /// and connections the host *accepted* are never touched.
    ///
    /// A server that closes its clients' connections first (keep-alive off, short keep-alive
    /// timeouts, request caps) collects TIME_WAIT sockets for connections it accepted, and
    /// `tcp_tw_reuse` leaves every one of them in place. They do not use up ports either: a
    /// connection is identified by both addresses and both ports, so the server's one port is
    /// shared by all of them, and a client that reconnects from the same port is let in anyway
    /// when its SYN has a higher sequence number or a newer timestamp (RFC 1122, RFC 6191).
    /// Each costs about 256 bytes of memory; the pattern behind them costs a new TCP (and TLS)
    /// handshake per connection. The fix is to let clients close first, which is the job of
    /// the HTTP keep-alive settings, not of a sysctl.
    ///
    /// Where it does help is a host that opens many short connections to the same `ip:port`
    /// and closes them first: nginx proxying to an upstream without `keepalive`, a service
    /// calling a database or an API without a connection pool. There, each closed connection
    /// holds a local port for 60 seconds, and reuse turns the limit of `ports / 60` new
    /// connections per second into roughly `ports` per second. The kernel's default, 2, already
    /// allows it for loopback connections.
    ///
    /// The lab checks this on a real kernel (`docs/evidence.md`): with `tcp_tw_reuse = 1`, the
    /// 100 TIME_WAIT sockets of connections a server closed were all still there past the
    /// reuse delay, a client coming back from the port of one of them was let in, and the
    /// same setting let the host's own outgoing connections take over their TIME_WAIT ports
    /// 1.3 s after they closed (none at 0.5 s).
    ///
    /// ## Example
    /// ```ini
    /// # "fix" TIME_WAIT on the web servers
    /// net.ipv4.tcp_tw_reuse = 1
    /// ```
    ///
    /// ## Use instead
    /// ```ini
    /// # nginx -> app servers: many short outgoing connections to the same ip:port
    /// net.ipv4.tcp_tw_reuse = 1
    /// ```
    pub TW_REUSE_SERVER_ONLY {
        code: "SYS004",
        name: "tw-reuse-server-only",
        family: Sysctl,
        severity: Info,
        summary: "`tcp_tw_reuse = 1` helps outgoing connections only; it does nothing for a server's TIME_WAIT",
        fixable: false,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let Some((_, r)) = ctx.effective_integer(keys::TCP_TW_REUSE) else {
        return;
    };
    if r.value != 1 {
        return;
    }
    // Inert without timestamps: `tw-reuse-without-timestamps` reports that instead.
    if ctx
        .effective_integer(keys::TCP_TIMESTAMPS)
        .is_some_and(|(_, t)| t.value == 0)
    {
        return;
    }
    out.push(
        Diagnostic::new(
            &TW_REUSE_SERVER_ONLY,
            at(r.span),
            format!("`{} = 1` applies to outgoing connections only", keys::TCP_TW_REUSE),
        )
        .primary_label("lets connect() take a port still in TIME_WAIT after about 1 s")
        .note("TIME_WAIT sockets of connections this host accepted and closed first stay for their 60 s: tcp_tw_reuse never applies to them (they do not use up ports, only about 256 bytes of memory each)")
        .note("it does help a client (nginx to an upstream without `keepalive`, a service calling an API) that opens and closes many connections to the same ip:port")
        .help("keep it if this host makes such outgoing connections; if a server collects TIME_WAIT, let its clients close first (HTTP keep-alive) instead"),
    );
}
