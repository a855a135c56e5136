//! Heads built to exhaust the server's buffer: long targets, long headers, too many
//! headers. hyper refuses them (431) before the app sees them.

use reqwest::Method;

use super::{Case, Expect, raw_request, refuse_all};
use crate::harness::TestApp;

pub fn cases() -> Vec<Case> {
    let many_headers: String = (0..200).map(|i| format!("x-h{i}: v\r\n")).collect();
    vec![
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
    ]
}

async fn oversized_heads_get_431_and_change_nothing(app: &TestApp) {
    refuse_all(app, "heads", cases()).await;
}

crate::api_tests!(oversized_heads_get_431_and_change_nothing);
