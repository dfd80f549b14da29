//! The API's error type and its `{"error": "<sentence>"}` responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use proteo_jobs::{JobStoreError, StoreError};

/// Everything a handler can answer besides success. Client errors carry the sentence shown to the caller;
/// storage failures are logged with their detail and answered 503 (worth a retry) or 500.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No signed-in caller (answered 401 with `WWW-Authenticate: Bearer`).
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Jobs(#[from] JobStoreError),
    /// Our own data is not what we wrote (a corrupt index, a key outside the job): a bug, not the caller's fault.
    #[error("{0}")]
    Internal(String),
}

/// Longest id echoed back in a 404: ids are at most 64 characters, anything longer is not an id.
const ECHOED_ID_CHARS: usize = 64;

impl ApiError {
    /// 404 `no job `<id>``.
    pub fn no_job(id: &str) -> ApiError {
        let shown: String = id.chars().take(ECHOED_ID_CHARS).collect();
        let ellipsis = if shown.len() < id.len() { "…" } else { "" };
        ApiError::NotFound(format!("no job `{shown}{ellipsis}`"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Store(StoreError::Transient { .. }) | ApiError::Jobs(JobStoreError::Transient(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Store(StoreError::NotFound { .. })
            | ApiError::Jobs(JobStoreError::NotFound(_) | JobStoreError::Conflict { .. })
            | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(error = %self, "storage unavailable");
                format!("{self}; try again in a few seconds")
            }
            StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %self, "internal error");
                format!("internal error: {self}")
            }
            _ => self.to_string(),
        };
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
