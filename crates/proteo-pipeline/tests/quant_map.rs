//! The Distributed Map's path through the store: a precursor report split by ingest, each shard quantified on its
//! own (in any order), the protein table assembled — byte-identical to ingest quantifying it in place, whatever
//! the shard count.

use std::path::Path;

use proteo_core::quant::synthetic::{run_name, write_report, ReportSpec};
use proteo_jobs::ObjectStore;
use proteo_pipeline::fs_store::FsStore;
use proteo_pipeline::quant_map::{assemble, quantify_item, read_manifest, QuantJob, Sharding};
use proteo_pipeline::stages::{ingest_or_plan, Ingested};
use proteo_pipeline::{run_stage, JobParams, JobSpec, Stage};

const RUNS: usize = 30;
const PRECURSORS: usize = 700;

/// Splits, quantifies shard by shard (children in reverse order) and assembles; returns the shard count.
fn through_the_map(store: &FsStore, job: &JobSpec, cells: usize) -> usize {
    let sharding = Sharding { max_cells: cells, max_concurrency: 7 };
    let Ingested::Planned(quant) = block_on(ingest_or_plan(store, job, &|_, _| {}, sharding)).unwrap() else {
        panic!("the report over {cells} cells per shard is split");
    };
    let items = block_on(read_manifest(store, &quant.manifest)).unwrap();
    assert_eq!(items.len(), quant.shards);
    for item in items.iter().rev() {
        block_on(quantify_item(store, item)).unwrap();
    }
    block_on(assemble(store, &QuantJob { spec: job.clone(), quant: quant.clone() })).unwrap();
    quant.shards
}

/// A report of `RUNS` runs and a design of them in 3 groups, under `dir/input/`.
fn inputs(dir: &Path) -> JobSpec {
    std::fs::create_dir_all(dir.join("input")).unwrap();
    let spec = ReportSpec { runs: RUNS, precursors: PRECURSORS, missing: 0.2, seed: 3, row_group_rows: 5_000 };
    write_report(&spec, std::fs::File::create(dir.join("input/report.parquet")).unwrap()).unwrap();
    let mut design = String::from("sample\tgroup\n");
    for r in 0..RUNS {
        design.push_str(&format!("{}\tG{}\n", run_name(r), r % 3 + 1));
    }
    std::fs::write(dir.join("input/design.tsv"), design).unwrap();
    JobSpec {
        job_id: "j1".into(),
        prefix: String::new(),
        input_key: "input/report.parquet".into(),
        design_key: "input/design.tsv".into(),
        params: JobParams::default(),
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}

#[test]
fn the_protein_table_through_the_map_equals_quantification_in_place_at_any_shard_count() {
    let root = tempfile::tempdir().unwrap();
    let here = root.path().join("in-place");
    let job = inputs(&here);
    let store = FsStore::new(&here);
    block_on(run_stage(&store, &job, Stage::Ingest, &|_| {})).unwrap();
    let table = std::fs::read(here.join("ingest/table.parquet")).unwrap();
    let summary = std::fs::read(here.join("ingest/summary.json")).unwrap();

    let mut shard_counts = Vec::new();
    for cells in [20_000, 3_000, 1] {
        let dir = root.path().join(format!("cap-{cells}"));
        let job = inputs(&dir);
        let store = FsStore::new(&dir);
        let sharding = Sharding { max_cells: cells, max_concurrency: 7 };
        let Ingested::Planned(quant) = block_on(ingest_or_plan(&store, &job, &|_, _| {}, sharding)).unwrap() else {
            panic!("a {RUNS}-run report over {cells} cells per shard is split");
        };
        assert_eq!(quant.max_concurrency, 7);
        assert!(!dir.join("ingest/table.parquet").exists(), "the table is the assembly's to write");
        let items = block_on(read_manifest(&store, &quant.manifest)).unwrap();
        assert_eq!(items.len(), quant.shards);
        // Children finish in any order; each is idempotent (a retry writes the same bytes).
        for item in items.iter().rev() {
            block_on(quantify_item(&store, item)).unwrap();
        }
        let first = block_on(store.get(&items[0].result)).unwrap();
        block_on(quantify_item(&store, &items[0])).unwrap();
        assert_eq!(block_on(store.get(&items[0].result)).unwrap(), first);
        let result = block_on(assemble(&store, &QuantJob { spec: job.clone(), quant: quant.clone() })).unwrap();
        assert!(result.keys.iter().any(|k| k == "ingest/table.parquet"), "{:?}", result.keys);
        assert_eq!(std::fs::read(dir.join("ingest/table.parquet")).unwrap(), table, "{} shards", quant.shards);
        assert_eq!(std::fs::read(dir.join("ingest/summary.json")).unwrap(), summary, "{} shards", quant.shards);
        shard_counts.push(quant.shards);
    }
    assert!(shard_counts.windows(2).all(|w| w[0] < w[1]), "{shard_counts:?}");
}

#[test]
fn a_report_within_one_shard_and_any_other_table_are_ingested_in_place() {
    let root = tempfile::tempdir().unwrap();
    let job = inputs(root.path());
    let store = FsStore::new(root.path());
    let outcome = block_on(ingest_or_plan(&store, &job, &|_, _| {}, Sharding::default())).unwrap();
    assert!(matches!(outcome, Ingested::Table(_)), "{RUNS} × {PRECURSORS} cells fit one default shard");
    assert!(root.path().join("ingest/table.parquet").exists());
    assert!(!root.path().join("ingest/quant").exists());
}

/// Needs ../shared/data/formats beside the clone (a real DIA-NN 1.8 report.tsv, not copied into the repo): its 6 runs
/// and 72 protein groups split into protein shards of 40 cells give the same table and summary as in place.
#[test]
fn a_real_dia_nn_report_through_the_map_equals_quantification_in_place() {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/formats/diann_report-tsv_1.8.2b8-einprot");
    let (report, design) = (shared.join("PXD028735.report.tsv"), shared.join("PXD028735_sampleAnnot.txt"));
    if !report.exists() {
        eprintln!("skipped: {} is absent (this test needs ../shared/data/formats beside the clone)", report.display());
        return;
    }
    let mut outputs = Vec::new();
    for cells in [usize::MAX, 40] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("input")).unwrap();
        std::fs::copy(&report, dir.path().join("input/PXD028735.report.tsv")).unwrap();
        std::fs::copy(&design, dir.path().join("input/design.txt")).unwrap();
        let job = JobSpec {
            job_id: "real".into(),
            prefix: String::new(),
            input_key: "input/PXD028735.report.tsv".into(),
            design_key: "input/design.txt".into(),
            params: JobParams::default(),
        };
        let store = FsStore::new(dir.path());
        if cells == usize::MAX {
            block_on(run_stage(&store, &job, Stage::Ingest, &|_| {})).unwrap();
        } else {
            assert!(through_the_map(&store, &job, cells) > 5, "72 protein groups × 6 runs in shards of {cells} cells");
        }
        let read = |f: &str| std::fs::read(dir.path().join("ingest").join(f)).unwrap();
        outputs.push((read("table.parquet"), read("summary.json")));
    }
    assert!(outputs[0] == outputs[1], "the real report's table or summary differs through the Map");
}
