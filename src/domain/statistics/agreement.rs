//! Agreement per marker pair on the scripts both marked: exact and adjacent agreement, Pearson,
//! Spearman, and Cohen's kappa unweighted, linear and quadratic over the question's full scale.

use rayon::prelude::*;

use super::describe::{pearson, spearman};
use super::design::Design;
use super::{Figure, Missing, Scale};

/// The fewest shared scripts for a pair to be reported.
pub(crate) const MIN_SHARED: usize = 2;

pub(crate) struct Pair {
    pub a: u32,
    pub b: u32,
    pub n: usize,
    pub exact: f64,
    pub adjacent: f64,
    pub pearson: Figure,
    pub spearman: Figure,
    pub kappa: Figure,
    pub kappa_linear: Figure,
    pub kappa_quadratic: Figure,
}

/// Every pair (a < b by marker index) sharing at least [`MIN_SHARED`] scripts.
pub(crate) fn pairs(design: &Design, scale: &Scale) -> Vec<Pair> {
    let slots = design.marker_slots as u64;
    let mut obs: Vec<(u64, f64, f64)> = Vec::new();
    for s in 0..design.n_scripts() {
        let r = design.script(s);
        for i in r.clone() {
            for j in i + 1..r.end {
                // Marks of a script are ordered by marker, so marker[i] < marker[j].
                let key = u64::from(design.marker[i]) * slots + u64::from(design.marker[j]);
                obs.push((key, design.score[i], design.score[j]));
            }
        }
    }
    obs.par_sort_unstable_by_key(|o| o.0);
    let groups: Vec<&[(u64, f64, f64)]> = obs
        .chunk_by(|x, y| x.0 == y.0)
        .filter(|g| g.len() >= MIN_SHARED)
        .collect();
    groups
        .par_iter()
        .map(|g| {
            let x: Vec<f64> = g.iter().map(|o| o.1).collect();
            let y: Vec<f64> = g.iter().map(|o| o.2).collect();
            pair((g[0].0 / slots) as u32, (g[0].0 % slots) as u32, &x, &y, scale)
        })
        .collect()
}

fn pair(a: u32, b: u32, x: &[f64], y: &[f64], scale: &Scale) -> Pair {
    let n = x.len();
    // Scores are decimals held in binary: equal within a billionth of a step is equal.
    let eps = 1e-9 * scale.step.abs().max(1e-9);
    let exact = x.iter().zip(y).filter(|(p, q)| (*p - *q).abs() <= eps).count();
    let adjacent = x
        .iter()
        .zip(y)
        .filter(|(p, q)| (*p - *q).abs() <= scale.step + eps)
        .count();
    let (kappa, kappa_linear, kappa_quadratic) = match (categories(x, scale), categories(y, scale)) {
        (Ok(cx), Ok(cy)) => kappas(&cx, &cy),
        (Err(e), _) | (_, Err(e)) => (Err(e), Err(e), Err(e)),
    };
    Pair {
        a,
        b,
        n,
        exact: exact as f64 / n as f64,
        adjacent: adjacent as f64 / n as f64,
        pearson: pearson(x, y),
        spearman: spearman(x, y),
        kappa,
        kappa_linear,
        kappa_quadratic,
    }
}

/// Each score's position on the scale 0, step, 2·step, …, max.
fn categories(x: &[f64], scale: &Scale) -> Result<Vec<i64>, Missing> {
    let off = Missing("a score off the question's scale (0 to max by step)");
    if !(scale.step > 0.0 && scale.max >= 0.0) {
        return Err(Missing("the scale has no positive step"));
    }
    let top = (scale.max / scale.step).round();
    x.iter()
        .map(|&v| {
            let pos = v / scale.step;
            let r = pos.round();
            if (pos - r).abs() > 1e-6 || r < 0.0 || r > top {
                Err(off)
            } else {
                Ok(r as i64)
            }
        })
        .collect()
}

/// Cohen's kappa as scikit-learn computes it, 1 − Σ w·observed / Σ w·expected, with the
/// expected table the product of the margins. Over the full scale, unused categories add
/// nothing to either sum, so the sums are taken over the observed positions only: the
/// expected sums over all n² combinations come from sorted positions and prefix sums.
fn kappas(x: &[i64], y: &[i64]) -> (Figure, Figure, Figure) {
    let n = x.len() as f64;
    let mut sx = x.to_vec();
    let mut sy = y.to_vec();
    sx.sort_unstable();
    sy.sort_unstable();
    let same_obs = x.iter().zip(y).filter(|(a, b)| a == b).count() as f64;
    let abs_obs: f64 = x.iter().zip(y).map(|(a, b)| (a - b).abs() as f64).sum();
    let sq_obs: f64 = x.iter().zip(y).map(|(a, b)| ((a - b) * (a - b)) as f64).sum();
    let (same_exp, abs_exp) = combination_sums(&sx, &sy);
    // Σ over all combinations of (a − b)² = n·Σa² + n·Σb² − 2·Σa·Σb, about a common origin.
    let origin = sx[0];
    let (mut s1x, mut s2x, mut s1y, mut s2y) = (0.0, 0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (a, b) = ((a - origin) as f64, (b - origin) as f64);
        s1x += a;
        s2x += a * a;
        s1y += b;
        s2y += b * b;
    }
    let sq_exp = n * s2x + n * s2y - 2.0 * s1x * s1y;
    let constant = Missing("both markers gave one and the same score throughout");
    let k = |obs: f64, exp: f64| -> Figure {
        // Disagreement-weighted form: the expected disagreement over n² combinations.
        let expected = exp / (n * n);
        if expected <= 0.0 {
            return Err(constant);
        }
        let v = 1.0 - (obs / n) / expected;
        if v.is_finite() { Ok(v) } else { Err(constant) }
    };
    (
        k(n - same_obs, n * n - same_exp),
        k(abs_obs, abs_exp),
        k(sq_obs, sq_exp),
    )
}

/// Over all (a, b) combinations: how many are equal, and Σ |a − b|.
fn combination_sums(sx: &[i64], sy: &[i64]) -> (f64, f64) {
    let total_y: i128 = sy.iter().map(|&v| i128::from(v)).sum();
    let ny = sy.len() as i128;
    let (mut below, mut below_sum) = (0usize, 0i128);
    let (mut eq_lo, mut eq_hi) = (0usize, 0usize);
    let (mut same, mut abs) = (0i128, 0i128);
    for &a in sx {
        while below < sy.len() && sy[below] <= a {
            below_sum += i128::from(sy[below]);
            below += 1;
        }
        while eq_lo < sy.len() && sy[eq_lo] < a {
            eq_lo += 1;
        }
        eq_hi = eq_hi.max(eq_lo);
        while eq_hi < sy.len() && sy[eq_hi] == a {
            eq_hi += 1;
        }
        same += (eq_hi - eq_lo) as i128;
        let (k, a) = (below as i128, i128::from(a));
        abs += a * k - below_sum + (total_y - below_sum) - a * (ny - k);
    }
    (same as f64, abs as f64)
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

    const SCALE: Scale = Scale { max: 4.0, step: 1.0 };

    #[test]
    fn kappas_match_scikit_learn() {
        // sklearn.metrics.cohen_kappa_score([0,1,2,3,4,2],[0,2,2,3,3,1], weights=…)
        let x = [0, 1, 2, 3, 4, 2];
        let y = [0, 2, 2, 3, 3, 1];
        let (u, l, q) = kappas(&x, &y);
        assert!((u.unwrap() - 0.3571428571428571).abs() < 1e-12);
        assert!((l.unwrap() - 0.625).abs() < 1e-12);
        assert!((q.unwrap() - 0.8235294117647058).abs() < 1e-12);
    }

    #[test]
    fn identical_constant_marks_have_no_kappa_and_no_correlation() {
        let d = design(&[(0, 0, 2.0), (0, 1, 2.0), (1, 0, 2.0), (1, 1, 2.0)]);
        let p = &pairs(&d, &SCALE)[0];
        assert_eq!((p.n, p.exact, p.adjacent), (2, 1.0, 1.0));
        assert!(p.kappa.is_err() && p.kappa_linear.is_err() && p.pearson.is_err() && p.spearman.is_err());
    }

    #[test]
    fn one_shared_script_is_no_pair_and_off_scale_scores_have_no_kappa() {
        let d = design(&[
            (0, 0, 1.0),
            (0, 1, 2.0),
            (1, 0, 1.0),
            (1, 2, 9.0),
            (2, 0, 3.0),
            (2, 2, 0.5),
        ]);
        let p = pairs(&d, &SCALE);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].a, p[0].b), (0, 2));
        assert!(p[0].kappa.is_err());
        assert!(p[0].pearson.is_ok());
    }

    #[test]
    fn no_marks_no_pairs() {
        assert!(pairs(&design(&[]), &SCALE).is_empty());
    }
}
