//! Data written by earlier releases: each release's fixtures, made by that release's
//! binary through its API (`scripts/build/data-fixtures.sh`), open with this
//! version and answer the same tasks, and take new ones.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{
    TestApp, drop_postgres_database, fresh_postgres_database, restore_postgres_dump, spawn,
    sqlite_rows,
};

/// One folder per release: `tasks.sqlite` and `tasks.postgres.sql`, with the list
/// (`GET /api/tasks?limit=500`) each answered when it was written.
fn releases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/releases");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|entry| entry.expect("fixture folder").path())
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no release under {}", root.display());
    found
}

fn release_name(release: &Path) -> String {
    release
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every task the release answered is answered again, field for field (a later
/// version may add fields, never change or drop one), in the same order, by the
/// list and by id; and a new task gets an id after every old one.
async fn assert_same_tasks(app: &TestApp, answered: &Path, release: &str) {
    let text =
        std::fs::read_to_string(answered).unwrap_or_else(|e| panic!("{}: {e}", answered.display()));
    let then: Value = serde_json::from_str(&text).expect("fixture JSON");
    let now: Value = app
        .get("/api/tasks?limit=500")
        .await
        .json()
        .await
        .expect("list JSON");
    assert_eq!(now["total"], then["total"], "{release}: total");
    let (now_items, then_items) = (
        now["items"].as_array().expect("items"),
        then["items"].as_array().expect("fixture items"),
    );
    assert!(!then_items.is_empty(), "{release}: the fixture holds tasks");
    assert_eq!(now_items.len(), then_items.len(), "{release}: tasks listed");
    for (now_task, then_task) in now_items.iter().zip(then_items) {
        let id = &then_task["id"];
        let by_id: Value = app
            .get(&format!("/api/tasks/{id}"))
            .await
            .json()
            .await
            .expect("task JSON");
        for (field, value) in then_task.as_object().expect("a task is an object") {
            assert_eq!(
                &now_task[field], value,
                "{release}: task {id}, {field}, listed"
            );
            assert_eq!(&by_id[field], value, "{release}: task {id}, {field}, by id");
        }
    }
    let newest = then_items.iter().filter_map(|t| t["id"].as_i64()).max();
    let created = app.create_task(json!({"title": "after the upgrade"})).await;
    assert!(
        created["id"].as_i64() > newest,
        "{release}: new id {} after {newest:?}",
        created["id"]
    );
}

/// The migrations a SQLite file holds, and its number of tasks.
async fn sqlite_contents(file: &Path) -> (Vec<String>, i64) {
    let versions = sqlite_rows(
        file,
        "SELECT version FROM seaql_migrations ORDER BY version",
    )
    .await
    .iter()
    .map(|r| r.try_get_by_index::<String>(0).expect("version"))
    .collect();
    let tasks = sqlite_rows(file, "SELECT count(*) FROM tasks").await[0]
        .try_get_by_index::<i64>(0)
        .expect("count");
    (versions, tasks)
}

/// Before migrating the release's file, start-up kept it as it was beside it,
/// `<file>.before-<its version>`; and only then.
async fn assert_copy_kept_before_migrating(release: &Path, db: &Path, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.db");
    std::fs::copy(release.join("tasks.sqlite"), &original).expect("copy the fixture");
    let (versions, tasks) = sqlite_contents(&original).await;
    let (migrated, _) = sqlite_contents(db).await;
    let version = versions.last().expect("the release's schema version");
    let copy = PathBuf::from(format!("{}.before-{version}", db.display()));
    if migrated == versions {
        assert!(
            !copy.exists(),
            "{name}: nothing migrated, yet a copy was kept"
        );
        return;
    }
    assert!(
        copy.is_file(),
        "{name}: no copy {} before migrating",
        copy.display()
    );
    assert_eq!(
        sqlite_contents(&copy).await,
        (versions.clone(), tasks),
        "{name}: the copy is the file as it was"
    );
}

#[tokio::test]
async fn every_release_s_sqlite_file_opens_and_answers_the_same_tasks() {
    for release in releases() {
        let name = release_name(&release);
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tasks.db");
        std::fs::copy(release.join("tasks.sqlite"), &db).expect("copy the fixture");
        let app = spawn(&format!("sqlite://{}", db.display())).await;
        assert_same_tasks(&app, &release.join("tasks.sqlite.json"), &name).await;
        app.stop().await;
        assert_copy_kept_before_migrating(&release, &db, &name).await;
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set TASKS_TEST_POSTGRES_URL, run with --include-ignored"]
async fn every_release_s_postgres_dump_restores_and_answers_the_same_tasks() {
    for release in releases() {
        let name = release_name(&release);
        let url = fresh_postgres_database().await;
        restore_postgres_dump(&url, &release.join("tasks.postgres.sql"));
        let app = spawn(&url).await;
        assert_same_tasks(&app, &release.join("tasks.postgres.json"), &name).await;
        app.stop().await;
        drop_postgres_database(&url).await;
    }
}
