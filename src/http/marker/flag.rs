//! Giving a script back without a mark: a flag (problem script) or a plain release. An exposed
//! identity takes the script away from everyone at once (R9).

use actix_web::{post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::lease::marker_of;
use super::score::{check_running, end_links, own_serve};
use crate::db::marking::ServeRow;
use crate::db::{self, DbConn};
use crate::domain::RuleError;
use crate::domain::marking::Flag;
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::MarkerCaller;
use crate::http::error::{ApiError, Problem};
use crate::http::json::{Json, JsonOrEmpty};
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagRequest {
    pub kind: Flag,
    /// What the marker saw (for the leader; never the name they may have read).
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$")]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GivenBack {
    pub task_id: String,
    /// `flagged` or `released`.
    pub outcome: String,
}

/// Ends the lease; a live task goes back to the queue (the marker never gets the script again).
fn give_back(c: &mut DbConn, s: &ServeRow, user: &str, state: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    if !db::marking::end_serve(c, s, state, now)? {
        return Err(RuleError::conflict("lease_expired", "this lease has ended").into());
    }
    if let Some(task) = &s.task_id {
        db::marking::set_task_state(c, &s.exam_id, task, "open", now)?;
    }
    end_links(c, s, user)
}

/// Flag the leased script (`blank`, `illegible`, `identity_exposed`, `misplaced`, `misconduct`,
/// with a note): the lease ends without a mark. `identity_exposed` withdraws the script from
/// every marker at once, voids its marks and sends it to the custodians' treatment list; the
/// others go to the leaders' problem queue.
#[utoipa::path(
    tag = "marking",
    params(("id" = String, Path, description = "Task id (of the lease)")),
    request_body = FlagRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Flagged", body = GivenBack),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lease ended", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/marking/tasks/{id}/flag")]
pub async fn flag(
    state: web::Data<AppState>,
    marker: MarkerCaller,
    path: web::Path<String>,
    body: Json<FlagRequest>,
) -> Result<web::Json<GivenBack>, ApiError> {
    let id = path.into_inner();
    let audit = marker.audit("marking.flag").object("task", &id);
    let result = async {
        let f = body.into_inner()?;
        let note = crate::domain::text::tidy(&f.note);
        if !crate::domain::text::is_plain(&f.note, 500) {
            return Err(RuleError::invalid("invalid_note", "note", "a note is at most 500 characters of text").into());
        }
        let now = state.now();
        let (me, entry) = (marker.id.clone(), audit.clone());
        state
            .db
            .write(move |c| -> Result<GivenBack, ApiError> {
                let m = marker_of(c, &me)?;
                db::markers::lock(c, &m.id)?;
                let s = own_serve(c, &id, &m.id)?;
                check_running(&s, now)?;
                give_back(c, &s, &me, "flagged", now)?;
                let exposed = f.kind == Flag::IdentityExposed;
                // A self-check shows a real script: an exposed name there is as real as anywhere.
                // Other flags on a self-check or a seed change no live script (they are audited).
                let acts = s.kind == "live" || (s.kind == "self_check" && exposed);
                if let (Some(script), true) = (&s.script_id, acts) {
                    let p = db::results::NewProblem {
                        exam_id: &s.exam_id,
                        script_id: script,
                        question_id: &s.question_id,
                        serve_id: &s.id,
                        kind: f.kind.as_str(),
                        note: &note,
                        flagged_by: &m.id,
                        resolved: exposed,
                    };
                    db::results::insert_problem(c, &p, now)?;
                    if exposed {
                        crate::http::resolution::withdraw(
                            c,
                            &s.exam_id,
                            script,
                            "needs_treatment",
                            Some("identity exposed"),
                            now,
                        )?;
                    } else {
                        crate::http::resolution::withdraw(c, &s.exam_id, script, "withdrawn", None, now)?;
                    }
                }
                entry
                    .exam(&s.exam_id)
                    .details(serde_json::json!({ "kind": f.kind.as_str() }))
                    .append(c, now)?;
                Ok(GivenBack {
                    task_id: s.id,
                    outcome: "flagged".into(),
                })
            })
            .await
    }
    .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

/// Give the leased script back unmarked; it goes to somebody else.
#[utoipa::path(
    tag = "marking",
    params(("id" = String, Path, description = "Task id (of the lease)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Released", body = GivenBack),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lease ended", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/marking/tasks/{id}/release")]
pub async fn release(
    state: web::Data<AppState>,
    marker: MarkerCaller,
    path: web::Path<String>,
    body: JsonOrEmpty<serde_json::Map<String, serde_json::Value>>,
) -> Result<web::Json<GivenBack>, ApiError> {
    let id = path.into_inner();
    let audit = marker.audit("marking.release").object("task", &id);
    let result = async {
        body.into_inner()?;
        let now = state.now();
        let (me, entry) = (marker.id.clone(), audit.clone());
        state
            .db
            .write(move |c| -> Result<GivenBack, ApiError> {
                let m = marker_of(c, &me)?;
                db::markers::lock(c, &m.id)?;
                let s = own_serve(c, &id, &m.id)?;
                check_running(&s, now)?;
                give_back(c, &s, &me, "released", now)?;
                entry.exam(&s.exam_id).append(c, now)?;
                Ok(GivenBack {
                    task_id: s.id,
                    outcome: "released".into(),
                })
            })
            .await
    }
    .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}
