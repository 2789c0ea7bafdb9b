//! Blind distribution (R5, R9): one lease per marker, chosen at random among the tasks they may
//! have; sometimes a seed or one of their own scripts again, indistinguishable from live work.

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::choose::{self, Asker, Plan, Taken};
use super::door::MarkerDoor;
use crate::db::exams::ExamRow;
use crate::db::markers::MarkerRow;
use crate::db::marking::ServeRow;
use crate::db::scripts::ImageOf;
use crate::db::{self, DbConn};
use crate::domain::Score;
use crate::domain::marking::ServeKind;
use crate::domain::rules::MarkingRules;
use crate::http::audit_entry::{audit_refusal, refuse};
use crate::http::caller::Refusal;
use crate::http::error::{ApiError, Problem};
use crate::http::image_links::mint_for;
use crate::http::json::JsonOrEmpty;
use crate::http::state::AppState;
use crate::vault::Vault;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextRequest {
    /// Only this question's work (its code).
    #[serde(default)]
    pub question: Option<String>,
}

/// One leased script: everything needed to mark it, nothing about anyone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Lease {
    pub task_id: String,
    /// The question's code.
    pub question: String,
    pub anonymous_code: String,
    /// Server-relative links to the masked images, alive while the lease is.
    pub images: Vec<String>,
    #[schema(value_type = f64)]
    pub max_score: Score,
    #[schema(value_type = f64)]
    pub step: Score,
    /// The question's criteria ({code, name, max}), when it is marked by criteria.
    #[schema(value_type = Vec<Object>)]
    pub rubric: serde_json::Value,
    pub lease_expires_at: DateTime<Utc>,
    /// For the leases counter; never shown.
    #[serde(skip)]
    #[schema(ignore)]
    pub exam_id: String,
}

/// The marker's record, or 404 for an account without one.
pub fn marker_of(c: &mut DbConn, user: &str) -> Result<MarkerRow, ApiError> {
    db::markers::by_user(c, user)?.ok_or(ApiError::NotFound("marker record"))
}

/// The marking day of `now` in the exam's time zone.
pub fn marking_day(exam: &ExamRow, now: DateTime<Utc>) -> NaiveDate {
    let tz: chrono_tz::Tz = exam.time_zone.parse().unwrap_or(chrono_tz::UTC);
    now.with_timezone(&tz).date_naive()
}

/// Answers a serve as the marker sees it, with fresh image links (the old ones die). `taken`:
/// the serve was made in this transaction, with what that read already; a fresh live script has
/// no links of this holder to end (they never held it before, R5).
pub fn lease_view(c: &mut DbConn, s: &ServeRow, holder: &str, taken: Option<&Taken>) -> Result<Lease, ApiError> {
    let row = match taken.and_then(|t| t.question.clone()) {
        Some(row) => row,
        None => crate::http::resolution::question_of(c, &s.exam_id, &s.question_id)?,
    };
    let q = row.question()?;
    let expires = s.lease_expires_at.and_utc();
    let image = match (&s.prescored_id, &s.script_id) {
        (Some(p), _) => {
            db::scripts::revoke_prescored_tokens(c, &s.exam_id, p, holder)?;
            let key = db::prescored::find(c, &s.exam_id, p)?.image_key;
            mint_for(c, &s.exam_id, ImageOf::Prescored(p), &key, holder, expires)?.0
        }
        // A live lease on PostgreSQL wrote its link with it.
        (None, Some(script)) => match taken.and_then(|t| t.link.clone()) {
            Some(link) => link,
            None => {
                let fresh_live = taken.is_some() && s.kind == ServeKind::Live.as_str();
                if !fresh_live {
                    db::scripts::revoke_script_tokens_of(c, &s.exam_id, script, holder)?;
                }
                let key = match taken.and_then(|t| t.image_key.clone()) {
                    Some(key) => key,
                    None => db::scripts::script(c, script)?.image_key,
                };
                mint_for(c, &s.exam_id, ImageOf::Script(script), &key, holder, expires)?.0
            }
        },
        (None, None) => return Err(ApiError::Internal("a serve shows nothing".into())),
    };
    Ok(Lease {
        task_id: s.id.clone(),
        question: row.code,
        anonymous_code: s.anonymous_code.clone(),
        images: vec![image],
        max_score: q.max,
        step: q.step,
        rubric: serde_json::to_value(&q.criteria).unwrap_or_default(),
        lease_expires_at: expires,
        exam_id: s.exam_id.clone(),
    })
}

/// Lease the next script (body `{}` or `{"question": CODE}`): a random task among those the
/// marker may have (qualified for its question, never held before, not from their school, not a
/// relative's). Asking again while a lease runs returns the same lease. 204 when nothing is
/// there for the marker.
#[utoipa::path(
    tag = "marking",
    request_body(content = Option<NextRequest>, description = "Optional: no body takes any question"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The lease", body = Lease),
        (status = 204, description = "Nothing to mark for you now"),
        (status = 403, description = "The room is closed, or the marker is paused", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The marker is not active in any exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/marking/next")]
pub async fn next(
    state: web::Data<AppState>,
    door: MarkerDoor,
    body: JsonOrEmpty<NextRequest>,
) -> Result<HttpResponse, ApiError> {
    let marker = door.caller().clone();
    let audit = marker.audit("marking.next");
    let only = match body.into_inner() {
        Ok(b) => b.question,
        Err(e) => {
            door.admit(&state).await?;
            return Err(refuse(&state, audit, e).await);
        }
    };
    let entry = audit.clone();
    let result = async {
        let now = state.now();
        let (me, ws, vault, defaults) = (
            marker.id.clone(),
            marker.workstation.clone(),
            state.vault.clone(),
            state.settings.rules.clone(),
        );
        // A task the read chose may be taken by another lease before this one's write: then
        // read again (outside the writer), and only the last try chooses inside the write.
        // PostgreSQL lets many transactions write at once, so a lease chooses in its own write
        // there: a read first would double its statements and gain nothing. On SQLite's one
        // writer, the read keeps the choosing out of everyone's commit (and the door was
        // passed before it: `MarkerDoor`).
        let tries = match state.db.backend() {
            _ if door.in_act() => 1,
            db::Backend::Postgres => 1,
            db::Backend::Sqlite => TRIES,
        };
        for attempt in 1..=tries {
            let found = if tries == 1 {
                Found::Unread
            } else {
                let (me, only, vault, defaults) = (me.clone(), only.clone(), vault.clone(), defaults.clone());
                state
                    .db
                    .read(move |c| find(c, &me, only.as_deref(), &vault, &defaults, now))
                    .await?
            };
            let taking = Taking {
                door: door.clone(),
                me: me.clone(),
                workstation: ws.clone(),
                only: only.clone(),
                vault: vault.clone(),
                defaults: defaults.clone(),
                last_try: attempt == tries,
                now,
            };
            let entry = entry.clone();
            match state.db.write(move |c| taking.write(c, found, &entry)).await? {
                Attempt::Done(lease) => return Ok(Ok(lease)),
                Attempt::Refused(refusal) => return Ok(Err(refusal)),
                Attempt::Missed => {}
            }
        }
        Err(ApiError::Internal(
            "the last try chooses in the write and never misses".into(),
        ))
    }
    .await;
    let result = match result {
        // Turned away at the door: audited as every route's refusal is, not as a lease's.
        Ok(Err(refusal)) => return Err(refusal.answer(&state).await),
        Ok(Ok(lease)) => Ok(lease),
        Err(e) => Err(e),
    };
    match audit_refusal(&state, audit, result).await? {
        Some(lease) => {
            crate::http::metrics::lease_issued(&state, &lease.exam_id, &lease.question).await;
            Ok(HttpResponse::Ok().json(lease))
        }
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

/// Reads and writes a lease tries before it chooses inside the write transaction.
const TRIES: u32 = 3;

enum Attempt {
    Done(Option<Lease>),
    /// The door turned the caller away; nothing was written.
    Refused(Refusal),
    /// What the read chose was taken meanwhile: read again.
    Missed,
}

/// The write half of a lease, with what it needs from the request.
struct Taking {
    door: MarkerDoor,
    me: String,
    workstation: Option<String>,
    only: Option<String>,
    vault: std::sync::Arc<Vault>,
    defaults: MarkingRules,
    last_try: bool,
    now: DateTime<Utc>,
}

impl Taking {
    fn write(
        &self,
        c: &mut DbConn,
        found: Found,
        entry: &crate::http::audit_entry::Audit,
    ) -> Result<Attempt, ApiError> {
        let now = self.now;
        let m = match self.door.enter_locked(c, now)? {
            Ok(m) => m,
            Err(refusal) => return Ok(Attempt::Refused(refusal)),
        };
        let (reopened, running, exams) = if matches!(c, DbConn::Pg(_)) {
            let looked = db::marking::sweep_and_look_pg(c, &m.id, now)?;
            let running = looked.running.map(|id| db::marking::serve(c, &id)).transpose()?;
            (
                usize::try_from(looked.reopened).unwrap_or(0),
                running,
                looked.exams.or(Some(vec![])),
            )
        } else {
            let reopened = db::marking::expire_leases(c, now)?;
            (reopened, db::marking::current_serve(c, &m.id, now)?, None)
        };
        if let Some(s) = running {
            check_may_mark(c, &s.exam_id, &m, now)?;
            return lease_view(c, &s, &self.me, None).map(|l| Attempt::Done(Some(l)));
        }
        let who = Asker {
            marker: &m,
            user: &self.me,
            workstation: self.workstation.as_deref(),
            only: self.only.as_deref(),
        };
        let taken = match found {
            // Nothing was open when the read looked, and no lease has ended since.
            Found::Nothing if reopened == 0 => None,
            Found::Chosen(plan) => {
                let (exam, status) = db::exams::shared_for_marker(c, &plan.exam_id, &m.id)?;
                let rules = exam.rules(&self.defaults)?;
                match choose::take(c, &exam, status, &rules, &plan, &who, entry, now)? {
                    Some(s) => Some(s),
                    None if !self.last_try => return Ok(Attempt::Missed),
                    None => choose_in_write(c, &who, exams, &self.vault, &self.defaults, entry, now)?,
                }
            }
            // The read's view no longer holds (or it saw a lease that has ended since, or no
            // standing): choose here, where nothing changes underneath.
            _ => choose_in_write(c, &who, exams, &self.vault, &self.defaults, entry, now)?,
        };
        let Some(taken) = taken else {
            return Ok(Attempt::Done(None));
        };
        let s = &taken.serve;
        if !taken.logged {
            choose::lease_entry(entry, s).append(c, now)?;
        }
        lease_view(c, s, &self.me, Some(&taken)).map(|l| Attempt::Done(Some(l)))
    }
}

/// What the read before a lease found.
enum Found {
    /// No read came first: the write chooses.
    Unread,
    /// A lease of the marker's runs: the write answers it again (or chooses, if it ended).
    Running,
    /// The marker is active in no exam.
    Inactive,
    /// Nothing open for the marker in any exam.
    Nothing,
    Chosen(Plan),
}

/// The read before a lease: the marker's running lease, or a plan in the first exam that has
/// work for them.
fn find(
    c: &mut DbConn,
    me: &str,
    only: Option<&str>,
    vault: &Vault,
    defaults: &MarkingRules,
    now: DateTime<Utc>,
) -> Result<Found, ApiError> {
    let m = marker_of(c, me)?;
    if db::marking::current_serve(c, &m.id, now)?.is_some() {
        return Ok(Found::Running);
    }
    let exams = db::markers::active_exams(c, &m.id)?;
    if exams.is_empty() {
        return Ok(Found::Inactive);
    }
    let who = Asker {
        marker: &m,
        user: me,
        workstation: None,
        only,
    };
    for exam_id in exams {
        let exam = db::exams::by_id(c, &exam_id)?;
        if !choose::takes_leases(&exam, now) {
            continue;
        }
        if let Some(p) = choose::plan(c, &exam, &exam.rules(defaults)?, &who, vault, now)? {
            return Ok(Found::Chosen(p));
        }
    }
    Ok(Found::Nothing)
}

/// Chooses and takes in the write transaction itself: what every lease did before the read
/// came first, kept for when the read's choice no longer holds. `exams`: the marker's active
/// exams, when this transaction read them already.
#[allow(clippy::too_many_arguments)]
fn choose_in_write(
    c: &mut DbConn,
    who: &Asker<'_>,
    exams: Option<Vec<String>>,
    vault: &Vault,
    defaults: &MarkingRules,
    entry: &crate::http::audit_entry::Audit,
    now: DateTime<Utc>,
) -> Result<Option<Taken>, ApiError> {
    let exams = match exams {
        Some(exams) => exams,
        None => db::markers::active_exams(c, &who.marker.id)?,
    };
    if exams.is_empty() {
        return Err(not_active(c, who.marker)?);
    }
    for exam_id in exams {
        let (exam, status) = db::exams::shared_for_marker(c, &exam_id, &who.marker.id)?;
        if !choose::takes_leases(&exam, now) {
            continue;
        }
        let rules = exam.rules(defaults)?;
        if let Some(plan) = choose::plan(c, &exam, &rules, who, vault, now)?
            && let Some(s) = choose::take(c, &exam, status, &rules, &plan, who, entry, now)?
        {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

/// A marker works on an exam's scripts only while active in it and while its room is open
/// (checked in the transaction that leases or marks, with the exam row shared, so a room that
/// closes or a pause that lands meanwhile wins).
pub fn check_may_mark(c: &mut DbConn, exam_id: &str, m: &MarkerRow, now: DateTime<Utc>) -> Result<ExamRow, ApiError> {
    let (exam, status) = db::exams::shared_for_marker(c, exam_id, &m.id)?;
    if !(exam.room_open && exam.window().contains(now)) {
        return Err(ApiError::forbidden(
            "room_closed",
            "the marking room of this exam is closed",
        ));
    }
    if exam.locked {
        return Err(
            crate::domain::RuleError::conflict("exam_locked", "the exam is locked: its marks do not change").into(),
        );
    }
    match status {
        crate::domain::marker_status::MarkerStatus::Active => Ok(exam),
        crate::domain::marker_status::MarkerStatus::Paused => Err(ApiError::forbidden(
            "marker_paused",
            "you are paused pending a review by leadership",
        )),
        other => Err(crate::domain::RuleError::conflict(
            "not_active",
            format!("you are {} in this exam", other.as_str()),
        )
        .into()),
    }
}

/// Why a marker with no active standing gets nothing: paused, or not (yet) active.
fn not_active(c: &mut DbConn, m: &MarkerRow) -> Result<ApiError, ApiError> {
    let paused = db::markers::standings(c, &m.id)?
        .iter()
        .any(|(_, status, _)| status == "paused");
    Ok(if paused {
        ApiError::forbidden("marker_paused", "you are paused pending a review by leadership")
    } else {
        crate::domain::RuleError::conflict(
            "not_active",
            "you are not active in any exam: training and the qualification test come first",
        )
        .into()
    })
}
