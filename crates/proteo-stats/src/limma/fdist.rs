//! limma's `fitFDist` and `squeezeVar` (3.54 legacy behaviour), with the natural-spline trend and the robust fit.

use super::qr::{Qr, LM_FIT_TOL};
use super::LimmaError;
use crate::special::{digamma, trigamma, trigamma_inverse};

/// `fitFDist`: only residual df above this enter the fit.
const MIN_DF: f64 = 1e-15;
/// `fitFDist`: variances above this (i.e. not negative beyond rounding) enter the fit.
const MIN_VAR: f64 = -1e-15;
/// `fitFDist`: zero variances are offset to this fraction of the median variance.
const ZERO_VAR_OFFSET: f64 = 1e-5;

/// Prior variances (one per gene) and prior degrees of freedom from `fitFDist`.
pub(crate) struct FDistFit {
    pub scale: Vec<f64>,
    pub df2: f64,
}

/// R's `median` of a non-empty slice (mean of the two middle values for even length).
pub(super) fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// R `quantile(x, prob, type = 7)` of a sorted slice.
pub(super) fn quantile7(sorted: &[f64], prob: f64) -> f64 {
    let index = (sorted.len() - 1) as f64 * prob;
    let lo = index.floor() as usize;
    let hi = index.ceil() as usize;
    let h = index - lo as f64;
    if h > 0.0 && sorted[hi] != sorted[lo] {
        (1.0 - h) * sorted[lo] + h * sorted[hi]
    } else {
        sorted[lo]
    }
}

/// A basis of the natural cubic splines with the given knots (boundary knots first and last):
/// the same function space as `splines::ns(x, knots = interior, Boundary.knots = range,
/// intercept = TRUE)`, so least-squares fitted values and predictions agree with R's. Knots are
/// rescaled to [0, 1] for conditioning; beyond the boundary knots every basis function is linear,
/// as `ns` extrapolates.
struct NaturalSpline {
    knots: Vec<f64>,
    lo: f64,
    width: f64,
}

impl NaturalSpline {
    fn new(knots: &[f64]) -> Self {
        let lo = knots[0];
        let width = knots[knots.len() - 1] - lo;
        let width = if width > 0.0 { width } else { 1.0 };
        NaturalSpline { knots: knots.iter().map(|k| (k - lo) / width).collect(), lo, width }
    }

    fn dim(&self) -> usize {
        self.knots.len()
    }

    fn eval(&self, x: f64, out: &mut [f64]) {
        let u = (x - self.lo) / self.width;
        let k = &self.knots;
        let kk = k.len();
        let cube = |v: f64| if v > 0.0 { v * v * v } else { 0.0 };
        let d = |j: usize| (cube(u - k[j]) - cube(u - k[kk - 1])) / (k[kk - 1] - k[j]);
        out[0] = 1.0;
        out[1] = u;
        let dlast = d(kk - 2);
        for j in 0..kk - 2 {
            out[j + 2] = d(j) - dlast;
        }
    }
}

/// limma 3.54 `fitFDist(x, df1, covariate)`; `x` are the residual variances.
pub(crate) fn fit_f_dist(x: &[f64], df1: &[f64], covariate: Option<&[f64]>) -> Result<FDistFit, LimmaError> {
    let n = x.len();
    if n == 1 {
        return Ok(FDistFit { scale: x.to_vec(), df2: 0.0 });
    }
    let covariate: Option<Vec<f64>> = match covariate {
        None => None,
        Some(c) => {
            if let Some(i) = c.iter().position(|v| v.is_nan()) {
                return Err(LimmaError::TrendCovariateMissing { protein: i });
            }
            let fin: Vec<f64> = c.iter().copied().filter(|v| v.is_finite()).collect();
            let mut c = c.to_vec();
            if fin.len() < n {
                if fin.is_empty() {
                    c.iter_mut().for_each(|v| *v = v.signum());
                } else {
                    let lo = fin.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = fin.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    for v in c.iter_mut() {
                        if *v == f64::NEG_INFINITY {
                            *v = lo - 1.0;
                        } else if *v == f64::INFINITY {
                            *v = hi + 1.0;
                        }
                    }
                }
            }
            Some(c)
        }
    };
    let ok: Vec<bool> =
        (0..n).map(|i| df1[i].is_finite() && df1[i] > MIN_DF && x[i].is_finite() && x[i] > MIN_VAR).collect();
    let nok = ok.iter().filter(|&&o| o).count();
    if nok == 0 {
        return Err(LimmaError::PriorNotEstimable);
    }
    if nok == 1 {
        let v = x[ok.iter().position(|&o| o).unwrap_or(0)];
        return Ok(FDistFit { scale: vec![v; n], df2: 0.0 });
    }
    let xs: Vec<f64> = (0..n).filter(|&i| ok[i]).map(|i| x[i]).collect();
    let d1: Vec<f64> = (0..n).filter(|&i| ok[i]).map(|i| df1[i]).collect();
    if let Some(c) = &covariate {
        let cok: Vec<f64> = (0..n).filter(|&i| ok[i]).map(|i| c[i]).collect();
        let mut uniq = cok.clone();
        uniq.sort_by(f64::total_cmp);
        uniq.dedup();
        let splinedf = (1 + usize::from(nok >= 3) + usize::from(nok >= 6) + usize::from(nok >= 30)).min(uniq.len());
        if splinedf < 2 {
            let fit = fit_f_dist(&xs, &d1, None)?;
            return Ok(FDistFit { scale: vec![fit.scale[0]; n], df2: fit.df2 });
        }
    }
    let mut xs: Vec<f64> = xs.into_iter().map(|v| v.max(0.0)).collect();
    let mut m = median(&xs);
    if m == 0.0 {
        m = 1.0;
    }
    xs.iter_mut().for_each(|v| *v = v.max(ZERO_VAR_OFFSET * m));
    let e: Vec<f64> = xs.iter().zip(&d1).map(|(&v, &d)| v.ln() - digamma(d / 2.0) + (d / 2.0).ln()).collect();
    let mean_trigamma = d1.iter().map(|&d| trigamma(d / 2.0)).sum::<f64>() / nok as f64;

    // emean per gene (all n genes), evar.
    let (emean, evar): (Vec<f64>, f64) = match &covariate {
        None => {
            let em = e.iter().sum::<f64>() / nok as f64;
            let ev = e.iter().map(|v| (v - em) * (v - em)).sum::<f64>() / (nok - 1) as f64;
            (vec![em; n], ev)
        }
        Some(c) => {
            let cok: Vec<f64> = (0..n).filter(|&i| ok[i]).map(|i| c[i]).collect();
            let mut uniq = cok.clone();
            uniq.sort_by(f64::total_cmp);
            let ndistinct = {
                let mut u = uniq.clone();
                u.dedup();
                u.len()
            };
            let splinedf = (1 + usize::from(nok >= 3) + usize::from(nok >= 6) + usize::from(nok >= 30)).min(ndistinct);
            let mut knots = Vec::with_capacity(splinedf);
            knots.push(uniq[0]);
            for j in 1..splinedf - 1 {
                knots.push(quantile7(&uniq, j as f64 / (splinedf - 1) as f64));
            }
            knots.push(uniq[uniq.len() - 1]);
            let basis = NaturalSpline::new(&knots);
            let kdim = basis.dim();
            let mut qr = Qr::new(nok, kdim);
            let mut row = vec![0.0; kdim];
            {
                let a = qr.matrix_mut(nok);
                for (i, &cv) in cok.iter().enumerate() {
                    basis.eval(cv, &mut row);
                    for j in 0..kdim {
                        a[j * nok + i] = row[j];
                    }
                }
            }
            qr.factor(LM_FIT_TOL);
            let mut qty = e.clone();
            let mut coef = vec![0.0; kdim];
            let rss = qr.solve(&mut qty, &mut coef);
            let evar = rss / (nok - qr.rank) as f64;
            let mut emean = vec![0.0; n];
            for (i, em) in emean.iter_mut().enumerate() {
                basis.eval(c[i], &mut row);
                // Fitted values of the estimable columns; like R, a non-estimable coefficient
                // (NA) makes predictions NA.
                *em = row.iter().zip(&coef).map(|(b, c)| b * c).sum();
            }
            (emean, evar)
        }
    };
    let evar = evar - mean_trigamma;
    if evar > 0.0 {
        let df2 = 2.0 * trigamma_inverse(evar);
        let shift = digamma(df2 / 2.0) - (df2 / 2.0).ln();
        Ok(FDistFit { scale: emean.iter().map(|em| (em + shift).exp()).collect(), df2 })
    } else {
        let scale = match &covariate {
            None => vec![xs.iter().sum::<f64>() / nok as f64; n],
            Some(_) => emean.iter().map(|em| em.exp()).collect(),
        };
        Ok(FDistFit { scale, df2: f64::INFINITY })
    }
}

/// What `squeezeVar` returns, per gene.
pub(crate) struct Squeezed {
    pub var_prior: Vec<f64>,
    /// `df.prior`: one value for all genes unless `robust`; may be `+∞`.
    pub df_prior: Vec<f64>,
    pub var_post: Vec<f64>,
}

/// limma 3.54 `squeezeVar(var, df, covariate, robust)`.
pub(crate) fn squeeze_var(
    var: &[f64],
    df: &[f64],
    covariate: Option<&[f64]>,
    robust: bool,
) -> Result<Squeezed, LimmaError> {
    let n = var.len();
    if n == 1 {
        return Ok(Squeezed { var_prior: var.to_vec(), df_prior: vec![0.0], var_post: var.to_vec() });
    }
    let var: Vec<f64> = var.iter().zip(df).map(|(&v, &d)| if d == 0.0 { 0.0 } else { v }).collect();
    let (var_prior, df_prior) = if robust {
        if let Some(c) = covariate {
            if let Some(i) = c.iter().position(|v| v.is_nan()) {
                return Err(LimmaError::TrendCovariateMissing { protein: i });
            }
            if let Some(i) = c.iter().position(|v| v.is_infinite()) {
                return Err(LimmaError::TrendCovariateInfinite { protein: i });
            }
        }
        let fit = super::robust::fit_f_dist_robustly(&var, df, covariate)?;
        (fit.scale, fit.df2_shrunk)
    } else {
        let fit = fit_f_dist(&var, df, covariate)?;
        (fit.scale, vec![fit.df2; n])
    };
    if df_prior.iter().any(|d| d.is_nan()) {
        return Err(LimmaError::PriorNotEstimable);
    }
    // `.squeezeVar`: an infinite prior df gives the prior variance itself.
    let var_post = (0..n)
        .map(|i| {
            if df_prior[i].is_finite() {
                (df[i] * var[i] + df_prior[i] * var_prior[i]) / (df[i] + df_prior[i])
            } else {
                var_prior[i]
            }
        })
        .collect();
    Ok(Squeezed { var_prior, df_prior, var_post })
}

#[cfg(test)]
#[allow(clippy::excessive_precision)] // reference values exactly as R prints them with %.17g
mod tests {
    use super::*;

    #[test]
    fn quantile_type7_matches_r() {
        // R: quantile(c(1, 2, 4, 8, 16), c(1/3, 2/3)) = 2.6666666666666665, 6.6666666666666661
        let s = [1.0, 2.0, 4.0, 8.0, 16.0];
        assert!((quantile7(&s, 1.0 / 3.0) - 2.6666666666666661).abs() < 1e-14);
        assert!((quantile7(&s, 2.0 / 3.0) - 6.6666666666666661).abs() < 1e-14);
    }

    #[test]
    fn natural_spline_is_linear_beyond_boundary() {
        let b = NaturalSpline::new(&[0.0, 1.0, 3.0, 4.0]);
        let mut v = [[0.0; 4]; 3];
        for (k, x) in [5.0, 6.0, 7.0].iter().enumerate() {
            b.eval(*x, &mut v[k]);
        }
        for (j, ((a, b), c)) in v[0].iter().zip(&v[1]).zip(&v[2]).enumerate() {
            let second_difference = a - 2.0 * b + c;
            assert!(second_difference.abs() < 1e-12, "basis {j}");
        }
    }
}
