//! `de/results.parquet` on the bundled example: topTable row order, and the stored precision against a full-precision run.

use std::collections::HashMap;

use proteo_core::de::Posthoc;
use proteo_core::tables::STORED_MANTISSA_BITS;
use proteo_tests::{default_params, example_design, example_input, read_table, run_local};

fn run(full_precision: bool) -> (tempfile::TempDir, proteo_core::tables::Table) {
    let dir = tempfile::tempdir().unwrap();
    let mut params = default_params();
    params.de.posthoc = Posthoc::Tukey;
    params.output.full_precision = full_precision;
    run_local(&example_input(), &example_design(), params, dir.path()).unwrap_or_else(|(s, e)| panic!("{s:?}: {e}"));
    let t = read_table(&dir.path().join("de/results.parquet"));
    (dir, t)
}

#[test]
fn rows_are_grouped_by_contrast_and_sorted_by_p_value() {
    let (_dir, t) = run(false);
    let (contrast, p) = (t.text("contrast").unwrap(), t.f64("p_value").unwrap());
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in contrast.iter().enumerate() {
        if seen.last() != Some(&c.as_str()) {
            assert!(!seen.contains(&c.as_str()), "contrast {c} appears in two blocks (row {i})");
            seen.push(c);
        } else {
            assert!(p[i - 1] <= p[i] || p[i].is_nan(), "row {i} of {c}: p {} after {}", p[i], p[i - 1]);
        }
    }
    assert_eq!(seen, ["CD34High-CD34Low", "CD34High-CD34Neg", "CD34Low-CD34Neg"], "contrasts keep their order");
    assert_eq!(contrast.len(), 3 * 705);
}

#[test]
fn stored_statistics_are_the_full_values_rounded_within_the_stated_bound() {
    let ((_a, rounded), (_b, full)) = (run(false), run(true));
    let key = |t: &proteo_core::tables::Table| -> HashMap<(String, String), usize> {
        let (ids, cs) = (t.text("protein_id").unwrap(), t.text("contrast").unwrap());
        ids.into_iter().zip(cs).enumerate().map(|(i, k)| (k, i)).collect()
    };
    let (kr, kf) = (key(&rounded), key(&full));
    assert_eq!(kr.len(), kf.len());
    let bound = 2f64.powi(-(STORED_MANTISSA_BITS as i32) - 1);
    let low_bits = (1u64 << (52 - STORED_MANTISSA_BITS)) - 1;
    for column in ["log2fc", "t", "p_value", "adj_p_value", "tukey_p_value"] {
        let (r, f) = (rounded.f64(column).unwrap(), full.f64(column).unwrap());
        let mut some_full_value_had_low_bits = false;
        for (k, &i) in &kr {
            let (x, y) = (r[i], f[kf[k]]);
            if y.is_nan() {
                assert!(x.is_nan(), "{column} {k:?}");
                continue;
            }
            assert!(((x - y) / y.abs().max(f64::MIN_POSITIVE)).abs() <= bound, "{column} {k:?}: {x} vs {y}");
            assert_eq!(x.to_bits() & low_bits, 0, "{column} {k:?}: {x} keeps low bits");
            some_full_value_had_low_bits |= y.to_bits() & low_bits != 0;
        }
        assert!(some_full_value_had_low_bits, "--full-precision must keep the bits the default drops ({column})");
    }
    // Per-protein columns are not rounded.
    for column in ["df", "avg_expr"] {
        let (r, f) = (rounded.f64(column).unwrap(), full.f64(column).unwrap());
        assert!(kr.iter().all(|(k, &i)| r[i].to_bits() == f[kf[k]].to_bits()), "{column} changed");
    }
}
