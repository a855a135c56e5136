//! Hostile input (issue 6): a table of requests built to break the server. Each one
//! gets its documented 4xx, the server keeps answering, and nothing in the database
//! changes.
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

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, assert_problem};

/// A request that hangs is a failure, not a slow pass.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
const TEN_MB: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
enum Expect {
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

struct Case {
    why: String,
    wire: Wire,
    expect: Expect,
}

impl Case {
    fn http(
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

    fn raw(why: impl Into<String>, bytes: impl Into<Vec<u8>>, expect: Expect) -> Self {
        Self {
            why: why.into(),
            wire: Wire::Raw(bytes.into()),
            expect,
        }
    }

    fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        if let Wire::Http { headers, .. } = &mut self.wire {
            headers.push((name.to_owned(), value.into()));
        }
        self
    }

    fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        if let Wire::Http { body, .. } = &mut self.wire {
            *body = Body::Sized(bytes.into());
        }
        self
    }

    fn chunked(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        if let Wire::Http { body, .. } = &mut self.wire {
            *body = Body::Chunked(bytes.into());
        }
        self
    }
}

/// `POST /api/tasks` with a JSON content type and this body.
fn post(why: &str, body: impl Into<Vec<u8>>, status: u16) -> Case {
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
fn patch(why: &str, body: impl Into<Vec<u8>>, status: u16) -> Case {
    Case::http(
        format!("PATCH {why}"),
        Method::PATCH,
        "/api/tasks/{id}",
        Expect::Problem(status),
    )
    .header("content-type", "application/json")
    .body(body)
}

fn get(why: &str, path: impl Into<String>, status: u16) -> Case {
    Case::http(
        format!("GET {why}"),
        Method::GET,
        path,
        Expect::Problem(status),
    )
}

fn method(name: &str, path: &str, status: u16) -> Case {
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
fn raw_request(head: &[u8], extra_headers: &[u8], body: &[u8]) -> Vec<u8> {
    [
        head,
        b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
        extra_headers,
        b"\r\n",
        body,
    ]
    .concat()
}

fn nested(open: &str, close: &str, depth: usize) -> String {
    format!("{}{}", open.repeat(depth), close.repeat(depth))
}

fn hostile_cases() -> Vec<Case> {
    let ten_mb_json = format!(
        r#"{{"title": "t", "description": "{}"}}"#,
        "x".repeat(TEN_MB)
    );
    let many_headers: String = (0..200).map(|i| format!("x-h{i}: v\r\n")).collect();
    let json_ct = b"Content-Type: application/json\r\n".as_slice();
    vec![
        // Malformed and truncated JSON.
        post("truncated after a key", r#"{"title": "#, 400),
        post("truncated inside a string", r#"{"title": "abc"#, 400),
        post("a lone opening brace", "{", 400),
        post(
            "trailing garbage after the object",
            r#"{"title": "a"} x"#,
            400,
        ),
        post(
            "two objects back to back",
            r#"{"title": "a"}{"title": "b"}"#,
            400,
        ),
        post("single-quoted JSON", "{'title': 'a'}", 400),
        post("a trailing comma", r#"{"title": "a",}"#, 400),
        post("a comment inside", r#"{"title": "a" /* hi */}"#, 400),
        post("NaN as a value", r#"{"title": "a", "status": NaN}"#, 400),
        post("an empty body", "", 400),
        post("a whitespace-only body", " \n\t ", 400),
        post(
            "a byte-order mark before the JSON",
            "\u{feff}{\"title\": \"a\"}",
            400,
        ),
        // The wrong shape or wrong types.
        post("JSON null as the body", "null", 400),
        post("a bare string as the body", r#""a title""#, 400),
        post("an array of tasks", r#"[{"title": "a"}]"#, 400),
        post("title as a number", r#"{"title": 5}"#, 400),
        post("title as a boolean", r#"{"title": true}"#, 400),
        post("title as an array", r#"{"title": ["a"]}"#, 400),
        post("title as an object", r#"{"title": {"text": "a"}}"#, 400),
        post("status as a number", r#"{"title": "a", "status": 1}"#, 400),
        post(
            "due_date as a number",
            r#"{"title": "a", "due_date": 20261201}"#,
            400,
        ),
        post(
            "description as an array",
            r#"{"title": "a", "description": []}"#,
            400,
        ),
        // Nulls.
        post("title null", r#"{"title": null}"#, 400),
        post("status null", r#"{"title": "a", "status": null}"#, 400),
        patch("title null", r#"{"title": null}"#, 400),
        patch("status null", r#"{"status": null}"#, 400),
        // Huge numbers.
        post("a number past f64 as the title", r#"{"title": 1e999}"#, 400),
        post(
            "a 30-digit integer as the title",
            r#"{"title": 123456789012345678901234567890}"#,
            400,
        ),
        post(
            "a number past f64 as the status",
            r#"{"title": "a", "status": -1e400}"#,
            400,
        ),
        patch("a number past f64 as the title", r#"{"title": 1e999}"#, 400),
        // Bad values.
        post(
            "status in upper case",
            r#"{"title": "a", "status": "DONE"}"#,
            400,
        ),
        post(
            "status with a trailing space",
            r#"{"title": "a", "status": "todo "}"#,
            400,
        ),
        post(
            "due_date 30 February",
            r#"{"title": "a", "due_date": "2026-02-30"}"#,
            400,
        ),
        post(
            "due_date with a five-digit year",
            r#"{"title": "a", "due_date": "12026-01-01"}"#,
            400,
        ),
        post(
            "due_date 0000-00-00",
            r#"{"title": "a", "due_date": "0000-00-00"}"#,
            400,
        ),
        post(
            "a title of ideographic spaces only",
            json!({"title": "\u{3000}\u{3000}"}).to_string(),
            400,
        ),
        post(
            "a title of 201 emoji",
            json!({"title": "🚀".repeat(201)}).to_string(),
            400,
        ),
        post(
            "an id chosen by the client",
            r#"{"title": "a", "id": 1}"#,
            400,
        ),
        // Invalid UTF-8 and control characters.
        post(
            "invalid UTF-8 bytes in a string",
            b"{\"title\": \"\xff\xfe\"}".to_vec(),
            400,
        ),
        post(
            "an overlong UTF-8 encoding of '/'",
            b"{\"title\": \"\xc0\xaf\"}".to_vec(),
            400,
        ),
        post("a lone surrogate escape", r#"{"title": "\ud800"}"#, 400),
        post(
            "an escaped NUL in the title",
            r#"{"title": "a\u0000b"}"#,
            400,
        ),
        post(
            "an escaped ESC in the title",
            r#"{"title": "a\u001b[31mred"}"#,
            400,
        ),
        post(
            "a raw control byte inside a string",
            b"{\"title\": \"a\x01b\"}".to_vec(),
            400,
        ),
        post(
            "a bell character in the description",
            r#"{"title": "a", "description": "ding\u0007"}"#,
            400,
        ),
        patch(
            "invalid UTF-8 bytes in the title",
            b"{\"title\": \"\xed\xa0\x80\"}".to_vec(),
            400,
        ),
        patch("an escaped NUL in the title", r#"{"title": "\u0000"}"#, 400),
        // Unknown fields.
        post("an unknown field", r#"{"title": "a", "priority": 1}"#, 400),
        post(
            "a __proto__ field",
            r#"{"title": "a", "__proto__": {"admin": true}}"#,
            400,
        ),
        patch("an unknown field", r#"{"colour": "red"}"#, 400),
        patch(
            "created_at",
            r#"{"created_at": "2000-01-01T00:00:00Z"}"#,
            400,
        ),
        // Deep nesting and big bodies.
        post(
            "100 000 opening brackets (over the body limit)",
            "[".repeat(100_000),
            413,
        ),
        post(
            "30 000 nested arrays (under the body limit)",
            nested("[", "]", 30_000),
            400,
        ),
        post(
            "a title of 10 000 nested objects",
            format!(r#"{{"title": {}}}"#, nested(r#"{"a":"#, "}", 10_000)),
            400,
        ),
        Case::http(
            "POST 30 000 nested arrays, chunked",
            Method::POST,
            "/api/tasks",
            Expect::Problem(400),
        )
        .header("content-type", "application/json")
        .chunked(nested("[", "]", 30_000)),
        post("a 10 MB body with Content-Length", ten_mb_json.clone(), 413),
        Case::http(
            "POST a 10 MB body, chunked (no Content-Length)",
            Method::POST,
            "/api/tasks",
            Expect::Problem(413),
        )
        .header("content-type", "application/json")
        .chunked(ten_mb_json.clone()),
        patch("a 10 MB body with Content-Length", ten_mb_json, 413),
        // Ids that are negative, overflowing or not numbers.
        get("a negative id", "/api/tasks/-1", 404),
        get("id 0", "/api/tasks/0", 404),
        get("the largest i64 id", "/api/tasks/9223372036854775807", 404),
        get(
            "the largest i64 id plus one",
            "/api/tasks/9223372036854775808",
            400,
        ),
        get(
            "the smallest i64 id minus one",
            "/api/tasks/-9223372036854775809",
            400,
        ),
        get(
            "a 10 000-digit id",
            format!("/api/tasks/{}", "9".repeat(10_000)),
            400,
        ),
        get("a non-numeric id", "/api/tasks/abc", 400),
        get("an id in exponent form", "/api/tasks/1e3", 400),
        get("an id with a percent-encoded NUL", "/api/tasks/1%00", 400),
        get(
            "an id with invalid percent-encoded UTF-8",
            "/api/tasks/%ff%fe",
            400,
        ),
        get("an id that is SQL", "/api/tasks/1%20OR%201%3D1", 400),
        get(
            "an encoded path traversal",
            "/api/tasks/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            400,
        ),
        Case::http(
            "DELETE the smallest i64 id",
            Method::DELETE,
            "/api/tasks/-9223372036854775808",
            Expect::Problem(404),
        ),
        Case::http(
            "DELETE an overflowing id",
            Method::DELETE,
            "/api/tasks/99999999999999999999",
            Expect::Problem(400),
        ),
        Case::http(
            "PATCH a non-numeric id",
            Method::PATCH,
            "/api/tasks/x",
            Expect::Problem(400),
        )
        .header("content-type", "application/json")
        .body(r#"{"title": "a"}"#),
        // Query strings.
        get("limit 0", "/api/tasks?limit=0", 400),
        get("a negative limit", "/api/tasks?limit=-1", 400),
        get("limit 501", "/api/tasks?limit=501", 400),
        get(
            "an overflowing limit",
            "/api/tasks?limit=99999999999999999999999",
            400,
        ),
        get("a negative offset", "/api/tasks?offset=-5", 400),
        get(
            "a 30 000-digit offset",
            format!("/api/tasks?offset={}", "9".repeat(30_000)),
            400,
        ),
        get(
            "an unknown status filter",
            "/api/tasks?status=finished",
            400,
        ),
        get(
            "a status filter that is SQL",
            "/api/tasks?status=todo%27%20OR%20%271%27%3D%271",
            400,
        ),
        // Wrong methods and routes.
        method("PUT", "/api/tasks/{id}", 405),
        method("POST", "/api/tasks/{id}", 405),
        method("DELETE", "/api/tasks", 405),
        method("PATCH", "/api/tasks", 405),
        method("TRACE", "/api/tasks", 405),
        method("FOO", "/api/tasks", 405),
        method("POST", "/health", 405),
        method("DELETE", "/openapi.json", 405),
        method("POST", "/docs", 405),
        get("a path below a task", "/api/tasks/{id}/extra", 404),
        get("an upper-case route", "/API/TASKS", 404),
        // Wrong content types.
        Case::http(
            "POST as text/plain",
            Method::POST,
            "/api/tasks",
            Expect::Problem(415),
        )
        .header("content-type", "text/plain")
        .body(r#"{"title": "a"}"#),
        Case::http(
            "POST with no content type",
            Method::POST,
            "/api/tasks",
            Expect::Problem(415),
        )
        .body(r#"{"title": "a"}"#),
        Case::http(
            "POST as a form",
            Method::POST,
            "/api/tasks",
            Expect::Problem(415),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("title=a"),
        Case::http(
            "POST as multipart",
            Method::POST,
            "/api/tasks",
            Expect::Problem(415),
        )
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\na\r\n--x--\r\n"),
        Case::http(
            "POST as XML",
            Method::POST,
            "/api/tasks",
            Expect::Problem(415),
        )
        .header("content-type", "application/xml")
        .body("<task><title>a</title></task>"),
        Case::http(
            "POST with an unparsable content type",
            Method::POST,
            "/api/tasks",
            Expect::Problem(415),
        )
        .header("content-type", "%%%")
        .body(r#"{"title": "a"}"#),
        Case::http(
            "POST with a content type of invalid UTF-8",
            Method::POST,
            "/api/tasks",
            Expect::Problem(415),
        )
        .header("content-type", b"application/json\xff".to_vec())
        .body(r#"{"title": "a"}"#),
        Case::http(
            "PATCH as text/plain",
            Method::PATCH,
            "/api/tasks/{id}",
            Expect::Problem(415),
        )
        .header("content-type", "text/plain")
        .body(r#"{"title": "a"}"#),
        // Very long URLs and headers: past the server's head buffer the app never
        // sees them. (Raw: HTTP clients refuse to send a target this long.)
        Case::raw(
            "GET a 40 000-byte path",
            raw_request(
                format!("GET /api/tasks/{} HTTP/1.1", "1".repeat(40_000)).as_bytes(),
                b"",
                b"",
            ),
            Expect::Bare(431),
        ),
        Case::http(
            "GET with a 40 000-byte header",
            Method::GET,
            "/api/tasks",
            Expect::Bare(431),
        )
        .header("x-padding", "a".repeat(40_000)),
        Case::http(
            "GET with a 1 MB header",
            Method::GET,
            "/api/tasks",
            Expect::Bare(431),
        )
        .header("x-padding", "a".repeat(1024 * 1024)),
        Case::raw(
            "GET with 200 header fields",
            raw_request(b"GET /api/tasks HTTP/1.1", many_headers.as_bytes(), b""),
            Expect::Bare(431),
        ),
        // Bytes that are not HTTP.
        Case::raw(
            "a request line that is not HTTP",
            b"GARBAGE\r\n\r\n".to_vec(),
            Expect::Bare(400),
        ),
        Case::raw(
            "an unknown HTTP version",
            b"GET /health HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            Expect::Bare(400),
        ),
        Case::raw(
            "a raw non-ASCII byte in the target",
            raw_request(b"GET /api/tasks/\xff HTTP/1.1", b"", b""),
            Expect::Bare(400),
        ),
        Case::raw(
            "a control byte in a header value",
            raw_request(b"GET /health HTTP/1.1", b"X-Bad: a\x01b\r\n", b""),
            Expect::Bare(400),
        ),
        Case::raw(
            "a Content-Length that is not a number",
            raw_request(
                b"POST /api/tasks HTTP/1.1",
                &[json_ct, b"Content-Length: abc\r\n"].concat(),
                br#"{"title": "a"}"#,
            ),
            Expect::Bare(400),
        ),
        Case::raw(
            "two different Content-Lengths",
            raw_request(
                b"POST /api/tasks HTTP/1.1",
                &[json_ct, b"Content-Length: 14\r\nContent-Length: 15\r\n"].concat(),
                br#"{"title": "a"} "#,
            ),
            Expect::Bare(400),
        ),
        Case::raw(
            "an unknown Transfer-Encoding",
            raw_request(
                b"POST /api/tasks HTTP/1.1",
                &[json_ct, b"Transfer-Encoding: gzip\r\n"].concat(),
                br#"{"title": "a"}"#,
            ),
            Expect::Bare(400),
        ),
    ]
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
    let addr = app.address.trim_start_matches("http://");
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
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
async fn snapshot(app: &TestApp) -> Value {
    let response = app.get("/api/tasks?limit=500").await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("task list")
}

async fn assert_alive_and_unchanged(app: &TestApp, before: &Value, why: &str) {
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

async fn hostile_requests_get_their_4xx_and_change_nothing(app: &TestApp) {
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
    let cases = hostile_cases();
    assert!(cases.len() >= 40, "at least 40 cases, have {}", cases.len());
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
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
        "hostile input: {} requests refused as documented, by status {by_status:?}; \
         {} as problem+json by the app, {bare} bare by hyper; server healthy and data unchanged after each",
        cases.len(),
        cases.len() - bare,
    );
}

/// Text that looks like SQL (or like format strings, or odd Unicode) is data: it is
/// stored and read back byte for byte, and the table is still there afterwards.
async fn sql_looking_text_is_stored_verbatim_and_never_executed(app: &TestApp) {
    let texts = [
        "'; DROP TABLE tasks; --",
        "Robert'); DROP TABLE tasks;--",
        "\" OR \"\"=\"",
        "1 OR 1=1",
        "' UNION SELECT id, title FROM tasks --",
        "'||(SELECT pg_sleep(5))||'",
        "; SELECT * FROM sqlite_master; --",
        "%_\\ LIKE '%'",
        "$1 $$ $tag$ ?1 :name @p",
        "%s %n %x {0} ${jndi:ldap://127.0.0.1/x}",
        "<script>alert(1)</script>",
        "ünïcödé 🚀 \u{202e}txet desrever\u{202c} e\u{301}",
    ];
    let mut ids = Vec::new();
    for text in texts {
        let created = app
            .create_task(json!({"title": text, "description": text}))
            .await;
        assert_eq!(created["title"], text, "create echoes {text:?}");
        ids.push((created["id"].as_i64().expect("id"), text));
    }
    for (id, text) in &ids {
        let read: Value = app
            .get(&format!("/api/tasks/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["title"], *text, "read back title {text:?}");
        assert_eq!(read["description"], *text, "read back description {text:?}");
    }
    // The same strings as updates, and as a filter value (refused, never run).
    let (first, _) = ids[0];
    for text in texts {
        let response = app
            .patch_json(
                &format!("/api/tasks/{first}"),
                &json!({"description": text}),
            )
            .await;
        assert_eq!(response.status(), 200, "patch with {text:?}");
        let read: Value = app
            .get(&format!("/api/tasks/{first}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["description"], text, "patched description {text:?}");
    }
    let filter = app
        .client
        .get(app.url("/api/tasks"))
        .query(&[("status", "todo' OR '1'='1")])
        .send()
        .await
        .unwrap();
    assert_problem(filter, 400, "a status filter that is SQL").await;
    let list = snapshot(app).await;
    assert_eq!(list["total"], texts.len(), "the table is intact: {list}");
    let titles: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, texts, "every row, in order, verbatim");
}

/// A client that sends half a body and stops must not hold up anyone else.
async fn a_stalled_upload_does_not_block_other_clients(app: &TestApp) {
    let before = snapshot(app).await;
    let addr = app.address.trim_start_matches("http://");
    let mut stalled = Vec::new();
    for _ in 0..16 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = raw_request(
            b"POST /api/tasks HTTP/1.1",
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n",
            br#"{"title": "never fin"#,
        );
        stream.write_all(&head).await.expect("write half a request");
        stalled.push(stream);
    }
    let created = app.create_task(json!({"title": "still served"})).await;
    assert_eq!(created["title"], "still served");
    drop(stalled);
    let after = snapshot(app).await;
    assert_eq!(
        after["total"].as_u64(),
        before["total"].as_u64().map(|n| n + 1),
        "only the complete request was stored"
    );
    assert_alive_and_unchanged(app, &after, "16 stalled uploads were dropped").await;
}

crate::api_tests!(
    hostile_requests_get_their_4xx_and_change_nothing,
    sql_looking_text_is_stored_verbatim_and_never_executed,
    a_stalled_upload_does_not_block_other_clients,
);
