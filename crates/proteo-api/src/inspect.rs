//! `POST /inspect`: the detection `proteo inspect` runs, on the first lines of a file the web page read in the
//! browser, so the page shows the detected format and sample columns before anything is uploaded.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::Json;
use proteo_detect::{detect, list_names, DetectError, DetectOptions, HeaderProblem, HeaderView, InputFormat};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ApiError;

/// Most design sample names a request may send (the page sends the loaded design's samples).
pub const MAX_INSPECT_SAMPLES: usize = proteo_detect::limits::MAX_SAMPLE_COLUMNS;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InspectRequest {
    /// The file's name (a hint for kinds that share a header).
    file_name: String,
    /// The first lines of the file as text (the page reads up to 1 MiB).
    head: String,
    /// Whether `head` is the whole file (else its last, possibly cut, line is ignored).
    #[serde(default)]
    complete: bool,
    #[serde(default)]
    format: Option<InputFormat>,
    #[serde(default)]
    design_samples: Option<Vec<String>>,
}

pub(crate) async fn inspect(body: Result<Bytes, BytesRejection>) -> Result<Json<Value>, ApiError> {
    let body =
        body.map_err(|r| ApiError::BadRequest(format!("the request body could not be read: {}", r.body_text())))?;
    let request: InspectRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the request body is not a valid inspect request: {e}")))?;
    Ok(Json(run(&request)?))
}

fn run(request: &InspectRequest) -> Result<Value, ApiError> {
    let name = proteo_detect::text::excerpt(&request.file_name);
    if request.design_samples.as_ref().is_some_and(|d| d.len() > MAX_INSPECT_SAMPLES) {
        return Err(ApiError::BadRequest(format!(
            "`designSamples` has more than {MAX_INSPECT_SAMPLES} names; one job takes at most that many samples"
        )));
    }
    let view = HeaderView::from_text(request.head.as_bytes(), request.complete).map_err(|p| {
        ApiError::BadRequest(match p {
            HeaderProblem::Blank => format!("{name} is empty: the first line should name the columns"),
            HeaderProblem::HeaderTooLong { bytes } => format!(
                "{name}: the first line is longer than the {bytes} bytes read here; a protein table's first line names \
                 its columns, at most {} bytes", proteo_detect::limits::MAX_HEADER_BYTES
            ),
            HeaderProblem::Unreadable { line, message } => {
                format!(
                    "{name}, line {line}: the file could not be read as delimited text: {}",
                    proteo_detect::text::excerpt(&message)
                )
            }
        })
    })?;
    let options = DetectOptions {
        file_name: &request.file_name,
        format: request.format,
        design_samples: request.design_samples.as_deref(),
    };
    let detection = detect(&view, &options).map_err(|e| {
        ApiError::BadRequest(match e {
            DetectError::FormatMismatch { format, needs } => format!(
                "{name} was to be read as {} (format {}), but its header does not have {needs}",
                format.description(),
                format.as_str()
            ),
            DetectError::TooManySamples { found } => format!(
                "{name} has {found} sample columns, more than the {} one job accepts; split the samples over several jobs",
                proteo_detect::limits::MAX_SAMPLE_COLUMNS
            ),
            DetectError::NoSamples { columns } => format!(
                "{name}: no sample columns found; expected the protein id in the first column and one numeric column \
                 per sample (found {})",
                list_names(&columns)
            ),
        })
    })?;
    // The page names a long report's runs by the quant path's rule: `File.Name` paths lose these extensions.
    Ok(json!({
        "detection": detection,
        "title": detection.title(),
        "looksLike": detection.looks_like(),
        "runExtensions": proteo_detect::DIANN_RUN_EXTENSIONS,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(head: &str) -> InspectRequest {
        InspectRequest {
            file_name: "x.tsv".into(),
            head: head.into(),
            complete: true,
            format: None,
            design_samples: None,
        }
    }

    #[test]
    fn a_header_gets_its_detection_and_a_bad_one_a_sentence() {
        let v = run(&request("Protein IDs\tLFQ intensity A\tLFQ intensity B\nP1\t1\t2\n")).unwrap();
        assert_eq!(v["detection"]["format"], "maxquant");
        assert_eq!(v["detection"]["samples"][1]["sample"], "B");
        let report = "File.Name\tRun\tProtein.Group\tPrecursor.Id\tPrecursor.Quantity\n/d/a.mzML\ta\tP1\tAAK2\t5\n";
        let v = run(&request(report)).unwrap();
        assert_eq!(v["detection"]["action"], "quantify");
        assert_eq!(v["detection"]["long"]["run"]["name"], "Run");
        assert_eq!(v["detection"]["long"]["run_is_path"], false);
        assert_eq!(v["runExtensions"][0], ".dia");
        let e = run(&request(" \n")).unwrap_err().to_string();
        assert_eq!(e, "x.tsv is empty: the first line should name the columns");
        let e = run(&request("id\nP1\n")).unwrap_err().to_string();
        assert!(e.starts_with("x.tsv: no sample columns found"), "{e}");
    }
}
