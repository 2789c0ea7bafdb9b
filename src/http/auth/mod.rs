//! Logging in, changing one's password, refreshing, logging out, and the client-credentials
//! grant for admissions systems.

mod login;
mod password;

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::audit_entry::Audit;
use super::caller::{AccountHolder, PendingPassword, admit, key_hash, workstation_key};
use super::error::{ApiError, Problem};
use super::json::Json;
use super::state::AppState;
use super::tokens::{Subject, TokenKind, TokenPair};
use crate::db;
use crate::domain::role::Role;
use crate::secrets;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(login::login)
        .service(password::change_password)
        .service(refresh)
        .service(token)
        .service(logout);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Trade a valid refresh token for a fresh pair (with the same workstation's key header).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "Fresh tokens", body = TokenPair),
        (status = 401, description = "Invalid, expired or revoked", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<RefreshRequest>,
) -> Result<web::Json<TokenPair>, ApiError> {
    let claims = state
        .tokens
        .verify(&body.into_inner()?.refresh_token, &[TokenKind::Refresh])
        .map_err(|_| ApiError::unauthenticated("invalid_token", "the refresh token is invalid or expired"))?;
    let version = claims.ver;
    let caller = admit(
        &state,
        claims,
        key_hash(workstation_key(&req).as_deref()),
        PendingPassword::Allow,
    )
    .await?;
    let mut pair = state
        .tokens
        .issue_pair(&Subject {
            id: &caller.id,
            role: caller.role,
            version,
            workstation: caller.workstation.as_deref(),
            exams: &[],
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    pair.password_change_required = caller.must_change_password;
    Ok(web::Json(pair))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Always `client_credentials`.
    #[schema(schema_with = super::schemas::grant_type)]
    pub grant_type: String,
    pub client_id: String,
    pub client_secret: String,
}

/// Client-credentials grant: an admissions system's id and secret for a token scoped to its exams.
#[utoipa::path(
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Service token", body = TokenPair),
        (status = 401, description = "Unknown client or wrong secret", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/token")]
pub async fn token(state: web::Data<AppState>, body: Json<TokenRequest>) -> Result<web::Json<TokenPair>, ApiError> {
    let TokenRequest {
        grant_type,
        client_id,
        client_secret,
    } = body.into_inner()?;
    if grant_type != "client_credentials" {
        return Err(ApiError::input(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
            Some("grant_type".into()),
        ));
    }
    let audit = Audit::anonymous("auth.token").object("service_client", &client_id);
    let id = client_id.clone();
    let result = async {
        let (stored, exams) = state
            .db
            .read(move |c| -> Result<_, ApiError> {
                Ok((
                    db::service_clients::secret_hash(c, &id)?,
                    db::service_clients::exam_codes(c, &id)?,
                ))
            })
            .await?;
        let given = secrets::sha256_hex(client_secret.as_bytes());
        if stored.as_deref() != Some(given.as_str()) {
            return Err(ApiError::unauthenticated(
                "invalid_client",
                "unknown client or wrong secret",
            ));
        }
        state
            .tokens
            .issue_service(&Subject {
                id: &client_id,
                role: Role::Admissions,
                version: 1,
                workstation: None,
                exams: &exams,
            })
            .map_err(|e| ApiError::Internal(e.to_string()))
    }
    .await;
    match &result {
        Ok(_) => state.audit_alone(audit.entry()).await,
        Err(e) => state.audit_alone(audit.refused(e).entry()).await,
    }
    result.map(web::Json)
}

/// Log out everywhere: every token of this account, on every workstation, stops working.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "All of this account's tokens are revoked"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, holder: AccountHolder) -> Result<HttpResponse, ApiError> {
    let caller = holder.0;
    if caller.role == Role::Admissions {
        return Err(ApiError::forbidden("not_a_person", "service tokens simply expire"));
    }
    let now = state.now();
    let audit = caller.audit("auth.logout").object("user", &caller.id);
    let id = caller.id.clone();
    state
        .db
        .write(move |c| -> Result<(), ApiError> {
            db::users::bump_token_version(c, &id)?;
            audit.append(c, now)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
