//! The real executable as a server process, for the tests that need separate
//! processes (several replicas on one database) or the process's own logs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tasks-backend");

/// A `tasks-backend serve` child on 127.0.0.1 and a port of its choosing, logging
/// JSON lines. Everything it prints is kept for [`ServerProcess::logs`]. Dropping it
/// kills the process, so a failing test leaves nothing running.
pub struct ServerProcess {
    child: Child,
    pub address: String,
    logs: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    pub fn start(database_url: &str, dir: &std::path::Path) -> Self {
        let mut child = Command::new(BIN)
            .env_clear()
            .current_dir(dir)
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "info")
            .env("DATABASE_URL", database_url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tasks-backend");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = mpsc::channel::<u16>();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let readers = vec![
            keep_lines(stdout, logs.clone(), Some(port_tx)),
            keep_lines(stderr, logs.clone(), None),
        ];
        let port = match port_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "tasks-backend did not start listening within 60 s: {:?}",
                    logs.lock().unwrap()
                );
            }
        };
        Self {
            child,
            address: format!("http://127.0.0.1:{port}"),
            logs,
            readers,
        }
    }

    /// SIGTERM, then the exit status (within `SHUTDOWN_TIMEOUT_SECS` plus a margin).
    pub fn stop(mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "SIGTERM sent");
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("tasks-backend did not stop within 15 s of SIGTERM");
    }

    /// Every line printed so far, stdout and stderr.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
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
    logs: Arc<Mutex<Vec<String>>>,
    port: Option<mpsc::Sender<u16>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let (Some(tx), Some(p)) = (&port, listening_port(&line)) {
                let _ = tx.send(p);
            }
            logs.lock().unwrap().push(line);
        }
    })
}

/// The port in the application's own `listening` line (`"addr":"127.0.0.1:PORT"`).
fn listening_port(line: &str) -> Option<u16> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    if value["message"] != "listening" || !value["target"].as_str()?.starts_with("tasks_backend") {
        return None;
    }
    value["addr"].as_str()?.rsplit(':').next()?.parse().ok()
}
