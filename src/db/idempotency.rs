//! Answers kept per `Idempotency-Key`, so a retried request returns what the first did.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::idempotency_keys;
use super::{DbConn, DbError, db_time};

/// An answer to keep under its key: the request's hash, the status and the body sent.
pub struct Kept<'a> {
    pub exam_id: &'a str,
    pub user_id: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
    pub status: i32,
    pub response: &'a str,
}

/// Keeps an answer; a key used at the same moment by a twin request is `Stale` (the twin won).
pub fn keep(conn: &mut DbConn, k: &Kept<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::exam_id.eq(k.exam_id),
            idempotency_keys::user_id.eq(k.user_id),
            idempotency_keys::key.eq(k.key),
            idempotency_keys::request_hash.eq(k.request_hash),
            idempotency_keys::status.eq(k.status),
            idempotency_keys::response.eq(k.response),
            idempotency_keys::created_at.eq(db_time(now)),
        ))
        .execute(conn)
        .map_err(|e| match DbError::from(e) {
            DbError::Duplicate(_) => DbError::Stale("the idempotency key".into()),
            other => other,
        })?;
    Ok(())
}
