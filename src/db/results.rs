//! What marking decides and what leadership settles: finals, disputes, back-reads, problem
//! scripts.

use crate::db::lit;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{backreads, disputes, finals, problems};
use super::{DbConn, DbError, db_time};

/// Sets (or replaces, when a script is resolved again) a script's final.
pub struct Final<'a> {
    pub exam_id: &'a str,
    pub script_id: &'a str,
    pub question_id: &'a str,
    pub score: i64,
    pub method: &'a str,
    pub decided_by: Option<&'a str>,
    pub reason: Option<&'a str>,
}

pub fn set_final(conn: &mut DbConn, f: &Final<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    clear_final(conn, f.exam_id, f.script_id)?;
    diesel::insert_into(finals::table)
        .values((
            finals::exam_id.eq(f.exam_id),
            finals::script_id.eq(f.script_id),
            finals::question_id.eq(f.question_id),
            finals::score.eq(f.score),
            finals::method.eq(f.method),
            finals::decided_by.eq(f.decided_by),
            finals::reason.eq(f.reason),
            finals::decided_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A script's final lapses (its marks were voided or a back-read disputed it).
pub fn clear_final(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<(), DbError> {
    diesel::delete(finals::table.find((exam_id, script_id))).execute(conn)?;
    Ok(())
}

/// (score, method)
pub fn final_of(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<Option<(i64, String)>, DbError> {
    Ok(finals::table
        .find((exam_id, script_id))
        .select((finals::score, finals::method))
        .first(conn)
        .optional()?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = disputes)]
pub struct DisputeRow {
    pub exam_id: String,
    pub id: String,
    pub script_id: String,
    pub question_id: String,
    pub cause: String,
    pub spread: i64,
    pub status: String,
    pub opened_at: NaiveDateTime,
    pub resolved_by: Option<String>,
    pub score: Option<i64>,
    pub reason: Option<String>,
    pub resolved_at: Option<NaiveDateTime>,
}

/// Opens a dispute unless one is open for the script already.
pub fn open_dispute(
    conn: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    question_id: &str,
    cause: &str,
    spread: i64,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let open: i64 = disputes::table
        .filter(disputes::exam_id.eq(exam_id))
        .filter(disputes::script_id.eq(script_id))
        .filter(disputes::status.eq(lit("open")))
        .count()
        .get_result(conn)?;
    if open == 0 {
        diesel::insert_into(disputes::table)
            .values((
                disputes::exam_id.eq(exam_id),
                disputes::id.eq(super::new_id()),
                disputes::script_id.eq(script_id),
                disputes::question_id.eq(question_id),
                disputes::cause.eq(cause),
                disputes::spread.eq(spread),
                disputes::status.eq("open"),
                disputes::opened_at.eq(db_time(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn dispute(conn: &mut DbConn, id: &str) -> Result<DisputeRow, DbError> {
    Ok(disputes::table
        .filter(disputes::id.eq(id))
        .select(DisputeRow::as_select())
        .first(conn)?)
}

/// Open disputes of an exam (on these questions), widest spread first.
pub fn open_disputes(conn: &mut DbConn, exam_id: &str, question_ids: &[String]) -> Result<Vec<DisputeRow>, DbError> {
    Ok(disputes::table
        .filter(disputes::exam_id.eq(exam_id))
        .filter(disputes::status.eq(lit("open")))
        .filter(disputes::question_id.eq_any(question_ids))
        .order((disputes::spread.desc(), disputes::opened_at))
        .select(DisputeRow::as_select())
        .load(conn)?)
}

/// Settles an open dispute; false when it was settled or lapsed meanwhile.
pub fn settle_dispute(
    conn: &mut DbConn,
    d: &DisputeRow,
    by: &str,
    score: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        disputes::table
            .find((&d.exam_id, &d.id))
            .filter(disputes::status.eq(lit("open"))),
    )
    .set((
        disputes::status.eq("resolved"),
        disputes::resolved_by.eq(Some(by)),
        disputes::score.eq(Some(score)),
        disputes::reason.eq(Some(reason)),
        disputes::resolved_at.eq(Some(db_time(now))),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Open disputes of a script lapse (its marks were voided: it is marked afresh).
pub fn lapse_disputes(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<usize, DbError> {
    Ok(diesel::update(
        disputes::table
            .filter(disputes::exam_id.eq(exam_id))
            .filter(disputes::script_id.eq(script_id))
            .filter(disputes::status.eq(lit("open"))),
    )
    .set(disputes::status.eq("lapsed"))
    .execute(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = backreads)]
pub struct BackreadRow {
    pub exam_id: String,
    pub id: String,
    pub script_id: String,
    pub question_id: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub leader_id: Option<String>,
    pub score: Option<i64>,
    pub note: Option<String>,
    pub done_at: Option<NaiveDateTime>,
}

pub fn open_backread(
    conn: &mut DbConn,
    exam_id: &str,
    script_id: &str,
    question_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(backreads::table)
        .values((
            backreads::exam_id.eq(exam_id),
            backreads::id.eq(super::new_id()),
            backreads::script_id.eq(script_id),
            backreads::question_id.eq(question_id),
            backreads::status.eq("open"),
            backreads::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn backread(conn: &mut DbConn, id: &str) -> Result<BackreadRow, DbError> {
    Ok(backreads::table
        .filter(backreads::id.eq(id))
        .select(BackreadRow::as_select())
        .first(conn)?)
}

pub fn open_backreads(conn: &mut DbConn, exam_id: &str, question_ids: &[String]) -> Result<Vec<BackreadRow>, DbError> {
    Ok(backreads::table
        .filter(backreads::exam_id.eq(exam_id))
        .filter(backreads::status.eq("open"))
        .filter(backreads::question_id.eq_any(question_ids))
        .order(backreads::created_at)
        .select(BackreadRow::as_select())
        .load(conn)?)
}

/// Records a back-read; false when it was done or lapsed meanwhile.
pub fn finish_backread(
    conn: &mut DbConn,
    b: &BackreadRow,
    by: &str,
    score: i64,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        backreads::table
            .find((&b.exam_id, &b.id))
            .filter(backreads::status.eq("open")),
    )
    .set((
        backreads::status.eq("done"),
        backreads::leader_id.eq(Some(by)),
        backreads::score.eq(Some(score)),
        backreads::note.eq(note),
        backreads::done_at.eq(Some(db_time(now))),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Open back-reads of a script lapse (it is being marked afresh).
pub fn lapse_backreads(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<usize, DbError> {
    Ok(diesel::update(
        backreads::table
            .filter(backreads::exam_id.eq(exam_id))
            .filter(backreads::script_id.eq(script_id))
            .filter(backreads::status.eq("open")),
    )
    .set(backreads::status.eq("lapsed"))
    .execute(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = problems)]
pub struct ProblemRow {
    pub exam_id: String,
    pub id: String,
    pub script_id: String,
    pub question_id: String,
    pub serve_id: String,
    pub kind: String,
    pub note: String,
    pub flagged_by: String,
    pub status: String,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

pub struct NewProblem<'a> {
    pub exam_id: &'a str,
    pub script_id: &'a str,
    pub question_id: &'a str,
    pub serve_id: &'a str,
    pub kind: &'a str,
    pub note: &'a str,
    pub flagged_by: &'a str,
    /// Identity-exposed flags go straight to the custodians; they are recorded as treated.
    pub resolved: bool,
}

pub fn insert_problem(conn: &mut DbConn, p: &NewProblem<'_>, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(problems::table)
        .values((
            problems::exam_id.eq(p.exam_id),
            problems::id.eq(&id),
            problems::script_id.eq(p.script_id),
            problems::question_id.eq(p.question_id),
            problems::serve_id.eq(p.serve_id),
            problems::kind.eq(p.kind),
            problems::note.eq(p.note),
            problems::flagged_by.eq(p.flagged_by),
            problems::status.eq(if p.resolved { "resolved" } else { "open" }),
            problems::resolution.eq(p.resolved.then_some("treated")),
            problems::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

pub fn problem(conn: &mut DbConn, id: &str) -> Result<ProblemRow, DbError> {
    Ok(problems::table
        .filter(problems::id.eq(id))
        .select(ProblemRow::as_select())
        .first(conn)?)
}

pub fn open_problems(conn: &mut DbConn, exam_id: &str, question_ids: &[String]) -> Result<Vec<ProblemRow>, DbError> {
    Ok(problems::table
        .filter(problems::exam_id.eq(exam_id))
        .filter(problems::status.eq("open"))
        .filter(problems::question_id.eq_any(question_ids))
        .order(problems::created_at)
        .select(ProblemRow::as_select())
        .load(conn)?)
}

/// Settles an open problem; false when it was settled meanwhile.
pub fn settle_problem(
    conn: &mut DbConn,
    p: &ProblemRow,
    resolution: &str,
    by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        problems::table
            .find((&p.exam_id, &p.id))
            .filter(problems::status.eq("open")),
    )
    .set((
        problems::status.eq("resolved"),
        problems::resolution.eq(Some(resolution)),
        problems::resolved_by.eq(Some(by)),
        problems::reason.eq(Some(reason)),
        problems::resolved_at.eq(Some(db_time(now))),
    ))
    .execute(conn)?;
    Ok(n == 1)
}
