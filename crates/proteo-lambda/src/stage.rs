//! The handler of the `qc`, `de` and `pathway` functions: decode the job spec → run the stage → persist → return keys.

use lambda_runtime::{Diagnostic, LambdaEvent};
use proteo_jobs::{keys, JobStore, JobStoreError, ObjectStore};
use proteo_pipeline::stages::write_job_summary;
use proteo_pipeline::{JobSpec, Stage, StageError};
use serde_json::{json, Value};
use tracing::Instrument;

use crate::builtin::{WithBuiltinGeneSets, BUILTIN_GO_BP_KEY};
use crate::progress::run_with_progress;
use crate::{diagnostic, now_ms, ObjectLister};

/// The job item's `summary` stays below this, so the poll response stays ≤ 2 KB (docs/cloud.md).
pub const ITEM_SUMMARY_MAX_BYTES: usize = 1024;

/// What a stage function holds from cold start on.
pub struct StageCtx<S, J> {
    pub store: S,
    pub jobs: J,
    /// The gzip GMT served as [`BUILTIN_GO_BP_KEY`]; only the pathway binary carries it (`include_bytes!`).
    pub builtin_gene_sets: Option<&'static [u8]>,
}

/// Run `stage` for the job spec in the event. Returns `{"stage": "qc", "keys": [...]}`; the pathway stage also
/// writes `summary.json` and attaches the result keys and a small summary to the job item.
pub async fn stage_handler<S, J>(ctx: &StageCtx<S, J>, stage: Stage, event: LambdaEvent<Value>) -> Result<Value, Diagnostic>
where
    S: ObjectStore + ObjectLister,
    J: JobStore,
{
    let mut job = decode_job_spec(event.payload).map_err(|e| diagnostic(&e))?;
    if stage == Stage::Pathway && job.params.pathway.gene_sets.trim().is_empty() {
        job.params.pathway.gene_sets = BUILTIN_GO_BP_KEY.to_string();
    }
    let span = tracing::info_span!("stage", job_id = %job.job_id, stage = stage.as_str());
    // Boxed: the stage's future is deep, and nested in the runtime's service layers it overflows rustc's query
    // depth limit when computing the layout.
    match Box::pin(run(ctx, stage, &job)).instrument(span).await {
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

async fn run<S, J>(ctx: &StageCtx<S, J>, stage: Stage, job: &JobSpec) -> Result<Vec<String>, StageError>
where
    S: ObjectStore + ObjectLister,
    J: JobStore,
{
    let store = WithBuiltinGeneSets::new(&ctx.store, ctx.builtin_gene_sets);
    let result = run_with_progress(&store, &ctx.jobs, job, stage).await?;
    let mut keys = result.keys;
    if stage == Stage::Pathway {
        let summary_key = write_job_summary(&store, job).await?;
        let job_summary: Value = serde_json::from_slice(&store.get(&summary_key).await?)
            .map_err(|e| StageError::Internal(format!("{summary_key} is not JSON: {e}")))?;
        let result_keys = result_keys(&ctx.store, job).await?;
        match ctx.jobs.attach_results(&job.job_id, &result_keys, &item_summary(&job_summary), now_ms()).await {
            Ok(()) => {}
            Err(e @ (JobStoreError::Conflict { .. } | JobStoreError::NotFound(_))) => {
                tracing::warn!(error = %e, "results not attached to the job item")
            }
            Err(e @ JobStoreError::Transient(_)) => return Err(StageError::Transient(e.to_string())),
        }
        keys.push(summary_key);
    }
    Ok(keys)
}

/// The keys a user may download: the Parquet tables of qc, de and pathway and the job summary (not the upload, the
/// ingest copies, the per-stage summaries, which `summary.json` merges, or the ranked JSON lines the API pages).
async fn result_keys(store: &impl ObjectLister, job: &JobSpec) -> Result<Vec<String>, StageError> {
    let summary = job.summary_key();
    let mut keys: Vec<String> = store
        .list(&job.prefix)
        .await?
        .into_iter()
        .map(|o| o.key)
        .filter(|k| {
            let rel = &k[job.prefix.len().min(k.len())..];
            let tables = ["qc/", "de/", "pathway/"].iter().any(|d| {
                rel.strip_prefix(d).is_some_and(|f| !f.contains('/') && f.ends_with(".parquet"))
            });
            tables || *k == summary
        })
        .collect();
    keys.sort();
    Ok(keys)
}

/// Counts for the poll response, from the job summary: proteins in/kept, the model, significant proteins per
/// contrast, significant terms. Contrasts beyond what fits [`ITEM_SUMMARY_MAX_BYTES`] are left out and counted.
pub fn item_summary(job_summary: &Value) -> Value {
    let stages = &job_summary["stages"];
    let contrasts: Vec<Value> = stages["de"]["contrasts"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| json!({"contrast": c["contrast"], "significant": c["significant"], "up": c["up"], "down": c["down"]}))
                .collect()
        })
        .unwrap_or_default();
    let terms_significant: u64 = stages["pathway"]["selections"]
        .as_array()
        .map(|s| s.iter().filter(|x| x["direction"] == "both").filter_map(|x| x["terms_significant"].as_u64()).sum())
        .unwrap_or(0);
    let mut summary = json!({
        "proteins": stages["ingest"]["proteins"],
        "samples": stages["ingest"]["samples"],
        "proteinsKept": stages["qc"]["qc"]["proteins_kept"],
        "model": stages["de"]["model"],
        "contrastsTotal": contrasts.len(),
        "contrasts": contrasts,
        "fTestSignificant": stages["de"]["f_test_significant"],
        "geneSets": stages["pathway"]["gene_sets"],
        "termsSignificant": terms_significant,
    });
    while summary.to_string().len() > ITEM_SUMMARY_MAX_BYTES {
        let Some(list) = summary["contrasts"].as_array_mut() else { break };
        if list.pop().is_none() {
            break;
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_summary_stays_small_with_many_contrasts() {
        let contrasts: Vec<Value> = (0..40)
            .map(|i| json!({"contrast": format!("Group{i}-Group{}", i + 1), "significant": 120, "up": 60, "down": 60}))
            .collect();
        let job = json!({"stages": {
            "ingest": {"proteins": 5000, "samples": 36},
            "qc": {"qc": {"proteins_kept": 4200}},
            "de": {"model": "limma", "contrasts": contrasts, "f_test_significant": 900},
            "pathway": {"gene_sets": "builtin:go_bp_human_uniprot", "selections": [
                {"direction": "both", "terms_significant": 3}, {"direction": "up", "terms_significant": 9},
                {"direction": "both", "terms_significant": 4}]},
        }});
        let s = item_summary(&job);
        assert!(s.to_string().len() <= ITEM_SUMMARY_MAX_BYTES, "{}", s.to_string().len());
        assert_eq!(s["contrastsTotal"], 40);
        let kept = s["contrasts"].as_array().unwrap().len();
        assert!(kept > 0 && kept < 40, "{kept}");
        assert_eq!((s["proteinsKept"].as_u64(), s["termsSignificant"].as_u64()), (Some(4200), Some(7)));
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

/// Everything a stage function's `main` does: JSON tracing, config from the environment (naming a missing
/// variable), SDK clients built once, then serve `stage` until the runtime stops.
pub async fn serve_stage(stage: Stage, builtin_gene_sets: Option<&'static [u8]>) -> Result<(), lambda_runtime::Error> {
    proteo_aws::init_tracing();
    let config = proteo_aws::Config::from_env()?;
    let clients = proteo_aws::Clients::new(&config).await;
    let ctx = StageCtx { store: clients.object_store(&config), jobs: clients.job_store(&config), builtin_gene_sets };
    lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<serde_json::Value>| {
        stage_handler(&ctx, stage, event)
    }))
    .await
}
