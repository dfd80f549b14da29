//! limma 3.54.1's `lmFit` → `contrasts.fit` → `eBayes` (moderated t and F) and `treat`, reproduced number for number.

mod fdist;
mod qr;
pub(crate) mod rmath;
mod robust;

use nalgebra::{DMatrix, DVector};

use crate::dist::{pf_upper, StudentT};
use fdist::squeeze_var;
use qr::{Qr, LM_FIT_TOL};

/// `contrasts.fit`: a non-estimable coefficient enters as 0 with this standard deviation…
const NA_COEF_STDEV: f64 = 1e30;
/// …and any contrast whose standard deviation then exceeds this is set back to NA.
const NA_COEF_STDEV_LIMIT: f64 = 1e20;
/// `contrasts.fit`: coefficients count as orthogonal when every off-diagonal correlation is below this.
const ORTHOGONAL_TOL: f64 = 1e-14;
/// `classifyTestsF`: eigenvalues of the contrast correlation matrix above this fraction of the
/// largest count towards the F statistic's numerator df.
const F_EIGEN_TOL: f64 = 1e-8;
/// `is.fullrank`: smallest/largest eigenvalue of X'X must exceed this (else `eBayes` skips F).
const FULLRANK_EIGEN_TOL: f64 = 1e-13;

/// Errors from the limma pipeline; messages are full sentences for the job's error record.
#[derive(Debug, thiserror::Error)]
pub enum LimmaError {
    #[error("the expression matrix has no proteins (zero rows)")]
    NoGenes,
    #[error("the expression matrix has {len} values, which is not a whole number of rows of {n_samples} samples")]
    RaggedValues { len: usize, n_samples: usize },
    #[error(
        "the design matrix has {design_rows} rows but the expression matrix has {n_samples} samples; they must match"
    )]
    DesignRows { design_rows: usize, n_samples: usize },
    #[error("the design matrix has no columns")]
    EmptyDesign,
    #[error("the design matrix contains missing or infinite values")]
    NonFiniteDesign,
    #[error(
        "the design matrix has rank {rank} but {n_coef} columns, so some coefficients cannot be estimated (is a covariate confounded with the groups?)"
    )]
    DesignNotFullRank { rank: usize, n_coef: usize },
    #[error(
        "the design matrix is numerically singular (its columns are almost linearly dependent), so the coefficients cannot be estimated reliably"
    )]
    DesignIllConditioned,
    #[error(
        "no residual degrees of freedom in any protein: every protein has no more observed values than the model has coefficients, so no variance can be estimated"
    )]
    NoResidualDf,
    #[error("no protein has a finite residual standard deviation")]
    NoFiniteSigma,
    #[error("the prior degrees of freedom could not be estimated from the residual variances")]
    PriorNotEstimable,
    #[error(
        "the intensity trend needs a mean intensity for every protein, but protein {protein} (0-based) has no observed values; remove empty proteins first"
    )]
    TrendCovariateMissing { protein: usize },
    #[error(
        "the intensity trend needs a finite mean intensity for every protein, but protein {protein} (0-based) has an infinite one; remove infinite intensities first"
    )]
    TrendCovariateInfinite { protein: usize },
    #[error(
        "robust empirical Bayes needs at least 3 proteins with residual degrees of freedom, but there are only {n}; use robust = false"
    )]
    RobustTooFewProteins { n: usize },
    #[error(
        "robust empirical Bayes cannot be used: at least half of the residual variances are zero; use robust = false"
    )]
    RobustVariancesMostlyZero,
    #[error("the contrast matrix has {rows} rows but the fit has {n_coef} coefficients; they must match")]
    ContrastRows { rows: usize, n_coef: usize },
    #[error("the contrast matrix contains missing or infinite weights")]
    NonFiniteContrasts,
    #[error(
        "the coefficients' correlation matrix is not positive definite (the design's columns are numerically dependent), so the contrasts cannot be estimated"
    )]
    CoefficientCorrelation,
}

/// What `lmFit` (and `contrasts.fit`) return, in limma's terms.
#[derive(Debug, Clone)]
pub struct LinearModelFit {
    pub n_genes: usize,
    pub n_coef: usize,
    /// n_genes × n_coef row-major; NaN where not estimable (R `NA`).
    pub coefficients: Vec<f64>,
    /// Same shape as `coefficients`.
    pub stdev_unscaled: Vec<f64>,
    /// Residual standard deviation; NaN when `df_residual` is 0.
    pub sigma: Vec<f64>,
    pub df_residual: Vec<f64>,
    /// `rowMeans(values, na.rm = TRUE)`: NaN for a protein without observed values.
    pub amean: Vec<f64>,
    /// Unscaled covariance of the coefficients from the full design (after `contrasts_fit`: of the contrasts).
    pub cov_coefficients: DMatrix<f64>,
}

/// Options of `eBayes`; everything else (`proportion`, `stdev.coef.lim`, `winsor.tail.p`) at limma's defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct EbayesOptions {
    /// Intensity-dependent prior variance (`trend = TRUE`: natural spline in `Amean`).
    pub trend: bool,
    /// Robust hyperparameters (`robust = TRUE`, `fitFDistRobustly`): outlier variances get a smaller prior df.
    pub robust: bool,
}

/// What `eBayes` adds to the fit.
#[derive(Debug, Clone)]
pub struct EbayesResult {
    /// Prior variance per gene (constant unless `trend`).
    pub s2_prior: Vec<f64>,
    /// Prior df per gene (constant unless `robust`); may be `+∞`.
    pub df_prior: Vec<f64>,
    pub s2_post: Vec<f64>,
    /// Moderated t, genes × coefficients row-major.
    pub t: Vec<f64>,
    /// `min(df_residual + df_prior, sum(df_residual))`.
    pub df_total: Vec<f64>,
    /// Two-sided p-values, genes × coefficients row-major.
    pub p_value: Vec<f64>,
    /// Moderated F over all coefficients of the fit; NaN where any t is NaN.
    pub f: Vec<f64>,
    pub f_df1: f64,
    /// `df_prior + df_residual` (not capped, as limma).
    pub f_df2: Vec<f64>,
    pub f_p_value: Vec<f64>,
}

/// Rank of the design as `qr(design)$rank` (R's `dqrdc2` with tolerance 1e-7), which is what limma
/// reports as "Coefficients not estimable".
pub fn design_rank(design: &DMatrix<f64>) -> usize {
    let (n, p) = design.shape();
    if n == 0 || p == 0 {
        return 0;
    }
    let mut qr = Qr::new(n, p);
    qr.matrix_mut(n).copy_from_slice(design.as_slice());
    qr.factor(LM_FIT_TOL);
    qr.rank
}

/// limma's `is.fullrank`: eigenvalues of X'X, smallest/largest above 1e-13.
fn is_fullrank(design: &DMatrix<f64>) -> bool {
    let e = (design.transpose() * design).symmetric_eigenvalues();
    let max = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = e.iter().copied().fold(f64::INFINITY, f64::min);
    max > 0.0 && (min / max).abs() > FULLRANK_EIGEN_TOL
}

/// limma `lmFit(values, design)` by least squares: proteins with missing values (NaN or ±∞) are
/// fitted on their own observed samples, like `lm.series`.
///
/// Unlike limma, a design that is not of full rank is an error rather than a fit with `NA`
/// columns: limma then also skips the F statistic, and for a proteomics design it always means a
/// confounded covariate.
pub fn lm_fit(values: &[f64], n_samples: usize, design: &DMatrix<f64>) -> Result<LinearModelFit, LimmaError> {
    if n_samples == 0 || values.is_empty() {
        return Err(LimmaError::NoGenes);
    }
    if !values.len().is_multiple_of(n_samples) {
        return Err(LimmaError::RaggedValues { len: values.len(), n_samples });
    }
    if design.nrows() != n_samples {
        return Err(LimmaError::DesignRows { design_rows: design.nrows(), n_samples });
    }
    let p = design.ncols();
    if p == 0 {
        return Err(LimmaError::EmptyDesign);
    }
    if design.iter().any(|v| !v.is_finite()) {
        return Err(LimmaError::NonFiniteDesign);
    }
    let n_genes = values.len() / n_samples;
    let x = design.as_slice(); // column-major

    let mut full = Qr::new(n_samples, p);
    full.matrix_mut(n_samples).copy_from_slice(x);
    full.factor(LM_FIT_TOL);
    if full.rank < p {
        return Err(LimmaError::DesignNotFullRank { rank: full.rank, n_coef: p });
    }
    if !is_fullrank(design) {
        return Err(LimmaError::DesignIllConditioned);
    }
    let cov = DMatrix::from_row_slice(p, p, &full.unscaled_covariance());
    let mut full_stdev = vec![0.0; p];
    full.stdev_unscaled(&mut full_stdev);
    let full_df = (n_samples - p) as f64;

    let mut coefficients = vec![f64::NAN; n_genes * p];
    let mut stdev_unscaled = vec![f64::NAN; n_genes * p];
    let mut sigma = vec![f64::NAN; n_genes];
    let mut df_residual = vec![0.0; n_genes];
    let mut amean = vec![f64::NAN; n_genes];

    let mut gene_qr = Qr::new(n_samples, p);
    let mut y = vec![0.0; n_samples];
    for g in 0..n_genes {
        let row = &values[g * n_samples..(g + 1) * n_samples];
        let coef = &mut coefficients[g * p..(g + 1) * p];
        let sd = &mut stdev_unscaled[g * p..(g + 1) * p];

        let (mut sum, mut cnt) = (0.0, 0usize);
        for &v in row {
            if !v.is_nan() {
                sum += v;
                cnt += 1;
            }
        }
        if cnt > 0 {
            amean[g] = sum / cnt as f64;
        }

        let n_obs = row.iter().filter(|v| v.is_finite()).count();
        if n_obs == n_samples {
            y.copy_from_slice(row);
            let rss = full.solve(&mut y, coef);
            sd.copy_from_slice(&full_stdev);
            df_residual[g] = full_df;
            if full_df > 0.0 {
                sigma[g] = (rss / full_df).sqrt();
            }
            continue;
        }
        if n_obs == 0 {
            continue;
        }
        fill_observed(&mut gene_qr, row, x, n_obs, &mut y);
        gene_qr.factor(LM_FIT_TOL);
        let rss = gene_qr.solve(&mut y[..n_obs], coef);
        gene_qr.stdev_unscaled(sd);
        let df = (n_obs - gene_qr.rank) as f64;
        df_residual[g] = df;
        if df > 0.0 {
            sigma[g] = (rss / df).sqrt();
        }
    }
    Ok(LinearModelFit {
        n_genes,
        n_coef: p,
        coefficients,
        stdev_unscaled,
        sigma,
        df_residual,
        amean,
        cov_coefficients: cov,
    })
}

/// Loads the design rows (column-major `x`, one row per sample) and values of a protein's `n_obs` observed samples
/// into `qr` and `y`, for a fit on those samples only (limma `lm.series`).
fn fill_observed(qr: &mut Qr, row: &[f64], x: &[f64], n_obs: usize, y: &mut [f64]) {
    let (n_samples, p) = (row.len(), x.len() / row.len().max(1));
    let a = qr.matrix_mut(n_obs);
    let mut i = 0;
    for (s, &v) in row.iter().enumerate() {
        if v.is_finite() {
            for j in 0..p {
                a[j * n_obs + i] = x[j * n_samples + s];
            }
            y[i] = v;
            i += 1;
        }
    }
}

fn cov2cor(cov: &DMatrix<f64>) -> DMatrix<f64> {
    let d: Vec<f64> = (0..cov.nrows()).map(|i| cov[(i, i)].sqrt()).collect();
    DMatrix::from_fn(cov.nrows(), cov.ncols(), |i, j| cov[(i, j)] / (d[i] * d[j]))
}

/// limma `contrasts.fit(fit, contrasts)`, `contrasts` being n_coef × n_contrasts. Refused (as limma stops) when
/// `contrasts` does not have one row per coefficient or contains non-finite weights.
pub fn contrasts_fit(fit: &LinearModelFit, contrasts: &DMatrix<f64>) -> Result<LinearModelFit, LimmaError> {
    if contrasts.nrows() != fit.n_coef {
        return Err(LimmaError::ContrastRows { rows: contrasts.nrows(), n_coef: fit.n_coef });
    }
    if !contrasts.iter().all(|v| v.is_finite()) {
        return Err(LimmaError::NonFiniteContrasts);
    }
    let ng = fit.n_genes;
    let m = contrasts.ncols();
    let keep: Vec<usize> = (0..fit.n_coef).filter(|&k| (0..m).any(|j| contrasts[(k, j)] != 0.0)).collect();
    let q = keep.len();
    let c = DMatrix::from_fn(q, m, |i, j| contrasts[(keep[i], j)]);
    let cov = DMatrix::from_fn(q, q, |i, j| fit.cov_coefficients[(keep[i], keep[j])]);
    let cor = cov2cor(&cov);
    let orthog = (0..q).all(|i| (0..i).all(|j| cor[(i, j)].abs() < ORTHOGONAL_TOL));
    let cov_out = c.transpose() * &cov * &c;

    let mut coef_in = vec![0.0; ng * q];
    let mut sd_in = vec![0.0; ng * q];
    let mut na_coef = false;
    for g in 0..ng {
        for (i, &k) in keep.iter().enumerate() {
            let b = fit.coefficients[g * fit.n_coef + k];
            if b.is_nan() {
                na_coef = true;
                coef_in[g * q + i] = 0.0;
                sd_in[g * q + i] = NA_COEF_STDEV;
            } else {
                coef_in[g * q + i] = b;
                sd_in[g * q + i] = fit.stdev_unscaled[g * fit.n_coef + k];
            }
        }
    }
    let mut coefficients = vec![0.0; ng * m];
    let mut stdev = vec![0.0; ng * m];
    // Upper Cholesky factor of the correlation matrix, row-major, for the non-orthogonal path.
    let rchol: Vec<f64> = if orthog || q == 0 {
        Vec::new()
    } else {
        let l = cor.clone().cholesky().ok_or(LimmaError::CoefficientCorrelation)?.unpack();
        let mut r = vec![0.0; q * q];
        for i in 0..q {
            for k in i..q {
                r[i * q + k] = l[(k, i)];
            }
        }
        r
    };
    // Contrast matrices are sparse (a pairwise contrast has two non-zeros): keep the non-zeros.
    let nonzero: Vec<Vec<(usize, f64)>> =
        (0..m).map(|j| (0..q).filter(|&i| c[(i, j)] != 0.0).map(|i| (i, c[(i, j)])).collect()).collect();
    let mut ruc = vec![0.0; q];
    for g in 0..ng {
        let b = &coef_in[g * q..(g + 1) * q];
        let s = &sd_in[g * q..(g + 1) * q];
        let out_coef = &mut coefficients[g * m..(g + 1) * m];
        let out_sd = &mut stdev[g * m..(g + 1) * m];
        for (j, nz) in nonzero.iter().enumerate() {
            out_coef[j] = nz.iter().map(|&(i, cij)| b[i] * cij).sum();
            if orthog {
                out_sd[j] = nz.iter().map(|&(i, cij)| s[i] * s[i] * (cij * cij)).sum::<f64>().sqrt();
            } else {
                ruc.iter_mut().for_each(|v| *v = 0.0);
                for &(i, cij) in nz {
                    ruc[i] = s[i] * cij;
                }
                let mut v = 0.0;
                for i in 0..q {
                    let r: f64 = (i..q).map(|k| rchol[i * q + k] * ruc[k]).sum();
                    v += r * r;
                }
                out_sd[j] = v.sqrt();
            }
        }
    }
    if na_coef {
        for (b, s) in coefficients.iter_mut().zip(stdev.iter_mut()) {
            if *s > NA_COEF_STDEV_LIMIT {
                *b = f64::NAN;
                *s = f64::NAN;
            }
        }
    }
    Ok(LinearModelFit {
        n_genes: ng,
        n_coef: m,
        coefficients,
        stdev_unscaled: stdev,
        sigma: fit.sigma.clone(),
        df_residual: fit.df_residual.clone(),
        amean: fit.amean.clone(),
        cov_coefficients: cov_out,
    })
}

/// t distributions by df: proteins share a handful of total df (residual df + prior df), and a
/// [`StudentT`] carries tables worth reusing.
#[derive(Default)]
struct StudentTCache {
    entries: Vec<(u64, StudentT)>,
}

impl StudentTCache {
    /// Beyond this many distinct df the last entry is recycled.
    const MAX_ENTRIES: usize = 64;

    fn get(&mut self, df: f64) -> &StudentT {
        let key = df.to_bits();
        let i = match self.entries.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                if self.entries.len() == Self::MAX_ENTRIES {
                    self.entries.pop();
                }
                self.entries.push((key, StudentT::new(df)));
                self.entries.len() - 1
            }
        };
        &self.entries[i].1
    }
}

/// Shared by [`ebayes`] and [`treat`]: `squeezeVar` on the fit's residual variances.
struct Squeezed {
    s2_prior: Vec<f64>,
    df_prior: Vec<f64>,
    s2_post: Vec<f64>,
    df_total: Vec<f64>,
}

fn squeeze(fit: &LinearModelFit, opts: &EbayesOptions) -> Result<Squeezed, LimmaError> {
    let max_df = fit.df_residual.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max_df == 0.0 {
        return Err(LimmaError::NoResidualDf);
    }
    if !fit.sigma.iter().any(|s| s.is_finite()) {
        return Err(LimmaError::NoFiniteSigma);
    }
    let var: Vec<f64> = fit.sigma.iter().map(|s| s * s).collect();
    let covariate = if opts.trend { Some(fit.amean.as_slice()) } else { None };
    let sq = squeeze_var(&var, &fit.df_residual, covariate, opts.robust)?;
    let df_pooled: f64 = fit.df_residual.iter().filter(|d| !d.is_nan()).sum();
    let df_prior = if sq.df_prior.len() == fit.n_genes { sq.df_prior } else { vec![sq.df_prior[0]; fit.n_genes] };
    let df_total = fit.df_residual.iter().zip(&df_prior).map(|(d, p)| (d + p).min(df_pooled)).collect();
    Ok(Squeezed { s2_prior: sq.var_prior, df_prior, s2_post: sq.var_post, df_total })
}

/// limma `eBayes(fit, trend, robust)`: moderated t, p-values and the moderated F over all
/// coefficients of `fit` (`classifyTestsF(fit, fstat.only = TRUE)`, F p-value by `pf`).
pub fn ebayes(fit: &LinearModelFit, opts: &EbayesOptions) -> Result<EbayesResult, LimmaError> {
    let sq = squeeze(fit, opts)?;
    let (ng, m) = (fit.n_genes, fit.n_coef);
    let mut t = vec![f64::NAN; ng * m];
    let mut p_value = vec![f64::NAN; ng * m];
    let mut dists = StudentTCache::default();
    for g in 0..ng {
        let s = sq.s2_post[g].sqrt();
        let dist = dists.get(sq.df_total[g]);
        for j in 0..m {
            let k = g * m + j;
            t[k] = fit.coefficients[k] / fit.stdev_unscaled[k] / s;
            p_value[k] = dist.two_sided(t[k]);
        }
    }

    // classifyTestsF(fstat.only = TRUE)
    let f_df2: Vec<f64> = fit.df_residual.iter().zip(&sq.df_prior).map(|(d, p)| d + p).collect();
    let mut f = vec![f64::NAN; ng];
    let f_df1;
    if m == 1 {
        f_df1 = 1.0;
        for g in 0..ng {
            f[g] = t[g] * t[g];
        }
    } else if m > 1 {
        let mut cov = fit.cov_coefficients.clone();
        for i in 0..m {
            if cov[(i, i)] == 0.0 {
                cov[(i, i)] = 1.0;
            }
        }
        let eig = cov2cor(&cov).symmetric_eigen();
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let lmax = eig.eigenvalues[order[0]];
        let r = order.iter().filter(|&&i| eig.eigenvalues[i] / lmax > F_EIGEN_TOL).count();
        // Q = V[, 1:r] diag(1/sqrt(λ)) / sqrt(r), stored column-major m × r.
        let mut qm = vec![0.0; m * r];
        for (c, &i) in order.iter().take(r).enumerate() {
            let w = 1.0 / (eig.eigenvalues[i].sqrt() * (r as f64).sqrt());
            for row in 0..m {
                qm[c * m + row] = eig.eigenvectors[(row, i)] * w;
            }
        }
        f_df1 = r as f64;
        for g in 0..ng {
            let tg = &t[g * m..(g + 1) * m];
            let mut acc = 0.0;
            for c in 0..r {
                let col = &qm[c * m..(c + 1) * m];
                let v: f64 = col.iter().zip(tg).map(|(a, b)| a * b).sum();
                acc += v * v;
            }
            f[g] = acc;
        }
    } else {
        f_df1 = f64::NAN;
    }
    let f_p_value = f.iter().zip(&f_df2).map(|(&fv, &d2)| pf_upper(fv, f_df1, d2)).collect();
    Ok(EbayesResult {
        s2_prior: sq.s2_prior,
        df_prior: sq.df_prior,
        s2_post: sq.s2_post,
        t,
        df_total: sq.df_total,
        p_value,
        f,
        f_df1,
        f_df2,
        f_p_value,
    })
}

/// Moderated F test of "any difference among the groups" for each protein from its own fit.
#[derive(Debug, Clone)]
pub struct GroupFTest {
    pub f: Vec<f64>,
    /// Estimable group differences in this protein's fit (groups with observed values − 1); NaN below 2 groups.
    pub df1: Vec<f64>,
    /// `df_residual + df_prior`, as limma's F.
    pub df2: Vec<f64>,
    pub p_value: Vec<f64>,
}

/// The moderated F statistic of H0 "all group coefficients equal" from each protein's own least-squares fit on its
/// observed samples: `F = (Lb)ᵀ (L V Lᵀ)⁻¹ (Lb) / (r · s2_post)`, `V` the unscaled covariance of that protein's
/// estimable coefficients, `L` the differences of its estimable `group_columns` to the first of them, `r` their
/// number, `s2_post` from [`ebayes`]. It does not depend on the contrasts asked for; for a protein without missing
/// values it equals limma's `classifyTestsF` F over any full set of group contrasts. limma's own F (the `f` of
/// [`EbayesResult`]) instead uses the design's shared covariance for every protein, which misstates the correlation
/// of a protein's t-statistics when some of its values are missing.
pub fn group_ftest(
    values: &[f64],
    n_samples: usize,
    design: &DMatrix<f64>,
    group_columns: &[usize],
    df_residual: &[f64],
    eb: &EbayesResult,
) -> GroupFTest {
    let n_genes = values.len().checked_div(n_samples).unwrap_or(0);
    let p = design.ncols();
    let x = design.as_slice();
    let mut out = GroupFTest {
        f: vec![f64::NAN; n_genes],
        df1: vec![f64::NAN; n_genes],
        df2: vec![f64::NAN; n_genes],
        p_value: vec![f64::NAN; n_genes],
    };
    let mut qr = Qr::new(n_samples, p);
    let mut y = vec![0.0; n_samples];
    let mut coef = vec![0.0; p];
    for g in 0..n_genes {
        let row = &values[g * n_samples..(g + 1) * n_samples];
        let n_obs = row.iter().filter(|v| v.is_finite()).count();
        if n_obs == 0 {
            continue;
        }
        fill_observed(&mut qr, row, x, n_obs, &mut y);
        qr.factor(LM_FIT_TOL);
        qr.solve(&mut y[..n_obs], &mut coef);
        let cov = qr.unscaled_covariance();
        let r = qr.rank;
        let pos: Vec<usize> = group_columns
            .iter()
            .filter_map(|&c| qr.pivot[..r].iter().position(|&pc| pc == c).filter(|_| coef[c].is_finite()))
            .collect();
        let cols: Vec<usize> = pos.iter().map(|&k| qr.pivot[k]).collect();
        if pos.len() < 2 {
            continue;
        }
        let q = pos.len() - 1;
        let v = |a: usize, b: usize| cov[pos[a] * r + pos[b]];
        let lb = DVector::from_fn(q, |i, _| coef[cols[i + 1]] - coef[cols[0]]);
        let m = DMatrix::from_fn(q, q, |i, j| v(i + 1, j + 1) - v(i + 1, 0) - v(0, j + 1) + v(0, 0));
        let Some(chol) = m.cholesky() else { continue };
        let quad = lb.dot(&chol.solve(&lb));
        let f = quad / (q as f64 * eb.s2_post[g]);
        let df2 = df_residual[g] + eb.df_prior[g];
        out.f[g] = f;
        out.df1[g] = q as f64;
        out.df2[g] = df2;
        out.p_value[g] = pf_upper(f, q as f64, df2);
    }
    out
}

/// limma 3.54 `treat(fit, lfc = lfc)` using the variance moderation of `eb`: t-statistics and
/// p-values for |log fold change| > `lfc`, genes × coefficients row-major. t is 0 for
/// |coefficient| ≤ lfc and NaN where the coefficient is NaN.
pub fn treat(fit: &LinearModelFit, eb: &EbayesResult, lfc: f64) -> (Vec<f64>, Vec<f64>) {
    let lfc = lfc.abs();
    let (ng, m) = (fit.n_genes, fit.n_coef);
    let mut t = vec![0.0; ng * m];
    let mut p = vec![f64::NAN; ng * m];
    let mut dists = StudentTCache::default();
    for g in 0..ng {
        let s = eb.s2_post[g].sqrt();
        let dist = dists.get(eb.df_total[g]);
        for j in 0..m {
            let k = g * m + j;
            let b = fit.coefficients[k];
            let se = fit.stdev_unscaled[k] * s;
            let right = (b.abs() - lfc) / se;
            let left = (b.abs() + lfc) / se;
            p[k] = dist.upper(right) + dist.upper(left);
            t[k] = if b.is_nan() {
                f64::NAN
            } else if b > lfc {
                right.max(0.0)
            } else if b < -lfc {
                -right.max(0.0)
            } else {
                0.0
            };
        }
    }
    (t, p)
}
