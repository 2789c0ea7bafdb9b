//! Each marker's course over their marking order, for the plots: their deviation from the
//! others' mean on the same script, their model residual, and the two-sided CUSUM of their
//! standardised residuals (the path whose extremes the report gives).

use serde::Serialize;

use super::Mark;
use super::additive::{Fit, fit};
use super::design::Design;
use super::marker::CUSUM_K;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkerSeries {
    /// The caller's marker index.
    pub marker: u32,
    pub points: Vec<SeriesPoint>,
}

/// One co-marked script of the marker, in their marking order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// The marker's `seq`, or their own position in the input when it has none.
    pub order: f64,
    /// The caller's script index.
    pub script: u32,
    pub score: f64,
    /// Score minus the mean of the other marks on the script.
    pub deviation: f64,
    /// Null when the mark is not in the additive model (see the report's notes).
    pub residual: Option<f64>,
    pub cusum_high: Option<f64>,
    pub cusum_low: Option<f64>,
}

/// The series of every marker with at least one co-marked script.
pub fn marker_series(marks: &[Mark]) -> Vec<MarkerSeries> {
    let design = Design::new(marks);
    let model = fit(&design);
    (0..design.marker_slots)
        .map(|m| MarkerSeries {
            marker: m as u32,
            points: points(&design, &model, m),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

fn points(design: &Design, model: &Fit, m: usize) -> Vec<SeriesPoint> {
    let pooled = model.as_ref().ok().and_then(|f| f.pooled_sd.ok()).filter(|p| *p > 0.0);
    let (mut hi, mut lo) = (0.0f64, 0.0f64);
    let mut out = Vec::new();
    for &i in design.marks_of(m) {
        let s = design.script_of[i] as usize;
        let r = design.script(s);
        if r.len() < 2 {
            continue;
        }
        let others = r.clone().filter(|&j| j != i).map(|j| design.score[j]).sum::<f64>() / (r.len() - 1) as f64;
        let residual = model.as_ref().ok().and_then(|f| f.residual[i]);
        let (cusum_high, cusum_low) = match (residual, pooled) {
            (Some(e), Some(p)) => {
                hi = (hi + e / p - CUSUM_K).max(0.0);
                lo = (lo + e / p + CUSUM_K).min(0.0);
                (Some(hi), Some(lo))
            }
            _ => (None, None),
        };
        out.push(SeriesPoint {
            order: design.order[i],
            script: design.script_id[s],
            score: design.score[i],
            deviation: design.score[i] - others,
            residual,
            cusum_high,
            cusum_low,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_follow_marking_order_and_end_at_the_reported_extremes() {
        let mut marks = Vec::new();
        for s in 0..30u32 {
            for (m, bias) in [(0u32, 0.0), (1, 1.0), (2, -1.0)] {
                marks.push(Mark {
                    script: s,
                    marker: m,
                    score: f64::from(s % 7) + bias + f64::from((s * (m + 3)) % 5),
                    seq: Some(u64::from(100 - s)),
                });
            }
        }
        let series = marker_series(&marks);
        assert_eq!(series.len(), 3);
        let first = &series[1];
        assert_eq!(first.points.len(), 30);
        assert!(first.points.windows(2).all(|w| w[0].order < w[1].order));
        let d = Design::new(&marks);
        let f = crate::domain::statistics::marker::figures(&d, &fit(&d));
        let model = f[1].model.as_ref().unwrap();
        let top = first.points.iter().filter_map(|p| p.cusum_high).fold(0.0, f64::max);
        assert!((top - model.cusum_max.unwrap()).abs() < 1e-12);
    }

    #[test]
    fn no_marks_no_series() {
        assert!(marker_series(&[]).is_empty());
    }
}
