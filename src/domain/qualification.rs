//! The qualification test (R6, "no training, no post"): a trained marker marks the question's
//! calibration scripts, whose definitive scores they never see, and passes when enough of their
//! scores lie within the question's tolerance and none lies far outside it.

use serde::Serialize;

use super::marker_status::MarkerStatus;
use super::{RuleError, Score};

/// What the pass rule needs from the exam's rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassRule {
    /// Share of the set that must lie within the tolerance (`qualification_pass_share`).
    pub pass_share: f64,
    /// No score may lie further than this many tolerances (`qualification_max_deviation_tolerances`).
    pub max_deviation_tolerances: f64,
}

/// The result of one finished attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Judgement {
    pub passed: bool,
    /// Scores within the tolerance of their definitive score.
    pub within: usize,
    pub total: usize,
    /// The largest distance from a definitive score.
    pub max_deviation: Score,
}

/// Judges an attempt from the distances between the marker's scores and the definitive ones.
/// Shares are compared in millionths, so 7 of 10 meets 0.7 exactly, never by a rounding hair.
pub fn judge(deviations: &[Score], tolerance: Score, rule: PassRule) -> Judgement {
    let total = deviations.len();
    let within = deviations
        .iter()
        .filter(|d| d.hundredths().abs() <= tolerance.hundredths())
        .count();
    let max_deviation = deviations
        .iter()
        .map(|d| Score::from_hundredths(d.hundredths().abs()))
        .max()
        .unwrap_or(Score::ZERO);
    let limit = tolerance.as_f64() * rule.max_deviation_tolerances;
    let none_far = max_deviation.as_f64() <= limit + 1e-9;
    let share = (rule.pass_share * 1_000_000.0).round() as u128;
    let enough = (within as u128) * 1_000_000 >= share * (total as u128);
    Judgement {
        passed: total > 0 && enough && none_far,
        within,
        total,
        max_deviation,
    }
}

/// Where the marker stands with one question, as the test's gate sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidacy {
    pub status: MarkerStatus,
    pub trained_for_question: bool,
    pub assigned_to_question: bool,
    pub already_passed: bool,
    pub attempts_taken: u32,
    pub attempts_allowed: u32,
}

/// Whether a new attempt may start: trained for this question and assigned to it, in good
/// standing, not qualified already, with an attempt left.
pub fn check_new_attempt(c: &Candidacy) -> Result<(), RuleError> {
    use MarkerStatus as S;
    if !matches!(c.status, S::Trained | S::Qualified | S::Active) || !c.trained_for_question {
        return Err(RuleError::conflict(
            "not_trained",
            format!(
                "the marker is {} for this exam and needs a recorded training for this question before its qualification test",
                c.status.as_str()
            ),
        ));
    }
    if !c.assigned_to_question {
        return Err(RuleError::conflict(
            "not_assigned",
            "the marker is not assigned to this question",
        ));
    }
    if c.already_passed {
        return Err(RuleError::conflict(
            "already_qualified",
            "the marker is qualified for this question already",
        ));
    }
    if c.attempts_taken >= c.attempts_allowed {
        return Err(RuleError::conflict(
            "qualification_attempts_exhausted",
            format!(
                "all {} attempts at this qualification test are used; the marker takes no live work on this question",
                c.attempts_allowed
            ),
        ));
    }
    Ok(())
}

/// A test under way goes on only while the marker is in good standing for the exam (a pause,
/// a suspension or an ineligibility found meanwhile stops it).
pub fn check_in_standing(status: MarkerStatus) -> Result<(), RuleError> {
    if matches!(
        status,
        MarkerStatus::Trained | MarkerStatus::Qualified | MarkerStatus::Active
    ) {
        return Ok(());
    }
    Err(RuleError::conflict(
        "not_trained",
        format!(
            "the marker is {} for this exam and may not take the qualification test",
            status.as_str()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RULE: PassRule = PassRule {
        pass_share: 0.7,
        max_deviation_tolerances: 2.0,
    };

    fn pts(v: &[i64]) -> Vec<Score> {
        v.iter().map(|p| Score::points(*p)).collect()
    }

    #[test]
    fn seven_of_ten_within_and_none_beyond_twice_passes() {
        let t = Score::points(3);
        let j = judge(&pts(&[0, 1, 3, -3, 2, 0, 1, 6, -6, 5]), t, RULE);
        assert_eq!((j.within, j.total, j.passed), (7, 10, true));
        assert_eq!(j.max_deviation, Score::points(6));
        // Six within is too few.
        assert!(!judge(&pts(&[0, 1, 3, -3, 2, 0, 4, 6, -6, 5]), t, RULE).passed);
        // One score beyond twice the tolerance fails, however good the rest.
        assert!(!judge(&pts(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 7]), t, RULE).passed);
        // An empty set passes nobody.
        assert!(!judge(&[], t, RULE).passed);
    }

    fn candidacy() -> Candidacy {
        Candidacy {
            status: MarkerStatus::Trained,
            trained_for_question: true,
            assigned_to_question: true,
            already_passed: false,
            attempts_taken: 0,
            attempts_allowed: 2,
        }
    }

    #[test]
    fn a_test_goes_on_only_in_good_standing() {
        assert!(check_in_standing(MarkerStatus::Trained).is_ok());
        assert!(check_in_standing(MarkerStatus::Active).is_ok());
        let e = check_in_standing(MarkerStatus::Paused).unwrap_err();
        assert_eq!(e.code(), "not_trained");
        assert!(e.to_string().contains("paused"));
    }

    #[test]
    fn the_gate_names_what_is_missing() {
        assert!(check_new_attempt(&candidacy()).is_ok());
        let appointed = Candidacy {
            status: MarkerStatus::Appointed,
            ..candidacy()
        };
        let e = check_new_attempt(&appointed).unwrap_err();
        assert_eq!(e.code(), "not_trained");
        assert!(e.to_string().contains("appointed"));
        let other_question = Candidacy {
            trained_for_question: false,
            ..candidacy()
        };
        assert_eq!(check_new_attempt(&other_question).unwrap_err().code(), "not_trained");
        let paused = Candidacy {
            status: MarkerStatus::Paused,
            ..candidacy()
        };
        assert_eq!(check_new_attempt(&paused).unwrap_err().code(), "not_trained");
        let unassigned = Candidacy {
            assigned_to_question: false,
            ..candidacy()
        };
        assert_eq!(check_new_attempt(&unassigned).unwrap_err().code(), "not_assigned");
        let used = Candidacy {
            attempts_taken: 2,
            ..candidacy()
        };
        assert_eq!(
            check_new_attempt(&used).unwrap_err().code(),
            "qualification_attempts_exhausted"
        );
        let done = Candidacy {
            already_passed: true,
            ..candidacy()
        };
        assert_eq!(check_new_attempt(&done).unwrap_err().code(), "already_qualified");
    }

    proptest! {
        /// A pass means at least the share within the tolerance and nothing beyond the limit;
        /// a fail means one of the two does not hold.
        #[test]
        fn passing_is_exactly_the_rule(
            devs in proptest::collection::vec(-2000i64..2000, 1..30),
            tol in 1i64..1000,
            share in (0u32..=100).prop_map(|p| f64::from(p) / 100.0),
            k in 1.0f64..4.0,
        ) {
            let d: Vec<Score> = devs.iter().map(|h| Score::from_hundredths(*h)).collect();
            let rule = PassRule { pass_share: share, max_deviation_tolerances: k };
            let j = judge(&d, Score::from_hundredths(tol), rule);
            let within = devs.iter().filter(|h| h.abs() <= tol).count();
            let far = devs.iter().any(|h| (h.abs() as f64) > tol as f64 * k + 1e-9);
            prop_assert_eq!(j.within, within);
            let share_ok = within as f64 >= share * devs.len() as f64 - 1e-6;
            prop_assert_eq!(j.passed, share_ok && !far);
        }

        /// Marking closer to the definitive score never turns a pass into a fail.
        #[test]
        fn closer_never_hurts(
            devs in proptest::collection::vec(-2000i64..2000, 1..30),
            which in any::<proptest::sample::Index>(),
            tol in 1i64..1000,
        ) {
            let d: Vec<Score> = devs.iter().map(|h| Score::from_hundredths(*h)).collect();
            let mut better = d.clone();
            let i = which.index(d.len());
            better[i] = Score::ZERO;
            let t = Score::from_hundredths(tol);
            if judge(&d, t, RULE).passed {
                prop_assert!(judge(&better, t, RULE).passed);
            }
        }
    }
}
