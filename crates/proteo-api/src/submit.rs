//! `POST /jobs`: validate the request, store the design, create the QUEUED item, hand out a presigned upload URL.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use proteo_jobs::{keys, JobRecord, JobStore, ObjectStore, Presigner};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{ApiError, ApiState, Caller, MAX_BODY_BYTES, MAX_DESIGN_BYTES, MAX_PARAMS_BYTES};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SubmitRequest {
    file_name: String,
    design: String,
    #[serde(default)]
    params: Option<Value>,
}

/// A request that passed validation.
#[derive(Debug, PartialEq)]
struct Submission {
    file_name: String,
    design: String,
    params: Value,
}

pub(crate) async fn submit<S: ObjectStore + Presigner, J: JobStore>(
    State(state): State<ApiState<S, J>>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(format!(
            "the request body is larger than {} MiB; the design may be at most 1 MiB",
            MAX_BODY_BYTES >> 20
        )),
        _ => ApiError::BadRequest(format!("the request body could not be read: {}", rejection.body_text())),
    })?;
    let submission = parse(&body).map_err(ApiError::BadRequest)?;

    let job_id = uuid::Uuid::new_v4().to_string();
    let upload_key = keys::upload_key(&job_id, &submission.file_name);
    let design_key = keys::design_key(&job_id);
    // Sign first: nothing is written for a request that cannot be given an upload URL.
    let upload_url = state.store.presign_put(&upload_key, state.upload_ttl_seconds).await?;
    state.store.put(&design_key, submission.design.into_bytes(), "text/plain; charset=utf-8").await?;
    let record = JobRecord::queued(&job_id, "api", &upload_key, &design_key, submission.params, (state.clock)())
        .owned_by(&caller.owner);
    if !state.jobs.create(&record).await? {
        return Err(ApiError::Internal(format!("job id `{job_id}` already exists: the random id collided")));
    }
    tracing::info!(job_id = %job_id, file_name = %submission.file_name, "job submitted");

    let status_url = format!("/jobs/{job_id}");
    let body = json!({
        "jobId": job_id,
        "uploadUrl": upload_url,
        "uploadMethod": "PUT",
        "expiresInSeconds": state.upload_ttl_seconds,
        "statusUrl": status_url,
    });
    Ok((StatusCode::CREATED, [(header::LOCATION, status_url)], Json(body)).into_response())
}

/// Parse and validate the body; the error is the sentence for the 400.
fn parse(body: &[u8]) -> Result<Submission, String> {
    let request: SubmitRequest =
        serde_json::from_slice(body).map_err(|e| format!("the request body is not a valid job request: {e}"))?;
    check_file_name(&request.file_name)?;
    check_design(&request.design)?;
    let params = check_params(request.params)?;
    Ok(Submission { file_name: request.file_name, design: request.design, params })
}

/// A bare file name: it becomes the last segment of `uploads/api/<id>/<fileName>`. The rules are the ones ingest
/// classifies keys by (`proteo_jobs::keys::file_name_problem`), so an accepted name is always ingested.
fn check_file_name(name: &str) -> Result<(), String> {
    match keys::file_name_problem(name) {
        Some(problem) => Err(format!("`fileName`: {problem}")),
        None => Ok(()),
    }
}

fn check_design(design: &str) -> Result<(), String> {
    if design.trim().is_empty() {
        return Err("`design` is empty; send the sample design table (CSV or TSV text, one row per sample)".into());
    }
    if design.len() > MAX_DESIGN_BYTES {
        return Err(format!("`design` is {} bytes; at most {MAX_DESIGN_BYTES} (1 MiB) are accepted", design.len()));
    }
    Ok(())
}

/// `params` is optional (`{}` when absent or null), must be an object, and is stored as given: the ingest
/// function validates its content.
fn check_params(params: Option<Value>) -> Result<Value, String> {
    let params = match params {
        None | Some(Value::Null) => return Ok(json!({})),
        Some(p @ Value::Object(_)) => p,
        Some(other) => return Err(format!("`params` must be a JSON object, not {}", kind(&other))),
    };
    let size = serde_json::to_vec(&params).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_PARAMS_BYTES {
        return Err(format!("`params` is {size} bytes; at most {MAX_PARAMS_BYTES} are accepted"));
    }
    Ok(params)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn a_minimal_request_gets_empty_params() {
        let s = parse(&body(json!({"fileName": "proteinGroups.txt", "design": "label\tcondition\nA_1\tA\n"}))).unwrap();
        assert_eq!(s.file_name, "proteinGroups.txt");
        assert_eq!(s.params, json!({}));
        let s = parse(&body(json!({"fileName": "x.tsv", "design": "d", "params": null}))).unwrap();
        assert_eq!(s.params, json!({}));
    }

    #[test]
    fn file_names_that_could_leave_the_input_folder_are_refused() {
        for bad in ["", "a/b", "a\\b", "..", "x..y", ".", ".hidden", "tab\tname", "nul\0"] {
            assert!(check_file_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_file_name(&"é".repeat(keys::MAX_FILE_NAME_CHARS)).is_ok(), "the limit counts characters");
        assert!(check_file_name(&"a".repeat(keys::MAX_FILE_NAME_CHARS + 1)).is_err());
        assert!(check_file_name(".hidden").unwrap_err().starts_with("`fileName`: the file name `.hidden` starts with"));
        for good in ["proteinGroups.txt", "report.pg_matrix.tsv", "my data (2).csv", "design.csv", "design.tsv"] {
            assert!(check_file_name(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_the_field() {
        let e = parse(&body(json!({"fileName": "x", "design": "d", "param": {}}))).unwrap_err();
        assert!(e.contains("unknown field `param`"), "{e}");
        let e = parse(&body(json!({"fileName": 3, "design": "d"}))).unwrap_err();
        assert!(e.contains("invalid type: integer `3`, expected a string"), "{e}");
        let e = parse(&body(json!({"fileName": "x", "design": "d", "params": [1]}))).unwrap_err();
        assert_eq!(e, "`params` must be a JSON object, not an array");
    }
}
