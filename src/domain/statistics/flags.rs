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
