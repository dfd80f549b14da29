//! The stage runner: each stage reads the previous stage's Parquet from the store, computes, and writes its own.

use bytes::Bytes;
use serde_json::json;

use proteo_core::de::{run_de, DeOutput};
use proteo_core::input::{align_to_design, read_design, read_intensities};
use proteo_core::model::{Design, IntensityTable, SampleInfo};
use proteo_core::pathway::{Enricher, GeneSets};
use proteo_core::qc::{correlation_rule, exclude_samples, pca_method, run_qc, QcResult, OUTLIER_RULE, PCA_COMPONENTS};
use proteo_core::reference::{ReferenceSet, ReferenceSpec};
use proteo_core::tables::{round_mantissa, Table, TableBuilder, TableError, STORED_MANTISSA_BITS};

use crate::contracts::{JobSpec, Stage, StageResult};
use crate::ports::{ObjectStore, StoreError};

const PARQUET: &str = "application/vnd.apache.parquet";
const JSON: &str = "application/json";
const JSON_LINES: &str = "application/x-ndjson";
/// Rows per contrast in the ranked JSON-lines views the API pages through (the full tables are in Parquet).
pub const RANKED_ROWS: usize = 1000;

/// Write `<stage>/ranked/<i>.jsonl` (rows sorted by adjusted p, at most [`RANKED_ROWS`]) and `<stage>/ranked/index.json`.
async fn write_ranked<Row: serde::Serialize>(
    store: &impl ObjectStore,
    job: &JobSpec,
    stage: Stage,
    groups: Vec<(String, Vec<Row>)>,
) -> Result<Vec<String>, StageError> {
    let mut keys = Vec::new();
    let mut index = Vec::new();
    for (i, (name, rows)) in groups.into_iter().enumerate() {
        let key = job.key(stage, &format!("ranked/{i}.jsonl"));
        let mut body = Vec::new();
        for r in &rows {
            serde_json::to_writer(&mut body, r).expect("json");
            body.push(b'\n');
        }
        store.put(&key, body, JSON_LINES).await?;
        index.push(json!({"name": name, "key": key, "rows": rows.len()}));
        keys.push(key);
    }
    let key = job.key(stage, "ranked/index.json");
    store.put(&key, serde_json::to_vec(&json!({ "contrasts": index })).expect("json"), JSON).await?;
    keys.push(key);
    Ok(keys)
}

/// Indices of `0..n` ordered by (adjusted p, p), NaN last, keeping at most `limit`.
fn top_by_p(adj: &[f64], p: &[f64], limit: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..adj.len()).collect();
    let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
    order.sort_by(|&a, &b| key(adj[a]).total_cmp(&key(adj[b])).then(key(p[a]).total_cmp(&key(p[b]))).then(a.cmp(&b)));
    order.truncate(limit);
    order
}

/// How a stage failed, in the vocabulary Step Functions matches on (`errorType`).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum StageError {
    /// The user's data or parameters are wrong: retrying cannot help; the message is for the biologist.
    #[error("{0}")]
    InvalidInput(String),
    /// Storage or network trouble: worth retrying.
    #[error("{0}")]
    Transient(String),
    /// A previous stage's output is missing or unreadable: a bug or an out-of-order run.
    #[error("{0}")]
    Internal(String),
    /// The stage ran past its time limit ([`Stage::time_limit`]): the job is too large for one run. Not retried.
    #[error("{0}")]
    Timeout(String),
}

impl StageError {
    /// The `errorType` a Lambda reports and the state machine's Retry/Catch match.
    pub fn error_type(&self) -> &'static str {
        match self {
            StageError::InvalidInput(_) => "InvalidInput",
            StageError::Transient(_) => "Transient",
            StageError::Internal(_) => "Internal",
            StageError::Timeout(_) => "Timeout",
        }
    }

    /// The sentence of a stage stopped at its time limit.
    pub fn timed_out(stage: Stage, limit: std::time::Duration) -> StageError {
        StageError::Timeout(format!(
            "{} did not finish within {} s, the time limit of a stage; the job is too large for one run: split it by \
             samples or proteins, or name fewer contrasts.",
            stage.title(),
            limit.as_secs()
        ))
    }
}

tokio::task_local! {
    /// When the running stage must stop ([`with_deadline`]); the synchronous computations poll it through
    /// [`proteo_core::deadline`].
    static STAGE_DEADLINE: std::time::Instant;
}

/// Run `stage_future` (a stage, or [`crate::execution::run_job_stage`]) with a deadline its long computations
/// check: past it they stop with a [`StageError::Timeout`] instead of running on.
pub async fn with_deadline<F: std::future::Future>(deadline: std::time::Instant, stage_future: F) -> F::Output {
    STAGE_DEADLINE.scope(deadline, stage_future).await
}

/// Run the synchronous `compute` under the current stage's deadline (none outside [`with_deadline`]).
fn compute<T>(compute: impl FnOnce() -> T) -> T {
    proteo_core::deadline::within(STAGE_DEADLINE.try_with(|d| *d).ok(), compute)
}

fn qc_error(e: proteo_core::qc::QcError) -> StageError {
    match e {
        proteo_core::qc::QcError::TimedOut { .. } => StageError::Timeout(e.to_string()),
        other => StageError::InvalidInput(other.to_string()),
    }
}

fn de_error(e: proteo_core::de::DeError) -> StageError {
    match e {
        proteo_core::de::DeError::TimedOut { .. } => StageError::Timeout(e.to_string()),
        other => StageError::InvalidInput(other.to_string()),
    }
}

impl From<StoreError> for StageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => StageError::Internal(e.to_string()),
            StoreError::Transient { .. } => StageError::Transient(e.to_string()),
        }
    }
}

impl From<TableError> for StageError {
    fn from(e: TableError) -> Self {
        StageError::Internal(e.to_string())
    }
}

/// Progress within a stage: 0–100 and a short message for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub stage: Stage,
    pub percent: u8,
    pub message: String,
}

/// Run one stage of a job.
pub async fn run_stage(
    store: &impl ObjectStore,
    job: &JobSpec,
    stage: Stage,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<StageResult, StageError> {
    let report = |percent: u8, message: &str| progress(Progress { stage, percent, message: message.to_string() });
    let mut result = match stage {
        Stage::Ingest => ingest_stage(store, job, &report).await,
        Stage::Qc => qc_stage(store, job, &report).await,
        Stage::De => de_stage(store, job, &report).await,
        Stage::Pathway => pathway_stage(store, job, &report).await,
    }?;
    let key = job.key(stage, "summary.json");
    store.put(&key, serde_json::to_vec_pretty(&result.summary).expect("json"), JSON).await?;
    result.keys.push(key);
    Ok(result)
}

async fn get_input(store: &impl ObjectStore, key: &str, name: &str) -> Result<Bytes, StageError> {
    store.get(key).await.map_err(|e| match e {
        StoreError::NotFound { .. } => StageError::InvalidInput(format!("{name}: the file was not found ({key})")),
        other => other.into(),
    })
}

async fn ingest_stage(
    store: &impl ObjectStore,
    job: &JobSpec,
    report: &(dyn Fn(u8, &str) + Sync),
) -> Result<StageResult, StageError> {
    report(0, "reading input");
    let input = get_input(store, &job.input_key, job.input_name()).await?;
    let design_bytes = get_input(store, &job.design_key, job.design_name()).await?;
    let invalid = |e: &dyn std::fmt::Display| StageError::InvalidInput(e.to_string());
    let (table, input_report) =
        read_intensities(&input, job.input_name(), job.params.format).map_err(|e| invalid(&e))?;
    drop(input);
    let design = read_design(&design_bytes, job.design_name()).map_err(|e| invalid(&e))?;
    let table = align_to_design(table, &design, job.input_name(), job.design_name()).map_err(|e| invalid(&e))?;
    let (table, design) = exclude_samples(table, design, &job.params.qc.exclude_samples).map_err(|e| invalid(&e))?;
    report(60, "converting to Parquet");
    let mut keys = Vec::new();
    for (file, bytes) in [
        ("table.parquet", intensity_table(&table, "ingest/table.parquet")?),
        ("design.parquet", design_table(&design)?),
    ] {
        let key = job.key(Stage::Ingest, file);
        store.put(&key, bytes, PARQUET).await?;
        keys.push(key);
    }
    let summary = json!({
        "input": input_report,
        "proteins": table.n_proteins(),
        "samples": design.samples.len(),
        "groups": design.groups(),
        "excluded_samples": job.params.qc.exclude_samples,
    });
    report(100, &format!("{} proteins × {} samples", table.n_proteins(), design.samples.len()));
    Ok(StageResult { stage: Stage::Ingest, keys, summary })
}

async fn read_design_and_table(
    store: &impl ObjectStore,
    job: &JobSpec,
    stage: Stage,
    file: &str,
) -> Result<(Design, IntensityTable), StageError> {
    let design = read_design_table(store.get(&job.key(Stage::Ingest, "design.parquet")).await?)?;
    let name = format!("{}/{file}", stage.folder());
    let table = read_intensity_table(store.get(&job.key(stage, file)).await?, &design, &name)?;
    Ok((design, table))
}

async fn qc_stage(
    store: &impl ObjectStore,
    job: &JobSpec,
    report: &(dyn Fn(u8, &str) + Sync),
) -> Result<StageResult, StageError> {
    report(0, "reading the input table");
    let (design, table) = read_design_and_table(store, job, Stage::Ingest, "table.parquet").await?;
    let reference = reference_set(store, job).await?;
    report(20, "filtering, normalizing and imputing");
    let qc = compute(|| run_qc(&table, &design, &job.params.qc, reference.as_ref())).map_err(qc_error)?;
    report(80, "writing QC tables");
    let mut keys = Vec::new();
    for (file, bytes) in [
        ("matrix.parquet", qc_matrix_table(&qc)?),
        ("imputed.parquet", imputed_table(&qc)?),
        ("samples.parquet", samples_table(&qc)?),
        ("pca.parquet", pca_table(&qc)?),
    ] {
        let key = job.key(Stage::Qc, file);
        store.put(&key, bytes, PARQUET).await?;
        keys.push(key);
    }
    let outliers: Vec<serde_json::Value> = qc
        .samples
        .iter()
        .filter(|s| s.outlier)
        .map(|s| json!({"sample": s.sample, "group": s.group, "reason": s.outlier_reason}))
        .collect();
    let summary = json!({
        "qc": qc.counts,
        "normalization": qc.normalization,
        "imputation": job.params.qc.impute.describe(),
        "outlier_rule": OUTLIER_RULE,
        "outliers": outliers,
        "pca_variance_pct": qc.pca.variance_pct.iter().map(|v| round(*v, 2)).collect::<Vec<_>>(),
        "pca_method": pca_method(qc.samples.len()),
        "median_correlation_over": correlation_rule(qc.samples.len()),
    });
    report(100, &format!("{} proteins kept", qc.counts.proteins_kept));
    Ok(StageResult { stage: Stage::Qc, keys, summary })
}

/// The `--normalize-on` set of the job, its id-list file read from the store. In a cloud job (a key prefix) the
/// file must be one of the job's own uploads: a job reads only its own data.
async fn reference_set(store: &impl ObjectStore, job: &JobSpec) -> Result<Option<ReferenceSet>, StageError> {
    let Some(spec) = job.params.qc.normalize_on.as_deref() else { return Ok(None) };
    let invalid = |e: &dyn std::fmt::Display| StageError::InvalidInput(e.to_string());
    let spec = ReferenceSpec::parse(spec).map_err(|e| invalid(&e))?;
    let bytes = match spec.file() {
        Some(key) => {
            let input_folder = job.input_key.rsplit_once('/').map_or("", |(folder, _)| folder);
            if !job.prefix.is_empty() && !key.starts_with(&job.prefix) && !key.starts_with(&format!("{input_folder}/"))
            {
                return Err(StageError::InvalidInput(format!(
                    "--normalize-on file `{key}` is not one of this job's uploads; upload the id list with the job (next to {})",
                    job.input_name()
                )));
            }
            let name = key.rsplit(['/', '\\']).next().unwrap_or(key).to_string();
            Some(get_input(store, key, &name).await?)
        }
        None => None,
    };
    Ok(Some(ReferenceSet::new(&spec, bytes.as_deref()).map_err(|e| invalid(&e))?))
}

/// `qc/matrix.parquet`: the intensity table plus, per protein, its imputed count and whether it was in the
/// normalization reference set.
fn qc_matrix_table(qc: &QcResult) -> Result<Vec<u8>, StageError> {
    let extra = TableBuilder::new()
        .u32("n_imputed", qc.imputed_per_protein.clone())
        .bool("normalization_reference", qc.reference.clone());
    intensity_table_with(&qc.matrix, extra, "qc/matrix.parquet")
}

/// `qc/imputed.parquet`: per protein, one boolean column per sample, true where QC imputed the value.
fn imputed_table(qc: &QcResult) -> Result<Vec<u8>, StageError> {
    let ns = qc.matrix.n_samples();
    let mut t = TableBuilder::new().text("protein_id", &qc.matrix.protein_ids);
    for (s, sample) in qc.matrix.samples.iter().enumerate() {
        t = t.bool(sample, (0..qc.matrix.n_proteins()).map(|p| qc.imputed[p * ns + s]).collect());
    }
    Ok(t.to_parquet("qc/imputed.parquet")?)
}

/// A protein × sample table as Parquet: ids, annotations, one float column per sample.
fn intensity_table(m: &IntensityTable, name: &str) -> Result<Vec<u8>, StageError> {
    intensity_table_with(m, TableBuilder::new(), name)
}

/// ids and annotations, then the columns of `extra`, then one float column per sample.
fn intensity_table_with(m: &IntensityTable, extra: TableBuilder, name: &str) -> Result<Vec<u8>, StageError> {
    let mut t = TableBuilder::new()
        .text("protein_id", &m.protein_ids)
        .text("majority_protein_ids", &m.majority_ids)
        .text("gene_names", &m.gene_names)
        .append(extra);
    let ns = m.n_samples();
    for (s, sample) in m.samples.iter().enumerate() {
        let col: Vec<f64> = (0..m.n_proteins()).map(|p| m.values[p * ns + s]).collect();
        t = t.f64_nullable(sample, &col);
    }
    Ok(t.to_parquet(name)?)
}

fn samples_table(qc: &QcResult) -> Result<Vec<u8>, StageError> {
    let s = &qc.samples;
    Ok(TableBuilder::new()
        .text("sample", &s.iter().map(|x| x.sample.clone()).collect::<Vec<_>>())
        .text_dict("group", s.iter().map(|x| x.group.as_str()))
        .u32("identified", s.iter().map(|x| x.identified).collect())
        .f64("missing_pct", s.iter().map(|x| x.missing_pct).collect())
        .f64_nullable("median_log2", &s.iter().map(|x| x.median_log2).collect::<Vec<_>>())
        .f64("normalization_shift", s.iter().map(|x| x.normalization_shift).collect())
        .u32("normalization_proteins", s.iter().map(|x| x.normalization_proteins).collect())
        .f64_nullable("median_correlation", &s.iter().map(|x| x.median_correlation).collect::<Vec<_>>())
        .bool("outlier", s.iter().map(|x| x.outlier).collect())
        .text("outlier_reason", &s.iter().map(|x| x.outlier_reason.clone()).collect::<Vec<_>>())
        .u32("imputed", s.iter().map(|x| x.imputed).collect())
        .f64_nullable("group_cv_pct", &s.iter().map(|x| x.group_cv_pct).collect::<Vec<_>>())
        .to_parquet("qc/samples.parquet")?)
}

fn pca_table(qc: &QcResult) -> Result<Vec<u8>, StageError> {
    let n = qc.samples.len();
    let mut t = TableBuilder::new()
        .text("sample", &qc.samples.iter().map(|x| x.sample.clone()).collect::<Vec<_>>())
        .text_dict("group", qc.samples.iter().map(|x| x.group.as_str()));
    for c in 0..PCA_COMPONENTS {
        let scores: Vec<f64> = (0..n).map(|i| qc.pca.scores[i * PCA_COMPONENTS + c]).collect();
        t = t.f64_nullable(&format!("pc{}", c + 1), &scores);
    }
    for c in 0..PCA_COMPONENTS {
        t = t.f64_nullable(&format!("pc{}_variance_pct", c + 1), &vec![qc.pca.variance_pct[c]; n]);
    }
    Ok(t.to_parquet("qc/pca.parquet")?)
}

const DESIGN_FIXED: [&str; 5] = ["sample", "group", "replicate", "pair", "batch"];

fn design_table(design: &Design) -> Result<Vec<u8>, StageError> {
    let col = |f: &dyn Fn(&SampleInfo) -> String| design.samples.iter().map(f).collect::<Vec<_>>();
    let mut t = TableBuilder::new()
        .text("sample", &col(&|s| s.sample.clone()))
        .text("group", &col(&|s| s.group.clone()))
        .text("replicate", &col(&|s| s.replicate.clone().unwrap_or_default()))
        .text("pair", &col(&|s| s.pair.clone().unwrap_or_default()))
        .text("batch", &col(&|s| s.batch.clone().unwrap_or_default()));
    if let Some(first) = design.samples.first() {
        for name in first.extra.keys() {
            t = t.text(name, &col(&|s| s.extra.get(name).cloned().unwrap_or_default()));
        }
    }
    Ok(t.to_parquet("qc/design.parquet")?)
}

fn read_design_table(bytes: Bytes) -> Result<Design, StageError> {
    let t = Table::from_parquet(bytes, "ingest/design.parquet")?;
    let opt = |v: String| (!v.is_empty()).then_some(v);
    let (sample, group) = (t.text("sample")?, t.text("group")?);
    let (replicate, pair, batch) = (t.text("replicate")?, t.text("pair")?, t.text("batch")?);
    let extra_names: Vec<String> =
        t.column_names().into_iter().filter(|c| !DESIGN_FIXED.contains(&c.as_str())).collect();
    let extras = extra_names.iter().map(|c| t.text(c)).collect::<Result<Vec<_>, _>>()?;
    let samples = (0..t.num_rows())
        .map(|i| SampleInfo {
            sample: sample[i].clone(),
            group: group[i].clone(),
            replicate: opt(replicate[i].clone()),
            pair: opt(pair[i].clone()),
            batch: opt(batch[i].clone()),
            extra: extra_names.iter().zip(&extras).map(|(n, v)| (n.clone(), v[i].clone())).collect(),
        })
        .collect();
    Ok(Design { samples })
}

fn read_intensity_table(bytes: Bytes, design: &Design, name: &str) -> Result<IntensityTable, StageError> {
    let t = Table::from_parquet(bytes, name)?;
    let samples = design.sample_names();
    let np = t.num_rows();
    let ns = samples.len();
    let mut values = vec![0.0; np * ns];
    for (s, name) in samples.iter().enumerate() {
        for (p, v) in t.f64(name)?.into_iter().enumerate() {
            values[p * ns + s] = v;
        }
    }
    Ok(IntensityTable {
        protein_ids: t.text("protein_id")?,
        majority_ids: t.text("majority_protein_ids")?,
        gene_names: t.text("gene_names")?,
        samples,
        values,
    })
}

/// One row of `de/ranked/<i>.jsonl`, the rows `GET /jobs/{id}/results?table=de` pages through. Serialized as it is
/// rather than through `serde_json::Value` (36 contrasts × 1000 rows would be some 350 000 small allocations, a third
/// of the stage's time); NaN is written as `null`, as `Value` would.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RankedDeRow<'a> {
    protein_id: &'a str,
    gene_names: &'a str,
    contrast: &'a str,
    log2fc: f64,
    t: f64,
    p_value: f64,
    adj_p_value: f64,
    tukey_p_value: Option<f64>,
    avg_expr: f64,
    /// The protein's log2 values in design order (the page's profile view), `null` where missing.
    values: Vec<Option<f64>>,
    /// Design-order indices of the samples whose value was imputed.
    imputed: Vec<usize>,
}

async fn de_stage(
    store: &impl ObjectStore,
    job: &JobSpec,
    report: &(dyn Fn(u8, &str) + Sync),
) -> Result<StageResult, StageError> {
    report(0, "reading the QC matrix");
    let (design, matrix) = read_design_and_table(store, job, Stage::Qc, "matrix.parquet").await?;
    let imputed = read_imputed(store, job, &design).await?;
    report(20, "fitting models");
    let mut de = compute(|| run_de(&matrix.values, &design, &job.params.de)).map_err(de_error)?;
    if !job.params.output.full_precision {
        // Once, before anything is written: the Parquet tables, the ranked rows and the counts see the same numbers.
        round_statistics(&mut de, STORED_MANTISSA_BITS);
    }
    report(80, "writing results");
    let mut keys = Vec::new();
    let key = job.key(Stage::De, "results.parquet");
    let imputed_counts = imputed_per_contrast(&de, &design, &imputed);
    store.put(&key, results_table(&de, &matrix, &imputed_counts, job)?, PARQUET).await?;
    keys.push(key);
    if let Some(f) = &de.ftest {
        let bytes = TableBuilder::new()
            .text("protein_id", &matrix.protein_ids)
            .text("gene_names", &matrix.gene_names)
            .f64_nullable("f", &f.f)
            .f64_nullable("df1", &f.df1)
            .f64_nullable("df2", &f.df2)
            .f64_nullable("p_value", &f.p_value)
            .f64_nullable("adj_p_value", &f.adj_p_value)
            .to_parquet("de/ftest.parquet")?;
        let key = job.key(Stage::De, "ftest.parquet");
        store.put(&key, bytes, PARQUET).await?;
        keys.push(key);
    }
    let np = de.n_proteins;
    let ns = design.samples.len();
    let ranked: Vec<(String, Vec<RankedDeRow>)> = de
        .contrasts
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let r = j * np..(j + 1) * np;
            let rows = top_by_p(&de.adj_p_value[r.clone()], &de.p_value[r], RANKED_ROWS)
                .into_iter()
                .map(|i| {
                    let o = j * np + i;
                    RankedDeRow {
                        protein_id: &matrix.protein_ids[i],
                        gene_names: &matrix.gene_names[i],
                        contrast: &c.name,
                        log2fc: de.log2fc[o],
                        t: de.t[o],
                        p_value: de.p_value[o],
                        adj_p_value: de.adj_p_value[o],
                        tukey_p_value: de.tukey_p_value.as_ref().map(|t| t[o]),
                        avg_expr: de.avg_expr[i],
                        values: matrix.row(i).iter().map(|v| v.is_finite().then_some(*v)).collect(),
                        imputed: (0..ns).filter(|&s| imputed.get(i * ns + s).copied().unwrap_or(false)).collect(),
                    }
                })
                .collect();
            (c.name.clone(), rows)
        })
        .collect();
    keys.extend(write_ranked(store, job, Stage::De, ranked).await?);
    let alpha = job.params.pathway.alpha;
    let lfc = job.params.pathway.min_log2fc;
    let per_contrast: Vec<serde_json::Value> = de
        .contrasts
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let (mut up, mut down, mut adj_only) = (0, 0, 0);
            for i in j * np..(j + 1) * np {
                if de.adj_p_value[i] < alpha {
                    adj_only += 1;
                }
                if is_significant(de.adj_p_value[i], de.log2fc[i], alpha, lfc) {
                    if de.log2fc[i] > 0.0 {
                        up += 1
                    } else {
                        down += 1
                    }
                }
            }
            json!({"contrast": c.name, "significant": up + down, "up": up, "down": down, "adj_p_significant": adj_only})
        })
        .collect();
    let f_significant = de.ftest.as_ref().map(|f| f.adj_p_value.iter().filter(|p| **p < alpha).count());
    let summary = json!({
        "model": de.model,
        "proteins_tested": np,
        "reference": de.reference.describe(),
        "reference_group": de.reference.name,
        "contrast_rule": contrast_rule(&job.params.de.contrasts, &de.reference),
        "significance_rule": significance_rule(alpha, lfc),
        "contrasts": per_contrast,
        "f_test": de.ftest.as_ref().map(|_| if job.params.de.method == proteo_core::de::DeMethod::Limma {
            job.params.de.f_test.describe()
        } else {
            "one-way ANOVA F per protein"
        }),
        "f_test_significant": f_significant,
        "s2_prior": de.prior.map(|p| p.0),
        "df_prior": de.prior.map(|p| if p.1.is_finite() { json!(p.1) } else { json!("Inf") }),
    });
    report(100, "done");
    Ok(StageResult { stage: Stage::De, keys, summary })
}

/// The rule "significant" means, as printed by the CLI and written in the summary and report.
pub fn significance_rule(alpha: f64, min_log2fc: f64) -> String {
    format!("significant = BH-adjusted p < {alpha} and |log2FC| ≥ {min_log2fc}")
}

/// How the contrasts were formed, in one sentence (`A-B` = log2 A − log2 B).
fn contrast_rule(spec: &str, reference: &proteo_core::de::ReferenceGroup) -> String {
    let spec = spec.trim();
    let orients = reference.orients();
    if spec.is_empty() || spec == proteo_core::de::DEFAULT_CONTRASTS {
        if orients {
            return format!("each group − reference group {}", reference.name);
        }
        return "all pairs, first listed − later listed group of the design".to_string();
    }
    if spec == "all-pairs" {
        if orients {
            return format!(
                "all pairs, first listed − later listed, pairs with {} as other − {}",
                reference.name, reference.name
            );
        }
        return "all pairs, first listed − later listed group of the design".to_string();
    }
    if let Some(g) = spec.strip_prefix("vs:") {
        return format!("each group − {}", g.trim());
    }
    format!("as listed: {spec} (A-B = log2 A − log2 B)")
}

/// Significant: BH-adjusted p below `alpha` and |log2FC| at least `min_log2fc`.
pub fn is_significant(adj_p: f64, log2fc: f64, alpha: f64, min_log2fc: f64) -> bool {
    adj_p < alpha && log2fc.abs() >= min_log2fc
}

/// Round the per-row statistics of a DE result to `bits` mantissa bits ([`round_mantissa`]). Degrees of freedom and
/// average expression repeat per protein and are dictionary-encoded, so they keep every bit.
fn round_statistics(de: &mut DeOutput, bits: u32) {
    let round = |v: &mut Vec<f64>| v.iter_mut().for_each(|x| *x = round_mantissa(*x, bits));
    round(&mut de.log2fc);
    round(&mut de.t);
    round(&mut de.p_value);
    round(&mut de.adj_p_value);
    if let Some(tk) = &mut de.tukey_p_value {
        round(tk);
    }
}

/// Rows of `de/results.parquet` as flat indices `contrast × proteins + protein`: contrasts in their order, and within
/// each the proteins by p-value (limma `topTable(sort.by = "P")`; ties and NaN keep the matrix order, NaN last).
/// Sorted p-values and their adjusted values also compress much better than rows in matrix order.
fn top_table_order(de: &DeOutput) -> Vec<usize> {
    let np = de.n_proteins;
    let mut order = Vec::with_capacity(np * de.contrasts.len());
    for j in 0..de.contrasts.len() {
        let start = order.len();
        order.extend(j * np..(j + 1) * np);
        let p = |o: usize| if de.p_value[o].is_nan() { f64::INFINITY } else { de.p_value[o] };
        order[start..]
            .sort_by(|&a, &b| p(a).total_cmp(&p(b)).then(de.p_value[a].is_nan().cmp(&de.p_value[b].is_nan())));
    }
    order
}

/// `qc/imputed.parquet` as a proteins × samples row-major mask.
async fn read_imputed(store: &impl ObjectStore, job: &JobSpec, design: &Design) -> Result<Vec<bool>, StageError> {
    let t = Table::from_parquet(store.get(&job.key(Stage::Qc, "imputed.parquet")).await?, "qc/imputed.parquet")?;
    let ns = design.samples.len();
    let mut mask = vec![false; t.num_rows() * ns];
    for (s, sample) in design.samples.iter().enumerate() {
        for (p, v) in t.bool(&sample.sample)?.into_iter().enumerate() {
            mask[p * ns + s] = v;
        }
    }
    Ok(mask)
}

/// Per (contrast, protein), contrast-major: values imputed in the contrast's positive-weight groups (A of `A-B`)
/// and in its negative-weight groups (B).
fn imputed_per_contrast(de: &DeOutput, design: &Design, imputed: &[bool]) -> (Vec<u32>, Vec<u32>) {
    let np = de.n_proteins;
    let ns = design.samples.len();
    let gidx = design.group_index();
    let (mut a, mut b) = (vec![0u32; de.contrasts.len() * np], vec![0u32; de.contrasts.len() * np]);
    if imputed.len() != np * ns {
        return (a, b);
    }
    for (j, c) in de.contrasts.iter().enumerate() {
        for p in 0..np {
            for s in 0..ns {
                if imputed[p * ns + s] {
                    let w = c.weights[gidx[s]];
                    if w > 0.0 {
                        a[j * np + p] += 1;
                    } else if w < 0.0 {
                        b[j * np + p] += 1;
                    }
                }
            }
        }
    }
    (a, b)
}

fn results_table(
    de: &DeOutput,
    matrix: &IntensityTable,
    imputed: &(Vec<u32>, Vec<u32>),
    job: &JobSpec,
) -> Result<Vec<u8>, StageError> {
    let np = de.n_proteins;
    let order = top_table_order(de);
    let column = |v: &[f64]| order.iter().map(|&o| v[o]).collect::<Vec<f64>>();
    let alpha = job.params.pathway.alpha;
    let lfc = job.params.pathway.min_log2fc;
    let mut t = TableBuilder::new()
        .text_dict("protein_id", order.iter().map(|&o| matrix.protein_ids[o % np].as_str()))
        .text_dict("gene_names", order.iter().map(|&o| matrix.gene_names[o % np].as_str()))
        .text_dict("contrast", order.iter().map(|&o| de.contrasts[o / np].name.as_str()))
        .f64_nullable("log2fc", &column(&de.log2fc))
        .f64_nullable("t", &column(&de.t))
        .f64_repeated("df", &column(&de.df))
        .f64_nullable("p_value", &column(&de.p_value))
        .f64_nullable("adj_p_value", &column(&de.adj_p_value));
    if let Some(tk) = &de.tukey_p_value {
        t = t.f64_nullable("tukey_p_value", &column(tk));
    }
    t = t
        .u32("imputed_a", order.iter().map(|&o| imputed.0[o]).collect())
        .u32("imputed_b", order.iter().map(|&o| imputed.1[o]).collect());
    let avg: Vec<f64> = order.iter().map(|&o| de.avg_expr[o % np]).collect();
    let sig: Vec<bool> = order.iter().map(|&o| is_significant(de.adj_p_value[o], de.log2fc[o], alpha, lfc)).collect();
    Ok(t.f64_repeated("avg_expr", &avg).bool("significant", sig).to_parquet("de/results.parquet")?)
}

/// The store key of a job's gene sets. A stored job (its prefix is `jobs/<id>/`) may name only a shipped
/// collection (`builtin:<name>`, empty for the default) or a file uploaded with it (`upload:<file>`, resolved
/// beside its own input); only a local run (empty prefix, `proteo run`) may name a path on this machine.
pub fn gene_sets_key(job: &JobSpec) -> Result<String, StageError> {
    use proteo_jobs::params::{check_gene_sets, GeneSetsRef, Origin};
    let text = &job.params.pathway.gene_sets;
    let stored = !job.prefix.is_empty();
    check_gene_sets(text, if stored { Origin::Job } else { Origin::Local })
        .map_err(|e| StageError::InvalidInput(format!("The analysis parameters are not valid: {e}.")))?;
    match GeneSetsRef::parse(text) {
        GeneSetsRef::Default => Ok(crate::execution::BUILTIN_GO_BP_KEY.to_string()),
        GeneSetsRef::Builtin(name) => Ok(format!("{}{name}", proteo_jobs::params::BUILTIN_PREFIX)),
        GeneSetsRef::Upload(name) if stored => Ok(uploaded_gene_sets_key(job, name)),
        GeneSetsRef::Upload(name) => Err(StageError::InvalidInput(format!(
            "`upload:{name}` names gene sets uploaded with a job; a local run takes the path of a GMT file."
        ))),
        GeneSetsRef::LocalPath(path) => Ok(path.to_string()),
    }
}

/// Where ingest keeps the copy of gene sets a job uploaded (`upload:<name>`): among its own outputs, so the pathway
/// stage reads them from the job's prefix, never from `uploads/`.
pub fn uploaded_gene_sets_key(job: &JobSpec, name: &str) -> String {
    job.key(Stage::Ingest, &format!("gene_sets/{name}"))
}

/// The gene sets parsed last in this process, with the exact bytes they were parsed from. A warm Lambda container
/// or a long-running `proteo serve` then parses the shipped GO BP GMT (6.8 MB of gzip, about 0.3 s) once rather
/// than once per job. The key is the content, compared in full (a memcmp of a few MB), so a different file, or new
/// bytes under the same name, are parsed anew; one entry only, so the memory held is bounded by one gene-set file.
static PARSED_GENE_SETS: std::sync::Mutex<Option<(Bytes, std::sync::Arc<GeneSets>)>> = std::sync::Mutex::new(None);

fn parsed_gene_sets(gmt: Bytes, name: &str) -> Result<std::sync::Arc<GeneSets>, StageError> {
    // Held while parsing: concurrent jobs of `proteo serve` wait for one parse instead of each doing it.
    let mut last = PARSED_GENE_SETS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((bytes, sets)) = last.as_ref() {
        if *bytes == gmt {
            return Ok(sets.clone());
        }
    }
    let sets =
        std::sync::Arc::new(GeneSets::from_gmt(&gmt, name).map_err(|e| StageError::InvalidInput(e.to_string()))?);
    *last = Some((gmt, sets.clone()));
    Ok(sets)
}

/// Drops the parsed gene sets kept by the pathway stage, so that the next run parses them as a fresh process would
/// (the benchmark uses it to time what `proteo run` and a cold Lambda pay).
pub fn forget_parsed_gene_sets() {
    *PARSED_GENE_SETS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
}

async fn pathway_stage(
    store: &impl ObjectStore,
    job: &JobSpec,
    report: &(dyn Fn(u8, &str) + Sync),
) -> Result<StageResult, StageError> {
    let pp = &job.params.pathway;
    report(0, "reading gene sets");
    let gene_sets = gene_sets_key(job)?;
    let gmt_name = gene_sets.rsplit(['/', '\\']).next().unwrap_or(&gene_sets).to_string();
    let gmt = get_input(store, &gene_sets, &gmt_name).await?;
    let sets = parsed_gene_sets(gmt, &gmt_name)?;
    let matrix = Table::from_parquet(store.get(&job.key(Stage::Qc, "matrix.parquet")).await?, "qc/matrix.parquet")?;
    let background_ids = matrix.text("protein_id")?;
    let background_genes = matrix.text("gene_names")?;
    let results = Table::from_parquet(store.get(&job.key(Stage::De, "results.parquet")).await?, "de/results.parquet")?;
    let (r_ids, r_contrast) = (results.text("protein_id")?, results.text("contrast")?);
    let (r_lfc, r_adj) = (results.f64("log2fc")?, results.f64("adj_p_value")?);
    report(20, "testing gene sets");
    let enricher =
        Enricher::new(&sets, &background_ids, &background_genes, pp.min_set_size, pp.max_set_size, pp.membership);
    let index: std::collections::HashMap<&str, usize> =
        background_ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();

    let mut contrasts: Vec<String> = Vec::new();
    for c in &r_contrast {
        if contrasts.last() != Some(c) && !contrasts.contains(c) {
            contrasts.push(c.clone());
        }
    }
    let mut out = PathwayColumns::default();
    let mut top = Vec::new();
    let mut ranked: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    for (ci, contrast) in contrasts.iter().enumerate() {
        if compute(proteo_core::deadline::check).is_err() {
            return Err(StageError::Timeout(format!(
                "Pathway enrichment stopped at its time limit after {ci} of {} contrasts; name fewer contrasts.",
                contrasts.len()
            )));
        }
        let (mut up, mut down) = (Vec::new(), Vec::new());
        for r in 0..r_ids.len() {
            if &r_contrast[r] == contrast && is_significant(r_adj[r], r_lfc[r], pp.alpha, pp.min_log2fc) {
                let Some(&i) = index.get(r_ids[r].as_str()) else { continue };
                if r_lfc[r] > 0.0 {
                    up.push(i)
                } else {
                    down.push(i)
                }
            }
        }
        // Matrix order, whatever the order of the DE rows.
        up.sort_unstable();
        down.sort_unstable();
        let mut both: Vec<usize> = up.iter().chain(&down).copied().collect();
        both.sort_unstable();
        for (direction, selected) in [("up", &up), ("down", &down), ("both", &both)] {
            let rows = if selected.is_empty() { Vec::new() } else { enricher.run(selected) };
            if direction == "up" {
                ranked.push((contrast.clone(), Vec::new()));
            }
            let view = &mut ranked.last_mut().expect("pushed").1;
            view.extend(rows.iter().map(|r| {
                json!({
                    "contrast": contrast, "direction": direction, "termId": r.term_id, "termName": r.term_name,
                    "setSize": r.set_size, "overlap": r.overlap, "foldEnrichment": r.fold_enrichment,
                    "pValue": r.p_value, "adjPValue": r.adj_p_value,
                })
            }));
            let significant = rows.iter().filter(|r| r.adj_p_value < pp.alpha).count();
            top.push(json!({
                "contrast": contrast, "direction": direction, "proteins": selected.len(),
                "terms_significant": significant,
                "top_term": rows.first().filter(|r| r.adj_p_value < pp.alpha).map(|r| r.term_name.clone()),
            }));
            for r in rows {
                out.contrast.push(contrast.clone());
                out.direction.push(direction);
                out.term_id.push(r.term_id);
                out.term_name.push(r.term_name);
                out.set_size.push(r.set_size as u32);
                out.overlap.push(r.overlap as u32);
                out.expected.push(r.expected);
                out.fold_enrichment.push(r.fold_enrichment);
                out.p_value.push(r.p_value);
                out.adj_p_value.push(r.adj_p_value);
                out.proteins.push(r.overlap_ids);
            }
        }
        report((20 + 70 * (ci + 1) / contrasts.len().max(1)) as u8, &format!("tested {contrast}"));
    }
    let bytes = TableBuilder::new()
        .text_dict("contrast", out.contrast.iter().map(String::as_str))
        .text_dict("direction", out.direction.iter().copied())
        .text("term_id", &out.term_id)
        .text("term_name", &out.term_name)
        .u32("set_size", out.set_size)
        .u32("overlap", out.overlap)
        .f64("expected", out.expected)
        .f64("fold_enrichment", out.fold_enrichment)
        .f64("p_value", out.p_value)
        .f64("adj_p_value", out.adj_p_value)
        .text("proteins", &out.proteins)
        .to_parquet("pathway/enrichment.parquet")?;
    let key = job.key(Stage::Pathway, "enrichment.parquet");
    store.put(&key, bytes, PARQUET).await?;
    for (_, rows) in ranked.iter_mut() {
        let adj: Vec<f64> = rows.iter().map(|r| r["adjPValue"].as_f64().unwrap_or(f64::NAN)).collect();
        let p: Vec<f64> = rows.iter().map(|r| r["pValue"].as_f64().unwrap_or(f64::NAN)).collect();
        let order = top_by_p(&adj, &p, RANKED_ROWS);
        let sorted: Vec<serde_json::Value> = order.into_iter().map(|i| rows[i].take()).collect();
        *rows = sorted;
    }
    let mut keys = vec![key];
    keys.extend(write_ranked(store, job, Stage::Pathway, ranked).await?);
    let summary = json!({
        "gene_sets": gmt_name,
        "terms": sets.len(),
        "id_key": enricher.key_used().as_str(),
        "membership": pp.membership.describe(),
        "background_annotated": enricher.n_annotated(),
        "background": background_ids.len(),
        "background_rule": format!(
            "the {} quantified protein groups annotated in the gene sets by {} ({} quantified)",
            enricher.n_annotated(),
            pp.membership.describe(),
            background_ids.len()
        ),
        "selections": top,
    });
    report(100, "done");
    Ok(StageResult { stage: Stage::Pathway, keys, summary })
}

#[derive(Default)]
struct PathwayColumns {
    contrast: Vec<String>,
    direction: Vec<&'static str>,
    term_id: Vec<String>,
    term_name: Vec<String>,
    set_size: Vec<u32>,
    overlap: Vec<u32>,
    expected: Vec<f64>,
    fold_enrichment: Vec<f64>,
    p_value: Vec<f64>,
    adj_p_value: Vec<f64>,
    proteins: Vec<String>,
}

/// Write the job's `summary.json` from the stage summaries in the store: counts, parameters, versions. Returns its
/// key and the summary itself (so a caller that needs it does not read it back).
pub async fn write_job_summary(
    store: &impl ObjectStore,
    job: &JobSpec,
) -> Result<(String, serde_json::Value), StageError> {
    let mut stages = serde_json::Map::new();
    for stage in Stage::ALL {
        let bytes = store.get(&job.key(stage, "summary.json")).await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| StageError::Internal(format!("{} summary: {e}", stage.as_str())))?;
        stages.insert(stage.as_str().to_string(), value);
    }
    let summary = json!({
        "job_id": job.job_id,
        "input": job.input_name(),
        "design": job.design_name(),
        "parameters": job.params,
        "versions": { "proteo": env!("CARGO_PKG_VERSION") },
        "stages": stages,
    });
    let mut summary = summary;
    summary["methods"] = serde_json::Value::String(crate::methods::methods_text(&summary));
    let key = job.summary_key();
    store.put(&key, serde_json::to_vec_pretty(&summary).expect("json"), JSON).await?;
    Ok((key, summary))
}

/// Render `report.html` from the job's outputs (the files in [`proteo_report::REPORT_INPUTS`], which include the job
/// summary: call after [`write_job_summary`]) and store it next to them. Returns its key.
pub async fn write_report(store: &impl ObjectStore, job: &JobSpec) -> Result<String, StageError> {
    let mut inputs = proteo_report::ReportInputs::default();
    for rel in proteo_report::REPORT_INPUTS {
        let key = format!("{}{rel}", job.prefix);
        inputs.files.insert(rel.to_string(), store.get(&key).await?);
    }
    for rel in proteo_report::OPTIONAL_REPORT_INPUTS {
        match store.get(&format!("{}{rel}", job.prefix)).await {
            Ok(bytes) => {
                inputs.files.insert(rel.to_string(), bytes);
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let html =
        compute(|| proteo_report::render(&inputs)).map_err(|e| StageError::Internal(format!("report.html: {e}")))?;
    let key = job.report_key();
    store.put(&key, html.into_bytes(), "text/html; charset=utf-8").await?;
    Ok(key)
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gene_sets_are_parsed_once_per_content_and_anew_for_other_bytes() {
        let a = Bytes::from_static(b"S1\tone\tP1\tP2\nS2\ttwo\tP2\tP3\n");
        let first = parsed_gene_sets(a.clone(), "a.gmt").unwrap();
        // Same content in another buffer: still the parsed value kept.
        let again = parsed_gene_sets(Bytes::copy_from_slice(&a), "a.gmt").unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &again));
        let other = parsed_gene_sets(Bytes::from_static(b"S1\tone\tP1\n"), "a.gmt").unwrap();
        assert!(!std::sync::Arc::ptr_eq(&first, &other));
        assert_eq!((first.len(), other.len()), (2, 1));
        // A bad file is an InvalidInput naming it, and leaves the kept value alone.
        let err = parsed_gene_sets(Bytes::from_static(b"S1 no tabs\n"), "bad.gmt").unwrap_err();
        assert!(matches!(&err, StageError::InvalidInput(m) if m.contains("bad.gmt")), "{err:?}");
        assert!(std::sync::Arc::ptr_eq(&other, &parsed_gene_sets(Bytes::from_static(b"S1\tone\tP1\n"), "x").unwrap()));
        forget_parsed_gene_sets();
        let fresh = parsed_gene_sets(Bytes::from_static(b"S1\tone\tP1\n"), "a.gmt").unwrap();
        assert!(!std::sync::Arc::ptr_eq(&other, &fresh));
    }
}
