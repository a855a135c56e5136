//! `tasks-backend backup DEST`: a consistent copy of the live SQLite database while
//! the server serves and writes, and a clear refusal of what it cannot do. (A full
//! volume during a backup needs a mount of its own: `scripts/test/backup-full.sh`.)

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use crate::harness::process::{command, run_bounded};
use crate::harness::{spawn_sqlite, sqlite_rows};

const EXIT_LIMIT: Duration = Duration::from_secs(60);

fn backup(dir: &Path, url: &str, dest: &Path) -> (Option<i32>, String, String) {
    let mut cmd = command(dir);
    cmd.arg("backup").arg(dest).env("DATABASE_URL", url);
    let out = run_bounded(cmd, EXIT_LIMIT);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// 20 000 tasks of 1 KiB (about 25 MB), so the copy takes long enough for the
/// writers to run through it. Written in one statement, as the API would store them.
const GROW: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
    INSERT INTO tasks (title, description, status, created_at, updated_at) \
    SELECT 'bulk ' || i, printf('%.1024c', 'x'), 'todo', \
    '2026-12-02T00:00:00.000+00:00', '2026-12-02T00:00:00.000+00:00' FROM n";

#[tokio::test]
async fn a_backup_under_concurrent_writes_is_whole_and_holds_every_acknowledged_task() {
    let app = spawn_sqlite().await;
    let grow = Database::connect(&app.database_url).await.expect("connect");
    grow.execute_unprepared(GROW).await.expect("grow the table");
    grow.close().await.ok();
    let mut acknowledged = Vec::new();
    for i in 0..50 {
        let task = app
            .create_task(json!({"title": format!("acknowledged {i}")}))
            .await;
        acknowledged.push(task["id"].as_i64().expect("id"));
    }

    // Writers that keep going while the backup runs; none may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (written, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, url) = (app.client.clone(), app.url("/api/tasks"));
            let (stop, written, refused) = (stop.clone(), written.clone(), refused.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let sent = client
                        .post(&url)
                        .json(&json!({"title": format!("during the backup, writer {w}")}))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 201 => written.fetch_add(1, Ordering::Relaxed),
                        _ => refused.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy.db");
    let (url, work, target) = (
        app.database_url.clone(),
        dir.path().to_owned(),
        dest.clone(),
    );
    let before = written.load(Ordering::Relaxed);
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || backup(&work, &url, &target))
        .await
        .expect("backup ran");
    let during = written.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer");
    }
    assert_eq!(code, Some(0), "stdout {stdout:?}, stderr {stderr:?}");
    assert!(stdout.contains("integrity ok"), "{stdout}");
    assert_eq!(
        refused.load(Ordering::Relaxed),
        0,
        "no write failed during the backup"
    );
    println!("writes acknowledged while the backup ran: {during}; {stdout}");

    let verdict: String = sqlite_rows(&dest, "PRAGMA integrity_check").await[0]
        .try_get_by_index(0)
        .expect("verdict");
    assert_eq!(verdict, "ok");
    let ids: Vec<i64> = sqlite_rows(&dest, "SELECT id FROM tasks")
        .await
        .iter()
        .map(|r| r.try_get_by_index(0).expect("id"))
        .collect();
    for id in &acknowledged {
        assert!(ids.contains(id), "acknowledged task {id} is in the copy");
    }
    assert!(ids.len() >= 20_050, "{} tasks in the copy", ids.len());
    app.stop().await;
}

#[tokio::test]
async fn a_backup_it_cannot_make_is_refused_with_status_2_and_one_line() {
    let app = spawn_sqlite().await;
    let live = app.database_url.clone();
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken.db");
    std::fs::write(&taken, "not to be lost").unwrap();
    let missing_dir = dir.path().join("no/such/dir/copy.db");
    let fresh = dir.path().join("fresh.db");
    let no_file = format!("sqlite://{}", dir.path().join("absent.db").display());
    // (DATABASE_URL, DEST, what the line says)
    let cases = [
        (
            live.as_str(),
            taken.as_path(),
            "a backup never overwrites a file",
        ),
        (live.as_str(), missing_dir.as_path(), "is not a directory"),
        (
            "postgres://tasks:s3cret@127.0.0.1:1/tasks",
            fresh.as_path(),
            "back PostgreSQL up with pg_dump",
        ),
        ("sqlite::memory:", fresh.as_path(), "in-memory"),
        (no_file.as_str(), fresh.as_path(), "no database file at"),
    ];
    for (url, dest, says) in cases {
        let (code, stdout, stderr) = backup(dir.path(), url, dest);
        let case = format!(
            "{url} -> {}: stderr {stderr:?}, stdout {stdout:?}",
            dest.display()
        );
        assert_eq!(code, Some(2), "{case}");
        assert_eq!(stderr.lines().count(), 1, "one line: {case}");
        assert!(stderr.contains(says), "says {says:?}: {case}");
        assert!(!stderr.contains("s3cret"), "no password: {case}");
    }
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "not to be lost");
    assert!(!fresh.exists(), "nothing written");
    app.stop().await;
}
