//! An exam's results as a whole: what stands between it and its lock, the lock and release
//! flags (which the database moves only on an approved request), and amendments after release.

use crate::db::lit;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{
    absences, amendments, backreads, candidates, disputes, exams, finals, marker_reviews, problems, scripts, sheets,
    tasks,
};
use super::{DbConn, DbError, db_time};

/// Per question id: (unresolved scripts, open tasks, disputes, back-reads, problem scripts).
pub type OpenCounts = BTreeMap<String, [u64; 5]>;

fn count_by_question(rows: Vec<(String, i64)>, slot: usize, into: &mut OpenCounts) {
    for (q, n) in rows {
        into.entry(q).or_default()[slot] = u64::try_from(n).unwrap_or(0);
    }
}

/// What is still open, per question, and the marker reviews open.
pub fn open_counts(conn: &mut DbConn, exam_id: &str) -> Result<(OpenCounts, u64), DbError> {
    use diesel::dsl::count_star;
    let mut out = OpenCounts::new();
    let unresolved = scripts::table
        .inner_join(
            sheets::table.on(sheets::exam_id
                .eq(scripts::exam_id)
                .and(sheets::id.eq(scripts::sheet_id))),
        )
        .filter(scripts::exam_id.eq(exam_id))
        .filter(sheets::status.eq(lit("active")))
        .filter(scripts::state.ne("resolved"))
        .filter(scripts::state.ne("void"))
        .group_by(scripts::question_id)
        .select((scripts::question_id, count_star()))
        .load(conn)?;
    count_by_question(unresolved, 0, &mut out);
    let open_tasks = tasks::table
        .filter(tasks::exam_id.eq(exam_id))
        .filter(tasks::state.eq_any(["open", "leased"]))
        .group_by(tasks::question_id)
        .select((tasks::question_id, count_star()))
        .load(conn)?;
    count_by_question(open_tasks, 1, &mut out);
    let open_disputes = disputes::table
        .filter(disputes::exam_id.eq(exam_id))
        .filter(disputes::status.eq(lit("open")))
        .group_by(disputes::question_id)
        .select((disputes::question_id, count_star()))
        .load(conn)?;
    count_by_question(open_disputes, 2, &mut out);
    let open_backreads = backreads::table
        .filter(backreads::exam_id.eq(exam_id))
        .filter(backreads::status.eq("open"))
        .group_by(backreads::question_id)
        .select((backreads::question_id, count_star()))
        .load(conn)?;
    count_by_question(open_backreads, 3, &mut out);
    let open_problems = problems::table
        .filter(problems::exam_id.eq(exam_id))
        .filter(problems::status.eq("open"))
        .group_by(problems::question_id)
        .select((problems::question_id, count_star()))
        .load(conn)?;
    count_by_question(open_problems, 4, &mut out);
    let reviews: i64 = marker_reviews::table
        .filter(marker_reviews::exam_id.eq(exam_id))
        .filter(marker_reviews::status.eq("open"))
        .count()
        .get_result(conn)?;
    Ok((out, u64::try_from(reviews).unwrap_or(0)))
}

/// A candidate not accounted for: (candidate id, sealed admission number, sealed name, the
/// question ids with neither a resolved script nor an absence).
pub type Unaccounted = (String, String, String, Vec<String>);

/// Every candidate lacking, for some question, both a resolved script and an absence.
/// `sheet_of` gives the keyed lookup a candidate's sheet carries (the vault computes it).
pub fn unaccounted(
    conn: &mut DbConn,
    exam_id: &str,
    question_ids: &[String],
    sheet_of: impl Fn(&str) -> String,
) -> Result<Vec<Unaccounted>, DbError> {
    let people: Vec<(String, String, String)> = candidates::table
        .filter(candidates::exam_id.eq(exam_id))
        .order(candidates::lookup)
        .select((candidates::id, candidates::admission_sealed, candidates::name_sealed))
        .load(conn)?;
    let resolved: HashSet<(String, String)> = scripts::table
        .inner_join(
            sheets::table.on(sheets::exam_id
                .eq(scripts::exam_id)
                .and(sheets::id.eq(scripts::sheet_id))),
        )
        .filter(scripts::exam_id.eq(exam_id))
        .filter(sheets::status.eq(lit("active")))
        .filter(scripts::state.eq("resolved"))
        .select((sheets::candidate_lookup, scripts::question_id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut absent: HashMap<String, Vec<String>> = HashMap::new();
    for (candidate, question) in absences::table
        .filter(absences::exam_id.eq(exam_id))
        .select((absences::candidate_id, absences::question_id))
        .load::<(String, String)>(conn)?
    {
        absent.entry(candidate).or_default().push(question);
    }
    let mut out = Vec::new();
    for (id, admission, name) in people {
        let lookup = sheet_of(&id);
        let away = absent.get(&id);
        let whole = away.is_some_and(|a| a.iter().any(String::is_empty));
        let missing: Vec<String> = question_ids
            .iter()
            .filter(|q| !whole && !away.is_some_and(|a| a.contains(q)))
            .filter(|q| !resolved.contains(&(lookup.clone(), (*q).clone())))
            .cloned()
            .collect();
        if !missing.is_empty() {
            out.push((id, admission, name, missing));
        }
    }
    Ok(out)
}

/// Moves the lock flag on an approved `lock` or `unlock` request (the database checks it).
pub fn set_locked(
    conn: &mut DbConn,
    exam_id: &str,
    locked: bool,
    approval_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(exams::table.find(exam_id))
        .set((
            exams::locked.eq(locked),
            exams::lock_approval_id.eq(Some(approval_id)),
            exams::locked_at.eq(locked.then(|| db_time(now))),
        ))
        .execute(conn)?;
    Ok(())
}

/// Releases the results on an approved `release` request (the database checks it).
pub fn set_released(conn: &mut DbConn, exam_id: &str, approval_id: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(exams::table.find(exam_id))
        .set((
            exams::released.eq(true),
            exams::release_approval_id.eq(Some(approval_id)),
            exams::released_at.eq(Some(db_time(now))),
        ))
        .execute(conn)?;
    Ok(())
}

pub struct NewAmendment<'a> {
    pub exam_id: &'a str,
    pub script_id: &'a str,
    pub question_id: &'a str,
    pub old_score: i64,
    pub score: i64,
    pub reason: &'a str,
    pub approval_id: &'a str,
}

pub fn amend(conn: &mut DbConn, a: &NewAmendment<'_>, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(amendments::table)
        .values((
            amendments::exam_id.eq(a.exam_id),
            amendments::id.eq(&id),
            amendments::script_id.eq(a.script_id),
            amendments::question_id.eq(a.question_id),
            amendments::old_score.eq(a.old_score),
            amendments::score.eq(a.score),
            amendments::reason.eq(a.reason),
            amendments::approval_id.eq(a.approval_id),
            amendments::amended_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A script's current final: its last amendment, else its final; with how it was reached.
pub fn current_final(conn: &mut DbConn, exam_id: &str, script_id: &str) -> Result<Option<(i64, String)>, DbError> {
    let last: Option<i64> = amendments::table
        .filter(amendments::exam_id.eq(exam_id))
        .filter(amendments::script_id.eq(script_id))
        .order((amendments::amended_at.desc(), amendments::id.desc()))
        .select(amendments::score)
        .first(conn)
        .optional()?;
    if let Some(s) = last {
        return Ok(Some((s, "amendment".into())));
    }
    Ok(finals::table
        .find((exam_id, script_id))
        .select((finals::score, finals::method))
        .first(conn)
        .optional()?)
}

/// The active script for a question on the sheet with this candidate lookup.
pub fn script_of(conn: &mut DbConn, exam_id: &str, lookup: &str, question_id: &str) -> Result<Option<String>, DbError> {
    Ok(scripts::table
        .inner_join(
            sheets::table.on(sheets::exam_id
                .eq(scripts::exam_id)
                .and(sheets::id.eq(scripts::sheet_id))),
        )
        .filter(scripts::exam_id.eq(exam_id))
        .filter(sheets::status.eq(lit("active")))
        .filter(sheets::candidate_lookup.eq(lookup))
        .filter(scripts::question_id.eq(question_id))
        .select(scripts::id)
        .first(conn)
        .optional()?)
}

/// When the exam was locked and released.
pub fn stamps(conn: &mut DbConn, exam_id: &str) -> Result<(Option<NaiveDateTime>, Option<NaiveDateTime>), DbError> {
    Ok(exams::table
        .find(exam_id)
        .select((exams::locked_at, exams::released_at))
        .first(conn)?)
}
