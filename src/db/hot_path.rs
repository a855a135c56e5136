//! The two statements a busy replica runs most, `get` and `create`, run through
//! sqlx directly. sea-orm's generic path cost a GET about a third of its CPU: a
//! `Select` built and thrown away, two boxed futures of several KiB each copied to
//! the heap, every row converted through its dynamic `QueryResult` (callgrind, 1 000
//! sequential GETs, `bench/instructions.sh`). Their text is still sea-query's, built once
//! per store; the values bound here are the ones sea-orm binds (sea-query-sqlx
//! hands sqlx the same chrono types), so both paths store the same bytes and each
//! reads what the other wrote.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::sqlx::{self, AssertSqlSafe, ColumnIndex, Decode, Row, SqlSafeStr, SqlStr, Type};
use sea_orm::{
    ConnAcquireErr, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, IdenStatic, Iterable,
    QueryTrait, RuntimeErr,
};

use super::direct_read::{DirectReads, Read};
use super::entity::task::{self, Column, Entity as Tasks};

/// What a new row holds; the id is the database's. Owned: on SQLite it travels to
/// the task that commits the inserts (`group_commit`).
pub(super) struct NewRow {
    pub title: String,
    pub description: Option<String>,
    pub status: &'static str,
    pub due_date: Option<NaiveDate>,
    pub now: DateTime<Utc>,
}

/// The statements' text for one backend, built once; on a SQLite file, the
/// connections that read a task on the request's thread.
pub(super) struct HotPath {
    get: SqlStr,
    insert: SqlStr,
    direct: Option<DirectReads>,
}

/// `$body` with `$conn` a connection from `$db`'s pool, whichever backend it is: a
/// macro because the two backends' connections and queries are different types
/// with the same methods.
macro_rules! on_either_pool {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db.get_database_backend() {
            DatabaseBackend::Postgres => {
                let mut $conn = acquire($db.get_postgres_connection_pool()).await?;
                $body
            }
            _ => {
                let mut $conn = acquire($db.get_sqlite_connection_pool()).await?;
                $body
            }
        }
    };
}

/// The values of a new row in the INSERT's column order. A macro because the two
/// backends' queries are different types with the same methods.
macro_rules! bind_new {
    ($query:expr, $new:expr) => {
        $query
            .bind($new.title.as_str())
            .bind($new.description.as_deref())
            .bind($new.status)
            .bind($new.due_date)
            .bind($new.now)
            .bind($new.now)
    };
}

impl HotPath {
    /// `direct_read_file`: the SQLite file to read tasks from directly. Call it
    /// within the runtime: it opens a connection per worker thread.
    pub(super) fn new(backend: DatabaseBackend, direct_read_file: Option<&Path>) -> Self {
        let get = Tasks::find_by_id(0).build(backend).sql;
        let direct = direct_read_file.and_then(|path| {
            // A direct read never awaits: no more can run at once than there are
            // worker threads.
            let readers = tokio::runtime::Handle::try_current()
                .map_or(1, |runtime| runtime.metrics().num_workers());
            DirectReads::open(path, &get, readers)
                .inspect_err(|reason| {
                    tracing::warn!(%reason, "tasks by id are read through the connection pool");
                })
                .ok()
        });
        // Every column but the id, in the entity's order (which `bind_new` follows),
        // returning the whole row.
        let columns: Vec<Column> = Column::iter()
            .filter(|c| !matches!(c, Column::Id))
            .collect();
        let placeholders: Vec<Expr> = columns.iter().map(|_| Expr::val("")).collect();
        let mut insert = Query::insert();
        insert
            .into_table(Tasks)
            .columns(columns)
            // As many values as columns, from the same list: it cannot panic.
            .values_panic(placeholders)
            .returning(Query::returning().columns(Column::iter()));
        let insert = backend.build(&insert).sql;
        Self {
            get: AssertSqlSafe(get).into_sql_str(),
            insert: AssertSqlSafe(insert).into_sql_str(),
            direct,
        }
    }

    /// Whether tasks by id are read on the request's thread (`direct_read`).
    #[cfg(test)]
    pub(super) fn reads_directly(&self) -> bool {
        self.direct.is_some()
    }

    pub(super) async fn get(
        &self,
        db: &DatabaseConnection,
        id: i64,
    ) -> Result<Option<task::Model>, DbErr> {
        match self.direct.as_ref().map(|direct| direct.get(id)) {
            Some(Read::Found(row)) => return Ok(Some(row)),
            Some(Read::Absent) => return Ok(None),
            Some(Read::AskSqlx) | None => {}
        }
        let sql = self.get.clone();
        on_either_pool!(db, |conn| {
            let row = sqlx::query(sql)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(query_err)?;
            row.as_ref().map(model).transpose()
        })
    }

    /// Every returned row is read: SQLite commits an autocommit statement only when
    /// it is stepped to its end, so a commit that fails (disk full, I/O error) is an
    /// error here, not a 201 for a row that was rolled back.
    pub(super) async fn insert(
        &self,
        db: &DatabaseConnection,
        new: &NewRow,
    ) -> Result<task::Model, DbErr> {
        let sql = self.insert.clone();
        let created = on_either_pool!(db, |conn| {
            let rows = bind_new!(sqlx::query(sql), new)
                .fetch_all(&mut *conn)
                .await
                .map_err(query_err)?;
            rows.first().map(model).transpose()
        })?;
        created.ok_or(DbErr::RecordNotInserted)
    }

    /// The rows inserted in one transaction, in order: one commit (one `fsync`)
    /// for all of them. All or none: on an error nothing was inserted.
    pub(super) async fn insert_all(
        &self,
        db: &DatabaseConnection,
        rows: &[&NewRow],
    ) -> Result<Vec<task::Model>, DbErr> {
        on_either_pool!(db, |conn| {
            let mut txn = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(query_err)?;
            let mut created = Vec::with_capacity(rows.len());
            for new in rows {
                let returned = bind_new!(sqlx::query(self.insert.clone()), new)
                    .fetch_all(&mut *txn)
                    .await
                    .map_err(query_err)?;
                let row = returned.first().ok_or(DbErr::RecordNotInserted)?;
                created.push(model(row)?);
            }
            txn.commit().await.map_err(query_err)?;
            Ok(created)
        })
    }
}

/// A connection, with sea-orm's own errors (`StoreError` tells an exhausted or
/// closed pool, and a database that cannot be reached, from a failed query; the
/// pool metrics count the timeouts). Mapped here because sea-orm keeps its mapping
/// (`sqlx_conn_acquire_err`) crate-private; this is the same three cases. Boxed: the acquire's future is several KiB,
/// and inline it would be part of every future that awaits this one, up to the
/// HTTP connection's, and copied at each of poem's boxes (callgrind: more CPU than
/// sea-orm's path, until boxed).
async fn acquire<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
) -> Result<sqlx::pool::PoolConnection<DB>, DbErr> {
    Box::pin(pool.acquire()).await.map_err(|err| match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(other.into())),
    })
}

fn query_err(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(err.into()))
}

/// A `tasks` row by column name, on either backend.
fn model<'r, R>(row: &'r R) -> Result<task::Model, DbErr>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    Option<NaiveDate>: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let read = || -> Result<task::Model, sqlx::Error> {
        Ok(task::Model {
            id: row.try_get(Column::Id.as_str())?,
            title: row.try_get(Column::Title.as_str())?,
            description: row.try_get(Column::Description.as_str())?,
            status: row.try_get(Column::Status.as_str())?,
            due_date: row.try_get(Column::DueDate.as_str())?,
            created_at: row.try_get(Column::CreatedAt.as_str())?,
            updated_at: row.try_get(Column::UpdatedAt.as_str())?,
        })
    };
    read().map_err(query_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_insert_names_every_column_but_the_id_in_the_bound_order() {
        let cases = [
            (
                DatabaseBackend::Sqlite,
                r#"INSERT INTO "tasks" ("title", "description", "status", "due_date", "created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?) RETURNING "id", "title", "description", "status", "due_date", "created_at", "updated_at""#,
            ),
            (
                DatabaseBackend::Postgres,
                r#"INSERT INTO "tasks" ("title", "description", "status", "due_date", "created_at", "updated_at") VALUES ($1, $2, $3, $4, $5, $6) RETURNING "id", "title", "description", "status", "due_date", "created_at", "updated_at""#,
            ),
        ];
        for (backend, want) in cases {
            let hot = HotPath::new(backend, None);
            assert_eq!(hot.insert.as_str(), want, "{backend:?}");
        }
    }
}
