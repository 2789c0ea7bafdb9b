//! Back-reads (复评): resolved scripts sampled for a leader's blind second look.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::queues::{QueueQuery, Settled, check_in_scope, code_of, exam_of, image, read_queue, settle_act};
use crate::db::exams::{ExamRow, QuestionRow};
use crate::db::{self, DbConn};
use crate::domain::{RuleError, Score};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Backread {
    pub id: String,
    pub question: String,
    pub anonymous_code: String,
    /// Marked blind: the final is not shown.
    pub images: Vec<String>,
    pub created_at: DateTime<Utc>,
}

fn build_backreads(
    c: &mut DbConn,
    exam: &ExamRow,
    questions: &[QuestionRow],
    me: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Backread>, ApiError> {
    let ids: Vec<String> = questions.iter().map(|q| q.id.clone()).collect();
    let mut out = vec![];
    for b in db::results::open_backreads(c, &exam.id, &ids)? {
        let script = db::scripts::script(c, &b.script_id)?;
        out.push(Backread {
            images: vec![image(c, &exam.id, &b.script_id, me, now)?],
            question: code_of(questions, &b.question_id),
            anonymous_code: script.anonymous_code,
            created_at: b.created_at.and_utc(),
            id: b.id,
        });
    }
    Ok(out)
}

/// Resolved scripts sampled for a second look (复评), within the leader's scope.
#[utoipa::path(
    tag = "leadership",
    params(("exam" = String, Path, description = "Exam code"), QueueQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The queue", body = Vec<Backread>))
)]
#[get("/exams/{exam}/backreads")]
pub async fn backreads(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    query: web::Query<QueueQuery>,
) -> Result<web::Json<Vec<Backread>>, ApiError> {
    let q = query.into_inner().question;
    read_queue(&state, &leader, path.into_inner(), q, "backreads", build_backreads)
        .await
        .map(web::Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackreadScore {
    #[schema(schema_with = crate::http::schemas::score)]
    pub score: Score,
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$")]
    pub note: Option<String>,
}

/// Score a back-read. Within the tolerance of the final nothing changes; beyond it the script is
/// disputed again and arbitration settles it.
///
/// Refused by a rule of state: `invalid_score` (off the question's scale or step).
#[utoipa::path(
    tag = "leadership",
    params(("id" = String, Path, description = "Back-read id")),
    request_body = BackreadScore,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Recorded; `method` is the final's (unchanged) or `disputed`", body = Settled),
        (status = 404, description = "No such back-read", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Done already", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/backreads/{id}/score")]
pub async fn score_backread(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<BackreadScore>,
) -> Result<web::Json<Settled>, ApiError> {
    let id = path.into_inner();
    let audit = leader.audit("backread.score").object("backread", &id);
    let b = match body.into_inner() {
        Ok(b) => b,
        Err(e) => return audit_refusal(&state, audit, Err(e)).await.map(web::Json),
    };
    let result = settle_act(&state, audit, move |c, now, entry| {
        if b.note
            .as_deref()
            .is_some_and(|n| !crate::domain::text::is_plain(n, 500))
        {
            return Err(RuleError::invalid("invalid_note", "note", "a note is at most 500 characters of text").into());
        }
        let note = b.note.as_deref().map(crate::domain::text::tidy);
        let br = db::results::backread(c, &id).map_err(missing("back-read"))?;
        let exam = exam_of(c, &br.exam_id)?;
        let row = check_in_scope(c, &exam, &leader, &br.question_id)?;
        let q = row.question()?;
        q.check_score("score", b.score)?;
        if !db::results::finish_backread(c, &br, &leader.id, b.score.hundredths(), note.as_deref(), now)? {
            return Err(RuleError::conflict("already_done", "this back-read is done already").into());
        }
        let (final_score, method) = db::results::final_of(c, &br.exam_id, &br.script_id)?
            .ok_or_else(|| RuleError::conflict("not_resolved", "the script has no final now"))?;
        let gap = (final_score - b.score.hundredths()).abs();
        let outcome = if gap > q.tolerance.hundredths() {
            db::results::clear_final(c, &br.exam_id, &br.script_id)?;
            db::results::open_dispute(c, &br.exam_id, &br.script_id, &br.question_id, "backread", gap, now)?;
            db::marking::set_script_state(c, &br.exam_id, &br.script_id, "disputed")?;
            "disputed".to_string()
        } else {
            method
        };
        entry
            .clone()
            .exam(&br.exam_id)
            .details(serde_json::json!({ "score": b.score, "outcome": outcome }))
            .append(c, now)?;
        Ok(Settled {
            id: br.id,
            score: b.score,
            method: outcome,
        })
    })
    .await;
    result.map(web::Json)
}
