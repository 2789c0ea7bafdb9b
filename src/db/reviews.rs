//! Marker reviews: opened when a trigger (or a leader) pauses a marker, closed by a decision.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{marker_reviews, markers, users};
use super::{DbConn, DbError};

#[derive(Debug, Clone, Queryable)]
pub struct ReviewRow {
    pub exam_id: String,
    pub id: String,
    pub marker_id: String,
    pub kind: String,
    pub evidence: String,
    pub status: String,
    pub opened_at: NaiveDateTime,
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
}

type Columns = (
    marker_reviews::exam_id,
    marker_reviews::id,
    marker_reviews::marker_id,
    marker_reviews::kind,
    marker_reviews::evidence,
    marker_reviews::status,
    marker_reviews::opened_at,
    marker_reviews::decision,
    marker_reviews::decided_by,
    marker_reviews::decided_at,
);

const COLUMNS: Columns = (
    marker_reviews::exam_id,
    marker_reviews::id,
    marker_reviews::marker_id,
    marker_reviews::kind,
    marker_reviews::evidence,
    marker_reviews::status,
    marker_reviews::opened_at,
    marker_reviews::decision,
    marker_reviews::decided_by,
    marker_reviews::decided_at,
);

/// A review with the marker's full name, for the leaders' list.
pub type Listed = (ReviewRow, String);

/// The exam's reviews, oldest first; only those of `status` when given.
pub fn of_exam(conn: &mut DbConn, exam_id: &str, status: Option<&str>) -> Result<Vec<Listed>, DbError> {
    let mut q = marker_reviews::table
        .inner_join(markers::table.on(markers::id.eq(marker_reviews::marker_id)))
        .inner_join(users::table.on(users::id.eq(markers::user_id)))
        .filter(marker_reviews::exam_id.eq(exam_id))
        .select((COLUMNS, users::full_name))
        .order((marker_reviews::opened_at, marker_reviews::id))
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(marker_reviews::status.eq(s.to_string()));
    }
    Ok(q.load(conn)?)
}

/// One review by id.
pub fn find(conn: &mut DbConn, id: &str) -> Result<ReviewRow, DbError> {
    Ok(marker_reviews::table
        .filter(marker_reviews::id.eq(id))
        .select(COLUMNS)
        .first(conn)?)
}

/// One review by id, locked for the rest of the transaction on PostgreSQL so that two
/// decisions on it take turns.
pub fn find_locked(conn: &mut DbConn, id: &str) -> Result<ReviewRow, DbError> {
    let q = marker_reviews::table.filter(marker_reviews::id.eq(id)).select(COLUMNS);
    Ok(match conn {
        DbConn::Pg(c) => q.for_update().first(c)?,
        DbConn::Sqlite(c) => q.first(c)?,
    })
}
