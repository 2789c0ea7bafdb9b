//! What the printed marking report reads at once: every final of an exam (amendments laid
//! over them), every dispute however it ended, and the back-reads done.

use std::collections::HashMap;

use diesel::prelude::*;

use super::results::DisputeRow;
use super::schema::{amendments, backreads, disputes, finals};
use super::{DbConn, DbError};

/// One script's current final: (script id, question id, score in hundredths, how reached);
/// a script amended after release counts with its last amendment, method `amendment`.
pub fn current_finals(conn: &mut DbConn, exam_id: &str) -> Result<Vec<(String, String, i64, String)>, DbError> {
    let rows: Vec<(String, String, i64, String)> = finals::table
        .filter(finals::exam_id.eq(exam_id))
        .order((finals::question_id, finals::script_id))
        .select((finals::script_id, finals::question_id, finals::score, finals::method))
        .load(conn)?;
    let amended: Vec<(String, i64)> = amendments::table
        .filter(amendments::exam_id.eq(exam_id))
        .order((amendments::amended_at, amendments::id))
        .select((amendments::script_id, amendments::score))
        .load(conn)?;
    // Oldest first, so the last amendment of a script is the one left in the map.
    let last: HashMap<String, i64> = amended.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(|(script, question, score, method)| match last.get(&script) {
            Some(s) => (script, question, *s, "amendment".to_string()),
            None => (script, question, score, method),
        })
        .collect())
}

/// Every dispute of the exam, open, resolved or lapsed, in the order they were opened.
pub fn disputes_of_exam(conn: &mut DbConn, exam_id: &str) -> Result<Vec<DisputeRow>, DbError> {
    Ok(disputes::table
        .filter(disputes::exam_id.eq(exam_id))
        .order((disputes::opened_at, disputes::id))
        .select(DisputeRow::as_select())
        .load(conn)?)
}

/// Question ids of the back-reads done (one entry per back-read).
pub fn backreads_done(conn: &mut DbConn, exam_id: &str) -> Result<Vec<String>, DbError> {
    Ok(backreads::table
        .filter(backreads::exam_id.eq(exam_id))
        .filter(backreads::status.eq("done"))
        .select(backreads::question_id)
        .load(conn)?)
}
