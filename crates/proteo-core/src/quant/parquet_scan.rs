//! Step (a) for Parquet reports: only the columns used are decoded (a `ProjectionMask`), batch by batch, with text
//! columns kept dictionary-encoded so each distinct run, protein and precursor name is interned once per row group.

use std::sync::Arc;

use arrow::array::{Array, AsArray, DictionaryArray, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

use super::columns::{run_name_from_path, summary, Layout};
use super::error::QuantError;
use super::table::{Builder, PrecursorTable};
use super::{looks_like_precursor_report, PrecursorKind, QuantParams, QuantReport};

/// Rows decoded at a time: a few MB of projected columns, far below a row group of a DIA-NN report.
const BATCH_ROWS: usize = 64 * 1024;

pub(crate) fn parquet_error(file: &str, e: impl std::fmt::Display) -> QuantError {
    let message = e.to_string();
    let hint = if message.contains("feature") {
        "; this compression codec is not supported: write the report again with DIA-NN's default settings or \
         re-save it with zstd or snappy compression"
    } else {
        "; upload the report.parquet as DIA-NN wrote it (a partial upload or a renamed file is not a report)"
    };
    QuantError::Parquet { file: file.to_string(), message, hint }
}

pub(crate) fn scan<R: ChunkReader + 'static>(
    reader: R,
    file: &str,
    params: &QuantParams,
) -> Result<(PrecursorTable, QuantReport), QuantError> {
    let meta = ArrowReaderMetadata::load(&reader, ArrowReaderOptions::new()).map_err(|e| parquet_error(file, e))?;
    let names: Vec<String> = meta.schema().fields().iter().map(|f| f.name().clone()).collect();
    if looks_like_precursor_report(&names) != Some(PrecursorKind::DiannReport) {
        return Err(QuantError::NotAReport { file: file.to_string(), found: names });
    }
    let mut layout = Layout::new(PrecursorKind::DiannReport, &names, file, params)?;
    let text: Vec<String> = layout.text_columns().into_iter().map(str::to_string).collect();
    let numeric: Vec<String> = layout.numeric_columns().into_iter().map(str::to_string).collect();
    for c in &text {
        check_type(file, &meta, c, true)?;
    }
    for c in &numeric {
        check_type(file, &meta, c, false)?;
    }

    // Ask for the text columns as dictionaries: the reader then hands over each row group's dictionary once.
    let hinted: Vec<Field> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 if text.contains(f.name()) => {
                Field::new(f.name(), DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), true)
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(hinted)));
    let meta = ArrowReaderMetadata::try_new(meta.metadata().clone(), options).unwrap_or(meta);
    let indices: Vec<usize> =
        text.iter().chain(&numeric).map(|c| names.iter().position(|n| n == c).expect("resolved")).collect();
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(reader, meta);
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    let batches =
        builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(|e| parquet_error(file, e))?;

    let mut table = Builder::default();
    let (mut runs, mut proteins, mut precursors) = (DictCache::default(), DictCache::default(), DictCache::default());
    let mut numbers = vec![0.0; numeric.len()];
    let has_precursor = layout.precursor.is_some();
    for batch in batches {
        let batch = batch.map_err(|e| parquet_error(file, e))?;
        let strings: Vec<TextColumn> = text.iter().map(|c| TextColumn::of(&batch, c)).collect::<Result<_, _>>()?;
        let floats: Vec<Float64Array> =
            numeric.iter().map(|c| float_column(file, &batch, c)).collect::<Result<_, _>>()?;
        let (run_col, protein_col) = (&strings[0], &strings[1]);
        let precursor_col = has_precursor.then(|| &strings[2]);
        let annotation = |k: Option<&String>, row: usize| {
            k.and_then(|name| text.iter().position(|t| t == name)).map_or("", |i| strings[i].value(row))
        };
        runs.start_batch(run_col);
        proteins.start_batch(protein_col);
        if let Some(c) = precursor_col {
            precursors.start_batch(c);
        }
        for row in 0..batch.num_rows() {
            for (k, f) in floats.iter().enumerate() {
                numbers[k] = if f.is_null(row) { f64::NAN } else { f.value(row) };
            }
            // Every run is named, even one whose rows are all filtered away (the report lists those).
            let run = runs
                .get(run_col, row, |name| table.run(if layout.run_is_path { run_name_from_path(name) } else { name }));
            if !layout.keep(&numbers, protein_col.is_empty(row)) {
                continue;
            }
            let protein = proteins.get(protein_col, row, |id| {
                table.protein(id, annotation(layout.members.as_ref(), row), annotation(layout.genes.as_ref(), row))
            });
            let precursor = match precursor_col {
                Some(col) => {
                    let (p, r) = precursors.get(col, row, |name| (protein, table.precursor(protein, name)));
                    if p == protein {
                        r
                    } else {
                        table.precursor(protein, col.value(row))
                    }
                }
                None => table.precursor(protein, ""),
            };
            table.set(precursor, run, numbers[0] as f32);
        }
    }
    let mut report = std::mem::take(&mut layout.report);
    // With --quantity pg-maxlfq every precursor row repeats its group's value: not a duplicate.
    report.duplicates_merged = if layout.precursor.is_some() { table.duplicates } else { 0 };
    let (table, emptied) = table.finish();
    if table.runs.is_empty() {
        return Err(QuantError::NothingLeft { file: file.to_string(), summary: summary(&report) });
    }
    report.runs_without_precursors = emptied;
    Ok((table, report))
}

fn check_type(file: &str, meta: &ArrowReaderMetadata, column: &str, text: bool) -> Result<(), QuantError> {
    let field = meta.schema().field_with_name(column).expect("resolved from the schema");
    let ok = match field.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => text,
        DataType::Dictionary(_, v) => text && matches!(**v, DataType::Utf8 | DataType::LargeUtf8),
        t => !text && t.is_numeric(),
    };
    if ok {
        return Ok(());
    }
    Err(QuantError::ColumnType {
        file: file.to_string(),
        column: column.to_string(),
        found: field.data_type().to_string(),
        expected: if text { "text" } else { "numbers" },
    })
}

fn float_column(file: &str, batch: &RecordBatch, name: &str) -> Result<Float64Array, QuantError> {
    let col = batch.column_by_name(name).expect("projected");
    let cast = arrow::compute::cast(col, &DataType::Float64).map_err(|e| QuantError::ColumnType {
        file: file.to_string(),
        column: name.to_string(),
        found: format!("{} ({e})", col.data_type()),
        expected: "numbers",
    })?;
    Ok(cast.as_primitive::<arrow::datatypes::Float64Type>().clone())
}

/// A text column of one batch: dictionary-encoded (keys into a values array) or plain.
enum TextColumn {
    Dict(DictionaryArray<Int32Type>, StringArray),
    Plain(StringArray),
}

impl TextColumn {
    fn of(batch: &RecordBatch, name: &str) -> Result<Self, QuantError> {
        let col = batch.column_by_name(name).expect("projected");
        let internal = |e: arrow::error::ArrowError| QuantError::ColumnType {
            file: String::new(),
            column: name.to_string(),
            found: e.to_string(),
            expected: "text",
        };
        if let DataType::Dictionary(k, _) = col.data_type() {
            let dict = if **k == DataType::Int32 {
                col.as_dictionary::<Int32Type>().clone()
            } else {
                let target = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                arrow::compute::cast(col, &target).map_err(internal)?.as_dictionary::<Int32Type>().clone()
            };
            let values = arrow::compute::cast(dict.values(), &DataType::Utf8).map_err(internal)?;
            return Ok(TextColumn::Dict(dict, values.as_string::<i32>().clone()));
        }
        let plain = arrow::compute::cast(col, &DataType::Utf8).map_err(internal)?;
        Ok(TextColumn::Plain(plain.as_string::<i32>().clone()))
    }

    fn value(&self, row: usize) -> &str {
        match self {
            TextColumn::Dict(d, v) if d.is_valid(row) => v.value(d.keys().value(row) as usize),
            TextColumn::Plain(s) if s.is_valid(row) => s.value(row),
            _ => "",
        }
    }

    fn is_empty(&self, row: usize) -> bool {
        self.value(row).trim().is_empty()
    }
}

/// Caches the id of each dictionary entry of a text column, so a name is resolved once per row group; plain
/// columns reuse the last value's id.
struct DictCache<T> {
    by_key: Vec<Option<T>>,
    /// The dictionary `by_key` belongs to, kept alive so that its buffers cannot be freed and their addresses
    /// reused by the next row group's (differently ordered) dictionary.
    dictionary: Option<StringArray>,
    last: Option<(String, T)>,
}

impl<T> Default for DictCache<T> {
    fn default() -> Self {
        DictCache { by_key: Vec::new(), dictionary: None, last: None }
    }
}

impl<T: Copy> DictCache<T> {
    fn start_batch(&mut self, col: &TextColumn) {
        if let TextColumn::Dict(_, values) = col {
            let same = self.dictionary.as_ref().is_some_and(|d| {
                d.len() == values.len()
                    && d.values().as_ptr() == values.values().as_ptr()
                    && d.offsets().as_ptr() == values.offsets().as_ptr()
            });
            if !same {
                self.dictionary = Some(values.clone());
                self.by_key.clear();
                self.by_key.resize(values.len(), None);
            }
        }
    }

    fn get(&mut self, col: &TextColumn, row: usize, resolve: impl FnOnce(&str) -> T) -> T {
        let slot = match col {
            TextColumn::Dict(d, _) if d.is_valid(row) => Some(d.keys().value(row) as usize),
            _ => None,
        };
        if let Some(id) = slot.and_then(|s| self.by_key[s]) {
            return id;
        }
        let value = col.value(row);
        let id = match &self.last {
            Some((last, id)) if last == value => *id,
            _ => {
                let id = resolve(value);
                self.last = Some((value.to_string(), id));
                id
            }
        };
        if let Some(s) = slot {
            self.by_key[s] = Some(id);
        }
        id
    }
}
