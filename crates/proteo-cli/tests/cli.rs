//! The `proteo` binary as a user meets it: the bundled example, determinism, edge-case shapes and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proteo_core::synthetic::{generate, SyntheticSpec};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn proteo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proteo")).args(args).output().expect("binary runs")
}

fn run_files(input: &Path, design: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        input.to_str().unwrap(),
        "--design",
        design.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    proteo(&args)
}

fn example() -> (PathBuf, PathBuf) {
    (root().join("data/example/proteinGroups.txt"), root().join("data/example/experimental_design.tsv"))
}

const OUTPUTS: [&str; 14] = [
    "report.html",
    "ingest/table.parquet",
    "ingest/design.parquet",
    "ingest/summary.json",
    "qc/matrix.parquet",
    "qc/samples.parquet",
    "qc/pca.parquet",
    "de/results.parquet",
    "de/ftest.parquet",
    "pathway/enrichment.parquet",
    "summary.json",
    "qc/summary.json",
    "de/summary.json",
    "pathway/summary.json",
];

#[test]
fn bundled_example_runs_end_to_end_and_reruns_bit_identically() {
    let (input, design) = example();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let out_a = run_files(&input, &design, a.path(), &[]);
    assert!(out_a.status.success(), "stderr: {}", String::from_utf8_lossy(&out_a.stderr));
    let stdout = String::from_utf8_lossy(&out_a.stdout);
    // 21 rows are flagged only-by-site; 3 of them are also contaminants and count there (first flag wins).
    assert!(stdout.contains("removed 17 reverse, 49 contaminants, 18 only-by-site"), "{stdout}");
    assert!(stdout.contains("CD34High-CD34Low"), "{stdout}");
    let out_b = run_files(&input, &design, b.path(), &[]);
    assert!(out_b.status.success());
    for f in OUTPUTS {
        let x = std::fs::read(a.path().join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let y = std::fs::read(b.path().join(f)).unwrap();
        assert!(!x.is_empty(), "{f} is empty");
        assert_eq!(x, y, "{f} differs between two runs with the same seed");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["parameters"]["qc"]["seed"], 42);
    assert_eq!(summary["stages"]["ingest"]["input"]["rows_read"], 1459);
    let other_seed = tempfile::tempdir().unwrap();
    assert!(run_files(&input, &design, other_seed.path(), &["--seed", "7"]).status.success());
    assert_ne!(
        std::fs::read(a.path().join("qc/matrix.parquet")).unwrap(),
        std::fs::read(other_seed.path().join("qc/matrix.parquet")).unwrap(),
        "the seed must matter"
    );
}

fn write_synthetic(dir: &Path, spec: &SyntheticSpec) -> (PathBuf, PathBuf) {
    let data = generate(spec);
    let (m, d) = (dir.join("matrix.tsv"), dir.join("design.tsv"));
    std::fs::write(&m, data.matrix_tsv).unwrap();
    std::fs::write(&d, data.design_tsv).unwrap();
    (m, d)
}

#[test]
fn two_and_nine_groups_give_the_right_contrasts() {
    for (groups, contrasts, ftest) in [(2usize, 1usize, false), (9, 36, true)] {
        let dir = tempfile::tempdir().unwrap();
        let (m, d) = write_synthetic(dir.path(), &SyntheticSpec::new(300, groups, 4));
        let out = dir.path().join("out");
        let o = run_files(&m, &d, &out, &["--posthoc", "tukey"]);
        assert!(o.status.success(), "{groups} groups: {}", String::from_utf8_lossy(&o.stderr));
        let de: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("de/summary.json")).unwrap()).unwrap();
        assert_eq!(de["contrasts"].as_array().unwrap().len(), contrasts);
        assert_eq!(out.join("de/ftest.parquet").exists(), ftest, "{groups} groups");
    }
}

#[test]
fn a_single_protein_is_analysed_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("one.csv");
    std::fs::write(&m, "protein,A1,A2,A3,B1,B2,B3\nP1,100,120,110,400,380,420\n").unwrap();
    let d = dir.path().join("design.csv");
    std::fs::write(&d, "sample,group\nA1,A\nA2,A\nA3,A\nB1,B\nB2,B\nB3,B\n").unwrap();
    let o = run_files(&m, &d, &dir.path().join("out"), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Each bad input: exit code ≠ 0, one line on stderr naming what is wrong, no panic.
fn assert_refused(input_text: &[u8], design_text: &str, extra: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("data.tsv");
    std::fs::write(&m, input_text).unwrap();
    let d = dir.path().join("design.tsv");
    std::fs::write(&d, design_text).unwrap();
    let o = run_files(&m, &d, &dir.path().join("out"), extra);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "accepted: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
    for e in expect {
        assert!(err.contains(e), "expected `{e}` in: {err}");
    }
}

const DESIGN4: &str = "sample\tgroup\nA1\tA\nA2\tA\nB1\tB\nB2\tB\n";

#[test]
fn bad_inputs_are_refused_with_a_clear_sentence() {
    assert_refused(b"", DESIGN4, &[], &["data.tsv"]);
    assert_refused(b"protein\tA1\tA2\tB1\tB2\nP1\tx\ty\tz\tw\n", DESIGN4, &[], &["data.tsv", "line 2"]);
    assert_refused(b"protein\tA1\tA1\tB1\tB2\nP1\t1\t2\t3\t4\n", DESIGN4, &[], &["data.tsv", "A1"]);
    assert_refused(b"protein\tA1\tA2\tB1\tB2\nP1\t1\t2\t3\t4\nP1\t1\t2\t3\t4\n", DESIGN4, &[], &["data.tsv", "P1"]);
    assert_refused(b"protein\tA1\tA2\tB1\tB2\nP1\t1\t2\t3\nP2\t1\t2\t3\t4\n", DESIGN4, &[], &["data.tsv", "line 2"]);
    assert_refused(
        b"protein\tA1\tA2\tB1\tB2\nP1\t1,5\t2\t3\t4\n",
        DESIGN4,
        &[],
        &["data.tsv", "line 2", "A1", "comma"],
    );
    assert_refused(
        b"protein\tA1\tA2\tB1\tB2\nP1\t1\t2\t3\t4\n",
        "sample\tgroup\nA1\tA\nA2\tA\nB1\tB\nB9\tB\n",
        &[],
        &["B9", "B2"],
    );
    let mut utf16 = vec![0xFF, 0xFE];
    for c in "protein\tA1\n".encode_utf16() {
        utf16.extend_from_slice(&c.to_le_bytes());
    }
    assert_refused(&utf16, DESIGN4, &[], &["data.tsv", "UTF-16"]);
    assert_refused(b"protein\tA1\tA2\tB1\tB2\nP\xe91\t1\t2\t3\t4\n", DESIGN4, &[], &["data.tsv", "UTF-8"]);
    // a t-test needs two samples per group
    assert_refused(
        b"protein\tA1\tA2\tB1\nP1\t10\t20\t30\nP2\t11\t21\t31\n",
        "sample\tgroup\nA1\tA\nA2\tA\nB1\tB\n",
        &["--de", "welch"],
        &["group `B` has 1 sample(s)", "Welch"],
    );
}

#[test]
fn help_lists_every_option() {
    let o = proteo(&["run", "--help"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--design",
        "--out",
        "--format",
        "--log2-input",
        "--min-valid",
        "--normalize",
        "--impute",
        "--seed",
        "--de",
        "--contrasts",
        "--posthoc",
        "--alpha",
        "--min-log2fc",
        "--gene-sets",
        "--quantity",
        "--q-value",
        "--lib-q-value",
        "--lib-pg-q-value",
        "--pg-q-value",
        "--global-pg-q-value",
        "--proteotypic-only",
        "--min-shared",
        "--enrichment",
        "--gsea-permutations",
        "--camera-cor",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

/// A real export in ../shared/data/formats/, or `None` (with the reason printed) when that folder is absent.
fn shared_format(rel: &str) -> Option<PathBuf> {
    let p = root().join("../shared/data/formats").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent (this test needs ../shared/data/formats beside the clone)", p.display());
        None
    }
}

#[test]
fn precursor_reports_run_end_to_end_with_their_designs() {
    let cases = [
        (
            "diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet",
            root().join("tests/fixtures/formats/diann_bader2020_csf_design.tsv"),
        ),
        ("diann_report-tsv_1.8.2b8-einprot/PXD028735.report.tsv", PathBuf::new()),
        ("diann_pr-matrix_1.8.2b8-einprot/PXD028735.pr_matrix.tsv", PathBuf::new()),
    ];
    for (rel, design) in cases {
        let Some(input) = shared_format(rel) else { return };
        let design = if design.as_os_str().is_empty() {
            input.parent().unwrap().join("PXD028735_sampleAnnot.txt")
        } else {
            design
        };
        let out = tempfile::tempdir().unwrap();
        let o = run_files(&input, &design, out.path(), &[]);
        assert!(o.status.success(), "{rel}: {}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("Precursors: "), "{stdout}");
        assert!(stdout.contains("by MaxLFQ (iq maxLFQ)"), "{stdout}");
        for file in OUTPUTS.iter().filter(|f| !f.starts_with("de/ftest") || rel.contains("parquet")) {
            assert!(out.path().join(file).exists(), "{rel}: {file} missing");
        }
        let summary = std::fs::read_to_string(out.path().join("ingest/summary.json")).unwrap();
        let ingest: serde_json::Value = serde_json::from_str(&summary).unwrap();
        let filters = &ingest["input"]["precursor"]["filters"];
        assert!(filters.as_array().is_some_and(|f| !f.is_empty()), "{rel}: {summary}");
        assert!(summary.contains("\"threshold\": 0.01"), "{summary}");
    }
}

#[test]
fn precursor_options_reach_the_summary_and_bad_ones_are_refused() {
    let Some(input) = shared_format("diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet") else { return };
    let design = root().join("tests/fixtures/formats/diann_bader2020_csf_design.tsv");
    let out = tempfile::tempdir().unwrap();
    let flags = ["--proteotypic-only", "--pg-q-value", "0.01", "--quantity", "pg-maxlfq"];
    let o = run_files(&input, &design, out.path(), &flags);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ingest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("ingest/summary.json")).unwrap()).unwrap();
    let p = &ingest["input"]["precursor"];
    assert_eq!(p["quantity"], "PG.MaxLFQ");
    assert_eq!(p["split_protein_groups"], 0, "{p}");
    assert!(p["removed_not_proteotypic"].as_u64().unwrap() > 0, "{p}");
    assert_eq!(p["filters"][3]["column"], "PG.Q.Value");
    assert_eq!(p["filters"][3]["applied"], true);
    let o = run_files(&input, &design, out.path(), &["--q-value", "2"]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--q-value: `params.quant.q_value` must be a q-value in [0, 1]"), "{stderr}");
}

fn table(dir: &Path, rel: &str) -> proteo_core::tables::Table {
    let bytes = std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    proteo_core::tables::Table::from_parquet(bytes.into(), rel).unwrap()
}

#[test]
fn gsea_and_camera_run_on_request_rerun_bit_identically_and_leave_ora_alone() {
    let (input, design) = example();
    let all = ["--enrichment", "ora,gsea,camera", "--gsea-permutations", "300"];
    let (a, b, ora_only) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        let o = run_files(&input, &design, dir.path(), &all);
        assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    }
    let o = run_files(&input, &design, ora_only.path(), &["--enrichment", "ora"]);
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    for f in ["pathway/gsea.parquet", "pathway/camera.parquet", "pathway/enrichment.parquet", "report.html"] {
        assert_eq!(std::fs::read(a.path().join(f)).unwrap(), std::fs::read(b.path().join(f)).unwrap(), "{f} differs");
    }
    assert_eq!(
        std::fs::read(a.path().join("pathway/enrichment.parquet")).unwrap(),
        std::fs::read(ora_only.path().join("pathway/enrichment.parquet")).unwrap(),
        "ORA does not depend on the other methods run"
    );
    assert!(
        !ora_only.path().join("pathway/gsea.parquet").exists()
            && !ora_only.path().join("pathway/camera.parquet").exists()
    );

    for (rel, extra) in [("pathway/camera.parquet", "direction"), ("pathway/gsea.parquet", "nes")] {
        let t = table(a.path(), rel);
        assert!(t.num_rows() > 100, "{rel}: {} rows", t.num_rows());
        let (contrast, p, adj) =
            (t.text("contrast").unwrap(), t.f64("p_value").unwrap(), t.f64("adj_p_value").unwrap());
        let mut contrasts: Vec<&String> = contrast.iter().collect();
        contrasts.dedup();
        assert_eq!(contrasts, ["CD34High-CD34Low", "CD34High-CD34Neg", "CD34Low-CD34Neg"], "{rel}: rows by contrast");
        assert!(p.iter().all(|p| *p > 0.0 && *p <= 1.0), "{rel}: p in (0, 1]");
        for c in contrasts {
            let rows: Vec<usize> = (0..contrast.len()).filter(|&i| &contrast[i] == c).collect();
            let bh = proteo_stats::padjust::p_adjust_bh(&rows.iter().map(|&i| p[i]).collect::<Vec<_>>());
            let same = rows.iter().zip(&bh).all(|(&i, x)| (x - adj[i]).abs() <= 1e-15 * x.max(1e-300));
            assert!(same, "{rel}: BH within {c}");
        }
        assert!(t.column_names().iter().any(|c| c == extra), "{rel} lacks {extra}");
        let sizes = t.u32("set_size").unwrap();
        assert!(sizes.iter().all(|s| (10..=500).contains(s)), "{rel}: set sizes within the limits");
    }
    let gsea = table(a.path(), "pathway/gsea.parquet");
    let (es, lead) = (gsea.f64("es").unwrap(), gsea.text("leading_edge").unwrap());
    let lead_n = gsea.u32("leading_edge_size").unwrap();
    for i in 0..gsea.num_rows() {
        assert!(es[i].abs() <= 1.0, "ES in [-1, 1]");
        assert_eq!(lead[i].split(" | ").filter(|s| !s.is_empty()).count(), lead_n[i] as usize);
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join("summary.json")).unwrap()).unwrap();
    let methods = summary["methods"].as_str().unwrap();
    for needle in ["CAMERA", "fixed at 0.01", "300 random gene sets", "hypergeometric"] {
        assert!(methods.contains(needle), "methods lack `{needle}`: {methods}");
    }
    let report = std::fs::read_to_string(a.path().join("report.html")).unwrap();
    assert!(report.contains("id=\"camera\"") && report.contains("id=\"gsea\"") && report.contains("id=\"pathway\""));

    // Another shipped collection, the estimated correlation, no ORA.
    let mf = tempfile::tempdir().unwrap();
    let o = run_files(
        &input,
        &design,
        mf.path(),
        &["--gene-sets", "go-mf", "--enrichment", "camera", "--camera-cor", "estimated"],
    );
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let cam = table(mf.path(), "pathway/camera.parquet");
    assert!(cam.text("term_id").unwrap().iter().all(|t| t.starts_with("GO:")));
    assert!(cam.f64("correlation").unwrap().iter().any(|r| (r - 0.01).abs() > 1e-6), "estimated, not the fixed 0.01");
    assert!(!mf.path().join("pathway/enrichment.parquet").exists());
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(mf.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["stages"]["pathway"]["gene_sets_title"], "GO Molecular Function (human, UniProt accessions)");
}

#[test]
fn bad_enrichment_options_are_refused_with_a_clear_sentence() {
    let (input, design) = example();
    for (extra, expect) in [
        (&["--enrichment", "fisher"][..], "fisher"),
        (
            &["--enrichment", "gsea", "--gsea-permutations", "0"][..],
            "--gsea-permutations: `params.pathway.gsea_permutations` must be a whole number from 1",
        ),
        (&["--camera-cor", "2"][..], "`pathway.camera_correlation` is 2"),
        (&["--camera-cor", "high"][..], "--camera-cor high"),
        (&["--gene-sets", "builtin:go_xx"][..], "no such shipped collection"),
        (&["--gene-sets", "/nonexistent/sets.gmt"][..], "no such file"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let o = run_files(&input, &design, dir.path(), extra);
        assert!(!o.status.success(), "{extra:?} was accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(expect), "{extra:?}: {err}");
    }
}

/// A six-sample log2 or linear matrix with one cell replaced by `cell` (protein P3, sample B1).
fn matrix_with(cell: &str, log2: bool) -> Vec<u8> {
    let mut text = String::from("protein\tA1\tA2\tA3\tB1\tB2\tB3\n");
    for p in 0..12 {
        let values: Vec<String> = (0..6)
            .map(|s| match (p, s) {
                (3, 3) => cell.to_string(),
                _ if log2 => format!("{:.2}", 20.0 + p as f64 * 0.5 + s as f64 * 0.1),
                _ => format!("{}", 1000 * (p + 1) + 37 * s),
            })
            .collect();
        text.push_str(&format!("P{p}\t{}\n", values.join("\t")));
    }
    text.into_bytes()
}

const DESIGN6: &str = "sample\tgroup\nA1\tA\nA2\tA\nA3\tA\nB1\tB\nB2\tB\nB3\tB\n";

#[test]
fn hostile_values_get_a_sentence_with_row_and_column_not_a_panic() {
    // Issue 17: one log2 value ≥ 1e155 panicked in imputation (exit 101).
    assert_refused(&matrix_with("1e155", true), DESIGN6, &["--log2-input"], &["protein `P3`", "sample `B1`", "log2"]);
    // Negative intensities on the linear scale were made missing and imputed silently.
    assert_refused(&matrix_with("-5000", false), DESIGN6, &[], &["protein `P3`", "sample `B1`", "negative"]);
    // A 400-digit factor gave NaN weights that passed the sum-to-zero guard and hit an assert! in contrasts_fit.
    let big = format!("{}*(B-A)", "9".repeat(400));
    assert_refused(&matrix_with("1200", false), DESIGN6, &["--contrasts", &big], &["contrast", "out of range"]);
    let deep = format!("{}B-A{}", "(".repeat(1500), ")".repeat(1500));
    assert_refused(&matrix_with("1200", false), DESIGN6, &["--contrasts", &deep], &["nests parentheses"]);
}

#[test]
fn a_huge_linear_value_with_no_imputation_finishes() {
    // Issue 17: 1.7e308 with --impute none spun the report writer at 100 % CPU forever.
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("huge.tsv");
    std::fs::write(&m, matrix_with("1.7e308", false)).unwrap();
    let d = dir.path().join("design.tsv");
    std::fs::write(&d, DESIGN6).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_proteo"))
        .args(["run", m.to_str().unwrap(), "--design", d.to_str().unwrap(), "--out"])
        .arg(dir.path().join("out"))
        .args(["--quiet", "--impute", "none"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("proteo run did not finish within 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(dir.path().join("out/report.html").exists());
}

#[test]
fn parameters_out_of_range_are_refused_naming_the_flag() {
    let ok = matrix_with("1200", false);
    for (args, words) in [
        (vec!["--alpha", "2"], vec!["--alpha", "between 0 and 1"]),
        (vec!["--alpha", "NaN"], vec!["--alpha", "must be a number"]),
        (vec!["--min-log2fc=-inf"], vec!["--min-log2fc", "must be a number"]),
        (vec!["--treat-lfc=-1"], vec!["--treat-lfc", "from 0 to"]),
        (vec!["--min-set-size", "500", "--max-set-size", "10"], vec!["--min-set-size", "must not exceed"]),
        (vec!["--contrasts", ""], vec!["--contrasts", "is empty"]),
        (vec!["--gene-sets", "/nonexistent/sets.gmt"], vec!["--gene-sets", "cannot read"]),
    ] {
        assert_refused(&ok, DESIGN6, &args, &words);
    }
}
