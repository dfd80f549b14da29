//! The in-memory data model: an intensity matrix with protein annotations, and the sample design.

use std::collections::BTreeMap;

/// Protein × sample intensities, row-major, `NaN` = missing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntensityTable {
    pub protein_ids: Vec<String>,
    /// Per protein, `Majority protein IDs` (MaxQuant) or empty when the format has none.
    pub majority_ids: Vec<String>,
    /// Per protein, the tool's gene column, else genes parsed from UniProt-style ids; empty when neither has one.
    pub gene_names: Vec<String>,
    /// Per protein, the tool's protein-name column, else entry names parsed from UniProt-style ids.
    pub protein_names: Vec<String>,
    /// Other per-protein columns of the input (species, peptide counts, descriptions), by header, as text.
    pub annotations: Vec<(String, Vec<String>)>,
    pub samples: Vec<String>,
    /// `protein_ids.len() × samples.len()`, row-major.
    pub values: Vec<f64>,
}

impl IntensityTable {
    pub fn n_proteins(&self) -> usize {
        self.protein_ids.len()
    }
    pub fn n_samples(&self) -> usize {
        self.samples.len()
    }
    pub fn row(&self, i: usize) -> &[f64] {
        let n = self.samples.len();
        &self.values[i * n..(i + 1) * n]
    }
    pub fn value(&self, protein: usize, sample: usize) -> f64 {
        self.values[protein * self.samples.len() + sample]
    }
}

/// Input format, detected from the header or forced with `--format` (defined with the detection rules).
pub use proteo_detect::InputFormat;

/// Which of the table's samples a job analyses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SampleSelection {
    /// Every sample column must be in the design and every design sample in the table.
    #[default]
    All,
    /// The samples the design names; the table's other sample columns are ignored (and listed).
    FromDesign,
}

/// What reading the input did: the numbers a user wants to see in the run summary.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct InputReport {
    /// The reader (`maxquant`, `diann-pg-matrix`, …; see [`InputFormat`]).
    pub format: String,
    /// The tool and file kind detected, with the version where the header tells it.
    pub detected: String,
    /// Why: which columns matched.
    pub reason: String,
    /// The quantity used, e.g. `LFQ intensity` for MaxQuant, `MaxLFQ Intensity` for FragPipe.
    pub intensity_columns: String,
    /// The values were log2 already (TMT-Integrator): QC skips the log2 transform.
    pub log2_input: bool,
    pub rows_read: usize,
    pub removed_reverse: usize,
    pub removed_contaminant: usize,
    pub removed_only_by_site: usize,
    /// For a precursor-level report: its filters (thresholds and rows removed) and the quantification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precursor: Option<crate::quant::QuantReport>,
    /// Proteome Discoverer rows that are not the master protein of their group.
    pub removed_not_master: usize,
    /// Rows shorter than the header, filled with empty cells as R `read.delim(fill = TRUE)` does.
    pub short_rows_filled: usize,
    /// MaxQuant lines that are not protein rows (Excel spill-over of an over-long cell: bare numeric ids).
    pub spillover_lines_dropped: usize,
    /// Columns kept as annotation (at most [`crate::limits::MAX_REPORTED_NAMES`] named).
    pub annotation_columns: Vec<String>,
    /// Table samples the design does not name, left out with `--samples from-design` (at most
    /// [`crate::limits::MAX_REPORTED_NAMES`] named; `samples_ignored_count` counts them all).
    pub samples_ignored: Vec<String>,
    pub samples_ignored_count: usize,
    /// Gene names that were parsed from UniProt-style ids because the file has no gene column.
    pub genes_from_ids: usize,
}

/// One row of the design file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampleInfo {
    pub sample: String,
    pub group: String,
    pub replicate: Option<String>,
    pub pair: Option<String>,
    pub batch: Option<String>,
    /// Every other column of the design file, as text (numeric covariates are parsed when requested).
    pub extra: BTreeMap<String, String>,
    /// Other names of this sample's data (SDRF `comment[data file]`), also matched against the table's columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

impl SampleInfo {
    /// A sample of `group` with no replicate, pair, batch, other columns or other file names.
    pub fn in_group(sample: impl Into<String>, group: impl Into<String>) -> SampleInfo {
        SampleInfo {
            sample: sample.into(),
            group: group.into(),
            replicate: None,
            pair: None,
            batch: None,
            extra: BTreeMap::new(),
            files: Vec::new(),
        }
    }
}

/// The sample design: samples in file order, groups in order of first appearance.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Design {
    pub samples: Vec<SampleInfo>,
}

impl Design {
    /// Group names in order of first appearance in the design file.
    pub fn groups(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.samples {
            if !out.contains(&s.group) {
                out.push(s.group.clone());
            }
        }
        out
    }

    /// For each sample, the index of its group in [`Design::groups`].
    pub fn group_index(&self) -> Vec<usize> {
        let groups = self.groups();
        self.samples.iter().map(|s| groups.iter().position(|g| g == &s.group).expect("group listed")).collect()
    }

    pub fn sample_names(&self) -> Vec<String> {
        self.samples.iter().map(|s| s.sample.clone()).collect()
    }
}
