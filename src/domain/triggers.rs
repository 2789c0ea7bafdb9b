//! When markroom takes a marker off the floor by itself, and how leadership ends the review that
//! follows (R6, DESIGN.md section 3). The figures come from [`super::statistics`]; this module
//! decides what they mean for one marker now.
//!
//! A reinstated marker starts with a clean sheet: the seed window counts only seeds marked
//! after the reinstatement, and the statistical triggers weigh only their live marks since (so
//! they wait for `min_co_marked` co-marked scripts of new work), so that the evidence a leader
//! has just weighed and set aside never pauses them again.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::RuleError;
use super::statistics::Flag;

/// Why a marker was paused by markroom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `seed_miss_limit` seeds missed among the marker's last `seed_miss_window`.
    SeedMisses,
    Severity,
    Erratic,
    CentralTendency,
    Drift,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::SeedMisses => "seed_misses",
            Trigger::Severity => "severity",
            Trigger::Erratic => "erratic",
            Trigger::CentralTendency => "central_tendency",
            Trigger::Drift => "drift",
        }
    }
}

impl From<Flag> for Trigger {
    fn from(f: Flag) -> Self {
        match f {
            Flag::Severity => Trigger::Severity,
            Flag::Erratic => Trigger::Erratic,
            Flag::CentralTendency => Trigger::CentralTendency,
            Flag::Drift => Trigger::Drift,
        }
    }
}

/// The statistical triggers a marker's flags raise, in the order of [`Trigger`].
pub fn statistical(flags: &[Flag]) -> Vec<Trigger> {
    let mut out: Vec<Trigger> = flags.iter().copied().map(Trigger::from).collect();
    out.sort();
    out.dedup();
    out
}

/// Whether a mark made at `at` is weighed by the triggers: once a marker is reinstated, only
/// their work since counts (the figures leadership reads keep every mark).
pub fn counts_against_marker(at: NaiveDateTime, reinstated: Option<NaiveDateTime>) -> bool {
    reinstated.is_none_or(|r| at >= r)
}

/// The kind a review is filed under: the first of its triggers in the order of [`Trigger`].
pub fn review_kind(triggers: &[Trigger]) -> Option<Trigger> {
    triggers.iter().copied().min()
}

/// Which of a suspended marker's marks are voided and marked afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every mark of theirs on the exam.
    All,
    /// Marks made at or after this time.
    Since(DateTime<Utc>),
}

/// Reads a suspension's scope: `all` (the default), or `since` with a time not in the future.
pub fn scope(kind: Option<&str>, since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<Scope, RuleError> {
    match (kind.unwrap_or("all"), since) {
        ("all", None) => Ok(Scope::All),
        ("all", Some(_)) => Err(RuleError::invalid(
            "invalid_scope",
            "since",
            "a time is given only with the scope `since`",
        )),
        ("since", Some(t)) if t <= now => Ok(Scope::Since(t)),
        ("since", Some(_)) => Err(RuleError::invalid(
            "invalid_scope",
            "since",
            "the scope cannot start in the future",
        )),
        ("since", None) => Err(RuleError::invalid(
            "invalid_scope",
            "since",
            "the scope `since` needs a time",
        )),
        _ => Err(RuleError::invalid(
            "invalid_scope",
            "scope",
            "a scope is `all` or `since`",
        )),
    }
}

/// Who sees and decides a review: one about a question's figures belongs to that question's
/// leaders (and the chiefs); one about no question (a leader's pause, a relative found) to
/// every leader of the exam.
pub fn review_in_scope(question: Option<&str>, chief: bool, leader_questions: &[String]) -> bool {
    match question {
        None => true,
        Some(code) => chief || leader_questions.iter().any(|q| q == code),
    }
}

/// How a marker review ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Back to work (one leader).
    Reinstate,
    /// Suspended and their marks voided in a scope, once a second chief leader approves.
    Suspend,
}

/// A review is decided once.
pub fn check_open(status: &str) -> Result<(), RuleError> {
    if status == "open" {
        Ok(())
    } else {
        Err(RuleError::conflict("review_decided", "this review was already decided"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn flags_become_triggers_and_a_reinstatement_starts_a_clean_sheet() {
        let flags = [Flag::Drift, Flag::Severity, Flag::Severity];
        assert_eq!(statistical(&flags), vec![Trigger::Severity, Trigger::Drift]);
        assert_eq!(
            review_kind(&[Trigger::Drift, Trigger::SeedMisses]),
            Some(Trigger::SeedMisses)
        );
        assert_eq!(review_kind(&[]), None);
        let t = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap().naive_utc();
        let second = chrono::Duration::seconds(1);
        assert!(counts_against_marker(t - second, None));
        assert!(!counts_against_marker(t - second, Some(t)));
        assert!(counts_against_marker(t, Some(t)));
    }

    #[test]
    fn a_review_on_a_question_belongs_to_its_leaders() {
        let mine = vec!["S2".to_string()];
        assert!(review_in_scope(None, false, &[]));
        assert!(review_in_scope(Some("W1"), true, &[]));
        assert!(review_in_scope(Some("S2"), false, &mine));
        assert!(!review_in_scope(Some("W1"), false, &mine));
    }

    #[test]
    fn a_scope_is_all_or_since_a_past_time() {
        let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        let before = now - chrono::Duration::hours(2);
        assert_eq!(scope(None, None, now), Ok(Scope::All));
        assert_eq!(scope(Some("since"), Some(before), now), Ok(Scope::Since(before)));
        for (kind, since) in [
            (Some("since"), None),
            (Some("since"), Some(now + chrono::Duration::seconds(1))),
            (Some("all"), Some(before)),
            (Some("some"), None),
        ] {
            assert!(scope(kind, since, now).is_err(), "{kind:?} {since:?}");
        }
    }

    proptest! {
        #[test]
        fn only_flags_become_triggers(picks in proptest::collection::vec(0u8..4, 0..8)) {
            let all = [Flag::Severity, Flag::Erratic, Flag::CentralTendency, Flag::Drift];
            let flags: Vec<Flag> = picks.iter().map(|&i| all[i as usize]).collect();
            let t = statistical(&flags);
            prop_assert!(!t.contains(&Trigger::SeedMisses));
            prop_assert!(t.len() <= flags.len());
            prop_assert!(t.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(t.is_empty(), flags.is_empty());
        }
    }
}
