//! Reading the marker archive (R4): one marker's record with, per exam, every eligibility
//! decision and its reasons, status history, training, questions, qualification attempts with
//! each script's deviation, reviews and discipline; and an exam's appointment list with
//! certifications. Leaders only: definitive scores appear here and nowhere a marker can reach.

use std::collections::HashMap;

use actix_web::{get, web};
use chrono::{DateTime, NaiveDate};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::exams::{exam_by_code, not_related};
use crate::db::markers::MarkerRow;
use crate::db::{self, DbConn};
use crate::domain::Score;
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamRecord {
    pub exam: String,
    pub status: String,
    /// Every failed eligibility rule, readable (empty when eligible).
    pub reasons: Vec<String>,
    /// Every change of standing: from, to, by, reason, at.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub training: Vec<Value>,
    pub questions: Vec<String>,
    /// Questions the marker passed the qualification test for.
    pub qualified: Vec<String>,
    /// Every attempt: result, and per calibration script the score, definitive score and deviation.
    #[schema(value_type = Vec<Object>)]
    pub qualification: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub reviews: Vec<Value>,
    /// Sanctions, with the two people behind each.
    #[schema(value_type = Vec<Object>)]
    pub discipline: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkerView {
    pub id: String,
    pub username: String,
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub school_code: String,
    pub subject: String,
    pub years_teaching: i32,
    pub recommended_by: Option<String>,
    pub recommending_school: Option<String>,
    pub recommended_on: Option<NaiveDate>,
    pub health_attested: bool,
    pub conduct_attested: bool,
    /// Per exam: standing, reasons and history, training, questions, qualification, reviews, discipline.
    pub exams: Vec<ExamRecord>,
    /// Certifications (资格认定); they do not waive training or qualification for a new exam.
    #[schema(value_type = Vec<Object>)]
    pub certifications: Vec<Value>,
}

fn hundredths(h: Option<i64>) -> Option<Score> {
    h.map(Score::from_hundredths)
}

fn qualification(
    c: &mut DbConn,
    exam_id: &str,
    m: &MarkerRow,
    code_of: &dyn Fn(&str) -> String,
) -> Result<Vec<Value>, ApiError> {
    let mut out = vec![];
    for a in db::qualification::attempts(c, exam_id, &m.id, None)? {
        let mut scripts = vec![];
        for t in db::qualification::tasks(c, exam_id, &a.id)? {
            let p = db::prescored::find(c, exam_id, &t.prescored_id)?;
            scripts.push(json!({
                "position": t.position, "prescored_id": p.id, "score": hundredths(t.score),
                "definitive": p.definitive(), "deviation": hundredths(t.deviation),
            }));
        }
        out.push(json!({
            "question": code_of(&a.question_id), "attempt": a.n,
            "started_at": a.started_at.and_utc(), "finished_at": a.finished_at.map(|t| t.and_utc()),
            "passed": a.passed, "within": a.within_count, "total": a.total,
            "max_deviation": hundredths(a.max_deviation), "scripts": scripts,
        }));
    }
    Ok(out)
}

fn exam_record(
    c: &mut DbConn,
    m: &MarkerRow,
    exam_id: String,
    status: String,
    reasons: String,
) -> Result<ExamRecord, ApiError> {
    let codes: HashMap<String, String> = db::exams::questions_of(c, &exam_id)?
        .into_iter()
        .map(|q| (q.id, q.code))
        .collect();
    let code_of = |id: &str| codes.get(id).cloned().unwrap_or_default();
    let history = db::markers::history(c, &exam_id, &m.id)?
        .into_iter()
        .map(|(from, to, by, reason, at)| json!({ "from": from, "to": to, "by": by, "reason": reason, "at": at.and_utc() }))
        .collect();
    let training = db::markers::trainings_of(c, &exam_id, &m.id)?
        .into_iter()
        .map(|(q, course, date, trainer)| json!({ "question": code_of(&q), "course": course, "date": date, "trainer": trainer }))
        .collect();
    let questions = db::markers::questions_of(c, &exam_id, &m.id)?
        .iter()
        .map(|q| code_of(q))
        .collect();
    let qualified = db::qualification::passed_questions(c, &exam_id, &m.id)?
        .iter()
        .map(|q| code_of(q))
        .collect();
    let reviews = db::discipline::reviews_of(c, &exam_id, &m.id)?
        .into_iter()
        .map(|(kind, evidence, status, opened, decision, by)| {
            let evidence: Value = serde_json::from_str(&evidence).unwrap_or(Value::String(evidence));
            json!({ "kind": kind, "evidence": evidence, "status": status, "opened_at": opened.and_utc(), "decision": decision, "decided_by": by })
        })
        .collect();
    let discipline = db::discipline::of_marker(c, &exam_id, &m.id)?
        .into_iter()
        .map(|(kind, reason, requested_by, decided_by, at)| {
            json!({ "kind": kind, "reason": reason, "requested_by": requested_by, "decided_by": decided_by, "at": at.and_utc() })
        })
        .collect();
    Ok(ExamRecord {
        qualification: qualification(c, &exam_id, m, &code_of)?,
        exam: db::exams::code_of(c, &exam_id)?.unwrap_or_default(),
        status,
        reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        history,
        training,
        questions,
        qualified,
        reviews,
        discipline,
    })
}

fn certifications(c: &mut DbConn, marker_id: &str) -> Result<Vec<Value>, ApiError> {
    Ok(db::markers::certifications_of(c, marker_id)?
        .into_iter()
        .map(|(subject, level, issued, expires)| json!({ "subject": subject, "level": level, "issued": issued, "expires": expires }))
        .collect())
}

/// The marker's archive record with every exam's standing.
#[utoipa::path(
    tag = "markers",
    params(("id" = String, Path, description = "Marker id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The record", body = MarkerView),
        (status = 404, description = "No such marker", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/markers/{id}")]
pub async fn get_marker(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
) -> Result<web::Json<MarkerView>, ApiError> {
    let id = path.into_inner();
    let me = leader.id.clone();
    let view = state
        .db
        .read(move |c| -> Result<MarkerView, ApiError> {
            let m = db::markers::find(c, &id).map_err(missing("marker"))?;
            let user = db::users::find(c, &m.user_id)?.ok_or(ApiError::NotFound("marker"))?;
            let mut exams = vec![];
            for (exam_id, status, reasons) in db::markers::standings(c, &m.id)? {
                // A leader with a relative sitting an exam sees nothing of it (R3).
                if db::markers::relatives_sitting(c, &exam_id, &me)? > 0 {
                    continue;
                }
                exams.push(exam_record(c, &m, exam_id, status, reasons)?);
            }
            Ok(MarkerView {
                certifications: certifications(c, &m.id)?,
                id: m.id.clone(),
                username: user.username,
                full_name: user.full_name,
                birth_date: m.birth_date,
                school_code: m.school_code.clone(),
                subject: m.subject.clone(),
                years_teaching: m.years_teaching,
                recommended_by: m.recommended_by.clone(),
                recommending_school: m.recommending_school.clone(),
                recommended_on: m.recommended_on,
                health_attested: m.health_attested,
                conduct_attested: m.conduct_attested,
                exams,
            })
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppointedMarker {
    pub id: String,
    pub username: String,
    pub full_name: String,
    pub school_code: String,
    pub status: String,
    pub questions: Vec<String>,
    pub qualified: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub certifications: Vec<Value>,
    pub updated_at: DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentList {
    pub markers: Vec<AppointedMarker>,
}

/// Every marker with a standing in the exam (vetted, appointed, at work or sanctioned), with
/// their questions, qualifications and certifications.
#[utoipa::path(
    tag = "markers",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The list, by username", body = AppointmentList),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/markers")]
pub async fn list_exam_markers(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
) -> Result<web::Json<AppointmentList>, ApiError> {
    let code = path.into_inner();
    let me = leader.id.clone();
    let list = state
        .db
        .read(move |c| -> Result<AppointmentList, ApiError> {
            let exam = exam_by_code(c, &code)?;
            not_related(c, &exam.id, &me)?;
            let codes: HashMap<String, String> = db::exams::questions_of(c, &exam.id)?
                .into_iter()
                .map(|q| (q.id, q.code))
                .collect();
            let code_of = |id: &String| codes.get(id).cloned().unwrap_or_default();
            let mut markers = vec![];
            for (m, status, updated_at) in db::markers::of_exam(c, &exam.id)? {
                let user = db::users::find(c, &m.user_id)?.ok_or(ApiError::NotFound("marker"))?;
                markers.push(AppointedMarker {
                    questions: db::markers::questions_of(c, &exam.id, &m.id)?
                        .iter()
                        .map(code_of)
                        .collect(),
                    qualified: db::qualification::passed_questions(c, &exam.id, &m.id)?
                        .iter()
                        .map(code_of)
                        .collect(),
                    certifications: certifications(c, &m.id)?,
                    id: m.id,
                    username: user.username,
                    full_name: user.full_name,
                    school_code: m.school_code,
                    status,
                    updated_at: updated_at.and_utc(),
                });
            }
            markers.sort_by(|a, b| a.username.cmp(&b.username));
            Ok(AppointmentList { markers })
        })
        .await?;
    Ok(web::Json(list))
}
