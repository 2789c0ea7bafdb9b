//! Correcting a marker's record: a recommendation or attestation that arrives later, a move to
//! another school. The eligibility rules are applied again in every exam the marker stands in.

use actix_web::{patch, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::markers::{Attestations, Recommendation, Standing, check_years, checked_recommendation, reevaluate, text};
use crate::db;
use crate::domain::RuleError;
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMarker {
    #[serde(default)]
    pub recommendation: Option<Recommendation>,
    #[serde(default)]
    pub attestations: Option<Attestations>,
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub school_code: Option<String>,
    #[serde(default)]
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub subject: Option<String>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 60)]
    #[serde(deserialize_with = "crate::domain::whole::option")]
    pub years_teaching: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpdatedMarker {
    pub id: String,
    /// The standing in every exam after the rules were applied again.
    pub exams: Vec<Standing>,
}

/// Change fields of a marker's record (only those sent); the eligibility rules are applied
/// again in every exam the marker stands in, and what changes is recorded.
///
/// Refused by a rule of the day: `invalid_date` (a recommendation dated after today).
///
/// Also refused: `invalid_marker` when no field is sent (a rule across fields).
#[utoipa::path(
    tag = "markers",
    params(("id" = String, Path, description = "Marker id")),
    request_body = UpdateMarker,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = UpdatedMarker),
        (status = 404, description = "No such marker", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/markers/{id}")]
pub async fn update_marker(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<UpdateMarker>,
) -> Result<web::Json<UpdatedMarker>, ApiError> {
    let id = path.into_inner();
    let audit = leader.audit("marker.update").object("marker", &id);
    let result = async {
        let u = body.into_inner()?;
        let now = state.now();
        let today = now.date_naive();
        let recommendation = u
            .recommendation
            .as_ref()
            .map(|r| checked_recommendation(r, today))
            .transpose()?;
        if let Some(code) = &u.school_code {
            crate::domain::exam::check_code("school_code", code)?;
        }
        let subject = u.subject.as_deref().map(|s| text("subject", s)).transpose()?;
        let years = u.years_teaching.map(check_years).transpose()?;
        let changed: Vec<&str> = [
            ("recommendation", u.recommendation.is_some()),
            ("attestations", u.attestations.is_some()),
            ("school_code", u.school_code.is_some()),
            ("subject", u.subject.is_some()),
            ("years_teaching", u.years_teaching.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, sent)| sent.then_some(name))
        .collect();
        if changed.is_empty() {
            return Err(RuleError::invalid("invalid_marker", "body", "send at least one field to change").into());
        }
        let (entry, standing, defaults) = (
            audit.clone(),
            leader.audit("marker.standing"),
            state.settings.rules.clone(),
        );
        state
            .db
            .write(move |c| -> Result<UpdatedMarker, ApiError> {
                let mut m = db::markers::find(c, &id).map_err(missing("marker"))?;
                db::markers::lock(c, &m.id)?;
                if let Some(r) = recommendation {
                    m.recommended_by = Some(r.principal);
                    m.recommending_school = Some(r.school);
                    m.recommended_on = Some(r.date);
                }
                if let Some(a) = u.attestations {
                    m.health_attested = a.health;
                    m.conduct_attested = a.conduct;
                }
                if let Some(code) = u.school_code {
                    m.school_code = code;
                }
                if let Some(s) = subject {
                    m.subject = s;
                }
                if let Some(y) = years {
                    m.years_teaching = y;
                }
                db::markers::update(c, &m)?;
                let mut exams = vec![];
                for (exam_id, _, _) in db::markers::standings(c, &m.id)? {
                    let exam = db::exams::by_id(c, &exam_id)?;
                    let max_age = exam.rules(&defaults)?.marker_max_age;
                    let (status, failed) = reevaluate(c, &exam, &m, max_age, &standing, now)?;
                    exams.push(Standing {
                        exam: exam.code,
                        status: status.as_str().into(),
                        reasons: failed.iter().map(|f| f.reason(max_age)).collect(),
                    });
                }
                entry
                    .details(serde_json::json!({ "changed": changed }))
                    .append(c, now)?;
                Ok(UpdatedMarker { id: m.id, exams })
            })
            .await
    }
    .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}
