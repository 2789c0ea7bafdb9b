//! The closed room's door: registered workstations during the marking window, and the brake on
//! guessing passwords.

use chrono::{DateTime, Duration, Utc};

use super::RuleError;
use super::role::Role;

/// What the request's `X-Workstation-Key` header resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresentedWorkstation {
    None,
    /// A key that matches no active workstation.
    Unknown,
    Registered(String),
}

/// At login: staff who work in the room must present a registered workstation while any
/// marking window is open (R5). Outside windows a key is optional but still checked.
pub fn login_workstation(
    role: Role,
    window_open: bool,
    presented: &PresentedWorkstation,
) -> Result<Option<String>, RuleError> {
    match presented {
        PresentedWorkstation::Registered(id) => Ok(Some(id.clone())),
        PresentedWorkstation::Unknown => Err(RuleError::refused(
            "workstation_unknown",
            "the workstation key is not registered",
        )),
        PresentedWorkstation::None if window_open && role.needs_workstation() => Err(RuleError::refused(
            "workstation_required",
            "during the marking window staff log in only from a registered workstation",
        )),
        PresentedWorkstation::None => Ok(None),
    }
}

/// Markers work only while a marking window is open and its room is open (R5): outside it
/// their logins and requests are refused, even with a token the closing revoked.
pub fn marker_room(role: Role, room_open: bool) -> Result<(), RuleError> {
    if role == Role::Marker && !room_open {
        return Err(RuleError::refused(
            "room_closed",
            "the marking room is closed: markers work only while it is open, within the marking window",
        ));
    }
    Ok(())
}

/// A marker paused pending review (in every open room they stand in) does not log in: they
/// hear why, and leadership decides (R6).
pub fn marker_not_paused(role: Role, paused: bool) -> Result<(), RuleError> {
    if role == Role::Marker && paused {
        return Err(RuleError::refused(
            "marker_paused",
            "you are paused pending a review by leadership",
        ));
    }
    Ok(())
}

/// The state of an account that matters at its door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountState {
    pub active: bool,
    /// Still on the one-time password someone else set.
    pub must_change_password: bool,
    pub one_time_password_expired: bool,
}

/// Whether an account whose password was right may log in. An account someone else made may
/// log in before it is activated, but only to set its own password (every other request is
/// refused until then), so the owner, not the person who made it, holds the password by the
/// time a chief leader activates it. A one-time password that ran out opens nothing.
pub fn login_allowed(a: AccountState) -> Result<(), RuleError> {
    if a.must_change_password && a.one_time_password_expired {
        return Err(RuleError::refused(
            "one_time_password_expired",
            "this one-time password has run out; ask an admin for a new one",
        ));
    }
    if a.active || a.must_change_password {
        return Ok(());
    }
    Err(RuleError::refused("account_inactive", "this account is not active yet"))
}

/// On every request: a token bound to a workstation is used only with that workstation's key,
/// and during a marking window room staff must hold a bound token.
pub fn request_workstation(
    role: Role,
    window_open: bool,
    bound: Option<&str>,
    presented: &PresentedWorkstation,
) -> Result<(), RuleError> {
    match (bound, presented) {
        (Some(b), PresentedWorkstation::Registered(id)) if b == id => Ok(()),
        (Some(_), _) => Err(RuleError::refused(
            "workstation_mismatch",
            "this token belongs to another workstation; send its X-Workstation-Key",
        )),
        (None, _) if window_open && role.needs_workstation() => Err(RuleError::refused(
            "workstation_required",
            "during the marking window staff work only from a registered workstation; log in again there",
        )),
        (None, PresentedWorkstation::Unknown) => Err(RuleError::refused(
            "workstation_unknown",
            "the workstation key is not registered",
        )),
        (None, _) => Ok(()),
    }
}

/// A workstation's name as stored: trimmed, 1 to 100 characters.
pub fn check_workstation_name(name: &str) -> Result<String, RuleError> {
    let name = name.trim();
    if name.is_empty() || !super::text::is_plain(name, 100) {
        return Err(RuleError::invalid(
            "invalid_name",
            "name",
            "a workstation name is 1 to 100 characters",
        ));
    }
    Ok(name.to_string())
}

/// How hard the door pushes back on repeated failed logins for one username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures tolerated before each further attempt is slowed.
    pub slow_after: u32,
    /// Failures after which the username is locked.
    pub lock_after: u32,
    /// Extra wait per failure beyond `slow_after`.
    pub delay_per_failure: Duration,
    pub max_delay: Duration,
    pub lock_for: Duration,
}

/// A login attempt as the database reserved it, before any password is hashed: its number
/// among the username's consecutive failures (itself included; a lapsed lock starts the count
/// afresh) and the lock that was in force. Reserving is one atomic upsert, so concurrent
/// attempts each get their own number and none can slip past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    pub attempt: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Try the password, after this wait.
    Open {
        delay: Duration,
    },
    Locked {
        until: DateTime<Utc>,
    },
}

impl ThrottlePolicy {
    /// Whether a reserved attempt may check its password, and the lock to store with it. The
    /// attempt that reaches the limit still gets its check, but locks the name first: should
    /// its password be right, the successful login lifts the lock; otherwise it stands.
    pub fn admit(&self, r: &Reserved, now: DateTime<Utc>) -> (Gate, Option<DateTime<Utc>>) {
        if let Some(until) = r.locked_until.filter(|u| *u > now) {
            return (Gate::Locked { until }, None);
        }
        if r.attempt > self.lock_after {
            let until = now + self.lock_for;
            return (Gate::Locked { until }, Some(until));
        }
        let lock = (r.attempt >= self.lock_after).then(|| now + self.lock_for);
        let earlier_failures = r.attempt.saturating_sub(1);
        let over = earlier_failures.saturating_sub(self.slow_after);
        let delay = (self.delay_per_failure * over.min(1_000_000) as i32).min(self.max_delay);
        (Gate::Open { delay }, lock)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn markers_work_only_in_an_open_room_and_not_while_paused() {
        assert_eq!(marker_room(Role::Marker, false).unwrap_err().code(), "room_closed");
        assert!(marker_room(Role::Marker, true).is_ok());
        assert!(
            marker_room(Role::Leader, false).is_ok(),
            "leaders prepare before the window"
        );
        assert_eq!(
            marker_not_paused(Role::Marker, true).unwrap_err().code(),
            "marker_paused"
        );
        assert!(marker_not_paused(Role::Custodian, true).is_ok());
    }

    use super::*;
    use proptest::prelude::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            slow_after: 3,
            lock_after: 5,
            delay_per_failure: Duration::milliseconds(500),
            max_delay: Duration::seconds(5),
            lock_for: Duration::minutes(15),
        }
    }

    #[test]
    fn room_staff_need_a_workstation_in_the_window() {
        use PresentedWorkstation as P;
        assert!(login_workstation(Role::Marker, true, &P::None).is_err());
        assert!(login_workstation(Role::Leader, true, &P::None).is_err());
        assert!(login_workstation(Role::Admin, true, &P::None).is_err());
        assert!(login_workstation(Role::Admissions, true, &P::None).is_ok());
        assert!(login_workstation(Role::Marker, false, &P::None).is_ok());
        assert!(login_workstation(Role::Marker, false, &P::Unknown).is_err());
        assert_eq!(
            login_workstation(Role::Marker, true, &P::Registered("w".into())),
            Ok(Some("w".into()))
        );
    }

    #[test]
    fn only_the_owner_s_first_step_opens_an_inactive_account() {
        let st = |active, must_change_password, one_time_password_expired| AccountState {
            active,
            must_change_password,
            one_time_password_expired,
        };
        assert!(login_allowed(st(true, false, false)).is_ok());
        assert!(login_allowed(st(false, true, false)).is_ok(), "to set its own password");
        assert_eq!(
            login_allowed(st(false, false, false)).unwrap_err().code(),
            "account_inactive"
        );
        assert_eq!(
            login_allowed(st(true, true, true)).unwrap_err().code(),
            "one_time_password_expired"
        );
    }

    #[test]
    fn bound_tokens_travel_with_their_key() {
        use PresentedWorkstation as P;
        assert!(request_workstation(Role::Marker, true, Some("a"), &P::Registered("a".into())).is_ok());
        assert!(request_workstation(Role::Marker, true, Some("a"), &P::Registered("b".into())).is_err());
        assert!(request_workstation(Role::Marker, false, Some("a"), &P::None).is_err());
        assert!(request_workstation(Role::Custodian, true, None, &P::None).is_err());
        assert!(request_workstation(Role::Admin, true, None, &P::None).is_err());
        assert!(request_workstation(Role::Admissions, true, None, &P::None).is_ok());
    }

    fn reserved(attempt: u32, locked_until: Option<DateTime<Utc>>) -> Reserved {
        Reserved { attempt, locked_until }
    }

    #[test]
    fn failures_slow_then_lock() {
        let p = policy();
        let now = Utc::now();
        assert_eq!(
            p.admit(&reserved(4, None), now).0,
            Gate::Open {
                delay: Duration::zero()
            }
        );
        assert_eq!(
            p.admit(&reserved(5, None), now),
            (
                Gate::Open {
                    delay: Duration::milliseconds(500)
                },
                Some(now + Duration::minutes(15))
            )
        );
        assert!(matches!(p.admit(&reserved(6, None), now).0, Gate::Locked { .. }));
        let lock = Some(now + Duration::minutes(15));
        assert!(matches!(p.admit(&reserved(1, lock), now).0, Gate::Locked { .. }));
        let later = now + Duration::minutes(16);
        assert!(matches!(p.admit(&reserved(1, lock), later).0, Gate::Open { .. }));
    }

    proptest! {
        #[test]
        fn the_delay_never_exceeds_its_cap(attempt in 0u32..u32::MAX) {
            if let (Gate::Open { delay }, _) = policy().admit(&reserved(attempt, None), Utc::now()) {
                prop_assert!(delay <= Duration::seconds(5) && delay >= Duration::zero());
            }
        }

        /// However many attempts arrive together, at most `lock_after` of them check a password.
        #[test]
        fn no_more_password_checks_than_the_limit(n in 1u32..500) {
            let p = policy();
            let now = Utc::now();
            let mut lock = None;
            let mut checks = 0;
            for attempt in 1..=n {
                let (gate, new_lock) = p.admit(&reserved(attempt, lock), now);
                lock = new_lock.or(lock);
                if matches!(gate, Gate::Open { .. }) {
                    checks += 1;
                }
            }
            prop_assert!(checks <= p.lock_after);
        }
    }
}
