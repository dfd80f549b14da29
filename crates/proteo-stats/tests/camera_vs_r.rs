//! CAMERA against limma 3.54.1 `camera` (R 4.2.2), fixed (0.01) and estimated inter-gene correlation.
//!
//! Reference: `tests/fixtures/camera_*.tsv`, written by `tests/reference/camera_reference.R`: limma's moderated t and
//! df.total per gene (the input here), the fit's residuals, the sets, and camera's table per contrast and mode.

#[allow(dead_code)]
mod common;

use proteo_stats::camera::{Camera, InterGeneCorrelation, DEFAULT_INTER_GENE_COR};
use proteo_stats::padjust::p_adjust_bh;

/// Relative agreement required of p-values, FDR and estimated correlations (the issue asks 1e-8).
const REL_TOL: f64 = 1e-10;

fn read(name: &str) -> Vec<Vec<String>> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}; run camera_reference.R"));
    text.lines().skip(1).filter(|l| !l.is_empty()).map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

#[test]
fn camera_matches_limma_fixed_and_estimated_correlation() {
    let sets: Vec<(String, Vec<usize>)> = read("camera_sets.tsv")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].split(',').map(|g| g.parse::<usize>().unwrap() - 1).collect()))
        .collect();
    let (genes, samples, residuals) = common::read_matrix("camera_residuals.tsv").unwrap();
    let (_, design_cols, _) = common::read_matrix("camera_design.tsv").unwrap();
    let stats = read("camera_stats.tsv");
    let results = read("camera_results.tsv");
    let mut compared = 0;
    for contrast in ["B-A", "C-A"] {
        let rows: Vec<&Vec<String>> = stats.iter().filter(|r| r[0] == contrast).collect();
        assert_eq!(rows.len(), genes);
        let t: Vec<f64> = rows.iter().map(|r| common::parse_number(&r[2])).collect();
        let df: Vec<f64> = rows.iter().map(|r| common::parse_number(&r[3])).collect();
        let camera = Camera::new(&t, &df).with_residuals(&residuals, samples, samples - design_cols);
        for (mode, cor) in [
            ("fixed", InterGeneCorrelation::Fixed(DEFAULT_INTER_GENE_COR)),
            ("estimated", InterGeneCorrelation::Estimated),
        ] {
            let want: Vec<&Vec<String>> = results.iter().filter(|r| r[0] == contrast && r[1] == mode).collect();
            assert_eq!(want.len(), sets.len());
            let got: Vec<_> = sets.iter().map(|(_, members)| camera.test(members, cor).unwrap()).collect();
            let p: Vec<f64> = got.iter().map(|r| r.p_value).collect();
            let fdr = p_adjust_bh(&p);
            for (i, (r, w)) in got.iter().zip(&want).enumerate() {
                let at = format!("{contrast} {mode} {}", w[2]);
                assert_eq!(r.n_genes, w[3].parse::<usize>().unwrap(), "{at}: NGenes");
                assert_eq!(if r.is_up { "Up" } else { "Down" }, w[5], "{at}: direction");
                common::compare(
                    &format!("{at} correlation"),
                    &[r.correlation],
                    &[common::parse_number(&w[4])],
                    REL_TOL,
                    1e-300,
                    0.0,
                );
                common::compare(
                    &format!("{at} p"),
                    &[r.p_value],
                    &[common::parse_number(&w[6])],
                    REL_TOL,
                    1e-300,
                    1e-300,
                );
                common::compare(
                    &format!("{at} FDR"),
                    &[fdr[i]],
                    &[common::parse_number(&w[7])],
                    REL_TOL,
                    1e-300,
                    1e-300,
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 96);
}
