//! The gene sets compiled into the pathway function, served through the object store under a reserved key.

use bytes::Bytes;
use proteo_jobs::{ObjectStore, StoreError};

/// The key `params.pathway.gene_sets` takes when a job names no gene sets (docs/cloud.md). No S3 key can collide:
/// job and upload keys start with `jobs/` or `uploads/`.
pub const BUILTIN_GO_BP_KEY: &str = "builtin:go_bp_human_uniprot";

/// An object store that answers [`BUILTIN_GO_BP_KEY`] from bytes in the binary and passes everything else on.
pub struct WithBuiltinGeneSets<'a, S> {
    inner: &'a S,
    go_bp: Option<&'static [u8]>,
}

impl<'a, S> WithBuiltinGeneSets<'a, S> {
    /// `go_bp` is the gzip GMT (`None` in functions that carry no gene sets: the key then reads as missing).
    pub fn new(inner: &'a S, go_bp: Option<&'static [u8]>) -> Self {
        WithBuiltinGeneSets { inner, go_bp }
    }
}

impl<S: ObjectStore> ObjectStore for WithBuiltinGeneSets<'_, S> {
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        if key == BUILTIN_GO_BP_KEY {
            return self.go_bp.map(Bytes::from_static).ok_or_else(|| StoreError::NotFound { key: key.to_string() });
        }
        self.inner.get(key).await
    }

    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        if key == BUILTIN_GO_BP_KEY {
            return Err(StoreError::Transient { key: key.to_string(), message: "the built-in gene sets are read-only".into() });
        }
        self.inner.put(key, body, content_type).await
    }
}
