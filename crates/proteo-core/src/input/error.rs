//! Errors from reading the user's intensity table and design file, worded for the biologist who uploaded them.

use proteo_detect::list_names;
use proteo_detect::text::excerpt as cut;

use crate::limits::{MAX_LISTED, MAX_PROTEIN_ID_CHARS, MAX_ROWS, MAX_SAMPLE_COLUMNS, MAX_VALUES};

/// Why an input file could not be read. Every message is one sentence naming the file and, where there is one, the
/// line (as a text editor numbers it, header = line 1) and the column; every quoted cell, header and list is cut
/// to a readable length, so a runaway field cannot become the message.
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

    #[error(
        "{file} decompresses to more than {limit_mib} MiB, which is larger than any protein table proteo accepts; \
         split the samples over several jobs"
    )]
    TooLarge { file: String, limit_mib: u64 },

    #[error(
        "{file} is a Parquet file but not a DIA-NN main report: its columns look like {looks_like} ({reason}); proteo \
         reads Parquet only for DIA-NN report.parquet: upload the table as the tool's TSV"
    )]
    ParquetTable { file: String, looks_like: String, reason: String },

    #[error("{file}, line {line}: the file could not be read as delimited text: {}", cut(.message))]
    Csv { file: String, line: u64, message: String },

    #[error(
        "{file}, line {line}: expected {expected} fields like the header, found {found}; check that line for a \
         missing or extra {delimiter}"
    )]
    Ragged { file: String, line: u64, expected: usize, found: usize, delimiter: &'static str },

    #[error("{file}, line {line}, column `{}`: expected a number, found `{}`{hint}", cut(.column), cut(.found))]
    NotNumber { file: String, line: u64, column: String, found: String, hint: String },

    #[error(
        "{file}, line {line}, column `{}`: `{}` contains a comma; proteo expects `.` as the decimal separator and no \
         thousands separators (e.g. 1234.5)", cut(.column), cut(.found)
    )]
    DecimalComma { file: String, line: u64, column: String, found: String },

    #[error("{file}, line {line}, column `{}`: expected a finite number, found `{}`", cut(.column), cut(.found))]
    NotFinite { file: String, line: u64, column: String, found: String },

    #[error("{file}, line {line}, column `{}`: the protein id is empty; give every row an id", cut(.column))]
    EmptyProteinId { file: String, line: u64, column: String },

    #[error(
        "{file}: protein id `{}` appears twice, on lines {first_line} and {line}; protein ids must be unique", cut(.id)
    )]
    DuplicateProteinId { file: String, id: String, first_line: u64, line: u64 },

    #[error(
        "{file}: the header has two columns for sample `{}` (columns {first_column} and {column}); sample names must \
         be unique", cut(.name)
    )]
    DuplicateColumn { file: String, name: String, first_column: usize, column: usize },

    #[error(
        "{file}, line {line}: column {column} has no header but contains `{}`; give it a sample name or delete it",
        cut(.found)
    )]
    UnnamedColumn { file: String, line: u64, column: usize, found: String },

    #[error(
        "{file}: no sample columns found; expected the protein id in the first column and one numeric column per \
         sample (found {})", list_names(.found)
    )]
    NoSampleColumns { file: String, found: Vec<String> },

    #[error("{file} looks like {looks_like} ({reason}); {advice}")]
    WrongFile { file: String, looks_like: String, reason: String, advice: String },

    #[error(
        "{file} was to be read as {format} (--format {name}), but its header does not have {needs} (it has {}); \
         drop --format to let proteo detect the format", list_names(.found)
    )]
    FormatMismatch { file: String, format: &'static str, name: &'static str, needs: String, found: Vec<String> },

    #[error(
        "{file}: the header line is {bytes} bytes long, more than the {limit} proteo accepts; a protein table has one \
         header line of column names: check the file, or split its samples over several jobs", limit = .limit
    )]
    HeaderTooLong { file: String, bytes: usize, limit: usize },

    #[error(
        "{file} has {found} sample columns, more than the {MAX_SAMPLE_COLUMNS} one job accepts; split the samples \
         over several jobs (each with its own design)"
    )]
    TooManySamples { file: String, found: usize },

    #[error(
        "{file} has more than {MAX_ROWS} data rows, more than any protein table; upload the protein-level table, or \
         split the file"
    )]
    TooManyRows { file: String },

    #[error(
        "{file}: {proteins} proteins × {samples} samples is more than the {MAX_VALUES} values one job holds; split \
         the samples over several jobs"
    )]
    TooManyValues { file: String, proteins: usize, samples: usize },

    #[error(
        "{file}, line {line}, column `{}`: the protein id is {chars} characters long, more than the \
         {MAX_PROTEIN_ID_CHARS} accepted (it starts `{}`); this line is probably damaged: check it in a text editor",
        cut(.column), cut(.start)
    )]
    ProteinIdTooLong { file: String, line: u64, column: String, chars: usize, start: String },

    #[error(
        "{file}, line {line}: protein group `{}` has two different quantities for run `{}` ({first} on line \
         {first_line}, {second} here); a long report must have one protein quantity per protein group and run",
        cut(.protein), cut(.run)
    )]
    LongConflict { file: String, line: u64, first_line: u64, protein: String, run: String, first: f64, second: f64 },

    #[error("{file}: no {role} column; expected a column named {}, found {}", alternatives(.aliases), list_names(.found))]
    MissingDesignColumn { file: String, role: &'static str, aliases: &'static [&'static str], found: Vec<String> },

    #[error(
        "{file} is an SDRF file without a `factor value[…]` column, so it does not say which group each sample is \
         in; add a `factor value[<what differs>]` column (e.g. `factor value[disease]`)"
    )]
    SdrfWithoutFactor { file: String },

    #[error(
        "{file}, line {line}: the `{}` cell is empty; every sample needs a name and a group", cut(.column)
    )]
    EmptyDesignCell { file: String, line: u64, column: String },

    #[error(
        "{file}: sample `{}` is listed twice, on lines {first_line} and {line}; each sample must appear once",
        cut(.sample)
    )]
    DuplicateDesignSample { file: String, sample: String, first_line: u64, line: u64 },

    #[error("{design_file}: sample `{}` is listed more than once; each sample must appear once", cut(.sample))]
    RepeatedDesignSample { design_file: String, sample: String },

    #[error(
        "{table_file}: columns `{}` and `{}` both match design sample `{}` of {design_file}; name the samples in the \
         design as the columns spell them", cut(.first), cut(.second), cut(.sample)
    )]
    AmbiguousSample { table_file: String, design_file: String, sample: String, first: String, second: String },

    #[error("{}", mismatch(.table_file, .design_file, .missing_columns, .extra_columns))]
    SampleMismatch {
        table_file: String,
        design_file: String,
        /// Design samples with no column in the table, each with the closest unmatched column.
        missing_columns: Vec<(String, Option<String>)>,
        /// Table columns with no row in the design, each with the closest unmatched design sample.
        extra_columns: Vec<(String, Option<String>)>,
    },

    #[error(
        "{design_file} names none of the {n_columns} samples of {table_file} (the design has {}; the table has {}); \
         check that the design belongs to this table", list_names(.design_samples), list_names(.table_samples)
    )]
    NoSampleInDesign {
        table_file: String,
        design_file: String,
        n_columns: usize,
        design_samples: Vec<String>,
        table_samples: Vec<String>,
    },

    #[error(transparent)]
    Quant(#[from] crate::quant::QuantError),
}

fn alternatives(aliases: &[&str]) -> String {
    let quoted: Vec<String> = aliases.iter().map(|a| format!("`{a}`")).collect();
    quoted.join(" or ")
}

/// `` `H6` (closest: `H_6`) ``, up to [`MAX_LISTED`] names, the rest counted.
fn with_closest(names: &[(String, Option<String>)]) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .take(MAX_LISTED)
        .map(|(n, c)| match c {
            Some(c) => format!("`{}` (closest: `{}`)", cut(n), cut(c)),
            None => format!("`{}`", cut(n)),
        })
        .collect();
    if names.len() > MAX_LISTED {
        parts.push(format!("and {} more", names.len() - MAX_LISTED));
    }
    parts.join(", ")
}

fn mismatch(
    table_file: &str,
    design_file: &str,
    missing: &[(String, Option<String>)],
    extra: &[(String, Option<String>)],
) -> String {
    let mut parts = Vec::new();
    match missing.len() {
        0 => {}
        1 => parts.push(format!("design sample {} has no column in {table_file}", with_closest(missing))),
        _ => parts.push(format!("design samples {} have no column in {table_file}", with_closest(missing))),
    }
    match extra.len() {
        0 => {}
        1 => parts.push(format!("column {} is not in {design_file}", with_closest(extra))),
        _ => parts.push(format!("columns {} are not in {design_file}", with_closest(extra))),
    }
    if parts.is_empty() {
        return format!("{table_file} and {design_file} do not list the same samples");
    }
    let mut out = parts.join("; ");
    if missing.is_empty() {
        out.push_str("; to analyse only the design's samples, use --samples from-design");
    } else {
        out.push_str("; rename them so the design and the table agree");
    }
    out
}

/// Cuts a cell's text for a message so a runaway field cannot flood the log.
pub(crate) fn excerpt(text: &str) -> String {
    cut(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_lists_both_sides_with_the_closest_candidates() {
        let e = InputError::SampleMismatch {
            table_file: "proteinGroups.txt".into(),
            design_file: "design.tsv".into(),
            missing_columns: vec![("H6".into(), Some("H_6".into()))],
            extra_columns: vec![("X1".into(), None), ("H_6".into(), Some("H6".into()))],
        };
        assert_eq!(
            e.to_string(),
            "design sample `H6` (closest: `H_6`) has no column in proteinGroups.txt; columns `X1`, `H_6` (closest: \
             `H6`) are not in design.tsv; rename them so the design and the table agree"
        );
        let e = InputError::SampleMismatch {
            table_file: "t".into(),
            design_file: "d".into(),
            missing_columns: vec![],
            extra_columns: vec![("X1".into(), None)],
        };
        assert_eq!(
            e.to_string(),
            "column `X1` is not in d; to analyse only the design's samples, use --samples from-design"
        );
    }

    #[test]
    fn long_lists_and_cells_are_cut() {
        let names: Vec<(String, Option<String>)> = (0..25).map(|i| (format!("S{i}"), None)).collect();
        assert!(with_closest(&names).ends_with("`S19`, and 5 more"));
        let long = "é".repeat(100);
        assert_eq!(excerpt(&long).chars().count(), 61);
        assert_eq!(excerpt("n/a"), "n/a");
        let e = InputError::DuplicateProteinId { file: "f".into(), id: "1;".repeat(15_000), first_line: 2, line: 9 };
        assert!(e.to_string().len() < 200, "{e}");
    }
}
