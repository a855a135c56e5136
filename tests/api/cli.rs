//! The executable itself: exit statuses, messages, start-up budgets, signals, the
//! health probe, logs.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};

use crate::harness::client::{blocking_get, http};
use crate::harness::process::{ServerProcess, command, run_bounded};
use crate::harness::{drop_postgres_database, fresh_postgres_database};

const EXIT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn bad_settings_stop_the_process_with_status_2_and_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    // A data directory that cannot be created, even by root (permission bits do
    // not stop root; a regular file where a directory should be does).
    let a_file = dir.path().join("file");
    std::fs::write(&a_file, "").unwrap();
    let under_a_file = format!("sqlite://{}/data/tasks.db", a_file.display());
    let url_file = dir.path().join("url");
    std::fs::write(&url_file, "sqlite://data/tasks.db\n").unwrap();
    let url_file = url_file.to_string_lossy().into_owned();
    // (settings, the setting named, what the line says)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("PORT", "abc")], "PORT", "PORT=\"abc\""),
        (vec![("PORT", "70000")], "PORT", "PORT=\"70000\""),
        (
            vec![("HOST", "example.invalid")],
            "HOST",
            "HOST=\"example.invalid\"",
        ),
        (
            vec![("DATABASE_URL", "mysql://x")],
            "DATABASE_URL",
            "DATABASE_URL=\"mysql://x\"",
        ),
        (
            vec![("DATABASE_URL", under_a_file.as_str())],
            "DATABASE_URL",
            "cannot create data directory",
        ),
        (
            vec![("LOG_FORMAT", "xml")],
            "LOG_FORMAT",
            "LOG_FORMAT=\"xml\"",
        ),
        // tracing would read a bare unknown word as a target and log nothing at all.
        (
            vec![("LOG_LEVEL", "warning")],
            "LOG_LEVEL",
            "LOG_LEVEL=\"warning\"",
        ),
        (
            vec![("SHUTDOWN_DRAIN_SECS", "soon")],
            "SHUTDOWN_DRAIN_SECS",
            "whole number",
        ),
        (
            vec![("DATABASE_URL_FILE", "/nonexistent")],
            "DATABASE_URL_FILE",
            "cannot read",
        ),
        (
            vec![
                ("DATABASE_URL_FILE", url_file.as_str()),
                ("DATABASE_URL", "sqlite://x.db"),
            ],
            "DATABASE_URL",
            "both set",
        ),
        (
            vec![("API_TOKENS_FILE", "/nonexistent")],
            "API_TOKENS_FILE",
            "cannot read the file",
        ),
        (
            vec![("CORS_ALLOWED_ORIGINS", "https://app.example/")],
            "CORS_ALLOWED_ORIGINS",
            "not an exact origin",
        ),
        (
            vec![("CORS_MAX_AGE_SECS", "90000")],
            "CORS_MAX_AGE_SECS",
            "whole number",
        ),
        (
            vec![("DOCS_REQUIRE_TOKEN", "yes")],
            "DOCS_REQUIRE_TOKEN",
            "true or false",
        ),
        (
            vec![("CONFIG_FILE", "/nonexistent.toml")],
            "CONFIG_FILE",
            "CONFIG_FILE=\"/nonexistent.toml\"",
        ),
    ];
    for (settings, setting, expected) in cases {
        let mut cmd = command(dir.path());
        cmd.env("PORT", "0");
        for (key, value) in &settings {
            cmd.env(key, value);
        }
        let out = run_bounded(cmd, EXIT_LIMIT);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let case = format!("{settings:?}: stderr {stderr:?}");
        assert_eq!(out.status.code(), Some(2), "{case}");
        assert_eq!(stderr.lines().count(), 1, "one line: {case}");
        assert!(stderr.contains(setting), "names the setting: {case}");
        assert!(stderr.contains(expected), "says {expected:?}: {case}");
        assert!(!stderr.contains("panicked"), "no panic: {case}");
    }
}

/// A port the process cannot listen on is a bad setting too, named like the others.
#[test]
fn a_port_already_in_use_is_a_bad_setting_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut cmd = command(dir.path());
    cmd.env("HOST", "127.0.0.1").env("PORT", &port);
    let out = run_bounded(cmd, EXIT_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&format!(
            "invalid setting PORT=\"{port}\": cannot listen on"
        )),
        "{stderr}"
    );
    drop(taken);
}

#[test]
fn a_password_is_never_printed_even_in_a_url_that_does_not_parse() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "postgres://u:s3cret@db:70000/t",
        "postgres://u:s3cret@/t",
        "postgresql://u:s3cret@db:5432/t?password=s3cret&sslmode=nonsense",
    ] {
        let mut cmd = command(dir.path());
        cmd.env("PORT", "0")
            .env("DATABASE_URL", url)
            .env("DATABASE_STARTUP_TIMEOUT_SECS", "0");
        let out = run_bounded(cmd, EXIT_LIMIT);
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(out.status.code(), Some(0), "{url}: {printed}");
        assert!(
            !printed.contains("s3cret"),
            "{url} printed its password: {printed}"
        );
    }
}

#[test]
fn version_and_help_answer_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    for (arg, expected) in [
        ("--version", env!("CARGO_PKG_VERSION")),
        ("--help", "healthcheck"),
    ] {
        let mut cmd = command(dir.path());
        cmd.arg(arg);
        let out = run_bounded(cmd, EXIT_LIMIT);
        assert_eq!(out.status.code(), Some(0), "{arg}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(expected),
            "{arg} mentions {expected}"
        );
    }
    let mut cmd = command(dir.path());
    cmd.arg("--no-such-flag");
    assert_eq!(
        run_bounded(cmd, EXIT_LIMIT).status.code(),
        Some(2),
        "unknown flags are usage errors"
    );
}

#[test]
fn an_unreachable_postgres_is_retried_then_reported_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    // Port 1 on loopback: nothing listens there, so every attempt is refused at once.
    cmd.env("PORT", "0")
        .env("DATABASE_URL", "postgres://tasks:s3cret@127.0.0.1:1/tasks")
        .env("DATABASE_STARTUP_TIMEOUT_SECS", "4");
    let out = run_bounded(cmd, EXIT_LIMIT);
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

#[test]
fn a_zero_start_up_timeout_means_one_attempt_then_exit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env("PORT", "0")
        .env("DATABASE_URL", "postgres://tasks@127.0.0.1:1/tasks")
        .env("DATABASE_STARTUP_TIMEOUT_SECS", "0");
    let out = run_bounded(cmd, EXIT_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("after 1 attempts"),
        "exactly one attempt: {stderr}"
    );
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        !logs.contains("database not reachable yet"),
        "no retry: {logs}"
    );
}

/// The server refuses (no such database, no such role): no retry, exit 2 at once.
#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn a_database_the_server_refuses_is_a_settings_error_at_once() {
    let admin = std::env::var("TASKS_TEST_POSTGRES_URL").unwrap();
    let mut no_database = url::Url::parse(&admin).unwrap();
    no_database.set_path("tasks_no_such_database");
    let mut no_role = url::Url::parse(&admin).unwrap();
    no_role.set_username("no_such_role").unwrap();
    no_role.set_password(Some("s3cret")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        (no_database.to_string(), "3D000"),
        (no_role.to_string(), "28000"),
    ] {
        let mut cmd = command(dir.path());
        cmd.env("PORT", "0")
            .env("DATABASE_URL", &url)
            .env("DATABASE_STARTUP_TIMEOUT_SECS", "30");
        let started = Instant::now();
        let out = run_bounded(cmd, EXIT_LIMIT);
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains("DATABASE_URL"), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!stderr.contains("s3cret"), "{stderr}");
        // Not retried for the 30 s budget; the margin covers a busy 2-core machine.
        assert!(took < Duration::from_secs(5), "{url}: took {took:?}");
    }
}

/// A replica that hangs while holding the migration lock must not hold another's
/// start-up for ever: the wait ends with the start-up budget.
#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn the_wait_for_the_migration_lock_is_bounded_by_the_start_up_budget() {
    let url = fresh_postgres_database().await;
    let holder = Database::connect(&url).await.unwrap();
    holder
        .execute_unprepared("SELECT pg_advisory_lock(8386110886474902887)")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env("PORT", "0")
        .env("DATABASE_URL", &url)
        .env("DATABASE_STARTUP_TIMEOUT_SECS", "2");
    let out = run_bounded(cmd, EXIT_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("migration lock"), "{stderr}");
    holder.close().await.unwrap();
    drop_postgres_database(&url).await;
}

fn probe(port: u16) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.arg("healthcheck").env("PORT", port.to_string());
    run_bounded(cmd, EXIT_LIMIT)
}

#[test]
fn the_healthcheck_command_says_0_for_a_serving_server_and_1_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start_with(dir.path(), &[]);
    let port = server.port;
    assert_eq!(probe(port).status.code(), Some(0), "serving");
    server.signal("TERM");
    server.wait_exit(EXIT_LIMIT);
    let out = probe(port);
    assert_eq!(out.status.code(), Some(1), "nothing listening");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unhealthy"));

    let mut cmd = command(dir.path());
    cmd.arg("healthcheck").env("PORT", "abc");
    assert_eq!(
        run_bounded(cmd, EXIT_LIMIT).status.code(),
        Some(1),
        "a probe never exits 2"
    );
}

/// The images' HEALTHCHECK must not get a replica restarted for a database outage
/// (every replica would be, in a loop): the probe asks `/livez`, not `/health`.
#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn the_healthcheck_command_passes_while_the_database_is_gone() {
    let url = fresh_postgres_database().await;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&url, dir.path());
    drop_postgres_database(&url).await;
    let http = http();
    let health = http
        .get(format!("{}/health", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503, "/health sees the outage");
    let ready = http
        .get(format!("{}/readyz", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503, "/readyz sees the outage");
    let port = server.port;
    let out = tokio::task::spawn_blocking(move || probe(port))
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "healthcheck: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn each_request_is_logged_as_one_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with(dir.path(), &[]);
    let body = blocking_get(server.port, "/api/tasks/42");
    assert!(body.contains("404"), "{body}");
    let line = server.wait_for_log(|l| l["message"] == "request");
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(line["path"], "/api/tasks/42", "{line}");
    assert_eq!(line["status"], 404, "{line}");
    assert!(line["latency_ms"].is_number(), "{line}");
    assert_eq!(server.stop(), Some(0));
}

/// The URL from a secret file; its password appears in no log line.
#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn the_database_url_can_come_from_a_file_and_its_password_is_not_logged() {
    let url = fresh_postgres_database().await;
    let mut with_password = url::Url::parse(&url).unwrap();
    // The test server trusts local connections, so any password is accepted.
    with_password
        .set_password(Some("pw-from-file-s3cret"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("database-url");
    std::fs::write(&file, format!("{with_password}\n")).unwrap();
    let server = ServerProcess::start_with(
        dir.path(),
        &[
            ("DATABASE_URL_FILE", file.to_str().unwrap()),
            ("LOG_LEVEL", "debug"),
        ],
    );
    let created = http()
        .post(format!("{}/api/tasks", server.address))
        .json(&serde_json::json!({"title": "through a secret file"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let logs = server.logs();
    assert_eq!(server.stop(), Some(0));
    assert!(
        logs.iter().any(|l| l.contains("listening")),
        "it logged: {logs:?}"
    );
    assert!(
        !logs.iter().any(|l| l.contains("pw-from-file-s3cret")),
        "password in the logs: {logs:?}"
    );
    drop_postgres_database(&url).await;
}

/// `token add | list | remove` as an operator runs them, and a tokens file the
/// server refuses at start-up: by line number, never its content.
#[test]
fn token_commands_issue_list_and_remove_and_a_bad_file_stops_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets").join("tokens");
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    let file_arg = file.to_str().unwrap();
    let token = |args: &[&str]| {
        let mut cmd = command(dir.path());
        cmd.arg("token").args(args);
        let out = run_bounded(cmd, EXIT_LIMIT);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, issued, stderr) = token(&["add", "ci", "write", "--file", file_arg]);
    assert_eq!(code, Some(0), "{stderr}");
    let issued = issued.strip_suffix('\n').expect("one line");
    assert!(
        issued.len() == 64 && issued.bytes().all(|b| b.is_ascii_hexdigit()),
        "the token alone on stdout, 256 bits in hex: {issued:?}"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a new tokens file is the owner's only");
    let on_disk = std::fs::read_to_string(&file).unwrap();
    assert!(
        !on_disk.contains(issued),
        "the file holds no token: {on_disk}"
    );
    let (code, _, _) = token(&["add", "dash", "read", "--file", file_arg]);
    assert_eq!(code, Some(0));
    // (arguments, exit status, stdout, what stderr says)
    let cases: [(&[&str], i32, &str, &str); 6] = [
        (
            &["list", "--file", file_arg],
            0,
            "ci write\ndash read\n",
            "",
        ),
        (
            &["add", "ci", "read", "--file", file_arg],
            2,
            "",
            "already in",
        ),
        (
            &["add", "x", "admin", "--file", file_arg],
            2,
            "",
            "invalid scope",
        ),
        (
            &["remove", "nobody", "--file", file_arg],
            2,
            "",
            "no token named nobody",
        ),
        (
            &["remove", "ci", "--file", file_arg],
            0,
            "",
            "removed token ci",
        ),
        (&["list", "--file", file_arg], 0, "dash read\n", ""),
    ];
    for (args, want_code, want_stdout, want_stderr) in cases {
        let (code, stdout, stderr) = token(args);
        assert_eq!(code, Some(want_code), "{args:?}: {stderr}");
        assert_eq!(stdout, want_stdout, "{args:?}");
        assert!(stderr.contains(want_stderr), "{args:?}: {stderr}");
        assert!(
            !stdout.contains(issued) && !stderr.contains(issued),
            "{args:?}"
        );
    }

    std::fs::write(&file, "# ok\nci write a-token-pasted-by-mistake\n").unwrap();
    let mut cmd = command(dir.path());
    cmd.env("PORT", "0").env("API_TOKENS_FILE", file_arg);
    let out = run_bounded(cmd, EXIT_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("API_TOKENS_FILE") && stderr.contains("line 2"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("a-token-pasted") && !stdout.contains("a-token-pasted"),
        "the content is never shown: {stderr} {stdout}"
    );
}
