//! The marker archive over HTTP (R2, R4): records made by leaders, vetting per exam with every
//! failed rule named, appointment, training, question assignment; relatives declared by staff.

use actix_web::{HttpResponse, post, web};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::exams::exam_by_code;
use crate::db::exams::ExamRow;
use crate::db::markers::{Change, MarkerRow};
use crate::db::{self, DbConn};
use crate::domain::RuleError;
use crate::domain::eligibility::{Ineligibility, MarkerFacts, eligibility};
use crate::domain::marker_status::{MarkerEvent, MarkerStatus, check_assignable, transition};
use crate::domain::role::{Role, check_person, check_username};
use crate::http::audit_entry::{Audit, audit_refusal};
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::state::AppState;
use crate::secrets;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recommendation {
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub principal: String,
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub school: String,
    /// 1950 to 2100.
    #[schema(pattern = "^(19[5-9][0-9]|20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$")]
    pub date: NaiveDate,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attestations {
    #[serde(default)]
    pub health: bool,
    #[serde(default)]
    pub conduct: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMarker {
    #[schema(min_length = 3, max_length = 64, pattern = r"^[A-Za-z0-9._@-]+$")]
    pub username: String,
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub full_name: String,
    #[schema(pattern = "^[ -]*([A-Za-z0-9][ -]*){4,32}$")]
    pub id_document: String,
    pub birth_date: NaiveDate,
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub school_code: String,
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub subject: String,
    #[schema(minimum = 0, maximum = 60)]
    #[serde(deserialize_with = "crate::domain::whole::deserialize")]
    pub years_teaching: u32,
    #[serde(default)]
    pub recommendation: Option<Recommendation>,
    pub attestations: Attestations,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkerCreated {
    pub id: String,
    pub user_id: String,
    pub username: String,
    /// Shown once: the marker sets their own password with it before anything else.
    pub one_time_password: String,
}

pub(crate) fn text(field: &str, raw: &str) -> Result<String, RuleError> {
    let t = crate::domain::text::tidy(raw);
    if t.is_empty() || !crate::domain::text::is_plain(raw, 100) {
        return Err(RuleError::invalid(
            "invalid_marker",
            field,
            format!("{field} is 1 to 100 characters"),
        ));
    }
    Ok(t)
}

/// Years of teaching an administrator could mean (the schema says 0 to 60).
pub(crate) fn check_years(years: u32) -> Result<i32, RuleError> {
    if years > 60 {
        return Err(RuleError::invalid(
            "invalid_marker",
            "years_teaching",
            "years_teaching is 0 to 60",
        ));
    }
    Ok(i32::try_from(years).unwrap_or(60))
}

/// A recommendation names a principal and a school, and is dated no later than today.
pub(crate) fn checked_recommendation(r: &Recommendation, today: NaiveDate) -> Result<Recommendation, RuleError> {
    crate::domain::eligibility::check_day("recommendation.date", r.date)?;
    if r.date > today {
        return Err(RuleError::invalid(
            "invalid_date",
            "recommendation.date",
            "a recommendation is dated no later than today",
        ));
    }
    Ok(Recommendation {
        principal: text("recommendation.principal", &r.principal)?,
        school: text("recommendation.school", &r.school)?,
        date: r.date,
    })
}

/// Create a marker's archive record and login account (one person, one account).
///
/// Refused by rules of the day: `invalid_date` (a recommendation dated after today, or a birth
/// date not 18 to 80 years before today).
#[utoipa::path(
    tag = "markers",
    request_body = CreateMarker,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; the one-time password is shown once", body = MarkerCreated),
        (status = 409, description = "Username taken, or the person holds an account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/markers")]
pub async fn create_marker(
    state: web::Data<AppState>,
    leader: Leader,
    body: Json<CreateMarker>,
) -> Result<HttpResponse, ApiError> {
    let m = body.into_inner()?;
    check_username(&m.username)?;
    let person = check_person(&m.full_name, &m.id_document)?;
    crate::domain::exam::check_code("school_code", &m.school_code)?;
    let subject = text("subject", &m.subject)?;
    let today = state.now().date_naive();
    crate::domain::eligibility::check_birth_date(m.birth_date, today)?;
    let years_teaching = check_years(m.years_teaching)?;
    let recommendation = m
        .recommendation
        .as_ref()
        .map(|r| checked_recommendation(r, today))
        .transpose()?;
    let one_time = secrets::one_time_password();
    let pw = one_time.clone();
    let hash = secrets::hashing(move || secrets::hash_password(&pw))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let document_hash = secrets::keyed_hash(&state.identity_key, &person.id_document);
    let now = state.now();
    let expires = now + chrono::Duration::minutes(state.settings.auth.one_time_password_minutes);
    let by = leader.id.clone();
    let audit = leader
        .audit("marker.create")
        .details(serde_json::json!({ "username": m.username }));
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<MarkerCreated, ApiError> {
            if db::users::find_by_username(c, &m.username)?.is_some() {
                return Err(RuleError::conflict("username_taken", "that username is taken").into());
            }
            if db::users::find_by_document(c, &document_hash)?.is_some() {
                return Err(RuleError::conflict("person_has_account", "this person already holds an account").into());
            }
            let user_id = db::users::insert(
                c,
                &db::users::NewUser {
                    username: &m.username,
                    password_hash: &hash,
                    role: Role::Marker,
                    chief: false,
                    active: true,
                    created_by: Some(&by),
                    full_name: &person.full_name,
                    id_document_hash: &document_hash,
                    must_change_password: true,
                    one_time_password_expires_at: Some(expires),
                },
                now,
            )?;
            let id = db::new_id();
            let rec = recommendation.as_ref();
            db::markers::insert(
                c,
                &MarkerRow {
                    id: id.clone(),
                    user_id: user_id.clone(),
                    birth_date: m.birth_date,
                    school_code: m.school_code.clone(),
                    subject,
                    years_teaching,
                    recommended_by: rec.map(|r| r.principal.clone()),
                    recommending_school: rec.map(|r| r.school.clone()),
                    recommended_on: rec.map(|r| r.date),
                    health_attested: m.attestations.health,
                    conduct_attested: m.attestations.conduct,
                    created_at: crate::db::db_time(now),
                    created_by: by.clone(),
                },
            )?;
            entry.object("marker", &id).append(c, now)?;
            Ok(MarkerCreated {
                id,
                user_id,
                username: m.username.clone(),
                one_time_password: one_time,
            })
        })
        .await;
    let created = audit_refusal(&state, audit, result).await?;
    Ok(HttpResponse::Created().json(created))
}

/// The first marking day, in the exam's own time zone.
fn first_day(exam: &ExamRow) -> NaiveDate {
    let tz: chrono_tz::Tz = exam.time_zone.parse().unwrap_or(chrono_tz::UTC);
    exam.window().start.with_timezone(&tz).date_naive()
}

/// Every eligibility rule the marker fails for the exam.
fn evaluate(c: &mut DbConn, exam: &ExamRow, m: &MarkerRow, max_age: u32) -> Result<Vec<Ineligibility>, ApiError> {
    let facts = MarkerFacts {
        birth_date: m.birth_date,
        recommended: m.recommended_by.is_some(),
        health_attested: m.health_attested,
        conduct_attested: m.conduct_attested,
        relatives_sitting: db::markers::relatives_sitting(c, &exam.id, &m.user_id)?,
    };
    Ok(eligibility(&facts, first_day(exam), max_age))
}

/// The failed rules, as readable reasons.
pub fn evaluate_reasons(c: &mut DbConn, exam: &ExamRow, m: &MarkerRow, max_age: u32) -> Result<Vec<String>, ApiError> {
    Ok(evaluate(c, exam, m, max_age)?
        .iter()
        .map(|f| f.reason(max_age))
        .collect())
}

/// Applies the eligibility rules anew and records what changes (a marker at work found
/// ineligible is paused and a review opened). Every decision that changes the standing or the
/// reasons goes into the history with its reasons, and a change of standing is audited under
/// `standing`'s actor (who imported, declared or appointed). Returns the status and the failed
/// rules.
pub fn reevaluate(
    c: &mut DbConn,
    exam: &ExamRow,
    m: &MarkerRow,
    max_age: u32,
    standing: &Audit,
    now: chrono::DateTime<Utc>,
) -> Result<(MarkerStatus, Vec<Ineligibility>), ApiError> {
    let failed = evaluate(c, exam, m, max_age)?;
    let from = db::markers::status(c, &exam.id, &m.id)?;
    let to = transition(from, MarkerEvent::Evaluated(failed.is_empty()))?;
    let readable: Vec<String> = failed.iter().map(|f| f.reason(max_age)).collect();
    let reasons = serde_json::to_string(&readable).unwrap_or_else(|_| "[]".into());
    let why = if readable.is_empty() {
        "eligibility rules applied: every rule met".to_string()
    } else {
        format!("eligibility rules applied: {}", readable.join("; "))
    };
    let change = Change {
        exam_id: &exam.id,
        marker_id: &m.id,
        from,
        to,
        by: standing.actor_id(),
        reason: &why,
        reasons: &reasons,
    };
    db::markers::set_status(c, &change, now)?;
    if from == MarkerStatus::Active && to == MarkerStatus::Paused {
        db::markers::open_review(c, &exam.id, &m.id, "ineligible", &reasons, now)?;
    }
    if from != to {
        standing
            .clone()
            .exam(&exam.id)
            .object("marker", &m.id)
            .details(serde_json::json!({ "from": from.as_str(), "to": to.as_str(), "reasons": readable }))
            .append(c, now)?;
    }
    Ok((to, failed))
}

fn event_for(
    c: &mut DbConn,
    exam: &ExamRow,
    m: &MarkerRow,
    event: MarkerEvent,
    by: &str,
    why: &str,
    now: chrono::DateTime<Utc>,
) -> Result<MarkerStatus, ApiError> {
    let from = db::markers::status(c, &exam.id, &m.id)?;
    let to = transition(from, event)?;
    let reasons = db::markers::reasons(c, &exam.id, &m.id)?;
    let change = Change {
        exam_id: &exam.id,
        marker_id: &m.id,
        from,
        to,
        by: Some(by),
        reason: why,
        reasons: &reasons,
    };
    db::markers::set_status(c, &change, now)?;
    Ok(to)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Appoint {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub exam: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Standing {
    pub exam: String,
    pub status: String,
    /// Every failed eligibility rule, readable.
    pub reasons: Vec<String>,
}

/// Appoint (聘请) a marker to an exam: the eligibility rules are applied first, and an
/// ineligible marker is refused with every failed rule named.
#[utoipa::path(
    tag = "markers",
    params(("id" = String, Path, description = "Marker id")),
    request_body = Appoint,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Appointed", body = Standing),
        (status = 404, description = "No such marker or exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Ineligible (every reason named), or not in a state to be appointed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/markers/{id}/appointments")]
pub async fn appoint(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<Appoint>,
) -> Result<web::Json<Standing>, ApiError> {
    let id = path.into_inner();
    let code = body.into_inner()?.exam;
    let now = state.now();
    let defaults = state.settings.rules.clone();
    let by = leader.id.clone();
    let audit = leader.audit("marker.appoint").object("marker", &id);
    let (entry, standing) = (audit.clone(), leader.audit("marker.standing"));
    let result = state
        .db
        .write(move |c| -> Result<Result<Standing, ApiError>, ApiError> {
            let m = db::markers::find(c, &id).map_err(missing("marker"))?;
            db::markers::lock(c, &m.id)?;
            let exam = exam_by_code(c, &code)?;
            super::exams::not_related(c, &exam.id, &by)?;
            let max_age = exam.rules(&defaults)?.marker_max_age;
            let (_, failed) = reevaluate(c, &exam, &m, max_age, &standing, now)?;
            if !failed.is_empty() {
                // The finding is kept (and the refusal audited after the commit).
                let why: Vec<String> = failed.iter().map(|f| f.reason(max_age)).collect();
                let refusal =
                    RuleError::conflict("ineligible", format!("the marker is ineligible: {}", why.join("; ")));
                return Ok(Err(refusal.into()));
            }
            let to = event_for(c, &exam, &m, MarkerEvent::Appoint, &by, "appointed", now)?;
            entry.exam(&exam.id).append(c, now)?;
            Ok(Ok(Standing {
                exam: exam.code,
                status: to.as_str().into(),
                reasons: vec![],
            }))
        })
        .await;
    let outcome = audit_refusal(&state, audit.clone(), result).await?;
    audit_refusal(&state, audit, outcome).await.map(web::Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordTraining {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub exam: String,
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub question: String,
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub course: String,
    /// 1950 to 2100.
    #[schema(pattern = "^(19[5-9][0-9]|20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$")]
    pub date: NaiveDate,
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub trainer: String,
}

/// Record a completed training for an exam's question ("no training, no post"). The marker
/// must be appointed (or trained already, for another question).
#[utoipa::path(
    tag = "markers",
    params(("id" = String, Path, description = "Marker id")),
    request_body = RecordTraining,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Recorded", body = Standing),
        (status = 404, description = "No such marker, exam or question", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not appointed (the problem names the current status), or recorded already", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/markers/{id}/training")]
pub async fn record_training(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<RecordTraining>,
) -> Result<web::Json<Standing>, ApiError> {
    let id = path.into_inner();
    let t = body.into_inner()?;
    let course = text("course", &t.course)?;
    let trainer = text("trainer", &t.trainer)?;
    crate::domain::eligibility::check_day("date", t.date)?;
    let now = state.now();
    let by = leader.id.clone();
    let audit = leader.audit("marker.training").object("marker", &id);
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<Standing, ApiError> {
            let m = db::markers::find(c, &id).map_err(missing("marker"))?;
            let exam = exam_by_code(c, &t.exam)?;
            super::exams::not_related(c, &exam.id, &by)?;
            let question = question_id(c, &exam, &t.question)?;
            let to = event_for(c, &exam, &m, MarkerEvent::Train, &by, "training recorded", now)?;
            let training = db::markers::Training {
                exam_id: &exam.id,
                marker_id: &m.id,
                question_id: &question,
                course: &course,
                trained_on: t.date,
                trainer: &trainer,
                recorded_by: &by,
            };
            db::markers::record_training(c, &training, now).map_err(|e| match e {
                db::DbError::Duplicate(_) => {
                    RuleError::conflict("already_trained", "this training is recorded already").into()
                }
                other => ApiError::from(other),
            })?;
            entry
                .exam(&exam.id)
                .details(serde_json::json!({ "question": t.question, "course": course }))
                .append(c, now)?;
            Ok(Standing {
                exam: exam.code,
                status: to.as_str().into(),
                reasons: vec![],
            })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

fn question_id(c: &mut DbConn, exam: &ExamRow, code: &str) -> Result<String, ApiError> {
    db::exams::questions_of(c, &exam.id)?
        .into_iter()
        .find(|q| q.code == code)
        .map(|q| q.id)
        .ok_or_else(|| {
            RuleError::invalid(
                "unknown_question",
                "question",
                format!("the exam has no question {code}"),
            )
            .into()
        })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignQuestions {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub exam: String,
    #[schema(min_items = 1)]
    pub questions: Vec<String>,
}

/// Assign an appointed marker to questions of the exam.
#[utoipa::path(
    tag = "markers",
    params(("id" = String, Path, description = "Marker id")),
    request_body = AssignQuestions,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Assigned", body = Standing),
        (status = 404, description = "No such marker or exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not appointed yet", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown question", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/markers/{id}/questions")]
pub async fn assign_questions(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<AssignQuestions>,
) -> Result<web::Json<Standing>, ApiError> {
    let id = path.into_inner();
    let a = body.into_inner()?;
    let now = state.now();
    let audit = leader.audit("marker.questions").object("marker", &id);
    let me = leader.id.clone();
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<Standing, ApiError> {
            let m = db::markers::find(c, &id).map_err(missing("marker"))?;
            let exam = exam_by_code(c, &a.exam)?;
            super::exams::not_related(c, &exam.id, &me)?;
            let status = db::markers::status(c, &exam.id, &m.id)?;
            check_assignable(status)?;
            for q in &a.questions {
                let qid = question_id(c, &exam, q)?;
                db::markers::assign_question(c, &exam.id, &m.id, &qid)?;
            }
            entry
                .exam(&exam.id)
                .details(serde_json::json!({ "questions": a.questions }))
                .append(c, now)?;
            Ok(Standing {
                exam: exam.code,
                status: status.as_str().into(),
                reasons: vec![],
            })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}
