//! `GET /jobs/{id}` (the ≤ 2 KB poll response), `GET /jobs/{id}/files/{*path}` (redirect to a presigned GET) and
//! `GET /jobs` (counts and recent jobs).

use std::collections::BTreeMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use proteo_jobs::{keys, JobRecord, JobStatus, JobStore, ObjectStore, Presigner, REPORT_WARNING_PREFIX};
use serde::Serialize;
use serde_json::{json, Value};

use crate::{ApiError, ApiState, Caller, DOWNLOAD_TTL_SECONDS, ERROR_TEXT_CHARS, POLL_MAX_BYTES, RECENT_JOBS};

/// The poll response. `results` maps each result file (relative to `jobs/<id>/`) to its download route; it is
/// empty until the job has SUCCEEDED.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct JobView {
    job_id: String,
    status: JobStatus,
    stage: String,
    progress: u8,
    message: String,
    created_at: u64,
    updated_at: u64,
    summary: Value,
    error_type: Option<String>,
    error: Option<String>,
    /// Only on a job that succeeded without its report: `report could not be rendered: <why>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
    results: BTreeMap<String, String>,
}

/// The caller's job, or 404 — for an unknown id and for another owner's job alike, so ids of others' jobs cannot be
/// told from ids that do not exist. An id that cannot be a job id is refused before any storage is touched.
pub(crate) async fn find_job<J: JobStore>(jobs: &J, caller: &Caller, id: &str) -> Result<JobRecord, ApiError> {
    if !keys::valid_job_id(id) {
        return Err(ApiError::no_job(id));
    }
    match jobs.get(id).await? {
        Some(record) if record.owner == caller.owner => Ok(record),
        _ => Err(ApiError::no_job(id)),
    }
}

/// A path that does not decode is no job of ours.
pub(crate) fn job_id_from(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id).map_err(|_| ApiError::NotFound("no such job".into()))
}

pub(crate) async fn poll<S: ObjectStore + Presigner, J: JobStore>(
    State(state): State<ApiState<S, J>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = job_id_from(path)?;
    let record = find_job(state.jobs.as_ref(), &caller, &id).await?;
    let body = poll_body(&record);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The serialized poll response, at most [`POLL_MAX_BYTES`] whatever the item holds. Links to single result files
/// give way first (the listing is in `summary.json`; `summary.json` and `report.html` stay), so the counts a user
/// polls for stay in the response; only a summary too large even beside those two links is replaced by a note of
/// its size (all links back); when they still do not fit, links are left out again, then the texts are cut short.
fn poll_body(record: &JobRecord) -> Vec<u8> {
    let mut view = view_of(record);
    let links = view.results.clone();
    let mut body = fit_links(&mut view);
    if body.len() > POLL_MAX_BYTES {
        let summary_bytes = to_json(&view.summary).len();
        view.summary =
            json!({ "omitted": "too large for the poll response; see summary.json", "bytes": summary_bytes });
        view.results = links;
        body = fit_links(&mut view);
    }
    if body.len() > POLL_MAX_BYTES {
        view.results.clear();
        // Without control characters (escaped as 6 bytes each) a character costs at most 4 bytes: these caps
        // keep the whole response under the bound whatever the item holds.
        view.message = plain(&view.message, 120);
        view.error = view.error.as_deref().map(|e| plain(e, 120));
        view.warning = view.warning.as_deref().map(|w| plain(w, 120));
        view.error_type = view.error_type.as_deref().map(|e| plain(e, 64));
        view.stage = plain(&view.stage, 32);
        body = to_json(&view);
    }
    body
}

/// Links kept in every poll response that fits at all: the job's summary and its report.
const KEPT_LINKS: [&str; 2] = ["summary.json", "report.html"];

/// The view serialized with result links left out, last first, until it fits [`POLL_MAX_BYTES`] or only
/// [`KEPT_LINKS`] remain.
fn fit_links(view: &mut JobView) -> Vec<u8> {
    let mut body = to_json(view);
    let mut droppable: Vec<String> =
        view.results.keys().filter(|k| !KEPT_LINKS.contains(&k.as_str())).cloned().collect();
    while body.len() > POLL_MAX_BYTES {
        match droppable.pop() {
            Some(k) => view.results.remove(&k),
            None => break,
        };
        body = to_json(view);
    }
    body
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("JSON values serialize")
}

fn view_of(r: &JobRecord) -> JobView {
    let results =
        if r.status == JobStatus::Succeeded { result_links(&r.job_id, &r.result_keys) } else { BTreeMap::new() };
    JobView {
        job_id: r.job_id.clone(),
        status: r.status,
        stage: r.stage.clone(),
        progress: r.progress,
        message: cut(&error_text(&r.message), ERROR_TEXT_CHARS),
        created_at: r.created_at,
        updated_at: r.updated_at,
        summary: r.summary.clone(),
        error_type: r.error_type.clone(),
        error: r.error.as_deref().map(|e| cut(&error_text(e), ERROR_TEXT_CHARS)),
        warning: r.warning.as_deref().map(|w| cut(&warning_text(w), ERROR_TEXT_CHARS)),
        results,
    }
}

/// `{"qc/matrix.parquet": "/jobs/<id>/files/qc/matrix.parquet", …}` for the result keys under the job's prefix.
/// The ranked JSON-lines views (`…/ranked/…`) are left out: `GET /jobs/{id}/results` pages through them, and a
/// 9-group job has dozens of them.
fn result_links(job_id: &str, result_keys: &[String]) -> BTreeMap<String, String> {
    let prefix = keys::job_prefix(job_id);
    result_keys
        .iter()
        .filter_map(|k| k.strip_prefix(&prefix))
        .filter(|rel| !rel.is_empty() && !rel.split('/').any(|segment| segment == "ranked"))
        .map(|rel| (rel.to_string(), format!("/jobs/{job_id}/files/{rel}")))
        .collect()
}

/// The `errorMessage` of a Step Functions `Cause` (`{"errorType": …, "errorMessage": …}`), else the text itself.
fn error_text(stored: &str) -> String {
    match serde_json::from_str::<Value>(stored) {
        Ok(Value::Object(cause)) => match cause.get("errorMessage") {
            Some(Value::String(message)) => message.clone(),
            _ => stored.to_string(),
        },
        _ => stored.to_string(),
    }
}

/// A stored warning with the `Cause` after [`REPORT_WARNING_PREFIX`] shown as its `errorMessage`.
fn warning_text(stored: &str) -> String {
    match stored.strip_prefix(REPORT_WARNING_PREFIX) {
        Some(cause) => format!("{REPORT_WARNING_PREFIX}{}", error_text(cause)),
        None => stored.to_string(),
    }
}

/// At most `max` characters, the last one `…` when something was cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// [`cut`] after replacing control characters with spaces.
fn plain(text: &str, max: usize) -> String {
    cut(&text.replace(|c: char| c.is_control(), " "), max)
}

/// A redirect to the presigned URL, or, when the caller asks for JSON (`Accept: application/json`),
/// `{"url", "expiresInSeconds"}`: a page that sends its token in a header cannot follow a link to this route, so it
/// asks for the URL and opens that.
pub(crate) async fn file<S: ObjectStore + Presigner, J: JobStore>(
    State(state): State<ApiState<S, J>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((id, relative)) = path.map_err(|_| ApiError::NotFound("no such job file".into()))?;
    let record = find_job(state.jobs.as_ref(), &caller, &id).await?;
    if record.status != JobStatus::Succeeded {
        return Err(ApiError::NotFound(format!("job `{id}` has no results: it is {}", record.status.as_str())));
    }
    let key = format!("{}{relative}", keys::job_prefix(&id));
    if !record.result_keys.contains(&key) {
        return Err(ApiError::NotFound(format!("job `{id}` has no result file `{relative}`")));
    }
    let url = state.store.presign_get(&key, DOWNLOAD_TTL_SECONDS).await?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with("application/json")));
    if wants_json {
        let body = Json(json!({ "url": url, "expiresInSeconds": DOWNLOAD_TTL_SECONDS }));
        return Ok(([(header::CACHE_CONTROL, "no-store")], body).into_response());
    }
    Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, url.as_str()), (header::CACHE_CONTROL, "no-store")])
        .into_response())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RecentJob {
    job_id: String,
    status: JobStatus,
    stage: String,
    progress: u8,
    created_at: u64,
}

/// The caller's jobs only: counts by status and the most recent.
pub(crate) async fn list<S: ObjectStore + Presigner, J: JobStore>(
    State(state): State<ApiState<S, J>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let listing = state.jobs.list(&caller.owner, RECENT_JOBS).await?;
    let recent: Vec<RecentJob> = listing
        .recent
        .into_iter()
        .map(|r| RecentJob {
            job_id: r.job_id,
            status: r.status,
            stage: r.stage,
            progress: r.progress,
            created_at: r.created_at,
        })
        .collect();
    Ok(Json(json!({ "counts": listing.counts, "recent": recent })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_message_of_a_lambda_cause_is_shown() {
        let cause =
            r#"{"errorType":"InvalidInput","errorMessage":"column `LFQ intensity H3` is not numeric at row 118"}"#;
        assert_eq!(error_text(cause), "column `LFQ intensity H3` is not numeric at row 118");
        assert_eq!(error_text("plain words"), "plain words");
        assert_eq!(error_text(r#"{"errorType":"X"}"#), r#"{"errorType":"X"}"#, "no errorMessage: shown as stored");
        assert_eq!(error_text("[1, 2]"), "[1, 2]");
        let warning =
            r#"report could not be rendered: {"errorType":"Internal","errorMessage":"report.html: bad table"}"#;
        assert_eq!(warning_text(warning), "report could not be rendered: report.html: bad table");
        assert_eq!(warning_text("something else"), "something else");
    }

    #[test]
    fn cutting_counts_characters_and_marks_the_cut() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
        assert_eq!(cut(&"µ".repeat(600), ERROR_TEXT_CHARS).chars().count(), ERROR_TEXT_CHARS);
    }

    #[test]
    fn the_poll_response_stays_within_its_bound_whatever_the_item_holds() {
        let nasty = "\u{1}\"😀".repeat(2000);
        let mut r = JobRecord::queued(&"a".repeat(64), "api", "k", "d", json!({}), 1);
        r.status = JobStatus::Succeeded;
        r.stage = nasty.clone();
        r.message = nasty.clone();
        r.error_type = Some(nasty.clone());
        r.error = Some(nasty.clone());
        r.summary = json!({ "blob": nasty });
        r.result_keys = (0..200).map(|i| format!("jobs/{}/qc/{i}-{}.parquet", r.job_id, "😀".repeat(20))).collect();
        let body = poll_body(&r);
        assert!(body.len() <= POLL_MAX_BYTES, "{} bytes", body.len());
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["jobId"], r.job_id.as_str());
        assert_eq!(v["status"], "SUCCEEDED");
    }

    #[test]
    fn links_are_relative_to_the_job_and_skip_ranked_views_and_foreign_keys() {
        let keys: Vec<String> = [
            "jobs/j1/qc/matrix.parquet",
            "jobs/j1/de/ranked/0.jsonl",
            "jobs/j1/de/ranked/index.json",
            "jobs/j1/summary.json",
            "jobs/j2/qc/matrix.parquet",
            "elsewhere/x",
        ]
        .map(String::from)
        .to_vec();
        let links = result_links("j1", &keys);
        assert_eq!(
            links.into_iter().collect::<Vec<_>>(),
            vec![
                ("qc/matrix.parquet".to_string(), "/jobs/j1/files/qc/matrix.parquet".to_string()),
                ("summary.json".to_string(), "/jobs/j1/files/summary.json".to_string()),
            ]
        );
    }
}
