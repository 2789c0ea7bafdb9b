//! Certifications (资格认定) in the marker archive (R4).

use actix_web::{HttpResponse, post, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use super::markers::text;
use crate::db;
use crate::domain::RuleError;
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Leader;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::json::Json;
use crate::http::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordCertification {
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub subject: String,
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub level: String,
    /// 1950 to 2100.
    #[schema(pattern = "^(19[5-9][0-9]|20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$")]
    pub issued: NaiveDate,
    /// 1950 to 2100, after `issued`.
    #[serde(default)]
    #[schema(pattern = "^(19[5-9][0-9]|20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$")]
    pub expires: Option<NaiveDate>,
}

/// Record a certification (资格认定) in the marker's archive, from qualification results. It
/// is shown with the record; it waives neither training nor qualification for a new exam.
///
/// Refused by a rule across fields: `invalid_certification` (it expires after it is issued).
#[utoipa::path(
    tag = "markers",
    params(("id" = String, Path, description = "Marker id")),
    request_body = RecordCertification,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded: `{id}`"),
        (status = 409, description = "The marker has passed no qualification test", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such marker", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid (an expiry not after the issue date)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/markers/{id}/certifications")]
pub async fn record_certification(
    state: web::Data<AppState>,
    leader: Leader,
    path: web::Path<String>,
    body: Json<RecordCertification>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let r = body.into_inner()?;
    let subject = text("subject", &r.subject)?;
    let level = text("level", &r.level)?;
    crate::domain::eligibility::check_day("issued", r.issued)?;
    if let Some(e) = r.expires {
        crate::domain::eligibility::check_day("expires", e)?;
    }
    if r.expires.is_some_and(|e| e <= r.issued) {
        return Err(RuleError::invalid(
            "invalid_certification",
            "expires",
            "a certification expires after it is issued",
        )
        .into());
    }
    let now = state.now();
    let by = leader.id.clone();
    let audit = leader.audit("marker.certification").object("marker", &id);
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<String, ApiError> {
            let m = db::markers::find(c, &id).map_err(missing("marker"))?;
            // A certification rests on qualification results: a passed test in some exam.
            if !db::qualification::ever_passed(c, &m.id)? {
                return Err(RuleError::conflict(
                    "not_qualified",
                    "the marker has passed no qualification test: a certification rests on one",
                )
                .into());
            }
            let cert = db::markers::Certification {
                marker_id: &m.id,
                subject: &subject,
                level: &level,
                issued: r.issued,
                expires: r.expires,
                recorded_by: &by,
            };
            let cert_id = db::markers::record_certification(c, &cert, now)?;
            entry
                .details(serde_json::json!({ "subject": subject, "level": level, "certification": cert_id }))
                .append(c, now)?;
            Ok(cert_id)
        })
        .await;
    let id = audit_refusal(&state, audit, result).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": id })))
}
