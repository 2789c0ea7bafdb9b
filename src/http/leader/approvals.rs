//! The two-person mechanism over HTTP. A request names a kind and a payload; a different
//! person with the kind's authority approves (and the act is carried out in the same
//! transaction) or rejects. What each kind carries and does is in `approval_kinds`.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use std::collections::HashMap;

use super::approval_kinds::{ApprovalPayload, apply, check_payload, subject};
use super::exams::exam_by_code;
use crate::db::approvals::ApprovalRow;
use crate::db::{self, DbConn, DbError};
use crate::domain::RuleError;
use crate::domain::approval::{
    ApprovalKind, ApprovalStatus, Authority, Decision, check_filing, may_decide, may_request, outcome,
};
use crate::domain::role::Role;
use crate::http::audit_entry::{Audit, audit_refusal};
use crate::http::caller::{Caller, Chief};
use crate::http::custodian::{on_duty_for, two_on_duty};
use crate::http::error::{ApiError, Problem, missing, taken};
use crate::http::json::{Json, JsonOrEmpty};
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApproval {
    /// The act (`activate_leader` is still accepted for `activate_staff`).
    #[schema(schema_with = crate::http::schemas::approval_kind)]
    pub kind: ApprovalKind,
    /// What the act is about; its shape depends on the kind.
    #[schema(value_type = ApprovalPayload)]
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
    /// Who asked, by name: the second person sees whom they act with.
    pub requester: Option<PersonView>,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decider: Option<PersonView>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The account the act concerns (the one to activate, say), by name.
    pub subject: Option<PersonView>,
    pub note: Option<String>,
}

/// A person as a decider must see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonView {
    pub id: String,
    pub username: String,
    pub full_name: String,
    pub role: String,
}

/// Views of stored requests, with every person they name looked up in one query.
fn views(
    c: &mut DbConn,
    rows: Vec<(ApprovalRow, Option<String>)>,
    now: DateTime<Utc>,
) -> Result<Vec<ApprovalView>, ApiError> {
    let mut ids: Vec<String> = vec![];
    for (row, _) in &rows {
        ids.push(row.requested_by.clone());
        ids.extend(row.decided_by.clone());
        ids.extend(subject(row.state()?.kind, &row.payload()?));
    }
    ids.sort();
    ids.dedup();
    let people: HashMap<String, PersonView> = db::users::names(c, &ids)?
        .into_iter()
        .map(|(id, username, full_name, role)| {
            let p = PersonView {
                id: id.clone(),
                username,
                full_name,
                role,
            };
            (id, p)
        })
        .collect();
    let person = |id: Option<&String>| id.and_then(|i| people.get(i)).cloned();
    rows.into_iter()
        .map(|(row, exam_code)| {
            let state = row.state()?;
            let payload = row.payload()?;
            Ok(ApprovalView {
                exam: exam_code,
                kind: state.kind,
                subject: person(subject(state.kind, &payload).as_ref()),
                payload,
                status: state.status_at(now),
                requester: person(Some(&row.requested_by)),
                requested_by: row.requested_by,
                requested_at: row.requested_at.and_utc(),
                expires_at: row.expires_at.and_utc(),
                decider: person(row.decided_by.as_ref()),
                decided_by: row.decided_by,
                decided_at: row.decided_at.map(|t| t.and_utc()),
                note: row.decision_note,
                id: row.id,
            })
        })
        .collect()
}

fn one_view(
    c: &mut DbConn,
    row: ApprovalRow,
    exam_code: Option<String>,
    now: DateTime<Utc>,
) -> Result<ApprovalView, ApiError> {
    views(c, vec![(row, exam_code)], now)?
        .pop()
        .ok_or_else(|| ApiError::Internal("a view of one request came back empty".into()))
}

pub(crate) async fn file_request(
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
    let vault = state.vault.clone();
    let result = state
        .db
        .write(move |c| -> Result<ApprovalView, ApiError> {
            let exam = exam_code.as_deref().map(|code| exam_by_code(c, code)).transpose()?;
            check_filing(kind, exam.is_some())?;
            let mut person = person;
            if let Some(e) = &exam {
                super::exams::not_related(c, &e.id, &person.id)?;
                person.on_duty = on_duty_for(c, &e.id, &person.id)?.0;
                if person.role == Role::Custodian && kind.authority() == Authority::Custodian {
                    // Say what is missing: the caller's shift, or a second custodian on it.
                    two_on_duty(c, &e.id, &person.id)?;
                }
            }
            may_request(kind, &person)?;
            let payload = check_payload(c, kind, exam.as_ref(), &person, &body.payload, &vault, now)?;
            let exam_id = exam.as_ref().map(|e| e.id.clone());
            // The unique index on pending requests refuses a duplicate, even one filed at once.
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
            )
            .map_err(taken(
                "approval_pending",
                "the same request is already waiting for a decision",
            ))?;
            let mut e = entry.object("approval", &row.id);
            if let Some(id) = &exam_id {
                e = e.exam(id);
            }
            e.append(c, now)?;
            one_view(c, row, exam.map(|e| e.code), now)
        })
        .await;
    let v = audit_refusal(state, audit, result).await?;
    Ok(HttpResponse::Created().json(v))
}

/// Ask for a two-person act on an exam.
///
/// Rules the schema cannot state: the caller holds the kind's authority, the payload names an
/// existing account waiting for activation, and the same request is not already pending (state).
///
/// Refused by rules across fields or of state: `exam_required` (a kind filed without an exam),
/// `invalid_payload` (a payload not of its kind), `invalid_label` (a batch label of only spaces),
/// `unknown_user` (no such account).
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
    caller: Approver,
    path: web::Path<String>,
    body: Json<CreateApproval>,
) -> Result<HttpResponse, ApiError> {
    file_request(&state, &caller, Some(path.into_inner()), body.into_inner()?).await
}

/// Ask for a two-person act that concerns no single exam (activating a leader or custodian).
///
/// Rules the schema cannot state: the caller holds the kind's authority, the payload names an
/// existing leader or custodian account waiting for activation, and the same request is not
/// already pending (state).
///
/// Refused by rules across fields or of state: `exam_required` (a kind filed under an exam),
/// `invalid_payload` (a payload not of its kind), `unknown_user` (no such account).
#[utoipa::path(
    tag = "approvals",
    request_body = CreateApproval,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Filed, waiting for a second person", body = ApprovalView),
        (status = 403, description = "Caller may not ask for this kind", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same request is pending, or the account is already active", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid kind or payload", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/approvals")]
pub async fn request_approval(
    state: web::Data<AppState>,
    caller: Approver,
    body: Json<CreateApproval>,
) -> Result<HttpResponse, ApiError> {
    file_request(&state, &caller, None, body.into_inner()?).await
}

/// The door of every approval route that files or decides.
type Approver = crate::http::caller::Authorized<crate::http::caller::ApproverRole>;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApprovalQuery {
    /// pending (default), approved, rejected or expired.
    #[serde(default)]
    #[param(schema_with = crate::http::schemas::approval_status)]
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
            let rows = db::approvals::list_with_exam_code(c, wanted.as_stored(), 500)?;
            let mut all = views(c, rows, now)?;
            all.retain(|v| v.status == wanted);
            Ok(all)
        })
        .await?;
    Ok(web::Json(views))
}

/// The exam's pending requests: all of them for a chief leader; for a custodian on duty for the
/// exam, the `open_batch` and `release_batch` requests they may decide.
#[utoipa::path(
    tag = "approvals",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Pending requests", body = Vec<ApprovalView>),
        (status = 403, description = "Neither a chief leader nor a custodian on duty for the exam", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/approvals")]
pub async fn list_exam_approvals(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<web::Json<Vec<ApprovalView>>, ApiError> {
    let code = path.into_inner();
    let now = state.now();
    let person = caller.person();
    let audit = caller.audit("approval.list").object("exam_code", &code);
    let result = state
        .db
        .read(move |c| -> Result<Vec<ApprovalView>, ApiError> {
            let exam = exam_by_code(c, &code)?;
            let custody_only = if person.is_active_chief() {
                false
            } else if person.role == Role::Custodian && on_duty_for(c, &exam.id, &person.id)?.0 {
                true
            } else {
                return Err(ApiError::forbidden(
                    "forbidden",
                    "only a chief leader or a custodian on duty for this exam may do this",
                ));
            };
            let rows = db::approvals::of_exam(c, &exam.id, ApprovalStatus::Pending, 500)?
                .into_iter()
                .filter(|r| !custody_only || r.state().is_ok_and(|s| s.kind.authority() == Authority::Custodian))
                .map(|r| (r, Some(exam.code.clone())))
                .collect();
            let mut all = views(c, rows, now)?;
            all.retain(|v| v.status == ApprovalStatus::Pending);
            Ok(all)
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
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
    let vault = state.vault.clone();
    let result = state
        .db
        .write(move |c| -> Result<ApprovalView, ApiError> {
            let row = db::approvals::find(c, &id).map_err(missing("approval"))?;
            let mut person = person;
            if let Some(exam) = &row.exam_id {
                super::exams::not_related(c, exam, &person.id)?;
                person.on_duty = on_duty_for(c, exam, &person.id)?.0;
            }
            may_decide(&row.state()?, &person, now)?;
            // Recorded first, so that the effect (and any database rule it meets) sees the
            // approval; a concurrent decision by someone else finds nothing pending.
            db::approvals::decide(c, &id, outcome(decision), &by, note.as_deref(), now).map_err(|e| match e {
                DbError::NotFound => {
                    RuleError::conflict("approval_decided", "someone decided this request a moment ago").into()
                }
                other => ApiError::from(other),
            })?;
            if decision == Decision::Approve {
                let decided = db::approvals::find(c, &id)?;
                apply(c, &decided, &vault, now)?;
            }
            let mut e = entry.details(serde_json::json!({ "kind": row.kind, "payload": row.payload()?, "note": note }));
            if let Some(exam) = &row.exam_id {
                e = e.exam(exam);
            }
            e.append(c, now)?;
            let code = match &row.exam_id {
                Some(exam) => db::exams::code_of(c, exam)?,
                None => None,
            };
            let decided = db::approvals::find(c, &id)?;
            one_view(c, decided, code, now)
        })
        .await;
    audit_refusal(state, audit, result).await.map(web::Json)
}

/// Approve a request made by someone else; the act is carried out at once.
#[utoipa::path(
    tag = "approvals",
    params(("id" = String, Path, description = "Approval id")),
    request_body(content = Option<DecisionNote>, description = "Optional note"),
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
    caller: Approver,
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
    request_body(content = Option<DecisionNote>, description = "Optional note"),
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
    caller: Approver,
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
