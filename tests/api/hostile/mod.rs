//! Hostile input (issue 6): requests built to break the server, one table per thing
//! they attack. Each one gets its documented 4xx, the server keeps answering, and
//! nothing in the database changes.
//!
//! - `json`: malformed JSON, wrong types, nulls, huge numbers, bad values, invalid
//!   UTF-8 and control characters, unknown fields;
//! - `bodies`: deep nesting, bodies over the limit, a stalled upload;
//! - `paths`: ids and query strings, unknown routes;
//! - `methods`: wrong methods (405 with `Allow`);
//! - `media_types`: bodies that are not JSON, XML above all (415, unread);
//! - `headers`: targets and headers past the server's head buffer;
//! - `wire`: bytes that are not HTTP;
//! - `sql`: text that looks like SQL is data.
//!
//! Most refusals come from the application and are `application/problem+json`. A few
//! requests never reach it: hyper, the HTTP layer under poem, refuses them while
//! parsing, with a status line, `content-length: 0` and a closed connection, and
//! offers no hook to shape that answer. Those cases expect [`Expect::Bare`]:
//!
//! | request | hyper's answer |
//! | --- | --- |
//! | request line and headers over 32 KiB (`server::MAX_BUF_BYTES`, so a long target too), or more than 100 header fields | 431, empty body |
//! | bytes that are not HTTP (bad request line, control bytes or raw non-ASCII in the target or a header, unknown version, bad `Content-Length`, unknown `Transfer-Encoding`) | 400, empty body |

mod bodies;
mod headers;
mod json;
mod media_types;
mod methods;
mod paths;
mod sql;
mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::TestApp;
use crate::harness::client;

/// A request that hangs is a failure, not a slow pass.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Answered by the application: this status, as problem+json.
    Problem(u16),
    /// Refused by hyper before the application sees it: this status, empty body.
    Bare(u16),
}

impl Expect {
    fn status(self) -> u16 {
        match self {
            Self::Problem(s) | Self::Bare(s) => s,
        }
    }
}

enum Body {
    Empty,
    /// Sent with `Content-Length`.
    Sized(Vec<u8>),
    /// Sent with `Transfer-Encoding: chunked` (no `Content-Length`).
    Chunked(Vec<u8>),
}

enum Wire {
    Http {
        method: Method,
        /// `{id}` stands for the id of the task that must stay unchanged.
        path: String,
        headers: Vec<(String, Vec<u8>)>,
        body: Body,
    },
    /// Bytes written to the socket as they are (what no HTTP client would send).
    Raw(Vec<u8>),
}

pub struct Case {
    why: String,
    wire: Wire,
    expect: Expect,
}

impl Case {
    pub fn http(
        why: impl Into<String>,
        method: Method,
        path: impl Into<String>,
        expect: Expect,
    ) -> Self {
        Self {
            why: why.into(),
            wire: Wire::Http {
                method,
                path: path.into(),
                headers: Vec::new(),
                body: Body::Empty,
            },
            expect,
        }
    }

    pub fn raw(why: impl Into<String>, bytes: impl Into<Vec<u8>>, expect: Expect) -> Self {
        Self {
            why: why.into(),
            wire: Wire::Raw(bytes.into()),
            expect,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        if let Wire::Http { headers, .. } = &mut self.wire {
            headers.push((name.to_owned(), value.into()));
        }
        self
    }

    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        if let Wire::Http { body, .. } = &mut self.wire {
            *body = Body::Sized(bytes.into());
        }
        self
    }

    pub fn chunked(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        if let Wire::Http { body, .. } = &mut self.wire {
            *body = Body::Chunked(bytes.into());
        }
        self
    }
}

/// `POST /api/tasks` with a JSON content type and this body.
pub fn post(why: &str, body: impl Into<Vec<u8>>, status: u16) -> Case {
    Case::http(
        format!("POST {why}"),
        Method::POST,
        "/api/tasks",
        Expect::Problem(status),
    )
    .header("content-type", "application/json")
    .body(body)
}

/// `PATCH` of the existing task with a JSON content type and this body.
pub fn patch(why: &str, body: impl Into<Vec<u8>>, status: u16) -> Case {
    Case::http(
        format!("PATCH {why}"),
        Method::PATCH,
        "/api/tasks/{id}",
        Expect::Problem(status),
    )
    .header("content-type", "application/json")
    .body(body)
}

pub fn get(why: &str, path: impl Into<String>, status: u16) -> Case {
    Case::http(
        format!("GET {why}"),
        Method::GET,
        path,
        Expect::Problem(status),
    )
}

pub fn method(name: &str, path: &str, status: u16) -> Case {
    let method = Method::from_bytes(name.as_bytes()).expect("method name");
    let mut case = Case::http(
        format!("{name} {path}"),
        method,
        path,
        Expect::Problem(status),
    );
    if matches!(name, "POST" | "PUT" | "PATCH") {
        case = case
            .header("content-type", "application/json")
            .body(json!({"title": "wrong method"}).to_string());
    }
    case
}

/// A raw HTTP/1.1 request with `Connection: close`, so the server ends the exchange.
pub fn raw_request(head: &[u8], extra_headers: &[u8], body: &[u8]) -> Vec<u8> {
    [
        head,
        b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
        extra_headers,
        b"\r\n",
        body,
    ]
    .concat()
}

pub fn nested(open: &str, close: &str, depth: usize) -> String {
    format!("{}{}", open.repeat(depth), close.repeat(depth))
}
/// What came back, whichever way the request went out.
struct Answer {
    status: u16,
    content_type: String,
    /// The `Allow` header, which a 405 must carry (RFC 9110).
    allow: Option<String>,
    body: Vec<u8>,
}

async fn send(app: &TestApp, wire: &Wire, id: i64) -> Answer {
    match wire {
        Wire::Http {
            method,
            path,
            headers,
            body,
        } => {
            let path = path.replace("{id}", &id.to_string());
            let mut request = app
                .client
                .request(method.clone(), app.url(&path))
                .timeout(CLIENT_TIMEOUT);
            for (name, value) in headers {
                let value = reqwest::header::HeaderValue::from_bytes(value).expect("header value");
                request = request.header(name, value);
            }
            request = match body {
                Body::Empty => request,
                Body::Sized(bytes) => request.body(bytes.clone()),
                Body::Chunked(bytes) => {
                    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                        bytes.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
                    request.body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
                }
            };
            let response = request
                .send()
                .await
                .expect("an answer, not a hang or a reset");
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            };
            let content_type = header("content-type").unwrap_or_default();
            let allow = header("allow");
            let body = response.bytes().await.expect("response body").to_vec();
            Answer {
                status,
                content_type,
                allow,
                body,
            }
        }
        Wire::Raw(bytes) => raw_exchange(app, bytes).await,
    }
}

/// Writes `request` to a fresh connection and reads until the server closes it.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> Answer {
    let exchange = async {
        let mut stream = client::connect(&app.address).await;
        // The server may answer and close before reading everything: not an error here.
        let _ = stream.write_all(request).await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        answer
    };
    let answer = tokio::time::timeout(CLIENT_TIMEOUT, exchange)
        .await
        .expect("the server answers and closes the connection");
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP status line, got {head:?}"));
    let header = |wanted: &str| {
        head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
                .map(|(_, value)| value.trim().to_owned())
        })
    };
    Answer {
        status,
        content_type: header("content-type").unwrap_or_default(),
        allow: header("allow"),
        body: body.as_bytes().to_vec(),
    }
}

fn check_answer(answer: &Answer, expect: Expect, why: &str) {
    let body = String::from_utf8_lossy(&answer.body);
    assert_eq!(answer.status, expect.status(), "{why}: answered {body}");
    match expect {
        Expect::Problem(status) => {
            assert_eq!(answer.content_type, "application/problem+json", "{why}");
            let problem: Value = serde_json::from_slice(&answer.body)
                .unwrap_or_else(|e| panic!("{why}: problem body is JSON ({e}): {body}"));
            assert_eq!(problem["status"], status, "{why}: {problem}");
            assert_eq!(problem["type"], "about:blank", "{why}: {problem}");
            for field in ["title", "detail"] {
                assert!(
                    problem[field].as_str().is_some_and(|t| !t.is_empty()),
                    "{why}: {field} in {problem}"
                );
            }
            if status == 405 {
                let allow = answer.allow.as_deref().unwrap_or_default();
                assert!(
                    allow.contains("GET"),
                    "{why}: a 405 says what is allowed: {allow:?}"
                );
            }
        }
        Expect::Bare(_) => assert!(
            answer.body.is_empty(),
            "{why}: hyper's refusal has no body, got {body}"
        ),
    }
}

/// Every task, in id order: what a rejected request must leave exactly as it was.
pub async fn snapshot(app: &TestApp) -> Value {
    let response = app.get("/api/tasks?limit=500").await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("task list")
}

pub async fn assert_alive_and_unchanged(app: &TestApp, before: &Value, why: &str) {
    let health = app
        .client
        .get(app.url("/health"))
        .timeout(CLIENT_TIMEOUT)
        .send()
        .await
        .unwrap_or_else(|e| panic!("after {why}: /health answers: {e}"));
    assert_eq!(health.status(), 200, "after {why}: /health");
    assert_eq!(
        &snapshot(app).await,
        before,
        "after {why}: the tasks are unchanged"
    );
}

/// Sends every case to `app`, one after another, and checks each answer, that the
/// server still answers and that the data is unchanged after it. `what` names the
/// table in the summary line.
pub async fn refuse_all(app: &TestApp, what: &str, cases: Vec<Case>) {
    let existing = app
        .create_task(json!({
            "title": "the one that must not change",
            "description": "line one\nline two",
            "status": "in_progress",
            "due_date": "2026-12-01",
        }))
        .await;
    let id = existing["id"].as_i64().expect("id");
    let before = snapshot(app).await;
    assert!(!cases.is_empty(), "{what}: an empty table");
    let mut by_status = BTreeMap::<u16, usize>::new();
    for case in &cases {
        let answer = send(app, &case.wire, id).await;
        check_answer(&answer, case.expect, &case.why);
        assert_alive_and_unchanged(app, &before, &case.why).await;
        *by_status.entry(answer.status).or_default() += 1;
    }
    let bare = cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Bare(_)))
        .count();
    println!(
        "hostile input, {what}: {} requests refused as documented, by status {by_status:?}; \
         {} as problem+json by the app, {bare} bare by hyper; server healthy and data unchanged after each",
        cases.len(),
        cases.len() - bare,
    );
}

/// The tables together: README counts them ("110 hostile requests per backend").
#[test]
fn the_tables_hold_at_least_40_cases() {
    let tables = [
        json::cases(),
        bodies::cases(),
        paths::cases(),
        methods::cases(),
        media_types::cases(),
        headers::cases(),
        wire::cases(),
    ];
    let cases: usize = tables.iter().map(Vec::len).sum();
    assert!(cases >= 40, "at least 40 cases, have {cases}");
    println!("hostile input: {cases} requests in {} tables", tables.len());
}
