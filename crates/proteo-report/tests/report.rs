//! End to end: run the real pipeline, render the report, check its charts, labels, self-containment and size.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use proteo_core::tables::Table;
use proteo_pipeline::contracts::PathwayParams;
use proteo_pipeline::fs_store::FsStore;
use proteo_pipeline::{run_job, JobParams, JobSpec, ObjectStore, Progress};
use proteo_report::{render, HtmlReport, ReportInputs, OPTIONAL_REPORT_INPUTS, REPORT_INPUTS};

/// The report must stay small enough to e-mail and open quickly, at any input size and contrast count (issue 16:
/// report.html ≤ 5 MB).
const MAX_BYTES: usize = 5_000_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example_job() -> JobSpec {
    job(&root().join("data/example/proteinGroups.txt"), &root().join("data/example/experimental_design.tsv"))
}

fn job(input: &Path, design: &Path) -> JobSpec {
    JobSpec {
        job_id: "report-test".into(),
        prefix: String::new(),
        input_key: input.to_string_lossy().into_owned(),
        design_key: design.to_string_lossy().into_owned(),
        params: JobParams {
            format: None,
            quant: Default::default(),
            samples: Default::default(),
            qc: Default::default(),
            de: Default::default(),
            pathway: PathwayParams::with_gene_sets(
                root().join("data/gene_sets/go_bp_human_uniprot.gmt.gz").to_string_lossy(),
            ),
            output: Default::default(),
        },
    }
}

fn run(input: &Path, design: &Path, out: &Path) -> ReportInputs {
    let job = job(input, design);
    let run = pollster::block_on(run_job(&FsStore::new(out), &job, &HtmlReport, &|_: Progress| {}))
        .map_err(|(s, e)| format!("{s:?}: {e}"))
        .unwrap();
    assert_eq!(run.warning, None);
    let mut inputs = ReportInputs::default();
    for key in REPORT_INPUTS {
        inputs.files.insert(key.to_string(), Bytes::from(std::fs::read(out.join(key)).unwrap()));
    }
    for key in OPTIONAL_REPORT_INPUTS {
        if let Ok(bytes) = std::fs::read(out.join(key)) {
            inputs.files.insert(key.to_string(), Bytes::from(bytes));
        }
    }
    inputs
}

fn assert_self_contained(html: &str) {
    assert!(!html.contains("http://") && !html.contains("https://"), "the report must not reference any URL");
    assert!(!html.contains("<link") && !html.contains(" src="), "no external resources");
}

#[test]
fn example_report_has_every_chart_the_contrasts_and_labelled_hits() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = run(
        &root().join("data/example/proteinGroups.txt"),
        &root().join("data/example/experimental_design.tsv"),
        dir.path(),
    );
    let html = render(&inputs).unwrap();
    println!("example report: {} bytes", html.len());
    assert!(html.len() > 50_000 && html.len() < 2_000_000, "{} bytes", html.len());
    assert_self_contained(&html);

    let contrasts = ["CD34High-CD34Low", "CD34High-CD34Neg", "CD34Low-CD34Neg"];
    for c in contrasts {
        assert!(html.contains(&format!("Volcano: {c}")), "{c}");
    }
    let en = Table::from_parquet(inputs.files["pathway/enrichment.parquet"].clone(), "e").unwrap();
    let (ec, ed) = (en.text("contrast").unwrap(), en.text("direction").unwrap());
    let mut pairs: Vec<(String, String)> = ec.into_iter().zip(ed).collect();
    pairs.sort();
    pairs.dedup();
    // 2 sample bars + 2 box plots + PCA + correlation heatmap, volcano + p histogram per contrast, the F test's p
    // histogram, the heatmap of top proteins, one bar chart per term list.
    assert_eq!(html.matches("<svg").count(), 8 + 2 * contrasts.len() + pairs.len());
    // Everything computed is shown: the F test, the heatmap, the outlier sample (N1: 96 % missing), the methods.
    assert!(html.contains("data-testid=\"ftest-table\""), "F-test table");
    assert!(html.contains("F test: any difference among the groups"));
    assert!(html.contains("chart heatmap-z") && html.contains("Top significant proteins (z-score)"));
    let qc_table = &html[html.find("data-testid=\"sample-qc\"").expect("sample QC table")..];
    assert!(qc_table.contains("<tr class=\"sig outlier\"><td>N1</td>"), "N1 flagged");
    assert!(qc_table[..qc_table.find("</table>").unwrap()].contains("flagged: identified proteins 52"), "N1's reason");
    let methods = &html[html.find("data-testid=\"methods\"").expect("methods paragraph")..];
    for needle in [
        "log2-transformed",
        "705 of 1375",
        "subtracting each sample",
        "N1 (",
        "limma lmFit",
        "first listed − later listed",
    ] {
        assert!(methods[..methods.find("</p>").unwrap()].contains(needle), "methods mention `{needle}`");
    }

    // The most significant hit of CD34Low-CD34Neg, by the DE table itself, is a volcano label.
    let de = Table::from_parquet(inputs.files["de/results.parquet"].clone(), "de").unwrap();
    let (c, g, adj) = (de.text("contrast").unwrap(), de.text("gene_names").unwrap(), de.f64("adj_p_value").unwrap());
    let best =
        (0..de.num_rows()).filter(|&i| c[i] == "CD34Low-CD34Neg").min_by(|&a, &b| adj[a].total_cmp(&adj[b])).unwrap();
    assert!(adj[best] < 0.05);
    let gene = g[best].split(';').next().unwrap();
    assert!(html.contains(&format!(">{gene}</text>")), "label {gene} missing");
    assert_eq!(html.matches(r#"class="vl""#).count(), 10 + 10, "10 labels each for the two contrasts with ≥ 10 hits");
    assert!(html.contains("42"), "seed");
}

#[test]
fn synthetic_10000_by_36_contrasts_stays_under_5_mb() {
    let data = proteo_core::synthetic::generate(&proteo_core::synthetic::SyntheticSpec::new(10_000, 9, 4));
    let dir = tempfile::tempdir().unwrap();
    let (m, d) = (dir.path().join("matrix.tsv"), dir.path().join("design.tsv"));
    std::fs::write(&m, &data.matrix_tsv).unwrap();
    std::fs::write(&d, &data.design_tsv).unwrap();
    let inputs = run(&m, &d, &dir.path().join("out"));
    let html = render(&inputs).unwrap();
    println!("synthetic 10000 × (9 × 4) report: {} bytes", html.len());
    assert_self_contained(&html);
    assert_eq!(html.matches("Volcano: ").count(), 36);
    assert!(html.len() < MAX_BYTES, "{} bytes", html.len());
}

#[test]
fn a_2000_sample_cohort_with_45_contrasts_stays_under_5_mb_and_summarises_by_group() {
    // 10 groups × 200 replicates: all 45 pairs, more samples than any per-sample chart draws.
    let data = proteo_core::synthetic::generate(&proteo_core::synthetic::SyntheticSpec::new(1_000, 10, 200));
    let dir = tempfile::tempdir().unwrap();
    let (m, d) = (dir.path().join("matrix.tsv"), dir.path().join("design.tsv"));
    std::fs::write(&m, &data.matrix_tsv).unwrap();
    std::fs::write(&d, &data.design_tsv).unwrap();
    drop(data);
    let inputs = run(&m, &d, &dir.path().join("out"));
    let html = render(&inputs).unwrap();
    println!("synthetic 1000 × (10 × 200) report: {} bytes", html.len());
    assert_self_contained(&html);
    assert!(html.len() < MAX_BYTES, "{} bytes", html.len());
    // The first FULL_CONTRASTS contrasts in full, the other 9 as one row each, with the sentence saying so.
    assert_eq!(html.matches("Volcano: ").count(), proteo_report::FULL_CONTRASTS);
    let rows = &html[html.find("data-testid=\"contrast-rows\"").expect("table of further contrasts")..];
    assert_eq!(rows[..rows.find("</table>").unwrap()].matches("<tr><td>").count(), 45 - proteo_report::FULL_CONTRASTS);
    assert!(html.contains("data-testid=\"contrast-cap\""));
    // QC by group: no per-pair correlation heatmap, no per-sample bars; the top-protein heatmap has group columns.
    assert!(html.contains("data-testid=\"qc-by-group\""));
    assert!(!html.contains("Sample correlation (Pearson r)"));
    assert!(html.contains("Proteins identified per sample, by group"));
    let heat = &html[html.find("chart heatmap-z").expect("top-protein heatmap")..];
    let heat = &heat[..heat.find("</svg>").unwrap()];
    assert!(heat.matches("<rect").count() < 40 * 10 + 10 + 40, "group columns, not sample columns");
    assert!(html.contains("a panel of 100 samples spread evenly"), "the correlation panel is stated");
    assert!(html.contains("randomized subspace iteration"), "the PCA method is stated");
}

/// A store that writes `damaged` as bytes that are not Parquet (a damaged object), everything else as given.
struct Damaging {
    inner: FsStore,
    damaged: &'static str,
}

impl ObjectStore for Damaging {
    async fn get(&self, key: &str) -> Result<Bytes, proteo_pipeline::StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), proteo_pipeline::StoreError> {
        let body = if key == self.damaged { b"not parquet".to_vec() } else { body };
        self.inner.put(key, body, content_type).await
    }
}

#[test]
fn a_report_that_cannot_be_rendered_is_a_warning_and_every_statistics_output_is_written() {
    // `proteo run`'s path: the report's own input table is damaged; the job still succeeds, says why there is no
    // report, and the statistics are those of an undamaged run, byte for byte.
    let (dir, clean) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = Damaging { inner: FsStore::new(dir.path()), damaged: "qc/distributions.parquet" };
    let run = pollster::block_on(run_job(&store, &example_job(), &HtmlReport, &|_: Progress| {}))
        .map_err(|(s, e)| format!("{s:?}: {e}"))
        .expect("the job succeeds without its report");
    let warning = run.warning.expect("a warning");
    assert!(warning.starts_with("report could not be rendered: report.html: "), "{warning}");
    assert!(warning.contains("qc/distributions.parquet"), "{warning}");
    assert_eq!(run.report_key, None);
    assert_eq!(run.summary_key.as_deref(), Some("summary.json"));
    assert!(!dir.path().join("report.html").exists());
    pollster::block_on(run_job(&FsStore::new(clean.path()), &example_job(), &HtmlReport, &|_: Progress| {}))
        .map_err(|(s, e)| format!("{s:?}: {e}"))
        .unwrap();
    for rel in [
        "summary.json",
        "qc/matrix.parquet",
        "qc/imputed.parquet",
        "qc/samples.parquet",
        "qc/pca.parquet",
        "de/results.parquet",
        "de/ftest.parquet",
        "pathway/enrichment.parquet",
        "pathway/camera.parquet",
    ] {
        let got = std::fs::read(dir.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(got, std::fs::read(clean.path().join(rel)).unwrap(), "{rel} differs from an undamaged run's");
    }
}

#[test]
fn the_before_and_after_boxes_are_those_of_every_value() {
    // QC stores five numbers per sample; the report draws them. Recomputed here from the raw input and the matrix,
    // they are the same numbers (the report's boxes did not change when it stopped reading the raw input).
    let dir = tempfile::tempdir().unwrap();
    let inputs = run(
        &root().join("data/example/proteinGroups.txt"),
        &root().join("data/example/experimental_design.tsv"),
        dir.path(),
    );
    let dist = Table::from_parquet(inputs.files["qc/distributions.parquet"].clone(), "d").unwrap();
    let raw =
        Table::from_parquet(Bytes::from(std::fs::read(dir.path().join("ingest/table.parquet")).unwrap()), "r").unwrap();
    let matrix = Table::from_parquet(inputs.files["qc/matrix.parquet"].clone(), "m").unwrap();
    let stats = proteo_pipeline::stages::DISTRIBUTION_STATS;
    for (row, sample) in dist.text("sample").unwrap().iter().enumerate() {
        let before: Vec<f64> =
            raw.f64(sample).unwrap().into_iter().filter(|v| v.is_finite() && *v > 0.0).map(f64::log2).collect();
        let after = matrix.f64(sample).unwrap();
        for (when, values) in [("before", before), ("after", after)] {
            let want = proteo_stats::boxplot::five_numbers(&values).unwrap();
            let got: Vec<f64> = stats.iter().map(|s| dist.f64(&format!("{when}_{s}")).unwrap()[row]).collect();
            assert_eq!(got, want, "{sample} {when}");
        }
    }
}
