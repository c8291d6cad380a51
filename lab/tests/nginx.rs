//! The nginx experiments: each rule that claims who ends up holding TIME_WAIT runs real nginx
//! (1.22 on the lab machines) on its flagged and its fixed fixture, drives it with real HTTP/1.1
//! clients, counts the TCP states from `/proc/net/tcp{,6}`, and checks the claim, and that the
//! linter flags the first file and stays silent on the second. They need nginx, so they are
//! ignored in a plain `cargo test`; `.ci/run` and `scripts/evidence` run them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use waitlint_lab::backend::Backend;
use waitlint_lab::connections::Connections;
use waitlint_lab::evidence::{record, Row};
use waitlint_lab::http::{Client, ClientOptions};
use waitlint_lab::nginx::{self, Nginx};
use waitlint_lab::servers::poll_until;
use waitlint_lab::tcp_states::{Counts, State};

/// Requests per experiment: enough for a ratio, few enough to stay well under a second.
const REQUESTS: usize = 50;

fn fixture(rule: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/nginx")
        .join(rule)
        .join(file)
}

fn rel(path: &Path) -> String {
    let s = path.display().to_string();
    s.split_once("/../")
        .map_or(s.clone(), |(_, r)| r.to_string())
}

/// The linter must flag `bad` with `rule` and say nothing at all about `fixed`: the verdict the
/// experiment then checks against the kernel.
fn assert_verdicts(rule: &str, bad: &[&Path], fixed: &Path) {
    for b in bad {
        let findings = nginx::lint(b);
        assert!(
            findings.iter().any(|f| f.rule == rule),
            "{rule} does not flag {}: {findings:?}",
            b.display()
        );
    }
    let findings = nginx::lint(fixed);
    assert!(
        findings.is_empty(),
        "the fixed config {} is not silent: {findings:?}",
        fixed.display()
    );
}

/// Waits until none of the experiment's connections (`port` on one end, one of `peers` on the
/// other) is half-way through closing (FIN_WAIT, CLOSE_WAIT, LAST_ACK, CLOSING), so that each
/// has reached TIME_WAIT or gone; then counts their TIME_WAIT sockets on each side. Matching
/// both ports leaves out other tests' sockets that merely share a port number.
fn settled_time_wait(port: u16, peers: &[u16]) -> Counts {
    const CLOSING_STATES: [u8; 5] = [0x04, 0x05, 0x08, 0x09, 0x0B];
    let ours = Connections::new(port, peers.iter().copied());
    poll_until(Duration::from_secs(3), || {
        !ours
            .sockets()
            .iter()
            .any(|(_, state)| CLOSING_STATES.contains(state))
    });
    ours.count(State::TimeWait)
}

/// What one run measured.
#[derive(Debug)]
struct Measured {
    /// TIME_WAIT on nginx's port (server = nginx, client = our clients).
    front: Counts,
    /// Connections our clients opened to nginx.
    connections: usize,
    requests: usize,
    /// TIME_WAIT on the backend's port (server = the backend, client = nginx), if there was one.
    back: Option<Counts>,
    /// Connections the backend accepted.
    accepted: Option<usize>,
}

impl Measured {
    fn front_summary(&self) -> String {
        format!(
            "{} requests over {}; TIME_WAIT: nginx {}, client {}",
            self.requests,
            connections(self.connections),
            self.front.server,
            self.front.client
        )
    }

    fn back_summary(&self) -> String {
        let back = self.back.unwrap_or_default();
        format!(
            "backend accepted {} for {} requests; TIME_WAIT on the backend port: backend {}, nginx {}",
            connections(self.accepted.unwrap_or(0)),
            self.requests,
            back.server,
            back.client
        )
    }
}

fn connections(n: usize) -> String {
    format!("{n} connection{}", if n == 1 { "" } else { "s" })
}

/// Starts nginx on `config` (with a backend when `with_backend`), runs `drive` against it, and
/// counts TIME_WAIT once every connection has finished closing, before nginx stops.
fn run(config: &Path, with_backend: bool, drive: impl FnOnce(SocketAddr) -> Client) -> Measured {
    let backend = with_backend.then(|| Backend::start().expect("cannot start the backend"));
    let server = Nginx::start(config, backend.as_ref().map(Backend::port));
    let client = drive(server.addr());
    let front = settled_time_wait(server.port(), client.local_ports());
    let back = backend
        .as_ref()
        .map(|b| settled_time_wait(b.port(), &b.peer_ports()));
    let measured = Measured {
        front,
        connections: client.connections(),
        requests: client.requests(),
        back,
        accepted: backend.as_ref().map(Backend::accepted),
    };
    eprintln!("{}: {measured:?}", rel(config));
    measured
}

/// A client that sends `n` GETs one after the other, reusing its connection while nginx
/// allows, then closes.
fn back_to_back(options: ClientOptions, n: usize) -> impl FnOnce(SocketAddr) -> Client {
    move |addr| {
        let mut client = Client::new(addr, options);
        for i in 0..n {
            let r = client
                .get("/")
                .unwrap_or_else(|e| panic!("request {i} failed: {e}"));
            assert_eq!(r.status, 200, "request {i}: {r:?}");
        }
        client.close();
        client
    }
}

/// Said of every client experiment: who closes first is decided by microseconds on loopback.
const CLIENT_NOTE: &str = "after a response that ends the connection the client gives nginx's FIN 20 ms to arrive before closing, as on a real network";
/// Said of every backend experiment.
const BACKEND_NOTE: &str =
    "the backend sends its FIN in the segment of its last response, as a network delivers it";

/// At least `percent` % of `of`.
fn at_least(value: usize, percent: usize, of: usize) -> bool {
    value * 100 >= percent * of
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx001_keepalive_disabled_puts_time_wait_on_the_server() {
    let (bad, fixed) = (
        fixture("keepalive-disabled", "fires-lab.conf"),
        fixture("keepalive-disabled", "silent-lab.conf"),
    );
    assert_verdicts("keepalive-disabled", &[&bad], &fixed);
    let b = run(
        &bad,
        false,
        back_to_back(ClientOptions::default(), REQUESTS),
    );
    let f = run(
        &fixed,
        false,
        back_to_back(ClientOptions::default(), REQUESTS),
    );
    // One connection per request, each closed by nginx: one server TIME_WAIT per request.
    assert_eq!(b.connections, REQUESTS, "{b:?}");
    assert!(at_least(b.front.server, 90, REQUESTS), "{b:?}");
    assert!(b.front.client <= REQUESTS / 10, "{b:?}");
    // Keep-alive: one connection, closed by the client at the end.
    assert_eq!(f.connections, 1, "{f:?}");
    assert_eq!(f.front.server, 0, "{f:?}");
    record(
        "nginx-ngx001",
        &Row {
            rule: "NGX001/keepalive-disabled".into(),
            experiment: format!("{REQUESTS} GETs from one keep-alive HTTP/1.1 client that reuses its connection when nginx lets it; `keepalive_timeout 0` vs `65s`; {CLIENT_NOTE}"),
            bad: b.front_summary(),
            fixed: f.front_summary(),
            fixtures: vec![rel(&bad), rel(&fixed)],
        },
    );
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx002_short_keepalive_timeout_closes_pausing_clients_from_the_server() {
    let (bad, fixed) = (
        fixture("keepalive-timeout-short", "fires-lab.conf"),
        fixture("keepalive-timeout-short", "silent-lab.conf"),
    );
    assert_verdicts("keepalive-timeout-short", &[&bad], &fixed);
    // A client polling every 300 ms: the rule's "polling every 10 s against 5 s", scaled down.
    const POLLS: usize = 10;
    let pause = Duration::from_millis(300);
    let poller = move |addr| {
        let mut client = Client::keep_alive(addr);
        for i in 0..POLLS {
            let r = client
                .get("/")
                .unwrap_or_else(|e| panic!("poll {i} failed: {e}"));
            assert_eq!(r.status, 200);
            std::thread::sleep(pause);
        }
        client.close();
        client
    };
    let b = run(&bad, false, poller);
    let f = run(&fixed, false, poller);
    assert_eq!(b.connections, POLLS, "a reconnect per poll: {b:?}");
    assert!(at_least(b.front.server, 90, POLLS), "{b:?}");
    assert_eq!(f.connections, 1, "{f:?}");
    assert_eq!(f.front.server, 0, "{f:?}");
    record(
        "nginx-ngx002",
        &Row {
            rule: "NGX002/keepalive-timeout-short".into(),
            experiment: format!("a keep-alive client polling {POLLS} times, 300 ms apart; `keepalive_timeout 100ms` vs `65s`; {CLIENT_NOTE}"),
            bad: b.front_summary(),
            fixed: f.front_summary(),
            fixtures: vec![rel(&bad), rel(&fixed)],
        },
    );
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx003_low_keepalive_requests_closes_busy_clients_from_the_server() {
    let (bad, fixed) = (
        fixture("keepalive-requests-low", "fires-lab.conf"),
        fixture("keepalive-requests-low", "silent-lab.conf"),
    );
    assert_verdicts("keepalive-requests-low", &[&bad], &fixed);
    const CAP: usize = 10;
    const N: usize = 100;
    let b = run(&bad, false, back_to_back(ClientOptions::default(), N));
    let f = run(&fixed, false, back_to_back(ClientOptions::default(), N));
    // One server-side TIME_WAIT per `keepalive_requests` requests.
    assert_eq!(b.connections, N / CAP, "{b:?}");
    assert!(at_least(b.front.server, 90, N / CAP), "{b:?}");
    assert_eq!(f.connections, 1, "{f:?}");
    assert_eq!(f.front.server, 0, "{f:?}");
    record(
        "nginx-ngx003",
        &Row {
            rule: "NGX003/keepalive-requests-low".into(),
            experiment: format!("{N} back-to-back GETs from one keep-alive client; `keepalive_requests {CAP}` vs `1000`; {CLIENT_NOTE}"),
            bad: b.front_summary(),
            fixed: f.front_summary(),
            fixtures: vec![rel(&bad), rel(&fixed)],
        },
    );
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx004_short_keepalive_time_closes_busy_clients_from_the_server() {
    let (bad, fixed) = (
        fixture("keepalive-time-short", "fires-lab.conf"),
        fixture("keepalive-time-short", "silent-lab.conf"),
    );
    assert_verdicts("keepalive-time-short", &[&bad], &fixed);
    // A busy client: a request every 50 ms for 2.5 s, against a 500 ms lifetime.
    let busy = |addr| {
        let mut client = Client::keep_alive(addr);
        let end = Instant::now() + Duration::from_millis(2500);
        while Instant::now() < end {
            let r = client
                .get("/")
                .unwrap_or_else(|e| panic!("request failed: {e}"));
            assert_eq!(r.status, 200);
            std::thread::sleep(Duration::from_millis(50));
        }
        client.close();
        client
    };
    let b = run(&bad, false, busy);
    let f = run(&fixed, false, busy);
    // About one connection per 500 ms; nginx closed all but the last one (which we close).
    assert!((4..=7).contains(&b.connections), "{b:?}");
    assert!(b.front.server + 1 >= b.connections, "{b:?}");
    assert_eq!(f.connections, 1, "{f:?}");
    assert_eq!(f.front.server, 0, "{f:?}");
    record(
        "nginx-ngx004",
        &Row {
            rule: "NGX004/keepalive-time-short".into(),
            experiment: format!("a keep-alive client sending a GET every 50 ms for 2.5 s; `keepalive_time 500ms` vs `1h`; {CLIENT_NOTE}"),
            bad: b.front_summary(),
            fixed: f.front_summary(),
            fixtures: vec![rel(&bad), rel(&fixed)],
        },
    );
}

const SAFARI_MACOS: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
const CHROME_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/119.0.6045.109 Mobile/15E148 Safari/604.1";
const CHROME_MACOS: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36";

fn with_agent(ua: &str) -> ClientOptions {
    ClientOptions {
        user_agent: Some(ua.into()),
        send_close: false,
    }
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx005_keepalive_disable_safari_closes_safari_and_ios_connections_from_the_server() {
    let (bad, fixed) = (
        fixture("keepalive-disabled-for-browsers", "fires-lab.conf"),
        fixture("keepalive-disabled-for-browsers", "silent-lab.conf"),
    );
    assert_verdicts("keepalive-disabled-for-browsers", &[&bad], &fixed);
    let safari = run(
        &bad,
        false,
        back_to_back(with_agent(SAFARI_MACOS), REQUESTS),
    );
    let ios_chrome = run(&bad, false, back_to_back(with_agent(CHROME_IOS), REQUESTS));
    let chrome = run(
        &bad,
        false,
        back_to_back(with_agent(CHROME_MACOS), REQUESTS),
    );
    let fixed_safari = run(
        &fixed,
        false,
        back_to_back(with_agent(SAFARI_MACOS), REQUESTS),
    );
    for m in [&safari, &ios_chrome] {
        assert_eq!(m.connections, REQUESTS, "{m:?}");
        assert!(at_least(m.front.server, 90, REQUESTS), "{m:?}");
    }
    // Desktop Chrome (`Chrome/`) is not Safari to nginx: it keeps its connection.
    assert_eq!(chrome.connections, 1, "{chrome:?}");
    assert_eq!(chrome.front.server, 0, "{chrome:?}");
    assert_eq!(fixed_safari.connections, 1, "{fixed_safari:?}");
    assert_eq!(fixed_safari.front.server, 0, "{fixed_safari:?}");
    record(
        "nginx-ngx005",
        &Row {
            rule: "NGX005/keepalive-disabled-for-browsers".into(),
            experiment: format!("{REQUESTS} GETs from one keep-alive client with a browser User-Agent; `keepalive_disable msie6 safari` vs `msie6`; {CLIENT_NOTE}"),
            bad: format!(
                "Safari (macOS): {}. Chrome for iOS (`CriOS/`): {}. Chrome (macOS), not affected: {}",
                safari.front_summary(),
                ios_chrome.front_summary(),
                chrome.front_summary()
            ),
            fixed: format!("Safari (macOS): {}", fixed_safari.front_summary()),
            fixtures: vec![rel(&bad), rel(&fixed)],
        },
    );
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx006_connection_close_header_puts_time_wait_on_the_client_not_nginx() {
    let (bad, fixed) = (
        fixture("connection-close-header", "fires-lab.conf"),
        fixture("connection-close-header", "silent-lab.conf"),
    );
    assert_verdicts("connection-close-header", &[&bad], &fixed);
    // nginx keeps treating the connection as keep-alive and sends both headers.
    {
        let server = Nginx::start(&bad, None);
        let mut client = Client::keep_alive(server.addr());
        let r = client.get("/").expect("request failed");
        assert!(
            r.connection_has("keep-alive") && r.connection_has("close"),
            "expected both Connection headers: {r:?}"
        );
    }
    let b = run(
        &bad,
        false,
        back_to_back(ClientOptions::default(), REQUESTS),
    );
    let f = run(
        &fixed,
        false,
        back_to_back(ClientOptions::default(), REQUESTS),
    );
    // The client honours `close` and closes first: TIME_WAIT is the client's, none on nginx.
    assert_eq!(b.connections, REQUESTS, "{b:?}");
    assert!(at_least(b.front.client, 90, REQUESTS), "{b:?}");
    assert_eq!(b.front.server, 0, "{b:?}");
    // Without the header the client reuses one connection.
    assert_eq!(f.connections, 1, "{f:?}");
    assert!(f.front.client <= 1, "{f:?}");
    assert_eq!(f.front.server, 0, "{f:?}");
    record(
        "nginx-ngx006",
        &Row {
            rule: "NGX006/connection-close-header".into(),
            experiment: format!("{REQUESTS} GETs from one HTTP/1.1 client that honours `Connection: close` (nginx sends it beside its own `Connection: keep-alive`); `add_header Connection close` vs none; {CLIENT_NOTE}"),
            bad: b.front_summary(),
            fixed: f.front_summary(),
            fixtures: vec![rel(&bad), rel(&fixed)],
        },
    );
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx007_upstream_without_keepalive_opens_a_backend_connection_per_request() {
    let dir = "upstream-without-keepalive";
    let (bad, bad11, fixed) = (
        fixture(dir, "fires-lab.conf"),
        fixture(dir, "fires-lab-http11.conf"),
        fixture(dir, "silent-lab.conf"),
    );
    assert_verdicts(dir, &[&bad, &bad11], &fixed);
    let b = run(&bad, true, back_to_back(ClientOptions::default(), REQUESTS));
    let b11 = run(
        &bad11,
        true,
        back_to_back(ClientOptions::default(), REQUESTS),
    );
    let f = run(
        &fixed,
        true,
        back_to_back(ClientOptions::default(), REQUESTS),
    );
    for m in [&b, &b11] {
        assert_eq!(m.accepted, Some(REQUESTS), "{m:?}");
    }
    // nginx's defaults (HTTP/1.0, Connection: close): the backend closes, TIME_WAIT is its own.
    assert!(at_least(b.back.unwrap().server, 90, REQUESTS), "{b:?}");
    // HTTP/1.1 without a pool: the backend would keep the connection, nginx closes it.
    assert!(at_least(b11.back.unwrap().client, 90, REQUESTS), "{b11:?}");
    assert_eq!(b11.back.unwrap().server, 0, "{b11:?}");
    // With a pool: a handful of connections for all the requests, no TIME_WAIT either side.
    assert!(f.accepted.unwrap() <= 2, "{f:?}");
    assert_eq!(f.back, Some(Counts::default()), "{f:?}");
    record(
        "nginx-ngx007",
        &Row {
            rule: "NGX007/upstream-without-keepalive".into(),
            experiment: format!("{REQUESTS} GETs through nginx (`proxy_pass` to an upstream block) to a Rust HTTP/1.1 backend that counts its connections; no `keepalive` vs `keepalive 16` with HTTP/1.1 and `Connection \"\"`; {BACKEND_NOTE}"),
            bad: format!(
                "proxy defaults: {}. HTTP/1.1, no pool: {}",
                b.back_summary(),
                b11.back_summary()
            ),
            fixed: f.back_summary(),
            fixtures: vec![rel(&bad), rel(&bad11), rel(&fixed)],
        },
    );
}

/// `REQUESTS` GETs from one keep-alive client through nginx to the lab backend.
fn proxied(config: &Path) -> Measured {
    run(
        config,
        true,
        back_to_back(ClientOptions::default(), REQUESTS),
    )
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx008_unused_upstream_pool_still_costs_a_backend_connection_per_request() {
    let dir = "upstream-keepalive-unused";
    let bad = fixture(dir, "fires-lab.conf");
    let bad11 = fixture(dir, "fires-lab-http11.conf");
    let fixed = fixture(dir, "silent-lab.conf");
    assert_verdicts(dir, &[&bad, &bad11], &fixed);
    let (b, b11, f) = (proxied(&bad), proxied(&bad11), proxied(&fixed));
    // Told to close (HTTP/1.0, or HTTP/1.1 with nginx's default `Connection: close`), the
    // backend closes every connection: one per request, TIME_WAIT on the backend, pool unused.
    for m in [&b, &b11] {
        assert_eq!(m.accepted, Some(REQUESTS), "{m:?}");
        assert!(at_least(m.back.unwrap().server, 90, REQUESTS), "{m:?}");
    }
    assert!(f.accepted.unwrap() <= 2, "{f:?}");
    assert_eq!(f.back, Some(Counts::default()), "{f:?}");
    record(
        "nginx-ngx008",
        &Row {
            rule: "NGX008/upstream-keepalive-unused".into(),
            experiment: format!("{REQUESTS} GETs through nginx to a Rust HTTP/1.1 backend, upstream with `keepalive 16`; proxy defaults (HTTP/1.0, `Connection: close`), or `proxy_http_version 1.1` alone, vs `proxy_http_version 1.1` and `proxy_set_header Connection \"\"`; {BACKEND_NOTE}"),
            bad: format!(
                "proxy defaults: {}. HTTP/1.1 alone: {}",
                b.back_summary(),
                b11.back_summary()
            ),
            fixed: f.back_summary(),
            fixtures: vec![rel(&bad), rel(&bad11), rel(&fixed)],
        },
    );
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx009_low_upstream_keepalive_limits_put_time_wait_on_nginx() {
    let dir = "upstream-keepalive-limits-low";
    let bad = fixture(dir, "fires-lab.conf");
    let bad_idle = fixture(dir, "fires-lab-timeout.conf");
    let fixed = fixture(dir, "silent-lab.conf");
    assert_verdicts(dir, &[&bad, &bad_idle], &fixed);
    const CAP: usize = 10;
    let (b, b_idle, f) = (proxied(&bad), proxied(&bad_idle), proxied(&fixed));
    // nginx closes each pooled connection after CAP requests: TIME_WAIT on nginx's side.
    assert_eq!(b.accepted, Some(REQUESTS / CAP), "{b:?}");
    let back = b.back.unwrap();
    assert!(at_least(back.client, 90, REQUESTS / CAP), "{b:?}");
    assert_eq!(back.server, 0, "{b:?}");
    // `keepalive_timeout 0`: nginx closes each connection as soon as it is idle in the pool.
    assert_eq!(b_idle.accepted, Some(REQUESTS), "{b_idle:?}");
    let back = b_idle.back.unwrap();
    assert!(at_least(back.client, 90, REQUESTS), "{b_idle:?}");
    assert_eq!(back.server, 0, "{b_idle:?}");
    assert!(f.accepted.unwrap() <= 2, "{f:?}");
    assert_eq!(f.back, Some(Counts::default()), "{f:?}");
    record(
        "nginx-ngx009",
        &Row {
            rule: "NGX009/upstream-keepalive-limits-low".into(),
            experiment: format!("{REQUESTS} GETs through nginx to a Rust HTTP/1.1 backend over a `keepalive 16` pool (HTTP/1.1, `Connection \"\"`); upstream `keepalive_requests {CAP}` or `keepalive_timeout 0` vs `keepalive_requests 1000`; {BACKEND_NOTE}"),
            bad: format!(
                "`keepalive_requests {CAP}`: {}. `keepalive_timeout 0`: {}",
                b.back_summary(),
                b_idle.back_summary()
            ),
            fixed: f.back_summary(),
            fixtures: vec![rel(&bad), rel(&bad_idle), rel(&fixed)],
        },
    );
}

/// The lines of a fixture annotated with `# expect: <rule>`, without their comment.
fn flagged_lines(path: &Path, rule: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("cannot read the fixture");
    text.lines()
        .filter(|l| l.contains(&format!("# expect: {rule}")))
        .map(|l| l.split(" #").next().unwrap_or("").trim().to_string())
        .collect()
}

/// Wraps one directive in a minimal config nginx can test.
fn one_directive_config(directive: &str) -> String {
    format!(
        "http {{\n    {directive}\n    server {{\n        listen 127.0.0.1:@PORT@;\n    }}\n}}\n"
    )
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx011_every_flagged_value_makes_nginx_refuse_the_configuration() {
    let fires = fixture("invalid-keepalive-value", "fires.conf");
    let lines = flagged_lines(&fires, "invalid-keepalive-value");
    assert!(lines.len() >= 5, "{lines:?}");
    let mut refused = Vec::new();
    for line in &lines {
        let t = nginx::test_config_text(&one_directive_config(line), None);
        assert!(!t.ok, "nginx -t accepts `{line}`:\n{}", t.messages);
        refused.push(format!("`{line}`"));
    }
    // The look-alikes the rule leaves alone load.
    let accepted = [
        "keepalive_timeout \"1h 30m\" 1M;",
        "keepalive_requests 0000100000;",
        "keepalive_time 1d;",
        "keepalive_disable MSIE6 none;",
        "keepalive_timeout 1m30;",
    ];
    for line in accepted {
        let config = one_directive_config(line);
        let t = nginx::test_config_text(&config, None);
        assert!(t.ok, "nginx -t refuses `{line}`:\n{}", t.messages);
        let text_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(text_file.path(), &config).unwrap();
        let findings = nginx::lint(text_file.path());
        assert!(findings.is_empty(), "{line}: {findings:?}");
    }
    record(
        "nginx-ngx011",
        &Row {
            rule: "NGX011/invalid-keepalive-value".into(),
            experiment: "`nginx -t` on a minimal config per flagged line of the fixture, and per look-alike of silent.conf".into(),
            bad: format!("refused ({} of {}): {}", refused.len(), lines.len(), refused.join(", ")),
            fixed: format!("accepted ({} of {}), and not flagged", accepted.len(), accepted.len()),
            fixtures: vec![rel(&fires)],
        },
    );
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn ngx010_http2_keepalive_directives_are_obsolete_and_ignored() {
    let fires = fixture("obsolete-http2-directive", "fires.conf");
    let lines = flagged_lines(&fires, "obsolete-http2-directive");
    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in &lines {
        let t = nginx::test_config_text(&one_directive_config(line), None);
        let name = line.split_whitespace().next().unwrap_or("");
        assert!(
            t.ok && t
                .messages
                .contains(&format!("the \"{name}\" directive is obsolete")),
            "`{line}`: nginx -t should load it with an obsolete warning:\n{}",
            t.messages
        );
    }
    // The fix's replacements load without a word.
    let replacements = ["keepalive_requests 10000;", "keepalive_timeout 5m;"];
    for line in replacements {
        let t = nginx::test_config_text(&one_directive_config(line), None);
        assert!(
            t.ok && !t.messages.contains("[warn]"),
            "`{line}`:\n{}",
            t.messages
        );
    }
    record(
        "nginx-ngx010",
        &Row {
            rule: "NGX010/obsolete-http2-directive".into(),
            experiment: "`nginx -t` on a minimal config per flagged line of the fixture, and per replacement the fix writes".into(),
            bad: format!("each loads with the warning `the \"…\" directive is obsolete` (and is ignored): {}", lines.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")),
            fixed: format!("the fix's replacements load without a warning: {}", replacements.map(|l| format!("`{l}`")).join(", ")),
            fixtures: vec![rel(&fires)],
        },
    );
}

/// Processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": the comm may hold spaces, so split after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

#[test]
#[ignore = "needs nginx: apt-get install nginx-light"]
fn the_harness_stops_nginx_and_its_workers() {
    let config = fixture("keepalive-disabled", "silent-lab.conf");
    let server = Nginx::start(&config, None);
    let port = server.port();
    let master = server.pid();
    let mut client = Client::keep_alive(server.addr());
    assert_eq!(client.get("/").unwrap().status, 200);
    let workers = children(master);
    assert_eq!(
        workers.len(),
        1,
        "one worker expected: {workers:?}\n{}",
        server.logs()
    );
    drop(client);
    drop(server);
    for pid in workers.iter().chain([&master]) {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} of nginx is still there"
        );
    }
    let listening = waitlint_lab::tcp_states::count_now(port, State::Listen).unwrap();
    assert_eq!(listening.server, 0, "something still listens on {port}");
}
