use crate::diagnostic::{Diagnostic, Severity};
use crate::sysctl::{at, keys, Assignment, Context, Number};

crate::declare_rule! {
    /// ## What it does
    /// Flags `net.ipv4.ip_local_port_range` with fewer ports than the rule's `min_ports` option
    /// (10000 unless configured). A value the kernel rejects (an inverted range, a port outside
    /// 1-65535, a range starting below `net.ipv4.ip_unprivileged_port_start`, anything but
    /// numbers) is reported as an error, and a single number, which sets only the lower end,
    /// as a warning.
    ///
    /// ## Why is this bad?
    /// The range is where `connect()` picks the local port of an outgoing connection (IPv4 and
    /// IPv6 alike). Two connections to the same destination `ip:port` from the same address
    /// need two different local ports, and a connection holds its port until it is fully
    /// closed, which for the side that closes first means 60 more seconds in TIME_WAIT. So a
    /// client with `P` ports that closes its connections first can open at most `P / 60` new
    /// connections per second to one destination, sustained; beyond that `connect()` fails with
    /// `EADDRNOTAVAIL` ("Cannot assign requested address"), and nginx logs it for an upstream
    /// as `(99: Cannot assign requested address) while connecting to upstream`. The kernel's
    /// default, `32768 60999`, gives 28232 ports, about 470 connections per second to each
    /// destination; a range of 1000 ports allows 16.
    ///
    /// A server's accepted connections use the port they were accepted on, not this range:
    /// the range matters for a host acting as a client, such as nginx in front of
    /// application servers, or a service calling a database or an API. Keeping connections
    /// open (nginx's `keepalive` in an `upstream`, connection pools) removes the problem;
    /// `net.ipv4.tcp_tw_reuse = 1` lets `connect()` take over a port in TIME_WAIT after about a
    /// second, which raises the ceiling to about `P` per second.
    ///
    /// When widening, keep the range clear of the ports services on the host listen on, or
    /// list them in `net.ipv4.ip_local_reserved_ports`: an outgoing connection that happens to
    /// hold such a port makes the service fail to start with "Address already in use".
    ///
    /// When the kernel rejects a value, the write fails with EINVAL and the range stays what it
    /// was. It rejects two numbers in the wrong order, a port outside 1-65535, a range starting
    /// below `ip_unprivileged_port_start` (1024 by default) and anything but numbers; given one
    /// number, it sets only the lower end and keeps the current upper end.
    ///
    /// The lab checks this on a real kernel (`docs/evidence.md`): with 100 local ports, 200
    /// connections to one `ip:port` that the client closed first left 100 ports in TIME_WAIT
    /// with 60 s to go, and the other 100 `connect()` calls failed with `EADDRNOTAVAIL`, as
    /// did 20 more a second later; and the values above that the kernel rejects failed with
    /// EINVAL and left the range as it was.
    ///
    /// ## Example
    /// ```ini
    /// net.ipv4.ip_local_port_range = 50000 51000
    /// ```
    ///
    /// ## Use instead
    /// ```ini
    /// # wide, and with the port of a local MongoDB kept out of it
    /// net.ipv4.ip_local_port_range = 15000 64999
    /// net.ipv4.ip_local_reserved_ports = 27017
    /// ```
    pub LOCAL_PORT_RANGE_NARROW {
        code: "SYS007",
        name: "local-port-range-narrow",
        family: Sysctl,
        severity: Warning,
        summary: "`ip_local_port_range` is narrow (or invalid): few local ports, so outgoing connections to one destination run out while in TIME_WAIT",
        fixable: false,
        options: [
            { name: "min_ports", kind: Integer, default: "10000", doc: "smallest number of ports in the range that is not flagged" },
        ],
    }
}

/// The kernel's default range.
const DEFAULT: (i64, i64) = (32768, 60999);

pub fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let Some(a) = ctx.file.effective(keys::IP_LOCAL_PORT_RANGE) else {
        return;
    };
    let name = keys::IP_LOCAL_PORT_RANGE;
    let numbers = match a.numbers(2) {
        Ok(n) => n,
        Err(e) => {
            let d = rejected(
                a,
                e.span,
                format!("the kernel rejects this value: {}", e.problem),
            )
            .primary_label("not a port number");
            out.push(write_two(d));
            return;
        }
    };
    let (low, high) = match numbers[..] {
        [low, high] => (low, high),
        [low] => {
            let d = Diagnostic::new(
                &LOCAL_PORT_RANGE_NARROW,
                at(low.span),
                format!("`{name} = {}` sets only the lower end of the range", low.value),
            )
            .primary_label("one number: the upper end keeps whatever it was")
            .note("the kernel reads up to two numbers and keeps the current value of a missing one, so the range depends on what ran before (and is rejected if that upper end is below this number)");
            out.push(write_two(d));
            return;
        }
        _ => return,
    };
    let range = format!("{} {}", low.value, high.value);
    if let Some(outside) = [low, high]
        .into_iter()
        .find(|n| !(1..=65535).contains(&n.value))
    {
        let d = rejected(
            a,
            outside.span,
            format!("`{name} = {range}` is rejected: ports go from 1 to 65535"),
        )
        .primary_label("not a port");
        out.push(write_two(d));
        return;
    }
    if high.value < low.value {
        out.push(
            rejected(
                a,
                low.span.cover(high.span),
                format!("`{name} = {range}` is inverted: the kernel rejects it"),
            )
            .primary_label(format!("{} is above {}", low.value, high.value))
            .help(format!(
                "write the lower port first: `{name} = {} {}`",
                high.value, low.value
            )),
        );
        return;
    }
    let unprivileged = ctx
        .file
        .effective_before(keys::IP_UNPRIVILEGED_PORT_START, a.line_span.start);
    let start = unprivileged
        .and_then(Assignment::integer)
        .map_or(1024, |n| n.value);
    if low.value < start {
        let mut d = rejected(
            a,
            low.span,
            format!("`{name} = {range}` starts among the privileged ports: the kernel rejects it"),
        )
        .primary_label(format!("below ip_unprivileged_port_start ({start})"));
        d = match unprivileged {
            Some(u) => d.label(at(u.value_span), "privileged ports end here"),
            None => d.note("the local range must not reach into the privileged ports, those below net.ipv4.ip_unprivileged_port_start (1024 unless set earlier in this file)"),
        };
        out.push(d.help(format!(
            "start the range at {start} or above: `{name} = {start} {}`",
            high.value
        )));
        return;
    }
    narrow(ctx, low, high, out);
}

/// A value the kernel refuses: the write fails, and the rule reports it as an error.
fn rejected(a: &Assignment, span: nginx_parser::Span, message: String) -> Diagnostic {
    let mut d = Diagnostic::new(&LOCAL_PORT_RANGE_NARROW, at(span), message).label(
        at(a.key_span),
        "the write fails with EINVAL and the range keeps its previous value",
    );
    d.severity = Severity::Error;
    d
}

fn write_two(d: Diagnostic) -> Diagnostic {
    d.help(format!(
        "write two port numbers, lower first, such as the kernel default `{} = {} {}`",
        keys::IP_LOCAL_PORT_RANGE,
        DEFAULT.0,
        DEFAULT.1
    ))
}

fn narrow(ctx: &Context<'_>, low: Number, high: Number, out: &mut Vec<Diagnostic>) {
    let ports = high.value - low.value + 1;
    let min = ctx.settings.number(&LOCAL_PORT_RANGE_NARROW, "min_ports");
    if ports >= min {
        return;
    }
    let mut d = Diagnostic::new(
        &LOCAL_PORT_RANGE_NARROW,
        at(low.span.cover(high.span)),
        format!(
            "`{} = {} {}` leaves {ports} local port{} for outgoing connections",
            keys::IP_LOCAL_PORT_RANGE,
            low.value,
            high.value,
            if ports == 1 { "" } else { "s" }
        ),
    )
    .note(format!(
        "each connection to one destination ip:port needs its own local port, and the side that closes first keeps it 60 s in TIME_WAIT: {ports} ports sustain {} before connect() fails with EADDRNOTAVAIL (\"Cannot assign requested address\")",
        rate(ports)
    ));
    let reuse = ctx
        .effective_integer(keys::TCP_TW_REUSE)
        .filter(|(_, r)| r.value == 1);
    let timestamps_off = ctx
        .effective_integer(keys::TCP_TIMESTAMPS)
        .is_some_and(|(_, t)| t.value == 0);
    d = match (reuse, timestamps_off) {
        (Some((_, r)), false) => d
            .primary_label(format!("to one destination: {} without reuse", rate(ports)))
            .label(at(r.span), "lets connect() reuse a port about 1 s after its connection closed")
            .note("with tcp_tw_reuse = 1 a port in TIME_WAIT can be taken again once its connection's last timestamp is about a second old (for peers that use TCP timestamps, as nearly all do), so the ceiling is closer to one new connection per port per second"),
        _ => d.primary_label(format!("to one destination: at most {}", rate(ports))),
    };
    out.push(d.help(format!(
        "widen the range (the kernel default `{} {}` gives {} ports), and keep connections to backends open instead of closing them (nginx: `keepalive` in the `upstream` block)",
        DEFAULT.0,
        DEFAULT.1,
        DEFAULT.1 - DEFAULT.0 + 1
    )));
}

/// How many new connections per second `ports` ports sustain when each one then spends 60 s
/// in TIME_WAIT, as people read it.
fn rate(ports: i64) -> String {
    let one_decimal = |x: f64| format!("{x:.1}").trim_end_matches(".0").to_string();
    let per_second = |n: String| match n.as_str() {
        "1" => "1 new connection per second".to_string(),
        _ => format!("{n} new connections per second"),
    };
    match ports {
        600.. => per_second((ports / 60).to_string()),
        60.. => per_second(one_decimal(ports as f64 / 60.0)),
        1.. => format!(
            "one new connection every {} s",
            one_decimal(60.0 / ports as f64)
        ),
        _ => "no connections".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn rates_read_well() {
        assert_eq!(rate(28232), "470 new connections per second");
        assert_eq!(rate(1001), "16 new connections per second");
        assert_eq!(rate(100), "1.7 new connections per second");
        assert_eq!(rate(60), "1 new connection per second");
        assert_eq!(rate(7), "one new connection every 8.6 s");
        assert_eq!(rate(1), "one new connection every 60 s");
    }
}
