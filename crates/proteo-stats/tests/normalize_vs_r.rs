//! Normalization against R 4.2.2 / limma 3.54.1 (fixtures from `tests/reference/normalize_reference.R`).

#[allow(dead_code)]
mod common;

use common::{compare, read_matrix};
use proteo_stats::normalize::{
    lowess_sorted, normalize_cyclic_loess, normalize_quantiles, normalize_quantiles_on, CYCLIC_LOESS_ITERATIONS,
    CYCLIC_LOESS_SPAN,
};

/// The tolerance: relative to max(|R|, 1) (log2 intensities are O(10), residual curves O(1)).
const TOL: f64 = 1e-8;
const FLOOR: f64 = 1.0;

fn input() -> (usize, usize, Vec<f64>) {
    read_matrix("normalize_values.tsv").expect("run tests/reference/normalize_reference.R")
}

fn reference_rows() -> Vec<bool> {
    let (_, _, v) = read_matrix("normalize_reference_rows.tsv").expect("reference rows fixture");
    v.into_iter().map(|x| x == 1.0).collect()
}

fn expected(name: &str) -> Vec<f64> {
    read_matrix(name).unwrap_or_else(|| panic!("missing fixture {name}")).2
}

#[test]
fn quantile_normalization_equals_limma() {
    let (nr, nc, mut v) = input();
    normalize_quantiles(&mut v, nr, nc).unwrap();
    compare("normalizeQuantiles", &v, &expected("normalize_quantile.tsv"), TOL, FLOOR, 0.0);
}

#[test]
fn cyclic_loess_equals_limma() {
    let (nr, nc, mut v) = input();
    normalize_cyclic_loess(&mut v, nr, nc, CYCLIC_LOESS_SPAN, CYCLIC_LOESS_ITERATIONS, None).unwrap();
    compare("normalizeCyclicLoess", &v, &expected("normalize_cyclic_loess.tsv"), TOL, FLOOR, 0.0);
}

#[test]
fn reference_set_variants_equal_their_r_definition() {
    let (nr, nc, v) = input();
    let rf = reference_rows();
    let mut q = v.clone();
    normalize_quantiles_on(&mut q, nr, nc, &rf).unwrap();
    compare("quantile on reference", &q, &expected("normalize_quantile_on_reference.tsv"), TOL, FLOOR, 0.0);
    let mut l = v;
    normalize_cyclic_loess(&mut l, nr, nc, CYCLIC_LOESS_SPAN, CYCLIC_LOESS_ITERATIONS, Some(&rf)).unwrap();
    compare("cyclic loess on reference", &l, &expected("normalize_cyclic_loess_on_reference.tsv"), TOL, FLOOR, 0.0);
}

#[test]
fn lowess_equals_r() {
    let (n, _, xy) = read_matrix("normalize_lowess_input.tsv").expect("lowess input");
    let mut pts: Vec<(f64, f64)> = (0..n).map(|i| (xy[2 * i], xy[2 * i + 1])).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (x, y): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
    let (_, _, out) = read_matrix("normalize_lowess.tsv").expect("lowess output");
    let r_default: Vec<f64> = (0..n).map(|i| out[3 * i + 1]).collect();
    let r_f03: Vec<f64> = (0..n).map(|i| out[3 * i + 2]).collect();
    let delta = 0.01 * (x[n - 1] - x[0]);
    compare("lowess(f = 2/3, iter = 3)", &lowess_sorted(&x, &y, 2.0 / 3.0, 3, delta), &r_default, TOL, FLOOR, 0.0);
    compare("lowess(f = 0.3, iter = 0, delta = 0)", &lowess_sorted(&x, &y, 0.3, 0, 0.0), &r_f03, TOL, FLOOR, 0.0);
}
