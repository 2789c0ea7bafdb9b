//! Audit entries as handlers write them: built from the caller, appended inside the request's
//! own transaction when the request changes something, or alone when it was refused.

use super::error::ApiError;
use super::request_id;
use super::state::AppState;
use crate::db::audit::NewEntry;
use crate::db::{self, DbConn, DbError};
use crate::domain::role::Role;

/// An audit entry being put together; `entry()` gives the row to append.
#[derive(Debug, Clone)]
pub struct Audit(NewEntry);

impl Audit {
    pub fn anonymous(action: &str) -> Audit {
        Audit(NewEntry {
            action: action.to_string(),
            outcome: "ok".into(),
            details: "{}".into(),
            request_id: Some(request_id::current()),
            ..NewEntry::default()
        })
    }

    /// Who did it, with the workstation they did it from.
    pub fn actor(mut self, id: &str, role: Role, workstation: Option<&str>) -> Audit {
        self.0.actor_id = Some(id.to_string());
        self.0.actor_role = Some(role.as_str().to_string());
        self.0.workstation_id = workstation.map(str::to_string);
        self
    }

    /// The account acting, when one is.
    pub fn actor_id(&self) -> Option<&str> {
        self.0.actor_id.as_deref()
    }

    pub fn object(mut self, kind: &str, id: &str) -> Audit {
        self.0.object_type = Some(kind.to_string());
        self.0.object_id = Some(id.to_string());
        self
    }

    pub fn exam(mut self, exam_id: &str) -> Audit {
        self.0.exam_id = Some(exam_id.to_string());
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Audit {
        self.0.details = details.to_string();
        self
    }

    /// Marks the entry as a refusal, recording the reason code.
    pub fn refused(mut self, err: &ApiError) -> Audit {
        self.0.outcome = "refused".into();
        let mut details: serde_json::Value =
            serde_json::from_str(&self.0.details).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(obj) = details.as_object_mut() {
            obj.insert("code".into(), err.code().into());
        }
        self.0.details = details.to_string();
        self
    }

    pub fn entry(self) -> NewEntry {
        self.0
    }

    pub fn append(self, conn: &mut DbConn, now: chrono::DateTime<chrono::Utc>) -> Result<(), DbError> {
        db::audit::append(conn, &self.0, now)
    }
}

/// Runs a fallible act; when it is refused by a rule, records the refusal in the audit log
/// (in a transaction of its own, since the act itself changed nothing).
pub async fn audit_refusal<T>(state: &AppState, audit: Audit, result: Result<T, ApiError>) -> Result<T, ApiError> {
    match result {
        Err(e) => Err(refuse(state, audit, e).await),
        ok => ok,
    }
}

/// Audits `err` as `audit`'s refusal, when it is one (`is_refusal`), and answers it.
pub async fn refuse(state: &AppState, audit: Audit, err: ApiError) -> ApiError {
    if err.is_refusal() {
        state.audit_alone(audit.refused(&err).entry()).await;
    }
    err
}
