//! Leadership's queues (R7): disputes with every mark side by side and arbitration, back-reads
//! (复评), problem scripts. A leader scoped to questions sees and settles only theirs. Reading
//! a queue is audited: it shows marks and marker ids.

use actix_web::{get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::exams::{exam_by_code, not_related};
use crate::db::exams::{ExamRow, QuestionRow};
use crate::db::scripts::ImageOf;
use crate::db::{self, DbConn};
use crate::domain::resolution::Method;
use crate::domain::{RuleError, Score};
use crate::http::audit_entry::{Audit, audit_refusal};
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::image_links::mint_for;
use crate::http::json::Json;
use crate::http::resolution::{record_final, settle};
use crate::http::state::AppState;

/// How long a leader's image link in a queue lives.
const LINK_MINUTES: i64 = 30;

/// The exam's questions this leader works on: all for a chief, their scope otherwise.
pub fn questions_for_leader(
    c: &mut DbConn,
    exam: &ExamRow,
    leader: &str,
    chief: bool,
) -> Result<Vec<QuestionRow>, ApiError> {
    let all = db::exams::questions_of(c, &exam.id)?;
    if chief {
        return Ok(all);
    }
    let scope = db::users::scope_codes(c, &exam.id, leader)?;
    Ok(all.into_iter().filter(|q| scope.contains(&q.code)).collect())
}

fn check_in_scope(c: &mut DbConn, exam: &ExamRow, leader: &Leader, question_id: &str) -> Result<QuestionRow, ApiError> {
    not_related(c, &exam.id, &leader.id)?;
    questions_for_leader(c, exam, &leader.id, leader.chief)?
        .into_iter()
        .find(|q| q.id == question_id)
        .ok_or_else(|| ApiError::forbidden("out_of_scope", "this question is not in your scope"))
}

fn image(c: &mut DbConn, exam_id: &str, script_id: &str, holder: &str, now: DateTime<Utc>) -> Result<String, ApiError> {
    let script = db::scripts::script(c, script_id)?;
    let expires = now + Duration::minutes(LINK_MINUTES);
    Ok(mint_for(
        c,
        exam_id,
        ImageOf::Script(script_id),
        &script.image_key,
        holder,
        expires,
    )?
    .0)
}

fn reason(raw: &str) -> Result<String, RuleError> {
    super::marker_standing::check_reason("reason", raw)
}

fn exam_of(c: &mut DbConn, exam_id: &str) -> Result<ExamRow, ApiError> {
    Ok(db::exams::by_id(c, exam_id)?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Only this question (its code).
    pub question: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkView {
    pub marker_id: String,
    #[schema(value_type = f64)]
    pub score: Score,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Discrepancy {
    pub id: String,
    pub question: String,
    pub anonymous_code: String,
    /// `marks`, or `backread` when a back-read disagreed with the final.
    pub cause: String,
    #[schema(value_type = f64)]
    pub spread: Score,
    pub marks: Vec<MarkView>,
    pub images: Vec<String>,
    pub opened_at: DateTime<Utc>,
}

/// Builds a queue's items from the exam and the leader's questions.
type QueueBuilder<T> = fn(&mut DbConn, &ExamRow, &[QuestionRow], &str, DateTime<Utc>) -> Result<Vec<T>, ApiError>;

/// Reads a queue within the leader's scope, audited.
async fn read_queue<T: Send + 'static>(
    state: &AppState,
    leader: &Leader,
    code: String,
    only: Option<String>,
    what: &'static str,
    build: QueueBuilder<T>,
) -> Result<Vec<T>, ApiError> {
    let audit = leader
        .audit("queue.read")
        .details(serde_json::json!({ "queue": what, "exam": code }));
    let (me, chief, now, entry) = (leader.id.clone(), leader.chief, state.now(), audit.clone());
    let result = state
        .db
        .write(move |c| -> Result<Vec<T>, ApiError> {
            let exam = exam_by_code(c, &code)?;
            not_related(c, &exam.id, &me)?;
            let questions: Vec<QuestionRow> = questions_for_leader(c, &exam, &me, chief)?
                .into_iter()
                .filter(|q| only.as_ref().is_none_or(|o| &q.code == o))
                .collect();
            let items = build(c, &exam, &questions, &me, now)?;
            entry
                .exam(&exam.id)
                .details(serde_json::json!({ "queue": what, "items": items.len() }))
                .append(c, now)?;
            Ok(items)
        })
        .await;
    audit_refusal(state, audit, result).await
}

fn code_of(questions: &[QuestionRow], id: &str) -> String {
    questions
        .iter()
        .find(|q| q.id == id)
        .map(|q| q.code.clone())
        .unwrap_or_default()
}

fn build_discrepancies(
    c: &mut DbConn,
    exam: &ExamRow,
    questions: &[QuestionRow],
    me: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Discrepancy>, ApiError> {
    let ids: Vec<String> = questions.iter().map(|q| q.id.clone()).collect();
    let mut out = vec![];
    for d in db::results::open_disputes(c, &exam.id, &ids)? {
        let script = db::scripts::script(c, &d.script_id)?;
        let marks = db::marking::valid_marks(c, &exam.id, &d.script_id)?
            .into_iter()
            .map(|(marker_id, score, at)| MarkView {
                marker_id,
                score: Score::from_hundredths(score),
                at: at.and_utc(),
            })
            .collect();
        out.push(Discrepancy {
            images: vec![image(c, &exam.id, &d.script_id, me, now)?],
            question: code_of(questions, &d.question_id),
            anonymous_code: script.anonymous_code,
            cause: d.cause,
            spread: Score::from_hundredths(d.spread),
            marks,
            opened_at: d.opened_at.and_utc(),
            id: d.id,
        });
    }
    Ok(out)
}

/// Open disputes (leaders; within their scope), widest spread first, with every valid mark and
/// its marker, and a link to the script's image.
#[utoipa::path(
    tag = "leadership",
    params(("exam" = String, Path, description = "Exam code"), QueueQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The queue", body = Vec<Discrepancy>),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/discrepancies")]
pub async fn discrepancies(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    query: web::Query<QueueQuery>,
) -> Result<web::Json<Vec<Discrepancy>>, ApiError> {
    let q = query.into_inner().question;
    read_queue(
        &state,
        &leader,
        path.into_inner(),
        q,
        "discrepancies",
        build_discrepancies,
    )
    .await
    .map(web::Json)
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settlement {
    #[schema(value_type = f64)]
    pub score: Score,
    #[schema(max_length = 500, pattern = r"\S")]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Settled {
    pub id: String,
    #[schema(value_type = f64)]
    pub score: Score,
    pub method: String,
}

/// Runs a leader's settling act in a transaction, audited as `action`.
async fn settle_act<F>(state: &AppState, audit: Audit, act: F) -> Result<Settled, ApiError>
where
    F: FnOnce(&mut DbConn, DateTime<Utc>, &Audit) -> Result<Settled, ApiError> + Send + 'static,
{
    let (now, entry) = (state.now(), audit.clone());
    let result = state.db.write(move |c| act(c, now, &entry)).await;
    audit_refusal(state, audit, result).await
}

/// Arbitrate a dispute: the leader's score (on the scale) and a reason become the final.
#[utoipa::path(
    tag = "leadership",
    params(("id" = String, Path, description = "Dispute id")),
    request_body = Settlement,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Resolved", body = Settled),
        (status = 403, description = "Not in your scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dispute", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Settled already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Off the scale, or no reason", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/discrepancies/{id}/arbitrate")]
pub async fn arbitrate(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<Settlement>,
) -> Result<web::Json<Settled>, ApiError> {
    let id = path.into_inner();
    let audit = leader.audit("dispute.arbitrate").object("dispute", &id);
    let b = match body.into_inner() {
        Ok(b) => b,
        Err(e) => return audit_refusal(&state, audit, Err(e)).await.map(web::Json),
    };
    let result = settle_act(&state, audit, move |c, now, entry| {
        let why = reason(&b.reason)?;
        let d = db::results::dispute(c, &id).map_err(missing("dispute"))?;
        let exam = exam_of(c, &d.exam_id)?;
        let row = check_in_scope(c, &exam, &leader, &d.question_id)?;
        row.question()?.check_score("score", b.score)?;
        if !db::results::settle_dispute(c, &d, &leader.id, b.score.hundredths(), &why, now)? {
            return Err(RuleError::conflict("already_settled", "this dispute is settled already").into());
        }
        record_final(
            c,
            &d.exam_id,
            &d.script_id,
            &d.question_id,
            b.score,
            Method::Arbitration,
            Some((&leader.id, &why)),
            now,
        )?;
        entry
            .clone()
            .exam(&d.exam_id)
            .details(serde_json::json!({ "score": b.score, "reason": why }))
            .append(c, now)?;
        Ok(Settled {
            id: d.id,
            score: b.score,
            method: Method::Arbitration.as_str().into(),
        })
    })
    .await;
    result.map(web::Json)
}

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
    #[schema(value_type = f64)]
    pub score: Score,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Score a back-read. Within the tolerance of the final nothing changes; beyond it the script is
/// disputed again and arbitration settles it.
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
        let note = b
            .note
            .as_deref()
            .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "));
        if note
            .as_ref()
            .is_some_and(|n| n.chars().count() > 500 || n.chars().any(char::is_control))
        {
            return Err(RuleError::invalid("invalid_note", "note", "a note is at most 500 characters of text").into());
        }
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "action")]
pub enum ProblemDecision {
    /// The leader scores it, as an arbitration.
    Score {
        #[schema(value_type = f64)]
        score: Score,
        reason: String,
    },
    /// Back to marking (to markers who never held it).
    Return { reason: String },
}

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
                settle(c, &p.exam_id, &p.script_id, &exam.rules(&defaults)?, now)?;
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
