//! Hand-overs: custody of a batch passes from two people to two people, and all four confirm
//! under their own logins.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::duty::two_on_duty;
use crate::db;
use crate::domain::RuleError;
use crate::domain::custody::{check_batch_open, check_confirmation, check_handover};
use crate::domain::role::Role;
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::{Custodian, Staff};
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::leader::exam_by_code;
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordHandover {
    /// Usernames of the two who give the batch (the caller is one of them).
    #[schema(min_items = 2, max_items = 2)]
    pub from: Vec<String>,
    /// Usernames of the two who receive it (custodians or leaders).
    #[schema(min_items = 2, max_items = 2)]
    pub to: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$")]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandoverRecorded {
    pub id: String,
    pub batch: String,
    /// Confirmations so far (the recorder's own counts), of four.
    pub confirmed: usize,
}

/// Resolves four usernames to active custodians or leaders.
fn people(c: &mut db::DbConn, names: &[&str]) -> Result<Vec<String>, ApiError> {
    let mut ids = vec![];
    for (i, name) in names.iter().enumerate() {
        let field = if i < 2 {
            format!("from[{i}]")
        } else {
            format!("to[{}]", i - 2)
        };
        let user = db::users::find_by_username(c, name)?
            .filter(|u| u.active && matches!(u.role().ok(), Some(Role::Custodian | Role::Leader)))
            .ok_or_else(|| {
                RuleError::invalid(
                    "unknown_person",
                    field,
                    format!("{name} is no active custodian or leader"),
                )
            })?;
        ids.push(user.id);
    }
    Ok(ids)
}

/// Record a hand-over of a batch from two people to two people. The recorder (a giver, on duty)
/// confirms it at once; the other three confirm under their own logins.
///
/// Rules the schema cannot state: four different active people, the caller among the givers,
/// two custodians on duty, the batch open (across fields and state).
#[utoipa::path(
    tag = "custody",
    params(("batch" = String, Path, description = "Batch id")),
    request_body = RecordHandover,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded", body = HandoverRecorded),
        (status = 403, description = "Not a giver, not on duty, or fewer than two on duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such batch", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The batch is not open", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/batches/{batch}/handovers")]
pub async fn record_handover(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
    body: Json<RecordHandover>,
) -> Result<HttpResponse, ApiError> {
    let batch_id = path.into_inner();
    let h = body.into_inner()?;
    let [Some(f0), Some(f1), Some(t0), Some(t1)] = [h.from.first(), h.from.get(1), h.to.first(), h.to.get(1)] else {
        return Err(RuleError::invalid("handover_people", "from", "name two givers and two receivers").into());
    };
    let names = [f0.clone(), f1.clone(), t0.clone(), t1.clone()];
    let now = state.now();
    let me = custodian.id.clone();
    let audit = custodian.audit("handover.record").object("batch", &batch_id);
    let entry = audit.clone();
    if !crate::domain::text::is_plain(&h.note, 500) {
        return Err(crate::domain::RuleError::invalid(
            "invalid_note",
            "note",
            "a note is at most 500 characters of text",
        )
        .into());
    }
    let note = h.note.trim().to_string();
    let result = state
        .db
        .write(move |c| -> Result<HandoverRecorded, ApiError> {
            let batch = db::custody::batch_locked(c, &batch_id).map_err(missing("batch"))?;
            check_batch_open(batch.status()?)?;
            two_on_duty(c, &batch.exam_id, &me)?;
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let ids = people(c, &refs)?;
            check_handover(&me, [&ids[0], &ids[1]], [&ids[2], &ids[3]])?;
            // Both givers hold the batch now: both are custodians on duty for the exam.
            let on = db::custody::on_duty(c, &batch.exam_id)?;
            if !(on.contains(&ids[0]) && on.contains(&ids[1])) {
                return Err(RuleError::invalid("giver_not_on_duty", "from", "both givers are custodians on duty for the exam").into());
            }
            let new = db::custody::NewHandover {
                exam_id: &batch.exam_id,
                batch_id: &batch.id,
                from: [&ids[0], &ids[1]],
                to: [&ids[2], &ids[3]],
                note: &note,
                created_by: &me,
            };
            let id = db::custody::insert_handover(c, &new, now)?;
            db::custody::confirm(c, &batch.exam_id, &id, &me, now)?;
            entry
                .object("handover", &id)
                .exam(&batch.exam_id)
                .details(serde_json::json!({ "batch": batch.id, "from": [&names[0], &names[1]], "to": [&names[2], &names[3]] }))
                .append(c, now)?;
            Ok(HandoverRecorded { id, batch: batch.id, confirmed: 1 })
        })
        .await;
    let recorded = audit_refusal(&state, audit, result).await?;
    Ok(HttpResponse::Created().json(recorded))
}

/// Confirm a hand-over you are named in (giver or receiver), under your own login.
#[utoipa::path(
    tag = "custody",
    params(("id" = String, Path, description = "Hand-over id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Confirmed", body = HandoverRecorded),
        (status = 403, description = "Not named in this hand-over", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hand-over", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already confirmed by you", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/handovers/{id}/confirm")]
pub async fn confirm_handover(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<web::Json<HandoverRecorded>, ApiError> {
    let id = path.into_inner();
    let now = state.now();
    let me = staff.id.clone();
    let audit = staff.audit("handover.confirm").object("handover", &id);
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<HandoverRecorded, ApiError> {
            let h = db::custody::handover(c, &id).map_err(missing("handover"))?;
            db::custody::batch_locked(c, &h.batch_id)?;
            let already: Vec<String> = db::custody::confirmations(c, &h.exam_id, &h.id)?
                .into_iter()
                .map(|(u, _)| u)
                .collect();
            check_confirmation(&me, h.parties(), &already)?;
            db::custody::confirm(c, &h.exam_id, &h.id, &me, now)?;
            entry.exam(&h.exam_id).append(c, now)?;
            Ok(HandoverRecorded {
                id: h.id,
                batch: h.batch_id,
                confirmed: already.len() + 1,
            })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

/// A hand-over that names the caller and waits for their confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandoverAwaiting {
    pub id: String,
    pub batch: String,
    pub batch_label: String,
    /// Usernames of the two who give the batch.
    pub from: Vec<String>,
    /// Usernames of the two who receive it.
    pub to: Vec<String>,
    pub note: String,
    /// Username of the giver who recorded it.
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    /// Confirmations so far, of four.
    pub confirmed: usize,
}

/// The exam's hand-overs that name the caller (giving or receiving) and that the caller has not
/// confirmed yet, oldest first: what `POST /api/v1/handovers/{id}/confirm` is waiting for.
#[utoipa::path(
    tag = "custody",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Hand-overs waiting for the caller's confirmation", body = Vec<HandoverAwaiting>),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/handovers/awaiting")]
pub async fn awaiting_handovers(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<web::Json<Vec<HandoverAwaiting>>, ApiError> {
    let code = path.into_inner();
    let me = staff.id.clone();
    let audit = staff.audit("handover.list").object("exam_code", &code);
    let result = state
        .db
        .read(move |c| -> Result<Vec<HandoverAwaiting>, ApiError> {
            let exam = exam_by_code(c, &code)?;
            let waiting = db::custody::awaiting_confirmation(c, &exam.id, &me)?;
            if waiting.is_empty() {
                return Ok(vec![]);
            }
            let ids: Vec<String> = waiting.iter().map(|h| h.id.clone()).collect();
            let counts = db::custody::confirmation_counts(c, &exam.id, &ids)?;
            let labels: Vec<(String, String)> = db::custody::batches_of(c, &exam.id)?
                .into_iter()
                .map(|b| (b.id, b.label))
                .collect();
            let mut people: Vec<String> = waiting
                .iter()
                .flat_map(|h| h.parties().into_iter().chain([h.created_by.as_str()]))
                .map(str::to_string)
                .collect();
            people.sort();
            people.dedup();
            let names = db::users::names(c, &people)?;
            let name = |id: &str| {
                names
                    .iter()
                    .find(|(u, ..)| u == id)
                    .map_or_else(|| id.to_string(), |(_, n, ..)| n.clone())
            };
            Ok(waiting
                .into_iter()
                .map(|h| HandoverAwaiting {
                    batch_label: labels
                        .iter()
                        .find(|(b, _)| b == &h.batch_id)
                        .map(|(_, l)| l.clone())
                        .unwrap_or_default(),
                    from: vec![name(&h.from_a), name(&h.from_b)],
                    to: vec![name(&h.to_a), name(&h.to_b)],
                    recorded_by: name(&h.created_by),
                    recorded_at: h.created_at.and_utc(),
                    confirmed: counts
                        .iter()
                        .find(|(id, _)| id == &h.id)
                        .map_or(0, |(_, n)| usize::try_from(*n).unwrap_or_default()),
                    note: h.note,
                    batch: h.batch_id,
                    id: h.id,
                })
                .collect())
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}
