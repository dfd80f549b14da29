//! Designs beyond one factor through the whole pipeline, compared with R limma 3.54.1
//! (fixtures from tests/reference/design_reference.R): batch + numeric covariate with combined contrasts, with
//! trend, robust and robust + trend, and a repeated-measures design (`pair`) with treat.

use proteo_core::qc::{Impute, Normalize};
use proteo_tests::*;

fn run_case(case: &str, configure: impl FnOnce(&mut proteo_pipeline::JobParams)) -> proteo_core::tables::Table {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo_root().join("tests/fixtures");
    let mut params = default_params();
    params.qc.log2_input = true;
    params.qc.normalize = Normalize::None;
    params.qc.impute = Impute::None;
    params.qc.min_valid = Some(1);
    configure(&mut params);
    run_local(
        &fixtures.join(format!("design_{case}_matrix.tsv")),
        &fixtures.join(format!("design_{case}_design.tsv")),
        params,
        dir.path(),
    )
    .unwrap_or_else(|(stage, e)| panic!("{case}: {} failed: {e}", stage.title()));
    read_table(&dir.path().join("de/results.parquet"))
}

fn compare(out: &proteo_core::tables::Table, case: &str, test: &str) {
    let fixture = Fixture::read("design_limma.tsv");
    let rows: Vec<usize> = fixture
        .text("case")
        .iter()
        .zip(fixture.text("test"))
        .enumerate()
        .filter(|(_, (c, t))| c.as_str() == case && t == test)
        .map(|(i, _)| i)
        .collect();
    assert!(!rows.is_empty(), "fixture has rows for {case}/{test}");
    let keys = protein_contrast_keys(out);
    assert_eq!(keys.len(), rows.len(), "{case}/{test}: row count");
    let idx = index_by(&keys);
    let (pids, contrasts) = (fixture.text("protein_id"), fixture.text("contrast"));
    let order: Vec<usize> = rows.iter().map(|&r| idx[&vec![pids[r].clone(), contrasts[r].clone()]]).collect();
    let labels: Vec<String> = rows.iter().map(|&r| format!("{case}/{test} {} {}", pids[r], contrasts[r])).collect();
    for col in ["log2fc", "t", "p_value", "adj_p_value"] {
        let ours_all = out.f64(col).unwrap();
        let reference_all = fixture.num(col);
        let ours: Vec<f64> = order.iter().map(|&i| ours_all[i]).collect();
        let reference: Vec<f64> = rows.iter().map(|&r| reference_all[r]).collect();
        assert_close(col, &ours, &reference, &labels);
    }
}

#[test]
fn batch_and_covariate_with_combined_contrasts_equal_limma() {
    let contrasts = "B-A,C-A,(B+C)/2-A";
    let out = run_case("batch_age", |p| {
        p.de.covariates = vec!["age".into()];
        p.de.contrasts = contrasts.into();
    });
    compare(&out, "batch_age", "ebayes");
    let trend = run_case("batch_age", |p| {
        p.de.covariates = vec!["age".into()];
        p.de.contrasts = contrasts.into();
        p.de.trend = true;
    });
    compare(&trend, "batch_age", "trend");
}

#[test]
fn robust_empirical_bayes_through_the_pipeline_equals_limma() {
    let contrasts = "B-A,C-A,(B+C)/2-A";
    for (test, trend) in [("robust", false), ("robust_trend", true)] {
        let out = run_case("batch_age", |p| {
            p.de.covariates = vec!["age".into()];
            p.de.contrasts = contrasts.into();
            p.de.robust = true;
            p.de.trend = trend;
        });
        compare(&out, "batch_age", test);
    }
}

#[test]
fn paired_design_and_treat_equal_limma() {
    compare(&run_case("paired", |_| {}), "paired", "ebayes");
    compare(&run_case("paired", |p| p.de.treat_lfc = Some(0.5)), "paired", "treat");
}
