//! A live lease's writes on PostgreSQL in one statement, once the script's row is locked: the
//! task leased, the serve, the never-twice record, the script begun, the holder's image link and
//! the audit entry were up to seven round trips (README, "What bounds PostgreSQL now"). SQLite
//! runs them one by one (`take` in `http::marker::choose`): in its one writer a statement costs
//! no trip.

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Bool, Date, Nullable, Text, Timestamp};

use crate::db::audit::{NewEntry, Written};
use crate::db::kept::Kept;
use crate::db::{DbConn, DbError};

use super::serves::ServeRow;

#[derive(Debug, diesel::QueryableByName)]
struct Wrote {
    #[diesel(sql_type = BigInt)]
    leased: i64,
    #[diesel(sql_type = BigInt)]
    logged: i64,
}

/// Everything hangs on the task's lease: a task taken meanwhile, or a script this marker held
/// before (R5), writes nothing. The task's own `begun` is set in its lease, and the siblings'
/// apart from it: one statement must not change a row twice. The task is updated before the
/// serve is written, as one by one; each part is read by the final `SELECT`, so that none runs
/// unseen.
const SQL: &str = "\
WITH leased AS (
    UPDATE tasks SET state = 'leased', marker_id = $1, lease_expires_at = $2, begun = (begun OR $3)
    WHERE exam_id = $4 AND id = $5 AND state = 'open'
      AND NOT EXISTS (SELECT 1 FROM script_holders h WHERE h.exam_id = tasks.exam_id
                      AND h.script_id = tasks.script_id AND h.marker_id = $1)
    RETURNING script_id),
served AS (
    INSERT INTO serves (exam_id, id, marker_id, kind, question_id, task_id, script_id, prescored_id,
                        anonymous_code, workstation_id, state, day, leased_at, lease_expires_at, ended_at)
    SELECT $4, $6, $1, 'live', $7, $5, script_id, NULL, $8, $9, 'leased', $10, $11, $2, NULL
    FROM leased RETURNING 1),
held AS (
    INSERT INTO script_holders (exam_id, script_id, marker_id, serve_id)
    SELECT $4, script_id, $1, $6 FROM leased RETURNING 1),
marking AS (
    UPDATE scripts SET state = 'marking'
    WHERE exam_id = $4 AND id = $12 AND $3 AND EXISTS (SELECT 1 FROM leased) RETURNING 1),
begun AS (
    UPDATE tasks SET begun = TRUE
    WHERE exam_id = $4 AND script_id = $12 AND begun = FALSE AND id <> $5 AND $3
      AND EXISTS (SELECT 1 FROM leased) RETURNING 1),
linked AS (
    INSERT INTO image_tokens (exam_id, token_hash, script_id, prescored_id, image_key, holder,
                              expires_at, revoked)
    SELECT $4, $13, script_id, NULL, $14, $15, $2, FALSE FROM leased RETURNING 1),
logged AS (
    INSERT INTO audit_log (chain, at, actor_id, actor_role, workstation_id, action, object_type,
                           object_id, exam_id, outcome, details, request_id)
    SELECT $4, $11, $16, $17, $18, $19, $20, $21, $4, $22, $23, $24 FROM leased RETURNING 1)
SELECT (SELECT count(*) FROM leased) AS leased,
       (SELECT count(*) FROM served) AS served,
       (SELECT count(*) FROM held) AS held,
       (SELECT count(*) FROM marking) AS marking,
       (SELECT count(*) FROM begun) AS begun,
       (SELECT count(*) FROM linked) AS linked,
       (SELECT count(*) FROM logged) AS logged";

/// A live lease to write: `serve` (of kind live, naming its task and script) with its holder's
/// image link (`token_hash` opening `image_key` for `holder`, the marker's account) and `entry`,
/// of the serve's exam.
pub struct LiveLease<'a> {
    pub serve: &'a ServeRow,
    /// The script was awaiting its first lease: it is now in marking, its tasks begun.
    pub awaiting: bool,
    pub token_hash: &'a str,
    pub image_key: &'a str,
    pub holder: &'a str,
    pub entry: &'a NewEntry,
}

/// Leases the serve's task and writes the rest; false, having written nothing, when the task
/// is no longer open or the marker held its script before. The script's row must be locked.
pub fn lease_live_pg(conn: &mut DbConn, l: &LiveLease<'_>) -> Result<bool, DbError> {
    let s = l.serve;
    let (Some(task), Some(script)) = (s.task_id.as_deref(), s.script_id.as_deref()) else {
        return Err(DbError::Stale("a live serve without its task".into()));
    };
    let e = l.entry;
    let rows: Vec<Wrote> = Kept(
        diesel::sql_query(SQL)
            .bind::<Text, _>(&s.marker_id)
            .bind::<Timestamp, _>(s.lease_expires_at)
            .bind::<Bool, _>(l.awaiting)
            .bind::<Text, _>(&s.exam_id)
            .bind::<Text, _>(task)
            .bind::<Text, _>(&s.id)
            .bind::<Text, _>(&s.question_id)
            .bind::<Text, _>(&s.anonymous_code)
            .bind::<Nullable<Text>, _>(&s.workstation_id)
            .bind::<Date, _>(s.day)
            .bind::<Timestamp, _>(s.leased_at)
            .bind::<Text, _>(script)
            .bind::<Text, _>(l.token_hash)
            .bind::<Text, _>(l.image_key)
            .bind::<Text, _>(l.holder)
            .bind::<Nullable<Text>, _>(&e.actor_id)
            .bind::<Nullable<Text>, _>(&e.actor_role)
            .bind::<Nullable<Text>, _>(&e.workstation_id)
            .bind::<Text, _>(&e.action)
            .bind::<Nullable<Text>, _>(&e.object_type)
            .bind::<Nullable<Text>, _>(&e.object_id)
            .bind::<Text, _>(&e.outcome)
            .bind::<Text, _>(&e.details)
            .bind::<Nullable<Text>, _>(&e.request_id),
    )
    .load(conn)
    .map_err(|e| match DbError::from(e) {
        // The marker's row is locked, and the task's update refuses a script held before: no
        // other lease of theirs writes beside this one.
        DbError::Duplicate(why) if why.contains("script_holders") => DbError::Stale("the script's holders".into()),
        DbError::Duplicate(_) => DbError::Stale("the marker's lease".into()),
        other => other,
    })?;
    let wrote = rows.first().ok_or(DbError::NotFound)?;
    if wrote.leased == 0 {
        return Ok(false);
    }
    Written::appended(usize::try_from(wrote.logged).unwrap_or(0));
    Ok(true)
}
