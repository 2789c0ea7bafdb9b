//! Fleiss' kappa (statsmodels `fleiss_kappa(method='fleiss')`) over complete rows: scripts that
//! all carry the same number of marks, each distinct score a category.

use std::collections::HashMap;

use super::design::{Design, Rows};
use super::{Figure, Missing, finite};

pub(crate) fn fleiss_kappa(design: &Design, rows: &Rows) -> Figure {
    if rows.k < 2 || rows.scripts.is_empty() {
        return Err(Missing("no rows with two or more marks each"));
    }
    let mut category: HashMap<u64, usize> = HashMap::new();
    let mut table: Vec<Vec<f64>> = Vec::with_capacity(rows.scripts.len());
    for &s in &rows.scripts {
        let mut row: Vec<f64> = vec![0.0; category.len()];
        for &v in &design.score[design.script(s)] {
            let next = category.len();
            let c = *category.entry((v + 0.0).to_bits()).or_insert(next);
            if row.len() <= c {
                row.resize(c + 1, 0.0);
            }
            row[c] += 1.0;
        }
        table.push(row);
    }
    fleiss_kappa_from_counts(&table)
}

/// Fleiss' kappa of a subjects × categories table of counts, every subject rated the same
/// number of times; a row shorter than the others has zeros in its missing categories.
pub fn fleiss_kappa_from_counts(table: &[Vec<f64>]) -> Figure {
    let raters = table.first().map_or(0.0, |r| r.iter().sum::<f64>());
    if raters.is_nan() || raters < 2.0 {
        return Err(Missing("fewer than two ratings a subject"));
    }
    if table.iter().any(|r| (r.iter().sum::<f64>() - raters).abs() > 1e-9) {
        return Err(Missing("subjects rated a different number of times"));
    }
    let categories = table.iter().map(Vec::len).max().unwrap_or(0);
    let subjects = table.len() as f64;
    let mut totals = vec![0.0; categories];
    let mut agreement = 0.0;
    for row in table {
        for (t, c) in totals.iter_mut().zip(row) {
            *t += c;
        }
        let squares: f64 = row.iter().map(|c| c * c).sum();
        agreement += (squares - raters) / (raters * (raters - 1.0));
    }
    let p_mean = agreement / subjects;
    let p_exp: f64 = totals.iter().map(|t| (t / (subjects * raters)).powi(2)).sum();
    if p_exp.is_nan() || p_exp >= 1.0 {
        return Err(Missing("every rating falls in one category"));
    }
    finite((p_mean - p_exp) / (1.0 - p_exp), "kappa is not finite")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_tables_are_missing() {
        assert!(fleiss_kappa_from_counts(&[]).is_err());
        assert!(fleiss_kappa_from_counts(&[vec![1.0]]).is_err());
        assert!(fleiss_kappa_from_counts(&[vec![2.0], vec![2.0]]).is_err());
        assert!(fleiss_kappa_from_counts(&[vec![2.0, 0.0], vec![1.0]]).is_err());
    }

    #[test]
    fn perfect_agreement_is_one() {
        let k = fleiss_kappa_from_counts(&[vec![3.0, 0.0], vec![0.0, 3.0]]).unwrap();
        assert!((k - 1.0).abs() < 1e-15);
    }
}
