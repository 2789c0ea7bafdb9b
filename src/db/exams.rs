//! Exams with their questions and sheet template.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{exams, questions, sheet_templates};
use super::{DbConn, DbError, db_time};
use crate::domain::Score;
use crate::domain::exam::MarkingWindow;
use crate::domain::question::{Question, QuestionKind};
use crate::domain::rules::MarkingRules;
use crate::domain::template::SheetTemplate;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = exams)]
pub struct ExamRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub time_zone: String,
    pub window_start: NaiveDateTime,
    pub window_end: NaiveDateTime,
    pub room_open: bool,
    pub locked: bool,
    pub released: bool,
    pub settings: String,
    pub created_at: NaiveDateTime,
    pub created_by: String,
    pub rules: String,
}

impl ExamRow {
    pub fn window(&self) -> MarkingWindow {
        MarkingWindow {
            start: self.window_start.and_utc(),
            end: self.window_end.and_utc(),
        }
    }

    /// The rules in force, as stored when the exam was made (or last changed). Exams made
    /// before rules were stored whole take today's defaults under their overrides.
    pub fn rules(&self, defaults: &MarkingRules) -> Result<MarkingRules, DbError> {
        if self.rules.is_empty() {
            return defaults
                .with_overrides(&self.overrides()?)
                .map_err(|e| DbError::Corrupt(format!("exam {} settings: {e}", self.code)));
        }
        serde_json::from_str(&self.rules).map_err(|e| DbError::Corrupt(format!("exam {} rules: {e}", self.code)))
    }

    /// The exam's own overrides of the marking rules, as stored.
    pub fn overrides(&self) -> Result<serde_json::Map<String, serde_json::Value>, DbError> {
        serde_json::from_str(&self.settings).map_err(|e| DbError::Corrupt(format!("exam {} settings: {e}", self.code)))
    }
}

pub struct NewExam<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub time_zone: &'a str,
    pub window: MarkingWindow,
    pub settings: &'a str,
    /// The whole rule set in force (defaults laid under the overrides), frozen with the exam.
    pub rules: &'a MarkingRules,
    pub created_by: &'a str,
}

pub fn insert(conn: &mut DbConn, e: &NewExam<'_>, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    diesel::insert_into(exams::table)
        .values((
            exams::id.eq(&id),
            exams::code.eq(e.code),
            exams::name.eq(e.name),
            exams::time_zone.eq(e.time_zone),
            exams::window_start.eq(db_time(e.window.start)),
            exams::window_end.eq(db_time(e.window.end)),
            exams::room_open.eq(false),
            exams::locked.eq(false),
            exams::released.eq(false),
            exams::settings.eq(e.settings),
            exams::rules.eq(rules_text(e.rules)?),
            exams::created_at.eq(db_time(now)),
            exams::created_by.eq(e.created_by),
        ))
        .execute(conn)?;
    Ok(id)
}

fn rules_text(r: &MarkingRules) -> Result<String, DbError> {
    serde_json::to_string(r).map_err(|e| DbError::Corrupt(format!("rules: {e}")))
}

/// Stores changed rules: the overrides as the chief leaders gave them, and the whole set.
pub fn set_rules(conn: &mut DbConn, exam_id: &str, settings: &str, rules: &MarkingRules) -> Result<(), DbError> {
    diesel::update(exams::table.find(exam_id))
        .set((exams::settings.eq(settings), exams::rules.eq(rules_text(rules)?)))
        .execute(conn)?;
    Ok(())
}

/// Stores a question's changed figures (tolerance, final step, marks required).
pub fn set_question_figures(conn: &mut DbConn, exam_id: &str, q: &Question) -> Result<(), DbError> {
    diesel::update(
        questions::table
            .filter(questions::exam_id.eq(exam_id))
            .filter(questions::code.eq(&q.code)),
    )
    .set((
        questions::tolerance.eq(q.tolerance.hundredths()),
        questions::final_step.eq(q.final_step.hundredths()),
        questions::marks_required.eq(i32::try_from(q.marks_required).unwrap_or(i32::MAX)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Exams made before rules were stored whole get them now: the defaults in force at this
/// start with their overrides laid over them, frozen from here on. Returns how many.
pub fn freeze_legacy_rules(conn: &mut DbConn, defaults: &MarkingRules) -> Result<usize, DbError> {
    let legacy: Vec<ExamRow> = exams::table
        .filter(exams::rules.eq(""))
        .select(ExamRow::as_select())
        .load(conn)?;
    for exam in &legacy {
        let rules = exam.rules(defaults)?;
        diesel::update(exams::table.find(&exam.id))
            .set(exams::rules.eq(rules_text(&rules)?))
            .execute(conn)?;
    }
    Ok(legacy.len())
}

pub fn by_code(conn: &mut DbConn, code: &str) -> Result<ExamRow, DbError> {
    Ok(exams::table
        .filter(exams::code.eq(code))
        .select(ExamRow::as_select())
        .first(conn)?)
}

/// Every exam, by code.
pub fn all(conn: &mut DbConn) -> Result<Vec<ExamRow>, DbError> {
    Ok(exams::table
        .order(exams::code.asc())
        .select(ExamRow::as_select())
        .load(conn)?)
}

/// The exam, its row held in share mode on PostgreSQL for the rest of the transaction (marking
/// goes on side by side, but not across a room closing, which takes the row for update), with
/// the marker's standing in it.
pub fn shared_for_marker(
    conn: &mut DbConn,
    id: &str,
    marker_id: &str,
) -> Result<(ExamRow, crate::domain::marker_status::MarkerStatus), DbError> {
    use crate::db::schema::marker_exams;
    if let DbConn::Pg(c) = conn {
        // Two statements: a statement reads from the snapshot it started with, so a standing
        // read beside the lock would be the one from before the wait, and a marker paused by an
        // act that held the exam's row (a candidate list, a relative declared) would still read
        // as active. Read after the lock, the standing is the committed one.
        let exam = exams::table
            .find(id)
            .select(ExamRow::as_select())
            .for_share()
            .first(c)?;
        return Ok((exam, crate::db::markers::status(conn, id, marker_id)?));
    }
    // SQLite's one writer: nothing changes between the two, so one statement reads both.
    let standing = marker_exams::table
        .filter(marker_exams::exam_id.eq(exams::id))
        .filter(marker_exams::marker_id.eq(marker_id))
        .select(marker_exams::status)
        .single_value();
    let (exam, status): (ExamRow, Option<String>) = exams::table
        .find(id)
        .select((ExamRow::as_select(), standing))
        .first(conn)?;
    Ok((exam, crate::db::markers::parse_status(marker_id, status)?))
}

pub fn by_id(conn: &mut DbConn, id: &str) -> Result<ExamRow, DbError> {
    Ok(exams::table.find(id).select(ExamRow::as_select()).first(conn)?)
}

/// The exam, its row locked for the rest of the transaction on PostgreSQL, so that changes
/// made from what was read (its rules, its next question position) take turns and none is lost
/// (SQLite has one writer, so it needs no lock).
pub fn by_code_locked(conn: &mut DbConn, code: &str) -> Result<ExamRow, DbError> {
    let q = exams::table.filter(exams::code.eq(code));
    Ok(match conn {
        DbConn::Pg(c) => q.select(ExamRow::as_select()).for_update().first(c)?,
        DbConn::Sqlite(c) => q.select(ExamRow::as_select()).first(c)?,
    })
}

/// Locks the exam's row for the rest of the transaction on PostgreSQL (see `by_code_locked`).
pub fn lock_by_id(conn: &mut DbConn, exam_id: &str) -> Result<(), DbError> {
    if let DbConn::Pg(c) = conn {
        exams::table
            .find(exam_id)
            .select(exams::id)
            .for_update()
            .first::<String>(c)?;
    }
    Ok(())
}

pub fn ids_by_codes(conn: &mut DbConn, codes: &[String]) -> Result<Vec<(String, String)>, DbError> {
    Ok(exams::table
        .filter(exams::code.eq_any(codes))
        .select((exams::code, exams::id))
        .load(conn)?)
}

pub fn set_room_open(conn: &mut DbConn, exam_id: &str, open: bool) -> Result<(), DbError> {
    diesel::update(exams::table.find(exam_id))
        .set(exams::room_open.eq(open))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = questions)]
pub struct QuestionRow {
    pub exam_id: String,
    pub id: String,
    pub code: String,
    pub position: i32,
    pub kind: String,
    pub max_score: i64,
    pub step: i64,
    pub tolerance: i64,
    pub final_step: i64,
    pub marks_required: i32,
    pub criteria: String,
    pub created_at: NaiveDateTime,
}

impl QuestionRow {
    pub fn question(&self) -> Result<Question, DbError> {
        let corrupt = |what: &str| DbError::Corrupt(format!("question {}: {what}", self.code));
        Ok(Question {
            code: self.code.clone(),
            kind: QuestionKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            max: Score::from_hundredths(self.max_score),
            step: Score::from_hundredths(self.step),
            tolerance: Score::from_hundredths(self.tolerance),
            final_step: Score::from_hundredths(self.final_step),
            marks_required: u32::try_from(self.marks_required).map_err(|_| corrupt("marks_required"))?,
            criteria: serde_json::from_str(&self.criteria).map_err(|_| corrupt("criteria"))?,
        })
    }
}

pub fn insert_question(conn: &mut DbConn, exam_id: &str, q: &Question, now: DateTime<Utc>) -> Result<String, DbError> {
    let id = super::new_id();
    // After the last position in use. On PostgreSQL the exam row is locked first, so two
    // questions added at once take turns instead of meeting the unique index on position
    // (SQLite has one writer, so it needs no lock).
    if let DbConn::Pg(c) = conn {
        exams::table
            .find(exam_id)
            .select(exams::id)
            .for_update()
            .first::<String>(c)?;
    }
    let last: Option<i32> = questions::table
        .filter(questions::exam_id.eq(exam_id))
        .select(diesel::dsl::max(questions::position))
        .first(conn)?;
    let position = last.map_or(0, |p| p.saturating_add(1));
    let criteria = serde_json::to_string(&q.criteria).map_err(|e| DbError::Corrupt(e.to_string()))?;
    diesel::insert_into(questions::table)
        .values((
            questions::exam_id.eq(exam_id),
            questions::id.eq(&id),
            questions::code.eq(&q.code),
            questions::position.eq(position),
            questions::kind.eq(q.kind.as_str()),
            questions::max_score.eq(q.max.hundredths()),
            questions::step.eq(q.step.hundredths()),
            questions::tolerance.eq(q.tolerance.hundredths()),
            questions::final_step.eq(q.final_step.hundredths()),
            questions::marks_required.eq(i32::try_from(q.marks_required).unwrap_or(i32::MAX)),
            questions::criteria.eq(criteria),
            questions::created_at.eq(db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The exam's questions the marker passed the qualification test for, in order: one statement,
/// as every lease asks.
pub fn qualified_questions(conn: &mut DbConn, exam_id: &str, marker_id: &str) -> Result<Vec<QuestionRow>, DbError> {
    use crate::db::schema::qualification_attempts as qa;
    let passed = qa::table
        .filter(qa::exam_id.eq(questions::exam_id))
        .filter(qa::question_id.eq(questions::id))
        .filter(qa::marker_id.eq(marker_id))
        .filter(qa::passed.eq(Some(true)));
    Ok(questions::table
        .filter(questions::exam_id.eq(exam_id))
        .filter(diesel::dsl::exists(passed))
        .order(questions::position)
        .select(QuestionRow::as_select())
        .load(conn)?)
}

pub fn questions_of(conn: &mut DbConn, exam_id: &str) -> Result<Vec<QuestionRow>, DbError> {
    Ok(questions::table
        .filter(questions::exam_id.eq(exam_id))
        .order(questions::position)
        .select(QuestionRow::as_select())
        .load(conn)?)
}

/// Replaces the exam's template.
pub fn put_template(
    conn: &mut DbConn,
    exam_id: &str,
    t: &SheetTemplate,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let body = serde_json::to_string(t).map_err(|e| DbError::Corrupt(e.to_string()))?;
    diesel::delete(sheet_templates::table.find(exam_id)).execute(conn)?;
    diesel::insert_into(sheet_templates::table)
        .values((
            sheet_templates::exam_id.eq(exam_id),
            sheet_templates::body.eq(body),
            sheet_templates::updated_at.eq(db_time(now)),
            sheet_templates::updated_by.eq(by),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn template_of(conn: &mut DbConn, exam_id: &str) -> Result<Option<SheetTemplate>, DbError> {
    let body: Option<String> = sheet_templates::table
        .find(exam_id)
        .select(sheet_templates::body)
        .first(conn)
        .optional()?;
    body.map(|b| serde_json::from_str(&b).map_err(|e| DbError::Corrupt(format!("template: {e}"))))
        .transpose()
}

pub fn code_of(conn: &mut DbConn, exam_id: &str) -> Result<Option<String>, DbError> {
    Ok(exams::table.find(exam_id).select(exams::code).first(conn).optional()?)
}
