//! The storage port the stages use; S3 in the cloud, a directory locally.

use std::future::Future;

use bytes::Bytes;

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
