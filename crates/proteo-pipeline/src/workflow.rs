//! A local run: ingest → QC → DE → pathway → job summary → report, in the order of `statemachine.asl.json`.

use std::time::{Duration, Instant};

use crate::contracts::{JobSpec, Stage, StageResult};
use crate::ports::ObjectStore;
use crate::stages::{run_stage, write_job_summary, write_report, Progress, StageError};

/// A finished job: every stage's result and how long it took.
pub struct JobRun {
    pub results: Vec<StageResult>,
    pub timings: Vec<(Stage, Duration)>,
    pub summary_key: String,
    pub report_key: String,
}

/// Run every stage of a job against one store, stopping at the first failure.
pub async fn run_job(
    store: &impl ObjectStore,
    job: &JobSpec,
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
    let (summary_key, _) = write_job_summary(store, job).await.map_err(|e| (Stage::Pathway, e))?;
    let report_key = write_report(store, job).await.map_err(|e| (Stage::Pathway, e))?;
    Ok(JobRun { results, timings, summary_key, report_key })
}
