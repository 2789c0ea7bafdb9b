//! What each kind of two-person request carries and does: its payload check when filed, the
//! person it concerns, and its effect once a second person approves. A new kind adds one arm
//! to each function here.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use chrono::{DateTime, Utc};

use crate::db::approvals::ApprovalRow;
use crate::db::exams::ExamRow;
use crate::db::{self, DbConn};
use crate::domain::RuleError;
use crate::domain::approval::{ApprovalKind, check_activation_target};
use crate::domain::custody::check_release;
use crate::domain::role::Person;
use crate::domain::template::template_complete;
use crate::http::custodian::two_on_duty;
use crate::http::error::{ApiError, missing};
use crate::http::leader::marker_standing::{SanctionPayload, apply_sanction, check_sanction};
use crate::http::leader::results_acts::{
    AmendPayload, ResultsPayload, apply_amend, apply_flag, check_amend_request, check_flag_request,
};
use crate::vault::Vault;

/// `activate_staff`: the leader or custodian account to activate.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateStaffPayload {
    pub user_id: String,
}

/// `open_batch`: a label the custodians know the batch by (e.g. "Room 12, box 3").
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBatchPayload {
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub label: String,
}

/// `release_batch`: the batch whose scripts go to marking.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBatchPayload {
    pub batch_id: String,
}

/// The payload of a request, one shape per kind.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ApprovalPayload {
    ActivateStaff(ActivateStaffPayload),
    OpenBatch(OpenBatchPayload),
    ReleaseBatch(ReleaseBatchPayload),
    /// `suspend_marker` and `dismiss_marker`.
    Sanction(SanctionPayload),
    /// `amend`.
    Amend(AmendPayload),
    /// `lock`, `release` and `unlock`.
    Results(ResultsPayload),
}

fn payload_of<T: serde::de::DeserializeOwned>(
    kind: ApprovalKind,
    payload: &serde_json::Value,
    shape: &str,
) -> Result<T, RuleError> {
    serde_json::from_value(payload.clone()).map_err(|e| {
        RuleError::invalid(
            "invalid_payload",
            "payload",
            format!("{} takes {shape}: {e}", kind.as_str()),
        )
    })
}

fn activate_staff(payload: &serde_json::Value) -> Result<ActivateStaffPayload, RuleError> {
    payload_of(ApprovalKind::ActivateStaff, payload, "{\"user_id\": …}")
}

/// Checks the payload of a new request against its kind, returning it in canonical form.
pub fn check_payload(
    c: &mut DbConn,
    kind: ApprovalKind,
    exam: Option<&ExamRow>,
    requester: &Person,
    payload: &serde_json::Value,
    vault: &Vault,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    match (kind, exam) {
        (ApprovalKind::ActivateStaff, _) => {
            let p = activate_staff(payload)?;
            let target = db::users::find(c, &p.user_id)?
                .ok_or_else(|| RuleError::invalid("unknown_user", "payload.user_id", "no such user"))?;
            check_activation_target(&target.person()?, !target.must_change_password)?;
            canonical(&ApprovalPayload::ActivateStaff(p))
        }
        (ApprovalKind::OpenBatch, Some(exam)) => {
            let p: OpenBatchPayload = payload_of(kind, payload, "{\"label\": …}")?;
            let label = p.label.trim().to_string();
            if label.is_empty() || !crate::domain::text::is_plain(&label, 100) {
                return Err(RuleError::invalid(
                    "invalid_label",
                    "payload.label",
                    "a batch label is 1 to 100 characters",
                )
                .into());
            }
            two_on_duty(c, &exam.id, &requester.id)?;
            check_template(c, exam)?;
            canonical(&ApprovalPayload::OpenBatch(OpenBatchPayload { label }))
        }
        (ApprovalKind::ReleaseBatch, Some(exam)) => {
            let p: ReleaseBatchPayload = payload_of(kind, payload, "{\"batch_id\": …}")?;
            let batch = db::custody::batch(c, &p.batch_id).map_err(missing("batch"))?;
            if batch.exam_id != exam.id {
                return Err(ApiError::NotFound("batch"));
            }
            two_on_duty(c, &exam.id, &requester.id)?;
            check_release(batch.status()?, db::scripts::release_blockers(c, &exam.id, &batch.id)?)?;
            canonical(&ApprovalPayload::ReleaseBatch(p))
        }
        (ApprovalKind::SuspendMarker | ApprovalKind::DismissMarker, Some(exam)) => {
            let p: SanctionPayload = payload_of(kind, payload, "{\"marker_id\": …, \"reason\": …}")?;
            let checked = check_sanction(c, &exam.id, p, kind == ApprovalKind::DismissMarker, now)?;
            canonical(&ApprovalPayload::Sanction(checked))
        }
        (ApprovalKind::Lock | ApprovalKind::Release | ApprovalKind::Unlock, Some(exam)) => {
            let p: ResultsPayload = payload_of(kind, payload, "{\"reason\"?: …}")?;
            let checked = check_flag_request(c, vault, exam, kind, p)?;
            canonical(&ApprovalPayload::Results(checked))
        }
        (ApprovalKind::Amend, Some(exam)) => {
            let p: AmendPayload = payload_of(
                kind,
                payload,
                "{\"admission_number\": …, \"question\": …, \"score\": …, \"reason\": …}",
            )?;
            let checked = check_amend_request(c, vault, exam, p)?;
            canonical(&ApprovalPayload::Amend(checked))
        }
        (other, _) => Err(RuleError::invalid(
            "unsupported_kind",
            "kind",
            format!("{} requests are not yet handled by this server", other.as_str()),
        )
        .into()),
    }
}

/// A batch opens only when the sheet template places every question: otherwise answers could
/// not be cut out.
fn check_template(c: &mut DbConn, exam: &ExamRow) -> Result<(), ApiError> {
    let codes: Vec<String> = db::exams::questions_of(c, &exam.id)?
        .into_iter()
        .map(|q| q.code)
        .collect();
    let Some(template) = db::exams::template_of(c, &exam.id)? else {
        return Err(RuleError::invalid("template_incomplete", "template", "the exam has no sheet template yet").into());
    };
    Ok(template_complete(&template, &codes)?)
}

fn canonical(p: &ApprovalPayload) -> Result<String, ApiError> {
    serde_json::to_string(p).map_err(|e| ApiError::Internal(e.to_string()))
}

/// The account a request is about, shown by name to whoever decides it.
pub fn subject(kind: ApprovalKind, payload: &serde_json::Value) -> Option<String> {
    match kind {
        ApprovalKind::ActivateStaff | ApprovalKind::SuspendMarker | ApprovalKind::DismissMarker => {
            payload.get("user_id").and_then(|v| v.as_str()).map(str::to_string)
        }
        _ => None,
    }
}

/// Carries out an approved request, inside the approving transaction, after the decision is
/// recorded (so a database rule that looks for an approved request sees it).
pub fn apply(c: &mut DbConn, row: &ApprovalRow, vault: &Vault, now: DateTime<Utc>) -> Result<(), ApiError> {
    let kind = row.state()?.kind;
    let payload = row.payload()?;
    let internal = |e: RuleError| ApiError::Internal(e.to_string());
    match (kind, row.exam_id.as_deref()) {
        (ApprovalKind::ActivateStaff, _) => {
            let p = activate_staff(&payload).map_err(internal)?;
            let target = db::users::find(c, &p.user_id)?.ok_or(ApiError::NotFound("user"))?;
            check_activation_target(&target.person()?, !target.must_change_password)?;
            db::users::activate(c, &p.user_id)?;
            Ok(())
        }
        (ApprovalKind::OpenBatch, Some(exam_id)) => {
            let p: OpenBatchPayload = payload_of(kind, &payload, "").map_err(internal)?;
            let decider = row.decided_by.as_deref().unwrap_or_default();
            // The exam row, as check-out takes it: a batch never opens while the second
            // custodian is checking out.
            db::exams::lock_by_id(c, exam_id)?;
            two_on_duty(c, exam_id, decider)?;
            db::custody::insert_batch(c, exam_id, &p.label, &row.id, now)?;
            Ok(())
        }
        (ApprovalKind::ReleaseBatch, Some(exam_id)) => {
            let p: ReleaseBatchPayload = payload_of(kind, &payload, "").map_err(internal)?;
            let decider = row.decided_by.as_deref().unwrap_or_default();
            two_on_duty(c, exam_id, decider)?;
            let batch = db::custody::batch_locked(c, &p.batch_id)?;
            check_release(batch.status()?, db::scripts::release_blockers(c, exam_id, &batch.id)?)?;
            db::custody::set_released(c, exam_id, &batch.id, now)?;
            db::scripts::release_held(c, exam_id, &batch.id, now)?;
            crate::http::resolution::open_tasks_for_batch(c, exam_id, &batch.id, now)?;
            Ok(())
        }
        (ApprovalKind::SuspendMarker | ApprovalKind::DismissMarker, Some(exam_id)) => {
            let p: SanctionPayload = payload_of(kind, &payload, "").map_err(internal)?;
            apply_sanction(c, exam_id, &p, kind == ApprovalKind::DismissMarker, row, now)
        }
        (ApprovalKind::Lock | ApprovalKind::Release | ApprovalKind::Unlock, Some(exam_id)) => {
            apply_flag(c, vault, exam_id, kind, row, now)
        }
        (ApprovalKind::Amend, Some(exam_id)) => {
            let p: AmendPayload = payload_of(kind, &payload, "").map_err(internal)?;
            apply_amend(c, vault, exam_id, &p, row, now)
        }
        (other, _) => Err(ApiError::Internal(format!("no effect defined for {}", other.as_str()))),
    }
}
