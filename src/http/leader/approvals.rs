//! The two-person mechanism over HTTP. A request names a kind and a payload; a different
//! person with the kind's authority approves (and the act is carried out in the same
//! transaction) or rejects. Each kind's effect is one function in `apply`.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::exams::exam_by_code;
use crate::db::approvals::ApprovalRow;
use crate::db::{self, DbConn};
use crate::domain::RuleError;
use crate::domain::approval::{
    ApprovalKind, ApprovalStatus, Decision, check_activation_target, check_filing, may_decide, may_request, outcome,
};
use crate::http::audit_entry::{Audit, audit_refusal};
use crate::http::caller::{Caller, Chief};
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::{Json, JsonOrEmpty};
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApproval {
    #[schema(value_type = String, example = "activate_leader")]
    pub kind: ApprovalKind,
    /// What the act is about; its shape depends on the kind (activate_leader: `{"user_id": "…"}`).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionNote {
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    pub id: String,
    /// Exam code, for kinds that act on one exam.
    pub exam: Option<String>,
    #[schema(value_type = String)]
    pub kind: ApprovalKind,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[schema(value_type = String)]
    pub status: ApprovalStatus,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

fn view(row: ApprovalRow, exam_code: Option<String>, now: DateTime<Utc>) -> Result<ApprovalView, ApiError> {
    let state = row.state()?;
    Ok(ApprovalView {
        exam: exam_code,
        kind: state.kind,
        payload: row.payload()?,
        status: state.status_at(now),
        requested_by: row.requested_by,
        requested_at: row.requested_at.and_utc(),
        expires_at: row.expires_at.and_utc(),
        decided_by: row.decided_by,
        decided_at: row.decided_at.map(|t| t.and_utc()),
        note: row.decision_note,
        id: row.id,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateLeader {
    user_id: String,
}

/// Checks the payload of a new request against its kind, returning it in canonical form.
fn check_payload(c: &mut DbConn, kind: ApprovalKind, payload: &serde_json::Value) -> Result<String, ApiError> {
    match kind {
        ApprovalKind::ActivateLeader => {
            let p: ActivateLeader = serde_json::from_value(payload.clone()).map_err(|e| {
                RuleError::invalid(
                    "invalid_payload",
                    "payload",
                    format!("activate_leader takes {{\"user_id\": …}}: {e}"),
                )
            })?;
            let target = db::users::find(c, &p.user_id)?
                .ok_or_else(|| RuleError::invalid("unknown_user", "payload.user_id", "no such user"))?;
            check_activation_target(&target.person()?)?;
            Ok(serde_json::json!({ "user_id": p.user_id }).to_string())
        }
        other => Err(RuleError::invalid(
            "unsupported_kind",
            "kind",
            format!("{} requests are not yet handled by this server", other.as_str()),
        )
        .into()),
    }
}

/// Carries out an approved request, inside the approving transaction.
fn apply(c: &mut DbConn, row: &ApprovalRow) -> Result<(), ApiError> {
    let kind = row.state()?.kind;
    match kind {
        ApprovalKind::ActivateLeader => {
            let p: ActivateLeader =
                serde_json::from_value(row.payload()?).map_err(|e| ApiError::Internal(e.to_string()))?;
            let target = db::users::find(c, &p.user_id)?.ok_or(ApiError::NotFound("user"))?;
            check_activation_target(&target.person()?)?;
            db::users::activate(c, &p.user_id)?;
            Ok(())
        }
        other => Err(ApiError::Internal(format!("no effect defined for {}", other.as_str()))),
    }
}

async fn file_request(
    state: &AppState,
    caller: &Caller,
    exam_code: Option<String>,
    body: CreateApproval,
) -> Result<HttpResponse, ApiError> {
    let now = state.now();
    let expiry = Duration::minutes(state.settings.approvals.expiry_minutes);
    let audit = caller
        .audit("approval.request")
        .details(serde_json::json!({ "kind": body.kind.as_str(), "payload": body.payload }));
    let person = caller.person();
    let by = caller.id.clone();
    let kind = body.kind;
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<ApprovalView, ApiError> {
            may_request(kind, &person)?;
            let exam = exam_code.as_deref().map(|code| exam_by_code(c, code)).transpose()?;
            check_filing(kind, exam.is_some())?;
            let payload = check_payload(c, kind, &body.payload)?;
            if db::approvals::pending_same(c, kind, &payload, now)? > 0 {
                return Err(RuleError::conflict(
                    "approval_pending",
                    "the same request is already waiting for a decision",
                )
                .into());
            }
            let exam_id = exam.as_ref().map(|e| e.id.clone());
            let row = db::approvals::insert(
                c,
                &db::approvals::NewApproval {
                    exam_id: exam_id.as_deref(),
                    kind,
                    payload: &payload,
                    requested_by: &by,
                    expires_at: now + expiry,
                },
                now,
            )?;
            let mut e = entry.object("approval", &row.id);
            if let Some(id) = &exam_id {
                e = e.exam(id);
            }
            e.append(c, now)?;
            view(row, exam.map(|e| e.code), now)
        })
        .await;
    let v = audit_refusal(state, audit, result).await?;
    Ok(HttpResponse::Created().json(v))
}

/// Ask for a two-person act on an exam.
#[utoipa::path(
    tag = "approvals",
    params(("exam" = String, Path, description = "Exam code")),
    request_body = CreateApproval,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Filed, waiting for a second person", body = ApprovalView),
        (status = 403, description = "Caller may not ask for this kind", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same request is pending", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid kind or payload", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/approvals")]
pub async fn request_exam_approval(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: Json<CreateApproval>,
) -> Result<HttpResponse, ApiError> {
    file_request(&state, &caller, Some(path.into_inner()), body.into_inner()?).await
}

/// Ask for a two-person act that concerns no single exam (activating a chief leader).
#[utoipa::path(
    tag = "approvals",
    request_body = CreateApproval,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Filed, waiting for a second person", body = ApprovalView),
        (status = 403, description = "Caller may not ask for this kind", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid kind or payload", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/approvals")]
pub async fn request_approval(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateApproval>,
) -> Result<HttpResponse, ApiError> {
    file_request(&state, &caller, None, body.into_inner()?).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApprovalQuery {
    /// pending (default), approved, rejected or expired.
    #[serde(default)]
    pub status: Option<String>,
}

/// Requests, newest first (pending ones by default), for the chief leaders' desk.
#[utoipa::path(
    tag = "approvals",
    params(ApprovalQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Requests", body = Vec<ApprovalView>))
)]
#[get("/approvals")]
pub async fn list_approvals(
    state: web::Data<AppState>,
    _chief: Chief,
    query: web::Query<ApprovalQuery>,
) -> Result<web::Json<Vec<ApprovalView>>, ApiError> {
    let wanted = match query.status.as_deref() {
        None => ApprovalStatus::Pending,
        Some(s) => ApprovalStatus::parse(s)
            .ok_or_else(|| RuleError::invalid("invalid_status", "status", "pending, approved, rejected or expired"))?,
    };
    let now = state.now();
    let views = state
        .db
        .read(move |c| -> Result<Vec<ApprovalView>, ApiError> {
            let mut out = vec![];
            for (row, code) in db::approvals::list_with_exam_code(c, wanted.as_stored(), 500)? {
                let v = view(row, code, now)?;
                if v.status == wanted {
                    out.push(v);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(web::Json(views))
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    id: String,
    decision: Decision,
    note: Option<String>,
) -> Result<web::Json<ApprovalView>, ApiError> {
    let now = state.now();
    let action = match decision {
        Decision::Approve => "approval.approve",
        Decision::Reject => "approval.reject",
    };
    let audit: Audit = caller.audit(action).object("approval", &id);
    let person = caller.person();
    let by = caller.id.clone();
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<ApprovalView, ApiError> {
            let row = db::approvals::find(c, &id).map_err(missing("approval"))?;
            may_decide(&row.state()?, &person, now)?;
            if decision == Decision::Approve {
                apply(c, &row)?;
            }
            db::approvals::decide(c, &id, outcome(decision), &by, note.as_deref(), now)
                .map_err(|_| RuleError::conflict("approval_decided", "someone decided this request a moment ago"))?;
            let mut e = entry.details(serde_json::json!({ "kind": row.kind, "payload": row.payload()?, "note": note }));
            if let Some(exam) = &row.exam_id {
                e = e.exam(exam);
            }
            e.append(c, now)?;
            let code = match &row.exam_id {
                Some(exam) => db::exams::code_of(c, exam)?,
                None => None,
            };
            view(db::approvals::find(c, &id)?, code, now)
        })
        .await;
    audit_refusal(state, audit, result).await.map(web::Json)
}

/// Approve a request made by someone else; the act is carried out at once.
#[utoipa::path(
    tag = "approvals",
    params(("id" = String, Path, description = "Approval id")),
    request_body(content = DecisionNote, description = "Optional note"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Approved and carried out", body = ApprovalView),
        (status = 403, description = "Own request, or not the right role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Expired or already decided", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/approvals/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonOrEmpty<DecisionNote>,
) -> Result<web::Json<ApprovalView>, ApiError> {
    decide(
        &state,
        &caller,
        path.into_inner(),
        Decision::Approve,
        body.into_inner()?.note,
    )
    .await
}

/// Reject a request made by someone else.
#[utoipa::path(
    tag = "approvals",
    params(("id" = String, Path, description = "Approval id")),
    request_body(content = DecisionNote, description = "Optional note"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Rejected", body = ApprovalView),
        (status = 403, description = "Own request, or not the right role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Expired or already decided", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/approvals/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonOrEmpty<DecisionNote>,
) -> Result<web::Json<ApprovalView>, ApiError> {
    decide(
        &state,
        &caller,
        path.into_inner(),
        Decision::Reject,
        body.into_inner()?.note,
    )
    .await
}
