//! Rust fixture programs run as real servers: [`LabServer`] starts `lab-server <entry>` (one
//! fixture entry point on an ephemeral loopback port), and kills and reaps it on drop, so an
//! experiment that fails half-way leaves no process behind. The child's stderr is kept for
//! failure messages. [`poll_until`] is the deadline-bounded wait every experiment uses instead
//! of fixed sleeps.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to start listening, on a loaded machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One running fixture server.
pub struct LabServer {
    entry: String,
    child: Child,
    port: u16,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<thread::JoinHandle<()>>,
}

impl LabServer {
    /// Starts `bin` (the `lab-server` binary) with `entry` and waits for the port it prints.
    /// The server is killed when this value is dropped, and also when the thread that started
    /// it ends (PR_SET_PDEATHSIG), so keep it on that thread.
    pub fn start(bin: &Path, entry: &str) -> Result<LabServer, String> {
        let mut command = Command::new(bin);
        command
            .arg(entry)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                // If the test dies without running Drop (killed by a timeout), the server goes
                // with it instead of lingering on its port.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = child.stderr.take().map(|pipe| {
            let sink = Arc::clone(&stderr);
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut text = sink.lock().unwrap_or_else(|e| e.into_inner());
                    text.push_str(&line);
                    text.push('\n');
                }
            })
        });
        let port = child.stdout.take().map(read_port_line);
        let mut server = LabServer {
            entry: entry.to_string(),
            child,
            port: 0,
            stderr,
            stderr_reader,
        };
        match port {
            Some(Ok(port)) => {
                server.port = port;
                Ok(server)
            }
            Some(Err(e)) => {
                // A server that could not start is exiting: let it finish, so that the message
                // carries everything it wrote to stderr.
                poll_until(Duration::from_secs(5), || !server.is_running());
                Err(server.failure(&format!("no port: {e}")))
            }
            None => Err(server.failure("no stdout pipe")),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// File descriptors the server holds open now.
    pub fn open_fds(&self) -> io::Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))?.count())
    }

    /// CPU time (user + system) the server has used so far.
    pub fn cpu_time(&self) -> io::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name, which is in parentheses and may contain spaces:
        // state is field 3, utime field 14 and stime field 15.
        let after_name = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .ok_or_else(|| io::Error::other("malformed /proc/<pid>/stat"))?;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |i: usize| -> io::Result<u64> {
            fields
                .get(i)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| io::Error::other("malformed /proc/<pid>/stat"))
        };
        let total = ticks(14 - 3)? + ticks(15 - 3)?;
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let per_second = u64::try_from(per_second).unwrap_or(100).max(1);
        Ok(Duration::from_millis(total * 1000 / per_second))
    }

    /// Threads of the server that are running or waiting for a CPU (state `R`) right now. A
    /// thread that spins is always one of them, however loaded the machine; an idle server,
    /// blocked in `accept`, `epoll_wait` or a read, has none.
    pub fn runnable_threads(&self) -> io::Result<usize> {
        let mut runnable = 0;
        for task in std::fs::read_dir(format!("/proc/{}/task", self.child.id()))? {
            let Ok(stat) = std::fs::read_to_string(task?.path().join("stat")) else {
                continue; // the thread exited meanwhile
            };
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            runnable += usize::from(state == Some("R"));
        }
        Ok(runnable)
    }

    /// Samples the server over `window`: its share of one core, and how many of its threads
    /// were runnable on average.
    pub fn activity(&self, window: Duration) -> io::Result<Activity> {
        let before = self.cpu_time()?;
        let start = Instant::now();
        let (mut samples, mut runnable) = (0, 0);
        while start.elapsed() < window {
            runnable += self.runnable_threads()?;
            samples += 1;
            thread::sleep(Duration::from_millis(25));
        }
        let used = self.cpu_time()?.saturating_sub(before);
        Ok(Activity {
            cpu_percent: (used.as_millis() * 100 / start.elapsed().as_millis().max(1)) as u64,
            runnable_threads: runnable as f64 / f64::from(samples.max(1)),
        })
    }

    /// Whether the server is still running (a fixture that panics or returns has exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// A message for an assertion: what failed, which entry, and what the server wrote to stderr.
    pub fn failure(&mut self, what: &str) -> String {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => {
                // The pipe is closed now, so the reader ends once it has read everything.
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                format!("exited: {status}")
            }
            Ok(None) => "still running".to_string(),
            Err(e) => format!("unknown ({e})"),
        };
        let stderr = self
            .stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        format!(
            "{what}\n  entry: {}\n  server: {status}\n  stderr: {}",
            self.entry,
            if stderr.is_empty() {
                "(empty)"
            } else {
                &stderr
            }
        )
    }
}

impl Drop for LabServer {
    fn drop(&mut self) {
        // Only this child, which the test started; SIGKILL, then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a server did over a sampling window.
#[derive(Debug, Clone, Copy)]
pub struct Activity {
    /// CPU time used, as a share of one core, in percent. Depends on the machine's load.
    pub cpu_percent: u64,
    /// Threads runnable (spinning, or waiting for a CPU to spin on), on average. Does not.
    pub runnable_threads: f64,
}

/// Reads the port, the first line the server prints, with a timeout so that a server that never
/// listens fails the test instead of hanging it. The rest of stdout is read and dropped: fixture
/// programs print, and a closed pipe would kill them.
fn read_port_line(stdout: ChildStdout) -> Result<u16, String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines.map_while(Result::ok) {}
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(Some(Ok(line))) => line
            .trim()
            .parse()
            .map_err(|_| format!("expected a port on stdout, got {line:?}")),
        Ok(Some(Err(e))) => Err(format!("reading stdout: {e}")),
        Ok(None) => Err("stdout closed before the port was printed".to_string()),
        Err(_) => Err(format!("nothing on stdout within {START_TIMEOUT:?}")),
    }
}

/// Calls `check` every 20 ms until it returns true or `timeout` passes; returns its last answer.
pub fn poll_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return check();
        }
        thread::sleep(Duration::from_millis(20));
    }
}
