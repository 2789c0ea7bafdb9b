//! Marks, seed marks and self-checks: what markers gave.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::marks;
use crate::db::{DbConn, DbError, db_time};

use super::serves::ServeRow;

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
    let id = crate::db::new_id();
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

/// A seed's score and its distance from the definitive one.
pub fn insert_seed_mark(
    conn: &mut DbConn,
    s: &ServeRow,
    prescored_id: &str,
    score: i64,
    deviation: i64,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    use crate::db::schema::seed_marks as t;
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
    use crate::db::schema::self_checks as t;
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

/// Whether the marker's mark of a script still stands (not void): a self-check of a voided mark
/// (the script withdrawn, its identity exposed) is never served.
pub fn mark_stands(conn: &mut DbConn, exam_id: &str, script_id: &str, marker_id: &str) -> Result<bool, DbError> {
    let n: i64 = marks::table
        .filter(marks::exam_id.eq(exam_id))
        .filter(marks::script_id.eq(script_id))
        .filter(marks::marker_id.eq(marker_id))
        .filter(marks::void.eq(false))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
