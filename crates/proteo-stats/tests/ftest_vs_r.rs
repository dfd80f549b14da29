//! The per-protein moderated F against R 4.2.2 / limma 3.54.1 per-protein fits (fixtures from
//! `tests/reference/ftest_reference.R`), and against limma's `classifyTestsF` F on proteins without missing values.

#[allow(dead_code)]
mod common;

use common::{compare, read_matrix};
use nalgebra::DMatrix;
use proteo_stats::limma::{ebayes, group_ftest, lm_fit, EbayesOptions};

/// The tolerance, relative.
const TOL: f64 = 1e-8;
/// p-values are compared down to this.
const SMALLEST_P: f64 = 1e-300;

fn check(case: &str) {
    let (ng, ns, values) = read_matrix(&format!("ftest_{case}_values.tsv")).expect("run ftest_reference.R");
    let (dr, dc, d) = read_matrix(&format!("ftest_{case}_design.tsv")).expect("design");
    let design = DMatrix::from_row_slice(dr, dc, &d);
    let groups_text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/ftest_{case}_groups.tsv")),
    )
    .unwrap();
    let group_columns: Vec<usize> = groups_text.trim().split('\t').map(|s| s.parse().unwrap()).collect();
    let (nr, nc, res) = read_matrix(&format!("ftest_{case}_results.tsv")).expect("results");
    assert_eq!(nr, ng);
    let col = |j: usize| (0..nr).map(|i| res[i * nc + j]).collect::<Vec<f64>>();
    let fit = lm_fit(&values, ns, &design).unwrap();
    let eb = ebayes(&fit, &EbayesOptions::default()).unwrap();
    let f = group_ftest(&values, ns, &design, &group_columns, &fit.df_residual, &eb);
    compare(&format!("{case} F"), &f.f, &col(0), TOL, 0.0, 0.0);
    compare(&format!("{case} df1"), &f.df1, &col(1), TOL, 0.0, 0.0);
    compare(&format!("{case} df2"), &f.df2, &col(2), TOL, 0.0, 0.0);
    compare(&format!("{case} p"), &f.p_value, &col(3), TOL, 0.0, SMALLEST_P);
    let complete: Vec<usize> = (0..nr).filter(|&i| res[i * nc + 5] == 1.0).collect();
    assert!(complete.len() > nr / 5, "{case}: enough complete proteins to compare with limma's F");
    let ours: Vec<f64> = complete.iter().map(|&i| f.f[i]).collect();
    let limma: Vec<f64> = complete.iter().map(|&i| res[i * nc + 4]).collect();
    compare(&format!("{case} F = classifyTestsF on complete proteins"), &ours, &limma, TOL, 0.0, 0.0);
    let differs =
        (0..nr).filter(|&i| res[i * nc + 5] == 0.0 && (res[i * nc + 4] - f.f[i]).abs() > 1e-3 * f.f[i]).count();
    assert!(differs > 0, "{case}: with missing values the shared-correlation F differs for some proteins");
}

#[test]
fn per_protein_f_equals_r_per_protein_fits_four_groups() {
    check("four_groups");
}

#[test]
fn per_protein_f_equals_r_per_protein_fits_with_batch() {
    check("batch");
}
