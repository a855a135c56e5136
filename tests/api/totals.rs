//! `total` comes from counts the database keeps in each write's own transaction
//! (`task_counts`, migration m20261202_000001): it must stay exact whatever the
//! writes, for every status and overall, checked against the tasks themselves.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::harness::client::http;
use crate::harness::process::ServerProcess;
use crate::harness::{TestApp, drop_postgres_database, fresh_postgres_database};

const STATUSES: [&str; 3] = ["todo", "in_progress", "done"];

/// Every task, read page by page by cursor (ids of one status, or all), and the
/// first page's total.
async fn walk(app: &TestApp, status: Option<&str>) -> (Vec<i64>, u64) {
    let filter = status.map(|s| format!("&status={s}")).unwrap_or_default();
    let mut ids = Vec::new();
    let mut total = None;
    let mut after = String::new();
    loop {
        let page: Value = app
            .get(&format!("/api/tasks?limit=500{filter}{after}"))
            .await
            .json()
            .await
            .expect("list JSON");
        total.get_or_insert(page["total"].as_u64().expect("total"));
        let items = page["items"].as_array().expect("items");
        ids.extend(items.iter().filter_map(|t| t["id"].as_i64()));
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return (ids, total.unwrap_or_default()),
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
    assert_counts_match_count_star(&app.database_url, "after the writes").await;
    let (all, total) = walk(app, None).await;
    assert_eq!(total, kept.len() as u64, "every acknowledged write counted");
    assert_eq!(all.len(), kept.len());
    for status in STATUSES {
        let expected = kept.values().filter(|s| **s == status).count() as u64;
        assert_eq!(walk(app, Some(status)).await.1, expected, "{status}");
    }
}

crate::api_tests!(totals_stay_exact_under_concurrent_mixed_writes);

/// `task_counts` against `count(*)` of the tasks, per status and overall, read
/// straight from the database.
async fn assert_counts_match_count_star(url: &str, when: &str) {
    let db = Database::connect(url).await.expect("connect");
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT c.status, c.total, \
             (SELECT count(*) FROM tasks t WHERE t.status = c.status) AS counted \
             FROM task_counts c ORDER BY c.status",
        ))
        .await
        .expect("counts");
    let mut counted_by_status = 0;
    for row in &rows {
        let status: String = row.try_get("", "status").expect("status");
        let total: i64 = row.try_get("", "total").expect("total");
        let counted: i64 = row.try_get("", "counted").expect("counted");
        assert_eq!(
            total, counted,
            "{when}: task_counts of {status} vs count(*)"
        );
        counted_by_status += counted;
    }
    assert_eq!(rows.len(), STATUSES.len(), "{when}: one count per status");
    let all = count_all(&db).await;
    assert_eq!(
        counted_by_status, all,
        "{when}: every task has a known status"
    );
    db.close().await.expect("close");
}

/// One client of the kill test: creates tasks, moves and deletes some, until its
/// server stops answering, counting its answered writes in `writes`.
async fn write_until_cut(address: String, n: usize, writes: Arc<AtomicUsize>) {
    let http = http();
    let url = format!("{address}/api/tasks");
    for i in 0.. {
        let status = STATUSES[(n + i) % 3];
        let Ok(response) = http
            .post(&url)
            .json(&json!({"title": format!("c{n} t{i}"), "status": status}))
            .timeout(Duration::from_secs(5))
            .send()
            .await
        else {
            return;
        };
        let Ok(task) = response.json::<Value>().await else {
            return;
        };
        let Some(id) = task["id"].as_i64() else {
            return;
        };
        let path = format!("{url}/{id}");
        let next = match i % 3 {
            0 => http.delete(&path),
            1 => http
                .patch(&path)
                .json(&json!({"status": STATUSES[(n + i + 1) % 3]})),
            _ => {
                writes.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        if next.timeout(Duration::from_secs(5)).send().await.is_err() {
            return;
        }
        writes.fetch_add(2, Ordering::Relaxed);
    }
}

/// The real server under 8 clients' creates, status changes and deletes, killed
/// with SIGKILL mid-load: the counts the database kept still equal `count(*)`, and
/// a restarted server's `total` says the same.
async fn totals_stay_exact_after_a_kill_mid_load(url: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = ServerProcess::start(url, dir.path());
    let writes = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|n| tokio::spawn(write_until_cut(server.address.clone(), n, writes.clone())))
        .collect();
    // Until a good number of writes went through, so the kill falls among them.
    for _ in 0..300 {
        if writes.load(Ordering::Relaxed) >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_kill = writes.load(Ordering::Relaxed);
    assert!(before_kill >= 300, "only {before_kill} writes in 6 s");
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(10));
    for client in join_all(clients).await {
        client.expect("client");
    }
    assert_counts_match_count_star(url, "after SIGKILL mid-load").await;

    let server = ServerProcess::start(url, dir.path());
    let page: Value = http()
        .get(format!("{}/api/tasks?limit=1", server.address))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list JSON");
    let db = Database::connect(url).await.expect("connect");
    let all = count_all(&db).await;
    db.close().await.expect("close");
    assert_eq!(
        page["total"].as_i64(),
        Some(all),
        "total after a restart: {page}"
    );
    assert_eq!(server.stop(), Some(0), "a clean stop after the restart");
}

#[tokio::test]
async fn sqlite_totals_stay_exact_after_a_kill_mid_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("tasks.db").display());
    totals_stay_exact_after_a_kill_mid_load(&url).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn postgres_totals_stay_exact_after_a_kill_mid_load() {
    let url = fresh_postgres_database().await;
    totals_stay_exact_after_a_kill_mid_load(&url).await;
    drop_postgres_database(&url).await;
}

/// `count(*)` of every task: what `task_counts` must add up to.
async fn count_all(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM tasks",
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get("", "n").expect("n")
}
