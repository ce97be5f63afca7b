//! The storage layer's own error: what a caller may do about a failed database call (retry later,
//! report "not found", or give up), with no knowledge of HTTP. The web layer maps it once
//! (`From<StoreError> for AppError`): unavailable and busy → 503, not found → 404, other → 500.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Why a database call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had (server down, pool exhausted, connection lost).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A lock was held past the configured timeout ("database is locked", "lock timeout").
    #[error("database busy: {0}")]
    Busy(String),
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// Anything else: a bug, a broken constraint, a value the database holds but the code
    /// does not know.
    #[error("database error: {0}")]
    Other(String),
}

impl StoreError {
    /// True when retrying later may succeed (unavailable or busy).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Busy(_))
    }
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match &e {
            DieselError::NotFound => StoreError::NotFound,
            // A lost server connection ("no connection to the server" when a command cannot
            // even be sent).
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => {
                super::connection_lost();
                StoreError::Unavailable(e.to_string())
            }
            // "database is locked" (SQLite), "canceling statement due to lock timeout" (PostgreSQL).
            DieselError::DatabaseError(_, info)
                if info.message().contains("locked") || info.message().contains("lock timeout") =>
            {
                StoreError::Busy(e.to_string())
            }
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message().contains("connection") =>
            {
                super::connection_lost();
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Other(e.to_string()),
        }
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_timeout_is_busy_and_transient() {
        let locked = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("database is locked".to_owned()),
        );
        let e = StoreError::from(locked);
        assert!(matches!(e, StoreError::Busy(_)));
        assert!(e.is_transient());
        assert_eq!(
            StoreError::from(DieselError::NotFound),
            StoreError::NotFound
        );
        assert!(!StoreError::from(DieselError::RollbackTransaction).is_transient());
    }
}
