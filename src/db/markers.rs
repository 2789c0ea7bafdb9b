//! The marker archive: records across exams, and each marker's standing per exam with its history.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{
    candidates, certifications, marker_exams, marker_questions, marker_reviews, marker_status_history, markers,
    relatives, trainings,
};
use super::{DbConn, DbError, db_time};
use crate::domain::marker_status::MarkerStatus;

/// A marker's archive record, as read and as written.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = markers)]
pub struct MarkerRow {
    pub id: String,
    pub user_id: String,
    pub birth_date: NaiveDate,
    pub school_code: String,
    pub subject: String,
    pub years_teaching: i32,
    pub recommended_by: Option<String>,
    pub recommending_school: Option<String>,
    pub recommended_on: Option<NaiveDate>,
    pub health_attested: bool,
    pub conduct_attested: bool,
    pub created_at: NaiveDateTime,
    pub created_by: String,
}

pub fn insert(conn: &mut DbConn, m: &MarkerRow) -> Result<(), DbError> {
    diesel::insert_into(markers::table).values(m.clone()).execute(conn)?;
    Ok(())
}

/// Writes back the record's changeable fields.
pub fn update(conn: &mut DbConn, m: &MarkerRow) -> Result<(), DbError> {
    diesel::update(markers::table.find(&m.id))
        .set((
            markers::school_code.eq(&m.school_code),
            markers::subject.eq(&m.subject),
            markers::years_teaching.eq(m.years_teaching),
            markers::recommended_by.eq(&m.recommended_by),
            markers::recommending_school.eq(&m.recommending_school),
            markers::recommended_on.eq(m.recommended_on),
            markers::health_attested.eq(m.health_attested),
            markers::conduct_attested.eq(m.conduct_attested),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<MarkerRow, DbError> {
    Ok(markers::table.find(id).select(MarkerRow::as_select()).first(conn)?)
}

pub fn by_user(conn: &mut DbConn, user_id: &str) -> Result<Option<MarkerRow>, DbError> {
    Ok(markers::table
        .filter(markers::user_id.eq(user_id))
        .select(MarkerRow::as_select())
        .first(conn)
        .optional()?)
}

/// The user's marker record, its row locked for the rest of the transaction on PostgreSQL
/// (as `lock` does; one statement where two would read it, then lock it).
pub fn by_user_locked(conn: &mut DbConn, user_id: &str) -> Result<Option<MarkerRow>, DbError> {
    let q = markers::table.filter(markers::user_id.eq(user_id));
    Ok(match conn {
        DbConn::Pg(c) => q.select(MarkerRow::as_select()).for_update().first(c).optional()?,
        DbConn::Sqlite(c) => q.select(MarkerRow::as_select()).first(c).optional()?,
    })
}

/// The marker's status for the exam (`Applied` before anything was recorded).
pub fn status(conn: &mut DbConn, exam_id: &str, marker_id: &str) -> Result<MarkerStatus, DbError> {
    let s: Option<String> = marker_exams::table
        .find((exam_id, marker_id))
        .select(marker_exams::status)
        .first(conn)
        .optional()?;
    parse_status(marker_id, s)
}

/// A marker's status in an exam as stored; none stored is `Applied`.
pub fn parse_status(marker_id: &str, s: Option<String>) -> Result<MarkerStatus, DbError> {
    match s {
        None => Ok(MarkerStatus::Applied),
        Some(s) => MarkerStatus::parse(&s).ok_or_else(|| DbError::Corrupt(format!("marker {marker_id} status {s}"))),
    }
}

/// The eligibility reasons in force (JSON array; `[]` before anything was recorded).
pub fn reasons(conn: &mut DbConn, exam_id: &str, marker_id: &str) -> Result<String, DbError> {
    Ok(marker_exams::table
        .find((exam_id, marker_id))
        .select(marker_exams::reasons)
        .first(conn)
        .optional()?
        .unwrap_or_else(|| "[]".into()))
}

pub struct Change<'a> {
    pub exam_id: &'a str,
    pub marker_id: &'a str,
    pub from: MarkerStatus,
    pub to: MarkerStatus,
    pub by: Option<&'a str>,
    pub reason: &'a str,
    /// The eligibility reasons in force (JSON array).
    pub reasons: &'a str,
}

/// Records a status (and its reasons) with who, when and why; the history keeps every change
/// of standing and every change of the reasons. The write holds only if the standing is still
/// `from` (otherwise another request changed it meanwhile: `Stale`). A standing that bars work
/// ends the marker's tokens and image links at once.
pub fn set_status(conn: &mut DbConn, c: &Change<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    let before: Option<(String, String)> = marker_exams::table
        .find((c.exam_id, c.marker_id))
        .select((marker_exams::status, marker_exams::reasons))
        .first(conn)
        .optional()?;
    match &before {
        Some(_) => {
            let updated = diesel::update(
                marker_exams::table
                    .find((c.exam_id, c.marker_id))
                    .filter(marker_exams::status.eq(c.from.as_str())),
            )
            .set((
                marker_exams::status.eq(c.to.as_str()),
                marker_exams::reasons.eq(c.reasons),
                marker_exams::updated_at.eq(db_time(now)),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(DbError::Stale("the marker's standing".into()));
            }
        }
        None => {
            diesel::insert_into(marker_exams::table)
                .values((
                    marker_exams::exam_id.eq(c.exam_id),
                    marker_exams::marker_id.eq(c.marker_id),
                    marker_exams::status.eq(c.to.as_str()),
                    marker_exams::reasons.eq(c.reasons),
                    marker_exams::updated_at.eq(db_time(now)),
                ))
                .execute(conn)
                .map_err(|e| match DbError::from(e) {
                    DbError::Duplicate(_) => DbError::Stale("the marker's standing".into()),
                    other => other,
                })?;
        }
    }
    let changed = before
        .as_ref()
        .is_none_or(|(status, reasons)| status != c.to.as_str() || reasons != c.reasons);
    if changed {
        // Changes in one transaction share a time; their order is their number (unique, so
        // two writers racing for the same number cannot both commit).
        let n: i64 = marker_status_history::table
            .filter(marker_status_history::exam_id.eq(c.exam_id))
            .filter(marker_status_history::marker_id.eq(c.marker_id))
            .count()
            .get_result(conn)?;
        diesel::insert_into(marker_status_history::table)
            .values((
                marker_status_history::exam_id.eq(c.exam_id),
                marker_status_history::id.eq(super::new_id()),
                marker_status_history::marker_id.eq(c.marker_id),
                marker_status_history::n.eq(i32::try_from(n + 1).unwrap_or(i32::MAX)),
                marker_status_history::from_status.eq(Some(c.from.as_str())),
                marker_status_history::to_status.eq(c.to.as_str()),
                marker_status_history::changed_by.eq(c.by),
                marker_status_history::reason.eq(c.reason),
                marker_status_history::changed_at.eq(db_time(now)),
            ))
            .execute(conn)
            .map_err(|e| match DbError::from(e) {
                DbError::Duplicate(_) => DbError::Stale("the marker's standing".into()),
                other => other,
            })?;
    }
    if c.from != c.to && c.to.bars_work() {
        let user: String = markers::table.find(c.marker_id).select(markers::user_id).first(conn)?;
        super::users::bump_token_version(conn, &user)?;
        super::scripts::revoke_holder_tokens(conn, c.exam_id, &user)?;
        super::marking::end_marker_serves(conn, c.exam_id, c.marker_id, now)?;
    }
    Ok(())
}

/// Locks the marker's record for the rest of the transaction on PostgreSQL, so that one
/// marker's requests take turns (SQLite has one writer already).
pub fn lock(conn: &mut DbConn, marker_id: &str) -> Result<(), DbError> {
    if let DbConn::Pg(c) = conn {
        markers::table
            .find(marker_id)
            .select(markers::id)
            .for_update()
            .first::<String>(c)?;
    }
    Ok(())
}

/// How many of the user's declared relatives are in the exam's candidate list.
pub fn relatives_sitting(conn: &mut DbConn, exam_id: &str, user_id: &str) -> Result<usize, DbError> {
    let n: i64 = relatives::table
        .inner_join(
            candidates::table.on(candidates::exam_id
                .eq(relatives::exam_id)
                .and(candidates::lookup.eq(relatives::lookup))),
        )
        .filter(relatives::exam_id.eq(exam_id))
        .filter(relatives::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The keyed hashes of the user's declared relatives in the exam.
pub fn relative_lookups(conn: &mut DbConn, exam_id: &str, user_id: &str) -> Result<Vec<String>, DbError> {
    Ok(relatives::table
        .filter(relatives::exam_id.eq(exam_id))
        .filter(relatives::user_id.eq(user_id))
        .select(relatives::lookup)
        .load(conn)?)
}

/// Exams in which the marker is active: (exam id), in order.
pub fn active_exams(conn: &mut DbConn, marker_id: &str) -> Result<Vec<String>, DbError> {
    let rows: Vec<ExamId> =
        super::kept::Kept(diesel::sql_query(ACTIVE_EXAMS).bind::<diesel::sql_types::Text, _>(marker_id)).load(conn)?;
    Ok(rows.into_iter().map(|r| r.exam_id).collect())
}

/// `marker_exams` is keyed by (exam, marker), with no index by marker alone (every key of a
/// distributed table leads with its exam): asked by marker, it was read whole, a thousand rows
/// a lease with a thousand markers. Through the exams (a handful) each is one probe of its key;
/// CROSS JOIN keeps SQLite to that order, as `db::standing` does.
const ACTIVE_EXAMS: &str = "\
SELECT me.exam_id AS exam_id FROM exams e CROSS JOIN marker_exams me
WHERE me.exam_id = e.id AND me.marker_id = $1 AND me.status = 'active' ORDER BY me.exam_id";

#[derive(QueryableByName)]
struct ExamId {
    #[diesel(sql_type = diesel::sql_types::Text)]
    exam_id: String,
}

/// Declares a relative (by keyed hash); declaring one twice changes nothing.
pub fn declare_relative(
    conn: &mut DbConn,
    exam_id: &str,
    user_id: &str,
    lookup: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let exists: i64 = relatives::table
        .find((exam_id, user_id, lookup))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        diesel::insert_into(relatives::table)
            .values((
                relatives::exam_id.eq(exam_id),
                relatives::user_id.eq(user_id),
                relatives::lookup.eq(lookup),
                relatives::declared_at.eq(db_time(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Users with a relative declared for the exam (to re-evaluate when the candidate list changes).
pub fn users_with_relatives(conn: &mut DbConn, exam_id: &str) -> Result<Vec<String>, DbError> {
    let mut users: Vec<String> = relatives::table
        .filter(relatives::exam_id.eq(exam_id))
        .select(relatives::user_id)
        .load(conn)?;
    users.sort();
    users.dedup();
    Ok(users)
}

pub fn open_review(
    conn: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    kind: &str,
    evidence: &str,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(marker_reviews::table)
        .values((
            marker_reviews::exam_id.eq(exam_id),
            marker_reviews::id.eq(&id),
            marker_reviews::marker_id.eq(marker_id),
            marker_reviews::kind.eq(kind),
            marker_reviews::evidence.eq(evidence),
            marker_reviews::status.eq("open"),
            marker_reviews::opened_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

pub struct Training<'a> {
    pub exam_id: &'a str,
    pub marker_id: &'a str,
    pub question_id: &'a str,
    pub course: &'a str,
    pub trained_on: NaiveDate,
    pub trainer: &'a str,
    pub recorded_by: &'a str,
}

pub fn record_training(conn: &mut DbConn, t: &Training<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::insert_into(trainings::table)
        .values((
            trainings::exam_id.eq(t.exam_id),
            trainings::marker_id.eq(t.marker_id),
            trainings::question_id.eq(t.question_id),
            trainings::course.eq(t.course),
            trainings::trained_on.eq(t.trained_on),
            trainings::trainer.eq(t.trainer),
            trainings::recorded_by.eq(t.recorded_by),
            trainings::recorded_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn assign_question(conn: &mut DbConn, exam_id: &str, marker_id: &str, question_id: &str) -> Result<(), DbError> {
    let exists: i64 = marker_questions::table
        .find((exam_id, marker_id, question_id))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        diesel::insert_into(marker_questions::table)
            .values((
                marker_questions::exam_id.eq(exam_id),
                marker_questions::marker_id.eq(marker_id),
                marker_questions::question_id.eq(question_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The markers with a standing in the exam: (record, status, since).
pub fn of_exam(conn: &mut DbConn, exam_id: &str) -> Result<Vec<(MarkerRow, String, NaiveDateTime)>, DbError> {
    Ok(marker_exams::table
        .inner_join(markers::table)
        .filter(marker_exams::exam_id.eq(exam_id))
        .select((MarkerRow::as_select(), marker_exams::status, marker_exams::updated_at))
        .load(conn)?)
}

/// Per exam: (exam id, status, reasons JSON).
pub fn standings(conn: &mut DbConn, marker_id: &str) -> Result<Vec<(String, String, String)>, DbError> {
    Ok(marker_exams::table
        .filter(marker_exams::marker_id.eq(marker_id))
        .select((marker_exams::exam_id, marker_exams::status, marker_exams::reasons))
        .load(conn)?)
}

/// One change of standing: (from, to, by, reason, at).
pub type HistoryRow = (Option<String>, String, Option<String>, String, NaiveDateTime);

/// The history of one exam, oldest first.
pub fn history(conn: &mut DbConn, exam_id: &str, marker_id: &str) -> Result<Vec<HistoryRow>, DbError> {
    Ok(marker_status_history::table
        .filter(marker_status_history::exam_id.eq(exam_id))
        .filter(marker_status_history::marker_id.eq(marker_id))
        .order(marker_status_history::n)
        .select((
            marker_status_history::from_status,
            marker_status_history::to_status,
            marker_status_history::changed_by,
            marker_status_history::reason,
            marker_status_history::changed_at,
        ))
        .load(conn)?)
}

/// Training records of one exam: (question id, course, date, trainer).
pub fn trainings_of(
    conn: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
) -> Result<Vec<(String, String, NaiveDate, String)>, DbError> {
    Ok(trainings::table
        .filter(trainings::exam_id.eq(exam_id))
        .filter(trainings::marker_id.eq(marker_id))
        .select((
            trainings::question_id,
            trainings::course,
            trainings::trained_on,
            trainings::trainer,
        ))
        .load(conn)?)
}

pub fn questions_of(conn: &mut DbConn, exam_id: &str, marker_id: &str) -> Result<Vec<String>, DbError> {
    Ok(marker_questions::table
        .filter(marker_questions::exam_id.eq(exam_id))
        .filter(marker_questions::marker_id.eq(marker_id))
        .select(marker_questions::question_id)
        .load(conn)?)
}

pub struct Certification<'a> {
    pub marker_id: &'a str,
    pub subject: &'a str,
    pub level: &'a str,
    pub issued: NaiveDate,
    pub expires: Option<NaiveDate>,
    pub recorded_by: &'a str,
}

pub fn record_certification(conn: &mut DbConn, c: &Certification<'_>, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(certifications::table)
        .values((
            certifications::id.eq(&id),
            certifications::marker_id.eq(c.marker_id),
            certifications::subject.eq(c.subject),
            certifications::level.eq(c.level),
            certifications::issued.eq(c.issued),
            certifications::expires.eq(c.expires),
            certifications::recorded_by.eq(c.recorded_by),
            certifications::recorded_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A certification as listed: (subject, level, issued, expires).
pub type CertificationRow = (String, String, NaiveDate, Option<NaiveDate>);

/// A marker's certifications, oldest first.
pub fn certifications_of(conn: &mut DbConn, marker_id: &str) -> Result<Vec<CertificationRow>, DbError> {
    Ok(certifications::table
        .filter(certifications::marker_id.eq(marker_id))
        .order(certifications::issued)
        .select((
            certifications::subject,
            certifications::level,
            certifications::issued,
            certifications::expires,
        ))
        .load(conn)?)
}

/// When the marker last went from `paused` back to `active` in the exam.
pub fn last_reinstated_at(conn: &mut DbConn, exam_id: &str, marker_id: &str) -> Result<Option<NaiveDateTime>, DbError> {
    Ok(marker_status_history::table
        .filter(marker_status_history::exam_id.eq(exam_id))
        .filter(marker_status_history::marker_id.eq(marker_id))
        .filter(marker_status_history::from_status.eq("paused"))
        .filter(marker_status_history::to_status.eq("active"))
        .select(diesel::dsl::max(marker_status_history::changed_at))
        .first(conn)?)
}

/// Every marker of the exam ever reinstated, with the last time.
pub fn reinstatements(conn: &mut DbConn, exam_id: &str) -> Result<Vec<(String, Option<NaiveDateTime>)>, DbError> {
    Ok(marker_status_history::table
        .filter(marker_status_history::exam_id.eq(exam_id))
        .filter(marker_status_history::from_status.eq("paused"))
        .filter(marker_status_history::to_status.eq("active"))
        .group_by(marker_status_history::marker_id)
        .select((
            marker_status_history::marker_id,
            diesel::dsl::max(marker_status_history::changed_at),
        ))
        .load(conn)?)
}
