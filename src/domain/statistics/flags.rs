//! The statistical marker triggers of DESIGN.md section 3, over the per-marker figures. Each
//! needs `min_co_marked` co-marked scripts and a Holm-adjusted p below `trigger_p`, and a size
//! of effect that matters at the question's tolerance, so that a large campaign does not flag
//! trivial differences merely because they are certain.

use serde::Serialize;

use super::TriggerRules;
use super::marker::MarkerFigures;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// |marker effect| ≥ severity_limit_fraction × tolerance.
    Severity,
    /// Residual SD ≥ erratic_sd_ratio × the pooled residual SD (chi-square upper tail).
    Erratic,
    /// SD ≤ central_sd_ratio × the SD of the others' mean on the same scripts (Pitman–Morgan).
    CentralTendency,
    /// |trend slope| × co-marked scripts ≥ drift_min_change_fraction × tolerance.
    Drift,
}

/// The flags of each marker, in the order of `markers`.
pub(crate) fn flags(markers: &[MarkerFigures], tolerance: f64, rules: &TriggerRules) -> Vec<Vec<Flag>> {
    markers.iter().map(|f| one(f, tolerance, rules)).collect()
}

fn one(f: &MarkerFigures, tolerance: f64, rules: &TriggerRules) -> Vec<Flag> {
    let mut out = Vec::new();
    if f.co_marked < rules.min_co_marked as usize {
        return out;
    }
    let significant = |p: &super::Figure| matches!(p, Ok(p) if *p < rules.trigger_p);
    if let Ok(m) = &f.model {
        if m.severity.abs() >= rules.severity_limit_fraction * tolerance && significant(&f.p_holm) {
            out.push(Flag::Severity);
        }
        if matches!(m.residual_sd_ratio, Ok(r) if r >= rules.erratic_sd_ratio) && significant(&f.chi2_upper_holm) {
            out.push(Flag::Erratic);
        }
    }
    if let Ok(p) = &f.paired
        && matches!(p.sd_ratio, Ok(r) if r <= rules.central_sd_ratio)
        && significant(&f.pitman_morgan_holm)
    {
        out.push(Flag::CentralTendency);
    }
    if let Ok(t) = &f.trend
        && t.slope.abs() * f.co_marked as f64 >= rules.drift_min_change_fraction * tolerance
        && significant(&f.trend_holm)
    {
        out.push(Flag::Drift);
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::domain::statistics::{Flag, Mark, Scale, TriggerRules, question_statistics};

    /// Three markers on `scripts` scripts; marker 0 marks `shift` above the others.
    fn report(scripts: u32, shift: f64, rules: &TriggerRules) -> Vec<Vec<Flag>> {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut marks = Vec::new();
        for s in 0..scripts {
            let truth = f64::from(rng.random_range(10..50u32));
            for (m, wobble) in [(0u32, shift), (1, 0.0), (2, 0.0)] {
                // Uniform noise on −3..3 (SD 2), whole points.
                let noise = f64::from(rng.random_range(0..7u32)) - 3.0;
                marks.push(Mark {
                    script: s,
                    marker: m,
                    score: truth + wobble + noise,
                    seq: Some(u64::from(s)),
                });
            }
        }
        let ids = vec!["A".to_string(), "B".to_string(), "C".to_string()];
        let r = question_statistics(&marks, &ids, &Scale { max: 60.0, step: 1.0 }, 6.0, rules);
        r.markers.into_iter().map(|m| m.flags).collect()
    }

    #[test]
    fn a_clear_shift_is_flagged_once_enough_scripts_are_co_marked() {
        let rules = TriggerRules::default();
        assert_eq!(report(40, 8.0, &rules)[0], vec![Flag::Severity]);
        assert!(
            report(19, 8.0, &rules)[0].is_empty(),
            "19 co-marked scripts are too few"
        );
        assert!(report(40, 0.0, &rules).iter().all(Vec::is_empty));
    }

    #[test]
    fn a_small_effect_is_not_flagged_however_certain() {
        let strict = TriggerRules {
            severity_limit_fraction: 1.0,
            ..TriggerRules::default()
        };
        // An effect of 2/3 × 3 = 2 points is certain over 400 scripts but below the limit of 6.
        let f = report(400, 3.0, &strict);
        assert!(f[0].is_empty(), "{f:?}");
    }
}
