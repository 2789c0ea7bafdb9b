//! The door of a marker's lease and score, checked inside the act's own transaction on
//! PostgreSQL. Every other route reads its caller's standing on a hand-off of its own before the
//! act (`http::caller`); for the two requests every marker makes all day, that hand-off (a pool
//! connection on a blocking thread, then another for the act) cost about an eighth of the marking
//! rate on two cores (docs/performance-log.md, sixteenth session). Reading the standing as the
//! act's first statement keeps revocation as immediate as before, and tighter: the act sees the
//! standing it was let in on.
//!
//! On SQLite the standing is read before the act, as for every route: its writes run one by one
//! on a single thread, which must not also do every request's reading.

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use chrono::{DateTime, Utc};

use crate::db::markers::MarkerRow;
use crate::db::{self, Backend, DbConn, DbError};
use crate::domain::role::Role;
use crate::http::caller::{Caller, MarkerRole, PendingPassword, Refusal, admit, decide, guarded, named_by, verified};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::http::tokens::{Claims, TokenKind};

/// A marker's request whose door is passed (`check: None`) or still to pass in the act's
/// transaction (`enter_locked`).
#[derive(Clone)]
pub struct MarkerDoor {
    caller: Caller,
    check: Option<AtDoor>,
}

#[derive(Clone)]
struct AtDoor {
    claims: Claims,
    key_hash: Option<String>,
}

impl MarkerDoor {
    /// The marker the token names: the act's audit entries are theirs. Until `enter_locked`
    /// lets them in, nothing is done on their word.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Whether the door is still to pass, in the act's transaction: then nothing may be read
    /// for the caller before the act (`enter_locked` first).
    pub fn in_act(&self) -> bool {
        self.check.is_some()
    }

    /// The door, as the act's first statement: the caller let in, or the refusal every route
    /// gives (nothing is written for it here; `Refusal::answer` audits it once the act's
    /// transaction is over). `enter_locked`'s way for an account without a marker record.
    fn enter(&self, c: &mut DbConn, now: DateTime<Utc>) -> Result<Result<Caller, Refusal>, DbError> {
        let Some(at) = &self.check else {
            return Ok(Ok(self.caller.clone()));
        };
        let standing = db::standing::of(c, &at.claims.sub, at.key_hash.as_deref(), now)?;
        Ok(decide(
            &at.claims,
            &standing,
            at.key_hash.is_some(),
            PendingPassword::Refuse,
        ))
    }

    /// The door, and the marker's record locked for the transaction (`marker_locked`): with
    /// the door still to pass, one statement reads both (`db::standing::of_marker_locked`), a
    /// round trip fewer on each request of a marking cycle. The decision is `enter`'s; a caller
    /// it refuses has taken the row lock too, so it waits behind an act of the same marker
    /// holding it (a suspension, say) before it hears the refusal, as every act of theirs waits.
    pub fn enter_locked(&self, c: &mut DbConn, now: DateTime<Utc>) -> Result<Result<MarkerRow, Refusal>, ApiError> {
        if let Some(at) = &self.check
            && let Some((standing, marker)) =
                db::standing::of_marker_locked(c, &at.claims.sub, at.key_hash.as_deref(), now)?
        {
            let let_in = decide(&at.claims, &standing, at.key_hash.is_some(), PendingPassword::Refuse);
            return Ok(let_in.map(|_| marker));
        }
        if let Err(refusal) = self.enter(c, now)? {
            return Ok(Err(refusal));
        }
        marker_locked(c, &self.caller.id).map(Ok)
    }

    /// The door on a hand-off of its own, for a request refused before its act (a bad body):
    /// a caller the door turns away hears that first, as on every route.
    pub async fn admit(&self, state: &AppState) -> Result<Caller, ApiError> {
        match &self.check {
            None => Ok(self.caller.clone()),
            Some(at) => admit(state, at.claims.clone(), at.key_hash.clone(), PendingPassword::Refuse).await,
        }
    }
}

impl FromRequest for MarkerDoor {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let verified = verified(req);
        let what = format!("{} {}", req.method(), req.path());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            let (claims, key_hash) = verified.await?;
            let folds = claims.typ == TokenKind::Access
                && claims.role == Role::Marker
                && state.db.backend() == Backend::Postgres;
            if folds {
                return Ok(MarkerDoor {
                    caller: named_by(&claims),
                    check: Some(AtDoor { claims, key_hash }),
                });
            }
            let caller = admit(&state, claims, key_hash, PendingPassword::Refuse).await?;
            let caller = guarded::<MarkerRole>(&state, caller, what).await?;
            Ok(MarkerDoor { caller, check: None })
        })
    }
}

/// The marker's record, locked for the transaction (`db::markers::by_user_locked`), or 404.
fn marker_locked(c: &mut DbConn, user: &str) -> Result<MarkerRow, ApiError> {
    db::markers::by_user_locked(c, user)?.ok_or(ApiError::NotFound("marker record"))
}
