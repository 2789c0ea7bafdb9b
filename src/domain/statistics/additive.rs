//! The additive model score = μ + script effect + marker effect + error, least squares over
//! the incomplete design, marker effects summing to zero (statsmodels
//! `ols('score ~ C(script_id) + C(marker_id, Sum)')` over scripts with at least two marks).
//!
//! Script effects are absorbed: centring each script's marks leaves the markers' normal
//! equations A β = b, A = diag(n_m) − Σ_s c_s c_sᵀ / n_s (c_s the markers of script s), a
//! graph Laplacian whose null space is the constant vector. Jacobi-preconditioned conjugate
//! gradients solve it with one pass over the marks per iteration and converge in a few dozen
//! iterations at any size; β is then centred, which is the sum-to-zero solution.

use super::covariance::{Precision, precision};
use super::design::Design;
use super::{Figure, Missing, finite};

/// Above this many markers the dense inverse of A (for standard errors and leverages) is not
/// formed: it would take more than 200 MB and seconds.
pub const DENSE_MARKER_LIMIT: usize = 5000;

/// The marks in the model, grouped by script, markers renumbered 0..markers.
pub(crate) struct Compact {
    pub markers: usize,
    pub start: Vec<usize>,
    pub marker: Vec<u32>,
    /// Score minus its script's mean.
    pub centred: Vec<f64>,
    /// The design's index of each mark.
    pub mark: Vec<usize>,
}

pub(crate) struct Model {
    /// The model index of each marker slot, when the marker is in the model.
    pub local: Vec<Option<usize>>,
    pub n_marks: usize,
    pub n_scripts: usize,
    /// Marker effects (model index), summing to zero.
    pub effect: Vec<f64>,
    /// Residual of each design mark in the model.
    pub residual: Vec<Option<f64>>,
    pub df_resid: f64,
    pub pooled_sd: Figure,
    pub precision: Result<Precision, Missing>,
    /// Markers left out because no shared scripts link them to the main design.
    pub unlinked_markers: usize,
}

pub(crate) type Fit = Result<Model, Missing>;

pub(crate) fn fit(design: &Design) -> Fit {
    let (compact, local, unlinked_markers) = compact(design)?;
    // The dense inverse does not depend on the scores: it runs beside the solve.
    let (precision, effect) = rayon::join(
        || {
            if compact.markers > DENSE_MARKER_LIMIT {
                Err(Missing(
                    "too many markers for the exact standard errors (dense inverse)",
                ))
            } else {
                precision(&compact, design.n_marks())
            }
        },
        || solve(&compact),
    );
    let effect = effect?;
    let mut residual = vec![None; design.n_marks()];
    let mut sse = 0.0;
    for s in 0..compact.start.len() - 1 {
        let r = compact.start[s]..compact.start[s + 1];
        let mean_effect = r.clone().map(|i| effect[compact.marker[i] as usize]).sum::<f64>() / r.len() as f64;
        for i in r {
            let e = compact.centred[i] - (effect[compact.marker[i] as usize] - mean_effect);
            sse += e * e;
            residual[compact.mark[i]] = Some(e);
        }
    }
    let n_marks = compact.marker.len();
    let n_scripts = compact.start.len() - 1;
    let df_resid = n_marks as f64 - n_scripts as f64 - (compact.markers as f64 - 1.0);
    let pooled_sd = if df_resid > 0.0 {
        finite((sse / df_resid).sqrt(), "the residual SD is not finite")
    } else {
        Err(Missing("no residual degrees of freedom: too few marks for the model"))
    };
    Ok(Model {
        local,
        n_marks,
        n_scripts,
        effect,
        residual,
        df_resid,
        pooled_sd,
        precision,
        unlinked_markers,
    })
}

/// Scripts with two or more marks whose markers belong to the largest linked group of markers
/// (by marks): markers are linked when they marked a script in common, and effects can only be
/// compared within a linked group.
fn compact(design: &Design) -> Result<(Compact, Vec<Option<usize>>, usize), Missing> {
    let multi: Vec<usize> = (0..design.n_scripts()).filter(|&s| design.script_len(s) >= 2).collect();
    let (local, markers, unlinked) = main_group(design, &multi)?;
    let mut c = Compact {
        markers,
        start: vec![0],
        marker: Vec::new(),
        centred: Vec::new(),
        mark: Vec::new(),
    };
    for &s in &multi {
        let r = design.script(s);
        if local[design.marker[r.start] as usize].is_none() {
            continue;
        }
        let mean = design.score[r.clone()].iter().sum::<f64>() / r.len() as f64;
        for i in r {
            c.marker.push(local[design.marker[i] as usize].unwrap_or(0) as u32);
            c.centred.push(design.score[i] - mean);
            c.mark.push(i);
        }
        c.start.push(c.marker.len());
    }
    Ok((c, local, unlinked))
}

/// The model index of every marker in the main linked group, their number, and how many
/// markers with shared scripts fall outside it (union–find over the scripts).
fn main_group(design: &Design, multi: &[usize]) -> Result<(Vec<Option<usize>>, usize, usize), Missing> {
    let slots = design.marker_slots;
    let mut parent: Vec<usize> = (0..slots).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut weight = vec![0usize; slots];
    let mut linked = vec![false; slots];
    for &s in multi {
        let r = design.script(s);
        let first = root(&mut parent, design.marker[r.start] as usize);
        for i in r.clone() {
            linked[design.marker[i] as usize] = true;
            let other = root(&mut parent, design.marker[i] as usize);
            parent[other] = first;
        }
    }
    for &s in multi {
        let g = root(&mut parent, design.marker[design.start[s]] as usize);
        weight[g] += design.script_len(s);
    }
    let main = (0..slots)
        .max_by_key(|&g| (weight[g], std::cmp::Reverse(g)))
        .filter(|&g| weight[g] > 0);
    let Some(main) = main else {
        return Err(Missing("no script has two or more marks"));
    };
    let mut local = vec![None; slots];
    let mut markers = 0;
    let mut unlinked = 0;
    for m in (0..slots).filter(|&m| linked[m]) {
        if root(&mut parent, m) == main {
            local[m] = Some(markers);
            markers += 1;
        } else {
            unlinked += 1;
        }
    }
    Ok((local, markers, unlinked))
}

/// y = A x, A = diag(n_m) − Σ_s c_s c_sᵀ / n_s, without forming A.
fn apply(c: &Compact, counts: &[f64], x: &[f64], y: &mut [f64]) {
    for ((y, n), x) in y.iter_mut().zip(counts).zip(x) {
        *y = n * x;
    }
    for s in 0..c.start.len() - 1 {
        let idx = &c.marker[c.start[s]..c.start[s + 1]];
        let t = idx.iter().map(|&m| x[m as usize]).sum::<f64>() / idx.len() as f64;
        for &m in idx {
            y[m as usize] -= t;
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The residual, relative to the right-hand side, at which the normal equations count as solved.
const ACCEPTED: f64 = 1e-10;

/// The sum-to-zero marker effects, by preconditioned conjugate gradients. Each pass starts
/// from the true residual, which the recurrences drift away from, and keeps its best iterate:
/// once the residual reaches rounding level, further steps only add noise.
fn solve(c: &Compact) -> Result<Vec<f64>, Missing> {
    let m = c.markers;
    let mut counts = vec![0.0; m];
    let mut diag = vec![0.0; m];
    let mut b = vec![0.0; m];
    for s in 0..c.start.len() - 1 {
        let len = (c.start[s + 1] - c.start[s]) as f64;
        for i in c.start[s]..c.start[s + 1] {
            let k = c.marker[i] as usize;
            counts[k] += 1.0;
            diag[k] += 1.0 - 1.0 / len;
            b[k] += c.centred[i];
        }
    }
    let norm_b = dot(&b, &b).sqrt();
    let mut x = vec![0.0; m];
    let mut q = vec![0.0; m];
    let true_residual = |x: &[f64], q: &mut Vec<f64>| -> Vec<f64> {
        apply(c, &counts, x, q);
        b.iter().zip(q.iter()).map(|(b, q)| b - q).collect()
    };
    for _ in 0..3 {
        let r = true_residual(&x, &mut q);
        if dot(&r, &r).sqrt() <= 1e-14 * norm_b {
            break;
        }
        pcg_pass(c, &counts, &diag, &mut x, r, norm_b);
    }
    let r = true_residual(&x, &mut q);
    let norm_r = dot(&r, &r).sqrt();
    if norm_b > 0.0 && (norm_r.is_nan() || norm_r > ACCEPTED * norm_b) {
        return Err(Missing("the markers' normal equations did not converge"));
    }
    let mean = x.iter().sum::<f64>() / m as f64;
    Ok(x.iter().map(|v| v - mean).collect())
}

/// One pass of Jacobi-preconditioned CG from `x` with residual `r`; `x` ends at the iterate
/// with the smallest residual.
fn pcg_pass(c: &Compact, counts: &[f64], diag: &[f64], x: &mut [f64], mut r: Vec<f64>, norm_b: f64) {
    let m = x.len();
    let mut z: Vec<f64> = r.iter().zip(diag).map(|(r, d)| r / d).collect();
    let mut p = z.clone();
    let mut q = vec![0.0; m];
    let mut rz = dot(&r, &z);
    let mut current = x.to_vec();
    let (mut best, mut since_best) = (dot(&r, &r).sqrt(), 0);
    for _ in 0..(2 * m + 200) {
        apply(c, counts, &p, &mut q);
        let pq = dot(&p, &q);
        if !(pq > 0.0 && rz.is_finite()) {
            break;
        }
        let alpha = rz / pq;
        for i in 0..m {
            current[i] += alpha * p[i];
            r[i] -= alpha * q[i];
        }
        let norm = dot(&r, &r).sqrt();
        if norm < best {
            best = norm;
            since_best = 0;
            x.copy_from_slice(&current);
        } else {
            since_best += 1;
        }
        // The residual of conjugate gradients does not fall at every step: on a sparse design
        // (two marks a script, a dozen a marker) it stalls for several steps far above rounding
        // and then falls by orders of magnitude. Only once it is as small as `solve` accepts
        // does a stall mean rounding noise; a stall of a hundred steps ends the pass anyway
        // (the next starts afresh from the true residual), so the work stays bounded.
        if norm <= 1e-14 * norm_b || (since_best >= 5 && best <= ACCEPTED * norm_b) || since_best >= 100 {
            break;
        }
        for i in 0..m {
            z[i] = r[i] / diag[i];
        }
        let rz_next = dot(&r, &z);
        let beta = rz_next / rz;
        rz = rz_next;
        for i in 0..m {
            p[i] = z[i] + beta * p[i];
        }
    }
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
    fn a_crossed_table_gives_the_column_means_minus_the_grand_mean() {
        // Two markers on three scripts: effects are half the mean difference, ±.
        let d = design(&[
            (0, 0, 4.0),
            (0, 1, 2.0),
            (1, 0, 6.0),
            (1, 1, 5.0),
            (2, 0, 3.0),
            (2, 1, 3.0),
        ]);
        let m = fit(&d).unwrap();
        assert!((m.effect[0] - 0.5).abs() < 1e-12 && (m.effect[1] + 0.5).abs() < 1e-12);
        assert_eq!((m.n_marks, m.n_scripts, m.df_resid), (6, 3, 2.0));
    }

    #[test]
    fn unlinked_markers_are_left_out_and_single_marks_give_no_model() {
        let d = design(&[
            (0, 0, 4.0),
            (0, 1, 2.0),
            (1, 0, 6.0),
            (1, 1, 5.0),
            (2, 2, 3.0),
            (2, 3, 3.0),
        ]);
        let m = fit(&d).unwrap();
        assert_eq!(m.unlinked_markers, 2);
        assert!(m.local[2].is_none() && m.local[0].is_some());
        assert!(fit(&design(&[(0, 0, 1.0), (1, 1, 2.0)])).is_err());
        assert!(fit(&design(&[])).is_err());
    }

    /// A short-answer question a minute into a 1,000-marker simulation (`markroom simulate`,
    /// seventeenth session): 286 markers, 1,730 scripts of two marks (a few three), about a
    /// dozen marks a marker, whole points on 0 to 10. Its residual stalls for five steps near
    /// 1e-3 before it falls; stopping there left the whole question without a model, and so
    /// without a severity flag for anyone.
    #[test]
    fn a_sparse_short_answer_design_is_solved() {
        let rows: Vec<(u32, u32, f64)> = include_str!("../../../tests/data/sparse-short-answer.csv")
            .lines()
            .skip(1)
            .map(|line| {
                let f: Vec<&str> = line.split(',').collect();
                (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect();
        let d = design(&rows);
        let m = fit(&d).expect("the normal equations are solved");
        // One script has a single mark; every marker is linked.
        assert_eq!((m.n_marks, m.n_scripts, m.unlinked_markers), (rows.len() - 1, 1729, 0));
        let sum: f64 = m.effect.iter().sum();
        assert!(sum.abs() < 1e-9, "effects sum to zero: {sum}");
        // Marker 0 is a planted severe marker (two severity limits, a point, below the rest).
        assert!(m.effect[0] < -0.5, "{}", m.effect[0]);
    }

    #[test]
    fn constant_scores_fit_exactly_with_zero_effects() {
        let d = design(&[(0, 0, 4.0), (0, 1, 4.0), (1, 0, 4.0), (1, 1, 4.0)]);
        let m = fit(&d).unwrap();
        assert_eq!(m.effect, vec![0.0, 0.0]);
        assert_eq!(m.pooled_sd, Ok(0.0));
    }
}
