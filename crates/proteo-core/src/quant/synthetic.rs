//! A synthetic DIA-NN 2.x report.parquet with the real schema (the 71 columns and types of DIA-NN 2.1.0's report, in
//! its order), for benchmarks: proteins of 1–16 precursors, a profile per protein, missing values more often at low
//! intensity, and columns proteo does not read filled with cheap constant-like values.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{ArrayRef, DictionaryArray, Float32Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// DIA-NN 2.1.0 report.parquet columns in order (`diann_report-parquet_2.1.0-alphapepttools/SOURCE.md`, without
/// pandas' `__index_level_0__`): `i` int64, `s` string, `f` float32.
const SCHEMA: &[(&str, char)] = &[
    ("Run.Index", 'i'),
    ("Run", 's'),
    ("Channel", 's'),
    ("Precursor.Id", 's'),
    ("Modified.Sequence", 's'),
    ("Stripped.Sequence", 's'),
    ("Precursor.Charge", 'i'),
    ("Precursor.Lib.Index", 'i'),
    ("Decoy", 'i'),
    ("Proteotypic", 'i'),
    ("Precursor.Mz", 'f'),
    ("Protein.Ids", 's'),
    ("Protein.Group", 's'),
    ("Protein.Names", 's'),
    ("Genes", 's'),
    ("RT", 'f'),
    ("iRT", 'f'),
    ("Predicted.RT", 'f'),
    ("Predicted.iRT", 'f'),
    ("IM", 'f'),
    ("iIM", 'f'),
    ("Predicted.IM", 'f'),
    ("Predicted.iIM", 'f'),
    ("Precursor.Quantity", 'f'),
    ("Precursor.Normalised", 'f'),
    ("Ms1.Area", 'f'),
    ("Ms1.Normalised", 'f'),
    ("Ms1.Apex.Area", 'f'),
    ("Ms1.Apex.Mz.Delta", 'f'),
    ("Normalisation.Factor", 'f'),
    ("Quantity.Quality", 'f'),
    ("Empirical.Quality", 'f'),
    ("Normalisation.Noise", 'f'),
    ("Ms1.Profile.Corr", 'f'),
    ("Evidence", 'f'),
    ("Mass.Evidence", 'f'),
    ("Channel.Evidence", 'f'),
    ("Ms1.Total.Signal.Before", 'f'),
    ("Ms1.Total.Signal.After", 'f'),
    ("RT.Start", 'f'),
    ("RT.Stop", 'f'),
    ("FWHM", 'f'),
    ("PG.TopN", 'f'),
    ("PG.MaxLFQ", 'f'),
    ("Genes.TopN", 'f'),
    ("Genes.MaxLFQ", 'f'),
    ("Genes.MaxLFQ.Unique", 'f'),
    ("PG.MaxLFQ.Quality", 'f'),
    ("Genes.MaxLFQ.Quality", 'f'),
    ("Genes.MaxLFQ.Unique.Quality", 'f'),
    ("Q.Value", 'f'),
    ("PEP", 'f'),
    ("Global.Q.Value", 'f'),
    ("Lib.Q.Value", 'f'),
    ("Peptidoform.Q.Value", 'f'),
    ("Global.Peptidoform.Q.Value", 'f'),
    ("Lib.Peptidoform.Q.Value", 'f'),
    ("PTM.Site.Confidence", 'f'),
    ("Site.Occupancy.Probabilities", 's'),
    ("Protein.Sites", 's'),
    ("Lib.PTM.Site.Confidence", 'f'),
    ("Translated.Q.Value", 'f'),
    ("Channel.Q.Value", 'f'),
    ("PG.Q.Value", 'f'),
    ("PG.PEP", 'f'),
    ("GG.Q.Value", 'f'),
    ("Protein.Q.Value", 'f'),
    ("Global.PG.Q.Value", 'f'),
    ("Lib.PG.Q.Value", 'f'),
    ("Best.Fr.Mz", 'f'),
    ("Best.Fr.Mz.Delta", 'f'),
];

/// Rows per row group: Arrow C++'s default maximum (1 Mi rows), which pyarrow and DIA-NN's writer inherit.
pub const REPORT_ROW_GROUP_ROWS: usize = 1 << 20;

/// The shape of a synthetic report.
#[derive(Debug, Clone)]
pub struct ReportSpec {
    pub runs: usize,
    pub precursors: usize,
    /// Fraction of (precursor, run) cells without a row (more often at low intensity).
    pub missing: f64,
    pub seed: u64,
    /// Rows per row group ([`REPORT_ROW_GROUP_ROWS`] as DIA-NN writes; smaller in tests).
    pub row_group_rows: usize,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportStats {
    pub rows: usize,
    pub proteins: usize,
}

struct Precursor {
    protein: u32,
    log2: f64,
}

/// The `Run` of run `r` in a synthetic report (what a design names it by).
pub fn run_name(r: usize) -> String {
    format!("20240101_cohort_run{r:05}")
}

/// Writes the report to `out` (snappy, as the real file), run after run as DIA-NN does.
pub fn write_report<W: Write + Send>(spec: &ReportSpec, out: W) -> Result<ReportStats, parquet::errors::ParquetError> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let unit = Normal::new(0.0, 1.0).expect("valid normal");
    let mut precursors = Vec::with_capacity(spec.precursors);
    let mut protein_level = Vec::new();
    while precursors.len() < spec.precursors {
        let protein = protein_level.len() as u32;
        let level = 20.0 + 2.5 * unit.sample(&mut rng);
        protein_level.push(level);
        let n = 1 + (rng.random::<f64>().powi(2) * 16.0) as usize;
        for _ in 0..n.min(spec.precursors - precursors.len()) {
            precursors.push(Precursor { protein, log2: level + 1.5 * unit.sample(&mut rng) });
        }
    }
    let n_proteins = protein_level.len();
    let profile: Vec<f64> = (0..n_proteins * spec.runs).map(|_| 0.5 * unit.sample(&mut rng)).collect();
    let names: Vec<String> = (0..precursors.len()).map(|i| format!("PEPTIDE{i:06}K2")).collect();
    let seqs: Vec<String> = (0..precursors.len()).map(|i| format!("PEPTIDE{i:06}K")).collect();
    let pgs: Vec<String> = (0..n_proteins).map(|p| format!("P{p:05}")).collect();
    let genes: Vec<String> = (0..n_proteins).map(|p| format!("GENE{p}")).collect();
    let runs: Vec<String> = (0..spec.runs).map(run_name).collect();
    let dict = |values: &[String]| Arc::new(StringArray::from_iter_values(values));
    let (names, seqs, pgs, genes) = (dict(&names), dict(&seqs), dict(&pgs), dict(&genes));
    let empty = Arc::new(StringArray::from_iter_values([""]));

    let fields: Vec<Field> = SCHEMA
        .iter()
        .map(|(name, t)| {
            let dt = match t {
                'i' => DataType::Int64,
                's' => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                _ => DataType::Float32,
            };
            Field::new(*name, dt, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(spec.row_group_rows))
        .build();
    // Without the Arrow schema in the footer the text columns read back as plain strings, as in a DIA-NN file.
    let options = ArrowWriterOptions::new().with_properties(props).with_skip_arrow_metadata(true);
    let mut writer = ArrowWriter::try_new_with_options(out, schema.clone(), options)?;
    let mut rows = 0;
    for r in 0..spec.runs {
        let run_shift = 0.3 * unit.sample(&mut rng);
        let mut idx: Vec<i32> = Vec::with_capacity(precursors.len());
        let mut quantity = Vec::with_capacity(precursors.len());
        for (i, p) in precursors.iter().enumerate() {
            let log2 = p.log2 + profile[p.protein as usize * spec.runs + r] + 0.2 * unit.sample(&mut rng);
            // Missing values concentrate below the median intensity (missing not at random).
            let low = 1.0 / (1.0 + ((log2 - 19.0) * 1.5).exp());
            if rng.random::<f64>() < spec.missing * 2.0 * low {
                continue;
            }
            idx.push(i as i32);
            quantity.push(log2.exp2() as f32);
        }
        let n = idx.len();
        rows += n;
        let keys = |f: &dyn Fn(i32) -> i32| Int32Array::from_iter_values(idx.iter().map(|&i| f(i)));
        let protein_keys = keys(&|i| precursors[i as usize].protein as i32);
        let columns: Vec<ArrayRef> = SCHEMA
            .iter()
            .map(|(name, _)| -> ArrayRef {
                let text = |k: Int32Array, v: &Arc<StringArray>| {
                    Arc::new(DictionaryArray::<Int32Type>::try_new(k, v.clone() as ArrayRef).expect("keys in range"))
                        as ArrayRef
                };
                let float = |v: f32| Arc::new(Float32Array::from_value(v, n)) as ArrayRef;
                match *name {
                    "Run.Index" => Arc::new(Int64Array::from_value(r as i64, n)),
                    "Run" => {
                        text(Int32Array::from_value(0, n), &Arc::new(StringArray::from_iter_values([runs[r].as_str()])))
                    }
                    "Precursor.Id" => text(keys(&|i| i), &names),
                    "Modified.Sequence" | "Stripped.Sequence" => text(keys(&|i| i), &seqs),
                    "Protein.Ids" | "Protein.Group" | "Protein.Names" => text(protein_keys.clone(), &pgs),
                    "Genes" => text(protein_keys.clone(), &genes),
                    "Channel" | "Site.Occupancy.Probabilities" | "Protein.Sites" => {
                        text(Int32Array::from_value(0, n), &empty)
                    }
                    "Precursor.Charge" => Arc::new(Int64Array::from_value(2, n)),
                    "Precursor.Lib.Index" => Arc::new(Int64Array::from_iter_values(idx.iter().map(|&i| i64::from(i)))),
                    "Decoy" => Arc::new(Int64Array::from_value(0, n)),
                    "Proteotypic" => Arc::new(Int64Array::from_value(1, n)),
                    "Precursor.Quantity" | "Ms1.Area" | "Ms1.Apex.Area" => Arc::new(Float32Array::from_iter_values(
                        quantity.iter().map(|q| q * (-run_shift).exp2() as f32),
                    )),
                    "Precursor.Normalised" | "Ms1.Normalised" => Arc::new(Float32Array::from(quantity.clone())),
                    "Q.Value" | "Global.Q.Value" => {
                        Arc::new(Float32Array::from_iter_values(
                            idx.iter().map(|&i| if i % 97 == 0 { 0.02 } else { 1e-4 }),
                        ))
                    }
                    "Lib.Q.Value" | "Lib.PG.Q.Value" | "PG.Q.Value" | "Global.PG.Q.Value" => float(1e-4),
                    "Normalisation.Factor" => float(run_shift.exp2() as f32),
                    _ => float(1.0),
                }
            })
            .collect();
        writer.write(&RecordBatch::try_new(schema.clone(), columns).expect("columns match the schema"))?;
    }
    writer.close()?;
    Ok(ReportStats { rows, proteins: n_proteins })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{looks_like_precursor_report, read_precursor_report, PrecursorKind, QuantParams};

    #[test]
    fn synthetic_report_has_the_real_schema_and_reads_back() {
        let mut bytes = Vec::new();
        let spec = ReportSpec { runs: 3, precursors: 50, missing: 0.1, seed: 1, row_group_rows: REPORT_ROW_GROUP_ROWS };
        let stats = write_report(&spec, &mut bytes).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.clone()))
                .unwrap();
        let names: Vec<String> = reader.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names.len(), 71);
        assert_eq!(looks_like_precursor_report(&names), Some(PrecursorKind::DiannReport));
        assert_eq!(reader.schema().field_with_name("Run").unwrap().data_type(), &DataType::Utf8);
        assert_eq!(reader.schema().field_with_name("Q.Value").unwrap().data_type(), &DataType::Float32);
        let (table, report) = read_precursor_report(&bytes, "report.parquet", &QuantParams::default()).unwrap();
        let q = report.precursor.unwrap();
        assert_eq!(q.rows, stats.rows);
        assert_eq!(table.n_samples(), 3);
        assert!(q.protein_groups > 0 && q.protein_groups <= stats.proteins);
        assert!(q.filters[0].removed > 0, "Q.Value 0.02 rows are filtered");
    }
}

#[cfg(test)]
mod row_group_tests {
    use super::*;
    use crate::quant::{read_precursor_report, QuantParams};

    /// Every row group has its own dictionary, in its own order: names must be resolved per row group, and the
    /// table must not depend on how the rows were grouped.
    #[test]
    fn many_small_row_groups_give_the_same_table_as_one() {
        // More rows than one decoded batch (64 Ki), so batches and row groups do not line up.
        let read = |row_group_rows: usize| {
            let spec = ReportSpec { runs: 4, precursors: 30_000, missing: 0.0, seed: 3, row_group_rows };
            let mut bytes = Vec::new();
            write_report(&spec, &mut bytes).unwrap();
            read_precursor_report(&bytes, "report.parquet", &QuantParams::default()).unwrap()
        };
        let (one, r1) = read(REPORT_ROW_GROUP_ROWS);
        let q = r1.precursor.unwrap();
        // Precursors 0, 97, 194, … (310 of them) have Q.Value 0.02 in every run and are filtered away.
        assert_eq!((q.precursors, q.split_protein_groups), (30_000 - 310, 0), "complete data: one component each");
        for rows in [7_777, 30_000, 50_000] {
            let (other, r) = read(rows);
            assert_eq!(r.precursor.unwrap().precursors, 30_000 - 310, "row groups of {rows}");
            assert_eq!(other.protein_ids, one.protein_ids);
            let bits = |t: &crate::model::IntensityTable| t.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&other), bits(&one), "row groups of {rows}");
        }
    }
}
