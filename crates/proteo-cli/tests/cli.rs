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
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
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
