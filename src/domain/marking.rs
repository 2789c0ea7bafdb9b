//! A marker at work (R5, R6, R9): what they are served next (live work, a seed or a self-check),
//! what a mark must hold, and what a flag does. Pure: randomness comes in as a generator.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::question::Question;
use super::rules::MarkingRules;
use super::{RuleError, Score};

/// What a lease carries. The marker cannot tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServeKind {
    Live,
    Seed,
    SelfCheck,
}

impl ServeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServeKind::Live => "live",
            ServeKind::Seed => "seed",
            ServeKind::SelfCheck => "self_check",
        }
    }
}

/// The marker's serves so far on this marking day (in the exam's time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Today {
    pub served: u32,
    pub seeds: u32,
}

/// What could be served now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Available {
    pub seed: bool,
    pub self_check: bool,
}

/// What the day's draws ask for, before anyone looks whether it is there: drawing first lets the
/// lease read the pools of seeds and self-checks only when a draw wants one (one lease in
/// twenty or so), and the draws do not depend on what is available, so the odds are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub seed: bool,
    pub self_check: bool,
}

/// The day's draws. Each day one seed comes at a uniformly random position among the first
/// `first_seed_within` serves (drawn one step at a time: with k places left, a seed now with
/// probability 1/k; when no seed fitted at its place, at the next serve one fits), after that at
/// `seed_rate`; a self-check at `self_check_rate`.
pub fn draw_serve(today: Today, rules: &MarkingRules, rng: &mut impl Rng) -> Wanted {
    let within = rules.first_seed_within.max(1);
    let seed = if today.seeds == 0 {
        // Overdue (the day's place passed while no seed fitted the question): now.
        today.served + 1 >= within || rng.random_range(0..within - today.served) == 0
    } else {
        rng.random_bool(rules.seed_rate.clamp(0.0, 1.0))
    };
    let self_check = rng.random_bool(rules.self_check_rate.clamp(0.0, 1.0));
    Wanted { seed, self_check }
}

/// The next serve, from the draws and what is there: a seed before a self-check. Only called
/// when live work is there too, so neither betrays an empty queue.
pub fn choose_serve(wanted: Wanted, available: Available) -> ServeKind {
    if wanted.seed && available.seed {
        ServeKind::Seed
    } else if wanted.self_check && available.self_check {
        ServeKind::SelfCheck
    } else {
        ServeKind::Live
    }
}

/// Why a marker gave a script back without a mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Blank,
    Illegible,
    /// A name or number shows: the script is withdrawn from everyone at once.
    IdentityExposed,
    Misplaced,
    Misconduct,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Blank => "blank",
            Flag::Illegible => "illegible",
            Flag::IdentityExposed => "identity_exposed",
            Flag::Misplaced => "misplaced",
            Flag::Misconduct => "misconduct",
        }
    }
}

/// A mark on the image: a tick, a cross or a short comment at a point of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Annotation {
    pub kind: AnnotationKind,
    #[serde(default, deserialize_with = "super::whole::deserialize")]
    pub page: u32,
    /// Across the image, 0 (left) to 1 (right).
    pub x: f64,
    /// Down the image, 0 (top) to 1 (bottom).
    pub y: f64,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationKind {
    Tick,
    Cross,
    Comment,
}

const MAX_ANNOTATIONS: usize = 200;
const MAX_COMMENT: usize = 200;

/// Checks a mark: the score on the question's scale; criteria, when given, cover every
/// criterion, each on its own scale, and add up to the score; annotations on the image.
pub fn check_mark(
    q: &Question,
    score: Score,
    criteria: Option<&BTreeMap<String, Score>>,
    annotations: &[Annotation],
    seconds_spent: Option<u32>,
) -> Result<(), RuleError> {
    q.check_score("score", score)?;
    if let Some(given) = criteria {
        if q.criteria.is_empty() {
            return Err(RuleError::invalid(
                "invalid_criteria",
                "criteria",
                format!("question {} is not marked by criteria", q.code),
            ));
        }
        for c in &q.criteria {
            let Some(s) = given.get(&c.code) else {
                return Err(RuleError::invalid(
                    "invalid_criteria",
                    format!("criteria.{}", c.code),
                    format!("criterion {} has no score", c.code),
                ));
            };
            if *s < Score::ZERO || *s > c.max || !s.is_multiple_of(q.step) {
                return Err(RuleError::invalid(
                    "invalid_criteria",
                    format!("criteria.{}", c.code),
                    format!("criterion {} takes 0 to {} in steps of {}", c.code, c.max, q.step),
                ));
            }
        }
        if let Some(extra) = given.keys().find(|k| !q.criteria.iter().any(|c| &c.code == *k)) {
            return Err(RuleError::invalid(
                "invalid_criteria",
                format!("criteria.{extra}"),
                format!("question {} has no criterion {extra}", q.code),
            ));
        }
        let sum: i64 = given.values().map(|s| s.hundredths()).sum();
        if sum != score.hundredths() {
            return Err(RuleError::invalid(
                "criteria_sum",
                "criteria",
                format!("the criteria add up to {}, not {score}", Score::from_hundredths(sum)),
            ));
        }
    }
    if annotations.len() > MAX_ANNOTATIONS {
        return Err(RuleError::invalid(
            "invalid_annotation",
            "annotations",
            format!("at most {MAX_ANNOTATIONS} annotations"),
        ));
    }
    for (i, a) in annotations.iter().enumerate() {
        let on_image = (0.0..=1.0).contains(&a.x) && (0.0..=1.0).contains(&a.y);
        let text_ok = match (a.kind, &a.text) {
            (AnnotationKind::Comment, Some(t)) => {
                !t.trim().is_empty() && t.chars().count() <= MAX_COMMENT && !t.chars().any(char::is_control)
            }
            (AnnotationKind::Comment, None) => false,
            (_, t) => t.as_ref().is_none_or(|t| t.chars().count() <= MAX_COMMENT),
        };
        if !on_image || !text_ok || a.page > 64 {
            return Err(RuleError::invalid(
                "invalid_annotation",
                format!("annotations[{i}]"),
                "an annotation lies on the image (x and y from 0 to 1) and a comment has 1 to 200 characters",
            ));
        }
    }
    if seconds_spent.is_some_and(|s| s > 86_400) {
        return Err(RuleError::invalid(
            "invalid_mark",
            "seconds_spent",
            "seconds_spent is at most a day",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::question::{Criterion, QuestionKind};
    use rand::SeedableRng;

    fn essay() -> Question {
        Question {
            code: "W1".into(),
            kind: QuestionKind::Essay,
            max: Score::points(60),
            step: Score::from_hundredths(50),
            tolerance: Score::points(6),
            final_step: Score::from_hundredths(50),
            marks_required: 3,
            criteria: vec![
                Criterion {
                    code: "content".into(),
                    name: "Content".into(),
                    max: Score::points(40),
                },
                Criterion {
                    code: "language".into(),
                    name: "Language".into(),
                    max: Score::points(20),
                },
            ],
        }
    }

    #[test]
    fn criteria_add_up_to_the_score() {
        let q = essay();
        let c = |a: i64, b: i64| {
            BTreeMap::from([
                ("content".to_string(), Score::points(a)),
                ("language".to_string(), Score::points(b)),
            ])
        };
        assert!(check_mark(&q, Score::points(45), Some(&c(30, 15)), &[], None).is_ok());
        assert_eq!(
            check_mark(&q, Score::points(45), Some(&c(30, 14)), &[], None)
                .unwrap_err()
                .code(),
            "criteria_sum"
        );
        assert!(check_mark(&q, Score::points(45), Some(&c(25, 20)), &[], None).is_ok());
        assert_eq!(
            check_mark(&q, Score::points(45), Some(&c(41, 4)), &[], None)
                .unwrap_err()
                .code(),
            "invalid_criteria"
        );
        assert_eq!(
            check_mark(&q, Score::from_hundredths(4525), None, &[], None)
                .unwrap_err()
                .code(),
            "invalid_score"
        );
        assert_eq!(
            check_mark(&q, Score::points(61), None, &[], None).unwrap_err().code(),
            "invalid_score"
        );
        let off = Annotation {
            kind: AnnotationKind::Tick,
            page: 0,
            x: 1.5,
            y: 0.2,
            text: None,
        };
        assert_eq!(
            check_mark(&q, Score::points(45), None, &[off], None)
                .unwrap_err()
                .code(),
            "invalid_annotation"
        );
    }

    #[test]
    fn the_first_seed_of_the_day_comes_among_the_first_five() {
        let rules = MarkingRules {
            seed_rate: 0.0,
            self_check_rate: 0.0,
            ..MarkingRules::default()
        };
        let both = Available {
            seed: true,
            self_check: true,
        };
        let mut positions = [0u32; 5];
        for s in 0..2000u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(s);
            let mut today = Today::default();
            loop {
                let kind = choose_serve(draw_serve(today, &rules, &mut rng), both);
                if kind == ServeKind::Seed {
                    positions[today.served as usize] += 1;
                    break;
                }
                today.served += 1;
                assert!(today.served < 5, "no seed among the first five");
            }
        }
        // Uniform over the five places: 400 each, give or take.
        for p in positions {
            assert!((320..480).contains(&p), "{positions:?}");
        }
        // After the day's seed, none at a seed rate of zero.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let after = Today { served: 3, seeds: 1 };
        for _ in 0..100 {
            assert_eq!(choose_serve(draw_serve(after, &rules, &mut rng), both), ServeKind::Live);
        }
    }

    proptest::proptest! {
        /// What is not there, or not drawn, is never served; a seed goes before a self-check.
        #[test]
        fn a_serve_is_drawn_and_there(seed in proptest::bool::ANY, check in proptest::bool::ANY,
                                      has_seed in proptest::bool::ANY, has_check in proptest::bool::ANY) {
            let kind = choose_serve(Wanted { seed, self_check: check }, Available { seed: has_seed, self_check: has_check });
            let expected = if seed && has_seed {
                ServeKind::Seed
            } else if check && has_check {
                ServeKind::SelfCheck
            } else {
                ServeKind::Live
            };
            proptest::prop_assert_eq!(kind, expected);
        }
    }

    #[test]
    fn after_the_days_seed_seeds_and_self_checks_come_at_their_rates() {
        let rules = MarkingRules {
            seed_rate: 0.2,
            self_check_rate: 0.1,
            ..MarkingRules::default()
        };
        let both = Available {
            seed: true,
            self_check: true,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let after = Today { served: 9, seeds: 1 };
        let (mut seeds, mut checks) = (0u32, 0u32);
        for _ in 0..20_000 {
            match choose_serve(draw_serve(after, &rules, &mut rng), both) {
                ServeKind::Seed => seeds += 1,
                ServeKind::SelfCheck => checks += 1,
                ServeKind::Live => {}
            }
        }
        // 20 % seeds; self-checks at 10 % of the rest (8 %).
        assert!((3_700..4_300).contains(&seeds), "{seeds}");
        assert!((1_400..1_800).contains(&checks), "{checks}");
        // Without seeds to serve, self-checks still come at their own rate.
        let no_seed = Available {
            seed: false,
            self_check: true,
        };
        let checks = (0..20_000)
            .filter(|_| choose_serve(draw_serve(after, &rules, &mut rng), no_seed) == ServeKind::SelfCheck)
            .count();
        assert!((1_800..2_200).contains(&checks), "{checks}");
    }
}
