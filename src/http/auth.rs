//! Logging in, refreshing, and the client-credentials grant for admissions systems.

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::audit_entry::Audit;
use super::caller::{Caller, admit, presented_workstation, workstation_key};
use super::error::{ApiError, Problem};
use super::json::Json;
use super::state::AppState;
use super::tokens::{Subject, TokenKind, TokenPair};
use crate::db;
use crate::domain::access::{Gate, ThrottlePolicy, ThrottleState, login_workstation};
use crate::domain::role::Role;
use crate::secrets;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(login).service(refresh).service(token).service(logout);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Required for room staff while a marking window is open; may also come in X-Workstation-Key.
    #[serde(default)]
    pub workstation_key: Option<String>,
}

fn policy(state: &AppState) -> ThrottlePolicy {
    let a = &state.settings.auth;
    ThrottlePolicy {
        slow_after: a.slow_after_failures,
        lock_after: a.lock_after_failures,
        delay_per_failure: Duration::milliseconds(a.slowdown_ms_per_failure),
        max_delay: Duration::milliseconds(a.max_slowdown_ms),
        lock_for: Duration::minutes(a.lockout_minutes),
    }
}

fn bad_credentials() -> ApiError {
    ApiError::unauthenticated("invalid_credentials", "the username or password is wrong")
}

/// Log in with a username and password (and, in the marking window, a workstation key).
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens", body = TokenPair),
        (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Inactive account or workstation required", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked after repeated failures", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<web::Json<TokenPair>, ApiError> {
    let LoginRequest {
        username,
        password,
        workstation_key: key,
    } = body.into_inner()?;
    let key = key.or_else(|| workstation_key(&req));
    let base = Audit::anonymous("auth.login").object("username", &username);
    let result = login_inner(&state, &username, &password, key).await;
    match &result {
        Ok((pair, user_id, ws)) => {
            let entry = base.clone().actor(user_id, pair.role, ws.as_deref());
            state.audit_alone(entry.entry()).await;
        }
        Err(e) => state.audit_alone(base.refused(e).entry()).await,
    }
    result.map(|(pair, _, _)| web::Json(pair))
}

async fn login_inner(
    state: &AppState,
    username: &str,
    password: &str,
    key: Option<String>,
) -> Result<(TokenPair, String, Option<String>), ApiError> {
    let now = state.now();
    let policy = policy(state);
    let name = username.to_string();
    let (throttle, user, window_open, presented) = state
        .db
        .read(move |c| -> Result<_, ApiError> {
            Ok((
                db::users::throttle(c, &name)?,
                db::users::find_by_username(c, &name)?,
                db::exams::any_window_open(c, now)?,
                presented_workstation(c, key.as_deref())?,
            ))
        })
        .await?;
    wait_at_gate(&policy, &throttle, now).await?;
    let ok = password_matches(user.as_ref().map(|u| u.password_hash.clone()), password).await?;
    let name = username.to_string();
    let Some(user) = user.filter(|_| ok) else {
        record_failure(state, name, policy, now).await?;
        return Err(bad_credentials());
    };
    let role = user.role()?;
    if !user.active {
        return Err(ApiError::forbidden(
            "account_inactive",
            "this account is not active yet",
        ));
    }
    let workstation = login_workstation(role, window_open, &presented)?;
    if throttle.failures > 0 {
        state
            .db
            .write(move |c| db::users::clear_throttle(c, &name).map_err(ApiError::from))
            .await?;
    }
    let pair = state
        .tokens
        .issue_pair(&Subject {
            id: &user.id,
            role,
            version: user.token_version,
            workstation: workstation.as_deref(),
            exams: &[],
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((pair, user.id, workstation))
}

/// Refuses a locked username; slows one that has failed often.
async fn wait_at_gate(policy: &ThrottlePolicy, throttle: &ThrottleState, now: DateTime<Utc>) -> Result<(), ApiError> {
    match policy.gate(throttle, now) {
        Gate::Locked { until } => Err(ApiError::Locked {
            detail: "too many failed logins; this account is locked for a while".into(),
            retry_after_secs: (until - now).num_seconds(),
        }),
        Gate::Open { delay } => {
            if let Ok(d) = delay.to_std() {
                tokio::time::sleep(d).await;
            }
            Ok(())
        }
    }
}

/// Argon2 off the async threads. An unknown user costs the same time as a known one.
async fn password_matches(stored: Option<String>, password: &str) -> Result<bool, ApiError> {
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || {
        let hash = stored.as_deref().unwrap_or_else(|| secrets::dummy_password_hash());
        secrets::verify_password(&pw, hash) && stored.is_some()
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))
}

async fn record_failure(
    state: &AppState,
    name: String,
    policy: ThrottlePolicy,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    state
        .db
        .write(move |c| -> Result<(), ApiError> {
            let fresh = db::users::throttle(c, &name)?;
            db::users::save_throttle(c, &name, &policy.after_failure(&fresh, now), now)?;
            Ok(())
        })
        .await
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
    let caller = admit(&state, claims, workstation_key(&req)).await?;
    let pair = state
        .tokens
        .issue_pair(&Subject {
            id: &caller.id,
            role: caller.role,
            version,
            workstation: caller.workstation.as_deref(),
            exams: &[],
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(web::Json(pair))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Always `client_credentials`.
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
pub async fn logout(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
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
