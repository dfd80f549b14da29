//! A local run: ingest → QC → DE → pathway → report, in the order of `statemachine.asl.json`, with its rule for a
//! report that cannot be rendered: the job succeeds with a warning.

use std::time::{Duration, Instant};

use crate::contracts::{JobSpec, Stage, StageResult};
use crate::ports::ObjectStore;
use crate::report::{run_report, Renderer, REPORT_WARNING_PREFIX};
use crate::stages::{run_stage, Progress, StageError};

/// A finished job: every stage's result and how long it took.
pub struct JobRun {
    pub results: Vec<StageResult>,
    /// The analysis stages, then [`Stage::Report`].
    pub timings: Vec<(Stage, Duration)>,
    /// `summary.json`, unless the report stage failed before writing it (see `warning`).
    pub summary_key: Option<String>,
    /// `report.html`, unless it could not be rendered (see `warning`).
    pub report_key: Option<String>,
    /// "report could not be rendered: <why>" when the report stage failed; the statistics are complete.
    pub warning: Option<String>,
}

/// Run every analysis stage of a job against one store, stopping at the first failure, then the report stage, whose
/// failure is a warning (as the state machine's Catch of "Render Report" makes it).
pub async fn run_job(
    store: &impl ObjectStore,
    job: &JobSpec,
    renderer: &dyn Renderer,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<JobRun, (Stage, StageError)> {
    let mut results = Vec::new();
    let mut timings = Vec::new();
    for stage in Stage::ALL {
        let start = Instant::now();
        let r = run_stage(store, job, stage, progress).await.map_err(|e| (stage, e))?;
        timings.push((stage, start.elapsed()));
        results.push(r);
    }
    let start = Instant::now();
    progress(Progress { stage: Stage::Report, percent: 0, message: "writing the summary and the report".into() });
    let (summary_key, report) = match run_report(store, job, renderer).await {
        Ok(run) => (Some(run.summary_key), run.report),
        Err(e) => (None, Err(e)),
    };
    timings.push((Stage::Report, start.elapsed()));
    let (report_key, warning) = match report {
        Ok(key) => (Some(key), None),
        Err(e) => (None, Some(format!("{REPORT_WARNING_PREFIX}{e}"))),
    };
    progress(Progress { stage: Stage::Report, percent: 100, message: "done".into() });
    Ok(JobRun { results, timings, summary_key, report_key, warning })
}
