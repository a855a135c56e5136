use sea_orm::{DbErr, RuntimeErr, sqlx};

/// What can go wrong in the database layer, sorted by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is too busy right now; retrying later may work.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DbErr),
    /// Anything else: a bug or a broken database. Never shown to clients.
    #[error("database error: {0}")]
    Internal(#[source] DbErr),
    /// A stored row that the domain rules refuse.
    #[error("stored task {id} is invalid: {reason}")]
    CorruptRow { id: i64, reason: String },
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Internal(err)
        }
    }
}

fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    // PostgreSQL: connection exceptions (08...) and shutdown or
                    // start-up in progress (57P01-57P03). SQLite: busy (5), locked (6).
                    code.starts_with("08") || code.starts_with("57P") || code == "5" || code == "6"
                }),
                _ => false,
            }
        }
        _ => false,
    }
}
