//! Run the pipeline on the bundled example into a directory (default /tmp/proteo-example-run) and render /tmp/report.html.
use proteo_pipeline::contracts::PathwayParams;
use proteo_pipeline::fs_store::FsStore;
use proteo_pipeline::{run_job, JobParams, JobSpec, Progress};
use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or("/tmp/proteo-example-run".into()));
    let params = JobParams {
        format: None,
        quant: Default::default(),
        samples: Default::default(),
        qc: Default::default(),
        de: Default::default(),
        pathway: PathwayParams::with_gene_sets(
            root.join("data/gene_sets/go_bp_human_uniprot.gmt.gz").to_string_lossy(),
        ),
        output: Default::default(),
    };
    let job = JobSpec {
        job_id: "example".into(),
        prefix: String::new(),
        input_key: root.join("data/example/proteinGroups.txt").to_string_lossy().into_owned(),
        design_key: root.join("data/example/experimental_design.tsv").to_string_lossy().into_owned(),
        params,
    };
    let store = FsStore::new(&out);
    pollster::block_on(run_job(&store, &job, &proteo_report::HtmlReport, &|_: Progress| {}))
        .map_err(|(s, e)| format!("{s:?}: {e}"))
        .unwrap();
    let mut inputs = proteo_report::ReportInputs::default();
    for key in proteo_report::REPORT_INPUTS {
        inputs.files.insert(key.to_string(), std::fs::read(out.join(key)).unwrap().into());
    }
    let html = proteo_report::render(&inputs).unwrap();
    std::fs::write("/tmp/report.html", &html).unwrap();
    println!("{}: /tmp/report.html, {} bytes", out.display(), html.len());
}
