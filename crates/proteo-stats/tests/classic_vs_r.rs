//! Classical tests, ptukey and Tukey HSD against R 4.2.2 (fixtures from `tests/reference/classic_reference.R`).

use std::collections::HashMap;

use proteo_stats::anova::{anova_oneway, welch_anova};
use proteo_stats::ptukey::{ptukey, ptukey_upper, upper_normal, StudentizedRange, StudentizedRangeCache};
use proteo_stats::ttest::{student_t, welch_t};
use proteo_stats::tukey::tukey_pair;

/// Statistics (t, F, df, means) are a few arithmetic operations away from R's: relative agreement to 1e-10
/// (observed ≤ 1e-14; the margin covers a different summation order).
const STAT_REL_TOL: f64 = 1e-10;
/// p-values from the t and F tails (`crate::dist`, statrs' regularised incomplete beta): relative 1e-8 or absolute
/// 1e-14, whichever is larger (observed below 1e-12 relative).
const P_REL_TOL: f64 = 1e-8;
const P_ABS_TOL: f64 = 1e-14;
/// The target for Tukey p-values and the studentized range against R: 1e-6 absolute where `p > 1e-12`.
const PTUKEY_VS_R_TOL: f64 = 1e-6;
/// R's `ptukey` has its own error, up to about 3e-5 for `df = 2`: where it exceeds `PTUKEY_VS_R_TOL` we require
/// agreement with the defining double integral evaluated by R's `integrate()` at `rel.tol = 1e-12`.
const PTUKEY_VS_INTEGRATE_TOL: f64 = 1e-10;
/// Table against direct quadrature: the bound of the module docs of `proteo_stats::ptukey`.
const TABLE_VS_DIRECT_REL_TOL: f64 = 1e-9;
/// Only R tail values above this are meaningful (R computes the upper tail as 1 − CDF).
const R_UPPER_TAIL_FLOOR: f64 = 1e-12;
/// `pnorm` against our normal tail: relative 1e-13 (the `exp(−x²/2)` rounding grows like `x²·ε`).
const PNORM_REL_TOL: f64 = 1e-13;

fn fixture(name: &str) -> Vec<HashMap<String, String>> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("header").split('\t').map(str::to_owned).collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| header.iter().cloned().zip(l.split('\t').map(str::to_owned)).collect())
        .collect()
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    parse(row.get(col).unwrap_or_else(|| panic!("no column {col}")))
}

fn parse(s: &str) -> f64 {
    match s {
        "NA" => f64::NAN,
        "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
    }
}

fn values(row: &HashMap<String, String>, col: &str) -> Vec<f64> {
    row[col].split(',').filter(|s| !s.is_empty()).map(parse).collect()
}

fn indices(row: &HashMap<String, String>, col: &str) -> Vec<usize> {
    row[col].split(',').map(|s| s.parse().expect("group index")).collect()
}

fn close(ours: f64, r: f64, rel: f64, abs: f64) -> bool {
    if r.is_nan() {
        return ours.is_nan();
    }
    if r.is_infinite() {
        return ours == r;
    }
    (ours - r).abs() <= abs.max(rel * r.abs())
}

fn check(what: &str, ours: f64, r: f64, rel: f64, abs: f64) {
    assert!(close(ours, r, rel, abs), "{what}: ours {ours:e}, R {r:e}, diff {:e}", ours - r);
}

#[test]
fn t_tests_match_r() {
    for row in fixture("classic_ttest.tsv") {
        let case = &row["case"];
        let (a, b) = (values(&row, "a"), values(&row, "b"));
        let w = welch_t(&a, &b);
        let s = student_t(&a, &b);
        check(&format!("{case} diff"), w.diff, num(&row, "diff"), STAT_REL_TOL, 0.0);
        check(&format!("{case} welch t"), w.t, num(&row, "welch_t"), STAT_REL_TOL, 0.0);
        check(&format!("{case} welch df"), w.df, num(&row, "welch_df"), STAT_REL_TOL, 0.0);
        check(&format!("{case} welch p"), w.p_value, num(&row, "welch_p"), P_REL_TOL, P_ABS_TOL);
        check(&format!("{case} student t"), s.t, num(&row, "student_t"), STAT_REL_TOL, 0.0);
        check(&format!("{case} student df"), s.df, num(&row, "student_df"), STAT_REL_TOL, 0.0);
        check(&format!("{case} student p"), s.p_value, num(&row, "student_p"), P_REL_TOL, P_ABS_TOL);
    }
}

#[test]
fn one_way_anova_matches_r() {
    for row in fixture("classic_anova.tsv") {
        let case = &row["case"];
        let (y, g) = (values(&row, "values"), indices(&row, "groups"));
        let n_groups = num(&row, "n_groups") as usize;
        let fit = anova_oneway(&y, &g, n_groups);
        check(&format!("{case} F"), fit.f, num(&row, "f"), STAT_REL_TOL, 0.0);
        check(&format!("{case} df1"), fit.df1, num(&row, "df1"), 0.0, 0.0);
        check(&format!("{case} df2"), fit.df2, num(&row, "df2"), 0.0, 0.0);
        check(&format!("{case} p"), fit.p_value, num(&row, "p"), P_REL_TOL, P_ABS_TOL);
        if !num(&row, "f").is_nan() {
            check(&format!("{case} mse"), fit.mse, num(&row, "mse"), STAT_REL_TOL, 1e-300);
        }
        let welch = welch_anova(&y, &g, n_groups);
        check(&format!("{case} Welch F"), welch.f, num(&row, "welch_f"), STAT_REL_TOL, 0.0);
        check(&format!("{case} Welch df2"), welch.df2, num(&row, "welch_df2"), STAT_REL_TOL, 0.0);
        check(&format!("{case} Welch p"), welch.p_value, num(&row, "welch_p"), P_REL_TOL, P_ABS_TOL);
        if !welch.f.is_nan() {
            check(&format!("{case} Welch df1"), welch.df1, num(&row, "welch_df1"), 0.0, 0.0);
        }
    }
}

#[test]
fn normal_tail_matches_pnorm() {
    for row in fixture("classic_pnorm.tsv") {
        let x = num(&row, "x");
        check(&format!("Q({x})"), upper_normal(x), num(&row, "upper"), PNORM_REL_TOL, 0.0);
    }
}

#[test]
fn ptukey_agrees_with_an_independent_double_integral() {
    for row in fixture("classic_ptukey_integrate.tsv") {
        let (q, k, df) = (num(&row, "q"), num(&row, "k"), num(&row, "df"));
        let reference = num(&row, "upper_integrate");
        let at = format!("q={q} k={k} df={df}");
        check(&format!("ptukey_upper {at}"), ptukey_upper(q, k, df), reference, PTUKEY_VS_INTEGRATE_TOL, 0.0);
        let table = StudentizedRange::new(k as usize, df);
        check(&format!("table {at}"), table.upper(q), reference, PTUKEY_VS_INTEGRATE_TOL, 0.0);
    }
}

/// Every grid point through the tables, the direct quadrature on every fifth point (~1 ms each). For `df ≤ 10`
/// the reference is the defining integral (R's `ptukey` is off by up to 2e-3 there); above, R's `ptukey`.
#[test]
fn ptukey_grid_matches_r_and_the_defining_integral() {
    let mut cache = StudentizedRangeCache::new();
    let (mut worst_vs_r, mut worst_vs_integral, mut worst_r_error) = (0.0f64, 0.0f64, 0.0f64);
    for (i, row) in fixture("classic_ptukey.tsv").iter().enumerate() {
        let (q, k, df) = (num(row, "q"), num(row, "k"), num(row, "df"));
        let (r_lower, r_upper, integral) = (num(row, "lower"), num(row, "upper"), num(row, "upper_integrate"));
        let at = format!("q={q} k={k} df={df}");
        let table = cache.upper(q, k as usize, df);
        assert!((0.0..=1.0).contains(&table), "{at}: {table}");
        let reference_upper = if integral.is_nan() { r_upper } else { integral };
        if integral.is_nan() {
            if r_upper > R_UPPER_TAIL_FLOOR {
                let err = (table - r_upper).abs();
                worst_vs_r = worst_vs_r.max(err);
                assert!(err <= PTUKEY_VS_R_TOL, "{at}: table {table:e} R {r_upper:e}");
            }
        } else {
            worst_vs_integral = worst_vs_integral.max((table - integral).abs() / integral);
            worst_r_error = worst_r_error.max((r_upper - integral).abs());
            check(&format!("table {at}"), table, integral, PTUKEY_VS_INTEGRATE_TOL, 0.0);
        }
        if k == 2.0 {
            // Q for two means is sqrt(2)·|T|.
            let exact = proteo_stats::dist::pt_two_sided(q / std::f64::consts::SQRT_2, df);
            check(&format!("table vs t {at}"), table, exact, PTUKEY_VS_INTEGRATE_TOL, 0.0);
        }
        if i % 5 == 0 {
            let upper = ptukey_upper(q, k, df);
            let lower = ptukey(q, k, df);
            check(&format!("direct vs table {at}"), upper, table, TABLE_VS_DIRECT_REL_TOL, 0.0);
            assert!((upper + lower - 1.0).abs() <= 1e-12, "{at}: lower {lower:e} + upper {upper:e} ≠ 1");
            if reference_upper > R_UPPER_TAIL_FLOOR {
                let reference_lower = if integral.is_nan() { r_lower } else { 1.0 - integral };
                assert!((lower - reference_lower).abs() <= PTUKEY_VS_R_TOL, "{at}: lower {lower:e}");
            }
        }
    }
    eprintln!(
        "ptukey grid: max |table − R| = {worst_vs_r:.1e} (df > 10), max relative |table − integral| = \
         {worst_vs_integral:.1e} (df ≤ 10), where R ptukey itself is off by up to {worst_r_error:.1e}"
    );
}

#[test]
fn tukey_hsd_matches_r() {
    let mut cache = StudentizedRangeCache::new();
    let mut worst = 0.0f64;
    for row in fixture("classic_tukey.tsv") {
        let case = &row["case"];
        let (y, g) = (values(&row, "values"), indices(&row, "groups"));
        let fit = anova_oneway(&y, &g, num(&row, "n_groups") as usize);
        let (a, b) = (num(&row, "a") as usize, num(&row, "b") as usize);
        let pair = tukey_pair(&fit.means, &fit.counts, fit.mse, fit.df2, a, b, &mut cache);
        check(&format!("{case} {a}-{b} diff"), pair.diff, num(&row, "diff"), STAT_REL_TOL, 1e-14);
        check(&format!("{case} {a}-{b} p adj"), pair.p_value, num(&row, "p_adj"), 0.0, PTUKEY_VS_R_TOL);
        worst = worst.max((pair.p_value - num(&row, "p_adj")).abs());
    }
    eprintln!("TukeyHSD: max |p − R p adj| = {worst:.1e}");
}
