//! Parquet tables: build columns, write a batch to bytes, read bytes back into typed columns.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, Float64Array, RecordBatch, RecordBatchReader, StringArray,
    StringDictionaryBuilder, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

/// Rows per Parquet row group: large enough for good compression, small enough to stream.
const ROW_GROUP_ROWS: usize = 256 * 1024;
/// zstd level: level 3 is zstd's default, fast to write and read; higher levels gain little on float data.
const ZSTD_LEVEL: i32 = 3;

/// Mantissa bits kept in the statistics columns of `de/results.parquet` unless full precision is asked for:
/// relative error ≤ 2⁻³⁷ ≈ 7.3e-12 (11 significant digits), far inside the 1e-8 agreement with R limma we test
/// and below the floating-point agreement of two limma implementations (~1e-10 on nearly cancelling contrasts).
/// The zeroed low bits make those columns compress by about a third (byte-stream split + zstd).
pub const STORED_MANTISSA_BITS: u32 = 36;

/// `x` rounded to nearest with `bits` of its 52 mantissa bits kept ("bit rounding", as netCDF's
/// `nc_def_var_quantize(NC_QUANTIZE_BITROUND)`; Klöwer et al. 2021, Nature Computational Science 1:713).
/// The relative error is at most 2^-(bits+1) for normal numbers; NaN and ±∞ are returned unchanged.
pub fn round_mantissa(x: f64, bits: u32) -> f64 {
    if !x.is_finite() || bits >= 52 {
        return x;
    }
    let drop = 52 - bits;
    let mask = !((1u64 << drop) - 1);
    let rounded = f64::from_bits((x.to_bits() + (1u64 << (drop - 1))) & mask);
    // Rounding up from the largest finite values would carry into the infinite exponent: truncate instead.
    if rounded.is_finite() {
        rounded
    } else {
        f64::from_bits(x.to_bits() & mask)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("table `{table}` could not be written: {source}")]
    Write {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("table `{table}` is not a readable Parquet file: {source}")]
    Read {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("table `{table}` has no column `{column}`")]
    MissingColumn { table: String, column: String },
    #[error("table `{table}`: column `{column}` is {found}, expected {expected}")]
    ColumnType { table: String, column: String, found: String, expected: &'static str },
}

/// Columns of a table under construction, in order.
///
/// Float columns of distinct values (statistics) are written with byte-stream-split encoding and no dictionary,
/// which lets zstd compress their exponent bytes; columns of repeated values use a dictionary.
#[derive(Default)]
pub struct TableBuilder {
    fields: Vec<Field>,
    columns: Vec<ArrayRef>,
    split_floats: Vec<String>,
}

impl TableBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A text column stored plainly (ids that are mostly distinct).
    pub fn text(mut self, name: &str, values: &[String]) -> Self {
        self.fields.push(Field::new(name, DataType::Utf8, false));
        self.columns.push(Arc::new(StringArray::from_iter_values(values.iter())));
        self
    }

    /// A text column with few distinct values repeated (contrast, group): dictionary-encoded in memory and on disk.
    pub fn text_dict<'a>(mut self, name: &str, values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        for v in values {
            b.append_value(v);
        }
        let array = b.finish();
        self.fields.push(Field::new(name, array.data_type().clone(), false));
        self.columns.push(Arc::new(array));
        self
    }

    pub fn f64(mut self, name: &str, values: Vec<f64>) -> Self {
        self.split_floats.push(name.to_string());
        self.fields.push(Field::new(name, DataType::Float64, false));
        self.columns.push(Arc::new(Float64Array::from(values)));
        self
    }

    /// A float column where `NaN` means "not available": written as null so every reader sees a missing value.
    pub fn f64_nullable(mut self, name: &str, values: &[f64]) -> Self {
        self.split_floats.push(name.to_string());
        self.f64_repeated(name, values)
    }

    /// Like [`TableBuilder::f64_nullable`] for a column that repeats few distinct values (per-protein values in a
    /// protein × contrast table, degrees of freedom): dictionary-encoded.
    pub fn f64_repeated(mut self, name: &str, values: &[f64]) -> Self {
        self.fields.push(Field::new(name, DataType::Float64, true));
        self.columns.push(Arc::new(values.iter().map(|v| (!v.is_nan()).then_some(*v)).collect::<Float64Array>()));
        self
    }

    pub fn u32(mut self, name: &str, values: Vec<u32>) -> Self {
        self.fields.push(Field::new(name, DataType::UInt32, false));
        self.columns.push(Arc::new(UInt32Array::from(values)));
        self
    }

    pub fn bool(mut self, name: &str, values: Vec<bool>) -> Self {
        self.fields.push(Field::new(name, DataType::Boolean, false));
        self.columns.push(Arc::new(BooleanArray::from(values)));
        self
    }

    /// The columns of `other` after these ones.
    pub fn append(mut self, other: TableBuilder) -> Self {
        self.fields.extend(other.fields);
        self.columns.extend(other.columns);
        self.split_floats.extend(other.split_floats);
        self
    }

    /// Encode as Parquet (zstd; dictionary pages, byte-stream split for statistics). Same columns in ⇒ same bytes out.
    pub fn to_parquet(self, table: &str) -> Result<Vec<u8>, TableError> {
        let mut w = TableWriter::new(table);
        w.write(self)?;
        w.finish()
    }

    fn batch(self, table: &str) -> Result<(RecordBatch, Vec<String>), TableError> {
        let schema = Arc::new(Schema::new(self.fields));
        let batch = RecordBatch::try_new(schema, self.columns).map_err(|e| write_error(table, Box::new(e)))?;
        Ok((batch, self.split_floats))
    }
}

fn write_error(table: &str, e: Box<dyn std::error::Error + Send + Sync>) -> TableError {
    TableError::Write { table: table.to_string(), source: e }
}

/// A Parquet table written in parts: each [`TableWriter::write`] encodes and compresses its rows at once and drops
/// them, so a table built per contrast holds in memory only the encoded bytes, not the rows. The parts must have
/// the same columns; the first part's properties (dictionary, byte-stream split) apply to all.
pub struct TableWriter {
    table: String,
    writer: Option<ArrowWriter<Vec<u8>>>,
}

impl TableWriter {
    pub fn new(table: &str) -> Self {
        TableWriter { table: table.to_string(), writer: None }
    }

    /// Appends the rows of `part` (columns as the first part's).
    pub fn write(&mut self, part: TableBuilder) -> Result<(), TableError> {
        let table = self.table.clone();
        let wrap = |e: Box<dyn std::error::Error + Send + Sync>| write_error(&table, e);
        let (batch, split_floats) = part.batch(&table)?;
        if self.writer.is_none() {
            let mut props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).expect("valid zstd level")))
                .set_dictionary_enabled(true)
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .set_created_by(concat!("proteo ", env!("CARGO_PKG_VERSION")).to_string());
            for name in &split_floats {
                let path = ColumnPath::from(name.as_str());
                props = props
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT);
            }
            let writer =
                ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props.build())).map_err(|e| wrap(Box::new(e)))?;
            self.writer = Some(writer);
        }
        let writer = self.writer.as_mut().expect("created above");
        writer.write(&batch).map_err(|e| wrap(Box::new(e)))
    }

    /// Rows written so far.
    pub fn is_empty(&self) -> bool {
        self.writer.is_none()
    }

    /// The Parquet bytes. At least one part must have been written (it gives the columns).
    pub fn finish(self) -> Result<Vec<u8>, TableError> {
        let Some(writer) = self.writer else {
            return Err(write_error(&self.table, "no part was written: the table has no columns".into()));
        };
        writer.into_inner().map_err(|e| write_error(&self.table, Box::new(e)))
    }
}

/// A Parquet table read back into memory, with typed column access by name.
pub struct Table {
    name: String,
    batch: RecordBatch,
}

impl Table {
    pub fn from_parquet(bytes: Bytes, table: &str) -> Result<Self, TableError> {
        let wrap =
            |e: Box<dyn std::error::Error + Send + Sync>| TableError::Read { table: table.to_string(), source: e };
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(|e| wrap(Box::new(e)))?
            .with_batch_size(ROW_GROUP_ROWS)
            .build()
            .map_err(|e| wrap(Box::new(e)))?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| wrap(Box::new(e)))?;
        let batch = arrow::compute::concat_batches(&schema, &batches).map_err(|e| wrap(Box::new(e)))?;
        Ok(Table { name: table.to_string(), batch })
    }

    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.batch.schema().fields().iter().map(|f| f.name().clone()).collect()
    }

    fn column(&self, column: &str) -> Result<&ArrayRef, TableError> {
        self.batch
            .column_by_name(column)
            .ok_or_else(|| TableError::MissingColumn { table: self.name.clone(), column: column.to_string() })
    }

    fn type_error(&self, column: &str, found: &DataType, expected: &'static str) -> TableError {
        TableError::ColumnType {
            table: self.name.clone(),
            column: column.to_string(),
            found: found.to_string(),
            expected,
        }
    }

    /// A text column, plain or dictionary-encoded; nulls read as empty strings.
    pub fn text(&self, column: &str) -> Result<Vec<String>, TableError> {
        let col = self.column(column)?;
        let plain = match col.data_type() {
            DataType::Utf8 => col.clone(),
            DataType::Dictionary(_, v) if **v == DataType::Utf8 => arrow::compute::cast(col, &DataType::Utf8)
                .map_err(|e| TableError::Read { table: self.name.clone(), source: Box::new(e) })?,
            other => return Err(self.type_error(column, other, "text")),
        };
        let s = plain.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        Ok((0..s.len()).map(|i| if s.is_null(i) { String::new() } else { s.value(i).to_string() }).collect())
    }

    /// A text column as its values and, per row, the index of the row's value: a dictionary column is read
    /// without a string per row (its dictionary, plus `""` for nulls), a plain column gives one value per row.
    pub fn text_indexed(&self, column: &str) -> Result<(Vec<String>, Vec<u32>), TableError> {
        let col = self.column(column)?;
        match col.data_type() {
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let dict = col.as_any().downcast_ref::<DictionaryArray<Int32Type>>().expect("Int32 dictionary");
                let words = dict.values().as_any().downcast_ref::<StringArray>().expect("Utf8 dictionary values");
                let mut values: Vec<String> =
                    (0..words.len()).map(|i| if words.is_null(i) { "" } else { words.value(i) }.to_string()).collect();
                let null = values.len() as u32;
                let keys = dict.keys();
                let index =
                    (0..keys.len()).map(|i| if keys.is_null(i) { null } else { keys.value(i) as u32 }).collect();
                if keys.null_count() > 0 {
                    values.push(String::new());
                }
                Ok((values, index))
            }
            _ => {
                let values = self.text(column)?;
                let index = (0..values.len() as u32).collect();
                Ok((values, index))
            }
        }
    }

    /// A float column; nulls read as `NaN`.
    pub fn f64(&self, column: &str) -> Result<Vec<f64>, TableError> {
        let col = self.column(column)?;
        let f = col
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| self.type_error(column, col.data_type(), "float64"))?;
        Ok((0..f.len()).map(|i| if f.is_null(i) { f64::NAN } else { f.value(i) }).collect())
    }

    pub fn bool(&self, column: &str) -> Result<Vec<bool>, TableError> {
        let col = self.column(column)?;
        let b = col
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| self.type_error(column, col.data_type(), "boolean"))?;
        Ok((0..b.len()).map(|i| !b.is_null(i) && b.value(i)).collect())
    }

    pub fn u32(&self, column: &str) -> Result<Vec<u32>, TableError> {
        let col = self.column(column)?;
        let f = col
            .as_any()
            .downcast_ref::<UInt32Array>()
            .ok_or_else(|| self.type_error(column, col.data_type(), "uint32"))?;
        Ok(f.values().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_values_nulls_and_dictionary_text() {
        let bytes = TableBuilder::new()
            .text("id", &["a".to_string(), "b".to_string()])
            .text_dict("contrast", ["B-A", "B-A"])
            .f64_nullable("p", &[0.5, f64::NAN])
            .u32("n", vec![1, 2])
            .to_parquet("t")
            .unwrap();
        let t = Table::from_parquet(Bytes::from(bytes), "t").unwrap();
        assert_eq!(t.num_rows(), 2);
        assert_eq!(t.text("contrast").unwrap(), vec!["B-A", "B-A"]);
        let (values, index) = t.text_indexed("contrast").unwrap();
        assert_eq!(index.iter().map(|&k| values[k as usize].as_str()).collect::<Vec<_>>(), ["B-A", "B-A"]);
        assert_eq!(values.len(), 1, "a dictionary column gives its dictionary");
        let (values, index) = t.text_indexed("id").unwrap();
        assert_eq!((values, index), (vec!["a".to_string(), "b".to_string()], vec![0, 1]));
        let p = t.f64("p").unwrap();
        assert_eq!(p[0], 0.5);
        assert!(p[1].is_nan());
        assert_eq!(t.u32("n").unwrap(), vec![1, 2]);
        let err = t.f64("id").unwrap_err().to_string();
        assert!(err.contains("column `id` is Utf8, expected float64"), "{err}");
        assert!(t.f64("nope").unwrap_err().to_string().contains("no column `nope`"));
    }

    #[test]
    fn a_table_written_in_parts_reads_back_whole() {
        let part =
            |ids: &[&str], p: Vec<f64>| TableBuilder::new().text_dict("contrast", ids.iter().copied()).f64("p", p);
        let mut w = TableWriter::new("t");
        assert!(w.is_empty());
        w.write(part(&["B-A", "B-A"], vec![0.1, 0.2])).unwrap();
        w.write(part(&[], vec![])).unwrap();
        w.write(part(&["C-A"], vec![0.3])).unwrap();
        let t = Table::from_parquet(Bytes::from(w.finish().unwrap()), "t").unwrap();
        assert_eq!(t.text("contrast").unwrap(), vec!["B-A", "B-A", "C-A"]);
        assert_eq!(t.f64("p").unwrap(), vec![0.1, 0.2, 0.3]);
        assert!(TableWriter::new("t").finish().is_err());
        let whole = part(&["B-A", "B-A", "C-A"], vec![0.1, 0.2, 0.3]).to_parquet("t").unwrap();
        let mut w = TableWriter::new("t");
        w.write(part(&["B-A", "B-A"], vec![0.1, 0.2])).unwrap();
        w.write(part(&["C-A"], vec![0.3])).unwrap();
        assert_eq!(w.finish().unwrap(), whole, "small tables in parts are the bytes of the whole");
    }

    #[test]
    fn same_input_gives_identical_bytes() {
        let make = || TableBuilder::new().f64("x", vec![1.0, 2.0]).to_parquet("t").unwrap();
        assert_eq!(make(), make());
    }

    #[test]
    fn mantissa_rounding_stays_within_its_bound_and_keeps_specials() {
        let bound = 2f64.powi(-(STORED_MANTISSA_BITS as i32) - 1);
        let mut x = 1.234_567_890_123_456_7e-300;
        while x < 1e300 {
            for v in [x, -x, x * std::f64::consts::PI] {
                let r = round_mantissa(v, STORED_MANTISSA_BITS);
                assert!(((r - v) / v).abs() <= bound, "{v} -> {r}");
                assert_eq!(r.to_bits() & ((1 << (52 - STORED_MANTISSA_BITS)) - 1), 0, "low bits zero for {v}");
            }
            x *= 7.77;
        }
        assert!(round_mantissa(f64::NAN, 36).is_nan());
        assert_eq!(round_mantissa(f64::INFINITY, 36), f64::INFINITY);
        assert_eq!(round_mantissa(f64::MAX, 36), f64::from_bits(f64::MAX.to_bits() & !((1 << 16) - 1)));
        assert_eq!(round_mantissa(0.0, 36), 0.0);
        assert_eq!(round_mantissa(1.0, 36), 1.0);
        assert_eq!(round_mantissa(0.1, 52), 0.1);
    }

    #[test]
    fn garbage_is_a_read_error_not_a_panic() {
        let err = Table::from_parquet(Bytes::from_static(b"not parquet"), "qc/matrix.parquet").err().unwrap();
        assert!(err.to_string().starts_with("table `qc/matrix.parquet` is not a readable Parquet file"));
    }
}
