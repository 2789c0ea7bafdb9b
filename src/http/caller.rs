//! Who is calling: the bearer token checked against the database on every request (so that a
//! revocation takes effect at once) and the workstation rule of the closed room. Role guards
//! are types, so a handler's signature says who may call it.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};

use super::audit_entry::Audit;
use super::error::ApiError;
use super::state::AppState;
use super::tokens::{Claims, TokenKind};
use crate::db::standing::Standing;
use crate::db::{self};
use crate::domain::access::{PresentedWorkstation, request_workstation};
use crate::domain::role::{Person, Role};
use crate::secrets::sha256_hex;

pub const WORKSTATION_HEADER: &str = "X-Workstation-Key";

#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
    pub role: Role,
    pub chief: bool,
    pub workstation: Option<String>,
    /// Exam codes an admissions client may read; empty for people.
    pub exams: Vec<String>,
    /// The account still has its one-time password.
    pub must_change_password: bool,
}

impl Caller {
    pub fn person(&self) -> Person {
        Person {
            id: self.id.clone(),
            role: self.role,
            chief: self.chief,
            active: true,
            on_duty: false,
        }
    }

    /// Starts an audit entry for something this caller did.
    pub fn audit(&self, action: &str) -> Audit {
        Audit::anonymous(action).actor(&self.id, self.role, self.workstation.as_deref())
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))
}

/// The keyed form of a presented workstation key (`None` when none, or only blanks, was sent),
/// as the standing read looks it up.
pub fn key_hash(key: Option<&str>) -> Option<String> {
    key.map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| sha256_hex(k.as_bytes()))
}

/// The workstation the request presented, as its standing found it.
pub fn presented(standing: &Standing, key_given: bool) -> PresentedWorkstation {
    match (&standing.workstation, key_given) {
        (Some(id), _) => PresentedWorkstation::Registered(id.clone()),
        (None, true) => PresentedWorkstation::Unknown,
        (None, false) => PresentedWorkstation::None,
    }
}

pub fn workstation_key(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(WORKSTATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Whether a request may come from an account that still has its one-time password: only
/// changing that password (and logging out or refreshing) may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingPassword {
    Refuse,
    Allow,
}

/// A refusal at the door, with the audit entry it is owed (none for a pending password change,
/// which only tells the owner what to do first).
pub struct Refusal {
    pub err: ApiError,
    action: Option<&'static str>,
    caller: Box<Caller>,
}

impl Refusal {
    fn audited(caller: &Caller, action: &'static str, err: ApiError) -> Refusal {
        Refusal {
            err,
            action: Some(action),
            caller: Box::new(caller.clone()),
        }
    }

    /// Writes the refusal's audit entry (on its own: the act's transaction, if any, wrote
    /// nothing) and answers its error.
    pub async fn answer(self, state: &AppState) -> ApiError {
        if let Some(action) = self.action {
            state
                .audit_alone(self.caller.audit(action).refused(&self.err).entry())
                .await;
        }
        self.err
    }
}

/// Who a person's token names, before the stored account has been read: its role and desk are
/// the token's; the account confirms them, and adds the chief's standing.
pub fn named_by(claims: &Claims) -> Caller {
    Caller {
        id: claims.sub.clone(),
        role: claims.role,
        chief: false,
        workstation: claims.ws.clone(),
        exams: vec![],
        must_change_password: false,
    }
}

/// The door's rule: a person's verified token, held against their standing as read now (with
/// the workstation key the request presented, `key_given`). Reads nothing, so that an act may
/// read the standing in its own transaction and decide here.
pub fn decide(
    claims: &Claims,
    standing: &Standing,
    key_given: bool,
    pending: PendingPassword,
) -> Result<Caller, Refusal> {
    let marker = claims.role == Role::Marker;
    let (room_open, paused) = if marker {
        (standing.marker_room_open, standing.marker_only_paused)
    } else {
        (true, false)
    };
    let presented = presented(standing, key_given);
    let mut caller = named_by(claims);
    caller.chief = standing.chief.unwrap_or(false);
    // Before the token's freshness: a closing or a pause revokes markers' tokens, and they
    // hear why.
    if let Err(rule) = crate::domain::access::marker_room(claims.role, room_open)
        .and_then(|()| crate::domain::access::marker_not_paused(claims.role, paused))
    {
        return Err(Refusal::audited(&caller, "auth.room", ApiError::from(rule)));
    }
    // An account waiting for activation holds tokens only to set its own password.
    let current = match (
        standing.active,
        standing.must_change_password,
        standing.token_version,
        &standing.role,
    ) {
        (Some(active), Some(must_change), Some(ver), Some(role))
            if (active || must_change) && ver == claims.ver && role == claims.role.as_str() =>
        {
            Some(must_change)
        }
        _ => None,
    };
    let Some(must_change_password) = current else {
        let err = ApiError::unauthenticated("token_revoked", "this token has been revoked; log in again");
        return Err(Refusal::audited(&caller, "auth.token", err));
    };
    caller.must_change_password = must_change_password;
    if let Err(rule) = request_workstation(claims.role, standing.window_open, claims.ws.as_deref(), &presented) {
        return Err(Refusal::audited(&caller, "auth.workstation", ApiError::from(rule)));
    }
    if pending == PendingPassword::Refuse && caller.must_change_password {
        return Err(Refusal {
            err: ApiError::forbidden(
                "password_change_required",
                "this account still has its one-time password: set your own with POST /api/v1/auth/password first",
            ),
            action: None,
            caller: Box::new(caller),
        });
    }
    Ok(caller)
}

/// Checks a verified token against the stored account and the workstation rule (`key_hash`:
/// the presented workstation key, keyed as `key_hash` makes it).
pub async fn admit(
    state: &AppState,
    claims: Claims,
    key_hash: Option<String>,
    pending: PendingPassword,
) -> Result<Caller, ApiError> {
    let now = state.now();
    if claims.typ == TokenKind::Service {
        return admit_service(state, claims).await;
    }
    let id = claims.sub.clone();
    let key_given = key_hash.is_some();
    let standing = state
        .db
        .read_statement(move |c| db::standing::of(c, &id, key_hash.as_deref(), now))
        .await
        .map_err(ApiError::from)?;
    match decide(&claims, &standing, key_given, pending) {
        Ok(caller) => Ok(caller),
        Err(refusal) => Err(refusal.answer(state).await),
    }
}

/// An admissions system's token, while its client stays registered.
async fn admit_service(state: &AppState, claims: Claims) -> Result<Caller, ApiError> {
    let id = claims.sub.clone();
    let active = state
        .db
        .read(move |c| db::service_clients::secret_hash(c, &id).map_err(ApiError::from))
        .await?
        .is_some();
    if !active || claims.role != Role::Admissions {
        return Err(ApiError::unauthenticated(
            "token_revoked",
            "this service client is no longer active",
        ));
    }
    Ok(Caller {
        id: claims.sub,
        role: Role::Admissions,
        chief: false,
        workstation: None,
        exams: claims.exams,
        must_change_password: false,
    })
}

/// A bearer token that does not verify (forged, expired, another key, `alg: none`) is a refused
/// authentication like any other, so it is audited; nobody is named, since the token proves nothing.
async fn refuse_token(state: &AppState) -> ApiError {
    let err = ApiError::unauthenticated("invalid_token", "the token is invalid or expired");
    state
        .audit_alone(Audit::anonymous("auth.token").refused(&err).entry())
        .await;
    err
}

/// The request's bearer token, verified (a token that does not is refused and audited), with
/// the keyed form of the workstation key it came with (`key_hash`).
pub fn verified(req: &HttpRequest) -> Boxed<(Claims, Option<String>)> {
    let state = app_state(req);
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let key = key_hash(workstation_key(req).as_deref());
    let req = req.clone();
    Box::pin(async move {
        let state = state?;
        let token = bearer.ok_or_else(|| {
            ApiError::unauthenticated("unauthenticated", "log in first: send Authorization: Bearer <token>")
        })?;
        let claims = match state.tokens.verify(&token, &[TokenKind::Access, TokenKind::Service]) {
            Ok(c) => c,
            Err(_) => return Err(refuse_token(&state).await),
        };
        // For the request's log line: who asked, whether or not they are let in.
        req.extensions_mut()
            .insert(crate::http::access_log::Actor(claims.sub.clone()));
        Ok((claims, key))
    })
}

/// The bearer token and workstation key of a request, checked.
fn authenticate(req: &HttpRequest, pending: PendingPassword) -> Boxed<Caller> {
    let state = app_state(req);
    let verified = verified(req);
    Box::pin(async move {
        let (claims, key) = verified.await?;
        let state = state?;
        admit(&state, claims, key, pending).await
    })
}

/// The signed-in owner of an account, even one that must still change its one-time password:
/// for the password change itself and for logging out.
pub struct AccountHolder(pub Caller);

impl FromRequest for AccountHolder {
    type Error = ApiError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = authenticate(req, PendingPassword::Allow);
        Box::pin(async move { fut.await.map(AccountHolder) })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticate(req, PendingPassword::Refuse)
    }
}

/// A rule about which callers may use a route.
pub trait Guard {
    const WHO: &'static str;
    /// The problem code of the refusal.
    const CODE: &'static str = "forbidden";
    fn allows(c: &Caller) -> bool;
}

/// A caller who passed guard `G`.
pub struct Authorized<G>(pub Caller, PhantomData<G>);

impl<G> Deref for Authorized<G> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<G: Guard + 'static> FromRequest for Authorized<G> {
    type Error = ApiError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = app_state(req);
        let caller = Caller::from_request(req, payload);
        let what = format!("{} {}", req.method(), req.path());
        Box::pin(async move {
            let caller = caller.await?;
            let state = state?;
            guarded::<G>(&state, caller, what)
                .await
                .map(|c| Authorized(c, PhantomData))
        })
    }
}

/// The caller, if guard `G` lets them use the route `what`; otherwise a refusal, audited.
pub async fn guarded<G: Guard>(state: &AppState, caller: Caller, what: String) -> Result<Caller, ApiError> {
    if G::allows(&caller) {
        return Ok(caller);
    }
    let err = ApiError::forbidden(G::CODE, format!("only {} may do this", G::WHO));
    let entry = caller
        .audit("authz")
        .details(serde_json::json!({ "request": what, "needs": G::WHO }));
    state.audit_alone(entry.refused(&err).entry()).await;
    Err(err)
}

/// Those who may ask for or decide a two-person act (`domain::approval::takes_part`). Which
/// kinds each may ask for is the approval's own rule; this only turns away, before anything
/// else, the roles that hold no approval's authority.
pub struct ApproverRole;
impl Guard for ApproverRole {
    const WHO: &'static str = "a chief leader or a custodian";
    // The code every refusal of an approval act has always carried.
    const CODE: &'static str = "approval_not_allowed";
    fn allows(c: &Caller) -> bool {
        crate::domain::approval::takes_part(c.role, c.chief)
    }
}

pub struct AdminRole;
impl Guard for AdminRole {
    const WHO: &'static str = "an admin";
    fn allows(c: &Caller) -> bool {
        c.role == Role::Admin
    }
}

pub struct LeaderRole;
impl Guard for LeaderRole {
    const WHO: &'static str = "a leader";
    fn allows(c: &Caller) -> bool {
        c.role == Role::Leader
    }
}

pub struct ChiefRole;
impl Guard for ChiefRole {
    const WHO: &'static str = "a chief leader";
    fn allows(c: &Caller) -> bool {
        c.role == Role::Leader && c.chief
    }
}

pub struct CustodianRole;
impl Guard for CustodianRole {
    const WHO: &'static str = "a custodian";
    fn allows(c: &Caller) -> bool {
        c.role == Role::Custodian
    }
}

pub struct MarkerRole;
impl Guard for MarkerRole {
    const WHO: &'static str = "a marker";
    fn allows(c: &Caller) -> bool {
        c.role == Role::Marker
    }
}

pub struct StaffRole;
impl Guard for StaffRole {
    const WHO: &'static str = "a leader or custodian";
    fn allows(c: &Caller) -> bool {
        matches!(c.role, Role::Leader | Role::Custodian)
    }
}

pub struct AdmissionsRole;
impl Guard for AdmissionsRole {
    const WHO: &'static str = "an admissions system";
    fn allows(c: &Caller) -> bool {
        c.role == Role::Admissions
    }
}

pub type Admissions = Authorized<AdmissionsRole>;
pub type Admin = Authorized<AdminRole>;
pub type Leader = Authorized<LeaderRole>;
pub type Chief = Authorized<ChiefRole>;
pub type Custodian = Authorized<CustodianRole>;
pub type Staff = Authorized<StaffRole>;
pub type MarkerCaller = Authorized<MarkerRole>;
