//! Serves: every lease a marker was given (live, seed, self-check), running or ended.

use crate::db::lit;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::dsl::not;
use diesel::prelude::*;

use crate::db::exams::QuestionRow;
use crate::db::kept::{Kept, changed};
use crate::db::schema::{idempotency_keys, marks, questions, serves};
use crate::db::{DbConn, DbError, db_time};
use diesel::sql_types::{Text, Timestamp};

use super::tasks::set_task_state;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = serves)]
pub struct ServeRow {
    pub exam_id: String,
    pub id: String,
    pub marker_id: String,
    pub kind: String,
    pub question_id: String,
    pub task_id: Option<String>,
    pub script_id: Option<String>,
    pub prescored_id: Option<String>,
    pub anonymous_code: String,
    pub workstation_id: Option<String>,
    pub state: String,
    pub day: NaiveDate,
    pub leased_at: NaiveDateTime,
    pub lease_expires_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
}

impl ServeRow {
    pub fn live_at(&self, now: DateTime<Utc>) -> bool {
        self.state == "leased" && self.lease_expires_at > db_time(now)
    }
}

/// Expired leases go back: their tasks reopen, their serves end as expired. Image links die on
/// their own (they expire with the lease). Returns how many tasks reopened.
pub fn expire_leases(conn: &mut DbConn, now: DateTime<Utc>) -> Result<usize, DbError> {
    let t = db_time(now);
    if matches!(conn, DbConn::Pg(_)) {
        // One round trip on PostgreSQL, as every lease sweeps first. The scalar subquery runs
        // the serves' update before the tasks' (left alone, a WITH that nothing reads runs
        // last), keeping the order below.
        return Ok(changed(
            conn,
            diesel::sql_query(
                "WITH ended AS (UPDATE serves SET state = 'expired', ended_at = $1 \
                            WHERE state = 'leased' AND lease_expires_at <= $1 RETURNING 1) \
             UPDATE tasks SET state = 'open', marker_id = NULL, lease_expires_at = NULL \
             WHERE state = 'leased' AND lease_expires_at <= $1 AND (SELECT count(*) FROM ended) >= 0 \
             RETURNING 1 AS touched",
            )
            .bind::<Timestamp, _>(t),
        )?);
    }
    // Serves before tasks, the order scoring takes them in, so the two never deadlock.
    changed(
        conn,
        diesel::sql_query(
            "UPDATE serves SET state = 'expired', ended_at = $1 \
             WHERE state = 'leased' AND lease_expires_at <= $1 RETURNING 1 AS touched",
        )
        .bind::<Timestamp, _>(t),
    )?;
    let reopened = changed(
        conn,
        diesel::sql_query(
            "UPDATE tasks SET state = 'open', marker_id = NULL, lease_expires_at = NULL \
             WHERE state = 'leased' AND lease_expires_at <= $1 RETURNING 1 AS touched",
        )
        .bind::<Timestamp, _>(t),
    )?;
    Ok(reopened)
}

/// What a lease on PostgreSQL learns in its first statement after the marker's lock.
#[derive(Debug, QueryableByName)]
pub struct Looked {
    /// Tasks whose lease ran out, open again.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub reopened: i64,
    /// The exams the marker is active in, by id.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<Text>>)]
    pub exams: Option<Vec<String>>,
    /// The marker's lease still running, if any.
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub running: Option<String>,
}

/// `expire_leases`, `current_serve` and `active_exams` (through the exams, as it reads them) as
/// one statement on PostgreSQL (each statement is a round trip). The running lease and the sweep never meet: one reads leases
/// that end after `now`, the other ends those that end at or before it.
pub fn sweep_and_look_pg(conn: &mut DbConn, marker_id: &str, now: DateTime<Utc>) -> Result<Looked, DbError> {
    // An array is PostgreSQL's alone: the statement runs on its connection itself.
    let DbConn::Pg(pg) = conn else {
        return Err(DbError::Stale("a PostgreSQL statement on SQLite".into()));
    };
    let rows: Vec<Looked> = Kept(
        diesel::sql_query(
            "WITH ended AS (UPDATE serves SET state = 'expired', ended_at = $1 \
                            WHERE state = 'leased' AND lease_expires_at <= $1 RETURNING 1), \
                  reopened AS (UPDATE tasks SET state = 'open', marker_id = NULL, lease_expires_at = NULL \
                               WHERE state = 'leased' AND lease_expires_at <= $1 \
                                 AND (SELECT count(*) FROM ended) >= 0 RETURNING 1) \
             SELECT (SELECT count(*) FROM reopened) AS reopened, \
                    (SELECT array_agg(me.exam_id ORDER BY me.exam_id) FROM exams e \
                     JOIN marker_exams me ON me.exam_id = e.id AND me.marker_id = $2 \
                     WHERE me.status = 'active') AS exams, \
                    (SELECT id FROM serves WHERE marker_id = $2 AND state = 'leased' \
                     AND lease_expires_at > $1 LIMIT 1) AS running",
        )
        .bind::<Timestamp, _>(db_time(now))
        .bind::<Text, _>(marker_id),
    )
    .load(pg)?;
    rows.into_iter().next().ok_or(DbError::NotFound)
}

/// Ends a marker's running serves in an exam (their standing now bars work): live tasks go back
/// to the queue.
pub fn end_marker_serves(conn: &mut DbConn, exam_id: &str, marker_id: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    let running: Vec<ServeRow> = serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::marker_id.eq(marker_id))
        .filter(serves::state.eq(lit("leased")))
        .select(ServeRow::as_select())
        .load(conn)?;
    for s in running {
        if end_serve(conn, &s, "ended", now)?
            && let Some(task) = &s.task_id
        {
            set_task_state(conn, exam_id, task, "open", now)?;
        }
    }
    Ok(())
}

pub fn insert_serve(conn: &mut DbConn, s: &ServeRow) -> Result<(), DbError> {
    diesel::insert_into(serves::table)
        .values(s.clone())
        .execute(conn)
        .map_err(|e| match DbError::from(e) {
            DbError::Duplicate(_) => DbError::Stale("the marker's lease".into()),
            other => other,
        })?;
    Ok(())
}

/// The marker's lease still running, in any exam.
pub fn current_serve(conn: &mut DbConn, marker_id: &str, now: DateTime<Utc>) -> Result<Option<ServeRow>, DbError> {
    Ok(Kept(
        serves::table
            .filter(serves::marker_id.eq(marker_id))
            .filter(serves::state.eq(lit("leased")))
            .filter(serves::lease_expires_at.gt(db_time(now)))
            .select(ServeRow::as_select())
            .limit(1),
    )
    .get_result(conn)
    .optional()?)
}

pub fn serve(conn: &mut DbConn, id: &str) -> Result<ServeRow, DbError> {
    Ok(serves::table
        .filter(serves::id.eq(id))
        .select(ServeRow::as_select())
        .first(conn)?)
}

/// What a score reads before it writes: the serve, its question, and the answer kept under the
/// request's `Idempotency-Key` (hash, status, body), when one came and was kept.
pub struct ForScore {
    pub serve: ServeRow,
    pub question: QuestionRow,
    pub answered: Option<(String, i32, String)>,
}

/// A serve with its question and the answer `user` kept under `key`, in one statement: each
/// statement is a round trip. Questions are never changed once made, so reading one before the
/// exam's lock sees what a read after it would.
pub fn serve_for_score(conn: &mut DbConn, id: &str, user: &str, key: Option<&str>) -> Result<ForScore, DbError> {
    // No key is ever empty (`Idempotency-Key` takes 1 to 200 characters): "" matches nothing.
    let answer = idempotency_keys::exam_id
        .eq(serves::exam_id)
        .and(idempotency_keys::user_id.eq(user))
        .and(idempotency_keys::key.eq(key.unwrap_or_default()));
    let (serve, question, answered) = serves::table
        .filter(serves::id.eq(id))
        .inner_join(
            questions::table.on(questions::exam_id
                .eq(serves::exam_id)
                .and(questions::id.eq(serves::question_id))),
        )
        .left_join(idempotency_keys::table.on(answer))
        .select((
            ServeRow::as_select(),
            QuestionRow::as_select(),
            (
                idempotency_keys::request_hash,
                idempotency_keys::status,
                idempotency_keys::response,
            )
                .nullable(),
        ))
        .first::<(ServeRow, QuestionRow, Option<(String, i32, String)>)>(conn)?;
    Ok(ForScore {
        serve,
        question,
        answered: answered.filter(|_| key.is_some()),
    })
}

/// Ends a running serve; false when it had ended already (scored, expired, released).
pub fn end_serve(conn: &mut DbConn, s: &ServeRow, state: &str, now: DateTime<Utc>) -> Result<bool, DbError> {
    let n = changed(
        conn,
        diesel::sql_query(
            "UPDATE serves SET state = $1, ended_at = $2 WHERE exam_id = $3 AND id = $4 AND state = 'leased' \
             RETURNING 1 AS touched",
        )
        .bind::<Text, _>(state)
        .bind::<Timestamp, _>(db_time(now))
        .bind::<Text, _>(&s.exam_id)
        .bind::<Text, _>(&s.id),
    )?;
    Ok(n == 1)
}

/// The marker's serves on a marking day: (all, seeds).
pub fn served_on(conn: &mut DbConn, exam_id: &str, marker_id: &str, day: NaiveDate) -> Result<(u32, u32), DbError> {
    let kinds: Vec<String> = serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::marker_id.eq(marker_id))
        .filter(serves::day.eq(day))
        .select(serves::kind)
        .load(conn)?;
    let n = |k: usize| u32::try_from(k).unwrap_or(u32::MAX);
    Ok((n(kinds.len()), n(kinds.iter().filter(|k| *k == "seed").count())))
}

/// Pre-scored seeds of these questions the marker was never served.
pub fn unseen_seeds(
    conn: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    question_id: &str,
) -> Result<Vec<(String, String)>, DbError> {
    use crate::db::schema::prescored_scripts as p;
    let seen = serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::marker_id.eq(marker_id))
        .filter(serves::kind.eq("seed"))
        .filter(serves::prescored_id.is_not_null())
        .select(serves::prescored_id.assume_not_null());
    Ok(p::table
        .filter(p::exam_id.eq(exam_id))
        .filter(p::role.eq("seed"))
        .filter(p::question_id.eq(question_id))
        .filter(not(p::id.eq_any(seen)))
        .select((p::id, p::question_id))
        .load(conn)?)
}

/// The marker's valid marks on this question not yet self-checked: (script, question, score).
pub fn self_checkable(
    conn: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    question_id: &str,
) -> Result<Vec<(String, String, i64)>, DbError> {
    let checked = serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::marker_id.eq(marker_id))
        .filter(serves::kind.eq("self_check"))
        .filter(serves::script_id.is_not_null())
        .select(serves::script_id.assume_not_null());
    Ok(marks::table
        .filter(marks::exam_id.eq(exam_id))
        .filter(marks::marker_id.eq(marker_id))
        .filter(marks::void.eq(false))
        .filter(marks::question_id.eq(question_id))
        .filter(not(marks::script_id.eq_any(checked)))
        .select((marks::script_id, marks::question_id, marks::score))
        .limit(200)
        .load(conn)?)
}

/// The running serves of a script (live and self-check), to end them when it is withdrawn.
pub fn running_serves_of_script(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<Vec<ServeRow>, DbError> {
    Ok(serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::script_id.eq(script_id))
        .filter(serves::state.eq(lit("leased")))
        .select(ServeRow::as_select())
        .load(conn)?)
}

/// Every running serve of an exam (to end them when the room closes).
pub fn running_serves(conn: &mut DbConn, exam_id: &str) -> Result<Vec<ServeRow>, DbError> {
    Ok(serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::state.eq(lit("leased")))
        .select(ServeRow::as_select())
        .load(conn)?)
}
