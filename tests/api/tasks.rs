//! The task operations, as a client uses them.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::harness::client::http;

async fn creating_a_task_answers_201_with_the_task_and_its_location(app: &TestApp) {
    let response = app
        .post_json("/api/tasks", &json!({"title": "  Buy milk  "}))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let task: Value = response.json().await.unwrap();
    let id = task["id"].as_i64().expect("integer id");
    assert_eq!(location, format!("/api/tasks/{id}"));
    assert_eq!(task["title"], "Buy milk", "the title is trimmed");
    assert_eq!(task["status"], "todo", "status defaults to todo");
    assert!(task.get("description").is_none(), "{task}");
    assert!(task.get("due_date").is_none(), "{task}");
    let created = task["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'),
        "created_at is RFC 3339 UTC: {created}"
    );
    assert_eq!(task["created_at"], task["updated_at"]);

    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, task, "GET of the location returns the same task");
}

async fn a_task_keeps_every_field_it_was_created_with(app: &TestApp) {
    let task = app
        .create_task(json!({
            "title": "Write report",
            "description": "Two pages.\nNo more.",
            "status": "in_progress",
            "due_date": "2026-12-31"
        }))
        .await;
    let fetched: Value = app
        .get(&format!("/api/tasks/{}", task["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["description"], "Two pages.\nNo more.");
    assert_eq!(fetched["status"], "in_progress");
    assert_eq!(fetched["due_date"], "2026-12-31");
    assert_eq!(fetched, task);
}

async fn text_that_looks_like_sql_is_stored_verbatim(app: &TestApp) {
    let title = "Robert'); DROP TABLE tasks;--";
    let task = app
        .create_task(json!({"title": title, "description": "' OR 1=1 --"}))
        .await;
    let fetched: Value = app
        .get(&format!("/api/tasks/{}", task["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["title"], title);
    assert_eq!(fetched["description"], "' OR 1=1 --");
    assert_eq!(app.task_count().await, 1, "the table is still there");
}

async fn listing_pages_through_tasks_in_id_order(app: &TestApp) {
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            app.create_task(json!({"title": format!("task {i}")})).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let page: Value = app
        .get("/api/tasks?limit=3&offset=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 7);
    assert_eq!(page["limit"], 3);
    assert_eq!(page["offset"], 2);
    let got: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids[2..5].to_vec());

    let all: Value = app.get("/api/tasks").await.json().await.unwrap();
    assert_eq!(all["limit"], 50, "default limit");
    assert_eq!(all["offset"], 0, "default offset");
    assert_eq!(all["items"].as_array().unwrap().len(), 7);

    let past_the_end: Value = app.get("/api/tasks?offset=100").await.json().await.unwrap();
    assert_eq!(past_the_end["items"], json!([]));
    assert_eq!(past_the_end["total"], 7);
}

async fn listing_filters_by_status(app: &TestApp) {
    for (title, status) in [
        ("a", "todo"),
        ("b", "done"),
        ("c", "done"),
        ("d", "in_progress"),
    ] {
        app.create_task(json!({"title": title, "status": status}))
            .await;
    }
    let cases = [
        ("todo", vec!["a"]),
        ("done", vec!["b", "c"]),
        ("in_progress", vec!["d"]),
    ];
    for (status, want) in cases {
        let page: Value = app
            .get(&format!("/api/tasks?status={status}"))
            .await
            .json()
            .await
            .unwrap();
        let titles: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, want, "status={status}");
        assert_eq!(page["total"], want.len(), "total for status={status}");
    }
}

async fn the_list_limit_runs_from_1_to_500(app: &TestApp) {
    let cases = [
        ("1", 200),
        ("500", 200),
        ("0", 400),
        ("501", 400),
        ("-1", 400),
        ("ten", 400),
    ];
    for (limit, status) in cases {
        let response = app.get(&format!("/api/tasks?limit={limit}")).await;
        assert_eq!(response.status(), status, "limit={limit}");
    }
    for (query, why) in [
        ("offset=-1", "negative offset"),
        ("status=finished", "unknown status"),
    ] {
        let response = app.get(&format!("/api/tasks?{query}")).await;
        crate::harness::assert_problem(response, 400, why).await;
    }
}

async fn patch_changes_only_the_fields_it_names(app: &TestApp) {
    let task = app
        .create_task(json!({"title": "old", "description": "keep me", "due_date": "2026-01-01"}))
        .await;
    let path = format!("/api/tasks/{}", task["id"]);
    // Timestamps have millisecond precision: a patch within the same millisecond as
    // the create could not show a change, so let the clock move on first.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let response = app
        .patch_json(&path, &json!({"status": "done", "title": " new "}))
        .await;
    assert_eq!(response.status(), 200);
    let patched: Value = response.json().await.unwrap();
    assert_eq!(patched["title"], "new");
    assert_eq!(patched["status"], "done");
    assert_eq!(patched["description"], "keep me");
    assert_eq!(patched["due_date"], "2026-01-01");
    assert_eq!(patched["created_at"], task["created_at"]);
    let stamp = |task: &Value| {
        chrono::DateTime::parse_from_rfc3339(task["updated_at"].as_str().unwrap()).unwrap()
    };
    assert!(
        stamp(&patched) > stamp(&task),
        "updated_at moves forward on a patch: {} then {}",
        task["updated_at"],
        patched["updated_at"]
    );
    let fetched: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(fetched, patched);
}

async fn patch_with_null_clears_description_and_due_date(app: &TestApp) {
    let task = app
        .create_task(json!({"title": "t", "description": "d", "due_date": "2026-01-01"}))
        .await;
    let path = format!("/api/tasks/{}", task["id"]);
    let patched: Value = app
        .patch_json(&path, &json!({"description": null, "due_date": null}))
        .await
        .json()
        .await
        .unwrap();
    assert!(patched.get("description").is_none(), "{patched}");
    assert!(patched.get("due_date").is_none(), "{patched}");
    assert_eq!(patched["title"], "t");
}

async fn an_empty_patch_changes_nothing(app: &TestApp) {
    let task = app.create_task(json!({"title": "t"})).await;
    let path = format!("/api/tasks/{}", task["id"]);
    let response = app.patch_json(&path, &json!({})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), task);
}

async fn delete_answers_204_and_the_task_is_gone(app: &TestApp) {
    let task = app.create_task(json!({"title": "t"})).await;
    let path = format!("/api/tasks/{}", task["id"]);
    let response = app.delete(&path).await;
    assert_eq!(response.status(), 204);
    assert!(response.text().await.unwrap().is_empty());
    crate::harness::assert_problem(app.get(&path).await, 404, "get after delete").await;
    crate::harness::assert_problem(app.delete(&path).await, 404, "second delete").await;
    assert_eq!(app.task_count().await, 0);
}

async fn concurrent_writes_all_succeed(app: &TestApp) {
    let creates = (0..40).map(|i| async move {
        app.post_json("/api/tasks", &json!({"title": format!("c{i}")}))
            .await
    });
    let responses = join_all(creates).await;
    for response in &responses {
        assert_eq!(response.status(), 201, "every concurrent create succeeds");
    }
    let ids: Vec<i64> = {
        let list: Value = app.get("/api/tasks?limit=500").await.json().await.unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids.len(), 40);
    let mixed = ids.iter().enumerate().map(|(i, id)| async move {
        let path = format!("/api/tasks/{id}");
        if i % 2 == 0 {
            app.patch_json(&path, &json!({"status": "done"}))
                .await
                .status()
        } else {
            app.delete(&path).await.status()
        }
    });
    for status in join_all(mixed).await {
        assert!(
            status.is_success(),
            "concurrent update or delete answered {status}"
        );
    }
    assert_eq!(app.task_count().await, 20, "40 created, 20 deleted");
}

/// The page and its total come from one snapshot, even while others write.
async fn a_list_page_and_its_total_agree_under_concurrent_writes(app: &TestApp) {
    let writer = {
        let (client, url) = (app.client.clone(), app.url("/api/tasks"));
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(3);
            let mut ids = Vec::new();
            while Instant::now() < deadline {
                let created: Value = client
                    .post(&url)
                    .json(&json!({"title": "churn"}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                ids.push(created["id"].as_i64().unwrap());
                // Keep the table small, so every page holds all of it.
                if ids.len() > 20 {
                    let id = ids.remove(0);
                    client.delete(format!("{url}/{id}")).send().await.unwrap();
                }
            }
        })
    };
    let mut pages = 0;
    while !writer.is_finished() {
        let page: Value = app.get("/api/tasks?limit=500").await.json().await.unwrap();
        let items = page["items"].as_array().unwrap().len() as u64;
        assert_eq!(
            items,
            page["total"].as_u64().unwrap(),
            "page {pages}: items vs total"
        );
        pages += 1;
    }
    writer.await.unwrap();
    assert!(pages > 5, "only {pages} pages read");
}

/// A plain `GET /api/tasks/{id}` is answered in front of the router
/// (`routes::tasks::hot_get`); the same id with a sign, `+ID`, still reaches the
/// declared operation. Both must answer alike, found or not: same status, headers
/// and bytes.
async fn a_plain_get_answers_as_the_declared_operation(app: &TestApp) {
    let task = app
        .create_task(json!({"title": "both ways", "description": "a \"quoted\"\nline"}))
        .await;
    let id = task["id"].as_i64().expect("integer id");
    let client = http();
    for (id, status) in [(id, 200), (id + 1_000, 404)] {
        let mut answers = Vec::new();
        for path in [format!("/api/tasks/{id}"), format!("/api/tasks/+{id}")] {
            let response = client
                .get(app.url(&path))
                .header("x-request-id", "the-same-id")
                .send()
                .await
                .expect("GET");
            assert_eq!(response.status(), status, "{path}");
            let mut headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter(|(name, _)| *name != "date")
                .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
                .collect();
            headers.sort();
            let body = response.bytes().await.expect("body");
            answers.push((path, headers, body));
        }
        let [(hot, hot_headers, hot_body), (declared, headers, body)] = &answers[..] else {
            unreachable!("two paths asked");
        };
        assert_eq!(hot_headers, headers, "headers of {hot} and {declared}");
        assert_eq!(hot_body, body, "bodies of {hot} and {declared}");
    }
}

crate::api_tests!(
    creating_a_task_answers_201_with_the_task_and_its_location,
    a_task_keeps_every_field_it_was_created_with,
    text_that_looks_like_sql_is_stored_verbatim,
    listing_pages_through_tasks_in_id_order,
    listing_filters_by_status,
    the_list_limit_runs_from_1_to_500,
    patch_changes_only_the_fields_it_names,
    patch_with_null_clears_description_and_due_date,
    an_empty_patch_changes_nothing,
    delete_answers_204_and_the_task_is_gone,
    concurrent_writes_all_succeed,
    a_list_page_and_its_total_agree_under_concurrent_writes,
    a_plain_get_answers_as_the_declared_operation,
);
