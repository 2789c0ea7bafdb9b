//! Registered workstations: a name and the hash of the key that was shown once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::workstations;
use super::{DbConn, DbError, db_time};

/// A new workstation; `scanner` marks a scanning station, whose barcode entries need no second
/// typing.
pub fn insert(
    conn: &mut DbConn,
    name: &str,
    key_hash: &str,
    scanner: bool,
    by: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(workstations::table)
        .values((
            workstations::id.eq(&id),
            workstations::name.eq(name),
            workstations::key_hash.eq(key_hash),
            workstations::active.eq(true),
            workstations::created_at.eq(db_time(now)),
            workstations::created_by.eq(by),
            workstations::scanner.eq(scanner),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The active workstation whose key has this hash.
pub fn by_key_hash(conn: &mut DbConn, key_hash: &str) -> Result<Option<String>, DbError> {
    Ok(workstations::table
        .filter(workstations::key_hash.eq(key_hash))
        .filter(workstations::active.eq(true))
        .select(workstations::id)
        .first(conn)
        .optional()?)
}

/// Whether the workstation is a registered scanning station.
pub fn is_scanner(conn: &mut DbConn, id: &str) -> Result<bool, DbError> {
    Ok(workstations::table
        .find(id)
        .filter(workstations::active.eq(true))
        .select(workstations::scanner)
        .first(conn)
        .optional()?
        .unwrap_or(false))
}
