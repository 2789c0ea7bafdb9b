//! Tasks, leases (serves), the never-twice record, marks: the marking floor's storage.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::schema::{marks, script_holders, scripts, serves, sheets, tasks};
use super::{DbConn, DbError, db_time};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tasks)]
pub struct TaskRow {
    pub exam_id: String,
    pub id: String,
    pub script_id: String,
    pub question_id: String,
    pub state: String,
    pub shuffle: i64,
    pub marker_id: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub done_at: Option<NaiveDateTime>,
}

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

/// Opens one task for a script.
pub fn insert_task(
    conn: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    question_id: &str,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(tasks::table)
        .values((
            tasks::exam_id.eq(exam_id),
            tasks::id.eq(&id),
            tasks::script_id.eq(script_id),
            tasks::question_id.eq(question_id),
            tasks::state.eq("open"),
            tasks::shuffle.eq(rand::random::<i64>()),
            tasks::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Expired leases go back: their tasks reopen, their serves end as expired. Image links die on
/// their own (they expire with the lease). Returns how many tasks reopened.
pub fn expire_leases(conn: &mut DbConn, now: DateTime<Utc>) -> Result<usize, DbError> {
    let t = db_time(now);
    // Serves before tasks, the order scoring takes them in, so the two never deadlock.
    diesel::update(
        serves::table
            .filter(serves::state.eq("leased"))
            .filter(serves::lease_expires_at.le(t)),
    )
    .set((serves::state.eq("expired"), serves::ended_at.eq(Some(t))))
    .execute(conn)?;
    let reopened = diesel::update(
        tasks::table
            .filter(tasks::state.eq("leased"))
            .filter(tasks::lease_expires_at.le(t)),
    )
    .set((
        tasks::state.eq("open"),
        tasks::marker_id.eq(None::<String>),
        tasks::lease_expires_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(reopened)
}

/// Ends a marker's running serves in an exam (their standing now bars work): live tasks go back
/// to the queue.
pub fn end_marker_serves(conn: &mut DbConn, exam_id: &str, marker_id: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    let running: Vec<ServeRow> = serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::marker_id.eq(marker_id))
        .filter(serves::state.eq("leased"))
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

/// What a marker may be given: questions they qualified for in an exam, never a script they
/// held, never one from their own school, never a relative's sheet.
pub struct Eligible<'a> {
    pub exam_id: &'a str,
    pub question_ids: &'a [String],
    pub marker_id: &'a str,
    pub school_code: &'a str,
    /// Sheet lookups of the marker's declared relatives sitting the exam.
    pub relative_sheets: &'a [String],
}

/// The first eligible open task at or after `from` in shuffle order (wrapping around): a
/// random pick without sorting the queue. On PostgreSQL only the task's own row is locked,
/// skipping rows other transactions hold, so many servers lease at once and nothing else (the
/// script a mark is completing) is held while choosing.
pub fn pick_task(conn: &mut DbConn, e: &Eligible<'_>, from: i64) -> Result<Option<TaskRow>, DbError> {
    for start in [from, i64::MIN] {
        let held = script_holders::table
            .filter(script_holders::exam_id.eq(tasks::exam_id))
            .filter(script_holders::script_id.eq(tasks::script_id))
            .filter(script_holders::marker_id.eq(e.marker_id));
        let relatives = sheets::table
            .filter(sheets::exam_id.eq(e.exam_id))
            .filter(sheets::candidate_lookup.eq_any(e.relative_sheets))
            .select(sheets::id);
        let candidates: Vec<TaskRow> = tasks::table
            .inner_join(
                scripts::table.on(scripts::exam_id
                    .eq(tasks::exam_id)
                    .and(scripts::id.eq(tasks::script_id))),
            )
            .filter(tasks::exam_id.eq(e.exam_id))
            .filter(tasks::question_id.eq_any(e.question_ids))
            .filter(tasks::state.eq("open"))
            .filter(tasks::shuffle.ge(start))
            .filter(scripts::state.eq_any(["awaiting", "marking"]))
            .filter(scripts::school_code.ne(e.school_code))
            .filter(not(scripts::sheet_id.eq_any(relatives)))
            .filter(not(exists(held)))
            .order(tasks::shuffle)
            .limit(16)
            .select(TaskRow::as_select())
            .load(conn)?;
        for t in candidates {
            let locked = match conn {
                DbConn::Pg(c) => tasks::table
                    .find((&t.exam_id, &t.id))
                    .filter(tasks::state.eq("open"))
                    .select(TaskRow::as_select())
                    .for_update()
                    .skip_locked()
                    .first(c)
                    .optional()?,
                DbConn::Sqlite(_) => Some(t),
            };
            if locked.is_some() {
                return Ok(locked);
            }
        }
    }
    Ok(None)
}

/// Leases an open task; false when another request took it first.
pub fn lease_task(
    conn: &mut DbConn,
    exam_id: &str,
    task_id: &str,
    marker_id: &str,
    expires: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(tasks::table.find((exam_id, task_id)).filter(tasks::state.eq("open")))
        .set((
            tasks::state.eq("leased"),
            tasks::marker_id.eq(Some(marker_id)),
            tasks::lease_expires_at.eq(Some(db_time(expires))),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

pub fn task(conn: &mut DbConn, exam_id: &str, id: &str) -> Result<TaskRow, DbError> {
    Ok(tasks::table
        .find((exam_id, id))
        .select(TaskRow::as_select())
        .first(conn)?)
}

/// Sets a task's state (and clears its lease unless it is done).
pub fn set_task_state(
    conn: &mut DbConn,
    exam_id: &str,
    id: &str,
    state: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let done_at = (state == "done").then(|| db_time(now));
    let keep_marker = state == "done";
    let target = tasks::table.find((exam_id, id));
    if keep_marker {
        diesel::update(target)
            .set((
                tasks::state.eq(state),
                tasks::lease_expires_at.eq(None::<NaiveDateTime>),
                tasks::done_at.eq(done_at),
            ))
            .execute(conn)?;
    } else {
        diesel::update(target)
            .set((
                tasks::state.eq(state),
                tasks::marker_id.eq(None::<String>),
                tasks::lease_expires_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A script's tasks, in any state.
pub fn tasks_of_script(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<Vec<TaskRow>, DbError> {
    Ok(tasks::table
        .filter(tasks::exam_id.eq(exam_id))
        .filter(tasks::script_id.eq(script_id))
        .select(TaskRow::as_select())
        .load(conn)?)
}

/// Records that the marker held the script; false when they held it before (R5).
pub fn hold(
    conn: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    marker_id: &str,
    serve_id: &str,
) -> Result<bool, DbError> {
    let r = diesel::insert_into(script_holders::table)
        .values((
            script_holders::exam_id.eq(exam_id),
            script_holders::script_id.eq(script_id),
            script_holders::marker_id.eq(marker_id),
            script_holders::serve_id.eq(serve_id),
        ))
        .execute(conn);
    match r.map_err(DbError::from) {
        Ok(_) => Ok(true),
        Err(DbError::Duplicate(_)) => Ok(false),
        Err(e) => Err(e),
    }
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
    Ok(serves::table
        .filter(serves::marker_id.eq(marker_id))
        .filter(serves::state.eq("leased"))
        .filter(serves::lease_expires_at.gt(db_time(now)))
        .select(ServeRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn serve(conn: &mut DbConn, id: &str) -> Result<ServeRow, DbError> {
    Ok(serves::table
        .filter(serves::id.eq(id))
        .select(ServeRow::as_select())
        .first(conn)?)
}

/// Ends a running serve; false when it had ended already (scored, expired, released).
pub fn end_serve(conn: &mut DbConn, s: &ServeRow, state: &str, now: DateTime<Utc>) -> Result<bool, DbError> {
    let n = diesel::update(
        serves::table
            .find((&s.exam_id, &s.id))
            .filter(serves::state.eq("leased")),
    )
    .set((serves::state.eq(state), serves::ended_at.eq(Some(db_time(now)))))
    .execute(conn)?;
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
    question_ids: &[String],
) -> Result<Vec<(String, String)>, DbError> {
    use super::schema::prescored_scripts as p;
    let seen = serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::marker_id.eq(marker_id))
        .filter(serves::kind.eq("seed"))
        .filter(serves::prescored_id.is_not_null())
        .select(serves::prescored_id.assume_not_null());
    Ok(p::table
        .filter(p::exam_id.eq(exam_id))
        .filter(p::role.eq("seed"))
        .filter(p::question_id.eq_any(question_ids))
        .filter(not(p::id.eq_any(seen)))
        .select((p::id, p::question_id))
        .load(conn)?)
}

/// The marker's valid marks on these questions not yet self-checked: (script, question, score).
pub fn self_checkable(
    conn: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    question_ids: &[String],
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
        .filter(marks::question_id.eq_any(question_ids))
        .filter(not(marks::script_id.eq_any(checked)))
        .select((marks::script_id, marks::question_id, marks::score))
        .limit(200)
        .load(conn)?)
}

pub struct NewMark<'a> {
    pub exam_id: &'a str,
    pub task_id: &'a str,
    pub serve_id: &'a str,
    pub script_id: &'a str,
    pub question_id: &'a str,
    pub marker_id: &'a str,
    pub score: i64,
    pub criteria: &'a str,
    pub annotations: &'a str,
    pub seconds_spent: Option<i32>,
}

pub fn insert_mark(conn: &mut DbConn, m: &NewMark<'_>, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(marks::table)
        .values((
            marks::exam_id.eq(m.exam_id),
            marks::id.eq(&id),
            marks::task_id.eq(m.task_id),
            marks::serve_id.eq(m.serve_id),
            marks::script_id.eq(m.script_id),
            marks::question_id.eq(m.question_id),
            marks::marker_id.eq(m.marker_id),
            marks::score.eq(m.score),
            marks::criteria.eq(m.criteria),
            marks::annotations.eq(m.annotations),
            marks::seconds_spent.eq(m.seconds_spent),
            marks::void.eq(false),
            marks::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A script's valid marks: (marker, score, at), oldest first.
pub fn valid_marks(
    conn: &mut DbConn,
    exam_id: &str,
    script_id: &str,
) -> Result<Vec<(String, i64, NaiveDateTime)>, DbError> {
    Ok(marks::table
        .filter(marks::exam_id.eq(exam_id))
        .filter(marks::script_id.eq(script_id))
        .filter(marks::void.eq(false))
        .order(marks::created_at)
        .select((marks::marker_id, marks::score, marks::created_at))
        .load(conn)?)
}

/// Voids a script's valid marks (kept, flagged); returns how many.
pub fn void_marks_of_script(conn: &mut DbConn, exam_id: &str, script_id: &str, reason: &str) -> Result<usize, DbError> {
    Ok(diesel::update(
        marks::table
            .filter(marks::exam_id.eq(exam_id))
            .filter(marks::script_id.eq(script_id))
            .filter(marks::void.eq(false)),
    )
    .set((marks::void.eq(true), marks::void_reason.eq(Some(reason))))
    .execute(conn)?)
}

/// The running serves of a script (live and self-check), to end them when it is withdrawn.
pub fn running_serves_of_script(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<Vec<ServeRow>, DbError> {
    Ok(serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::script_id.eq(script_id))
        .filter(serves::state.eq("leased"))
        .select(ServeRow::as_select())
        .load(conn)?)
}

/// Every running serve of an exam (to end them when the room closes).
pub fn running_serves(conn: &mut DbConn, exam_id: &str) -> Result<Vec<ServeRow>, DbError> {
    Ok(serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::state.eq("leased"))
        .select(ServeRow::as_select())
        .load(conn)?)
}

/// Whether any marking happened in the exam (a lease served): its deciding rules are frozen.
pub fn marking_started(conn: &mut DbConn, exam_id: &str) -> Result<bool, DbError> {
    let n: i64 = serves::table
        .filter(serves::exam_id.eq(exam_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn set_script_state(conn: &mut DbConn, exam_id: &str, script_id: &str, state: &str) -> Result<(), DbError> {
    diesel::update(scripts::table.find((exam_id, script_id)))
        .set(scripts::state.eq(state))
        .execute(conn)?;
    Ok(())
}

/// A seed's score and its distance from the definitive one.
pub fn insert_seed_mark(
    conn: &mut DbConn,
    s: &ServeRow,
    prescored_id: &str,
    score: i64,
    deviation: i64,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    use super::schema::seed_marks as t;
    diesel::insert_into(t::table)
        .values((
            t::exam_id.eq(&s.exam_id),
            t::serve_id.eq(&s.id),
            t::marker_id.eq(&s.marker_id),
            t::prescored_id.eq(prescored_id),
            t::score.eq(score),
            t::deviation.eq(deviation),
            t::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A self-check beside the marker's earlier mark of the same script.
pub fn insert_self_check(
    conn: &mut DbConn,
    s: &ServeRow,
    script_id: &str,
    score: i64,
    earlier: i64,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    use super::schema::self_checks as t;
    diesel::insert_into(t::table)
        .values((
            t::exam_id.eq(&s.exam_id),
            t::serve_id.eq(&s.id),
            t::marker_id.eq(&s.marker_id),
            t::script_id.eq(script_id),
            t::score.eq(score),
            t::earlier_score.eq(earlier),
            t::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The marker's own mark of a script (void or not).
pub fn mark_of(conn: &mut DbConn, exam_id: &str, script_id: &str, marker_id: &str) -> Result<i64, DbError> {
    Ok(marks::table
        .filter(marks::exam_id.eq(exam_id))
        .filter(marks::script_id.eq(script_id))
        .filter(marks::marker_id.eq(marker_id))
        .select(marks::score)
        .first(conn)?)
}

/// Serves the marker scored: (on this day, in all).
pub fn scored_counts(conn: &mut DbConn, exam_id: &str, marker_id: &str, day: NaiveDate) -> Result<(u32, u32), DbError> {
    let days: Vec<NaiveDate> = serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::marker_id.eq(marker_id))
        .filter(serves::state.eq("scored"))
        .select(serves::day)
        .load(conn)?;
    let n = |k: usize| u32::try_from(k).unwrap_or(u32::MAX);
    Ok((n(days.iter().filter(|d| **d == day).count()), n(days.len())))
}

/// Per question and state: how many scripts.
pub fn script_counts(conn: &mut DbConn, exam_id: &str) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(scripts::table
        .filter(scripts::exam_id.eq(exam_id))
        .group_by((scripts::question_id, scripts::state))
        .select((scripts::question_id, scripts::state, diesel::dsl::count_star()))
        .load(conn)?)
}

/// Per question and state: how many tasks.
pub fn task_counts(conn: &mut DbConn, exam_id: &str) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(tasks::table
        .filter(tasks::exam_id.eq(exam_id))
        .group_by((tasks::question_id, tasks::state))
        .select((tasks::question_id, tasks::state, diesel::dsl::count_star()))
        .load(conn)?)
}

/// Per question and marker: serves scored on the day (seeds and self-checks included).
pub fn scored_on(conn: &mut DbConn, exam_id: &str, day: NaiveDate) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::day.eq(day))
        .filter(serves::state.eq("scored"))
        .group_by((serves::question_id, serves::marker_id))
        .select((serves::question_id, serves::marker_id, diesel::dsl::count_star()))
        .load(conn)?)
}

/// Scripts of the exam with this code (0 when it does not exist).
pub fn script_count(conn: &mut DbConn, exam_code: &str) -> Result<usize, DbError> {
    use super::schema::exams;
    let ids = exams::table.filter(exams::code.eq(exam_code)).select(exams::id);
    let n: i64 = scripts::table
        .filter(scripts::exam_id.eq_any(ids))
        .count()
        .get_result(conn)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Whether the account is an active marker of the exam with this code.
pub fn demo_marker_active(conn: &mut DbConn, exam_code: &str, username: &str) -> Result<bool, DbError> {
    use super::schema::{exams, marker_exams, markers, users};
    let n: i64 = marker_exams::table
        .inner_join(markers::table)
        .inner_join(exams::table.on(exams::id.eq(marker_exams::exam_id)))
        .inner_join(users::table.on(users::id.eq(markers::user_id)))
        .filter(exams::code.eq(exam_code))
        .filter(users::username.eq(username))
        .filter(marker_exams::status.eq("active"))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
