//! Answer sheets and the anonymous scripts cut from them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{scripts, sheets};
use super::{DbConn, DbError};
use crate::domain::custody::ReleaseBlockers;

/// What keeps a batch from marking: how many active sheets, how many still unconfirmed, how
/// many scripts need treatment.
pub fn release_blockers(conn: &mut DbConn, exam_id: &str, batch_id: &str) -> Result<ReleaseBlockers, DbError> {
    let active = sheets::table
        .filter(sheets::exam_id.eq(exam_id))
        .filter(sheets::batch_id.eq(batch_id))
        .filter(sheets::status.eq("active"));
    let total: i64 = active.count().get_result(conn)?;
    let unconfirmed: i64 = active
        .filter(sheets::entry.eq("typed"))
        .filter(sheets::confirmed_by.is_null())
        .count()
        .get_result(conn)?;
    let needing: i64 = scripts::table
        .inner_join(
            sheets::table.on(sheets::exam_id
                .eq(scripts::exam_id)
                .and(sheets::id.eq(scripts::sheet_id))),
        )
        .filter(sheets::exam_id.eq(exam_id))
        .filter(sheets::batch_id.eq(batch_id))
        .filter(sheets::status.eq("active"))
        .filter(scripts::state.eq("needs_treatment"))
        .count()
        .get_result(conn)?;
    let n = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);
    Ok(ReleaseBlockers {
        sheets: n(total),
        unconfirmed_sheets: n(unconfirmed),
        needing_treatment: n(needing),
    })
}

/// The batch's held scripts go to marking.
pub fn release_held(conn: &mut DbConn, exam_id: &str, batch_id: &str, _now: DateTime<Utc>) -> Result<usize, DbError> {
    let in_batch = sheets::table
        .filter(sheets::exam_id.eq(exam_id))
        .filter(sheets::batch_id.eq(batch_id))
        .filter(sheets::status.eq("active"))
        .select(sheets::id);
    Ok(diesel::update(
        scripts::table
            .filter(scripts::exam_id.eq(exam_id))
            .filter(scripts::state.eq("held"))
            .filter(scripts::sheet_id.eq_any(in_batch)),
    )
    .set(scripts::state.eq("awaiting"))
    .execute(conn)?)
}

/// Active sheets of a batch (for the batch view).
pub fn sheet_count(conn: &mut DbConn, exam_id: &str, batch_id: &str) -> Result<i64, DbError> {
    Ok(sheets::table
        .filter(sheets::exam_id.eq(exam_id))
        .filter(sheets::batch_id.eq(batch_id))
        .filter(sheets::status.eq("active"))
        .count()
        .get_result(conn)?)
}
