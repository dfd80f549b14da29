//! The HTTP API of proteo — submit, poll, results, list — as an axum `Router` generic over the job ports.
//!
//! Served by the `api` Lambda (through `lambda_http`) and, with a filesystem store, by `proteo serve`; nothing in
//! it knows about AWS or about the analysis. Routes and shapes: `docs/cloud.md`, section API. Who is calling is the
//! shell's business (the Lambda reads the JWT authorizer's claims, `proteo serve` its bearer token): it puts a
//! [`Caller`] into the request's extensions, and every route without one answers 401.

mod error;
mod jobs;
mod results;
mod submit;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{Method, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use proteo_jobs::{JobStore, ObjectStore, Presigner};

pub use error::ApiError;

/// How long a presigned upload URL stays valid (docs/cloud.md: `expiresInSeconds: 900`).
pub const UPLOAD_TTL_SECONDS: u64 = 900;
/// How long the presigned URL behind `GET /jobs/{id}/files/…` stays valid (docs/cloud.md: 15 minutes).
pub const DOWNLOAD_TTL_SECONDS: u64 = 900;
/// Largest accepted `fileName`, in characters.
pub use proteo_jobs::keys::MAX_FILE_NAME_CHARS;
/// Largest accepted design text (1 MiB): a design has one short line per sample.
pub const MAX_DESIGN_BYTES: usize = 1 << 20;
/// Largest accepted `params` object, serialized (8 KiB): the job item and the state-machine input stay small.
pub const MAX_PARAMS_BYTES: usize = 8 << 10;
/// Largest accepted request body (3 MiB): a 1 MiB design grows when JSON escapes its tabs and newlines.
pub const MAX_BODY_BYTES: usize = 3 << 20;
/// The poll response never exceeds this many bytes (DESIGN.md: "≤ 2 KB whatever the data size").
pub const POLL_MAX_BYTES: usize = 2048;
/// `error` and `message` in the poll response are cut to this many characters.
pub const ERROR_TEXT_CHARS: usize = 500;
/// Rows per page of `GET /jobs/{id}/results` when `limit` is not given, and the largest `limit` accepted.
pub const RESULTS_DEFAULT_LIMIT: usize = 100;
pub const RESULTS_MAX_LIMIT: usize = 1000;
/// Jobs listed under `recent` by `GET /jobs`.
pub const RECENT_JOBS: usize = 20;

/// The signed-in caller of a request, put into its extensions by the shell that authenticated it. `owner` is the
/// token's `sub`: jobs are created for it and only its jobs are listed or served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub owner: String,
}

/// What every handler gets: the ports, a clock and the upload URL lifetime.
pub struct ApiState<S, J> {
    pub store: Arc<S>,
    pub jobs: Arc<J>,
    /// Milliseconds since the Unix epoch.
    pub clock: fn() -> u64,
    pub upload_ttl_seconds: u64,
}

impl<S, J> ApiState<S, J> {
    /// The system clock and [`UPLOAD_TTL_SECONDS`].
    pub fn new(store: Arc<S>, jobs: Arc<J>) -> Self {
        ApiState { store, jobs, clock: system_clock_ms, upload_ttl_seconds: UPLOAD_TTL_SECONDS }
    }
}

// Not derived: the derive would require `S: Clone, J: Clone`, and only the `Arc`s are cloned.
impl<S, J> Clone for ApiState<S, J> {
    fn clone(&self) -> Self {
        ApiState {
            store: Arc::clone(&self.store),
            jobs: Arc::clone(&self.jobs),
            clock: self.clock,
            upload_ttl_seconds: self.upload_ttl_seconds,
        }
    }
}

/// Milliseconds since the Unix epoch, from the system clock.
pub use proteo_jobs::now_ms as system_clock_ms;

/// The API: `POST /jobs`, `GET /jobs`, `GET /jobs/{id}`, `GET /jobs/{id}/results`, `GET /jobs/{id}/files/{*path}`.
/// Every error answers `{"error": "<sentence>"}`.
pub fn router<S: ObjectStore + Presigner + 'static, J: JobStore + 'static>(state: ApiState<S, J>) -> Router {
    Router::new()
        .route("/jobs", post(submit::submit::<S, J>).get(jobs::list::<S, J>))
        .route("/jobs/{id}", get(jobs::poll::<S, J>))
        .route("/jobs/{id}/results", get(results::results::<S, J>))
        .route("/jobs/{id}/files/{*path}", get(jobs::file::<S, J>))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(require_caller))
        .with_state(state)
}

const ROUTES: &str = "POST /jobs, GET /jobs, GET /jobs/{id}, GET /jobs/{id}/results, GET /jobs/{id}/files/{path}";

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("there is no route `{method} {}`; the routes are {ROUTES}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("`{method} {}` is not allowed; the routes are {ROUTES}", uri.path()))
}

/// Every route, the fallbacks included, answers 401 to a request without a valid [`Caller`].
async fn require_caller(request: Request, next: Next) -> Response {
    match request.extensions().get::<Caller>() {
        Some(c) if proteo_jobs::keys::valid_owner(&c.owner) => next.run(request).await,
        Some(_) => {
            ApiError::Unauthorized("the token's subject is not a usable owner id; sign in again".into()).into_response()
        }
        None => ApiError::Unauthorized("sign in first: send `Authorization: Bearer <token>`".into()).into_response(),
    }
}
