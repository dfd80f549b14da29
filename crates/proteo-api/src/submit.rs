//! `POST /jobs`: validate the request (a JSON body, the file names, `params` by the rules ingest applies too),
//! store the design, create the QUEUED item, hand out presigned upload URLs (the data file, and the job's own
//! gene sets when it brings them).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use proteo_jobs::params::{self, GeneSetsRef, Origin};
use proteo_jobs::{keys, JobRecord, JobStore, ObjectStore, Presigner};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{ApiError, ApiState, Caller, MAX_BODY_BYTES, MAX_DESIGN_BYTES, MAX_PARAMS_BYTES};
use proteo_jobs::limits::MAX_UPLOAD_BYTES;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SubmitRequest {
    file_name: String,
    design: String,
    /// Bytes of the data file: signed into the upload URL, so the store takes no other size.
    #[serde(default)]
    file_size: Option<u64>,
    #[serde(default)]
    params: Option<Value>,
    /// A GMT file the job brings: it gets its own upload URL, and `params.pathway.gene_sets` names it.
    #[serde(default)]
    gene_sets_file_name: Option<String>,
    #[serde(default)]
    gene_sets_file_size: Option<u64>,
}

/// A request that passed validation.
#[derive(Debug, PartialEq)]
struct Submission {
    file_name: String,
    file_size: u64,
    design: String,
    params: Value,
    /// Name and size of the job's own gene-set file.
    gene_sets: Option<(String, u64)>,
}

/// `application/json` (with any parameters): a browser sends a cross-site POST without a preflight only as
/// `text/plain`, form or multipart, so requiring JSON keeps other sites from creating jobs.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

pub(crate) async fn submit<S: ObjectStore + Presigner, J: JobStore>(
    State(state): State<ApiState<S, J>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType(
            "`POST /jobs` takes a JSON body: send it with `Content-Type: application/json`".into(),
        ));
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(format!(
            "the request body is larger than {} MiB; the design may be at most 1 MiB",
            MAX_BODY_BYTES >> 20
        )),
        _ => ApiError::BadRequest(format!("the request body could not be read: {}", rejection.body_text())),
    })?;
    let submission = parse(&body)?;

    let job_id = uuid::Uuid::new_v4().to_string();
    let upload_key = keys::upload_key(&job_id, &submission.file_name);
    let design_key = keys::design_key(&job_id);
    // Sign first: nothing is written for a request that cannot be given an upload URL.
    let upload_url = state.store.presign_put(&upload_key, state.upload_ttl_seconds, submission.file_size).await?;
    let gene_sets_upload_url = match &submission.gene_sets {
        Some((name, size)) => {
            Some(state.store.presign_put(&keys::upload_key(&job_id, name), state.upload_ttl_seconds, *size).await?)
        }
        None => None,
    };
    state.store.put(&design_key, submission.design.into_bytes(), "text/plain; charset=utf-8").await?;
    let record = JobRecord::queued(&job_id, "api", &upload_key, &design_key, submission.params, (state.clock)())
        .owned_by(&caller.owner);
    if !state.jobs.create(&record).await? {
        return Err(ApiError::Internal(format!("job id `{job_id}` already exists: the random id collided")));
    }
    tracing::info!(job_id = %job_id, file_name = %submission.file_name, "job submitted");

    let status_url = format!("/jobs/{job_id}");
    let mut body = json!({
        "jobId": job_id,
        "uploadUrl": upload_url,
        "uploadMethod": "PUT",
        "maxUploadBytes": proteo_jobs::limits::MAX_UPLOAD_BYTES,
        "expiresInSeconds": state.upload_ttl_seconds,
        "statusUrl": status_url,
    });
    if let Some(url) = gene_sets_upload_url {
        body["geneSetsUploadUrl"] = json!(url);
    }
    Ok((StatusCode::CREATED, [(header::LOCATION, status_url)], Json(body)).into_response())
}

/// A declared upload size: present, and within [`MAX_UPLOAD_BYTES`] (413 otherwise, before anything is stored).
fn check_size(field: &str, size: Option<u64>) -> Result<u64, ApiError> {
    let Some(size) = size else {
        return Err(ApiError::BadRequest(format!(
            "`{field}` is missing: give the size in bytes of the file you will upload (it is signed into the upload URL)"
        )));
    };
    if size > MAX_UPLOAD_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "`{field}` is {size} bytes; proteo accepts uploads of at most {MAX_UPLOAD_BYTES} bytes ({} MiB): split the \
             samples into several jobs, or remove columns the analysis does not use",
            MAX_UPLOAD_BYTES >> 20
        )));
    }
    Ok(size)
}

/// Parse and validate the body: a 400 with the sentence, or a 413 for a declared size over the limit.
fn parse(body: &[u8]) -> Result<Submission, ApiError> {
    let request = parse_fields(body).map_err(ApiError::BadRequest)?;
    let file_size = check_size("fileSize", request.file_size)?;
    let gene_sets = match &request.gene_sets_file_name {
        Some(name) => Some((name.clone(), check_size("geneSetsFileSize", request.gene_sets_file_size)?)),
        None => None,
    };
    Ok(Submission {
        file_name: request.file_name,
        file_size,
        design: request.design,
        params: request.params.unwrap_or_else(|| json!({})),
        gene_sets,
    })
}

/// Everything but the sizes: the request, with its `params` checked (and naming uploaded gene sets).
fn parse_fields(body: &[u8]) -> Result<SubmitRequest, String> {
    let mut request: SubmitRequest =
        serde_json::from_slice(body).map_err(|e| format!("the request body is not a valid job request: {e}"))?;
    check_file_name(&request.file_name)?;
    check_design(&request.design)?;
    let mut params = check_params(request.params)?;
    if let Some(name) = &request.gene_sets_file_name {
        check_file_name(name).map_err(|m| m.replacen("`fileName`", "`geneSetsFileName`", 1))?;
        if *name == request.file_name {
            return Err("`geneSetsFileName` must differ from `fileName`".into());
        }
        let named = params["pathway"]["gene_sets"].as_str().unwrap_or_default();
        let reference = format!("{}{name}", params::UPLOAD_PREFIX);
        if !(named.is_empty() || named == reference) {
            return Err(format!(
                "`params.pathway.gene_sets` names `{named}` but `geneSetsFileName` brings `{name}`; give one of them"
            ));
        }
        if !params["pathway"].is_object() {
            params["pathway"] = json!({});
        }
        params["pathway"]["gene_sets"] = json!(reference);
    }
    if let GeneSetsRef::Upload(name) = GeneSetsRef::parse(params["pathway"]["gene_sets"].as_str().unwrap_or_default()) {
        if request.gene_sets_file_name.as_deref() != Some(name) {
            return Err(format!(
                "`params.pathway.gene_sets` names the upload `{name}`; send `\"geneSetsFileName\": \"{name}\"` to get its \
                 upload URL"
            ));
        }
    }
    params::check(&params, Origin::Job).map_err(|e| e.to_string())?;
    request.params = Some(params);
    Ok(request)
}

/// A bare file name: it becomes the last segment of `uploads/api/<id>/<fileName>`. The rules are the ones ingest
/// classifies keys by (`proteo_jobs::keys::file_name_problem`), so an accepted name is always ingested.
fn check_file_name(name: &str) -> Result<(), String> {
    if let Some(problem) = keys::file_name_problem(name) {
        return Err(format!("`fileName`: {problem}"));
    }
    if name.ends_with(".partial") {
        return Err(format!("`fileName` `{name}` must not end with `.partial` (the name of half-written files)"));
    }
    Ok(())
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

/// `params` is optional (`{}` when absent or null) and must be an object of at most [`MAX_PARAMS_BYTES`]; its
/// fields are checked by [`params::check`] (in [`parse`]), the same rules ingest applies again.
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

    /// The request body, with a `fileSize` unless the test gives one.
    fn body(mut v: Value) -> Vec<u8> {
        if v.get("fileSize").is_none() {
            v["fileSize"] = json!(1000);
        }
        if v.get("geneSetsFileName").is_some() && v.get("geneSetsFileSize").is_none() {
            v["geneSetsFileSize"] = json!(100);
        }
        serde_json::to_vec(&v).unwrap()
    }

    fn parse_str(body: &[u8]) -> Result<Submission, String> {
        parse(body).map_err(|e| e.to_string())
    }

    #[test]
    fn the_upload_size_is_required_and_bounded() {
        let missing = parse(br#"{"fileName": "x.txt", "design": "d"}"#).unwrap_err();
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
        assert!(missing.to_string().starts_with("`fileSize` is missing"), "{missing}");
        let big = parse(&body(json!({"fileName": "x.txt", "design": "d", "fileSize": 3u64 << 30}))).unwrap_err();
        assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(big.to_string().contains("split the samples"), "{big}");
        let s = parse_str(&body(json!({"fileName": "x.txt", "design": "d", "fileSize": MAX_UPLOAD_BYTES}))).unwrap();
        assert_eq!(s.file_size, MAX_UPLOAD_BYTES);
        let sets = json!({"fileName": "x.txt", "fileSize": 1, "design": "d", "geneSetsFileName": "a.gmt",
                          "geneSetsFileSize": 1u64 << 40});
        assert_eq!(parse(&serde_json::to_vec(&sets).unwrap()).unwrap_err().status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn a_minimal_request_gets_empty_params() {
        let s =
            parse_str(&body(json!({"fileName": "proteinGroups.txt", "design": "label\tcondition\nA_1\tA\n"}))).unwrap();
        assert_eq!(s.file_name, "proteinGroups.txt");
        assert_eq!(s.params, json!({}));
        let s = parse_str(&body(json!({"fileName": "x.tsv", "design": "d", "params": null}))).unwrap();
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
    fn bad_params_are_refused_at_the_door_naming_the_field() {
        let refused = |params: Value| {
            parse_str(&body(json!({"fileName": "x.txt", "design": "d", "params": params}))).expect_err("accepted")
        };
        assert!(refused(json!({"pathway": {"alpha": 2}})).starts_with("`params.pathway.alpha` must be between 0 and 1"));
        assert!(refused(json!({"de": {"contrasts": ""}})).starts_with("`params.de.contrasts` is empty"));
        assert!(refused(json!({"qc": {"seed": "x"}})).starts_with("`params.qc.seed` must be a whole number"));
        assert!(refused(json!({"qc": {"sed": 1}})).starts_with("`params.qc.sed` is not a parameter"));
        let other = "jobs/0b1e7c2a-5f8e-4b7a-9a51-2e0f3c4d5e6f/input/proteinGroups.txt";
        assert!(refused(json!({"pathway": {"gene_sets": other}})).starts_with("`params.pathway.gene_sets` must be"));
        assert!(refused(json!({"pathway": {"gene_sets": "upload:sets.gmt"}})).contains("geneSetsFileName"));
    }

    #[test]
    fn gene_sets_brought_by_the_job_are_named_as_its_own_upload() {
        let s = parse_str(&body(json!({"fileName": "x.txt", "design": "d", "geneSetsFileName": "c2.gmt"}))).unwrap();
        assert_eq!(s.params["pathway"]["gene_sets"], "upload:c2.gmt");
        assert_eq!(s.gene_sets, Some(("c2.gmt".to_string(), 100)));
        for bad in ["../x.gmt", "x.txt", "a/b.gmt", "%2e%2e"] {
            assert!(
                parse_str(&body(json!({"fileName": "x.txt", "design": "d", "geneSetsFileName": bad}))).is_err(),
                "{bad}"
            );
        }
        let both = json!({"fileName": "x.txt", "design": "d", "geneSetsFileName": "a.gmt",
                          "params": {"pathway": {"gene_sets": "builtin:go_bp_human_uniprot"}}});
        assert!(parse_str(&body(both)).unwrap_err().contains("give one of them"));
    }

    #[test]
    fn only_a_json_body_creates_a_job() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        for (ct, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("text/plain", false),
            ("text/plain; a=application/json", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            assert_eq!(is_json(&h), ok, "{ct}");
        }
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_the_field() {
        let e = parse_str(&body(json!({"fileName": "x", "design": "d", "param": {}}))).unwrap_err();
        assert!(e.contains("unknown field `param`"), "{e}");
        let e = parse_str(&body(json!({"fileName": 3, "design": "d"}))).unwrap_err();
        assert!(e.contains("invalid type: integer `3`, expected a string"), "{e}");
        let e = parse_str(&body(json!({"fileName": "x", "design": "d", "params": [1]}))).unwrap_err();
        assert_eq!(e, "`params` must be a JSON object, not an array");
    }
}
