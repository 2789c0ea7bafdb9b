//! Batches: opened and released by two custodians on duty (approvals `open_batch` and
//! `release_batch`), and read back with their whole custody chain.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::domain::approval::ApprovalKind;
use crate::http::caller::{Custodian, Staff};
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::leader::approvals::{CreateApproval, file_request};
use crate::http::leader::exam_by_code;
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBatch {
    /// How the custodians know the batch, e.g. "Room 12, box 3".
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub label: String,
}

/// Ask to open a batch: files an `open_batch` request that a second custodian on duty approves
/// (`POST /api/v1/approvals/{id}/approve`), which opens the batch.
///
/// Rules the schema cannot state: the caller and another custodian are on duty for the exam,
/// and the sheet template places every question (state).
#[utoipa::path(
    tag = "custody",
    params(("exam" = String, Path, description = "Exam code")),
    request_body = OpenBatch,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Filed; waits for a second custodian on duty", body = crate::http::leader::approvals::ApprovalView),
        (status = 403, description = "Not on duty, or fewer than two on duty", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same request is pending", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Template incomplete, or a bad label", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/batches")]
pub async fn request_batch(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
    body: Json<OpenBatch>,
) -> Result<HttpResponse, ApiError> {
    let label = body.into_inner()?.label;
    let request = CreateApproval {
        kind: ApprovalKind::OpenBatch,
        payload: serde_json::json!({ "label": label }),
    };
    file_request(&state, &custodian, Some(path.into_inner()), request).await
}

/// Ask to release a batch to marking: files a `release_batch` request for a second custodian
/// on duty. Rules the schema cannot state: the batch is open, holds sheets, none unconfirmed
/// and no script needing treatment (state).
#[utoipa::path(
    tag = "custody",
    params(("batch" = String, Path, description = "Batch id")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Filed; waits for a second custodian on duty", body = crate::http::leader::approvals::ApprovalView),
        (status = 403, description = "Not on duty, or fewer than two on duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not open, empty, unconfirmed sheets, scripts needing treatment, or already requested", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/batches/{batch}/release")]
pub async fn request_release(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let batch_id = path.into_inner();
    let id = batch_id.clone();
    let exam_code = state
        .db
        .read(move |c| -> Result<Option<String>, ApiError> {
            let batch = db::custody::batch(c, &id).map_err(missing("batch"))?;
            Ok(db::exams::code_of(c, &batch.exam_id)?)
        })
        .await?;
    let request = CreateApproval {
        kind: ApprovalKind::ReleaseBatch,
        payload: serde_json::json!({ "batch_id": batch_id }),
    };
    file_request(&state, &custodian, exam_code, request).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchSummary {
    pub id: String,
    pub exam: String,
    pub label: String,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    pub sheets: i64,
}

/// One step of a batch's custody chain, in the order it happened.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainStep {
    pub at: DateTime<Utc>,
    /// `opened`, `handover`, `handover_confirmed`, `released`.
    pub event: String,
    /// Usernames of the people the step names.
    pub people: Vec<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    #[serde(flatten)]
    pub batch: BatchSummary,
    pub chain: Vec<ChainStep>,
}

/// The exam's batches, newest first (custodians and leaders).
#[utoipa::path(
    tag = "custody",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Batches", body = Vec<BatchSummary>),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/batches")]
pub async fn list_batches(
    state: web::Data<AppState>,
    _staff: Staff,
    path: web::Path<String>,
) -> Result<web::Json<Vec<BatchSummary>>, ApiError> {
    let code = path.into_inner();
    let list = state
        .db
        .read(move |c| -> Result<Vec<BatchSummary>, ApiError> {
            let exam = exam_by_code(c, &code)?;
            db::custody::batches_of(c, &exam.id)?
                .into_iter()
                .map(|b| super::chain::summary(c, b, &exam.code))
                .collect()
        })
        .await?;
    Ok(web::Json(list))
}

/// The batch and its whole custody chain in order: who opened it (and who approved), every
/// hand-over with each confirmation, the release.
#[utoipa::path(
    tag = "custody",
    params(("batch" = String, Path, description = "Batch id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The batch", body = BatchView),
        (status = 404, description = "No such batch", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/batches/{batch}")]
pub async fn get_batch(
    state: web::Data<AppState>,
    _staff: Staff,
    path: web::Path<String>,
) -> Result<web::Json<BatchView>, ApiError> {
    let id = path.into_inner();
    let view = state
        .db
        .read(move |c| -> Result<BatchView, ApiError> {
            let batch = db::custody::batch(c, &id).map_err(missing("batch"))?;
            super::chain::view(c, batch)
        })
        .await?;
    Ok(web::Json(view))
}
