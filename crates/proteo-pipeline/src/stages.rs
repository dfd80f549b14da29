//! The stage runner: each stage reads the previous stage's Parquet from the store, computes, and writes its own.

use bytes::Bytes;
use serde_json::json;

use proteo_core::de::{run_de, DeOutput};
use proteo_core::input::{align_samples, read_design, read_table_or_plan, ReadOptions, ReadOutcome};
use proteo_core::limits::MAX_REPORTED_NAMES;
use proteo_core::model::{Design, IntensityTable, SampleInfo, SampleSelection};
use proteo_core::pathway::{CameraRow, Enricher, GeneSets, GseaRow, GseaSettings};
use proteo_core::qc::{correlation_rule, exclude_samples, pca_method, run_qc, QcResult, OUTLIER_RULE, PCA_COMPONENTS};
use proteo_core::reference::{ReferenceSet, ReferenceSpec};
use proteo_core::tables::{round_mantissa, Table, TableBuilder, TableError, TableWriter, STORED_MANTISSA_BITS};
use proteo_stats::camera::InterGeneCorrelation;

use crate::contracts::{CameraCorrelation, EnrichmentMethod, JobSpec, Stage, StageResult};
use crate::ports::{ObjectStore, StoreError};

pub(crate) const PARQUET: &str = "application/vnd.apache.parquet";
pub(crate) const JSON: &str = "application/json";
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
    let mut w = RankedWriter::new(stage, "ranked");
    for (name, rows) in groups {
        w.push(store, job, &name, rows).await?;
    }
    w.finish(store, job).await
}

/// Ranked JSON-lines views written one contrast at a time: `<stage>/<folder>/<i>.jsonl`, then
/// `<stage>/<folder>/index.json` naming them (what `GET /jobs/{id}/results` pages through).
struct RankedWriter {
    stage: Stage,
    folder: &'static str,
    keys: Vec<String>,
    index: Vec<serde_json::Value>,
}

impl RankedWriter {
    fn new(stage: Stage, folder: &'static str) -> Self {
        RankedWriter { stage, folder, keys: Vec::new(), index: Vec::new() }
    }

    async fn push<Row: serde::Serialize>(
        &mut self,
        store: &impl ObjectStore,
        job: &JobSpec,
        name: &str,
        rows: Vec<Row>,
    ) -> Result<(), StageError> {
        let key = job.key(self.stage, &format!("{}/{}.jsonl", self.folder, self.keys.len()));
        let mut body = Vec::new();
        for r in &rows {
            serde_json::to_writer(&mut body, r).expect("json");
            body.push(b'\n');
        }
        store.put(&key, body, JSON_LINES).await?;
        self.index.push(json!({"name": name, "key": key, "rows": rows.len()}));
        self.keys.push(key);
        Ok(())
    }

    async fn finish(mut self, store: &impl ObjectStore, job: &JobSpec) -> Result<Vec<String>, StageError> {
        let key = job.key(self.stage, &format!("{}/index.json", self.folder));
        store.put(&key, serde_json::to_vec(&json!({ "contrasts": self.index })).expect("json"), JSON).await?;
        self.keys.push(key);
        Ok(self.keys)
    }
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
pub(crate) fn compute<T>(compute: impl FnOnce() -> T) -> T {
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
        Stage::Report => {
            return Err(StageError::Internal(
                "the report stage draws with a renderer: run it with `report::run_report`, not `run_stage`".into(),
            ))
        }
    }?;
    write_stage_summary(store, job, &mut result).await?;
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
    let in_place = crate::quant_map::Sharding { max_cells: usize::MAX, ..Default::default() };
    match ingest_or_plan(store, job, report, in_place).await? {
        Ingested::Table(result) => Ok(result),
        Ingested::Planned(_) => unreachable!("a plan without a cell cap has one shard, quantified in place"),
    }
}

/// What ingest did with the upload: converted it, or (a precursor report over the shard cap) split it into shard
/// files for the Distributed Map, whose last step finishes the ingest ([`crate::quant_map::assemble`]).
pub enum Ingested {
    Table(StageResult),
    Planned(crate::quant_map::QuantMap),
}

async fn read_job_design(store: &impl ObjectStore, job: &JobSpec) -> Result<Design, StageError> {
    let design_bytes = get_input(store, &job.design_key, job.design_name()).await?;
    read_design(&design_bytes, job.design_name()).map_err(|e| StageError::InvalidInput(e.to_string()))
}

/// The ingest stage with a shard cap: a precursor report needing more than one shard of `sharding.max_cells`
/// precursor × run cells is written as shards + a manifest under `ingest/quant/` instead of being quantified here. The stage
/// summary is written by the caller for a table ([`run_stage`]) and by the assembly step for a plan.
pub async fn ingest_or_plan(
    store: &impl ObjectStore,
    job: &JobSpec,
    report: &(dyn Fn(u8, &str) + Sync),
    sharding: crate::quant_map::Sharding,
) -> Result<Ingested, StageError> {
    report(0, "reading input");
    let input = get_input(store, &job.input_key, job.input_name()).await?;
    let invalid = |e: &dyn std::fmt::Display| StageError::InvalidInput(e.to_string());
    // The design first: a plain matrix's sample columns are the ones it names (the rest is annotation).
    let design = read_job_design(store, job).await?;
    let names: Vec<String> =
        design.samples.iter().flat_map(|s| std::iter::once(&s.sample).chain(&s.files)).cloned().collect();
    let options =
        ReadOptions { format: job.params.format, design_samples: Some(&names), quant: Some(&job.params.quant) };
    let read = read_table_or_plan(&input, job.input_name(), &options, sharding.max_cells).map_err(|e| invalid(&e))?;
    drop(input);
    match read {
        ReadOutcome::Table(table, input_report) => {
            Ok(Ingested::Table(finish_ingest(store, job, table, input_report, design, report).await?))
        }
        ReadOutcome::Planned(plan) => {
            report(
                30,
                &format!("splitting {} protein groups into {} shards", plan.table.proteins.len(), plan.shards.len()),
            );
            let quant = crate::quant_map::write_plan(store, job, plan, design, sharding.max_concurrency).await?;
            Ok(Ingested::Planned(quant))
        }
    }
}

/// The rest of ingest once the protein table is read: samples aligned with the design, exclusions, the table and
/// design as Parquet, and the stage summary's content.
pub(crate) async fn finish_ingest(
    store: &impl ObjectStore,
    job: &JobSpec,
    table: IntensityTable,
    mut input_report: proteo_core::model::InputReport,
    design: Design,
    report: &(dyn Fn(u8, &str) + Sync),
) -> Result<StageResult, StageError> {
    let invalid = |e: &dyn std::fmt::Display| StageError::InvalidInput(e.to_string());
    let from_design = job.params.samples == SampleSelection::FromDesign;
    let aligned =
        align_samples(table, &design, job.input_name(), job.design_name(), from_design).map_err(|e| invalid(&e))?;
    input_report.samples_ignored_count = aligned.ignored.len();
    input_report.samples_ignored = aligned.ignored.into_iter().take(MAX_REPORTED_NAMES).collect();
    let table = aligned.table;
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

/// Writes a stage's `summary.json` and adds its key to the result.
pub(crate) async fn write_stage_summary(
    store: &impl ObjectStore,
    job: &JobSpec,
    result: &mut StageResult,
) -> Result<(), StageError> {
    let key = job.key(result.stage, "summary.json");
    store.put(&key, serde_json::to_vec_pretty(&result.summary).expect("json"), JSON).await?;
    result.keys.push(key);
    Ok(())
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
    // Tables that are log2 already (TMT-Integrator) say so at ingest: the log2 transform is skipped for them.
    let ingest: serde_json::Value = serde_json::from_slice(&store.get(&job.key(Stage::Ingest, "summary.json")).await?)
        .map_err(|e| StageError::Internal(format!("ingest summary: {e}")))?;
    let mut params = job.params.qc.clone();
    params.log2_input |= ingest["input"]["log2_input"].as_bool().unwrap_or(false);
    let reference = reference_set(store, job).await?;
    report(20, "filtering, normalizing and imputing");
    let qc = compute(|| run_qc(&table, &design, &params, reference.as_ref())).map_err(qc_error)?;
    report(80, "writing QC tables");
    let mut keys = Vec::new();
    for (file, bytes) in [
        ("matrix.parquet", qc_matrix_table(&qc)?),
        ("imputed.parquet", imputed_table(&qc)?),
        ("samples.parquet", samples_table(&qc)?),
        ("pca.parquet", pca_table(&qc)?),
        ("distributions.parquet", distributions_table(&table, &qc, params.log2_input)?),
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
        "log2_input": params.log2_input,
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

/// Prefix of the annotation columns (species, counts, descriptions) in the intensity tables: keeps them apart
/// from sample columns whatever the names.
pub const ANNOTATION_PREFIX: &str = "annotation:";

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
        .text("protein_names", &m.protein_names);
    for (column, values) in &m.annotations {
        t = t.text(&format!("{ANNOTATION_PREFIX}{column}"), values);
    }
    let mut t = t.append(extra);
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

/// The box-plot columns of `qc/distributions.parquet`, in order: whisker, quartiles, median, whisker.
pub const DISTRIBUTION_STATS: [&str; 5] = ["lower_whisker", "q1", "median", "q3", "upper_whisker"];

/// `qc/distributions.parquet`: per sample, the five box-plot numbers ([`proteo_stats::boxplot::five_numbers`]) of its
/// log2 intensities before normalization (the ingested values; zeros and non-positive values left out unless the
/// input is log2 already) and after normalization and imputation (the final matrix). What the report's
/// before/after box plots draw, so it reads neither the raw input nor every value again. Null: no finite value.
fn distributions_table(raw: &IntensityTable, qc: &QcResult, log2_input: bool) -> Result<Vec<u8>, StageError> {
    let column = |m: &IntensityTable, sample: &str| -> Vec<f64> {
        let Some(s) = m.samples.iter().position(|x| x == sample) else { return Vec::new() };
        let ns = m.n_samples();
        (0..m.n_proteins()).map(|p| m.values[p * ns + s]).collect()
    };
    let before = |sample: &str| {
        let v: Vec<f64> = column(raw, sample)
            .into_iter()
            .filter(|v| v.is_finite() && (log2_input || *v > 0.0))
            .map(|v| if log2_input { v } else { v.log2() })
            .collect();
        proteo_stats::boxplot::five_numbers(&v)
    };
    let after = |sample: &str| proteo_stats::boxplot::five_numbers(&column(&qc.matrix, sample));
    let samples: Vec<String> = qc.samples.iter().map(|x| x.sample.clone()).collect();
    let mut t = TableBuilder::new().text("sample", &samples);
    for (when, stats) in [("before", &before as &dyn Fn(&str) -> Option<[f64; 5]>), ("after", &after)] {
        let boxes: Vec<Option<[f64; 5]>> = samples.iter().map(|s| stats(s)).collect();
        for (i, name) in DISTRIBUTION_STATS.iter().enumerate() {
            let col: Vec<f64> = boxes.iter().map(|b| b.map_or(f64::NAN, |b| b[i])).collect();
            t = t.f64_nullable(&format!("{when}_{name}"), &col);
        }
    }
    Ok(t.to_parquet("qc/distributions.parquet")?)
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
            files: Vec::new(),
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
    let columns = t.column_names();
    let protein_names =
        if columns.iter().any(|c| c == "protein_names") { t.text("protein_names")? } else { vec![String::new(); np] };
    let annotations = columns
        .iter()
        .filter_map(|c| c.strip_prefix(ANNOTATION_PREFIX).map(|name| (name.to_string(), c)))
        .map(|(name, c)| t.text(c).map(|v| (name, v)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(IntensityTable {
        protein_ids: t.text("protein_id")?,
        majority_ids: t.text("majority_protein_ids")?,
        gene_names: t.text("gene_names")?,
        protein_names,
        annotations,
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
    // Imputed values per protein and group once (proteins × samples), then per contrast a sum over its groups
    // (contrasts × proteins × groups) rather than a pass over every sample for every contrast.
    let ng = gidx.iter().max().map_or(0, |g| g + 1);
    let mut per_group = vec![0u32; np * ng];
    for p in 0..np {
        for s in 0..ns {
            per_group[p * ng + gidx[s]] += u32::from(imputed[p * ns + s]);
        }
    }
    for (j, c) in de.contrasts.iter().enumerate() {
        let groups = |keep: fn(f64) -> bool| -> Vec<usize> {
            c.weights.iter().enumerate().filter(|&(g, &w)| g < ng && keep(w)).map(|(g, _)| g).collect()
        };
        let (pos, neg) = (groups(|w| w > 0.0), groups(|w| w < 0.0));
        for p in 0..np {
            let counts = &per_group[p * ng..(p + 1) * ng];
            a[j * np + p] = pos.iter().map(|&g| counts[g]).sum();
            b[j * np + p] = neg.iter().map(|&g| counts[g]).sum();
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

/// The gene sets compiled last in this process, with the exact bytes they came from. A warm Lambda container or a
/// long-running `proteo serve` then compiles a GMT file once rather than once per job (the shipped collections are
/// indexes already and are only checked). The key is the content (the same static bytes are recognised by address;
/// other bytes compared in full), so a different file, or new bytes under the same name, are compiled anew; one
/// entry only, so the memory held is bounded by one collection.
static PARSED_GENE_SETS: std::sync::Mutex<Option<(Bytes, std::sync::Arc<GeneSets>)>> = std::sync::Mutex::new(None);

/// The gene sets of `bytes`: an index (only under a `builtin:` key, where the bytes are the binary's own) read in
/// place, or GMT text (plain or gzip) compiled.
fn parsed_gene_sets(bytes: Bytes, key: &str, name: &str) -> Result<std::sync::Arc<GeneSets>, StageError> {
    // Held while compiling: concurrent jobs of `proteo serve` wait for one compile instead of each doing it.
    let mut last = PARSED_GENE_SETS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((kept, sets)) = last.as_ref() {
        let same_static = kept.as_ptr() == bytes.as_ptr() && kept.len() == bytes.len();
        if same_static || *kept == bytes {
            return Ok(sets.clone());
        }
    }
    let builtin = key.starts_with(proteo_gene_sets::BUILTIN_PREFIX);
    let sets = if builtin && bytes.starts_with(proteo_gene_sets::MAGIC) {
        GeneSets::new(bytes.clone(), name).map_err(|e| StageError::Internal(e.to_string()))?
    } else {
        GeneSets::from_gmt(&bytes, name).map_err(|e| StageError::InvalidInput(e.to_string()))?
    };
    let sets = std::sync::Arc::new(sets);
    *last = Some((bytes, sets.clone()));
    Ok(sets)
}

/// Drops the gene sets kept by the pathway stage, so that the next run compiles them as a fresh process would
/// (the benchmark uses it to time what `proteo run` and a cold Lambda pay).
pub fn forget_parsed_gene_sets() {
    *PARSED_GENE_SETS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
}

/// Threads the GSEA permutation nulls may use (its results do not depend on the number).
fn gsea_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where each enrichment method's Parquet table and ranked views go (`GET /jobs/{id}/results?table=pathway|gsea|camera`
/// pages the views).
fn method_files(method: EnrichmentMethod) -> (&'static str, &'static str) {
    match method {
        EnrichmentMethod::Ora => ("enrichment.parquet", "ranked"),
        EnrichmentMethod::Gsea => ("gsea.parquet", "ranked/gsea"),
        EnrichmentMethod::Camera => ("camera.parquet", "ranked/camera"),
    }
}

/// The model's least-squares residuals per protein (NaN rows for proteins with a missing value) and the residual
/// df, for CAMERA's estimated inter-gene correlation.
async fn model_residuals(store: &impl ObjectStore, job: &JobSpec) -> Result<(Vec<f64>, usize, usize), StageError> {
    let (design, matrix) = read_design_and_table(store, job, Stage::Qc, "matrix.parquet").await?;
    let (res, df) = proteo_core::de::residuals(&matrix.values, &design, &job.params.de.covariates)
        .map_err(|e| StageError::InvalidInput(e.to_string()))?;
    Ok((res, design.samples.len(), df))
}

async fn pathway_stage(
    store: &impl ObjectStore,
    job: &JobSpec,
    report: &(dyn Fn(u8, &str) + Sync),
) -> Result<StageResult, StageError> {
    let pp = &job.params.pathway;
    pp.check().map_err(StageError::InvalidInput)?;
    report(0, "reading gene sets");
    let gene_sets = gene_sets_key(job)?;
    let gmt_name = gene_sets.rsplit(['/', '\\']).next().unwrap_or(&gene_sets).to_string();
    let gmt = get_input(store, &gene_sets, &gmt_name).await?;
    let sets = parsed_gene_sets(gmt, &gene_sets, &gmt_name)?;
    let matrix = Table::from_parquet(store.get(&job.key(Stage::Qc, "matrix.parquet")).await?, "qc/matrix.parquet")?;
    let background_ids = matrix.text("protein_id")?;
    let background_genes = matrix.text("gene_names")?;
    drop(matrix);
    let results = Table::from_parquet(store.get(&job.key(Stage::De, "results.parquet")).await?, "de/results.parquet")?;
    let (r_ids, r_contrast) = (results.text("protein_id")?, results.text("contrast")?);
    let (r_lfc, r_adj) = (results.f64("log2fc")?, results.f64("adj_p_value")?);
    let ranked_methods = pp.runs(EnrichmentMethod::Gsea) || pp.runs(EnrichmentMethod::Camera);
    let (r_t, r_df) = if ranked_methods { (results.f64("t")?, results.f64("df")?) } else { (Vec::new(), Vec::new()) };
    drop(results);
    report(15, "mapping proteins to gene sets");
    let enricher =
        Enricher::new(&sets, &background_ids, &background_genes, pp.min_set_size, pp.max_set_size, pp.membership);
    let index: std::collections::HashMap<&str, usize> =
        background_ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let camera_cor = match pp.camera_correlation {
        CameraCorrelation::Fixed(r) => InterGeneCorrelation::Fixed(r),
        CameraCorrelation::Named(_) => InterGeneCorrelation::Estimated,
    };
    let residuals = if pp.runs(EnrichmentMethod::Camera) && camera_cor == InterGeneCorrelation::Estimated {
        Some(model_residuals(store, job).await?)
    } else {
        None
    };

    // The DE rows of each contrast, in file order (contrast-major).
    let mut contrasts: Vec<(String, Vec<usize>)> = Vec::new();
    for (r, c) in r_contrast.iter().enumerate() {
        match contrasts.iter_mut().rev().find(|(name, _)| name == c) {
            Some((_, rows)) => rows.push(r),
            None => contrasts.push((c.clone(), vec![r])),
        }
    }
    let gsea_settings =
        GseaSettings { permutations: pp.gsea_permutations, seed: job.params.qc.seed, threads: gsea_threads() };
    let mut writers: Vec<(EnrichmentMethod, TableWriter, RankedWriter)> = pp
        .methods
        .iter()
        .map(|&m| {
            let (file, ranked) = method_files(m);
            (m, TableWriter::new(&format!("pathway/{file}")), RankedWriter::new(Stage::Pathway, ranked))
        })
        .collect();
    let mut top = Vec::new();
    let mut gsea_summary = Vec::new();
    let mut camera_summary = Vec::new();
    for (ci, (contrast, rows)) in contrasts.iter().enumerate() {
        if compute(proteo_core::deadline::check).is_err() {
            return Err(StageError::Timeout(format!(
                "Pathway enrichment stopped at its time limit after {ci} of {} contrasts; name fewer contrasts.",
                contrasts.len()
            )));
        }
        for (method, table, ranked) in writers.iter_mut() {
            let (part, view) = match method {
                EnrichmentMethod::Ora => {
                    let (part, view, selections) =
                        ora_contrast(&enricher, contrast, rows, &index, &r_ids, &r_lfc, &r_adj, pp);
                    top.extend(selections);
                    (part, view)
                }
                EnrichmentMethod::Gsea | EnrichmentMethod::Camera => {
                    let mut t = vec![f64::NAN; background_ids.len()];
                    let mut df = vec![f64::NAN; background_ids.len()];
                    for &r in rows {
                        if let Some(&i) = index.get(r_ids[r].as_str()) {
                            t[i] = r_t[r];
                            df[i] = r_df[r];
                        }
                    }
                    if *method == EnrichmentMethod::Gsea {
                        let out = enricher.gsea(&t, &gsea_settings);
                        gsea_summary.push(ranked_summary(
                            &enricher,
                            contrast,
                            &out.iter().map(|r| (r.tested, r.es, r.adj_p_value)).collect::<Vec<_>>(),
                            pp.alpha,
                        ));
                        gsea_contrast(&enricher, contrast, &out)
                    } else {
                        let res = residuals.as_ref().map(|(r, n, d)| (r.as_slice(), *n, *d));
                        let out = enricher.camera(&t, &df, camera_cor, res).ok_or_else(|| {
                            StageError::InvalidInput(
                                "CAMERA with an estimated inter-gene correlation needs every tested protein's values: \
                                 impute missing values (--impute) or give a fixed correlation (--camera-cor 0.01)"
                                    .to_string(),
                            )
                        })?;
                        camera_summary.push(ranked_summary(
                            &enricher,
                            contrast,
                            &out.iter()
                                .map(|r| (r.tested, if r.up { 1.0 } else { -1.0 }, r.adj_p_value))
                                .collect::<Vec<_>>(),
                            pp.alpha,
                        ));
                        camera_contrast(&enricher, contrast, &out)
                    }
                }
            };
            table.write(part)?;
            ranked.push(store, job, contrast, view).await?;
        }
        report((20 + 75 * (ci + 1) / contrasts.len().max(1)) as u8, &format!("tested {contrast}"));
    }
    let mut keys = Vec::new();
    for (method, table, ranked) in writers {
        let (file, _) = method_files(method);
        let bytes = if table.is_empty() {
            empty_table(method).to_parquet(&format!("pathway/{file}"))?
        } else {
            table.finish()?
        };
        let key = job.key(Stage::Pathway, file);
        store.put(&key, bytes, PARQUET).await?;
        keys.push(key);
        keys.extend(ranked.finish(store, job).await?);
    }
    let mut summary = json!({
        "gene_sets": gmt_name,
        "gene_sets_title": proteo_gene_sets::collection(&pp.gene_sets).map(|c| c.title),
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
        "sets_tested": enricher.n_tested_sets(),
        "methods": pp.methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "selections": top,
    });
    if pp.runs(EnrichmentMethod::Gsea) {
        summary["gsea"] = json!({
            "permutations": pp.gsea_permutations,
            "seed": job.params.qc.seed,
            "statistic": "moderated t",
            "contrasts": gsea_summary,
        });
    }
    if pp.runs(EnrichmentMethod::Camera) {
        summary["camera"] = json!({
            "correlation": pp.camera_correlation.describe(),
            "statistic": "moderated t",
            "contrasts": camera_summary,
        });
    }
    report(100, "done");
    Ok(StageResult { stage: Stage::Pathway, keys, summary })
}

/// Per contrast of GSEA or CAMERA: sets tested, sets at adjusted p < alpha, and the top term each way.
fn ranked_summary(enricher: &Enricher, contrast: &str, rows: &[(u32, f64, f64)], alpha: f64) -> serde_json::Value {
    let best = |up: bool| {
        rows.iter()
            .filter(|r| r.2 < alpha && (r.1 > 0.0) == up)
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .map(|r| enricher.term(r.0).1.to_string())
    };
    json!({
        "contrast": contrast,
        "sets_tested": rows.len(),
        "sets_significant": rows.iter().filter(|r| r.2 < alpha).count(),
        "top_up": best(true),
        "top_down": best(false),
    })
}

/// The ORA rows of one contrast (up, down, both) as a table part, its ranked view, and the selections' summary.
#[allow(clippy::too_many_arguments)]
fn ora_contrast(
    enricher: &Enricher,
    contrast: &str,
    rows: &[usize],
    index: &std::collections::HashMap<&str, usize>,
    r_ids: &[String],
    r_lfc: &[f64],
    r_adj: &[f64],
    pp: &crate::contracts::PathwayParams,
) -> (TableBuilder, Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for &r in rows {
        if is_significant(r_adj[r], r_lfc[r], pp.alpha, pp.min_log2fc) {
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
    let mut out = PathwayColumns::default();
    let mut view = Vec::new();
    let mut selections = Vec::new();
    for (direction, selected) in [("up", &up), ("down", &down), ("both", &both)] {
        let result = if selected.is_empty() { None } else { Some(enricher.ora(selected)) };
        let hits = result.as_ref().map_or(&[][..], |r| &r.hits);
        let significant = hits.iter().filter(|h| h.adj_p_value < pp.alpha).count();
        selections.push(json!({
            "contrast": contrast, "direction": direction, "proteins": selected.len(),
            "terms_significant": significant,
            "top_term": hits.first().filter(|h| h.adj_p_value < pp.alpha).map(|h| enricher.term(h.tested).1.to_string()),
        }));
        for h in hits {
            let (id, name) = enricher.term(h.tested);
            view.push(json!({
                "contrast": contrast, "direction": direction, "termId": id, "termName": name,
                "setSize": h.set_size, "overlap": h.overlap, "foldEnrichment": h.fold_enrichment,
                "pValue": h.p_value, "adjPValue": h.adj_p_value,
            }));
            out.direction.push(direction);
            out.term_id.push(id.to_string());
            out.term_name.push(name.to_string());
            out.set_size.push(h.set_size);
            out.overlap.push(h.overlap);
            out.expected.push(h.expected);
            out.fold_enrichment.push(h.fold_enrichment);
            out.p_value.push(h.p_value);
            out.adj_p_value.push(h.adj_p_value);
            out.proteins.push(enricher.overlap_ids(result.as_ref().expect("hits come from a result"), h));
        }
    }
    let part = out.part(contrast);
    (part, top_of(view), selections)
}

/// The rows of a ranked view: sorted by (adjusted p, p), at most [`RANKED_ROWS`].
fn top_of(mut rows: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let adj: Vec<f64> = rows.iter().map(|r| r["adjPValue"].as_f64().unwrap_or(f64::NAN)).collect();
    let p: Vec<f64> = rows.iter().map(|r| r["pValue"].as_f64().unwrap_or(f64::NAN)).collect();
    top_by_p(&adj, &p, RANKED_ROWS).into_iter().map(|i| rows[i].take()).collect()
}

/// Protein group ids joined as in the ORA `proteins` column.
fn joined_ids(enricher: &Enricher, groups: &[u32]) -> String {
    groups.iter().map(|&g| enricher.protein(g)).collect::<Vec<_>>().join(proteo_core::pathway::OVERLAP_SEPARATOR)
}

fn gsea_contrast(enricher: &Enricher, contrast: &str, rows: &[GseaRow]) -> (TableBuilder, Vec<serde_json::Value>) {
    let terms: Vec<(&str, &str)> = rows.iter().map(|r| enricher.term(r.tested)).collect();
    let leading: Vec<String> = rows.iter().map(|r| joined_ids(enricher, &r.leading_edge)).collect();
    let view = rows
        .iter()
        .zip(&terms)
        .map(|(r, (id, name))| {
            json!({
                "contrast": contrast, "termId": id, "termName": name, "setSize": r.set_size, "es": r.es,
                "nes": r.nes, "pValue": r.p_value, "adjPValue": r.adj_p_value, "leadingEdge": r.leading_edge.len(),
            })
        })
        .collect();
    let part = term_columns(contrast, &terms, rows.iter().map(|r| r.set_size).collect())
        .f64_nullable("es", &rows.iter().map(|r| r.es).collect::<Vec<_>>())
        .f64_nullable("nes", &rows.iter().map(|r| r.nes).collect::<Vec<_>>())
        .f64_nullable("p_value", &rows.iter().map(|r| r.p_value).collect::<Vec<_>>())
        .f64_nullable("adj_p_value", &rows.iter().map(|r| r.adj_p_value).collect::<Vec<_>>())
        .u32("leading_edge_size", rows.iter().map(|r| r.leading_edge.len() as u32).collect())
        .text("leading_edge", &leading);
    (part, top_of(view))
}

/// The leading columns of a GSEA or CAMERA table part: the contrast, each tested term's id and name, its size.
fn term_columns(contrast: &str, terms: &[(&str, &str)], set_sizes: Vec<u32>) -> TableBuilder {
    TableBuilder::new()
        .text_dict("contrast", std::iter::repeat_n(contrast, terms.len()))
        .text("term_id", &terms.iter().map(|t| t.0.to_string()).collect::<Vec<_>>())
        .text("term_name", &terms.iter().map(|t| t.1.to_string()).collect::<Vec<_>>())
        .u32("set_size", set_sizes)
}

fn camera_contrast(enricher: &Enricher, contrast: &str, rows: &[CameraRow]) -> (TableBuilder, Vec<serde_json::Value>) {
    let terms: Vec<(&str, &str)> = rows.iter().map(|r| enricher.term(r.tested)).collect();
    let direction = |r: &CameraRow| if r.up { "up" } else { "down" };
    let view = rows
        .iter()
        .zip(&terms)
        .map(|(r, (id, name))| {
            json!({
                "contrast": contrast, "direction": direction(r), "termId": id, "termName": name,
                "setSize": r.set_size, "correlation": r.correlation, "pValue": r.p_value, "adjPValue": r.adj_p_value,
            })
        })
        .collect();
    let part = term_columns(contrast, &terms, rows.iter().map(|r| r.set_size).collect())
        .f64_nullable("correlation", &rows.iter().map(|r| r.correlation).collect::<Vec<_>>())
        .text_dict("direction", rows.iter().map(direction))
        .f64_nullable("p_value", &rows.iter().map(|r| r.p_value).collect::<Vec<_>>())
        .f64_nullable("adj_p_value", &rows.iter().map(|r| r.adj_p_value).collect::<Vec<_>>());
    (part, top_of(view))
}

/// The columns of a method's table, without rows (a job without contrasts).
fn empty_table(method: EnrichmentMethod) -> TableBuilder {
    let enricher_free = |b: TableBuilder| b;
    match method {
        EnrichmentMethod::Ora => PathwayColumns::default().part(""),
        EnrichmentMethod::Gsea => enricher_free(
            TableBuilder::new()
                .text_dict("contrast", std::iter::empty())
                .text("term_id", &[])
                .text("term_name", &[])
                .u32("set_size", vec![])
                .f64_nullable("es", &[])
                .f64_nullable("nes", &[])
                .f64_nullable("p_value", &[])
                .f64_nullable("adj_p_value", &[])
                .u32("leading_edge_size", vec![])
                .text("leading_edge", &[]),
        ),
        EnrichmentMethod::Camera => TableBuilder::new()
            .text_dict("contrast", std::iter::empty())
            .text("term_id", &[])
            .text("term_name", &[])
            .u32("set_size", vec![])
            .f64_nullable("correlation", &[])
            .text_dict("direction", std::iter::empty())
            .f64_nullable("p_value", &[])
            .f64_nullable("adj_p_value", &[]),
    }
}

#[derive(Default)]
struct PathwayColumns {
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

impl PathwayColumns {
    /// The ORA table's rows of `contrast` (no rows: the table's columns, for a job without contrasts).
    fn part(self, contrast: &str) -> TableBuilder {
        TableBuilder::new()
            .text_dict("contrast", std::iter::repeat_n(contrast, self.term_id.len()))
            .text_dict("direction", self.direction.iter().copied())
            .text("term_id", &self.term_id)
            .text("term_name", &self.term_name)
            .u32("set_size", self.set_size)
            .u32("overlap", self.overlap)
            .f64("expected", self.expected)
            .f64("fold_enrichment", self.fold_enrichment)
            .f64("p_value", self.p_value)
            .f64("adj_p_value", self.adj_p_value)
            .text("proteins", &self.proteins)
    }
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
        let first = parsed_gene_sets(a.clone(), "a.gmt", "a.gmt").unwrap();
        // Same content in another buffer: still the parsed value kept.
        let again = parsed_gene_sets(Bytes::copy_from_slice(&a), "a.gmt", "a.gmt").unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &again));
        let other = parsed_gene_sets(Bytes::from_static(b"S1\tone\tP1\n"), "a.gmt", "a.gmt").unwrap();
        assert!(!std::sync::Arc::ptr_eq(&first, &other));
        assert_eq!((first.len(), other.len()), (2, 1));
        // A bad file is an InvalidInput naming it, and leaves the kept value alone.
        let err = parsed_gene_sets(Bytes::from_static(b"S1 no tabs\n"), "bad.gmt", "bad.gmt").unwrap_err();
        assert!(matches!(&err, StageError::InvalidInput(m) if m.contains("bad.gmt")), "{err:?}");
        let same = parsed_gene_sets(Bytes::from_static(b"S1\tone\tP1\n"), "x", "x").unwrap();
        assert!(std::sync::Arc::ptr_eq(&other, &same));
        forget_parsed_gene_sets();
        let fresh = parsed_gene_sets(Bytes::from_static(b"S1\tone\tP1\n"), "a.gmt", "a.gmt").unwrap();
        assert!(!std::sync::Arc::ptr_eq(&other, &fresh));
        // Index bytes are read in place only under a `builtin:` key; elsewhere they are taken as GMT text (an error or
        // nonsense sets, never the index's sets).
        let index = Bytes::from(proteo_gene_sets::compile_gmt(b"S1\tone\tP1\tP2\n", "s.gmt").unwrap());
        let built = parsed_gene_sets(index.clone(), "builtin:test", "test").unwrap();
        assert_eq!(built.n_keys(), 2);
        forget_parsed_gene_sets();
        let as_text = parsed_gene_sets(index, "upload:s.gmt", "s.gmt");
        assert!(!matches!(&as_text, Ok(s) if s.len() == 1 && s.id(0) == "S1"), "an uploaded index is not trusted");
    }
}
