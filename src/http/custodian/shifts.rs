//! Duty shifts: custodians check in to an exam and out of it; every change is audited.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::duty::on_duty_for;
use crate::db;
use crate::domain::RuleError;
use crate::domain::custody::check_check_out;
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Custodian;
use crate::http::error::{ApiError, Problem};
use crate::http::leader::exam_by_code;
use crate::http::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct DutyView {
    pub exam: String,
    /// Custodians on duty for the exam now.
    pub on_duty: usize,
    /// Whether the caller is among them.
    pub checked_in: bool,
}

/// Check in to a duty shift for the exam.
#[utoipa::path(
    tag = "custody",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "On duty", body = DutyView),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already on duty", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/shifts/check-in")]
pub async fn check_in(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
) -> Result<web::Json<DutyView>, ApiError> {
    let code = path.into_inner();
    let now = state.now();
    let audit = custodian.audit("shift.check_in").object("exam_code", &code);
    let entry = audit.clone();
    let me = custodian.id.clone();
    let result = state
        .db
        .write(move |c| -> Result<DutyView, ApiError> {
            let exam = exam_by_code(c, &code)?;
            let shift = db::custody::check_in(c, &exam.id, &me, now).map_err(|e| match e {
                db::DbError::Duplicate(_) => {
                    RuleError::conflict("already_on_duty", "you are on duty for this exam").into()
                }
                other => ApiError::from(other),
            })?;
            let (_, count) = on_duty_for(c, &exam.id, &me)?;
            entry.object("shift", &shift).exam(&exam.id).append(c, now)?;
            Ok(DutyView {
                exam: exam.code,
                on_duty: count,
                checked_in: true,
            })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

/// Check out of the exam's duty shift. Refused while a batch is open and fewer than two would
/// stay on duty: another custodian checks in first (a shift hand-over).
#[utoipa::path(
    tag = "custody",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Off duty", body = DutyView),
        (status = 403, description = "Would leave an open batch with fewer than two on duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not on duty", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/shifts/check-out")]
pub async fn check_out(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
) -> Result<web::Json<DutyView>, ApiError> {
    let code = path.into_inner();
    let now = state.now();
    let audit = custodian.audit("shift.check_out").object("exam_code", &code);
    let entry = audit.clone();
    let me = custodian.id.clone();
    let result = state
        .db
        .write(move |c| -> Result<DutyView, ApiError> {
            let exam = db::exams::by_code_locked(c, &code).map_err(crate::http::error::missing("exam"))?;
            let (on, count) = on_duty_for(c, &exam.id, &me)?;
            if !on {
                return Err(RuleError::conflict("not_on_duty", "you are not on duty for this exam").into());
            }
            let open = usize::try_from(db::custody::open_batches(c, &exam.id)?).unwrap_or(usize::MAX);
            check_check_out(count - 1, open)?;
            db::custody::check_out(c, &exam.id, &me, now)?;
            entry.exam(&exam.id).append(c, now)?;
            Ok(DutyView {
                exam: exam.code,
                on_duty: count - 1,
                checked_in: false,
            })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}

/// A custodian on duty, as the desk shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnDuty {
    pub username: String,
    pub full_name: String,
    /// When their shift began.
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DutyRoster {
    pub exam: String,
    /// Whether the caller is on duty for the exam.
    pub checked_in: bool,
    /// Every custodian on duty for the exam now, earliest check-in first.
    pub custodians: Vec<OnDuty>,
}

/// Who is on duty for the exam now (the caller included or not), for the custody desk.
#[utoipa::path(
    tag = "custody",
    params(("exam" = String, Path, description = "Exam code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The custodians on duty", body = DutyRoster),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/exams/{exam}/shifts")]
pub async fn duty_roster(
    state: web::Data<AppState>,
    custodian: Custodian,
    path: web::Path<String>,
) -> Result<web::Json<DutyRoster>, ApiError> {
    let code = path.into_inner();
    let me = custodian.id.clone();
    let audit = custodian.audit("shift.list").object("exam_code", &code);
    let result = state
        .db
        .read(move |c| -> Result<DutyRoster, ApiError> {
            let exam = exam_by_code(c, &code)?;
            let shifts = db::custody::shifts_on_duty(c, &exam.id)?;
            let ids: Vec<String> = shifts.iter().map(|(u, _)| u.clone()).collect();
            let names = db::users::names(c, &ids)?;
            let custodians = shifts
                .iter()
                .map(|(id, since)| {
                    let (username, full_name) = names
                        .iter()
                        .find(|(u, ..)| u == id)
                        .map(|(_, n, f, _)| (n.clone(), f.clone()))
                        .unwrap_or_else(|| (id.clone(), String::new()));
                    OnDuty {
                        username,
                        full_name,
                        since: since.and_utc(),
                    }
                })
                .collect();
            Ok(DutyRoster {
                exam: exam.code,
                checked_in: ids.contains(&me),
                custodians,
            })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}
