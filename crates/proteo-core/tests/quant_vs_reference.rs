//! MaxLFQ against its references: iq's maxLFQ() (numpy transcription, tests/reference/maxlfq_reference.py), the
//! report's own PG.MaxLFQ, and directLFQ's ranking of proteins. Tests marked "needs ../shared" read the real DIA-NN
//! reports from ../shared/data/formats/ and are skipped, with a printed reason, when that folder is absent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proteo_core::model::IntensityTable;
use proteo_core::quant::{read_precursor_report, QuantParams, Quantity};

/// Agreement with the numpy transcription of iq: both solve the same least-squares system in double precision
/// (numpy lstsq on iq's bordered system, nalgebra Cholesky or the closed form here); measured ≤ 4e-14 in log2.
const IQ_TOL_LOG2: f64 = 1e-9;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    crate_dir().join("tests/fixtures/quant").join(name)
}

fn shared(rel: &str) -> Option<PathBuf> {
    let p = crate_dir().join("../../../shared/data/formats").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent (this test needs ../shared/data/formats beside the clone)", p.display());
        None
    }
}

fn read(path: &Path, params: &QuantParams) -> IntensityTable {
    let bytes = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    read_precursor_report(&bytes, &name, params).unwrap_or_else(|e| panic!("{name}: {e}")).0
}

/// (protein, run) → value, from a reference TSV with a header.
fn reference(path: &Path) -> HashMap<(String, String), f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ((f[0].to_string(), f[1].to_string()), f[2].parse().unwrap())
        })
        .collect()
}

fn log2_cells(t: &IntensityTable) -> HashMap<(String, String), f64> {
    let mut out = HashMap::new();
    for (i, p) in t.protein_ids.iter().enumerate() {
        for (j, s) in t.samples.iter().enumerate() {
            let v = t.value(i, j);
            if !v.is_nan() {
                out.insert((p.clone(), s.clone()), v.log2());
            }
        }
    }
    out
}

fn assert_equals_iq(ours: &IntensityTable, expected: &Path) {
    let ours = log2_cells(ours);
    let expected = reference(expected);
    assert_eq!(ours.len(), expected.len(), "the same cells are quantified");
    let mut worst = 0.0f64;
    for (key, e) in &expected {
        let o = ours.get(key).unwrap_or_else(|| panic!("{key:?} not quantified"));
        worst = worst.max((o - e).abs());
    }
    eprintln!("{}: {} cells, max |log2 difference| to iq = {worst:.2e}", expected.len(), expected.len());
    assert!(worst <= IQ_TOL_LOG2, "max |Δlog2| {worst:e}");
}

#[test]
fn synthetic_report_equals_the_iq_transcription() {
    let t = read(&fixture("maxlfq_synthetic_report.tsv"), &QuantParams::default());
    assert_equals_iq(&t, &fixture("maxlfq_synthetic_expected.tsv"));
    // Genes travel with the protein; the lonely-run protein PG99 is its median in its single run.
    let i = t.protein_ids.iter().position(|p| p == "PG99").unwrap();
    assert_eq!(t.gene_names[i], "G99");
    let s11 = t.samples.iter().position(|s| s == "S11").unwrap();
    // 2^18.5 is stored as float32 in the report, as DIA-NN stores quantities: 1e-7 relative.
    assert!((t.value(i, s11).log2() - 18.5).abs() < 1e-6);
}

#[test]
fn real_reports_equal_the_iq_transcription() {
    for (name, rel) in [
        ("diann21_parquet", "diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet"),
        ("diann182_tsv", "diann_report-tsv_1.8.2b8-einprot/PXD028735.report.tsv"),
        ("diann181_tsv", "diann_report-tsv_1.8.1-alphabase/diann_1.8.1_report_head.tsv"),
        ("diann190_tsv", "diann_report-tsv_1.9.0-alphabase/diann_1.9.0_report_head.tsv"),
    ] {
        let Some(path) = shared(rel) else { return };
        eprint!("{name}: ");
        assert_equals_iq(&read(&path, &QuantParams::default()), &fixture(&format!("maxlfq_iq_{name}.tsv")));
    }
}

/// Ranks with ties averaged, as Spearman's correlation needs.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            r[k] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    r
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Per run, Spearman's correlation over the proteins both tables quantify there.
fn spearman_per_run(ours: &HashMap<(String, String), f64>, other: &HashMap<(String, String), f64>) -> Vec<f64> {
    let mut runs: Vec<&String> = ours.keys().map(|(_, r)| r).collect();
    runs.sort();
    runs.dedup();
    runs.iter()
        .filter_map(|run| {
            let pairs: Vec<(f64, f64)> = ours
                .iter()
                .filter(|((_, r), _)| r == *run)
                .filter_map(|(k, v)| other.get(k).map(|o| (*v, *o)))
                .collect();
            (pairs.len() >= 3).then(|| {
                let (a, b): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
                pearson(&ranks(&a), &ranks(&b))
            })
        })
        .collect()
}

fn quantiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

/// The DIA-NN 2.1 report.parquet (Bader 2020 CSF, 61 runs, 15 protein groups) is a "top20" subset: each protein
/// group keeps 6–18 of its precursors, while DIA-NN computed PG.MaxLFQ from all of them and anchors each protein's
/// level to its most intense precursor (DIA-NN R package `maxlfq_solve`), where iq anchors to the mean. So exact
/// agreement is impossible here; measured instead (proteo vs PG.MaxLFQ): the between-run profile (log2, centred per
/// protein) deviates by a per-protein median |Δ| of 0.10–0.55, median 0.19; the ranking of the 15 proteins within a
/// run has Spearman ≥ 0.38 (median 0.59) against PG.MaxLFQ and ≥ 0.65 (median 0.80) against directLFQ 0.3.3,
/// whose own ranking agrees with PG.MaxLFQ at median 0.65. The complete groups of the TSV subsets reproduce
/// PG.MaxLFQ to the printed digits (next test); the algorithm itself equals iq to 4e-13 (tests above).
#[test]
fn parquet_profiles_and_rankings_follow_pg_maxlfq_and_directlfq() {
    let Some(path) = shared("diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet") else { return };
    let ours = read(&path, &QuantParams::default());
    let diann = read(&path, &QuantParams { quantity: Quantity::PgMaxlfq, ..QuantParams::default() });
    assert_eq!(ours.protein_ids, diann.protein_ids);
    assert_eq!(ours.samples, diann.samples);
    let mut per_protein = Vec::new();
    for i in 0..ours.n_proteins() {
        let pairs: Vec<(f64, f64)> = (0..ours.n_samples())
            .map(|j| (ours.value(i, j).log2(), diann.value(i, j).log2()))
            .filter(|(a, b)| !a.is_nan() && !b.is_nan())
            .collect();
        let (ma, mb) = pairs.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
        let n = pairs.len() as f64;
        let mut dev: Vec<f64> = pairs.iter().map(|(a, b)| ((a - ma / n) - (b - mb / n)).abs()).collect();
        dev.sort_by(f64::total_cmp);
        per_protein.push(dev[dev.len() / 2]);
    }
    let (lo, mid, hi) = quantiles(per_protein);
    eprintln!("PG.MaxLFQ centred-profile median |Δlog2| per protein: min {lo:.3}, median {mid:.3}, max {hi:.3}");
    assert!(hi <= 0.6 && mid <= 0.25, "profiles drifted from PG.MaxLFQ: median {mid}, max {hi}");

    let dlfq = reference(&fixture("directlfq_diann21_parquet.tsv"));
    let dlfq: HashMap<_, _> = dlfq.into_iter().map(|(k, v)| (k, v.log2())).collect();
    let (ours, diann) = (log2_cells(&ours), log2_cells(&diann));
    let (lo, mid, _) = quantiles(spearman_per_run(&ours, &diann));
    eprintln!("Spearman per run vs PG.MaxLFQ: min {lo:.3}, median {mid:.3}");
    let (dlo, dmid, _) = quantiles(spearman_per_run(&ours, &dlfq));
    eprintln!("Spearman per run vs directLFQ 0.3.3: min {dlo:.3}, median {dmid:.3}");
    let (xlo, xmid, _) = quantiles(spearman_per_run(&dlfq, &diann));
    eprintln!("Spearman per run, directLFQ vs PG.MaxLFQ: min {xlo:.3}, median {xmid:.3}");
    assert!(dlo >= 0.6 && dmid >= 0.75, "ranking vs directLFQ: min {dlo}, median {dmid}");
    // The two references agree with each other no better than proteo agrees with PG.MaxLFQ.
    assert!(lo >= 0.3 && mid >= 0.5 && mid >= xmid - 0.1, "ranking vs PG.MaxLFQ: min {lo}, median {mid}");
}

/// A few protein groups of the TSV subsets are complete (a single precursor, every row kept): there proteo must
/// reproduce DIA-NN's PG.MaxLFQ to the 6 significant digits the TSV prints. Measured: 8 groups (G5EA36;I3L328,
/// H7C2J9;Q5VWC4, Q68DK7 in 1.8.2; P0CG40, Q9NYQ7 in 1.8.1; O75074, Q9NQP4, Q9NUP1 in 1.9.0).
#[test]
fn complete_groups_reproduce_pg_maxlfq_to_printed_precision() {
    let mut matched = Vec::new();
    for rel in [
        "diann_report-tsv_1.8.2b8-einprot/PXD028735.report.tsv",
        "diann_report-tsv_1.8.1-alphabase/diann_1.8.1_report_head.tsv",
        "diann_report-tsv_1.9.0-alphabase/diann_1.9.0_report_head.tsv",
    ] {
        let Some(path) = shared(rel) else { return };
        // DIA-NN's own MaxLFQ does not filter on the library q-values: compare on the same rows it used.
        let params = QuantParams { lib_q_value: 1.0, lib_pg_q_value: 1.0, ..QuantParams::default() };
        let ours = read(&path, &params);
        let diann = read(&path, &QuantParams { quantity: Quantity::PgMaxlfq, ..params });
        assert_eq!(ours.protein_ids, diann.protein_ids);
        for i in 0..ours.n_proteins() {
            let same = ours
                .row(i)
                .iter()
                .zip(diann.row(i))
                .all(|(a, b)| a.is_nan() == b.is_nan() && (a.is_nan() || (a / b - 1.0).abs() < 1e-5));
            if same {
                matched.push(ours.protein_ids[i].clone());
            }
        }
    }
    eprintln!("{} groups reproduce PG.MaxLFQ within 1e-5 relative: {matched:?}", matched.len());
    for known in ["G5EA36;I3L328", "H7C2J9;Q5VWC4", "Q68DK7", "P0CG40", "Q9NYQ7", "O75074", "Q9NQP4", "Q9NUP1"] {
        assert!(matched.iter().any(|m| m == known), "{known} should reproduce PG.MaxLFQ");
    }
}
