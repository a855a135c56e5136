//! The executable itself: exit statuses, messages, signals, health probe, logs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tasks-backend");

/// The binary with a clean environment (no settings leaking in from the caller).
fn tasks_backend(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().current_dir(dir).stdin(Stdio::null());
    cmd
}

fn run_bounded(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    for _ in 0..200 {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("tasks-backend did not exit within 10 s");
}

#[test]
fn bad_settings_stop_the_process_with_status_2_and_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    // A data directory that cannot be created, even by root (permission bits do
    // not stop root; a regular file where a directory should be does).
    let a_file = dir.path().join("file");
    std::fs::write(&a_file, "").unwrap();
    let under_a_file = format!("sqlite://{}/data/tasks.db", a_file.display());
    let cases: Vec<(&str, &str, &str)> = vec![
        ("PORT", "abc", "PORT=\"abc\""),
        ("PORT", "70000", "PORT=\"70000\""),
        ("HOST", "example.invalid", "HOST=\"example.invalid\""),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL=\"mysql://x\""),
        (
            "DATABASE_URL",
            &under_a_file,
            "cannot create data directory",
        ),
        ("LOG_FORMAT", "xml", "LOG_FORMAT=\"xml\""),
        (
            "CONFIG_FILE",
            "/nonexistent.toml",
            "CONFIG_FILE=\"/nonexistent.toml\"",
        ),
    ];
    for (setting, value, expected) in cases {
        let mut cmd = tasks_backend(dir.path());
        cmd.env(setting, value)
            .env("PORT", if setting == "PORT" { value } else { "0" });
        let out = run_bounded(cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let case = format!("{setting}={value}: stderr {stderr:?}");
        assert_eq!(out.status.code(), Some(2), "{case}");
        assert_eq!(stderr.lines().count(), 1, "one line: {case}");
        assert!(stderr.contains(setting), "names the setting: {case}");
        assert!(stderr.contains(expected), "says {expected:?}: {case}");
        assert!(!stderr.contains("panicked"), "no panic: {case}");
    }
}

#[test]
fn version_and_help_answer_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    for (arg, expected) in [
        ("--version", env!("CARGO_PKG_VERSION")),
        ("--help", "healthcheck"),
    ] {
        let mut cmd = tasks_backend(dir.path());
        cmd.arg(arg);
        let out = run_bounded(cmd);
        assert_eq!(out.status.code(), Some(0), "{arg}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(expected),
            "{arg} mentions {expected}"
        );
    }
    let mut cmd = tasks_backend(dir.path());
    cmd.arg("--no-such-flag");
    assert_eq!(
        run_bounded(cmd).status.code(),
        Some(2),
        "unknown flags are usage errors"
    );
}

#[test]
fn an_unreachable_postgres_is_retried_then_reported_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tasks_backend(dir.path());
    // Port 1 on loopback: nothing listens there, so every attempt is refused at once.
    cmd.env("PORT", "0")
        .env("DATABASE_URL", "postgres://tasks:s3cret@127.0.0.1:1/tasks")
        .env("DATABASE_STARTUP_TIMEOUT_SECS", "4");
    let out = run_bounded(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(
        !stderr.contains("s3cret"),
        "the password is not printed: {stderr}"
    );
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        logs.contains("database not reachable yet"),
        "it retried: {logs}"
    );
}

/// A running server started from the real binary, with JSON logs on its stdout.
struct Server {
    child: std::process::Child,
    port: u16,
    logs: std::sync::mpsc::Receiver<Value>,
    _dir: tempfile::TempDir,
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tasks_backend(dir.path())
        .env("PORT", "0")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|_| panic!("every log line is JSON: {line:?}"));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    let listening = wait_for_log(&rx, |l| {
        l["message"] == "listening" && l["addr"].is_string()
    });
    let port = listening["addr"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    Server {
        child,
        port,
        logs: rx,
        _dir: dir,
    }
}

fn wait_for_log(rx: &std::sync::mpsc::Receiver<Value>, want: impl Fn(&Value) -> bool) -> Value {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("expected log line within 10 s");
        if want(&line) {
            return line;
        }
    }
}

fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("server did not stop within 10 s of the signal");
}

#[test]
fn sigterm_and_sigint_stop_the_server_with_status_0() {
    for signal in ["TERM", "INT"] {
        let mut server = start_server();
        send_signal(server.child.id(), signal);
        let status = wait_exit(&mut server.child);
        assert_eq!(status.code(), Some(0), "SIG{signal}");
        let _ = wait_for_log(&server.logs, |l| l["message"] == "stopped");
    }
}

#[test]
fn the_healthcheck_command_says_0_for_a_healthy_server_and_1_otherwise() {
    let mut server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let mut probe = tasks_backend(dir.path());
    probe
        .arg("healthcheck")
        .env("PORT", server.port.to_string());
    assert_eq!(run_bounded(probe).status.code(), Some(0), "healthy server");

    send_signal(server.child.id(), "TERM");
    wait_exit(&mut server.child);
    let mut probe = tasks_backend(dir.path());
    probe
        .arg("healthcheck")
        .env("PORT", server.port.to_string());
    let out = run_bounded(probe);
    assert_eq!(out.status.code(), Some(1), "nothing listening");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unhealthy"));

    let mut probe = tasks_backend(dir.path());
    probe.arg("healthcheck").env("PORT", "abc");
    assert_eq!(
        run_bounded(probe).status.code(),
        Some(1),
        "a probe never exits 2"
    );
}

#[test]
fn each_request_is_logged_as_one_json_line() {
    let mut server = start_server();
    let body = reqwest_blocking_get(server.port, "/api/tasks/42");
    assert!(body.contains("404"), "{body}");
    let line = wait_for_log(&server.logs, |l| l["message"] == "request");
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(line["path"], "/api/tasks/42", "{line}");
    assert_eq!(line["status"], 404, "{line}");
    assert!(line["latency_ms"].is_number(), "{line}");
    send_signal(server.child.id(), "TERM");
    wait_exit(&mut server.child);
}

/// A plain HTTP/1.0 GET over a socket: keeps this synchronous test free of a runtime.
fn reqwest_blocking_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}
