//! The load limits: in-flight shedding, the connection cap, the header, body, request
//! and idle timeouts, and logging that never blocks a request. Raw TCP where a test has to
//! misbehave in ways an HTTP client will not (stall mid-headers, mid-body).

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use futures::future::join_all;
use reqwest::Method;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::harness::process::command;
use crate::harness::{
    TestApp, assert_problem, client, read_until, read_until_closed, spawn_postgres_with,
    spawn_sqlite_with,
};
use crate::openapi;

/// Deadlines here are bounds on correctness (a cut must happen), not speed figures:
/// each allows the setting plus this margin for a busy, shared machine.
const MARGIN: Duration = Duration::from_secs(5);

async fn connect(app: &TestApp) -> TcpStream {
    client::connect(&app.address).await
}

/// A POST whose body never finishes: it holds an in-flight permit while the server
/// waits for the rest.
async fn stalled_upload(app: &TestApp) -> TcpStream {
    let mut stream = connect(app).await;
    stream
        .write_all(
            b"POST /api/tasks HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
              content-length: 40\r\n\r\n{\"title\":",
        )
        .await
        .expect("send a partial request");
    stream
}

/// Polls `path` until it answers `status`, for up to [`MARGIN`].
async fn until_status(app: &TestApp, path: &str, status: u16) -> reqwest::Response {
    let deadline = Instant::now() + MARGIN;
    loop {
        let response = app.get(path).await;
        if response.status() == status || Instant::now() > deadline {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn past_the_in_flight_bound_requests_are_shed_but_probes_are_not() {
    let app = spawn_sqlite_with(&[
        ("MAX_IN_FLIGHT_REQUESTS", "1"),
        ("MAX_IN_FLIGHT_LISTS", "1"),
        ("BODY_READ_TIMEOUT_SECS", "60"),
    ])
    .await;
    assert_eq!(app.get("/api/tasks").await.status(), 200, "idle: served");

    let stalled = stalled_upload(&app).await;
    let shed = until_status(&app, "/api/tasks", 503).await;
    assert_eq!(
        shed.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1"),
        "a shed request says when to retry"
    );
    let body = assert_problem(shed, 503, "request past MAX_IN_FLIGHT_REQUESTS").await;
    assert!(
        body["detail"].as_str().unwrap().contains("in flight"),
        "{body}"
    );
    assert_problem(
        app.get("/api/tasks/1").await,
        503,
        "any route is shed, not just lists",
    )
    .await;
    assert_eq!(app.get("/health").await.status(), 200, "/health is exempt");
    for probe in ["/livez", "/readyz"] {
        assert_ne!(app.get(probe).await.status(), 503, "{probe} is exempt");
    }

    drop(stalled);
    let served = until_status(&app, "/api/tasks", 200).await;
    assert_eq!(
        served.status(),
        200,
        "the permit comes back with the connection"
    );
    app.stop().await;
}

#[tokio::test]
async fn list_requests_have_their_own_smaller_bound() {
    let app = spawn_sqlite_with(&[
        ("MAX_IN_FLIGHT_REQUESTS", "8"),
        ("MAX_IN_FLIGHT_LISTS", "2"),
    ])
    .await;
    for i in 0..100 {
        app.create_task(
            serde_json::json!({ "title": format!("t{i}"), "description": "x".repeat(10_000) }),
        )
        .await;
    }
    // 16 lists at once against 2 list permits: some are shed, and every answer is
    // either the list or a 503 problem.
    let answers = join_all((0..16).map(|_| app.get("/api/tasks?limit=500"))).await;
    let mut shed = 0;
    for response in answers {
        match response.status().as_u16() {
            200 => {}
            503 => {
                assert_problem(response, 503, "a shed list").await;
                shed += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(shed > 0, "16 concurrent lists against 2 permits shed none");
    // Single requests of other kinds still pass while lists are shed.
    assert_eq!(app.get("/api/tasks/1").await.status(), 200);
    app.stop().await;
}

/// The bounds are declared by each operation: every documented operation but the
/// probes and `/metrics` is shed past the in-flight bound, so a new operation that forgets to
/// declare its bounds fails here.
#[tokio::test]
async fn every_documented_operation_but_the_probes_and_metrics_is_shed() {
    let app = spawn_sqlite_with(&[
        ("MAX_IN_FLIGHT_REQUESTS", "1"),
        ("BODY_READ_TIMEOUT_SECS", "60"),
    ])
    .await;
    let task = app.create_task(serde_json::json!({"title": "t"})).await;
    let doc = openapi::document(&app).await;
    let stalled = stalled_upload(&app).await;
    assert_eq!(
        until_status(&app, "/api/tasks", 503).await.status(),
        503,
        "the stalled upload holds the only permit"
    );
    let mut shed = 0;
    for (method, path, tags) in openapi::operations(&doc) {
        let concrete = path.replace("{id}", &task["id"].to_string());
        let mut request = app.client.request(method.clone(), app.url(&concrete));
        if matches!(method, Method::POST | Method::PATCH) {
            request = request.json(&serde_json::json!({"title": "shed"}));
        }
        let response = request.send().await.expect("an answer");
        let case = format!("{method} {path}");
        if tags.iter().any(|t| t == "Health" || t == "Metrics") {
            assert_ne!(
                response.status(),
                503,
                "{case}: a probe or a scrape is never shed"
            );
        } else {
            assert_problem(response, 503, &format!("{case} past the in-flight bound")).await;
            shed += 1;
        }
    }
    assert!(shed >= 5, "only {shed} operations were shed");
    drop(stalled);
    app.stop().await;
}

/// A client that asks for a large list and reads it slowly keeps the list's permit
/// until it has taken the page: the page is memory the server still holds, and it
/// is streamed now, so the permit must live as long as the stream, not the handler.
#[tokio::test]
async fn a_slow_reader_keeps_its_list_permit_until_it_has_taken_the_page() {
    let app = spawn_sqlite_with(&[("MAX_IN_FLIGHT_LISTS", "1")]).await;
    for i in 0..500 {
        app.create_task(
            serde_json::json!({ "title": format!("t{i}"), "description": "x".repeat(10_000) }),
        )
        .await;
    }
    // A small receive buffer, so the kernel cannot take the 5 MB page off the server's
    // hands on the client's behalf.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let address = app.address.trim_start_matches("http://");
    let mut slow = socket
        .connect(address.parse().expect("address"))
        .await
        .expect("connect");
    slow.write_all(b"GET /api/tasks?limit=500 HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .expect("send");
    let mut head = [0u8; 1024];
    let n = slow.read(&mut head).await.expect("read the head");
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );
    // The first list is being written: a second one is shed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_problem(
        app.get("/api/tasks?limit=500").await,
        503,
        "a list while a slow reader holds the only list permit",
    )
    .await;
    // Once the slow reader has taken the page, the permit is back.
    let (rest, _) = read_until(&mut slow, MARGIN, |got| got.ends_with(b"0\r\n\r\n")).await;
    assert!(rest.ends_with(b"0\r\n\r\n"), "the chunked page ended");
    let served = until_status(&app, "/api/tasks?limit=500", 200).await;
    assert_eq!(served.status(), 200, "the permit came back with the page");
    app.stop().await;
}

#[tokio::test]
async fn a_stalled_body_is_cut_with_408_within_the_body_timeout() {
    let app = spawn_sqlite_with(&[("BODY_READ_TIMEOUT_SECS", "1")]).await;
    let started = Instant::now();
    let mut stalled = stalled_upload(&app).await;
    let (response, closed) = read_until_closed(&mut stalled, Duration::from_secs(1) + MARGIN).await;
    assert!(
        response.starts_with("HTTP/1.1 408"),
        "after {:?}: {response:?}",
        started.elapsed()
    );
    assert!(response.contains("application/problem+json"), "{response}");
    assert!(closed, "the connection is closed after the 408");
    assert_eq!(app.task_count().await, 0, "nothing was created");
    app.stop().await;
}

#[tokio::test]
async fn stalled_headers_and_idle_connections_are_closed() {
    let app = spawn_sqlite_with(&[
        ("HEADER_READ_TIMEOUT_SECS", "1"),
        ("IDLE_TIMEOUT_SECS", "1"),
    ])
    .await;
    let cases: [(&str, &[u8]); 3] = [
        ("connected, sent nothing", b""),
        (
            "headers stop half-way",
            b"GET /api/tasks HTTP/1.1\r\nhost: te",
        ),
        (
            "keep-alive, idle after one answer",
            b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n",
        ),
    ];
    for (case, sent) in cases {
        let mut stream = connect(&app).await;
        stream.write_all(sent).await.expect("send");
        let (got, closed) = read_until_closed(&mut stream, Duration::from_secs(1) + MARGIN).await;
        assert!(
            closed,
            "{case}: still open after the timeout plus {MARGIN:?}"
        );
        if sent.ends_with(b"\r\n\r\n") {
            assert!(got.starts_with("HTTP/1.1 200"), "{case}: {got:?}");
        }
    }
    // A slow but steady client within the limit is served.
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream
        .write_all(b"host: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let (got, _) = read_until_closed(&mut stream, MARGIN).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    app.stop().await;
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_get_503_and_are_closed() {
    let app =
        spawn_sqlite_with(&[("MAX_CONNECTIONS", "2"), ("HEADER_READ_TIMEOUT_SECS", "60")]).await;
    let held = [connect(&app).await, connect(&app).await];
    // The server counts a connection once it accepts it; give it the chance.
    let deadline = Instant::now() + MARGIN;
    let refused = loop {
        let mut third = connect(&app).await;
        third
            .write_all(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .expect("send");
        let (got, _) = read_until_closed(&mut third, MARGIN).await;
        if got.starts_with("HTTP/1.1 503") || Instant::now() > deadline {
            break got;
        }
    };
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused:?}");
    let lower = refused.to_ascii_lowercase();
    assert!(lower.contains("retry-after: 1"), "{refused}");
    assert!(lower.contains("application/problem+json"), "{refused}");
    assert!(refused.contains("\"status\":503"), "{refused}");

    drop(held);
    let served = until_status(&app, "/health", 200).await;
    assert_eq!(
        served.status(),
        200,
        "slots come back when connections close"
    );
    app.stop().await;
}

/// A log reader that stops reading (a full pipe) must cost dropped, counted log
/// lines, not stalled requests. Before the non-blocking writer, the 2nd request after
/// the pipe filled hung for ever and this test failed on its request timeout.
#[tokio::test]
async fn a_blocked_stdout_drops_log_lines_instead_of_stalling_requests() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = command(dir.path())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "info")
        .env("DATABASE_URL", "sqlite://tasks.db")
        .stdout(Stdio::piped()) // and nobody reads it, for now
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tasks-backend");
    // A stalled server fails the test here, instead of hanging it.
    let client = client::http_within(Duration::from_secs(30));
    let url = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(&url).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A pipe holds 64 KiB (about 250 lines) and the writer 1 MiB (about 4 000 more,
    // gathering and being written): 8000 request lines overflow both.
    let requests = 8000;
    for batch in 0..requests / 100 {
        let answers = join_all((0..100).map(|_| client.get(&url).send())).await;
        for answer in answers {
            let status = answer
                .unwrap_or_else(|e| panic!("batch {batch}: request failed (stalled?): {e}"))
                .status();
            assert_eq!(status, 200, "batch {batch}");
        }
    }
    // Now read the pipe, so the writer drains, and stop the server.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stdout.read_to_string(&mut all);
        all
    });
    crate::harness::process::send_signal(&child, "TERM");
    let exit = timeout(Duration::from_secs(30), async {
        loop {
            if let Some(exit) = child.try_wait().unwrap() {
                return exit;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("exits after SIGTERM");
    assert!(exit.success(), "{exit:?}");
    let logs = reader.join().unwrap();
    let dropped: u64 = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["dropped_lines_total"].as_u64())
        .max()
        .unwrap_or_else(|| panic!("no dropped-lines report in {} lines", logs.lines().count()));
    let written = logs.lines().filter(|l| l.contains("\"request\"")).count() as u64;
    assert!(dropped > 0, "{dropped}");
    // Every request line was either written or counted as dropped (the report line
    // itself and start-up lines are not request lines, hence >=).
    assert!(
        written + dropped >= requests,
        "written {written} + dropped {dropped} < {requests} requests"
    );
}

/// A connection of the test's own that has run `statements` (a lock, held until
/// it is rolled back).
async fn holding(url: &str, statements: &[&str]) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let db = Database::connect(options).await.expect("connect");
    for statement in statements {
        db.execute_unprepared(statement).await.expect(statement);
    }
    db
}

/// Requests stuck behind a lock held elsewhere, more of them than the pool has
/// connections (`DATABASE_MAX_CONNECTIONS=2`), each get 503 with `Retry-After` at
/// the request timeout (1 s); once the lock goes, nothing is left held: the pool
/// serves again, every connection of it.
async fn stuck_requests_get_503_at_the_request_timeout(
    app: &TestApp,
    lock: &[&str],
    method: Method,
    path: &str,
) {
    let held = holding(&app.database_url, lock).await;
    let started = Instant::now();
    let body = serde_json::json!({"title": "behind a lock"});
    let answers = join_all((0..4).map(|_| {
        let mut request = app.client.request(method.clone(), app.url(path));
        if method == Method::POST {
            request = request.json(&body);
        }
        request.timeout(Duration::from_secs(1) + MARGIN).send()
    }))
    .await;
    let waited = started.elapsed();
    for (i, answer) in answers.into_iter().enumerate() {
        let case = format!("{method} {path} #{i} behind {lock:?}");
        let answer = answer.unwrap_or_else(|e| panic!("{case}: no answer: {e}"));
        let retry_after = answer.headers().get("retry-after").cloned();
        let problem = assert_problem(answer, 503, &case).await;
        assert_eq!(
            retry_after.as_ref().map(|v| v.as_bytes()),
            Some(&b"1"[..]),
            "{case}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("no answer within 1 s")),
            "{case}: {problem}"
        );
    }
    assert!(
        waited < Duration::from_secs(1) + MARGIN,
        "answered in {waited:?}"
    );
    held.execute_unprepared("ROLLBACK").await.expect("rollback");
    held.close().await.expect("close");
    for i in 0..4 {
        let answer = app.get("/api/tasks?limit=1").await;
        assert_eq!(answer.status(), 200, "request {i} after the lock went");
    }
}

const STUCK: [(&str, &str); 2] = [
    ("REQUEST_TIMEOUT_SECS", "1"),
    ("DATABASE_MAX_CONNECTIONS", "2"),
];

/// SQLite: a writer behind another writer waits up to its busy timeout (5 s); the
/// request timeout answers first.
#[tokio::test]
async fn sqlite_a_write_stuck_behind_a_lock_gets_503_at_the_request_timeout() {
    let app = spawn_sqlite_with(&STUCK).await;
    stuck_requests_get_503_at_the_request_timeout(
        &app,
        &["BEGIN EXCLUSIVE"],
        Method::POST,
        "/api/tasks",
    )
    .await;
    app.stop().await;
}

/// PostgreSQL: a read behind an exclusive lock would wait as long as the lock is
/// held, holding its permit and a connection.
#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn postgres_a_read_stuck_behind_a_lock_gets_503_at_the_request_timeout() {
    let app = spawn_postgres_with(&STUCK).await;
    let task = app
        .create_task(serde_json::json!({"title": "locked"}))
        .await;
    stuck_requests_get_503_at_the_request_timeout(
        &app,
        &["BEGIN", "LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE"],
        Method::GET,
        &format!("/api/tasks/{}", task["id"]),
    )
    .await;
    app.stop().await;
}
