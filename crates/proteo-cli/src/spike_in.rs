//! `proteo spike-in`: how each normalization does on a species mix with known truth (background false discoveries,
//! spike-in sensitivity), global versus on the background.

use clap::Args;

use proteo_core::qc::{Normalize, QcParams};
use proteo_core::reference::{ReferenceSet, ReferenceSpec};
use proteo_core::synthetic::{score_spike_in, spike_in_mix, SpikeInSpec};
use proteo_pipeline::contracts::DEFAULT_ALPHA;

#[derive(Args)]
pub struct SpikeInArgs {
    /// Seed of the synthetic mix.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Replicates per group.
    #[arg(long, default_value_t = 4)]
    replicates: usize,
}

/// Prints one row per normalization × reference set: the background's median log2FC, the false discovery
/// proportion and the sensitivity at BH-adjusted p < 0.05 (no fold-change rule), with the mix described above.
pub fn spike_in(args: &SpikeInArgs) -> anyhow::Result<()> {
    let spec = SpikeInSpec { seed: args.seed, replicates: args.replicates, ..Default::default() };
    let mix = spike_in_mix(&spec);
    let species: Vec<String> =
        spec.species.iter().map(|s| format!("{} {} (log2 B/A {:+})", s.proteins, s.name, s.log2fc)).collect();
    println!(
        "Synthetic mix, seed {}: {} × 2 groups × {} replicates, equal total load per sample",
        args.seed,
        species.join(", "),
        args.replicates
    );
    println!("limma B-A; at BH-adjusted p < {DEFAULT_ALPHA} (no fold-change rule); background = HUMAN\n");
    println!(
        "{:<14} {:<22} {:>13} {:>11} {:>8} {:>11} {:>12}",
        "normalization", "fitted on", "bg median lfc", "spike err", "signif.", "FDP", "sensitivity"
    );
    let human = ReferenceSet::new(&ReferenceSpec::parse("species:HUMAN")?, None)?;
    for method in [Normalize::Median, Normalize::Quantile, Normalize::CyclicLoess, Normalize::None] {
        let sets: Vec<(&str, Option<&ReferenceSet>)> = if method == Normalize::None {
            vec![("—", None)]
        } else {
            vec![("all proteins", None), ("species:HUMAN", Some(&human))]
        };
        for (label, set) in sets {
            let qc = QcParams { normalize: method, ..Default::default() };
            let s = score_spike_in(&mix, &qc, set, DEFAULT_ALPHA).map_err(anyhow::Error::msg)?;
            println!(
                "{:<14} {:<22} {:>+13.3} {:>11.3} {:>8} {:>10.1}% {:>11.1}%",
                method.as_str(),
                label,
                s.background_median_log2fc,
                s.spike_median_error,
                s.significant,
                100.0 * s.false_discovery_proportion,
                100.0 * s.sensitivity
            );
        }
    }
    Ok(())
}
