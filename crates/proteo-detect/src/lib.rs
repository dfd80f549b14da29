//! Which tool wrote a protein table and which of its columns hold ids, genes, annotation and samples: one ordered
//! rule table over the header line (or a Parquet schema), each match with the reason it matched.
//!
//! Dependency-free on purpose (serde, csv, strsim): the analysis readers (`proteo-core`), `proteo inspect`, the
//! ingest Lambda and the API's `POST /inspect` (which must not link the analysis code) all run this one detection.

pub mod format;
pub mod header;
pub mod limits;
pub mod names;
mod precursor;
mod rules;
pub mod text;

use serde::{Deserialize, Serialize};

pub use format::InputFormat;
pub use header::{HeaderProblem, HeaderView, Source};
pub use precursor::{
    long_run_column, matrix_runs, precursor_kind, run_name_from_path, PrecursorKind, DIANN_RUN_EXTENSIONS,
};
pub use rules::{binary_kind, rule_requirements};

/// A column of the file: its 0-based position and its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Col {
    pub index: usize,
    pub name: String,
}

/// A column holding one sample's quantities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleColumn {
    pub index: usize,
    /// The column header as written.
    pub header: String,
    /// The sample name the table gets (prefix/suffix and, for run names, directories and extension removed).
    pub sample: String,
    /// A group the header itself names (Proteome Discoverer `Abundance: F1: Sample, ConditionA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_hint: Option<String>,
}

impl SampleColumn {
    /// A sample column whose sample name is not taken from a header (no group hint).
    pub fn new(index: usize, header: &str, sample: String) -> SampleColumn {
        SampleColumn { index, header: header.to_string(), sample, group_hint: None }
    }
}

/// A long table (one row per protein × run × …): which columns make the protein × run matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LongLayout {
    pub run: Col,
    pub protein: Col,
    pub quantity: Col,
    /// The run column holds file paths (DIA-NN `File.Name`): runs are named by [`run_name_from_path`].
    #[serde(default)]
    pub run_is_path: bool,
}

/// What a matching row filter counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Removed {
    Reverse,
    Contaminant,
    OnlyBySite,
    /// Proteome Discoverer rows that are not the master protein of their group.
    NotMaster,
}

/// How a row filter tests its cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Test {
    /// The cell is exactly this text (after trimming; `+` for MaxQuant flags, `True` for PD).
    Equals(String),
    /// The cell is not this text (PD `Master` ≠ `IsMasterProtein`); an empty cell passes.
    NotEquals(String),
    /// The cell starts with this text (`contam_`, `REV__`).
    Prefix(String),
}

/// Rows removed before analysis, counted in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowFilter {
    pub column: Col,
    pub test: Test,
    pub removed: Removed,
}

/// What happens to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A protein table: read it.
    Read,
    /// A precursor-level report: quantify proteins from it (the quant path).
    Quantify,
    /// Not something proteo analyses (peptide level, DE results, a design…): refused with `advice`.
    Refuse,
}

/// What detection found, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// The reader; `None` for files that are refused.
    pub format: Option<InputFormat>,
    pub tool: String,
    /// The file kind as the tool names it (`proteinGroups.txt`, `report.pg_matrix.tsv`, …).
    pub kind: String,
    /// The tool version or layout, where the header tells it.
    pub version: Option<String>,
    /// Which columns matched, as a sentence fragment (`\`Protein IDs\` and 9 \`LFQ intensity <sample>\` columns`).
    pub reason: String,
    pub action: Action,
    /// For a refused or quantified file: what to do instead, or what will happen.
    pub advice: Option<String>,
    pub id_column: Option<Col>,
    pub majority_ids_column: Option<Col>,
    pub gene_column: Option<Col>,
    pub protein_names_column: Option<Col>,
    /// Other per-protein columns kept with the table (species, counts, descriptions).
    pub annotation_columns: Vec<Col>,
    /// The quantity used (`LFQ intensity`, `MaxLFQ Intensity`, `PG.Quantity`, …).
    pub quantity: String,
    /// The quantities are log2 already (TMT-Integrator): QC skips the log2 transform.
    pub log2: bool,
    pub samples: Vec<SampleColumn>,
    pub long: Option<LongLayout>,
    /// A precursor-level report's kind ([`Action::Quantify`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precursor: Option<PrecursorKind>,
    pub filters: Vec<RowFilter>,
    /// MaxQuant: lines whose id cell is bare numbers (Excel spill-over of an over-long cell) are dropped.
    pub drops_spillover_lines: bool,
    /// Cell texts that mean "missing" for this tool besides empty, `NA`, `NaN` (Spectronaut `Filtered`).
    pub missing_markers: Vec<String>,
    /// Columns neither id, gene, annotation nor sample (per-sample counts, scores, other quantities).
    pub ignored_columns: usize,
    pub source: Option<Source>,
}

impl Detection {
    pub(crate) fn new(format: Option<InputFormat>, tool: &str, kind: &str, action: Action) -> Detection {
        Detection {
            format,
            tool: tool.to_string(),
            kind: kind.to_string(),
            version: None,
            reason: String::new(),
            action,
            advice: None,
            id_column: None,
            majority_ids_column: None,
            gene_column: None,
            protein_names_column: None,
            annotation_columns: Vec::new(),
            quantity: String::new(),
            log2: false,
            samples: Vec::new(),
            long: None,
            precursor: None,
            filters: Vec::new(),
            drops_spillover_lines: false,
            missing_markers: Vec::new(),
            ignored_columns: 0,
            source: None,
        }
    }

    /// The title with its article, as messages say it: "a MaxQuant evidence.txt", "an mzTab identification file".
    pub fn looks_like(&self) -> String {
        let title = self.title();
        let vowel = title.chars().next().is_some_and(|c| "AEIOUaeiou".contains(c));
        let an = vowel || title.starts_with("mzTab") || title.starts_with("SDRF");
        format!("{} {title}", if an { "an" } else { "a" })
    }

    /// `MaxQuant proteinGroups.txt (≥ 1.5.3)`.
    pub fn title(&self) -> String {
        match &self.version {
            Some(v) => format!("{} {} ({v})", self.tool, self.kind),
            None => format!("{} {}", self.tool, self.kind),
        }
    }
}

/// What the caller knows besides the header.
#[derive(Debug, Clone, Copy, Default)]
pub struct DetectOptions<'a> {
    /// The file's name (a hint for kinds that share a header, e.g. TMT-Integrator `ratio_` vs `abundance_`).
    pub file_name: &'a str,
    /// Read the file as this format instead of detecting it.
    pub format: Option<InputFormat>,
    /// The samples the design names: a plain matrix's sample columns are then those, every other column annotation.
    pub design_samples: Option<&'a [String]>,
}

/// Why detection refused to name a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetectError {
    /// `--format` named a reader whose columns this header does not have: what that reader needs.
    FormatMismatch { format: InputFormat, needs: String },
    /// More sample columns than [`limits::MAX_SAMPLE_COLUMNS`].
    TooManySamples { found: usize },
    /// No column could be a sample.
    NoSamples { columns: Vec<String> },
}

/// Detect the kind of table from its header. A file some rule refuses (peptide tables, DE results, designs…) is
/// a [`Detection`] with [`Action::Refuse`], not an error: it has a reason too.
pub fn detect(view: &HeaderView, options: &DetectOptions<'_>) -> Result<Detection, DetectError> {
    let mut d = rules::run(view, options)?;
    d.source = view.source;
    if d.samples.len() > limits::MAX_SAMPLE_COLUMNS {
        return Err(DetectError::TooManySamples { found: d.samples.len() });
    }
    Ok(d)
}

/// `a`, `b` and 3 more: up to [`limits::MAX_LISTED`] names, each cut to [`limits::MAX_QUOTED_CHARS`], in backticks.
pub fn list_names<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        return "no columns".to_string();
    }
    let mut out = String::new();
    for (i, n) in names.iter().take(limits::MAX_LISTED).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('`');
        out.push_str(&text::excerpt(n.as_ref()));
        out.push('`');
    }
    if names.len() > limits::MAX_LISTED {
        out.push_str(&format!(" and {} more", names.len() - limits::MAX_LISTED));
    }
    out
}
