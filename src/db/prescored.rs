//! Pre-scored scripts: calibration scripts for the qualification test and seeds for live
//! marking, each with the definitive score only leaders see.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::prescored_scripts;
use super::{DbConn, DbError, db_time};
use crate::domain::Score;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = prescored_scripts)]
pub struct PrescoredRow {
    pub exam_id: String,
    pub id: String,
    pub question_id: String,
    pub role: String,
    pub definitive: i64,
    pub image_key: String,
    pub uploaded_by: String,
    pub created_at: NaiveDateTime,
}

impl PrescoredRow {
    pub fn definitive(&self) -> Score {
        Score::from_hundredths(self.definitive)
    }
}

pub struct NewPrescored<'a> {
    pub exam_id: &'a str,
    pub question_id: &'a str,
    pub role: &'a str,
    pub definitive: Score,
    pub image_key: &'a str,
    pub uploaded_by: &'a str,
}

pub fn insert(conn: &mut DbConn, p: &NewPrescored<'_>, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(prescored_scripts::table)
        .values(PrescoredRow {
            exam_id: p.exam_id.into(),
            id: id.clone(),
            question_id: p.question_id.into(),
            role: p.role.into(),
            definitive: p.definitive.hundredths(),
            image_key: p.image_key.into(),
            uploaded_by: p.uploaded_by.into(),
            created_at: db_time(now),
        })
        .execute(conn)?;
    Ok(id)
}

pub fn find(conn: &mut DbConn, exam_id: &str, id: &str) -> Result<PrescoredRow, DbError> {
    Ok(prescored_scripts::table
        .find((exam_id, id))
        .select(PrescoredRow::as_select())
        .first(conn)?)
}

/// A question's pre-scored scripts in one role, oldest first.
pub fn of_question(
    conn: &mut DbConn,
    exam_id: &str,
    question_id: &str,
    role: &str,
) -> Result<Vec<PrescoredRow>, DbError> {
    Ok(prescored_scripts::table
        .filter(prescored_scripts::exam_id.eq(exam_id))
        .filter(prescored_scripts::question_id.eq(question_id))
        .filter(prescored_scripts::role.eq(role))
        .order((prescored_scripts::created_at, prescored_scripts::id))
        .select(PrescoredRow::as_select())
        .load(conn)?)
}
