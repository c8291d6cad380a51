//! The client side of TIME_WAIT, checked against the `client-pool-disabled` fixtures: a Rust
//! HTTP client without a connection pool closes every connection after one response, so the
//! TIME_WAIT lands on the client, one socket per request; a pooled client reuses one
//! connection. The client runs in this test process against the lab's HTTP/1.1 backend, which
//! keeps connections alive and counts what it accepts.

use std::path::PathBuf;
use std::time::Duration;

use waitlint_lab::backend::Backend;
use waitlint_lab::connections::Connections;
use waitlint_lab::evidence::{self, Row};
use waitlint_lab::servers::poll_until;
use waitlint_lab::tcp_states::{Counts, State};
use waitlint_lab::verdict;
use waitlint_rust_fixtures::client_pool_disabled__fires_loop as fires;
use waitlint_rust_fixtures::client_pool_disabled__silent_tests as silent;

const REQUESTS: usize = 20;
const DEADLINE: Duration = Duration::from_secs(20);

fn fixture(name: &str) -> PathBuf {
    waitlint_lab::fixtures_dir()
        .join("rust/client-pool-disabled")
        .join(name)
}

/// What one client did: connections the backend accepted, and TIME_WAIT by side.
struct Run {
    accepted: usize,
    time_wait: Counts,
}

impl Run {
    fn summary(&self) -> String {
        format!(
            "{REQUESTS} requests over {} connection{}; TIME_WAIT: client {}, backend {}",
            self.accepted,
            if self.accepted == 1 { "" } else { "s" },
            self.time_wait.client,
            self.time_wait.server
        )
    }
}

/// Sends `REQUESTS` GETs through `client` to a fresh backend, one after another, reading each
/// body; counts TIME_WAIT once the expected number of client-side sockets is there (or the
/// deadline passes) while the client is still alive, so a pooled connection is still open.
/// Without a pool the client closes each connection when it is done with it, but the last one
/// may still be open when the count is taken (hyper drops it lazily): 19 of 20 is typical, and
/// the backend's idle timeout would end the last one itself, so the count does not wait for
/// it.
fn run(client: &reqwest::blocking::Client, expect_client_time_wait: usize) -> Run {
    let backend = Backend::start().expect("backend starts");
    let url = format!("http://{}/", backend.addr());
    for i in 0..REQUESTS {
        let response = client
            .get(&url)
            .send()
            .unwrap_or_else(|e| panic!("request {i} to {url}: {e}"));
        assert!(
            response.status().is_success(),
            "request {i}: {}",
            response.status()
        );
        response.text().expect("body");
    }
    let connections = Connections::new(backend.port(), backend.peer_ports());
    poll_until(DEADLINE, || {
        connections.count(State::TimeWait).client >= expect_client_time_wait
    });
    Run {
        accepted: backend.accepted(),
        time_wait: connections.count(State::TimeWait),
    }
}

#[test]
fn client_pool_disabled_leaves_time_wait_on_the_client() {
    let fires_file = fixture("fires_loop.rs");
    let silent_file = fixture("silent_tests.rs");
    let flagged =
        verdict::flagged_lines(&fires_file, "blocking_without_pool", "client-pool-disabled")
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(!flagged.is_empty(), "waitlint flags blocking_without_pool");
    let clean = verdict::flagged_lines(&silent_file, "shared_client", "client-pool-disabled")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        clean.is_empty(),
        "waitlint is silent on shared_client, got lines {clean:?}"
    );

    let no_pool = fires::blocking_without_pool().expect("client builds");
    let bad = run(&no_pool, REQUESTS * 9 / 10);
    drop(no_pool);
    assert_eq!(
        bad.accepted,
        REQUESTS,
        "one connection per request: {}",
        bad.summary()
    );
    assert!(
        bad.time_wait.client >= REQUESTS * 9 / 10,
        "{}",
        bad.summary()
    );
    assert_eq!(bad.time_wait.server, 0, "{}", bad.summary());

    let pooled = silent::shared_client();
    let fixed = run(&pooled, 0);
    drop(pooled);
    assert_eq!(
        fixed.accepted,
        1,
        "one reused connection: {}",
        fixed.summary()
    );
    assert_eq!(fixed.time_wait, Counts::default(), "{}", fixed.summary());

    evidence::record(
        "rs009-client-pool-disabled",
        &Row {
            rule: "RS009/client-pool-disabled".into(),
            experiment: format!(
                "a reqwest blocking client sends {REQUESTS} GETs, one after another, to a Rust \
                 HTTP/1.1 backend that keeps connections alive; TIME_WAIT counted while the \
                 client is still alive"
            ),
            bad: format!(
                "`fires_loop::blocking_without_pool` (`pool_max_idle_per_host(0)`): {}",
                bad.summary()
            ),
            fixed: format!(
                "`silent_tests::shared_client` (default pool): {}",
                fixed.summary()
            ),
            fixtures: vec![
                "fixtures/rust/client-pool-disabled/fires_loop.rs".into(),
                "fixtures/rust/client-pool-disabled/silent_tests.rs".into(),
            ],
        },
    );
}
