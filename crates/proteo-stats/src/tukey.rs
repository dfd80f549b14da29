//! Tukey–Kramer honest significant differences for one protein, R `TukeyHSD(aov(y ~ g))`.

use crate::ptukey::StudentizedRangeCache;

/// One pairwise comparison. `diff = mean[a] − mean[b]`, so `(a, b)` with `a > b` reads like R's `"b_level-a_level"`
/// row names: R `TukeyHSD` reports level `j` minus level `i` for `j > i`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TukeyPair {
    pub a: usize,
    pub b: usize,
    pub diff: f64,
    /// Studentized range statistic `|diff| / sqrt(mse/2 · (1/n_a + 1/n_b))`.
    pub q: f64,
    /// Adjusted p-value `P(Q > q)` for `k` means (the groups with at least one value) and `df` degrees of freedom.
    pub p_value: f64,
}

/// Tukey–Kramer test of groups `a` and `b` (any order, `a ≠ b`) given all group `means` and `counts` (as from
/// [`crate::anova::anova_oneway`]), the pooled `mse` and its degrees of freedom `df` (`OneWay::df2`).
///
/// The number of means `k` counts only the groups with at least one value, as R does after dropping empty levels.
/// Undefined cases give `NaN` (`q` and `p_value`, and `diff` when a group is empty): an empty group, `df < 2`
/// (R's `ptukey` refuses it), fewer than two groups, or `mse = 0` with `diff = 0`. `mse = 0` with `diff ≠ 0` gives
/// `q = ∞`, `p = 0`, like R.
pub fn tukey_pair(
    means: &[f64],
    counts: &[usize],
    mse: f64,
    df: f64,
    a: usize,
    b: usize,
    cache: &mut StudentizedRangeCache,
) -> TukeyPair {
    assert_eq!(means.len(), counts.len(), "one count per group mean");
    assert!(a < means.len() && b < means.len(), "group index out of range");
    let k = counts.iter().filter(|&&c| c > 0).count();
    let diff = means[a] - means[b];
    let undefined = TukeyPair { a, b, diff, q: f64::NAN, p_value: f64::NAN };
    let usable = mse >= 0.0 && df > 0.0;
    if counts[a] == 0 || counts[b] == 0 || a == b || k < 2 || !usable {
        return undefined;
    }
    let se = (0.5 * mse * (1.0 / counts[a] as f64 + 1.0 / counts[b] as f64)).sqrt();
    let q = diff.abs() / se;
    if q.is_nan() {
        return undefined;
    }
    let p_value = cache.upper(q, k, df);
    TukeyPair { a, b, diff, q, p_value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_inputs_give_nan_without_panic() {
        let mut cache = StudentizedRangeCache::new();
        let means = [1.0, 2.0, f64::NAN];
        let counts = [3, 3, 0];
        assert!(tukey_pair(&means, &counts, 0.5, 4.0, 2, 0, &mut cache).p_value.is_nan());
        assert!(tukey_pair(&means, &counts, 0.0, 4.0, 1, 1, &mut cache).p_value.is_nan());
        assert!(tukey_pair(&means, &counts, 0.5, 1.0, 1, 0, &mut cache).p_value.is_nan());
        let zero_var = tukey_pair(&means, &counts, 0.0, 4.0, 1, 0, &mut cache);
        assert_eq!((zero_var.q, zero_var.p_value), (f64::INFINITY, 0.0));
        assert!(tukey_pair(&[1.0, 1.0], &[2, 2], 0.0, 2.0, 1, 0, &mut cache).p_value.is_nan());
    }

    #[test]
    fn two_groups_reduce_to_the_student_t_test() {
        // With k = 2, Q = sqrt(2)·|T|, so Tukey's p equals the pooled t-test p.
        let a = [1.0, 2.5, 3.0, 4.2];
        let b = [2.0, 4.5, 5.0];
        let values: Vec<f64> = a.iter().chain(&b).copied().collect();
        let fit = crate::anova::anova_oneway(&values, &[0, 0, 0, 0, 1, 1, 1], 2);
        let mut cache = StudentizedRangeCache::new();
        let pair = tukey_pair(&fit.means, &fit.counts, fit.mse, fit.df2, 1, 0, &mut cache);
        let t = crate::ttest::student_t(&b, &a);
        assert!((pair.diff - t.diff).abs() < 1e-12);
        assert!((pair.q - std::f64::consts::SQRT_2 * t.t.abs()).abs() < 1e-12);
        assert!((pair.p_value - t.p_value).abs() < 1e-9, "{} vs {}", pair.p_value, t.p_value);
    }
}
