//! The qualification test (R6): a trained marker assigned to a question marks its calibration
//! scripts one at a time, in a random order of their own, without their scores. The last score
//! of an attempt judges it; a pass makes the marker qualified for the question and active.

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Duration, Utc};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::exams::{ExamRow, QuestionRow};
use crate::db::markers::{Change, MarkerRow};
use crate::db::qualification::{AttemptRow, TaskRow};
use crate::db::scripts::ImageOf;
use crate::db::{self, DbConn};
use crate::domain::marker_status::{MarkerEvent, MarkerStatus, transition};
use crate::domain::qualification::{Candidacy, Judgement, PassRule, check_in_standing, check_new_attempt, judge};
use crate::domain::rules::MarkingRules;
use crate::domain::{RuleError, Score};
use crate::http::audit_entry::{Audit, audit_refusal};
use crate::http::caller::MarkerCaller;
use crate::http::error::{ApiError, Problem};
use crate::http::image_links::mint_for;
use crate::http::json::Json;
use crate::http::leader::exam_by_code;
use crate::http::state::AppState;

/// One calibration script to mark: it looks like live work, without any score.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalibrationTask {
    pub task_id: String,
    pub question: String,
    /// Which attempt this is (1, 2, …).
    pub attempt: i32,
    /// This script's place in the attempt, and how many the attempt has.
    pub position: i32,
    pub of: i32,
    /// Server-relative links to the masked answer, valid until `expires_at`.
    pub images: Vec<String>,
    #[schema(value_type = f64)]
    pub max_score: Score,
    #[schema(value_type = f64)]
    pub step: Score,
    /// The question's criteria, when it is marked by criteria.
    #[schema(value_type = Vec<Object>)]
    pub rubric: serde_json::Value,
    pub expires_at: DateTime<Utc>,
}

fn marker_of(c: &mut DbConn, user: &str) -> Result<MarkerRow, ApiError> {
    db::markers::by_user(c, user)?.ok_or(ApiError::NotFound("marker record"))
}

fn question_by_code(c: &mut DbConn, exam: &ExamRow, code: &str) -> Result<QuestionRow, ApiError> {
    db::exams::questions_of(c, &exam.id)?
        .into_iter()
        .find(|q| q.code == code)
        .ok_or(ApiError::NotFound("question"))
}

/// Starts a fresh attempt when the gate allows one.
fn start_attempt(
    c: &mut DbConn,
    m: &MarkerRow,
    q: &QuestionRow,
    rules: &MarkingRules,
    taken: &[AttemptRow],
    audit: &Audit,
    now: DateTime<Utc>,
) -> Result<AttemptRow, ApiError> {
    let candidacy = Candidacy {
        status: db::markers::status(c, &q.exam_id, &m.id)?,
        trained_for_question: db::markers::trainings_of(c, &q.exam_id, &m.id)?
            .iter()
            .any(|t| t.0 == q.id),
        assigned_to_question: db::markers::questions_of(c, &q.exam_id, &m.id)?.contains(&q.id),
        already_passed: taken.iter().any(|a| a.passed == Some(true)),
        attempts_taken: u32::try_from(taken.len()).unwrap_or(u32::MAX),
        attempts_allowed: rules.qualification_attempts,
    };
    check_new_attempt(&candidacy)?;
    let mut order: Vec<String> = db::prescored::of_question(c, &q.exam_id, &q.id, "calibration")?
        .into_iter()
        .map(|p| p.id)
        .collect();
    if order.is_empty() {
        return Err(RuleError::conflict(
            "no_calibration_set",
            "this question has no calibration scripts yet: ask a leader",
        )
        .into());
    }
    order.shuffle(&mut rand::rng());
    let n = i32::try_from(taken.len() + 1).unwrap_or(i32::MAX);
    let id = db::qualification::start(c, &q.exam_id, &m.id, &q.id, n, &order, now).map_err(|e| match e {
        db::DbError::Duplicate(_) => {
            RuleError::conflict("attempt_started", "an attempt started a moment ago: ask again").into()
        }
        other => ApiError::from(other),
    })?;
    audit
        .clone()
        .exam(&q.exam_id)
        .object("qualification_attempt", &id)
        .details(serde_json::json!({ "question": q.code, "attempt": n, "scripts": order.len() }))
        .append(c, now)?;
    Ok(db::qualification::attempt(c, &q.exam_id, &id)?)
}

/// The next calibration script of the marker's test for a question: the open attempt's next
/// unscored script, or the first of a new attempt in a fresh random order. Refused with
/// `not_trained` (no training recorded for this question, or not in good standing),
/// `not_assigned`, `already_qualified`, `qualification_attempts_exhausted` or
/// `no_calibration_set`.
#[utoipa::path(
    tag = "marking",
    params(("exam" = String, Path, description = "Exam code"), ("q" = String, Path, description = "Question code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A calibration script to mark", body = CalibrationTask),
        (status = 404, description = "No such exam or question, or no marker record", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The marker may not take the test now (the problem says why)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/qualification/{q}/next")]
pub async fn next_calibration(
    state: web::Data<AppState>,
    marker: MarkerCaller,
    path: web::Path<(String, String)>,
) -> Result<web::Json<CalibrationTask>, ApiError> {
    let (code, q) = path.into_inner();
    let now = state.now();
    let (me, defaults) = (marker.id.clone(), state.settings.rules.clone());
    let audit = marker
        .audit("qualification.start")
        .details(serde_json::json!({ "exam": code, "question": q }));
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<CalibrationTask, ApiError> {
            let exam = exam_by_code(c, &code)?;
            let m = marker_of(c, &me)?;
            // One marker's test requests take turns: a `next` never sees an attempt half finished.
            db::markers::lock(c, &m.id)?;
            let row = question_by_code(c, &exam, &q)?;
            let rules = exam.rules(&defaults)?;
            let taken = db::qualification::attempts(c, &exam.id, &m.id, Some(&row.id))?;
            let attempt = match taken.iter().find(|a| a.finished_at.is_none()) {
                Some(open) => {
                    check_in_standing(db::markers::status(c, &exam.id, &m.id)?)?;
                    open.clone()
                }
                None => start_attempt(c, &m, &row, &rules, &taken, &entry, now)?,
            };
            let tasks = db::qualification::tasks(c, &exam.id, &attempt.id)?;
            let current = tasks
                .iter()
                .find(|t| t.score.is_none())
                .ok_or_else(|| ApiError::Internal("an open attempt without an unscored script".into()))?;
            serve(c, &row, &attempt, current, &me, rules.lease_minutes, now)
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

fn serve(
    c: &mut DbConn,
    row: &QuestionRow,
    attempt: &AttemptRow,
    task: &TaskRow,
    holder: &str,
    minutes: u32,
    now: DateTime<Utc>,
) -> Result<CalibrationTask, ApiError> {
    let p = db::prescored::find(c, &row.exam_id, &task.prescored_id)?;
    // Asking again serves the same script under a fresh link; the old one dies.
    db::scripts::revoke_prescored_tokens(c, &row.exam_id, &p.id, holder)?;
    let expires = now + Duration::minutes(i64::from(minutes));
    let (url, expires_at) = mint_for(
        c,
        &row.exam_id,
        ImageOf::Prescored(&p.id),
        &p.image_key,
        holder,
        expires,
    )?;
    let question = row.question()?;
    Ok(CalibrationTask {
        task_id: task.id.clone(),
        question: row.code.clone(),
        attempt: attempt.n,
        position: task.position,
        of: attempt.total,
        images: vec![url],
        max_score: question.max,
        step: question.step,
        rubric: serde_json::to_value(&question.criteria).unwrap_or_default(),
        expires_at,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalibrationScore {
    #[schema(schema_with = crate::http::schemas::score)]
    pub score: Score,
}

/// What the marker learns after a score: how many remain and, at the end, whether they passed.
/// Never the definitive scores or the distances from them.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalibrationScored {
    pub remaining: i32,
    pub finished: bool,
    pub passed: Option<bool>,
    /// Attempts still open to the marker after a failed one.
    pub attempts_left: Option<u32>,
    /// The marker's standing in the exam now.
    pub status: String,
}

/// Score the calibration script the marker was served (in order; each once).
#[utoipa::path(
    tag = "marking",
    params(("id" = String, Path, description = "Calibration task id")),
    request_body = CalibrationScore,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Recorded", body = CalibrationScored),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Scored already, not the current script, or not in good standing", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A score off the question's scale", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/qualification/tasks/{id}/score")]
pub async fn score_calibration(
    state: web::Data<AppState>,
    marker: MarkerCaller,
    path: web::Path<String>,
    body: Json<CalibrationScore>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let score = body.into_inner()?.score;
    let now = state.now();
    let (me, defaults) = (marker.id.clone(), state.settings.rules.clone());
    let audit = marker.audit("qualification.score").object("qualification_task", &id);
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<CalibrationScored, ApiError> {
            let m = marker_of(c, &me)?;
            db::markers::lock(c, &m.id)?;
            let t = db::qualification::task(c, &id).map_err(crate::http::error::missing("task"))?;
            let attempt = db::qualification::attempt(c, &t.exam_id, &t.attempt_id)?;
            if attempt.marker_id != m.id {
                return Err(ApiError::NotFound("task"));
            }
            if t.score.is_some() || attempt.finished_at.is_some() {
                return Err(RuleError::conflict("already_scored", "this script is scored already").into());
            }
            let tasks = db::qualification::tasks(c, &t.exam_id, &attempt.id)?;
            let unscored: Vec<&TaskRow> = tasks.iter().filter(|x| x.score.is_none()).collect();
            if unscored.first().map(|x| x.id.as_str()) != Some(t.id.as_str()) {
                return Err(RuleError::conflict("not_current_task", "score the script you were served first").into());
            }
            check_in_standing(db::markers::status(c, &t.exam_id, &m.id)?)?;
            let exam = db::exams::by_id(c, &t.exam_id)?;
            let rules = exam.rules(&defaults)?;
            let row = db::exams::questions_of(c, &t.exam_id)?
                .into_iter()
                .find(|q| q.id == attempt.question_id)
                .ok_or(ApiError::NotFound("question"))?;
            let question = row.question()?;
            question.check_score("score", score)?;
            let p = db::prescored::find(c, &t.exam_id, &t.prescored_id)?;
            let deviation = Score::from_hundredths(score.hundredths() - p.definitive);
            if !db::qualification::score(c, &t, score, deviation, now)? {
                return Err(RuleError::conflict("already_scored", "this script is scored already").into());
            }
            db::scripts::revoke_prescored_tokens(c, &t.exam_id, &p.id, &me)?;
            let remaining = i32::try_from(unscored.len() - 1).unwrap_or(0);
            let mut out = CalibrationScored {
                remaining,
                finished: remaining == 0,
                passed: None,
                attempts_left: None,
                status: db::markers::status(c, &t.exam_id, &m.id)?.as_str().into(),
            };
            let mut details = serde_json::json!({ "question": row.code, "attempt": attempt.n, "position": t.position });
            if remaining == 0 {
                let mut deviations: Vec<Score> = tasks
                    .iter()
                    .filter_map(|x| x.deviation.map(Score::from_hundredths))
                    .collect();
                deviations.push(deviation);
                let rule = PassRule {
                    pass_share: rules.qualification_pass_share,
                    max_deviation_tolerances: rules.qualification_max_deviation_tolerances,
                };
                let j = judge(&deviations, question.tolerance, rule);
                db::qualification::finish(c, &t.exam_id, &attempt.id, &j, now)?;
                if j.passed {
                    out.status = qualify(c, &t.exam_id, &m.id, &me, &row.code, attempt.n, &j, now)?
                        .as_str()
                        .into();
                } else {
                    let used = u32::try_from(attempt.n).unwrap_or(u32::MAX);
                    out.attempts_left = Some(rules.qualification_attempts.saturating_sub(used));
                }
                out.passed = Some(j.passed);
                details["result"] = serde_json::json!({
                    "passed": j.passed, "within": j.within, "total": j.total, "max_deviation": j.max_deviation,
                });
            }
            entry.exam(&t.exam_id).details(details).append(c, now)?;
            Ok(out)
        })
        .await;
    let scored = audit_refusal(&state, audit, result).await?;
    Ok(HttpResponse::Ok().json(scored))
}

/// A pass: qualified for the question, and active once qualified for any.
#[allow(clippy::too_many_arguments)]
fn qualify(
    c: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    by: &str,
    question: &str,
    n: i32,
    j: &Judgement,
    now: DateTime<Utc>,
) -> Result<MarkerStatus, ApiError> {
    let why = format!(
        "passed the qualification test for {question} (attempt {n}: {} of {} within the tolerance)",
        j.within, j.total
    );
    let mut status = db::markers::status(c, exam_id, marker_id)?;
    for event in [MarkerEvent::Qualify, MarkerEvent::Activate] {
        let to = transition(status, event)?;
        let change = Change {
            exam_id,
            marker_id,
            from: status,
            to,
            by: Some(by),
            reason: &why,
            reasons: "[]",
        };
        db::markers::set_status(c, &change, now)?;
        status = to;
    }
    Ok(status)
}
