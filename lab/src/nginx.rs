//! Runs a real nginx for one experiment: a private prefix in a temporary directory, a config
//! from `fixtures/` with its placeholders filled in, loopback addresses and an ephemeral port,
//! in the foreground (`-g 'daemon off;'`) in its own process group, stopped on drop.
//!
//! Placeholders, which parse as ordinary nginx words so that the linter reads the same file:
//! `@PORT@` (the port nginx listens on), `@BACKEND_PORT@` (the lab backend's port) and `@PREFIX@`
//! (the temporary prefix). The harness adds what nginx needs to run unprivileged and leave
//! nothing behind: `-g` sets the pid file, one worker and (as root) `user root;`, `-e` the error
//! log, and lines at the top of the `http` block put the access log and every temp path under the
//! prefix instead of nginx's compiled-in `/var/log/nginx` and `/var/lib/nginx`.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::tcp_states::{count_now, State};

/// What a lab test says when asked to run without nginx.
pub const MISSING: &str = "needs nginx: apt-get install nginx-light";

/// How long nginx may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful stop (SIGQUIT) may take before the process group is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The nginx binary: `$WAITLINT_NGINX`, else `nginx` on `PATH`, else the usual sbin paths
/// (an ordinary user's `PATH` often lacks `/usr/sbin`). Panics with [`MISSING`] when there is none.
pub fn binary() -> PathBuf {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let fallback = [
        "/usr/sbin",
        "/usr/local/sbin",
        "/usr/local/nginx/sbin",
        "/sbin",
    ];
    let dirs = path_dirs
        .into_iter()
        .chain(fallback.iter().map(PathBuf::from));
    locate(std::env::var_os("WAITLINT_NGINX").as_deref(), dirs).unwrap_or_else(|e| panic!("{e}"))
}

fn locate(
    explicit: Option<&std::ffi::OsStr>,
    mut dirs: impl Iterator<Item = PathBuf>,
) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "{MISSING} (WAITLINT_NGINX={} is not a file)",
                p.display()
            ))
        };
    }
    dirs.find_map(|d| Some(d.join("nginx")).filter(|p| p.is_file()))
        .ok_or_else(|| format!("{MISSING} (no nginx on PATH or in /usr/sbin)"))
}

/// `nginx -V`: the version line and configure arguments.
fn build_info(nginx: &Path) -> String {
    let out = Command::new(nginx)
        .arg("-V")
        .output()
        .unwrap_or_else(|e| panic!("{MISSING} ({} -V failed: {e})", nginx.display()));
    // nginx prints -V to stderr.
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Lines added at the top of the `http` block: logs and temp files under the prefix. A temp
/// path directive is added only when its module is built in (nginx rejects unknown directives).
fn http_preamble(build: &str, prefix: &Path) -> String {
    let p = prefix.display();
    let mut out = format!("    access_log {p}/logs/access.log;\n");
    for (module, directive) in [
        ("", "client_body_temp_path"),
        ("http_proxy_module", "proxy_temp_path"),
        ("http_fastcgi_module", "fastcgi_temp_path"),
        ("http_uwsgi_module", "uwsgi_temp_path"),
        ("http_scgi_module", "scgi_temp_path"),
    ] {
        if module.is_empty() || !build.contains(&format!("--without-{module}")) {
            let dir = directive.trim_end_matches("_temp_path");
            out.push_str(&format!("    {directive} {p}/temp/{dir};\n"));
        }
    }
    out
}

/// Fills in the placeholders and the `http` preamble. Panics on a config the harness cannot
/// run, naming what is wrong.
fn render(text: &str, port: u16, backend_port: Option<u16>, prefix: &Path, build: &str) -> String {
    let mut out = text
        .replace("@PORT@", &port.to_string())
        .replace("@PREFIX@", &prefix.display().to_string());
    if let Some(b) = backend_port {
        out = out.replace("@BACKEND_PORT@", &b.to_string());
    }
    if let Some(name) = unfilled_placeholder(&out) {
        panic!("placeholder @{name}@ has no value (a backend is needed for @BACKEND_PORT@)");
    }
    let http_line = out
        .lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with("http") && t["http".len()..].trim_start().starts_with('{')
        })
        .unwrap_or_else(|| panic!("a lab config needs an `http {{` line of its own:\n{text}"));
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.insert(http_line + 1, http_preamble(build, prefix));
    lines.join("\n") + "\n"
}

/// The first `@NAME@` left in a rendered config.
fn unfilled_placeholder(text: &str) -> Option<&str> {
    text.split('@')
        .skip(1)
        .step_by(2)
        .find(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
}

/// A port that was free a moment ago (bound and released), with no leftover connections.
fn free_port() -> u16 {
    crate::backend::bind_unused_port()
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind an ephemeral loopback port")
}

struct Prefix {
    dir: tempfile::TempDir,
    conf: PathBuf,
    error_log: PathBuf,
    stderr_log: PathBuf,
}

impl Prefix {
    fn new() -> Prefix {
        let dir = tempfile::Builder::new()
            .prefix("waitlint-lab-nginx-")
            .tempdir()
            .expect("cannot create a temporary prefix");
        for sub in ["conf", "logs", "temp"] {
            std::fs::create_dir(dir.path().join(sub)).expect("cannot populate the prefix");
        }
        let conf = dir.path().join("conf/nginx.conf");
        let error_log = dir.path().join("logs/error.log");
        let stderr_log = dir.path().join("logs/stderr.log");
        Prefix {
            dir,
            conf,
            error_log,
            stderr_log,
        }
    }

    fn command(&self, nginx: &Path, extra_globals: &str) -> Command {
        let mut globals = format!(
            "pid {}/logs/nginx.pid; worker_processes 1; {extra_globals}",
            self.dir.path().display()
        );
        if running_as_root() {
            // Workers would otherwise run as `nobody`, which cannot enter the private prefix.
            globals.push_str(" user root;");
        }
        let mut cmd = Command::new(nginx);
        cmd.arg("-p")
            .arg(format!("{}/", self.dir.path().display()))
            .arg("-c")
            .arg(&self.conf)
            .arg("-e")
            .arg(&self.error_log)
            .arg("-g")
            .arg(globals)
            .stdin(Stdio::null());
        cmd
    }

    fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- error.log ---\n{}--- stderr ---\n{}",
            read(&self.error_log),
            read(&self.stderr_log)
        )
    }
}

/// A running nginx. Dropping it stops nginx (SIGQUIT, then SIGKILL to its process group) and
/// removes the prefix, also when the experiment panics.
pub struct Nginx {
    child: Child,
    port: u16,
    prefix: Prefix,
}

impl Nginx {
    /// Starts nginx with the config at `config` (placeholders filled in; `backend_port` is the
    /// value of `@BACKEND_PORT@`) and waits until it listens.
    pub fn start(config: &Path, backend_port: Option<u16>) -> Nginx {
        let nginx = binary();
        let build = build_info(&nginx);
        let text = std::fs::read_to_string(config)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", config.display()));
        let mut last_logs = String::new();
        // Another process may take the released port before nginx binds it: try a few.
        for _ in 0..3 {
            let prefix = Prefix::new();
            let port = free_port();
            let rendered = render(&text, port, backend_port, prefix.dir.path(), &build);
            std::fs::write(&prefix.conf, &rendered).expect("cannot write the config");
            let stderr = std::fs::File::create(&prefix.stderr_log).expect("cannot create a log");
            let child = prefix
                .command(&nginx, "daemon off;")
                .stdout(stderr.try_clone().expect("cannot duplicate a file handle"))
                .stderr(stderr)
                // Its own process group, so that stopping it can reach every worker and only them.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", nginx.display()));
            let mut server = Nginx {
                child,
                port,
                prefix,
            };
            match server.wait_listening() {
                Ok(()) => return server,
                Err(why) => {
                    last_logs = format!("{why}\n{}\nconfig:\n{rendered}", server.prefix.logs());
                    if !last_logs.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        panic!(
            "nginx did not start with {}:\n{last_logs}",
            config.display()
        );
    }

    fn wait_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("nginx exited: {status}"));
            }
            // A bind that failed is retried by nginx for a while: say so at once, so that
            // `start` picks another port.
            let logs = self.prefix.logs();
            if logs.contains("Address already in use") {
                return Err("nginx could not bind its port: Address already in use".into());
            }
            // Watching the socket table, not connecting, so that no probe connection shows up
            // in the experiment's TIME_WAIT counts. A listener on the port is not enough: another
            // test's momentary listener (a free-port probe) may hold the number while nginx
            // fails to bind it. nginx writes its pid file only once its listening sockets are
            // open (`ngx_create_pidfile` after `ngx_init_cycle`), so both together are nginx's.
            let pid_file = self.prefix.dir.path().join("logs/nginx.pid");
            if pid_file.exists() && count_now(self.port, State::Listen).is_ok_and(|c| c.server > 0)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("nginx was not listening after {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The master process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The error log and nginx's stderr, for failure messages.
    pub fn logs(&self) -> String {
        self.prefix.logs()
    }

    fn signal_group(&self, signal: libc::c_int) {
        // SAFETY: kill has no memory-safety preconditions. The group is the one our child
        // leads; it stays reserved until we reap the child, so this reaches no other process.
        unsafe {
            libc::kill(-(self.child.id() as libc::pid_t), signal);
        }
    }

    /// Whether the master has exited (a zombie we have not reaped yet keeps its group id).
    fn master_exited(&self) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()));
        match stat {
            Ok(s) => s
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => true,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The experiment failed while nginx ran: its log belongs in the failure message.
            let config = std::fs::read_to_string(&self.prefix.conf).unwrap_or_default();
            eprintln!(
                "nginx on port {}:\n{}--- config ---\n{config}",
                self.port,
                self.logs()
            );
        }
        // SAFETY: see signal_group; SIGQUIT to the master is nginx's graceful shutdown.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGQUIT);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while !self.master_exited() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever is left of the group (a stuck master, orphaned workers).
        self.signal_group(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// What `nginx -t` said about a config (placeholders filled in as for [`Nginx::start`]).
pub struct ConfigTest {
    pub ok: bool,
    /// nginx's messages (warnings and errors).
    pub messages: String,
}

/// Runs `nginx -t` on a config file.
pub fn test_config(config: &Path, backend_port: Option<u16>) -> ConfigTest {
    let text = std::fs::read_to_string(config)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", config.display()));
    test_config_text(&text, backend_port)
}

/// Runs `nginx -t` on config text (an `events {}` block is added when it has none).
pub fn test_config_text(text: &str, backend_port: Option<u16>) -> ConfigTest {
    let nginx = binary();
    let build = build_info(&nginx);
    let prefix = Prefix::new();
    let mut rendered = render(text, free_port(), backend_port, prefix.dir.path(), &build);
    if !rendered
        .lines()
        .any(|l| l.trim_start().starts_with("events"))
    {
        rendered.insert_str(0, "events {}\n");
    }
    std::fs::write(&prefix.conf, rendered).expect("cannot write the config");
    let Output { status, stderr, .. } = prefix
        .command(&nginx, "")
        .arg("-t")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", nginx.display()));
    let mut messages = String::from_utf8_lossy(&stderr).into_owned();
    messages.push_str(&std::fs::read_to_string(&prefix.error_log).unwrap_or_default());
    ConfigTest {
        ok: status.success(),
        messages,
    }
}

/// One finding of the linter on a config.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: lints::Severity,
    pub message: String,
}

/// Lints an nginx config file the way `waitlint check` does by default (nginx 1.22 assumed,
/// the version the lab's Debian nginx reports).
pub fn lint(config: &Path) -> Vec<Finding> {
    let tree = nginx_parser::load(config, &nginx_parser::IncludeOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    lints::nginx::lint(&tree, &lints::Settings::default())
        .into_iter()
        .map(|d| Finding {
            rule: d.rule.name,
            severity: d.severity,
            message: d.message,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_fills_placeholders_and_adds_the_prefix_paths_to_http() {
        let conf = "events {}\nhttp {\n    server { listen 127.0.0.1:@PORT@; }\n    upstream b { server 127.0.0.1:@BACKEND_PORT@; }\n}\n";
        let out = render(
            conf,
            8081,
            Some(9000),
            Path::new("/tmp/p"),
            "--without-http_scgi_module",
        );
        assert!(out.contains("listen 127.0.0.1:8081;"), "{out}");
        assert!(out.contains("server 127.0.0.1:9000;"), "{out}");
        let http = out.find("http {").unwrap();
        let temp = out.find("proxy_temp_path /tmp/p/temp/proxy;").unwrap();
        assert!(http < temp && temp < out.find("server {").unwrap(), "{out}");
        assert!(out.contains("access_log /tmp/p/logs/access.log;"));
        assert!(!out.contains("scgi_temp_path"), "{out}");
    }

    #[test]
    fn a_missing_nginx_is_reported_with_the_install_command() {
        let empty = tempfile::tempdir().unwrap();
        let err = locate(None, [empty.path().to_path_buf()].into_iter()).unwrap_err();
        assert!(err.starts_with(MISSING), "{err}");
        let err = locate(Some("/nonexistent/nginx".as_ref()), std::iter::empty()).unwrap_err();
        assert!(
            err.starts_with(MISSING) && err.contains("WAITLINT_NGINX"),
            "{err}"
        );
        std::fs::write(empty.path().join("nginx"), "").unwrap();
        let found = locate(None, [empty.path().to_path_buf()].into_iter()).unwrap();
        assert_eq!(found, empty.path().join("nginx"));
    }

    #[test]
    #[should_panic(expected = "@BACKEND_PORT@ has no value")]
    fn render_refuses_a_placeholder_without_a_value() {
        render(
            "http {\n proxy_pass http://127.0.0.1:@BACKEND_PORT@;\n}\n",
            1,
            None,
            Path::new("/p"),
            "",
        );
    }
}
