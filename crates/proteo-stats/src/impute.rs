//! k-nearest-neighbour imputation as Bioconductor `impute::impute.knn` 1.72 does it (Troyanskaya et al.,
//! Bioinformatics 17:520, 2001; the package's Fortran `knnimp`, `misdis`, `misave`, `porder`), ported because no Rust
//! crate reproduces its distance (mean squared difference over co-observed columns) and neighbour order.

/// `impute.knn` defaults: `k = 10`, `rowmax = 0.5`, `colmax = 0.8`.
pub const KNN_K: usize = 10;
pub const KNN_ROWMAX: f64 = 0.5;
pub const KNN_COLMAX: f64 = 0.8;
/// `misdis`: the distance of two rows without a co-observed column.
const NO_OVERLAP_DISTANCE: f64 = 1e10;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImputeError {
    #[error("column {column} (0-based) has {pct:.0} % missing values; kNN imputation allows at most {max:.0} % (impute.knn colmax)")]
    ColumnTooSparse { column: usize, pct: f64, max: f64 },
    #[error("column {column} (0-based) has no observed value")]
    EmptyColumn { column: usize },
}

/// `impute.knn(x, k, rowmax, colmax, maxp = nrow(x))` in place on `values` (rows × cols row-major, NaN = missing):
/// each missing value becomes the mean of that column over the row's `k` nearest rows observed there; rows with more
/// than `trunc(rowmax · cols)` missing values, and values no neighbour has, get the column mean of the other rows.
///
/// Two deliberate differences from the package: the matrix is never split by two-means clustering first (that is
/// what `maxp` smaller than the row count does, with random starts), so neighbours are searched among all rows; and a
/// single row over `rowmax` gets column means too (the package leaves it at 0, `meanimp` skipping one-row matrices).
/// The column means are those of the observed values; the package's `mean.miss` also zeroes the matrix's first
/// element (`x[imiss] <- 0` with an integer mask), which changes the first column's mean when that value is observed.
pub fn impute_knn(
    values: &mut [f64],
    n_rows: usize,
    n_cols: usize,
    k: usize,
    rowmax: f64,
    colmax: f64,
) -> Result<(), ImputeError> {
    let missing = |r: usize, c: usize, v: &[f64]| v[r * n_cols + c].is_nan();
    for c in 0..n_cols {
        let nm = (0..n_rows).filter(|&r| missing(r, c, values)).count();
        if nm as f64 > colmax * n_rows as f64 {
            return Err(ImputeError::ColumnTooSparse {
                column: c,
                pct: 100.0 * nm as f64 / n_rows as f64,
                max: 100.0 * colmax,
            });
        }
    }
    let row_missing: Vec<usize> = (0..n_rows).map(|r| (0..n_cols).filter(|&c| missing(r, c, values)).count()).collect();
    let limit = (rowmax * n_cols as f64).trunc() as usize;
    let kept: Vec<usize> = (0..n_rows).filter(|&r| row_missing[r] <= limit).collect();
    let x = values.to_vec();
    let obs = |r: usize, c: usize| !x[r * n_cols + c].is_nan();

    // Column means of the rows kNN imputes (`mean.miss` of the kept rows).
    let xbar: Vec<f64> = (0..n_cols)
        .map(|c| {
            let (s, n) =
                kept.iter().filter(|&&r| obs(r, c)).fold((0.0, 0usize), |(s, n), &r| (s + x[r * n_cols + c], n + 1));
            if n > 0 {
                s / n as f64
            } else {
                f64::NAN
            }
        })
        .collect();
    if let Some(c) = xbar.iter().position(|v| v.is_nan()) {
        return Err(ImputeError::EmptyColumn { column: c });
    }

    let m = k + 1;
    let mut dist = vec![0.0; kept.len()];
    let mut nn_dist = vec![0.0; m];
    let mut nn_pos = vec![0usize; m];
    for &i in &kept {
        if row_missing[i] == 0 {
            continue;
        }
        // misdis: mean squared difference over the columns both rows observe.
        for (d, &j) in dist.iter_mut().zip(&kept) {
            let (mut s, mut n) = (0.0, 0usize);
            for c in 0..n_cols {
                if obs(i, c) && obs(j, c) {
                    let e = x[i * n_cols + c] - x[j * n_cols + c];
                    s += e * e;
                    n += 1;
                }
            }
            *d = if n > 0 { s / n as f64 } else { NO_OVERLAP_DISTANCE };
        }
        // porder: the m smallest, earlier rows first among equals.
        let mut filled = 0usize;
        for (j, &dj) in dist.iter().enumerate() {
            if filled == m && dj >= nn_dist[m - 1] {
                continue;
            }
            let at = (0..filled).find(|&q| dj < nn_dist[q]).unwrap_or(filled);
            let end = if filled < m { filled } else { m - 1 };
            for q in (at..end).rev() {
                nn_dist[q + 1] = nn_dist[q];
                nn_pos[q + 1] = nn_pos[q];
            }
            if at < m {
                nn_dist[at] = dj;
                nn_pos[at] = j;
            }
            filled = (filled + 1).min(m);
        }
        // misave over the neighbours after the first (the row itself).
        for c in 0..n_cols {
            if obs(i, c) {
                continue;
            }
            let (mut s, mut n) = (0.0, 0usize);
            for &q in &nn_pos[1..filled] {
                let jj = kept[q];
                if obs(jj, c) {
                    s += x[jj * n_cols + c];
                    n += 1;
                }
            }
            values[i * n_cols + c] = if n > 0 { s / n as f64 } else { xbar[c] };
        }
    }
    for r in (0..n_rows).filter(|&r| row_missing[r] > limit) {
        for c in 0..n_cols {
            if !obs(r, c) {
                values[r * n_cols + c] = xbar[c];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rows_fill_in_and_sparse_rows_get_column_means() {
        let nan = f64::NAN;
        #[rustfmt::skip]
        let mut v = vec![
            1.0, 2.0, 3.0, nan,
            1.1, 2.1, 3.1, 4.1,
            9.0, 9.0, 9.0, 9.0,
            1.2, 2.2, 3.2, 4.3,
            nan, nan, nan, 5.0,
        ];
        impute_knn(&mut v, 5, 4, 2, 0.5, 0.8).unwrap();
        assert!((v[3] - 4.2).abs() < 1e-12, "{}", v[3]);
        let col0_mean = (1.0 + 1.1 + 9.0 + 1.2) / 4.0;
        assert!((v[16] - col0_mean).abs() < 1e-12);
        let mut sparse = vec![nan, 1.0, nan, 2.0, nan, 3.0];
        assert!(matches!(
            impute_knn(&mut sparse, 3, 2, 2, 0.5, 0.8),
            Err(ImputeError::ColumnTooSparse { column: 0, .. })
        ));
    }
}
