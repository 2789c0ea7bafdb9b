//! A marker's standing changed by leadership (R6, R10): a leader pauses a marker pending
//! review or reinstates one; suspension and dismissal are sanctions, taken only on a
//! two-person approval (`suspend_marker`, `dismiss_marker`), and written to the archive as
//! discipline entries. Pausing and sanctions end the marker's tokens at once.

use actix_web::{post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::exams::{exam_by_code, not_related};
use super::markers::{Standing, evaluate_reasons};
use crate::db::approvals::ApprovalRow;
use crate::db::exams::ExamRow;
use crate::db::markers::Change;
use crate::db::markers::MarkerRow;
use crate::db::{self, DbConn};
use crate::domain::RuleError;
use crate::domain::marker_status::{MarkerEvent, MarkerStatus, transition};
use crate::domain::rules::MarkingRules;
use crate::domain::triggers::{self, Scope};
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StandingChange {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub exam: String,
    /// Why, in words the archive keeps.
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub reason: String,
}

pub fn check_reason(field: &str, raw: &str) -> Result<String, RuleError> {
    let t = crate::domain::text::tidy(raw);
    if t.is_empty() || !crate::domain::text::is_plain(raw, 500) {
        return Err(RuleError::invalid(
            "invalid_reason",
            field,
            "a reason is 1 to 500 characters of text",
        ));
    }
    Ok(t)
}

/// Applies `event` to the marker's standing in the exam, recording who and why.
pub fn change_standing(
    c: &mut DbConn,
    exam_id: &str,
    marker_id: &str,
    event: MarkerEvent,
    by: &str,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(MarkerStatus, MarkerStatus), ApiError> {
    let from = db::markers::status(c, exam_id, marker_id)?;
    let to = transition(from, event)?;
    let reasons = db::markers::reasons(c, exam_id, marker_id)?;
    let change = Change {
        exam_id,
        marker_id,
        from,
        to,
        by: Some(by),
        reason: why,
        reasons: &reasons,
    };
    db::markers::set_status(c, &change, now)?;
    Ok((from, to))
}

/// Puts a paused marker back to work, when every eligibility rule holds (nobody goes back to
/// work while a rule still bars them), closing their open reviews as reinstated.
pub fn reinstate_marker(
    c: &mut DbConn,
    exam: &ExamRow,
    m: &MarkerRow,
    by: &str,
    reason: &str,
    defaults: &MarkingRules,
    now: DateTime<Utc>,
) -> Result<MarkerStatus, ApiError> {
    let max_age = exam.rules(defaults)?.marker_max_age;
    let failed = evaluate_reasons(c, exam, m, max_age)?;
    if !failed.is_empty() {
        return Err(
            RuleError::conflict("ineligible", format!("the marker is ineligible: {}", failed.join("; "))).into(),
        );
    }
    let (_, to) = change_standing(c, &exam.id, &m.id, MarkerEvent::Reinstate, by, reason, now)?;
    db::discipline::decide_open_reviews(c, &exam.id, &m.id, "reinstate", by, now)?;
    Ok(to)
}

async fn leader_act(
    state: web::Data<AppState>,
    leader: Leader,
    id: String,
    body: Json<StandingChange>,
    event: MarkerEvent,
) -> Result<web::Json<Standing>, ApiError> {
    let action = if event == MarkerEvent::Pause {
        "marker.pause"
    } else {
        "marker.reinstate"
    };
    let audit = leader.audit(action).object("marker", &id);
    let result = async {
        let b = body.into_inner()?;
        let reason = check_reason("reason", &b.reason)?;
        let now = state.now();
        let (me, defaults, entry) = (leader.id.clone(), state.settings.rules.clone(), audit.clone());
        state
            .db
            .write(move |c| -> Result<Standing, ApiError> {
                let m = db::markers::find(c, &id).map_err(missing("marker"))?;
                db::markers::lock(c, &m.id)?;
                let exam = exam_by_code(c, &b.exam)?;
                not_related(c, &exam.id, &me)?;
                let to = if event == MarkerEvent::Reinstate {
                    reinstate_marker(c, &exam, &m, &me, &reason, &defaults, now)?
                } else {
                    let (_, to) = change_standing(c, &exam.id, &m.id, event, &me, &reason, now)?;
                    let evidence = serde_json::json!([reason]).to_string();
                    db::markers::open_review(c, &exam.id, &m.id, "leader", &evidence, now)?;
                    to
                };
                entry
                    .exam(&exam.id)
                    .details(serde_json::json!({ "reason": reason }))
                    .append(c, now)?;
                Ok(Standing {
                    exam: exam.code,
                    status: to.as_str().into(),
                    reasons: vec![],
                })
            })
            .await
    }
    .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

/// Pause an active marker pending review: their tokens end at once and a review opens.
#[utoipa::path(
    tag = "markers",
    params(("id" = String, Path, description = "Marker id")),
    request_body = StandingChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Paused", body = Standing),
        (status = 404, description = "No such marker or exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not active (the problem names the current status)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/markers/{id}/pause")]
pub async fn pause(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<StandingChange>,
) -> Result<web::Json<Standing>, ApiError> {
    leader_act(state, leader, path.into_inner(), body, MarkerEvent::Pause).await
}

/// Reinstate a paused marker (closing their open reviews), when every eligibility rule holds.
#[utoipa::path(
    tag = "markers",
    params(("id" = String, Path, description = "Marker id")),
    request_body = StandingChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Active again", body = Standing),
        (status = 404, description = "No such marker or exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not paused, or still ineligible (every reason named)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/markers/{id}/reinstate")]
pub async fn reinstate(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<StandingChange>,
) -> Result<web::Json<Standing>, ApiError> {
    leader_act(state, leader, path.into_inner(), body, MarkerEvent::Reinstate).await
}

/// `suspend_marker` and `dismiss_marker`: the marker and why; for a suspension, which of the
/// marker's marks are voided and marked afresh.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionPayload {
    pub marker_id: String,
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub reason: String,
    /// Filled in by the server: the marker's account, so deciders see whom it concerns.
    #[serde(default)]
    pub user_id: Option<String>,
    /// `suspend_marker` only: `all` (every mark of theirs on the exam, the default) or `since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(all|since)$")]
    pub scope: Option<String>,
    /// With scope `since`: marks made at or after this time are voided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// The marker review this decides, when it was filed from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_id: Option<String>,
}

fn sanction_event(dismiss: bool) -> MarkerEvent {
    if dismiss {
        MarkerEvent::Dismiss
    } else {
        MarkerEvent::Suspend
    }
}

/// Checks a sanction request when filed: the marker exists and the sanction applies now.
pub fn check_sanction(
    c: &mut DbConn,
    exam_id: &str,
    p: SanctionPayload,
    dismiss: bool,
    now: DateTime<Utc>,
) -> Result<SanctionPayload, ApiError> {
    let reason = check_reason("payload.reason", &p.reason)?;
    let m = db::markers::find(c, &p.marker_id)
        .map_err(|_| RuleError::invalid("unknown_marker", "payload.marker_id", "no such marker"))?;
    transition(db::markers::status(c, exam_id, &m.id)?, sanction_event(dismiss))?;
    let scope = if dismiss {
        if p.scope.is_some() || p.since.is_some() {
            return Err(RuleError::invalid(
                "invalid_scope",
                "payload.scope",
                "a dismissal voids no marks: a scope goes with a suspension",
            )
            .into());
        }
        None
    } else {
        triggers::scope(p.scope.as_deref(), p.since, now).map_err(|e| e.within("payload"))?;
        Some(p.scope.unwrap_or_else(|| "all".into()))
    };
    if let Some(id) = &p.review_id {
        let review = db::reviews::find(c, id).map_err(|_| unknown_review())?;
        if review.exam_id != exam_id || review.marker_id != m.id {
            return Err(unknown_review().into());
        }
        triggers::check_open(&review.status)?;
    }
    Ok(SanctionPayload {
        marker_id: m.id,
        reason,
        user_id: Some(m.user_id),
        scope,
        since: p.since,
        review_id: p.review_id,
    })
}

fn unknown_review() -> RuleError {
    RuleError::invalid(
        "unknown_review",
        "payload.review_id",
        "no open review of this marker in this exam",
    )
}

/// The marks a suspension voids: the payload's scope (every mark when it names none).
fn scope_of(p: &SanctionPayload) -> Scope {
    match (p.scope.as_deref(), p.since) {
        (Some("since"), Some(t)) => Scope::Since(t),
        _ => Scope::All,
    }
}

/// Carries out an approved sanction: the standing changes (which ends the marker's tokens and
/// image links), open reviews close with this decision, a discipline entry names both people.
pub fn apply_sanction(
    c: &mut DbConn,
    exam_id: &str,
    p: &SanctionPayload,
    dismiss: bool,
    row: &ApprovalRow,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let decider = row.decided_by.as_deref().unwrap_or_default();
    let m = db::markers::find(c, &p.marker_id)?;
    db::markers::lock(c, &m.id)?;
    if let Some(id) = &p.review_id {
        // Filed from a review that a leader has since settled (reinstated): the request is
        // stale, and approving it would overrule that decision unseen.
        triggers::check_open(&db::reviews::find_locked(c, id)?.status)?;
    }
    change_standing(c, exam_id, &m.id, sanction_event(dismiss), decider, &p.reason, now)?;
    let kind = if dismiss { "dismissed" } else { "suspended" };
    let decision = if dismiss { "dismiss" } else { "suspend" };
    db::discipline::decide_open_reviews(c, exam_id, &m.id, decision, decider, now)?;
    let entry = db::discipline::NewEntry {
        exam_id,
        marker_id: &m.id,
        kind,
        reason: &p.reason,
        approval_id: &row.id,
        requested_by: &row.requested_by,
        decided_by: decider,
    };
    db::discipline::record(c, &entry, now)?;
    if !dismiss {
        let since = match scope_of(p) {
            Scope::All => None,
            Scope::Since(t) => Some(crate::db::db_time(t)),
        };
        let why = format!("marker suspended: {}", p.reason);
        let mut marks = db::marking::valid_marks_of_marker(c, exam_id, &m.id, since)?;
        // Scripts are locked in one order, so two suspensions approved at once cannot deadlock.
        marks.sort_by(|a, b| a.2.cmp(&b.2));
        for mark in marks {
            crate::http::resolution::void_and_remark(c, exam_id, &mark, &why, now)?;
        }
    }
    Ok(())
}
