//! The handler of the `ingest` function: an S3 upload → validated Parquet → the job's state machine execution.

use aws_lambda_events::s3::{S3Event, S3EventRecord};
use lambda_runtime::{Diagnostic, LambdaEvent};
use proteo_jobs::{
    now_ms, JobRecord, JobStore, JobStoreError, ObjectLister, ObjectMeta, ObjectStore, UploadKey, Workflow,
};
use proteo_pipeline::execution::ingest_job;
use proteo_pipeline::quant_map::Sharding;
use proteo_pipeline::StageError;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::diagnostic;

/// What the ingest function holds from cold start on.
pub struct IngestCtx<S, J, W> {
    pub store: S,
    pub jobs: J,
    pub workflow: W,
    /// When a precursor report is split for the state machine's Distributed Map.
    pub sharding: Sharding,
}

/// The object key of an S3 event record: URL-decoded, `+` meaning a space.
pub fn s3_event_key(raw: &str) -> String {
    percent_encoding::percent_decode_str(&raw.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// The id of a drop-in job: `u-` + the first 32 hex digits of SHA-256(key + "\n" + etag), the ETag without quotes.
/// A duplicate event for the same object therefore names the same job.
pub fn derived_job_id(key: &str, etag: &str) -> String {
    let digest = Sha256::digest(format!("{key}\n{}", etag.trim_matches('"')).as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("u-{hex}")
}

/// Handle every record of the event. Refused input marks its job FAILED and is not an error (no retry can help);
/// a transient failure is returned after the other records were handled, so S3's async invoke retries the event
/// (every step is idempotent).
pub async fn ingest_handler<S, J, W>(ctx: &IngestCtx<S, J, W>, event: LambdaEvent<S3Event>) -> Result<(), Diagnostic>
where
    S: ObjectStore + ObjectLister,
    J: JobStore,
    W: Workflow,
{
    let mut first_error = None;
    for record in &event.payload.records {
        let Some(raw) = record.s3.object.key.as_deref() else { continue };
        let key = s3_event_key(raw);
        let span = tracing::info_span!("upload", key = %key);
        // Boxed for the same reason as the stage handler's future: layout depth inside the runtime's layers.
        if let Err(e) = Box::pin(handle_record(ctx, record, &key)).instrument(span).await {
            let shown = proteo_jobs::limits::message(&e.to_string());
            tracing::error!(key = %key, error_type = e.error_type(), error = %shown, "upload not ingested; the event will be retried");
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(diagnostic(&e)),
        None => Ok(()),
    }
}

async fn handle_record<S, J, W>(ctx: &IngestCtx<S, J, W>, record: &S3EventRecord, key: &str) -> Result<(), StageError>
where
    S: ObjectStore + ObjectLister,
    J: JobStore,
    W: Workflow,
{
    if record.event_name.as_deref().is_some_and(|n| !n.starts_with("ObjectCreated")) {
        tracing::info!(event = record.event_name.as_deref(), "not an upload; ignored");
        return Ok(());
    }
    match UploadKey::classify(key) {
        UploadKey::Ignored => {
            tracing::info!("not an input key; ignored");
            Ok(())
        }
        UploadKey::ApiInput { job_id } => {
            let Some(item) = ctx.jobs.get(&job_id).await.map_err(job_store)? else {
                tracing::warn!(job_id, "upload for a job that does not exist; ignored");
                return Ok(());
            };
            if item.input_key != key {
                tracing::warn!(job_id, expected = item.input_key, "upload is not the job's input file; ignored");
                return Ok(());
            }
            ingest_job(&ctx.store, &ctx.jobs, &ctx.workflow, item, ctx.sharding).await
        }
        UploadKey::DropIn { owner, folder, is_design } => {
            let listing = ctx.store.list(&folder).await?;
            let direct = |o: &&ObjectMeta| {
                o.key
                    .strip_prefix(folder.as_str())
                    .is_some_and(|f| !f.is_empty() && !f.contains('/') && !f.starts_with('.'))
            };
            let design = listing
                .iter()
                .filter(direct)
                .find(|o| matches!(UploadKey::classify(&o.key), UploadKey::DropIn { is_design: true, .. }));
            let Some(design) = design else {
                tracing::info!(folder, "waiting for the design file (design.tsv or design.csv)");
                return Ok(());
            };
            // The data file of this event, or, when the design came second, every data file already there.
            let data: Vec<(String, String)> = if is_design {
                listing
                    .iter()
                    .filter(direct)
                    .filter(|o| !matches!(UploadKey::classify(&o.key), UploadKey::DropIn { is_design: true, .. }))
                    .map(|o| (o.key.clone(), o.etag.clone()))
                    .collect()
            } else {
                let etag = record
                    .s3
                    .object
                    .e_tag
                    .clone()
                    .filter(|e| !e.is_empty())
                    .or_else(|| listing.iter().find(|o| o.key == key).map(|o| o.etag.clone()))
                    .unwrap_or_default();
                vec![(key.to_string(), etag)]
            };
            if data.is_empty() {
                tracing::info!(folder, "waiting for the data file");
            }
            for (data_key, etag) in data {
                let job_id = derived_job_id(&data_key, &etag);
                let queued =
                    JobRecord::queued(&job_id, "upload", &data_key, &design.key, serde_json::json!({}), now_ms())
                        .owned_by(&owner);
                let item = if ctx.jobs.create(&queued).await.map_err(job_store)? {
                    tracing::info!(job_id, input = data_key, "drop-in job created");
                    queued
                } else {
                    match ctx.jobs.get(&job_id).await.map_err(job_store)? {
                        Some(existing) => existing,
                        None => return Err(StageError::Transient(format!("job `{job_id}` vanished after creation"))),
                    }
                };
                ingest_job(&ctx.store, &ctx.jobs, &ctx.workflow, item, ctx.sharding).await?;
            }
            Ok(())
        }
    }
}

fn job_store(e: JobStoreError) -> StageError {
    StageError::Transient(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_are_url_decoded() {
        assert_eq!(
            s3_event_key("uploads/my+experiment/protein%2BGroups+%28v2%29.txt"),
            "uploads/my experiment/protein+Groups (v2).txt"
        );
        assert_eq!(s3_event_key("uploads/caf%C3%A9/x.txt"), "uploads/café/x.txt");
    }

    #[test]
    fn derived_ids_follow_the_documented_recipe() {
        // printf 'uploads/exp1/proteinGroups.txt\nd41d8cd98f00b204e9800998ecf8427e' | sha256sum | cut -c1-32
        let id = derived_job_id("uploads/exp1/proteinGroups.txt", "\"d41d8cd98f00b204e9800998ecf8427e\"");
        assert_eq!(id, derived_job_id("uploads/exp1/proteinGroups.txt", "d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(id, "u-691f475386dcb85129160d31f433ebf2");
        assert!(proteo_jobs::keys::valid_job_id(&id));
        assert_ne!(id, derived_job_id("uploads/exp1/proteinGroups.txt", "00000000000000000000000000000000"));
    }
}
