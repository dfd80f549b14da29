//! limma 3.54.1's `fitFDistRobustly`: prior variance and per-gene prior df robust to outlier variances.

use super::fdist::{fit_f_dist, median, quantile7};
use super::rmath::{df_density, gauss_quad_uniform, lowess_fit, pf_tails, qf, qf_log, zeroin, Tail};
use super::LimmaError;
use crate::dist::{pchisq_upper, pf_upper};

/// limma's default `winsor.tail.p`: the lower and upper tail proportions winsorized.
const WINSOR_TAIL_P: [f64; 2] = [0.05, 0.1];
/// `fitFDistRobustly`: genes with residual df at or below this are left out of the fit.
const MIN_DF: f64 = 1e-6;
/// Variances below this fraction of the median are raised to it.
const SMALL_VAR: f64 = 1e-12;
/// Residual df below `max(df1) − DF1_TOL` are mapped to `max(df1)` by matching F quantiles.
const DF1_TOL: f64 = 1e-14;
/// Gauss–Legendre nodes of the winsorized moments (`statmod::gauss.quad.prob(128, "uniform")`).
const QUAD_NODES: usize = 128;
/// `uniroot(tol = 1e-8)` for the prior df on the x/(1+x) scale, with uniroot's default maxiter.
const UNIROOT_TOL: f64 = 1e-8;
const UNIROOT_MAX_ITER: usize = 1000;
/// `loessFit(span = 0.4)` for the trend; its default `iterations = 4` is lowess `iter = 3`.
const LOESS_SPAN: f64 = 0.4;
const LOWESS_ITER: usize = 3;

/// What `fitFDistRobustly` returns that `squeezeVar` uses.
pub(crate) struct RobustFit {
    /// Prior variance per gene.
    pub scale: Vec<f64>,
    /// `df2`: the prior df before shrinking outliers.
    pub df2: f64,
    /// `df2.shrunk`: the prior df per gene.
    pub df2_shrunk: Vec<f64>,
}

/// R's `mean` (a second pass corrects the rounding of the first).
fn mean(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let s = x.iter().sum::<f64>() / n;
    if !s.is_finite() {
        return s;
    }
    s + x.iter().map(|v| v - s).sum::<f64>() / n
}

/// R's `mean(x, trim)` for 0 < trim < ½.
fn trimmed_mean(x: &[f64], trim: f64) -> f64 {
    let n = x.len();
    let lo = (n as f64 * trim).floor() as usize; // 0-based first kept
    let hi = n - lo; // exclusive
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    mean(&s[lo..hi])
}

/// R's `rank(x)` with ties averaged (1-based ranks).
fn rank_average(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut o: Vec<usize> = (0..n).collect();
    o.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut r = vec![0.0; n];
    let mut k = 0;
    while k < n {
        let mut e = k;
        while e + 1 < n && x[o[e + 1]] == x[o[k]] {
            e += 1;
        }
        let avg = (k + e) as f64 / 2.0 + 1.0;
        for &i in &o[k..=e] {
            r[i] = avg;
        }
        k = e + 1;
    }
    r
}

/// R's `order(x)` (stable, increasing).
fn order(x: &[f64]) -> Vec<usize> {
    let mut o: Vec<usize> = (0..x.len()).collect();
    o.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    o
}

/// R's `approx(x, y, xout, rule = 2, ties = mean)$y`.
fn approx_rule2(x: &[f64], y: &[f64], xout: &[f64]) -> Option<Vec<f64>> {
    let o = order(x);
    let mut ux: Vec<f64> = Vec::new();
    let mut uy: Vec<f64> = Vec::new();
    let mut k = 0;
    while k < o.len() {
        let mut e = k;
        while e + 1 < o.len() && x[o[e + 1]] == x[o[k]] {
            e += 1;
        }
        let ys: Vec<f64> = o[k..=e].iter().map(|&i| y[i]).collect();
        ux.push(x[o[k]]);
        uy.push(mean(&ys));
        k = e + 1;
    }
    if ux.len() < 2 {
        return None;
    }
    let last = ux.len() - 1;
    Some(
        xout.iter()
            .map(|&v| {
                if v < ux[0] {
                    return uy[0];
                }
                if v > ux[last] {
                    return uy[last];
                }
                let (mut i, mut j) = (0, last);
                while i + 1 < j {
                    let ij = (i + j) / 2;
                    if v < ux[ij] {
                        j = ij;
                    } else {
                        i = ij;
                    }
                }
                if v == ux[j] {
                    uy[j]
                } else if v == ux[i] {
                    uy[i]
                } else {
                    uy[i] + (uy[j] - uy[i]) * ((v - ux[i]) / (ux[j] - ux[i]))
                }
            })
            .collect(),
    )
}

/// Mean and variance of the winsorized log F(df1, df2) distribution (`winsorizedMoments`).
struct Moments {
    mean: f64,
    var: f64,
}

struct Quadrature {
    nodes: Vec<f64>,
    weights: Vec<f64>,
}

impl Quadrature {
    fn winsorized_moments(&self, df1: f64, df2: f64) -> Moments {
        let fq = [qf(WINSOR_TAIL_P[0], df1, df2), qf(1.0 - WINSOR_TAIL_P[1], df1, df2)];
        let zq = [fq[0].ln(), fq[1].ln()];
        let q = [link(fq[0]), link(fq[1])];
        let q21 = q[1] - q[0];
        let mut znodes = Vec::with_capacity(self.nodes.len());
        let mut fw = Vec::with_capacity(self.nodes.len());
        for (&g, &w) in self.nodes.iter().zip(&self.weights) {
            let node = q[0] + q21 * g;
            let fnode = link_inverse(node);
            znodes.push(fnode.ln());
            fw.push(w * df_density(fnode, df1, df2) / ((1.0 - node) * (1.0 - node)));
        }
        let m = q21 * fw.iter().zip(&znodes).map(|(a, z)| a * z).sum::<f64>()
            + (zq[0] * WINSOR_TAIL_P[0] + zq[1] * WINSOR_TAIL_P[1]);
        let v = q21 * fw.iter().zip(&znodes).map(|(a, z)| a * (z - m) * (z - m)).sum::<f64>()
            + ((zq[0] - m) * (zq[0] - m) * WINSOR_TAIL_P[0] + (zq[1] - m) * (zq[1] - m) * WINSOR_TAIL_P[1]);
        Moments { mean: m, var: v }
    }
}

/// `linkfun`: x / (1 + x), mapping df in [0, ∞] to [0, 1].
fn link(x: f64) -> f64 {
    x / (1.0 + x)
}

/// `linkinv`: x / (1 − x).
fn link_inverse(x: f64) -> f64 {
    x / (1.0 - x)
}

/// limma 3.54.1 `fitFDistRobustly(x, df1, covariate)` with the default `winsor.tail.p`.
/// `covariate` must be finite (checked by the caller).
pub(crate) fn fit_f_dist_robustly(x: &[f64], df1: &[f64], covariate: Option<&[f64]>) -> Result<RobustFit, LimmaError> {
    let n = x.len();
    if n < 2 {
        return Err(LimmaError::PriorNotEstimable);
    }
    if n == 2 {
        // limma returns fitFDist's fit without df2.shrunk here, and squeezeVar then fails.
        return Err(LimmaError::RobustTooFewProteins { n });
    }
    let ok: Vec<bool> = (0..n).map(|i| !x[i].is_nan() && df1[i].is_finite() && df1[i] > MIN_DF).collect();
    if ok.iter().any(|&o| !o) {
        let pick = |v: &[f64], keep: bool| -> Vec<f64> { (0..n).filter(|&i| ok[i] == keep).map(|i| v[i]).collect() };
        let cov_ok = covariate.map(|c| pick(c, true));
        let fit = fit_f_dist_robustly(&pick(x, true), &pick(df1, true), cov_ok.as_deref())?;
        let mut df2_shrunk = vec![fit.df2; n];
        let mut scale = vec![fit.scale[0]; n];
        for (k, i) in (0..n).filter(|&i| ok[i]).enumerate() {
            df2_shrunk[i] = fit.df2_shrunk[k];
            scale[i] = fit.scale[k];
        }
        if let (Some(c), Some(cov_ok)) = (covariate, &cov_ok) {
            let log_scale: Vec<f64> = fit.scale.iter().map(|s| s.ln()).collect();
            let predicted = approx_rule2(cov_ok, &log_scale, &pick(c, false)).ok_or(LimmaError::PriorNotEstimable)?;
            for (i, p) in (0..n).filter(|&i| !ok[i]).zip(predicted) {
                scale[i] = p.exp();
            }
        }
        return Ok(RobustFit { scale, df2: fit.df2, df2_shrunk });
    }

    let mut x = x.to_vec();
    let m = median(&x);
    if m.is_nan() || m <= 0.0 {
        return Err(LimmaError::RobustVariancesMostlyZero);
    }
    for v in x.iter_mut() {
        if *v < m * SMALL_VAR {
            *v = m * SMALL_VAR;
        }
    }
    let non_robust = fit_f_dist(&x, df1, covariate)?;
    let keep_non_robust =
        |fit: super::fdist::FDistFit| RobustFit { df2_shrunk: vec![fit.df2; n], df2: fit.df2, scale: fit.scale };
    if WINSOR_TAIL_P.iter().all(|&p| p < 1.0 / n as f64) {
        return Ok(keep_non_robust(non_robust));
    }

    let df1max = df1.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let smaller: Vec<usize> = (0..n).filter(|&i| df1[i] < df1max - DF1_TOL).collect();
    let df1 = if smaller.is_empty() {
        df1[0]
    } else {
        // Map each variance on fewer df to the variance on df1max with the same tail probability.
        let df2 = non_robust.df2;
        for &i in &smaller {
            let s = non_robust.scale[i];
            let f = x[i] / s;
            let (lower, upper) = pf_tails(f, df1[i], df2);
            let (log_lower, log_upper) = (lower.ln(), upper.ln());
            let f = if log_upper < log_lower {
                qf_log(log_upper, df1max, df2, Tail::Upper)
            } else {
                qf_log(log_lower, df1max, df2, Tail::Lower)
            };
            x[i] = f * s;
        }
        df1max
    };

    let z: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ztrend: Vec<f64> = match covariate {
        None => vec![trimmed_mean(&z, WINSOR_TAIL_P[1]); n],
        Some(c) => lowess_fit(&z, c, LOESS_SPAN, LOWESS_ITER),
    };
    let zresid: Vec<f64> = z.iter().zip(&ztrend).map(|(a, b)| a - b).collect();
    let mut sorted = zresid.clone();
    sorted.sort_by(f64::total_cmp);
    let zrq = [quantile7(&sorted, WINSOR_TAIL_P[0]), quantile7(&sorted, 1.0 - WINSOR_TAIL_P[1])];
    let zwins: Vec<f64> = zresid.iter().map(|&r| r.max(zrq[0]).min(zrq[1])).collect();
    let zwmean = mean(&zwins);
    let sq: Vec<f64> = zwins.iter().map(|v| (v - zwmean) * (v - zwmean)).collect();
    let zwvar = mean(&sq) * n as f64 / (n - 1) as f64;

    let (nodes, weights) = gauss_quad_uniform(QUAD_NODES);
    let quad = Quadrature { nodes, weights };
    let mom_inf = quad.winsorized_moments(df1, f64::INFINITY);
    let funval_inf = (zwvar / mom_inf.var).ln();
    let nf = n as f64;

    if funval_inf <= 0.0 {
        // The winsorized variance is no larger than for df2 = ∞: no prior-df estimate, only outliers.
        let ztc: Vec<f64> = ztrend.iter().map(|t| t + zwmean - mom_inf.mean).collect();
        let scale: Vec<f64> = ztc.iter().map(|v| v.exp()).collect();
        let fstat: Vec<f64> = z.iter().zip(&ztc).map(|(a, b)| (a - b).exp()).collect();
        let tail_p: Vec<f64> = fstat.iter().map(|&f| pchisq_upper(f * df1, df1)).collect();
        let r = rank_average(&fstat);
        let df_pooled = nf * df1;
        let mut df2_shrunk = vec![f64::INFINITY; n];
        let mut any_outlier = false;
        for i in 0..n {
            let empirical = (nf - r[i] + 0.5) / nf;
            let not_outlier = (tail_p[i] / empirical).min(1.0);
            if not_outlier < 1.0 {
                df2_shrunk[i] = not_outlier * df_pooled;
                any_outlier = true;
            }
        }
        if any_outlier {
            let mut running = f64::NEG_INFINITY;
            for i in order(&tail_p) {
                running = running.max(df2_shrunk[i]);
                df2_shrunk[i] = running;
            }
        }
        return Ok(RobustFit { scale, df2: f64::INFINITY, df2_shrunk });
    }
    if non_robust.df2 == f64::INFINITY {
        return Ok(keep_non_robust(non_robust));
    }

    let fun = |u: f64| (zwvar / quad.winsorized_moments(df1, link_inverse(u)).var).ln();
    let rbx = link(non_robust.df2);
    let funval_low = fun(rbx);
    let df2 = if funval_low >= 0.0 {
        non_robust.df2
    } else {
        link_inverse(zeroin(rbx, 1.0, funval_low, funval_inf, fun, UNIROOT_TOL, UNIROOT_MAX_ITER))
    };

    let mom = quad.winsorized_moments(df1, df2);
    let ztc: Vec<f64> = ztrend.iter().map(|t| t + zwmean - mom.mean).collect();
    let scale: Vec<f64> = ztc.iter().map(|v| v.exp()).collect();
    let fstat: Vec<f64> = z.iter().zip(&ztc).map(|(a, b)| (a - b).exp()).collect();
    let log_tail_p: Vec<f64> = fstat.iter().map(|&f| pf_upper(f, df1, df2).ln()).collect();
    let r = rank_average(&fstat);
    let log_not_outlier: Vec<f64> =
        (0..n).map(|i| (log_tail_p[i] - ((nf - r[i] + 0.5).ln() - nf.ln())).min(0.0)).collect();
    if !log_not_outlier.iter().any(|&l| l < 0.0) {
        return Ok(RobustFit { scale, df2, df2_shrunk: vec![df2; n] });
    }
    let not_outlier: Vec<f64> = log_not_outlier.iter().map(|l| l.exp()).collect();
    let outlier: Vec<f64> = log_not_outlier.iter().map(|l| -l.exp_m1()).collect();
    let min_log_tail_p = log_tail_p.iter().copied().fold(f64::INFINITY, f64::min);
    let mut df2_shrunk: Vec<f64> = if min_log_tail_p == f64::NEG_INFINITY {
        not_outlier.iter().map(|p| p * df2).collect()
    } else {
        // The df at which the most extreme F would have tail probability ½, refined once.
        let half = 0.5f64.ln();
        let df2_outlier = half / min_log_tail_p * df2;
        let fmax = fstat.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let new_log_tail_p = pf_upper(fmax, df1, df2_outlier).ln();
        let df2_outlier = half / new_log_tail_p * df2_outlier;
        (0..n).map(|i| not_outlier[i] * df2 + outlier[i] * df2_outlier).collect()
    };
    // Pool the most outlying genes to their smallest running mean, then make monotone.
    let o = order(&log_tail_p);
    let mut ordered: Vec<f64> = o.iter().map(|&i| df2_shrunk[i]).collect();
    let mut cum = 0.0;
    let (mut imin, mut mmin) = (0, f64::INFINITY);
    for (k, v) in ordered.iter().enumerate() {
        cum += v;
        let m = cum / (k + 1) as f64;
        if m < mmin {
            mmin = m;
            imin = k;
        }
    }
    for v in &mut ordered[..=imin] {
        *v = mmin;
    }
    let mut running = f64::NEG_INFINITY;
    for (k, &i) in o.iter().enumerate() {
        running = running.max(ordered[k]);
        df2_shrunk[i] = running;
    }
    Ok(RobustFit { scale, df2, df2_shrunk })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_averages_ties_like_r() {
        // R: rank(c(3, 1, 3, 2, 3)) = 4 1 4 2 4
        assert_eq!(rank_average(&[3.0, 1.0, 3.0, 2.0, 3.0]), vec![4.0, 1.0, 4.0, 2.0, 4.0]);
    }

    #[test]
    fn trimmed_mean_like_r() {
        // R: mean(c(10, 1:9, 100), trim = 0.1) = 6 (drops one value at each end)
        let x = [10.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 100.0];
        assert_eq!(trimmed_mean(&x, 0.1), 6.0);
    }

    #[test]
    fn approx_averages_ties_and_extends_flat() {
        // R: approx(c(1, 2, 2, 4), c(0, 1, 3, 8), xout = c(0, 1.5, 3, 5), rule = 2, ties = mean)$y
        //    = 0 1 5 8
        let y = approx_rule2(&[1.0, 2.0, 2.0, 4.0], &[0.0, 1.0, 3.0, 8.0], &[0.0, 1.5, 3.0, 5.0]).unwrap();
        assert_eq!(y, vec![0.0, 1.0, 5.0, 8.0]);
    }
}
