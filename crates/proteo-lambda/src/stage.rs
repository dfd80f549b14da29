//! The handler of the `qc`, `de`, `pathway` and `report` functions: decode the job spec → run the stage → persist → return keys.

use lambda_runtime::{Diagnostic, LambdaEvent};
use proteo_jobs::{keys, JobStore, ObjectLister, ObjectStore};
use std::time::{Duration, Instant};

use proteo_jobs::params::Origin;
use proteo_pipeline::execution::{run_job_stage, run_report_stage, BuiltinGeneSets, WithBuiltinGeneSets};
use proteo_pipeline::stages::with_deadline;
use proteo_pipeline::{JobSpec, Renderer, Stage, StageError};
use serde_json::{json, Value};
use tracing::Instrument;

use crate::diagnostic;

/// How long before Lambda's own deadline the stage stops computing: room to write the job's FAILED sentence.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// What a stage function holds from cold start on.
pub struct StageCtx<S, J> {
    pub store: S,
    pub jobs: J,
    /// The gene sets `builtin:` keys read; only the pathway binary carries any (the shipped indexes, compiled in).
    pub builtin_gene_sets: BuiltinGeneSets,
    /// What draws `report.html`; only the report binary holds one, so the others do not link the charts.
    pub renderer: Option<&'static dyn Renderer>,
}

/// Run `stage` for the job spec in the event. Returns `{"stage": "qc", "keys": [...]}`; the report stage writes
/// `summary.json` and `report.html` and attaches the result keys and a small summary to the job item.
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
    // Stop the computation a margin before Lambda would kill the function, so the job fails with a sentence.
    let deadline = Instant::now() + stage_budget(stage, event.context.deadline, proteo_jobs::now_ms());
    // Boxed: the stage's future is deep, and nested in the runtime's service layers it overflows rustc's query
    // depth limit when computing the layout.
    let store = WithBuiltinGeneSets::new(&ctx.store, &ctx.builtin_gene_sets);
    let run = async {
        match (stage, ctx.renderer) {
            (Stage::Report, Some(renderer)) => run_report_stage(&store, &ctx.jobs, &job, renderer).await,
            (Stage::Report, None) => Err(StageError::Internal(
                "this function cannot draw the report: it was built without a renderer".into(),
            )),
            _ => run_job_stage(&store, &ctx.jobs, &job, stage).await,
        }
    };
    match Box::pin(with_deadline(deadline, run)).instrument(span).await {
        Ok(keys) => {
            tracing::info!(keys = keys.len(), "stage finished");
            Ok(json!({ "stage": stage.as_str(), "keys": keys }))
        }
        Err(e) => {
            let shown = proteo_jobs::limits::message(&e.to_string());
            tracing::error!(error_type = e.error_type(), error = %shown, "stage failed");
            Err(diagnostic(&e))
        }
    }
}

/// How long the stage may compute: until [`DEADLINE_MARGIN`] before the invocation's deadline (ms since the epoch),
/// and never longer than the stage's own limit. A deadline that is not in the future is no information (none given,
/// or an emulator's constant: cargo-lambda sends `600000`), and the stage's own limit applies.
fn stage_budget(stage: Stage, deadline_ms: u64, now_ms: u64) -> Duration {
    if deadline_ms <= now_ms {
        return stage.time_limit();
    }
    Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(DEADLINE_MARGIN).min(stage.time_limit())
}

/// The event must be a JobSpec whose id is safe and whose prefix is that job's prefix.
pub(crate) fn decode_job_spec(payload: Value) -> Result<JobSpec, StageError> {
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
    // A job reads only its own keys: its input and design are under its prefix, its own API upload folder, or a
    // drop-in folder (whose job id is derived from the upload, so it cannot be tied to it here).
    let own_upload = format!("{}{}/", keys::API_UPLOADS_PREFIX, job.job_id);
    for (what, key) in [("inputKey", &job.input_key), ("designKey", &job.design_key)] {
        let own = key.starts_with(&job.prefix)
            || match keys::UploadKey::classify(key) {
                keys::UploadKey::ApiInput { job_id } => job_id == job.job_id,
                keys::UploadKey::DropIn { .. } => true,
                keys::UploadKey::Ignored => false,
            };
        if !own || !key.split('/').all(|s| !s.is_empty() && s != "." && s != "..") {
            return Err(StageError::InvalidInput(format!(
                "The job's {what} `{}` is not one of its own keys (under `{}`, `{own_upload}` or a drop-in folder).",
                proteo_jobs::limits::bounded(key, 120),
                job.prefix
            )));
        }
    }
    job.params
        .check(Origin::Job)
        .map_err(|e| StageError::InvalidInput(format!("The analysis parameters are not valid: {e}.")))?;
    Ok(job)
}

/// Everything a stage function's `main` does: JSON tracing, config from the environment (naming a missing
/// variable), SDK clients built once, then serve `stage` until the runtime stops.
pub async fn serve_stage(stage: Stage, builtin_gene_sets: BuiltinGeneSets) -> Result<(), lambda_runtime::Error> {
    serve(stage, builtin_gene_sets, None).await
}

/// The report function's `main`: [`serve_stage`] of [`Stage::Report`], drawing with `renderer`.
pub async fn serve_report(renderer: &'static dyn Renderer) -> Result<(), lambda_runtime::Error> {
    serve(Stage::Report, BuiltinGeneSets::default(), Some(renderer)).await
}

async fn serve(
    stage: Stage,
    builtin_gene_sets: BuiltinGeneSets,
    renderer: Option<&'static dyn Renderer>,
) -> Result<(), lambda_runtime::Error> {
    proteo_aws::init_tracing();
    let config = proteo_aws::Config::from_env()?;
    let clients = proteo_aws::Clients::new(&config).await;
    let ctx = StageCtx {
        store: clients.object_store(&config),
        jobs: clients.job_store(&config),
        builtin_gene_sets,
        renderer,
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<serde_json::Value>| {
        stage_handler(&ctx, stage, event)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_stops_before_lambda_would_kill_it() {
        assert_eq!(stage_budget(Stage::Qc, 0, 5), Stage::Qc.time_limit());
        assert_eq!(stage_budget(Stage::Qc, 1_000_000 + 60_000, 1_000_000), Duration::from_secs(50));
        assert_eq!(stage_budget(Stage::De, 1_000_000 + 900_000, 1_000_000), Stage::De.time_limit());
        assert_eq!(stage_budget(Stage::De, 1_000_000 + 5_000, 1_000_000), Duration::ZERO);
        assert_eq!(
            stage_budget(Stage::De, 600_000, 1_700_000_000_000),
            Stage::De.time_limit(),
            "cargo-lambda's constant"
        );
    }

    #[test]
    fn a_job_spec_naming_keys_of_another_job_is_refused() {
        let spec = |input: &str, gene_sets: &str| {
            json!({"jobId": "j1", "prefix": "jobs/j1/", "inputKey": input, "designKey": "jobs/j1/input/design.tsv",
                   "params": {"pathway": {"gene_sets": gene_sets}}})
        };
        assert!(decode_job_spec(spec("jobs/j1/input/x.txt", "")).is_ok());
        assert!(decode_job_spec(spec("uploads/api/j1/x.txt", "upload:sets.gmt")).is_ok());
        assert!(decode_job_spec(spec("uploads/drop/lab-a/exp1/x.txt", "")).is_ok());
        for (input, gene_sets) in [
            ("jobs/j2/input/x.txt", ""),
            ("uploads/api/j2/x.txt", ""),
            ("uploads/x.txt", ""),
            ("jobs/j1/../j2/input/x.txt", ""),
            ("/etc/passwd", ""),
            ("jobs/j1/input/x.txt", "jobs/j2/input/proteinGroups.txt"),
            ("jobs/j1/input/x.txt", "upload:../../j2/input/x.txt"),
            ("jobs/j1/input/x.txt", "/etc/passwd"),
        ] {
            let e = decode_job_spec(spec(input, gene_sets)).unwrap_err();
            assert_eq!(e.error_type(), "InvalidInput", "{input} {gene_sets}");
        }
    }

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
