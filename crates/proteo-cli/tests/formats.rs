//! `proteo run` and `proteo inspect` on the real exports in `../shared/data/formats/`, as a user runs them: every
//! folder with a design runs end to end; the others are named by `inspect` and refused with their sentence.
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
fn every_real_table_with_a_design_runs_end_to_end() {
    let Some(dir) = formats() else { return };
    let fixtures = root().join("tests/fixtures/formats");
    let cases: &[(&str, PathBuf, &[&str], &str)] = &[
        (
            "maxquant_proteingroups_1.5.3.8-einprot/1356_proteinGroups.txt",
            dir.join("maxquant_proteingroups_1.5.3.8-einprot/1356_sampleAnnot.txt"),
            &[],
            "maxquant",
        ),
        (
            "fragpipe_combined-protein_19.1-einprot/combined_protein.tsv",
            dir.join("fragpipe_combined-protein_19.1-einprot/1356_sampleAnnot.txt"),
            &[],
            "fragpipe-protein",
        ),
        (
            "diann_pg-matrix_1.8.2b8-einprot/PXD028735.pg_matrix.tsv",
            dir.join("diann_pg-matrix_1.8.2b8-einprot/PXD028735_sampleAnnot.txt"),
            &[],
            "diann-pg-matrix",
        ),
        (
            "diann_pg-matrix_2.1.0-alphapepttools/pg.matrix_top100.tsv",
            fixtures.join("bader2020_csf_design.tsv"),
            &["--samples", "from-design"],
            "diann-pg-matrix",
        ),
        (
            "diann_pg-matrix_renamed-alphastats/report_final.pg_matrix.tsv",
            fixtures.join("diann_renamed_design.tsv"),
            // 10 proteins: sample S4 keeps one value, too few for Perseus imputation (QC says so and what to do).
            &["--impute", "none"],
            "diann-pg-matrix",
        ),
        (
            "fragpipe_combined-proteins_renamed-alphastats/combined_proteins.tsv",
            fixtures.join("fragpipe_renamed_design.tsv"),
            &["--impute", "none"],
            "fragpipe-protein",
        ),
        (
            "fragpipe_tmt-abundance-protein-MD_ccRCC-FragPipeAnalystR/ccRCC_prot_abundance_MD_3plex.tsv",
            dir.join("fragpipe_tmt-abundance-protein-MD_ccRCC-FragPipeAnalystR/experiment_annotation.tsv"),
            &[],
            "fragpipe-abundance",
        ),
        (
            "spectronaut_pg-pivot-Rmangled_20.4-einprot/SN_unit_test_subset.tsv",
            fixtures.join("spectronaut_pivot_design.tsv"),
            &[],
            "spectronaut-pivot",
        ),
        (
            "pd_proteins_tiny-renamed-wrProteo/tinyPD_allProteins.txt.gz",
            fixtures.join("pd_tiny_design.tsv"),
            &[],
            "pd-proteins",
        ),
    ];
    for (rel, design, extra, format) in cases {
        let (o, out) = run(&dir.join(rel), design, extra);
        assert!(o.status.success(), "{rel}: {}", String::from_utf8_lossy(&o.stderr));
        let s = summary(out.path());
        let input = &s["stages"]["ingest"]["input"];
        assert_eq!(input["format"], *format, "{rel}");
        assert!(s["stages"]["de"]["proteins_tested"].as_u64().unwrap() > 0, "{rel}");
        let stdout = String::from_utf8_lossy(&o.stdout);
        println!("{rel}: {}", stdout.lines().take(3).collect::<Vec<_>>().join(" | "));
        assert!(out.path().join("report.html").exists(), "{rel}");
    }
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

#[test]
fn files_that_are_not_protein_tables_are_refused_with_their_sentence() {
    let Some(dir) = formats() else { return };
    let design = dir.join("diann_pg-matrix_1.8.2b8-einprot/PXD028735_sampleAnnot.txt");
    for (rel, expect) in [
        ("diann_report-tsv_1.8.2b8-einprot/PXD028735.report.tsv", "DIA-NN report.tsv"),
        ("diann_pr-matrix_1.8.2b8-einprot/PXD028735.pr_matrix.tsv", "report.pg_matrix.tsv"),
        ("diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet", "DIA-NN report.parquet"),
        ("maxquant_evidence_proteobench/MaxQuant_evidence_sample.txt", "looks like a MaxQuant evidence.txt"),
        ("pd_peptidegroups_proteobench/ProteomeDIscoverer_PeptideGroups_trimmed.txt", "PeptideGroups"),
        ("mztab_maxquant-1.6.3.4-alphastats/test.mztab", "identification"),
    ] {
        let (o, _) = run(&dir.join(rel), &design, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{rel} accepted");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{rel}: one line: {err}");
        assert!(err.contains(expect), "{rel}: {err}");
    }
}

#[test]
fn inspect_names_every_folder() {
    let Some(dir) = formats() else { return };
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().filter(|e| e.path().is_dir()).collect();
    entries.sort_by_key(|e| e.file_name());
    for folder in entries {
        let mut files: Vec<PathBuf> = std::fs::read_dir(folder.path())
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
        for f in files {
            let o = proteo(&["inspect", f.to_str().unwrap(), "--json"]);
            assert!(o.status.success(), "{}: {}", f.display(), String::from_utf8_lossy(&o.stderr));
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let what =
                v["detection"]["tool"].as_str().map(|t| format!("{t} {}", v["detection"]["kind"].as_str().unwrap()));
            println!(
                "{:<60} {}",
                f.strip_prefix(&dir).unwrap().display(),
                what.unwrap_or_else(|| v["error"].as_str().unwrap_or("").to_string())
            );
            seen += 1;
        }
    }
    assert!(seen >= 40, "{seen} files inspected");
    let o = proteo(&[
        "inspect",
        dir.join("maxquant_proteingroups_1.5.3.8-einprot/1356_proteinGroups.txt").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("MaxQuant proteinGroups.txt (≥ 1.5.3"), "{text}");
    assert!(text.contains("385 proteins from 463 rows, 8 reverse, 38 contaminant, 32 only-by-site"), "{text}");
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
