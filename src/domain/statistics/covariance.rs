//! What the standard errors and leverages of the additive model need: the pseudo-inverse A⁺ of
//! the markers' normal matrix. A is a Laplacian (null space: the constants), so with
//! J = c·11ᵀ, W = (A + J)⁻¹ = A⁺ + 11ᵀ/(c M²); W comes from a dense Cholesky factorisation
//! (faer). c is chosen so that the added eigenvalue c·M is A's mean diagonal: W's constant part
//! is then of the size of A⁺'s entries, and subtracting it loses no digits.
//!
//! Var(β̂_m) = σ² A⁺_mm (the sum-to-zero solution is A⁺b, and Cov(b) = σ²A). The leverage of a
//! mark of marker m on script s is 1/n_s (the script's mean) plus d ᵀ A⁺ d, d = e_m − c_s/n_s;
//! d sums to zero, so dᵀ A⁺ d = dᵀ W d.

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};

use super::Missing;
use super::additive::Compact;

pub(crate) struct Precision {
    /// A⁺_mm for each model marker: the effect's variance over σ².
    pub inverse_diagonal: Vec<f64>,
    /// Leverage of each mark of the design that is in the model.
    pub leverage: Vec<Option<f64>>,
}

impl Precision {
    pub fn leverage_of(&self, mark: usize) -> Option<f64> {
        self.leverage.get(mark).copied().flatten()
    }
}

/// `design_marks`: how many marks the design holds (the leverages are indexed by them).
pub(crate) fn precision(c: &Compact, design_marks: usize) -> Result<Precision, Missing> {
    let m = c.markers;
    let mut diagonal = 0.0;
    for s in 0..c.start.len() - 1 {
        let n = (c.start[s + 1] - c.start[s]) as f64;
        diagonal += n - 1.0;
    }
    let mf = m as f64;
    let added = diagonal / mf / mf;
    let constant = 1.0 / (added * mf * mf);
    let mut a = Mat::<f64>::from_fn(m, m, |_, _| added);
    for s in 0..c.start.len() - 1 {
        let idx = &c.marker[c.start[s]..c.start[s + 1]];
        let w = 1.0 / idx.len() as f64;
        for &p in idx {
            a[(p as usize, p as usize)] += 1.0;
            for &q in idx {
                a[(p as usize, q as usize)] -= w;
            }
        }
    }
    let w = a
        .llt(Side::Lower)
        .map_err(|_| Missing("the markers' normal matrix is singular"))?
        .inverse();
    let inverse_diagonal: Vec<f64> = (0..m).map(|k| w[(k, k)] - constant).collect();
    if inverse_diagonal.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(Missing("the markers' normal matrix is too ill-conditioned"));
    }
    let mut leverage = vec![None; design_marks];
    let mut row = Vec::new();
    for s in 0..c.start.len() - 1 {
        let r = c.start[s]..c.start[s + 1];
        let idx = &c.marker[r.clone()];
        let n = idx.len() as f64;
        row.clear();
        row.extend(
            idx.iter()
                .map(|&p| idx.iter().map(|&q| w[(p as usize, q as usize)]).sum::<f64>()),
        );
        let total: f64 = row.iter().sum();
        for (k, i) in r.enumerate() {
            let p = idx[k] as usize;
            leverage[c.mark[i]] = Some(1.0 / n + w[(p, p)] - 2.0 * row[k] / n + total / (n * n));
        }
    }
    Ok(Precision {
        inverse_diagonal,
        leverage,
    })
}
