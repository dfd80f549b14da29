//! Handlers of the analysis Lambda functions: `ingest` (S3 trigger) and the `qc`/`de`/`pathway` stages (Step Functions).

mod builtin;
mod ingest;
mod progress;
mod stage;
#[cfg(test)]
mod testing;

use std::future::Future;

use lambda_runtime::Diagnostic;
use proteo_aws::{ObjectMeta, S3Store};
use proteo_jobs::StoreError;
use proteo_pipeline::StageError;

pub use builtin::{WithBuiltinGeneSets, BUILTIN_GO_BP_KEY};
pub use ingest::{derived_job_id, ingest_handler, s3_event_key, IngestCtx, UploadKey};
pub use stage::{serve_stage, stage_handler, StageCtx};

pub use aws_lambda_events::s3::S3Event;
pub use proteo_pipeline::Stage;

/// Listing a prefix: ingest pairs a drop-in's data file with its design, pathway collects the job's result keys.
/// (A port of the Lambda shell only; the stages and the API never list.)
pub trait ObjectLister: Send + Sync {
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<ObjectMeta>, StoreError>> + Send;
}

impl ObjectLister for S3Store {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        S3Store::list(self, prefix).await
    }
}

/// The Lambda error a stage error becomes: `errorType` is what the state machine's Retry/Catch match.
pub fn diagnostic(e: &StageError) -> Diagnostic {
    Diagnostic { error_type: e.error_type().to_string(), error_message: e.to_string() }
}

/// Milliseconds since the Unix epoch (the job item's timestamps).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
