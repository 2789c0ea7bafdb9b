//! Per-marker figures: count, mean, SD and score distribution of all their marks; from the
//! additive model their severity with its test, their residual spread with the chi-square test
//! in both tails, and the CUSUM of their residuals; against the mean of the other marks on the
//! same scripts, the paired SD ratio with the Pitman–Morgan test and the trend of their
//! deviation over their marking order. p-values are Holm-adjusted across the markers.

use rayon::prelude::*;

use super::additive::{Fit, Model};
use super::describe::{Line, holm, linregress, mean, pearson, sd};
use super::design::Design;
use super::dist::{chi2_tails, t_two_sided};
use super::{Figure, Missing, finite};

/// The CUSUM reference value k, in pooled residual SDs.
pub(crate) const CUSUM_K: f64 = 0.5;

pub(crate) struct MarkerFigures {
    pub marker: u32,
    pub n: usize,
    /// Marks on scripts that someone else marked too.
    pub co_marked: usize,
    pub mean: Figure,
    pub sd: Figure,
    pub distribution: Vec<(f64, usize)>,
    pub model: Result<ModelFigures, Missing>,
    pub paired: Result<Paired, Missing>,
    pub trend: Result<Line, Missing>,
    /// Holm-adjusted across markers: severity, chi-square upper tail, Pitman–Morgan, trend.
    pub p_holm: Figure,
    pub chi2_upper_holm: Figure,
    pub pitman_morgan_holm: Figure,
    pub trend_holm: Figure,
}

pub(crate) struct ModelFigures {
    pub severity: f64,
    pub severity_se: Figure,
    pub t: Figure,
    pub p: Figure,
    pub residual_ss: f64,
    pub residual_df: Figure,
    pub residual_sd: Figure,
    pub residual_sd_ratio: Figure,
    pub chi2_statistic: Figure,
    pub chi2_p_upper: Figure,
    pub chi2_p_lower: Figure,
    pub cusum_max: Figure,
    pub cusum_min: Figure,
}

pub(crate) struct Paired {
    pub sd_ratio: Figure,
    pub r: Figure,
    pub t: Figure,
    pub p: Figure,
}

pub(crate) fn figures(design: &Design, fit: &Fit) -> Vec<MarkerFigures> {
    let mut out: Vec<MarkerFigures> = (0..design.marker_slots)
        .into_par_iter()
        .filter(|&m| !design.marks_of(m).is_empty())
        .map(|m| one(design, fit, m))
        .collect();
    let adjust =
        |out: &mut Vec<MarkerFigures>, get: fn(&MarkerFigures) -> Figure, set: fn(&mut MarkerFigures, Figure)| {
            let p: Vec<Figure> = out.iter().map(get).collect();
            for (f, adj) in out.iter_mut().zip(holm(&p)) {
                set(f, adj);
            }
        };
    adjust(
        &mut out,
        |f| f.model.as_ref().map_err(|e| *e).and_then(|m| m.p),
        |f, v| f.p_holm = v,
    );
    adjust(
        &mut out,
        |f| f.model.as_ref().map_err(|e| *e).and_then(|m| m.chi2_p_upper),
        |f, v| f.chi2_upper_holm = v,
    );
    adjust(
        &mut out,
        |f| f.paired.as_ref().map_err(|e| *e).and_then(|p| p.p),
        |f, v| f.pitman_morgan_holm = v,
    );
    adjust(
        &mut out,
        |f| f.trend.as_ref().map_err(|e| *e).map(|t| t.p),
        |f, v| f.trend_holm = v,
    );
    out
}

fn one(design: &Design, fit: &Fit, m: usize) -> MarkerFigures {
    let mine = design.marks_of(m);
    let scores: Vec<f64> = mine.iter().map(|&i| design.score[i]).collect();
    // Marks on co-marked scripts, in marking order: score, others' mean, order.
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut order = Vec::new();
    for &i in mine {
        let r = design.script(design.script_of[i] as usize);
        if r.len() < 2 {
            continue;
        }
        let others: f64 = r.clone().filter(|&j| j != i).map(|j| design.score[j]).sum();
        x.push(design.score[i]);
        y.push(others / (r.len() - 1) as f64);
        order.push(design.order[i]);
    }
    let deviation: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
    let not_fitted = Missing("not in the additive model");
    let model = match fit {
        Ok(model) => model_figures(design, model, m),
        Err(e) => Err(*e),
    };
    MarkerFigures {
        marker: m as u32,
        n: mine.len(),
        co_marked: x.len(),
        mean: mean(&scores),
        sd: sd(&scores),
        distribution: distribution(&scores),
        model,
        paired: paired(&x, &y),
        trend: linregress(&order, &deviation),
        p_holm: Err(not_fitted),
        chi2_upper_holm: Err(not_fitted),
        pitman_morgan_holm: Err(not_fitted),
        trend_holm: Err(not_fitted),
    }
}

/// Each score given, with how often, in score order.
fn distribution(scores: &[f64]) -> Vec<(f64, usize)> {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.chunk_by(|a, b| a == b).map(|g| (g[0], g.len())).collect()
}

/// SD ratio of the marker's scores to the others' means on the same scripts, and the
/// Pitman–Morgan test of equal paired variances: r = corr(x + y, x − y), t on n − 2 df.
fn paired(x: &[f64], y: &[f64]) -> Result<Paired, Missing> {
    if x.len() < 3 {
        return Err(Missing("fewer than three co-marked scripts"));
    }
    let (sx, sy) = (sd(x)?, sd(y)?);
    let sd_ratio = if sy > 0.0 {
        finite(sx / sy, "the SD ratio is not finite")
    } else {
        Err(Missing("the other marks' mean is the same on every script"))
    };
    let sum: Vec<f64> = x.iter().zip(y).map(|(a, b)| a + b).collect();
    let diff: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    let r = pearson(&sum, &diff);
    let df = (x.len() - 2) as f64;
    let t = r.and_then(|r| finite(r * (df / (1.0 - r * r)).sqrt(), "perfect correlation: t is infinite"));
    let p = t.and_then(|t| t_two_sided(t, df));
    Ok(Paired { sd_ratio, r, t, p })
}

fn model_figures(design: &Design, model: &Model, m: usize) -> Result<ModelFigures, Missing> {
    let Some(k) = model.local[m] else {
        return Err(Missing("no marks on scripts shared with the main group of markers"));
    };
    let severity = model.effect[k];
    let pooled = model.pooled_sd;
    let precision = model.precision.as_ref().map_err(|e| *e);
    let severity_se = precision.and_then(|p| Ok(pooled? * p.inverse_diagonal[k].sqrt()));
    let t = severity_se.and_then(|se| finite(severity / se, "no residual variation: t is undefined"));
    let p = t.and_then(|t| t_two_sided(t, model.df_resid));
    // The marker's residuals (and leverages) in marking order.
    let mut residual_ss = 0.0;
    let mut residual_df = Ok(0.0);
    let mut path = Vec::new();
    for &i in design.marks_of(m) {
        let Some(e) = model.residual[i] else { continue };
        residual_ss += e * e;
        path.push(e);
        residual_df = residual_df.and_then(|df| Ok(df + 1.0 - leverage(model, i)?));
    }
    let residual_df = residual_df.and_then(|df| {
        if df > 0.0 {
            Ok(df)
        } else {
            Err(Missing("no residual degrees of freedom"))
        }
    });
    let residual_sd = residual_df.and_then(|df| finite((residual_ss / df).sqrt(), "residual SD not finite"));
    let positive = |p: f64| {
        if p > 0.0 {
            Ok(p)
        } else {
            Err(Missing("no residual variation in the model"))
        }
    };
    let residual_sd_ratio = residual_sd.and_then(|sd| finite(sd / positive(pooled?)?, "ratio not finite"));
    let chi2_statistic = pooled.and_then(|p| finite(residual_ss / positive(p)?.powi(2), "statistic not finite"));
    let tails = chi2_statistic.and_then(|c| chi2_tails(c, residual_df?));
    let (cusum_max, cusum_min) = match pooled.and_then(positive) {
        Ok(p) => cusum(&path, p),
        Err(e) => (Err(e), Err(e)),
    };
    Ok(ModelFigures {
        severity,
        severity_se,
        t,
        p,
        residual_ss,
        residual_df,
        residual_sd,
        residual_sd_ratio,
        chi2_statistic,
        chi2_p_upper: tails.map(|t| t.0),
        chi2_p_lower: tails.map(|t| t.1),
        cusum_max,
        cusum_min,
    })
}

/// The leverage of design mark `i`, when the dense inverse was formed.
fn leverage(model: &Model, i: usize) -> Figure {
    let p = model.precision.as_ref().map_err(|e| *e)?;
    p.leverage_of(i).ok_or(Missing("mark not in the model"))
}

/// Extremes of the two-sided CUSUM of residuals / pooled SD: S⁺ = max(0, S⁺ + z − k),
/// S⁻ = min(0, S⁻ + z + k), both from 0.
pub(crate) fn cusum(residuals: &[f64], pooled: f64) -> (Figure, Figure) {
    let path = cusum_path(residuals, pooled);
    let hi = path.iter().map(|p| p.0).fold(0.0, f64::max);
    let lo = path.iter().map(|p| p.1).fold(0.0, f64::min);
    (finite(hi, "CUSUM not finite"), finite(lo, "CUSUM not finite"))
}

pub(crate) fn cusum_path(residuals: &[f64], pooled: f64) -> Vec<(f64, f64)> {
    let (mut hi, mut lo) = (0.0f64, 0.0f64);
    residuals
        .iter()
        .map(|e| {
            let z = e / pooled;
            hi = (hi + z - CUSUM_K).max(0.0);
            lo = (lo + z + CUSUM_K).min(0.0);
            (hi, lo)
        })
        .collect()
}
