//! Counts for progress, a marker's own figures and the demo.

use crate::db::lit;
use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::{scripts, serves, tasks};
use crate::db::{DbConn, DbError};

/// Whether any marking happened in the exam (a lease served): its deciding rules are frozen.
pub fn marking_started(conn: &mut DbConn, exam_id: &str) -> Result<bool, DbError> {
    let n: i64 = serves::table
        .filter(serves::exam_id.eq(exam_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Serves the marker scored: (on this day, in all).
pub fn scored_counts(conn: &mut DbConn, exam_id: &str, marker_id: &str, day: NaiveDate) -> Result<(u32, u32), DbError> {
    let days: Vec<NaiveDate> = serves::table
        .filter(serves::exam_id.eq(exam_id))
        .filter(serves::marker_id.eq(marker_id))
        .filter(serves::state.eq(lit("scored")))
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
        .filter(serves::state.eq(lit("scored")))
        .group_by((serves::question_id, serves::marker_id))
        .select((serves::question_id, serves::marker_id, diesel::dsl::count_star()))
        .load(conn)?)
}

/// Scripts of the exam with this code (0 when it does not exist).
pub fn script_count(conn: &mut DbConn, exam_code: &str) -> Result<usize, DbError> {
    use crate::db::schema::exams;
    let ids = exams::table.filter(exams::code.eq(exam_code)).select(exams::id);
    let n: i64 = scripts::table
        .filter(scripts::exam_id.eq_any(ids))
        .count()
        .get_result(conn)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Whether the account is an active marker of the exam with this code.
pub fn demo_marker_active(conn: &mut DbConn, exam_code: &str, username: &str) -> Result<bool, DbError> {
    use crate::db::schema::{exams, marker_exams, markers, users};
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
