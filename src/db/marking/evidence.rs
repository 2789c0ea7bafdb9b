//! What the statistics and the triggers read: a question's live marks, seed marks and
//! self-checks, and a marker's marks for voiding.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{marks, prescored_scripts, seed_marks, self_checks, tasks};
use crate::db::{DbConn, DbError};

/// One live mark for the statistics: (script, marker, score in hundredths, at, seconds).
pub type LiveMark = (String, String, i64, NaiveDateTime, Option<i32>);

/// The question's valid (live, not void) marks, in the order they were made.
pub fn live_marks_of_question(conn: &mut DbConn, exam_id: &str, question_id: &str) -> Result<Vec<LiveMark>, DbError> {
    Ok(marks::table
        .filter(marks::exam_id.eq(exam_id))
        .filter(marks::question_id.eq(question_id))
        .filter(marks::void.eq(false))
        .order((marks::created_at, marks::id))
        .select((
            marks::script_id,
            marks::marker_id,
            marks::score,
            marks::created_at,
            marks::seconds_spent,
        ))
        .load(conn)?)
}

/// The questions the marker gave live or seed marks on, in the exam.
pub fn questions_marked_by(conn: &mut DbConn, exam_id: &str, marker_id: &str) -> Result<Vec<String>, DbError> {
    let mut live: Vec<String> = marks::table
        .filter(marks::exam_id.eq(exam_id))
        .filter(marks::marker_id.eq(marker_id))
        .select(marks::question_id)
        .distinct()
        .load(conn)?;
    let seeded: Vec<String> = seed_marks::table
        .inner_join(
            prescored_scripts::table.on(prescored_scripts::exam_id
                .eq(seed_marks::exam_id)
                .and(prescored_scripts::id.eq(seed_marks::prescored_id))),
        )
        .filter(seed_marks::exam_id.eq(exam_id))
        .filter(seed_marks::marker_id.eq(marker_id))
        .select(prescored_scripts::question_id)
        .distinct()
        .load(conn)?;
    live.extend(seeded);
    live.sort();
    live.dedup();
    Ok(live)
}

/// One seed mark: (marker, score, definitive, at), hundredths.
pub type SeedRow = (String, i64, i64, NaiveDateTime);

/// The question's seed marks, oldest first; only one marker's, from `since`, when asked.
pub fn seed_marks_of_question(
    conn: &mut DbConn,
    exam_id: &str,
    question_id: &str,
    only: Option<(&str, NaiveDateTime)>,
) -> Result<Vec<SeedRow>, DbError> {
    let mut q = seed_marks::table
        .inner_join(
            prescored_scripts::table.on(prescored_scripts::exam_id
                .eq(seed_marks::exam_id)
                .and(prescored_scripts::id.eq(seed_marks::prescored_id))),
        )
        .filter(seed_marks::exam_id.eq(exam_id))
        .filter(prescored_scripts::question_id.eq(question_id))
        .order((seed_marks::created_at, seed_marks::serve_id))
        .select((
            seed_marks::marker_id,
            seed_marks::score,
            prescored_scripts::definitive,
            seed_marks::created_at,
        ))
        .into_boxed();
    if let Some((marker, since)) = only {
        q = q
            .filter(seed_marks::marker_id.eq(marker.to_string()))
            .filter(seed_marks::created_at.ge(since));
    }
    Ok(q.load(conn)?)
}

/// The question's self-checks: (marker, earlier score, re-served score), oldest first.
pub fn self_checks_of_question(
    conn: &mut DbConn,
    exam_id: &str,
    question_id: &str,
) -> Result<Vec<(String, i64, i64)>, DbError> {
    Ok(self_checks::table
        .inner_join(
            marks::table.on(marks::exam_id
                .eq(self_checks::exam_id)
                .and(marks::script_id.eq(self_checks::script_id))
                .and(marks::marker_id.eq(self_checks::marker_id))),
        )
        .filter(self_checks::exam_id.eq(exam_id))
        .filter(marks::question_id.eq(question_id))
        .order((self_checks::created_at, self_checks::serve_id))
        .select((self_checks::marker_id, self_checks::earlier_score, self_checks::score))
        .load(conn)?)
}

/// A valid mark to be voided: (mark id, task id, script id, question id, at).
pub type MarkRef = (String, String, String, String, NaiveDateTime);

/// The marker's valid marks on the exam, from `since` when given.
pub fn valid_marks_of_marker(
    conn: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    since: Option<NaiveDateTime>,
) -> Result<Vec<MarkRef>, DbError> {
    let mut q = marks::table
        .filter(marks::exam_id.eq(exam_id))
        .filter(marks::marker_id.eq(marker_id))
        .filter(marks::void.eq(false))
        .order((marks::created_at, marks::id))
        .select((
            marks::id,
            marks::task_id,
            marks::script_id,
            marks::question_id,
            marks::created_at,
        ))
        .into_boxed();
    if let Some(t) = since {
        q = q.filter(marks::created_at.ge(t));
    }
    Ok(q.load(conn)?)
}

/// Voids one mark (kept, flagged) and its task (kept, with who did it); false when the mark
/// was void already.
pub fn void_mark(
    conn: &mut DbConn,
    exam_id: &str,
    mark_id: &str,
    task_id: &str,
    reason: &str,
) -> Result<bool, DbError> {
    let n = diesel::update(
        marks::table
            .filter(marks::exam_id.eq(exam_id))
            .filter(marks::id.eq(mark_id))
            .filter(marks::void.eq(false)),
    )
    .set((marks::void.eq(true), marks::void_reason.eq(Some(reason))))
    .execute(conn)?;
    diesel::update(tasks::table.find((exam_id, task_id)))
        .set(tasks::state.eq("void"))
        .execute(conn)?;
    Ok(n == 1)
}
