//! proteo-stats' limma against R 4.2.2 / limma 3.54.1 (fixtures from `tests/reference/limma_reference.R`).

mod common;

use common::{compare, Case};
use nalgebra::DMatrix;
use proteo_stats::limma::{
    contrasts_fit, design_rank, ebayes, lm_fit, treat, EbayesOptions, LimmaError, LinearModelFit,
};
use proteo_stats::padjust::p_adjust_bh;

/// Plain lmFit → contrasts.fit → eBayes agrees with limma to this relative error.
const PLAIN_TOL: f64 = 1e-8;
/// trend = TRUE (spline fit in a different basis from R's B-splines) agrees to this.
const TREND_TOL: f64 = 1e-6;
/// robust = TRUE agrees to this (the tolerance). limma's `uniroot(tol = 1e-8)` fixes the
/// prior df only to ~1e-8 on the df/(1+df) scale; we repeat its steps, and the hyperparameters
/// agree to ~1e-13 on these cases.
const ROBUST_TOL: f64 = 1e-6;
/// Values smaller than this (coefficients and t of a zero-variance protein, which are rounding
/// noise in both implementations) are compared absolutely at `tol × NEAR_ZERO`.
const NEAR_ZERO: f64 = 1e-6;
/// p-values are compared down to this (R's own accuracy limit for our purposes).
const SMALLEST_P: f64 = 1e-300;

fn run(case: &Case, opts: &EbayesOptions) -> (LinearModelFit, proteo_stats::limma::EbayesResult) {
    let fit = lm_fit(&case.values, case.n_samples, &case.design).expect("lm_fit");
    let fit = match &case.contrasts {
        Some(c) => contrasts_fit(&fit, c).unwrap(),
        None => fit,
    };
    let eb = ebayes(&fit, opts).expect("ebayes");
    (fit, eb)
}

fn check_all(name: &str, opts: EbayesOptions, tol: f64) -> (Case, LinearModelFit, proteo_stats::limma::EbayesResult) {
    let case = Case::load(name);
    let (fit, eb) = run(&case, &opts);
    let m = fit.n_coef;
    let q = |s: &str, ncol: usize| case.quantity(s, ncol);
    let c = |what: &str, ours: &[f64], ncol: usize, floor: f64| {
        compare(&format!("{name}/{what}"), ours, &q(what, ncol), tol, floor, 0.0);
    };
    let p = |what: &str, ours: &[f64], ncol: usize| {
        compare(&format!("{name}/{what}"), ours, &q(what, ncol), tol, 0.0, SMALLEST_P);
    };
    c("coefficients", &fit.coefficients, m, NEAR_ZERO);
    c("stdev_unscaled", &fit.stdev_unscaled, m, 0.0);
    c("sigma", &fit.sigma, 1, NEAR_ZERO);
    c("df_residual", &fit.df_residual, 1, 0.0);
    c("amean", &fit.amean, 1, 0.0);
    let cov_r = &case.results["cov_coefficients"];
    let cov_r: Vec<f64> = {
        let mut v = vec![f64::NAN; m * m];
        for &(i, j, x) in cov_r {
            v[(i - 1) * m + (j - 1)] = x;
        }
        v
    };
    let cov_ours: Vec<f64> = (0..m * m).map(|k| fit.cov_coefficients[(k / m, k % m)]).collect();
    compare(&format!("{name}/cov_coefficients"), &cov_ours, &cov_r, tol, NEAR_ZERO, 0.0);
    c("s2_prior", &eb.s2_prior, 1, 0.0);
    c("df_prior", &eb.df_prior, 1, 0.0);
    c("s2_post", &eb.s2_post, 1, 0.0);
    c("t", &eb.t, m, NEAR_ZERO);
    c("df_total", &eb.df_total, 1, 0.0);
    p("p_value", &eb.p_value, m);
    let mut adj = vec![f64::NAN; eb.p_value.len()];
    for j in 0..m {
        let col: Vec<f64> = (0..fit.n_genes).map(|g| eb.p_value[g * m + j]).collect();
        for (g, v) in p_adjust_bh(&col).into_iter().enumerate() {
            adj[g * m + j] = v;
        }
    }
    p("adj_p_value", &adj, m);
    if case.has("f") {
        c("f", &eb.f, 1, NEAR_ZERO);
        assert_eq!(eb.f_df1, case.scalar("f_df1"), "{name}: F df1");
        c("f_df2", &eb.f_df2, 1, 0.0);
        p("f_p_value", &eb.f_p_value, 1);
    }
    (case, fit, eb)
}

#[test]
fn three_groups_with_missing_values_and_awkward_rows() {
    let (case, fit, eb) = check_all("three_groups", EbayesOptions::default(), PLAIN_TOL);
    // The awkward rows really are awkward: one NA contrast pattern per row as constructed in R.
    assert!(fit.coefficients[2 * 3..3 * 3].iter().all(|v| v.is_nan()), "all-missing row");
    assert!(fit.sigma[5].is_nan() && fit.df_residual[5] == 0.0, "df 0 row");
    assert!(eb.f[2].is_nan());

    // (7) treat(lfc = 1) on the same fit.
    let (t, p) = treat(&fit, &eb, 1.0);
    compare("three_groups/treat_t", &t, &case.quantity("treat_t", 3), PLAIN_TOL, NEAR_ZERO, 0.0);
    compare("three_groups/treat_p_value", &p, &case.quantity("treat_p_value", 3), PLAIN_TOL, 0.0, SMALLEST_P);
}

#[test]
fn two_groups_complete_intercept_design() {
    check_all("two_groups", EbayesOptions::default(), PLAIN_TOL);
}

#[test]
fn nine_groups_all_pairs_and_f() {
    let (_, fit, eb) = check_all("nine_groups", EbayesOptions::default(), PLAIN_TOL);
    assert_eq!(fit.n_coef, 36);
    assert_eq!(eb.f_df1, 8.0);
}

#[test]
fn nine_groups_with_intensity_trend() {
    let (_, _, eb) = check_all("nine_groups_trend", EbayesOptions { trend: true, robust: false }, TREND_TOL);
    let first = eb.s2_prior[0];
    assert!(eb.s2_prior.iter().any(|&s| (s - first).abs() > 1e-3 * first), "trend varies");
}

#[test]
fn trend_predicts_prior_for_proteins_without_residual_df() {
    let (_, fit, eb) = check_all("three_groups_trend", EbayesOptions { trend: true, robust: false }, TREND_TOL);
    let g = fit.df_residual.iter().position(|&d| d == 0.0).expect("a protein with df 0");
    assert!(fit.amean[g].is_finite() && eb.s2_prior[g].is_finite());
}

#[test]
fn trend_refuses_a_protein_without_values() {
    let case = Case::load("three_groups");
    let fit =
        contrasts_fit(&lm_fit(&case.values, case.n_samples, &case.design).unwrap(), case.contrasts.as_ref().unwrap())
            .unwrap();
    let err = ebayes(&fit, &EbayesOptions { trend: true, robust: false }).unwrap_err();
    assert!(matches!(err, LimmaError::TrendCovariateMissing { protein: 2 }), "{err}");
}

#[test]
fn batch_and_covariate_non_orthogonal_contrasts() {
    let case = Case::load("batch_covariate");
    let cor = {
        let fit = lm_fit(&case.values, case.n_samples, &case.design).unwrap();
        let c = &fit.cov_coefficients;
        c[(0, 1)] / (c[(0, 0)] * c[(1, 1)]).sqrt()
    };
    assert!(cor.abs() > 1e-3, "the group coefficients must be correlated for this case");
    check_all("batch_covariate", EbayesOptions::default(), PLAIN_TOL);
}

#[test]
fn single_protein() {
    let (_, _, eb) = check_all("single_gene", EbayesOptions::default(), PLAIN_TOL);
    assert_eq!(eb.df_prior, vec![0.0]);
}

#[test]
fn evar_not_positive_gives_infinite_prior_df() {
    let (_, _, eb) = check_all("infinite_prior_df", EbayesOptions::default(), PLAIN_TOL);
    assert!(eb.df_prior.iter().all(|d| d.is_infinite()));
}

const ROBUST: EbayesOptions = EbayesOptions { trend: false, robust: true };
const ROBUST_TREND: EbayesOptions = EbayesOptions { trend: true, robust: true };

/// Robust fits give per-protein prior df: some proteins (the outliers) get less than the rest.
fn assert_df_prior_varies(eb: &proteo_stats::limma::EbayesResult) {
    let max = eb.df_prior.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = eb.df_prior.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(min < 0.9 * max, "df_prior from {min} to {max}");
}

#[test]
fn nine_groups_robust() {
    // Unequal residual df (missing values) are mapped to the largest; a few proteins are mildly
    // outlying (R: df.prior from 4.003 to 4.178, four distinct values).
    let (_, _, eb) = check_all("nine_groups_robust", ROBUST, ROBUST_TOL);
    let max = eb.df_prior.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(eb.df_prior.iter().any(|&d| d < max - 0.1), "df_prior constant");
}

#[test]
fn nine_groups_robust_with_intensity_trend() {
    // The winsorized variance around the lowess trend is below that of F(df1, ∞): R takes
    // df.prior = Inf (the non-robust trend fit gives 406.7) and no protein is an outlier.
    let (_, _, eb) = check_all("nine_groups_robust_trend", ROBUST_TREND, ROBUST_TOL);
    assert!(eb.df_prior.iter().all(|d| d.is_infinite()));
    let first = eb.s2_prior[0];
    assert!(eb.s2_prior.iter().any(|&s| (s - first).abs() > 1e-3 * first), "trend varies");
}

#[test]
fn outlier_variances_get_a_smaller_prior_df() {
    let (case, fit, eb) = check_all("outliers_robust", ROBUST, ROBUST_TOL);
    // Proteins 1–12 were given a 5–40x larger residual sd in R.
    let typical = eb.df_prior[100];
    assert!(eb.df_prior[..12].iter().filter(|&&d| d < 0.5 * typical).count() >= 6, "{:?}", &eb.df_prior[..12]);
    let (t, p) = treat(&fit, &eb, 1.0);
    compare("outliers_robust/treat_t", &t, &case.quantity("treat_t", 3), ROBUST_TOL, NEAR_ZERO, 0.0);
    compare("outliers_robust/treat_p_value", &p, &case.quantity("treat_p_value", 3), ROBUST_TOL, 0.0, SMALLEST_P);
}

#[test]
fn outlier_variances_robust_with_intensity_trend() {
    let (_, _, eb) = check_all("outliers_robust_trend", ROBUST_TREND, ROBUST_TOL);
    assert_df_prior_varies(&eb);
}

#[test]
fn robust_with_missing_values_and_awkward_rows() {
    let (case, fit, eb) = check_all("three_groups_robust", ROBUST, ROBUST_TOL);
    assert!(fit.df_residual[5] == 0.0 && eb.df_prior[5].is_finite(), "df 0 row gets the pooled prior df");
    let (t, p) = treat(&fit, &eb, 1.0);
    compare("three_groups_robust/treat_t", &t, &case.quantity("treat_t", 3), ROBUST_TOL, NEAR_ZERO, 0.0);
    compare("three_groups_robust/treat_p_value", &p, &case.quantity("treat_p_value", 3), ROBUST_TOL, 0.0, SMALLEST_P);
}

#[test]
fn robust_trend_interpolates_prior_for_proteins_without_residual_df() {
    let (_, fit, eb) = check_all("three_groups_robust_trend", ROBUST_TREND, ROBUST_TOL);
    let g = fit.df_residual.iter().position(|&d| d == 0.0).expect("a protein with df 0");
    assert!(eb.s2_prior[g].is_finite());
}

#[test]
fn robust_with_infinite_prior_df_shrinks_only_outliers() {
    let (_, _, eb) = check_all("infinite_prior_df_robust", ROBUST, ROBUST_TOL);
    assert!(eb.df_prior.iter().any(|d| d.is_infinite()));
    assert!(eb.df_prior[..4].iter().any(|d| d.is_finite()), "{:?}", &eb.df_prior[..4]);
}

#[test]
fn robust_with_fewer_than_ten_proteins_is_the_plain_fit() {
    // limma: when both winsor.tail.p are below 1/n nothing is winsorized and the non-robust fit is kept.
    let case = Case::load("two_groups");
    let fit = lm_fit(&case.values[..9 * case.n_samples], case.n_samples, &case.design).unwrap();
    let robust = ebayes(&fit, &ROBUST).unwrap();
    let plain = ebayes(&fit, &EbayesOptions::default()).unwrap();
    assert_eq!(robust.df_prior, plain.df_prior);
    assert_eq!(robust.s2_post, plain.s2_post);
    let fit = lm_fit(&case.values[..10 * case.n_samples], case.n_samples, &case.design).unwrap();
    let robust = ebayes(&fit, &ROBUST).unwrap();
    let plain = ebayes(&fit, &EbayesOptions::default()).unwrap();
    assert_ne!(robust.df_prior, plain.df_prior, "from 10 proteins on the tails are winsorized");
}

#[test]
fn robust_trend_refuses_a_protein_without_values() {
    let case = Case::load("three_groups");
    let fit =
        contrasts_fit(&lm_fit(&case.values, case.n_samples, &case.design).unwrap(), case.contrasts.as_ref().unwrap())
            .unwrap();
    let err = ebayes(&fit, &ROBUST_TREND).unwrap_err();
    assert!(matches!(err, LimmaError::TrendCovariateMissing { protein: 2 }), "{err}");
}

#[test]
fn robust_needs_three_proteins() {
    // limma 3.54.1 returns no df.prior for two proteins and eBayes then fails.
    let design = DMatrix::from_row_slice(4, 2, &[1., 0., 1., 0., 0., 1., 0., 1.]);
    let fit = lm_fit(&[1.0, 2.0, 3.0, 5.0, 2.0, 2.5, 7.0, 6.0], 4, &design).unwrap();
    let err = ebayes(&fit, &ROBUST).unwrap_err();
    assert!(matches!(err, LimmaError::RobustTooFewProteins { n: 2 }), "{err}");
    assert!(err.to_string().contains("use robust = false"));
}

#[test]
fn no_residual_df_is_an_error() {
    // Two samples, two coefficients: nothing left for the variance.
    let design = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 1.0]);
    let fit = lm_fit(&[1.0, 2.0, 3.0, 5.0], 2, &design).unwrap();
    let err = ebayes(&fit, &EbayesOptions::default()).unwrap_err();
    assert!(matches!(err, LimmaError::NoResidualDf), "{err}");
    assert!(err.to_string().starts_with("no residual degrees of freedom in any protein"));
}

#[test]
fn rank_deficient_design_is_refused() {
    // Intercept plus both group indicators: rank 2 of 3 (R: nonEstimable gives the third column).
    let design = DMatrix::from_row_slice(4, 3, &[1., 1., 0., 1., 1., 0., 1., 0., 1., 1., 0., 1.]);
    assert_eq!(design_rank(&design), 2);
    let err = lm_fit(&[1.0, 2.0, 3.0, 4.0], 4, &design).unwrap_err();
    assert!(matches!(err, LimmaError::DesignNotFullRank { rank: 2, n_coef: 3 }));
}

/// The distribution tails agree with R to this relative error wherever R's value is ≥ 1e-300…
const DIST_TOL: f64 = 1e-10;
/// …for df up to 1e6. Beyond, the incomplete-beta continued fraction loses ~n·ε (R's TOMS 708
/// switches to asymptotic expansions there): at 1e7 df the error reaches a few 1e-10.
const DIST_TOL_HUGE_DF: f64 = 2e-9;
const HUGE_DF: f64 = 1e6;

#[test]
fn distribution_tails_match_r() {
    use proteo_stats::dist::{pchisq_upper, pf_upper, pnorm_lower, pt_two_sided, pt_upper};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/limma_dist_reference.tsv");
    let text = std::fs::read_to_string(path).expect("dist fixture; run tests/reference/limma_reference.R");
    let mut worst: std::collections::BTreeMap<String, f64> = Default::default();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (x, a, b, want) = (
            common::parse_number(f[1]),
            common::parse_number(f[2]),
            common::parse_number(f[3]),
            common::parse_number(f[4]),
        );
        let got = match f[0] {
            "pt_upper" => pt_upper(x, a),
            "pt_two_sided" => pt_two_sided(x, a),
            "pf_upper" => pf_upper(x, a, b),
            "pchisq_upper" => pchisq_upper(x, a),
            "pnorm_lower" => pnorm_lower(x),
            other => panic!("unknown function {other}"),
        };
        if want < SMALLEST_P {
            assert!(got < 2.0 * SMALLEST_P, "{line}: got {got:e}");
            continue;
        }
        let err = if got == want { 0.0 } else { (got - want).abs() / want };
        let finite_df = [a, b].into_iter().filter(|d| d.is_finite()).fold(0.0, f64::max);
        let tol = if finite_df > HUGE_DF { DIST_TOL_HUGE_DF } else { DIST_TOL };
        assert!(err <= tol, "{line}: got {got:e}, relative error {err:e}");
        let w = worst.entry(f[0].to_string()).or_default();
        *w = w.max(err);
    }
    eprintln!("distribution tails, max relative error: {worst:?}");
}
