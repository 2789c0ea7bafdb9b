//! Changing an exam's rules after it was made. The rules that decide how marks become finals
//! (tolerances, final steps, how many marks) must not move under marks already given: once
//! marking has started they are frozen, except that more independent marks may be asked for.

use serde_json::{Map, Value};

use super::question::{Question, QuestionDraft, validate_question};
use super::rules::MarkingRules;
use super::{RuleError, Score};

/// Exam-wide rules that decide finals; frozen once marking has started.
const FROZEN_ONCE_MARKING: [&str; 2] = ["default_tolerance_percent", "default_final_step"];

/// New figures for one question; absent ones stay as they are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuestionChange {
    pub code: String,
    pub tolerance: Option<Score>,
    pub final_step: Option<Score>,
    pub marks_required: Option<u32>,
}

/// The exam's rules and questions after the change, when the change is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub rules: MarkingRules,
    pub questions: Vec<Question>,
}

fn frozen(detail: String) -> RuleError {
    RuleError::conflict("rule_frozen", detail)
}

/// Checks a change of rules (`{"backread_rate": 0}`) and of question figures against the
/// exam as it is. Every rule is validated as at creation; once `marking_started`, the default
/// tolerance and final step, a question's tolerance and final step stay, and a question's
/// `marks_required` may only rise.
pub fn check_rule_change(
    marking_started: bool,
    current: &MarkingRules,
    rule_values: &Map<String, Value>,
    questions: &[Question],
    changes: &[QuestionChange],
) -> Result<Changed, RuleError> {
    let rules = current.with_overrides(rule_values)?;
    if marking_started {
        let before = serde_json::to_value(current).unwrap_or(Value::Null);
        let after = serde_json::to_value(&rules).unwrap_or(Value::Null);
        for name in FROZEN_ONCE_MARKING {
            if before.get(name) != after.get(name) {
                return Err(frozen(format!(
                    "{name} decides finals and cannot change once marking has started"
                )));
            }
        }
    }
    let mut updated = questions.to_vec();
    for change in changes {
        let Some(q) = updated.iter_mut().find(|q| q.code == change.code) else {
            return Err(RuleError::invalid(
                "unknown_question",
                format!("questions.{}", change.code),
                format!("the exam has no question {}", change.code),
            ));
        };
        *q = changed_question(marking_started, q, change, &rules)?;
    }
    Ok(Changed {
        rules,
        questions: updated,
    })
}

fn changed_question(
    marking_started: bool,
    q: &Question,
    change: &QuestionChange,
    rules: &MarkingRules,
) -> Result<Question, RuleError> {
    let tolerance = change.tolerance.unwrap_or(q.tolerance);
    let final_step = change.final_step.unwrap_or(q.final_step);
    let marks_required = change.marks_required.unwrap_or(q.marks_required);
    if marking_started {
        if tolerance != q.tolerance || final_step != q.final_step {
            return Err(frozen(format!(
                "question {}'s tolerance and final step cannot change once marking has started",
                q.code
            )));
        }
        if marks_required < q.marks_required {
            return Err(frozen(format!(
                "question {} may ask for more independent marks, never fewer, once marking has started",
                q.code
            )));
        }
    }
    let draft = QuestionDraft {
        code: q.code.clone(),
        kind: q.kind,
        max: q.max,
        step: q.step,
        tolerance: Some(tolerance),
        final_step: Some(final_step),
        marks_required: Some(marks_required),
        criteria: q.criteria.clone(),
    };
    validate_question(draft, rules.default_tolerance_percent, rules.default_final_step).map_err(|e| match e {
        RuleError::Invalid { code, field, detail } => RuleError::Invalid {
            code,
            field: field.map(|f| format!("questions.{}.{f}", q.code)),
            detail,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::question::QuestionKind;
    use proptest::prelude::*;

    fn essay() -> Question {
        Question {
            code: "W1".into(),
            kind: QuestionKind::Essay,
            max: Score::from_hundredths(6000),
            step: Score::from_hundredths(100),
            tolerance: Score::from_hundredths(600),
            final_step: Score::from_hundredths(50),
            marks_required: 3,
            criteria: vec![],
        }
    }

    fn values(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn change(tolerance: Option<i64>, marks: Option<u32>) -> QuestionChange {
        QuestionChange {
            code: "W1".into(),
            tolerance: tolerance.map(Score::from_hundredths),
            final_step: None,
            marks_required: marks,
        }
    }

    #[test]
    fn before_marking_anything_valid_may_change() {
        let r = MarkingRules::default();
        let c = check_rule_change(
            false,
            &r,
            &values(serde_json::json!({"backread_rate": 0, "default_tolerance_percent": 5})),
            &[essay()],
            &[change(Some(400), Some(3))],
        )
        .unwrap();
        assert_eq!(c.rules.backread_rate, 0.0);
        assert_eq!(c.rules.default_tolerance_percent, 5);
        assert_eq!(c.questions[0].tolerance, Score::from_hundredths(400));
    }

    #[test]
    fn once_marking_started_what_decides_finals_stays() {
        let r = MarkingRules::default();
        let q = [essay()];
        let started = |v: Value, ch: &[QuestionChange]| check_rule_change(true, &r, &values(v), &q, ch);
        assert!(started(serde_json::json!({"backread_rate": 0}), &[]).is_ok());
        assert_eq!(
            started(serde_json::json!({"default_tolerance_percent": 5}), &[])
                .unwrap_err()
                .code(),
            "rule_frozen"
        );
        assert_eq!(
            started(serde_json::json!({"default_final_step": 1}), &[])
                .unwrap_err()
                .code(),
            "rule_frozen"
        );
        assert!(
            started(serde_json::json!({"default_tolerance_percent": 10}), &[]).is_ok(),
            "the same value is no change"
        );
        assert_eq!(
            started(serde_json::json!({}), &[change(Some(400), None)])
                .unwrap_err()
                .code(),
            "rule_frozen"
        );
        assert_eq!(
            started(serde_json::json!({}), &[change(None, Some(4))])
                .unwrap()
                .questions[0]
                .marks_required,
            4
        );
        let mut four = essay();
        four.marks_required = 4;
        let e = check_rule_change(true, &r, &Map::new(), &[four], &[change(None, Some(3))]).unwrap_err();
        assert_eq!(e.code(), "rule_frozen");
    }

    #[test]
    fn changes_are_validated_like_new_rules() {
        let r = MarkingRules::default();
        let e = check_rule_change(false, &r, &values(serde_json::json!({"nope": 1})), &[essay()], &[]).unwrap_err();
        assert_eq!(e.code(), "unknown_setting");
        let e = check_rule_change(false, &r, &Map::new(), &[essay()], &[change(None, Some(2))]).unwrap_err();
        assert!(matches!(e, RuleError::Invalid { field: Some(ref f), .. } if f == "questions.W1.marks_required"));
        let mut other = change(None, None);
        other.code = "S9".into();
        assert_eq!(
            check_rule_change(false, &r, &Map::new(), &[essay()], &[other])
                .unwrap_err()
                .code(),
            "unknown_question"
        );
    }

    proptest! {
        /// Once marking has started, no accepted change lowers marks_required or moves a tolerance.
        #[test]
        fn started_marking_never_loses_marks_or_moves_tolerance(tol in 0i64..60, marks in 0u32..12) {
            let q = essay();
            let ch = change(Some(tol * 100), Some(marks));
            if let Ok(c) = check_rule_change(true, &MarkingRules::default(), &Map::new(), std::slice::from_ref(&q), &[ch]) {
                prop_assert!(c.questions[0].marks_required >= q.marks_required);
                prop_assert_eq!(c.questions[0].tolerance, q.tolerance);
            }
        }
    }
}
