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
    // The model (with its dense inverse) and the reliability figures share nothing but the
    // design: computed side by side, on two cores they take the time of the longer.
    let ((fit, markers), (pairs, icc, alphas, fleiss)) = rayon::join(
        || {
            let fit = additive::fit(&design);
            let markers = marker::figures(&design, &fit);
            (fit, markers)
        },
        || {
            let rows = design.reliability_rows();
            (
                agreement::pairs(&design, scale),
                icc::icc(&design, &rows),
                krippendorff::alphas(&design),
                fleiss::fleiss_kappa(&design, &rows),
            )
        },
    );
    let flags = flags::flags(&markers, tolerance, rules);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SCALE: Scale = Scale { max: 4.0, step: 1.0 };

    fn mark(script: u32, marker: u32, score: f64) -> Mark {
        Mark {
            script,
            marker,
            score,
            seq: None,
        }
    }

    fn stats(marks: &[Mark]) -> Report {
        let ids: Vec<String> = (0..8).map(|m| format!("M{m}")).collect();
        question_statistics(marks, &ids, &SCALE, 1.0, &TriggerRules::default())
    }

    /// Every number of the report, nulls included, for the "never NaN" checks.
    fn numbers(r: &Report) -> Vec<Option<f64>> {
        let mut out = Vec::new();
        for f in [
            &r.icc.icc1,
            &r.icc.icc2,
            &r.icc.icc3,
            &r.icc.icc1k,
            &r.icc.icc2k,
            &r.icc.icc3k,
        ]
        .into_iter()
        .flatten()
        {
            out.extend([f.value, f.f, f.df1, f.df2, f.p].map(Some));
            out.extend(f.ci95.iter().flatten().map(|v| Some(*v)));
        }
        let a = &r.krippendorff_alpha;
        out.extend([a.interval, a.ordinal, a.nominal, r.fleiss_kappa]);
        for p in &r.pairs {
            out.extend([Some(p.exact), Some(p.adjacent), p.pearson, p.spearman]);
            out.extend([p.kappa, p.kappa_linear, p.kappa_quadratic]);
        }
        for m in &r.markers {
            out.extend([
                m.mean,
                m.sd,
                m.severity,
                m.severity_se,
                m.t,
                m.p,
                m.p_holm,
                m.residual_ss,
            ]);
            out.extend([
                m.residual_df,
                m.residual_sd,
                m.residual_sd_ratio,
                m.chi2_statistic,
                m.chi2_df,
            ]);
            out.extend([m.chi2_p_upper, m.chi2_p_lower, m.paired_sd_ratio, m.pitman_morgan_r]);
            out.extend([
                m.pitman_morgan_t,
                m.pitman_morgan_p,
                m.trend_slope,
                m.trend_slope_se,
                m.trend_p,
            ]);
            out.extend([m.cusum_max, m.cusum_min]);
            out.extend(m.distribution.iter().map(|d| Some(d.0)));
        }
        out.extend([r.additive_model.df_resid, r.additive_model.pooled_residual_sd]);
        out
    }

    fn all_finite(r: &Report) -> bool {
        numbers(r).into_iter().flatten().all(f64::is_finite)
    }

    #[test]
    fn no_data_is_a_report_of_nulls_with_reasons() {
        let r = stats(&[]);
        assert_eq!((r.n_marks, r.n_scripts, r.n_markers), (0, 0, 0));
        assert!(r.icc.icc1.is_none() && r.fleiss_kappa.is_none() && r.krippendorff_alpha.interval.is_none());
        assert!(r.additive_model.pooled_residual_sd.is_none());
        assert!(!r.notes.is_empty());
        assert!(serde_json::to_string(&r).is_ok());
    }

    #[test]
    fn constant_scores_give_nulls_not_nan() {
        let marks: Vec<Mark> = (0..10).flat_map(|s| (0..3).map(move |m| mark(s, m, 2.0))).collect();
        let r = stats(&marks);
        assert!(all_finite(&r));
        assert!(r.icc.icc1.is_none() && r.krippendorff_alpha.nominal.is_none());
        assert_eq!(r.pairs.len(), 3);
        assert!(r.pairs.iter().all(|p| p.exact == 1.0 && p.pearson.is_none()));
        assert!(
            r.markers
                .iter()
                .all(|m| m.severity == Some(0.0) && m.t.is_none() && m.flags.is_empty())
        );
    }

    #[test]
    fn one_mark_per_marker_gives_nulls_not_nan() {
        let r = stats(&[mark(0, 0, 1.0), mark(1, 1, 3.0), mark(2, 2, 4.0)]);
        assert!(all_finite(&r));
        assert!(r.pairs.is_empty());
        assert!(r.markers.iter().all(|m| m.sd.is_none() && m.severity.is_none()));
        let r = stats(&[mark(0, 0, 1.0), mark(0, 1, 3.0)]);
        assert!(all_finite(&r));
        assert!(
            r.markers
                .iter()
                .all(|m| m.severity_se.is_none() || m.residual_df.is_none())
        );
    }

    proptest! {
        #[test]
        fn any_small_input_gives_finite_figures_or_nulls(
            rows in proptest::collection::vec((0u32..6, 0u32..5, 0u8..=4, proptest::option::of(0u64..50)), 0..40)
        ) {
            let marks: Vec<Mark> = rows
                .iter()
                .map(|&(script, marker, score, seq)| Mark { script, marker, score: f64::from(score), seq })
                .collect();
            let r = stats(&marks);
            prop_assert!(all_finite(&r));
            prop_assert!(serde_json::to_string(&r).is_ok());
            for p in numbers(&r).into_iter().flatten() {
                prop_assert!(p.is_finite());
            }
        }
    }
}
