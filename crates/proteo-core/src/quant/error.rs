//! Why a precursor-level report could not become a protein matrix, worded for the scientist who uploaded it.

use proteo_detect::list_names as list;
use proteo_detect::text::excerpt;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuantError {
    #[error("{file} could not be read as Parquet ({}){hint}", excerpt(.message))]
    Parquet { file: String, message: String, hint: &'static str },

    #[error(
        "{file} is a Parquet file but not a DIA-NN main report: it has no `Precursor.Id` with `Run` and \
         `Precursor.Quantity` columns (found {}); upload the report.parquet DIA-NN writes next to the protein \
         matrices, or a protein matrix such as report.pg_matrix.tsv", list(.found)
    )]
    NotAReport { file: String, found: Vec<String> },

    #[error(
        "{file} is not a precursor-level report: expected DIA-NN report.tsv columns (`Run` or `File.Name`, \
         `Precursor.Id`, `Precursor.Quantity`), an AlphaDIA precursors.tsv (`run`, `pg`, `mod_seq_charge_hash`, \
         `intensity`) or a precursor matrix (found {})", list(.found)
    )]
    NotPrecursorText { file: String, found: Vec<String> },

    #[error("{file}: the {kind} has no `{column}` column, which proteo needs {purpose} (found {})", list(.found))]
    MissingColumn { file: String, kind: &'static str, column: String, purpose: &'static str, found: Vec<String> },

    #[error("{file}: column `{column}` holds {found}, expected {expected}; upload the report as the tool wrote it")]
    ColumnType { file: String, column: String, found: String, expected: &'static str },

    #[error(
        "{file} holds precursors of {runs} run{} ({}); a protein matrix for differential expression needs at least \
         2 runs: upload the report of the whole experiment (all runs searched together), or its protein matrix{hint}",
        if *.runs == 1 { "" } else { "s" }, list(.names)
    )]
    TooFewRuns { file: String, runs: usize, names: Vec<String>, hint: &'static str },

    #[error(
        "{file}: no precursor is left after the filters ({summary}); relax the threshold that removed them \
         (e.g. --q-value 0.05) or check that this is the report of a finished search"
    )]
    NothingLeft { file: String, summary: String },

    #[error("quantification parameter `{name}` is {value}; expected {expected}")]
    InvalidParam { name: &'static str, value: String, expected: &'static str },
}
