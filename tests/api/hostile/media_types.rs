//! Bodies that are not JSON: refused 415 from their headers alone, before a byte of
//! the body is read, so no parser but the JSON one ever runs.
//!
//! quick-xml 0.36.2 (RUSTSEC-2026-0194, RUSTSEC-2026-0195) is linked through poem and
//! poem-openapi, whose newest releases still depend on it. deny.toml ignores both
//! advisories on the strength of two tests: the XML test here (a request with an XML
//! content type is refused before its body is read, so no XML parser ever sees a
//! byte of it) and `openapi::media_types` (no operation accepts or produces XML).

use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{CLIENT_TIMEOUT, Case, Expect, refuse_all};
use crate::harness::{TestApp, assert_problem, client};

pub fn cases() -> Vec<Case> {
    vec![
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
    ]
}

async fn bodies_that_are_not_json_get_415_and_change_nothing(app: &TestApp) {
    refuse_all(app, "media types", cases()).await;
}

/// XML media types a client might send, including structured `+xml` ones.
const XML_TYPES: [&str; 6] = [
    "application/xml",
    "text/xml",
    "application/xml; charset=utf-8",
    "TEXT/XML",
    "application/atom+xml",
    "application/soap+xml",
];

/// A start tag built to hurt quick-xml < 0.41: thousands of distinct attribute names
/// (the quadratic duplicate check) and namespace declarations (the unbounded
/// resolver), just under the 64 KiB body limit so the size check does not refuse it.
fn hostile_xml() -> String {
    let mut xml = String::from("<?xml version=\"1.0\"?><task");
    let mut i = 0;
    while xml.len() < 60 * 1024 {
        xml.push_str(&format!(" xmlns:n{i}=\"u\" a{i}=\"\""));
        i += 1;
    }
    xml.push_str("><title>x</title></task>");
    xml
}

/// The status line and content type of the answer to a request whose body stops
/// after `sent` bytes of the `declared` it announces: the server can only answer
/// such a request without reading the body.
async fn answer_to_an_unfinished_body(
    app: &TestApp,
    request_line: &str,
    content_type: &str,
    body: &str,
    sent: usize,
) -> (String, String) {
    let head = format!(
        "{request_line}\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let exchange = async {
        let mut stream = client::connect(&app.address).await;
        stream.write_all(head.as_bytes()).await.expect("write head");
        stream
            .write_all(&body.as_bytes()[..sent])
            .await
            .expect("write the start of the body");
        // The rest of the body is never sent: read until the head is complete.
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.expect("read the answer");
            assert!(n > 0, "the connection closed without an answer");
            answer.extend_from_slice(&buf[..n]);
        }
        answer
    };
    let answer = tokio::time::timeout(CLIENT_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| {
            panic!("{request_line} ({content_type}): no answer while the body was unfinished")
        });
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or_default().to_owned();
    let media = text
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, media)
}

async fn xml_bodies_are_refused_415_before_they_are_read(app: &TestApp) {
    let task = app
        .create_task(serde_json::json!({"title": "existing"}))
        .await;
    let patch_line = format!("PATCH /api/tasks/{} HTTP/1.1", task["id"]);
    let xml = hostile_xml();
    for request_line in ["POST /api/tasks HTTP/1.1", patch_line.as_str()] {
        for content_type in XML_TYPES {
            let case = format!("{request_line} with {content_type}");
            // Only the first 100 bytes of ~60 KiB are ever sent: an answer proves
            // the body was not read, so no parser ran on it.
            let (status, media) =
                answer_to_an_unfinished_body(app, request_line, content_type, &xml, 100).await;
            assert!(status.starts_with("HTTP/1.1 415 "), "{case}: {status}");
            assert_eq!(media, "application/problem+json", "{case}");

            // The whole body, sent in full, gets the same answer.
            let method = request_line.split(' ').next().unwrap();
            let path = request_line.split(' ').nth(1).unwrap();
            let response = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .header("content-type", content_type)
                .body(xml.clone())
                .send()
                .await
                .unwrap();
            assert_problem(response, 415, &case).await;
        }
    }
    // Nothing was created or changed.
    assert_eq!(app.task_count().await, 1);
    let path = format!("/api/tasks/{}", task["id"]);
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now, task, "the task is unchanged");
}

crate::api_tests!(
    bodies_that_are_not_json_get_415_and_change_nothing,
    xml_bodies_are_refused_415_before_they_are_read,
);
