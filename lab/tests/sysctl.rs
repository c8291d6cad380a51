//! The sysctl rules' claims about the kernel, checked against the kernel. Each test lints a
//! fixture the rule fires on and one it stays silent on, applies each of them in a private
//! network namespace (`netns-lab`, which needs root) and asserts what the kernel then does.

use lints::settings::Settings;
use serde_json::Value;
use std::process::Command;
use waitlint_lab::evidence::{self, Row};

/// Lints a fixture (path under `fixtures/sysctl/`) and returns the names of the rules that fire.
fn rules_fired(fixture: &str) -> Vec<&'static str> {
    let path = waitlint_lab::fixtures_dir()
        .join("sysctl")
        .join(fixture)
        .display()
        .to_string();
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let file = lints::sysctl::parse(&text);
    lints::sysctl::lint(&file, &Settings::default())
        .iter()
        .map(|d| d.rule.name)
        .collect()
}

/// Asserts that `rule` fires on `bad` and not on `fixed`.
fn assert_lints(rule: &str, bad: &str, fixed: &str) {
    let fired = rules_fired(bad);
    assert!(
        fired.contains(&rule),
        "{rule} does not fire on {bad}: {fired:?}"
    );
    let fired = rules_fired(fixed);
    assert!(!fired.contains(&rule), "{rule} fires on {fixed}: {fired:?}");
}

/// Runs `netns-lab EXPERIMENT fixture` and returns its JSON result.
fn lab(experiment: &str, fixture: &str) -> Value {
    let path = waitlint_lab::fixtures_dir()
        .join("sysctl")
        .join(fixture)
        .display()
        .to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_netns-lab"))
        .args([experiment, &path])
        .output()
        .expect("cannot run netns-lab");
    assert!(
        out.status.success(),
        "netns-lab {experiment} {fixture} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "netns-lab printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A number in the result, by JSON pointer (`/result/server_time_wait`).
fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {v:#}"))
}

fn count(v: &Value, pointer: &str) -> u64 {
    num(v, pointer) as u64
}

/// What the kernel did with the last assignment of `key` in the applied file.
fn outcome<'a>(v: &'a Value, key: &str) -> &'a str {
    v["applied"]
        .as_array()
        .and_then(|a| a.iter().rev().find(|a| a["key"] == key))
        .and_then(|a| a["outcome"].as_str())
        .unwrap_or_else(|| panic!("{key} was not applied: {v:#}"))
}

fn fixtures(list: &[&str]) -> Vec<String> {
    list.iter()
        .map(|f| format!("fixtures/sysctl/{f}"))
        .collect()
}

#[test]
#[ignore = "needs root for a private network namespace (unshare -n); run by .ci/run"]
fn max_tw_buckets_low_frees_closed_connections_past_the_cap() {
    let (bad_file, long_fin_file, fixed_file) = (
        "max-tw-buckets-low/fires-lab.conf",
        "max-tw-buckets-low/fires-lab-fin-timeout.conf",
        "max-tw-buckets-low/silent.conf",
    );
    assert_lints("max-tw-buckets-low", bad_file, fixed_file);
    let bad = lab("tw-buckets", bad_file);
    let fixed = lab("tw-buckets", fixed_file);
    assert_eq!(count(&bad, "/result/tcp_max_tw_buckets"), 10, "{bad:#}");
    assert_eq!(count(&bad, "/result/server_time_wait"), 10, "{bad:#}");
    assert_eq!(count(&bad, "/result/time_wait_overflow"), 90, "{bad:#}");
    // With the default tcp_fin_timeout the kernel keeps an orphaned FIN_WAIT_2 socket in the
    // same capped table: past the cap it is freed before the client's FIN arrives, and that
    // FIN gets a RST.
    assert_eq!(count(&bad, "/result/resets_sent"), 90, "{bad:#}");
    assert_eq!(count(&bad, "/result/clients_reset"), 90, "{bad:#}");
    // With tcp_fin_timeout above 60 the orphan stays a full socket until the client's FIN,
    // which is acknowledged; only then does the connection skip TIME_WAIT.
    let long_fin = lab("tw-buckets", long_fin_file);
    assert_lints("max-tw-buckets-low", long_fin_file, fixed_file);
    assert_eq!(
        count(&long_fin, "/result/tcp_fin_timeout"),
        90,
        "{long_fin:#}"
    );
    assert_eq!(
        count(&long_fin, "/result/server_time_wait"),
        10,
        "{long_fin:#}"
    );
    assert_eq!(
        count(&long_fin, "/result/time_wait_overflow"),
        90,
        "{long_fin:#}"
    );
    assert_eq!(count(&long_fin, "/result/resets_sent"), 0, "{long_fin:#}");
    assert_eq!(count(&long_fin, "/result/clients_reset"), 0, "{long_fin:#}");
    assert_eq!(count(&fixed, "/result/server_time_wait"), 100, "{fixed:#}");
    assert_eq!(count(&fixed, "/result/time_wait_overflow"), 0, "{fixed:#}");
    assert_eq!(count(&fixed, "/result/resets_sent"), 0, "{fixed:#}");
    assert_eq!(count(&fixed, "/result/clients_reset"), 0, "{fixed:#}");
    let size = bad["result"]["tw_sock_bytes"]
        .as_u64()
        .map_or(String::new(), |b| {
            format!("; a TIME_WAIT socket is {b} bytes (tw_sock_TCP slab)")
        });
    evidence::record(
        "sysctl-max-tw-buckets-low",
        &Row {
            rule: "SYS005/max-tw-buckets-low".into(),
            experiment: "Private network namespace, 100 loopback connections the server closes first; each client closes (shutdown) 0.1 s after the server's FIN.".into(),
            bad: format!(
                "tcp_max_tw_buckets = 10: server TIME_WAIT {}, TcpExtTCPTimeWaitOverflow +{}; {} clients' FINs answered with RST (ECONNRESET): the freed sockets were still in FIN_WAIT_2. With tcp_fin_timeout = 90 as well: TIME_WAIT {}, overflow +{}, {} RST",
                count(&bad, "/result/server_time_wait"),
                count(&bad, "/result/time_wait_overflow"),
                count(&bad, "/result/clients_reset"),
                count(&long_fin, "/result/server_time_wait"),
                count(&long_fin, "/result/time_wait_overflow"),
                count(&long_fin, "/result/resets_sent"),
            ),
            fixed: format!(
                "tcp_max_tw_buckets = {} (the kernel's default here: {}): server TIME_WAIT {}, overflow +{}, resets {}{size}",
                count(&fixed, "/result/tcp_max_tw_buckets"),
                fixed["defaults"]["net.ipv4.tcp_max_tw_buckets"].as_str().unwrap_or("?"),
                count(&fixed, "/result/server_time_wait"),
                count(&fixed, "/result/time_wait_overflow"),
                count(&fixed, "/result/resets_sent"),
            ),
            fixtures: fixtures(&[bad_file, long_fin_file, fixed_file]),
        },
    );
}

#[test]
#[ignore = "needs root for a private network namespace (unshare -n); run by .ci/run"]
fn fin_timeout_bounds_orphaned_fin_wait_2_and_not_time_wait() {
    let (thirty, zero, fixed_file) = (
        "fin-timeout-misconception/fires.conf",
        "fin-timeout-misconception/fires-zero.conf",
        "fin-timeout-misconception/silent.conf",
    );
    assert_lints("fin-timeout-misconception", thirty, fixed_file);
    assert_lints("fin-timeout-misconception", zero, fixed_file);
    let runs = [thirty, zero, fixed_file].map(|f| lab("fin-timeout", f));
    let [bad, bad_zero, fixed] = &runs;
    for (run, fin_timeout) in [(bad, 30), (bad_zero, 0), (fixed, 60)] {
        assert_eq!(
            count(run, "/result/tcp_fin_timeout"),
            fin_timeout,
            "{run:#}"
        );
        // TIME_WAIT: 60 s whatever tcp_fin_timeout says (timer 3, read 0.1 s after closing).
        assert_eq!(count(run, "/result/time_wait/sockets"), 10, "{run:#}");
        assert_eq!(
            run["result"]["time_wait"]["timer_kinds"],
            serde_json::json!([3])
        );
        let tw = num(run, "/result/time_wait/timer_seconds_min");
        assert!(
            (59.0..=60.0).contains(&tw),
            "TIME_WAIT timer {tw} s: {run:#}"
        );
        assert_eq!(count(run, "/result/after_wait/time_wait"), 10, "{run:#}");
        // A socket the application still holds waits in FIN_WAIT_2 with no timer at all.
        assert_eq!(count(run, "/result/held_fin_wait_2/sockets"), 10, "{run:#}");
        assert_eq!(
            run["result"]["held_fin_wait_2"]["timer_kinds"],
            serde_json::json!([0])
        );
        assert_eq!(
            count(run, "/result/after_wait/held_fin_wait_2"),
            10,
            "{run:#}"
        );
        assert_eq!(
            count(run, "/result/orphaned_fin_wait_2/sockets"),
            10,
            "{run:#}"
        );
    }
    // Orphans: tcp_fin_timeout, read from their timers.
    let orphan = |run: &Value| num(run, "/result/orphaned_fin_wait_2/timer_seconds_max");
    assert!((29.0..=30.0).contains(&orphan(bad)), "{bad:#}");
    assert!((59.0..=60.0).contains(&orphan(fixed)), "{fixed:#}");
    assert_eq!(count(bad, "/result/after_wait/orphaned_fin_wait_2"), 10);
    // 0 is not "no wait": 3.5 retransmission timeouts, at least 3.5 x 200 ms, minus the 0.1 s
    // between closing and reading the timer.
    let floor = num(bad_zero, "/result/orphaned_fin_wait_2/timer_seconds_min");
    assert!((0.55..=1.5).contains(&floor), "{bad_zero:#}");
    assert_eq!(
        count(bad_zero, "/result/after_wait/orphaned_fin_wait_2"),
        0,
        "{bad_zero:#}"
    );
    let timer = |run: &Value, what: &str| {
        let min = num(run, &format!("/result/{what}/timer_seconds_min"));
        let max = num(run, &format!("/result/{what}/timer_seconds_max"));
        if (max - min).abs() < 0.05 {
            format!("{max} s")
        } else {
            format!("{min}-{max} s")
        }
    };
    evidence::record(
        "sysctl-fin-timeout-misconception",
        &Row {
            rule: "SYS006/fin-timeout-misconception".into(),
            experiment: "Private network namespace, loopback: 10 connections the server closes first (server TIME_WAIT), 10 whose client closes first and is orphaned (close) and 10 whose client only shuts down writing, against a server that never closes; timers read from /proc/net/tcp 0.1 s after closing, then the sockets counted again 2.5 s later.".into(),
            bad: format!(
                "tcp_fin_timeout = 30: TIME_WAIT timer {}; orphaned FIN_WAIT_2 timer {}. tcp_fin_timeout = 0: TIME_WAIT {}; orphans {} (3.5 RTO of 0.2 s, minus the 0.1 s), gone after 2.5 s. Held FIN_WAIT_2: no timer, all 10 still there after 2.5 s",
                timer(bad, "time_wait"),
                timer(bad, "orphaned_fin_wait_2"),
                timer(bad_zero, "time_wait"),
                timer(bad_zero, "orphaned_fin_wait_2"),
            ),
            fixed: format!(
                "tcp_fin_timeout = 60 (default): TIME_WAIT timer {}; orphaned FIN_WAIT_2 timer {}",
                timer(fixed, "time_wait"),
                timer(fixed, "orphaned_fin_wait_2"),
            ),
            fixtures: fixtures(&[thirty, zero, fixed_file]),
        },
    );
}

/// The `client-ports` experiment's two rounds, as text for the evidence.
fn rounds(v: &Value) -> String {
    format!(
        "{} of {} connected, {} EADDRNOTAVAIL; {} ms later {} of {} connected, {} ms later {} of {}",
        count(v, "/result/first/connected"),
        count(v, "/result/first/attempts"),
        count(v, "/result/first/eaddrnotavail"),
        count(v, "/result/early/after_ms"),
        count(v, "/result/early/connected"),
        count(v, "/result/early/attempts"),
        count(v, "/result/waited_ms"),
        count(v, "/result/second/connected"),
        count(v, "/result/second/attempts"),
    )
}

#[test]
#[ignore = "needs root for a private network namespace (unshare -n); run by .ci/run"]
fn local_port_range_narrow_runs_out_of_ports_held_in_time_wait() {
    let (bad_file, fixed_file) = (
        "local-port-range-narrow/fires-lab.conf",
        "local-port-range-narrow/silent-lab.conf",
    );
    assert_lints("local-port-range-narrow", bad_file, fixed_file);
    let bad = lab("client-ports", bad_file);
    let fixed = lab("client-ports", fixed_file);
    assert_eq!(bad["result"]["ip_local_port_range"], "60000 60099");
    assert_eq!(count(&bad, "/result/first/connected"), 100, "{bad:#}");
    assert_eq!(count(&bad, "/result/first/eaddrnotavail"), 100, "{bad:#}");
    // Every port is held by a TIME_WAIT socket that has 60 s to go, and still is a second later.
    assert_eq!(
        count(&bad, "/result/client_time_wait/sockets"),
        100,
        "{bad:#}"
    );
    assert!(
        num(&bad, "/result/client_time_wait/timer_seconds_min") >= 59.0,
        "{bad:#}"
    );
    assert_eq!(count(&bad, "/result/second/connected"), 0, "{bad:#}");
    assert_eq!(count(&bad, "/result/early/connected"), 0, "{bad:#}");
    assert_eq!(count(&bad, "/result/second/eaddrnotavail"), 20, "{bad:#}");
    assert_eq!(count(&fixed, "/result/first/connected"), 200, "{fixed:#}");
    assert_eq!(count(&fixed, "/result/second/connected"), 20, "{fixed:#}");
    assert_eq!(count(&fixed, "/result/early/connected"), 20, "{fixed:#}");
    evidence::record(
        "sysctl-local-port-range-narrow",
        &Row {
            rule: "SYS007/local-port-range-narrow".into(),
            experiment: "Private network namespace: 200 loopback connections to one ip:port, each closed first by the client, then 20 more 0.5 s and 1.3 s later; tcp_tw_reuse = 0 as for a remote destination.".into(),
            bad: format!(
                "ip_local_port_range = 60000 60099: {}; client TIME_WAIT {} with {} s left",
                rounds(&bad),
                count(&bad, "/result/client_time_wait/sockets"),
                num(&bad, "/result/client_time_wait/timer_seconds_min"),
            ),
            fixed: format!("ip_local_port_range = 15000 64999: {}", rounds(&fixed)),
            fixtures: fixtures(&[bad_file, fixed_file]),
        },
    );
}

#[test]
#[ignore = "needs root for a private network namespace (unshare -n); run by .ci/run"]
fn tw_reuse_without_timestamps_never_reuses_a_port() {
    let (bad_file, fixed_file) = (
        "tw-reuse-without-timestamps/fires-loopback.conf",
        "tw-reuse-without-timestamps/silent.conf",
    );
    assert_lints("tw-reuse-without-timestamps", bad_file, fixed_file);
    let bad = lab("client-ports", bad_file);
    let fixed = lab("client-ports", fixed_file);
    for run in [&bad, &fixed] {
        // The lab's 100-port range runs out the same way with or without timestamps...
        assert_eq!(count(run, "/result/tcp_tw_reuse"), 2, "{run:#}");
        assert_eq!(count(run, "/result/first/connected"), 100, "{run:#}");
        assert_eq!(count(run, "/result/first/eaddrnotavail"), 100, "{run:#}");
    }
    // ...but only connections that carried timestamps give their ports back after the delay.
    assert_eq!(
        bad["result"]["connections_carry_timestamps"], false,
        "{bad:#}"
    );
    assert_eq!(count(&bad, "/result/second/connected"), 0, "{bad:#}");
    assert_eq!(count(&bad, "/result/early/connected"), 0, "{bad:#}");
    assert_eq!(
        fixed["result"]["connections_carry_timestamps"], true,
        "{fixed:#}"
    );
    assert_eq!(
        count(&fixed, "/result/tcp_tw_reuse_delay_ms"),
        2000,
        "{fixed:#}"
    );
    assert_eq!(count(&fixed, "/result/second/connected"), 20, "{fixed:#}");
    // Reuse waits for tcp_tw_reuse_delay: nothing at half of it.
    assert_eq!(count(&fixed, "/result/early/connected"), 0, "{fixed:#}");
    evidence::record(
        "sysctl-tw-reuse-without-timestamps",
        &Row {
            rule: "SYS002/tw-reuse-without-timestamps".into(),
            experiment: "Private network namespace, ip_local_port_range cut to 100 ports: 200 loopback connections to one ip:port closed first by the client, then 20 more at half of tcp_tw_reuse_delay and 20 more past it.".into(),
            bad: format!("tcp_tw_reuse = 2, tcp_timestamps = 0 (no timestamps on the connections): {}", rounds(&bad)),
            fixed: format!(
                "tcp_tw_reuse = 2, tcp_timestamps = 1, tcp_tw_reuse_delay = 2000: {}",
                rounds(&fixed)
            ),
            fixtures: fixtures(&[bad_file, fixed_file]),
        },
    );
}

#[test]
#[ignore = "needs root for a private network namespace (unshare -n); run by .ci/run"]
fn tcp_timestamps_disabled_stops_the_default_loopback_reuse() {
    let (bad_file, fixed_file) = (
        "tcp-timestamps-disabled/fires.conf",
        "tcp-timestamps-disabled/silent.conf",
    );
    assert_lints("tcp-timestamps-disabled", bad_file, fixed_file);
    let bad = lab("client-ports", bad_file);
    let fixed = lab("client-ports", fixed_file);
    assert_eq!(count(&bad, "/result/tcp_timestamps"), 0, "{bad:#}");
    assert_eq!(
        bad["result"]["connections_carry_timestamps"], false,
        "{bad:#}"
    );
    assert_eq!(count(&bad, "/result/second/connected"), 0, "{bad:#}");
    assert_eq!(count(&fixed, "/result/tcp_timestamps"), 2, "{fixed:#}");
    assert_eq!(
        fixed["result"]["connections_carry_timestamps"], true,
        "{fixed:#}"
    );
    assert_eq!(count(&fixed, "/result/second/connected"), 20, "{fixed:#}");
    assert_eq!(count(&fixed, "/result/early/connected"), 0, "{fixed:#}");
    // Uptime: with 2 the timestamp clock is the time since boot; with 1 (the default) each
    // connection's clock has a random offset. A 32-bit random offset lands within 10 s of 0
    // once in 200 000 runs.
    let offset = |run: &Value| num(run, "/result/timestamp_clock_offset_ms").abs();
    assert!(offset(&fixed) < 1000.0, "{fixed:#}");
    let default = lab("client-ports", "local-port-range-narrow/silent-lab.conf");
    assert_eq!(count(&default, "/result/tcp_timestamps"), 1, "{default:#}");
    assert!(offset(&default) > 10_000.0, "{default:#}");
    for run in [&bad, &fixed] {
        // The kernel's default tcp_tw_reuse (2, loopback only), untouched by both files.
        assert_eq!(count(run, "/result/tcp_tw_reuse"), 2, "{run:#}");
        assert_eq!(count(run, "/result/first/eaddrnotavail"), 100, "{run:#}");
    }
    evidence::record(
        "sysctl-tcp-timestamps-disabled",
        &Row {
            rule: "SYS003/tcp-timestamps-disabled".into(),
            experiment: "Private network namespace with the default tcp_tw_reuse = 2 (loopback only) and ip_local_port_range cut to 100 ports: 200 loopback connections to one ip:port closed first by the client, then 20 more 0.5 s and 1.3 s later.".into(),
            bad: format!("tcp_timestamps = 0 (TCP_INFO: no timestamps): {}", rounds(&bad)),
            fixed: format!(
                "tcp_timestamps = 2 (timestamps on): {}. The timestamp clock (TCP_TIMESTAMP) is {} ms from the time since boot with 2, {} ms with the default 1 (random offset)",
                rounds(&fixed),
                num(&fixed, "/result/timestamp_clock_offset_ms"),
                num(&default, "/result/timestamp_clock_offset_ms"),
            ),
            fixtures: fixtures(&[bad_file, fixed_file]),
        },
    );
}

#[test]
#[ignore = "needs root for a private network namespace (unshare -n); run by .ci/run"]
fn tw_reuse_leaves_a_servers_time_wait_alone() {
    let (bad_file, fixed_file) = (
        "tw-reuse-server-only/fires.conf",
        "tw-reuse-server-only/silent.conf",
    );
    assert_lints("tw-reuse-server-only", bad_file, fixed_file);
    let bad = lab("server-tw", bad_file);
    let fixed = lab("server-tw", fixed_file);
    assert_eq!(count(&bad, "/result/tcp_tw_reuse"), 1, "{bad:#}");
    assert_eq!(count(&fixed, "/result/tcp_tw_reuse"), 2, "{fixed:#}");
    for run in [&bad, &fixed] {
        assert_eq!(
            count(run, "/result/server_time_wait/sockets"),
            100,
            "{run:#}"
        );
        assert!(
            num(run, "/result/server_time_wait/timer_seconds_min") >= 59.0,
            "{run:#}"
        );
        // Past the reuse delay, every one of them is still there, with its timer running down.
        assert_eq!(
            count(run, "/result/server_time_wait_after_wait/sockets"),
            100,
            "{run:#}"
        );
        let left = num(run, "/result/server_time_wait_after_wait/timer_seconds_min");
        assert!((50.0..59.0).contains(&left), "{run:#}");
        // The server's TIME_WAIT holds no port a client needs: one coming back from the same
        // port is let in.
        assert_eq!(
            run["result"]["returning_port_in_time_wait"], true,
            "{run:#}"
        );
        assert_eq!(
            run["result"]["reconnect_from_same_port"], "accepted",
            "{run:#}"
        );
    }
    // The same file does help the host's own outgoing connections.
    let client = lab("client-ports", bad_file);
    assert_eq!(
        count(&client, "/result/first/eaddrnotavail"),
        100,
        "{client:#}"
    );
    assert_eq!(count(&client, "/result/second/connected"), 20, "{client:#}");
    assert_eq!(count(&client, "/result/early/connected"), 0, "{client:#}");
    let server = |run: &Value| {
        format!(
            "server TIME_WAIT {} ({} s left), {} after {} ms ({} s left); a client returning from the same port: {}",
            count(run, "/result/server_time_wait/sockets"),
            num(run, "/result/server_time_wait/timer_seconds_min"),
            count(run, "/result/server_time_wait_after_wait/sockets"),
            count(run, "/result/waited_ms"),
            num(run, "/result/server_time_wait_after_wait/timer_seconds_min"),
            run["result"]["reconnect_from_same_port"].as_str().unwrap_or("?"),
        )
    };
    evidence::record(
        "sysctl-tw-reuse-server-only",
        &Row {
            rule: "SYS004/tw-reuse-server-only".into(),
            experiment: "Private network namespace: 100 loopback connections the server closes first; then, with the same file and 100 local ports, 200 outgoing connections the client closes first and 20 more 0.5 s and 1.3 s later.".into(),
            bad: format!(
                "tcp_tw_reuse = 1: {}. Outgoing: {}",
                server(&bad),
                rounds(&client)
            ),
            fixed: format!("tcp_tw_reuse = 2: {}", server(&fixed)),
            fixtures: fixtures(&[bad_file, fixed_file]),
        },
    );
}

#[test]
#[ignore = "needs root for a private network namespace (unshare -n); run by .ci/run"]
fn tcp_tw_recycle_does_not_exist_and_fails_sysctl_p() {
    let (bad_file, compat_file, fixed_file) = (
        "tcp-tw-recycle/fires.conf",
        "tcp-tw-recycle/fires-compat.conf",
        "tcp-tw-recycle/silent-lab.conf",
    );
    assert_lints("tcp-tw-recycle", bad_file, fixed_file);
    assert_lints("tcp-tw-recycle", compat_file, fixed_file);
    let bad = lab("apply", bad_file);
    let kernel = bad["kernel"].as_str().unwrap_or_default().to_string();
    let version: Vec<u32> = kernel
        .split(|c: char| !c.is_ascii_digit())
        .take(2)
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(version >= vec![4, 12], "kernel {kernel}");
    assert_eq!(
        outcome(&bad, "net.ipv4.tcp_tw_recycle"),
        "no such key",
        "{bad:#}"
    );
    // The tools themselves, on the file with a `-` line.
    let compat = lab("sysctl-tools", compat_file);
    let procps = &compat["result"]["procps"];
    assert_eq!(procps["status"], 1, "{compat:#}");
    let cannot_stat =
        "sysctl: cannot stat /proc/sys/net/ipv4/tcp_tw_recycle: No such file or directory";
    assert_eq!(
        procps["stderr"],
        serde_json::json!([cannot_stat, cannot_stat]),
        "both lines fail, the `-` one too: {compat:#}"
    );
    let systemd = &compat["result"]["systemd"];
    assert!(
        !systemd.is_null(),
        "/usr/lib/systemd/systemd-sysctl is not installed"
    );
    assert_eq!(systemd["status"], 0, "{compat:#}");
    // Both went on with the rest of the file.
    assert_eq!(
        compat["after"]["net.ipv4.tcp_keepalive_time"], "600",
        "{compat:#}"
    );
    let fixed = lab("sysctl-tools", fixed_file);
    for tool in ["procps", "systemd"] {
        assert_eq!(fixed["result"][tool]["status"], 0, "{fixed:#}");
        assert_eq!(
            fixed["result"][tool]["stderr"],
            serde_json::json!([]),
            "{fixed:#}"
        );
    }
    evidence::record(
        "sysctl-tcp-tw-recycle",
        &Row {
            rule: "SYS001/tcp-tw-recycle".into(),
            experiment: "Private network namespace: the file applied key by key, and handed to procps `sysctl -p` and to `systemd-sysctl`.".into(),
            bad: format!(
                "Linux {kernel}: /proc/sys/net/ipv4/tcp_tw_recycle does not exist. {}: `sysctl -p` exits {} with {} × `{cannot_stat}` (the `-` line included); systemd-sysctl exits {}",
                compat_file,
                procps["status"],
                procps["stderr"].as_array().map_or(0, Vec::len),
                systemd["status"],
            ),
            fixed: format!(
                "without the line: `sysctl -p` exits {}, systemd-sysctl {}, nothing printed",
                fixed["result"]["procps"]["status"], fixed["result"]["systemd"]["status"],
            ),
            fixtures: fixtures(&[bad_file, compat_file, fixed_file]),
        },
    );
}

#[test]
#[ignore = "needs root for a private network namespace (unshare -n); run by .ci/run"]
fn local_port_range_values_the_kernel_rejects() {
    const DEFAULT: &str = "32768 60999";
    let key = "net.ipv4.ip_local_port_range";
    let mut rows = Vec::new();
    for (file, rejected, range) in [
        ("fires-inverted.conf", true, DEFAULT),
        ("fires-not-numbers.conf", true, DEFAULT),
        ("fires-privileged.conf", true, DEFAULT),
        ("fires-one-number.conf", false, "40000 60999"),
        ("silent-unprivileged.conf", false, "200 60999"),
    ] {
        let fixture = format!("local-port-range-narrow/{file}");
        let fires = rules_fired(&fixture).contains(&"local-port-range-narrow");
        assert_eq!(fires, file.starts_with("fires"), "{fixture}");
        let run = lab("apply", &fixture);
        let result = outcome(&run, key);
        if rejected {
            assert!(result.contains("os error 22"), "{fixture}: {run:#}");
        } else {
            assert_eq!(result, "set", "{fixture}: {run:#}");
        }
        assert_eq!(run["after"][key], range, "{fixture}: {run:#}");
        let value = run["applied"]
            .as_array()
            .and_then(|a| a.iter().rev().find(|a| a["key"] == key))
            .and_then(|a| a["value"].as_str())
            .unwrap_or_default()
            .to_string();
        let verdict = if rejected { "EINVAL" } else { "accepted" };
        rows.push((fixture, format!("`{value}`: {verdict}, range {range}")));
    }
    let (bad, fixed): (Vec<_>, Vec<_>) = rows.iter().partition(|(f, _)| f.contains("/fires"));
    let join = |rows: &[&(String, String)]| {
        rows.iter()
            .map(|(_, r)| r.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    evidence::record(
        "sysctl-local-port-range-rejected",
        &Row {
            rule: "SYS007/local-port-range-narrow".into(),
            experiment: "Private network namespace: each file written to /proc/sys/net/ipv4/ip_local_port_range (default 32768 60999), then the range read back.".into(),
            bad: join(&bad),
            fixed: format!(
                "after ip_unprivileged_port_start = 100: {}",
                join(&fixed)
            ),
            fixtures: rows.iter().map(|(f, _)| format!("fixtures/sysctl/{f}")).collect(),
        },
    );
}

#[test]
fn netns_lab_rejects_an_unknown_experiment_before_entering_a_namespace() {
    let out = Command::new(env!("CARGO_BIN_EXE_netns-lab"))
        .args(["no-such-experiment", "/nonexistent"])
        .output()
        .expect("cannot run netns-lab");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown experiment `no-such-experiment`"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn netns_lab_hands_only_net_keys_to_the_sysctl_tools() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("mixed.conf");
    std::fs::write(
        &file,
        "net.ipv4.tcp_tw_reuse = 1\nkernel.pid_max = 4194304\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_netns-lab"))
        .arg("sysctl-tools")
        .arg(&file)
        .output()
        .expect("cannot run netns-lab");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`kernel.pid_max = 4194304` is not a net.* key"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
