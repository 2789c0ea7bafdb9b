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
        PresentedWorkstation::None if window_open && role.works_in_room() => Err(RuleError::refused(
            "workstation_required",
            "during the marking window staff log in only from a registered workstation",
        )),
        PresentedWorkstation::None => Ok(None),
    }
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
        (None, _) if window_open && role.works_in_room() => Err(RuleError::refused(
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleState {
    pub failures: u32,
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
    pub fn gate(&self, state: &ThrottleState, now: DateTime<Utc>) -> Gate {
        if let Some(until) = state.locked_until.filter(|u| *u > now) {
            return Gate::Locked { until };
        }
        let over = state.failures.saturating_sub(self.slow_after);
        let delay = (self.delay_per_failure * over as i32).min(self.max_delay);
        Gate::Open { delay }
    }

    /// The state after one more failure. Once a lock has run out the count starts afresh, so a
    /// locked name is not locked again by its very next mistake.
    pub fn after_failure(&self, state: &ThrottleState, now: DateTime<Utc>) -> ThrottleState {
        let lapsed = state.locked_until.is_some_and(|u| u <= now);
        let failures = if lapsed { 1 } else { state.failures + 1 };
        let locked_until = if failures >= self.lock_after {
            Some(now + self.lock_for)
        } else if lapsed {
            None
        } else {
            state.locked_until
        };
        ThrottleState { failures, locked_until }
    }
}

#[cfg(test)]
mod tests {
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
        assert!(login_workstation(Role::Admin, true, &P::None).is_ok());
        assert!(login_workstation(Role::Marker, false, &P::None).is_ok());
        assert!(login_workstation(Role::Marker, false, &P::Unknown).is_err());
        assert_eq!(
            login_workstation(Role::Marker, true, &P::Registered("w".into())),
            Ok(Some("w".into()))
        );
    }

    #[test]
    fn bound_tokens_travel_with_their_key() {
        use PresentedWorkstation as P;
        assert!(request_workstation(Role::Marker, true, Some("a"), &P::Registered("a".into())).is_ok());
        assert!(request_workstation(Role::Marker, true, Some("a"), &P::Registered("b".into())).is_err());
        assert!(request_workstation(Role::Marker, false, Some("a"), &P::None).is_err());
        assert!(request_workstation(Role::Custodian, true, None, &P::None).is_err());
        assert!(request_workstation(Role::Admin, true, None, &P::None).is_ok());
    }

    #[test]
    fn failures_slow_then_lock() {
        let p = policy();
        let now = Utc::now();
        let mut s = ThrottleState::default();
        for _ in 0..3 {
            s = p.after_failure(&s, now);
        }
        assert_eq!(
            p.gate(&s, now),
            Gate::Open {
                delay: Duration::zero()
            }
        );
        s = p.after_failure(&s, now);
        assert_eq!(
            p.gate(&s, now),
            Gate::Open {
                delay: Duration::milliseconds(500)
            }
        );
        s = p.after_failure(&s, now);
        assert!(matches!(p.gate(&s, now), Gate::Locked { .. }));
        let later = now + Duration::minutes(16);
        assert!(matches!(p.gate(&s, later), Gate::Open { .. }));
        let s = p.after_failure(&s, later);
        assert_eq!(s.failures, 1);
        assert_eq!(s.locked_until, None);
    }

    proptest! {
        #[test]
        fn the_delay_never_exceeds_its_cap(failures in 0u32..10_000) {
            let s = ThrottleState { failures, locked_until: None };
            if let Gate::Open { delay } = policy().gate(&s, Utc::now()) {
                prop_assert!(delay <= Duration::seconds(5) && delay >= Duration::zero());
            }
        }
    }
}
