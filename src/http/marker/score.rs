//! A marker's mark (R7): once, by the lease holder, before the lease ends, on the scale. A
//! retried submit with the same `Idempotency-Key` answers what the first did. The mark that
//! completes a script's set resolves it in the same transaction.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::door::MarkerDoor;
use crate::db::exams::{ExamRow, QuestionRow};
use crate::db::marking::ServeRow;
use crate::db::{self, DbConn};
use crate::domain::marking::{Annotation, check_mark};
use crate::domain::{RuleError, Score};
use crate::http::audit_entry::{audit_refusal, refuse};
use crate::http::caller::Refusal;
use crate::http::error::{ApiError, Problem};
use crate::http::json::Json;
use crate::http::state::AppState;
use crate::secrets::sha256_hex;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    #[schema(schema_with = crate::http::schemas::score)]
    pub score: Score,
    /// Per criterion (code → score); they add up to `score`.
    #[serde(default)]
    #[schema(schema_with = crate::http::schemas::criteria_scores)]
    pub criteria: Option<BTreeMap<String, Score>>,
    #[serde(default)]
    pub annotations: Vec<Annotation>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 86400)]
    pub seconds_spent: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Scored {
    pub task_id: String,
    #[schema(value_type = f64)]
    pub score: Score,
    pub recorded_at: DateTime<Utc>,
}

/// The caller's serve, or 404 (another marker's task is nobody's business).
pub fn own_serve(c: &mut DbConn, id: &str, marker_id: &str) -> Result<ServeRow, ApiError> {
    match db::marking::serve(c, id) {
        Ok(s) if s.marker_id == marker_id => Ok(s),
        Ok(_) | Err(db::DbError::NotFound) => Err(ApiError::NotFound("task")),
        Err(e) => Err(e.into()),
    }
}

/// The holder's image links of a serve die with it.
pub fn end_links(c: &mut DbConn, s: &ServeRow, user: &str) -> Result<(), ApiError> {
    match (&s.script_id, &s.prescored_id) {
        (_, Some(p)) => db::scripts::revoke_prescored_tokens(c, &s.exam_id, p, user)?,
        (Some(script), None) => db::scripts::revoke_script_tokens_of(c, &s.exam_id, script, user)?,
        (None, None) => 0,
    };
    Ok(())
}

/// The lease must still run.
pub fn check_running(s: &ServeRow, now: DateTime<Utc>) -> Result<(), ApiError> {
    if s.state == "scored" {
        return Err(RuleError::conflict("already_scored", "this task is marked already; a mark is not changed").into());
    }
    if !s.live_at(now) {
        return Err(RuleError::conflict("lease_expired", "this lease has ended; ask for the next script").into());
    }
    Ok(())
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let sent = v.to_str().unwrap_or_default();
    let key = sent.trim().to_string();
    if key.is_empty() || sent.len() > 200 {
        return Err(RuleError::invalid(
            "invalid_idempotency_key",
            "Idempotency-Key",
            "an Idempotency-Key is 1 to 200 characters",
        )
        .into());
    }
    Ok(Some(key))
}

/// A live mark just recorded: what the monitor and the marks counter need.
struct Live {
    exam_id: String,
    question_id: String,
    exam_code: String,
    question_code: String,
}

/// A live serve's task and script.
fn live_ids(s: &ServeRow) -> (&str, &str) {
    (
        s.task_id.as_deref().unwrap_or_default(),
        s.script_id.as_deref().unwrap_or_default(),
    )
}

/// The mark's criteria and annotations as stored.
fn mark_texts(r: &ScoreRequest) -> (String, String) {
    (
        serde_json::to_string(&r.criteria).unwrap_or_else(|_| "null".into()),
        serde_json::to_string(&r.annotations).unwrap_or_else(|_| "[]".into()),
    )
}

fn live_mark<'a>(
    s: &'a ServeRow,
    r: &ScoreRequest,
    criteria: &'a str,
    annotations: &'a str,
) -> db::marking::NewMark<'a> {
    let (task, script) = live_ids(s);
    db::marking::NewMark {
        exam_id: &s.exam_id,
        task_id: task,
        serve_id: &s.id,
        script_id: script,
        question_id: &s.question_id,
        marker_id: &s.marker_id,
        score: r.score.hundredths(),
        criteria,
        annotations,
        seconds_spent: r.seconds_spent.map(|v| i32::try_from(v).unwrap_or(i32::MAX)),
    }
}

/// A second mark of the same script by the same marker is refused, never doubled.
fn mark_error(e: db::DbError) -> ApiError {
    match e {
        db::DbError::Duplicate(_) => RuleError::conflict("already_scored", "this script has your mark already").into(),
        other => other.into(),
    }
}

/// The lease ended before the mark came.
fn lease_expired() -> ApiError {
    RuleError::conflict("lease_expired", "this lease has ended").into()
}

/// A live mark on PostgreSQL: its writes in one statement (`db::marking::score_live_pg`), then
/// the script's resolution. Returns the exam's code, for the marks counter.
#[allow(clippy::too_many_arguments)]
fn record_live_at_once(
    c: &mut DbConn,
    s: &ServeRow,
    user: &str,
    exam: &ExamRow,
    r: &ScoreRequest,
    question: &QuestionRow,
    answer: Option<&db::idempotency::Kept<'_>>,
    entry: crate::http::audit_entry::Audit,
    now: DateTime<Utc>,
    rules_defaults: &crate::domain::rules::MarkingRules,
) -> Result<Option<String>, ApiError> {
    let (criteria, annotations) = mark_texts(r);
    let mark = live_mark(s, r, &criteria, &annotations);
    let written = db::marking::score_live_pg(c, &mark, user, answer, &entry.entry(), now).map_err(|e| match e {
        // The key was looked up under the marker's lock: only the mark can collide.
        db::DbError::Duplicate(why) if why.contains("idempotency") => {
            db::DbError::Stale("the idempotency key".into()).into()
        }
        other => mark_error(other),
    })?;
    let Some(script) = written else {
        return Err(lease_expired());
    };
    let rules = exam.rules(rules_defaults)?;
    crate::http::resolution::settle_locked(c, &s.exam_id, live_ids(s).1, &script, &rules, Some(question), now)?;
    Ok(Some(exam.code.clone()))
}

/// Records the mark by kind: a live mark (then the script may resolve), a seed's score against
/// its definitive one, a self-check against the marker's earlier mark. Returns the exam's code
/// for a live mark.
fn record(
    c: &mut DbConn,
    s: &ServeRow,
    exam: &ExamRow,
    r: &ScoreRequest,
    question: &QuestionRow,
    now: DateTime<Utc>,
    rules_defaults: &crate::domain::rules::MarkingRules,
) -> Result<Option<String>, ApiError> {
    match s.kind.as_str() {
        "live" => {
            let (task, script) = live_ids(s);
            let (criteria, annotations) = mark_texts(r);
            let mark = live_mark(s, r, &criteria, &annotations);
            db::marking::insert_mark(c, &mark, now).map_err(mark_error)?;
            db::marking::set_task_state(c, &s.exam_id, task, "done", now)?;
            let rules = exam.rules(rules_defaults)?;
            crate::http::resolution::settle(c, &s.exam_id, script, &rules, Some(question), now)?;
            // The exam's code, for the marks counter.
            return Ok(Some(exam.code.clone()));
        }
        "seed" => {
            let p = db::prescored::find(c, &s.exam_id, s.prescored_id.as_deref().unwrap_or_default())?;
            db::marking::insert_seed_mark(
                c,
                s,
                &p.id,
                r.score.hundredths(),
                r.score.hundredths() - p.definitive,
                now,
            )?;
            let rules = exam.rules(rules_defaults)?;
            crate::http::triggers::check_seeds(c, &s.exam_id, question, &s.marker_id, &rules, now)?;
        }
        _ => {
            let script = s.script_id.as_deref().unwrap_or_default();
            let earlier = db::marking::mark_of(c, &s.exam_id, script, &s.marker_id)?;
            db::marking::insert_self_check(c, s, script, r.score.hundredths(), earlier, now)?;
        }
    }
    Ok(None)
}

/// Mark the leased script: `{score, criteria?, annotations?, seconds_spent?}`, with an
/// `Idempotency-Key` header so that a retried submit is answered, not doubled. Only the lease
/// holder, only while the lease runs, only a multiple of the step inside the scale; criteria
/// add up to the score. A mark is never changed by the marker.
#[utoipa::path(
    tag = "marking",
    params(("id" = String, Path, description = "Task id (of the lease)"), ("Idempotency-Key" = Option<String>, Header, max_length = 200, pattern = "^[!-~]([ -~]*[!-~])?$", description = "Makes a retried submit return the first answer: 1 to 200 printable ASCII characters")),
    request_body = ScoreRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Recorded", body = Scored),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Marked already, or the lease ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Off the scale or step, criteria not adding up, a bad annotation, or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/marking/tasks/{id}/score")]
pub async fn score(
    state: web::Data<AppState>,
    door: MarkerDoor,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<ScoreRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let marker = door.caller().clone();
    let audit = marker.audit("marking.score").object("task", &id);
    let (key, r) = match idempotency_key(&req).and_then(|key| body.into_inner().map(|r| (key, r))) {
        Ok(sent) => sent,
        Err(e) => {
            door.admit(&state).await?;
            return Err(refuse(&state, audit, e).await);
        }
    };
    let result = async {
        // The key answers for this task and this body only.
        let hash = sha256_hex(format!("{id}\n{}", serde_json::to_string(&r).unwrap_or_default()).as_bytes());
        let now = state.now();
        let (me, defaults, entry) = (marker.id.clone(), state.settings.rules.clone(), audit.clone());
        state
            .db
            .write(move |c| -> Result<Result<(Scored, Option<Live>), Refusal>, ApiError> {
                let m = match door.enter_locked(c, now)? {
                    Ok(m) => m,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                let db::marking::ForScore {
                    serve: s,
                    question: row,
                    answered,
                } = match db::marking::serve_for_score(c, &id, &me, key.as_deref()) {
                    Ok(f) if f.serve.marker_id == m.id => f,
                    Ok(_) | Err(db::DbError::NotFound) => return Err(ApiError::NotFound("task")),
                    Err(e) => return Err(e.into()),
                };
                if let Some((first_hash, _, response)) = answered {
                    if first_hash != hash {
                        return Err(RuleError::invalid(
                            "idempotency_key_reused",
                            "Idempotency-Key",
                            "this Idempotency-Key came with another request body",
                        )
                        .into());
                    }
                    let first = serde_json::from_str(&response).map_err(|e| ApiError::Internal(e.to_string()))?;
                    return Ok(Ok((first, None)));
                }
                check_running(&s, now)?;
                let exam = super::lease::check_may_mark(c, &s.exam_id, &m, now)?;
                check_mark(
                    &row.question()?,
                    r.score,
                    r.criteria.as_ref(),
                    &r.annotations,
                    r.seconds_spent,
                )?;
                let scored = Scored {
                    task_id: s.id.clone(),
                    score: r.score,
                    recorded_at: now,
                };
                let response = serde_json::to_string(&scored).map_err(|e| ApiError::Internal(e.to_string()))?;
                let answer = key.as_deref().map(|key| db::idempotency::Kept {
                    exam_id: &s.exam_id,
                    user_id: &me,
                    key,
                    request_hash: &hash,
                    status: 200,
                    response: &response,
                });
                let entry = entry
                    .exam(&s.exam_id)
                    .details(serde_json::json!({ "seconds_spent": r.seconds_spent }));
                let exam_code = if s.kind == "live" && matches!(c, DbConn::Pg(_)) {
                    record_live_at_once(c, &s, &me, &exam, &r, &row, answer.as_ref(), entry, now, &defaults)?
                } else {
                    if !db::marking::end_serve(c, &s, "scored", now)? {
                        return Err(lease_expired());
                    }
                    end_links(c, &s, &me)?;
                    let exam_code = record(c, &s, &exam, &r, &row, now, &defaults)?;
                    if let Some(answer) = &answer {
                        db::idempotency::keep(c, answer, now)?;
                    }
                    entry.append(c, now)?;
                    exam_code
                };
                let live = exam_code.map(|exam_code| Live {
                    exam_id: s.exam_id.clone(),
                    question_id: s.question_id.clone(),
                    exam_code,
                    question_code: row.code.clone(),
                });
                Ok(Ok((scored, live)))
            })
            .await
    }
    .await;
    let result = match result {
        // Turned away at the door: audited as every route's refusal is, not as a score's.
        Ok(Err(refusal)) => return Err(refusal.answer(&state).await),
        Ok(Ok(done)) => Ok(done),
        Err(e) => Err(e),
    };
    let (scored, live) = audit_refusal(&state, audit, result).await?;
    if let Some(live) = live {
        crate::http::metrics::mark_recorded(&live.exam_code, &live.question_code);
        crate::http::monitor::after_mark(&state, &live.exam_id, &live.question_id);
    }
    Ok(HttpResponse::Ok().json(scored))
}
