//! Precursor-level reports (DIA-NN report.parquet / report.tsv, AlphaDIA precursors.tsv, precursor matrices) to a
//! protein matrix by MaxLFQ.
//!
//! The work is split so that it can be sharded (issue 16): (a) [`scan`] filters the report into a
//! [`PrecursorTable`], (b) [`PrecursorTable::plan_shards`] / [`PrecursorTable::shard`] split it by protein,
//! (c) [`quantify_shard`] runs MaxLFQ on one shard, (d) [`reduce`] joins the shards in protein order.

mod columns;
mod error;
pub mod maxlfq;
pub(crate) mod parquet_scan;
pub mod shard_io;
pub mod synthetic;
mod table;
mod text_scan;

use bytes::Bytes;
use parquet::file::reader::ChunkReader;

pub use columns::FilterCount;
pub use error::QuantError;
pub use maxlfq::DEFAULT_MIN_SHARED;
pub use table::{
    quantify, quantify_shard, reduce, PrecursorTable, ProteinInfo, Shard, ShardResult, DEFAULT_SHARD_CELLS,
};

use crate::input::InputError;
use crate::model::{InputReport, IntensityTable};

/// Default precursor q-value thresholds, as limpa and MSstats (`DIANNtoMSstatsFormat(MBR = TRUE)`) filter DIA-NN
/// reports from match-between-runs searches: run-specific `Q.Value`, and `Lib.Q.Value` / `Lib.PG.Q.Value` of the
/// library the second pass used.
pub const DEFAULT_Q_VALUE: f64 = 0.01;

/// Which quantity becomes the protein matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quantity {
    /// `Precursor.Normalised` where the report has it, else `Precursor.Quantity` (AlphaDIA: `intensity`), by MaxLFQ.
    #[default]
    Auto,
    /// `Precursor.Normalised` by MaxLFQ.
    PrecursorNormalised,
    /// `Precursor.Quantity` (not normalised across runs by DIA-NN) by MaxLFQ.
    PrecursorQuantity,
    /// The report's own `PG.MaxLFQ` per protein group and run, no requantification.
    PgMaxlfq,
}

/// How a precursor report becomes a protein matrix (a part of the job parameters).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuantParams {
    pub quantity: Quantity,
    /// Largest run-specific precursor q-value kept (`Q.Value`; AlphaDIA `qval`).
    pub q_value: f64,
    /// Largest `Lib.Q.Value` kept.
    pub lib_q_value: f64,
    /// Largest `Lib.PG.Q.Value` kept.
    pub lib_pg_q_value: f64,
    /// Largest `PG.Q.Value` kept (AlphaDIA `pg_qval`); not applied when `None`.
    pub pg_q_value: Option<f64>,
    /// Largest `Global.PG.Q.Value` kept; not applied when `None`.
    pub global_pg_q_value: Option<f64>,
    /// Keep only proteotypic precursors (`Proteotypic` = 1).
    pub proteotypic_only: bool,
    /// Precursors two runs must share for their ratio to count.
    pub min_shared: usize,
}

impl Default for QuantParams {
    fn default() -> Self {
        QuantParams {
            quantity: Quantity::Auto,
            q_value: DEFAULT_Q_VALUE,
            lib_q_value: DEFAULT_Q_VALUE,
            lib_pg_q_value: DEFAULT_Q_VALUE,
            pg_q_value: None,
            global_pg_q_value: None,
            proteotypic_only: false,
            min_shared: DEFAULT_MIN_SHARED,
        }
    }
}

impl QuantParams {
    fn validate(&self) -> Result<(), QuantError> {
        let thresholds = [
            ("q_value", Some(self.q_value)),
            ("lib_q_value", Some(self.lib_q_value)),
            ("lib_pg_q_value", Some(self.lib_pg_q_value)),
            ("pg_q_value", self.pg_q_value),
            ("global_pg_q_value", self.global_pg_q_value),
        ];
        for (name, value) in thresholds {
            if let Some(v) = value {
                if !(0.0..=1.0).contains(&v) {
                    return Err(QuantError::InvalidParam {
                        name,
                        value: v.to_string(),
                        expected: "a q-value in [0, 1]",
                    });
                }
            }
        }
        if self.min_shared == 0 {
            return Err(QuantError::InvalidParam { name: "min_shared", value: "0".into(), expected: "at least 1" });
        }
        Ok(())
    }
}

pub use proteo_detect::PrecursorKind;

/// Which precursor-level kind a header line (or a Parquet schema's column names) belongs to, if any: the detection
/// rule's own predicate ([`proteo_detect::precursor_kind`]), so detection and the readers agree.
pub fn looks_like_precursor_report(header_or_schema_columns: &[String]) -> Option<PrecursorKind> {
    proteo_detect::precursor_kind(header_or_schema_columns)
}

/// What reading a precursor report did: the kind, the quantity, each filter with its threshold and the rows it
/// removed (in the order applied; a row is counted by the first filter it fails), and what was quantified.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuantReport {
    pub kind: String,
    /// The column the protein matrix comes from.
    pub quantity: String,
    /// e.g. "MaxLFQ (iq), ratios from ≥ 1 shared precursor".
    pub method: String,
    pub rows: usize,
    pub filters: Vec<FilterCount>,
    pub removed_decoy: usize,
    pub removed_not_proteotypic: usize,
    pub removed_no_protein: usize,
    /// Empty, zero or missing quantity.
    pub removed_no_quantity: usize,
    /// Rows for a (precursor, run) already seen: the larger quantity was kept.
    pub duplicates_merged: usize,
    pub runs: usize,
    /// Runs of the report whose every row was filtered away: not in the matrix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs_without_precursors: Vec<String>,
    pub precursors: usize,
    pub protein_groups: usize,
    /// Protein groups whose runs fell into more than one connected component (no shared precursor between them).
    pub split_protein_groups: usize,
}

/// `PAR1`, the first and last four bytes of every Parquet file.
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// Whether `bytes` are a Parquet file.
pub fn is_parquet(bytes: &[u8]) -> bool {
    bytes.starts_with(PARQUET_MAGIC)
}

/// Reads a precursor-level report (Parquet or delimited text, optionally gzip) and quantifies its protein groups by
/// MaxLFQ (or takes `PG.MaxLFQ`). `file_name` is only for messages.
pub fn read_precursor_report(
    bytes: &[u8],
    file_name: &str,
    params: &QuantParams,
) -> Result<(IntensityTable, InputReport), InputError> {
    if is_parquet(bytes) {
        return read_precursor_parquet(Bytes::copy_from_slice(bytes), file_name, params);
    }
    let text = crate::input::text::decode(bytes, file_name)?;
    read_precursor_text(&text, file_name, params)
}

/// Like [`read_precursor_report`] for a Parquet report held in any [`ChunkReader`] (`Bytes`, a `File`): only the
/// columns used are read, one row group at a time.
pub fn read_precursor_parquet<R: ChunkReader + 'static>(
    reader: R,
    file_name: &str,
    params: &QuantParams,
) -> Result<(IntensityTable, InputReport), InputError> {
    params.validate()?;
    let (table, report) = parquet_scan::scan(reader, file_name, params)?;
    finish(table, report, file_name, params)
}

/// Decoded text (see `input::text::decode`) of a precursor report.
pub(crate) fn read_precursor_text(
    text: &[u8],
    file_name: &str,
    params: &QuantParams,
) -> Result<(IntensityTable, InputReport), InputError> {
    params.validate()?;
    let (table, report) = text_scan::scan(text, file_name, params)?;
    finish(table, report, file_name, params)
}

/// Step (a) alone: the filtered precursor table of a report and what the filters did.
pub fn scan(bytes: &[u8], file_name: &str, params: &QuantParams) -> Result<(PrecursorTable, QuantReport), InputError> {
    params.validate()?;
    if is_parquet(bytes) {
        return Ok(parquet_scan::scan(Bytes::copy_from_slice(bytes), file_name, params)?);
    }
    let text = crate::input::text::decode(bytes, file_name)?;
    text_scan::scan(&text, file_name, params)
}

/// Step (a) for a Parquet report in any [`ChunkReader`] (a `File` keeps the report itself out of memory).
pub fn scan_parquet<R: ChunkReader + 'static>(
    reader: R,
    file_name: &str,
    params: &QuantParams,
) -> Result<(PrecursorTable, QuantReport), InputError> {
    params.validate()?;
    Ok(parquet_scan::scan(reader, file_name, params)?)
}

/// Worker threads for the local quantification: the machine's cores (the result does not depend on it).
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn finish(
    table: PrecursorTable,
    report: QuantReport,
    file_name: &str,
    params: &QuantParams,
) -> Result<(IntensityTable, InputReport), InputError> {
    let input = planned_report(&table, report, file_name)?;
    let result = quantify(&table, params.min_shared, threads(), DEFAULT_SHARD_CELLS);
    drop(table);
    Ok(complete(result, input))
}

/// Step (a) of the text path alone, parameters checked (the Parquet path: [`scan_parquet`]).
pub(crate) fn scan_text(
    text: &[u8],
    file_name: &str,
    params: &QuantParams,
) -> Result<(PrecursorTable, QuantReport), InputError> {
    params.validate()?;
    text_scan::scan(text, file_name, params)
}

/// What the input report says of a scanned table before its proteins are quantified (runs, precursors, protein
/// groups); refuses a report of fewer than 2 runs.
pub(crate) fn planned_report(
    table: &PrecursorTable,
    mut report: QuantReport,
    file_name: &str,
) -> Result<InputReport, InputError> {
    if table.runs.len() < 2 {
        return Err(QuantError::TooFewRuns {
            file: file_name.to_string(),
            runs: table.runs.len(),
            names: table.runs.clone(),
            hint: match report.kind.as_str() {
                k if k == PrecursorKind::AlphadiaPrecursors.as_str() => " (AlphaDIA pg.matrix.tsv)",
                _ => " (DIA-NN report.pg_matrix.tsv)",
            },
        }
        .into());
    }
    report.runs = table.runs.len();
    report.precursors = table.precursors.len();
    report.protein_groups = table.proteins.len();
    Ok(InputReport {
        format: report.kind.clone(),
        intensity_columns: report.quantity.clone(),
        rows_read: report.rows,
        precursor: Some(report),
        ..InputReport::default()
    })
}

/// The quantified proteins (all shards reduced) with the input report [`planned_report`] began.
pub(crate) fn complete(result: ShardResult, mut input: InputReport) -> (IntensityTable, InputReport) {
    if let Some(report) = input.precursor.as_mut() {
        report.split_protein_groups = result.components.iter().filter(|&&c| c > 1).count();
    }
    (to_intensity_table(result), input)
}

/// The quantified proteins as an intensity table (linear scale, as every other reader gives).
pub fn to_intensity_table(result: ShardResult) -> IntensityTable {
    let ShardResult { runs, proteins, log2, .. } = result;
    IntensityTable {
        protein_ids: proteins.iter().map(|p| p.id.clone()).collect(),
        majority_ids: proteins.iter().map(|p| p.members.clone()).collect(),
        protein_names: vec![String::new(); proteins.len()],
        annotations: Vec::new(),
        gene_names: proteins.into_iter().map(|p| p.genes).collect(),
        samples: runs,
        values: log2.into_iter().map(f64::exp2).collect(),
    }
}

/// A tab-separated header line as column names (unit tests of this module).
#[cfg(test)]
pub(crate) fn cols(header: &str) -> Vec<String> {
    header.split('\t').map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked() {
        let bad = QuantParams { q_value: 1.5, ..QuantParams::default() };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "quantification parameter `q_value` is 1.5; expected a q-value in [0, 1]"
        );
        let json = serde_json::to_value(QuantParams::default()).unwrap();
        assert_eq!(json["quantity"], "auto");
        let back: QuantParams = serde_json::from_str(r#"{"quantity":"pg-maxlfq","proteotypic_only":true}"#).unwrap();
        assert_eq!(back.quantity, Quantity::PgMaxlfq);
        assert_eq!(back.q_value, DEFAULT_Q_VALUE);
    }
}
