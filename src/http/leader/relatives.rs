//! Relatives sitting an exam (R3), declared by markers, leaders and custodians; a marker with
//! one on the candidate list becomes ineligible (paused, with a review, when already at work).

use actix_web::{HttpResponse, post, web};
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::exams::exam_by_code;
use super::markers::reevaluate;
use crate::db::exams::ExamRow;
use crate::db::markers::MarkerRow;
use crate::db::{self, DbConn};
use crate::domain::RuleError;
use crate::domain::role::Role;
use crate::http::audit_entry::{Audit, audit_refusal};
use crate::http::caller::Caller;
use crate::http::error::{ApiError, Problem};
use crate::http::json::Json;
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareRelatives {
    /// Admission numbers of the caller's immediate relatives sitting this exam (kept only as
    /// keyed hashes).
    #[schema(schema_with = crate::http::schemas::admission_numbers)]
    pub admission_numbers: Vec<String>,
}

/// Declare your immediate relatives sitting an exam (R3). A marker with one in the candidate
/// list becomes ineligible (paused, with a review, when already at work).
#[utoipa::path(
    tag = "markers",
    params(("exam" = String, Path, description = "Exam code")),
    request_body = DeclareRelatives,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Declared"),
        (status = 404, description = "No such exam", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed admission number", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/exams/{exam}/relatives")]
pub async fn declare_relatives(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: Json<DeclareRelatives>,
) -> Result<HttpResponse, ApiError> {
    let code = path.into_inner();
    if caller.role == Role::Admissions {
        return Err(ApiError::forbidden("not_a_person", "service clients have no relatives"));
    }
    let d = body.into_inner()?;
    let numbers = d
        .admission_numbers
        .iter()
        .enumerate()
        .map(|(i, n)| {
            crate::domain::candidate::normalise_admission_number(n)
                .map_err(|e| RuleError::invalid(e.code(), format!("admission_numbers[{i}]"), e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let now = state.now();
    let (vault, me, defaults) = (state.vault.clone(), caller.id.clone(), state.settings.rules.clone());
    let audit = caller.audit("relatives.declare").object("exam_code", &code);
    let (entry, standing) = (audit.clone(), caller.audit("marker.standing"));
    let result = state
        .db
        .write(move |c| -> Result<(), ApiError> {
            let exam = exam_by_code(c, &code)?;
            // Declarations and candidate imports take turns on the exam, so neither misses the
            // other's new row (R3).
            db::exams::lock_by_id(c, &exam.id)?;
            for n in &numbers {
                db::markers::declare_relative(c, &exam.id, &me, &vault.lookup(&exam.id, n), now)?;
            }
            if let Some(m) = db::markers::by_user(c, &me)? {
                let max_age = exam.rules(&defaults)?.marker_max_age;
                reevaluate_if_known(c, &exam, &m, max_age, &standing, now)?;
            }
            entry
                .exam(&exam.id)
                .details(serde_json::json!({ "declared": numbers.len() }))
                .append(c, now)?;
            Ok(())
        })
        .await;
    audit_refusal(&state, audit, result).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Re-applies the rules to a marker who already has a standing in the exam.
pub fn reevaluate_if_known(
    c: &mut DbConn,
    exam: &ExamRow,
    m: &MarkerRow,
    max_age: u32,
    standing: &Audit,
    now: chrono::DateTime<Utc>,
) -> Result<(), ApiError> {
    let known = db::markers::standings(c, &m.id)?
        .into_iter()
        .any(|(e, _, _)| e == exam.id);
    if known {
        reevaluate(c, exam, m, max_age, standing, now)?;
    }
    Ok(())
}
