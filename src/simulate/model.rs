//! The simulated markers' truth: how each one scores a script. Ordinary markers differ a little
//! in severity; planted ones are clearly severe, lenient, or drift as the run goes on. Severity
//! is counted in the question's severity limit (`severity_limit_fraction` × tolerance), the
//! figure past which the statistics flag a marker, so one spread means the same on every
//! question; noise is counted in tolerances.

use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Ordinary,
    Severe,
    Lenient,
    Drifter,
}

/// Ordinary markers stay inside this share of the limit, so a flag on one is a false alarm.
const ORDINARY_BOUND: f64 = 0.8;
/// Planted severe and lenient markers sit this many limits from the others.
const PLANTED: f64 = 2.0;
/// A drifter moves from 0 to this many limits over the run.
const DRIFT: f64 = 2.5;

#[derive(Debug, Clone, Copy)]
pub struct Marker {
    pub kind: Kind,
    /// Fixed offset, in severity limits (negative: severe, marks low).
    pub severity: f64,
}

/// What one marker does, drawn once: the first `severe` markers are severe, the next `lenient`
/// lenient, the next `drifters` drift; the rest are ordinary with severity ~ N(0, spread)
/// clipped to ±0.8 limits.
pub fn cast(n: usize, spread: f64, severe: usize, lenient: usize, drifters: usize, rng: &mut impl Rng) -> Vec<Marker> {
    let normal = Normal::new(0.0, spread.max(0.0)).unwrap_or_else(|_| Normal::new(0.0, 0.0).expect("N(0, 0)"));
    (0..n)
        .map(|i| {
            if i < severe {
                Marker {
                    kind: Kind::Severe,
                    severity: -PLANTED,
                }
            } else if i < severe + lenient {
                Marker {
                    kind: Kind::Lenient,
                    severity: PLANTED,
                }
            } else if i < severe + lenient + drifters {
                Marker {
                    kind: Kind::Drifter,
                    severity: 0.0,
                }
            } else {
                let s: f64 = normal.sample(rng);
                Marker {
                    kind: Kind::Ordinary,
                    severity: s.clamp(-ORDINARY_BOUND, ORDINARY_BOUND),
                }
            }
        })
        .collect()
}

/// A question's scale as the simulator needs it.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub max: f64,
    pub step: f64,
    pub tolerance: f64,
    pub limit_fraction: f64,
}

impl Scale {
    /// Rounded to the step and clamped to [0, max].
    pub fn snap(&self, v: f64) -> f64 {
        let steps = (v / self.step).round();
        (steps * self.step).clamp(0.0, self.max)
    }
}

/// The score `m` gives a script of `latent` when the run is `progress` (0 to 1) through.
pub fn score(m: &Marker, latent: f64, scale: &Scale, noise: f64, progress: f64, rng: &mut impl Rng) -> f64 {
    let limit = scale.limit_fraction * scale.tolerance;
    let drift = if m.kind == Kind::Drifter {
        DRIFT * progress.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let sd = (noise * scale.tolerance).max(0.0);
    let e: f64 = Normal::new(0.0, sd).map(|n| n.sample(rng)).unwrap_or(0.0);
    scale.snap(latent + (m.severity + drift) * limit + e)
}

/// Splits a total over criteria in proportion to their maxima, each on the step, adding up to
/// the total exactly (the remainder goes to the last criterion that can take it).
pub fn split(total: f64, maxima: &[f64], step: f64) -> Vec<f64> {
    let sum: f64 = maxima.iter().sum();
    let units = (total / step).round() as i64;
    let caps: Vec<i64> = maxima.iter().map(|m| (m / step).round() as i64).collect();
    let mut parts: Vec<i64> = caps
        .iter()
        .map(|&c| {
            if sum > 0.0 {
                ((units as f64) * (c as f64) * step / sum).floor() as i64
            } else {
                0
            }
        })
        .map(|p| p.max(0))
        .zip(&caps)
        .map(|(p, &c)| p.min(c))
        .collect();
    let mut left = units - parts.iter().sum::<i64>();
    for (p, &c) in parts.iter_mut().zip(&caps).rev() {
        let take = left.min(c - *p).max(0);
        *p += take;
        left -= take;
    }
    parts.into_iter().map(|p| p as f64 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    const W1: Scale = Scale {
        max: 60.0,
        step: 1.0,
        tolerance: 6.0,
        limit_fraction: 0.5,
    };

    #[test]
    fn the_cast_plants_what_was_asked_and_keeps_ordinary_markers_inside_the_limit() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let cast = cast(100, 3.0, 2, 2, 3, &mut rng);
        let count = |k| cast.iter().filter(|m| m.kind == k).count();
        assert_eq!(
            (count(Kind::Severe), count(Kind::Lenient), count(Kind::Drifter)),
            (2, 2, 3)
        );
        assert!(
            cast.iter()
                .filter(|m| m.kind == Kind::Ordinary)
                .all(|m| m.severity.abs() <= 0.8)
        );
        assert!(
            cast.iter()
                .filter(|m| m.kind == Kind::Severe)
                .all(|m| m.severity == -2.0)
        );
    }

    #[test]
    fn a_severe_marker_marks_two_limits_low_and_a_drifter_ends_two_and_a_half_high() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let severe = Marker {
            kind: Kind::Severe,
            severity: -2.0,
        };
        assert_eq!(score(&severe, 30.0, &W1, 0.0, 0.5, &mut rng), 24.0);
        let drifter = Marker {
            kind: Kind::Drifter,
            severity: 0.0,
        };
        assert_eq!(score(&drifter, 30.0, &W1, 0.0, 0.0, &mut rng), 30.0);
        assert_eq!(score(&drifter, 30.0, &W1, 0.0, 1.0, &mut rng), 38.0);
    }

    proptest! {
        #[test]
        fn every_score_is_on_the_scale(latent in 0.0f64..60.0, sev in -3.0f64..3.0, noise in 0.0f64..2.0, p in 0.0f64..1.0, seed in 0u64..1000) {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let s3 = Scale { max: 10.0, step: 0.5, tolerance: 1.0, limit_fraction: 0.5 };
            let m = Marker { kind: Kind::Drifter, severity: sev };
            for scale in [W1, s3] {
                let v = score(&m, latent.min(scale.max), &scale, noise, p, &mut rng);
                prop_assert!((0.0..=scale.max).contains(&v));
                prop_assert!(((v / scale.step) - (v / scale.step).round()).abs() < 1e-9);
            }
        }

        #[test]
        fn criteria_add_up_to_the_total_within_their_maxima(total in 0u32..=60) {
            let parts = split(f64::from(total), &[40.0, 20.0], 1.0);
            prop_assert_eq!(parts.iter().sum::<f64>(), f64::from(total));
            prop_assert!(parts[0] <= 40.0 && parts[1] <= 20.0 && parts.iter().all(|p| *p >= 0.0));
        }
    }
}
