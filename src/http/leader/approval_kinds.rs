//! What each kind of two-person request carries and does: its payload check when filed, the
//! person it concerns, and its effect once a second person approves. A new kind adds one arm
//! to each function here.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::approvals::ApprovalRow;
use crate::db::{self, DbConn};
use crate::domain::RuleError;
use crate::domain::approval::{ApprovalKind, check_activation_target};
use crate::http::error::ApiError;

/// `activate_staff`: the leader or custodian account to activate.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateStaffPayload {
    pub user_id: String,
}

/// The payload of a request, one shape per kind.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ApprovalPayload {
    ActivateStaff(ActivateStaffPayload),
}

fn activate_staff(payload: &serde_json::Value) -> Result<ActivateStaffPayload, RuleError> {
    serde_json::from_value(payload.clone()).map_err(|e| {
        RuleError::invalid(
            "invalid_payload",
            "payload",
            format!("activate_staff takes {{\"user_id\": …}}: {e}"),
        )
    })
}

/// Checks the payload of a new request against its kind, returning it in canonical form.
pub fn check_payload(c: &mut DbConn, kind: ApprovalKind, payload: &serde_json::Value) -> Result<String, ApiError> {
    match kind {
        ApprovalKind::ActivateStaff => {
            let p = activate_staff(payload)?;
            let target = db::users::find(c, &p.user_id)?
                .ok_or_else(|| RuleError::invalid("unknown_user", "payload.user_id", "no such user"))?;
            check_activation_target(&target.person()?, !target.must_change_password)?;
            canonical(&ApprovalPayload::ActivateStaff(p))
        }
        other => Err(RuleError::invalid(
            "unsupported_kind",
            "kind",
            format!("{} requests are not yet handled by this server", other.as_str()),
        )
        .into()),
    }
}

fn canonical(p: &ApprovalPayload) -> Result<String, ApiError> {
    serde_json::to_string(p).map_err(|e| ApiError::Internal(e.to_string()))
}

/// The account a request is about, shown by name to whoever decides it.
pub fn subject(kind: ApprovalKind, payload: &serde_json::Value) -> Option<String> {
    match kind {
        ApprovalKind::ActivateStaff => payload.get("user_id").and_then(|v| v.as_str()).map(str::to_string),
        _ => None,
    }
}

/// Carries out an approved request, inside the approving transaction, after the decision is
/// recorded (so a database rule that looks for an approved request sees it).
pub fn apply(c: &mut DbConn, row: &ApprovalRow) -> Result<(), ApiError> {
    let kind = row.state()?.kind;
    match kind {
        ApprovalKind::ActivateStaff => {
            let p = activate_staff(&row.payload()?).map_err(|e| ApiError::Internal(e.to_string()))?;
            let target = db::users::find(c, &p.user_id)?.ok_or(ApiError::NotFound("user"))?;
            check_activation_target(&target.person()?, !target.must_change_password)?;
            db::users::activate(c, &p.user_id)?;
            Ok(())
        }
        other => Err(ApiError::Internal(format!("no effect defined for {}", other.as_str()))),
    }
}
