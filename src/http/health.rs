use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::error::{ApiError, Problem};
use super::state::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
}

/// Liveness, with a database round trip.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Alive and the database answers", body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    answer(&state, "ok").await
}

async fn answer(state: &AppState, status: &str) -> Result<HttpResponse, ApiError> {
    state
        .db
        .ping()
        .await
        .map_err(|e| ApiError::Db(crate::db::DbError::Pool(e.to_string())))?;
    Ok(HttpResponse::Ok().json(Health {
        status: status.into(),
        database: format!("{:?}", state.db.backend()).to_lowercase(),
    }))
}

/// Readiness: not shutting down, every migration applied, and the database answers. Shutdown
/// makes it 503 first (`shutting_down`), before the server stops taking requests; a database
/// that lacks a migration of this build answers `not_migrated`.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Ready for traffic", body = Health),
        (status = 503, description = "Not ready: `shutting_down`, `not_migrated`, or the database does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let unavailable = |code, detail: &str| ApiError::input(StatusCode::SERVICE_UNAVAILABLE, code, detail, None);
    if state.lifecycle.stopping() {
        return Err(unavailable("shutting_down", "shutdown has begun"));
    }
    let pending = state.db.pending_migrations().await?;
    if pending > 0 {
        return Err(unavailable(
            "not_migrated",
            &format!("{pending} migrations of this build are not applied yet"),
        ));
    }
    answer(&state, "ready").await
}
