//! `proteo run` and `proteo inspect` on the real exports in `../shared/data/formats/`, as a user runs them: every
//! file is named by `inspect`; every folder's main file runs end to end or is refused with its sentence.
//! Needs `../shared` beside the repository (CI has it); each test prints why and passes when it is absent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn formats() -> Option<PathBuf> {
    let dir = root().join("../shared/data/formats");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent (these tests run the real exports in ../shared)", dir.display());
        None
    }
}

fn proteo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proteo")).args(args).output().expect("binary runs")
}

fn run(input: &Path, design: &Path, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["run", input.to_str().unwrap(), "--design", design.to_str().unwrap()];
    args.extend(["--out", out.path().to_str().unwrap(), "--quiet"]);
    args.extend_from_slice(extra);
    (proteo(&args), out)
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn tmt_integrator_log2_values_skip_the_log2_transform() {
    let Some(dir) = formats() else { return };
    let folder = dir.join("fragpipe_tmt-abundance-protein-MD_ccRCC-FragPipeAnalystR");
    let (o, out) =
        run(&folder.join("ccRCC_prot_abundance_MD_3plex.tsv"), &folder.join("experiment_annotation.tsv"), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(out.path());
    assert_eq!(s["stages"]["ingest"]["input"]["log2_input"], true);
    assert_eq!(s["stages"]["qc"]["log2_input"], true);
    // python3 over the table and experiment_annotation.tsv: 9602 proteins have ≥ 7 of 12 values in Tumor or Normal.
    assert_eq!(s["stages"]["qc"]["qc"]["proteins_kept"], 9602);
}

#[test]
fn the_bader_design_names_60_of_61_runs_and_says_which_is_left() {
    let Some(dir) = formats() else { return };
    let design = root().join("tests/fixtures/formats/bader2020_csf_design.tsv");
    let input = dir.join("diann_pg-matrix_2.1.0-alphapepttools/pg.matrix_top100.tsv");
    let (o, _) = run(&input, &design, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("column `20180618_QX0_JaBa_SA_LC12_5_CSF1_1_8-1xD1xS1fM1_sampleB10R1` is not in"), "{err}");
    assert!(err.contains("use --samples from-design"), "{err}");
    let (o, out) = run(&input, &design, &["--samples", "from-design"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(out.path());
    assert_eq!(s["stages"]["ingest"]["samples"], 60);
    assert_eq!(s["stages"]["ingest"]["input"]["samples_ignored_count"], 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 samples not in the design, ignored"));
}

#[test]
fn alphadia_reads_and_qc_names_the_run_without_any_value() {
    let Some(dir) = formats() else { return };
    // The AlphaDIA matrix of the same cohort has run A09 all zeros (python3: 0 of 2748 values above 0).
    let (o, _) = run(
        &dir.join("alphadia_pg-matrix_1.10.5dev-alphapepttools/pg.matrix.tsv"),
        &root().join("tests/fixtures/formats/bader2020_csf_design.tsv"),
        &["--samples", "from-design"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("Quality control failed: sample `20180618_QX0_JaBa_SA_LC12_5_CSF1_1_8-1xD1xS1fM1_sampleA09.raw.PG.Quantity` has no valid values"), "{err}");
}

/// What a folder's main file must do under `proteo run`.
enum Expect {
    /// Runs end to end, read by this reader (`--format` name).
    Runs(&'static str),
    /// Refused with a one-line sentence containing this.
    Refused(&'static str),
}

/// Which design a folder's main file runs with.
enum DesignFrom {
    /// A file in the folder.
    Folder(&'static str),
    /// A design in `tests/fixtures/formats/` (written by its make_*.py from the folder's spreadsheet).
    Fixture(&'static str),
    /// None exists: two groups alternating over the samples `proteo inspect` lists (the reader and the whole
    /// pipeline are exercised; the groups mean nothing).
    Alternating,
}

use DesignFrom::{Alternating, Fixture, Folder};
use Expect::{Refused, Runs};

/// Every folder of ../shared/data/formats/: its main file, the design, extra flags and what `proteo run` does.
#[rustfmt::skip]
const FOLDERS: &[(&str, &str, DesignFrom, &[&str], Expect)] = &[
    // Run A09 is all zeros (QC names it: alphadia_reads_and_qc_names_the_run_without_any_value); without it, it runs.
    ("alphadia_pg-matrix_1.10.5dev-alphapepttools", "pg.matrix.tsv", Fixture("bader2020_csf_design.tsv"),
     &["--samples", "from-design", "--exclude-samples", "20180618_QX0_JaBa_SA_LC12_5_CSF1_1_8-1xD1xS1fM1_sampleA09.raw.PG.Quantity"],
     Runs("alphadia")),
    ("alphadia_precursor-matrix_1.10-proteobench", "AlphaDIA_1.10_sample.tsv", Alternating, &[], Runs("precursor-report")),
    ("alphadia_precursors-tsv_1.8.1-alphabase", "alphadia_1.8.1_report_head.tsv", Alternating, &[],
     Refused("holds precursors of 1 run")),
    ("alphapept_results-proteins_0.5.0-alphastats", "results_proteins.csv", Folder("metadata.csv"), &[],
     Refused("replicate")),
    ("diann_pg-matrix_1.8.2b8-einprot", "PXD028735.pg_matrix.tsv", Folder("PXD028735_sampleAnnot.txt"), &[],
     Runs("diann-pg-matrix")),
    ("diann_pg-matrix_2.1.0-alphapepttools", "pg.matrix_top100.tsv", Fixture("bader2020_csf_design.tsv"),
     &["--samples", "from-design"], Runs("diann-pg-matrix")),
    // 10 proteins: sample S4 keeps one value, too few for Perseus imputation (QC says so and what to do).
    ("diann_pg-matrix_renamed-alphastats", "report_final.pg_matrix.tsv", Fixture("diann_renamed_design.tsv"),
     &["--impute", "none"], Runs("diann-pg-matrix")),
    ("diann_pr-matrix_1.8.2b8-einprot", "PXD028735.pr_matrix.tsv", Folder("PXD028735_sampleAnnot.txt"), &[],
     Runs("precursor-report")),
    ("diann_report-parquet_2.1.0-alphapepttools", "top20_report.parquet", Fixture("diann_bader2020_csf_design.tsv"),
     &[], Runs("precursor-report")),
    ("diann_report-tsv_1.8.1-alphabase", "diann_1.8.1_report_head.tsv", Alternating, &["--impute", "none"],
     Runs("precursor-report")),
    ("diann_report-tsv_1.8.2b8-einprot", "PXD028735.report.tsv", Folder("PXD028735_sampleAnnot.txt"), &[],
     Runs("precursor-report")),
    ("diann_report-tsv_1.9.0-alphabase", "diann_1.9.0_report_head.tsv", Alternating, &["--impute", "none"],
     Runs("precursor-report")),
    ("fragpipe_combined-protein_19.1-einprot", "combined_protein.tsv", Folder("1356_sampleAnnot.txt"), &[],
     Runs("fragpipe-protein")),
    ("fragpipe_combined-proteins_renamed-alphastats", "combined_proteins.tsv", Fixture("fragpipe_renamed_design.tsv"),
     &["--impute", "none"], Runs("fragpipe-protein")),
    ("fragpipe_tmt-abundance-protein-MD_ccRCC-FragPipeAnalystR", "ccRCC_prot_abundance_MD_3plex.tsv",
     Folder("experiment_annotation.tsv"), &[], Runs("fragpipe-abundance")),
    ("maxquant_evidence_proteobench", "MaxQuant_evidence_sample.txt", Alternating, &[],
     Refused("looks like a MaxQuant evidence.txt")),
    ("maxquant_proteingroups_1.5.3.8-einprot", "1356_proteinGroups.txt", Folder("1356_sampleAnnot.txt"), &[],
     Runs("maxquant")),
    ("maxquant_tmt-proteingroups_pwilmart-JPR2017", "proteinGroups.txt", Alternating, &[], Runs("maxquant")),
    ("mztab_maxquant-1.6.3.4-alphastats", "test.mztab", Alternating, &[], Refused("identification")),
    ("pd_peptidegroups_proteobench", "ProteomeDIscoverer_PeptideGroups_trimmed.txt", Alternating, &[],
     Refused("PeptideGroups")),
    ("pd_proteins_tiny-renamed-wrProteo", "tinyPD_allProteins.txt.gz", Fixture("pd_tiny_design.tsv"), &[],
     Runs("pd-proteins")),
    ("sdrf_examples_sdrf-pipelines", "PXD000001.sdrf.tsv", Alternating, &[], Refused("SDRF")),
    ("spectronaut_condition-setup_msreport", "ConditionSetup.tsv", Alternating, &[], Refused("condition setup")),
    ("spectronaut_long-report-csv_msstatsconvert", "spectronaut_input.csv", Fixture("spectronaut_long_csv_design.tsv"),
     &["--impute", "none"], Runs("spectronaut-long")),
    // The excerpt holds 1 (`…_100ng_03`) of the 10 runs its metadata.xlsx (spectronaut_fragment_design.tsv) names.
    ("spectronaut_long-report_fragment-alphastats", "results_non_european_comma.tsv",
     Fixture("spectronaut_fragment_design.tsv"), &[], Refused("have no column in results_non_european_comma.tsv")),
    ("spectronaut_long-report_top20-alphapepttools", "example_dataset_mouse_sn_top20peptides.tsv", Alternating, &[],
     Refused("PG.Quantity")),
    ("spectronaut_pg-pivot-Rmangled_20.4-einprot", "SN_unit_test_subset.tsv", Fixture("spectronaut_pivot_design.tsv"),
     &[], Runs("spectronaut-pivot")),
];

/// Files of a folder that are data (not provenance, licences, logs, workflows or spreadsheets).
fn data_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            !n.starts_with("LICENSE")
                && !n.starts_with("DESCRIPTION")
                && n != "SOURCE.md"
                && !n.ends_with(".xlsx")
                && !n.ends_with(".xml")
                && !n.ends_with(".log.txt")
                && n != "log.txt"
                && !n.starts_with("upstream_")
                && !n.ends_with(".workflow")
        })
        .collect();
    files.sort();
    files
}

fn inspect_json(file: &Path) -> serde_json::Value {
    let o = proteo(&["inspect", file.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn every_folder_is_inspected_and_runs_or_is_refused_with_its_sentence() {
    let Some(dir) = formats() else { return };
    let mut folders: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let listed: Vec<&str> = FOLDERS.iter().map(|f| f.0).collect();
    assert_eq!(folders, listed, "every folder of {} has one row in FOLDERS", dir.display());
    let scratch = tempfile::tempdir().unwrap();
    let (mut inspected, mut ran, mut refused) = (0, 0, 0);
    for (folder, main, design, extra, expect) in FOLDERS {
        for f in data_files(&dir.join(folder)) {
            let v = inspect_json(&f);
            let what =
                v["detection"]["tool"].as_str().map(|t| format!("{t} {}", v["detection"]["kind"].as_str().unwrap()));
            let read = v["error"]
                .as_str()
                .map_or_else(|| format!("{} samples", v["samples"].as_array().map_or(0, Vec::len)), str::to_string);
            println!("inspect {:<70} {} — {read}", f.strip_prefix(&dir).unwrap().display(), what.unwrap_or_default());
            inspected += 1;
        }
        let input = dir.join(folder).join(main);
        let design = match design {
            Folder(name) => dir.join(folder).join(name),
            Fixture(name) => root().join("tests/fixtures/formats").join(name),
            Alternating => {
                let v = inspect_json(&input);
                let samples: Vec<String> = v["samples"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                    .unwrap_or_else(|| vec!["S1".into(), "S2".into()]);
                let mut text = String::from("sample\tgroup\n");
                for (i, s) in samples.iter().enumerate() {
                    text.push_str(&format!("{s}\t{}\n", if i % 2 == 0 { "A" } else { "B" }));
                }
                let p = scratch.path().join(format!("{folder}.design.tsv"));
                std::fs::write(&p, text).unwrap();
                p
            }
        };
        let (o, out) = run(&input, &design, extra);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{folder}: {err}");
        match expect {
            Runs(format) => {
                assert!(o.status.success(), "{folder}/{main}: {err}");
                let s = summary(out.path());
                assert_eq!(s["stages"]["ingest"]["input"]["format"], *format, "{folder}");
                assert!(s["stages"]["de"]["proteins_tested"].as_u64().unwrap() > 0, "{folder}");
                assert!(out.path().join("report.html").exists(), "{folder}");
                println!("run     {folder}/{main}: {} proteins tested", s["stages"]["de"]["proteins_tested"]);
                ran += 1;
            }
            Refused(sentence) => {
                assert!(!o.status.success(), "{folder}/{main} was accepted");
                assert_eq!(err.trim().lines().count(), 1, "{folder}: one line: {err}");
                assert!(err.contains(sentence), "{folder}: {err}");
                println!("refused {folder}/{main}: {}", err.trim());
                refused += 1;
            }
        }
    }
    println!("{} folders: {inspected} files inspected, {ran} run end to end, {refused} refused", FOLDERS.len());
    assert_eq!(FOLDERS.len(), 27);
    assert!(inspected >= 40, "{inspected} files inspected");
    for (rel, says) in [
        (
            "maxquant_proteingroups_1.5.3.8-einprot/1356_proteinGroups.txt",
            [
                "MaxQuant proteinGroups.txt (≥ 1.5.3",
                "385 proteins from 463 rows, 8 reverse, 38 contaminant, 32 only-by-site",
            ],
        ),
        (
            "diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet",
            ["DIA-NN report.parquet (1.9/2.x column set)", "127 precursors in 15 protein groups by MaxLFQ"],
        ),
    ] {
        let o = proteo(&["inspect", dir.join(rel).to_str().unwrap()]);
        let text = String::from_utf8_lossy(&o.stdout);
        for s in says {
            assert!(text.contains(s), "{rel}: {text}");
        }
    }
}

/// 40 proteins × 6 samples (A1–A3, B1–B3) of deterministic intensities, as `(id, gene, values)`.
fn shaped_rows() -> Vec<(String, String, Vec<f64>)> {
    (0..40)
        .map(|p| {
            let base = 1.0e6 * (1.0 + (p * 37 % 17) as f64);
            let values = (0..6)
                .map(|s| base * (1.0 + 0.05 * ((p + 3 * s) % 7) as f64) * if s >= 3 && p % 5 == 0 { 4.0 } else { 1.0 })
                .collect();
            (format!("sp|P{:05}|G{p}_HUMAN", 10_000 + p), format!("G{p}"), values)
        })
        .collect()
}

const SHAPED_DESIGN: &str = "sample\tgroup\nA1\tA\nA2\tA\nA3\tA\nB1\tB\nB2\tB\nB3\tB\n";

fn run_shaped(name: &str, text: &str) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (input, design) = (dir.path().join(name), dir.path().join("design.tsv"));
    std::fs::write(&input, text).unwrap();
    std::fs::write(&design, SHAPED_DESIGN).unwrap();
    let (o, out) = run(&input, &design, &[]);
    drop(dir);
    (o, out)
}

#[test]
fn the_three_files_the_issue_saw_refused_run_without_edits() {
    // 1. A MaxQuant proteinGroups.txt as Excel leaves it: trailing empty flag fields missing on most rows, and an
    //    over-long id list continued on lines of bare numbers.
    let mut mq = String::from(
        "Protein IDs\tMajority protein IDs\tGene names\tLFQ intensity A1\tLFQ intensity A2\tLFQ intensity A3\t\
         LFQ intensity B1\tLFQ intensity B2\tLFQ intensity B3\tPeptide IDs\tReverse\tPotential contaminant\n",
    );
    for (k, (id, gene, v)) in shaped_rows().into_iter().enumerate() {
        let values: Vec<String> = v.iter().map(|x| format!("{x:.0}")).collect();
        mq.push_str(&format!("{id}\t{id}\t{gene}\t{}\t{k};{}", values.join("\t"), k + 1000));
        if k % 3 == 0 {
            mq.push_str("\t\t\n");
        } else {
            mq.push('\n');
        }
        if k == 7 {
            mq.push_str("100001;100002;100003;100004\n100005;100006\t\t\n");
        }
    }
    let (o, out) = run_shaped("proteinGroups.txt", &mq);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let input = &summary(out.path())["stages"]["ingest"]["input"];
    assert_eq!((input["rows_read"].as_u64(), input["spillover_lines_dropped"].as_u64()), (Some(40), Some(2)));
    assert!(input["short_rows_filled"].as_u64().unwrap() >= 26, "{input}");

    // 2. A summed-precursor matrix with a numeric annotation column.
    let mut summed = String::from("protein\tn_precursors\tA1\tA2\tA3\tB1\tB2\tB3\n");
    // 3. A table with a text species column.
    let mut species = String::from("protein\tspecies\tA1\tA2\tA3\tB1\tB2\tB3\n");
    for (k, (id, _, v)) in shaped_rows().into_iter().enumerate() {
        let values: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
        summed.push_str(&format!("{id}\t{}\t{}\n", 3 + k % 9, values.join("\t")));
        species.push_str(&format!("{id}\t{}\t{}\n", if k % 4 == 0 { "YEAST" } else { "HUMAN" }, values.join("\t")));
    }
    for (name, text, column) in [("summed.tsv", summed, "n_precursors"), ("tmt.tsv", species, "species")] {
        let (o, out) = run_shaped(name, &text);
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        let s = summary(out.path());
        assert_eq!(s["stages"]["ingest"]["samples"], 6, "{name}");
        assert_eq!(s["stages"]["ingest"]["input"]["annotation_columns"], serde_json::json!([column]), "{name}");
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("annotation kept: {column}")), "{name}");
    }
}
