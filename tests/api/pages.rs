//! Pages of the task list (issue 20): by cursor (`next`, `Link`, `after`), which
//! costs the same wherever the page is and neither skips nor repeats a task while
//! others write; cursors checked like any input; `offset` bounded by
//! MAX_LIST_OFFSET. The query plans are read from the database itself.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use tasks_backend::db::{TaskQuery, list_statement};
use tasks_backend::domain::TaskStatus;

use crate::harness::{TestApp, assert_problem, spawn_sqlite_with};

/// A page: its ids, its `next`, and the URL its `Link` header names.
struct Page {
    ids: Vec<i64>,
    next: Option<String>,
    link: Option<String>,
    body: Value,
}

async fn page(app: &TestApp, path: &str) -> Page {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let link = response
        .headers()
        .get("link")
        .map(|v| v.to_str().expect("Link is text").to_owned());
    let body: Value = response.json().await.expect("list JSON");
    let ids = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["id"].as_i64().expect("id"))
        .collect();
    let next = match &body["next"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => panic!("{path}: next is {other}"),
    };
    Page {
        ids,
        next,
        link,
        body,
    }
}

/// Every id of a list, following `next` from the first page; checks on the way
/// that each page's `Link` names the same next page as its `next`.
async fn walk(app: &TestApp, limit: u32, status: Option<&str>) -> Vec<i64> {
    let filter = status.map(|s| format!("&status={s}")).unwrap_or_default();
    let mut path = format!("/api/tasks?limit={limit}{filter}");
    let mut ids = Vec::new();
    loop {
        let page = page(app, &path).await;
        ids.extend(&page.ids);
        let Some(next) = page.next else {
            assert_eq!(page.link, None, "{path}: a Link on the last page");
            return ids;
        };
        assert_eq!(
            page.ids.len() as u32,
            limit,
            "{path}: a short page before the last"
        );
        let expected = format!("</api/tasks?limit={limit}{filter}&after={next}>; rel=\"next\"");
        assert_eq!(
            page.link.as_deref(),
            Some(expected.as_str()),
            "{path}: Link"
        );
        path = format!("/api/tasks?limit={limit}{filter}&after={next}");
    }
}

async fn a_walk_by_cursor_visits_every_task_once_in_id_order(app: &TestApp) {
    let statuses = [
        "todo",
        "done",
        "done",
        "in_progress",
        "todo",
        "done",
        "todo",
    ];
    let mut created = Vec::new();
    for (i, status) in statuses.iter().enumerate() {
        let task = app
            .create_task(json!({"title": format!("task {i}"), "status": status}))
            .await;
        created.push((task["id"].as_i64().expect("id"), *status));
    }
    let all: Vec<i64> = created.iter().map(|(id, _)| *id).collect();
    for limit in [1, 2, 3, 7, 8, 500] {
        assert_eq!(walk(app, limit, None).await, all, "limit={limit}");
        for status in ["todo", "in_progress", "done"] {
            let want: Vec<i64> = created
                .iter()
                .filter(|(_, s)| *s == status)
                .map(|(id, _)| *id)
                .collect();
            assert_eq!(
                walk(app, limit, Some(status)).await,
                want,
                "limit={limit} status={status}"
            );
        }
    }
    // A page that ends exactly at the last task says there is no next one.
    let exact = page(app, "/api/tasks?limit=7").await;
    assert_eq!((exact.ids.len(), exact.next), (7, None));
    // A page by cursor carries the same totals as any page.
    let first = page(app, "/api/tasks?limit=2&status=done").await;
    let next = first.next.expect("a next page");
    let second = page(app, &format!("/api/tasks?limit=2&status=done&after={next}")).await;
    assert_eq!(second.body["total"], 3, "{}", second.body);
    assert_eq!(second.body["offset"], 0, "{}", second.body);
    assert_eq!(second.body["limit"], 2, "{}", second.body);
    // Once the tasks after a cursor are gone, its page is empty and the last.
    let last = second.ids[0];
    assert_eq!(
        app.delete(&format!("/api/tasks/{last}")).await.status(),
        204
    );
    let empty = page(app, &format!("/api/tasks?limit=2&status=done&after={next}")).await;
    assert_eq!((empty.ids.len(), empty.next, empty.link), (0, None, None));
    assert_eq!(empty.body["total"], 2, "{}", empty.body);
}

/// The next page of a list whose last task (the cursor's) was deleted starts at the
/// task after it, as if it were still there.
async fn a_cursor_outlives_the_task_it_points_after(app: &TestApp) {
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(
            app.create_task(json!({"title": format!("t{i}")})).await["id"]
                .as_i64()
                .expect("id"),
        );
    }
    let first = page(app, "/api/tasks?limit=2").await;
    assert_eq!(first.ids, ids[..2]);
    assert_eq!(
        app.delete(&format!("/api/tasks/{}", ids[1])).await.status(),
        204
    );
    let next = first.next.expect("a next page");
    let second = page(app, &format!("/api/tasks?limit=2&after={next}")).await;
    assert_eq!(second.ids, ids[2..]);
}

async fn bad_cursors_are_400_naming_after(app: &TestApp) {
    for i in 0..3 {
        app.create_task(json!({"title": format!("t{i}"), "status": "done"}))
            .await;
    }
    let all = page(app, "/api/tasks?limit=1").await.next.expect("next");
    let done = page(app, "/api/tasks?limit=1&status=done")
        .await
        .next
        .expect("next");
    let flip = |s: &str, at: usize| {
        let mut chars: Vec<char> = s.chars().collect();
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let cases = [
        ("a tampered cursor", format!("after={}", flip(&all, 5))),
        (
            "a tampered last character",
            format!("after={}", flip(&all, all.len() - 1)),
        ),
        (
            "a truncated cursor",
            format!("after={}", &all[..all.len() - 2]),
        ),
        ("an empty cursor", "after=".to_owned()),
        ("an id for a cursor", "after=3".to_owned()),
        ("not base64", "after=%25%25%25%25".to_owned()),
        ("a cursor too long", format!("after={all}{all}")),
        (
            "a cursor of the unfiltered list, filtered",
            format!("status=done&after={all}"),
        ),
        (
            "a cursor of status=done, unfiltered",
            format!("after={done}"),
        ),
        (
            "a cursor of status=done, for todo",
            format!("status=todo&after={done}"),
        ),
        ("a cursor with an offset", format!("after={all}&offset=1")),
    ];
    for (case, query) in cases {
        let response = app.get(&format!("/api/tasks?limit=1&{query}")).await;
        let problem = assert_problem(response, 400, case).await;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("`after`"), "{case}: {detail}");
    }
}

/// Walks the list by cursor, 7 tasks a page, and between pages waits (up to 2 s)
/// for the writers to finish a write, so that writes fall between every two
/// pages; stops past id `until` (writers may create tasks faster than one reader
/// reads them, and a walk that chases them need not end). The ids, in the order
/// seen, and how many pages.
async fn walk_slowly(
    app: &TestApp,
    filter: &str,
    until: i64,
    writes: &AtomicUsize,
) -> (Vec<i64>, usize) {
    let mut seen = Vec::new();
    let mut path = format!("/api/tasks?limit=7{filter}");
    for pages in 1.. {
        let page = page(app, &path).await;
        seen.extend(page.ids);
        let Some(next) = page.next else {
            return (seen, pages);
        };
        if seen.last().is_some_and(|last| *last > until) {
            return (seen, pages);
        }
        path = format!("/api/tasks?limit=7{filter}&after={next}");
        let before = writes.load(Ordering::Relaxed);
        for _ in 0..200 {
            if writes.load(Ordering::Relaxed) > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    unreachable!("`1..` has no end")
}

/// 4 writers create tasks and delete old and new ones while a reader walks the
/// whole list by cursor, unfiltered and by status: every task that exists from
/// before the walk to after it is seen exactly once, and no id twice.
async fn a_walk_by_cursor_neither_skips_nor_repeats_while_others_write(app: &TestApp) {
    let mut stable: Vec<(i64, &str)> = Vec::new();
    let mut doomed = Vec::new();
    for i in 0..120 {
        let status = ["todo", "done"][i % 2];
        let task = app
            .create_task(json!({"title": format!("before {i}"), "status": status}))
            .await;
        let id = task["id"].as_i64().expect("id");
        // Every third task is deleted by the writers during the walk.
        if i % 3 == 0 {
            doomed.push(id);
        } else {
            stable.push((id, status));
        }
    }
    let last_before = stable
        .iter()
        .map(|(id, _)| *id)
        .chain(doomed.iter().copied())
        .max()
        .unwrap_or(0);
    let walking = Arc::new(AtomicBool::new(true));
    let writes = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|n| {
            let (client, url) = (app.client.clone(), app.url("/api/tasks"));
            let (walking, writes) = (walking.clone(), writes.clone());
            let mut old = doomed
                .iter()
                .skip(n)
                .step_by(4)
                .copied()
                .collect::<Vec<_>>()
                .into_iter();
            tokio::spawn(async move {
                let mut new = Vec::new();
                while walking.load(Ordering::Relaxed) {
                    let status = ["todo", "done"][new.len() % 2];
                    let response = client
                        .post(&url)
                        .json(&json!({"title": format!("during {n}"), "status": status}))
                        .send()
                        .await
                        .expect("create");
                    assert_eq!(response.status(), 201, "create");
                    let task: Value = response.json().await.expect("created JSON");
                    new.push(task["id"].as_i64().expect("id"));
                    // An old task first, then new ones, keeping a few.
                    let victim = old
                        .next()
                        .or_else(|| (new.len() > 3).then(|| new.remove(0)));
                    if let Some(id) = victim {
                        let response = client
                            .delete(format!("{url}/{id}"))
                            .send()
                            .await
                            .expect("delete");
                        assert_eq!(response.status(), 204, "deleting {id}");
                    }
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for (filter, status) in [
        ("", None),
        ("&status=done", Some("done")),
        ("&status=todo", Some("todo")),
    ] {
        let writes_before = writes.load(Ordering::Relaxed);
        let (seen, pages) = walk_slowly(app, filter, last_before, &writes).await;
        let during = writes.load(Ordering::Relaxed) - writes_before;
        assert!(
            pages >= 4 && during >= pages - 1,
            "{filter}: {during} writes during a walk of {pages} pages: not a write between every two"
        );
        let repeated: Vec<_> = seen.windows(2).filter(|w| w[0] >= w[1]).collect();
        assert!(
            repeated.is_empty(),
            "{filter}: ids out of order or repeated: {repeated:?}"
        );
        let seen: BTreeSet<i64> = seen.into_iter().collect();
        let skipped: Vec<i64> = stable
            .iter()
            .filter(|(id, s)| status.is_none_or(|want| want == *s) && !seen.contains(id))
            .map(|(id, _)| *id)
            .collect();
        assert!(
            skipped.is_empty(),
            "{filter}: tasks present throughout were skipped: {skipped:?}"
        );
        if let Some(want) = status {
            let others: Vec<_> = stable
                .iter()
                .filter(|(id, s)| *s != want && seen.contains(id))
                .collect();
            assert!(
                others.is_empty(),
                "{filter}: tasks of another status: {others:?}"
            );
        }
    }
    walking.store(false, Ordering::Relaxed);
    for writer in join_all(writers).await {
        writer.expect("writer");
    }
}

/// The list's queries, as the store builds them, for a table of 20 000 tasks: the
/// first and a late page, unfiltered and by status, by cursor and by offset.
fn list_queries(after: i64) -> Vec<(String, TaskQuery)> {
    let mut queries = Vec::new();
    for status in [None, Some(TaskStatus::Todo), Some(TaskStatus::Done)] {
        for (page, after, offset) in [
            ("first", None, 0),
            ("late", Some(after), 0),
            ("offset", None, 1000),
        ] {
            queries.push((
                format!("{page} page, status {status:?}"),
                TaskQuery {
                    status,
                    after,
                    limit: 100,
                    offset,
                },
            ));
        }
    }
    queries
}

/// Adds `n` copies of one task, in one statement, and refreshes the statistics.
async fn grow_table(app: &TestApp, n: u32) -> sea_orm::DatabaseConnection {
    app.create_task(json!({"title": "seed"})).await;
    let db = Database::connect(&app.database_url).await.expect("connect");
    let rows = match db.get_database_backend() {
        DatabaseBackend::Postgres => "SELECT i FROM generate_series(2, {n}) AS s(i)",
        _ => "WITH RECURSIVE s(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s",
    }
    .replace("{n}", &n.to_string());
    let sql = format!(
        "INSERT INTO tasks (title, status, created_at, updated_at) \
         SELECT 'copy ' || s.i, CASE s.i % 3 WHEN 0 THEN 'todo' WHEN 1 THEN 'in_progress' ELSE 'done' END, \
         t.created_at, t.updated_at FROM ({rows}) AS s, tasks t WHERE t.title = 'seed'"
    );
    db.execute_unprepared(&sql).await.expect("grow the table");
    if db.get_database_backend() == DatabaseBackend::Postgres {
        // What autovacuum does a little later on a real table.
        db.execute_unprepared("ANALYZE tasks")
            .await
            .expect("analyze");
    }
    db
}

/// Every list query reads its page from an index in id order: no scan of the
/// table, no sort. SQLite: `EXPLAIN QUERY PLAN`. PostgreSQL: `EXPLAIN` of the
/// plan a first execution gets (custom) and the one a prepared statement settles
/// on after a few (generic): both must hold.
async fn list_queries_read_an_index_in_order(app: &TestApp) {
    let db = grow_table(app, 20_000).await;
    let backend = db.get_database_backend();
    for (case, query) in list_queries(19_000) {
        let statement = list_statement(backend, &query);
        let plans = match backend {
            DatabaseBackend::Postgres => postgres_plans(&db, &statement).await,
            _ => vec![sqlite_plan(&db, &statement).await],
        };
        // On SQLite, both bounds of the range must be the index's: a plan that
        // takes one bound only (`status<?`, as the row form) starts at the status's first task,
        // which is what the row form of the PostgreSQL query got (17 req/s for a
        // late page of 1 000 000 tasks with bench/scale.sh).
        let index = match (query.status, backend) {
            (Some(_), DatabaseBackend::Postgres) => "idx_tasks_status_id",
            (None, DatabaseBackend::Postgres) => "tasks_pkey",
            (Some(_), _) => "USING INDEX idx_tasks_status_id (status=? AND id>?)",
            (None, _) => "USING INTEGER PRIMARY KEY",
        };
        for plan in plans {
            let context = format!("{case}: {}\n{plan}", statement.sql);
            assert!(plan.contains(index), "{context}: not by {index}");
            for bad in ["Seq Scan", "Sort", "Bitmap", "SCAN ", "TEMP B-TREE"] {
                assert!(!plan.contains(bad), "{context}: {bad}");
            }
        }
    }
    db.close().await.expect("close");
}

async fn sqlite_plan(db: &sea_orm::DatabaseConnection, statement: &Statement) -> String {
    let explain = Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        format!("EXPLAIN QUERY PLAN {}", statement.sql),
        statement.values.clone().map(|v| v.0).unwrap_or_default(),
    );
    let rows = db.query_all_raw(explain).await.expect("explain");
    rows.iter()
        .map(|row| row.try_get::<String>("", "detail").expect("detail"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn postgres_plans(db: &sea_orm::DatabaseConnection, statement: &Statement) -> Vec<String> {
    use sea_orm::sea_query::{PostgresQueryBuilder, QueryBuilder};
    let args: Vec<String> = statement
        .values
        .iter()
        .flat_map(|values| values.0.iter())
        .map(|value| PostgresQueryBuilder.value_to_string(value))
        .collect();
    // One connection: a prepared statement and the plan cache mode are per session.
    let txn = db.begin().await.expect("begin");
    txn.execute_unprepared(&format!("PREPARE list_page AS {}", statement.sql))
        .await
        .expect("prepare");
    let mut plans = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        txn.execute_unprepared(&format!("SET LOCAL plan_cache_mode = {mode}"))
            .await
            .expect("plan_cache_mode");
        let rows = txn
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                format!("EXPLAIN EXECUTE list_page({})", args.join(", ")),
            ))
            .await
            .expect("explain");
        let plan: Vec<String> = rows
            .iter()
            .map(|row| row.try_get::<String>("", "QUERY PLAN").expect("plan line"))
            .collect();
        plans.push(format!("{mode}:\n{}", plan.join("\n")));
    }
    // A prepared statement outlives its transaction.
    txn.execute_unprepared("DEALLOCATE list_page")
        .await
        .expect("deallocate");
    txn.rollback().await.expect("rollback");
    plans
}

async fn offset_is_bounded_by_max_list_offset(app: &TestApp) {
    for i in 0..3 {
        app.create_task(json!({"title": format!("t{i}")})).await;
    }
    let deepest = page(app, "/api/tasks?offset=10000").await;
    assert_eq!(
        deepest.ids,
        Vec::<i64>::new(),
        "offset 10000 (the default bound)"
    );
    let two = page(app, "/api/tasks?offset=2").await;
    assert_eq!(two.ids.len(), 1, "offset 2");
    assert_eq!(two.next, None, "offset 2: the last page");
    let first = page(app, "/api/tasks?offset=0&limit=1").await;
    assert!(
        first.next.is_some(),
        "a page by offset has a next cursor too"
    );
    let response = app.get("/api/tasks?offset=10001").await;
    let problem = assert_problem(response, 400, "offset past the bound").await;
    let detail = problem["detail"].as_str().unwrap_or_default();
    for want in ["`offset`", "MAX_LIST_OFFSET", "`after`", "`next`"] {
        assert!(detail.contains(want), "no {want} in: {detail}");
    }
}

crate::api_tests!(
    a_walk_by_cursor_visits_every_task_once_in_id_order,
    a_cursor_outlives_the_task_it_points_after,
    bad_cursors_are_400_naming_after,
    a_walk_by_cursor_neither_skips_nor_repeats_while_others_write,
    list_queries_read_an_index_in_order,
    offset_is_bounded_by_max_list_offset,
);

#[tokio::test]
async fn max_list_offset_sets_the_bound() {
    for (setting, ok, refused) in [("0", 0, 1), ("5", 5, 6), ("1000000", 1_000_000, 1_000_001)] {
        let app = spawn_sqlite_with(&[("MAX_LIST_OFFSET", setting)]).await;
        let response = app.get(&format!("/api/tasks?offset={ok}")).await;
        assert_eq!(
            response.status(),
            200,
            "MAX_LIST_OFFSET={setting}, offset {ok}"
        );
        let response = app.get(&format!("/api/tasks?offset={refused}")).await;
        assert_problem(
            response,
            400,
            &format!("MAX_LIST_OFFSET={setting}, offset {refused}"),
        )
        .await;
        app.stop().await;
    }
}
