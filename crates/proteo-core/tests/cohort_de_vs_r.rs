//! DE at cohort scale against R limma: 10 000 proteins × 1 000 samples, 5 groups, all 10 pairwise contrasts,
//! moderated F and BH, compared on every 37th protein (fixture from tests/reference/cohort_de_reference.R).

use proteo_core::de::{run_de, DeOutput, DeParams};
use proteo_core::synthetic::cohort_matrix;

const PROTEINS: usize = 10_000;
const SAMPLES: usize = 1_000;
const GROUPS: usize = 5;
/// The fixture's slice: every 37th protein, as the R script writes it.
const SLICE_STEP: usize = 37;
/// Agreement for estimates, statistics, degrees of freedom and the prior (R limma 3.54.1): relative, and absolute
/// below magnitude 1 (a log2FC of 1.7e-5 is a difference of two means near 25 and carries their rounding, 1e-15).
const TOL: f64 = 1e-10;
/// Relative agreement for p-values, whose far tails (down to 1e-600 here, below f64's normal range in R's
/// log-space) carry the statistic's error times its derivative.
const P_TOL: f64 = 1e-8;

fn fixture() -> String {
    let path = format!("{}/tests/fixtures/cohort_de_slice.tsv", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The number after `key` in the fixture's header line.
fn header_value(header: &str, key: &str) -> f64 {
    let rest = header.split(key).nth(1).unwrap_or_else(|| panic!("header has no `{key}`: {header}"));
    rest.split([' ', ';']).find(|s| !s.is_empty()).unwrap().parse().unwrap()
}

/// `ours` within `tol` of R's value, relative to `max(|r|, floor)`.
fn within(what: &str, ours: f64, r: f64, tol: f64, floor: f64) {
    let scale = r.abs().max(floor);
    assert!(
        (ours - r).abs() <= tol * scale || (ours == 0.0 && r.abs() < 1e-300),
        "{what}: proteo {ours:e}, R {r:e} (relative difference {:e})",
        (ours - r).abs() / scale
    );
}

fn close(what: &str, ours: f64, r: f64, tol: f64) {
    within(what, ours, r, tol, 1.0)
}

/// p-values relative all the way down (a p of 1e-300 must agree in its digits, not be "within 1e-8 of 0").
fn close_p(what: &str, ours: f64, r: f64) {
    within(what, ours, r, P_TOL, f64::MIN_POSITIVE)
}

fn protein_index(id: &str) -> usize {
    id.trim_start_matches('P').parse().unwrap()
}

fn check_row(out: &DeOutput, fields: &[&str]) {
    let i = protein_index(fields[0]);
    let num = |k: usize| -> f64 { fields[k].parse().unwrap_or_else(|_| panic!("not a number: {}", fields[k])) };
    let what = |col: &str| format!("{} {} {col}", fields[0], fields[1]);
    if fields[1] == "F" {
        let f = out.ftest.as_ref().expect("5 groups give an F test");
        close(&what("df.total"), out.df[i], num(2), TOL);
        close(&what("F df2"), f.df2[i], num(2), TOL);
        assert_eq!(f.df1[i], (GROUPS - 1) as f64, "{}", what("F df1"));
        close(&what("F"), f.f[i], num(3), TOL);
        close_p(&what("F p"), f.p_value[i], num(4));
        close_p(&what("F adj p"), f.adj_p_value[i], num(5));
        return;
    }
    let j = out.contrasts.iter().position(|c| c.name == fields[1]).unwrap_or_else(|| panic!("{}", what("contrast")));
    let r = j * out.n_proteins + i;
    close(&what("log2FC"), out.log2fc[r], num(2), TOL);
    close(&what("t"), out.t[r], num(3), TOL);
    close_p(&what("p"), out.p_value[r], num(4));
    close_p(&what("adj p"), out.adj_p_value[r], num(5));
}

#[test]
fn limma_on_ten_thousand_proteins_by_a_thousand_samples_equals_r_on_a_slice() {
    let text = fixture();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let (values, design) = cohort_matrix(PROTEINS, SAMPLES, GROUPS);
    // The same input as R's, bit for bit, at the cells the script wrote.
    let cells: Vec<f64> =
        header.split("cells ").nth(1).unwrap().split_whitespace().map(|s| s.parse().unwrap()).collect();
    let positions = [0, SAMPLES + 2, PROTEINS * SAMPLES - 1, 1999 * SAMPLES];
    for (&want, &at) in cells.iter().zip(&positions) {
        assert_eq!(values[at].to_bits(), want.to_bits(), "cohort cell {at}: {} against R's {want}", values[at]);
    }
    assert_eq!(cells.len(), positions.len());

    let out = run_de(&values, &design, &DeParams::default()).unwrap();
    assert_eq!(out.contrasts.len(), GROUPS * (GROUPS - 1) / 2);
    let (s2_prior, df_prior) = out.prior.unwrap();
    close("s2.prior", s2_prior, header_value(header, "s2.prior"), TOL);
    close("df.prior", df_prior, header_value(header, "df.prior"), TOL);

    let columns = lines.next().unwrap();
    assert_eq!(columns, "protein\ttest\testimate\tstatistic\tp_value\tadj_p_value");
    let mut rows = 0;
    for line in lines {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(protein_index(fields[0]) % SLICE_STEP, 0, "{line}");
        check_row(&out, &fields);
        rows += 1;
    }
    assert_eq!(rows, PROTEINS.div_ceil(SLICE_STEP) * (out.contrasts.len() + 1));
}
