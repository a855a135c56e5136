//! Bearer tokens (`API_TOKENS_FILE`): every tasks operation against every kind of
//! credential, what stays open, the document's declaration, reloads (by file
//! change, under load, on SIGHUP, and a bad file that keeps the old set), and no
//! token, hash or header in a log line, a metric or an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tasks_backend::access;
use tasks_backend::domain::TokenHash;
use tempfile::TempDir;

use crate::harness::process::ServerProcess;
use crate::harness::{
    TestApp, assert_problem, spawn_postgres_with, spawn_sqlite, spawn_sqlite_with,
};

/// A tokens file with a `read` and a `write` token, issued as an operator would.
pub struct TokenFile {
    /// Keeps the file's directory as long as the test needs it; mounted into containers.
    dir: TempDir,
    pub path: PathBuf,
    pub read: String,
    pub write: String,
}

impl TokenFile {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tokens");
        let read = access::add(&path, "dashboard", "read").expect("read token");
        let write = access::add(&path, "ci", "write").expect("write token");
        Self {
            dir,
            path,
            read,
            write,
        }
    }

    pub fn setting(&self) -> (&'static str, String) {
        ("API_TOKENS_FILE", self.path.display().to_string())
    }

    /// Opens the file to the image's user (uid 10001), as a Kubernetes secret's
    /// default mode 0644 does, and returns its directory, for a mount.
    pub fn open_to_the_image(&self) -> &Path {
        set_mode(self.dir.path(), 0o755);
        set_mode(&self.path, 0o644);
        self.dir.path()
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Replaces the file the way Kubernetes and `token remove` do: a whole new file
/// renamed over the old one, so a reader never sees half of it.
fn replace_file(path: &Path, text: &str) {
    let temp = path.with_extension("new");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

fn line(name: &str, scope: &str, token: &str) -> String {
    format!("{name} {scope} {}\n", TokenHash::of(token).to_hex())
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("an answer")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A task of its own for one case, created with the write token.
async fn new_task(app: &TestApp, tokens: &TokenFile) -> i64 {
    let created = send(
        app,
        Method::POST,
        "/api/tasks",
        Some(&bearer(&tokens.write)),
        Some(&json!({"title": "guarded"})),
    )
    .await;
    assert_eq!(created.status(), 201, "the write token creates a task");
    created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Credential {
    Absent,
    Malformed,
    Unknown,
    Read,
    Write,
}

pub async fn every_operation_answers_each_credential_as_documented(
    app: &TestApp,
    tokens: &TokenFile,
) {
    use Credential::*;
    let unknown = "0".repeat(64);
    // (method, path with {id}, body, success status)
    let operations: [(Method, &str, Option<Value>, u16); 5] = [
        (Method::GET, "/api/tasks", None, 200),
        (
            Method::POST,
            "/api/tasks",
            Some(json!({"title": "new"})),
            201,
        ),
        (Method::GET, "/api/tasks/{id}", None, 200),
        (
            Method::PATCH,
            "/api/tasks/{id}",
            Some(json!({"status": "done"})),
            200,
        ),
        (Method::DELETE, "/api/tasks/{id}", None, 204),
    ];
    for (method, template, body, ok) in operations {
        let writes = method != Method::GET;
        for credential in [Absent, Malformed, Unknown, Read, Write] {
            let id = new_task(app, tokens).await;
            let path = template.replace("{id}", &id.to_string());
            let header = match credential {
                Absent => None,
                Malformed => Some("Basic ZGFzaGJvYXJkOnJlYWQ=".to_owned()),
                Unknown => Some(bearer(&unknown)),
                Read => Some(bearer(&tokens.read)),
                Write => Some(bearer(&tokens.write)),
            };
            // (status, the challenge's error, or "" for none / no challenge)
            let (want_status, want_error) = match credential {
                Absent => (401, ""),
                Malformed | Unknown => (401, "invalid_token"),
                Read if writes => (403, "insufficient_scope"),
                Read | Write => (ok, ""),
            };
            let case = format!("{method} {template} with {credential:?} credential");
            let response = send(app, method.clone(), &path, header.as_deref(), body.as_ref()).await;
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            if want_status == ok {
                assert_eq!(response.status(), ok, "{case}");
                assert!(challenge.is_none(), "{case}: {challenge:?}");
                continue;
            }
            let problem = assert_problem(response, want_status, &case).await;
            let challenge = challenge.unwrap_or_else(|| panic!("{case}: no WWW-Authenticate"));
            assert!(challenge.starts_with("Bearer "), "{case}: {challenge}");
            if want_error.is_empty() {
                assert!(!challenge.contains("error="), "{case}: {challenge}");
            } else {
                assert!(
                    challenge.contains(&format!("error=\"{want_error}\"")),
                    "{case}: {challenge}"
                );
            }
            let shown = problem.to_string();
            for secret in [&tokens.read, &tokens.write, &unknown] {
                assert!(!shown.contains(secret.as_str()), "{case}: {shown}");
            }
            assert!(!shown.to_lowercase().contains("basic"), "{case}: {shown}");
            // Nothing was done: the task is as it was.
            let after = send(
                app,
                Method::GET,
                &format!("/api/tasks/{id}"),
                Some(&bearer(&tokens.read)),
                None,
            )
            .await;
            assert_eq!(after.status(), 200, "{case}: the task is still there");
            let task: Value = after.json().await.unwrap();
            assert_eq!(task["status"], "todo", "{case}: unchanged");
        }
    }
}

#[tokio::test]
async fn sqlite_every_operation_answers_each_credential_as_documented() {
    let tokens = TokenFile::new();
    let (key, value) = tokens.setting();
    let app = spawn_sqlite_with(&[(key, &value)]).await;
    every_operation_answers_each_credential_as_documented(&app, &tokens).await;
    app.stop().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn postgres_every_operation_answers_each_credential_as_documented() {
    let tokens = TokenFile::new();
    let (key, value) = tokens.setting();
    let app = spawn_postgres_with(&[(key, &value)]).await;
    every_operation_answers_each_credential_as_documented(&app, &tokens).await;
    app.stop().await;
}

#[tokio::test]
async fn the_probes_metrics_and_docs_stay_open_unless_the_docs_are_asked_closed() {
    let tokens = TokenFile::new();
    let (key, value) = tokens.setting();
    let app = spawn_sqlite_with(&[(key, &value)]).await;
    for path in [
        "/livez",
        "/readyz",
        "/health",
        "/metrics",
        "/openapi.json",
        "/docs",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path} without a token");
    }
    app.stop().await;

    let app = spawn_sqlite_with(&[(key, &value), ("DOCS_REQUIRE_TOKEN", "true")]).await;
    for path in ["/openapi.json", "/docs"] {
        let refused = app.get(path).await;
        assert_problem(refused, 401, &format!("{path} without a token")).await;
        let ok = send(&app, Method::GET, path, Some(&bearer(&tokens.read)), None).await;
        assert_eq!(ok.status(), 200, "{path} with the read token");
    }
    for path in ["/livez", "/readyz", "/health", "/metrics"] {
        assert_eq!(app.get(path).await.status(), 200, "{path} stays open");
    }
    app.stop().await;
}

#[tokio::test]
async fn without_a_tokens_file_nothing_changes() {
    let app = spawn_sqlite().await;
    let created = send(
        &app,
        Method::POST,
        "/api/tasks",
        Some("Bearer whatever"),
        Some(&json!({"title": "open"})),
    )
    .await;
    assert_eq!(created.status(), 201, "any header or none is ignored");
    assert_eq!(app.get("/api/tasks").await.status(), 200);
    app.stop().await;
}

/// Every tasks operation declares the bearer scheme and 401/403; the empty
/// requirement ("or no token") is there only while tokens are off.
#[tokio::test]
async fn the_document_declares_the_bearer_scheme_on_every_tasks_operation() {
    let tokens = TokenFile::new();
    let (key, value) = tokens.setting();
    for (app, tokens_on) in [
        (spawn_sqlite().await, false),
        (spawn_sqlite_with(&[(key, &value)]).await, true),
    ] {
        let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
        let scheme = &doc["components"]["securitySchemes"]["bearerToken"];
        assert_eq!(scheme["type"], "http", "{scheme}");
        assert_eq!(scheme["scheme"], "bearer", "{scheme}");
        let mut tasks_operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let case = format!("{method} {path} (tokens on: {tokens_on})");
                let security = op.get("security").and_then(Value::as_array);
                if !path.starts_with("/api/tasks") {
                    assert!(security.is_none(), "{case} is open: {op}");
                    continue;
                }
                tasks_operations += 1;
                let security = security.unwrap_or_else(|| panic!("{case}: no security"));
                let mut want = vec![json!({"bearerToken": []})];
                if !tokens_on {
                    want.push(json!({}));
                }
                assert_eq!(*security, want, "{case}");
                for status in ["401", "403"] {
                    let response = &op["responses"][status];
                    let challenge = response["headers"].as_object().and_then(|h| {
                        h.iter()
                            .find(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
                    });
                    assert!(
                        challenge.is_some(),
                        "{case}: {status} with WWW-Authenticate: {response}"
                    );
                }
            }
        }
        assert_eq!(tasks_operations, 5, "tokens on: {tokens_on}");
        app.stop().await;
    }
}

/// Polls `check` until it holds, for up to `limit` (a reload is polled every 2 s).
async fn eventually(limit: Duration, what: &str, check: impl AsyncFn() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status_with(app: &TestApp, token: &str) -> u16 {
    status_of(app, token, "/api/tasks?limit=1").await
}

async fn status_of(app: &TestApp, token: &str, path: &str) -> u16 {
    send(app, Method::GET, path, Some(&bearer(token)), None)
        .await
        .status()
        .as_u16()
}

/// Kubernetes' way: the file is a symlink into `..data`, itself a symlink to a
/// directory of the secret's version; an update swaps `..data` atomically. Modes
/// are a secret's defaults (0644), so the image's user reads it through a mount.
pub struct MountedSecret {
    root: TempDir,
    versions: u32,
}

impl MountedSecret {
    fn new(text: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        set_mode(root.path(), 0o755);
        let mut secret = Self { root, versions: 0 };
        secret.update(text);
        std::os::unix::fs::symlink("..data/tokens", secret.path()).unwrap();
        secret
    }

    /// The first version for [`rotation_under_load_loses_no_request`].
    pub fn for_rotation() -> Self {
        Self::new(&format!(
            "{}{}",
            line("steady", "read", "steady-token"),
            line("setup", "write", "setup-token")
        ))
    }

    /// The directory to mount; the file is `tokens` in it.
    pub fn dir(&self) -> &Path {
        self.root.path()
    }

    fn path(&self) -> PathBuf {
        self.root.path().join("tokens")
    }

    fn update(&mut self, text: &str) {
        self.versions += 1;
        let version = format!("..v{}", self.versions);
        let file = self.root.path().join(&version).join("tokens");
        std::fs::create_dir(self.root.path().join(&version)).unwrap();
        set_mode(&self.root.path().join(&version), 0o755);
        std::fs::write(&file, text).unwrap();
        set_mode(&file, 0o644);
        let swap = self.root.path().join("..data_tmp");
        std::os::unix::fs::symlink(&version, &swap).unwrap();
        std::fs::rename(&swap, self.root.path().join("..data")).unwrap();
    }
}

/// A client loops with a token that every version of the file holds while the
/// secret is rotated three times: not one of its requests fails, and each new
/// version takes effect (a new token admitted, a dropped one refused).
#[tokio::test]
async fn rotation_under_load_loses_no_request_with_a_valid_token() {
    let mut secret = MountedSecret::for_rotation();
    let path = secret.path().display().to_string();
    let app = spawn_sqlite_with(&[("API_TOKENS_FILE", &path)]).await;
    rotation_under_load_loses_no_request(app, &mut secret).await;
}

/// The rotation test's body, for an app reading `secret` (started with
/// [`MountedSecret::for_rotation`]).
pub async fn rotation_under_load_loses_no_request(app: TestApp, secret: &mut MountedSecret) {
    let app = Arc::new(app);
    let created = send(
        &app,
        Method::POST,
        "/api/tasks",
        Some(&bearer("setup-token")),
        Some(&json!({"title": "read while rotating"})),
    )
    .await;
    assert_eq!(created.status(), 201);
    let task = format!(
        "/api/tasks/{}",
        created.json::<Value>().await.unwrap()["id"]
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let last_failure = Arc::new(std::sync::Mutex::new(0u16));
    // GET one task: lists would meet MAX_IN_FLIGHT_LISTS (4) and be shed.
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (app, stop, done, failed) = (app.clone(), stop.clone(), done.clone(), failed.clone());
        let (task, last_failure) = (task.clone(), last_failure.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let status = status_of(&app, "steady-token", &task).await;
                done.fetch_add(1, Ordering::Relaxed);
                if status != 200 {
                    failed.fetch_add(1, Ordering::Relaxed);
                    *last_failure.lock().unwrap() = status;
                }
            }
        }));
    }
    let limit = Duration::from_secs(10);
    for round in 1..=3 {
        let newcomer = format!("new-token-{round}");
        secret.update(&format!(
            "{}{}",
            line("steady", "read", "steady-token"),
            line(&format!("new{round}"), "write", &newcomer)
        ));
        eventually(
            limit,
            &format!("round {round}: the new token admitted"),
            async || status_of(&app, &newcomer, &task).await == 200,
        )
        .await;
        if round > 1 {
            let dropped = format!("new-token-{}", round - 1);
            assert_eq!(
                status_of(&app, &dropped, &task).await,
                401,
                "round {round}: the previous version's token is refused"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let (done, failed) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(done > 100, "the clients kept asking: {done} requests");
    let last = *last_failure.lock().unwrap();
    assert_eq!(
        failed, 0,
        "{failed} of {done} requests with a valid token failed (the last with {last})"
    );
    Arc::into_inner(app).expect("clients done").stop().await;
}

#[tokio::test]
async fn a_bad_new_file_keeps_the_last_good_tokens() {
    let tokens = TokenFile::new();
    let (key, value) = tokens.setting();
    let app = spawn_sqlite_with(&[(key, &value)]).await;
    for bad in ["ci write not-a-hash\n", "only-a-name\n"] {
        replace_file(&tokens.path, bad);
        // Two polls and more: time enough for a reload to have happened.
        tokio::time::sleep(Duration::from_millis(4500)).await;
        assert_eq!(status_with(&app, &tokens.write).await, 200, "after {bad:?}");
        assert_eq!(status_with(&app, &tokens.read).await, 200, "after {bad:?}");
    }
    std::fs::remove_file(&tokens.path).unwrap();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(status_with(&app, &tokens.read).await, 200, "after removal");
    // A good file again is taken: the read token is gone.
    replace_file(&tokens.path, &line("ci", "write", &tokens.write));
    eventually(Duration::from_secs(10), "the good file taken", async || {
        status_with(&app, &tokens.read).await == 401
    })
    .await;
    assert_eq!(status_with(&app, &tokens.write).await, 200);
    app.stop().await;
}

fn json_lines_where(server: &ServerProcess, want: impl Fn(&Value) -> bool) -> usize {
    server
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| want(v))
        .count()
}

/// The real process: SIGHUP reloads (and no longer ends it), a bad file logs one
/// line however many polls see it, and nothing secret reaches a log line, the
/// metrics or an error body, even at LOG_LEVEL=debug.
#[tokio::test]
async fn sighup_reloads_a_bad_file_logs_one_line_and_no_secret_is_logged() {
    let tokens = TokenFile::new();
    let work = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/tasks.db", work.path().display());
    let (key, value) = tokens.setting();
    let server = ServerProcess::start_with(
        work.path(),
        &[
            ("DATABASE_URL", &url),
            (key, &value),
            ("LOG_LEVEL", "debug"),
        ],
    );
    let client = crate::harness::client::http();
    let call = async |method: Method, path: &str, auth: Option<&str>| {
        let mut request = client.request(method, format!("{}{path}", server.address));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.json(&json!({"title": "x"})).send().await.unwrap()
    };
    let unknown = "f".repeat(64);
    let mut bodies = String::new();
    for (method, auth, want) in [
        (Method::POST, Some(bearer(&tokens.write)), 201),
        (Method::POST, Some(bearer(&tokens.read)), 403),
        (Method::GET, Some(bearer(&unknown)), 401),
        (Method::GET, Some(format!("Basic {}", tokens.write)), 401),
        (Method::GET, None, 401),
    ] {
        let response = call(method.clone(), "/api/tasks", auth.as_deref()).await;
        assert_eq!(response.status().as_u16(), want, "{method} with {auth:?}");
        bodies.push_str(&response.text().await.unwrap());
    }
    bodies.push_str(
        &call(Method::GET, "/metrics", None)
            .await
            .text()
            .await
            .unwrap(),
    );

    server.signal("HUP");
    server.wait_for_log(|v| v["message"] == "API tokens reloaded" && v["reason"] == "SIGHUP");
    assert_eq!(
        call(Method::GET, "/livez", None).await.status(),
        200,
        "SIGHUP does not end the process"
    );

    // A token pasted where its hash belongs: refused by line number, never shown.
    let pasted = "pasted-token-0123456789";
    let kept = TokenHash::of(&tokens.write).to_hex();
    replace_file(
        &tokens.path,
        &format!("ci write {kept}\nci2 write {pasted}\n"),
    );
    server.wait_for_log(|v| {
        v["level"] == "WARN" && v["message"].as_str().is_some_and(|m| m.contains("line 2"))
    });
    tokio::time::sleep(Duration::from_millis(5000)).await;
    let warnings = json_lines_where(&server, |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("keeping the last good tokens"))
    });
    assert_eq!(warnings, 1, "one line for one bad file, however many polls");
    let read = call(Method::GET, "/api/tasks", Some(&bearer(&tokens.read))).await;
    assert_eq!(read.status(), 200, "the last good set is kept");

    let logs = server.logs().join("\n");
    let secrets = [
        tokens.read.clone(),
        tokens.write.clone(),
        unknown.clone(),
        pasted.to_owned(),
        TokenHash::of(&tokens.read).to_hex(),
        kept.clone(),
        kept.to_uppercase(),
    ];
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a log line holds a secret: {logs}"
        );
        assert!(
            !bodies.contains(secret.as_str()),
            "a body holds a secret: {bodies}"
        );
    }
    for word in ["authorization", "bearer "] {
        assert!(
            !logs.to_lowercase().contains(word),
            "a log line mentions {word:?}: {logs}"
        );
    }
    assert_eq!(server.stop(), Some(0));
}
