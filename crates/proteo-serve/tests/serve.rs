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
    ServeConfig {
        data_dir: dir.to_path_buf(),
        public_url: PUBLIC_URL.into(),
        workers,
        gene_sets: BuiltinGeneSets::default().with(
            proteo_pipeline::execution::BUILTIN_GO_BP_KEY,
            std::fs::read(repo("data/gene_sets/go_bp_human_uniprot.gmt.gz")).unwrap().into(),
        ),
        retry_interval_scale: 0.001,
        stage_pause: std::time::Duration::ZERO,
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

/// POST /jobs; returns (job id, upload URL).
async fn submit(app: &Router, file_name: &str, params: Value) -> (String, String) {
    let (status, body) =
        json_call(app, "POST", "/jobs", json!({"fileName": file_name, "design": example_design(), "params": params}))
            .await;
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
    assert!(upload_url.starts_with(&format!("{PUBLIC_URL}/files/jobs/{job_id}/input/proteinGroups.txt?expires=")));

    // The signature covers method and key: a GET of the upload URL, or a PUT elsewhere, is refused.
    let (status, _, body) = call(&app, "GET", &upload_url, vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&body));
    let elsewhere = upload_url.replace("/input/proteinGroups.txt", "/input/other.txt");
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
    let (job_id, upload_url) = submit(&app, "broken.txt", json!({})).await;
    let text = "Protein IDs\tGene names\tLFQ intensity H1\tLFQ intensity H2\nP1\tG1\t5\n";
    assert_eq!(call(&app, "PUT", &upload_url, text.as_bytes().to_vec()).await.0, StatusCode::OK);
    let (done, _) = wait(&app, &job_id).await;
    assert_eq!((done["status"].as_str(), done["errorType"].as_str()), (Some("FAILED"), Some("InvalidInput")), "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(error.starts_with("broken.txt, line 2: expected 4 fields like the header, found 3"), "{error}");
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
        svc.store.put(&format!("jobs/{id}/input/proteinGroups.txt"), data.clone(), "").await.unwrap();
        queued = id;

        // Ingested and through QC, then the server stopped.
        let (id, _) = submit(&app, "proteinGroups.txt", json!({"qc": {"seed": 7}})).await;
        svc.store.put(&format!("jobs/{id}/input/proteinGroups.txt"), data.clone(), "").await.unwrap();
        let item = svc.jobs.get(&id).await.unwrap().unwrap();
        ingest_job(&*svc.store, &*svc.jobs, &NoWorkflow, item.clone()).await.unwrap();
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
    assert_eq!(calls, [Qc, De, De, Pathway]);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_runs_beyond_the_cap_wait_their_turn() {
    for workers in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let most = Arc::new(AtomicUsize::new(0));
        let svc = service(dir.path(), workers, |_| Sleepy { running: AtomicUsize::new(0), most: Arc::clone(&most) });
        let mut handles = Vec::new();
        for i in 0..5 {
            let id = format!("job-{i}");
            let record = JobRecord::queued(&id, "api", &format!("jobs/{id}/input/x.txt"), "d", json!({}), i);
            svc.jobs.create(&record).await.unwrap();
            svc.jobs.progress(&id, "ingest", 10, "ingested", i).await.unwrap();
            let spec = proteo_pipeline::execution::job_spec(&record).unwrap();
            handles.push(svc.workflow.resume(spec, Stage::Qc).unwrap());
        }
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), workers, "cap {workers}");
        let listing = svc.jobs.list(10).await.unwrap();
        assert_eq!(listing.counts["SUCCEEDED"], 5, "{:?}", listing.counts);
    }
}
