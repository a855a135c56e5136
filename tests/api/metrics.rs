//! `GET /metrics`: the Prometheus text format, the counts after a known load (every
//! kind of answer under its labels, every refusal under its reason), series that no
//! client can add, the gauges of the pools, permits and connections.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::harness::{TestApp, assert_problem, client, read_until_closed, spawn_sqlite_with};

const DURATION: &str = "http_server_request_duration_seconds";

/// Label pairs a sample must have.
type Labels<'a> = &'a [(&'a str, &'a str)];

/// One sample: its name with its labels as written (`name{a="b"}`), and its value.
type Samples = BTreeMap<String, f64>;

/// Scrapes `/metrics`, checks its content type, and reads its samples. The text
/// format is simple enough to read line by line: `name{labels} value`.
async fn scrape(app: &TestApp) -> Samples {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200, "/metrics answers");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4", "content type");
    let text = response.text().await.unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
            (series.to_owned(), value)
        })
        .collect()
}

/// The value of the one sample named `name` whose labels include all of `labels`
/// (0 when there is none).
fn value(samples: &Samples, name: &str, labels: Labels) -> f64 {
    let found: Vec<f64> = samples
        .iter()
        .filter(|(series, _)| {
            let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
            series_name == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
        .collect();
    assert!(
        found.len() <= 1,
        "{name} {labels:?} matches several: {found:?}"
    );
    found.first().copied().unwrap_or(0.0)
}

/// How many requests the histogram counted under these labels.
fn requests(samples: &Samples, method: &str, route: &str, status: &str) -> f64 {
    value(
        samples,
        &format!("{DURATION}_count"),
        &[
            ("http_request_method", method),
            ("http_route", route),
            ("http_response_status_code", status),
        ],
    )
}

/// Every distinct label set of the request histogram.
fn duration_series(samples: &Samples) -> Vec<String> {
    samples
        .keys()
        .filter(|s| s.starts_with(&format!("{DURATION}_count")))
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_known_load_is_counted_under_its_labels_and_reasons() {
    const SUCCESSES: usize = 5;
    const NOT_FOUND: usize = 3;
    const SHED: usize = 4;
    let app = spawn_sqlite_with(&[
        ("MAX_IN_FLIGHT_REQUESTS", "1"),
        ("BODY_READ_TIMEOUT_SECS", "3"),
    ])
    .await;
    let task = app.create_task(serde_json::json!({"title": "t"})).await;
    let path = format!("/api/tasks/{}", task["id"]);
    for _ in 0..SUCCESSES {
        assert_eq!(app.get(&path).await.status(), 200, "GET {path}");
    }
    for i in 0..NOT_FOUND {
        assert_eq!(app.get(&format!("/no/such/{i}")).await.status(), 404);
    }
    // A body that never comes holds the only permit until its 408.
    let mut stalled = client::connect(&app.address).await;
    stalled
        .write_all(
            b"POST /api/tasks HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n\
              content-length: 40\r\n\r\n{",
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while value(&scrape(&app).await, "tasks_backend_requests_in_flight", &[]) < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the stalled upload never took its permit"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..SHED {
        assert_problem(app.get(&path).await, 503, "past the in-flight bound").await;
    }
    let (answer, _) = read_until_closed(&mut stalled, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    let samples = scrape(&app).await;
    let cases = [
        ("POST", "/api/tasks", "201", 1),
        ("POST", "/api/tasks", "408", 1),
        ("GET", "/api/tasks/{id}", "200", SUCCESSES),
        ("GET", "/api/tasks/{id}", "503", SHED),
        ("GET", "unmatched", "404", NOT_FOUND),
    ];
    for (method, route, status, want) in cases {
        assert_eq!(
            requests(&samples, method, route, status),
            want as f64,
            "{method} {route} {status}"
        );
    }
    let reasons = [
        ("in_flight_requests", SHED),
        ("body_timeout", 1),
        ("connection_limit", 0),
    ];
    for (reason, want) in reasons {
        assert_eq!(
            value(
                &samples,
                "tasks_backend_rejections_total",
                &[("reason", reason)]
            ),
            want as f64,
            "rejections for {reason}"
        );
    }
    // The histogram counts every request but the scrapes, and nothing else.
    let counted: f64 = samples
        .iter()
        .filter(|(s, _)| s.starts_with(&format!("{DURATION}_count")) && !s.contains("/metrics"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        counted,
        (2 + SUCCESSES + SHED + NOT_FOUND) as f64,
        "{samples:#?}"
    );
    assert_eq!(
        value(
            &samples,
            &format!("{DURATION}_bucket"),
            &[
                ("http_route", "/api/tasks/{id}"),
                ("http_response_status_code", "200"),
                ("le", "+Inf")
            ]
        ),
        SUCCESSES as f64,
        "+Inf bucket equals the count"
    );
    app.stop().await;
}

/// Made-up paths and methods all land in one route label and one method label.
#[tokio::test]
async fn a_client_chosen_path_or_method_adds_no_series() {
    let app = spawn_sqlite_with(&[]).await;
    assert_eq!(app.get("/first/unknown").await.status(), 404);
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    app.client
        .request(brew.clone(), app.url("/x"))
        .send()
        .await
        .unwrap();
    // A scrape is counted once it has been answered: the second sees the first.
    scrape(&app).await;
    let before = duration_series(&scrape(&app).await);
    for i in 0..50 {
        let path = format!("/made-up/{i}/{}", "z".repeat(i));
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
        app.client
            .request(brew.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
    }
    let after = duration_series(&scrape(&app).await);
    assert_eq!(after, before, "50 new paths added series");
    assert!(
        after
            .iter()
            .all(|s| !s.contains("made-up") && !s.contains("BREW")),
        "{after:#?}"
    );
    assert!(
        after
            .iter()
            .any(|s| s.contains("http_request_method=\"_OTHER\"")),
        "{after:#?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_service_gauges_are_there() {
    let app = spawn_sqlite_with(&[
        ("MAX_IN_FLIGHT_REQUESTS", "7"),
        ("MAX_IN_FLIGHT_LISTS", "3"),
        ("MAX_CONNECTIONS", "11"),
        ("DATABASE_MAX_CONNECTIONS", "5"),
    ])
    .await;
    let samples = scrape(&app).await;
    let cases: [(&str, Labels, f64); 8] = [
        ("tasks_backend_requests_in_flight_max", &[], 7.0),
        ("tasks_backend_lists_in_flight_max", &[], 3.0),
        ("tasks_backend_connections_max", &[], 11.0),
        // The scrape's own connection.
        ("tasks_backend_connections_open", &[], 1.0),
        ("tasks_backend_ready", &[], 1.0),
        (
            "db_client_connection_max",
            &[("db_client_connection_pool_name", "requests")],
            5.0,
        ),
        (
            "db_client_connection_max",
            &[("db_client_connection_pool_name", "probes")],
            2.0,
        ),
        (
            "tasks_backend_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        ),
    ];
    for (name, labels, want) in cases {
        assert_eq!(value(&samples, name, labels), want, "{name} {labels:?}");
    }
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(value(&samples, name, &[]) > 0.0, "{name} in {samples:#?}");
    }
    // Whole seconds: a young test process may not have used one yet.
    assert!(
        samples.contains_key("process_cpu_seconds_total"),
        "{samples:#?}"
    );
    for pool in ["requests", "probes"] {
        let open = value(
            &samples,
            "db_client_connection_count",
            &[
                ("db_client_connection_pool_name", pool),
                ("db_client_connection_state", "idle"),
            ],
        ) + value(
            &samples,
            "db_client_connection_count",
            &[
                ("db_client_connection_pool_name", pool),
                ("db_client_connection_state", "used"),
            ],
        );
        assert!(
            open >= 1.0,
            "{pool}: at least the minimum connection is open"
        );
        assert_eq!(
            value(
                &samples,
                "db_client_connection_pending_requests",
                &[("db_client_connection_pool_name", pool)]
            ),
            0.0,
            "{pool}"
        );
    }
    app.stop().await;
}

/// Refusals outside the app (the connection cap, hyper's 431) are counted too.
#[tokio::test]
async fn refusals_before_any_route_are_counted_with_their_reason() {
    let app = spawn_sqlite_with(&[("MAX_CONNECTIONS", "1")]).await;
    let held = client::connect(&app.address).await;
    let mut refused = client::connect(&app.address).await;
    let (answer, _) = read_until_closed(&mut refused, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop(held);
    let mut huge = client::connect(&app.address).await;
    let head = format!(
        "GET / HTTP/1.1\r\nhost: t\r\nx-big: {}\r\n\r\n",
        "a".repeat(40_000)
    );
    let _ = huge.write_all(head.as_bytes()).await;
    let (answer, _) = read_until_closed(&mut huge, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    drop(huge);
    // The held connection is gone once the server sees it closed: retry briefly.
    // Each refusal this loop meets is one more for the count.
    let mut refusals = 1;
    let deadline = Instant::now() + Duration::from_secs(5);
    let samples = loop {
        match app.client.get(app.url("/metrics")).send().await {
            Ok(r) if r.status() == 200 => break scrape(&app).await,
            Ok(r) if r.status() == 503 && Instant::now() < deadline => refusals += 1,
            other => panic!("no scrape: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for (reason, want) in [("connection_limit", refusals), ("header_too_large", 1)] {
        assert_eq!(
            value(
                &samples,
                "tasks_backend_rejections_total",
                &[("reason", reason)]
            ),
            f64::from(want),
            "{reason}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let app = spawn_sqlite_with(&[("METRICS_ENABLED", "false")]).await;
    assert_problem(app.get("/metrics").await, 404, "METRICS_ENABLED=false").await;
    app.stop().await;
}

/// Creates sent at once: each answered once with its own task, every one counted,
/// and never more commits than creates. On SQLite creates that wait for the turn
/// to write share a commit (how many do depends on timing, so only the bound is
/// asserted; `db::group_commit`'s unit tests hold the sharing itself); on
/// PostgreSQL each create is its own commit.
async fn concurrent_creates_are_counted_with_their_commits(app: &TestApp) {
    const CREATES: usize = 40;
    let before = scrape(app).await;
    let created = futures::future::join_all((0..CREATES).map(|i| async move {
        let title = format!("at once {i}");
        let task = app.create_task(serde_json::json!({ "title": title })).await;
        (title, task["id"].as_i64().expect("an id"))
    }))
    .await;
    let mut ids: Vec<i64> = created.iter().map(|(_, id)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CREATES, "one task per create: {created:?}");
    for (title, id) in &created {
        let task: serde_json::Value = app
            .get(&format!("/api/tasks/{id}"))
            .await
            .json()
            .await
            .expect("task JSON");
        assert_eq!(
            task["title"], *title,
            "task {id} is the create that got its id"
        );
    }
    let after = scrape(app).await;
    let delta = |name| value(&after, name, &[]) - value(&before, name, &[]);
    let (tasks, commits) = (
        delta("tasks_backend_tasks_created_total"),
        delta("tasks_backend_create_commits_total"),
    );
    assert_eq!(tasks, CREATES as f64, "tasks created");
    assert!(
        (1.0..=tasks).contains(&commits),
        "{commits} commits for {tasks} tasks"
    );
    if app.database_url.starts_with("postgres") {
        assert_eq!(commits, tasks, "PostgreSQL: one commit per create");
    }
}

crate::api_tests!(concurrent_creates_are_counted_with_their_commits);
