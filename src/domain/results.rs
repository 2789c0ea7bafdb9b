//! Locking, releasing, unlocking and amending an exam's results (R8, R10; DESIGN.md section 4),
//! and the totals admissions read. Pure: the caller gathers the counts.

use serde::Serialize;

use super::{RuleError, Score};

/// Where an exam's results stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultsState {
    pub locked: bool,
    pub released: bool,
}

/// What is still open on one question.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QuestionOpen {
    pub question: String,
    /// Scripts not resolved (in marking, disputed, withdrawn, waiting for treatment or held).
    pub unresolved_scripts: u64,
    /// Tasks open or leased.
    pub open_tasks: u64,
    pub disputes: u64,
    pub backreads: u64,
    pub problems: u64,
}

impl QuestionOpen {
    fn is_clear(&self) -> bool {
        self.unresolved_scripts + self.open_tasks + self.disputes + self.backreads + self.problems == 0
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = [
            (self.unresolved_scripts, "scripts unresolved"),
            (self.open_tasks, "tasks open"),
            (self.disputes, "disputes"),
            (self.backreads, "back-reads"),
            (self.problems, "problem scripts"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        format!("{}: {}", self.question, parts.join(", "))
    }
}

/// A candidate with neither a resolved script nor an absence for some questions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unaccounted {
    pub admission_number: String,
    pub name: String,
    pub questions: Vec<String>,
}

/// Everything that stands between an exam and its lock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LockBlockers {
    pub questions: Vec<QuestionOpen>,
    pub open_reviews: u64,
    pub unaccounted: Vec<Unaccounted>,
}

/// Names at most this many unaccounted candidates in a refusal (the count is always given).
const NAMED: usize = 50;

/// A lock needs every candidate accounted for on every question (a resolved script or an
/// absence) and nothing open: tasks, disputes, back-reads, problem scripts, marker reviews.
pub fn check_lock(state: ResultsState, b: &LockBlockers) -> Result<(), RuleError> {
    if state.locked {
        return Err(RuleError::conflict("exam_locked", "the exam is locked already"));
    }
    let mut why: Vec<String> = b
        .questions
        .iter()
        .filter(|q| !q.is_clear())
        .map(QuestionOpen::describe)
        .collect();
    if b.open_reviews > 0 {
        why.push(format!("{} marker reviews open", b.open_reviews));
    }
    if !b.unaccounted.is_empty() {
        let named: Vec<String> = b
            .unaccounted
            .iter()
            .take(NAMED)
            .map(|u| format!("{} {} ({})", u.admission_number, u.name, u.questions.join(", ")))
            .collect();
        let more = b.unaccounted.len().saturating_sub(NAMED);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        why.push(format!(
            "{} candidates with neither a resolved script nor an absence: {}{tail}",
            b.unaccounted.len(),
            named.join("; ")
        ));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(RuleError::conflict(
            "lock_blocked",
            format!("the exam cannot be locked yet: {}", why.join("; ")),
        ))
    }
}

/// Release comes after the lock, once.
pub fn check_release(state: ResultsState) -> Result<(), RuleError> {
    match (state.locked, state.released) {
        (_, true) => Err(RuleError::conflict(
            "already_released",
            "the results are released already",
        )),
        (false, false) => Err(RuleError::conflict(
            "not_locked",
            "results are released only after the lock",
        )),
        (true, false) => Ok(()),
    }
}

/// Unlocking reopens marking, before release only.
pub fn check_unlock(state: ResultsState) -> Result<(), RuleError> {
    match (state.locked, state.released) {
        (_, true) => Err(RuleError::conflict(
            "already_released",
            "released results are changed by amendment, not by unlocking",
        )),
        (false, false) => Err(RuleError::conflict("not_locked", "the exam is not locked")),
        (true, false) => Ok(()),
    }
}

/// An amendment changes a released result: after release only, to a score on the question's
/// scale and step that differs from the current one.
pub fn check_amend(state: ResultsState, current: Score, new: Score, max: Score, step: Score) -> Result<(), RuleError> {
    if !state.released {
        return Err(RuleError::conflict(
            "not_released",
            "amendments change released results; before release, unlock and re-mark",
        ));
    }
    if new < Score::ZERO || new > max || !new.is_multiple_of(step) {
        return Err(RuleError::invalid(
            "invalid_score",
            "payload.score",
            format!("a score is a multiple of {step} from 0 to {max}"),
        ));
    }
    if new == current {
        return Err(RuleError::invalid(
            "unchanged_score",
            "payload.score",
            "the new score equals the current final",
        ));
    }
    Ok(())
}

/// A candidate's total: the exact sum of their question finals.
pub fn total(finals: &[Score]) -> Score {
    Score::from_hundredths(finals.iter().map(|s| s.hundredths()).sum())
}

/// How many results a page may hold.
pub const MAX_PAGE: u32 = 5000;

/// A page size: 1 to [`MAX_PAGE`], 1,000 when not given.
pub fn page_limit(asked: Option<u32>) -> Result<u32, RuleError> {
    match asked {
        None => Ok(1000),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(RuleError::invalid(
            "invalid_limit",
            "limit",
            format!("a page holds 1 to {MAX_PAGE} results"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPEN: ResultsState = ResultsState {
        locked: false,
        released: false,
    };
    const LOCKED: ResultsState = ResultsState {
        locked: true,
        released: false,
    };
    const RELEASED: ResultsState = ResultsState {
        locked: true,
        released: true,
    };

    fn s(v: i64) -> Score {
        Score::from_hundredths(v * 100)
    }

    #[test]
    fn a_lock_names_what_is_open_per_question_and_whom_nothing_accounts_for() {
        let clear = LockBlockers {
            questions: vec![QuestionOpen {
                question: "W1".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(check_lock(OPEN, &clear).is_ok());
        assert_eq!(check_lock(LOCKED, &clear).unwrap_err().code(), "exam_locked");
        let blocked = LockBlockers {
            questions: vec![
                QuestionOpen {
                    question: "W1".into(),
                    unresolved_scripts: 2,
                    disputes: 1,
                    ..Default::default()
                },
                QuestionOpen {
                    question: "S2".into(),
                    ..Default::default()
                },
            ],
            open_reviews: 1,
            unaccounted: vec![Unaccounted {
                admission_number: "2026001".into(),
                name: "Li Hua".into(),
                questions: vec!["W1".into(), "S2".into()],
            }],
        };
        let e = check_lock(OPEN, &blocked).unwrap_err();
        assert_eq!(e.code(), "lock_blocked");
        let text = e.to_string();
        for part in [
            "W1: 2 scripts unresolved, 1 disputes",
            "1 marker reviews open",
            "2026001 Li Hua (W1, S2)",
        ] {
            assert!(text.contains(part), "{text}");
        }
        assert!(!text.contains("S2:"), "a clear question is not listed: {text}");
    }

    #[test]
    fn release_unlock_and_amend_follow_the_lock() {
        assert_eq!(check_release(OPEN).unwrap_err().code(), "not_locked");
        assert!(check_release(LOCKED).is_ok());
        assert_eq!(check_release(RELEASED).unwrap_err().code(), "already_released");
        assert!(check_unlock(LOCKED).is_ok());
        assert_eq!(check_unlock(OPEN).unwrap_err().code(), "not_locked");
        assert_eq!(check_unlock(RELEASED).unwrap_err().code(), "already_released");
        assert_eq!(
            check_amend(LOCKED, s(30), s(32), s(60), s(1)).unwrap_err().code(),
            "not_released"
        );
        assert!(check_amend(RELEASED, s(30), s(32), s(60), s(1)).is_ok());
        assert_eq!(
            check_amend(RELEASED, s(30), s(30), s(60), s(1)).unwrap_err().code(),
            "unchanged_score"
        );
        assert_eq!(
            check_amend(RELEASED, s(30), s(61), s(60), s(1)).unwrap_err().code(),
            "invalid_score"
        );
        let half = Score::from_hundredths(3050);
        assert_eq!(
            check_amend(RELEASED, s(30), half, s(60), s(1)).unwrap_err().code(),
            "invalid_score"
        );
        assert_eq!(page_limit(None), Ok(1000));
        assert!(page_limit(Some(0)).is_err() && page_limit(Some(5001)).is_err());
    }

    proptest! {
        #[test]
        fn a_total_is_the_exact_sum(parts in proptest::collection::vec(0i64..=6000, 0..12)) {
            let finals: Vec<Score> = parts.iter().map(|h| Score::from_hundredths(*h)).collect();
            prop_assert_eq!(total(&finals).hundredths(), parts.iter().sum::<i64>());
        }
    }
}
