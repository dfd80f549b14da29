//! The handler of the `qc`, `de` and `pathway` functions: decode the job spec → run the stage → persist → return keys.

use lambda_runtime::{Diagnostic, LambdaEvent};
use proteo_jobs::{keys, JobStore, ObjectLister, ObjectStore};
use proteo_pipeline::execution::{run_job_stage, BuiltinGeneSets, WithBuiltinGeneSets};
use proteo_pipeline::{JobSpec, Stage, StageError};
use serde_json::{json, Value};
use tracing::Instrument;

use crate::diagnostic;

/// What a stage function holds from cold start on.
pub struct StageCtx<S, J> {
    pub store: S,
    pub jobs: J,
    /// The gene sets `builtin:` keys read; only the pathway binary carries any (the shipped indexes, compiled in).
    pub builtin_gene_sets: BuiltinGeneSets,
}

/// Run `stage` for the job spec in the event. Returns `{"stage": "qc", "keys": [...]}`; the pathway stage also
/// writes `summary.json` and `report.html` and attaches the result keys and a small summary to the job item.
pub async fn stage_handler<S, J>(
    ctx: &StageCtx<S, J>,
    stage: Stage,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic>
where
    S: ObjectStore + ObjectLister,
    J: JobStore,
{
    let job = decode_job_spec(event.payload).map_err(|e| diagnostic(&e))?;
    let span = tracing::info_span!("stage", job_id = %job.job_id, stage = stage.as_str());
    // Boxed: the stage's future is deep, and nested in the runtime's service layers it overflows rustc's query
    // depth limit when computing the layout.
    let store = WithBuiltinGeneSets::new(&ctx.store, &ctx.builtin_gene_sets);
    match Box::pin(run_job_stage(&store, &ctx.jobs, &job, stage)).instrument(span).await {
        Ok(keys) => {
            tracing::info!(keys = keys.len(), "stage finished");
            Ok(json!({ "stage": stage.as_str(), "keys": keys }))
        }
        Err(e) => {
            tracing::error!(error_type = e.error_type(), error = %e, "stage failed");
            Err(diagnostic(&e))
        }
    }
}

/// The event must be a JobSpec whose id is safe and whose prefix is that job's prefix.
fn decode_job_spec(payload: Value) -> Result<JobSpec, StageError> {
    let job: JobSpec = serde_json::from_value(payload).map_err(|e| {
        StageError::InvalidInput(format!(
            "The stage input is not a valid job specification ({e}); expected {{\"jobId\", \"prefix\", \"inputKey\", \"designKey\", \"params\"}}."
        ))
    })?;
    if !keys::valid_job_id(&job.job_id) {
        return Err(StageError::InvalidInput(format!(
            "The job id `{}` is not valid: use 1–64 letters, digits, `-` or `_`.",
            job.job_id
        )));
    }
    if job.prefix != keys::job_prefix(&job.job_id) {
        return Err(StageError::InvalidInput(format!(
            "The job prefix `{}` does not match job `{}` (expected `{}`).",
            job.prefix,
            job.job_id,
            keys::job_prefix(&job.job_id)
        )));
    }
    Ok(job)
}

/// Everything a stage function's `main` does: JSON tracing, config from the environment (naming a missing
/// variable), SDK clients built once, then serve `stage` until the runtime stops.
pub async fn serve_stage(stage: Stage, builtin_gene_sets: BuiltinGeneSets) -> Result<(), lambda_runtime::Error> {
    proteo_aws::init_tracing();
    let config = proteo_aws::Config::from_env()?;
    let clients = proteo_aws::Clients::new(&config).await;
    let ctx = StageCtx { store: clients.object_store(&config), jobs: clients.job_store(&config), builtin_gene_sets };
    lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<serde_json::Value>| {
        stage_handler(&ctx, stage, event)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_event_is_invalid_input_with_a_sentence() {
        let e = decode_job_spec(json!({"jobId": "j1"})).unwrap_err();
        assert_eq!(e.error_type(), "InvalidInput");
        assert!(e.to_string().contains("not a valid job specification"), "{e}");
        let bad_prefix = json!({"jobId": "j1", "prefix": "jobs/j2/", "inputKey": "a", "designKey": "b", "params": {}});
        assert!(decode_job_spec(bad_prefix).unwrap_err().to_string().contains("does not match"));
        let bad_id = json!({"jobId": "../x", "prefix": "jobs/../x/", "inputKey": "a", "designKey": "b", "params": {}});
        assert!(decode_job_spec(bad_id).unwrap_err().to_string().contains("not valid"));
    }
}
