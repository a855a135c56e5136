use serde_json::{Value, json};

use crate::harness::{spawn, spawn_sqlite};

#[tokio::test]
async fn tasks_survive_a_restart_on_the_same_sqlite_file() {
    let app = spawn_sqlite().await;
    let url = app.database_url.clone();
    let kept = app
        .create_task(json!({"title": "kept", "due_date": "2027-01-01"}))
        .await;
    let deleted = app.create_task(json!({"title": "deleted"})).await;
    app.delete(&format!("/api/tasks/{}", deleted["id"])).await;
    let dir = app.stop_keeping_data().await;

    // Start-up runs the migrations again: on an existing file that must change nothing.
    let again = spawn(&url).await;
    let list: Value = again.get("/api/tasks").await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0], kept);
    let next = again.create_task(json!({"title": "after restart"})).await;
    assert!(
        next["id"].as_i64() > deleted["id"].as_i64(),
        "ids are never reused"
    );
    again.stop().await;
    drop(dir);
}

#[tokio::test]
async fn a_missing_data_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a/b/tasks.db");
    let app = spawn(&format!("sqlite://{}", db.display())).await;
    app.create_task(json!({"title": "t"})).await;
    app.stop().await;
    assert!(db.is_file(), "{} exists", db.display());
}
