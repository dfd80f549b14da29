//! Running a job's stages against a job store: progress reports written as the stage runs, the report stage's
//! summary, report and result keys attached to the job item, ingest followed by the workflow start, refused input
//! turned into a FAILED job. Shared by the Lambda functions and `proteo serve`, which differ only in their adapters.

use proteo_jobs::params::GeneSetsRef;
use proteo_jobs::{
    keys, now_ms, Finish, JobRecord, JobStatus, JobStore, JobStoreError, ObjectLister, ObjectStore, StoreError,
    Workflow,
};
use serde_json::{json, Value};

use crate::contracts::{JobParams, JobSpec, Stage, StageResult};
use crate::quant_map::Sharding;
use crate::report::{run_report, Renderer};
use crate::stages::{ingest_or_plan, run_stage, write_stage_summary, Ingested, Progress, StageError};

/// The job item's `summary` stays below this, so the poll response stays ≤ 2 KB (docs/cloud.md).
pub const ITEM_SUMMARY_MAX_BYTES: usize = 1024;

/// The key `params.pathway.gene_sets` takes when a job names no gene sets (docs/cloud.md). No object key can
/// collide: job and upload keys start with `jobs/` or `uploads/`.
pub const BUILTIN_GO_BP_KEY: &str = "builtin:go_bp_human_uniprot";

/// Record one progress step. `Conflict` (the job is finished or further along: a late or duplicate invocation) and
/// `NotFound` (a stage invoked by hand without a job item) are logged; a store outage is a `Transient` error.
async fn record_progress(jobs: &impl JobStore, job_id: &str, p: &Progress) -> Result<(), StageError> {
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
/// only increases and the store sees a handful of writes per stage. Ends with the stage's 100 % written.
pub async fn run_with_progress(
    store: &impl ObjectStore,
    jobs: &impl JobStore,
    job: &JobSpec,
    stage: Stage,
) -> Result<StageResult, StageError> {
    let result = with_progress(jobs, job, |report| async move { run_stage(store, job, stage, &*report).await }).await?;
    let done = Progress { stage, percent: 100, message: "finished".into() };
    record_progress(jobs, &job.job_id, &done).await?;
    Ok(result)
}

type Reporter = Box<dyn Fn(Progress) + Send + Sync>;

/// Runs `work` with a progress callback whose reports are drained into the job store while it runs (the callback
/// is dropped with `work`'s future, which ends the drain).
async fn with_progress<T, Fut>(
    jobs: &impl JobStore,
    job: &JobSpec,
    work: impl FnOnce(Reporter) -> Fut,
) -> Result<T, StageError>
where
    Fut: std::future::Future<Output = Result<T, StageError>>,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let report: Reporter = Box::new(move |p: Progress| {
        // The receiver lives until the work ends; a send error cannot happen while anyone listens.
        let _ = tx.send(p);
    });
    let run = work(report);
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
    Ok(result)
}

/// The ingest stage with a shard cap, its progress recorded; a split report's ingest ends in the Map.
async fn ingest_with_progress(
    store: &impl ObjectStore,
    jobs: &impl JobStore,
    job: &JobSpec,
    sharding: Sharding,
) -> Result<Ingested, StageError> {
    let outcome = with_progress(jobs, job, |progress| async move {
        let report = |percent: u8, message: &str| {
            progress(Progress { stage: Stage::Ingest, percent, message: message.to_string() })
        };
        let mut outcome = ingest_or_plan(store, job, &report, sharding).await?;
        if let Ingested::Table(result) = &mut outcome {
            write_stage_summary(store, job, result).await?;
        }
        Ok(outcome)
    })
    .await?;
    let message = match &outcome {
        Ingested::Table(_) => "finished".to_string(),
        Ingested::Planned(q) => format!("quantifying {} shards", q.shards),
    };
    record_progress(jobs, &job.job_id, &Progress { stage: Stage::Ingest, percent: 100, message }).await?;
    Ok(outcome)
}

/// Run one of `qc`, `de`, `pathway` for a job and return the keys written. An empty `params.pathway.gene_sets`
/// reads [`BUILTIN_GO_BP_KEY`] (the store must answer `builtin:` keys: [`WithBuiltinGeneSets`]). The report stage
/// needs a renderer: [`run_report_stage`].
pub async fn run_job_stage<S, J>(store: &S, jobs: &J, job: &JobSpec, stage: Stage) -> Result<Vec<String>, StageError>
where
    S: ObjectStore + ObjectLister,
    J: JobStore,
{
    let job = job.clone();
    Ok(run_with_progress(store, jobs, &job, stage).await?.keys)
}

/// The report stage, after pathway: write `summary.json`, render `report.html`, attach the result keys and a small
/// summary to the job item. The results are attached even when the report could not be rendered, and the rendering
/// error is returned afterwards: the state machine's Catch then marks the job SUCCEEDED with a warning.
pub async fn run_report_stage<S, J>(
    store: &S,
    jobs: &J,
    job: &JobSpec,
    renderer: &dyn Renderer,
) -> Result<Vec<String>, StageError>
where
    S: ObjectStore + ObjectLister,
    J: JobStore,
{
    let start = Progress { stage: Stage::Report, percent: 0, message: "writing the summary and the report".into() };
    record_progress(jobs, &job.job_id, &start).await?;
    let run = run_report(store, job, renderer).await?;
    let result_keys = result_keys(store, job).await?;
    match jobs.attach_results(&job.job_id, &result_keys, &item_summary(&run.job_summary), now_ms()).await {
        Ok(()) => {}
        Err(e @ (JobStoreError::Conflict { .. } | JobStoreError::NotFound(_))) => {
            tracing::warn!(error = %e, "results not attached to the job item")
        }
        Err(e @ JobStoreError::Transient(_)) => return Err(StageError::Transient(e.to_string())),
    }
    let report_key = run.report?;
    record_progress(jobs, &job.job_id, &Progress { stage: Stage::Report, percent: 100, message: "finished".into() })
        .await?;
    Ok(vec![run.summary_key, report_key])
}

/// The keys a user may download: the Parquet tables of qc, de and pathway, the job summary and the report (not the
/// upload, the ingest copies, the per-stage summaries, which `summary.json` merges, or the ranked JSON lines the
/// API pages).
async fn result_keys(store: &impl ObjectLister, job: &JobSpec) -> Result<Vec<String>, StageError> {
    let summary = job.summary_key();
    let report = job.report_key();
    let mut keys: Vec<String> = store
        .list(&job.prefix)
        .await?
        .into_iter()
        .map(|o| o.key)
        .filter(|k| {
            let rel = &k[job.prefix.len().min(k.len())..];
            let tables = ["qc/", "de/", "pathway/"]
                .iter()
                .any(|d| rel.strip_prefix(d).is_some_and(|f| !f.contains('/') && f.ends_with(".parquet")));
            tables || *k == summary || *k == report
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
        "reference": stages["de"]["reference_group"],
        "outliers": stages["qc"]["outliers"]
            .as_array()
            .map(|o| o.iter().map(|x| x["sample"].clone()).collect::<Vec<_>>())
            .unwrap_or_default(),
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

/// The job spec of a job item: what ingest hands to the workflow.
pub fn job_spec(item: &JobRecord) -> Result<JobSpec, StageError> {
    let params = JobParams::from_value(&item.params)
        .map_err(|e| StageError::InvalidInput(format!("The analysis parameters are not valid: {e}.")))?;
    Ok(JobSpec {
        job_id: item.job_id.clone(),
        prefix: keys::job_prefix(&item.job_id),
        input_key: item.input_key.clone(),
        design_key: item.design_key.clone(),
        params,
    })
}

/// Validate and convert the upload (`Stage::Ingest`), then start the workflow run named by the job id. A job already
/// past ingest (a duplicate event) is left alone; a job whose ingest was interrupted is ingested again. Refused input
/// marks the job FAILED and is `Ok` (no retry can help); only `Transient` errors are returned. A precursor report
/// needing more than one shard of `sharding.max_cells` cells is split for the state machine's Map instead of
/// quantified here: its execution input carries `quant` ([`crate::quant_map::QuantMap`]).
pub async fn ingest_job<S, J, W>(
    store: &S,
    jobs: &J,
    workflow: &W,
    item: JobRecord,
    sharding: Sharding,
) -> Result<(), StageError>
where
    S: ObjectStore,
    J: JobStore,
    W: Workflow,
{
    let job_id = item.job_id.clone();
    let past_ingest =
        item.status.is_finished() || (item.status == JobStatus::Running && item.stage != Stage::Ingest.as_str());
    if past_ingest {
        tracing::info!(
            job_id,
            status = item.status.as_str(),
            stage = item.stage,
            "job already past ingest; duplicate event ignored"
        );
        return Ok(());
    }
    let spec = match job_spec(&item) {
        Ok(spec) => spec,
        Err(refused) => return mark_failed(jobs, &job_id, &refused).await,
    };
    if let Err(e) = uploaded_gene_sets_present(store, &spec).await {
        return match e {
            StageError::Transient(_) => Err(e),
            refused => mark_failed(jobs, &job_id, &refused).await,
        };
    }
    let mut input = serde_json::to_value(&spec).map_err(|e| StageError::Internal(format!("job spec: {e}")))?;
    match ingest_with_progress(store, jobs, &spec, sharding).await {
        Ok(Ingested::Table(result)) => tracing::info!(job_id, summary = %result.summary, "input ingested"),
        Ok(Ingested::Planned(quant)) => {
            tracing::info!(job_id, shards = quant.shards, manifest = quant.manifest, "report split for the Map");
            input["quant"] = serde_json::to_value(&quant).expect("json");
        }
        Err(e @ StageError::Transient(_)) => return Err(e),
        // Refused input, or output we cannot read back: retrying the event cannot help.
        Err(e) => return mark_failed(jobs, &job_id, &e).await,
    }
    match workflow.start(&job_id, &input).await {
        Ok(true) => tracing::info!(job_id, "workflow started"),
        Ok(false) => tracing::info!(job_id, "workflow run already exists; duplicate event"),
        Err(e) => return Err(StageError::Transient(e.to_string())),
    }
    Ok(())
}

/// A job naming `upload:<file>` gene sets must have uploaded them before its data file (ingest starts the job as
/// soon as the data file arrives; the pathway stage would otherwise fail minutes later). Ingest copies them beside
/// its other outputs ([`crate::stages::uploaded_gene_sets_key`]), so the stages read nothing under `uploads/`.
async fn uploaded_gene_sets_present(store: &impl ObjectStore, spec: &JobSpec) -> Result<(), StageError> {
    let GeneSetsRef::Upload(name) = GeneSetsRef::parse(&spec.params.pathway.gene_sets) else { return Ok(()) };
    let key = keys::upload_key(&spec.job_id, name);
    match store.get(&key).await {
        Ok(bytes) => {
            let copy = crate::stages::uploaded_gene_sets_key(spec, name);
            store.put(&copy, bytes.to_vec(), "application/octet-stream").await?;
            Ok(())
        }
        Err(StoreError::NotFound { .. }) => Err(StageError::InvalidInput(format!(
            "The gene-set file `{name}` named by `params.pathway.gene_sets` was not uploaded; upload it to its URL \
             before the data file, or submit the job without it to use the shipped GO Biological Process sets."
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Mark the job FAILED with the error's type and sentence; a job already finished (or unknown) is logged, not an error.
pub async fn mark_failed(jobs: &impl JobStore, job_id: &str, e: &StageError) -> Result<(), StageError> {
    let message = proteo_jobs::limits::message(&e.to_string());
    tracing::warn!(job_id, error_type = e.error_type(), error = %message, "job failed");
    let finish = Finish::Failed { error_type: e.error_type().to_string(), message };
    match jobs.finish(job_id, &finish, now_ms()).await {
        Ok(()) => Ok(()),
        Err(c @ (JobStoreError::Conflict { .. } | JobStoreError::NotFound(_))) => {
            tracing::warn!(job_id, error = %c, "could not mark the job failed");
            Ok(())
        }
        Err(t @ JobStoreError::Transient(_)) => Err(StageError::Transient(t.to_string())),
    }
}

/// The gene-set collections a process answers under `builtin:<name>` keys: the shipped indexes compiled into the
/// binary (`proteo_gene_sets::shipped`, zero-copy), or a GMT a server was started with (compiled on first use).
#[derive(Debug, Clone, Default)]
pub struct BuiltinGeneSets {
    entries: Vec<(String, bytes::Bytes)>,
}

impl BuiltinGeneSets {
    /// The shipped collections: `(name, index bytes)` as `proteo_gene_sets::shipped()` lists them.
    pub fn shipped(collections: impl IntoIterator<Item = (&'static str, &'static [u8])>) -> Self {
        let entries = collections
            .into_iter()
            .map(|(name, bytes)| {
                (format!("{}{name}", proteo_gene_sets::BUILTIN_PREFIX), bytes::Bytes::from_static(bytes))
            })
            .collect();
        BuiltinGeneSets { entries }
    }

    /// These collections, with `key` (a `builtin:` key) answered by `bytes` (index or GMT) instead.
    pub fn with(mut self, key: &str, bytes: bytes::Bytes) -> Self {
        self.entries.retain(|(k, _)| k != key);
        self.entries.push((key.to_string(), bytes));
        self
    }

    fn get(&self, key: &str) -> Option<bytes::Bytes> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, b)| b.clone())
    }
}

/// An object store that answers `builtin:` keys from [`BuiltinGeneSets`] (compiled into the pathway Lambda and the
/// CLI; a GMT file `proteo serve` was started with) and passes everything else on. A `builtin:` key it does not
/// hold reads as missing.
pub struct WithBuiltinGeneSets<'a, S> {
    inner: &'a S,
    builtins: &'a BuiltinGeneSets,
}

impl<'a, S> WithBuiltinGeneSets<'a, S> {
    pub fn new(inner: &'a S, builtins: &'a BuiltinGeneSets) -> Self {
        WithBuiltinGeneSets { inner, builtins }
    }
}

impl<S: ObjectStore> ObjectStore for WithBuiltinGeneSets<'_, S> {
    async fn get(&self, key: &str) -> Result<bytes::Bytes, StoreError> {
        if key.starts_with(proteo_gene_sets::BUILTIN_PREFIX) {
            return self.builtins.get(key).ok_or_else(|| StoreError::NotFound { key: key.to_string() });
        }
        self.inner.get(key).await
    }

    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        if key.starts_with(proteo_gene_sets::BUILTIN_PREFIX) {
            return Err(StoreError::Transient {
                key: key.to_string(),
                message: "the built-in gene sets are read-only".into(),
            });
        }
        self.inner.put(key, body, content_type).await
    }
}

impl<S: ObjectLister> ObjectLister for WithBuiltinGeneSets<'_, S> {
    async fn list(&self, prefix: &str) -> Result<Vec<proteo_jobs::ObjectMeta>, StoreError> {
        self.inner.list(prefix).await
    }
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
}
