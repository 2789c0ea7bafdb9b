//! The identity vault's rows: candidates (sealed name and admission number, found by a keyed
//! hash) and absences.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{absences, candidates};
use super::{DbConn, DbError, db_time};

/// A candidate as stored: identity sealed, school code clear.
pub struct SealedCandidate<'a> {
    pub exam_id: &'a str,
    pub id: &'a str,
    pub lookup: &'a str,
    pub admission_sealed: &'a str,
    pub name_sealed: &'a str,
    pub school_code: &'a str,
    pub district: Option<&'a str>,
}

/// The candidate's id and school code, found by the keyed hash of the admission number.
pub fn by_lookup(conn: &mut DbConn, exam_id: &str, lookup: &str) -> Result<Option<(String, String)>, DbError> {
    Ok(candidates::table
        .filter(candidates::exam_id.eq(exam_id))
        .filter(candidates::lookup.eq(lookup))
        .select((candidates::id, candidates::school_code))
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConn, c: &SealedCandidate<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::insert_into(candidates::table)
        .values((
            candidates::exam_id.eq(c.exam_id),
            candidates::id.eq(c.id),
            candidates::lookup.eq(c.lookup),
            candidates::admission_sealed.eq(c.admission_sealed),
            candidates::name_sealed.eq(c.name_sealed),
            candidates::school_code.eq(c.school_code),
            candidates::district.eq(c.district),
            candidates::created_at.eq(db_time(now)),
            candidates::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn update(conn: &mut DbConn, c: &SealedCandidate<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(candidates::table.find((c.exam_id, c.id)))
        .set((
            candidates::admission_sealed.eq(c.admission_sealed),
            candidates::name_sealed.eq(c.name_sealed),
            candidates::school_code.eq(c.school_code),
            candidates::district.eq(c.district),
            candidates::updated_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records an absence (for the whole exam when `question_id` is empty); `Duplicate` when it is
/// recorded already.
pub fn insert_absence(
    conn: &mut DbConn,
    exam_id: &str,
    candidate_id: &str,
    question_id: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(absences::table)
        .values((
            absences::exam_id.eq(exam_id),
            absences::candidate_id.eq(candidate_id),
            absences::question_id.eq(question_id),
            absences::recorded_by.eq(by),
            absences::recorded_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn count(conn: &mut DbConn, exam_id: &str) -> Result<i64, DbError> {
    Ok(candidates::table
        .filter(candidates::exam_id.eq(exam_id))
        .count()
        .get_result(conn)?)
}
