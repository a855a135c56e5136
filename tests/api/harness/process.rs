//! The real executable, the one harness for every test that runs it: as a command
//! that exits (settings errors, `--version`, the health probe) or as a server
//! process (signals, logs, several replicas on one database).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tasks-backend");

/// The binary with a clean environment (no settings leaking in from the caller).
pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().current_dir(dir).stdin(Stdio::null());
    cmd
}

/// Sends SIG`name` (`TERM`, `INT`, `KILL`, `HUP`) to `child`. Through libc, not the
/// `kill` command: Nix's build sandbox (the flake's tests check) has coreutils,
/// which has no `kill`, and the tests must run there too.
pub fn send_signal(child: &Child, name: &str) {
    let signal = match name {
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "KILL" => libc::SIGKILL,
        "HUP" => libc::SIGHUP,
        other => panic!("no such signal in these tests: {other}"),
    };
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; the pid is
    // that of our own child, which is not yet reaped (we hold its `Child`).
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        sent,
        0,
        "SIG{name} sent: {}",
        std::io::Error::last_os_error()
    );
}

/// Runs `cmd` to its end, killing it (and failing the test) after `limit`.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while started.elapsed() < limit {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("tasks-backend did not exit within {limit:?}");
}

/// Every line a server printed, and a way to wait for the next one.
#[derive(Default)]
struct Lines {
    lines: Mutex<Vec<String>>,
    added: Condvar,
}

/// A `tasks-backend serve` child on 127.0.0.1 and a port of its choosing, logging
/// JSON lines. Everything it prints is kept for [`ServerProcess::logs`]. Dropping it
/// kills the process, so a failing test leaves nothing running.
pub struct ServerProcess {
    child: Child,
    pub address: String,
    pub port: u16,
    lines: Arc<Lines>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    pub fn start(database_url: &str, dir: &Path) -> Self {
        Self::start_with(dir, &[("DATABASE_URL", database_url)])
    }

    /// Starts with these settings on top of the test defaults (loopback, port 0,
    /// JSON logs at info).
    pub fn start_with(dir: &Path, settings: &[(&str, &str)]) -> Self {
        let mut cmd = command(dir);
        cmd.env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "info");
        for (key, value) in settings {
            cmd.env(key, value);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tasks-backend");
        let lines = Arc::new(Lines::default());
        let (port_tx, port_rx) = mpsc::channel::<u16>();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let readers = vec![
            keep_lines(stdout, lines.clone(), Some(port_tx)),
            keep_lines(stderr, lines.clone(), None),
        ];
        let port = match port_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "tasks-backend did not start listening within 60 s: {:?}",
                    lines.lines.lock().unwrap()
                );
            }
        };
        Self {
            child,
            address: format!("http://127.0.0.1:{port}"),
            port,
            lines,
            readers,
        }
    }

    pub fn signal(&self, signal: &str) {
        send_signal(&self.child, signal);
    }

    /// Waits (at most `limit`) for the process to exit, and returns its status.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("wait") {
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("tasks-backend did not exit within {limit:?}");
    }

    /// SIGTERM, then the exit status (within `SHUTDOWN_TIMEOUT_SECS` plus a margin).
    pub fn stop(mut self) -> Option<i32> {
        self.signal("TERM");
        self.wait_exit(Duration::from_secs(15)).code()
    }

    /// Every line printed so far, stdout and stderr.
    pub fn logs(&self) -> Vec<String> {
        self.lines.lines.lock().unwrap().clone()
    }

    /// The first JSON log line (from the start) for which `want` holds, waiting up
    /// to 10 s for it.
    pub fn wait_for_log(&self, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lines = self.lines.lines.lock().unwrap();
        loop {
            if let Some(found) = lines
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|v| want(v))
            {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "expected log line within 10 s: {lines:?}");
            lines = self.lines.added.wait_timeout(lines, left).unwrap().0;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn keep_lines(
    stream: impl Read + Send + 'static,
    lines: Arc<Lines>,
    port: Option<mpsc::Sender<u16>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let (Some(tx), Some(p)) = (&port, listening_port(&line)) {
                let _ = tx.send(p);
            }
            lines.lines.lock().unwrap().push(line);
            lines.added.notify_all();
        }
    })
}

/// The port in the application's own `listening` line (`"addr":"127.0.0.1:PORT"`).
/// The port in the `listening` line, JSON or text (`... listening addr=HOST:PORT ...`).
fn listening_port(line: &str) -> Option<u16> {
    let Ok(value) = serde_json::from_str::<Value>(line) else {
        let (_, after) = line.split_once("tasks_backend::startup: listening addr=")?;
        return after
            .split_whitespace()
            .next()?
            .rsplit(':')
            .next()?
            .parse()
            .ok();
    };
    if value["message"] != "listening" || !value["target"].as_str()?.starts_with("tasks_backend") {
        return None;
    }
    value["addr"].as_str()?.rsplit(':').next()?.parse().ok()
}
