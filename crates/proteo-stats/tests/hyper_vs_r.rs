//! Hypergeometric density and upper tail against base R 4.2.2 (`dhyper`, `phyper(k-1, K, N-K, n, lower.tail=FALSE)`).
//!
//! Reference: `tests/fixtures/hyper_cases.tsv`, written by `tests/reference/hyper_reference.R`.

use proteo_stats::hyper::{dhyper, phyper_upper};

/// Relative agreement required wherever R's value is a normal double well above underflow.
const REL_TOL: f64 = 1e-10;
/// Below this, R's own result is in or near the subnormal range and carries few digits; we only require that
/// ours is also negligible there.
const SMALLEST_COMPARED: f64 = 1e-300;
const NEGLIGIBLE: f64 = 1e-290;

struct Case {
    k: u64,
    big_k: u64,
    n_total: u64,
    n_drawn: u64,
    dhyper: f64,
    upper: f64,
}

fn cases() -> Vec<Case> {
    let text = include_str!("fixtures/hyper_cases.tsv");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 6, "bad fixture line {line:?}");
            Case {
                k: f[0].parse().unwrap(),
                big_k: f[1].parse().unwrap(),
                n_total: f[2].parse().unwrap(),
                n_drawn: f[3].parse().unwrap(),
                dhyper: f[4].parse().unwrap(),
                upper: f[5].parse().unwrap(),
            }
        })
        .collect()
}

/// Compares one value; returns the relative error when it was compared relatively.
fn check(what: &str, c: &Case, ours: f64, r: f64) -> Option<f64> {
    let at = format!("{what}(k={}, K={}, N={}, n={})", c.k, c.big_k, c.n_total, c.n_drawn);
    if r >= SMALLEST_COMPARED {
        let rel = ((ours - r) / r).abs();
        assert!(rel <= REL_TOL, "{at}: ours {ours:e}, R {r:e}, rel err {rel:e}");
        Some(rel)
    } else if r == 0.0 && (ours == 0.0) {
        None
    } else {
        assert!(ours < NEGLIGIBLE, "{at}: ours {ours:e}, R {r:e}");
        None
    }
}

#[test]
fn upper_tail_and_density_match_r() {
    let cases = cases();
    assert!(cases.len() > 5_000, "fixture too small: {}", cases.len());
    let (mut worst_p, mut worst_d, mut deep) = (0.0f64, 0.0f64, 0usize);
    for c in &cases {
        if let Some(rel) = check("phyper_upper", c, phyper_upper(c.k, c.big_k, c.n_total, c.n_drawn), c.upper) {
            worst_p = worst_p.max(rel);
            if c.upper < 1e-200 {
                deep += 1;
            }
        }
        if let Some(rel) = check("dhyper", c, dhyper(c.k, c.big_k, c.n_total, c.n_drawn), c.dhyper) {
            worst_d = worst_d.max(rel);
        }
    }
    println!(
        "{} cases; worst relative error: upper {worst_p:e}, density {worst_d:e}; {deep} tails in [1e-300, 1e-200]",
        cases.len()
    );
    assert!(deep >= 20, "the fixture should reach deep tails, only {deep} did");
}

#[test]
fn fixture_covers_large_urns_and_edges() {
    let cases = cases();
    assert!(cases.iter().any(|c| c.n_total == 30_000 && c.big_k >= 15_000 && c.n_drawn >= 15_000));
    assert!(cases.iter().any(|c| c.k == 0 && c.upper == 1.0));
    assert!(cases.iter().any(|c| c.k > c.big_k.min(c.n_drawn) && c.upper == 0.0));
    assert!(cases.iter().any(|c| c.big_k == 0));
    assert!(cases.iter().any(|c| c.n_drawn == c.n_total));
}
