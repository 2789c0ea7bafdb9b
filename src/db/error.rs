use thiserror::Error;

/// What can go wrong in storage, with the cases callers act on kept apart.
#[derive(Debug, Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the row: the thing already exists.
    #[error("already exists: {0}")]
    Duplicate(String),
    /// The row changed between reading and writing it (another request got there first).
    #[error("changed meanwhile: {0}")]
    Stale(String),
    #[error("database: {0}")]
    Query(diesel::result::Error),
    #[error("database connection: {0}")]
    Pool(String),
    /// The connection died under a statement (the server restarted or crashed): whether the
    /// transaction committed is unknown, so the caller retries, with its Idempotency-Key.
    #[error("database connection lost: {0}")]
    Lost(String),
    #[error("migrations: {0}")]
    Migration(String),
    #[error("stored data is not as expected: {0}")]
    Corrupt(String),
    /// A database rule (a trigger guarding locked results) refused the change; the code is the
    /// rule's own (`exam_locked`, `lock_not_approved`, …).
    #[error("refused by the database: {1}")]
    Guarded(&'static str, String),
}

/// The codes the database's own guards raise, at the start of their message.
const GUARDS: [&str; 7] = [
    "approvals_kept",
    "exam_locked",
    "lock_not_approved",
    "release_not_approved",
    "already_released",
    "amend_not_approved",
    "amendments_append_only",
];

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => DbError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                DbError::Duplicate(info.message().to_string())
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                DbError::Lost(info.message().to_string())
            }
            Error::DatabaseError(kind, info) if connection_lost(info.message()) => {
                DbError::Lost(format!("{kind:?}: {}", info.message()))
            }
            Error::DatabaseError(kind, info) => {
                let message = info.message().to_string();
                match GUARDS.iter().find(|g| message.starts_with(*g)) {
                    Some(code) => DbError::Guarded(code, message),
                    None => DbError::Query(Error::DatabaseError(kind, info)),
                }
            }
            // The commit failed and so did the rollback after it: the connection died at COMMIT,
            // and whether the transaction stands is what the commit's own error says.
            Error::RollbackErrorOnCommit { commit_error, .. } => DbError::from(*commit_error),
            other => DbError::Query(other),
        }
    }
}

/// libpq's and PostgreSQL's words for a connection that died or is being shut down.
fn connection_lost(message: &str) -> bool {
    const LOST: [&str; 6] = [
        "server closed the connection",
        "terminating connection",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
        "connection to server was lost",
    ];
    LOST.iter().any(|l| message.contains(l))
}

impl From<r2d2::Error> for DbError {
    fn from(e: r2d2::Error) -> Self {
        DbError::Pool(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DbError {
        DbError::from(Error::DatabaseError(kind, Box::new(message.to_string())))
    }

    #[test]
    fn a_connection_that_died_under_a_statement_is_lost_not_a_query_fault() {
        let crashed =
            "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally";
        assert!(matches!(
            db_error(DatabaseErrorKind::Unknown, crashed),
            DbError::Lost(_)
        ));
        let shut_down = "terminating connection due to administrator command";
        assert!(matches!(
            db_error(DatabaseErrorKind::Unknown, shut_down),
            DbError::Lost(_)
        ));
        assert!(matches!(
            db_error(DatabaseErrorKind::ClosedConnection, "gone"),
            DbError::Lost(_)
        ));
        let at_commit = Error::RollbackErrorOnCommit {
            rollback_error: Box::new(Error::BrokenTransactionManager),
            commit_error: Box::new(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection,
                Box::new(crashed.to_string()),
            )),
        };
        assert!(matches!(DbError::from(at_commit), DbError::Lost(_)), "lost at COMMIT");
        let constraint = "new row violates check constraint \"serves_check\"";
        assert!(matches!(
            db_error(DatabaseErrorKind::CheckViolation, constraint),
            DbError::Query(_)
        ));
        assert!(matches!(
            db_error(DatabaseErrorKind::Unknown, "exam_locked: the exam is locked"),
            DbError::Guarded("exam_locked", _)
        ));
    }
}
