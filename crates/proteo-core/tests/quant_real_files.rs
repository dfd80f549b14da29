//! Every precursor-level export in ../shared/data/formats/ read as the tool wrote it, or refused with its sentence;
//! and hostile precursor files refused without a panic. Tests marked "needs ../shared" are skipped, with a printed
//! reason, when that folder is absent.

use std::io::Write;
use std::path::PathBuf;

use proteo_core::input::{read_intensities, InputError};
use proteo_core::model::{InputReport, IntensityTable};
use proteo_core::quant::{read_precursor_report, QuantParams, Quantity};

fn shared(rel: &str) -> Option<Vec<u8>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/formats").join(rel);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("skipped: {} is absent (this test needs ../shared/data/formats beside the clone)", p.display());
            None
        }
    }
}

fn read(bytes: &[u8], name: &str, params: &QuantParams) -> Result<(IntensityTable, InputReport), InputError> {
    read_precursor_report(bytes, name, params)
}

#[test]
fn diann_parquet_2_1_with_pandas_index_is_read_through_detection() {
    let Some(bytes) = shared("diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet") else { return };
    // The same path `proteo run` takes: detection from the bytes, default parameters.
    let (t, r) = read_intensities(&bytes, "top20_report.parquet", None).unwrap();
    assert_eq!((t.n_proteins(), t.n_samples()), (15, 61));
    assert_eq!(t.samples[0], "20180618_QX0_JaBa_SA_LC12_5_CSF1_1_8-1xD1xS1fM1_sampleA01");
    let i = t.protein_ids.iter().position(|p| p == "P02649").unwrap();
    assert_eq!((t.gene_names[i].as_str(), t.majority_ids[i].as_str()), ("APOE", "P02649;E7ERP7;H0Y7L5;E9PEV4"));
    assert_eq!(r.format, "precursor-report");
    assert_eq!(r.detected, "DIA-NN report.parquet (1.9/2.x column set)");
    assert_eq!(r.intensity_columns, "Precursor.Normalised");
    let q = r.precursor.unwrap();
    assert_eq!((q.rows, q.runs, q.precursors, q.protein_groups), (7172, 61, 127, 15));
    let applied: Vec<_> = q.filters.iter().map(|f| (f.column.as_str(), f.threshold, f.applied)).collect();
    assert_eq!(applied, [("Q.Value", 0.01, true), ("Lib.Q.Value", 0.01, true), ("Lib.PG.Q.Value", 0.01, true)]);
    // Every row of this subset passes (DIA-NN filtered the report at 1 %), so nothing is removed.
    assert_eq!(q.filters.iter().map(|f| f.removed).sum::<usize>() + q.removed_decoy + q.removed_no_quantity, 0);
    let json = serde_json::to_value(&q).unwrap();
    assert_eq!(json["filters"][1]["column"], "Lib.Q.Value");

    // Options: proteotypic only removes the 9.5 % shared precursors; PG.Q.Value as an extra filter.
    let p = QuantParams { proteotypic_only: true, pg_q_value: Some(0.0007), ..QuantParams::default() };
    let (strict, r) = read(&bytes, "r.parquet", &p).unwrap();
    let q = r.precursor.unwrap();
    assert!(q.removed_not_proteotypic > 0, "{q:?}");
    assert_eq!(q.filters[3].column, "PG.Q.Value");
    assert_eq!(q.filters[3].removed, 2148);
    // PG.Q.Value is run-specific: 19 runs lose every row and are listed, not silently dropped.
    assert_eq!((strict.n_samples(), q.runs_without_precursors.len()), (42, 19));
    let (pg, r) =
        read(&bytes, "r.parquet", &QuantParams { quantity: Quantity::PgMaxlfq, ..QuantParams::default() }).unwrap();
    assert_eq!(r.intensity_columns, "PG.MaxLFQ");
    assert_eq!(pg.protein_ids, t.protein_ids);
    // PG.MaxLFQ of P02649 in the first run, as stored (float32) in the file.
    assert!(pg.value(i, 0) > 0.0);
}

#[test]
fn diann_report_tsv_1_8_and_1_9_with_and_without_index_column() {
    for (rel, proteins, runs) in [
        ("diann_report-tsv_1.8.2b8-einprot/PXD028735.report.tsv", 72, 6),
        ("diann_report-tsv_1.8.1-alphabase/diann_1.8.1_report_head.tsv", 14, 6),
        ("diann_report-tsv_1.9.0-alphabase/diann_1.9.0_report_head.tsv", 16, 6),
    ] {
        let Some(bytes) = shared(rel) else { return };
        let (t, r) = read_intensities(&bytes, rel, None).unwrap();
        assert_eq!((t.n_proteins(), t.n_samples()), (proteins, runs), "{rel}");
        assert!(!t.samples[0].contains(['/', '\\']) && !t.samples[0].ends_with(".mzML"), "{}", t.samples[0]);
        let q = r.precursor.unwrap();
        assert_eq!(q.quantity, "Precursor.Normalised");
        eprintln!("{rel}: {} rows, filters {:?}", q.rows, q.filters);
    }
    // 1.8.1: Lib.PG.Q.Value > 0.01 on 10 rows (2 protein groups).
    let Some(bytes) = shared("diann_report-tsv_1.8.1-alphabase/diann_1.8.1_report_head.tsv") else { return };
    let q = read(&bytes, "r.tsv", &QuantParams::default()).unwrap().1.precursor.unwrap();
    assert_eq!(q.filters[2].column, "Lib.PG.Q.Value");
    assert_eq!(q.filters[2].removed, 10);
    let relaxed = QuantParams { lib_pg_q_value: 1.0, ..QuantParams::default() };
    assert_eq!(read(&bytes, "r.tsv", &relaxed).unwrap().0.n_proteins(), 16);
}

#[test]
fn diann_pr_matrix_is_summarised_by_maxlfq() {
    let Some(bytes) = shared("diann_pr-matrix_1.8.2b8-einprot/PXD028735.pr_matrix.tsv") else { return };
    let (t, r) = read_intensities(&bytes, "PXD028735.pr_matrix.tsv", None).unwrap();
    assert_eq!(t.n_samples(), 6);
    assert!(t.samples.contains(&"LFQ_Orbitrap_AIF_Condition_A_Sample_Beta_01".to_string()));
    let q = r.precursor.unwrap();
    assert_eq!(q.kind, "DIA-NN precursor matrix (pr_matrix)");
    assert_eq!(q.rows, 100);
    assert!(q.removed_no_quantity > 0, "rows without any value (the first row) are counted");
    assert!(q.filters.iter().all(|f| !f.applied), "a matrix has no q-values left to filter on");
    let proteotypic = QuantParams { proteotypic_only: true, ..QuantParams::default() };
    assert!(read(&bytes, "m.tsv", &proteotypic).unwrap().1.precursor.unwrap().removed_not_proteotypic > 0);
}

#[test]
fn alphadia_precursor_matrix_merges_the_duplicated_rows() {
    let Some(bytes) = shared("alphadia_precursor-matrix_1.10-proteobench/AlphaDIA_1.10_sample.tsv") else { return };
    let (t, r) = read_intensities(&bytes, "AlphaDIA_1.10_sample.tsv", None).unwrap();
    let q = r.precursor.unwrap();
    // 334 rows, 73 distinct precursors of 61 genes; 0.0 = missing.
    assert_eq!((q.rows, q.precursors, q.protein_groups, q.runs), (334, 73, 61, 6));
    assert!(q.duplicates_merged > 0);
    assert_eq!(t.samples[0], "LFQ_Orbitrap_AIF_Condition_A_Sample_Alpha_01");
}

#[test]
fn alphadia_precursors_tsv_of_one_run_is_refused_with_what_to_upload() {
    let Some(bytes) = shared("alphadia_precursors-tsv_1.8.1-alphabase/alphadia_1.8.1_report_head.tsv") else { return };
    let e = read_intensities(&bytes, "precursors.tsv", None).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "precursors.tsv holds precursors of 1 run (`20240408_OA1_Evo12_31min_TiHe_SA_H032_E32_F-40_B1`); \
                       a protein matrix for differential expression needs at least 2 runs"
        ),
        "{e}"
    );
    assert!(e.ends_with("or its protein matrix (AlphaDIA pg.matrix.tsv)"), "{e}");
}

fn small_report(rows: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let mut s = String::from("File.Name\tProtein.Group\tGenes\tPrecursor.Id\tPrecursor.Quantity\tQ.Value\n");
    for (run, pg, prec, q) in rows {
        s.push_str(&format!("/data/{run}.raw\t{pg}\tG\t{prec}\t{q}\t0.001\n"));
    }
    s.into_bytes()
}

#[test]
fn gzip_tsv_and_file_name_runs() {
    let tsv = small_report(&[
        ("a", "P1", "X2", "100"),
        ("b", "P1", "X2", "200"),
        ("a", "P2", "Y2", "5"),
        ("b", "P2", "Y2", ""),
    ]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tsv).unwrap();
    let (t, r) = read_intensities(&gz.finish().unwrap(), "report.tsv.gz", None).unwrap();
    assert_eq!(t.samples, ["a", "b"]);
    assert!((t.value(0, 0) - 100.0).abs() < 1e-12 && (t.value(0, 1) - 200.0).abs() < 1e-12);
    assert!(t.value(1, 1).is_nan());
    let q = r.precursor.unwrap();
    assert_eq!((q.removed_no_quantity, q.quantity.as_str()), (1, "Precursor.Quantity"));
    assert_eq!(q.filters.iter().filter(|f| !f.applied).count(), 2, "no Lib.* columns in this report");
}

#[test]
fn refusals_name_the_file_and_what_to_do() {
    let msg = |b: &[u8]| read_intensities(b, "report.tsv", None).unwrap_err().to_string();
    // Bad number in a q-value column: file, line, column.
    let bad = small_report(&[("a", "P1", "X2", "100"), ("b", "P1", "X2", "1,5")]);
    assert!(
        msg(&bad).starts_with("report.tsv, line 3, column `Precursor.Quantity`: `1,5` contains a comma"),
        "{}",
        msg(&bad)
    );
    // Everything filtered away.
    let high_q = b"Run\tProtein.Group\tPrecursor.Id\tPrecursor.Quantity\tQ.Value\na\tP\tX\t1\t0.5\nb\tP\tX\t1\t0.2\n";
    assert_eq!(
        msg(high_q),
        "report.tsv: no precursor is left after the filters (2 rows read, 2 removed by Q.Value ≤ 0.01); relax the \
         threshold that removed them (e.g. --q-value 0.05) or check that this is the report of a finished search"
    );
    // One run.
    assert!(msg(&small_report(&[("a", "P1", "X2", "1")])).contains("holds precursors of 1 run (`a`)"));
    // Header only.
    assert_eq!(
        msg(b"Run\tProtein.Group\tPrecursor.Id\tPrecursor.Quantity\n"),
        "report.tsv has a header line but no data rows below it"
    );
    let e = read(b"Run\tPrecursor.Id\tPrecursor.Quantity\na\tX\t1\n", "r.tsv", &QuantParams::default()).unwrap_err();
    assert!(e.to_string().starts_with("r.tsv: the DIA-NN main report has no `Protein.Group` column"), "{e}");
    let e = read(b"id\tA\nP\t1\n", "m.tsv", &QuantParams::default()).unwrap_err().to_string();
    assert!(e.starts_with("m.tsv is not a precursor-level report"), "{e}");
}

#[test]
fn hostile_parquet_is_refused_without_panic() {
    let Some(bytes) = shared("diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet") else { return };
    for cut in [4, 100, bytes.len() / 2, bytes.len() - 1] {
        let e = read_intensities(&bytes[..cut], "report.parquet", None).unwrap_err().to_string();
        assert!(e.starts_with("report.parquet could not be read as Parquet"), "{cut}: {e}");
        assert!(e.len() < 400, "{e}");
    }
    let mut flipped = bytes.clone();
    for b in flipped.iter_mut().skip(4000).step_by(997).take(200) {
        *b ^= 0x5A;
    }
    assert!(read_intensities(&flipped, "report.parquet", None).is_err());
}

#[test]
fn parquet_without_report_columns_says_what_it_is_not() {
    use proteo_core::tables::TableBuilder;
    let bytes =
        TableBuilder::new().text("protein_id", &["P1".to_string()]).f64("A", vec![1.0]).to_parquet("t").unwrap();
    let e = read_intensities(&bytes, "matrix.parquet", None).unwrap_err().to_string();
    assert!(e.starts_with("matrix.parquet is a Parquet file but not a DIA-NN main report"), "{e}");
}
