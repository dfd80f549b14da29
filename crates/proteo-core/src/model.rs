//! The in-memory data model: an intensity matrix with protein annotations, and the sample design.

use std::collections::BTreeMap;

/// Protein × sample intensities, row-major, `NaN` = missing.
#[derive(Debug, Clone, PartialEq)]
pub struct IntensityTable {
    pub protein_ids: Vec<String>,
    /// Per protein, `Majority protein IDs` (MaxQuant) or empty when the format has none.
    pub majority_ids: Vec<String>,
    /// Per protein, `Gene names` (MaxQuant) or empty when the format has none.
    pub gene_names: Vec<String>,
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

/// Input format, detected from the header or forced with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// First column protein id, then one numeric column per sample.
    Matrix,
    /// MaxQuant `proteinGroups.txt`.
    Maxquant,
}

impl InputFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Matrix => "matrix",
            InputFormat::Maxquant => "maxquant",
        }
    }
}

/// What reading the input did: the numbers a user wants to see in the run summary.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputReport {
    pub format: String,
    /// e.g. `LFQ intensity` or `Intensity` for MaxQuant; empty for a plain matrix.
    pub intensity_columns: String,
    pub rows_read: usize,
    pub removed_reverse: usize,
    pub removed_contaminant: usize,
    pub removed_only_by_site: usize,
    /// For a precursor-level report: its filters (thresholds and rows removed) and the quantification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precursor: Option<crate::quant::QuantReport>,
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
