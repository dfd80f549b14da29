//! Two-sample t-tests (Welch and pooled-variance Student), matching R `t.test` on the non-missing values.

use crate::dist::pt_two_sided;

/// R `t.test` refuses data whose standard error is below this multiple of machine epsilon times the larger
/// absolute group mean ("data are essentially constant", R 4.2 `t.test.default`); we return `NaN` statistics instead.
const CONSTANT_DATA_EPS_FACTOR: f64 = 10.0;

/// Result of a two-sample test of `a` against `b`.
///
/// `diff` is finite whenever both groups have at least one value, even when the test itself is undefined
/// (then `t`, `df` and `p_value` are `NaN`), so callers can still report a fold change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoSample {
    /// `mean(a) - mean(b)`.
    pub diff: f64,
    pub t: f64,
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

impl TwoSample {
    fn undefined(diff: f64) -> Self {
        Self { diff, t: f64::NAN, df: f64::NAN, p_value: f64::NAN }
    }
}

/// Count, mean and sum of squared deviations of the non-`NaN` values (two-pass for accuracy).
pub(crate) fn moments(x: &[f64]) -> (usize, f64, f64) {
    let (n, sum) = x.iter().filter(|v| !v.is_nan()).fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    if n == 0 {
        return (0, f64::NAN, f64::NAN);
    }
    let mean = sum / n as f64;
    let ss = x.iter().filter(|v| !v.is_nan()).map(|v| (v - mean) * (v - mean)).sum();
    (n, mean, ss)
}

fn finish(diff: f64, se: f64, df: f64, scale: f64) -> TwoSample {
    let defined = se > CONSTANT_DATA_EPS_FACTOR * f64::EPSILON * scale && df > 0.0;
    if !defined {
        return TwoSample::undefined(diff);
    }
    let t = diff / se;
    TwoSample { diff, t, df, p_value: pt_two_sided(t, df) }
}

/// Welch's unequal-variance t-test, R `t.test(a, b)`. `NaN` values are ignored; the statistics are `NaN` when
/// either group has fewer than 2 values or both groups are constant.
pub fn welch_t(a: &[f64], b: &[f64]) -> TwoSample {
    let (na, ma, ssa) = moments(a);
    let (nb, mb, ssb) = moments(b);
    let diff = ma - mb;
    if na < 2 || nb < 2 {
        return TwoSample::undefined(diff);
    }
    let va = ssa / (na - 1) as f64 / na as f64;
    let vb = ssb / (nb - 1) as f64 / nb as f64;
    let se2 = va + vb;
    let df = se2 * se2 / (va * va / (na - 1) as f64 + vb * vb / (nb - 1) as f64);
    finish(diff, se2.sqrt(), df, ma.abs().max(mb.abs()))
}

/// Pooled-variance Student t-test, R `t.test(a, b, var.equal = TRUE)`. `NaN` values are ignored; needs at least
/// one value per group and three in all (a group with one value is allowed, as in R).
pub fn student_t(a: &[f64], b: &[f64]) -> TwoSample {
    let (na, ma, ssa) = moments(a);
    let (nb, mb, ssb) = moments(b);
    let diff = ma - mb;
    if na < 1 || nb < 1 || na + nb < 3 {
        return TwoSample::undefined(diff);
    }
    let df = (na + nb - 2) as f64;
    let pooled = (ssa + ssb) / df;
    let se = (pooled * (1.0 / na as f64 + 1.0 / nb as f64)).sqrt();
    finish(diff, se, df, ma.abs().max(mb.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_few_values_give_nan_statistics_but_keep_the_difference() {
        let r = welch_t(&[1.0, f64::NAN], &[2.0, 3.0, 4.0]);
        assert_eq!(r.diff, -2.0);
        assert!(r.t.is_nan() && r.df.is_nan() && r.p_value.is_nan());
        assert!(student_t(&[1.0], &[2.0]).p_value.is_nan());
        assert!(student_t(&[], &[2.0, 3.0]).diff.is_nan());
    }

    #[test]
    fn constant_groups_give_nan() {
        let r = welch_t(&[1.0, 1.0], &[2.0, 2.0]);
        assert!(r.p_value.is_nan());
        assert_eq!(r.diff, -1.0);
        assert!(student_t(&[5.0, 5.0, 5.0], &[5.0, 5.0]).t.is_nan());
    }

    #[test]
    fn one_constant_group_is_fine_for_welch() {
        // Welch df collapses to n_b - 1 when group a has no variance.
        let r = welch_t(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0, 6.0]);
        assert!((r.df - 3.0).abs() < 1e-12);
        assert!(r.p_value > 0.0 && r.p_value < 1.0);
    }
}
