//! Hypergeometric density and upper tail, accurate to the far tail (Loader's saddle-point binomial density).
//!
//! Parameterisation throughout: a population of `n_total` items of which `big_k` are successes; `n_drawn` items are
//! drawn without replacement; `k` is the number of successes drawn.
//!
//! Method (the one R's `dhyper`/`phyper` use; the code here is our own):
//! - the density is a ratio of three binomial densities, each evaluated as
//!   `exp(stirlerr(n) - stirlerr(x) - stirlerr(n-x) - bd0(x, np) - bd0(n-x, nq)) / sqrt(2π x (1-x/n))`
//!   (C. Loader, *Fast and Accurate Computation of Binomial Probabilities*, 2000). Differences of `lgamma` values
//!   would cancel catastrophically for large `n`; this form keeps ~full relative precision. We combine the three
//!   in log space so that no factor underflows on its own;
//! - the tail is summed from its boundary point outward, on whichever side of the mean is smaller, as
//!   `d(x) · (1 + Σ_j Π ratio)`, so every term is positive and the sum stops once terms drop below machine epsilon.

use crate::special::{bd0, stirlerr};

/// `ln(2π)`.
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// `ln P(X = x)` for X ~ Binomial(n, p), `q = 1 - p` passed separately so that it carries its own precision.
fn ln_dbinom_raw(x: f64, n: f64, p: f64, q: f64) -> f64 {
    if p == 0.0 {
        return if x == 0.0 { 0.0 } else { f64::NEG_INFINITY };
    }
    if q == 0.0 {
        return if x == n { 0.0 } else { f64::NEG_INFINITY };
    }
    if x == 0.0 {
        if n == 0.0 {
            return 0.0;
        }
        return if p < 0.1 { -bd0(n, n * q) - n * p } else { n * q.ln() };
    }
    if x == n {
        return if q < 0.1 { -bd0(n, n * p) - n * q } else { n * p.ln() };
    }
    if x < 0.0 || x > n {
        return f64::NEG_INFINITY;
    }
    let lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) - bd0(n - x, n * q);
    let lf = LN_2PI + x.ln() + (-x / n).ln_1p();
    lc - 0.5 * lf
}

/// Density with `r` successes and `b` failures in the urn, `n` drawn; arguments already validated and `x` inside
/// the support.
fn dhyper_raw(x: f64, r: f64, b: f64, n: f64) -> f64 {
    let total = r + b;
    let p = n / total;
    let q = (total - n) / total;
    let ln_d = ln_dbinom_raw(x, r, p, q) + ln_dbinom_raw(n - x, b, p, q) - ln_dbinom_raw(n, total, p, q);
    ln_d.exp()
}

/// `Σ_{j<x} P(X = j) / P(X = x)` for the lower tail below `x`, summed outward from `x` (all terms positive,
/// geometrically decreasing once away from the mode, which the caller guarantees by choosing the smaller tail).
fn lower_tail_ratio(x: f64, r: f64, b: f64, n: f64) -> f64 {
    let mut sum = 0.0;
    let mut term = 1.0;
    let mut x = x;
    while x > 0.0 && term >= f64::EPSILON * sum {
        term *= x * (b - n + x) / (n + 1.0 - x) / (r + 1.0 - x);
        sum += term;
        x -= 1.0;
    }
    1.0 + sum
}

fn valid(big_k: u64, n_total: u64, n_drawn: u64) -> bool {
    big_k <= n_total && n_drawn <= n_total
}

/// `P(X = k)` for X ~ Hypergeometric(N = `n_total`, K = `big_k` successes, n = `n_drawn`); R's
/// `dhyper(k, K, N - K, n)`. NaN when `big_k > n_total` or `n_drawn > n_total`.
pub fn dhyper(k: u64, big_k: u64, n_total: u64, n_drawn: u64) -> f64 {
    if !valid(big_k, n_total, n_drawn) {
        return f64::NAN;
    }
    let failures = n_total - big_k;
    let lo = n_drawn.saturating_sub(failures);
    let hi = big_k.min(n_drawn);
    if k < lo || k > hi {
        return 0.0;
    }
    if n_drawn == 0 || n_drawn == n_total {
        // Degenerate: the draw is empty or takes the whole urn, so X is fixed (and k is that value here).
        return 1.0;
    }
    dhyper_raw(k as f64, big_k as f64, failures as f64, n_drawn as f64)
}

/// `P(X ≥ k)` for X ~ Hypergeometric(N = `n_total`, K = `big_k` successes, n = `n_drawn`): the over-representation
/// p-value of seeing `k` or more set members among `n_drawn` selected items. Equals R's
/// `phyper(k - 1, K, N - K, n, lower.tail = FALSE)`; relative accuracy ~1e-13 down to ~1e-300. NaN when
/// `big_k > n_total` or `n_drawn > n_total`.
pub fn phyper_upper(k: u64, big_k: u64, n_total: u64, n_drawn: u64) -> f64 {
    if !valid(big_k, n_total, n_drawn) {
        return f64::NAN;
    }
    if k == 0 {
        return 1.0;
    }
    // P(X > x) with x = k - 1, as a (lower- or upper-) tail sum starting from x on the side away from the mean.
    let (mut r, mut b) = (big_k as i128, (n_total - big_k) as i128);
    let n = n_drawn as i128;
    let mut x = k as i128 - 1;
    let mut lower_tail = false;
    if x * (r + b) > n * r {
        // x is above the mean: P(X > x) = P(Y ≤ n - x - 1) with successes and failures swapped.
        std::mem::swap(&mut r, &mut b);
        x = n - x - 1;
        lower_tail = true;
    }
    // Outside the support on the low side: the lower tail is empty.
    if x < 0 || x < n - b {
        return if lower_tail { 0.0 } else { 1.0 };
    }
    // At or beyond the top of the support: the lower tail is everything.
    if x >= r || x >= n {
        return if lower_tail { 1.0 } else { 0.0 };
    }
    let (xf, rf, bf, nf) = (x as f64, r as f64, b as f64, n as f64);
    let lower = dhyper_raw(xf, rf, bf, nf) * lower_tail_ratio(xf, rf, bf, nf);
    if lower_tail {
        lower
    } else {
        0.5 - lower + 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::special::STIRLERR_SMALL;

    /// Exact `P(X = k)` by products of small ratios, for cross-checks on small urns.
    fn dhyper_exact(k: u64, big_k: u64, n_total: u64, n_drawn: u64) -> f64 {
        let ln_choose = |a: u64, b: u64| -> f64 { (0..b).map(|i| ((a - i) as f64 / (b - i) as f64).ln()).sum() };
        (ln_choose(big_k, k) + ln_choose(n_total - big_k, n_drawn - k) - ln_choose(n_total, n_drawn)).exp()
    }

    #[test]
    fn stirlerr_table_continues_the_series() {
        // The recurrence stirlerr(n) = stirlerr(n+1) + (n+1/2) ln(1+1/n) - 1 links the table to the series at 16.
        let from_series = stirlerr(16.0) + 15.5 * (1.0f64 / 15.0).ln_1p() - 1.0;
        assert!((from_series - STIRLERR_SMALL[15]).abs() < 1e-15);
        for n in 1..15 {
            let rec = STIRLERR_SMALL[n + 1] + (n as f64 + 0.5) * (1.0 / n as f64).ln_1p() - 1.0;
            assert!((rec - STIRLERR_SMALL[n]).abs() < 1e-15, "n = {n}");
        }
    }

    #[test]
    fn small_urn_matches_exact_products() {
        for (big_k, n_total, n_drawn) in [(5, 20, 7), (12, 30, 15), (1, 10, 3), (9, 9, 4), (3, 40, 40)] {
            let mut total = 0.0;
            for k in 0..=n_drawn {
                let d = dhyper(k, big_k, n_total, n_drawn);
                total += d;
                let lo = n_drawn.saturating_sub(n_total - big_k);
                if k >= lo && k <= big_k.min(n_drawn) {
                    let exact = dhyper_exact(k, big_k, n_total, n_drawn);
                    assert!((d - exact).abs() <= 1e-12 * exact, "{k} {big_k} {n_total} {n_drawn}: {d} vs {exact}");
                } else {
                    assert_eq!(d, 0.0);
                }
                let upper: f64 = (k..=n_drawn).map(|j| dhyper(j, big_k, n_total, n_drawn)).sum();
                let p = phyper_upper(k, big_k, n_total, n_drawn);
                assert!((p - upper).abs() <= 1e-12 * upper.max(1e-300), "{k} {big_k} {n_total} {n_drawn}");
            }
            assert!((total - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn edge_cases() {
        assert_eq!(phyper_upper(0, 10, 100, 5), 1.0);
        assert_eq!(phyper_upper(6, 10, 100, 5), 0.0);
        assert_eq!(phyper_upper(11, 10, 100, 50), 0.0);
        assert_eq!(phyper_upper(1, 0, 100, 50), 0.0);
        assert_eq!(phyper_upper(0, 0, 100, 50), 1.0);
        // n = N: X = K with certainty.
        assert_eq!(phyper_upper(10, 10, 100, 100), 1.0);
        assert_eq!(phyper_upper(11, 10, 100, 100), 0.0);
        assert_eq!(dhyper(10, 10, 100, 100), 1.0);
        // K = N: X = n with certainty.
        assert_eq!(phyper_upper(7, 100, 100, 7), 1.0);
        assert_eq!(phyper_upper(8, 100, 100, 7), 0.0);
        assert!(phyper_upper(1, 101, 100, 5).is_nan());
        assert!(dhyper(1, 5, 100, 101).is_nan());
    }
}
