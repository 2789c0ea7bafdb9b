//! Intraclass correlations in the six Shrout–Fleiss forms, as pingouin's `intraclass_corr`
//! computes them (ANOVA mean squares, F tests, and its 95% confidence intervals).

use super::design::{Design, Rows};
use super::dist::{f_ppf, f_sf};
use super::{Missing, finite};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Form {
    pub value: f64,
    pub f: f64,
    pub df1: f64,
    pub df2: f64,
    pub p: f64,
    pub ci95: Result<[f64; 2], Missing>,
}

pub(crate) type FormResult = Result<Form, Missing>;

/// ICC(1,1), ICC(2,1), ICC(3,1), ICC(1,k), ICC(2,k), ICC(3,k) in that order.
pub(crate) struct Icc {
    pub forms: [FormResult; 6],
}

/// The mean squares of the table: between scripts, between markers (crossed only), error
/// (crossed only), and within scripts.
struct MeanSquares {
    n: f64,
    k: f64,
    msb: f64,
    msj: f64,
    mse: f64,
    msw: f64,
}

pub(crate) fn icc(design: &Design, rows: &Rows) -> Icc {
    let missing = |why| Icc {
        forms: [Err(Missing(why)); 6],
    };
    if rows.k < 2 || rows.scripts.len() < 2 {
        return missing("fewer than two scripts with two or more marks each");
    }
    let ms = mean_squares(design, rows);
    let one_way = one_way_forms(&ms);
    if !rows.crossed {
        let not_crossed = Err(Missing("fewer than two scripts were marked by every marker"));
        return Icc {
            forms: [one_way.0, not_crossed, not_crossed, one_way.1, not_crossed, not_crossed],
        };
    }
    let (f2, f3, f2k, f3k) = two_way_forms(&ms);
    Icc {
        forms: [one_way.0, f2, f3, one_way.1, f2k, f3k],
    }
}

fn mean_squares(design: &Design, rows: &Rows) -> MeanSquares {
    let (n, k) = (rows.scripts.len(), rows.k);
    let total: f64 = rows.scripts.iter().flat_map(|&s| &design.score[design.script(s)]).sum();
    let grand = total / (n * k) as f64;
    let mut col = vec![0.0; k];
    let mut ss_rows = 0.0;
    let mut ss_within = 0.0;
    let mut row_means = Vec::with_capacity(n);
    for &s in &rows.scripts {
        let x = &design.score[design.script(s)];
        let m = x.iter().sum::<f64>() / k as f64;
        row_means.push(m);
        ss_rows += (m - grand) * (m - grand);
        ss_within += x.iter().map(|v| (v - m) * (v - m)).sum::<f64>();
        for (c, v) in col.iter_mut().zip(x) {
            *c += v;
        }
    }
    let col: Vec<f64> = col.iter().map(|c| c / n as f64).collect();
    let (nf, kf) = (n as f64, k as f64);
    let msb = kf * ss_rows / (nf - 1.0);
    let msw = ss_within / (nf * (kf - 1.0));
    // Columns are markers only in a crossed table (marks of a script are ordered by marker).
    let ss_cols = nf * col.iter().map(|c| (c - grand) * (c - grand)).sum::<f64>();
    let mut ss_error = 0.0;
    for (&s, m) in rows.scripts.iter().zip(&row_means) {
        for (v, c) in design.score[design.script(s)].iter().zip(&col) {
            let e = v - m - c + grand;
            ss_error += e * e;
        }
    }
    MeanSquares {
        n: nf,
        k: kf,
        msb,
        msj: ss_cols / (kf - 1.0),
        mse: ss_error / ((nf - 1.0) * (kf - 1.0)),
        msw,
    }
}

/// ICC(1,1) and ICC(1,k): one-way, F = MSB / MSW on (n − 1, n(k − 1)).
fn one_way_forms(ms: &MeanSquares) -> (FormResult, FormResult) {
    let &MeanSquares { n, k, msb, msw, .. } = ms;
    let (df1, df2) = (n - 1.0, n * (k - 1.0));
    let f = match test(msb, msw, df1, df2) {
        Ok(v) => v,
        Err(e) => return (Err(e), Err(e)),
    };
    let limits = f_limits(f.0, df1, df2);
    let single = limits.map(|(fl, fu)| [(fl - 1.0) / (fl + k - 1.0), (fu - 1.0) / (fu + k - 1.0)]);
    let average = limits.map(|(fl, fu)| [1.0 - 1.0 / fl, 1.0 - 1.0 / fu]);
    (
        form((msb - msw) / (msb + (k - 1.0) * msw), f, df1, df2, single),
        form((msb - msw) / msb, f, df1, df2, average),
    )
}

/// ICC(2,1), ICC(3,1), ICC(2,k), ICC(3,k): two-way, F = MSB / MSE on (n − 1, (n − 1)(k − 1)).
fn two_way_forms(ms: &MeanSquares) -> (FormResult, FormResult, FormResult, FormResult) {
    let &MeanSquares {
        n, k, msb, msj, mse, ..
    } = ms;
    let (df1, df2) = (n - 1.0, (n - 1.0) * (k - 1.0));
    let f = match test(msb, mse, df1, df2) {
        Ok(v) => v,
        Err(e) => return (Err(e), Err(e), Err(e), Err(e)),
    };
    let icc2 = (msb - mse) / (msb + (k - 1.0) * mse + k * (msj - mse) / n);
    let icc2k = (msb - mse) / (msb + (msj - mse) / n);
    let limits = f_limits(f.0, df1, df2);
    let single = limits.map(|(fl, fu)| [(fl - 1.0) / (fl + k - 1.0), (fu - 1.0) / (fu + k - 1.0)]);
    let average = limits.map(|(fl, fu)| [1.0 - 1.0 / fl, 1.0 - 1.0 / fu]);
    let ci2 = absolute_ci(ms, icc2);
    let ci2k = ci2.map(|[l, u]| [l * k / (1.0 + l * (k - 1.0)), u * k / (1.0 + u * (k - 1.0))]);
    (
        form(icc2, f, df1, df2, ci2),
        form((msb - mse) / (msb + (k - 1.0) * mse), f, df1, df2, single),
        form(icc2k, f, df1, df2, ci2k),
        form((msb - mse) / msb, f, df1, df2, average),
    )
}

/// F and its p, or why there is none.
fn test(num: f64, den: f64, df1: f64, df2: f64) -> Result<(f64, f64), Missing> {
    if den.is_nan() || den <= 0.0 {
        return Err(Missing("no variation within scripts: the F test is undefined"));
    }
    let f = finite(num / den, "F is not finite")?;
    Ok((f, f_sf(f, df1, df2)?))
}

/// The lower and upper F bounds of cases 1 and 3.
fn f_limits(f: f64, df1: f64, df2: f64) -> Result<(f64, f64), Missing> {
    Ok((f / f_ppf(0.975, df1, df2)?, f * f_ppf(0.975, df2, df1)?))
}

/// The confidence interval of ICC(2,1) (McGraw and Wong, through Satterthwaite's df).
fn absolute_ci(ms: &MeanSquares, icc2: f64) -> Result<[f64; 2], Missing> {
    let &MeanSquares {
        n, k, msb, msj, mse, ..
    } = ms;
    let (df1, df2) = (n - 1.0, (n - 1.0) * (k - 1.0));
    let fj = msj / mse;
    let a = n * (1.0 + (k - 1.0) * icc2) - k * icc2;
    let vn = df2 * (k * icc2 * fj + a).powi(2);
    let vd = df1 * k * k * icc2 * icc2 * fj * fj + a * a;
    let v = vn / vd;
    if !(v.is_finite() && v > 0.0) {
        return Err(Missing("the interval's degrees of freedom are undefined"));
    }
    let f2u = f_ppf(0.975, n - 1.0, v)?;
    let f2l = f_ppf(0.975, v, n - 1.0)?;
    let base = k * msj + (k * n - k - n) * mse;
    let l = n * (msb - f2u * mse) / (f2u * base + n * msb);
    let u = n * (f2l * msb - mse) / (base + n * f2l * msb);
    Ok([l, u])
}

fn form(value: f64, (f, p): (f64, f64), df1: f64, df2: f64, ci: Result<[f64; 2], Missing>) -> FormResult {
    let value = finite(value, "no variation between or within scripts")?;
    let ci95 = ci.and_then(|c| {
        if c.iter().all(|v| v.is_finite()) {
            Ok(c)
        } else {
            Err(Missing("the interval is not finite"))
        }
    });
    Ok(Form {
        value,
        f,
        df1,
        df2,
        p,
        ci95,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::statistics::Mark;

    fn design(table: &[&[f64]]) -> Design {
        let mut marks = Vec::new();
        for (s, row) in table.iter().enumerate() {
            for (m, &score) in row.iter().enumerate() {
                marks.push(Mark {
                    script: s as u32,
                    marker: m as u32,
                    score,
                    seq: None,
                });
            }
        }
        Design::new(&marks)
    }

    #[test]
    fn constant_scores_give_missing_forms_not_nan() {
        let d = design(&[&[3.0, 3.0], &[3.0, 3.0], &[3.0, 3.0]]);
        let icc = icc(&d, &d.reliability_rows());
        assert!(icc.forms.iter().all(|f| f.is_err()));
    }

    #[test]
    fn one_script_or_one_marker_gives_nothing() {
        let d = design(&[&[3.0, 4.0]]);
        assert!(icc(&d, &d.reliability_rows()).forms.iter().all(|f| f.is_err()));
        let d = design(&[&[3.0], &[4.0], &[5.0]]);
        assert!(icc(&d, &d.reliability_rows()).forms.iter().all(|f| f.is_err()));
    }

    #[test]
    fn perfect_agreement_has_no_f_but_no_panic() {
        let d = design(&[&[1.0, 1.0], &[2.0, 2.0], &[5.0, 5.0]]);
        let icc = icc(&d, &d.reliability_rows());
        assert!(icc.forms.iter().all(|f| f.is_err()));
    }
}
