use std::time::{Duration, Instant};

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
};
use sea_orm_migration::MigratorTrait;

use super::migrations::Migrator;
use crate::configuration::{DatabaseSettings, DatabaseUrl};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("database {url} unreachable after {attempts} attempts in {waited:?}: {last}")]
    Unreachable {
        url: String,
        attempts: u32,
        waited: Duration,
        last: DbErr,
    },
    #[error("database migration failed: {0}")]
    Migration(#[source] DbErr),
}

/// Connects (retrying with backoff while the database is not up yet, as happens when
/// containers start together), then brings the schema up to date.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, ConnectError> {
    let options = connect_options(settings);
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut attempts = 0;
    let db = loop {
        attempts += 1;
        // One attempt may itself wait (the pool's acquire timeout); never past the budget.
        let remaining = settings.startup_timeout.saturating_sub(started.elapsed());
        let attempt = tokio::time::timeout(remaining, Database::connect(options.clone()))
            .await
            .unwrap_or_else(|_| Err(DbErr::Custom(format!("no connection within {remaining:?}"))));
        match attempt {
            Ok(db) => break db,
            Err(err) if started.elapsed() + delay < settings.startup_timeout => {
                tracing::warn!(attempt = attempts, error = %err, retry_in_ms = delay.as_millis() as u64, "database not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(last) => {
                return Err(ConnectError::Unreachable {
                    url: settings.url.redacted(),
                    attempts,
                    waited: started.elapsed(),
                    last,
                });
            }
        }
    };
    migrate(&db, &options)
        .await
        .map_err(ConnectError::Migration)?;
    Ok(db)
}

/// The key of the PostgreSQL advisory lock that migrations run under ("tasks_mg").
const MIGRATION_LOCK_KEY: i64 = 0x7461_736b_735f_6d67;

/// Brings the schema up to date. Replicas that start together on one PostgreSQL
/// database would otherwise race to create it, and all but one fail on a duplicate
/// catalog entry; they take turns under a session advisory lock, held on a connection
/// of its own (the pool may have just one) and released when that connection closes.
async fn migrate(db: &DatabaseConnection, options: &ConnectOptions) -> Result<(), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let mut lock_options = options.clone();
    lock_options.max_connections(1).min_connections(0);
    let lock = Database::connect(lock_options).await?;
    lock.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .await?;
    let migrated = Migrator::up(db, None).await;
    if let Err(err) = lock.close().await {
        tracing::warn!(error = %err, "closing the migration lock connection failed");
    }
    migrated
}

fn connect_options(settings: &DatabaseSettings) -> ConnectOptions {
    let mut options = ConnectOptions::new(settings.url.as_str());
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        // Short timeouts: when the database is gone, requests fail fast with 503
        // instead of hanging, and /health answers within its 2 s budget.
        .connect_timeout(Duration::from_secs(2))
        .acquire_timeout(Duration::from_secs(3))
        .sqlx_logging(false);
    if let DatabaseUrl::Sqlite { path, .. } = &settings.url {
        if path.is_none() {
            // Every connection to `:memory:` would be a separate, empty database.
            options.max_connections(1);
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
