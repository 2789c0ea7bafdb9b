use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::domain::access::check_workstation_name;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, Problem, taken};
use crate::http::json::Json;
use crate::http::state::AppState;
use crate::secrets::{random_key, sha256_hex};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkstation {
    /// Where it stands, e.g. "Room 3, desk 14".
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*[^\s\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F][^\x00-\x08\x0E-\x1F\x7F-\x84\x86-\x9F]*$"
    )]
    pub name: String,
    /// A scanning station: sheets it sends with `entry=barcode` need no second custodian's
    /// typing of the admission number (from any other workstation they do).
    #[serde(default)]
    pub scanner: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkstationCreated {
    pub id: String,
    pub name: String,
    /// Shown once; only its hash is kept. Install it on the workstation.
    pub key: String,
}

/// Register a workstation and receive its key (once).
#[utoipa::path(
    tag = "admin",
    request_body = CreateWorkstation,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered", body = WorkstationCreated),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/workstations")]
pub async fn create_workstation(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<CreateWorkstation>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let scanner = body.scanner;
    let name = check_workstation_name(&body.name)?;
    let key = random_key();
    let hash = sha256_hex(key.as_bytes());
    let now = state.now();
    let audit = admin
        .audit("workstation.create")
        .details(serde_json::json!({ "name": name }));
    let stored_name = name.clone();
    let by = admin.id.clone();
    let id = state
        .db
        .write(move |c| -> Result<String, ApiError> {
            let id = db::workstations::insert(c, &stored_name, &hash, scanner, Some(&by), now)
                .map_err(taken("name_taken", "a workstation has that name"))?;
            audit.object("workstation", &id).append(c, now)?;
            Ok(id)
        })
        .await?;
    Ok(HttpResponse::Created().json(WorkstationCreated { id, name, key }))
}
