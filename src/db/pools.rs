//! What the metrics show of the two connection pools: size, idle, the bound, the
//! operations waiting and the acquire timeouts. sqlx tells the first three; the
//! other two it does not, so the store counts them around each operation.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use sea_orm::{ConnAcquireErr, DatabaseBackend, DatabaseConnection, DbErr};

use super::StoreError;

/// One pool's figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// `requests` or `probes`.
    pub name: &'static str,
    pub max: u32,
    /// Connections open, idle ones included.
    pub open: u32,
    pub idle: u32,
    /// Operations inside the store that hold no connection: waiting for one (or,
    /// on SQLite, for their turn to write).
    pub pending: u32,
    /// Operations that gave up waiting for a connection (`ACQUIRE_TIMEOUT`).
    pub timeouts: u64,
}

/// The operations going through one pool, counted.
#[derive(Clone)]
pub(super) struct PoolUse {
    name: &'static str,
    inside: Arc<AtomicUsize>,
    timeouts: Arc<AtomicU64>,
}

/// One operation inside the store; leaves the count when dropped (a request cut
/// short drops its operation mid-way).
struct Inside(Arc<AtomicUsize>);

impl Drop for Inside {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PoolUse {
    pub(super) fn new(name: &'static str) -> Self {
        Self {
            name,
            inside: Arc::new(AtomicUsize::new(0)),
            timeouts: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Runs one store operation on this pool, counted.
    pub(super) async fn track<T>(
        &self,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.inside.fetch_add(1, Ordering::Relaxed);
        let _inside = Inside(self.inside.clone());
        let result = op.await;
        if let Err(StoreError::Unavailable(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))) =
            &result
        {
            self.timeouts.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    pub(super) fn stats(&self, db: &DatabaseConnection) -> PoolStats {
        let (max, open, idle) = match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                let pool = db.get_postgres_connection_pool();
                (
                    pool.options().get_max_connections(),
                    pool.size(),
                    pool.num_idle(),
                )
            }
            DatabaseBackend::Sqlite => {
                let pool = db.get_sqlite_connection_pool();
                (
                    pool.options().get_max_connections(),
                    pool.size(),
                    pool.num_idle(),
                )
            }
            _ => (0, 0, 0),
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        let in_use = open.saturating_sub(idle);
        let inside = u32::try_from(self.inside.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        PoolStats {
            name: self.name,
            max,
            open,
            idle,
            pending: inside.saturating_sub(in_use),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }
}
