use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::seal_chain;
use crate::db;
use crate::domain::RuleError;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The exam (its code) whose chain to page; without it, the chain of entries that concern
    /// no exam.
    #[serde(default)]
    #[param(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub exam: Option<String>,
    /// Return entries with a sequence number (in that chain) above this.
    #[serde(default)]
    #[param(minimum = 0)]
    pub after: i64,
    /// At most this many (1 to 1000, default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: String,
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    pub workstation_id: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub exam_id: Option<String>,
    pub outcome: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `after` for the next page; absent at the end.
    pub next_after: Option<i64>,
}

/// Page through one sealed audit chain: an exam's, or the one of entries that concern no exam.
#[utoipa::path(
    tag = "admin",
    params(AuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Entries in chain order", body = AuditPage),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No exam has that code", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    let query = query.into_inner();
    let after = query.after;
    let limit = query.limit.unwrap_or(100);
    if after < 0 {
        return Err(RuleError::invalid("invalid_query", "after", "after is a sequence number, 0 or more").into());
    }
    if !(1..=1000).contains(&limit) {
        return Err(RuleError::invalid("invalid_query", "limit", "limit is 1 to 1000").into());
    }
    let now = state.now();
    // Reading the log is an act of the admin's, not of the exam's: it goes to the no-exam chain.
    let audit = admin
        .audit("audit.read")
        .details(serde_json::json!({ "exam": query.exam, "after": after, "limit": limit }));
    // Seal first, so that what was just done is on the page.
    let rows = state
        .db
        .write(move |c| -> Result<_, ApiError> {
            let chain = match &query.exam {
                Some(code) => db::exams::by_code(c, code).map_err(missing("exam"))?.id,
                None => String::new(),
            };
            audit.append(c, now)?;
            seal_chain(c, &chain)?;
            Ok(db::audit::page(c, &chain, after, limit)?)
        })
        .await?;
    let next_after = if rows.len() as i64 == limit {
        rows.last().and_then(|r| r.seq)
    } else {
        None
    };
    let entries = rows
        .into_iter()
        .map(|r| AuditEntryView {
            seq: r.seq.unwrap_or_default(),
            at: r.at.and_utc().to_rfc3339(),
            actor_id: r.actor_id,
            actor_role: r.actor_role,
            workstation_id: r.workstation_id,
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            exam_id: r.exam_id,
            outcome: r.outcome,
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
            request_id: r.request_id,
            prev_hash: r.prev_hash.unwrap_or_default(),
            hash: r.hash.unwrap_or_default(),
        })
        .collect();
    Ok(web::Json(AuditPage { entries, next_after }))
}
