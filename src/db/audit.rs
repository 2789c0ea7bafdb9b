//! Audit rows. Appending is one plain INSERT in the caller's transaction (no lock on the chain
//! head, so the hot path never queues behind other requests); `crate::audit` seals them.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{audit_head, audit_log};
use super::{DbConn, DbError, db_time};

#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    pub workstation_id: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub exam_id: Option<String>,
    pub outcome: String,
    pub details: String,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct EntryRow {
    pub id: i64,
    pub seq: Option<i64>,
    pub at: NaiveDateTime,
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    pub workstation_id: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub exam_id: Option<String>,
    pub outcome: String,
    pub details: String,
    pub request_id: Option<String>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

pub fn append(conn: &mut DbConn, e: &NewEntry, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(db_time(now)),
            audit_log::actor_id.eq(&e.actor_id),
            audit_log::actor_role.eq(&e.actor_role),
            audit_log::workstation_id.eq(&e.workstation_id),
            audit_log::action.eq(&e.action),
            audit_log::object_type.eq(&e.object_type),
            audit_log::object_id.eq(&e.object_id),
            audit_log::exam_id.eq(&e.exam_id),
            audit_log::outcome.eq(&e.outcome),
            audit_log::details.eq(&e.details),
            audit_log::request_id.eq(&e.request_id),
        ))
        .execute(conn)?;
    Ok(())
}

/// The chain head, locked for the rest of the transaction on PostgreSQL so that two sealers
/// (two servers) never chain at once. SQLite has one writer, so it needs no lock.
pub fn lock_head(conn: &mut DbConn) -> Result<(i64, String), DbError> {
    let q = audit_head::table.find(1).select((audit_head::seq, audit_head::hash));
    Ok(match conn {
        DbConn::Pg(c) => q.for_update().first(c)?,
        DbConn::Sqlite(c) => q.first(c)?,
    })
}

pub fn head(conn: &mut DbConn) -> Result<(i64, String), DbError> {
    Ok(audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?)
}

pub fn set_head(conn: &mut DbConn, seq: i64, hash: &str) -> Result<(), DbError> {
    diesel::update(audit_head::table.find(1))
        .set((audit_head::seq.eq(seq), audit_head::hash.eq(hash)))
        .execute(conn)?;
    Ok(())
}

/// Committed rows not yet chained, oldest first.
pub fn unsealed(conn: &mut DbConn, limit: i64) -> Result<Vec<EntryRow>, DbError> {
    Ok(audit_log::table
        .filter(audit_log::seq.is_null())
        .order(audit_log::id)
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)?)
}

/// One chained entry: row id, its sequence number, its predecessor's hash and its own.
pub struct Sealed {
    pub id: i64,
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// Writes a batch of chained entries. PostgreSQL takes the batch in one statement (a round trip
/// per row would cost the sealer ~170 µs an entry); SQLite is in-process, so a row at a time.
pub fn seal_all(conn: &mut DbConn, batch: &[Sealed]) -> Result<(), DbError> {
    use diesel::sql_types::{Array, BigInt, Text};
    match conn {
        DbConn::Pg(c) => {
            diesel::sql_query(
                "UPDATE audit_log SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash \
                 FROM (SELECT unnest($1::bigint[]) AS id, unnest($2::bigint[]) AS seq, \
                              unnest($3::text[]) AS prev_hash, unnest($4::text[]) AS hash) AS v \
                 WHERE audit_log.id = v.id",
            )
            .bind::<Array<BigInt>, _>(batch.iter().map(|s| s.id).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(batch.iter().map(|s| s.seq).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(batch.iter().map(|s| s.prev_hash.as_str()).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(batch.iter().map(|s| s.hash.as_str()).collect::<Vec<_>>())
            .execute(c)?;
        }
        DbConn::Sqlite(_) => {
            for s in batch {
                seal(conn, s.id, s.seq, &s.prev_hash, &s.hash)?;
            }
        }
    }
    Ok(())
}

pub fn seal(conn: &mut DbConn, id: i64, seq: i64, prev_hash: &str, hash: &str) -> Result<(), DbError> {
    diesel::update(audit_log::table.find(id))
        .set((
            audit_log::seq.eq(seq),
            audit_log::prev_hash.eq(prev_hash),
            audit_log::hash.eq(hash),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sealed entries after `after`, in chain order.
pub fn page(conn: &mut DbConn, after: i64, limit: i64) -> Result<Vec<EntryRow>, DbError> {
    Ok(audit_log::table
        .filter(audit_log::seq.gt(after))
        .order(audit_log::seq)
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)?)
}

pub fn unsealed_count(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(audit_log::table
        .filter(audit_log::seq.is_null())
        .count()
        .get_result(conn)?)
}
