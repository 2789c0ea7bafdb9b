//! An account's owner sets their own password: required first of anyone whose account someone
//! else made, so the person who made it no longer knows it (R8: two accounts are two people).

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::login::{checked_password, clear_throttle};
use crate::db;
use crate::domain::RuleError;
use crate::domain::role::{Role, check_password};
use crate::http::audit_entry::Audit;
use crate::http::caller::AccountHolder;
use crate::http::error::{ApiError, Problem};
use crate::http::json::Json;
use crate::http::state::AppState;
use crate::http::tokens::{Subject, TokenPair};
use crate::secrets;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(max_length = 256)]
    pub old_password: String,
    /// 12 to 256 characters, different from the old one.
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

/// Set your own password. Every token issued before stops working; the answer carries fresh
/// ones, or is 204 when the account still waits for a chief leader's activation (it then logs in
/// once activated).
///
/// Refused by a rule across fields: `password_unchanged` (the new password equals the old one).
#[utoipa::path(
    tag = "auth",
    request_body = ChangePassword,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed; fresh tokens", body = TokenPair),
        (status = 204, description = "Changed; the account acts once a chief leader activates it"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The old password is wrong, or a service token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The new password breaks the password rules or equals the old one", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Locked after repeated failures", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    holder: AccountHolder,
    body: Json<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    let caller = holder.0;
    // Who is asking before what they sent: a service token hears nothing about the body.
    if caller.role == Role::Admissions {
        return Err(ApiError::forbidden(
            "not_a_person",
            "service clients have secrets, not passwords",
        ));
    }
    let ChangePassword {
        old_password,
        new_password,
    } = body.into_inner()?;
    check_password(&new_password).map_err(|e| rename_field(e, "new_password"))?;
    if new_password == old_password {
        return Err(RuleError::invalid(
            "password_unchanged",
            "new_password",
            "choose a password you have not used here",
        )
        .into());
    }
    let id = caller.id.clone();
    let user = state
        .db
        .read(move |c| db::users::find(c, &id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::unauthenticated("token_revoked", "this account no longer exists"))?;
    let audit = caller.audit("auth.password").object("user", &caller.id);
    old_password_holds(&state, &audit, &user.username, &old_password, user.password_hash).await?;
    let hash = secrets::hashing(move || secrets::hash_password(&new_password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.now();
    let id = caller.id.clone();
    let (version, active) = state
        .db
        .write(move |c| -> Result<(i32, bool), ApiError> {
            db::users::set_own_password(c, &id, &hash)?;
            audit.append(c, now)?;
            let after = db::users::find(c, &id)?.ok_or(ApiError::NotFound("user"))?;
            Ok((after.token_version, after.active))
        })
        .await?;
    if !active {
        return Ok(HttpResponse::NoContent().finish());
    }
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
    Ok(HttpResponse::Ok().json(pair))
}

/// The old password, checked through the login throttle (a stolen token is no way around it);
/// a refusal is audited.
async fn old_password_holds(
    state: &AppState,
    audit: &Audit,
    username: &str,
    old: &str,
    stored: String,
) -> Result<(), ApiError> {
    let right = checked_password(state, username, old, Some(stored)).await;
    if !matches!(right, Ok(true)) {
        let err = right
            .err()
            .unwrap_or_else(|| ApiError::forbidden("wrong_password", "the old password is wrong"));
        state.audit_alone(audit.clone().refused(&err).entry()).await;
        return Err(err);
    }
    clear_throttle(state, username).await
}

fn rename_field(e: RuleError, field: &str) -> RuleError {
    match e {
        RuleError::Invalid { code, detail, .. } => RuleError::invalid(code, field, detail),
        other => other,
    }
}
