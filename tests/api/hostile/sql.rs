//! Text that looks like SQL, format strings or odd Unicode, in every field and filter.

use serde_json::{Value, json};

use super::snapshot;
use crate::harness::{TestApp, assert_problem};

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

crate::api_tests!(sql_looking_text_is_stored_verbatim_and_never_executed);
