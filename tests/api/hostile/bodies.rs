//! Bodies built to exhaust the server: deep nesting, bodies over the 64 KiB limit
//! with and without `Content-Length` (413 before they are read), and uploads that
//! stop half-way.

use reqwest::Method;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::{
    Case, Expect, assert_alive_and_unchanged, nested, patch, post, raw_request, refuse_all,
    snapshot,
};
use crate::harness::{TestApp, client};

const TEN_MB: usize = 10 * 1024 * 1024;

pub fn cases() -> Vec<Case> {
    let ten_mb_json = format!(
        r#"{{"title": "t", "description": "{}"}}"#,
        "x".repeat(TEN_MB)
    );
    vec![
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
    ]
}

async fn deep_or_oversized_bodies_get_their_4xx_and_change_nothing(app: &TestApp) {
    refuse_all(app, "bodies", cases()).await;
}

/// A client that sends half a body and stops must not hold up anyone else.
async fn a_stalled_upload_does_not_block_other_clients(app: &TestApp) {
    let before = snapshot(app).await;
    let mut stalled = Vec::new();
    for _ in 0..16 {
        let mut stream = client::connect(&app.address).await;
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
    deep_or_oversized_bodies_get_their_4xx_and_change_nothing,
    a_stalled_upload_does_not_block_other_clients,
);
