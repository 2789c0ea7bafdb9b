//! Sanctions and marker reviews in the archive (R10): discipline entries with the two people
//! behind them, and how each review ended.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{discipline_entries, marker_reviews};
use super::{DbConn, DbError, db_time};

pub struct NewEntry<'a> {
    pub exam_id: &'a str,
    pub marker_id: &'a str,
    /// `suspended` or `dismissed`.
    pub kind: &'a str,
    pub reason: &'a str,
    pub approval_id: &'a str,
    pub requested_by: &'a str,
    pub decided_by: &'a str,
}

pub fn record(conn: &mut DbConn, e: &NewEntry<'_>, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(discipline_entries::table)
        .values((
            discipline_entries::exam_id.eq(e.exam_id),
            discipline_entries::id.eq(&id),
            discipline_entries::marker_id.eq(e.marker_id),
            discipline_entries::kind.eq(e.kind),
            discipline_entries::reason.eq(e.reason),
            discipline_entries::approval_id.eq(e.approval_id),
            discipline_entries::requested_by.eq(e.requested_by),
            discipline_entries::decided_by.eq(e.decided_by),
            discipline_entries::recorded_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A discipline entry as listed: (kind, reason, requested by, decided by, at).
pub type EntryRow = (String, String, String, String, NaiveDateTime);

pub fn of_marker(conn: &mut DbConn, exam_id: &str, marker_id: &str) -> Result<Vec<EntryRow>, DbError> {
    Ok(discipline_entries::table
        .filter(discipline_entries::exam_id.eq(exam_id))
        .filter(discipline_entries::marker_id.eq(marker_id))
        .order(discipline_entries::recorded_at)
        .select((
            discipline_entries::kind,
            discipline_entries::reason,
            discipline_entries::requested_by,
            discipline_entries::decided_by,
            discipline_entries::recorded_at,
        ))
        .load(conn)?)
}

/// Closes the marker's open reviews in the exam with a decision; returns how many.
pub fn decide_open_reviews(
    conn: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    decision: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        marker_reviews::table
            .filter(marker_reviews::exam_id.eq(exam_id))
            .filter(marker_reviews::marker_id.eq(marker_id))
            .filter(marker_reviews::status.eq("open")),
    )
    .set((
        marker_reviews::status.eq("decided"),
        marker_reviews::decision.eq(Some(decision)),
        marker_reviews::decided_by.eq(Some(by)),
        marker_reviews::decided_at.eq(Some(db_time(now))),
    ))
    .execute(conn)?)
}

/// A review as listed: (kind, evidence JSON, status, opened at, decision, decided by).
pub type ReviewRow = (String, String, String, NaiveDateTime, Option<String>, Option<String>);

pub fn reviews_of(conn: &mut DbConn, exam_id: &str, marker_id: &str) -> Result<Vec<ReviewRow>, DbError> {
    Ok(marker_reviews::table
        .filter(marker_reviews::exam_id.eq(exam_id))
        .filter(marker_reviews::marker_id.eq(marker_id))
        .order(marker_reviews::opened_at)
        .select((
            marker_reviews::kind,
            marker_reviews::evidence,
            marker_reviews::status,
            marker_reviews::opened_at,
            marker_reviews::decision,
            marker_reviews::decided_by,
        ))
        .load(conn)?)
}
