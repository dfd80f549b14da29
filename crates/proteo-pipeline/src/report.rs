//! The report stage: the job summary merged from the stage summaries, then `report.html` drawn by a [`Renderer`]
//! (proteo-report, linked only by what renders: the report Lambda, the CLI, `proteo serve`).

use std::collections::HashMap;

use bytes::Bytes;

use crate::contracts::JobSpec;
use crate::ports::{ObjectStore, StoreError};
use crate::stages::{compute, write_job_summary, StageError};

pub use proteo_jobs::REPORT_WARNING_PREFIX;

/// Draws `report.html` from a run's outputs. Implemented by `proteo_report::HtmlReport`; the analysis stages never
/// hold one, so their binaries do not link the charts.
pub trait Renderer: Send + Sync {
    /// Outputs the report reads, relative to the job's prefix; each must exist.
    fn inputs(&self) -> &'static [&'static str];
    /// Outputs it reads when the run wrote them (the F test, each enrichment method).
    fn optional_inputs(&self) -> &'static [&'static str];
    /// The HTML from those files (keyed as listed), or a sentence saying what is wrong with them.
    fn render(&self, files: &HashMap<String, Bytes>) -> Result<String, String>;
}

/// What the report stage wrote: the job summary always, the report when it could be rendered.
pub struct ReportRun {
    pub summary_key: String,
    pub job_summary: serde_json::Value,
    /// The key of `report.html`, or why it could not be rendered (the job's warning).
    pub report: Result<String, StageError>,
}

/// Write `summary.json` (from the stage summaries) and render `report.html` from it and the stage tables. A store or
/// summary error is returned; a rendering error (or one reading the report's inputs) is in [`ReportRun::report`].
/// The job summary is handed to the renderer as written, not read back.
pub async fn run_report(
    store: &impl ObjectStore,
    job: &JobSpec,
    renderer: &dyn Renderer,
) -> Result<ReportRun, StageError> {
    let (summary_key, job_summary) = write_job_summary(store, job).await?;
    let report = write_report(store, job, renderer, &job_summary).await;
    Ok(ReportRun { summary_key, job_summary, report })
}

/// Render `report.html` from the job summary and the files the renderer names, and store it. Returns its key.
async fn write_report(
    store: &impl ObjectStore,
    job: &JobSpec,
    renderer: &dyn Renderer,
    job_summary: &serde_json::Value,
) -> Result<String, StageError> {
    let mut files = HashMap::new();
    for rel in renderer.inputs() {
        let bytes = if *rel == "summary.json" {
            // The bytes `write_job_summary` stored (it writes this very serialisation).
            Bytes::from(serde_json::to_vec_pretty(job_summary).expect("json"))
        } else {
            store.get(&format!("{}{rel}", job.prefix)).await?
        };
        files.insert(rel.to_string(), bytes);
    }
    for rel in renderer.optional_inputs() {
        match store.get(&format!("{}{rel}", job.prefix)).await {
            Ok(bytes) => {
                files.insert(rel.to_string(), bytes);
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let html = compute(|| renderer.render(&files)).map_err(|e| StageError::Internal(format!("report.html: {e}")))?;
    let key = job.report_key();
    store.put(&key, html.into_bytes(), "text/html; charset=utf-8").await?;
    Ok(key)
}
