//! S3 adapter: the object store of the stages and the presigner of the API.

use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use proteo_jobs::{ObjectLister, ObjectMeta, ObjectStore, Presigner, StoreError};

/// One bucket; keys are object keys within it.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: &str) -> S3Store {
        S3Store { client, bucket: bucket.to_string() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Every object under `prefix` (all pages). Needs `s3:ListBucket` on the bucket.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| transient(prefix, &e))?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                out.push(ObjectMeta {
                    key: key.to_string(),
                    etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                });
            }
        }
        Ok(out)
    }
}

impl ObjectLister for S3Store {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        S3Store::list(self, prefix).await
    }
}

fn transient<E: std::error::Error + 'static>(key: &str, e: &E) -> StoreError {
    StoreError::Transient { key: key.to_string(), message: DisplayErrorContext(e).to_string() }
}

/// `NoSuchKey`, or any 404 (HEAD-style errors carry no code). A 403 for a missing key means the role lacks
/// `s3:ListBucket`: reported as transient, and the template must grant it.
fn is_not_found<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    let code_says = e.as_service_error().and_then(|s| s.code()).is_some_and(|c| c == "NoSuchKey" || c == "NotFound");
    let status_says = e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
    code_says || status_says
}

impl ObjectStore for S3Store {
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out.body.collect().await.map(|b| b.into_bytes()).map_err(|e| transient(key, &e)),
            Err(e) if is_not_found(&e) => Err(StoreError::NotFound { key: key.to_string() }),
            Err(e) => Err(transient(key, &e)),
        }
    }

    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| transient(key, &e))
    }
}

fn presigning(key: &str, ttl_seconds: u64) -> Result<PresigningConfig, StoreError> {
    PresigningConfig::expires_in(Duration::from_secs(ttl_seconds)).map_err(|e| transient(key, &e))
}

/// Presigned URLs carry no `Content-Type`, so any client can PUT with whatever header it sends. A PUT URL signs
/// `content-length` (`X-Amz-SignedHeaders=content-length;host`): S3 refuses a body of another size, so an upload
/// can be no larger than the size the API accepted.
impl Presigner for S3Store {
    async fn presign_put(&self, key: &str, ttl_seconds: u64, content_length: u64) -> Result<String, StoreError> {
        let length = i64::try_from(content_length).map_err(|e| transient(key, &e))?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(length)
            .presigned(presigning(key, ttl_seconds)?)
            .await
            .map_err(|e| transient(key, &e))?;
        Ok(req.uri().to_string())
    }

    async fn presign_get(&self, key: &str, ttl_seconds: u64) -> Result<String, StoreError> {
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(key, ttl_seconds)?)
            .await
            .map_err(|e| transient(key, &e))?;
        Ok(req.uri().to_string())
    }
}
