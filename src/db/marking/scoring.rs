//! A live mark's writes on PostgreSQL in one statement. Each statement is a round trip, and on
//! two shared cores the marking rate follows the round trips a cycle (README, "What bounds
//! PostgreSQL now"): ending the serve, ending its image links, recording the mark, closing the
//! task, keeping the idempotency answer and appending the audit entry were six. SQLite runs
//! them one by one (`score` in `http::marker`): in its one writer a statement costs no trip.

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

use crate::db::audit::{NewEntry, Written};
use crate::db::idempotency::Kept as KeptAnswer;
use crate::db::kept::Kept;
use crate::db::{DbConn, DbError, db_time};

use super::marks::NewMark;

/// What the one statement did.
#[derive(Debug, diesel::QueryableByName)]
struct Wrote {
    #[diesel(sql_type = BigInt)]
    ended: i64,
    #[diesel(sql_type = BigInt)]
    logged: i64,
    #[diesel(sql_type = Nullable<Text>)]
    script_state: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    script_question: Option<String>,
}

/// The marked script's row, locked for its resolution (`scripts::lock_script`'s lock).
#[derive(Debug)]
pub struct LockedScript {
    pub state: String,
    pub question_id: String,
}

/// The serve ends first and everything else hangs on it: a lease that ended meanwhile writes
/// nothing. The serve is taken before its task, and the task before its script (the scalar
/// subqueries run left to right, `marked` reads `ended`, `locked` reads `done`), as a score
/// took them when the script's lock was a statement of its own after this one. Scores and the
/// sweep of ended leases take serves before tasks, so two never deadlock; a lease takes the
/// script first but never waits for it (`try_lock_script`), and a voiding locks the script
/// before a task that is done, which no score holds. A data-modifying `WITH` that nothing reads
/// would run last; each is read here. The script's lock is `scripts::lock_script`'s, for the
/// resolution that follows, one round trip fewer: when it waits for another mark of the same
/// script, the row it answers is the one that mark left, and the resolution's reads, in
/// statements after this one, see that mark's task done.
const SQL: &str = "\
WITH ended AS (
    UPDATE serves SET state = 'scored', ended_at = $1
    WHERE exam_id = $2 AND id = $3 AND state = 'leased' RETURNING id),
revoked AS (
    UPDATE image_tokens SET revoked = TRUE
    WHERE exam_id = $2 AND script_id = $4 AND holder = $5 AND revoked = FALSE
      AND EXISTS (SELECT 1 FROM ended) RETURNING 1),
marked AS (
    INSERT INTO marks (exam_id, id, task_id, serve_id, script_id, question_id, marker_id, score,
                       criteria, annotations, seconds_spent, void, created_at)
    SELECT $2, $6, $7, id, $4, $8, $9, $10, $11, $12, $13, FALSE, $1 FROM ended RETURNING 1),
done AS (
    UPDATE tasks SET state = 'done', lease_expires_at = NULL, done_at = $1
    WHERE exam_id = $2 AND id = $7 AND EXISTS (SELECT 1 FROM marked) RETURNING 1),
answered AS (
    INSERT INTO idempotency_keys (exam_id, user_id, key, request_hash, status, response, created_at)
    SELECT $2, $5, $14, $15, $16, $17, $1 FROM ended WHERE $14::text IS NOT NULL RETURNING 1),
logged AS (
    INSERT INTO audit_log (chain, at, actor_id, actor_role, workstation_id, action, object_type,
                           object_id, exam_id, outcome, details, request_id)
    SELECT $2, $1, $18, $19, $20, $21, $22, $23, $2, $24, $25, $26 FROM ended RETURNING 1),
locked AS MATERIALIZED (
    SELECT state, question_id FROM scripts
    WHERE exam_id = $2 AND id = $4 AND EXISTS (SELECT 1 FROM done) FOR NO KEY UPDATE)
SELECT (SELECT count(*) FROM ended) AS ended,
       (SELECT count(*) FROM revoked) AS revoked,
       (SELECT count(*) FROM marked) AS marked,
       (SELECT count(*) FROM done) AS done,
       (SELECT count(*) FROM answered) AS answered,
       (SELECT count(*) FROM logged) AS logged,
       (SELECT state FROM locked) AS script_state,
       (SELECT question_id FROM locked) AS script_question";

/// A live mark, all its writes but the script's resolution: the serve `mark.serve_id` scored
/// (only while still leased), the holder's links to the script ended, the mark recorded, its
/// task done, the answer kept under the key (when one came) and `entry` appended to the exam's
/// chain, and the script's row locked. `holder` is the marker's account (links are the
/// account's). Answers the script as locked, or `None`, having written nothing, when the lease
/// was no longer running.
pub fn score_live_pg(
    conn: &mut DbConn,
    mark: &NewMark<'_>,
    holder: &str,
    answer: Option<&KeptAnswer<'_>>,
    entry: &NewEntry,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<LockedScript>, DbError> {
    let id = crate::db::new_id();
    let rows: Vec<Wrote> = Kept(
        diesel::sql_query(SQL)
            .bind::<Timestamp, _>(db_time(now))
            .bind::<Text, _>(mark.exam_id)
            .bind::<Text, _>(mark.serve_id)
            .bind::<Text, _>(mark.script_id)
            .bind::<Text, _>(holder)
            .bind::<Text, _>(&id)
            .bind::<Text, _>(mark.task_id)
            .bind::<Text, _>(mark.question_id)
            .bind::<Text, _>(mark.marker_id)
            .bind::<BigInt, _>(mark.score)
            .bind::<Text, _>(mark.criteria)
            .bind::<Text, _>(mark.annotations)
            .bind::<Nullable<Integer>, _>(mark.seconds_spent)
            .bind::<Nullable<Text>, _>(answer.map(|a| a.key))
            .bind::<Nullable<Text>, _>(answer.map(|a| a.request_hash))
            .bind::<Nullable<Integer>, _>(answer.map(|a| a.status))
            .bind::<Nullable<Text>, _>(answer.map(|a| a.response))
            .bind::<Nullable<Text>, _>(&entry.actor_id)
            .bind::<Nullable<Text>, _>(&entry.actor_role)
            .bind::<Nullable<Text>, _>(&entry.workstation_id)
            .bind::<Text, _>(&entry.action)
            .bind::<Nullable<Text>, _>(&entry.object_type)
            .bind::<Nullable<Text>, _>(&entry.object_id)
            .bind::<Text, _>(&entry.outcome)
            .bind::<Text, _>(&entry.details)
            .bind::<Nullable<Text>, _>(&entry.request_id),
    )
    .load(conn)?;
    let wrote = rows.first().ok_or(DbError::NotFound)?;
    if wrote.ended == 0 {
        return Ok(None);
    }
    Written::appended(usize::try_from(wrote.logged).unwrap_or(0));
    match (&wrote.script_state, &wrote.script_question) {
        (Some(state), Some(question_id)) => Ok(Some(LockedScript {
            state: state.clone(),
            question_id: question_id.clone(),
        })),
        // The task was done, so its script exists: only a broken row gets here.
        _ => Err(DbError::Stale("the marked script's lock".into())),
    }
}
