//! Receiving an upload: refused early by its declared `Content-Length`, streamed to a `.partial` file beside its
//! key (never held in memory), cut off at the size limit or when the client is too slow, then renamed into place.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use crate::http::sentence;
use crate::store::LocalStore;

/// A chunk of the body must arrive within this.
pub const UPLOAD_IDLE: Duration = Duration::from_secs(30);
/// After this long an upload must average at least [`MIN_UPLOAD_RATE`] (a client trickling bytes holds a
/// connection and a file open).
pub const UPLOAD_GRACE: Duration = Duration::from_secs(30);
/// 32 KiB/s: a 512 MiB upload still has over four hours; a slowloris body of a byte every few seconds is cut.
pub const MIN_UPLOAD_RATE: u64 = 32 << 10;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn short(found: u64, declared: u64) -> Response {
    sentence(
        StatusCode::BAD_REQUEST,
        format!(
            "the upload has {found} bytes but the job declared {declared} (`fileSize`); submit the job again with the \
             file's size"
        ),
    )
}

fn too_large(found: &str, limit: u64) -> Response {
    sentence(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the file is {found}; this upload accepts at most {} (the size the job declared, at most {} in all) — split \
             the samples into several jobs, or remove columns the analysis does not use",
            mib(limit),
            mib(proteo_jobs::limits::MAX_UPLOAD_BYTES)
        ),
    )
}

/// Store the body of a PUT at `key`: exactly `size` bytes, the size the job declared and its URL signs (a body
/// that declares or sends more is refused as soon as that shows, one that ends short when it ends). Returns the size
/// written, or the response to send.
pub async fn receive(
    store: &LocalStore,
    key: &str,
    headers: &HeaderMap,
    body: Body,
    size: u64,
) -> Result<u64, Response> {
    let limit = size;
    if let Some(declared) = headers.get(header::CONTENT_LENGTH) {
        match declared.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(n) if n > limit => return Err(too_large(&mib(n), limit)),
            Some(n) if n != size => return Err(short(n, size)),
            Some(_) => {}
            None => return Err(sentence(StatusCode::BAD_REQUEST, "the Content-Length header is not a number".into())),
        }
    }
    let (tmp, target) = store.upload_paths(key).map_err(|e| sentence(StatusCode::FORBIDDEN, e.to_string()))?;
    let result = stream_to(&tmp, body, limit).await;
    let outcome = match result {
        Ok(n) if n != size => Err(short(n, size)),
        Ok(n) => store
            .commit_upload(&tmp, &target)
            .map(|()| n)
            .map_err(|e| sentence(StatusCode::INSUFFICIENT_STORAGE, format!("the upload could not be stored: {e}"))),
        Err(r) => Err(r),
    };
    if outcome.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    outcome
}

async fn stream_to(tmp: &std::path::Path, body: Body, limit: u64) -> Result<u64, Response> {
    let storage = |e: std::io::Error| {
        let status = if e.raw_os_error() == Some(28) {
            StatusCode::INSUFFICIENT_STORAGE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        sentence(status, format!("the upload could not be stored: {e}"))
    };
    let mut file = tokio::fs::File::create(tmp).await.map_err(storage)?;
    let mut body = body;
    let started = Instant::now();
    let mut written: u64 = 0;
    loop {
        let frame = match tokio::time::timeout(UPLOAD_IDLE, body.frame()).await {
            Err(_) => {
                return Err(sentence(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the upload stalled: no data for {} s", UPLOAD_IDLE.as_secs()),
                ))
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(sentence(StatusCode::BAD_REQUEST, format!("the upload was interrupted: {e}")));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        written += data.len() as u64;
        if written > limit {
            return Err(too_large(&format!("more than {}", mib(limit)), limit));
        }
        file.write_all(&data).await.map_err(storage)?;
        let elapsed = started.elapsed();
        if elapsed > UPLOAD_GRACE && written < MIN_UPLOAD_RATE * elapsed.as_secs() {
            return Err(sentence(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the upload is too slow ({} in {} s; at least {} KiB/s are needed)",
                    mib(written),
                    elapsed.as_secs(),
                    MIN_UPLOAD_RATE >> 10
                ),
            ));
        }
    }
    file.sync_all().await.map_err(storage)?;
    Ok(written)
}
