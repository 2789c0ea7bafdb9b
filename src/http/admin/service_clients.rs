use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::domain::RuleError;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, Problem, taken};
use crate::http::json::Json;
use crate::http::state::AppState;
use crate::secrets::{random_key, sha256_hex};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceClient {
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub name: String,
    /// Codes of the exams whose released results this client may read (each must exist: a
    /// rule that depends on state).
    #[schema(min_items = 1, schema_with = crate::http::schemas::codes)]
    pub exams: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceClientCreated {
    pub client_id: String,
    /// Shown once; only its hash is kept.
    pub client_secret: String,
    pub exams: Vec<String>,
}

/// Register an admissions system and receive its secret (once).
///
/// Rules the schema cannot state: every exam named exists and the name is free (state).
///
/// Refused by rules the schema cannot state: `unknown_exam` (an exam code that names no exam) and
/// `invalid_scope` (no exam named).
#[utoipa::path(
    tag = "admin",
    request_body = CreateServiceClient,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered", body = ServiceClientCreated),
        (status = 422, description = "Unknown exam", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/service-clients")]
pub async fn create_service_client(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<CreateServiceClient>,
) -> Result<HttpResponse, ApiError> {
    let CreateServiceClient { name, exams } = body.into_inner()?;
    let name = name.trim().to_string();
    if name.is_empty() || !crate::domain::text::is_plain(&name, 100) {
        return Err(RuleError::invalid("invalid_name", "name", "a client name is 1 to 100 characters").into());
    }
    if exams.is_empty() {
        return Err(RuleError::invalid("invalid_scope", "exams", "name at least one exam").into());
    }
    let secret = random_key();
    let hash = sha256_hex(secret.as_bytes());
    let now = state.now();
    let audit = admin
        .audit("service_client.create")
        .details(serde_json::json!({ "name": name, "exams": exams }));
    let by = admin.id.clone();
    let codes = exams.clone();
    let client_id = state
        .db
        .write(move |c| -> Result<String, ApiError> {
            let found = db::exams::ids_by_codes(c, &codes)?;
            let mut ids = vec![];
            for (i, code) in codes.iter().enumerate() {
                let (_, id) = found.iter().find(|(c, _)| c == code).ok_or_else(|| {
                    RuleError::invalid("unknown_exam", format!("exams[{i}]"), format!("no exam {code}"))
                })?;
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            let id = db::service_clients::insert(c, &name, &hash, &ids, &by, now)
                .map_err(taken("name_taken", "a client has that name"))?;
            audit.object("service_client", &id).append(c, now)?;
            Ok(id)
        })
        .await?;
    Ok(HttpResponse::Created().json(ServiceClientCreated {
        client_id,
        client_secret: secret,
        exams,
    }))
}
