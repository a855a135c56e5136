//! A consistent copy of a live SQLite database, for `tasks-backend backup` and for
//! the copy start-up keeps before it migrates a file.
//!
//! `VACUUM INTO` on a connection of the copy's own: it reads one snapshot of the
//! database in a read transaction, and in WAL mode a reader never blocks writers
//! (they append to the WAL meanwhile), so serving goes on while it copies; only
//! the WAL's checkpoint waits for the copy's end.

use std::path::Path;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};

/// Writes a copy of the database `db` is connected to into `dest`, which must not
/// exist (SQLite refuses a non-empty one). A failed copy (disk full) leaves no
/// partial file behind; the database itself is only read.
pub async fn vacuum_into(db: &DatabaseConnection, dest: &Path) -> Result<(), DbErr> {
    let target = dest
        .to_str()
        .ok_or_else(|| DbErr::Custom(format!("{} is not valid UTF-8", dest.display())))?;
    let copied = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "VACUUM INTO ?",
            [target.into()],
        ))
        .await;
    if copied.is_err() {
        // Only a file this call started: the caller checked that none was there.
        let _ = std::fs::remove_file(dest);
    }
    copied.map(|_| ())
}

/// Opens a copy read-only and checks it as SQLite sees it (`PRAGMA
/// integrity_check`); returns its number of tasks.
pub async fn check_copy(copy: &Path) -> Result<i64, DbErr> {
    let db = Database::connect(format!("sqlite://{}?mode=ro", copy.display())).await?;
    let checked = async {
        let first = |sql: &'static str| {
            let db = &db;
            async move {
                db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                    .await?
                    .ok_or_else(|| DbErr::Custom(format!("{sql}: no row")))
            }
        };
        let verdict: String = first("PRAGMA integrity_check").await?.try_get_by_index(0)?;
        if verdict != "ok" {
            return Err(DbErr::Custom(format!("integrity_check: {verdict}")));
        }
        first("SELECT count(*) FROM tasks")
            .await?
            .try_get_by_index(0)
    }
    .await;
    db.close().await?;
    checked
}
