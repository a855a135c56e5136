//! SQLite only: a task by id read on the request's own thread, through SQLite's C
//! API, instead of on a pooled connection's thread.
//!
//! Why: sqlx runs each SQLite connection on a thread of its own, and every query is
//! a hand-off to that thread and back: two thread wake-ups, four `futex` calls and
//! about three context switches per GET. That was most of a GET's CPU time, and
//! most of it in the kernel (`/proc/PID/task/*/stat` per thread, README "What the
//! service's own layers cost"), for a read by primary key that SQLite answers in a few microseconds from
//! its page cache. No crate in the tree offers a connection without the thread
//! (sqlx's `lock_handle` is itself a round trip to it), so this is written against
//! `libsqlite3-sys`, the bindings sqlx itself links (the same bundled SQLite).
//!
//! What keeps it equal to the pooled path:
//! - the same statement text (`HotPath`'s), columns read by name;
//! - only the common case is answered here: every column of the stored type
//!   (INTEGER id, TEXT strings, RFC 3339 times, `%F` dates, which is what the
//!   service writes) and decoded as sqlx decodes it; anything else (another type,
//!   another time layout, invalid UTF-8, SQLITE_BUSY, an I/O error) is
//!   [`Read::AskSqlx`], and the pooled path gives its answer or its error;
//! - no waiting: `busy_timeout` stays 0, so a locked database is asked again through
//!   the pool, which waits within the request's deadline; a read never awaits, so
//!   it holds its thread only for SQLite's own work (a few pages of a B-tree);
//! - each read is its own autocommit transaction, ended by `sqlite3_reset`: no reader
//!   keeps a WAL snapshot (which would stop checkpoints) between requests;
//! - bounded: one connection per runtime worker thread (a read never yields, so no
//!   more can be in use at once), at most [`MAX_READERS`], each with a page cache
//!   of [`CACHE_KIB`]; when none is free, the pool answers.

use std::ffi::{CStr, CString, c_int};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use libsqlite3_sys as ffi;
use sea_orm::{IdenStatic, Iterable};

use super::entity::task::{self, Column};

/// At most this many connections, whatever the number of cores: more would cost
/// page caches (README's memory budget counts these) for reads that the pool can
/// also answer.
pub(super) const MAX_READERS: usize = 4;

/// Each reader's page cache: the B-tree's upper pages and the recently read rows
/// (SQLite's default is 2 MiB; the pooled connections keep theirs).
const CACHE_KIB: u32 = 1024;

/// What a direct read found.
#[derive(Debug, PartialEq)]
pub(super) enum Read {
    Found(task::Model),
    Absent,
    /// Not answered here: the pooled path answers (see the module's comment).
    AskSqlx,
}

/// The connections, each with the statement prepared.
pub(super) struct DirectReads {
    idle: Mutex<Vec<Reader>>,
}

impl DirectReads {
    /// `readers` connections to the database file at `path`, each with `sql` (the
    /// select of one task by id) prepared. Err: why not, for the log.
    pub(super) fn open(path: &Path, sql: &str, readers: usize) -> Result<Self, String> {
        // SAFETY: a plain query of a compile-time setting.
        if unsafe { ffi::sqlite3_threadsafe() } == 0 {
            return Err("SQLite was built without thread support".to_owned());
        }
        let path = path
            .to_str()
            .and_then(|p| CString::new(p).ok())
            .ok_or_else(|| format!("the path {} is not plain UTF-8", path.display()))?;
        let sql = CString::new(sql).map_err(|e| e.to_string())?;
        let idle = (0..readers.clamp(1, MAX_READERS))
            .map(|_| Reader::open(&path, &sql))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            idle: Mutex::new(idle),
        })
    }

    /// The task with this id, read on this thread.
    pub(super) fn get(&self, id: i64) -> Read {
        let Some(mut reader) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) else {
            return Read::AskSqlx;
        };
        let read = reader.get(id);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(reader);
        }
        read
    }
}

/// One connection and its prepared statement.
struct Reader {
    db: NonNull<ffi::sqlite3>,
    stmt: NonNull<ffi::sqlite3_stmt>,
    /// The result column of each of the entity's columns, in `Column::iter()` order.
    at: [c_int; COLUMNS],
}

const COLUMNS: usize = 7;

// SAFETY: the connection is opened with SQLITE_OPEN_NOMUTEX on a thread-safe build
// ("multi-thread" mode): it may move between threads as long as one thread at a
// time uses it, which `DirectReads` ensures (a reader is out of its `Mutex<Vec>` while
// it is used, and `get` takes `&mut self`).
unsafe impl Send for Reader {}

impl Reader {
    fn open(path: &CStr, sql: &CStr) -> Result<Self, String> {
        let mut db = ptr::null_mut();
        // Read-write, never create: the database exists (start-up migrated it), and a
        // read-write connection takes WAL read locks the usual way. `query_only`
        // below forbids writes.
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX;
        // SAFETY: valid C strings; `db` receives a handle (even on failure, when it
        // must still be closed, which `Handle` does).
        let rc = unsafe { ffi::sqlite3_open_v2(path.as_ptr(), &mut db, flags, ptr::null()) };
        let db = Handle(NonNull::new(db).ok_or("SQLite could not allocate a connection")?);
        if rc != ffi::SQLITE_OK {
            return Err(db.error());
        }
        let pragmas = CString::new(format!(
            "PRAGMA query_only = ON; PRAGMA cache_size = -{CACHE_KIB}"
        ))
        .map_err(|e| e.to_string())?;
        // SAFETY: an open connection and a C string; no callback.
        let rc = unsafe {
            ffi::sqlite3_exec(
                db.0.as_ptr(),
                pragmas.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(db.error());
        }
        let mut stmt = ptr::null_mut();
        // SAFETY: an open connection, a C string (-1: up to its NUL).
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(db.0.as_ptr(), sql.as_ptr(), -1, &mut stmt, ptr::null_mut())
        };
        let Some(stmt) = NonNull::new(stmt).filter(|_| rc == ffi::SQLITE_OK) else {
            return Err(db.error());
        };
        let reader = Self {
            db: db.into_inner(),
            stmt,
            at: [0; COLUMNS],
        };
        reader.with_positions()
    }

    /// Finds each of the entity's columns among the statement's result columns.
    fn with_positions(mut self) -> Result<Self, String> {
        // SAFETY: a prepared statement.
        let count = unsafe { ffi::sqlite3_column_count(self.stmt.as_ptr()) };
        let names: Vec<Option<String>> = (0..count)
            .map(|i| {
                // SAFETY: a prepared statement and a column index below its count;
                // the name is copied before anything else touches the statement.
                let name = unsafe { ffi::sqlite3_column_name(self.stmt.as_ptr(), i) };
                (!name.is_null()).then(|| {
                    unsafe { CStr::from_ptr(name) }
                        .to_string_lossy()
                        .into_owned()
                })
            })
            .collect();
        for (slot, column) in self.at.iter_mut().zip(Column::iter()) {
            let found = names
                .iter()
                .position(|n| n.as_deref() == Some(column.as_str()))
                .ok_or_else(|| format!("the statement has no column {}", column.as_str()))?;
            *slot = c_int::try_from(found).map_err(|e| e.to_string())?;
        }
        Ok(self)
    }

    fn get(&mut self, id: i64) -> Read {
        let stmt = self.stmt.as_ptr();
        // SAFETY: a prepared statement, not being stepped elsewhere (`&mut self`).
        let read = if unsafe { ffi::sqlite3_bind_int64(stmt, 1, id) } != ffi::SQLITE_OK {
            Read::AskSqlx
        } else {
            // SAFETY: as above.
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_ROW => self.row().map_or(Read::AskSqlx, Read::Found),
                ffi::SQLITE_DONE => Read::Absent,
                _ => Read::AskSqlx,
            }
        };
        // Ends the read transaction, whatever happened: the row's strings were
        // copied by `row`. (Its code repeats the step's error, already handled.)
        // SAFETY: as above.
        unsafe { ffi::sqlite3_reset(stmt) };
        read
    }

    /// The current row, decoded as sqlx decodes it; `None` for anything else.
    fn row(&self) -> Option<task::Model> {
        let [
            id,
            title,
            description,
            status,
            due_date,
            created_at,
            updated_at,
        ] = self.at;
        Some(task::Model {
            id: self.integer(id)?,
            title: self.text(title)?.to_owned(),
            description: self.optional_text(description)?.map(str::to_owned),
            status: self.text(status)?.to_owned(),
            due_date: match self.optional_text(due_date)? {
                Some(date) => Some(NaiveDate::parse_from_str(date, "%F").ok()?),
                None => None,
            },
            created_at: time(self.text(created_at)?)?,
            updated_at: time(self.text(updated_at)?)?,
        })
    }

    fn column_type(&self, col: c_int) -> c_int {
        // SAFETY: a statement on a row, a column index it has (`with_positions`).
        unsafe { ffi::sqlite3_column_type(self.stmt.as_ptr(), col) }
    }

    fn integer(&self, col: c_int) -> Option<i64> {
        // SAFETY: as in `column_type`.
        (self.column_type(col) == ffi::SQLITE_INTEGER)
            .then(|| unsafe { ffi::sqlite3_column_int64(self.stmt.as_ptr(), col) })
    }

    /// A TEXT value, borrowed until the statement moves (`&self` keeps it still).
    fn text(&self, col: c_int) -> Option<&str> {
        if self.column_type(col) != ffi::SQLITE_TEXT {
            return None;
        }
        let stmt = self.stmt.as_ptr();
        // SAFETY: as in `column_type`. The text first, then its length (SQLite's
        // documented order); the bytes stay valid until the next step or reset,
        // which need `&mut self`.
        let bytes = unsafe {
            let text = ffi::sqlite3_column_text(stmt, col);
            let len = usize::try_from(ffi::sqlite3_column_bytes(stmt, col)).ok()?;
            if text.is_null() {
                return None;
            }
            std::slice::from_raw_parts(text, len)
        };
        std::str::from_utf8(bytes).ok()
    }

    /// NULL, or a TEXT value; `None` for any other type.
    fn optional_text(&self, col: c_int) -> Option<Option<&str>> {
        if self.column_type(col) == ffi::SQLITE_NULL {
            Some(None)
        } else {
            self.text(col).map(Some)
        }
    }
}

/// sqlx's first reading of a stored time (its others are left to it).
fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Drop for Reader {
    fn drop(&mut self) {
        // SAFETY: the statement and then its connection, each once.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
        drop(Handle(self.db));
    }
}

/// A connection that is closed when dropped, until handed on.
struct Handle(NonNull<ffi::sqlite3>);

impl Handle {
    /// SQLite's message for the connection's last error.
    fn error(&self) -> String {
        // SAFETY: a connection handle; the message is copied at once.
        let message = unsafe { ffi::sqlite3_errmsg(self.0.as_ptr()) };
        if message.is_null() {
            return "unknown SQLite error".to_owned();
        }
        // SAFETY: SQLite's messages are NUL-terminated.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }

    fn into_inner(self) -> NonNull<ffi::sqlite3> {
        let db = self.0;
        std::mem::forget(self);
        db
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: a connection handle, closed once, after its statement (if any:
        // `Reader`'s drop finalizes it first).
        unsafe { ffi::sqlite3_close(self.0.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use sea_orm::{
        ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryTrait, Statement,
    };

    use super::*;
    use crate::configuration::{DatabaseSettings, DatabaseUrl};
    use crate::db::connect::{Connections, connect};
    use crate::db::entity::task::Entity as Tasks;
    use crate::db::hot_path::{HotPath, NewRow};

    /// A migrated database file, its pool, the pooled path alone, and the file.
    async fn database(dir: &tempfile::TempDir) -> (DatabaseConnection, HotPath, PathBuf) {
        let path = dir.path().join("tasks.db");
        let settings = DatabaseSettings {
            url: DatabaseUrl::parse(&format!("sqlite://{}", path.display())).unwrap(),
            startup_timeout: Duration::from_secs(5),
            max_connections: 2,
        };
        let Connections {
            main,
            direct_read_file,
            ..
        } = connect(&settings).await.unwrap();
        assert_eq!(
            direct_read_file.as_deref(),
            Some(path.as_path()),
            "a plain file URL"
        );
        (main, HotPath::new(DatabaseBackend::Sqlite, None), path)
    }

    /// The pooled path's statement, as `HotPath` builds it.
    fn get_sql() -> String {
        Tasks::find_by_id(0).build(DatabaseBackend::Sqlite).sql
    }

    fn row(title: &str, description: Option<&str>, due: Option<NaiveDate>) -> NewRow {
        NewRow {
            title: title.to_owned(),
            description: description.map(str::to_owned),
            status: "in_progress",
            due_date: due,
            // Sub-second digits, as the service stores them.
            now: DateTime::parse_from_rfc3339("2026-12-03T20:15:07.123Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    async fn exec(db: &DatabaseConnection, sql: &str) {
        db.execute_raw(Statement::from_string(DatabaseBackend::Sqlite, sql))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_task_read_directly_is_the_task_sqlx_reads() {
        let dir = tempfile::tempdir().unwrap();
        let (db, pooled, path) = database(&dir).await;
        let reads = DirectReads::open(&path, &get_sql(), 1).unwrap();
        let rows = [
            row("plain", None, None),
            row(
                "ünïcode \"quoted\" \u{1F600}",
                Some("a description\nover two lines"),
                NaiveDate::from_ymd_opt(2027, 2, 28),
            ),
            row("empty description", Some(""), None),
        ];
        for new in &rows {
            let created = pooled.insert(&db, new).await.unwrap();
            let through_sqlx = pooled.get(&db, created.id).await.unwrap();
            assert_eq!(
                through_sqlx.as_ref(),
                Some(&created),
                "sqlx reads what it wrote"
            );
            assert_eq!(
                reads.get(created.id),
                Read::Found(created.clone()),
                "{:?}",
                new.title
            );
        }
        assert_eq!(reads.get(999_999), Read::Absent, "an id that is not there");
        assert_eq!(reads.get(-1), Read::Absent, "a negative id");

        // The store's hot path opens its readers on the same file, and answers so.
        let hot = HotPath::new(DatabaseBackend::Sqlite, Some(&path));
        assert!(hot.reads_directly(), "readers opened on {}", path.display());
    }

    #[tokio::test]
    async fn what_sqlx_reads_differently_is_left_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let (db, pooled, path) = database(&dir).await;
        let reads = DirectReads::open(&path, &get_sql(), 1).unwrap();
        let hot = HotPath::new(DatabaseBackend::Sqlite, Some(&path));
        let cases = [
            (
                "created_at = '2026-12-03 20:15:07.123'",
                "a time in SQLite's own layout, which sqlx reads too",
            ),
            ("updated_at = 1796328907", "a time stored as seconds"),
            ("title = x'4142'", "a title stored as a blob"),
            ("description = x'c328'", "a description stored as a blob"),
            ("due_date = '2027-02-30'", "a date that is not one"),
        ];
        for (set, why) in cases {
            let id = pooled
                .insert(&db, &row("a task", None, None))
                .await
                .unwrap()
                .id;
            exec(&db, &format!("UPDATE tasks SET {set} WHERE id = {id}")).await;
            assert_eq!(reads.get(id), Read::AskSqlx, "{why}");
            // Through the hot path, the pooled answer: the same row or the same error.
            let answer = |read: Result<Option<task::Model>, sea_orm::DbErr>| format!("{read:?}");
            assert_eq!(
                answer(hot.get(&db, id).await),
                answer(pooled.get(&db, id).await),
                "{why}"
            );
        }
    }

    #[tokio::test]
    async fn a_direct_read_keeps_no_snapshot_and_waits_for_no_reader() {
        let dir = tempfile::tempdir().unwrap();
        let (db, pooled, path) = database(&dir).await;
        let reads = DirectReads::open(&path, &get_sql(), 1).unwrap();
        let created = pooled
            .insert(&db, &row("a task", None, None))
            .await
            .unwrap();
        assert_eq!(reads.get(created.id), Read::Found(created.clone()));
        // A reader still in its transaction would hold the WAL: the checkpoint
        // would say busy (its first column) and leave frames behind.
        let checkpoint = db
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "PRAGMA wal_checkpoint(TRUNCATE)",
            ))
            .await
            .unwrap()
            .unwrap();
        let busy: i32 = checkpoint.try_get_by_index(0).unwrap();
        assert_eq!(busy, 0, "the direct read ended its transaction");

        // Every reader in use: the pool answers instead of anyone waiting.
        let taken = reads.idle.lock().unwrap().pop();
        assert!(taken.is_some(), "one reader was idle");
        assert_eq!(reads.get(created.id), Read::AskSqlx, "no reader free");
    }

    #[tokio::test]
    async fn a_reader_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let (db, pooled, path) = database(&dir).await;
        let created = pooled
            .insert(&db, &row("a task", None, None))
            .await
            .unwrap();
        // A statement with the select's columns that would delete the row.
        let delete = format!(
            "DELETE FROM tasks WHERE id = ? RETURNING {}",
            Column::iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let reads = DirectReads::open(&path, &delete, 1).unwrap();
        assert_eq!(reads.get(created.id), Read::AskSqlx, "refused: query_only");
        assert_eq!(
            pooled.get(&db, created.id).await.unwrap(),
            Some(created),
            "the row is still there"
        );
    }

    #[tokio::test]
    async fn readers_are_bounded_and_keep_a_small_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, _pooled, path) = database(&dir).await;
        let cases = [
            (0, 1, "at least one"),
            (2, 2, "one per worker thread"),
            (64, MAX_READERS, "never more than MAX_READERS"),
        ];
        for (workers, want, why) in cases {
            let reads = DirectReads::open(&path, &get_sql(), workers).unwrap();
            let idle = reads.idle.lock().unwrap();
            assert_eq!(idle.len(), want, "{why}");
            for reader in idle.iter() {
                assert_eq!(
                    reader.pragma("PRAGMA cache_size"),
                    -i64::from(CACHE_KIB),
                    "{why}"
                );
                assert_eq!(reader.pragma("PRAGMA query_only"), 1, "{why}");
            }
        }
    }

    impl Reader {
        /// A pragma's integer value on this reader's connection.
        fn pragma(&self, sql: &str) -> i64 {
            let sql = CString::new(sql).unwrap();
            let mut stmt = ptr::null_mut();
            // SAFETY: test only: an open connection, a statement finalized below.
            unsafe {
                let rc = ffi::sqlite3_prepare_v2(
                    self.db.as_ptr(),
                    sql.as_ptr(),
                    -1,
                    &mut stmt,
                    ptr::null_mut(),
                );
                assert_eq!(rc, ffi::SQLITE_OK);
                assert_eq!(ffi::sqlite3_step(stmt), ffi::SQLITE_ROW);
                let value = ffi::sqlite3_column_int64(stmt, 0);
                ffi::sqlite3_finalize(stmt);
                value
            }
        }
    }

    #[test]
    fn a_file_that_is_not_there_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.db");
        assert!(DirectReads::open(&path, &get_sql(), 1).is_err());
        assert!(!path.exists(), "{}", path.display());
    }
}
