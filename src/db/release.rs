//! Released results as admissions read them: candidates in a stable keyed order, each with
//! their scripts' current finals (an amendment's score over the final), absences and
//! amendments.

use crate::db::lit;
use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{absences, amendments, candidates, finals, scripts, sheets};
use super::{DbConn, DbError};

/// A candidate as stored: (id, lookup, sealed admission number, sealed name, school code).
pub type CandidateRow = (String, String, String, String, String);

/// Candidates in lookup order after `after` (a lookup), at most `limit`.
pub fn candidates_after(
    conn: &mut DbConn,
    exam_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<CandidateRow>, DbError> {
    let mut q = candidates::table
        .filter(candidates::exam_id.eq(exam_id))
        .order(candidates::lookup)
        .select((
            candidates::id,
            candidates::lookup,
            candidates::admission_sealed,
            candidates::name_sealed,
            candidates::school_code,
        ))
        .limit(limit)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(candidates::lookup.gt(a.to_string()));
    }
    Ok(q.load(conn)?)
}

/// The candidate with this lookup.
pub fn candidate_by_lookup(conn: &mut DbConn, exam_id: &str, lookup: &str) -> Result<Option<CandidateRow>, DbError> {
    Ok(candidates::table
        .filter(candidates::exam_id.eq(exam_id))
        .filter(candidates::lookup.eq(lookup))
        .select((
            candidates::id,
            candidates::lookup,
            candidates::admission_sealed,
            candidates::name_sealed,
            candidates::school_code,
        ))
        .first(conn)
        .optional()?)
}

/// One script's standing: (question id, final score, method), the final being the last
/// amendment's when amended.
pub type Scored = (String, i64, String);

/// An amendment as a result shows it: (script's sheet lookup, at, reason).
pub type AmendmentRow = (String, NaiveDateTime, String);

/// Per sheet lookup its scored scripts, and every amendment of those sheets, oldest first.
pub type SheetScores = (HashMap<String, Vec<Scored>>, Vec<AmendmentRow>);

/// For sheets with these lookups: their scored scripts, and every amendment, oldest first.
pub fn scores_of_sheets(conn: &mut DbConn, exam_id: &str, sheet_lookups: &[String]) -> Result<SheetScores, DbError> {
    let rows: Vec<(String, String, String, i64, String)> = scripts::table
        .inner_join(
            sheets::table.on(sheets::exam_id
                .eq(scripts::exam_id)
                .and(sheets::id.eq(scripts::sheet_id))),
        )
        .inner_join(
            finals::table.on(finals::exam_id
                .eq(scripts::exam_id)
                .and(finals::script_id.eq(scripts::id))),
        )
        .filter(scripts::exam_id.eq(exam_id))
        .filter(sheets::status.eq(lit("active")))
        .filter(sheets::candidate_lookup.eq_any(sheet_lookups))
        .select((
            sheets::candidate_lookup,
            scripts::id,
            scripts::question_id,
            finals::score,
            finals::method,
        ))
        .load(conn)?;
    let amended: Vec<(String, String, i64, NaiveDateTime, String)> = amendments::table
        .inner_join(
            scripts::table.on(scripts::exam_id
                .eq(amendments::exam_id)
                .and(scripts::id.eq(amendments::script_id))),
        )
        .inner_join(
            sheets::table.on(sheets::exam_id
                .eq(scripts::exam_id)
                .and(sheets::id.eq(scripts::sheet_id))),
        )
        .filter(amendments::exam_id.eq(exam_id))
        .filter(sheets::candidate_lookup.eq_any(sheet_lookups))
        .order((amendments::amended_at, amendments::id))
        .select((
            sheets::candidate_lookup,
            amendments::script_id,
            amendments::score,
            amendments::amended_at,
            amendments::reason,
        ))
        .load(conn)?;
    let mut latest: HashMap<String, i64> = HashMap::new();
    for (_, script, score, _, _) in &amended {
        latest.insert(script.clone(), *score);
    }
    let mut by_sheet: HashMap<String, Vec<Scored>> = HashMap::new();
    for (sheet, script, question, score, method) in rows {
        let scored = match latest.get(&script) {
            Some(s) => (question, *s, "amendment".to_string()),
            None => (question, score, method),
        };
        by_sheet.entry(sheet).or_default().push(scored);
    }
    let history = amended
        .into_iter()
        .map(|(sheet, _, _, at, why)| (sheet, at, why))
        .collect();
    Ok((by_sheet, history))
}

/// Absences of these candidates: candidate id → question ids ('' for the whole exam).
pub fn absences_of(
    conn: &mut DbConn,
    exam_id: &str,
    candidate_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, DbError> {
    let rows: Vec<(String, String)> = absences::table
        .filter(absences::exam_id.eq(exam_id))
        .filter(absences::candidate_id.eq_any(candidate_ids))
        .select((absences::candidate_id, absences::question_id))
        .load(conn)?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (c, q) in rows {
        out.entry(c).or_default().push(q);
    }
    Ok(out)
}

/// The sheet lookups with an amendment at or after `since`.
pub fn amended_since(conn: &mut DbConn, exam_id: &str, since: NaiveDateTime) -> Result<Vec<String>, DbError> {
    Ok(amendments::table
        .inner_join(
            scripts::table.on(scripts::exam_id
                .eq(amendments::exam_id)
                .and(scripts::id.eq(amendments::script_id))),
        )
        .inner_join(
            sheets::table.on(sheets::exam_id
                .eq(scripts::exam_id)
                .and(sheets::id.eq(scripts::sheet_id))),
        )
        .filter(amendments::exam_id.eq(exam_id))
        .filter(amendments::amended_at.ge(since))
        .select(sheets::candidate_lookup)
        .distinct()
        .load(conn)?)
}
