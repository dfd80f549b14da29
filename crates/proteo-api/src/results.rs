//! `GET /jobs/{id}/results?table=de|pathway|gsea|camera&contrast=&limit=&cursor=`: pages of the ranked JSON-lines
//! views that the DE and pathway stages write (an `index.json` names one `.jsonl` object per contrast).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::Json;
use proteo_jobs::{keys, JobStatus, JobStore, ObjectStore, Presigner, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::jobs::{find_job, job_id_from};
use crate::{ApiError, ApiState, Caller, RESULTS_DEFAULT_LIMIT, RESULTS_MAX_LIMIT};

/// The tables with ranked views, by the name the `table` parameter takes, and the folder of their views under the job
/// (`pathway` is the over-representation analysis; GSEA and CAMERA run when the job asks for them).
const TABLES: [(&str, &str); 4] = [
    ("de", "de/ranked"),
    ("pathway", "pathway/ranked"),
    ("gsea", "pathway/ranked/gsea"),
    ("camera", "pathway/ranked/camera"),
];

#[derive(Debug, Deserialize)]
pub(crate) struct ResultsQuery {
    table: Option<String>,
    contrast: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// `<table>/ranked/index.json` as written by the stages.
#[derive(Debug, Deserialize)]
struct RankedIndex {
    contrasts: Vec<RankedEntry>,
}

#[derive(Debug, Deserialize)]
struct RankedEntry {
    name: String,
    key: String,
}

/// One page. Rows are the stored JSON lines, unchanged.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResultsPage {
    rows: Vec<Box<RawValue>>,
    next_cursor: Option<String>,
    contrast: String,
    contrasts: Vec<String>,
    total: usize,
}

pub(crate) async fn results<S: ObjectStore + Presigner, J: JobStore>(
    State(state): State<ApiState<S, J>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ResultsQuery>, QueryRejection>,
) -> Result<Json<ResultsPage>, ApiError> {
    let id = job_id_from(path)?;
    let Query(q) =
        query.map_err(|e| ApiError::BadRequest(format!("the query string is not valid: {}", e.body_text())))?;
    let limit = parse_limit(q.limit.as_deref())?;
    let cursor = parse_cursor(q.cursor.as_deref())?;
    let record = find_job(state.jobs.as_ref(), &caller, &id).await?;
    if record.status != JobStatus::Succeeded {
        return Err(ApiError::NotFound(format!("job `{id}` has no results: it is {}", record.status.as_str())));
    }
    let table = q.table.as_deref().unwrap_or("de");
    let Some(&(_, folder)) = TABLES.iter().find(|(name, _)| *name == table) else {
        return Err(ApiError::NotFound(format!(
            "job `{id}` has no table `{table}`; the tables are `de`, `pathway` (over-representation), `gsea` and `camera`"
        )));
    };

    let prefix = keys::job_prefix(&id);
    let index_key = format!("{prefix}{folder}/index.json");
    let index: RankedIndex = match state.store.get(&index_key).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Internal(format!("`{index_key}` is not a ranked-table index: {e}")))?,
        Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::NotFound(format!("job `{id}` has no ranked `{table}` table")));
        }
        Err(e) => return Err(e.into()),
    };
    let names: Vec<String> = index.contrasts.iter().map(|c| c.name.clone()).collect();
    let entry = match q.contrast.as_deref() {
        None => index
            .contrasts
            .first()
            .ok_or_else(|| ApiError::NotFound(format!("job `{id}` has no contrasts in its `{table}` table")))?,
        Some(name) => index.contrasts.iter().find(|c| c.name == name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "job `{id}` has no contrast `{name}` in its `{table}` table; its contrasts are {}",
                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            ))
        })?,
    };
    if !entry.key.starts_with(&prefix) {
        return Err(ApiError::Internal(format!("`{index_key}` names `{}`, outside job `{id}`", entry.key)));
    }

    let bytes = state.store.get(&entry.key).await?;
    let text = std::str::from_utf8(&bytes).map_err(|e| ApiError::Internal(format!("`{}`: {e}", entry.key)))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let total = lines.len();
    if cursor > total {
        return Err(ApiError::BadRequest(format!(
            "`cursor` {cursor} is past the last row: contrast `{}` has {total} rows",
            entry.name
        )));
    }
    let rows = lines[cursor..]
        .iter()
        .take(limit)
        .map(|line| RawValue::from_string(line.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Internal(format!("`{}` holds a row that is not JSON: {e}", entry.key)))?;
    let end = cursor + rows.len();
    let next_cursor = (end < total).then(|| end.to_string());
    Ok(Json(ResultsPage { rows, next_cursor, contrast: entry.name.clone(), contrasts: names, total }))
}

fn parse_limit(limit: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = limit else { return Ok(RESULTS_DEFAULT_LIMIT) };
    match text.parse::<usize>() {
        Ok(n) if (1..=RESULTS_MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::BadRequest(format!(
            "`limit` must be a whole number from 1 to {RESULTS_MAX_LIMIT}; got `{text}`"
        ))),
    }
}

fn parse_cursor(cursor: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = cursor else { return Ok(0) };
    text.parse::<usize>().map_err(|_| {
        ApiError::BadRequest(format!("`cursor` must be a row offset as returned in `nextCursor`; got `{text}`"))
    })
}
