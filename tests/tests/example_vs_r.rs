//! The bundled MaxQuant example through the whole pipeline, compared with R limma / t.test / aov / TukeyHSD
//! (fixtures from tests/reference/example_reference.R, R 4.2.2, limma 3.54.1).

use proteo_core::de::{DeMethod, FTestMode, Posthoc};
use proteo_core::qc::Impute;
use proteo_tests::*;

fn run(method: DeMethod, posthoc: Posthoc) -> (tempfile::TempDir, JobOutputs) {
    let dir = tempfile::tempdir().unwrap();
    let mut params = default_params();
    params.qc.impute = Impute::None;
    params.de.method = method;
    params.de.posthoc = posthoc;
    run_local(&example_input(), &example_design(), params, dir.path()).expect("pipeline runs");
    let out = JobOutputs::read(dir.path());
    (dir, out)
}

struct JobOutputs {
    results: proteo_core::tables::Table,
    ftest: proteo_core::tables::Table,
    matrix: proteo_core::tables::Table,
}

impl JobOutputs {
    fn read(dir: &std::path::Path) -> Self {
        JobOutputs {
            results: read_table(&dir.join("de/results.parquet")),
            ftest: read_table(&dir.join("de/ftest.parquet")),
            matrix: read_table(&dir.join("qc/matrix.parquet")),
        }
    }
}

/// Align our long results to the fixture's (protein, contrast) rows and compare the listed columns.
fn compare_results(out: &proteo_core::tables::Table, fixture: &Fixture, columns: &[(&str, &str)]) {
    let ours_keys = protein_contrast_keys(out);
    let idx = index_by(&ours_keys);
    let ref_keys: Vec<Vec<String>> =
        fixture.text("protein_id").into_iter().zip(fixture.text("contrast")).map(|(p, c)| vec![p, c]).collect();
    assert_eq!(ours_keys.len(), ref_keys.len(), "row count");
    let order: Vec<usize> =
        ref_keys.iter().map(|k| *idx.get(k).unwrap_or_else(|| panic!("missing row {k:?}"))).collect();
    let labels: Vec<String> = ref_keys.iter().map(|k| k.join(" / ")).collect();
    for (ours_col, ref_col) in columns {
        let all = out.f64(ours_col).unwrap();
        let ours: Vec<f64> = order.iter().map(|&i| all[i]).collect();
        let worst = assert_close(ours_col, &ours, &fixture.num(ref_col), &labels);
        eprintln!("{ours_col}: max relative error {worst:e}");
    }
}

#[test]
fn qc_matrix_equals_r() {
    let (_dir, out) = run(DeMethod::Limma, Posthoc::None);
    let fixture = Fixture::read("example_matrix.tsv");
    let ids = fixture.text("protein_id");
    assert_eq!(out.matrix.text("protein_id").unwrap(), ids, "same proteins kept, same order");
    for s in fixture.columns.iter().skip(1) {
        assert_close(s, &out.matrix.f64(s).unwrap(), &fixture.num(s), &ids);
    }
}

#[test]
fn limma_moderated_t_and_f_equal_r() {
    let (_dir, out) = run(DeMethod::Limma, Posthoc::None);
    let fixture = Fixture::read("example_limma.tsv");
    compare_results(
        &out.results,
        &fixture,
        &[
            ("log2fc", "log2fc"),
            ("t", "t"),
            ("p_value", "p_value"),
            ("adj_p_value", "adj_p_value"),
            ("avg_expr", "avg_expr"),
            ("df", "df"),
        ],
    );
    // The default F: any difference among the groups, from each protein's own fit (R lm.fit per protein).
    let f = Fixture::read("example_limma_f.tsv");
    let ids = f.text("protein_id");
    assert_eq!(out.ftest.text("protein_id").unwrap(), ids);
    for col in ["f", "df1", "p_value", "adj_p_value"] {
        assert_close(col, &out.ftest.f64(col).unwrap(), &f.num(col), &ids);
    }
    // It does not change with the contrasts asked for.
    let dir = tempfile::tempdir().unwrap();
    let mut params = default_params();
    params.qc.impute = Impute::None;
    params.de.contrasts = "vs:CD34Neg".into();
    run_local(&example_input(), &example_design(), params, dir.path()).expect("pipeline runs");
    let vs = JobOutputs::read(dir.path());
    let bits =
        |t: &proteo_core::tables::Table| t.f64("p_value").unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&vs.ftest), bits(&out.ftest), "F independent of --contrasts");
}

#[test]
fn limma_shared_f_equals_classify_tests_f() {
    let dir = tempfile::tempdir().unwrap();
    let mut params = default_params();
    params.qc.impute = Impute::None;
    params.de.f_test = FTestMode::Shared;
    run_local(&example_input(), &example_design(), params, dir.path()).expect("pipeline runs");
    let out = JobOutputs::read(dir.path());
    let f = Fixture::read("example_limma_f.tsv");
    let ids = f.text("protein_id");
    for (ours, theirs) in [("f", "limma_f"), ("p_value", "limma_p_value"), ("adj_p_value", "limma_adj_p_value")] {
        assert_close(ours, &out.ftest.f64(ours).unwrap(), &f.num(theirs), &ids);
    }
}

#[test]
fn welch_t_tests_equal_r() {
    let (_dir, out) = run(DeMethod::Welch, Posthoc::None);
    let fixture = Fixture::read("example_welch.tsv");
    compare_results(
        &out.results,
        &fixture,
        &[("log2fc", "log2fc"), ("t", "t"), ("df", "df"), ("p_value", "p_value"), ("adj_p_value", "adj_p_value")],
    );
}

#[test]
fn anova_and_tukey_equal_r() {
    let (_dir, out) = run(DeMethod::Anova, Posthoc::Tukey);
    let f = Fixture::read("example_anova_f.tsv");
    let ids = f.text("protein_id");
    for col in ["f", "df1", "df2", "p_value", "adj_p_value"] {
        assert_close(col, &out.ftest.f64(col).unwrap(), &f.num(col), &ids);
    }
    // Tukey: 1e-6 absolute is the bar. The fixture uses TukeyHSD where df > 10 and the exact integral where
    // R's ptukey is imprecise (df ≤ 10; see tests/reference/example_reference.R).
    let tk = Fixture::read("example_tukey.tsv");
    let ours_keys = protein_contrast_keys(&out.results);
    let idx = index_by(&ours_keys);
    let ours = out.results.f64("tukey_p_value").unwrap();
    let reference = tk.num("tukey_p_value");
    for (r, (p, c)) in tk.text("protein_id").into_iter().zip(tk.text("contrast")).enumerate() {
        let a = ours[idx[&vec![p.clone(), c.clone()]]];
        let b = reference[r];
        assert!(a.is_nan() == b.is_nan(), "{p} {c}: ours {a}, R {b}");
        if !b.is_nan() {
            assert!((a - b).abs() <= 1e-6, "{p} {c}: Tukey ours {a}, R {b}");
        }
    }
}
