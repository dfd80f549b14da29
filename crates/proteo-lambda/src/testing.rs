//! Fakes for the handler tests (an in-memory bucket, a recording job store, a workflow that refuses duplicate
//! names like Step Functions) and the tests that drive the handlers with hand-built Lambda events.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use proteo_jobs::memory::MemoryJobStore;
use proteo_jobs::{
    Finish, JobListing, JobRecord, JobStore, JobStoreError, ObjectLister, ObjectMeta, ObjectStore, StoreError,
    Workflow, WorkflowError,
};
use sha2::{Digest, Sha256};

/// A bucket in memory; the ETag is a content hash, as S3's is for single-part uploads.
#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<String, (Bytes, String)>>,
    pub fail_reads: AtomicBool,
}

impl MemoryStore {
    pub fn insert(&self, key: &str, body: &[u8]) -> String {
        let etag: String = Sha256::digest(body).iter().take(16).map(|b| format!("{b:02x}")).collect();
        self.objects.lock().unwrap().insert(key.to_string(), (Bytes::copy_from_slice(body), etag.clone()));
        etag
    }
    pub fn contains(&self, key: &str) -> bool {
        self.objects.lock().unwrap().contains_key(key)
    }
}

impl ObjectStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(StoreError::Transient { key: key.to_string(), message: "connection reset".into() });
        }
        self.objects
            .lock()
            .unwrap()
            .get(key)
            .map(|(b, _)| b.clone())
            .ok_or(StoreError::NotFound { key: key.to_string() })
    }
    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), StoreError> {
        self.insert(key, &body);
        Ok(())
    }
}

impl ObjectLister for MemoryStore {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, (b, e))| ObjectMeta { key: k.clone(), etag: e.clone(), size: b.len() as u64 })
            .collect())
    }
}

/// Executions by name; a second start with a name in use is refused, as Step Functions does.
#[derive(Default)]
pub struct FakeWorkflow {
    pub executions: Mutex<Vec<(String, serde_json::Value)>>,
}

impl Workflow for FakeWorkflow {
    async fn start(&self, job_id: &str, input: &serde_json::Value) -> Result<bool, WorkflowError> {
        let mut ex = self.executions.lock().unwrap();
        if ex.iter().any(|(name, _)| name == job_id) {
            return Ok(false);
        }
        ex.push((job_id.to_string(), input.clone()));
        Ok(true)
    }
}

/// The memory job store, remembering every accepted progress write.
#[derive(Default)]
pub struct RecordingJobs {
    pub inner: MemoryJobStore,
    pub progress_log: Mutex<Vec<(String, String, u8)>>,
}

impl JobStore for RecordingJobs {
    async fn create(&self, record: &JobRecord) -> Result<bool, JobStoreError> {
        self.inner.create(record).await
    }
    async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, JobStoreError> {
        self.inner.get(job_id).await
    }
    async fn progress(
        &self,
        job_id: &str,
        stage: &str,
        progress: u8,
        message: &str,
        now: u64,
    ) -> Result<(), JobStoreError> {
        self.inner.progress(job_id, stage, progress, message, now).await?;
        self.progress_log.lock().unwrap().push((job_id.to_string(), stage.to_string(), progress));
        Ok(())
    }
    async fn attach_results(
        &self,
        job_id: &str,
        keys: &[String],
        summary: &serde_json::Value,
        now: u64,
    ) -> Result<(), JobStoreError> {
        self.inner.attach_results(job_id, keys, summary, now).await
    }
    async fn finish(&self, job_id: &str, finish: &Finish, now: u64) -> Result<(), JobStoreError> {
        self.inner.finish(job_id, finish, now).await
    }
    async fn list(&self, owner: &str, limit: usize) -> Result<JobListing, JobStoreError> {
        self.inner.list(owner, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{derived_job_id, ingest_handler, stage_handler, BuiltinGeneSets, IngestCtx, StageCtx};
    use aws_lambda_events::s3::S3Event;
    use lambda_runtime::{Context, LambdaEvent};
    use proteo_core::synthetic::{generate, SyntheticSpec};
    use proteo_jobs::JobStatus;
    use proteo_pipeline::Stage;
    use serde_json::{json, Value};

    struct World {
        ingest: IngestCtx<MemoryStore, RecordingJobs, FakeWorkflow>,
        matrix: Vec<u8>,
        design: Vec<u8>,
        gmt: &'static [u8],
    }

    /// 120 synthetic proteins × 3 groups × 3 replicates, and gene sets over their ids (one of the proteins given a
    /// real effect, the rest blocks of 12) so enrichment has something to find.
    fn world() -> World {
        let data = generate(&SyntheticSpec { missing: 0.05, de_fraction: 0.3, ..SyntheticSpec::new(120, 3, 3) });
        let id = |p: &usize| format!("SYN{p:05}");
        let mut gmt = format!("DE_SET\teffect\t{}\n", data.de_proteins.iter().map(id).collect::<Vec<_>>().join("\t"));
        for block in 0..10 {
            let members: Vec<String> = (block * 12..block * 12 + 12).map(|p| id(&p)).collect();
            gmt.push_str(&format!("BLOCK_{block}\tblock\t{}\n", members.join("\t")));
        }
        World {
            ingest: IngestCtx {
                store: MemoryStore::default(),
                jobs: RecordingJobs::default(),
                workflow: FakeWorkflow::default(),
                sharding: proteo_pipeline::quant_map::Sharding::default(),
            },
            matrix: data.matrix_tsv,
            design: data.design_tsv,
            gmt: Box::leak(gmt.into_bytes().into_boxed_slice()),
        }
    }

    /// An S3 notification as S3 sends it: key URL-encoded with `+` for space, ETag without quotes.
    fn s3_event(records: &[(&str, &str)]) -> LambdaEvent<S3Event> {
        let records: Vec<Value> = records
            .iter()
            .map(|(key, etag)| {
                json!({
                    "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
                    "eventTime": "2025-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "X"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {},
                    "s3": {"s3SchemaVersion": "1.0", "configurationId": "ingest",
                           "bucket": {"name": "proteo-data", "arn": "arn:aws:s3:::proteo-data"},
                           "object": {"key": key, "size": 10, "eTag": etag, "sequencer": "00"}}
                })
            })
            .collect();
        let event: S3Event = serde_json::from_value(json!({ "Records": records })).expect("S3 event shape");
        LambdaEvent::new(event, Context::default())
    }

    fn stage_ctx(w: World) -> (StageCtx<MemoryStore, RecordingJobs>, FakeWorkflow) {
        let IngestCtx { store, jobs, workflow, .. } = w.ingest;
        let builtins = BuiltinGeneSets::default().with(crate::BUILTIN_GO_BP_KEY, bytes::Bytes::from_static(w.gmt));
        (StageCtx { store, jobs, builtin_gene_sets: builtins, renderer: Some(&proteo_report::HtmlReport) }, workflow)
    }

    async fn job(jobs: &RecordingJobs, id: &str) -> JobRecord {
        jobs.get(id).await.unwrap().expect("job item")
    }

    #[tokio::test]
    async fn api_job_runs_ingest_qc_de_pathway_with_monotonic_progress() {
        let w = world();
        let input = "uploads/api/job-1/my matrix (v2).tsv";
        let item = JobRecord::queued(
            "job-1",
            "api",
            input,
            "jobs/job-1/input/design.tsv",
            json!({"pathway": {"min_set_size": 5}}),
            1,
        );
        assert!(w.ingest.jobs.create(&item).await.unwrap());
        w.ingest.store.insert(input, &w.matrix);
        w.ingest.store.insert("jobs/job-1/input/design.tsv", &w.design);

        ingest_handler(&w.ingest, s3_event(&[("uploads/api/job-1/my+matrix+%28v2%29.tsv", "e1")])).await.unwrap();
        let started = w.ingest.workflow.executions.lock().unwrap().clone();
        assert_eq!(started.len(), 1);
        let (name, spec) = &started[0];
        assert_eq!(name, "job-1");
        assert_eq!(spec["prefix"], "jobs/job-1/");
        assert_eq!(spec["inputKey"], input);
        assert_eq!(spec["params"]["pathway"]["min_set_size"], 5, "the item's params reach the stages");
        assert!(spec.to_string().len() <= 1024, "state machine input {} bytes", spec.to_string().len());
        assert!(w.ingest.store.contains("jobs/job-1/ingest/table.parquet"));
        let r = job(&w.ingest.jobs, "job-1").await;
        assert_eq!((r.status, r.stage.as_str(), r.progress), (JobStatus::Running, "ingest", 10));

        let spec = spec.clone();
        let (ctx, _) = stage_ctx(w);
        for (stage, expect) in [
            (Stage::Qc, vec!["jobs/job-1/qc/matrix.parquet", "jobs/job-1/qc/summary.json"]),
            (Stage::De, vec!["jobs/job-1/de/results.parquet", "jobs/job-1/de/summary.json"]),
            (Stage::Pathway, vec!["jobs/job-1/pathway/enrichment.parquet", "jobs/job-1/pathway/summary.json"]),
            (Stage::Report, vec!["jobs/job-1/summary.json", "jobs/job-1/report.html"]),
        ] {
            let out = stage_handler(&ctx, stage, LambdaEvent::new(spec.clone(), Context::default()))
                .await
                .unwrap_or_else(|d| panic!("{stage:?}: {}: {}", d.error_type, d.error_message));
            assert_eq!(out["stage"], stage.as_str());
            let keys: Vec<&str> = out["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
            for k in expect {
                assert!(keys.contains(&k), "{stage:?} returned {keys:?}, missing {k}");
                assert!(ctx.store.contains(k), "{k} not written");
            }
        }

        let log = ctx.jobs.progress_log.lock().unwrap().clone();
        let values: Vec<u8> = log.iter().map(|(_, _, p)| *p).collect();
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "progress went backwards: {log:?}");
        for stage in ["ingest", "qc", "de", "pathway", "report"] {
            assert!(log.iter().any(|(_, s, _)| s == stage), "no progress for {stage}: {log:?}");
        }
        assert_eq!(values.last(), Some(&99));

        let r = job(&ctx.jobs, "job-1").await;
        assert_eq!((r.status, r.stage.as_str(), r.progress), (JobStatus::Running, "report", 99));
        for k in [
            "qc/matrix.parquet",
            "qc/pca.parquet",
            "de/results.parquet",
            "pathway/enrichment.parquet",
            "summary.json",
            "report.html",
        ] {
            assert!(r.result_keys.contains(&format!("jobs/job-1/{k}")), "{k} not in {:?}", r.result_keys);
        }
        assert!(!r.result_keys.iter().any(|k| k.contains("/input/") || k.contains("/ingest/")), "{:?}", r.result_keys);
        assert_eq!(r.summary["proteins"], 120);
        assert_eq!(r.summary["geneSets"], crate::BUILTIN_GO_BP_KEY);
        assert!(r.summary["contrasts"].as_array().is_some_and(|c| c.len() == 3), "{}", r.summary);
        assert!(r.summary["termsSignificant"].as_u64().unwrap() >= 1, "DE_SET should be enriched: {}", r.summary);
        assert!(r.summary.to_string().len() <= proteo_pipeline::execution::ITEM_SUMMARY_MAX_BYTES);
    }

    #[tokio::test]
    async fn a_late_duplicate_event_starts_nothing_and_changes_nothing() {
        let w = world();
        let input = "uploads/api/job-2/m.tsv";
        let item = JobRecord::queued("job-2", "api", input, "jobs/job-2/input/design.tsv", Value::Null, 1);
        w.ingest.jobs.create(&item).await.unwrap();
        w.ingest.store.insert(input, &w.matrix);
        w.ingest.store.insert("jobs/job-2/input/design.tsv", &w.design);
        let event = || s3_event(&[(input, "e"), (input, "e")]);
        ingest_handler(&w.ingest, event()).await.unwrap();
        // Another redelivery while QC runs: the job is past ingest.
        w.ingest.jobs.progress("job-2", "qc", 20, "QC", 5).await.unwrap();
        ingest_handler(&w.ingest, event()).await.unwrap();
        assert_eq!(w.ingest.workflow.executions.lock().unwrap().len(), 1);
        let r = job(&w.ingest.jobs, "job-2").await;
        assert_eq!((r.stage.as_str(), r.progress), ("qc", 20));
    }

    #[tokio::test]
    async fn refused_input_marks_the_job_failed_and_is_not_retried() {
        let w = world();
        for (id, params, matrix) in [
            ("bad-data", Value::Null, b"this is not a protein table\n".to_vec()),
            ("bad-params", json!({"qc": {"no_such_option": 1}}), w.matrix.clone()),
        ] {
            let input = format!("uploads/api/{id}/m.tsv");
            let design = format!("jobs/{id}/input/design.tsv");
            w.ingest.jobs.create(&JobRecord::queued(id, "api", &input, &design, params, 1)).await.unwrap();
            w.ingest.store.insert(&input, &matrix);
            w.ingest.store.insert(&design, &w.design);
            ingest_handler(&w.ingest, s3_event(&[(&input, "e")])).await.expect("refused input is handled, not retried");
            let r = job(&w.ingest.jobs, id).await;
            assert_eq!(r.status, JobStatus::Failed, "{id}");
            assert_eq!(r.error_type.as_deref(), Some("InvalidInput"), "{id}");
            assert!(r.error.as_deref().is_some_and(|m| m.len() > 20), "{id}: {:?}", r.error);
        }
        let r = job(&w.ingest.jobs, "bad-params").await;
        assert!(r.error.unwrap().contains("analysis parameters"));
        assert!(w.ingest.workflow.executions.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_storage_outage_is_returned_as_transient_for_a_retry() {
        let w = world();
        let input = "uploads/api/job-3/m.tsv";
        w.ingest
            .jobs
            .create(&JobRecord::queued("job-3", "api", input, "jobs/job-3/input/design.tsv", Value::Null, 1))
            .await
            .unwrap();
        w.ingest.store.insert(input, &w.matrix);
        w.ingest.store.insert("jobs/job-3/input/design.tsv", &w.design);
        w.ingest.store.fail_reads.store(true, Ordering::SeqCst);
        let err = ingest_handler(&w.ingest, s3_event(&[(input, "e")])).await.unwrap_err();
        assert_eq!(err.error_type, "Transient");
        assert_ne!(job(&w.ingest.jobs, "job-3").await.status, JobStatus::Failed);
        // The retry succeeds once storage is back.
        w.ingest.store.fail_reads.store(false, Ordering::SeqCst);
        ingest_handler(&w.ingest, s3_event(&[(input, "e")])).await.unwrap();
        assert_eq!(w.ingest.workflow.executions.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn drop_in_waits_for_the_second_file_and_duplicates_start_one_job() {
        let w = world();
        let data_key = "uploads/drop/lab-7/exp 1/proteinGroups.txt";
        let etag = w.ingest.store.insert(data_key, &w.matrix);
        let encoded = "uploads/drop/lab-7/exp+1/proteinGroups.txt";
        ingest_handler(&w.ingest, s3_event(&[(encoded, &etag)])).await.unwrap();
        assert!(w.ingest.workflow.executions.lock().unwrap().is_empty(), "no design yet: nothing starts");
        assert_eq!(w.ingest.jobs.list("lab-7", 10).await.unwrap().recent.len(), 0);

        let design_etag = w.ingest.store.insert("uploads/drop/lab-7/exp 1/design.tsv", &w.design);
        ingest_handler(&w.ingest, s3_event(&[("uploads/drop/lab-7/exp+1/design.tsv", &design_etag)])).await.unwrap();
        // Duplicates of both notifications, one of them batched twice.
        ingest_handler(&w.ingest, s3_event(&[(encoded, &etag), (encoded, &etag)])).await.unwrap();
        ingest_handler(&w.ingest, s3_event(&[("uploads/drop/lab-7/exp+1/design.tsv", &design_etag)])).await.unwrap();

        let ex = w.ingest.workflow.executions.lock().unwrap().clone();
        assert_eq!(ex.len(), 1, "{ex:?}");
        let id = derived_job_id(data_key, &etag);
        assert_eq!(ex[0].0, id);
        assert_eq!(ex[0].1["inputKey"], data_key);
        assert_eq!(ex[0].1["designKey"], "uploads/drop/lab-7/exp 1/design.tsv");
        let listing = w.ingest.jobs.list("lab-7", 10).await.unwrap();
        assert_eq!(listing.recent.len(), 1);
        let r = job(&w.ingest.jobs, &id).await;
        assert_eq!((r.source.as_str(), r.status, r.progress), ("upload", JobStatus::Running, 10));
        assert_eq!(r.owner, "lab-7", "a drop-in job belongs to the owner its folder names");
        assert!(w.ingest.store.contains(&format!("jobs/{id}/ingest/table.parquet")));
    }

    #[tokio::test]
    async fn stage_errors_reach_step_functions_as_error_types() {
        let w = world();
        let (ctx, _) = stage_ctx(w);
        let bad =
            stage_handler(&ctx, Stage::Qc, LambdaEvent::new(json!({"job": 1}), Context::default())).await.unwrap_err();
        assert_eq!(bad.error_type, "InvalidInput");
        assert!(bad.error_message.ends_with('.'), "{}", bad.error_message);
        // DE before QC: the QC matrix is missing, which is our bug, not the user's data.
        let spec = json!({"jobId": "j9", "prefix": "jobs/j9/", "inputKey": "jobs/j9/input/m.tsv",
                          "designKey": "jobs/j9/input/design.tsv", "params": {}});
        let e = stage_handler(&ctx, Stage::De, LambdaEvent::new(spec.clone(), Context::default())).await.unwrap_err();
        assert_eq!(e.error_type, "Internal", "{}", e.error_message);
        ctx.store.fail_reads.store(true, Ordering::SeqCst);
        let e = stage_handler(&ctx, Stage::De, LambdaEvent::new(spec, Context::default())).await.unwrap_err();
        assert_eq!(e.error_type, "Transient", "{}", e.error_message);
    }
}
