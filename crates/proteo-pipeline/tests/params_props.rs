//! Property test of the one parameter check (`proteo_jobs::params::check`): on any JSON it answers without
//! panicking, and whatever it accepts also reads as `JobParams` — the API, which cannot read `JobParams`, never lets
//! through parameters that ingest would refuse.

use proptest::prelude::*;
use proteo_jobs::params::{check, Origin};
use proteo_pipeline::JobParams;
use serde_json::{json, Map, Value};

const FIELDS: &[&str] = &[
    "format",
    "qc",
    "de",
    "pathway",
    "output",
    "log2_input",
    "min_valid",
    "normalize",
    "impute",
    "seed",
    "method",
    "contrasts",
    "posthoc",
    "trend",
    "robust",
    "treat_lfc",
    "covariates",
    "alpha",
    "min_log2fc",
    "gene_sets",
    "min_set_size",
    "max_set_size",
    "full_precision",
    "extra",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::num::f64::NORMAL.prop_map(|f| json!(f)),
        prop::sample::select(vec![0.05, 0.5, 1.0, 2.0, 0.0, -1.0, 10.0, 500.0, 1e300]).prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "",
            "matrix",
            "maxquant",
            "median",
            "none",
            "perseus",
            "limma",
            "welch",
            "anova",
            "welch-anova",
            "tukey",
            "B-A",
            "all-pairs",
            "vs:A",
            "builtin:go_bp_human_uniprot",
            "upload:x.gmt",
            "jobs/x/input/y",
            "../x",
        ])
        .prop_map(Value::from),
    ]
}

fn params() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())
            }),
        ]
    })
}

/// Objects shaped like `JobParams` (known sections and fields, values of any kind), where most refusals are
/// ranges and rules rather than unknown fields.
fn shaped() -> impl Strategy<Value = Value> {
    fn section(names: &'static [&'static str]) -> impl Strategy<Value = Value> {
        prop::collection::vec((prop::sample::select(names), leaf()), 0..4)
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>()))
    }
    (
        section(&["log2_input", "min_valid", "normalize", "impute", "seed"]),
        section(&["method", "contrasts", "posthoc", "trend", "robust", "treat_lfc"]),
        section(&["alpha", "min_log2fc", "gene_sets", "min_set_size", "max_set_size"]),
    )
        .prop_map(|(qc, de, pathway)| json!({"qc": qc, "de": de, "pathway": pathway}))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn what_the_door_accepts_reads_as_job_params(v in prop_oneof![params(), shaped()]) {
        if check(&v, Origin::Job).is_ok() {
            let read = JobParams::from_value(&v);
            prop_assert!(read.is_ok(), "{v} passed the check but not serde: {:?}", read.err());
            let params = read.unwrap();
            prop_assert!(params.pathway.alpha > 0.0 && params.pathway.alpha < 1.0);
            prop_assert!(params.pathway.min_set_size <= params.pathway.max_set_size);
            prop_assert!(params.pathway.min_log2fc.is_finite() && params.pathway.min_log2fc >= 0.0);
        }
    }
}
