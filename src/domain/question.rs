//! What makes a question markable: its scale, its step, its tolerance and how many people mark it.

use serde::{Deserialize, Serialize};

use super::exam::check_code;
use super::{RuleError, Score};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// Three independent marks, always (R7).
    Essay,
    /// Two marks, a third on disagreement.
    Short,
}

impl QuestionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::Essay => "essay",
            QuestionKind::Short => "short",
        }
    }

    pub fn parse(s: &str) -> Option<QuestionKind> {
        match s {
            "essay" => Some(QuestionKind::Essay),
            "short" => Some(QuestionKind::Short),
            _ => None,
        }
    }

    /// The fewest independent marks the rules allow for this kind.
    pub fn min_marks(self) -> u32 {
        match self {
            QuestionKind::Essay => 3,
            QuestionKind::Short => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    pub code: String,
    pub name: String,
    pub max: Score,
}

/// A question as a chief leader proposes it; absent figures take their defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionDraft {
    pub code: String,
    pub kind: QuestionKind,
    pub max: Score,
    pub step: Score,
    pub tolerance: Option<Score>,
    pub final_step: Option<Score>,
    pub marks_required: Option<u32>,
    pub criteria: Vec<Criterion>,
}

/// A question that passed every rule, with its defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub code: String,
    pub kind: QuestionKind,
    pub max: Score,
    pub step: Score,
    pub tolerance: Score,
    pub final_step: Score,
    pub marks_required: u32,
    pub criteria: Vec<Criterion>,
}

impl Question {
    /// A score this question can be given: a multiple of its step within [0, max].
    pub fn check_score(&self, field: &str, score: Score) -> Result<(), RuleError> {
        if score < Score::ZERO || score > self.max || !score.is_multiple_of(self.step) {
            return Err(RuleError::invalid(
                "invalid_score",
                field,
                format!(
                    "question {} takes a score from 0 to {} in steps of {}",
                    self.code, self.max, self.step
                ),
            ));
        }
        Ok(())
    }
}

/// The most independent marks a question may ask for; beyond this nobody means it.
const MAX_MARKS_REQUIRED: u32 = 9;

fn invalid(field: &str, detail: String) -> RuleError {
    RuleError::invalid("invalid_question", field, detail)
}

/// Checks a draft against the marking rules and fills in its defaults:
/// the tolerance defaults to `tolerance_percent` of the maximum rounded to the step, the final
/// step to `default_final_step` when the step is a multiple of it (otherwise the step itself).
pub fn validate_question(
    d: QuestionDraft,
    tolerance_percent: u32,
    default_final_step: Score,
) -> Result<Question, RuleError> {
    check_code("code", &d.code)?;
    if d.max <= Score::ZERO {
        return Err(invalid("max_score", "the maximum score must be positive".into()));
    }
    if d.step <= Score::ZERO {
        return Err(invalid("step", "the step must be positive".into()));
    }
    if !d.max.is_multiple_of(d.step) {
        return Err(invalid(
            "step",
            format!("the step {} does not divide the maximum {}", d.step, d.max),
        ));
    }
    let final_step = match d.final_step {
        Some(f) => f,
        None if d.step.is_multiple_of(default_final_step) && d.max.is_multiple_of(default_final_step) => {
            default_final_step
        }
        None => d.step,
    };
    if final_step <= Score::ZERO {
        return Err(invalid("final_step", "the final step must be positive".into()));
    }
    if !d.max.is_multiple_of(final_step) {
        return Err(invalid(
            "final_step",
            format!("the final step {final_step} does not divide the maximum {}", d.max),
        ));
    }
    if !d.step.is_multiple_of(final_step) {
        return Err(invalid(
            "final_step",
            format!("the step {} is not a multiple of the final step {final_step}", d.step),
        ));
    }
    let tolerance = match d.tolerance {
        Some(t) => t,
        None => d.max.percent(i64::from(tolerance_percent)).round_half_up_to(d.step),
    };
    if tolerance < Score::ZERO || tolerance > d.max {
        return Err(invalid(
            "tolerance",
            "the tolerance must lie between 0 and the maximum".into(),
        ));
    }
    if tolerance != Score::ZERO && !tolerance.is_multiple_of(d.step) {
        return Err(invalid(
            "tolerance",
            format!("the tolerance {tolerance} is not a multiple of the step {}", d.step),
        ));
    }
    let min = d.kind.min_marks();
    let marks_required = d.marks_required.unwrap_or(min);
    if marks_required < min {
        return Err(invalid(
            "marks_required",
            format!("a {} question needs at least {min} independent marks", d.kind.as_str()),
        ));
    }
    if marks_required > MAX_MARKS_REQUIRED {
        return Err(invalid(
            "marks_required",
            format!("at most {MAX_MARKS_REQUIRED} independent marks"),
        ));
    }
    check_criteria(&d.criteria, d.max, d.step)?;
    Ok(Question {
        code: d.code,
        kind: d.kind,
        max: d.max,
        step: d.step,
        tolerance,
        final_step,
        marks_required,
        criteria: d.criteria,
    })
}

fn check_criteria(criteria: &[Criterion], max: Score, step: Score) -> Result<(), RuleError> {
    if criteria.is_empty() {
        return Ok(());
    }
    let mut total = 0i64;
    for (i, c) in criteria.iter().enumerate() {
        check_code(&format!("criteria[{i}].code"), &c.code)?;
        if criteria[..i].iter().any(|o| o.code == c.code) {
            return Err(invalid(
                &format!("criteria[{i}].code"),
                format!("criterion {} appears twice", c.code),
            ));
        }
        if c.max <= Score::ZERO || !c.max.is_multiple_of(step) {
            return Err(invalid(
                &format!("criteria[{i}].max"),
                format!("a criterion's maximum must be a positive multiple of the step {step}"),
            ));
        }
        total += c.max.hundredths();
    }
    if total != max.hundredths() {
        return Err(invalid(
            "criteria",
            format!(
                "the criteria maxima add up to {}, not the maximum {max}",
                Score::from_hundredths(total)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn draft(kind: QuestionKind, max: i64, step: i64) -> QuestionDraft {
        QuestionDraft {
            code: "Q1".into(),
            kind,
            max: Score::from_hundredths(max),
            step: Score::from_hundredths(step),
            tolerance: None,
            final_step: None,
            marks_required: None,
            criteria: vec![],
        }
    }

    fn check(d: QuestionDraft) -> Result<Question, RuleError> {
        validate_question(d, 10, Score::from_hundredths(50))
    }

    #[test]
    fn defaults_follow_the_design() {
        let q = check(draft(QuestionKind::Essay, 6000, 100)).unwrap();
        assert_eq!(q.tolerance, Score::points(6));
        assert_eq!(q.final_step, Score::from_hundredths(50));
        assert_eq!(q.marks_required, 3);
        let q = check(draft(QuestionKind::Short, 2500, 100)).unwrap();
        assert_eq!(q.tolerance, Score::points(3), "2.5 rounds half up to 3");
        assert_eq!(q.marks_required, 2);
    }

    #[test]
    fn step_one_with_final_half_is_accepted() {
        let mut d = draft(QuestionKind::Short, 2500, 100);
        d.final_step = Some(Score::from_hundredths(50));
        assert!(check(d).is_ok());
    }

    #[test]
    fn step_half_with_final_one_on_odd_max_is_refused() {
        let mut d = draft(QuestionKind::Short, 2500, 50);
        d.final_step = Some(Score::points(1));
        assert!(matches!(check(d), Err(RuleError::Invalid { field: Some(f), .. }) if f == "final_step"));
    }

    #[test]
    fn each_rule_names_its_field() {
        let field = |d| match check(d) {
            Err(RuleError::Invalid { field: Some(f), .. }) => f,
            other => panic!("expected invalid, got {other:?}"),
        };
        assert_eq!(field(draft(QuestionKind::Short, 2500, 200)), "step");
        let mut d = draft(QuestionKind::Short, 2500, 100);
        d.final_step = Some(Score::from_hundredths(30));
        assert_eq!(field(d), "final_step");
        let mut d = draft(QuestionKind::Short, 2000, 100);
        d.tolerance = Some(Score::from_hundredths(150));
        assert_eq!(field(d), "tolerance");
        let mut d = draft(QuestionKind::Essay, 2000, 100);
        d.marks_required = Some(2);
        assert_eq!(field(d), "marks_required");
        let mut d = draft(QuestionKind::Short, 2000, 100);
        d.marks_required = Some(1);
        assert_eq!(field(d), "marks_required");
        let mut d = draft(QuestionKind::Essay, 2000, 100);
        d.criteria = vec![
            Criterion {
                code: "a".into(),
                name: "content".into(),
                max: Score::points(12),
            },
            Criterion {
                code: "b".into(),
                name: "language".into(),
                max: Score::points(7),
            },
        ];
        assert_eq!(field(d), "criteria");
        assert_eq!(field(draft(QuestionKind::Essay, 0, 100)), "max_score");
    }

    proptest! {
        #[test]
        fn accepted_questions_keep_every_invariant(max in 1i64..20_000, step in 1i64..500, fs in 1i64..200, tol in proptest::option::of(0i64..5_000)) {
            let mut d = draft(QuestionKind::Short, max, step);
            d.final_step = Some(Score::from_hundredths(fs));
            d.tolerance = tol.map(Score::from_hundredths);
            if let Ok(q) = check(d) {
                prop_assert!(q.max.is_multiple_of(q.step));
                prop_assert!(q.max.is_multiple_of(q.final_step));
                prop_assert!(q.step.is_multiple_of(q.final_step));
                prop_assert!(q.tolerance == Score::ZERO || q.tolerance.is_multiple_of(q.step));
                prop_assert!(q.tolerance <= q.max);
            }
        }

        #[test]
        fn default_tolerance_is_a_multiple_of_the_step(steps in 1i64..200, step in 1i64..300) {
            let q = check(draft(QuestionKind::Essay, steps * step, step)).unwrap();
            prop_assert!(q.tolerance == Score::ZERO || q.tolerance.is_multiple_of(q.step));
        }
    }
}
