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
    /// A negative count in `task_counts`: its triggers were changed by hand.
    #[error("stored task count {0} is negative")]
    CorruptCount(i64),
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

/// Database error codes that mean "not now" rather than "never".
fn is_transient(code: &str) -> bool {
    if code.len() == 5 {
        // PostgreSQL SQLSTATE (always five characters): connection exceptions
        // (08...), shutdown or start-up in progress (57P...), out of disk or
        // memory (53...).
        return code.starts_with("08") || code.starts_with("57P") || code.starts_with("53");
    }
    // SQLite extended result codes (at most four digits); the low byte is the
    // primary code: busy (5), locked (6), disk full (13).
    code.parse::<i32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6 | 13))
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
                sqlx::Error::Database(db) => db.code().is_some_and(|code| is_transient(&code)),
                _ => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_transient;

    #[test]
    fn transient_database_codes_are_told_from_the_rest() {
        let cases = [
            ("5", true, "SQLite busy"),
            ("517", true, "SQLite busy snapshot (extended code)"),
            ("6", true, "SQLite locked"),
            ("13", true, "SQLite disk full"),
            ("19", false, "SQLite constraint"),
            ("2067", false, "SQLite unique constraint (extended code)"),
            ("08006", true, "PostgreSQL connection failure"),
            ("57P01", true, "PostgreSQL admin shutdown"),
            ("53100", true, "PostgreSQL disk full"),
            ("23505", false, "PostgreSQL unique violation"),
            ("42P01", false, "PostgreSQL undefined table"),
        ];
        for (code, transient, why) in cases {
            assert_eq!(is_transient(code), transient, "{why} ({code})");
        }
    }
}
