//! A new one-time password for an account (its owner forgot theirs, or the first one ran out).

use actix_web::{post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::domain::RuleError;
use crate::domain::role::Role;
use crate::http::audit_entry::audit_refusal;
use crate::http::caller::Admin;
use crate::http::error::{ApiError, Problem, missing};
use crate::http::state::AppState;
use crate::secrets;

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordReset {
    pub id: String,
    pub username: String,
    /// Shown once; its owner sets their own password with it before anything else.
    pub one_time_password: String,
    pub one_time_password_expires_at: DateTime<Utc>,
    /// Leaders and custodians wait for a chief leader's activation again (`activate_staff`),
    /// once their owner has set a password: the admin who saw this password cannot be the one
    /// holding the account when it acts.
    pub active: bool,
}

/// Give an account a new one-time password; every token it holds is revoked at once.
#[utoipa::path(
    tag = "admin",
    params(("id" = String, Path, description = "Account id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Reset; the one-time password is shown once", body = PasswordReset),
        (status = 403, description = "Not an admin, or the admin's own account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users/{id}/password-reset")]
pub async fn reset_password(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<web::Json<PasswordReset>, ApiError> {
    let id = path.into_inner();
    if id == admin.id {
        return Err(RuleError::refused(
            "own_account",
            "change your own password with POST /api/v1/auth/password",
        )
        .into());
    }
    let one_time = secrets::one_time_password();
    let pw = one_time.clone();
    let hash = secrets::hashing(move || secrets::hash_password(&pw))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.now();
    let expires_at = now + chrono::Duration::minutes(state.settings.auth.one_time_password_minutes);
    let audit = admin.audit("user.password_reset").object("user", &id);
    let entry = audit.clone();
    let result = state
        .db
        .write(move |c| -> Result<PasswordReset, ApiError> {
            let user = db::users::find(c, &id)?
                .ok_or(db::DbError::NotFound)
                .map_err(missing("user"))?;
            db::users::reset_password(c, &id, &hash, expires_at)?;
            let role = user.role()?;
            let active = user.active && !matches!(role, Role::Leader | Role::Custodian);
            if !active {
                db::users::deactivate(c, &id)?;
            }
            entry.append(c, now)?;
            Ok(PasswordReset {
                id,
                username: user.username,
                one_time_password: one_time,
                one_time_password_expires_at: expires_at,
                active,
            })
        })
        .await;
    audit_refusal(&state, audit, result).await.map(web::Json)
}
