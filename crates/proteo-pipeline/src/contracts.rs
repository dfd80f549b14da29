//! What travels between stages: job spec, parameters and the S3-style keys of every output (never the data).

use proteo_core::de::DeParams;
use proteo_core::model::{InputFormat, SampleSelection};
use proteo_core::qc::QcParams;
use proteo_core::quant::QuantParams;
use proteo_jobs::params::{Origin, ParamError};
use serde::{Deserialize, Serialize};

/// Default significance cut-off on the BH-adjusted p-value (LFQ-Analyst / DEP default).
pub const DEFAULT_ALPHA: f64 = 0.05;
/// Default minimum |log2 fold change| for a protein to count as significant (LFQ-Analyst / DEP default).
pub const DEFAULT_MIN_LOG2FC: f64 = 1.0;
pub use proteo_core::pathway::{DEFAULT_MAX_SET_SIZE, DEFAULT_MIN_SET_SIZE};
pub use proteo_stats::camera::DEFAULT_INTER_GENE_COR;
pub use proteo_stats::gsea::DEFAULT_PERMUTATIONS as DEFAULT_GSEA_PERMUTATIONS;

/// Most GSEA permutations a job may ask for (the job-parameter check's bound).
pub const MAX_GSEA_PERMUTATIONS: usize = proteo_jobs::params::MAX_GSEA_PERMUTATIONS as usize;

/// An enrichment method of the pathway stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnrichmentMethod {
    /// Over-representation of the significant proteins (hypergeometric), per contrast and direction.
    Ora,
    /// Preranked GSEA on the moderated t, per contrast (gene-set permutations).
    Gsea,
    /// limma CAMERA on the moderated t, per contrast.
    Camera,
}

impl EnrichmentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrichmentMethod::Ora => "ora",
            EnrichmentMethod::Gsea => "gsea",
            EnrichmentMethod::Camera => "camera",
        }
    }
}

/// The methods run when a job names none: ORA and CAMERA. GSEA is asked for: its permutation nulls cost about
/// 0.1 s per contrast on 5 000 proteins and GO BP (`proteo bench`), which on 36 contrasts would be most of a run
/// whose statistics take 0.06 s.
pub const DEFAULT_ENRICHMENT: [EnrichmentMethod; 2] = [EnrichmentMethod::Ora, EnrichmentMethod::Camera];

/// The inter-gene correlation CAMERA assumes: a fixed value (JSON number) or `"estimated"` per set from the model's
/// residuals (limma `inter.gene.cor = NA`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CameraCorrelation {
    Fixed(f64),
    Named(CameraCorrelationName),
}

/// The one named [`CameraCorrelation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraCorrelationName {
    Estimated,
}

impl Default for CameraCorrelation {
    fn default() -> Self {
        CameraCorrelation::Fixed(DEFAULT_INTER_GENE_COR)
    }
}

impl CameraCorrelation {
    /// In words, for the summary and the methods text.
    pub fn describe(self) -> String {
        match self {
            CameraCorrelation::Fixed(r) => format!("inter-gene correlation fixed at {r}"),
            CameraCorrelation::Named(CameraCorrelationName::Estimated) => {
                "inter-gene correlation estimated per set from the model residuals".to_string()
            }
        }
    }
}

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
    /// The enrichment methods to run.
    pub methods: Vec<EnrichmentMethod>,
    /// Random gene sets per set size for GSEA's null (seeded by `qc.seed`).
    pub gsea_permutations: usize,
    pub camera_correlation: CameraCorrelation,
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
            methods: DEFAULT_ENRICHMENT.to_vec(),
            gsea_permutations: DEFAULT_GSEA_PERMUTATIONS,
            camera_correlation: CameraCorrelation::default(),
        }
    }

    /// Whether `method` is to run.
    pub fn runs(&self, method: EnrichmentMethod) -> bool {
        self.methods.contains(&method)
    }

    /// The enrichment settings checked: a sentence for the user when one is out of range.
    pub fn check(&self) -> Result<(), String> {
        if self.methods.is_empty() {
            return Err("`pathway.methods` is empty: choose at least one of ora, gsea, camera".into());
        }
        if !(1..=MAX_GSEA_PERMUTATIONS).contains(&self.gsea_permutations) {
            return Err(format!(
                "`pathway.gsea_permutations` is {}: use 1 to {MAX_GSEA_PERMUTATIONS} (1000 is usual)",
                self.gsea_permutations
            ));
        }
        if let CameraCorrelation::Fixed(r) = self.camera_correlation {
            if !(r.is_finite() && r > -1.0 && r < 1.0) {
                return Err(format!(
                    "`pathway.camera_correlation` is {r}: give a correlation between -1 and 1 (limma's default 0.01), or \"estimated\""
                ));
            }
        }
        if self.min_set_size > self.max_set_size {
            return Err(format!(
                "the smallest gene-set size ({}) is above the largest ({})",
                self.min_set_size, self.max_set_size
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
/// Checked by [`JobParams::from_value`] (stored jobs) and [`JobParams::check`] (a local run) with the one rule set of
/// [`proteo_jobs::params`], which the API applies at `POST /jobs` too.
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

impl JobParams {
    /// The parameters of a stored job (the job item's `params`): checked field by field first, so every refusal
    /// names its field and the allowed range, then read.
    pub fn from_value(params: &serde_json::Value) -> Result<JobParams, ParamError> {
        proteo_jobs::params::check(params, Origin::Job)?;
        if params.is_null() {
            return Ok(JobParams::default());
        }
        serde_json::from_value(params.clone())
            .map_err(|e| ParamError { field: String::new(), message: format!("could not be read: {e}") })
    }

    /// Check parameters built in code (the CLI's flags) with the same rules; `origin` says whether gene sets may
    /// be a path on this machine.
    pub fn check(&self, origin: Origin) -> Result<(), ParamError> {
        let value = serde_json::to_value(self)
            .map_err(|e| ParamError { field: String::new(), message: format!("could not be written as JSON: {e}") })?;
        proteo_jobs::params::check(&value, origin)
    }
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
    /// The job summary and `report.html` from what the analysis stages wrote (the report Lambda). Its failure leaves
    /// the job SUCCEEDED with a warning: the statistics are complete without it.
    Report,
}

impl Stage {
    /// The analysis stages in order; each writes `<stage>/summary.json`, which the job summary merges.
    /// [`Stage::Report`] follows them.
    pub const ALL: [Stage; 4] = [Stage::Ingest, Stage::Qc, Stage::De, Stage::Pathway];
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Qc => "qc",
            Stage::De => "de",
            Stage::Pathway => "pathway",
            Stage::Report => "report",
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
            Stage::Pathway => (80, 15),
            Stage::Report => (95, 4),
        };
        (start + span * percent.min(100) as u32 / 100) as u8
    }
    /// How long one run of the stage may take: the `Timeout` of its Lambda function in infra/template.yaml
    /// (ingest and report 120 s, the others 300 s), which `proteo serve` enforces too.
    pub fn time_limit(self) -> std::time::Duration {
        match self {
            Stage::Ingest | Stage::Report => std::time::Duration::from_secs(120),
            Stage::Qc | Stage::De | Stage::Pathway => std::time::Duration::from_secs(300),
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Stage::Ingest => "Reading input",
            Stage::Qc => "Quality control",
            Stage::De => "Differential expression",
            Stage::Pathway => "Pathway enrichment",
            Stage::Report => "Report",
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

#[cfg(test)]
mod tests {
    use super::*;
    use proteo_core::de::{DeMethod, FTestMode, Posthoc};
    use proteo_core::qc::{Impute, Normalize};
    use serde_json::{json, Value};

    /// Every variant of the parameter enums. The matches have no wildcard: a new variant does not compile until
    /// it is listed here, and the test then fails until `proteo_jobs::params` accepts it.
    fn every_variant() -> Vec<(&'static str, &'static str, Value)> {
        let mut out = Vec::new();
        for f in InputFormat::ALL {
            out.push(("", "format", json!(f)));
        }
        for s in [SampleSelection::All, SampleSelection::FromDesign] {
            match s {
                SampleSelection::All | SampleSelection::FromDesign => out.push(("", "samples", json!(s))),
            }
        }
        use proteo_core::quant::Quantity;
        for q in [Quantity::Auto, Quantity::PrecursorNormalised, Quantity::PrecursorQuantity, Quantity::PgMaxlfq] {
            match q {
                Quantity::Auto | Quantity::PrecursorNormalised | Quantity::PrecursorQuantity | Quantity::PgMaxlfq => {
                    out.push(("quant", "quantity", json!(q)))
                }
            }
        }
        for n in [Normalize::Median, Normalize::Quantile, Normalize::CyclicLoess, Normalize::None] {
            match n {
                Normalize::Median | Normalize::Quantile | Normalize::CyclicLoess | Normalize::None => {
                    out.push(("qc", "normalize", json!(n)))
                }
            }
        }
        for i in [Impute::Perseus, Impute::MinProb, Impute::HalfMin, Impute::Knn, Impute::None] {
            match i {
                Impute::Perseus | Impute::MinProb | Impute::HalfMin | Impute::Knn | Impute::None => {
                    out.push(("qc", "impute", json!(i)))
                }
            }
        }
        use proteo_core::pathway::Membership;
        for m in [Membership::LeadingAccession, Membership::AnyMember] {
            match m {
                Membership::LeadingAccession | Membership::AnyMember => out.push(("pathway", "membership", json!(m))),
            }
        }
        for f in [FTestMode::PerProtein, FTestMode::Shared] {
            match f {
                FTestMode::PerProtein | FTestMode::Shared => out.push(("de", "f_test", json!(f))),
            }
        }
        for m in [DeMethod::Limma, DeMethod::Welch, DeMethod::Student, DeMethod::Anova, DeMethod::WelchAnova] {
            match m {
                DeMethod::Limma | DeMethod::Welch | DeMethod::Student | DeMethod::Anova | DeMethod::WelchAnova => {
                    out.push(("de", "method", json!(m)))
                }
            }
        }
        for p in [Posthoc::None, Posthoc::Tukey] {
            match p {
                Posthoc::None | Posthoc::Tukey => out.push(("de", "posthoc", json!(p))),
            }
        }
        out
    }

    #[test]
    fn params_schema_matches_job_params() {
        let defaults = serde_json::to_value(JobParams::default()).unwrap();
        proteo_jobs::params::check(&defaults, Origin::Job).expect("the defaults pass the door");
        assert_eq!(JobParams::from_value(&defaults).unwrap(), JobParams::default());
        for (section, field, value) in every_variant() {
            let mut v = json!({});
            if section.is_empty() {
                v[field] = value.clone();
            } else {
                v[section] = json!({ field: value.clone() });
            }
            let read = JobParams::from_value(&v).unwrap_or_else(|e| panic!("{v}: {e}"));
            let back = serde_json::to_value(&read).unwrap();
            let written = if section.is_empty() { &back[field] } else { &back[section][field] };
            assert_eq!(written, &value, "{v}");
        }
        // Every field the struct writes is one the door knows (a field the door lacks is refused as unknown).
        let full = json!({"format": "maxquant", "qc": {"min_valid": 2}, "de": {"treat_lfc": 1.0},
            "quant": {"pg_q_value": 0.01, "proteotypic_only": true}, "samples": "from-design"});
        assert!(JobParams::from_value(&full).is_ok());
    }

    #[test]
    fn the_refusals_the_issue_lists_name_their_field() {
        let cases = [
            (json!({"pathway": {"alpha": 2.0}}), "pathway.alpha"),
            (json!({"pathway": {"min_log2fc": -1.0}}), "pathway.min_log2fc"),
            (json!({"de": {"treat_lfc": -1.0}}), "de.treat_lfc"),
            (json!({"pathway": {"min_set_size": 500, "max_set_size": 10}}), "pathway.min_set_size"),
            (json!({"de": {"contrasts": ""}}), "de.contrasts"),
            (json!({"pathway": {"gene_sets": "jobs/other/input/proteinGroups.txt"}}), "pathway.gene_sets"),
            (json!({"qc": {"seed": "7"}}), "qc.seed"),
            (json!({"quant": {"q_value": 1.5}}), "quant.q_value"),
            (json!({"quant": {"min_shared": 0}}), "quant.min_shared"),
            (json!({"samples": "some"}), "samples"),
        ];
        for (v, field) in cases {
            assert_eq!(JobParams::from_value(&v).unwrap_err().field, field, "{v}");
        }
        let nan = JobParams { pathway: PathwayParams { alpha: f64::NAN, ..Default::default() }, ..Default::default() };
        let e = nan.check(Origin::Local).unwrap_err();
        assert_eq!(e.field, "pathway.alpha", "NaN is written as null and refused: {e}");
        let inf = JobParams {
            pathway: PathwayParams { min_log2fc: f64::NEG_INFINITY, ..Default::default() },
            ..Default::default()
        };
        assert_eq!(inf.check(Origin::Local).unwrap_err().field, "pathway.min_log2fc");
    }
}
