//! `total` comes from counts the database keeps in each write's own transaction
//! (`task_counts`, migration m20261202_000001): it must stay exact whatever the
//! writes, for every status and overall, checked against the tasks themselves.

use std::collections::HashMap;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::harness::TestApp;

const STATUSES: [&str; 3] = ["todo", "in_progress", "done"];

/// Every task, read page by page (ids of one status, or all).
async fn walk(app: &TestApp, status: Option<&str>) -> (Vec<i64>, u64) {
    let filter = status.map(|s| format!("&status={s}")).unwrap_or_default();
    let mut ids = Vec::new();
    let mut total = None;
    loop {
        let page: Value = app
            .get(&format!(
                "/api/tasks?limit=500&offset={}{filter}",
                ids.len()
            ))
            .await
            .json()
            .await
            .expect("list JSON");
        total.get_or_insert(page["total"].as_u64().expect("total"));
        let items = page["items"].as_array().expect("items");
        ids.extend(items.iter().filter_map(|t| t["id"].as_i64()));
        if items.len() < 500 {
            return (ids, total.unwrap_or_default());
        }
    }
}

async fn assert_totals_match_the_tasks(app: &TestApp, when: &str) {
    let (all, total) = walk(app, None).await;
    assert_eq!(total, all.len() as u64, "{when}: overall total");
    let mut by_status = 0;
    for status in STATUSES {
        let (ids, total) = walk(app, Some(status)).await;
        assert_eq!(total, ids.len() as u64, "{when}: total of {status}");
        by_status += ids.len();
    }
    assert_eq!(by_status, all.len(), "{when}: statuses add up");
}

/// 8 clients at once, each creating tasks and moving, reverting and deleting
/// some: every kind of change the counts follow, racing each other.
async fn totals_stay_exact_under_concurrent_mixed_writes(app: &TestApp) {
    assert_totals_match_the_tasks(app, "empty").await;
    let client = |n: usize| async move {
        let mut kept = HashMap::new();
        for i in 0..12 {
            let status = STATUSES[(n + i) % 3];
            let task = app
                .create_task(json!({"title": format!("c{n} t{i}"), "status": status}))
                .await;
            let id = task["id"].as_i64().expect("id");
            let path = format!("/api/tasks/{id}");
            match i % 4 {
                0 => assert_eq!(app.delete(&path).await.status(), 204),
                1 => {
                    let to = STATUSES[(n + i + 1) % 3];
                    let moved = app.patch_json(&path, &json!({"status": to})).await;
                    assert_eq!(moved.status(), 200);
                    kept.insert(id, to);
                }
                2 => {
                    // A change that keeps the status changes no count.
                    let same = app
                        .patch_json(&path, &json!({"status": status, "title": "same"}))
                        .await;
                    assert_eq!(same.status(), 200);
                    kept.insert(id, status);
                }
                _ => {
                    kept.insert(id, status);
                }
            }
        }
        kept
    };
    let kept: HashMap<i64, &str> = join_all((0..8).map(client))
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_totals_match_the_tasks(app, "after the writes").await;
    let (all, total) = walk(app, None).await;
    assert_eq!(total, kept.len() as u64, "every acknowledged write counted");
    assert_eq!(all.len(), kept.len());
    for status in STATUSES {
        let expected = kept.values().filter(|s| **s == status).count() as u64;
        assert_eq!(walk(app, Some(status)).await.1, expected, "{status}");
    }
}

crate::api_tests!(totals_stay_exact_under_concurrent_mixed_writes);
