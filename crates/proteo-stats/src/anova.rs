//! One-way ANOVA for one protein: the classical F test (R `summary(aov(y ~ g))`) and Welch's test (R `oneway.test`).

use crate::dist::pf_upper;

/// One-way test result. `means[g]` is `NaN` and `counts[g]` is 0 for a group with no values; such groups are left
/// out of the test, as R does after dropping unused factor levels.
#[derive(Debug, Clone, PartialEq)]
pub struct OneWay {
    pub f: f64,
    pub df1: f64,
    pub df2: f64,
    pub p_value: f64,
    pub means: Vec<f64>,
    pub counts: Vec<usize>,
    /// Pooled within-group mean square `SSW / (N - k)` (the residual variance Tukey HSD needs); `NaN` when
    /// `N - k < 1`. Reported for both tests.
    pub mse: f64,
}

struct Groups {
    means: Vec<f64>,
    counts: Vec<usize>,
    /// Within-group sums of squared deviations.
    ss: Vec<f64>,
}

fn group_moments(values: &[f64], groups: &[usize], n_groups: usize) -> Groups {
    assert_eq!(values.len(), groups.len(), "one group index per value");
    let mut counts = vec![0usize; n_groups];
    let mut sums = vec![0.0; n_groups];
    for (&v, &g) in values.iter().zip(groups) {
        assert!(g < n_groups, "group index {g} out of range for {n_groups} groups");
        if !v.is_nan() {
            counts[g] += 1;
            sums[g] += v;
        }
    }
    let means: Vec<f64> =
        sums.iter().zip(&counts).map(|(&s, &n)| if n > 0 { s / n as f64 } else { f64::NAN }).collect();
    let mut ss = vec![0.0; n_groups];
    for (&v, &g) in values.iter().zip(groups) {
        if !v.is_nan() {
            ss[g] += (v - means[g]) * (v - means[g]);
        }
    }
    Groups { means, counts, ss }
}

impl OneWay {
    fn from_groups(g: Groups) -> Self {
        let n: usize = g.counts.iter().sum();
        let k = g.counts.iter().filter(|&&c| c > 0).count();
        let df2 = n as f64 - k as f64;
        let mse = if df2 >= 1.0 { g.ss.iter().sum::<f64>() / df2 } else { f64::NAN };
        Self { f: f64::NAN, df1: f64::NAN, df2: f64::NAN, p_value: f64::NAN, means: g.means, counts: g.counts, mse }
    }

    fn present(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.means.iter().zip(&self.counts).filter(|(_, &c)| c > 0).map(|(&m, &c)| (m, c as f64))
    }
}

/// Classical one-way ANOVA F test (equal variances), R `summary(aov(y ~ g))` and `oneway.test(var.equal = TRUE)`.
///
/// `groups[i]` is the group of `values[i]`; `NaN` values are ignored. A group with a single value counts towards
/// the groups and contributes no residual degrees of freedom (as in `aov`; `oneway.test` would return `NA`). Fewer
/// than two non-empty groups, or no residual degrees of freedom, give `NaN` statistics. Zero within-group variance
/// gives `f = ∞`, `p = 0` (as `oneway.test`), or `NaN` when the group means are equal too.
pub fn anova_oneway(values: &[f64], groups: &[usize], n_groups: usize) -> OneWay {
    let mut out = OneWay::from_groups(group_moments(values, groups, n_groups));
    let (n, k) = out.present().fold((0.0, 0usize), |(n, k), (_, c)| (n + c, k + 1));
    if k < 2 || out.mse.is_nan() {
        return out;
    }
    let grand = out.present().map(|(m, c)| m * c).sum::<f64>() / n;
    let ssb: f64 = out.present().map(|(m, c)| c * (m - grand) * (m - grand)).sum();
    let df1 = (k - 1) as f64;
    out.df1 = df1;
    out.df2 = n - k as f64;
    out.f = if out.mse > 0.0 {
        ssb / df1 / out.mse
    } else if ssb > 0.0 {
        f64::INFINITY
    } else {
        f64::NAN
    };
    out.p_value = pf_upper(out.f, out.df1, out.df2);
    out
}

/// Welch's heteroscedastic one-way test, R `oneway.test(y ~ g, var.equal = FALSE)`.
///
/// `NaN` values are ignored and empty groups left out. Every non-empty group needs two values and a non-zero
/// variance (R returns `NA` otherwise); when that fails, or fewer than two groups are present, the statistics are
/// `NaN`. `mse` is the pooled within-group variance, as for [`anova_oneway`].
pub fn welch_anova(values: &[f64], groups: &[usize], n_groups: usize) -> OneWay {
    let g = group_moments(values, groups, n_groups);
    let variances: Vec<f64> =
        g.ss.iter()
            .zip(&g.counts)
            .filter(|(_, &c)| c > 0)
            .map(|(&ss, &c)| if c > 1 { ss / (c - 1) as f64 } else { f64::NAN })
            .collect();
    let mut out = OneWay::from_groups(g);
    let k = variances.len();
    if k < 2 || variances.iter().any(|v| v.is_nan() || *v <= 0.0) {
        return out;
    }
    let kf = k as f64;
    let weights: Vec<f64> = out.present().zip(&variances).map(|((_, c), v)| c / v).collect();
    let sum_w: f64 = weights.iter().sum();
    let tmp = out.present().zip(&weights).map(|((_, c), w)| (1.0 - w / sum_w).powi(2) / (c - 1.0)).sum::<f64>()
        / (kf * kf - 1.0);
    let centre = out.present().zip(&weights).map(|((m, _), w)| w * m).sum::<f64>() / sum_w;
    let between = out.present().zip(&weights).map(|((m, _), w)| w * (m - centre).powi(2)).sum::<f64>();
    out.f = between / ((kf - 1.0) * (1.0 + 2.0 * (kf - 2.0) * tmp));
    out.df1 = kf - 1.0;
    out.df2 = 1.0 / (3.0 * tmp);
    out.p_value = pf_upper(out.f, out.df1, out.df2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewer_than_two_groups_is_nan_without_panic() {
        let r = anova_oneway(&[1.0, 2.0, f64::NAN, f64::NAN], &[0, 0, 1, 1], 3);
        assert!(r.f.is_nan() && r.p_value.is_nan());
        assert_eq!(r.counts, vec![2, 0, 0]);
        assert!(r.means[1].is_nan());
        assert!(welch_anova(&[], &[], 2).p_value.is_nan());
    }

    #[test]
    fn constant_groups_with_different_means_give_infinite_f() {
        let r = anova_oneway(&[1.0, 1.0, 2.0, 2.0], &[0, 0, 1, 1], 2);
        assert_eq!(r.f, f64::INFINITY);
        assert_eq!(r.p_value, 0.0);
        assert_eq!(r.mse, 0.0);
        assert!(welch_anova(&[1.0, 1.0, 2.0, 2.0], &[0, 0, 1, 1], 2).p_value.is_nan());
    }

    #[test]
    fn two_group_anova_is_the_squared_student_t() {
        let a = [1.0, 2.5, 3.0, 4.2];
        let b = [2.0, 4.5, 5.0];
        let t = crate::ttest::student_t(&a, &b);
        let values: Vec<f64> = a.iter().chain(&b).copied().collect();
        let r = anova_oneway(&values, &[0, 0, 0, 0, 1, 1, 1], 2);
        assert!((r.f - t.t * t.t).abs() < 1e-12 * r.f);
        assert!((r.p_value - t.p_value).abs() < 1e-14);
    }
}
