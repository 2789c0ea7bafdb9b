//! Krippendorff's alpha on the incomplete design (markers as coders, scripts as units), as the
//! `krippendorff` package computes it: 1 − Σ observed coincidences · δ² / Σ expected · δ²,
//! units with fewer than two marks left out.
//!
//! No coincidence matrix is formed: for the interval metric both sums reduce to sums of
//! squares (within each unit, and over all pairable values); the ordinal metric is the interval
//! metric on each value's mid-cumulative frequency (Σ counts below it + half its own count), so
//! it reduces the same way; the nominal one counts equal pairs. That keeps a million marks at
//! one pass and a sort.

use std::collections::HashMap;

use super::design::Design;
use super::{Figure, Missing, finite};

pub(crate) struct Alphas {
    pub interval: Figure,
    pub ordinal: Figure,
    pub nominal: Figure,
}

pub(crate) fn alphas(design: &Design) -> Alphas {
    let units: Vec<usize> = (0..design.n_scripts()).filter(|&s| design.script_len(s) >= 2).collect();
    let n: usize = units.iter().map(|&s| design.script_len(s)).sum();
    if n < 2 {
        let none = Err(Missing("no script has two or more marks"));
        return Alphas {
            interval: none,
            ordinal: none,
            nominal: none,
        };
    }
    let values: Vec<f64> = units
        .iter()
        .flat_map(|&s| design.score[design.script(s)].iter().copied())
        .collect();
    let interval = interval_alpha(design, &units, &values, |v| v);
    let mid = mid_cumulative(&values);
    let ordinal = interval_alpha(design, &units, &values, |v| mid[&key(v)]);
    Alphas {
        interval,
        ordinal,
        nominal: nominal_alpha(design, &units, &values),
    }
}

/// Values compare by their bits, with −0 taken as 0.
fn key(v: f64) -> u64 {
    (v + 0.0).to_bits()
}

/// For each distinct value: the pairable values below it plus half of its own count.
fn mid_cumulative(values: &[f64]) -> HashMap<u64, f64> {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for &v in values {
        *counts.entry(key(v)).or_default() += 1;
    }
    let mut distinct: Vec<(f64, usize)> = counts.iter().map(|(&k, &c)| (f64::from_bits(k), c)).collect();
    distinct.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut below = 0usize;
    let mut out = HashMap::with_capacity(distinct.len());
    for (v, c) in distinct {
        out.insert(key(v), below as f64 + c as f64 / 2.0);
        below += c;
    }
    out
}

/// 1 − (n − 1) Σ_u m_u/(m_u − 1) SS_u / (n SS_total), with `map` applied to every value.
fn interval_alpha(design: &Design, units: &[usize], values: &[f64], map: impl Fn(f64) -> f64) -> Figure {
    let n = values.len() as f64;
    let grand = values.iter().map(|&v| map(v)).sum::<f64>() / n;
    let total: f64 = values.iter().map(|&v| (map(v) - grand).powi(2)).sum();
    if total.is_nan() || total <= 0.0 {
        return Err(Missing("every mark has the same score: no expected disagreement"));
    }
    let mut observed = 0.0;
    for &s in units {
        let x = &design.score[design.script(s)];
        let m = x.len() as f64;
        let mean = x.iter().map(|&v| map(v)).sum::<f64>() / m;
        let ss: f64 = x.iter().map(|&v| (map(v) - mean).powi(2)).sum();
        observed += m / (m - 1.0) * ss;
    }
    finite(1.0 - (n - 1.0) * observed / (n * total), "alpha is not finite")
}

/// Nominal: disagreeing ordered pairs within units against those expected by chance.
fn nominal_alpha(design: &Design, units: &[usize], values: &[f64]) -> Figure {
    let n = values.len() as f64;
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for &v in values {
        *counts.entry(key(v)).or_default() += 1;
    }
    let same: f64 = counts.values().map(|&c| (c as f64) * (c as f64)).sum();
    let expected = (n * n - same) / (n - 1.0);
    if expected.is_nan() || expected <= 0.0 {
        return Err(Missing("every mark has the same score: no expected disagreement"));
    }
    let mut observed = 0.0;
    let mut buf: Vec<u64> = Vec::new();
    for &s in units {
        buf.clear();
        buf.extend(design.score[design.script(s)].iter().map(|&v| key(v)));
        buf.sort_unstable();
        let m = buf.len() as f64;
        let same_in_unit: f64 = buf.chunk_by(|a, b| a == b).map(|g| (g.len() * g.len()) as f64).sum();
        observed += (m * m - same_in_unit) / (m - 1.0);
    }
    finite(1.0 - observed / expected, "alpha is not finite")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::statistics::Mark;

    fn design(rows: &[(u32, u32, f64)]) -> Design {
        let marks: Vec<Mark> = rows
            .iter()
            .map(|&(script, marker, score)| Mark {
                script,
                marker,
                score,
                seq: None,
            })
            .collect();
        Design::new(&marks)
    }

    #[test]
    fn agrees_with_the_krippendorff_package_on_a_small_table() {
        // krippendorff.alpha([[1,2,3,3],[1,2,4,3],[np.nan,2,3,5]], level_of_measurement=…)
        let d = design(&[
            (0, 0, 1.0),
            (0, 1, 1.0),
            (1, 0, 2.0),
            (1, 1, 2.0),
            (1, 2, 2.0),
            (2, 0, 3.0),
            (2, 1, 4.0),
            (2, 2, 3.0),
            (3, 0, 3.0),
            (3, 1, 3.0),
            (3, 2, 5.0),
        ]);
        let a = alphas(&d);
        assert!((a.interval.unwrap() - 0.6875).abs() < 1e-12);
        assert!((a.ordinal.unwrap() - 0.835920177383592).abs() < 1e-12);
        assert!((a.nominal.unwrap() - 0.5555555555555556).abs() < 1e-12);
    }

    #[test]
    fn constant_or_unpairable_data_is_missing() {
        let a = alphas(&design(&[(0, 0, 2.0), (0, 1, 2.0), (1, 0, 2.0), (1, 1, 2.0)]));
        assert!(a.interval.is_err() && a.ordinal.is_err() && a.nominal.is_err());
        let a = alphas(&design(&[(0, 0, 2.0), (1, 1, 3.0)]));
        assert!(a.interval.is_err());
        let a = alphas(&design(&[]));
        assert!(a.nominal.is_err());
    }
}
