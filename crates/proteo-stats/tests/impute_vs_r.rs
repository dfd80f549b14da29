//! kNN imputation against Bioconductor impute 1.72.3 `impute.knn` (fixtures from `tests/reference/impute_reference.R`).

#[allow(dead_code)]
mod common;

use common::{compare, read_matrix};
use proteo_stats::impute::{impute_knn, KNN_COLMAX, KNN_K, KNN_ROWMAX};

/// The tolerance, relative.
const TOL: f64 = 1e-8;

#[test]
fn knn_imputation_equals_impute_knn() {
    let (nr, nc, mut v) = read_matrix("impute_knn_values.tsv").expect("run impute_reference.R");
    let (_, _, expected) = read_matrix("impute_knn_result.tsv").expect("result fixture");
    let missing = v.iter().filter(|x| x.is_nan()).count();
    assert!(missing > nr, "the fixture has missing values to impute ({missing})");
    impute_knn(&mut v, nr, nc, KNN_K, KNN_ROWMAX, KNN_COLMAX).unwrap();
    compare("impute.knn", &v, &expected, TOL, 1.0, 0.0);
}
