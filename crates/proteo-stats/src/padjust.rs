//! Benjamini–Hochberg adjusted p-values, as R `p.adjust(p, method = "BH")`.

/// R `p.adjust(p, "BH")`: NaN entries stay NaN and do not count towards the number of tests.
pub fn p_adjust_bh(p: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; p.len()];
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    let n = idx.len();
    if n == 0 {
        return out;
    }
    // Decreasing p; R's order() is stable, and ties give equal adjusted values either way.
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let nf = n as f64;
    let mut running = f64::INFINITY;
    for (k, &i) in idx.iter().enumerate() {
        let rank = (n - k) as f64;
        let v = nf / rank * p[i];
        if v < running {
            running = v;
        }
        out[i] = running.min(1.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_r_small_example() {
        // R 4.2.2: p.adjust(c(0.01, NA, 0.04, 0.03, 0.5, 0.03), "BH")
        // → 0.05 NA 0.05 0.05 0.5 0.05
        let q = p_adjust_bh(&[0.01, f64::NAN, 0.04, 0.03, 0.5, 0.03]);
        let want = [0.05, f64::NAN, 0.05, 0.05, 0.5, 0.05];
        for (a, b) in q.iter().zip(want) {
            if b.is_nan() {
                assert!(a.is_nan());
            } else {
                assert!((a - b).abs() < 1e-15, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn all_nan_and_empty() {
        assert!(p_adjust_bh(&[]).is_empty());
        assert!(p_adjust_bh(&[f64::NAN]).iter().all(|v| v.is_nan()));
    }
}
