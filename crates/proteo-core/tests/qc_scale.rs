//! QC at cohort scale: the randomized PCA against the exact one, and the correlation panel against every pair.

use nalgebra::{DMatrix, SymmetricEigen};
use proteo_core::input::{align_to_design, read_design, read_intensities};
use proteo_core::model::{Design, IntensityTable};
use proteo_core::qc::{
    correlation_panel, pca, pca_exact, pca_randomized, run_qc, Pca, QcParams, QcResult, CORRELATION_PANEL,
    PCA_COMPONENTS, PCA_EXACT_MAX_SAMPLES,
};
use proteo_core::synthetic::{generate, SyntheticSpec};

/// Randomized scores agree with the exact ones to this fraction of the component's largest |score|.
const SCORE_TOLERANCE: f64 = 1e-6;
/// …and the % variance to this many percentage points.
const VARIANCE_TOLERANCE: f64 = 1e-6;

fn root() -> String {
    format!("{}/../..", env!("CARGO_MANIFEST_DIR"))
}

fn load(matrix: &[u8], design: &[u8]) -> (IntensityTable, Design) {
    let (table, _) = read_intensities(matrix, "matrix", None).unwrap();
    let design = read_design(design, "design").unwrap();
    let table = align_to_design(table, &design, "matrix", "design").unwrap();
    (table, design)
}

fn example_qc() -> QcResult {
    let m = std::fs::read(format!("{}/data/example/proteinGroups.txt", root())).unwrap();
    let d = std::fs::read(format!("{}/data/example/experimental_design.tsv", root())).unwrap();
    let (table, design) = load(&m, &d);
    run_qc(&table, &design, &QcParams::default(), None).unwrap()
}

/// Exact PCA through the proteins × proteins Gram matrix (for fewer proteins than samples): the reference for the
/// 2 000-sample case, independent of both code paths under test.
fn pca_by_protein_gram(m: &[f64], np: usize, ns: usize) -> Pca {
    let x = DMatrix::<f64>::from_fn(np, ns, |p, s| {
        let row = &m[p * ns..(p + 1) * ns];
        row[s] - row.iter().sum::<f64>() / ns as f64
    });
    let eig = SymmetricEigen::new(&x * x.transpose());
    let mut order: Vec<usize> = (0..np).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let total: f64 = x.iter().map(|v| v * v).sum();
    let mut scores = vec![f64::NAN; ns * PCA_COMPONENTS];
    let mut variance_pct = vec![f64::NAN; PCA_COMPONENTS];
    for (c, &k) in order.iter().take(PCA_COMPONENTS).enumerate() {
        let s = x.tr_mul(&eig.eigenvectors.column(k).into_owned());
        let big = s.iter().copied().fold(0.0f64, |b, v| if v.abs() > b.abs() { v } else { b });
        for i in 0..ns {
            scores[i * PCA_COMPONENTS + c] = s[i] * big.signum();
        }
        variance_pct[c] = 100.0 * eig.eigenvalues[k] / total;
    }
    Pca { scores, variance_pct, proteins_used: np }
}

/// Scores equal up to sign within [`SCORE_TOLERANCE`] of each component's largest |score|; % variance within
/// [`VARIANCE_TOLERANCE`].
fn assert_same_pca(got: &Pca, want: &Pca, ns: usize, what: &str) {
    assert_eq!(got.proteins_used, want.proteins_used, "{what}");
    for c in 0..PCA_COMPONENTS {
        let col = |p: &Pca| (0..ns).map(|i| p.scores[i * PCA_COMPONENTS + c]).collect::<Vec<f64>>();
        let (g, w) = (col(got), col(want));
        let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let dot: f64 = g.iter().zip(&w).map(|(a, b)| a * b).sum();
        let sign = dot.signum();
        let worst = g.iter().zip(&w).map(|(a, b)| (sign * a - b).abs()).fold(0.0f64, f64::max);
        println!("{what}: PC{} max |Δscore| = {:.2e} of {scale:.3e}", c + 1, worst);
        assert!(worst <= SCORE_TOLERANCE * scale, "{what}: PC{} differs by {worst:e} (scale {scale:e})", c + 1);
        let dv = (got.variance_pct[c] - want.variance_pct[c]).abs();
        assert!(
            dv <= VARIANCE_TOLERANCE,
            "{what}: PC{} variance {} vs {}",
            c + 1,
            got.variance_pct[c],
            want.variance_pct[c]
        );
    }
}

#[test]
fn randomized_pca_equals_the_exact_pca_on_the_example() {
    let qc = example_qc();
    let (np, ns) = (qc.matrix.n_proteins(), qc.matrix.n_samples());
    assert!(ns <= PCA_EXACT_MAX_SAMPLES, "the example's own PCA stays exact");
    assert_eq!(qc.pca, pca_exact(&qc.matrix.values, np, ns));
    assert_same_pca(&pca_randomized(&qc.matrix.values, np, ns), &qc.pca, ns, "example");
}

#[test]
fn randomized_pca_equals_the_exact_pca_on_2000_synthetic_samples() {
    // 10 groups × 200 replicates; fewer proteins than samples, so the exact reference is a small eigenproblem.
    let spec = SyntheticSpec { missing: 0.0, ..SyntheticSpec::new(300, 10, 200) };
    let data = generate(&spec);
    let (table, design) = load(&data.matrix_tsv, &data.design_tsv);
    let (np, ns) = (table.n_proteins(), table.n_samples());
    assert_eq!(ns, 2000);
    let log: Vec<f64> = table.values.iter().map(|v| v.log2()).collect();
    let exact = pca_by_protein_gram(&log, np, ns);
    assert_same_pca(&pca_randomized(&log, np, ns), &exact, ns, "2000 samples");
    // Above the cap, QC's PCA is the randomized one.
    let qc =
        run_qc(&table, &design, &QcParams { normalize: proteo_core::qc::Normalize::None, ..Default::default() }, None)
            .unwrap();
    assert_eq!(qc.pca, pca(&qc.matrix.values, np, ns));
    assert_eq!(qc.pca, pca_randomized(&qc.matrix.values, np, ns));
}

fn exact_median_correlation(m: &[f64], np: usize, ns: usize, s: usize) -> f64 {
    let col = |t: usize| (0..np).map(|p| m[p * ns + t]).collect::<Vec<f64>>();
    let a = col(s);
    let cors: Vec<f64> = (0..ns)
        .filter(|&t| t != s)
        .map(|t| {
            let b = col(t);
            let pairs: Vec<(f64, f64)> =
                a.iter().zip(&b).filter(|(x, y)| x.is_finite() && y.is_finite()).map(|(x, y)| (*x, *y)).collect();
            let n = pairs.len() as f64;
            let (mx, my) = (pairs.iter().map(|p| p.0).sum::<f64>() / n, pairs.iter().map(|p| p.1).sum::<f64>() / n);
            let sxy: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
            let sxx: f64 = pairs.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
            let syy: f64 = pairs.iter().map(|(_, y)| (y - my) * (y - my)).sum();
            sxy / (sxx * syy).sqrt()
        })
        .collect();
    proteo_core::qc::median(cors)
}

#[test]
fn example_median_correlations_are_over_every_other_sample_and_n1_is_flagged() {
    let qc = example_qc();
    let ns = qc.matrix.n_samples();
    assert_eq!(correlation_panel(ns), (0..ns).collect::<Vec<_>>());
    let flagged: Vec<&str> = qc.samples.iter().filter(|s| s.outlier).map(|s| s.sample.as_str()).collect();
    assert_eq!(flagged, ["N1"], "the example's N1 (96 % missing) and only it");
}

#[test]
fn a_2000_sample_cohort_uses_an_even_panel_close_to_every_pair_and_flags_a_bad_run() {
    let spec = SyntheticSpec { missing: 0.1, ..SyntheticSpec::new(200, 10, 200) };
    let data = generate(&spec);
    let (mut table, design) = load(&data.matrix_tsv, &data.design_tsv);
    let (np, ns) = (table.n_proteins(), table.n_samples());
    // Run 777 is a failed injection: its intensities are scrambled across proteins.
    let bad = 777;
    let mut col: Vec<f64> = (0..np).map(|p| table.values[p * ns + bad]).collect();
    col.rotate_left(np / 3);
    for (p, v) in col.into_iter().enumerate() {
        table.values[p * ns + bad] = v;
    }
    let panel = correlation_panel(ns);
    assert_eq!(panel.len(), CORRELATION_PANEL);
    assert_eq!((panel[0], *panel.last().unwrap()), (0, ns - 1));
    assert!(panel.windows(2).all(|w| w[0] < w[1]));
    let params = QcParams { impute: proteo_core::qc::Impute::None, ..Default::default() };
    let qc = run_qc(&table, &design, &params, None).unwrap();
    // The scrambled run is flagged and has the lowest median correlation of all. (The rule's robust z over all
    // samples also flags much of a group whose effects set it apart: the rule, not the panel, compares every sample
    // to all; see the report to the lead.)
    assert!(qc.samples[bad].outlier, "{:?}", qc.samples[bad]);
    let lowest = (0..ns).min_by(|&a, &b| qc.samples[a].median_correlation.total_cmp(&qc.samples[b].median_correlation));
    assert_eq!(lowest, Some(bad));
    // The panel's median is within 0.01 of the median over all 1 999 others (QC's matrix: normalized, unimputed).
    for s in [0, 5, 1234, bad, ns - 1] {
        let exact = exact_median_correlation(&qc.matrix.values, qc.matrix.n_proteins(), ns, s);
        let got = qc.samples[s].median_correlation;
        assert!((got - exact).abs() < 0.01, "sample {s}: panel {got} vs all pairs {exact}");
    }
}
