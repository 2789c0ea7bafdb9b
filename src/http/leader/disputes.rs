//! Disputes: every valid mark side by side, and arbitration with a reason.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::queues::{
    QueueQuery, Settled, Settlement, check_in_scope, code_of, exam_of, image, read_queue, reason, settle_act,
};
use crate::db::exams::{ExamRow, QuestionRow};
use crate::db::{self, DbConn};
use crate::domain::resolution::Method;
use crate::domain::{RuleError, Score};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::resolution::record_final;
use crate::http::state::AppState;

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

/// Arbitrate a dispute: the leader's score (on the scale) and a reason become the final.
///
/// Refused by a rule of state: `invalid_score` (off the question's scale or step).
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
