//! `proteo serve`: the cloud's HTTP API (the same `proteo_api::router`) over a data directory, with
//! - [`LocalStore`]: objects under `<data-dir>/objects`, signed `/files/<key>` URLs in place of presigned S3 URLs;
//! - [`FileJobStore`]: the job items, written through to `<data-dir>/jobs/<id>.json`, so a restart lists them;
//! - [`LocalWorkflow`]: `statemachine.asl.json` walked in-process, with its Retry and Catch;
//! - a PUT to a signed upload URL doing what the S3 notification does in the cloud: ingest, then start the workflow;
//! - a cap on concurrent stage runs (ingest included), so a burst of jobs queues instead of exhausting memory;
//! - the web page (`web/`) at `/`.

pub mod jobs;
pub mod store;
pub mod workflow;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use proteo_api::ApiState;
use proteo_jobs::{keys, JobStatus, JobStore, ObjectStore};
use proteo_pipeline::execution::{
    ingest_job, job_spec, mark_failed, run_job_stage, BuiltinGeneSets, WithBuiltinGeneSets,
};
use proteo_pipeline::{JobSpec, Stage, StageError};
use serde::Deserialize;
use tokio::sync::Semaphore;

pub use jobs::FileJobStore;
pub use store::LocalStore;
pub use workflow::{LocalWorkflow, StageRunner, StateMachine, STATE_MACHINE_ASL};

/// Largest accepted upload (a large DIA-NN matrix is a few hundred MB).
pub const MAX_UPLOAD_BYTES: usize = 2 << 30;
/// How often a transiently failing ingest is tried before its job is marked FAILED (S3's asynchronous invoke tries
/// an event three times; a job is never left waiting forever here).
pub const INGEST_ATTEMPTS: u32 = 3;

/// Everything `proteo serve` is started with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    /// The URL clients reach this server at; signed upload/download URLs start with it.
    pub public_url: String,
    /// Stage runs (ingest, qc, de, pathway) allowed at once; the rest wait in line.
    pub workers: usize,
    /// The gene sets `builtin:` keys read (the shipped indexes; a GMT under the default key for jobs naming none).
    pub gene_sets: BuiltinGeneSets,
    /// Multiplies the state machine's retry intervals (1.0 in production).
    pub retry_interval_scale: f64,
    /// A pause before each of qc, de and pathway, so that progress can be watched on a small job (demos and the
    /// browser test; zero in production).
    pub stage_pause: Duration,
}

/// The production stage runner: `run_job_stage` on a blocking thread (the stages compute synchronously, and the
/// HTTP side must stay responsive while they do).
pub struct PipelineRunner {
    store: Arc<LocalStore>,
    jobs: Arc<FileJobStore>,
    gene_sets: Arc<BuiltinGeneSets>,
    pause: Duration,
}

impl PipelineRunner {
    pub fn new(store: Arc<LocalStore>, jobs: Arc<FileJobStore>, gene_sets: BuiltinGeneSets) -> Self {
        PipelineRunner { store, jobs, gene_sets: Arc::new(gene_sets), pause: Duration::ZERO }
    }

    /// Wait `pause` before each stage ([`ServeConfig::stage_pause`]).
    pub fn with_pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }
}

/// Run a future to completion on a blocking thread of the runtime.
async fn on_blocking_thread<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, StageError>> + Send + 'static,
) -> Result<T, StageError> {
    let handle = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || handle.block_on(work)).await {
        Ok(r) => r,
        Err(e) => Err(StageError::Internal(format!("the stage stopped unexpectedly: {e}"))),
    }
}

impl StageRunner for PipelineRunner {
    async fn run(&self, stage: Stage, job: &JobSpec) -> Result<Vec<String>, StageError> {
        if !self.pause.is_zero() {
            tokio::time::sleep(self.pause).await;
        }
        let (store, jobs, gmt, job) =
            (Arc::clone(&self.store), Arc::clone(&self.jobs), Arc::clone(&self.gene_sets), job.clone());
        on_blocking_thread(async move {
            let store = WithBuiltinGeneSets::new(&*store, &gmt);
            run_job_stage(&store, &*jobs, &job, stage).await
        })
        .await
    }
}

/// A runner under the concurrency cap: a stage waits for one of the permits, which ingest shares.
pub struct Capped<R> {
    inner: R,
    permits: Arc<Semaphore>,
}

impl<R: StageRunner> StageRunner for Capped<R> {
    async fn run(&self, stage: Stage, job: &JobSpec) -> Result<Vec<String>, StageError> {
        let _permit =
            self.permits.acquire().await.map_err(|_| StageError::Transient("the server is shutting down".into()))?;
        self.inner.run(stage, job).await
    }
}

/// The server's parts, shared by the HTTP handlers and the background executions.
pub struct Service<R: StageRunner> {
    pub store: Arc<LocalStore>,
    pub jobs: Arc<FileJobStore>,
    pub workflow: LocalWorkflow<Capped<R>, FileJobStore>,
    permits: Arc<Semaphore>,
}

pub type LocalService = Service<PipelineRunner>;

impl<R: StageRunner> Clone for Service<R> {
    fn clone(&self) -> Self {
        Service {
            store: Arc::clone(&self.store),
            jobs: Arc::clone(&self.jobs),
            workflow: self.workflow.clone(),
            permits: Arc::clone(&self.permits),
        }
    }
}

/// Open the data directory (creating it): the signing secret, the object store, the job store and the workflow.
pub fn open(config: &ServeConfig) -> Result<LocalService, String> {
    let (store, jobs) = open_stores(config)?;
    let runner = PipelineRunner::new(Arc::clone(&store), Arc::clone(&jobs), config.gene_sets.clone())
        .with_pause(config.stage_pause);
    Ok(Service::new(store, jobs, runner, config.workers, config.retry_interval_scale))
}

/// The object and job stores of a data directory.
pub fn open_stores(config: &ServeConfig) -> Result<(Arc<LocalStore>, Arc<FileJobStore>), String> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
    let secret = signing_secret(&dir.join("signing.key"))?;
    let store = Arc::new(LocalStore::new(dir.join("objects"), &config.public_url, secret));
    let jobs = Arc::new(FileJobStore::open(dir.join("jobs")).map_err(|e| format!("cannot open the job store: {e}"))?);
    Ok((store, jobs))
}

/// The key that signs URLs, created once (random, 256 bits) and kept, so URLs handed out survive a restart.
fn signing_secret(path: &std::path::Path) -> Result<Vec<u8>, String> {
    match std::fs::read(path) {
        Ok(k) if k.len() >= 32 => return Ok(k),
        Ok(_) => return Err(format!("{} is shorter than 32 bytes; delete it to make a new key", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    }
    let key: Vec<u8> = uuid::Uuid::new_v4().as_bytes().iter().chain(uuid::Uuid::new_v4().as_bytes()).copied().collect();
    let write = || -> std::io::Result<()> {
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, &key)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

impl<R: StageRunner> Service<R> {
    /// `workers` stage runs at once (at least 1); `interval_scale` multiplies the ASL's retry intervals.
    pub fn new(
        store: Arc<LocalStore>,
        jobs: Arc<FileJobStore>,
        runner: R,
        workers: usize,
        interval_scale: f64,
    ) -> Self {
        let machine = StateMachine::parse(STATE_MACHINE_ASL).expect("the compiled-in state machine parses (tested)");
        let permits = Arc::new(Semaphore::new(workers.max(1)));
        let runner = Capped { inner: runner, permits: Arc::clone(&permits) };
        let workflow = LocalWorkflow::new(machine, runner, Arc::clone(&jobs), interval_scale);
        Service { store, jobs, workflow, permits }
    }

    /// What the S3 notification triggers in the cloud: ingest the upload of an API job, then start its workflow.
    /// Transient failures are retried ([`INGEST_ATTEMPTS`]); after the last the job is marked FAILED.
    pub async fn on_upload(&self, key: &str) {
        let Some(job_id) = keys::job_id_of(key) else { return };
        let item = match self.jobs.get(job_id).await {
            Ok(Some(item)) if item.input_key == key => item,
            Ok(_) => {
                tracing::warn!(key, "upload is not the input of a known job; ignored");
                return;
            }
            Err(e) => {
                tracing::error!(key, error = %e, "job store unavailable; upload not ingested");
                return;
            }
        };
        for attempt in 1..=INGEST_ATTEMPTS {
            let (store, jobs, workflow, item) =
                (Arc::clone(&self.store), Arc::clone(&self.jobs), self.workflow.clone(), item.clone());
            let permit = self.permits.acquire().await;
            let result = on_blocking_thread(async move { ingest_job(&*store, &*jobs, &workflow, item).await }).await;
            drop(permit);
            match result {
                Ok(()) => return,
                Err(e @ StageError::Transient(_)) if attempt < INGEST_ATTEMPTS => {
                    tracing::warn!(job_id, attempt, error = %e, "ingest failed transiently; retrying");
                    tokio::time::sleep(Duration::from_secs(attempt as u64)).await;
                }
                Err(e) => {
                    let _ = mark_failed(&*self.jobs, job_id, &e).await;
                    return;
                }
            }
        }
    }

    /// After a restart: ingest uploads that arrived but were not ingested, and resume running jobs at the stage they
    /// were in. Returns how many jobs were picked up.
    pub async fn resume_interrupted(&self) -> usize {
        let mut resumed = 0;
        for item in self.jobs.all() {
            match item.status {
                JobStatus::Queued => {
                    if self.store.get(&item.input_key).await.is_ok() {
                        self.spawn_upload(item.input_key.clone());
                        resumed += 1;
                    }
                }
                JobStatus::Running if item.stage == Stage::Ingest.as_str() => {
                    self.spawn_upload(item.input_key.clone());
                    resumed += 1;
                }
                JobStatus::Running => {
                    let stage = [Stage::Qc, Stage::De, Stage::Pathway].into_iter().find(|s| s.as_str() == item.stage);
                    match (job_spec(&item), stage) {
                        (Ok(spec), Some(stage)) => {
                            if self.workflow.resume(spec, stage).is_some() {
                                resumed += 1;
                            }
                        }
                        (Err(e), _) => {
                            let _ = mark_failed(&*self.jobs, &item.job_id, &e).await;
                        }
                        (Ok(_), None) => {
                            tracing::warn!(job_id = item.job_id, stage = item.stage, "unknown stage; not resumed")
                        }
                    }
                }
                JobStatus::Succeeded | JobStatus::Failed => {}
            }
        }
        resumed
    }

    fn spawn_upload(&self, key: String) {
        let service = self.clone();
        tokio::spawn(async move { service.on_upload(&key).await });
    }

    /// The whole HTTP surface: the API router, the signed `/files/<key>` routes and the web page.
    pub fn router(&self) -> Router {
        let api = proteo_api::router(ApiState::new(Arc::clone(&self.store), Arc::clone(&self.jobs)));
        let files = Router::new()
            .route("/files/{*key}", get(download::<R>).put(upload::<R>))
            .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
            .with_state(self.clone());
        let page = Router::new()
            .route("/", get(|| async { asset("text/html; charset=utf-8", web::INDEX_HTML) }))
            .route("/index.html", get(|| async { asset("text/html; charset=utf-8", web::INDEX_HTML) }))
            .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", web::APP_JS) }))
            .route("/style.css", get(|| async { asset("text/css; charset=utf-8", web::STYLE_CSS) }))
            .route("/config.js", get(|| async { asset("text/javascript; charset=utf-8", web::CONFIG_JS) }));
        page.merge(files).merge(api)
    }
}

/// The web page, compiled in from `web/`.
mod web {
    pub const INDEX_HTML: &str = include_str!("../../../web/index.html");
    pub const APP_JS: &str = include_str!("../../../web/app.js");
    pub const STYLE_CSS: &str = include_str!("../../../web/style.css");
    /// Served as is: `apiBase: ""`, the same origin.
    pub const CONFIG_JS: &str = include_str!("../../../web/config.js");
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

#[derive(Deserialize)]
struct Signed {
    expires: Option<u64>,
    signature: Option<String>,
}

fn refused(status: StatusCode, message: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

async fn upload<R: StageRunner>(
    State(service): State<Service<R>>,
    Path(key): Path<String>,
    Query(q): Query<Signed>,
    body: Bytes,
) -> Response {
    if let Err(e) = service.store.verify("PUT", &key, q.expires, q.signature.as_deref()) {
        return refused(StatusCode::FORBIDDEN, e.to_string());
    }
    if let Err(e) = service.store.put(&key, body.to_vec(), "application/octet-stream").await {
        return refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    tracing::info!(key, bytes = body.len(), "upload stored");
    // Like the S3 notification: asynchronous, the upload's response does not wait for the analysis.
    service.spawn_upload(key);
    StatusCode::OK.into_response()
}

async fn download<R: StageRunner>(
    State(service): State<Service<R>>,
    Path(key): Path<String>,
    Query(q): Query<Signed>,
) -> Response {
    if let Err(e) = service.store.verify("GET", &key, q.expires, q.signature.as_deref()) {
        return refused(StatusCode::FORBIDDEN, e.to_string());
    }
    match service.store.get(&key).await {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            let ct = HeaderValue::from_static(content_type(&key));
            response.headers_mut().insert(header::CONTENT_TYPE, ct);
            response
        }
        Err(proteo_jobs::StoreError::NotFound { .. }) => {
            refused(StatusCode::NOT_FOUND, format!("`{key}` does not exist"))
        }
        Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn content_type(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("jsonl") => "application/x-ndjson",
        Some("parquet") => "application/vnd.apache.parquet",
        Some("tsv") | Some("txt") => "text/tab-separated-values; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Bind, resume interrupted jobs, serve until Ctrl-C or SIGTERM.
pub async fn serve(config: ServeConfig, addr: SocketAddr) -> Result<(), String> {
    let service = open(&config)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let resumed = service.resume_interrupted().await;
    let listing = service.jobs.all();
    tracing::info!(
        %addr,
        data_dir = %config.data_dir.display(),
        jobs = listing.len(),
        resumed,
        workers = config.workers,
        "proteo serve listening"
    );
    println!(
        "proteo serve: {} (data in {}, {} jobs, {} resumed, {} concurrent stage runs); Ctrl-C stops",
        config.public_url,
        config.data_dir.display(),
        listing.len(),
        resumed,
        config.workers
    );
    axum::serve(listener, service.router()).with_graceful_shutdown(shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
