//! Marker reviews (R6, R10): what paused a marker and the evidence, and the decision that ends
//! the review: `reinstate` (any leader of the exam) or `suspend` (a chief leader asks, a second
//! chief approves the `suspend_marker` request; on approval the marker's marks in the scope are
//! voided and marked afresh).

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::approvals::{CreateApproval, file_request};
use super::exams::{exam_by_code, not_related};
use super::marker_standing::{check_reason, reinstate_marker};
use super::queues::questions_for_leader;
use crate::db::exams::ExamRow;
use crate::db::reviews::ReviewRow;
use crate::db::{self, DbConn};
use crate::domain::RuleError;
use crate::domain::approval::ApprovalKind;
use crate::domain::triggers::{self, ReviewDecision};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewView {
    pub id: String,
    pub marker_id: String,
    pub marker_name: String,
    /// What paused the marker: `seed_misses`, `severity`, `erratic`, `central_tendency`,
    /// `drift` (the first of several), `leader` or `ineligible`.
    pub kind: String,
    /// The figures that paused them (question, triggers, figures, seeds, self-checks).
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// `open` or `decided`.
    pub status: String,
    pub opened_at: DateTime<Utc>,
    /// `reinstate`, `suspend` or `dismiss`.
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

fn view(r: ReviewRow, marker_name: String) -> ReviewView {
    ReviewView {
        evidence: serde_json::from_str(&r.evidence).unwrap_or(serde_json::Value::String(r.evidence)),
        id: r.id,
        marker_id: r.marker_id,
        marker_name,
        kind: r.kind,
        status: r.status,
        opened_at: r.opened_at.and_utc(),
        decision: r.decision,
        decided_by: r.decided_by,
        decided_at: r.decided_at.map(|t| t.and_utc()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    /// `open` or `decided`; all when absent.
    #[param(pattern = "^(open|decided)$")]
    pub status: Option<String>,
}

/// The exam's marker reviews, oldest first: who, why, the evidence and how each ended.
/// Reading them is audited (they show marker ids and figures). A leader scoped to questions
/// sees the reviews of their questions' triggers and those about no question.
#[utoipa::path(
    tag = "markers",
    params(("exam" = String, Path, description = "Exam code"), ReviewQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Reviews", body = Vec<ReviewView>),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown status", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/reviews")]
pub async fn list_reviews(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    query: web::Query<ReviewQuery>,
) -> Result<web::Json<Vec<ReviewView>>, ApiError> {
    let code = path.into_inner();
    let status = query.into_inner().status;
    let audit = leader.audit("reviews.read");
    let (me, chief, now, entry) = (leader.id.clone(), leader.chief, state.now(), audit.clone());
    let result = async {
        if let Some(s) = &status
            && s != "open"
            && s != "decided"
        {
            return Err(RuleError::invalid("invalid_status", "status", "a review is `open` or `decided`").into());
        }
        state
            .db
            .write(move |c| -> Result<Vec<ReviewView>, ApiError> {
                let exam = exam_by_code(c, &code)?;
                not_related(c, &exam.id, &me)?;
                let codes = leader_codes(c, &exam, &me, chief)?;
                let rows: Vec<_> = db::reviews::of_exam(c, &exam.id, status.as_deref())?
                    .into_iter()
                    .filter(|(r, _)| triggers::review_in_scope(question_of(r).as_deref(), chief, &codes))
                    .collect();
                entry
                    .exam(&exam.id)
                    .details(serde_json::json!({ "reviews": rows.len() }))
                    .append(c, now)?;
                Ok(rows.into_iter().map(|(r, name)| view(r, name)).collect())
            })
            .await
    }
    .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideReview {
    pub decision: ReviewDecision,
    /// Why, in words the archive keeps.
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub reason: String,
    /// For `suspend`: `all` (every mark of the marker on this exam, the default) or `since`.
    #[serde(default)]
    #[schema(pattern = "^(all|since)$")]
    pub scope: Option<String>,
    /// With scope `since`: marks made at or after this time are voided.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
}

/// The review and its exam's code, checked open and within the leader's reach. With `lock`,
/// the marker's record and then the review are locked (the order every act on a marker takes).
fn open_review(
    c: &mut DbConn,
    id: &str,
    (leader, chief): (&str, bool),
    lock: bool,
) -> Result<(ReviewRow, String), ApiError> {
    let mut review = db::reviews::find(c, id).map_err(missing("review"))?;
    if lock {
        db::markers::lock(c, &review.marker_id)?;
        review = db::reviews::find_locked(c, id)?;
    }
    let exam = db::exams::by_id(c, &review.exam_id)?;
    not_related(c, &exam.id, leader)?;
    let codes = leader_codes(c, &exam, leader, chief)?;
    if !triggers::review_in_scope(question_of(&review).as_deref(), chief, &codes) {
        return Err(out_of_scope());
    }
    triggers::check_open(&review.status)?;
    Ok((review, exam.code))
}

/// The question a review's evidence names (a trigger's), if any.
fn question_of(r: &ReviewRow) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(&r.evidence)
        .ok()?
        .get("question")?
        .as_str()
        .map(str::to_string)
}

/// The question codes the leader works on (all for a chief).
fn leader_codes(c: &mut DbConn, exam: &ExamRow, leader: &str, chief: bool) -> Result<Vec<String>, ApiError> {
    Ok(questions_for_leader(c, exam, leader, chief)?
        .into_iter()
        .map(|q| q.code)
        .collect())
}

fn out_of_scope() -> ApiError {
    ApiError::forbidden("out_of_scope", "this review is about a question outside your scope")
}

/// Decide a marker review. `reinstate` puts the marker back to work at once (one leader; every
/// eligibility rule must still hold) and closes their open reviews. `suspend` files a
/// `suspend_marker` request (chief leaders only; others get `approval_not_allowed`) with the
/// scope of marks to void; a second chief approves it at `/approvals/{id}/approve`, which
/// suspends the marker, voids those marks, opens one fresh independent task per voided mark,
/// takes the scripts back out of resolved and writes a discipline entry.
///
/// Refused by a rule across fields: `invalid_scope` (a scope or a time only with `suspend`, and a
/// time only with scope `since`).
#[utoipa::path(
    tag = "markers",
    params(("id" = String, Path, description = "Review id")),
    request_body = DecideReview,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Reinstated: the review as decided", body = ReviewView),
        (status = 201, description = "Suspension requested: the approval waiting for a second chief leader", body = super::approvals::ApprovalView),
        (status = 403, description = "A suspension asked by a leader who is not chief", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such review", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided already, the marker not paused, or still ineligible", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad reason or scope", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/reviews/{id}/decide")]
pub async fn decide_review(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<DecideReview>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let audit = leader.audit("review.decide").object("review", &id);
    let body = match body.into_inner() {
        Ok(b) => b,
        Err(e) => return audit_refusal(&state, audit, Err::<HttpResponse, _>(e)).await,
    };
    match body.decision {
        ReviewDecision::Reinstate => reinstate(state, leader, id, body).await,
        ReviewDecision::Suspend => suspend(state, leader, id, body).await,
    }
}

async fn reinstate(
    state: web::Data<AppState>,
    leader: Leader,
    id: String,
    body: DecideReview,
) -> Result<HttpResponse, ApiError> {
    let audit = leader.audit("review.decide").object("review", &id);
    let chief = leader.chief;
    let (me, now, defaults, entry) = (
        leader.id.clone(),
        state.now(),
        state.settings.rules.clone(),
        audit.clone(),
    );
    let result = async {
        let reason = check_reason("reason", &body.reason)?;
        if body.scope.is_some() || body.since.is_some() {
            return Err(RuleError::invalid("invalid_scope", "scope", "a scope goes with a suspension").into());
        }
        state
            .db
            .write(move |c| -> Result<ReviewView, ApiError> {
                let (review, code) = open_review(c, &id, (&me, chief), true)?;
                let exam = exam_by_code(c, &code)?;
                let m = db::markers::find(c, &review.marker_id)?;
                reinstate_marker(c, &exam, &m, &me, &reason, &defaults, now)?;
                entry
                    .exam(&exam.id)
                    .details(serde_json::json!({ "decision": "reinstate", "marker": m.id, "reason": reason }))
                    .append(c, now)?;
                let decided = db::reviews::find(c, &id)?;
                let name = db::users::find(c, &m.user_id)?.map(|u| u.full_name).unwrap_or_default();
                Ok(view(decided, name))
            })
            .await
    }
    .await;
    let v = audit_refusal(&state, audit, result).await?;
    Ok(HttpResponse::Ok().json(v))
}

async fn suspend(
    state: web::Data<AppState>,
    leader: Leader,
    id: String,
    body: DecideReview,
) -> Result<HttpResponse, ApiError> {
    let (me, chief) = (leader.id.clone(), leader.chief);
    let lookup = id.clone();
    let found = state
        .db
        .read(move |c| open_review(c, &lookup, (&me, chief), false))
        .await;
    let (review, code) = match found {
        Ok(f) => f,
        Err(e) => {
            let audit = leader.audit("review.decide").object("review", &id);
            return audit_refusal(&state, audit, Err::<HttpResponse, _>(e)).await;
        }
    };
    let request = CreateApproval {
        kind: ApprovalKind::SuspendMarker,
        payload: serde_json::json!({
            "marker_id": review.marker_id,
            "reason": body.reason,
            "scope": body.scope,
            "since": body.since,
            "review_id": review.id,
        }),
    };
    file_request(&state, &leader, Some(code), request).await
}
