//! Loading the R reference fixtures written by `tests/reference/limma_reference.R`.

use std::collections::HashMap;
use std::path::PathBuf;

use nalgebra::DMatrix;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures").join(name)
}

/// R's `NA` becomes NaN; `Inf`/`-Inf` parse as infinities.
pub fn parse_number(s: &str) -> f64 {
    match s {
        "NA" | "NaN" => f64::NAN,
        "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or_else(|_| panic!("not a number in a fixture: {s:?}")),
    }
}

/// A matrix written by `write_matrix`: a header of column names, then one row per line.
pub fn read_matrix(name: &str) -> Option<(usize, usize, Vec<f64>)> {
    let text = std::fs::read_to_string(fixture_path(name)).ok()?;
    let mut lines = text.lines();
    let ncol = lines.next()?.split('\t').count();
    let mut data = Vec::new();
    let mut nrow = 0;
    for line in lines.filter(|l| !l.is_empty()) {
        let row: Vec<f64> = line.split('\t').map(parse_number).collect();
        assert_eq!(row.len(), ncol, "{name}: ragged row {}", nrow + 1);
        data.extend(row);
        nrow += 1;
    }
    Some((nrow, ncol, data))
}

pub struct Case {
    pub values: Vec<f64>,
    pub n_genes: usize,
    pub n_samples: usize,
    pub design: DMatrix<f64>,
    pub contrasts: Option<DMatrix<f64>>,
    /// quantity → (gene, column, value), 1-based, 0 where not applicable.
    pub results: HashMap<String, Vec<(usize, usize, f64)>>,
}

impl Case {
    pub fn load(case: &str) -> Case {
        let (n_genes, n_samples, values) = read_matrix(&format!("limma_{case}_values.tsv"))
            .unwrap_or_else(|| panic!("missing fixture for {case}; run tests/reference/limma_reference.R"));
        let (dr, dc, d) = read_matrix(&format!("limma_{case}_design.tsv")).expect("design fixture");
        let design = DMatrix::from_row_slice(dr, dc, &d);
        let contrasts =
            read_matrix(&format!("limma_{case}_contrasts.tsv")).map(|(r, c, v)| DMatrix::from_row_slice(r, c, &v));
        let text =
            std::fs::read_to_string(fixture_path(&format!("limma_{case}_results.tsv"))).expect("results fixture");
        let mut results: HashMap<String, Vec<(usize, usize, f64)>> = HashMap::new();
        for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            results.entry(f[0].to_string()).or_default().push((
                f[1].parse().expect("gene index"),
                f[2].parse().expect("column index"),
                parse_number(f[3]),
            ));
        }
        Case { values, n_genes, n_samples, design, contrasts, results }
    }

    /// A quantity as a dense row-major `n_genes × ncol` array (ncol = 1 for per-gene vectors);
    /// R writes length-one vectors as a scalar, which is broadcast.
    pub fn quantity(&self, name: &str, ncol: usize) -> Vec<f64> {
        let rows = self.results.get(name).unwrap_or_else(|| panic!("fixture has no {name}"));
        if rows.len() == 1 && rows[0].0 == 0 {
            return vec![rows[0].2; self.n_genes * ncol];
        }
        let mut out = vec![f64::NAN; self.n_genes * ncol];
        for &(g, j, v) in rows {
            let j = if j == 0 { 1 } else { j };
            out[(g - 1) * ncol + (j - 1)] = v;
        }
        out
    }

    pub fn scalar(&self, name: &str) -> f64 {
        self.results.get(name).unwrap_or_else(|| panic!("fixture has no {name}"))[0].2
    }

    pub fn has(&self, name: &str) -> bool {
        self.results.contains_key(name)
    }
}

/// How two arrays are compared: `|ours − R| ≤ rel · max(|R|, floor)`; NaN must meet NaN (R `NA`),
/// infinities must match exactly. Values where R is below `min_value` in magnitude (p-values under
/// 1e-300) are only required to be below it too. Returns the largest `|ours − R| / max(|R|, floor)`.
pub fn compare(what: &str, ours: &[f64], theirs: &[f64], rel: f64, floor: f64, min_value: f64) -> f64 {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    let mut worst = 0.0f64;
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        if b.is_nan() || a.is_nan() {
            assert!(a.is_nan() && b.is_nan(), "{what}[{i}]: ours {a}, R {b}");
            continue;
        }
        if b.is_infinite() || a.is_infinite() {
            assert_eq!(a, b, "{what}[{i}]");
            continue;
        }
        if b.abs() < min_value {
            assert!(a.abs() < 2.0 * min_value, "{what}[{i}]: ours {a}, R {b}");
            continue;
        }
        let err = if a == b { 0.0 } else { (a - b).abs() / b.abs().max(floor) };
        assert!(err <= rel, "{what}[{i}]: ours {a:e}, R {b:e}, relative error {err:e} > {rel:e}");
        worst = worst.max(err);
    }
    eprintln!("{what}: max relative error {worst:.2e}");
    worst
}
