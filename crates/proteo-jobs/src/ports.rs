//! Ports: object storage (S3 / a directory), the job store (DynamoDB / memory), the workflow (Step Functions / in-process).

use std::future::Future;

use bytes::Bytes;

use crate::record::{Finish, JobListing, JobRecord};

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum StoreError {
    #[error("`{key}` does not exist")]
    NotFound { key: String },
    /// A failure worth retrying (network, throttling, a full disk that may clear).
    #[error("reading or writing `{key}` failed: {message}")]
    Transient { key: String, message: String },
}

/// Object storage addressed by key.
pub trait ObjectStore: Send + Sync {
    fn get(&self, key: &str) -> impl Future<Output = Result<Bytes, StoreError>> + Send;
    fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum JobStoreError {
    #[error("job `{0}` does not exist")]
    NotFound(String),
    /// The write would move the job backwards (or change a finished job): refused, not an outage.
    #[error("job `{job_id}` is {status}; the update was refused")]
    Conflict { job_id: String, status: String },
    #[error("job store: {0}")]
    Transient(String),
}

/// Job status items with forward-only transitions enforced by the store itself (conditional writes).
pub trait JobStore: Send + Sync {
    /// Create the item unless one with this id exists; `Ok(false)` when it already did.
    fn create(&self, record: &JobRecord) -> impl Future<Output = Result<bool, JobStoreError>> + Send;
    fn get(&self, job_id: &str) -> impl Future<Output = Result<Option<JobRecord>, JobStoreError>> + Send;
    /// Mark RUNNING at `stage` with `progress`, unless the job is finished or already further along.
    fn progress(
        &self,
        job_id: &str,
        stage: &str,
        progress: u8,
        message: &str,
        now: u64,
    ) -> impl Future<Output = Result<(), JobStoreError>> + Send;
    /// Record the result keys and summary counts of a job still running (the last stage does this before the
    /// workflow marks it SUCCEEDED).
    fn attach_results(
        &self,
        job_id: &str,
        result_keys: &[String],
        summary: &serde_json::Value,
        now: u64,
    ) -> impl Future<Output = Result<(), JobStoreError>> + Send;
    /// SUCCEEDED or FAILED, unless already finished.
    fn finish(&self, job_id: &str, finish: &Finish, now: u64)
        -> impl Future<Output = Result<(), JobStoreError>> + Send;
    /// Counts by status and the `limit` most recent jobs of `owner` (never anyone else's).
    fn list(&self, owner: &str, limit: usize) -> impl Future<Output = Result<JobListing, JobStoreError>> + Send;
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum WorkflowError {
    #[error("starting the workflow failed: {0}")]
    Transient(String),
}

/// Starts the stage chain for a job. The execution is named by the job id, so a second start is refused by the
/// service: `Ok(false)` means it already existed.
pub trait Workflow: Send + Sync {
    fn start(
        &self,
        job_id: &str,
        input: &serde_json::Value,
    ) -> impl Future<Output = Result<bool, WorkflowError>> + Send;
}

/// What a listing says about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    /// Without the surrounding quotes S3 puts on it (the form S3 event notifications carry).
    pub etag: String,
    pub size: u64,
}

/// Listing a prefix: ingest pairs a drop-in's data file with its design, the pathway stage collects the job's result
/// keys. (The stages themselves and the API never list.)
pub trait ObjectLister: Send + Sync {
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<ObjectMeta>, StoreError>> + Send;
}

/// Short-lived URLs for uploading and downloading objects directly (S3 presigned URLs; the local server's own routes).
pub trait Presigner: Send + Sync {
    /// A PUT of exactly `content_length` bytes: the length is signed into the URL, so the store refuses an upload
    /// of any other size (S3 answers 403 `SignatureDoesNotMatch`).
    fn presign_put(
        &self,
        key: &str,
        ttl_seconds: u64,
        content_length: u64,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
    fn presign_get(&self, key: &str, ttl_seconds: u64) -> impl Future<Output = Result<String, StoreError>> + Send;
}
