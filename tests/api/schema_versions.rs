//! Schema versions across releases: `migrate status` and `migrate up`, and what a
//! binary does on a database that holds migrations it does not know (a rollback,
//! or an old replica during a rolling update): it serves when the database says
//! those migrations are compatible with it, and otherwise exits 2 at once, naming
//! both versions, with the database unchanged.

use std::path::Path;
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use crate::harness::client::blocking_get;
use crate::harness::process::{ServerProcess, command, run_bounded};
use crate::harness::{drop_postgres_database, fresh_postgres_database, spawn};

const EXIT_LIMIT: Duration = Duration::from_secs(20);
/// A migration from a future release, unknown to this binary.
const FUTURE: &str = "m29991231_000001_from_the_future";

/// The newest migration this binary knows, as `migrate status` names it.
fn binary_version(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("schema version: "))
        .and_then(|l| l.split("binary ").nth(1))
        .expect("a schema version line")
        .to_owned()
}

/// Runs `tasks-backend ARGS` on `url`; (exit status, stdout, stderr).
fn run(dir: &Path, url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = command(dir);
    cmd.args(args)
        .env("DATABASE_URL", url)
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("DATABASE_STARTUP_TIMEOUT_SECS", "5");
    let out = run_bounded(cmd, EXIT_LIMIT);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes the database look as a later release left it: `FUTURE` applied, with a
/// compatibility floor of `compatible_from`.
async fn plant_future_migration(url: &str, compatible_from: &str) {
    let db = Database::connect(url).await.expect("connect");
    for sql in [
        format!("INSERT INTO seaql_migrations (version, applied_at) VALUES ('{FUTURE}', 0)"),
        "CREATE TABLE IF NOT EXISTS schema_compatibility \
         (version varchar(255) NOT NULL PRIMARY KEY, compatible_from varchar(255) NOT NULL)"
            .to_owned(),
        format!(
            "INSERT INTO schema_compatibility (version, compatible_from) \
             VALUES ('{FUTURE}', '{compatible_from}')"
        ),
    ] {
        db.execute_unprepared(&sql).await.expect(&sql);
    }
    db.close().await.expect("close");
}

/// Everything a start-up could change in a PostgreSQL database, as one digest:
/// the tables, indexes and triggers, and the rows of the schema's and the tasks'
/// tables.
async fn postgres_fingerprint(url: &str) -> String {
    let db = Database::connect(url).await.expect("connect");
    let rows = |table: &str| {
        format!("(SELECT coalesce(string_agg(t::text, ',' ORDER BY t::text), '') FROM {table} t)")
    };
    let sql = format!(
        "SELECT md5({} || {} || {} || {} || \
         (SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public') || \
         (SELECT string_agg(indexdef, ',' ORDER BY indexdef) FROM pg_indexes WHERE schemaname = 'public') || \
         (SELECT coalesce(string_agg(tgname, ',' ORDER BY tgname), '') FROM pg_trigger WHERE NOT tgisinternal)) AS digest",
        rows("seaql_migrations"),
        rows("schema_compatibility"),
        rows("tasks"),
        rows("task_counts")
    );
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .expect("fingerprint query")
        .expect("a row");
    let digest: String = row.try_get("", "digest").expect("digest");
    db.close().await.ok();
    digest
}

/// A database this binary made, holding one task, "kept".
async fn with_one_task(url: &str) {
    let app = spawn(url).await;
    app.create_task(json!({"title": "kept"})).await;
    app.stop().await;
}

#[test]
fn migrate_status_and_up_on_a_new_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tasks.db").display());
    let (code, status, stderr) = run(dir.path(), &url, &["migrate", "status"]);
    assert_eq!(code, Some(0), "{stderr}");
    let ours = binary_version(&status);
    assert!(status.contains("schema version: database none"), "{status}");
    assert!(status.contains(&format!("pending  {ours}")), "{status}");
    assert!(!status.contains("applied  "), "{status}");

    let (code, applied, stderr) = run(dir.path(), &url, &["migrate", "up"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(applied.contains(&format!("applied  {ours}")), "{applied}");

    let (code, status, _) = run(dir.path(), &url, &["migrate", "status"]);
    assert_eq!(code, Some(0));
    assert!(status.contains(&format!("applied  {ours}")), "{status}");
    assert!(!status.contains("pending  "), "{status}");
    assert!(
        status.contains(&format!("schema version: database {ours}, binary {ours}")),
        "{status}"
    );
    let (code, again, _) = run(dir.path(), &url, &["migrate", "up"]);
    assert_eq!(code, Some(0));
    assert!(again.contains("nothing to apply"), "{again}");
}

/// Every command refuses the same way; `migrate status` explains and exits 0.
async fn an_incompatible_future_migration_stops_every_command(
    dir: &Path,
    url: &str,
    fingerprint: impl AsyncFn() -> String,
) {
    let (_, status, _) = run(dir, url, &["migrate", "status"]);
    let ours = binary_version(&status);
    plant_future_migration(url, "m29991230_000001_not_released_yet").await;
    let before = fingerprint().await;
    for args in [&["serve"][..], &["migrate", "up"]] {
        let (code, stdout, stderr) = run(dir, url, args);
        let case = format!("{args:?}: stderr {stderr:?}, stdout {stdout:?}");
        assert_eq!(code, Some(2), "{case}");
        assert_eq!(stderr.lines().count(), 1, "one line: {case}");
        assert!(
            stderr.contains(&format!(
                "the database's schema version is {FUTURE}, this binary's is {ours}"
            )),
            "names both versions: {case}"
        );
        assert!(stderr.contains("nothing was changed"), "{case}");
        assert_eq!(fingerprint().await, before, "{args:?} changed the database");
    }
    let (code, status, _) = run(dir, url, &["migrate", "status"]);
    assert_eq!(code, Some(0), "{status}");
    assert!(
        status.contains(&format!(
            "unknown  {FUTURE} (incompatible: needs m29991230_000001_not_released_yet)"
        )),
        "{status}"
    );
    assert!(status.contains("this binary cannot serve"), "{status}");
    assert_eq!(
        fingerprint().await,
        before,
        "migrate status changed the database"
    );
}

#[tokio::test]
async fn an_incompatible_future_migration_on_sqlite_is_refused_with_the_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tasks.db");
    let url = format!("sqlite://{}", db.display());
    with_one_task(&url).await;
    let file = || async { format!("{:?}", std::fs::read(&db).expect("the database file")) };
    an_incompatible_future_migration_stops_every_command(dir.path(), &url, file).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn an_incompatible_future_migration_on_postgres_is_refused_with_the_database_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_postgres_database().await;
    with_one_task(&url).await;
    an_incompatible_future_migration_stops_every_command(dir.path(), &url, || {
        postgres_fingerprint(&url)
    })
    .await;
    drop_postgres_database(&url).await;
}

/// What a rollback by one release meets: a newer migration that declares this
/// binary compatible. It serves, on the data as it is.
async fn a_compatible_future_migration_is_served(dir: &Path, url: &str) {
    let (_, status, _) = run(dir, url, &["migrate", "status"]);
    let ours = binary_version(&status);
    plant_future_migration(url, &ours).await;
    let (code, status, _) = run(dir, url, &["migrate", "status"]);
    assert_eq!(code, Some(0));
    assert!(
        status.contains(&format!(
            "unknown  {FUTURE} (compatible: needs {ours}, which this binary knows)"
        )),
        "{status}"
    );
    assert!(status.contains("this binary can serve"), "{status}");
    let server = ServerProcess::start(url, dir);
    let list = blocking_get(server.port, "/api/tasks");
    assert!(list.contains(r#""title":"kept""#), "{list}");
    let created = crate::harness::client::http()
        .post(format!("{}/api/tasks", server.address))
        .json(&json!({"title": "written by the older binary"}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    assert_eq!(server.stop(), Some(0));
}

#[tokio::test]
async fn a_compatible_future_migration_on_sqlite_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tasks.db").display());
    with_one_task(&url).await;
    a_compatible_future_migration_is_served(dir.path(), &url).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn a_compatible_future_migration_on_postgres_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_postgres_database().await;
    with_one_task(&url).await;
    a_compatible_future_migration_is_served(dir.path(), &url).await;
    drop_postgres_database(&url).await;
}
