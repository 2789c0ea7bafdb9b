//! Changing an exam's rules once it exists: `PATCH /api/v1/exams/{exam}/settings`.

use std::collections::BTreeMap;

use actix_web::{patch, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::exams::{ExamView, exam_by_code, view};
use crate::db;
use crate::domain::Score;
use crate::domain::exam::check_unlocked;
use crate::domain::rule_change::{QuestionChange, check_rule_change};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Chief;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::schemas;
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionFigures {
    #[serde(default)]
    #[schema(schema_with = schemas::optional_score)]
    pub tolerance: Option<Score>,
    #[serde(default)]
    #[schema(schema_with = schemas::optional_positive_score)]
    pub final_step: Option<Score>,
    #[serde(default, deserialize_with = "crate::domain::whole::option")]
    #[schema(minimum = 2, maximum = 9)]
    pub marks_required: Option<u32>,
}

/// Rule names with their new values (any of the `[rules]` settings, e.g. `{"backread_rate": 0}`),
/// and, under `questions`, new figures per question code.
#[derive(Debug, Deserialize)]
pub struct SettingsChange {
    /// New figures by question code (each must be a question of the exam: a rule that
    /// depends on state).
    #[serde(default)]
    pub questions: BTreeMap<String, QuestionFigures>,
    #[serde(flatten)]
    pub rules: serde_json::Map<String, serde_json::Value>,
}

/// Change the exam's rules. Every value is checked as at creation; once marking has started
/// the default tolerance and final step and each question's tolerance and final step are
/// frozen, and `marks_required` may only rise (409 `rule_frozen`: a rule that depends on state).
///
/// Refused by rules across fields or of state: `invalid_setting` (`seed_miss_limit` above
/// `seed_miss_window`, or a frozen rule changed once marking began).
#[utoipa::path(
    tag = "exams",
    params(("exam" = String, Path, description = "Exam code")),
    request_body(content = SettingsChange, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The exam with its rules in force", body = ExamView),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Frozen since marking started, or the exam is locked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown rule or question, or a value out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/exams/{exam}/settings")]
pub async fn change_settings(
    state: web::Data<AppState>,
    chief: Chief,
    path: web::Path<String>,
    body: Json<SettingsChange>,
) -> Result<web::Json<ExamView>, ApiError> {
    let code = path.into_inner();
    let change = body.into_inner()?;
    let defaults = state.settings.rules.clone();
    let now = state.now();
    let audit = chief.audit("exam.settings").object("exam_code", &code);
    let me = chief.id.clone();
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<ExamView, ApiError> {
            // Locked row: two changes at once take turns, and neither is lost.
            let exam = db::exams::by_code_locked(c, &code).map_err(missing("exam"))?;
            super::exams::not_related(c, &exam.id, &me)?;
            check_unlocked(exam.locked)?;
            let current = exam.rules(&defaults)?;
            let questions = db::exams::questions_of(c, &exam.id)?
                .iter()
                .map(|q| q.question())
                .collect::<Result<Vec<_>, _>>()?;
            let figures: Vec<QuestionChange> = change
                .questions
                .iter()
                .map(|(code, f)| QuestionChange {
                    code: code.clone(),
                    tolerance: f.tolerance,
                    final_step: f.final_step,
                    marks_required: f.marks_required,
                })
                .collect();
            // Once a lease was served, the rules that decide finals stand.
            let marking_started = db::marking::marking_started(c, &exam.id)?;
            let changed = check_rule_change(marking_started, &current, &change.rules, &questions, &figures)?;
            let mut overrides = exam.overrides()?;
            overrides.extend(change.rules.clone());
            let settings = serde_json::Value::Object(overrides).to_string();
            db::exams::set_rules(c, &exam.id, &settings, &changed.rules)?;
            for q in changed.questions.iter().filter(|q| change.questions.contains_key(&q.code)) {
                db::exams::set_question_figures(c, &exam.id, q)?;
            }
            entry
                .exam(&exam.id)
                .details(serde_json::json!({
                    "rules": change.rules,
                    "before": current,
                    "questions": changed.questions.iter().filter(|q| change.questions.contains_key(&q.code)).collect::<Vec<_>>(),
                }))
                .append(c, now)?;
            let exam = exam_by_code(c, &code)?;
            view(c, exam, &defaults)
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

impl utoipa::PartialSchema for SettingsChange {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::RefOr::T(schemas::settings_change(
            <QuestionFigures as utoipa::PartialSchema>::schema(),
        ))
    }
}

impl ToSchema for SettingsChange {}
