//! Running a stage while its progress reports reach the job store, every write awaited before the handler returns.

use proteo_jobs::{JobStore, JobStoreError, ObjectStore};
use proteo_pipeline::{run_stage, JobSpec, Progress, Stage, StageError, StageResult};

use crate::now_ms;

/// Record one progress step. `Conflict` (the job is finished or further along: a late or duplicate invocation) and
/// `NotFound` (a stage invoked by hand without a job item) are logged; a store outage is a `Transient` error.
pub(crate) async fn record_progress(jobs: &impl JobStore, job_id: &str, p: &Progress) -> Result<(), StageError> {
    let message = format!("{}: {}", p.stage.title(), p.message);
    let overall = p.stage.overall_progress(p.percent);
    match jobs.progress(job_id, p.stage.as_str(), overall, &message, now_ms()).await {
        Ok(()) => Ok(()),
        Err(e @ (JobStoreError::Conflict { .. } | JobStoreError::NotFound(_))) => {
            tracing::warn!(job_id, stage = p.stage.as_str(), progress = overall, error = %e, "progress not recorded");
            Ok(())
        }
        Err(e @ JobStoreError::Transient(_)) => Err(StageError::Transient(e.to_string())),
    }
}

/// `run_stage`, with its (synchronous) progress callback feeding a queue that is drained into the job store
/// alongside the stage. Reports that pile up while the stage computes are coalesced to the latest, so job progress
/// only increases and DynamoDB sees a handful of writes per stage. Ends with the stage's 100 % written.
pub(crate) async fn run_with_progress(
    store: &impl ObjectStore,
    jobs: &impl JobStore,
    job: &JobSpec,
    stage: Stage,
) -> Result<StageResult, StageError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let report = move |p: Progress| {
        // The receiver lives until the stage ends; a send error cannot happen while anyone listens.
        let _ = tx.send(p);
    };
    // `report` (and with it the sender) is dropped when the stage finishes, which ends the drain below.
    let run = async move { run_stage(store, job, stage, &report).await };
    let drain = async {
        let mut failure = None;
        while let Some(mut p) = rx.recv().await {
            while let Ok(next) = rx.try_recv() {
                p = next;
            }
            if let Err(e) = record_progress(jobs, &job.job_id, &p).await {
                failure.get_or_insert(e);
            }
        }
        failure
    };
    let (result, failure) = tokio::join!(run, drain);
    let result = result?;
    if let Some(e) = failure {
        return Err(e);
    }
    let done = Progress { stage, percent: 100, message: "finished".into() };
    record_progress(jobs, &job.job_id, &done).await?;
    Ok(result)
}
