//! A PostgreSQL database of a test's own, on the server `TASKS_TEST_POSTGRES_URL`
//! names.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database};

/// Drops a database made by [`fresh_postgres_database`], closing what is still
/// connected to it.
pub async fn drop_postgres_database(url: &str) {
    let admin_url = std::env::var("TASKS_TEST_POSTGRES_URL").expect("TASKS_TEST_POSTGRES_URL");
    let name = url::Url::parse(url)
        .expect("a database URL")
        .path()
        .trim_start_matches('/')
        .to_owned();
    assert!(
        name.starts_with("tasks_test_"),
        "only test databases: {name}"
    );
    let admin = Database::connect(&admin_url)
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("drop test database");
    admin.close().await.ok();
}

pub async fn fresh_postgres_database() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let admin_url = std::env::var("TASKS_TEST_POSTGRES_URL")
        .expect("TASKS_TEST_POSTGRES_URL must name a PostgreSQL server for these tests");
    let name = format!(
        "tasks_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let admin = Database::connect(&admin_url)
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .expect("drop old test database");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let mut url = url::Url::parse(&admin_url).expect("TASKS_TEST_POSTGRES_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// Restores a plain SQL dump (`pg_dump`'s default format) into the database `url`
/// names, with `psql` as an operator would: the dump's `COPY ... FROM stdin` blocks
/// and meta-commands are psql's, not SQL a driver can send.
pub fn restore_postgres_dump(url: &str, dump: &Path) {
    let out = Command::new(psql())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(dump)
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql -f {} failed: {}",
        dump.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `psql` on PATH, or the newest of Debian's server packages (which
/// scripts/ensure-postgres.sh installs; they keep it off PATH).
fn psql() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("psql"))
        .find(|candidate| candidate.is_file());
    on_path
        .or_else(|| {
            let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|entry| Some(entry.ok()?.path().join("bin/psql")))
                .filter(|candidate| candidate.is_file())
                .collect();
            found.sort();
            found.pop()
        })
        .expect("psql, on PATH or under /usr/lib/postgresql/*/bin")
}
