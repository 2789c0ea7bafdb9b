//! Audit rows. Appending is one plain INSERT in the caller's transaction (no lock on any chain
//! head, so the hot path never queues behind other requests); `crate::audit` seals them, one
//! chain per exam plus the chain '' for entries that concern no exam. An exam's chain lives in
//! `audit_log` and `audit_head`, which distribute with the exam; the no-exam chain in
//! `audit_log_general` and `audit_head_general`, as exam-less approvals have their own table.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{audit_head, audit_head_general, audit_log, audit_log_general};
use super::{DbConn, DbError, db_time};

/// Runs `$body` with `$log` and `$head` naming the tables of chain `$chain`.
macro_rules! on_chain {
    ($chain:expr, |$log:ident, $head:ident| $body:expr) => {
        if $chain.is_empty() {
            #[allow(unused_imports)]
            use audit_head_general as $head;
            #[allow(unused_imports)]
            use audit_log_general as $log;
            $body
        } else {
            #[allow(unused_imports)]
            use audit_head as $head;
            #[allow(unused_imports)]
            use audit_log as $log;
            $body
        }
    };
}

/// An entry's columns, in `EntryRow`'s order, of either log table.
macro_rules! entry_columns {
    ($log:ident) => {
        (
            $log::id,
            $log::seq,
            $log::at,
            $log::actor_id,
            $log::actor_role,
            $log::workstation_id,
            $log::action,
            $log::object_type,
            $log::object_id,
            $log::exam_id,
            $log::outcome,
            $log::details,
            $log::request_id,
            $log::prev_hash,
            $log::hash,
        )
    };
}

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

#[derive(Debug, Clone, PartialEq, Queryable)]
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
    let chain = e.exam_id.as_deref().unwrap_or_default();
    on_chain!(chain, |log, _head| diesel::insert_into(log::table)
        .values((
            log::chain.eq(chain),
            log::at.eq(db_time(now)),
            log::actor_id.eq(&e.actor_id),
            log::actor_role.eq(&e.actor_role),
            log::workstation_id.eq(&e.workstation_id),
            log::action.eq(&e.action),
            log::object_type.eq(&e.object_type),
            log::object_id.eq(&e.object_id),
            log::exam_id.eq(&e.exam_id),
            log::outcome.eq(&e.outcome),
            log::details.eq(&e.details),
            log::request_id.eq(&e.request_id),
        ))
        .execute(conn))?;
    Written::appended(1);
    Ok(())
}

thread_local! {
    /// Audit rows written by the transaction running on this thread, not yet committed.
    static WRITTEN: std::cell::Cell<Written> = const { std::cell::Cell::new(Written { appended: 0, sealed: 0 }) };
}

/// Audit rows a transaction wrote: counted in the metrics only once it commits, so that the
/// counters say what the log holds (a rolled-back request's entries are not in it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    appended: u64,
    sealed: u64,
}

impl Written {
    /// What this thread's transaction wrote so far, and a fresh count for the next.
    pub fn take() -> Written {
        WRITTEN.with(|w| w.replace(Written::default()))
    }

    /// Entries this transaction appended (`append`, or a statement that writes one with its act).
    pub fn appended(n: usize) {
        WRITTEN.with(|w| {
            w.set(Written {
                appended: w.get().appended + n as u64,
                ..w.get()
            })
        });
    }

    pub fn sealed(n: usize) {
        WRITTEN.with(|w| {
            w.set(Written {
                sealed: w.get().sealed + n as u64,
                ..w.get()
            })
        });
    }

    /// Into the metrics, after the commit.
    pub fn count(self) {
        if self.appended > 0 {
            metrics::counter!("markroom_audit_entries_appended_total").increment(self.appended);
        }
        if self.sealed > 0 {
            metrics::counter!("markroom_audit_entries_sealed_total").increment(self.sealed);
        }
    }
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
    on_chain!(chain, |_log, head| {
        let q = head::table.find(chain).select((head::seq, head::hash));
        crate::per_backend!(conn, |c| diesel::insert_into(head::table)
            .values((
                head::chain.eq(chain),
                head::seq.eq(0),
                head::hash.eq(crate::audit::GENESIS),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        Ok(match conn {
            DbConn::Pg(c) => q.for_update().first(c)?,
            DbConn::Sqlite(c) => q.first(c)?,
        })
    })
}

/// A chain's head; `None` when nothing was ever sealed in it.
pub fn head(conn: &mut DbConn, chain: &str) -> Result<Option<(i64, String)>, DbError> {
    on_chain!(chain, |_log, head| Ok(head::table
        .find(chain)
        .select((head::seq, head::hash))
        .first(conn)
        .optional()?))
}

/// Every chain's head, the no-exam chain first.
pub fn heads(conn: &mut DbConn) -> Result<Vec<Head>, DbError> {
    let mut all: Vec<Head> = audit_head_general::table
        .select((
            audit_head_general::chain,
            audit_head_general::seq,
            audit_head_general::hash,
        ))
        .load(conn)?;
    all.extend(
        audit_head::table
            .order(audit_head::chain)
            .select((audit_head::chain, audit_head::seq, audit_head::hash))
            .load::<Head>(conn)?,
    );
    Ok(all)
}

pub fn set_head(conn: &mut DbConn, chain: &str, seq: i64, hash: &str) -> Result<(), DbError> {
    on_chain!(chain, |_log, head| diesel::update(head::table.find(chain))
        .set((head::seq.eq(seq), head::hash.eq(hash)))
        .execute(conn))?;
    Ok(())
}

/// The chains with committed rows waiting to be sealed, in a fixed order so that a sealer
/// taking several heads in one transaction cannot deadlock with another.
pub fn pending_chains(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let mut chains = Vec::new();
    if has_unsealed(conn, "")? {
        chains.push(String::new());
    }
    let rows: Vec<Chain> = super::kept::Kept(diesel::sql_query(PENDING_EXAM_CHAINS)).load(conn)?;
    chains.extend(rows.into_iter().map(|r| r.chain));
    Ok(chains)
}

/// The exam chains with unsealed rows, one index probe a chain (`audit_log_unsealed` is on
/// `(chain, id) WHERE seq IS NULL`). A `DISTINCT` read every waiting row instead, twice a
/// sealing round: under 1,000 markers on PostgreSQL 39 ms a call, 6 % of all statement time
/// (docs/performance-log.md, sixteenth session).
const PENDING_EXAM_CHAINS: &str = "\
WITH RECURSIVE c(chain) AS (
    SELECT (SELECT chain FROM audit_log WHERE seq IS NULL ORDER BY chain LIMIT 1)
    UNION ALL
    SELECT (SELECT l.chain FROM audit_log l WHERE l.seq IS NULL AND l.chain > c.chain ORDER BY l.chain LIMIT 1)
    FROM c WHERE c.chain IS NOT NULL)
SELECT chain FROM c WHERE chain IS NOT NULL ORDER BY chain";

#[derive(QueryableByName)]
struct Chain {
    #[diesel(sql_type = diesel::sql_types::Text)]
    chain: String,
}

/// The chains holding sealed rows: what verification must walk, head or no head.
pub fn sealed_chains(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let general: bool = diesel::select(diesel::dsl::exists(
        audit_log_general::table.filter(audit_log_general::seq.is_not_null()),
    ))
    .get_result(conn)?;
    let mut chains = if general { vec![String::new()] } else { vec![] };
    chains.extend(
        audit_log::table
            .filter(audit_log::seq.is_not_null())
            .select(audit_log::chain)
            .distinct()
            .order(audit_log::chain)
            .load::<String>(conn)?,
    );
    Ok(chains)
}

pub fn has_unsealed(conn: &mut DbConn, chain: &str) -> Result<bool, DbError> {
    on_chain!(chain, |log, _head| Ok(diesel::select(diesel::dsl::exists(
        log::table.filter(log::chain.eq(chain)).filter(log::seq.is_null()),
    ))
    .get_result(conn)?))
}

/// When the oldest committed entry still waiting to be chained was written, over every chain.
pub fn oldest_unsealed(conn: &mut DbConn) -> Result<Option<chrono::NaiveDateTime>, DbError> {
    let mut oldest = None;
    for chain in pending_chains(conn)? {
        let first = on_chain!(chain.as_str(), |log, _head| log::table
            .filter(log::chain.eq(&chain))
            .filter(log::seq.is_null())
            .order(log::id)
            .select(log::at)
            .first::<chrono::NaiveDateTime>(conn)
            .optional())?;
        oldest = match (oldest, first) {
            (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
            (a, b) => a.or(b),
        };
    }
    Ok(oldest)
}

/// A chain's committed rows not yet sealed, oldest first.
pub fn unsealed(conn: &mut DbConn, chain: &str, limit: i64) -> Result<Vec<EntryRow>, DbError> {
    on_chain!(chain, |log, _head| Ok(log::table
        .filter(log::chain.eq(chain))
        .filter(log::seq.is_null())
        .order(log::id)
        .limit(limit)
        .select(entry_columns!(log))
        .load(conn)?))
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
            let table = if chain.is_empty() {
                "audit_log_general"
            } else {
                "audit_log"
            };
            diesel::sql_query(format!(
                "UPDATE {table} SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash \
                 FROM (SELECT unnest($1::bigint[]) AS id, unnest($2::bigint[]) AS seq, \
                              unnest($3::text[]) AS prev_hash, unnest($4::text[]) AS hash) AS v \
                 WHERE {table}.chain = $5 AND {table}.id = v.id",
            ))
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
    on_chain!(chain, |log, _head| diesel::update(
        log::table.filter(log::chain.eq(chain)).filter(log::id.eq(id))
    )
    .set((log::seq.eq(seq), log::prev_hash.eq(prev_hash), log::hash.eq(hash)))
    .execute(conn))?;
    Ok(())
}

/// A chain's sealed entries after `after`, in chain order.
pub fn page(conn: &mut DbConn, chain: &str, after: i64, limit: i64) -> Result<Vec<EntryRow>, DbError> {
    on_chain!(chain, |log, _head| Ok(log::table
        .filter(log::chain.eq(chain))
        .filter(log::seq.gt(after))
        .order(log::seq)
        .limit(limit)
        .select(entry_columns!(log))
        .load(conn)?))
}

pub fn unsealed_count(conn: &mut DbConn) -> Result<i64, DbError> {
    let exams: i64 = audit_log::table
        .filter(audit_log::seq.is_null())
        .count()
        .get_result(conn)?;
    let general: i64 = audit_log_general::table
        .filter(audit_log_general::seq.is_null())
        .count()
        .get_result(conn)?;
    Ok(exams + general)
}
