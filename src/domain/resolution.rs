//! How independent marks become a final score (DESIGN.md section 3, R7). Exact arithmetic:
//! marks are hundredths, means are rational until rounded half up to the question's final step
//! (a tie goes to the candidate).
//!
//! - Essay: `marks_required` marks (at least three); spread within the tolerance → their mean,
//!   otherwise disputed.
//! - Short: `marks_required` marks (at least two); spread within the tolerance → their mean;
//!   otherwise one more blind mark, then the closest pair (a tie between pairs: the higher
//!   pair) within the tolerance → its mean, otherwise disputed.

use serde::{Deserialize, Serialize};

use super::Score;
use super::question::{Question, QuestionKind};

/// How a final was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Mean,
    ClosestPair,
    Arbitration,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Mean => "mean",
            Method::ClosestPair => "closest_pair",
            Method::Arbitration => "arbitration",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        [Method::Mean, Method::ClosestPair, Method::Arbitration]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// What the valid marks of a script decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A final score.
    Resolved { score: Score, method: Method },
    /// This many more independent marks are needed (tasks to open or still open).
    NeedMore(u32),
    /// Marks too far apart: a leader arbitrates.
    Disputed { spread: Score },
}

/// The mean of `marks` rounded half up to `unit`, exactly.
pub fn mean_rounded(marks: &[Score], unit: Score) -> Score {
    let n = i128::try_from(marks.len().max(1)).unwrap_or(1);
    let sum: i128 = marks.iter().map(|m| i128::from(m.hundredths())).sum();
    let u = i128::from(unit.hundredths().max(1));
    // floor(sum / n / u + 1/2) · u, all in integers (marks are never negative).
    let units = (2 * sum + n * u).div_euclid(2 * n * u);
    Score::from_hundredths(i64::try_from(units * u).unwrap_or(i64::MAX))
}

fn spread(marks: &[Score]) -> Score {
    let max = marks.iter().copied().max().unwrap_or(Score::ZERO);
    let min = marks.iter().copied().min().unwrap_or(Score::ZERO);
    Score::from_hundredths(max.hundredths() - min.hundredths())
}

/// The pair with the smallest difference; a tie goes to the pair with the higher sum.
fn closest_pair(marks: &[Score]) -> (Score, Score) {
    let mut best: Option<(i64, i64, Score, Score)> = None;
    for i in 0..marks.len() {
        for j in i + 1..marks.len() {
            let (a, b) = (marks[i], marks[j]);
            let diff = (a.hundredths() - b.hundredths()).abs();
            let sum = a.hundredths() + b.hundredths();
            let better = match best {
                None => true,
                Some((d, s, _, _)) => diff < d || (diff == d && sum > s),
            };
            if better {
                best = Some((diff, sum, a, b));
            }
        }
    }
    best.map(|(_, _, a, b)| (a, b)).unwrap_or((Score::ZERO, Score::ZERO))
}

/// Marks a question needs before anything is decided.
pub fn required_marks(q: &Question) -> u32 {
    q.marks_required.max(q.kind.min_marks())
}

/// Decides a script from its valid (not void) independent marks.
pub fn resolve(q: &Question, marks: &[Score]) -> Outcome {
    let required = required_marks(q);
    let have = u32::try_from(marks.len()).unwrap_or(u32::MAX);
    if have < required {
        return Outcome::NeedMore(required - have);
    }
    let within = |s: Score| s <= q.tolerance;
    match q.kind {
        QuestionKind::Essay => {
            let s = spread(marks);
            if within(s) {
                Outcome::Resolved {
                    score: mean_rounded(marks, q.final_step),
                    method: Method::Mean,
                }
            } else {
                Outcome::Disputed { spread: s }
            }
        }
        QuestionKind::Short if have == required => {
            if within(spread(marks)) {
                Outcome::Resolved {
                    score: mean_rounded(marks, q.final_step),
                    method: Method::Mean,
                }
            } else {
                Outcome::NeedMore(1)
            }
        }
        QuestionKind::Short => {
            let (a, b) = closest_pair(marks);
            let diff = Score::from_hundredths((a.hundredths() - b.hundredths()).abs());
            if within(diff) {
                Outcome::Resolved {
                    score: mean_rounded(&[a, b], q.final_step),
                    method: Method::ClosestPair,
                }
            } else {
                Outcome::Disputed { spread: spread(marks) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn question(kind: QuestionKind, max: i64, step: i64, tolerance: i64, final_step: i64, k: u32) -> Question {
        Question {
            code: "Q".into(),
            kind,
            max: Score::from_hundredths(max),
            step: Score::from_hundredths(step),
            tolerance: Score::from_hundredths(tolerance),
            final_step: Score::from_hundredths(final_step),
            marks_required: k,
            criteria: vec![],
        }
    }

    fn p(v: &[i64]) -> Vec<Score> {
        v.iter().map(|x| Score::points(*x)).collect()
    }

    #[test]
    fn essays_take_the_mean_of_three_or_go_to_arbitration() {
        let q = question(QuestionKind::Essay, 6000, 100, 600, 50, 3);
        assert_eq!(resolve(&q, &p(&[40, 42])), Outcome::NeedMore(1));
        // 40 + 42 + 41 = 123 / 3 = 41.
        assert_eq!(
            resolve(&q, &p(&[40, 42, 41])),
            Outcome::Resolved {
                score: Score::points(41),
                method: Method::Mean
            }
        );
        // 40 + 41 + 41 = 122 / 3 = 40.67 → 40.5 (nearest half).
        assert_eq!(
            resolve(&q, &p(&[40, 41, 41])),
            Outcome::Resolved {
                score: Score::from_hundredths(4050),
                method: Method::Mean
            }
        );
        assert_eq!(
            resolve(&q, &p(&[30, 40, 37])),
            Outcome::Disputed {
                spread: Score::points(10)
            }
        );
    }

    #[test]
    fn a_tie_in_rounding_goes_to_the_candidate() {
        // 40 + 41 = 81 / 2 = 40.5 exactly; to whole points → 41.
        assert_eq!(mean_rounded(&p(&[40, 41]), Score::points(1)), Score::points(41));
        // 40.25 → 40.5 with a half-point final step.
        assert_eq!(
            mean_rounded(
                &[Score::from_hundredths(4000), Score::from_hundredths(4050)],
                Score::from_hundredths(50)
            ),
            Score::from_hundredths(4050)
        );
    }

    #[test]
    fn short_questions_take_a_third_mark_then_the_closest_pair() {
        let q = question(QuestionKind::Short, 1000, 100, 100, 50, 2);
        assert_eq!(
            resolve(&q, &p(&[6, 7])),
            Outcome::Resolved {
                score: Score::from_hundredths(650),
                method: Method::Mean
            }
        );
        assert_eq!(resolve(&q, &p(&[4, 7])), Outcome::NeedMore(1));
        assert_eq!(
            resolve(&q, &p(&[4, 7, 8])),
            Outcome::Resolved {
                score: Score::from_hundredths(750),
                method: Method::ClosestPair
            }
        );
        // Pairs (4,5) and (5,6) tie at 1: the higher pair counts.
        assert_eq!(
            resolve(&q, &p(&[4, 6, 5])),
            Outcome::Resolved {
                score: Score::from_hundredths(550),
                method: Method::ClosestPair
            }
        );
        assert_eq!(
            resolve(&q, &p(&[1, 4, 7])),
            Outcome::Disputed {
                spread: Score::points(6)
            }
        );
    }

    fn case() -> impl Strategy<Value = (Question, Vec<Score>)> {
        (
            prop_oneof![Just(QuestionKind::Essay), Just(QuestionKind::Short)],
            prop_oneof![Just(25i64), Just(50), Just(100)],
            1i64..6,
            0u32..3,
            1i64..80,
        )
            .prop_flat_map(|(kind, final_step, step_mult, extra, max_steps)| {
                let step = final_step * step_mult;
                let max = step * max_steps;
                let tol = step * (max_steps / 5);
                let k = kind.min_marks() + extra;
                let q = question(kind, max, step, tol, final_step, k);
                let marks = proptest::collection::vec(
                    (0..=max_steps).prop_map(move |m| Score::from_hundredths(m * step)),
                    0..(k as usize + 2),
                );
                (Just(q), marks)
            })
    }

    proptest! {
        /// Finals lie on the final step inside the scale; a mean is the exact mean rounded half
        /// up; nothing is resolved with fewer than the required marks.
        #[test]
        fn finals_are_exact_and_never_early((q, marks) in case()) {
            match resolve(&q, &marks) {
                Outcome::Resolved { score, method } => {
                    prop_assert!(marks.len() as u32 >= required_marks(&q));
                    prop_assert!(score.is_multiple_of(q.final_step));
                    prop_assert!(score >= Score::ZERO && score <= q.max);
                    let used: Vec<Score> = match method {
                        Method::Mean => marks.clone(),
                        _ => { let (a, b) = closest_pair(&marks); vec![a, b] }
                    };
                    let n = used.len() as i128;
                    let sum: i128 = used.iter().map(|m| i128::from(m.hundredths())).sum();
                    let u = i128::from(q.final_step.hundredths());
                    let s = i128::from(score.hundredths());
                    // |score − mean| ≤ u/2, and a tie went up: mean ∈ [s − u/2, s + u/2).
                    prop_assert!(2 * n * s - n * u <= 2 * sum && 2 * sum < 2 * n * s + n * u);
                }
                Outcome::NeedMore(k) => prop_assert!(k >= 1),
                Outcome::Disputed { spread } => {
                    prop_assert!(marks.len() as u32 >= required_marks(&q));
                    prop_assert!(spread > q.tolerance);
                }
            }
        }

        /// The closest pair is at least as close as any other, and of equally close pairs the highest.
        #[test]
        fn the_closest_pair_ties_to_the_higher(v in proptest::collection::vec(0i64..50, 3..5)) {
            let marks = p(&v);
            let (a, b) = closest_pair(&marks);
            let d = (a.hundredths() - b.hundredths()).abs();
            for i in 0..v.len() {
                for j in i + 1..v.len() {
                    let dd = (marks[i].hundredths() - marks[j].hundredths()).abs();
                    prop_assert!(d <= dd);
                    if d == dd {
                        prop_assert!(a.hundredths() + b.hundredths() >= marks[i].hundredths() + marks[j].hundredths());
                    }
                }
            }
        }
    }
}
