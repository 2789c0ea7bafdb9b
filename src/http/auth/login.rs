//! Logging in, and the brake on guessing passwords that every password check goes through.

use actix_web::{HttpRequest, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::db;
use crate::db::users::UserRow;
use crate::domain::access::{
    AccountState, Gate, PresentedWorkstation, ThrottlePolicy, login_allowed, login_workstation, marker_not_paused,
    marker_room,
};
use crate::domain::role::{MAX_USERNAME_CHARS, check_username};
use crate::http::audit_entry::Audit;
use crate::http::caller::{key_hash, presented, workstation_key};
use crate::http::error::{ApiError, Problem};
use crate::http::json::Json;
use crate::http::state::AppState;
use crate::http::tokens::{Subject, TokenPair};
use crate::secrets;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(min_length = 3, max_length = 64, pattern = r"^[A-Za-z0-9._@-]+$")]
    pub username: String,
    #[schema(max_length = 256)]
    pub password: String,
    /// Required for people in the room (admins included) while a marking window is open; may
    /// also come in X-Workstation-Key.
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

pub fn bad_credentials() -> ApiError {
    ApiError::unauthenticated("invalid_credentials", "the username or password is wrong")
}

/// Log in with a username and password (and, in the marking window, a workstation key).
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens; `password_change_required` when the account still has its one-time password", body = TokenPair),
        (status = 401, description = "Wrong username or password (also an inactive account or a missing workstation, unless asked from a registered workstation)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "From a registered workstation: inactive account; an unregistered workstation key", body = Problem, content_type = "application/problem+json"),
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
    // Refused before anything is stored or audited: nothing this long can be an account.
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(crate::domain::RuleError::invalid(
            "invalid_username",
            "username",
            format!("a username has at most {MAX_USERNAME_CHARS} characters"),
        )
        .into());
    }
    let key = key.or_else(|| workstation_key(&req));
    // A password typed into the username field must not land in the log or the throttle table.
    let Ok(()) = check_username(&username) else {
        let err = bad_credentials();
        let entry = Audit::anonymous("auth.login").details(serde_json::json!({ "username_valid": false }));
        state.audit_alone(entry.refused(&err).entry()).await;
        return Err(err);
    };
    let (recorded_as, result) = login_inner(&state, &username, &password, key).await;
    let base = Audit::anonymous("auth.login").object("username", &recorded_as);
    match &result {
        Ok((pair, user_id, ws)) => {
            let entry = base.clone().actor(user_id, pair.role, ws.as_deref());
            state.audit_alone(entry.entry()).await;
        }
        Err(e) => state.audit_alone(base.refused(e).entry()).await,
    }
    result.map(|(pair, _, _)| web::Json(pair))
}

/// How a login attempt's username is written down (throttle row, audit entry): in clear only
/// when it names an account; otherwise as a keyed hash, since a name that is no account may be a
/// password typed into the wrong field. The same text always gives the same record, so the
/// throttle still counts guesses at it.
fn recorded_name(state: &AppState, username: &str, names_an_account: bool) -> String {
    if names_an_account {
        username.to_string()
    } else {
        let hash = secrets::keyed_hash(&state.identity_key, &format!("username:{username}"));
        format!("#unknown:{}", &hash[..32])
    }
}

type LoggedIn = (TokenPair, String, Option<String>);

/// The login, and how its username is recorded.
async fn login_inner(
    state: &AppState,
    username: &str,
    password: &str,
    key: Option<String>,
) -> (String, Result<LoggedIn, ApiError>) {
    let now = state.now();
    let name = username.to_string();
    let found = state
        .db
        .read(move |c| -> Result<_, ApiError> {
            let user = db::users::find_by_username(c, &name)?;
            let hash = key_hash(key.as_deref());
            // No account: its standing reads none, and the login fails on the password anyway.
            let id = user.as_ref().map(|u| u.id.as_str()).unwrap_or_default();
            let standing = db::standing::of(c, id, hash.as_deref(), now)?;
            Ok((
                user,
                (
                    standing.window_open,
                    standing.marker_room_open,
                    standing.marker_only_paused,
                ),
                presented(&standing, hash.is_some()),
            ))
        })
        .await;
    let (user, window_open, presented) = match found {
        Ok(f) => f,
        Err(e) => return (recorded_name(state, username, false), Err(e)),
    };
    let recorded = recorded_name(state, username, user.is_some());
    let result = attempt(state, &recorded, password, user, window_open, presented, now).await;
    (recorded, result)
}

async fn attempt(
    state: &AppState,
    recorded: &str,
    password: &str,
    user: Option<UserRow>,
    window_open: (bool, bool, bool),
    presented: PresentedWorkstation,
    now: DateTime<Utc>,
) -> Result<LoggedIn, ApiError> {
    if presented == PresentedWorkstation::Unknown {
        // Says nothing of the password: it is checked before any password is.
        return Err(ApiError::forbidden(
            "workstation_unknown",
            "the workstation key is not registered",
        ));
    }
    let right = checked_password(
        state,
        recorded,
        password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let Some(user) = user.filter(|_| right) else {
        return Err(bad_credentials());
    };
    let workstation = admissible(&user, window_open, &presented, now)?;
    clear_throttle(state, recorded).await?;
    let role = user.role()?;
    let mut pair = state
        .tokens
        .issue_pair(&Subject {
            id: &user.id,
            role,
            version: user.token_version,
            workstation: workstation.as_deref(),
            exams: &[],
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    pair.password_change_required = user.must_change_password;
    Ok((pair, user.id, workstation))
}

/// After a right password: whether this account may log in here. Only a caller at a
/// registered workstation learns why not; anyone else gets the wrong-password answer, so the
/// refusal never tells an outsider that the password was right.
fn admissible(
    user: &UserRow,
    (window_open, room_open, paused): (bool, bool, bool),
    presented: &PresentedWorkstation,
    now: DateTime<Utc>,
) -> Result<Option<String>, ApiError> {
    let at_workstation = matches!(presented, PresentedWorkstation::Registered(_));
    let role = user.role()?;
    let state = AccountState {
        active: user.active,
        must_change_password: user.must_change_password,
        one_time_password_expired: user.one_time_password_expired(now),
    };
    let outcome = login_allowed(state)
        .and_then(|()| marker_room(role, room_open))
        .and_then(|()| marker_not_paused(role, paused))
        .and_then(|()| login_workstation(role, window_open, presented))
        .map_err(ApiError::from);
    outcome.map_err(|e| if at_workstation { e } else { bad_credentials() })
}

/// Reserves an attempt for the username (atomically, before any hashing), waits or refuses as
/// the throttle says, then checks the password against the stored hash (or a dummy one, so an
/// unknown username costs the same). The attempt stays counted until a login succeeds.
pub async fn checked_password(
    state: &AppState,
    username: &str,
    password: &str,
    stored: Option<String>,
) -> Result<bool, ApiError> {
    let policy = policy(state);
    let now = state.now();
    let name = username.to_string();
    let gate = state
        .db
        .write(move |c| -> Result<Gate, ApiError> {
            let reserved = db::users::reserve_attempt(c, &name, now)?;
            let (gate, lock) = policy.admit(&reserved, now);
            if let Some(until) = lock {
                db::users::lock_username(c, &name, until)?;
            }
            Ok(gate)
        })
        .await?;
    match gate {
        Gate::Locked { until } => {
            return Err(ApiError::Locked {
                detail: "too many failed logins; this account is locked for a while".into(),
                retry_after_secs: (until - now).num_seconds().max(1),
            });
        }
        Gate::Open { delay } => {
            if let Ok(d) = delay.to_std() {
                tokio::time::sleep(d).await;
            }
        }
    }
    state.counters.password_checked();
    let pw = password.to_string();
    secrets::hashing(move || {
        let hash = stored.as_deref().unwrap_or_else(|| secrets::dummy_password_hash());
        secrets::verify_password(&pw, hash) && stored.is_some()
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))
}

pub async fn clear_throttle(state: &AppState, username: &str) -> Result<(), ApiError> {
    let name = username.to_string();
    state
        .db
        .write(move |c| db::users::clear_throttle(c, &name).map_err(ApiError::from))
        .await
}
