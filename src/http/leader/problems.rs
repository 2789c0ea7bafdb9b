//! Problem scripts flagged by markers: scored by a leader (an arbitration) or returned.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::queues::{QueueQuery, Settled, check_in_scope, code_of, exam_of, image, read_queue, reason, settle_act};
use crate::db::exams::{ExamRow, QuestionRow};
use crate::db::{self, DbConn};
use crate::domain::resolution::Method;
use crate::domain::{RuleError, Score};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::resolution::{record_final, settle};
use crate::http::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemView {
    pub id: String,
    pub question: String,
    pub anonymous_code: String,
    pub kind: String,
    pub note: String,
    pub flagged_by: String,
    pub images: Vec<String>,
    pub created_at: DateTime<Utc>,
}

fn build_problems(
    c: &mut DbConn,
    exam: &ExamRow,
    questions: &[QuestionRow],
    me: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ProblemView>, ApiError> {
    let ids: Vec<String> = questions.iter().map(|q| q.id.clone()).collect();
    let mut out = vec![];
    for p in db::results::open_problems(c, &exam.id, &ids)? {
        let script = db::scripts::script(c, &p.script_id)?;
        out.push(ProblemView {
            images: vec![image(c, &exam.id, &p.script_id, me, now)?],
            question: code_of(questions, &p.question_id),
            anonymous_code: script.anonymous_code,
            kind: p.kind,
            note: p.note,
            flagged_by: p.flagged_by,
            created_at: p.created_at.and_utc(),
            id: p.id,
        });
    }
    Ok(out)
}

/// Problem scripts flagged by markers (blank, illegible, misplaced, misconduct).
#[utoipa::path(
    tag = "leadership",
    params(("exam" = String, Path, description = "Exam code"), QueueQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The queue", body = Vec<ProblemView>))
)]
#[get("/exams/{exam}/problems")]
pub async fn problems(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    query: web::Query<QueueQuery>,
) -> Result<web::Json<Vec<ProblemView>>, ApiError> {
    let q = query.into_inner().question;
    read_queue(&state, &leader, path.into_inner(), q, "problems", build_problems)
        .await
        .map(web::Json)
}

/// The schema is written out (`schemas::problem_decision`): utoipa's derive would let each
/// variant take fields the server refuses.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "action")]
pub enum ProblemDecision {
    /// The leader scores it, as an arbitration.
    Score { score: Score, reason: String },
    /// Back to marking (to markers who never held it).
    Return { reason: String },
}

impl utoipa::PartialSchema for ProblemDecision {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::http::schemas::problem_decision()
    }
}

impl ToSchema for ProblemDecision {}

/// Settle a problem script: `{"action": "score", "score", "reason"}` (a final by arbitration)
/// or `{"action": "return", "reason"}` (back to marking).
#[utoipa::path(
    tag = "leadership",
    params(("id" = String, Path, description = "Problem id")),
    request_body = ProblemDecision,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Settled", body = Settled),
        (status = 404, description = "No such problem", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Settled already", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/problems/{id}/resolve")]
pub async fn resolve_problem(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<ProblemDecision>,
) -> Result<web::Json<Settled>, ApiError> {
    let id = path.into_inner();
    let audit = leader.audit("problem.resolve").object("problem", &id);
    let decision = match body.into_inner() {
        Ok(b) => b,
        Err(e) => return audit_refusal(&state, audit, Err(e)).await.map(web::Json),
    };
    let defaults = state.settings.rules.clone();
    let result = settle_act(&state, audit, move |c, now, entry| {
        let p = db::results::problem(c, &id).map_err(missing("problem"))?;
        let exam = exam_of(c, &p.exam_id)?;
        let row = check_in_scope(c, &exam, &leader, &p.question_id)?;
        let (resolution, why, settled) = match decision {
            ProblemDecision::Score { score, reason: r } => {
                row.question()?.check_score("score", score)?;
                ("scored", reason(&r)?, Some(score))
            }
            ProblemDecision::Return { reason: r } => ("returned", reason(&r)?, None),
        };
        if !db::results::settle_problem(c, &p, resolution, &leader.id, &why, now)? {
            return Err(RuleError::conflict("already_settled", "this problem is settled already").into());
        }
        let method = match settled {
            Some(score) => {
                crate::http::resolution::withdraw(c, &p.exam_id, &p.script_id, "withdrawn", None, now)?;
                record_final(
                    c,
                    &p.exam_id,
                    &p.script_id,
                    &p.question_id,
                    score,
                    Method::Arbitration,
                    Some((&leader.id, &why)),
                    now,
                )?;
                Method::Arbitration.as_str().to_string()
            }
            None => {
                db::marking::set_script_state(c, &p.exam_id, &p.script_id, "marking")?;
                settle(c, &p.exam_id, &p.script_id, &exam.rules(&defaults)?, None, now)?;
                "returned".to_string()
            }
        };
        entry
            .clone()
            .exam(&p.exam_id)
            .details(serde_json::json!({ "resolution": resolution, "reason": why }))
            .append(c, now)?;
        Ok(Settled {
            id: p.id,
            score: settled.unwrap_or(Score::ZERO),
            method,
        })
    })
    .await;
    result.map(web::Json)
}
