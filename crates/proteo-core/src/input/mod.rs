//! Reading the user's files: protein tables of every tool (detected from the header by `proteo_detect`'s rule
//! table), and the sample design (a design table or an SDRF file).

mod annotate;
mod design;
mod error;
mod long;
pub(crate) mod text;
mod wide;

pub use annotate::names_from_id;
pub use design::{align_samples, align_to_design, read_design, Aligned};
pub use error::InputError;
pub use proteo_detect::{Action, Col, Detection, Test};

use proteo_detect::{DetectError, DetectOptions, HeaderProblem, HeaderView};

use crate::limits::MAX_HEADER_BYTES;
use crate::model::{InputFormat, InputReport, IntensityTable};
use crate::quant::{self, QuantParams};

/// What the reader is told besides the bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions<'a> {
    /// Read as this format instead of detecting it (`--format`).
    pub format: Option<InputFormat>,
    /// The samples the design names: a plain matrix's other columns are then annotation, never samples.
    pub design_samples: Option<&'a [String]>,
    /// How a precursor-level report is quantified to protein groups (`None`: [`QuantParams::default`]).
    pub quant: Option<&'a QuantParams>,
}

/// Detects what `bytes` is (UTF-8 text, optionally gzip-compressed; or a Parquet file, by its schema), without
/// reading the table: what `proteo inspect` prints and what [`read_table`] then reads.
pub fn detect_input(bytes: &[u8], file_name: &str, options: &ReadOptions<'_>) -> Result<Detection, InputError> {
    if quant::is_parquet(bytes) {
        let view = HeaderView::from_schema(parquet_columns(&bytes::Bytes::copy_from_slice(bytes), file_name)?);
        return detect_view(&view, file_name, options);
    }
    let text = text::decode(bytes, file_name)?;
    detect_text(&text, file_name, options)
}

fn detect_text(text: &[u8], file_name: &str, options: &ReadOptions<'_>) -> Result<Detection, InputError> {
    let view = HeaderView::from_text(text, true).map_err(|p| match p {
        HeaderProblem::Blank => InputError::Blank { file: file_name.into() },
        HeaderProblem::HeaderTooLong { bytes } => {
            InputError::HeaderTooLong { file: file_name.into(), bytes, limit: MAX_HEADER_BYTES }
        }
        HeaderProblem::Unreadable { line, message } => InputError::Csv { file: file_name.into(), line, message },
    })?;
    detect_view(&view, file_name, options)
}

fn detect_view(view: &HeaderView, file_name: &str, options: &ReadOptions<'_>) -> Result<Detection, InputError> {
    let detect_options = DetectOptions { file_name, format: options.format, design_samples: options.design_samples };
    proteo_detect::detect(view, &detect_options).map_err(|e| match e {
        DetectError::FormatMismatch { format, needs } => InputError::FormatMismatch {
            file: file_name.into(),
            format: format.description(),
            name: format.as_str(),
            needs,
            found: view.columns.clone(),
        },
        DetectError::TooManySamples { found } => InputError::TooManySamples { file: file_name.into(), found },
        DetectError::NoSamples { columns } => InputError::NoSampleColumns { file: file_name.into(), found: columns },
    })
}

fn parquet_columns(bytes: &bytes::Bytes, file_name: &str) -> Result<Vec<String>, InputError> {
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(bytes.clone())
        .map_err(|e| InputError::from(quant::parquet_scan::parquet_error(file_name, e)))?;
    use parquet::file::reader::FileReader;
    let schema = reader.metadata().file_metadata().schema_descr();
    Ok(schema.columns().iter().map(|c| c.path().string()).collect())
}

/// Reads a protein table of any detected (or `options.format`) kind into a protein × sample matrix with its
/// annotation, and reports what was read; a precursor-level report is quantified to protein groups
/// (`options.quant`). `file_name` is for messages and kind hints.
pub fn read_table(
    bytes: &[u8],
    file_name: &str,
    options: &ReadOptions<'_>,
) -> Result<(IntensityTable, InputReport), InputError> {
    match read_table_or_plan(bytes, file_name, options, usize::MAX)? {
        ReadOutcome::Table(table, report) => Ok((table, report)),
        ReadOutcome::Planned(_) => unreachable!("a plan without a cell cap has one shard, quantified in place"),
    }
}

/// What [`read_table_or_plan`] read: the protein table, or a precursor report split by protein into shards for
/// workers elsewhere (a Step Functions Distributed Map), whose results [`finish_plan`] turns into the table.
pub enum ReadOutcome {
    Table(IntensityTable, InputReport),
    Planned(QuantPlan),
}

/// A precursor report scanned and split: the table, its shards (protein ranges of at most the cell cap), and the
/// input report so far (everything but what quantification adds).
pub struct QuantPlan {
    pub table: quant::PrecursorTable,
    pub shards: Vec<std::ops::Range<usize>>,
    pub report: InputReport,
}

/// [`read_table`], except that a precursor report whose proteins need more than one shard of `max_cells`
/// precursor × run cells is returned as a [`QuantPlan`] instead of being quantified here. With one shard (or any
/// other input) the result is [`read_table`]'s; quantified through the plan's shards it is the same, bit for bit.
pub fn read_table_or_plan(
    bytes: &[u8],
    file_name: &str,
    options: &ReadOptions<'_>,
    max_cells: usize,
) -> Result<ReadOutcome, InputError> {
    let default_quant = QuantParams::default();
    let quant_params = options.quant.unwrap_or(&default_quant);
    if quant::is_parquet(bytes) {
        // One copy of the report, shared (reference-counted) by the schema read and the row-group scan.
        let shared = bytes::Bytes::copy_from_slice(bytes);
        let view = HeaderView::from_schema(parquet_columns(&shared, file_name)?);
        let detection = detect_view(&view, file_name, options)?;
        return match detection.action {
            Action::Quantify => {
                let scanned = quant::scan_parquet(shared, file_name, quant_params)?;
                plan_or_quantify(scanned, &detection, file_name, quant_params, max_cells)
            }
            Action::Refuse => Err(refusal(&detection, file_name)),
            Action::Read => Err(InputError::ParquetTable {
                file: file_name.into(),
                looks_like: detection.looks_like(),
                reason: detection.reason,
            }),
        };
    }
    let text = text::decode(bytes, file_name)?;
    let detection = detect_text(&text, file_name, options)?;
    match detection.action {
        Action::Refuse => Err(refusal(&detection, file_name)),
        Action::Quantify => {
            let scanned = quant::scan_text(&text, file_name, quant_params)?;
            drop(text);
            plan_or_quantify(scanned, &detection, file_name, quant_params, max_cells)
        }
        Action::Read => {
            let rows = text::Rows::open(&text, file_name)?;
            let read = if detection.long.is_some() {
                long::read(rows, file_name, &detection)
            } else {
                wide::read(rows, file_name, &detection)
            };
            read.map(|(table, report)| ReadOutcome::Table(table, report))
        }
    }
}

fn plan_or_quantify(
    (table, quant_report): (quant::PrecursorTable, quant::QuantReport),
    detection: &Detection,
    file_name: &str,
    params: &QuantParams,
    max_cells: usize,
) -> Result<ReadOutcome, InputError> {
    let mut report = quant::planned_report(&table, quant_report, file_name)?;
    let base = wide::report_for(detection);
    report.format = base.format;
    report.detected = base.detected;
    report.reason = base.reason;
    let shards = table.plan_shards(max_cells);
    if shards.len() > 1 {
        return Ok(ReadOutcome::Planned(QuantPlan { table, shards, report }));
    }
    let result = quant::quantify(&table, params.min_shared, quant::threads(), quant::DEFAULT_SHARD_CELLS);
    drop(table);
    let (table, report) = finish_plan(vec![result], report);
    Ok(ReadOutcome::Table(table, report))
}

/// The protein table of a [`QuantPlan`] from its shards' results (any order) and the plan's report: what
/// [`read_table`] gives for the same report.
pub fn finish_plan(results: Vec<quant::ShardResult>, report: InputReport) -> (IntensityTable, InputReport) {
    let (mut table, mut report) = quant::complete(quant::reduce(results), report);
    let has_genes = table.gene_names.iter().any(|g| !g.is_empty());
    wide::fill_names_from_ids(&mut table, has_genes, false, &mut report);
    (table, report)
}

fn refusal(detection: &Detection, file_name: &str) -> InputError {
    InputError::WrongFile {
        file: file_name.into(),
        looks_like: detection.looks_like(),
        reason: detection.reason.clone(),
        advice: detection.advice.clone().unwrap_or_default(),
    }
}

/// [`read_table`] without a design: the format detected from the header (or `format`).
pub fn read_intensities(
    bytes: &[u8],
    file_name: &str,
    format: Option<InputFormat>,
) -> Result<(IntensityTable, InputReport), InputError> {
    read_table(bytes, file_name, &ReadOptions { format, ..ReadOptions::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_picks_maxquant_only_with_protein_ids_and_sample_intensities() {
        let fmt = |text: &str| read_intensities(text.as_bytes(), "x", None).map(|(_, r)| r.format);
        assert_eq!(fmt("Protein IDs\tLFQ intensity A\nP1\t1\n").unwrap(), "maxquant");
        assert_eq!(fmt("Protein IDs\tIntensity A\nP1\t1\n").unwrap(), "maxquant");
        // Only the total `Intensity` column: not MaxQuant per-sample data, read as a matrix with sample `Intensity`.
        let (t, r) = read_intensities(b"Protein IDs\tIntensity\nP1\t1\n", "x", None).unwrap();
        assert_eq!((r.format.as_str(), t.samples[0].as_str()), ("matrix", "Intensity"));
        assert_eq!(fmt("id,LFQ intensity A\nP1,1\n").unwrap(), "matrix");
    }

    #[test]
    fn crlf_and_utf16_through_the_public_api() {
        let (t, _) = read_intensities(b"id\tS1\r\nP1\t2\r\n", "x", None).unwrap();
        assert_eq!((t.protein_ids[0].as_str(), t.values[0]), ("P1", 2.0));
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("id\tS1\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert!(matches!(read_intensities(&utf16, "x", None), Err(InputError::Utf16 { .. })));
        assert!(matches!(read_design(&utf16, "x"), Err(InputError::Utf16 { .. })));
        assert!(matches!(
            read_design(b"label\tcondition\nH\xE91\tA\n", "x"),
            Err(InputError::InvalidUtf8 { line: 2, .. })
        ));
    }

    #[test]
    fn excel_workbooks_are_refused_with_how_to_save_them() {
        let msg = read_intensities(b"PK\x03\x04\x14\x00\x06\x00", "data.xlsx", None).unwrap_err().to_string();
        assert!(msg.starts_with("data.xlsx looks like an Excel or zip workbook (.xlsx) or zip archive"), "{msg}");
        assert!(msg.contains("Text (Tab delimited)"), "{msg}");
        assert!(read_design(b"PK\x03\x04\x14\x00", "design.xlsx").unwrap_err().to_string().contains("Excel"));
    }

    #[test]
    fn odd_inputs_never_panic() {
        let inputs: &[&[u8]] = &[
            b"",
            b"\n",
            b"\t",
            b"\t\n\t",
            b"\"",
            b"\"unterminated\tquote\n1\t2",
            b"id",
            b"id\n",
            b"id\nP1\n",
            b"\xEF\xBB\xBF",
            b"\x00",
            b"\x00\x00\x00\x00",
            b"\x1F\x8B",
            b"PAR1",
            b"PAR1garbage",
            b"a\tb\n\t\t\t\t\n",
            b";;;\n;;;\n",
            b"id\tS\nP\t\"1\n2\"\n",
            b"\r\r\r",
            b"id\t\nP1\t\n",
            b"MTD\tmzTab-version\t1.0.0\n",
        ];
        for bytes in inputs {
            for format in std::iter::once(None).chain(InputFormat::ALL.map(Some)) {
                assert!(read_intensities(bytes, "x", format).is_err(), "{bytes:?} {format:?}");
            }
            assert!(read_design(bytes, "x").is_err(), "{bytes:?}");
        }
    }
}
