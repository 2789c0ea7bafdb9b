//! A marker's standing in one exam (R2, R6: no training, no post) and the only ways it changes.
//! applied → eligible | ineligible → appointed → trained → qualified → active, with paused,
//! suspended and dismissed. Anything else is refused, naming where the marker stands.

use serde::{Deserialize, Serialize};

use super::RuleError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerStatus {
    Applied,
    Eligible,
    Ineligible,
    Appointed,
    Trained,
    Qualified,
    Active,
    Paused,
    Suspended,
    Dismissed,
}

/// What happens to a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerEvent {
    /// The eligibility rules were (re)applied; `true` when none failed.
    Evaluated(bool),
    Appoint,
    Train,
    Qualify,
    Activate,
    /// A trigger or a newly found relative: pause pending review.
    Pause,
    Reinstate,
    Suspend,
    Dismiss,
}

impl MarkerStatus {
    pub const ALL: [MarkerStatus; 10] = [
        MarkerStatus::Applied,
        MarkerStatus::Eligible,
        MarkerStatus::Ineligible,
        MarkerStatus::Appointed,
        MarkerStatus::Trained,
        MarkerStatus::Qualified,
        MarkerStatus::Active,
        MarkerStatus::Paused,
        MarkerStatus::Suspended,
        MarkerStatus::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MarkerStatus::Applied => "applied",
            MarkerStatus::Eligible => "eligible",
            MarkerStatus::Ineligible => "ineligible",
            MarkerStatus::Appointed => "appointed",
            MarkerStatus::Trained => "trained",
            MarkerStatus::Qualified => "qualified",
            MarkerStatus::Active => "active",
            MarkerStatus::Paused => "paused",
            MarkerStatus::Suspended => "suspended",
            MarkerStatus::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Option<MarkerStatus> {
        MarkerStatus::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// A standing in which the marker does no work on the exam at all: entering it ends their
    /// sessions and image links at once.
    pub fn bars_work(self) -> bool {
        matches!(
            self,
            MarkerStatus::Ineligible | MarkerStatus::Paused | MarkerStatus::Suspended | MarkerStatus::Dismissed
        )
    }

    /// Whether the marker may take live work.
    pub fn marks(self) -> bool {
        self == MarkerStatus::Active
    }
}

/// Questions are assigned to a marker appointed to the exam and still in good standing.
pub fn check_assignable(status: MarkerStatus) -> Result<(), RuleError> {
    use MarkerStatus as S;
    match status {
        S::Appointed | S::Trained | S::Qualified | S::Active | S::Paused => Ok(()),
        other => Err(RuleError::conflict(
            "invalid_transition",
            format!("the marker is {} for this exam; appoint first", other.as_str()),
        )),
    }
}

/// The status after `event`, or a refusal naming the current status.
pub fn transition(from: MarkerStatus, event: MarkerEvent) -> Result<MarkerStatus, RuleError> {
    use MarkerEvent as E;
    use MarkerStatus as S;
    let to = match (from, event) {
        // Re-applying the rules never fails: a marker out of the room stays out, and one at
        // work or awaiting review stays where the review will decide.
        (S::Dismissed | S::Suspended, E::Evaluated(_)) => Some(from),
        (S::Paused, E::Evaluated(_)) => Some(S::Paused),
        (S::Dismissed, _) => None,
        (_, E::Dismiss) => Some(S::Dismissed),
        (S::Applied | S::Eligible | S::Ineligible, E::Evaluated(ok)) => {
            Some(if ok { S::Eligible } else { S::Ineligible })
        }
        // Found ineligible after appointment: before live work the appointment lapses; during
        // it the marker is paused (and a review opened) instead.
        (S::Appointed | S::Trained | S::Qualified, E::Evaluated(false)) => Some(S::Ineligible),
        (S::Active, E::Evaluated(false)) => Some(S::Paused),
        (S::Appointed | S::Trained | S::Qualified | S::Active, E::Evaluated(true)) => Some(from),
        (S::Eligible, E::Appoint) => Some(S::Appointed),
        (S::Appointed | S::Trained, E::Train) => Some(S::Trained),
        // Training or qualifying for a further question leaves a marker further on where they are.
        (S::Qualified | S::Active | S::Paused, E::Train) => Some(from),
        (S::Trained | S::Qualified, E::Qualify) => Some(S::Qualified),
        (S::Active, E::Qualify) => Some(S::Active),
        (S::Qualified | S::Active, E::Activate) => Some(S::Active),
        (S::Active, E::Pause) => Some(S::Paused),
        (S::Paused, E::Reinstate) => Some(S::Active),
        (S::Appointed | S::Trained | S::Qualified | S::Active | S::Paused, E::Suspend) => Some(S::Suspended),
        _ => None,
    };
    to.ok_or_else(|| {
        RuleError::conflict(
            "invalid_transition",
            format!(
                "the marker is {} for this exam; {event:?} does not apply",
                from.as_str()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_way_to_live_work() {
        use MarkerEvent as E;
        let mut s = MarkerStatus::Applied;
        for e in [E::Evaluated(true), E::Appoint, E::Train, E::Qualify, E::Activate] {
            s = transition(s, e).unwrap();
        }
        assert_eq!(s, MarkerStatus::Active);
        assert_eq!(transition(s, E::Evaluated(false)).unwrap(), MarkerStatus::Paused);
        let e = transition(MarkerStatus::Eligible, E::Qualify).unwrap_err();
        assert_eq!(e.code(), "invalid_transition");
        assert!(e.to_string().contains("eligible"));
    }

    #[test]
    fn re_applying_the_rules_never_fails() {
        for s in MarkerStatus::ALL {
            for ok in [true, false] {
                let to = transition(s, MarkerEvent::Evaluated(ok)).unwrap();
                if matches!(
                    s,
                    MarkerStatus::Paused | MarkerStatus::Suspended | MarkerStatus::Dismissed
                ) {
                    assert_eq!(to, s, "{s:?} stays");
                }
            }
        }
        assert_eq!(
            transition(MarkerStatus::Active, MarkerEvent::Train).unwrap(),
            MarkerStatus::Active
        );
        assert_eq!(
            transition(MarkerStatus::Active, MarkerEvent::Qualify).unwrap(),
            MarkerStatus::Active
        );
    }

    #[test]
    fn questions_go_to_appointed_markers_only() {
        assert!(check_assignable(MarkerStatus::Appointed).is_ok());
        assert!(check_assignable(MarkerStatus::Paused).is_ok());
        for s in [
            MarkerStatus::Applied,
            MarkerStatus::Eligible,
            MarkerStatus::Ineligible,
            MarkerStatus::Suspended,
            MarkerStatus::Dismissed,
        ] {
            assert_eq!(check_assignable(s).unwrap_err().code(), "invalid_transition");
        }
    }

    fn event() -> impl Strategy<Value = MarkerEvent> {
        prop_oneof![
            any::<bool>().prop_map(MarkerEvent::Evaluated),
            Just(MarkerEvent::Appoint),
            Just(MarkerEvent::Train),
            Just(MarkerEvent::Qualify),
            Just(MarkerEvent::Activate),
            Just(MarkerEvent::Pause),
            Just(MarkerEvent::Reinstate),
            Just(MarkerEvent::Suspend),
            Just(MarkerEvent::Dismiss),
        ]
    }

    proptest! {
        /// No sequence of events reaches live work without appointment, training and
        /// qualification, in that order; nothing leaves dismissal.
        #[test]
        fn no_training_no_post(events in proptest::collection::vec(event(), 0..30)) {
            let mut s = MarkerStatus::Applied;
            let (mut appointed, mut trained, mut qualified) = (false, false, false);
            for e in events {
                let Ok(next) = transition(s, e) else { continue };
                match e {
                    MarkerEvent::Appoint => appointed = true,
                    MarkerEvent::Train => { prop_assert!(appointed); trained = true }
                    MarkerEvent::Qualify => { prop_assert!(trained); qualified = true }
                    _ => {}
                }
                if next == MarkerStatus::Ineligible { appointed = false; trained = false; qualified = false; }
                if next.marks() { prop_assert!(appointed && trained && qualified); }
                if s == MarkerStatus::Dismissed { prop_assert_eq!(next, MarkerStatus::Dismissed, "left dismissal"); }
                s = next;
            }
        }
    }
}
