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
            Error::DatabaseError(kind, info) => {
                let message = info.message().to_string();
                match GUARDS.iter().find(|g| message.starts_with(*g)) {
                    Some(code) => DbError::Guarded(code, message),
                    None => DbError::Query(Error::DatabaseError(kind, info)),
                }
            }
            other => DbError::Query(other),
        }
    }
}

impl From<r2d2::Error> for DbError {
    fn from(e: r2d2::Error) -> Self {
        DbError::Pool(e.to_string())
    }
}
