//! Question statistics: how far the markers of one question agree, and which of them are too
//! severe, too lenient, erratic, hedging to the middle or drifting (DESIGN.md section 3).
//!
//! Pure functions over plain marks: no I/O, no database. Every figure is defined as in
//! `../shared/reference/irr/README.md` (pingouin, krippendorff, statsmodels, scikit-learn,
//! scipy), and a figure that cannot be computed from the data at hand (a constant column, a
//! marker with one mark, no data) is [`Missing`] with the reason, never NaN and never a panic.
//!
//! The additive model (score = μ + script effect + marker effect + error) is fitted without a
//! design matrix: script effects are absorbed by centring each script, and the markers' normal
//! equations are solved by conjugate gradients, so the fit costs a few passes over the marks
//! whatever the number of scripts. Standard errors and leverages need the markers' inverse
//! normal matrix, which is formed densely (markers × markers) up to [`DENSE_MARKER_LIMIT`].

mod additive;
mod agreement;
mod covariance;
mod describe;
mod design;
mod dist;
mod evidence;
mod flags;
mod fleiss;
mod icc;
mod krippendorff;
mod marker;
mod report;
mod series;
#[cfg(test)]
mod simulation;

use serde::Serialize;

use super::rules::MarkingRules;

pub use additive::DENSE_MARKER_LIMIT;
pub use evidence::{SeedMark, SeedRecord, SelfCheck, SelfCheckRecord, median_seconds, seed_records, self_checks};
pub use flags::Flag;
pub use fleiss::fleiss_kappa_from_counts;
pub use report::{AdditiveSummary, Alphas, IccForm, IccReport, MarkerReport, Note, PairReport, Report};
pub use series::{MarkerSeries, SeriesPoint, marker_series};

/// One live mark: `script` and `marker` are the caller's indices (dense or not), `seq` the
/// marker's own marking order when known (otherwise the order of the input is used).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub script: u32,
    pub marker: u32,
    pub score: f64,
    pub seq: Option<u64>,
}

/// The question's scale: scores from 0 to `max` by `step`. Kappas are computed over every step
/// of it, and "adjacent" agreement means within one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub max: f64,
    pub step: f64,
}

/// The trigger figures of [`MarkingRules`] that the statistics read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TriggerRules {
    pub severity_limit_fraction: f64,
    pub erratic_sd_ratio: f64,
    pub central_sd_ratio: f64,
    pub drift_min_change_fraction: f64,
    pub trigger_p: f64,
    pub min_co_marked: u32,
}

impl From<&MarkingRules> for TriggerRules {
    fn from(r: &MarkingRules) -> Self {
        TriggerRules {
            severity_limit_fraction: r.severity_limit_fraction,
            erratic_sd_ratio: r.erratic_sd_ratio,
            central_sd_ratio: r.central_sd_ratio,
            drift_min_change_fraction: r.drift_min_change_fraction,
            trigger_p: r.trigger_p,
            min_co_marked: r.min_co_marked,
        }
    }
}

impl Default for TriggerRules {
    fn default() -> Self {
        TriggerRules::from(&MarkingRules::default())
    }
}

/// Why a figure is absent: a short sentence a leader can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Missing(pub &'static str);

/// A figure, or the reason it cannot be computed.
pub type Figure = Result<f64, Missing>;

/// A figure that must be finite to be reported: anything else becomes [`Missing`].
pub(crate) fn finite(value: f64, why: &'static str) -> Figure {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Missing(why))
    }
}

/// Everything `markroom stats` reports for one question. `marker_ids[i]` names marker index
/// `i` in the report (an index without a name is shown as its number). `tolerance` is the
/// question's tolerance, on which the severity and drift triggers depend.
pub fn question_statistics(
    marks: &[Mark],
    marker_ids: &[String],
    scale: &Scale,
    tolerance: f64,
    rules: &TriggerRules,
) -> Report {
    let design = design::Design::new(marks);
    let fit = additive::fit(&design);
    let markers = marker::figures(&design, &fit);
    let flags = flags::flags(&markers, tolerance, rules);
    let pairs = agreement::pairs(&design, scale);
    let rows = design.reliability_rows();
    let icc = icc::icc(&design, &rows);
    let alphas = krippendorff::alphas(&design);
    let fleiss = fleiss::fleiss_kappa(&design, &rows);
    report::assemble(report::Parts {
        design: &design,
        marker_ids,
        fit: &fit,
        markers: &markers,
        flags: &flags,
        pairs: &pairs,
        icc: &icc,
        alphas: &alphas,
        fleiss,
    })
}
