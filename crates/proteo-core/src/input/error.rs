//! Errors from reading the user's intensity table and design file, worded for the biologist who uploaded them.

use std::fmt::Write as _;

/// Why an input file could not be read. Every message is one sentence naming the file and, where there is one, the
/// line (as a text editor numbers it, header = line 1) and the column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    #[error("{file} is empty (0 bytes); please upload the file again")]
    Empty { file: String },

    #[error("{file} contains only blank lines; expected a header line followed by one line per protein")]
    Blank { file: String },

    #[error("{file} has a header line but no data rows below it")]
    NoDataRows { file: String },

    #[error(
        "{file} is saved as UTF-16 text ({byte_order}, what Excel calls \"Unicode Text\"); proteo reads UTF-8: save it \
         again as \"Text (Tab delimited)\" or \"CSV UTF-8\" in Excel, or with UTF-8 encoding in your text editor"
    )]
    Utf16 { file: String, byte_order: &'static str },

    #[error(
        "{file}, line {line}: byte 0x{byte:02X} at byte offset {offset} is not valid UTF-8 (the file was probably \
         saved as Latin-1/Windows-1252); save it again with UTF-8 encoding (in Excel: \"CSV UTF-8\")"
    )]
    InvalidUtf8 { file: String, line: u64, offset: u64, byte: u8 },

    #[error("{file} looks gzip-compressed but could not be decompressed: {message}")]
    Gzip { file: String, message: String },

    #[error("{file} decompresses to more than {limit_mib} MiB, which is larger than any protein table proteo accepts")]
    TooLarge { file: String, limit_mib: u64 },

    #[error("{file}, line {line}: the file could not be read as delimited text: {message}")]
    Csv { file: String, line: u64, message: String },

    #[error(
        "{file}, line {line}: expected {expected} fields like the header, found {found}; check that line for a \
         missing or extra {delimiter}"
    )]
    Ragged { file: String, line: u64, expected: usize, found: usize, delimiter: &'static str },

    #[error("{file}, line {line}, column `{column}`: expected a number, found `{found}`{hint}")]
    NotNumber { file: String, line: u64, column: String, found: String, hint: String },

    #[error(
        "{file}, line {line}, column `{column}`: `{found}` contains a comma; proteo expects `.` as the decimal \
         separator and no thousands separators (e.g. 1234.5)"
    )]
    DecimalComma { file: String, line: u64, column: String, found: String },

    #[error("{file}, line {line}, column `{column}`: expected a finite number, found `{found}`")]
    NotFinite { file: String, line: u64, column: String, found: String },

    #[error("{file}, line {line}, column `{column}`: the protein id is empty")]
    EmptyProteinId { file: String, line: u64, column: String },

    #[error("{file}: protein id `{id}` appears twice, on lines {first_line} and {line}; protein ids must be unique")]
    DuplicateProteinId { file: String, id: String, first_line: u64, line: u64 },

    #[error(
        "{file}: the header has two columns named `{name}` (columns {first_column} and {column}); sample names must be \
         unique"
    )]
    DuplicateColumn { file: String, name: String, first_column: usize, column: usize },

    #[error(
        "{file}, line {line}: column {column} has no header but contains `{found}`; give it a sample name or delete it"
    )]
    UnnamedColumn { file: String, line: u64, column: usize, found: String },

    #[error(
        "{file}: no sample columns found; expected the protein id in the first column and one numeric column per \
         sample (found {})", list(.found)
    )]
    NoSampleColumns { file: String, found: Vec<String> },

    #[error("{file}: column `{column}` not found{hint}")]
    MissingColumn { file: String, column: String, hint: String },

    #[error(
        "{file}: no `LFQ intensity <sample>` or `Intensity <sample>` columns found; a MaxQuant proteinGroups.txt has \
         one per sample"
    )]
    NoIntensityColumns { file: String },

    #[error("{file}: no {role} column; expected a column named {}, found {}", alternatives(.aliases), list(.found))]
    MissingDesignColumn { file: String, role: &'static str, aliases: &'static [&'static str], found: Vec<String> },

    #[error("{file}, line {line}: the `{column}` cell is empty; every sample needs a name and a group")]
    EmptyDesignCell { file: String, line: u64, column: String },

    #[error(
        "{file}: sample `{sample}` is listed twice, on lines {first_line} and {line}; each sample must appear once"
    )]
    DuplicateDesignSample { file: String, sample: String, first_line: u64, line: u64 },

    #[error("{design_file}: sample `{sample}` is listed more than once; each sample must appear once")]
    RepeatedDesignSample { design_file: String, sample: String },

    #[error("{}", mismatch(.table_file, .design_file, .missing_columns, .extra_columns))]
    SampleMismatch {
        table_file: String,
        design_file: String,
        /// Design samples with no column in the table.
        missing_columns: Vec<String>,
        /// Table columns with no row in the design.
        extra_columns: Vec<String>,
    },

    #[error(transparent)]
    Quant(#[from] crate::quant::QuantError),
}

/// At most this many names are spelled out in a message; the rest are counted.
const MAX_LISTED: usize = 20;

pub(crate) fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "no columns".to_string();
    }
    let mut out = String::new();
    for (i, n) in names.iter().take(MAX_LISTED).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "`{n}`");
    }
    if names.len() > MAX_LISTED {
        let _ = write!(out, " and {} more", names.len() - MAX_LISTED);
    }
    out
}

fn alternatives(aliases: &[&str]) -> String {
    let quoted: Vec<String> = aliases.iter().map(|a| format!("`{a}`")).collect();
    quoted.join(" or ")
}

fn mismatch(table_file: &str, design_file: &str, missing: &[String], extra: &[String]) -> String {
    let mut parts = Vec::new();
    match missing.len() {
        0 => {}
        1 => parts.push(format!("design sample {} has no column in {table_file}", list(missing))),
        _ => parts.push(format!("design samples {} have no column in {table_file}", list(missing))),
    }
    match extra.len() {
        0 => {}
        1 => parts.push(format!("column {} is not in {design_file}", list(extra))),
        _ => parts.push(format!("columns {} are not in {design_file}", list(extra))),
    }
    if parts.is_empty() {
        return format!("{table_file} and {design_file} do not list the same samples");
    }
    parts.join("; ")
}

/// Cuts a cell's text for a message so a runaway field cannot flood the log.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 60;
    match text.char_indices().nth(MAX_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_lists_both_sides() {
        let e = InputError::SampleMismatch {
            table_file: "proteinGroups.txt".into(),
            design_file: "design.tsv".into(),
            missing_columns: vec!["H6".into()],
            extra_columns: vec!["X1".into(), "X2".into()],
        };
        assert_eq!(
            e.to_string(),
            "design sample `H6` has no column in proteinGroups.txt; columns `X1`, `X2` are not in design.tsv"
        );
    }

    #[test]
    fn long_lists_and_cells_are_cut() {
        let names: Vec<String> = (0..25).map(|i| format!("S{i}")).collect();
        assert!(list(&names).ends_with("`S19` and 5 more"));
        let long = "é".repeat(100);
        assert_eq!(excerpt(&long).chars().count(), 61);
        assert_eq!(excerpt("n/a"), "n/a");
    }
}
