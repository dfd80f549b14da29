//! Normalization on a constant background, on a real species mix: PXD028735 (Van Puyvelde et al. 2022, DIA-NN
//! 1.8.2 pg_matrix, 3 + 3 runs; A/B human 1:1, yeast 2:1, E. coli 1:4) from `../shared/data/formats`. Needs
//! `../shared` beside the checkout; without it the test prints why and passes.

use std::collections::HashMap;

use proteo_core::model::{Design, IntensityTable, SampleInfo};
use proteo_core::qc::QcParams;
use proteo_core::reference::{group_species, ReferenceSet, ReferenceSpec};
use proteo_core::synthetic::{score_spike_in, SpikeIn};
use proteo_tests::repo_root;

const MIX: &str = "../shared/data/formats/diann_pg-matrix_1.8.2b8-einprot";
/// The bar: normalization on the background brings its median log2FC within this of 0.
const BACKGROUND_TOLERANCE: f64 = 0.03;

/// The DIA-NN pg_matrix as a table: ids `Protein.Group|Protein.Names` (species from the entry names), one column per
/// run named like the annotation's samples; groups from the annotation; truth from the published design (B − A).
fn load() -> Option<SpikeIn> {
    let dir = repo_root().join(MIX);
    let text = std::fs::read_to_string(dir.join("PXD028735.pg_matrix.tsv")).ok()?;
    let annot = std::fs::read_to_string(dir.join("PXD028735_sampleAnnot.txt")).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split('\t').collect();
    let design_rows: Vec<(String, String)> =
        annot.lines().skip(1).filter_map(|l| l.split_once('\t')).map(|(s, g)| (s.to_string(), g.to_string())).collect();
    let col_of: Vec<usize> = design_rows
        .iter()
        .map(|(s, _)| header.iter().position(|h| h.ends_with(&format!("{s}.mzML"))).expect("run column"))
        .collect();
    let (group_col, names_col) = (0, header.iter().position(|h| *h == "Protein.Names")?);
    let truth: HashMap<&str, f64> = [("HUMAN", 0.0), ("YEAST", -1.0), ("ECOLI", 2.0)].into_iter().collect();
    let (mut ids, mut species, mut true_lfc, mut values) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let Some(sp) = group_species(&[f[names_col]]) else { continue };
        let Some((&name, &lfc)) = truth.get_key_value(sp.as_str()) else { continue };
        ids.push(format!("{}|{}", f[group_col], f[names_col]));
        species.push(name);
        true_lfc.push(lfc);
        values.extend(col_of.iter().map(|&c| f[c].parse::<f64>().unwrap_or(f64::NAN)));
    }
    let np = ids.len();
    let table = IntensityTable {
        protein_ids: ids,
        majority_ids: vec![String::new(); np],
        gene_names: vec![String::new(); np],
        samples: design_rows.iter().map(|r| r.0.clone()).collect(),
        values,
        ..IntensityTable::default()
    };
    let design =
        Design { samples: design_rows.iter().map(|(s, g)| SampleInfo::in_group(s.clone(), g.clone())).collect() };
    // score_spike_in tests B-A; the background (HUMAN) must come first in `species`' order of appearance.
    let first_human = species.iter().position(|s| *s == "HUMAN")?;
    let mut order: Vec<usize> = (0..np).collect();
    order.swap(0, first_human);
    let pick_s = |v: &[&'static str]| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let ns = table.n_samples();
    let table = IntensityTable {
        protein_ids: order.iter().map(|&i| table.protein_ids[i].clone()).collect(),
        majority_ids: vec![String::new(); np],
        gene_names: vec![String::new(); np],
        samples: table.samples.clone(),
        values: order.iter().flat_map(|&i| table.values[i * ns..(i + 1) * ns].to_vec()).collect(),
        ..IntensityTable::default()
    };
    Some(SpikeIn {
        table,
        design,
        species: pick_s(&species),
        true_log2fc: order.iter().map(|&i| true_lfc[i]).collect(),
    })
}

#[test]
fn background_normalization_centres_the_human_proteins_of_pxd028735() {
    let Some(mix) = load() else {
        eprintln!("skipped: {MIX} is not beside the checkout (CI has ../shared; a bare clone does not)");
        return;
    };
    let human = ReferenceSet::new(&ReferenceSpec::parse("species:HUMAN").unwrap(), None).unwrap();
    let qc = QcParams::default();
    let before = score_spike_in(&mix, &qc, None, 0.05).unwrap();
    let after = score_spike_in(&mix, &qc, Some(&human), 0.05).unwrap();
    eprintln!("PXD028735 global median: {before:?}");
    eprintln!("PXD028735 on species:HUMAN: {after:?}");
    assert!(after.background_median_log2fc.abs() <= BACKGROUND_TOLERANCE, "{after:?}");
    assert!(after.false_discovery_proportion <= before.false_discovery_proportion + 1e-12, "{before:?} → {after:?}");
}
