//! `proteo serve` end to end over its router: submit, upload to the signed URL, poll, download the report; a
//! restart that lists the jobs and resumes the interrupted ones; the state machine's Retry and Catch; the cap on
//! concurrent stage runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use proteo_jobs::{JobRecord, JobStatus, JobStore, ObjectStore, Workflow, WorkflowError};
use proteo_pipeline::execution::{ingest_job, run_job_stage, BuiltinGeneSets, WithBuiltinGeneSets};
use proteo_pipeline::{JobSpec, Stage, StageError};
use proteo_serve::{open_stores, PipelineRunner, ServeConfig, Service, StageRunner};
use serde_json::{json, Value};
use tower::ServiceExt;

const PUBLIC_URL: &str = "http://127.0.0.1:8080";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

fn config(dir: &Path, workers: usize) -> ServeConfig {
    let gmt = std::fs::read(repo("data/gene_sets/go_bp_human_uniprot.gmt.gz")).unwrap();
    ServeConfig {
        retry_interval_scale: 0.001,
        ..ServeConfig::new(
            dir.to_path_buf(),
            PUBLIC_URL.into(),
            workers,
            BuiltinGeneSets::default().with(proteo_pipeline::execution::BUILTIN_GO_BP_KEY, gmt.into()),
        )
    }
}

/// A service whose stages go through `wrap(PipelineRunner)`.
fn service<R: StageRunner>(dir: &Path, workers: usize, wrap: impl FnOnce(PipelineRunner) -> R) -> Service<R> {
    let config = config(dir, workers);
    let (store, jobs) = open_stores(&config).unwrap();
    let runner = wrap(PipelineRunner::new(Arc::clone(&store), Arc::clone(&jobs), config.gene_sets.clone()));
    Service::new(store, jobs, runner, workers, config.retry_interval_scale)
}

async fn call(app: &Router, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let uri = uri.strip_prefix(PUBLIC_URL).unwrap_or(uri);
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

async fn json_call(app: &Router, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, bytes) = call(app, method, uri, serde_json::to_vec(&body).unwrap()).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn example_design() -> String {
    std::fs::read_to_string(repo("data/example/experimental_design.tsv")).unwrap()
}

/// POST /jobs for an upload of the bundled example's size; returns (job id, upload URL).
async fn submit(app: &Router, file_name: &str, params: Value) -> (String, String) {
    let size = std::fs::metadata(repo("data/example/proteinGroups.txt")).unwrap().len();
    submit_sized(app, file_name, size, params).await
}

/// POST /jobs declaring an upload of `size` bytes; returns (job id, upload URL).
async fn submit_sized(app: &Router, file_name: &str, size: u64, params: Value) -> (String, String) {
    let request = json!({"fileName": file_name, "fileSize": size, "design": example_design(), "params": params});
    let (status, body) = json_call(app, "POST", "/jobs", request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (body["jobId"].as_str().unwrap().to_string(), body["uploadUrl"].as_str().unwrap().to_string())
}

/// Poll until the job finishes; returns the final poll body and every progress value seen.
async fn wait(app: &Router, job_id: &str) -> (Value, Vec<u64>) {
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        let (status, body) = json_call(app, "GET", &format!("/jobs/{job_id}"), Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.push(body["progress"].as_u64().unwrap());
        if body["status"] == "SUCCEEDED" || body["status"] == "FAILED" {
            return (body, seen);
        }
        assert!(started.elapsed() < Duration::from_secs(120), "job {job_id} did not finish: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_submitted_over_http_runs_to_succeeded_and_serves_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), 2, |r| r);
    let app = svc.router();
    let (job_id, upload_url) = submit(&app, "proteinGroups.txt", json!({})).await;
    assert!(upload_url.starts_with(&format!("{PUBLIC_URL}/files/uploads/api/{job_id}/proteinGroups.txt?expires=")));

    // The signature covers method and key: a GET of the upload URL, or a PUT elsewhere, is refused.
    let (status, _, body) = call(&app, "GET", &upload_url, vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&body));
    let elsewhere = upload_url.replace("/proteinGroups.txt", "/other.txt");
    assert_eq!(call(&app, "PUT", &elsewhere, b"x".to_vec()).await.0, StatusCode::FORBIDDEN);

    let data = std::fs::read(repo("data/example/proteinGroups.txt")).unwrap();
    let (status, _, _) = call(&app, "PUT", &upload_url, data).await;
    assert_eq!(status, StatusCode::OK);
    let (done, seen) = wait(&app, &job_id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress went backwards: {seen:?}");
    assert_eq!(done["summary"]["proteinsKept"], 705);
    assert!(serde_json::to_vec(&done).unwrap().len() <= 2048);

    // report.html: linked from the poll, a redirect to a signed URL, served as HTML with its charts.
    let link = done["results"]["report.html"].as_str().unwrap();
    let (status, headers, _) = call(&app, "GET", link, vec![]).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    let location = headers["location"].to_str().unwrap();
    let (status, headers, html) = call(&app, "GET", location, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("id=\"de\"") && html.matches("<svg").count() >= 5, "report without its charts");

    // The ranked rows the page shows, and the web page itself.
    let (status, rows) = json_call(&app, "GET", &format!("/jobs/{job_id}/results?table=de&limit=5"), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    assert_eq!(rows["rows"].as_array().map(Vec::len), Some(5));
    let (status, headers, page) = call(&app, "GET", "/", vec![]).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "text/html; charset=utf-8"));
    assert!(String::from_utf8(page).unwrap().contains("app.js"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_ends_failed_with_the_readers_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), 2, |r| r);
    let app = svc.router();
    let text = "Protein IDs\tGene names\tLFQ intensity H1\tLFQ intensity H2\nP1\tG1\t5\t6\t7\n";
    let (job_id, upload_url) = submit_sized(&app, "broken.txt", text.len() as u64, json!({})).await;
    assert_eq!(call(&app, "PUT", &upload_url, text.as_bytes().to_vec()).await.0, StatusCode::OK);
    let (done, _) = wait(&app, &job_id).await;
    assert_eq!((done["status"].as_str(), done["errorType"].as_str()), (Some("FAILED"), Some("InvalidInput")), "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(error.starts_with("broken.txt, line 2: expected 4 fields like the header, found 5"), "{error}");
}

/// A workflow that records starts and runs nothing (to leave a job half-way, as a crash would).
struct NoWorkflow;
impl Workflow for NoWorkflow {
    async fn start(&self, _: &str, _: &Value) -> Result<bool, WorkflowError> {
        Ok(true)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_survive_a_restart_and_interrupted_ones_resume_where_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(repo("data/example/proteinGroups.txt")).unwrap();
    let (finished, queued, running);
    {
        let svc = service(dir.path(), 2, |r| r);
        let app = svc.router();
        let (id, url) = submit(&app, "proteinGroups.txt", json!({})).await;
        call(&app, "PUT", &url, data.clone()).await;
        assert_eq!(wait(&app, &id).await.0["status"], "SUCCEEDED");
        finished = id;

        // Uploaded, but the server stopped before ingesting it.
        let (id, _) = submit(&app, "proteinGroups.txt", json!({})).await;
        svc.store.put(&format!("uploads/api/{id}/proteinGroups.txt"), data.clone(), "").await.unwrap();
        queued = id;

        // Ingested and through QC, then the server stopped.
        let (id, _) = submit(&app, "proteinGroups.txt", json!({"qc": {"seed": 7}})).await;
        svc.store.put(&format!("uploads/api/{id}/proteinGroups.txt"), data.clone(), "").await.unwrap();
        let item = svc.jobs.get(&id).await.unwrap().unwrap();
        ingest_job(&*svc.store, &*svc.jobs, &NoWorkflow, item.clone(), Default::default()).await.unwrap();
        let spec = proteo_pipeline::execution::job_spec(&item).unwrap();
        run_job_stage(
            &WithBuiltinGeneSets::new(&*svc.store, &BuiltinGeneSets::default()),
            &*svc.jobs,
            &spec,
            Stage::Qc,
        )
        .await
        .unwrap();
        let r = svc.jobs.get(&id).await.unwrap().unwrap();
        assert_eq!((r.status, r.stage.as_str(), r.progress), (JobStatus::Running, "qc", 40));
        running = id;
    }

    let svc = service(dir.path(), 2, |r| r);
    let app = svc.router();
    let (status, listing) = json_call(&app, "GET", "/jobs", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listing["recent"].as_array().map(Vec::len), Some(3), "{listing}");
    assert_eq!(listing["counts"]["SUCCEEDED"], 1);
    // The finished job's results are still served.
    let link = format!("/jobs/{finished}/files/de/results.parquet");
    let (status, headers, _) = call(&app, "GET", &link, vec![]).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    let (status, _, parquet) = call(&app, "GET", headers["location"].to_str().unwrap(), vec![]).await;
    assert_eq!((status, &parquet[..4]), (StatusCode::OK, &b"PAR1"[..]));

    assert_eq!(svc.resume_interrupted().await, 2);
    for id in [&queued, &running] {
        let (done, seen) = wait(&app, id).await;
        assert_eq!(done["status"], "SUCCEEDED", "{done}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    }
}

/// Fails chosen stages with chosen errors a number of times, counting every call.
struct Flaky<R> {
    inner: R,
    fail: Vec<(Stage, StageError, usize)>,
    calls: Arc<Mutex<Vec<Stage>>>,
}

impl<R: StageRunner> StageRunner for Flaky<R> {
    async fn run(&self, stage: Stage, job: &JobSpec) -> Result<Vec<String>, StageError> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(stage);
            calls.iter().filter(|s| **s == stage).count()
        };
        if let Some((_, e, times)) = self.fail.iter().find(|(s, _, _)| *s == stage) {
            if n <= *times {
                return Err(e.clone());
            }
        }
        self.inner.run(stage, job).await
    }
}

async fn run_flaky(fail: Vec<(Stage, StageError, usize)>) -> (Value, Vec<Stage>) {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let svc = service(dir.path(), 2, |inner| Flaky { inner, fail, calls: Arc::clone(&calls) });
    let app = svc.router();
    let (id, url) = submit(&app, "proteinGroups.txt", json!({})).await;
    call(&app, "PUT", &url, std::fs::read(repo("data/example/proteinGroups.txt")).unwrap()).await;
    let (done, _) = wait(&app, &id).await;
    let calls = calls.lock().unwrap().clone();
    (done, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_and_catch_follow_statemachine_asl_json() {
    use Stage::*;
    // Transient once: retried, and the job succeeds.
    let (done, calls) = run_flaky(vec![(De, StageError::Transient("S3 throttled".into()), 1)]).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(calls, [Qc, De, De, Pathway, Report]);

    // Transient every time: the first try and MaxAttempts (3) retries, then Catch → Mark Failed.
    let (done, calls) = run_flaky(vec![(Qc, StageError::Transient("disk full".into()), usize::MAX)]).await;
    assert_eq!(calls, [Qc, Qc, Qc, Qc]);
    assert_eq!((done["status"].as_str(), done["errorType"].as_str()), (Some("FAILED"), Some("Transient")));
    assert!(done["error"].as_str().unwrap().contains("disk full"), "{done}");

    // Refused input is not retried: straight to Mark Failed with the sentence; later stages never run.
    let (done, calls) = run_flaky(vec![(De, StageError::InvalidInput("group `X` has 1 sample(s)".into()), 1)]).await;
    assert_eq!(calls, [Qc, De]);
    assert_eq!((done["status"].as_str(), done["errorType"].as_str()), (Some("FAILED"), Some("InvalidInput")));
    assert!(done["error"].as_str().unwrap().contains("group `X` has 1 sample(s)"), "{done}");
}

/// Overwrites the job's `qc/distributions.parquet` (an input of the report only) with bytes that are not Parquet
/// just before the report stage runs, as a damaged object would be.
struct CorruptReportInput<R> {
    inner: R,
    objects: PathBuf,
}

impl<R: StageRunner> StageRunner for CorruptReportInput<R> {
    async fn run(&self, stage: Stage, job: &JobSpec) -> Result<Vec<String>, StageError> {
        if stage == Stage::Report {
            std::fs::write(self.objects.join(&job.prefix).join("qc/distributions.parquet"), b"not parquet").unwrap();
        }
        self.inner.run(stage, job).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_cannot_be_rendered_leaves_the_job_succeeded_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    let svc = service(dir.path(), 2, |inner| CorruptReportInput { inner, objects });
    let app = svc.router();
    let (id, url) = submit(&app, "proteinGroups.txt", json!({})).await;
    call(&app, "PUT", &url, std::fs::read(repo("data/example/proteinGroups.txt")).unwrap()).await;
    let (done, seen) = wait(&app, &id).await;
    assert_eq!((done["status"].as_str(), done["progress"].as_u64()), (Some("SUCCEEDED"), Some(100)), "{done}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress went backwards: {seen:?}");
    let warning = done["warning"].as_str().expect("a warning");
    assert!(warning.starts_with("report could not be rendered: report.html: "), "{warning}");
    assert!(warning.contains("qc/distributions.parquet"), "{warning}");
    assert!(done["error"].is_null() && done["errorType"].is_null(), "{done}");
    // The item holds what the state machine's States.Format makes of the Cause, as in the cloud.
    let item = svc.jobs.get(&id).await.unwrap().unwrap();
    let stored = item.warning.unwrap();
    assert!(
        stored.starts_with("report could not be rendered: {") && stored.contains(r#""errorType":"Internal""#),
        "{stored}"
    );
    // Every statistics output is there and attached; the report is not.
    let results = done["results"].as_object().unwrap();
    assert!(!results.contains_key("report.html"), "{done}");
    for rel in
        ["summary.json", "qc/matrix.parquet", "qc/samples.parquet", "de/results.parquet", "pathway/enrichment.parquet"]
    {
        assert!(results.contains_key(rel), "{rel} not in {done}");
        let bytes = svc.store.get(&format!("jobs/{id}/{rel}")).await.unwrap();
        assert!(!bytes.is_empty(), "{rel}");
    }
    assert_eq!(done["summary"]["proteinsKept"], 705);
}

/// Sleeps instead of computing and records the most stages ever running at once.
struct Sleepy {
    running: AtomicUsize,
    most: Arc<AtomicUsize>,
}

impl StageRunner for Sleepy {
    async fn run(&self, _: Stage, _: &JobSpec) -> Result<Vec<String>, StageError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(vec![])
    }
}

/// `n` jobs `<prefix>-<i>`, ingested (RUNNING at ingest), run from QC to the end at once; returns when all ended.
async fn run_ingested_jobs<R: StageRunner>(svc: &Service<R>, prefix: &str, n: u64) {
    let mut handles = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}");
        let record = JobRecord::queued(&id, "api", &format!("uploads/api/{id}/x.txt"), "d", json!({}), i)
            .owned_by(proteo_serve::LOCAL_OWNER);
        svc.jobs.create(&record).await.unwrap();
        svc.jobs.progress(&id, "ingest", 10, "ingested", i).await.unwrap();
        let spec = proteo_pipeline::execution::job_spec(&record).unwrap();
        handles.push(svc.workflow.resume(spec, Stage::Qc).unwrap());
    }
    for h in handles {
        h.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_runs_beyond_the_cap_wait_their_turn() {
    for workers in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let most = Arc::new(AtomicUsize::new(0));
        let svc = service(dir.path(), workers, |_| Sleepy { running: AtomicUsize::new(0), most: Arc::clone(&most) });
        run_ingested_jobs(&svc, "job", 5).await;
        assert_eq!(most.load(Ordering::SeqCst), workers, "cap {workers}");
        let listing = svc.jobs.list(proteo_serve::LOCAL_OWNER, 10).await.unwrap();
        assert_eq!(listing.counts["SUCCEEDED"], 5, "{:?}", listing.counts);
    }
}

/// A job naming gene sets that are not its own: at the door (400) and, for a job stored another way (a drop-in,
/// an old record), where they are read (FAILED, the other file never read or quoted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_reads_only_its_own_keys_and_the_shipped_gene_sets() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), 2, |r| r);
    let app = svc.router();
    let (victim, url) = submit(&app, "proteinGroups.txt", json!({})).await;
    call(&app, "PUT", &url, std::fs::read(repo("data/example/proteinGroups.txt")).unwrap()).await;
    assert_eq!(wait(&app, &victim).await.0["status"], "SUCCEEDED");
    let other = proteo_jobs::keys::upload_key(&victim, "proteinGroups.txt");
    let probes = [
        other.clone(),
        format!("jobs/{victim}/de/results.parquet"),
        "jobs/".into(),
        "signing.key".into(),
        "../signing.key".into(),
        "/etc/passwd".into(),
        format!("upload:../../{victim}/proteinGroups.txt"),
        "upload:%2e%2e%2fsigning.key".into(),
        "upload:..\\signing.key".into(),
        "upload:x\u{0}y".into(),
        "builtin:../../signing.key".into(),
        format!("{}/objects/{other}", dir.path().display()),
    ];
    for probe in &probes {
        let (status, body) = json_call(
            &app,
            "POST",
            "/jobs",
            json!({"fileName": "x.txt", "fileSize": 10, "design": example_design(),
                   "params": {"pathway": {"gene_sets": probe}}}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{probe}: {body}");
        assert!(body["error"].as_str().unwrap().contains("params.pathway.gene_sets"), "{probe}: {body}");
    }
    // A record that reached the store without the API's check (as an old or hand-made item would).
    for probe in &probes {
        let id = uuid::Uuid::new_v4().to_string();
        let input = proteo_jobs::keys::upload_key(&id, "proteinGroups.txt");
        let params = json!({"pathway": {"gene_sets": probe}});
        let record = JobRecord::queued(&id, "api", &input, &proteo_jobs::keys::design_key(&id), params, 1)
            .owned_by(proteo_serve::LOCAL_OWNER);
        svc.jobs.create(&record).await.unwrap();
        svc.store.put(&record.design_key, example_design().into_bytes(), "").await.unwrap();
        svc.store.put(&input, std::fs::read(repo("data/example/proteinGroups.txt")).unwrap(), "").await.unwrap();
        svc.on_upload(&input).await;
        let (done, _) = wait(&app, &id).await;
        assert_eq!((done["status"].as_str(), done["errorType"].as_str()), (Some("FAILED"), Some("InvalidInput")));
        let error = done["error"].as_str().unwrap();
        assert!(error.contains("params.pathway.gene_sets"), "{probe}: {error}");
        assert!(!error.contains("Protein IDs") && !error.contains("PAR1"), "{probe} leaked a file: {error}");
        // A spec handed straight to the pathway stage (past ingest) is refused there too.
        let mut spec =
            proteo_pipeline::execution::job_spec(&JobRecord { params: json!({}), ..record.clone() }).unwrap();
        spec.params.pathway.gene_sets = probe.clone();
        let none = BuiltinGeneSets::default();
        let store = WithBuiltinGeneSets::new(&*svc.store, &none);
        let e = run_job_stage(&store, &*svc.jobs, &spec, Stage::Pathway).await.unwrap_err();
        assert_eq!(e.error_type(), "InvalidInput", "{probe}: {e}");
    }
    // Unsigned or traversing file routes never serve the store's files.
    for path in
        ["/files/signing.key", "/files/..%2fsigning.key", "/files/jobs/%2e%2e/%2e%2e/signing.key", "/files//etc/passwd"]
    {
        let (status, _, body) = call(&app, "GET", path, vec![]).await;
        assert!(matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{path}: {status}");
        assert!(!body.is_empty() && body.len() < 400, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gene_sets_uploaded_with_the_job_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), 2, |r| r);
    let app = svc.router();
    let (status, created) = json_call(
        &app,
        "POST",
        "/jobs",
        json!({"fileName": "proteinGroups.txt", "fileSize": std::fs::metadata(repo("data/example/proteinGroups.txt")).unwrap().len(),
               "design": example_design(), "geneSetsFileName": "go.gmt.gz",
               "geneSetsFileSize": std::fs::metadata(repo("data/gene_sets/go_bp_human_uniprot.gmt.gz")).unwrap().len()}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["jobId"].as_str().unwrap();
    let sets_url = created["geneSetsUploadUrl"].as_str().unwrap();
    assert!(sets_url.contains(&format!("/files/{}?", proteo_jobs::keys::upload_key(id, "go.gmt.gz"))), "{sets_url}");
    let gmt = std::fs::read(repo("data/gene_sets/go_bp_human_uniprot.gmt.gz")).unwrap();
    assert_eq!(call(&app, "PUT", sets_url, gmt).await.0, StatusCode::OK);
    let data = std::fs::read(repo("data/example/proteinGroups.txt")).unwrap();
    assert_eq!(call(&app, "PUT", created["uploadUrl"].as_str().unwrap(), data).await.0, StatusCode::OK);
    let (done, _) = wait(&app, id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["summary"]["geneSets"], "go.gmt.gz");

    // Without its gene sets uploaded first, the job fails at ingest with what to do.
    let (status, created) = json_call(
        &app,
        "POST",
        "/jobs",
        json!({"fileName": "proteinGroups.txt", "fileSize": std::fs::metadata(repo("data/example/proteinGroups.txt")).unwrap().len(),
               "design": example_design(), "geneSetsFileName": "mine.gmt", "geneSetsFileSize": 100}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let data = std::fs::read(repo("data/example/proteinGroups.txt")).unwrap();
    call(&app, "PUT", created["uploadUrl"].as_str().unwrap(), data).await;
    let (done, _) = wait(&app, created["jobId"].as_str().unwrap()).await;
    assert_eq!(done["status"], "FAILED");
    assert!(done["error"].as_str().unwrap().contains("`mine.gmt`"), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_text_plain_post_creates_no_job() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), 1, |r| r);
    let app = svc.router();
    let body = serde_json::to_vec(&json!({"fileName": "x.txt", "fileSize": 10, "design": example_design()})).unwrap();
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let req =
            Request::builder().method("POST").uri("/jobs").header("content-type", ct).body(Body::from(body.clone()));
        let res = app.clone().oneshot(req.unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
    }
    assert!(svc.jobs.all().is_empty(), "a job was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_the_api_answer_only_to_their_own_host_with_security_headers() {
    use proteo_serve::http::{guarded, AllowedHosts, HttpLimits, PAGE_CSP, REPORT_CSP};
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), 1, |r| r);
    let hosts = AllowedHosts::new(PUBLIC_URL, "127.0.0.1:8080".parse().unwrap());
    let app = guarded(svc.router(), Some(hosts), HttpLimits::default());
    let get = |host: &'static str, uri: &'static str| {
        let app = app.clone();
        async move {
            let req = Request::builder().uri(uri).header("host", host).body(Body::empty()).unwrap();
            app.oneshot(req).await.unwrap()
        }
    };
    // DNS rebinding: the attacker's name in Host.
    for uri in ["/", "/jobs"] {
        let res = get("rebind.attacker.example:8080", uri).await;
        assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST, "{uri}");
    }
    let res = get("127.0.0.1:8080", "/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert_eq!(h["content-security-policy"], PAGE_CSP);
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(get("localhost:8080", "/jobs").await.status(), StatusCode::OK);

    // The report is framed by the page only, and its scripts can fetch nothing.
    let (id, url) = submit(&app_with_host(&app), "proteinGroups.txt", json!({})).await;
    call(&app_with_host(&app), "PUT", &url, std::fs::read(repo("data/example/proteinGroups.txt")).unwrap()).await;
    let (done, _) = wait(&app_with_host(&app), &id).await;
    let (_, headers, _) =
        call(&app_with_host(&app), "GET", done["results"]["report.html"].as_str().unwrap(), vec![]).await;
    let req = Request::builder()
        .uri(headers["location"].to_str().unwrap().strip_prefix(PUBLIC_URL).unwrap())
        .header("host", "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-security-policy"], REPORT_CSP);
    assert_eq!(res.headers()["x-frame-options"], "SAMEORIGIN");
}

/// `app` with a Host header added to every request (the guarded router refuses requests without one).
fn app_with_host(app: &Router) -> Router {
    app.clone().layer(axum::middleware::map_request(|mut req: Request<Body>| async move {
        req.headers_mut().insert("host", "127.0.0.1:8080".parse().unwrap());
        req
    }))
}

/// Lets the wedged threads end once the test is done (a runtime waits for its blocking threads when dropped).
static RELEASE_WEDGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A stage that does not return until released and ignores every deadline (a blocking call deep in a library).
struct Wedged;

impl StageRunner for Wedged {
    async fn run(&self, stage: Stage, _: &JobSpec) -> Result<Vec<String>, StageError> {
        proteo_serve::on_blocking_thread(stage, Duration::from_millis(300), async {
            while !RELEASE_WEDGED.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(vec![])
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedged_stage_fails_its_job_at_the_time_limit_and_frees_its_worker() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), 1, |_| Wedged);
    let started = Instant::now();
    run_ingested_jobs(&svc, "wedge", 3).await;
    // One worker, three wedged jobs: each failed at its limit in turn; none waited for another's thread.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    for i in 0..3 {
        let r = svc.jobs.get(&format!("wedge-{i}")).await.unwrap().unwrap();
        assert_eq!((r.status, r.error_type.as_deref()), (JobStatus::Failed, Some("Timeout")));
        assert!(r.error.as_deref().unwrap().contains("did not finish within"), "{:?}", r.error);
    }
    // A timed-out job is FAILED on disk: a restart does not resume it into another wedge.
    let again = service(dir.path(), 1, |_| Wedged);
    assert_eq!(again.resume_interrupted().await, 0);
    RELEASE_WEDGED.store(true, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_stage_past_its_limit_stops_computing_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 1);
    let (store, jobs) = open_stores(&config).unwrap();
    let runner = PipelineRunner::new(Arc::clone(&store), Arc::clone(&jobs), config.gene_sets.clone())
        .with_time_limit(Some(Duration::from_millis(1)));
    let svc = Service::new(store, jobs, runner, 1, config.retry_interval_scale);
    let app = svc.router();
    let (id, url) = submit(&app, "proteinGroups.txt", json!({})).await;
    // Ingest is not under the runner's limit here (Service::new); QC is.
    call(&app, "PUT", &url, std::fs::read(repo("data/example/proteinGroups.txt")).unwrap()).await;
    let (done, _) = wait(&app, &id).await;
    assert_eq!((done["status"].as_str(), done["errorType"].as_str()), (Some("FAILED"), Some("Timeout")), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_whose_upload_never_came_expire_and_lose_their_design() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), 1, |r| r);
    let app = svc.router();
    let (abandoned, _) = submit(&app, "proteinGroups.txt", json!({})).await;
    let (uploaded, url) = submit(&app, "proteinGroups.txt", json!({})).await;
    assert_eq!(svc.expire_queued(Duration::from_secs(3600)).await, 0, "nothing is overdue yet");
    svc.store.put(&proteo_jobs::keys::upload_key(&uploaded, "proteinGroups.txt"), b"x".to_vec(), "").await.unwrap();
    assert_eq!(svc.expire_queued(Duration::ZERO).await, 1);
    let (_, body) = json_call(&app, "GET", &format!("/jobs/{abandoned}"), Value::Null).await;
    assert_eq!(body["status"], "FAILED");
    assert!(body["error"].as_str().unwrap().contains("No data file was uploaded"), "{body}");
    assert!(!dir.path().join(format!("objects/jobs/{abandoned}")).exists(), "the design is still on disk");
    let (_, body) = json_call(&app, "GET", &format!("/jobs/{uploaded}"), Value::Null).await;
    assert_eq!(body["status"], "QUEUED", "a job with its upload in place does not expire");
    let _ = url;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_upload_over_the_limit_is_refused_before_its_body() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), 1, |r| r);
    let app = svc.router();
    let (_, url) = submit_sized(&app, "big.txt", 1000, json!({})).await;
    let req = Request::builder()
        .method("PUT")
        .uri(url.strip_prefix(PUBLIC_URL).unwrap())
        .header("content-length", (3u64 << 30).to_string())
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("split the samples"), "{}", String::from_utf8_lossy(&body));
    // At the door: a declared size over the limit gets no job and no URL.
    let (status, body) = json_call(
        &app,
        "POST",
        "/jobs",
        json!({"fileName": "big.txt", "fileSize": 3u64 << 30, "design": example_design()}),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // A body of another size than declared is refused, and leaves no file.
    let (id, url) = submit_sized(&app, "short.txt", 1000, json!({})).await;
    let (status, _, body) = call(&app, "PUT", &url, b"12345".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
    assert!(!dir.path().join(format!("objects/{}", proteo_jobs::keys::upload_key(&id, "short.txt"))).exists());
}

#[tokio::test]
async fn with_a_token_every_api_route_needs_it_and_the_page_and_signed_urls_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let token = "s3cret-token-of-24-chars";
    let svc = service(dir.path(), 1, |r| r).with_token(Some(token.into()));
    let app = svc.router();
    let request = |uri: &str, auth: Option<&str>| {
        let mut b = Request::builder().method("GET").uri(uri);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(Body::empty()).unwrap()
    };
    for uri in ["/jobs", "/jobs/0b1e7c2a-5f8e-4b7a-9a51-2e0f3c4d5e6f", "/jobs/x/results", "/jobs/x/files/a", "/nope"] {
        for auth in [None, Some("Bearer wrong-token-of-24-chars!"), Some(token), Some("Basic czNjcmV0")] {
            let res = app.clone().oneshot(request(uri, auth)).await.unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{uri} with {auth:?}");
        }
    }
    let ok = app.clone().oneshot(request("/jobs", Some(&format!("Bearer {token}")))).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let page = app.clone().oneshot(request("/", None)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the page loads so that it can ask for the token");
    let unsigned = app.clone().oneshot(request("/files/jobs/x/report.html", None)).await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN, "files answer to their signature, not to the token");
}

#[test]
fn off_loopback_the_server_refuses_to_start_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), 1);
    assert_eq!(c.check("127.0.0.1:8080".parse().unwrap()), Ok(()));
    assert_eq!(c.check("[::1]:8080".parse().unwrap()), Ok(()));
    let e = c.check("0.0.0.0:8080".parse().unwrap()).unwrap_err();
    assert!(e.contains("without a token") && e.contains("--token"), "{e}");
    assert!(c.check("192.0.2.7:8080".parse().unwrap()).is_err());
    c.token = Some("short".into());
    assert!(c.check("0.0.0.0:8080".parse().unwrap()).unwrap_err().contains("at least 16"));
    c.token = Some("a-long-enough-random-token".into());
    assert_eq!(c.check("0.0.0.0:8080".parse().unwrap()), Ok(()));
}

/// A precursor report through `proteo serve`'s state machine: split by ingest into shards, quantified by the Map's
/// children (three at a time), assembled, then QC → DE → pathway; its protein table equals the one of the same
/// report quantified in place (a second job on a server with the default shard cap).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_precursor_report_runs_through_the_map_and_its_table_equals_in_place_quantification() {
    use proteo_core::quant::synthetic::{run_name, write_report, ReportSpec};
    use proteo_pipeline::quant_map::Sharding;
    let spec = ReportSpec { runs: 24, precursors: 500, missing: 0.1, seed: 11, row_group_rows: 4096 };
    let mut report = Vec::new();
    write_report(&spec, &mut report).unwrap();
    let design: String = std::iter::once("sample\tgroup\n".to_string())
        .chain((0..spec.runs).map(|r| format!("{}\tG{}\n", run_name(r), r % 3 + 1)))
        .collect();
    let mut tables = Vec::new();
    for sharding in [Sharding { max_cells: 2_000, max_concurrency: 3 }, Sharding::default()] {
        let dir = tempfile::tempdir().unwrap();
        let mut svc = service(dir.path(), 2, |r| r);
        svc.sharding = sharding;
        let app = svc.router();
        let request = json!({"fileName": "report.parquet", "fileSize": report.len(), "design": design, "params": {}});
        let (status, body) = json_call(&app, "POST", "/jobs", request).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let job_id = body["jobId"].as_str().unwrap().to_string();
        let (status, _, _) = call(&app, "PUT", body["uploadUrl"].as_str().unwrap(), report.clone()).await;
        assert_eq!(status, StatusCode::OK);
        let (done, seen) = wait(&app, &job_id).await;
        assert_eq!(done["status"], "SUCCEEDED", "{done}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress went backwards: {seen:?}");
        let manifest = svc.store.get(&format!("jobs/{job_id}/ingest/quant/manifest.json")).await;
        let items: Vec<Value> = manifest.map(|m| serde_json::from_slice(&m).unwrap()).unwrap_or_default();
        if sharding == Sharding::default() {
            assert!(items.is_empty(), "500 × 24 cells fit one default shard");
        } else {
            assert!(items.len() >= 3, "{} shards", items.len());
        }
        tables.push(svc.store.get(&format!("jobs/{job_id}/ingest/table.parquet")).await.unwrap());
    }
    assert_eq!(tables[0], tables[1], "the Map's protein table differs from quantification in place");
}
