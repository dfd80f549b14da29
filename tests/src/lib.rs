//! Shared helpers for the end-to-end tests: run a job on local files, read fixtures and Parquet outputs, compare numbers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use proteo_core::tables::Table;
use proteo_pipeline::contracts::PathwayParams;
use proteo_pipeline::fs_store::FsStore;
use proteo_pipeline::{run_job, JobParams, JobRun, JobSpec, Progress, Stage, StageError};

/// Agreement with R (limma 3.54.1, R 4.2.2) required by the issue: 1e-8 relative. Values whose reference is
/// within `ABS_FLOOR` of zero (log2 fold changes of exactly balanced groups) are compared absolutely.
pub const REL_TOL: f64 = 1e-8;
pub const ABS_FLOOR: f64 = 1e-12;
/// p-values below this are not compared (the range is p ≥ 1e-300).
pub const P_FLOOR: f64 = 1e-300;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub fn example_input() -> PathBuf {
    repo_root().join("data/example/proteinGroups.txt")
}

pub fn example_design() -> PathBuf {
    repo_root().join("data/example/experimental_design.tsv")
}

pub fn shipped_gene_sets() -> PathBuf {
    repo_root().join("data/gene_sets/go_bp_human_uniprot.gmt.gz")
}

/// Job parameters at the CLI defaults.
pub fn default_params() -> JobParams {
    JobParams {
        format: None,
        quant: Default::default(),
        samples: Default::default(),
        qc: Default::default(),
        de: Default::default(),
        pathway: PathwayParams::with_gene_sets(shipped_gene_sets().to_string_lossy()),
        output: Default::default(),
    }
}

/// Run the whole local pipeline into `out`.
pub fn run_local(input: &Path, design: &Path, params: JobParams, out: &Path) -> Result<JobRun, (Stage, StageError)> {
    let job = JobSpec {
        job_id: "test".into(),
        prefix: String::new(),
        input_key: input.to_string_lossy().into_owned(),
        design_key: design.to_string_lossy().into_owned(),
        params,
    };
    let store = FsStore::new(out);
    pollster::block_on(run_job(&store, &job, &proteo_report::HtmlReport, &|_: Progress| {}))
}

pub fn read_table(path: &Path) -> Table {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Table::from_parquet(Bytes::from(bytes), &path.to_string_lossy()).expect("parquet")
}

/// A TSV fixture written by one of the R scripts: header row, `NA` = missing.
pub struct Fixture {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Fixture {
    pub fn read(name: &str) -> Fixture {
        let path = repo_root().join("tests/fixtures").join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut lines = text.lines();
        let columns = lines.next().expect("header").split('\t').map(String::from).collect();
        let rows = lines.filter(|l| !l.is_empty()).map(|l| l.split('\t').map(String::from).collect()).collect();
        Fixture { columns, rows }
    }
    fn idx(&self, col: &str) -> usize {
        self.columns.iter().position(|c| c == col).unwrap_or_else(|| panic!("fixture has no column {col}"))
    }
    pub fn text(&self, col: &str) -> Vec<String> {
        let i = self.idx(col);
        self.rows.iter().map(|r| r[i].clone()).collect()
    }
    pub fn num(&self, col: &str) -> Vec<f64> {
        let i = self.idx(col);
        self.rows.iter().map(|r| if r[i] == "NA" { f64::NAN } else { r[i].parse().expect("number") }).collect()
    }
}

/// The (protein, contrast) key of every row of a long DE results table, in row order.
pub fn protein_contrast_keys(results: &Table) -> Vec<Vec<String>> {
    let (proteins, contrasts) = (results.text("protein_id").unwrap(), results.text("contrast").unwrap());
    proteins.into_iter().zip(contrasts).map(|(p, c)| vec![p, c]).collect()
}

/// Row keys (e.g. protein + contrast) → row index, to compare tables regardless of row order.
pub fn index_by(keys: &[Vec<String>]) -> HashMap<Vec<String>, usize> {
    keys.iter().cloned().enumerate().map(|(i, k)| (k, i)).collect()
}

/// Compare `ours` to `reference` element-wise within [`REL_TOL`]; NaN must match NaN. Returns the max relative error.
pub fn assert_close(what: &str, ours: &[f64], reference: &[f64], labels: &[String]) -> f64 {
    assert_eq!(ours.len(), reference.len(), "{what}: length");
    let mut worst: f64 = 0.0;
    for i in 0..ours.len() {
        let (a, b) = (ours[i], reference[i]);
        if b.is_nan() || a.is_nan() {
            assert!(a.is_nan() && b.is_nan(), "{what} [{}]: ours {a}, R {b}", labels[i]);
            continue;
        }
        if b.abs() < P_FLOOR && a.abs() < P_FLOOR {
            continue;
        }
        let err = (a - b).abs();
        let ok = err <= REL_TOL * b.abs() || (b.abs() < ABS_FLOOR && err <= ABS_FLOOR);
        assert!(ok, "{what} [{}]: ours {a:e}, R {b:e} (relative error {:e})", labels[i], err / b.abs());
        if b.abs() >= ABS_FLOOR {
            worst = worst.max(err / b.abs());
        }
    }
    worst
}
