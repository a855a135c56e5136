use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::schema::{self, SchemaError};
use crate::configuration::{DatabaseSettings, DatabaseUrl, SettingsError};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    RuntimeErr, sqlx,
};

/// How long a request waits for a pooled connection, opening one included; past it
/// the request answers 503. sqlx has one budget for both (sea-orm's
/// `connect_timeout` is the same setting), so this is the only one set.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The health probes' own pool: small, and with a shorter wait than requests get,
/// so `/health` and `/readyz` answer within their 1.5 s budget.
const PROBE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
const PROBE_CONNECTIONS: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("database {url} unreachable after {attempts} attempts in {waited:?}: {last}")]
    Unreachable {
        url: String,
        attempts: u32,
        waited: Duration,
        last: DbErr,
    },
    /// The server answered and said no (wrong password, no such database): waiting
    /// will not change that, so start-up stops at once, naming `DATABASE_URL`.
    #[error(transparent)]
    Refused(SettingsError),
    #[error("database migration failed: {0}")]
    Migration(#[source] DbErr),
    #[error(transparent)]
    Schema(SchemaError),
    #[error(
        "another replica held the migration lock for the whole start-up budget ({waited:?}); \
         raise DATABASE_STARTUP_TIMEOUT_SECS or stop the replica that hangs"
    )]
    MigrationLockTimeout { waited: Duration },
}

/// The service's two pools: one for requests, and a small one of the health probes'
/// own, so a replica whose request pool is busy still reports itself healthy.
pub struct Connections {
    pub main: DatabaseConnection,
    pub probe: DatabaseConnection,
    /// The SQLite file a task by id is read from on the request's thread
    /// (`direct_read`): a plain path only; with URL options (`?mode=ro`, ...) or
    /// in memory, sqlx alone opens the database.
    pub direct_read_file: Option<PathBuf>,
}

/// Connects (retrying with backoff while the database is not up yet, as happens when
/// containers start together), then brings the schema up to date. The whole of it
/// stays within `startup_timeout`; zero means one attempt.
pub async fn connect(settings: &DatabaseSettings) -> Result<Connections, ConnectError> {
    let started = Instant::now();
    let deadline = started + settings.startup_timeout;
    let main = with_retries(settings, connect_options(settings), started, deadline).await?;
    let probe = match &settings.url {
        // Every connection to `:memory:` is a database of its own: probe the one.
        DatabaseUrl::Sqlite { path: None, .. } => main.clone(),
        _ => with_retries(settings, probe_options(settings), started, deadline).await?,
    };
    migrate(&main, settings, deadline).await?;
    let direct_read_file = match &settings.url {
        DatabaseUrl::Sqlite {
            url,
            path: Some(path),
        } if !url.contains(['?', '%']) => Some(path.clone()),
        _ => None,
    };
    Ok(Connections {
        main,
        probe,
        direct_read_file,
    })
}

/// One connection pool on the database, retried like [`connect`], schema untouched:
/// for the commands that look at or change the schema only.
pub async fn open(settings: &DatabaseSettings) -> Result<DatabaseConnection, ConnectError> {
    let started = Instant::now();
    let deadline = started + settings.startup_timeout;
    let mut options = connect_options(settings);
    options.min_connections(0);
    with_retries(settings, options, started, deadline).await
}

/// `tasks-backend migrate up`: what start-up does to the schema, then nothing
/// else. Returns the migrations applied.
pub async fn migrate_only(settings: &DatabaseSettings) -> Result<Vec<String>, ConnectError> {
    let deadline = Instant::now() + settings.startup_timeout;
    let db = open(settings).await?;
    let applied = migrate(&db, settings, deadline).await;
    if let Err(err) = db.close().await {
        tracing::warn!(error = %err, "closing the database failed");
    }
    applied
}

async fn with_retries(
    settings: &DatabaseSettings,
    options: ConnectOptions,
    started: Instant,
    deadline: Instant,
) -> Result<DatabaseConnection, ConnectError> {
    let mut delay = Duration::from_millis(100);
    let mut attempts = 0;
    loop {
        attempts += 1;
        // An attempt waits at most the acquire timeout, and never past the budget
        // (but the first attempt always gets its chance, even with a zero budget).
        let remaining = deadline.saturating_duration_since(Instant::now());
        let limit = if attempts == 1 {
            ACQUIRE_TIMEOUT
        } else {
            remaining.min(ACQUIRE_TIMEOUT)
        };
        let attempt = tokio::time::timeout(limit, Database::connect(options.clone()))
            .await
            .unwrap_or_else(|_| Err(DbErr::Custom(format!("no connection within {limit:?}"))));
        let err = match attempt {
            Ok(db) => return Ok(db),
            Err(err) => err,
        };
        if let Some(reason) = refusal(&err) {
            return Err(ConnectError::Refused(
                settings
                    .url
                    .refused(format!("the database server refused it: {reason}")),
            ));
        }
        if Instant::now() + delay >= deadline {
            return Err(ConnectError::Unreachable {
                url: settings.url.redacted(),
                attempts,
                waited: started.elapsed(),
                last: err,
            });
        }
        tracing::warn!(attempt = attempts, error = %err, retry_in_ms = delay.as_millis() as u64, "database not reachable yet");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// PostgreSQL's answers that no retry can change: bad credentials (class 28), no
/// such database (3D000). The server's message names the user or the database,
/// never the password.
fn refusal(err: &DbErr) -> Option<String> {
    let (DbErr::Conn(RuntimeErr::SqlxError(e))
    | DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return None;
    };
    let sqlx::Error::Database(db) = e.as_ref() else {
        return None;
    };
    let code = db.code()?;
    (code.starts_with("28") || code == "3D000").then(|| format!("{} ({code})", db.message()))
}

/// The key of the PostgreSQL advisory lock that migrations run under ("tasks_mg").
const MIGRATION_LOCK_KEY: i64 = 0x7461_736b_735f_6d67;

/// Brings the schema up to date. Replicas that start together on one PostgreSQL
/// database would otherwise race to create it, and all but one fail on a duplicate
/// catalog entry; they take turns under a session advisory lock, held on a connection
/// of its own (the pool may have just one) and released when that connection closes.
/// The wait for it is bounded by the start-up budget: a replica that hangs while
/// holding it must not hold every other one back for ever.
async fn migrate(
    db: &DatabaseConnection,
    settings: &DatabaseSettings,
    deadline: Instant,
) -> Result<Vec<String>, ConnectError> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        let file = match &settings.url {
            DatabaseUrl::Sqlite { path, .. } => path.as_deref(),
            DatabaseUrl::Postgres { .. } => None,
        };
        return schema::upgrade(db, file)
            .await
            .map_err(ConnectError::Schema);
    }
    let mut lock_options = connect_options(settings);
    lock_options.max_connections(1).min_connections(0);
    let lock = Database::connect(lock_options)
        .await
        .map_err(ConnectError::Migration)?;
    let started = Instant::now();
    let migrated = async {
        loop {
            let row = lock
                .query_one_raw(sea_orm::Statement::from_string(
                    DatabaseBackend::Postgres,
                    format!("SELECT pg_try_advisory_lock({MIGRATION_LOCK_KEY}) AS locked"),
                ))
                .await
                .map_err(ConnectError::Migration)?;
            let locked = match row {
                Some(row) => row
                    .try_get::<bool>("", "locked")
                    .map_err(ConnectError::Migration)?,
                None => false,
            };
            if locked {
                break;
            }
            if Instant::now() >= deadline {
                return Err(ConnectError::MigrationLockTimeout {
                    waited: started.elapsed(),
                });
            }
            tracing::info!("another replica is migrating the schema; waiting for it");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        schema::upgrade(db, None)
            .await
            .map_err(ConnectError::Schema)
    }
    .await;
    if let Err(err) = lock.close().await {
        tracing::warn!(error = %err, "closing the migration lock connection failed");
    }
    migrated
}

fn connect_options(settings: &DatabaseSettings) -> ConnectOptions {
    let mut options = ConnectOptions::new(settings.url.expose());
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        // Short: when the database is gone, requests fail fast with 503 instead
        // of hanging.
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .sqlx_logging(false);
    if let DatabaseUrl::Sqlite { path, .. } = &settings.url {
        if path.is_none() {
            // Every connection to `:memory:` is a separate, empty database, and the
            // database dies with its connection: keep exactly one, for the life of
            // the process (sqlx would otherwise close it when idle for 10 minutes
            // or 30 minutes old, and every later request would find no table).
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        // A SQLite connection is a file handle on a worker thread of this process, with
        // no server or network to lose it; the pool's default ping on every acquire was
        // one more round trip to that thread per request (bench/: +20% on GET /health).
        options.test_before_acquire(false);
        options.map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: an acknowledged write survives a crash or power loss.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    }
    options
}

fn probe_options(settings: &DatabaseSettings) -> ConnectOptions {
    let mut options = connect_options(settings);
    options
        .max_connections(PROBE_CONNECTIONS)
        .min_connections(1)
        .acquire_timeout(PROBE_ACQUIRE_TIMEOUT);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> DatabaseSettings {
        DatabaseSettings {
            url: DatabaseUrl::parse(url).unwrap(),
            startup_timeout: Duration::from_secs(1),
            max_connections: 8,
        }
    }

    #[test]
    fn an_in_memory_database_keeps_its_one_connection_for_ever() {
        let options = connect_options(&settings("sqlite::memory:"));
        assert_eq!(options.get_max_connections(), Some(1));
        // `None` would mean sqlx's defaults (10 min idle, 30 min lifetime).
        assert_eq!(options.get_idle_timeout(), Some(None), "no idle timeout");
        assert_eq!(options.get_max_lifetime(), Some(None), "no max lifetime");
    }

    #[test]
    fn one_timeout_bounds_waiting_for_a_connection() {
        for url in ["sqlite://data/x.db", "postgres://u@db/t"] {
            let options = connect_options(&settings(url));
            assert_eq!(
                options.get_acquire_timeout(),
                Some(ACQUIRE_TIMEOUT),
                "{url}"
            );
            assert_eq!(
                options.get_connect_timeout(),
                None,
                "{url}: overridden anyway"
            );
        }
    }

    /// What the in-memory settings prevent: the database dies with its connection.
    #[tokio::test]
    async fn a_recycled_in_memory_connection_loses_the_database() {
        let mut recycled = connect_options(&settings("sqlite::memory:"));
        recycled.max_lifetime(Duration::from_millis(50));
        let kept = connect_options(&settings("sqlite::memory:"));
        for (options, survives) in [(recycled, false), (kept, true)] {
            let db = Database::connect(options).await.unwrap();
            db.execute_unprepared("CREATE TABLE t (x INTEGER)")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(120)).await;
            let found = db.execute_unprepared("SELECT x FROM t").await.is_ok();
            assert_eq!(found, survives, "table still there after 120 ms");
        }
    }
}
