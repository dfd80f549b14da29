//! Property tests (proptest) over the public API a user's bytes reach: the readers, the design, the contrast
//! parser, and QC and DE on what the readers accept. None may panic; what they accept obeys the invariants the
//! later stages rely on (finite contrast weights summing to zero, one value per protein and sample).

use proptest::prelude::*;

use proteo_core::de::{parse_contrasts, reference_group, run_de, DeMethod, DeParams, Posthoc};
use proteo_core::input::{align_to_design, read_design, read_intensities};
use proteo_core::qc::{run_qc, Impute, QcParams};

/// Cells that broke numerics or parsers: huge, tiny, negative, non-numbers, separators in cells.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        (1.0f64..1e9).prop_map(|v| format!("{v:.1}")),
        Just("0".to_string()),
        Just(String::new()),
        prop::sample::select(vec![
            "NaN", "NA", "inf", "-inf", "1e155", "1.7e308", "-1.7e308", "1e-320", "-5", "1e400", "x", "1,5", "\"",
        ])
        .prop_map(str::to_string),
        "[0-9eE+.-]{1,12}",
    ]
}

/// A table as the readers see one: a header of sample names and rows of an id and cells, with a chosen delimiter.
fn table() -> impl Strategy<Value = (Vec<u8>, Vec<String>)> {
    (2usize..7, 1usize..12, prop::sample::select(vec!['\t', ',', ';']))
        .prop_flat_map(|(ns, np, delim)| {
            let names = prop::collection::vec("[A-C]_[0-9]", ns);
            let rows = prop::collection::vec((("[A-Za-z0-9_;|-]{0,10}"), prop::collection::vec(cell(), ns)), np);
            (names, rows, Just(delim))
        })
        .prop_map(|(names, rows, delim)| {
            let d = delim.to_string();
            let mut text = format!("protein{d}{}\n", names.join(&d));
            for (id, cells) in rows {
                text.push_str(&format!("{id}{d}{}\n", cells.join(&d)));
            }
            (text.into_bytes(), names)
        })
}

fn design_for(names: &[String]) -> Vec<u8> {
    let mut text = String::from("sample\tgroup\n");
    for n in names {
        text.push_str(&format!("{n}\t{}\n", &n[..1]));
    }
    text.into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_readers_never_panic_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_intensities(&bytes, "x.tsv", None);
        let _ = read_design(&bytes, "design.tsv");
    }

    #[test]
    fn tables_the_readers_accept_have_one_value_per_protein_and_sample((bytes, names) in table()) {
        if let Ok((t, _)) = read_intensities(&bytes, "x.tsv", None) {
            prop_assert_eq!(t.values.len(), t.n_proteins() * t.n_samples());
            prop_assert_eq!(t.protein_ids.len(), t.gene_names.len());
            if let Ok(design) = read_design(&design_for(&names), "design.tsv") {
                let _ = align_to_design(t, &design, "x.tsv", "design.tsv");
            }
        }
    }

    #[test]
    fn qc_and_de_on_accepted_tables_give_results_or_a_sentence(
        (bytes, names) in table(),
        log2 in any::<bool>(),
        impute in any::<bool>(),
        method in prop::sample::select(vec![DeMethod::Limma, DeMethod::Welch, DeMethod::Anova, DeMethod::WelchAnova]),
        tukey in any::<bool>(),
    ) {
        let Ok((t, _)) = read_intensities(&bytes, "x.tsv", None) else { return Ok(()) };
        let Ok(design) = read_design(&design_for(&names), "design.tsv") else { return Ok(()) };
        let Ok(t) = align_to_design(t, &design, "x.tsv", "design.tsv") else { return Ok(()) };
        let qc = QcParams { log2_input: log2, impute: if impute { Impute::Perseus } else { Impute::None }, ..Default::default() };
        match run_qc(&t, &design, &qc, None) {
            Err(e) => prop_assert!(!e.to_string().is_empty()),
            Ok(r) => {
                let de = DeParams { method, posthoc: if tukey { Posthoc::Tukey } else { Posthoc::None }, ..Default::default() };
                if let Err(e) = run_de(&r.matrix.values, &design, &de) {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }

    #[test]
    fn accepted_contrasts_have_finite_weights_that_sum_to_zero(
        pieces in prop::collection::vec(
            prop::sample::select(vec!["A", "B", "C", "AB", "(", ")", "+", "-", "*", "/", ".", " ", "0", "2", "9", "e", ",", "1e400", "999999999999999999999999"]),
            0..24,
        )
    ) {
        let groups: Vec<String> = ["A", "B", "C", "AB"].map(String::from).to_vec();
        let spec = pieces.concat();
        let reference = reference_group(&groups, None).expect("the first group is a reference");
        if let Ok(contrasts) = parse_contrasts(&spec, &groups, &reference) {
            for c in contrasts {
                prop_assert!(c.weights.iter().all(|w| w.is_finite()), "{spec}: {:?}", c.weights);
                prop_assert!(c.weights.iter().sum::<f64>().abs() <= 1e-9, "{spec}: {:?}", c.weights);
                prop_assert!(c.weights.iter().any(|w| *w != 0.0), "{spec}");
            }
        }
    }
}
