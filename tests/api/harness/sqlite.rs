//! Reading a SQLite file directly, as an operator's `sqlite3` would: the
//! tests that check what a copy or an old release's file holds.

use std::path::Path;

use sea_orm::{ConnectionTrait, Database, DatabaseBackend, QueryResult, Statement};

/// The rows `sql` answers on the SQLite file `file`, on a connection of its own.
pub async fn sqlite_rows(file: &Path, sql: &str) -> Vec<QueryResult> {
    let db = Database::connect(format!("sqlite://{}", file.display()))
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", file.display()));
    let rows = db
        .query_all_raw(Statement::from_string(DatabaseBackend::Sqlite, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql} on {}: {e}", file.display()));
    db.close().await.ok();
    rows
}
