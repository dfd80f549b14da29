//! Between-sample normalization as limma 3.54.1 does it: `normalizeQuantiles` and `normalizeCyclicLoess` (method
//! "fast", through `loessFit` and R's `lowess`, whose line-for-line port lives in `limma::rmath` because no Rust crate
//! reproduces its `delta` skipping and robustness weights), plus both fitted on a reference subset of the rows and
//! applied to every row; hand-written because no crate implements limma's tie and missing-value handling.

/// `loessFit` default: `iterations = 4`, i.e. `lowess(iter = 3)`.
pub const LOESS_FIT_ITERATIONS: usize = 4;
/// `normalizeCyclicLoess` defaults (limma 3.54.1): `span = 0.7`, `iterations = 3`.
pub const CYCLIC_LOESS_SPAN: f64 = 0.7;
pub const CYCLIC_LOESS_ITERATIONS: usize = 3;
/// R `lowess`: `delta = 0.01 * diff(range(x))`.
const LOWESS_DELTA_FRACTION: f64 = 0.01;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NormalizeError {
    #[error("column {column} (0-based) has {n} observed value(s); quantile normalization needs at least 2 per sample")]
    TooFewValues { column: usize, n: usize },
    #[error("quantile normalization needs at least 2 rows, the matrix has {0}")]
    TooFewRows(usize),
    #[error("the reference set has no observed value in column {column} (0-based), so that sample cannot be normalized on it")]
    EmptyReference { column: usize },
}

/// R `approx(x, y, v, ties = "ordered")` for strictly increasing `x` (`rule = 1`: NaN outside the range), as
/// `approx1` in R's stats/src/approx.c.
fn approx1(v: f64, x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    if n == 0 || v.is_nan() {
        return f64::NAN;
    }
    let (mut i, mut j) = (0usize, n - 1);
    if v < x[i] || v > x[j] {
        return f64::NAN;
    }
    while i + 1 < j {
        let ij = (i + j) / 2;
        if v < x[ij] {
            j = ij;
        } else {
            i = ij;
        }
    }
    if v == x[j] {
        return y[j];
    }
    if v == x[i] {
        return y[i];
    }
    y[i] + (y[j] - y[i]) * ((v - x[i]) / (x[j] - x[i]))
}

/// `approx(x, y, v, rule = 2, ties = mean)`: `x` sorted ascending, possibly with ties (collapsed to the mean of `y`);
/// constant beyond the ends.
fn approx_rule2(points: &[(f64, f64)], v: f64) -> f64 {
    let (x, y) = collapse_ties(points);
    if x.is_empty() || v.is_nan() {
        return f64::NAN;
    }
    if v <= x[0] {
        return y[0];
    }
    if v >= x[x.len() - 1] {
        return y[y.len() - 1];
    }
    approx1(v, &x, &y)
}

fn collapse_ties(points: &[(f64, f64)]) -> (Vec<f64>, Vec<f64>) {
    let (mut x, mut y) = (Vec::with_capacity(points.len()), Vec::with_capacity(points.len()));
    let mut i = 0;
    while i < points.len() {
        let mut j = i;
        let mut s = 0.0;
        while j < points.len() && points[j].0 == points[i].0 {
            s += points[j].1;
            j += 1;
        }
        x.push(points[i].0);
        y.push(s / (j - i) as f64);
        i = j;
    }
    (x, y)
}

/// R `rank(v)` with average ties, on the non-NaN values (NaN gets NaN).
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).filter(|&i| !v[i].is_nan()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut rank = vec![f64::NAN; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            rank[k] = r;
        }
        i = j + 1;
    }
    rank
}

/// limma `normalizeQuantiles(A, ties = TRUE)` in place: `values` rows × cols row-major, NaN = missing. Columns with
/// missing values are interpolated onto the full quantile grid as limma does.
pub fn normalize_quantiles(values: &mut [f64], n_rows: usize, n_cols: usize) -> Result<(), NormalizeError> {
    if n_cols <= 1 {
        return Ok(());
    }
    if n_rows < 2 {
        return Err(NormalizeError::TooFewRows(n_rows));
    }
    let grid: Vec<f64> = (0..n_rows).map(|k| k as f64 / (n_rows - 1) as f64).collect();
    let mut target = vec![0.0; n_rows];
    let mut nobs = vec![0usize; n_cols];
    for (j, nobs_j) in nobs.iter_mut().enumerate() {
        let mut col: Vec<f64> = (0..n_rows).map(|r| values[r * n_cols + j]).filter(|v| !v.is_nan()).collect();
        col.sort_by(f64::total_cmp);
        *nobs_j = col.len();
        if col.len() < 2 {
            return Err(NormalizeError::TooFewValues { column: j, n: col.len() });
        }
        if col.len() < n_rows {
            let xk: Vec<f64> = (0..col.len()).map(|k| k as f64 / (col.len() - 1) as f64).collect();
            for (t, &g) in target.iter_mut().zip(&grid) {
                *t += approx1(g, &xk, &col);
            }
        } else {
            target.iter_mut().zip(&col).for_each(|(t, v)| *t += v);
        }
    }
    target.iter_mut().for_each(|t| *t /= n_cols as f64);
    for (j, &nobs_j) in nobs.iter().enumerate() {
        let col: Vec<f64> = (0..n_rows).map(|r| values[r * n_cols + j]).collect();
        let ranks = average_ranks(&col);
        for r in 0..n_rows {
            if !col[r].is_nan() {
                values[r * n_cols + j] = approx1((ranks[r] - 1.0) / (nobs_j - 1) as f64, &grid, &target);
            }
        }
    }
    Ok(())
}

/// `normalizeQuantiles` fitted on the `reference` rows: those rows get exactly `normalizeQuantiles` of the
/// reference submatrix; every other value of a sample is mapped through the same sample's (before → after) curve of
/// its reference values, linearly between them and by the end offset beyond them.
pub fn normalize_quantiles_on(
    values: &mut [f64],
    n_rows: usize,
    n_cols: usize,
    reference: &[bool],
) -> Result<(), NormalizeError> {
    let ref_rows: Vec<usize> = (0..n_rows).filter(|&r| reference[r]).collect();
    let mut sub: Vec<f64> = ref_rows.iter().flat_map(|&r| values[r * n_cols..(r + 1) * n_cols].to_vec()).collect();
    let before = sub.clone();
    normalize_quantiles(&mut sub, ref_rows.len(), n_cols)?;
    for j in 0..n_cols {
        let mut pts: Vec<(f64, f64)> = (0..ref_rows.len())
            .filter(|&k| !before[k * n_cols + j].is_nan())
            .map(|k| (before[k * n_cols + j], sub[k * n_cols + j]))
            .collect();
        if pts.is_empty() {
            return Err(NormalizeError::EmptyReference { column: j });
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (x, y) = collapse_ties(&pts);
        let (lo_off, hi_off) = (y[0] - x[0], y[y.len() - 1] - x[x.len() - 1]);
        for r in 0..n_rows {
            let v = &mut values[r * n_cols + j];
            if reference[r] || v.is_nan() {
                continue;
            }
            *v = if *v <= x[0] {
                *v + lo_off
            } else if *v >= x[x.len() - 1] {
                *v + hi_off
            } else {
                approx1(*v, &x, &y)
            };
        }
        for (k, &r) in ref_rows.iter().enumerate() {
            values[r * n_cols + j] = sub[k * n_cols + j];
        }
    }
    Ok(())
}

/// R `lowess(x, y, f, iter, delta)` on `x` sorted ascending (`clowess`): fitted values in that order. The port of
/// R's lowess.c is the one limma's robust `eBayes` uses.
pub fn lowess_sorted(x: &[f64], y: &[f64], f: f64, nsteps: usize, delta: f64) -> Vec<f64> {
    crate::limma::rmath::clowess(x, y, f, nsteps, delta)
}

/// The observed (finite x and y) points of a loess fit, sorted by x (stable, as R `order`), with their positions.
fn sorted_observed(y: &[f64], x: &[f64]) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let mut obs: Vec<usize> = (0..y.len()).filter(|&i| y[i].is_finite() && x[i].is_finite()).collect();
    obs.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let xs = obs.iter().map(|&i| x[i]).collect();
    let ys = obs.iter().map(|&i| y[i]).collect();
    (obs, xs, ys)
}

fn lowess_delta(xs: &[f64]) -> f64 {
    match (xs.first(), xs.last()) {
        (Some(a), Some(b)) => LOWESS_DELTA_FRACTION * (b - a),
        _ => 0.0,
    }
}

/// limma `loessFit(y, x, span = span)$fitted` without weights: NaN where `y` or `x` is not finite.
pub fn loess_fit(y: &[f64], x: &[f64], span: f64, iterations: usize) -> Vec<f64> {
    let mut fitted = vec![f64::NAN; y.len()];
    let (obs, xs, ys) = sorted_observed(y, x);
    if obs.is_empty() {
        return fitted;
    }
    if span < 1.0 / obs.len() as f64 {
        for &i in &obs {
            fitted[i] = y[i];
        }
        return fitted;
    }
    let fit = lowess_sorted(&xs, &ys, span, iterations.saturating_sub(1), lowess_delta(&xs));
    for (k, &i) in obs.iter().enumerate() {
        fitted[i] = fit[k];
    }
    fitted
}

/// `loessFit` on the `reference` points only, evaluated at every `x` by linear interpolation of the fitted curve
/// (R `approx(rule = 2, ties = mean)`: constant beyond the reference range).
fn loess_fit_on(y: &[f64], x: &[f64], reference: &[bool], span: f64, iterations: usize) -> Vec<f64> {
    let ry: Vec<f64> = y.iter().zip(reference).map(|(&v, &r)| if r { v } else { f64::NAN }).collect();
    let (obs, xs, ys) = sorted_observed(&ry, x);
    if obs.is_empty() {
        return vec![f64::NAN; y.len()];
    }
    let fit = if span < 1.0 / obs.len() as f64 {
        ys
    } else {
        lowess_sorted(&xs, &ys, span, iterations.saturating_sub(1), lowess_delta(&xs))
    };
    let curve: Vec<(f64, f64)> = xs.into_iter().zip(fit).collect();
    (0..y.len()).map(|i| if y[i].is_finite() { approx_rule2(&curve, x[i]) } else { f64::NAN }).collect()
}

fn row_means(values: &[f64], n_rows: usize, n_cols: usize) -> Vec<f64> {
    (0..n_rows)
        .map(|r| {
            let (s, k) = values[r * n_cols..(r + 1) * n_cols]
                .iter()
                .filter(|v| !v.is_nan())
                .fold((0.0, 0usize), |(s, k), v| (s + v, k + 1));
            if k == 0 {
                f64::NAN
            } else {
                s / k as f64
            }
        })
        .collect()
}

/// limma `normalizeCyclicLoess(x, span, iterations, method = "fast")` in place; with `reference`, each loess curve
/// is fitted on the reference rows only and applied to every row ([`loess_fit_on`]).
pub fn normalize_cyclic_loess(
    values: &mut [f64],
    n_rows: usize,
    n_cols: usize,
    span: f64,
    iterations: usize,
    reference: Option<&[bool]>,
) -> Result<(), NormalizeError> {
    if let Some(rf) = reference {
        for j in 0..n_cols {
            if !(0..n_rows).any(|r| rf[r] && !values[r * n_cols + j].is_nan()) {
                return Err(NormalizeError::EmptyReference { column: j });
            }
        }
    }
    let mut m = vec![0.0; n_rows];
    for _ in 0..iterations {
        let a = row_means(values, n_rows, n_cols);
        for j in 0..n_cols {
            for r in 0..n_rows {
                m[r] = values[r * n_cols + j] - a[r];
            }
            let f = match reference {
                None => loess_fit(&m, &a, span, LOESS_FIT_ITERATIONS),
                Some(rf) => loess_fit_on(&m, &a, rf, span, LOESS_FIT_ITERATIONS),
            };
            for r in 0..n_rows {
                values[r * n_cols + j] -= f[r];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(average_ranks(&[3.0, 1.0, 3.0, f64::NAN, 2.0])[..3], [3.5, 1.0, 3.5]);
    }

    #[test]
    fn quantile_normalization_gives_every_complete_column_the_same_values() {
        let mut v = vec![5.0, 4.0, 3.0, 2.0, 1.0, 4.0, 4.0, 6.0, 8.0, 3.0, 2.0, 9.0];
        normalize_quantiles(&mut v, 4, 3).unwrap();
        let mut cols: Vec<Vec<f64>> = (0..3).map(|j| (0..4).map(|r| v[r * 3 + j]).collect()).collect();
        cols.iter_mut().for_each(|c| c.sort_by(f64::total_cmp));
        assert_eq!(cols[0], cols[2]);
    }

    #[test]
    fn lowess_of_a_line_is_the_line() {
        let x: Vec<f64> = (0..50).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        let fit = lowess_sorted(&x, &y, 0.7, 3, 0.49);
        for (a, b) in fit.iter().zip(&y) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }

    #[test]
    fn a_reference_without_values_is_an_error() {
        let mut v = vec![1.0, f64::NAN, 2.0, 3.0];
        let err = normalize_cyclic_loess(&mut v, 2, 2, 0.7, 3, Some(&[true, false])).unwrap_err();
        assert_eq!(err, NormalizeError::EmptyReference { column: 1 });
    }
}
