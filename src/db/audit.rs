//! Audit rows. Appending is one plain INSERT in the caller's transaction (no lock on any chain
//! head, so the hot path never queues behind other requests); `crate::audit` seals them, one
//! chain per exam plus the chain '' for entries that concern no exam.

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

/// Appends to the chain of the entry's exam ('' when it concerns none); the sealer numbers it.
pub fn append(conn: &mut DbConn, e: &NewEntry, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::chain.eq(e.exam_id.as_deref().unwrap_or_default()),
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

/// The head of one chain: the last sealed entry's sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Head {
    pub chain: String,
    pub seq: i64,
    pub hash: String,
}

/// A chain's head, made at genesis if the chain has none yet, and locked for the rest of the
/// transaction on PostgreSQL so that two sealers (two servers) never chain it at once. The
/// insert cannot lock a row that is not there, hence the separate `FOR UPDATE`. SQLite has one
/// writer, so it needs no lock.
pub fn lock_head(conn: &mut DbConn, chain: &str) -> Result<(i64, String), DbError> {
    let q = audit_head::table
        .find(chain)
        .select((audit_head::seq, audit_head::hash));
    crate::per_backend!(conn, |c| diesel::insert_into(audit_head::table)
        .values((
            audit_head::chain.eq(chain),
            audit_head::seq.eq(0),
            audit_head::hash.eq(crate::audit::GENESIS),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(match conn {
        DbConn::Pg(c) => q.for_update().first(c)?,
        DbConn::Sqlite(c) => q.first(c)?,
    })
}

/// A chain's head; `None` when nothing was ever sealed in it.
pub fn head(conn: &mut DbConn, chain: &str) -> Result<Option<(i64, String)>, DbError> {
    Ok(audit_head::table
        .find(chain)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)
        .optional()?)
}

/// Every chain's head, the no-exam chain first.
pub fn heads(conn: &mut DbConn) -> Result<Vec<Head>, DbError> {
    Ok(audit_head::table
        .order(audit_head::chain)
        .select((audit_head::chain, audit_head::seq, audit_head::hash))
        .load(conn)?)
}

pub fn set_head(conn: &mut DbConn, chain: &str, seq: i64, hash: &str) -> Result<(), DbError> {
    diesel::update(audit_head::table.find(chain))
        .set((audit_head::seq.eq(seq), audit_head::hash.eq(hash)))
        .execute(conn)?;
    Ok(())
}

/// The chains with committed rows waiting to be sealed, in a fixed order so that a sealer
/// taking several heads in one transaction cannot deadlock with another.
pub fn pending_chains(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    Ok(audit_log::table
        .filter(audit_log::seq.is_null())
        .select(audit_log::chain)
        .distinct()
        .order(audit_log::chain)
        .load(conn)?)
}

/// The chains holding sealed rows: what verification must walk, head or no head.
pub fn sealed_chains(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    Ok(audit_log::table
        .filter(audit_log::seq.is_not_null())
        .select(audit_log::chain)
        .distinct()
        .order(audit_log::chain)
        .load(conn)?)
}

pub fn has_unsealed(conn: &mut DbConn, chain: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        audit_log::table
            .filter(audit_log::chain.eq(chain))
            .filter(audit_log::seq.is_null()),
    ))
    .get_result(conn)?)
}

/// A chain's committed rows not yet sealed, oldest first.
pub fn unsealed(conn: &mut DbConn, chain: &str, limit: i64) -> Result<Vec<EntryRow>, DbError> {
    Ok(audit_log::table
        .filter(audit_log::chain.eq(chain))
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
pub fn seal_all(conn: &mut DbConn, chain: &str, batch: &[Sealed]) -> Result<(), DbError> {
    use diesel::sql_types::{Array, BigInt, Text};
    match conn {
        DbConn::Pg(c) => {
            diesel::sql_query(
                "UPDATE audit_log SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash \
                 FROM (SELECT unnest($1::bigint[]) AS id, unnest($2::bigint[]) AS seq, \
                              unnest($3::text[]) AS prev_hash, unnest($4::text[]) AS hash) AS v \
                 WHERE audit_log.chain = $5 AND audit_log.id = v.id",
            )
            .bind::<Array<BigInt>, _>(batch.iter().map(|s| s.id).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(batch.iter().map(|s| s.seq).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(batch.iter().map(|s| s.prev_hash.as_str()).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(batch.iter().map(|s| s.hash.as_str()).collect::<Vec<_>>())
            .bind::<Text, _>(chain)
            .execute(c)?;
        }
        DbConn::Sqlite(_) => {
            for s in batch {
                seal(conn, chain, s.id, s.seq, &s.prev_hash, &s.hash)?;
            }
        }
    }
    Ok(())
}

pub fn seal(conn: &mut DbConn, chain: &str, id: i64, seq: i64, prev_hash: &str, hash: &str) -> Result<(), DbError> {
    diesel::update(audit_log::table.find((chain, id)))
        .set((
            audit_log::seq.eq(seq),
            audit_log::prev_hash.eq(prev_hash),
            audit_log::hash.eq(hash),
        ))
        .execute(conn)?;
    Ok(())
}

/// A chain's sealed entries after `after`, in chain order.
pub fn page(conn: &mut DbConn, chain: &str, after: i64, limit: i64) -> Result<Vec<EntryRow>, DbError> {
    Ok(audit_log::table
        .filter(audit_log::chain.eq(chain))
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
