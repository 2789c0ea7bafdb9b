//! Blind distribution (R5, R9): one lease per marker, chosen at random among the tasks they may
//! have; sometimes a seed or one of their own scripts again, indistinguishable from live work.

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::exams::{ExamRow, QuestionRow};
use crate::db::markers::MarkerRow;
use crate::db::marking::{Eligible, ServeRow};
use crate::db::scripts::ImageOf;
use crate::db::{self, DbConn, db_time};
use crate::domain::Score;
use crate::domain::custody::anonymous_code;
use crate::domain::marking::{Available, ServeKind, Today, choose_serve};
use crate::domain::rules::MarkingRules;
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::MarkerCaller;
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

/// Answers a serve as the marker sees it, with fresh image links (the old ones die).
pub fn lease_view(c: &mut DbConn, s: &ServeRow, holder: &str) -> Result<Lease, ApiError> {
    let row = crate::http::resolution::question_of(c, &s.exam_id, &s.question_id)?;
    let q = row.question()?;
    let expires = s.lease_expires_at.and_utc();
    let image = match (&s.prescored_id, &s.script_id) {
        (Some(p), _) => {
            db::scripts::revoke_prescored_tokens(c, &s.exam_id, p, holder)?;
            let key = db::prescored::find(c, &s.exam_id, p)?.image_key;
            mint_for(c, &s.exam_id, ImageOf::Prescored(p), &key, holder, expires)?.0
        }
        (None, Some(script)) => {
            db::scripts::revoke_script_tokens_of(c, &s.exam_id, script, holder)?;
            let key = db::scripts::script(c, script)?.image_key;
            mint_for(c, &s.exam_id, ImageOf::Script(script), &key, holder, expires)?.0
        }
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
    })
}

/// The questions of an exam the marker passed the test for (restricted to `only` when asked).
fn questions_for(
    c: &mut DbConn,
    exam_id: &str,
    m: &MarkerRow,
    only: Option<&str>,
) -> Result<Vec<QuestionRow>, ApiError> {
    let passed = db::qualification::passed_questions(c, exam_id, &m.id)?;
    Ok(db::exams::questions_of(c, exam_id)?
        .into_iter()
        .filter(|q| passed.contains(&q.id) && only.is_none_or(|code| q.code == code))
        .collect())
}

/// Sheet lookups of the marker's declared relatives sitting the exam.
fn relative_sheets(c: &mut DbConn, vault: &Vault, exam_id: &str, user: &str) -> Result<Vec<String>, ApiError> {
    let mut sheets = vec![];
    for lookup in db::markers::relative_lookups(c, exam_id, user)? {
        if let Some((candidate, _)) = db::candidates::by_lookup(c, exam_id, &lookup)? {
            sheets.push(crate::http::custodian::sheets::sheet_lookup(vault, exam_id, &candidate));
        }
    }
    Ok(sheets)
}

/// A fresh anonymous code, never one a real script of the exam carries.
fn fresh_code(c: &mut DbConn, exam_id: &str) -> Result<String, ApiError> {
    loop {
        let code = anonymous_code(&mut rand::rng());
        if !db::scripts::code_taken(c, exam_id, &code)? {
            return Ok(code);
        }
    }
}

pub struct Asker<'a> {
    pub marker: &'a MarkerRow,
    pub user: &'a str,
    pub workstation: Option<&'a str>,
    pub only: Option<&'a str>,
}

/// Tries one exam: a live task if any is there for the marker, and then perhaps a seed or a
/// self-check in its place.
fn serve_in(
    c: &mut DbConn,
    exam: &ExamRow,
    rules: &MarkingRules,
    who: &Asker<'_>,
    vault: &Vault,
    now: DateTime<Utc>,
) -> Result<Option<ServeRow>, ApiError> {
    let questions = questions_for(c, &exam.id, who.marker, who.only)?;
    if questions.is_empty() {
        return Ok(None);
    }
    let ids: Vec<String> = questions.iter().map(|q| q.id.clone()).collect();
    let relatives = relative_sheets(c, vault, &exam.id, who.user)?;
    let eligible = Eligible {
        exam_id: &exam.id,
        question_ids: &ids,
        marker_id: &who.marker.id,
        school_code: &who.marker.school_code,
        relative_sheets: &relatives,
    };
    let Some(task) = db::marking::pick_task(c, &eligible, rand::random::<i64>())? else {
        return Ok(None);
    };
    let day = marking_day(exam, now);
    let (served, seeds) = db::marking::served_on(c, &exam.id, &who.marker.id, day)?;
    // Seeds and self-checks of the picked task's question only: one of another question would
    // betray itself when the marker asked for this one.
    let seed_pool = db::marking::unseen_seeds(c, &exam.id, &who.marker.id, &task.question_id)?;
    let check_pool = db::marking::self_checkable(c, &exam.id, &who.marker.id, &task.question_id)?;
    let available = Available {
        seed: !seed_pool.is_empty(),
        self_check: !check_pool.is_empty(),
    };
    let kind = choose_serve(Today { served, seeds }, available, rules, &mut rand::rng());
    // A lease never outlives the marking window.
    let expires = (now + Duration::minutes(i64::from(rules.lease_minutes))).min(exam.window().end);
    let mut serve = ServeRow {
        exam_id: exam.id.clone(),
        id: db::new_id(),
        marker_id: who.marker.id.clone(),
        kind: kind.as_str().into(),
        question_id: task.question_id.clone(),
        task_id: None,
        script_id: None,
        prescored_id: None,
        anonymous_code: String::new(),
        workstation_id: who.workstation.map(str::to_string),
        state: "leased".into(),
        day,
        leased_at: db_time(now),
        lease_expires_at: db_time(expires),
        ended_at: None,
    };
    match kind {
        ServeKind::Live => {
            if !db::marking::lease_task(c, &exam.id, &task.id, &who.marker.id, expires)? {
                return Err(db::DbError::Stale("the task".into()).into());
            }
            let script = db::scripts::script(c, &task.script_id)?;
            serve.task_id = Some(task.id.clone());
            serve.script_id = Some(script.id.clone());
            serve.anonymous_code = script.anonymous_code;
            db::marking::insert_serve(c, &serve)?;
            if !db::marking::hold(c, &exam.id, &script.id, &who.marker.id, &serve.id)? {
                return Err(db::DbError::Stale("the script's holders".into()).into());
            }
            if script.state == "awaiting" {
                db::marking::set_script_state(c, &exam.id, &script.id, "marking")?;
            }
        }
        ServeKind::Seed => {
            let (prescored, question) = seed_pool.choose(&mut rand::rng()).cloned().unwrap_or_default();
            serve.prescored_id = Some(prescored);
            serve.question_id = question;
            serve.anonymous_code = fresh_code(c, &exam.id)?;
            db::marking::insert_serve(c, &serve)?;
        }
        ServeKind::SelfCheck => {
            let (script, question, _) = check_pool.choose(&mut rand::rng()).cloned().unwrap_or_default();
            serve.script_id = Some(script);
            serve.question_id = question;
            serve.anonymous_code = fresh_code(c, &exam.id)?;
            db::marking::insert_serve(c, &serve)?;
        }
    }
    Ok(Some(serve))
}

/// Lease the next script (body `{}` or `{"question": CODE}`): a random task among those the
/// marker may have (qualified for its question, never held before, not from their school, not a
/// relative's). Asking again while a lease runs returns the same lease. 204 when nothing is
/// there for the marker.
#[utoipa::path(
    tag = "marking",
    request_body = NextRequest,
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
    marker: MarkerCaller,
    body: JsonOrEmpty<NextRequest>,
) -> Result<HttpResponse, ApiError> {
    let audit = marker.audit("marking.next");
    let entry = audit.clone();
    let result = async {
        let only = body.into_inner()?.question;
        let now = state.now();
        let (me, ws, vault, defaults) = (
            marker.id.clone(),
            marker.workstation.clone(),
            state.vault.clone(),
            state.settings.rules.clone(),
        );
        state
            .db
            .write(move |c| -> Result<Option<Lease>, ApiError> {
                let m = marker_of(c, &me)?;
                db::markers::lock(c, &m.id)?;
                db::marking::expire_leases(c, now)?;
                if let Some(s) = db::marking::current_serve(c, &m.id, now)? {
                    check_may_mark(c, &s.exam_id, &m, now)?;
                    return lease_view(c, &s, &me).map(Some);
                }
                let exams = db::markers::active_exams(c, &m.id)?;
                if exams.is_empty() {
                    return Err(not_active(c, &m)?);
                }
                let who = Asker {
                    marker: &m,
                    user: &me,
                    workstation: ws.as_deref(),
                    only: only.as_deref(),
                };
                for exam_id in exams {
                    let exam = db::exams::by_id_shared(c, &exam_id)?;
                    // A locked exam takes no leases (nothing is left open to lease anyway).
                    if !(exam.room_open && exam.window().contains(now)) || exam.locked {
                        continue;
                    }
                    let rules = exam.rules(&defaults)?;
                    if let Some(s) = serve_in(c, &exam, &rules, &who, &vault, now)? {
                        // Who held which script, when: kept for the record (admins only).
                        entry
                            .exam(&exam.id)
                            .object("task", &s.id)
                            .details(serde_json::json!({ "script": s.script_id, "prescored": s.prescored_id }))
                            .append(c, now)?;
                        return lease_view(c, &s, &me).map(Some);
                    }
                }
                Ok(None)
            })
            .await
    }
    .await;
    match audit_refusal(&state, audit, result).await? {
        Some(lease) => Ok(HttpResponse::Ok().json(lease)),
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

/// A marker works on an exam's scripts only while active in it and while its room is open
/// (checked in the transaction that leases or marks, with the exam row shared, so a room that
/// closes or a pause that lands meanwhile wins).
pub fn check_may_mark(c: &mut DbConn, exam_id: &str, m: &MarkerRow, now: DateTime<Utc>) -> Result<(), ApiError> {
    let exam = db::exams::by_id_shared(c, exam_id)?;
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
    match db::markers::status(c, exam_id, &m.id)? {
        crate::domain::marker_status::MarkerStatus::Active => Ok(()),
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
