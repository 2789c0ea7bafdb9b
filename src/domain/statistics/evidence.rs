//! Per-marker evidence that is not in the live marks: seed accuracy, self-consistency (回评)
//! and speed (DESIGN.md section 3). The CSV of `markroom stats` carries none of it; the live
//! service passes what it stored.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Figure, Missing};

/// A marker's score on a seed script, whose definitive score is known; `seq` orders them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedMark {
    pub marker: u32,
    pub score: f64,
    pub definitive: f64,
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedRecord {
    pub marker: u32,
    pub hits: usize,
    pub misses: usize,
    /// Misses among the last `window` seeds.
    pub recent_misses: usize,
    /// `recent_misses` reached the limit: the seed trigger.
    pub triggered: bool,
}

/// A seed is missed when the mark lies more than the tolerance from its definitive score;
/// `limit` misses among a marker's last `window` seeds trigger.
pub fn seed_records(seeds: &[SeedMark], tolerance: f64, window: u32, limit: u32) -> Vec<SeedRecord> {
    let mut by_marker: BTreeMap<u32, Vec<&SeedMark>> = BTreeMap::new();
    for s in seeds {
        by_marker.entry(s.marker).or_default().push(s);
    }
    // Scores are decimals in binary: a billionth more than the tolerance is still within it.
    let miss = |s: &SeedMark| (s.score - s.definitive).abs() > tolerance + 1e-9;
    by_marker
        .into_iter()
        .map(|(marker, mut list)| {
            list.sort_by_key(|s| s.seq);
            let misses = list.iter().filter(|s| miss(s)).count();
            let recent = list.iter().rev().take(window as usize).filter(|s| miss(s)).count();
            SeedRecord {
                marker,
                hits: list.len() - misses,
                misses,
                recent_misses: recent,
                triggered: limit > 0 && recent >= limit as usize,
            }
        })
        .collect()
}

/// A marker's two marks of one script: the earlier one and the re-served one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelfCheck {
    pub marker: u32,
    pub first: f64,
    pub second: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelfCheckRecord {
    pub marker: u32,
    /// Second mark minus first, in the order given.
    pub differences: Vec<f64>,
    pub beyond_tolerance: usize,
}

pub fn self_checks(checks: &[SelfCheck], tolerance: f64) -> Vec<SelfCheckRecord> {
    let mut by_marker: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for c in checks {
        by_marker.entry(c.marker).or_default().push(c.second - c.first);
    }
    by_marker
        .into_iter()
        .map(|(marker, differences)| SelfCheckRecord {
            marker,
            beyond_tolerance: differences.iter().filter(|d| d.abs() > tolerance + 1e-9).count(),
            differences,
        })
        .collect()
}

/// The median of a marker's seconds per script (non-finite or negative entries ignored).
pub fn median_seconds(seconds: &[f64]) -> Figure {
    let mut s: Vec<f64> = seconds.iter().copied().filter(|v| v.is_finite() && *v >= 0.0).collect();
    if s.is_empty() {
        return Err(Missing("no timed marks"));
    }
    s.sort_by(f64::total_cmp);
    let mid = s.len() / 2;
    Ok(if s.len() % 2 == 1 {
        s[mid]
    } else {
        (s[mid - 1] + s[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(seq: u64, score: f64) -> SeedMark {
        SeedMark {
            marker: 4,
            score,
            definitive: 30.0,
            seq,
        }
    }

    #[test]
    fn two_misses_in_the_last_five_seeds_trigger() {
        let seeds = [
            seed(1, 10.0),
            seed(2, 30.0),
            seed(3, 31.0),
            seed(4, 36.0),
            seed(5, 37.0),
        ];
        let r = &seed_records(&seeds, 6.0, 5, 2)[0];
        assert_eq!((r.hits, r.misses, r.recent_misses, r.triggered), (3, 2, 2, true));
        let more = [
            &seeds[..],
            &[seed(6, 30.0), seed(7, 30.0), seed(8, 30.0), seed(9, 30.0)],
        ]
        .concat();
        assert!(!seed_records(&more, 6.0, 5, 2)[0].triggered);
    }

    #[test]
    fn self_checks_and_speed() {
        let r = &self_checks(
            &[
                SelfCheck {
                    marker: 1,
                    first: 20.0,
                    second: 28.0,
                },
                SelfCheck {
                    marker: 1,
                    first: 20.0,
                    second: 19.0,
                },
            ],
            6.0,
        )[0];
        assert_eq!((r.differences.clone(), r.beyond_tolerance), (vec![8.0, -1.0], 1));
        assert_eq!(median_seconds(&[30.0, 10.0, 20.0, 90.0]), Ok(25.0));
        assert!(median_seconds(&[f64::NAN]).is_err());
    }
}
