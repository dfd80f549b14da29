//! The router end to end over in-memory ports: submit, poll, results paging, list, file redirects, errors.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use proteo_api::{router, ApiState, Caller, POLL_MAX_BYTES};
use proteo_jobs::memory::MemoryJobStore;
use proteo_jobs::{
    keys, Finish, JobListing, JobRecord, JobStatus, JobStore, JobStoreError, ObjectStore, Presigner, StoreError,
};
use serde_json::{json, Value};
use tower::ServiceExt;

const NOW: u64 = 1_767_225_600_000;

fn now() -> u64 {
    NOW
}

/// Objects in a map; presigned URLs name the operation, key and lifetime so tests can check them.
#[derive(Default)]
struct FakeStore {
    objects: Mutex<HashMap<String, (Vec<u8>, String)>>,
}

impl FakeStore {
    fn object(&self, key: &str) -> Option<(Vec<u8>, String)> {
        self.objects.lock().unwrap().get(key).cloned()
    }
    fn len(&self) -> usize {
        self.objects.lock().unwrap().len()
    }
    fn insert(&self, key: &str, body: impl Into<Vec<u8>>) {
        self.objects.lock().unwrap().insert(key.to_string(), (body.into(), "application/octet-stream".into()));
    }
}

impl ObjectStore for FakeStore {
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        self.object(key).map(|(b, _)| Bytes::from(b)).ok_or_else(|| StoreError::NotFound { key: key.to_string() })
    }
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.objects.lock().unwrap().insert(key.to_string(), (body, content_type.to_string()));
        Ok(())
    }
}

impl Presigner for FakeStore {
    async fn presign_put(&self, key: &str, ttl_seconds: u64, length: u64) -> Result<String, StoreError> {
        Ok(format!("https://bucket.example/{key}?op=put&expires={ttl_seconds}&length={length}"))
    }
    async fn presign_get(&self, key: &str, ttl_seconds: u64) -> Result<String, StoreError> {
        Ok(format!("https://bucket.example/{key}?op=get&expires={ttl_seconds}"))
    }
}

/// The memory job store, counting the calls that reach it.
#[derive(Default)]
struct CountingJobs {
    inner: MemoryJobStore,
    calls: AtomicUsize,
}

impl CountingJobs {
    fn touch(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl JobStore for CountingJobs {
    async fn create(&self, record: &JobRecord) -> Result<bool, JobStoreError> {
        self.touch();
        self.inner.create(record).await
    }
    async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, JobStoreError> {
        self.touch();
        self.inner.get(job_id).await
    }
    async fn progress(&self, job_id: &str, stage: &str, p: u8, message: &str, now: u64) -> Result<(), JobStoreError> {
        self.inner.progress(job_id, stage, p, message, now).await
    }
    async fn attach_results(&self, id: &str, keys: &[String], summary: &Value, now: u64) -> Result<(), JobStoreError> {
        self.inner.attach_results(id, keys, summary, now).await
    }
    async fn finish(&self, job_id: &str, finish: &Finish, now: u64) -> Result<(), JobStoreError> {
        self.inner.finish(job_id, finish, now).await
    }
    async fn list(&self, owner: &str, limit: usize) -> Result<JobListing, JobStoreError> {
        self.touch();
        self.inner.list(owner, limit).await
    }
}

struct Api {
    store: Arc<FakeStore>,
    jobs: Arc<CountingJobs>,
    router: axum::Router,
}

fn api() -> Api {
    let store = Arc::new(FakeStore::default());
    let jobs = Arc::new(CountingJobs::default());
    let state = ApiState { store: store.clone(), jobs: jobs.clone(), clock: now, upload_ttl_seconds: 900 };
    Api { store, jobs, router: router(state) }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.bytes)))
    }
    fn error(&self) -> String {
        self.json()["error"].as_str().expect("an error sentence").to_string()
    }
}

/// The signed-in caller of every request these tests send unless they say otherwise.
const ALICE: &str = "alice";

impl Api {
    async fn send(&self, method: Method, uri: &str, body: Option<Vec<u8>>) -> Reply {
        self.send_as(Some(ALICE), method, uri, body).await
    }
    /// A request as `caller` would send it through the authenticating shell (`None`: nobody signed in).
    async fn send_as(&self, caller: Option<&str>, method: Method, uri: &str, body: Option<Vec<u8>>) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(owner) = caller {
            req = req.extension(Caller { owner: owner.to_string() });
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply { status, headers, bytes }
    }
    async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None).await
    }
    async fn post(&self, body: &Value) -> Reply {
        self.send(Method::POST, "/jobs", Some(serde_json::to_vec(body).unwrap())).await
    }
    /// Submit a valid job; its id.
    async fn submit(&self) -> String {
        let r = self.post(&json!({"fileSize": 1000, "fileName": "proteinGroups.txt", "design": DESIGN})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.bytes));
        r.json()["jobId"].as_str().unwrap().to_string()
    }
    /// Submit, run and finish a job with the result keys `keys_of(id)` and this summary, as the stages and the
    /// state machine do.
    async fn succeeded(&self, keys_of: fn(&str) -> Vec<String>, summary: Value) -> String {
        let id = self.submit().await;
        let result_keys = keys_of(&id);
        let jobs = &self.jobs.inner;
        jobs.progress(&id, "pathway", 95, "writing results", NOW + 1).await.unwrap();
        jobs.attach_results(&id, &result_keys, &summary, NOW + 2).await.unwrap();
        jobs.finish(&id, &Finish::Succeeded { result_keys, summary }, NOW + 3).await.unwrap();
        id
    }
}

const DESIGN: &str = "label\tcondition\treplicate\nLFQ intensity A_1\tA\t1\nLFQ intensity B_1\tB\t1\n";

#[tokio::test]
async fn submit_stores_the_design_creates_a_queued_item_and_returns_an_upload_url() {
    let api = api();
    let params = json!({"qc": {"seed": 7}, "de": {"method": "limma"}});
    let r =
        api.post(&json!({"fileSize": 1000, "fileName": "proteinGroups.txt", "design": DESIGN, "params": params})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.bytes));
    let body = r.json();
    let id = body["jobId"].as_str().unwrap().to_string();
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    assert_eq!(uuid.get_version_num(), 4);
    assert!(keys::valid_job_id(&id));
    assert_eq!(
        body,
        json!({
            "jobId": id,
            "uploadUrl": format!("https://bucket.example/uploads/api/{id}/proteinGroups.txt?op=put&expires=900&length=1000"),
            "uploadMethod": "PUT",
            "maxUploadBytes": proteo_jobs::limits::MAX_UPLOAD_BYTES,
            "expiresInSeconds": 900,
            "statusUrl": format!("/jobs/{id}"),
        })
    );
    assert_eq!(r.headers[header::LOCATION], format!("/jobs/{id}").as_str());

    let (design, _) = api.store.object(&keys::design_key(&id)).expect("design stored");
    assert_eq!(design, DESIGN.as_bytes());
    assert_eq!(api.store.len(), 1, "only the design is written");

    let item = api.jobs.inner.get(&id).await.unwrap().expect("item created");
    assert_eq!(item.status, JobStatus::Queued);
    assert_eq!(item.source, "api");
    assert_eq!(item.input_key, format!("uploads/api/{id}/proteinGroups.txt"));
    assert_eq!(item.owner, ALICE, "the job belongs to the caller who submitted it");
    assert_eq!(item.design_key, format!("jobs/{id}/input/design.tsv"));
    assert_eq!(item.params, params);
    assert_eq!((item.created_at, item.updated_at), (NOW, NOW));

    let other = api.submit().await;
    assert_ne!(other, id, "every submission gets its own id");
}

#[tokio::test]
async fn bad_submissions_are_refused_with_a_sentence_and_nothing_is_written() {
    let api = api();
    let long_name = "a".repeat(201);
    let big_design = "x".repeat((1 << 20) + 1);
    let big_params = json!({ "pathway": { "note": "p".repeat(8 * 1024) } });
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"fileName\": \"x.txt\", \"design\": ".to_vec(), "EOF while parsing"),
        (b"not json".to_vec(), "expected ident at line 1 column 2"),
        (br#"{"design": "d"}"#.to_vec(), "missing field `fileName`"),
        (br#"{"fileName": "x.txt"}"#.to_vec(), "missing field `design`"),
        (br#"{"fileName": "x.txt", "design": "d"}"#.to_vec(), "`fileSize` is missing"),
        (br#""just text""#.to_vec(), "invalid type: string \"just text\", expected struct SubmitRequest"),
        (body(json!({"fileSize": 1000, "fileName": "", "design": DESIGN})), "`fileName`: the file name is empty"),
        (
            body(json!({"fileSize": 1000, "fileName": long_name, "design": DESIGN})),
            "`fileName`: the file name has 201 characters",
        ),
        (body(json!({"fileSize": 1000, "fileName": "../x.txt", "design": DESIGN})), "without `/`"),
        (body(json!({"fileSize": 1000, "fileName": "a\\b.txt", "design": DESIGN})), "without `/`"),
        (body(json!({"fileSize": 1000, "fileName": "..", "design": DESIGN})), "must not contain `..`"),
        (body(json!({"fileSize": 1000, "fileName": "a\nb.txt", "design": DESIGN})), "control character"),
        (body(json!({"fileSize": 1000, "fileName": ".DS_Store", "design": DESIGN})), "hidden files"),
        (body(json!({"fileSize": 1000, "fileName": "x.partial", "design": DESIGN})), "`.partial`"),
        (body(json!({"fileSize": 1000, "fileName": "x.txt", "design": " \n\t"})), "`design` is empty"),
        (body(json!({"fileSize": 1000, "fileName": "x.txt", "design": big_design})), "`design` is 1048577 bytes"),
        (
            body(json!({"fileSize": 1000, "fileName": "x.txt", "design": DESIGN, "params": [1]})),
            "must be a JSON object, not an array",
        ),
        (body(json!({"fileSize": 1000, "fileName": "x.txt", "design": DESIGN, "params": "{}"})), "not a string"),
        (
            body(json!({"fileSize": 1000, "fileName": "x.txt", "design": DESIGN, "params": big_params})),
            "at most 8192 are accepted",
        ),
    ];
    for (request, expected) in cases {
        let r = api.send(Method::POST, "/jobs", Some(request.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&request[..request.len().min(80)]));
        let e = r.error();
        assert!(e.contains(expected), "`{e}` lacks `{expected}`");
    }
    assert_eq!(api.store.len(), 0);
    assert_eq!(api.jobs.inner.list(ALICE, 10).await.unwrap().recent.len(), 0);

    let at_limits = json!({
        "fileName": "é".repeat(200),
        "fileSize": proteo_jobs::limits::MAX_UPLOAD_BYTES,
        "design": "x".repeat(1 << 20),
        "params": { "de": { "contrasts": "B-A,".repeat(1024) } },
    });
    assert_eq!(api.post(&at_limits).await.status, StatusCode::CREATED, "the limits themselves are accepted");

    let huge =
        serde_json::to_vec(&json!({"fileSize": 1000, "fileName": "x.txt", "design": "x".repeat(4 << 20)})).unwrap();
    let r = api.send(Method::POST, "/jobs", Some(huge)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.error().contains("larger than 3 MiB"), "{}", r.error());
}

fn body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

/// The result keys of a finished 9-group job (36 contrasts): Parquet tables, summaries and the ranked views.
fn nine_group_result_keys(id: &str) -> Vec<String> {
    let mut rel: Vec<String> = [
        "ingest/table.parquet",
        "ingest/design.parquet",
        "qc/matrix.parquet",
        "qc/samples.parquet",
        "qc/pca.parquet",
        "de/results.parquet",
        "de/ftest.parquet",
        "pathway/enrichment.parquet",
        "summary.json",
    ]
    .map(String::from)
    .to_vec();
    for i in 0..36 {
        rel.push(format!("de/ranked/{i}.jsonl"));
    }
    rel.push("de/ranked/index.json".into());
    for i in 0..72 {
        rel.push(format!("pathway/ranked/{i}.jsonl"));
    }
    rel.push("pathway/ranked/index.json".into());
    rel.into_iter().map(|r| format!("jobs/{id}/{r}")).collect()
}

/// The 36 pairwise contrasts of 9 groups named like a time course (`h48-h0`).
fn nine_group_contrasts() -> Vec<String> {
    let groups = ["h0", "h2", "h4", "h8", "h12", "h24", "h48", "h72", "h96"];
    let mut out = Vec::new();
    for (i, a) in groups.iter().enumerate() {
        for b in &groups[i + 1..] {
            out.push(format!("{b}-{a}"));
        }
    }
    out
}

/// A summary as the pathway function attaches it: counts per stage and significant proteins per contrast.
fn nine_group_summary() -> Value {
    let significant: serde_json::Map<String, Value> =
        nine_group_contrasts().into_iter().enumerate().map(|(i, c)| (c, json!(40 + 17 * i))).collect();
    json!({
        "proteins": 5000,
        "proteinsKept": 4873,
        "samples": 36,
        "groups": 9,
        "model": "limma",
        "fTestSignificant": 1288,
        "significant": significant,
        "enrichedTerms": 214,
    })
}

#[tokio::test]
async fn poll_shows_queued_running_succeeded_and_failed_jobs_within_2_kb() {
    let api = api();
    let id = api.submit().await;
    let r = api.get(&format!("/jobs/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        r.json(),
        json!({
            "jobId": id, "status": "QUEUED", "stage": "ingest", "progress": 0,
            "message": "waiting for the input file", "createdAt": NOW, "updatedAt": NOW,
            "summary": null, "errorType": null, "error": null, "results": {},
        })
    );

    api.jobs.inner.progress(&id, "de", 55, "fitting 36 contrasts", NOW + 5).await.unwrap();
    let v = api.get(&format!("/jobs/{id}")).await.json();
    assert_eq!(
        (v["status"].as_str(), v["stage"].as_str(), v["progress"].as_u64()),
        (Some("RUNNING"), Some("de"), Some(55))
    );
    assert_eq!(v["results"], json!({}), "no links before the job has succeeded");

    let summary = nine_group_summary();
    let done = api.succeeded(nine_group_result_keys, summary.clone()).await;
    let r = api.get(&format!("/jobs/{done}")).await;
    assert_eq!(r.status, StatusCode::OK);
    println!("poll response of a finished 9-group job: {} bytes", r.bytes.len());
    assert!(r.bytes.len() <= POLL_MAX_BYTES, "{} bytes", r.bytes.len());
    let v = r.json();
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["progress"], 100);
    assert_eq!(v["summary"], summary, "a small summary is passed through unchanged");
    let links = v["results"].as_object().unwrap();
    assert_eq!(links.len(), 9, "Parquet tables and summary.json; the ranked views are paged by /results");
    assert_eq!(links["qc/matrix.parquet"], format!("/jobs/{done}/files/qc/matrix.parquet"));
    assert_eq!(links["summary.json"], format!("/jobs/{done}/files/summary.json"));
    assert!(links.keys().all(|k| !k.contains("ranked")));
}

#[tokio::test]
async fn an_oversized_summary_is_replaced_by_its_size_and_the_links_stay() {
    let api = api();
    let id = api.submit().await;
    let keys = nine_group_result_keys(&id);
    // The DE stage's own summary shape: one object per contrast. Too large for the poll response.
    let per_contrast: Vec<Value> = nine_group_contrasts()
        .into_iter()
        .map(|c| json!({"contrast": c, "significant": 412, "up": 198, "down": 214}))
        .collect();
    let summary = json!({ "model": "limma", "proteins_tested": 4873, "contrasts": per_contrast });
    let summary_bytes = serde_json::to_vec(&summary).unwrap().len();
    assert!(summary_bytes > POLL_MAX_BYTES);
    api.jobs.inner.finish(&id, &Finish::Succeeded { result_keys: keys, summary }, NOW + 3).await.unwrap();
    let r = api.get(&format!("/jobs/{id}")).await;
    assert!(r.bytes.len() <= POLL_MAX_BYTES, "{} bytes", r.bytes.len());
    let v = r.json();
    assert_eq!(v["summary"]["bytes"], summary_bytes);
    assert_eq!(v["results"].as_object().unwrap().len(), 9);
}

#[tokio::test]
async fn a_failed_job_shows_the_lambda_error_message_cut_to_500_characters() {
    let api = api();
    let id = api.submit().await;
    let cause = json!({
        "errorType": "InvalidInput",
        "errorMessage": "column `LFQ intensity H3` is not numeric at row 118: found `n/a`",
    })
    .to_string();
    let failed = Finish::Failed { error_type: "InvalidInput".into(), message: cause };
    api.jobs.inner.finish(&id, &failed, NOW + 9).await.unwrap();
    let v = api.get(&format!("/jobs/{id}")).await.json();
    assert_eq!(v["status"], "FAILED");
    assert_eq!(v["errorType"], "InvalidInput");
    assert_eq!(v["error"], "column `LFQ intensity H3` is not numeric at row 118: found `n/a`");
    assert_eq!(v["message"], v["error"]);
    assert_eq!(v["results"], json!({}));

    let id = api.submit().await;
    let long = "the design names sample `X` which is not a column of the table; ".repeat(100);
    let failed = Finish::Failed { error_type: "Internal".into(), message: long.clone() };
    api.jobs.inner.finish(&id, &failed, NOW + 9).await.unwrap();
    let r = api.get(&format!("/jobs/{id}")).await;
    assert!(r.bytes.len() <= POLL_MAX_BYTES, "{} bytes", r.bytes.len());
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert_eq!(error.chars().count(), 500);
    assert!(error.ends_with('…'));
    assert!(long.starts_with(error.trim_end_matches('…')));
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404_and_malformed_ones_never_reach_the_store() {
    let api = api();
    let unknown = "0b1e7c2a-5f8e-4b7a-9a51-2e0f3c4d5e6f";
    for uri in [
        format!("/jobs/{unknown}"),
        format!("/jobs/{unknown}/results"),
        format!("/jobs/{unknown}/files/qc/matrix.parquet"),
    ] {
        let r = api.get(&uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.error(), format!("no job `{unknown}`"), "{uri}");
    }
    let touched = api.jobs.calls.load(Ordering::SeqCst);
    assert_eq!(touched, 3);
    let long = "a".repeat(65);
    for uri in [
        "/jobs/bad$id".to_string(),
        "/jobs/..%2F..%2Fetc".to_string(),
        format!("/jobs/{long}"),
        "/jobs/a.b/results".to_string(),
        "/jobs/a%20b/files/summary.json".to_string(),
    ] {
        let r = api.get(&uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(r.error().starts_with("no job `"), "{uri}: {}", r.error());
    }
    assert_eq!(api.jobs.calls.load(Ordering::SeqCst), touched, "invalid ids were looked up");
    assert_eq!(api.get(&format!("/jobs/{long}")).await.error(), format!("no job `{}…`", "a".repeat(64)));

    let r = api.get("/nothing/here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.error().contains("there is no route `GET /nothing/here`"), "{}", r.error());
    let r = api.send(Method::DELETE, &format!("/jobs/{unknown}"), None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.error().contains("DELETE"), "{}", r.error());
}

/// Write a ranked view with the given rows per contrast, as the DE stage does; the JSON lines written.
fn write_ranked(store: &FakeStore, id: &str, table: &str, contrasts: &[(&str, usize)]) -> Vec<Vec<String>> {
    let mut index = Vec::new();
    let mut all = Vec::new();
    for (i, (name, n)) in contrasts.iter().enumerate() {
        let key = format!("jobs/{id}/{table}/ranked/{i}.jsonl");
        let rows: Vec<String> = (0..*n)
            .map(|r| {
                json!({"proteinId": format!("P{r:05}"), "contrast": name, "adjPValue": r as f64 * 1e-4}).to_string()
            })
            .collect();
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        store.insert(&key, text);
        index.push(json!({"name": name, "key": key, "rows": n}));
        all.push(rows);
    }
    store.insert(&format!("jobs/{id}/{table}/ranked/index.json"), json!({ "contrasts": index }).to_string());
    all
}

#[tokio::test]
async fn results_page_through_a_contrast_with_cursors() {
    let api = api();
    let id = api.succeeded(|_| Vec::new(), json!({})).await;
    let written = write_ranked(&api.store, &id, "de", &[("B-A", 250), ("C-A", 7)]);

    let mut pages = Vec::new();
    let mut offset = 0;
    let mut uri = format!("/jobs/{id}/results?table=de&contrast=B-A&limit=100");
    loop {
        let r = api.get(&uri).await;
        assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.bytes));
        let v = r.json();
        assert_eq!(v["contrast"], "B-A");
        assert_eq!(v["contrasts"], json!(["B-A", "C-A"]));
        assert_eq!(v["total"], 250);
        let n = v["rows"].as_array().unwrap().len();
        pages.push((n, v["nextCursor"].clone()));
        // The rows are the stored lines byte for byte (floats keep their exact digits), in order.
        let expected = format!("\"rows\":[{}]", written[0][offset..offset + n].join(","));
        assert!(
            String::from_utf8_lossy(&r.bytes).contains(&expected),
            "page at {offset} differs from the stored lines"
        );
        offset += n;
        match v["nextCursor"].as_str() {
            Some(c) => uri = format!("/jobs/{id}/results?table=de&contrast=B-A&limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, vec![(100, json!("100")), (100, json!("200")), (50, Value::Null)]);
    assert_eq!(offset, 250, "three pages give back every row once");

    let v = api.get(&format!("/jobs/{id}/results")).await.json();
    assert_eq!(
        (v["contrast"].as_str(), v["rows"].as_array().unwrap().len()),
        (Some("B-A"), 100),
        "defaults: de, first contrast, 100 rows"
    );
    let r = api.get(&format!("/jobs/{id}/results?contrast=C-A&limit=1000")).await;
    assert!(String::from_utf8_lossy(&r.bytes).contains(&format!("\"rows\":[{}]", written[1].join(","))));
    assert_eq!(r.json()["nextCursor"], Value::Null);
    let v = api.get(&format!("/jobs/{id}/results?contrast=B-A&cursor=250")).await.json();
    assert_eq!(
        (v["rows"].as_array().unwrap().len(), v["nextCursor"].clone()),
        (0, Value::Null),
        "the end is an empty page"
    );
}

#[tokio::test]
async fn results_refuse_bad_parameters_and_unfinished_jobs() {
    let api = api();
    let id = api.succeeded(|_| Vec::new(), json!({})).await;
    write_ranked(&api.store, &id, "de", &[("B-A", 20), ("C-A", 5)]);
    for (query, expected) in [
        ("limit=0", "`limit` must be a whole number from 1 to 1000; got `0`"),
        ("limit=1001", "got `1001`"),
        ("limit=ten", "got `ten`"),
        ("cursor=-1", "`cursor` must be a row offset"),
        ("cursor=abc", "got `abc`"),
        ("cursor=21", "`cursor` 21 is past the last row: contrast `B-A` has 20 rows"),
        ("contrast=D-A", "has no contrast `D-A` in its `de` table; its contrasts are `B-A`, `C-A`"),
    ] {
        let r = api.get(&format!("/jobs/{id}/results?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(r.error().contains(expected), "{query}: {}", r.error());
    }
    for (query, expected) in [
        ("table=qc", "has no table `qc`; the tables are `de` and `pathway`"),
        ("table=pathway", "has no ranked `pathway` table"),
    ] {
        let r = api.get(&format!("/jobs/{id}/results?{query}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{query}");
        assert!(r.error().contains(expected), "{query}: {}", r.error());
    }
    let running = api.submit().await;
    write_ranked(&api.store, &running, "de", &[("B-A", 20)]);
    api.jobs.inner.progress(&running, "pathway", 90, "enriching", NOW + 1).await.unwrap();
    let r = api.get(&format!("/jobs/{running}/results")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), format!("job `{running}` has no results: it is RUNNING"));
}

#[tokio::test]
async fn list_counts_jobs_by_status_and_shows_the_20_most_recent() {
    let api = api();
    for i in 0..25u64 {
        let id = format!("job-{i:02}");
        let rec = JobRecord::queued(&id, "api", "in", "design", json!({}), NOW + i).owned_by(ALICE);
        api.jobs.inner.create(&rec).await.unwrap();
        let bobs = JobRecord::queued(&format!("bob-{i:02}"), "api", "in", "design", json!({}), NOW + 50 + i);
        api.jobs.inner.create(&bobs.owned_by("bob")).await.unwrap();
        if i % 5 == 1 {
            api.jobs.inner.progress(&id, "qc", 20, "qc", NOW + 100).await.unwrap();
        }
        if i % 5 == 2 {
            let done = Finish::Succeeded { result_keys: vec![], summary: json!({}) };
            api.jobs.inner.finish(&id, &done, NOW + 100).await.unwrap();
        }
        if i % 5 == 3 {
            let failed = Finish::Failed { error_type: "InvalidInput".into(), message: "bad".into() };
            api.jobs.inner.finish(&id, &failed, NOW + 100).await.unwrap();
        }
    }
    let r = api.get("/jobs").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["counts"], json!({"QUEUED": 10, "RUNNING": 5, "SUCCEEDED": 5, "FAILED": 5}));
    let recent = v["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 20);
    assert_eq!(
        recent[0],
        json!({"jobId": "job-24", "status": "QUEUED", "stage": "ingest", "progress": 0, "createdAt": NOW + 24})
    );
    assert_eq!(
        recent[2],
        json!({"jobId": "job-22", "status": "SUCCEEDED", "stage": "ingest", "progress": 100, "createdAt": NOW + 22})
    );
    assert_eq!(recent[3]["status"], "RUNNING");
    assert_eq!(recent[19]["jobId"], "job-05");
}

#[tokio::test]
async fn files_redirect_to_a_presigned_get_only_for_result_keys_of_a_succeeded_job() {
    let api = api();
    let id = api.submit().await;
    let keys = nine_group_result_keys(&id);
    api.jobs.inner.finish(&id, &Finish::Succeeded { result_keys: keys, summary: json!({}) }, NOW + 3).await.unwrap();

    for rel in ["qc/matrix.parquet", "summary.json", "de/ranked/3.jsonl"] {
        let r = api.get(&format!("/jobs/{id}/files/{rel}")).await;
        assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT, "{rel}");
        assert_eq!(
            r.headers[header::LOCATION],
            format!("https://bucket.example/jobs/{id}/{rel}?op=get&expires=900").as_str()
        );
        assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    }
    for rel in ["input/design.tsv", "input/proteinGroups.txt", "qc/../input/design.tsv", "qc", "nothing.parquet"] {
        let r = api.get(&format!("/jobs/{id}/files/{rel}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{rel}");
        assert!(r.error().contains("has no result file"), "{rel}: {}", r.error());
    }

    let req = Request::builder()
        .uri(format!("/jobs/{id}/files/summary.json"))
        .header(header::ACCEPT, "application/json")
        .extension(Caller { owner: ALICE.into() })
        .body(Body::empty())
        .unwrap();
    let res = api.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a page sending its token in a header asks for the URL as JSON");
    let v: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        v,
        json!({"url": format!("https://bucket.example/jobs/{id}/summary.json?op=get&expires=900"),
                         "expiresInSeconds": 900})
    );

    let running = api.submit().await;
    let r = api.get(&format!("/jobs/{running}/files/summary.json")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), format!("job `{running}` has no results: it is QUEUED"));
}

#[tokio::test]
async fn every_route_answers_401_to_a_caller_who_is_not_signed_in() {
    let api = api();
    let id = api.succeeded(nine_group_result_keys, json!({})).await;
    let calls = api.jobs.calls.load(Ordering::SeqCst);
    let body = serde_json::to_vec(&json!({"fileName": "proteinGroups.txt", "design": DESIGN})).unwrap();
    for (method, uri, body) in [
        (Method::POST, "/jobs".to_string(), Some(body.clone())),
        (Method::GET, "/jobs".to_string(), None),
        (Method::GET, format!("/jobs/{id}"), None),
        (Method::GET, format!("/jobs/{id}/results"), None),
        (Method::GET, format!("/jobs/{id}/files/summary.json"), None),
        (Method::GET, "/no/such/route".to_string(), None),
        (Method::DELETE, format!("/jobs/{id}"), None),
    ] {
        for caller in [None, Some(""), Some("a/b")] {
            let r = api.send_as(caller, method.clone(), &uri, body.clone()).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {uri} as {caller:?}");
            assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
            assert!(r.error().contains("sign in"), "{}", r.error());
        }
    }
    assert_eq!(api.jobs.calls.load(Ordering::SeqCst), calls, "no storage is touched for an anonymous request");
    assert_eq!(api.store.len(), 1, "only the first job's design was stored");
}

#[tokio::test]
async fn another_owner_cannot_list_poll_page_or_download_a_job() {
    let api = api();
    let id = api.succeeded(nine_group_result_keys, json!({"proteins": 3})).await;
    write_ranked(&api.store, &id, "de", &[("B-A", 3)]);
    for uri in [format!("/jobs/{id}"), format!("/jobs/{id}/results"), format!("/jobs/{id}/files/summary.json")] {
        let mine = api.get(&uri).await;
        assert!(mine.status.is_success() || mine.status.is_redirection(), "{uri}: {}", mine.status);
        let theirs = api.send_as(Some("bob"), Method::GET, &uri, None).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(theirs.error(), format!("no job `{id}`"), "the same answer as for an id that does not exist");
    }
    let listing = api.send_as(Some("bob"), Method::GET, "/jobs", None).await.json();
    assert_eq!(listing["recent"], json!([]));
    assert_eq!(listing["counts"], json!({"QUEUED": 0, "RUNNING": 0, "SUCCEEDED": 0, "FAILED": 0}));
    assert_eq!(api.get("/jobs").await.json()["recent"][0]["jobId"], id.as_str());
}
