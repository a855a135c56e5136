//! Targets built to confuse routing or parsing: ids that are negative, overflowing
//! or not numbers, bad query strings, routes that do not exist.

use reqwest::Method;

use super::{Case, Expect, get, refuse_all};
use crate::harness::TestApp;

pub fn cases() -> Vec<Case> {
    vec![
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
        get("a path below a task", "/api/tasks/{id}/extra", 404),
        get("an upper-case route", "/API/TASKS", 404),
    ]
}

async fn bad_ids_queries_and_routes_get_their_4xx_and_change_nothing(app: &TestApp) {
    refuse_all(app, "paths and queries", cases()).await;
}

crate::api_tests!(bad_ids_queries_and_routes_get_their_4xx_and_change_nothing);
