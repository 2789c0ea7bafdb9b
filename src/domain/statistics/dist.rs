//! The distributions the tests need, from statrs' special functions. Tails are taken directly
//! (the regularised incomplete beta or gamma of the tail itself), never as 1 − cdf, so a small
//! p keeps its relative precision; invalid arguments give [`Missing`], never a panic.

use statrs::distribution::{ContinuousCDF, FisherSnedecor};
use statrs::function::beta::checked_beta_reg;
use statrs::function::gamma::{checked_gamma_lr, checked_gamma_ur};

use super::{Figure, Missing};

const BAD_DF: Missing = Missing("degrees of freedom not positive");

/// P(F > f) on (d1, d2) degrees of freedom (scipy `f.sf`).
pub(crate) fn f_sf(f: f64, d1: f64, d2: f64) -> Figure {
    if !(d1 > 0.0 && d2 > 0.0) {
        return Err(BAD_DF);
    }
    if f.is_nan() {
        return Err(Missing("F is not a number"));
    }
    if f <= 0.0 {
        return Ok(1.0);
    }
    if f == f64::INFINITY {
        return Ok(0.0);
    }
    // The upper tail is I_{d2/(d2 + d1 f)}(d2/2, d1/2).
    let x = d2 / (d2 + d1 * f);
    checked_beta_reg(d2 / 2.0, d1 / 2.0, x).map_err(|_| Missing("the F tail could not be computed"))
}

/// The F quantile at probability `p` (scipy `f.ppf`), refined by Newton steps on the tail so
/// that confidence limits carry full precision.
pub(crate) fn f_ppf(p: f64, d1: f64, d2: f64) -> Figure {
    if !(d1 > 0.0 && d2 > 0.0) {
        return Err(BAD_DF);
    }
    if !(0.0 < p && p < 1.0) {
        return Err(Missing("probability outside (0, 1)"));
    }
    let dist = FisherSnedecor::new(d1, d2).map_err(|_| BAD_DF)?;
    let mut x = dist.inverse_cdf(p);
    if !(x.is_finite() && x > 0.0) {
        return Err(Missing("the F quantile could not be computed"));
    }
    use statrs::distribution::Continuous;
    for _ in 0..4 {
        let tail = f_sf(x, d1, d2)?;
        let density = dist.pdf(x);
        if !(density > 0.0 && density.is_finite()) {
            break;
        }
        let step = (tail - (1.0 - p)) / density;
        let next = x + step;
        if !(next.is_finite() && next > 0.0) || step.abs() <= x * 1e-16 {
            break;
        }
        x = next;
    }
    Ok(x)
}

/// Two-sided p of Student's t on `df` degrees of freedom: I_{df/(df + t²)}(df/2, 1/2).
pub(crate) fn t_two_sided(t: f64, df: f64) -> Figure {
    if df.is_nan() || df <= 0.0 {
        return Err(BAD_DF);
    }
    if t.is_nan() {
        return Err(Missing("t is not a number"));
    }
    if t.is_infinite() {
        return Ok(0.0);
    }
    let x = df / (df + t * t);
    checked_beta_reg(df / 2.0, 0.5, x).map_err(|_| Missing("the t tail could not be computed"))
}

/// Upper and lower tails of chi-square with `df` (not necessarily whole) degrees of freedom.
pub(crate) fn chi2_tails(x: f64, df: f64) -> Result<(f64, f64), Missing> {
    if df.is_nan() || df <= 0.0 {
        return Err(BAD_DF);
    }
    if x.is_nan() || x < 0.0 {
        return Err(Missing("chi-square statistic not a non-negative number"));
    }
    if x == 0.0 {
        return Ok((1.0, 0.0));
    }
    if x == f64::INFINITY {
        return Ok((0.0, 1.0));
    }
    let fail = |_| Missing("the chi-square tail could not be computed");
    let upper = checked_gamma_ur(df / 2.0, x / 2.0).map_err(fail)?;
    let lower = checked_gamma_lr(df / 2.0, x / 2.0).map_err(fail)?;
    Ok((upper, lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn tails_match_scipy() {
        // scipy.stats.f.sf(11.7866927592955, 7, 21)
        assert!(close(
            f_sf(11.7866927592955, 7.0, 21.0).unwrap(),
            5.0257154640603615e-06,
            1e-10
        ));
        // scipy.stats.t.sf(2.0, 10) * 2
        assert!(close(t_two_sided(2.0, 10.0).unwrap(), 0.07338803477074037, 1e-12));
        // scipy.stats.chi2.sf(3.0, 2.5)
        let (up, lo) = chi2_tails(3.0, 2.5).unwrap();
        assert!(close(up + lo, 1.0, 1e-14));
        // scipy.stats.f.ppf(0.975, 7, 21)
        assert!(close(f_ppf(0.975, 7.0, 21.0).unwrap(), 2.968630335010687, 1e-12));
    }

    #[test]
    fn bad_arguments_are_missing() {
        assert!(f_sf(1.0, 0.0, 3.0).is_err());
        assert!(f_sf(f64::NAN, 1.0, 3.0).is_err());
        assert!(t_two_sided(1.0, -1.0).is_err());
        assert!(chi2_tails(-1.0, 2.0).is_err());
        assert!(f_ppf(1.0, 2.0, 3.0).is_err());
        assert_eq!(t_two_sided(f64::INFINITY, 3.0), Ok(0.0));
    }
}
