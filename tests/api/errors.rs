//! The error rule: every refused request answers `application/problem+json`, and a
//! refused write changes nothing.

use reqwest::Method;
use serde_json::json;

use crate::harness::{TestApp, assert_problem};

async fn bad_task_bodies_answer_400_and_store_nothing(app: &TestApp) {
    let existing = app.create_task(json!({"title": "keep"})).await;
    let long_title = "x".repeat(201);
    let long_description = "x".repeat(10_001);
    let cases: Vec<(&str, String)> = vec![
        ("malformed JSON", "{\"title\": ".to_owned()),
        ("not an object", "[1, 2]".to_owned()),
        ("empty body", String::new()),
        ("missing title", json!({"description": "d"}).to_string()),
        ("empty title", json!({"title": ""}).to_string()),
        ("blank title", json!({"title": "   "}).to_string()),
        ("title too long", json!({"title": long_title}).to_string()),
        ("title is a number", json!({"title": 5}).to_string()),
        ("title is null", json!({"title": null}).to_string()),
        (
            "title with a control character",
            json!({"title": "a\u{1}b"}).to_string(),
        ),
        (
            "description too long",
            json!({"title": "t", "description": long_description}).to_string(),
        ),
        (
            "description is a number",
            json!({"title": "t", "description": 1}).to_string(),
        ),
        (
            "unknown status",
            json!({"title": "t", "status": "finished"}).to_string(),
        ),
        (
            "status with wrong case",
            json!({"title": "t", "status": "DONE"}).to_string(),
        ),
        (
            "due date not a date",
            json!({"title": "t", "due_date": "tomorrow"}).to_string(),
        ),
        (
            "due date impossible",
            json!({"title": "t", "due_date": "2026-02-30"}).to_string(),
        ),
        (
            "unknown field",
            json!({"title": "t", "priority": 1}).to_string(),
        ),
        (
            "id may not be chosen",
            json!({"title": "t", "id": 7}).to_string(),
        ),
    ];
    for (why, body) in cases {
        let response = app
            .client
            .post(app.url("/api/tasks"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(response, 400, &format!("POST with {why}")).await;
    }
    assert_eq!(
        app.task_count().await,
        1,
        "no refused create stored anything"
    );

    let path = format!("/api/tasks/{}", existing["id"]);
    let patch_cases = [
        ("title null", json!({"title": null})),
        ("status null", json!({"status": null})),
        ("empty title", json!({"title": " "})),
        ("unknown status", json!({"status": "later"})),
        ("bad due date", json!({"due_date": "2026-13-01"})),
        ("unknown field", json!({"colour": "red"})),
        (
            "valid title beside an invalid status",
            json!({"title": "changed", "status": "nope"}),
        ),
    ];
    for (why, body) in patch_cases {
        assert_problem(
            app.patch_json(&path, &body).await,
            400,
            &format!("PATCH with {why}"),
        )
        .await;
    }
    let after: serde_json::Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(after, existing, "no refused patch changed the task");
}

async fn unknown_ids_answer_404(app: &TestApp) {
    for method in [Method::GET, Method::DELETE] {
        let response = app
            .client
            .request(method.clone(), app.url("/api/tasks/999999"))
            .send()
            .await
            .unwrap();
        assert_problem(response, 404, &format!("{method} unknown id")).await;
    }
    let patch = app
        .patch_json("/api/tasks/999999", &json!({"title": "x"}))
        .await;
    assert_problem(patch, 404, "PATCH unknown id").await;
    let negative = app.get("/api/tasks/-5").await;
    assert_problem(negative, 404, "negative id").await;
}

async fn ids_that_are_not_64_bit_integers_answer_400(app: &TestApp) {
    for id in ["abc", "1.5", "99999999999999999999", "0x10"] {
        assert_problem(
            app.get(&format!("/api/tasks/{id}")).await,
            400,
            &format!("id {id}"),
        )
        .await;
    }
}

async fn a_body_over_64_kib_answers_413(app: &TestApp) {
    let huge = json!({"title": "t", "description": "x".repeat(70 * 1024)}).to_string();
    let sized = app
        .client
        .post(app.url("/api/tasks"))
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    assert_problem(sized, 413, "body with Content-Length").await;
    // No Content-Length: the limit must hold for chunked bodies too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = huge
        .into_bytes()
        .chunks(8 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let stream = futures::stream::iter(chunks);
    let chunked = app
        .client
        .post(app.url("/api/tasks"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_problem(chunked, 413, "chunked body").await;
    assert_eq!(app.task_count().await, 0);
}

async fn a_body_that_is_not_json_answers_415(app: &TestApp) {
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let response = app
            .client
            .post(app.url("/api/tasks"))
            .header("content-type", content_type)
            .body("title=x")
            .send()
            .await
            .unwrap();
        assert_problem(response, 415, content_type).await;
    }
    let missing = app
        .client
        .post(app.url("/api/tasks"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(missing, 415, "no content type").await;
    assert_eq!(app.task_count().await, 0);
}

async fn unknown_routes_answer_404_and_wrong_methods_405(app: &TestApp) {
    for path in ["/", "/nope", "/api", "/api/tasks/1/extra", "/api/taskz"] {
        assert_problem(app.get(path).await, 404, path).await;
    }
    let response = app
        .client
        .put(app.url("/api/tasks/1"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 405, "PUT /api/tasks/1").await;
    let response = app.client.post(app.url("/health")).send().await.unwrap();
    assert_problem(response, 405, "POST /health").await;
}

crate::api_tests!(
    bad_task_bodies_answer_400_and_store_nothing,
    unknown_ids_answer_404,
    ids_that_are_not_64_bit_integers_answer_400,
    a_body_over_64_kib_answers_413,
    a_body_that_is_not_json_answers_415,
    unknown_routes_answer_404_and_wrong_methods_405,
);
