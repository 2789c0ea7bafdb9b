//! Admissions systems: a client id, the hash of its secret, and the exams it may read.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{exams, service_client_exams, service_clients};
use super::{DbConn, DbError, db_time};

pub fn insert(
    conn: &mut DbConn,
    name: &str,
    secret_hash: &str,
    exam_ids: &[String],
    by: &str,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(service_clients::table)
        .values((
            service_clients::id.eq(&id),
            service_clients::name.eq(name),
            service_clients::secret_hash.eq(secret_hash),
            service_clients::active.eq(true),
            service_clients::created_at.eq(db_time(now)),
            service_clients::created_by.eq(by),
        ))
        .execute(conn)?;
    for e in exam_ids {
        diesel::insert_into(service_client_exams::table)
            .values((
                service_client_exams::exam_id.eq(e),
                service_client_exams::client_id.eq(&id),
            ))
            .execute(conn)?;
    }
    Ok(id)
}

/// The stored secret hash of an active client.
pub fn secret_hash(conn: &mut DbConn, id: &str) -> Result<Option<String>, DbError> {
    Ok(service_clients::table
        .find(id)
        .filter(service_clients::active.eq(true))
        .select(service_clients::secret_hash)
        .first(conn)
        .optional()?)
}

/// The codes of the exams a client may read.
pub fn exam_codes(conn: &mut DbConn, id: &str) -> Result<Vec<String>, DbError> {
    Ok(service_client_exams::table
        .inner_join(exams::table)
        .filter(service_client_exams::client_id.eq(id))
        .select(exams::code)
        .order(exams::code)
        .load(conn)?)
}
