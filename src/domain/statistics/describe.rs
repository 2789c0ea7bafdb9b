//! Elementary figures: mean, SD, Pearson and Spearman correlation, simple regression, Holm.
//! Sums are taken about the mean (two passes) so that large scores lose no digits.

use super::dist::t_two_sided;
use super::{Figure, Missing, finite};

pub(crate) fn mean(x: &[f64]) -> Figure {
    if x.is_empty() {
        return Err(Missing("no marks"));
    }
    finite(x.iter().sum::<f64>() / x.len() as f64, "the mean is not finite")
}

/// Sum of squared deviations from the mean.
fn centred_ss(x: &[f64], m: f64) -> f64 {
    x.iter().map(|v| (v - m) * (v - m)).sum()
}

/// Sample SD (n − 1 in the denominator).
pub(crate) fn sd(x: &[f64]) -> Figure {
    if x.len() < 2 {
        return Err(Missing("fewer than two marks"));
    }
    let m = mean(x)?;
    finite((centred_ss(x, m) / (x.len() - 1) as f64).sqrt(), "the SD is not finite")
}

/// Pearson's r (scipy `pearsonr`).
pub(crate) fn pearson(x: &[f64], y: &[f64]) -> Figure {
    if x.len() != y.len() || x.len() < 2 {
        return Err(Missing("fewer than two paired marks"));
    }
    let (mx, my) = (mean(x)?, mean(y)?);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return Err(Missing("one side gave the same score throughout"));
    }
    finite(
        (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0),
        "the correlation is not finite",
    )
}

/// Ranks from 1, ties sharing their average rank.
pub(crate) fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && x[idx[j]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j + 1) as f64 / 2.0;
        for &k in &idx[i..j] {
            r[k] = avg;
        }
        i = j;
    }
    r
}

/// Spearman's rho (scipy `spearmanr`): Pearson's r of the average ranks.
pub(crate) fn spearman(x: &[f64], y: &[f64]) -> Figure {
    if x.len() != y.len() || x.len() < 2 {
        return Err(Missing("fewer than two paired marks"));
    }
    pearson(&ranks(x), &ranks(y))
}

/// A least-squares line (scipy `linregress`): slope, its standard error and the two-sided p of
/// a zero slope on n − 2 degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Line {
    pub slope: f64,
    pub slope_se: f64,
    pub p: f64,
}

pub(crate) fn linregress(x: &[f64], y: &[f64]) -> Result<Line, Missing> {
    if x.len() != y.len() || x.len() < 3 {
        return Err(Missing("fewer than three points"));
    }
    let (mx, my) = (mean(x)?, mean(y)?);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return Err(Missing("every point at the same place in the marking order"));
    }
    let df = (x.len() - 2) as f64;
    let slope = sxy / sxx;
    if syy == 0.0 {
        // A constant y: a flat line fitted exactly (scipy reports r = 0 and p = 1).
        return Ok(Line {
            slope,
            slope_se: 0.0,
            p: 1.0,
        });
    }
    let r = (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0);
    let slope_se = ((1.0 - r * r) * syy / sxx / df).sqrt();
    // scipy's guard against r = ±1, so that t is large rather than infinite.
    const TINY: f64 = 1.0e-20;
    let t = r * (df / ((1.0 - r + TINY) * (1.0 + r + TINY))).sqrt();
    let p = t_two_sided(t, df)?;
    if !(slope.is_finite() && slope_se.is_finite()) {
        return Err(Missing("the trend is not finite"));
    }
    Ok(Line { slope, slope_se, p })
}

/// Holm's step-down adjustment (statsmodels `multipletests(method='holm')`) over the p-values
/// present; absent ones stay absent and do not count as tests.
pub(crate) fn holm(p: &[Figure]) -> Vec<Figure> {
    let mut present: Vec<(usize, f64)> = p
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.as_ref().ok().map(|&v| (i, v)))
        .collect();
    present.sort_by(|a, b| a.1.total_cmp(&b.1));
    let m = present.len();
    let mut out: Vec<Figure> = p.to_vec();
    let mut running: f64 = 0.0;
    for (rank, &(i, v)) in present.iter().enumerate() {
        running = running.max(v * (m - rank) as f64);
        out[i] = Ok(running.min(1.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn holm_matches_statsmodels() {
        let out = holm(&[Ok(0.01), Ok(0.04), Err(Missing("x")), Ok(0.03)]);
        assert_eq!(out[0], Ok(0.03));
        assert!((out[1].unwrap() - 0.06).abs() < 1e-15);
        assert!(out[2].is_err());
        assert!((out[3].unwrap() - 0.06).abs() < 1e-15);
    }

    #[test]
    fn degenerate_inputs_are_missing_not_nan() {
        assert!(mean(&[]).is_err());
        assert!(sd(&[4.0]).is_err());
        assert!(pearson(&[1.0, 1.0], &[2.0, 3.0]).is_err());
        assert!(spearman(&[1.0], &[2.0]).is_err());
        assert!(linregress(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_err());
        let flat = linregress(&[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0]).unwrap();
        assert_eq!((flat.slope, flat.p), (0.0, 1.0));
    }

    #[test]
    fn a_perfect_line_has_p_zero_not_nan() {
        let l = linregress(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 6.0, 8.0]).unwrap();
        assert_eq!(l.slope, 2.0);
        assert!(l.p < 1e-9 && l.slope_se.abs() < 1e-6, "{l:?}");
    }

    proptest! {
        #[test]
        fn correlations_are_finite_or_missing(v in proptest::collection::vec((0u8..5, 0u8..5), 0..12)) {
            let x: Vec<f64> = v.iter().map(|p| f64::from(p.0)).collect();
            let y: Vec<f64> = v.iter().map(|p| f64::from(p.1)).collect();
            for r in [pearson(&x, &y), spearman(&x, &y)].into_iter().flatten() {
                prop_assert!((-1.0..=1.0).contains(&r));
            }
            if let Ok(l) = linregress(&x, &y) {
                prop_assert!(l.slope.is_finite() && l.slope_se.is_finite() && (0.0..=1.0).contains(&l.p));
            }
        }
    }
}
