//! What travels between stages: job spec, parameters and the S3-style keys of every output (never the data).

use proteo_core::de::DeParams;
use proteo_core::model::{InputFormat, SampleSelection};
use proteo_core::qc::QcParams;
use proteo_core::quant::QuantParams;
use serde::{Deserialize, Serialize};

/// Default significance cut-off on the BH-adjusted p-value (LFQ-Analyst / DEP default).
pub const DEFAULT_ALPHA: f64 = 0.05;
/// Default minimum |log2 fold change| for a protein to count as significant (LFQ-Analyst / DEP default).
pub const DEFAULT_MIN_LOG2FC: f64 = 1.0;
pub use proteo_core::pathway::{DEFAULT_MAX_SET_SIZE, DEFAULT_MIN_SET_SIZE};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathwayParams {
    pub alpha: f64,
    pub min_log2fc: f64,
    /// Store key (or local path) of the GMT file, gzip or plain; empty = the deployment's default gene sets.
    pub gene_sets: String,
    pub min_set_size: usize,
    pub max_set_size: usize,
    /// Which accessions of a protein group are matched against the gene sets.
    pub membership: proteo_core::pathway::Membership,
}

impl Default for PathwayParams {
    fn default() -> Self {
        PathwayParams::with_gene_sets("")
    }
}

impl PathwayParams {
    pub fn with_gene_sets(gene_sets: impl Into<String>) -> Self {
        PathwayParams {
            alpha: DEFAULT_ALPHA,
            min_log2fc: DEFAULT_MIN_LOG2FC,
            gene_sets: gene_sets.into(),
            min_set_size: DEFAULT_MIN_SET_SIZE,
            max_set_size: DEFAULT_MAX_SET_SIZE,
            membership: Default::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct JobParams {
    /// `None` = detect from the header.
    pub format: Option<InputFormat>,
    /// How a precursor-level report (DIA-NN report.parquet/.tsv, AlphaDIA precursors) becomes a protein matrix.
    pub quant: QuantParams,
    /// Analyse every sample column (`all`, the design must list them all) or only the design's (`from-design`).
    pub samples: SampleSelection,
    pub qc: QcParams,
    pub de: DeParams,
    pub pathway: PathwayParams,
    pub output: OutputParams,
}

/// How results are stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OutputParams {
    /// Keep every bit of the DE statistics. By default they are stored to
    /// [`proteo_core::tables::STORED_MANTISSA_BITS`] mantissa bits (11 significant digits), which makes
    /// `de/results.parquet` about a third smaller.
    pub full_precision: bool,
}

/// Everything a stage needs to find its inputs and place its outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    pub job_id: String,
    /// Prefix of every output key: `jobs/<job_id>/` in the cloud, empty for a local run into an output directory.
    pub prefix: String,
    pub input_key: String,
    pub design_key: String,
    pub params: JobParams,
}

impl JobSpec {
    /// Output keys are a pure function of (job, stage, file), so a retried stage overwrites with identical bytes.
    pub fn key(&self, stage: Stage, file: &str) -> String {
        format!("{}{}/{}", self.prefix, stage.folder(), file)
    }
    pub fn summary_key(&self) -> String {
        format!("{}summary.json", self.prefix)
    }
    /// The self-contained HTML report, written after the job summary.
    pub fn report_key(&self) -> String {
        format!("{}report.html", self.prefix)
    }
    /// The file name users recognise in messages.
    pub fn input_name(&self) -> &str {
        file_name(&self.input_key)
    }
    pub fn design_name(&self) -> &str {
        file_name(&self.design_key)
    }
}

fn file_name(key: &str) -> &str {
    key.rsplit(['/', '\\']).next().unwrap_or(key)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Validate the upload and convert it to Parquet (the ingest Lambda; locally the first step).
    Ingest,
    Qc,
    De,
    Pathway,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Ingest, Stage::Qc, Stage::De, Stage::Pathway];
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Qc => "qc",
            Stage::De => "de",
            Stage::Pathway => "pathway",
        }
    }
    /// The folder of the job's keys this stage writes (`ingest/` is apart from `input/`, where users upload).
    pub fn folder(self) -> &'static str {
        self.as_str()
    }
    /// Map progress within this stage (0–100) onto the whole job's 0–100, so job progress only increases.
    pub fn overall_progress(self, percent: u8) -> u8 {
        let (start, span) = match self {
            Stage::Ingest => (0u32, 10u32),
            Stage::Qc => (10, 30),
            Stage::De => (40, 40),
            Stage::Pathway => (80, 19),
        };
        (start + span * percent.min(100) as u32 / 100) as u8
    }
    pub fn title(self) -> &'static str {
        match self {
            Stage::Ingest => "Reading input",
            Stage::Qc => "Quality control",
            Stage::De => "Differential expression",
            Stage::Pathway => "Pathway enrichment",
        }
    }
}

/// What a stage returns: the keys it wrote and a small summary (kept ≤ 1 KB so it fits a Step Functions state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    pub stage: Stage,
    pub keys: Vec<String>,
    pub summary: serde_json::Value,
}
