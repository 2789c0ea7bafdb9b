//! Qualification attempts and their tasks: which calibration script came in which place, what
//! the marker gave and how far it lay from the definitive score.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{qualification_attempts, qualification_tasks};
use super::{DbConn, DbError, db_time};
use crate::domain::Score;
use crate::domain::qualification::Judgement;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = qualification_attempts)]
pub struct AttemptRow {
    pub exam_id: String,
    pub id: String,
    pub marker_id: String,
    pub question_id: String,
    pub n: i32,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub passed: Option<bool>,
    pub within_count: Option<i32>,
    pub total: i32,
    pub max_deviation: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = qualification_tasks)]
pub struct TaskRow {
    pub exam_id: String,
    pub id: String,
    pub attempt_id: String,
    pub prescored_id: String,
    pub position: i32,
    pub score: Option<i64>,
    pub deviation: Option<i64>,
    pub scored_at: Option<NaiveDateTime>,
}

/// A marker's attempts at one question (every question when `question_id` is None), in order.
pub fn attempts(
    conn: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    question_id: Option<&str>,
) -> Result<Vec<AttemptRow>, DbError> {
    let mut q = qualification_attempts::table
        .filter(qualification_attempts::exam_id.eq(exam_id))
        .filter(qualification_attempts::marker_id.eq(marker_id))
        .into_boxed();
    if let Some(question) = question_id {
        q = q.filter(qualification_attempts::question_id.eq(question.to_string()));
    }
    Ok(
        q.order((qualification_attempts::question_id, qualification_attempts::n))
            .select(AttemptRow::as_select())
            .load(conn)?,
    )
}

/// Starts attempt `n` with the calibration scripts in the order given.
pub fn start(
    conn: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    question_id: &str,
    n: i32,
    order: &[String],
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(qualification_attempts::table)
        .values((
            qualification_attempts::exam_id.eq(exam_id),
            qualification_attempts::id.eq(&id),
            qualification_attempts::marker_id.eq(marker_id),
            qualification_attempts::question_id.eq(question_id),
            qualification_attempts::n.eq(n),
            qualification_attempts::started_at.eq(db_time(now)),
            qualification_attempts::total.eq(i32::try_from(order.len()).unwrap_or(i32::MAX)),
        ))
        .execute(conn)?;
    for (i, prescored) in order.iter().enumerate() {
        diesel::insert_into(qualification_tasks::table)
            .values((
                qualification_tasks::exam_id.eq(exam_id),
                qualification_tasks::id.eq(super::new_id()),
                qualification_tasks::attempt_id.eq(&id),
                qualification_tasks::prescored_id.eq(prescored),
                qualification_tasks::position.eq(i32::try_from(i + 1).unwrap_or(i32::MAX)),
            ))
            .execute(conn)?;
    }
    Ok(id)
}

/// The tasks of an attempt, in the order they are served.
pub fn tasks(conn: &mut DbConn, exam_id: &str, attempt_id: &str) -> Result<Vec<TaskRow>, DbError> {
    Ok(qualification_tasks::table
        .filter(qualification_tasks::exam_id.eq(exam_id))
        .filter(qualification_tasks::attempt_id.eq(attempt_id))
        .order(qualification_tasks::position)
        .select(TaskRow::as_select())
        .load(conn)?)
}

pub fn task(conn: &mut DbConn, id: &str) -> Result<TaskRow, DbError> {
    Ok(qualification_tasks::table
        .filter(qualification_tasks::id.eq(id))
        .select(TaskRow::as_select())
        .first(conn)?)
}

pub fn attempt(conn: &mut DbConn, exam_id: &str, id: &str) -> Result<AttemptRow, DbError> {
    Ok(qualification_attempts::table
        .find((exam_id, id))
        .select(AttemptRow::as_select())
        .first(conn)?)
}

/// Records a score once: false when the task was scored already (a second request racing).
pub fn score(
    conn: &mut DbConn,
    t: &TaskRow,
    score: Score,
    deviation: Score,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        qualification_tasks::table
            .find((&t.exam_id, &t.id))
            .filter(qualification_tasks::score.is_null()),
    )
    .set((
        qualification_tasks::score.eq(Some(score.hundredths())),
        qualification_tasks::deviation.eq(Some(deviation.hundredths())),
        qualification_tasks::scored_at.eq(Some(db_time(now))),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn finish(
    conn: &mut DbConn,
    exam_id: &str,
    attempt_id: &str,
    j: &Judgement,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(qualification_attempts::table.find((exam_id, attempt_id)))
        .set((
            qualification_attempts::finished_at.eq(Some(db_time(now))),
            qualification_attempts::passed.eq(Some(j.passed)),
            qualification_attempts::within_count.eq(Some(i32::try_from(j.within).unwrap_or(i32::MAX))),
            qualification_attempts::max_deviation.eq(Some(j.max_deviation.hundredths())),
        ))
        .execute(conn)?;
    Ok(())
}

/// The questions a marker passed the test for.
pub fn passed_questions(conn: &mut DbConn, exam_id: &str, marker_id: &str) -> Result<Vec<String>, DbError> {
    let mut q: Vec<String> = qualification_attempts::table
        .filter(qualification_attempts::exam_id.eq(exam_id))
        .filter(qualification_attempts::marker_id.eq(marker_id))
        .filter(qualification_attempts::passed.eq(Some(true)))
        .select(qualification_attempts::question_id)
        .load(conn)?;
    q.sort();
    q.dedup();
    Ok(q)
}

/// Whether the marker passed any qualification test, in any exam.
pub fn ever_passed(conn: &mut DbConn, marker_id: &str) -> Result<bool, DbError> {
    let n: i64 = qualification_attempts::table
        .filter(qualification_attempts::marker_id.eq(marker_id))
        .filter(qualification_attempts::passed.eq(Some(true)))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
