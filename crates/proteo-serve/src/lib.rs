//! `proteo serve`: the cloud's HTTP API (the same `proteo_api::router`) over a data directory, with
//! - [`LocalStore`]: objects under `<data-dir>/objects`, signed `/files/<key>` URLs in place of presigned S3 URLs;
//! - [`FileJobStore`]: the job items, written through to `<data-dir>/jobs/<id>.json`, so a restart lists them;
//! - [`LocalWorkflow`]: `statemachine.asl.json` walked in-process, with its Retry and Catch;
//! - a PUT to a signed upload URL doing what the S3 notification does in the cloud: ingest, then start the workflow;
//! - a cap on concurrent stage runs (ingest included), so a burst of jobs queues instead of exhausting memory;
//! - who is calling: every API route needs the server's bearer token when it has one (it must, off loopback), and
//!   the caller is the single local owner [`LOCAL_OWNER`];
//! - the web page (`web/`) at `/`;
//! - limits: a time limit per stage (the Lambda timeouts), uploads streamed to disk under a size limit, QUEUED jobs
//!   whose upload never came expired, and the HTTP guards of [`http`].

pub mod http;
pub mod jobs;
pub mod store;
mod upload;
pub mod workflow;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use proteo_api::{ApiState, Caller};
use proteo_jobs::{keys, Finish, JobStatus, JobStore, ObjectStore, UploadKey};
use proteo_pipeline::execution::{
    ingest_job, job_spec, mark_failed, run_job_stage, run_report_stage, BuiltinGeneSets, WithBuiltinGeneSets,
};
use proteo_pipeline::quant_map::{assemble, quantify_item, read_manifest, QuantJob, ShardItem, Sharding};
use proteo_pipeline::stages::with_deadline;
use proteo_pipeline::{JobSpec, Stage, StageError};
use serde::Deserialize;
use tokio::sync::Semaphore;

pub use jobs::{FileJobStore, LOCAL_OWNER};
pub use store::LocalStore;
pub use workflow::{LocalWorkflow, StageRunner, StateMachine, STATE_MACHINE_ASL};

pub use proteo_jobs::limits::MAX_UPLOAD_BYTES;
/// A QUEUED job whose data file has not arrived this long after it was submitted is marked FAILED and its design
/// deleted: the upload URL expired ([`proteo_api::UPLOAD_TTL_SECONDS`]) a minute before.
pub const QUEUED_TTL: Duration = Duration::from_secs(proteo_api::UPLOAD_TTL_SECONDS + 60);
/// How often QUEUED jobs are checked for expiry.
const EXPIRY_SWEEP: Duration = Duration::from_secs(30);
/// How often a transiently failing ingest is tried before its job is marked FAILED (S3's asynchronous invoke tries
/// an event three times; a job is never left waiting forever here).
pub const INGEST_ATTEMPTS: u32 = 3;

/// A bearer token shorter than this is refused: it would be guessable (16 characters of a random token carry far
/// more than the 64 bits a network attacker could try).
pub const MIN_TOKEN_CHARS: usize = 16;

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
    /// The time limit of every stage run; `None`: each stage's own ([`Stage::time_limit`], the Lambda timeouts).
    pub stage_time_limit: Option<Duration>,
    /// How long a QUEUED job waits for its upload ([`QUEUED_TTL`] in production).
    pub queued_ttl: Duration,
    /// Connection and request limits of the HTTP side.
    pub http: http::HttpLimits,
    /// The bearer token every API request must carry (`--token` / `PROTEO_TOKEN`); required off loopback.
    pub token: Option<String>,
}

impl ServeConfig {
    /// The production settings for `data_dir`, served at `public_url`, without a token (loopback only).
    pub fn new(data_dir: PathBuf, public_url: String, workers: usize, gene_sets: BuiltinGeneSets) -> ServeConfig {
        ServeConfig {
            data_dir,
            public_url,
            workers,
            gene_sets,
            retry_interval_scale: 1.0,
            stage_pause: Duration::ZERO,
            stage_time_limit: None,
            queued_ttl: QUEUED_TTL,
            http: http::HttpLimits::default(),
            token: None,
        }
    }

    /// Refuse a configuration that would put the jobs on the network for anyone: any address other than loopback
    /// needs a token, and a token must not be guessable.
    pub fn check(&self, addr: SocketAddr) -> Result<(), String> {
        match &self.token {
            None if !addr.ip().is_loopback() => Err(format!(
                "proteo serve would listen on {addr}, which other machines can reach, without a token: anyone there \
                 could list and download every job. Give it one with --token <secret> (or PROTEO_TOKEN) and send \
                 `Authorization: Bearer <secret>` (the web page asks for it), or listen on 127.0.0.1."
            )),
            Some(t) if t.trim().chars().count() < MIN_TOKEN_CHARS => Err(format!(
                "the token has {} characters; use at least {MIN_TOKEN_CHARS} random ones (e.g. `openssl rand -hex 24`)",
                t.trim().chars().count()
            )),
            _ => Ok(()),
        }
    }
}

fn limit_of(stage: Stage, configured: Option<Duration>) -> Duration {
    configured.unwrap_or_else(|| stage.time_limit())
}

/// The production stage runner: `run_job_stage` (the report stage: `run_report_stage`) on a blocking thread (the stages compute synchronously, and the
/// HTTP side must stay responsive while they do).
pub struct PipelineRunner {
    store: Arc<LocalStore>,
    jobs: Arc<FileJobStore>,
    gene_sets: Arc<BuiltinGeneSets>,
    pause: Duration,
    time_limit: Option<Duration>,
}

impl PipelineRunner {
    pub fn new(store: Arc<LocalStore>, jobs: Arc<FileJobStore>, gene_sets: BuiltinGeneSets) -> Self {
        PipelineRunner { store, jobs, gene_sets: Arc::new(gene_sets), pause: Duration::ZERO, time_limit: None }
    }

    /// Every stage's time limit (`None`: each stage's own).
    pub fn with_time_limit(mut self, limit: Option<Duration>) -> Self {
        self.time_limit = limit;
        self
    }

    /// Wait `pause` before each stage ([`ServeConfig::stage_pause`]).
    pub fn with_pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }
}

/// Run a future to completion on a blocking thread of the runtime, for at most `limit`: its computations see the
/// deadline ([`with_deadline`]) and stop there; should one not (a blocking call deep in a library), the caller gets
/// [`StageError::Timeout`] at the limit all the same and its worker slot is free again.
pub async fn on_blocking_thread<T: Send + 'static>(
    stage: Stage,
    limit: Duration,
    work: impl std::future::Future<Output = Result<T, StageError>> + Send + 'static,
) -> Result<T, StageError> {
    let handle = tokio::runtime::Handle::current();
    let deadline = Instant::now() + limit;
    let thread = tokio::task::spawn_blocking(move || handle.block_on(with_deadline(deadline, work)));
    // A moment's grace, so that a computation which noticed the deadline reports its own sentence first.
    match tokio::time::timeout(limit + Duration::from_millis(500), thread).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(StageError::Internal(format!("the stage stopped unexpectedly: {e}"))),
        Err(_) => {
            tracing::error!(stage = stage.as_str(), limit_s = limit.as_secs(), "stage past its time limit abandoned");
            Err(StageError::timed_out(stage, limit))
        }
    }
}

impl StageRunner for PipelineRunner {
    async fn run(&self, stage: Stage, job: &JobSpec) -> Result<Vec<String>, StageError> {
        if !self.pause.is_zero() {
            tokio::time::sleep(self.pause).await;
        }
        let (store, jobs, gmt, job) =
            (Arc::clone(&self.store), Arc::clone(&self.jobs), Arc::clone(&self.gene_sets), job.clone());
        on_blocking_thread(stage, limit_of(stage, self.time_limit), async move {
            let store = WithBuiltinGeneSets::new(&*store, &gmt);
            match stage {
                Stage::Report => run_report_stage(&store, &*jobs, &job, &proteo_report::HtmlReport).await,
                _ => run_job_stage(&store, &*jobs, &job, stage).await,
            }
        })
        .await
    }

    async fn manifest(&self, key: &str) -> Result<Vec<ShardItem>, StageError> {
        read_manifest(&*self.store, key).await
    }

    async fn quantify(&self, items: Vec<ShardItem>) -> Result<(), StageError> {
        let store = Arc::clone(&self.store);
        on_blocking_thread(Stage::Ingest, limit_of(Stage::Ingest, self.time_limit), async move {
            for item in &items {
                quantify_item(&*store, item).await?;
            }
            Ok(())
        })
        .await
    }

    async fn assemble(&self, job: QuantJob) -> Result<(), StageError> {
        let store = Arc::clone(&self.store);
        on_blocking_thread(Stage::Ingest, limit_of(Stage::Ingest, self.time_limit), async move {
            assemble(&*store, &job).await.map(|_| ())
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

    async fn manifest(&self, key: &str) -> Result<Vec<ShardItem>, StageError> {
        self.inner.manifest(key).await
    }

    async fn quantify(&self, items: Vec<ShardItem>) -> Result<(), StageError> {
        let _permit =
            self.permits.acquire().await.map_err(|_| StageError::Transient("the server is shutting down".into()))?;
        self.inner.quantify(items).await
    }

    async fn assemble(&self, job: QuantJob) -> Result<(), StageError> {
        let _permit =
            self.permits.acquire().await.map_err(|_| StageError::Transient("the server is shutting down".into()))?;
        self.inner.assemble(job).await
    }
}

/// The server's parts, shared by the HTTP handlers and the background executions.
pub struct Service<R: StageRunner> {
    pub store: Arc<LocalStore>,
    pub jobs: Arc<FileJobStore>,
    pub workflow: LocalWorkflow<Capped<R>, FileJobStore>,
    permits: Arc<Semaphore>,
    /// Keys being uploaded right now (their job does not expire meanwhile).
    uploading: Arc<Mutex<HashSet<String>>>,
    /// The time limit of ingest (`None`: [`Stage::time_limit`]).
    ingest_limit: Option<Duration>,
    token: Option<Arc<str>>,
    /// When ingest splits a precursor report for the state machine's Map (the cloud's defaults).
    pub sharding: Sharding,
}

pub type LocalService = Service<PipelineRunner>;

impl<R: StageRunner> Clone for Service<R> {
    fn clone(&self) -> Self {
        Service {
            store: Arc::clone(&self.store),
            jobs: Arc::clone(&self.jobs),
            workflow: self.workflow.clone(),
            permits: Arc::clone(&self.permits),
            uploading: Arc::clone(&self.uploading),
            ingest_limit: self.ingest_limit,
            token: self.token.clone(),
            sharding: self.sharding,
        }
    }
}

/// Open the data directory (creating it): the signing secret, the object store, the job store and the workflow.
pub fn open(config: &ServeConfig) -> Result<LocalService, String> {
    let (store, jobs) = open_stores(config)?;
    let runner = PipelineRunner::new(Arc::clone(&store), Arc::clone(&jobs), config.gene_sets.clone())
        .with_pause(config.stage_pause)
        .with_time_limit(config.stage_time_limit);
    let mut service =
        Service::new(store, jobs, runner, config.workers, config.retry_interval_scale).with_token(config.token.clone());
    service.ingest_limit = config.stage_time_limit;
    Ok(service)
}

/// The object and job stores of a data directory.
pub fn open_stores(config: &ServeConfig) -> Result<(Arc<LocalStore>, Arc<FileJobStore>), String> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
    let secret = signing_secret(&dir.join("signing.key"))?;
    let store = Arc::new(LocalStore::new(dir.join("objects"), &config.public_url, secret));
    let removed =
        store.remove_partials().map_err(|e| format!("cannot clean {}: {e}", dir.join("objects").display()))?;
    let jobs = Arc::new(FileJobStore::open(dir.join("jobs")).map_err(|e| format!("cannot open the job store: {e}"))?);
    let report = jobs.open_report();
    if removed + report.partial_removed > 0 {
        tracing::warn!(files = removed + report.partial_removed, "half-written files of an interrupted run removed");
    }
    for (file, reason) in &report.quarantined {
        tracing::error!(file, reason, "damaged job file set aside in jobs/quarantine/");
        eprintln!("proteo serve: the job file {file} {reason}; it was moved to jobs/quarantine/");
    }
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
        Service {
            store,
            jobs,
            workflow,
            permits,
            uploading: Arc::default(),
            ingest_limit: None,
            token: None,
            sharding: Sharding::default(),
        }
    }

    /// Mark FAILED (and delete the design of) every QUEUED job submitted more than `ttl` ago whose data file never
    /// arrived and is not arriving now. Returns how many expired.
    pub async fn expire_queued(&self, ttl: Duration) -> usize {
        let now = proteo_jobs::now_ms();
        let mut expired = 0;
        for item in self.jobs.all() {
            let overdue = now.saturating_sub(item.created_at) > ttl.as_millis() as u64;
            if item.status != JobStatus::Queued || !overdue {
                continue;
            }
            if self.uploading.lock().unwrap_or_else(|p| p.into_inner()).contains(&item.input_key)
                || self.store.get(&item.input_key).await.is_ok()
            {
                continue;
            }
            let message = format!(
                "No data file was uploaded within {} minutes of submitting the job, and its upload URL has expired; \
                 submit the job again.",
                ttl.as_secs().div_ceil(60)
            );
            let finish = Finish::Failed { error_type: "InvalidInput".into(), message };
            match self.jobs.finish(&item.job_id, &finish, now).await {
                Ok(()) => {
                    expired += 1;
                    if let Err(e) = self.store.remove_job(&item.job_id) {
                        tracing::warn!(job_id = item.job_id, error = %e, "the expired job's files were not removed");
                    }
                }
                Err(e) => tracing::warn!(job_id = item.job_id, error = %e, "expired job not marked FAILED"),
            }
        }
        if expired > 0 {
            tracing::info!(expired, "QUEUED jobs without an upload expired");
        }
        expired
    }

    /// Require `Authorization: Bearer <token>` on every API route (`None`: open, for loopback only).
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.map(|t| Arc::from(t.trim()));
        self
    }

    /// What the S3 notification triggers in the cloud: ingest the upload of an API job, then start its workflow.
    /// Transient failures are retried ([`INGEST_ATTEMPTS`]); after the last the job is marked FAILED.
    pub async fn on_upload(&self, key: &str) {
        let UploadKey::ApiInput { job_id } = UploadKey::classify(key) else {
            tracing::warn!(key, "not the upload of an API job; ignored");
            return;
        };
        let job_id = job_id.as_str();
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
            let (store, jobs, workflow, item, sharding) =
                (Arc::clone(&self.store), Arc::clone(&self.jobs), self.workflow.clone(), item.clone(), self.sharding);
            let permit = self.permits.acquire().await;
            let limit = limit_of(Stage::Ingest, self.ingest_limit);
            let result = on_blocking_thread(Stage::Ingest, limit, async move {
                ingest_job(&*store, &*jobs, &workflow, item, sharding).await
            })
            .await;
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
                    let stage = [Stage::Qc, Stage::De, Stage::Pathway, Stage::Report]
                        .into_iter()
                        .find(|s| s.as_str() == item.stage);
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
        let api = proteo_api::router(ApiState::new(Arc::clone(&self.store), Arc::clone(&self.jobs)))
            .layer(middleware::from_fn_with_state(self.token.clone(), authenticate));
        // Uploads are streamed to disk under their own size check (`upload`), so no body limit applies here.
        let files = Router::new().route("/files/{*key}", get(download::<R>).put(upload::<R>)).with_state(self.clone());
        let page = Router::new()
            .route("/", get(|| async { asset("text/html; charset=utf-8", web::INDEX_HTML) }))
            .route("/index.html", get(|| async { asset("text/html; charset=utf-8", web::INDEX_HTML) }))
            .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", web::APP_JS) }))
            .route("/style.css", get(|| async { asset("text/css; charset=utf-8", web::STYLE_CSS) }))
            .route("/config.js", get(|| async { asset("text/javascript; charset=utf-8", web::CONFIG_JS) }));
        page.merge(files).merge(api)
    }
}

/// The caller of an API request: [`LOCAL_OWNER`] when the server has no token or the request carries it; no caller
/// (the API answers 401) otherwise. The signed `/files/` URLs and the page itself need no token, as S3's presigned
/// URLs and a static site need none.
async fn authenticate(State(token): State<Option<Arc<str>>>, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let signed_in = match (&token, presented) {
        (None, _) => true,
        // Compare digests of both, so the time taken does not depend on where they differ.
        (Some(t), Some(p)) => sha256(t.as_bytes()) == sha256(p.as_bytes()),
        (Some(_), None) => false,
    };
    if signed_in {
        request.extensions_mut().insert(Caller { owner: LOCAL_OWNER.to_string() });
    }
    next.run(request).await
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
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
    /// Upload URLs only: the exact size the job declared.
    length: Option<u64>,
    signature: Option<String>,
}

fn refused(status: StatusCode, message: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

async fn upload<R: StageRunner>(
    State(service): State<Service<R>>,
    Path(key): Path<String>,
    Query(q): Query<Signed>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(e) = service.store.verify("PUT", &key, q.expires, q.length, q.signature.as_deref()) {
        return refused(StatusCode::FORBIDDEN, e.to_string());
    }
    let Some(length) = q.length else {
        return refused(StatusCode::FORBIDDEN, "the upload URL names no size; request a new URL from the API".into());
    };
    // An upload belongs to a job still waiting for it: a running job's input cannot be replaced under it.
    if let Some(job_id) = keys::job_id_of(&key) {
        if let Ok(Some(item)) = service.jobs.get(job_id).await {
            if item.status != JobStatus::Queued {
                return refused(
                    StatusCode::CONFLICT,
                    format!("job `{job_id}` is {}; its files can no longer be uploaded", item.status.as_str()),
                );
            }
        }
    }
    if !service.uploading.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
        return refused(StatusCode::CONFLICT, format!("`{key}` is being uploaded already"));
    }
    let received = upload::receive(&service.store, &key, &headers, body, length.min(MAX_UPLOAD_BYTES)).await;
    service.uploading.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    let bytes = match received {
        Ok(n) => n,
        Err(response) => return response,
    };
    tracing::info!(key, bytes, "upload stored");
    // Like the S3 notification: asynchronous, the upload's response does not wait for the analysis.
    service.spawn_upload(key);
    StatusCode::OK.into_response()
}

async fn download<R: StageRunner>(
    State(service): State<Service<R>>,
    Path(key): Path<String>,
    Query(q): Query<Signed>,
) -> Response {
    if let Err(e) = service.store.verify("GET", &key, q.expires, q.length, q.signature.as_deref()) {
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

/// Bind, resume interrupted jobs, serve until Ctrl-C or SIGTERM. Returns within [`http::SHUTDOWN_GRACE`] of the
/// signal; stages still computing are abandoned (their jobs are RUNNING on disk and resume at the next start).
pub async fn serve(config: ServeConfig, addr: SocketAddr) -> Result<(), String> {
    config.check(addr)?;
    let service = open(&config)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
    let resumed = service.resume_interrupted().await;
    let sweeper = service.clone();
    let ttl = config.queued_ttl;
    tokio::spawn(async move {
        loop {
            sweeper.expire_queued(ttl).await;
            tokio::time::sleep(EXPIRY_SWEEP.min(ttl)).await;
        }
    });
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
        "proteo serve: {} (data in {}, {} jobs, {} resumed, {} concurrent stage runs, {}); Ctrl-C stops",
        config.public_url,
        config.data_dir.display(),
        listing.len(),
        resumed,
        config.workers,
        if config.token.is_some() { "bearer token required" } else { "open to this machine only" }
    );
    let hosts = http::AllowedHosts::new(&config.public_url, bound);
    let app = http::guarded(service.router(), Some(hosts), config.http);
    http::serve(listener, app, config.http, shutdown_signal()).await;
    tracing::info!("proteo serve stopped");
    Ok(())
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
