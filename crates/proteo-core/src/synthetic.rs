//! Seeded synthetic data sets shaped like real LFQ experiments, for benchmarks and tests.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{ChiSquared, Distribution, Normal};

use crate::model::{Design, IntensityTable, SampleInfo};

/// Shape of a synthetic experiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyntheticSpec {
    pub proteins: usize,
    pub groups: usize,
    pub replicates: usize,
    /// Fraction of cells missing (at random, more often at low abundance).
    pub missing: f64,
    /// Fraction of proteins with a real group effect.
    pub de_fraction: f64,
    pub seed: u64,
}

impl SyntheticSpec {
    pub fn new(proteins: usize, groups: usize, replicates: usize) -> Self {
        SyntheticSpec { proteins, groups, replicates, missing: 0.1, de_fraction: 0.1, seed: 1 }
    }
}

/// A plain-matrix TSV (linear intensities, empty = missing) and its design TSV.
pub struct SyntheticData {
    pub matrix_tsv: Vec<u8>,
    pub design_tsv: Vec<u8>,
    /// Indices of the proteins given a real effect.
    pub de_proteins: Vec<usize>,
}

/// Per-protein variances follow a scaled inverse χ² (d0 = 4, s0 = 0.3 log2 units), the shape limma assumes and
/// real LFQ data show; mean log2 abundances N(26, 2²); effects N(0, 1.5²) in a random half of the groups.
pub fn generate(spec: &SyntheticSpec) -> SyntheticData {
    generate_with_ids(spec, &[])
}

/// [`generate`] with the proteins named `ids[p]` instead of `SYN00000`… (`ids` empty, or at least
/// `spec.proteins` long): real UniProt accessions make the pathway stage map proteins to gene sets as it does on
/// real data. The values drawn do not depend on the names.
///
/// # Panics
/// When `ids` is neither empty nor long enough.
pub fn generate_with_ids(spec: &SyntheticSpec, ids: &[String]) -> SyntheticData {
    assert!(ids.is_empty() || ids.len() >= spec.proteins, "{} ids for {} proteins", ids.len(), spec.proteins);
    let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
    let ns = spec.groups * spec.replicates;
    let abundance = Normal::new(26.0, 2.0).expect("valid");
    let chi = ChiSquared::new(4.0).expect("valid");
    let unit = Normal::new(0.0, 1.0).expect("valid");
    let effect = Normal::new(0.0, 1.5).expect("valid");
    let mut matrix = String::with_capacity(spec.proteins * ns * 12);
    matrix.push_str("protein_id");
    let names: Vec<String> =
        (0..ns).map(|s| format!("G{}_R{}", s / spec.replicates + 1, s % spec.replicates + 1)).collect();
    for n in &names {
        matrix.push('\t');
        matrix.push_str(n);
    }
    matrix.push('\n');
    let mut de_proteins = Vec::new();
    let mut row = vec![0.0; ns];
    for p in 0..spec.proteins {
        let mu: f64 = abundance.sample(&mut rng);
        let chi2: f64 = chi.sample(&mut rng);
        let sd = 0.3 * (4.0 / chi2).sqrt();
        let mut shifts = vec![0.0; spec.groups];
        if rng.random::<f64>() < spec.de_fraction {
            de_proteins.push(p);
            for s in shifts.iter_mut() {
                if rng.random::<bool>() {
                    *s = effect.sample(&mut rng);
                }
            }
        }
        for (s, v) in row.iter_mut().enumerate() {
            *v = mu + shifts[s / spec.replicates] + sd * unit.sample(&mut rng);
        }
        match ids.get(p) {
            Some(id) => matrix.push_str(id),
            None => matrix.push_str(&format!("SYN{p:05}")),
        }
        for v in &row {
            // Missingness rises as abundance falls: probability 2·missing at −2 SD, ~0 at +2 SD.
            let z = ((v - 26.0) / 2.0).clamp(-2.0, 2.0);
            let p_missing = (spec.missing * (1.0 - z / 2.0)).clamp(0.0, 1.0);
            matrix.push('\t');
            if rng.random::<f64>() >= p_missing {
                matrix.push_str(&format!("{:.1}", v.exp2()));
            }
        }
        matrix.push('\n');
    }
    let mut design = String::from("sample\tgroup\n");
    for (s, n) in names.iter().enumerate() {
        design.push_str(&format!("{n}\tG{}\n", s / spec.replicates + 1));
    }
    SyntheticData { matrix_tsv: matrix.into_bytes(), design_tsv: design.into_bytes(), de_proteins }
}

/// `n` distinct names drawn from `keys` (sorted and deduplicated first, so the order `keys` come in does not
/// matter) by a seeded shuffle (ChaCha20): the same keys, `n` and seed give the same names. Fewer than `n` when
/// `keys` has fewer distinct entries.
pub fn pick_ids(keys: &[String], n: usize, seed: u64) -> Vec<String> {
    use rand::seq::SliceRandom;
    let mut pool: Vec<&String> = keys.iter().collect();
    pool.sort_unstable();
    pool.dedup();
    pool.shuffle(&mut ChaCha20Rng::seed_from_u64(seed));
    pool.into_iter().take(n).cloned().collect()
}

/// MINSTD (Park & Miller 1988, multiplier 48271) modulus 2³¹ − 1: a generator R reproduces exactly in doubles
/// (every product stays below 2⁵³), so a reference script can rebuild a cohort without reading a 10⁷-value file.
const MINSTD_M: f64 = 2_147_483_647.0;
const MINSTD_A: f64 = 48_271.0;
/// Share of a cohort's proteins given a group effect, and the effect (log2 units) in their group.
const COHORT_DE_SHARE: usize = 5;
const COHORT_EFFECT: f64 = 0.8;

/// One MINSTD step: the next state and its uniform in (0, 1).
fn minstd(state: &mut f64) -> f64 {
    *state = (*state * MINSTD_A) % MINSTD_M;
    *state / MINSTD_M
}

/// A complete log2 cohort matrix (proteins × samples, row-major, design order) and its design, for scale tests and
/// benchmarks that a reference script must rebuild exactly (`tests/reference/cohort_de_reference.R` does).
///
/// Protein `p` draws from its own MINSTD stream seeded `7919·p + 1`: level `20 + 8u`, noise scale `0.5 + u`, then
/// per sample the sum of four uniforms minus 2 (mean 0, variance 1/3) times the scale. The first fifth of the
/// proteins are `COHORT_EFFECT` higher in group `p mod groups`. Sample `j` is `S{j:05}` in group `G{j mod groups + 1}`.
pub fn cohort_matrix(proteins: usize, samples: usize, groups: usize) -> (Vec<f64>, Design) {
    let group_of = |j: usize| j % groups.max(1);
    let mut values = Vec::with_capacity(proteins * samples);
    for p in 0..proteins {
        let mut state = ((7919 * p + 1) % (MINSTD_M as usize)) as f64;
        let level = 20.0 + 8.0 * minstd(&mut state);
        let scale = 0.5 + minstd(&mut state);
        let effect_group = (p < proteins / COHORT_DE_SHARE).then(|| p % groups.max(1));
        for j in 0..samples {
            let noise = (0..4).map(|_| minstd(&mut state)).sum::<f64>() - 2.0;
            let effect = if effect_group == Some(group_of(j)) { COHORT_EFFECT } else { 0.0 };
            values.push(level + noise * scale + effect);
        }
    }
    let samples =
        (0..samples).map(|j| SampleInfo::in_group(format!("S{j:05}"), format!("G{}", group_of(j) + 1))).collect();
    (values, Design { samples })
}

/// One species of a [`SpikeInSpec`] mix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeSpecies {
    /// UniProt mnemonic written into the entry names (`P00001_HUMAN`).
    pub name: &'static str,
    pub proteins: usize,
    /// True log2 amount ratio B / A.
    pub log2fc: f64,
}

/// A two-group species mix in the style of LFQbench / PXD028735 (human 1:1, yeast 2:1, E. coli 1:4): the same
/// amount of background (the first species) in both groups, spike-in species changed, and each sample loaded to the
/// same total amount, so the background's share of the load changes between groups and its intensities shift.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeInSpec {
    pub species: Vec<SpikeSpecies>,
    pub replicates: usize,
    /// Fraction of cells missing (more often at low abundance).
    pub missing: f64,
    pub seed: u64,
}

impl Default for SpikeInSpec {
    /// Background 55 % of the proteins, yeast 35 % up 2×, E. coli 10 % down 4× in B (B − A; the PXD028735 ratios
    /// with a yeast-heavy proteome, so that B's total load rises by a quarter and a global median moves the
    /// background by about −0.2 log2, as the issue measured on real mixes).
    fn default() -> Self {
        SpikeInSpec {
            species: vec![
                SpikeSpecies { name: "HUMAN", proteins: 3300, log2fc: 0.0 },
                SpikeSpecies { name: "YEAST", proteins: 2100, log2fc: 1.0 },
                SpikeSpecies { name: "ECOLI", proteins: 600, log2fc: -2.0 },
            ],
            replicates: 4,
            missing: 0.1,
            seed: 7,
        }
    }
}

/// A spike-in mix with its truth: the table (ids `sp|<acc>|<acc>_<SPECIES>`, linear intensities, NaN = missing),
/// groups `A` then `B`, and per protein its species and true log2 B/A.
pub struct SpikeIn {
    pub table: IntensityTable,
    pub design: Design,
    pub species: Vec<&'static str>,
    pub true_log2fc: Vec<f64>,
}

/// Per-protein log2 abundance N(24, 2²), noise SD 0.25, sample loading N(0, 0.1²) on log2, every sample scaled to
/// the same total amount before loading noise; missingness rises as abundance falls.
pub fn spike_in_mix(spec: &SpikeInSpec) -> SpikeIn {
    let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
    let abundance = Normal::new(24.0, 2.0).expect("valid");
    let noise = Normal::new(0.0, 0.25).expect("valid");
    let loading = Normal::new(0.0, 0.1).expect("valid");
    let ns = 2 * spec.replicates;
    let (mut ids, mut species, mut truth, mut base) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for sp in &spec.species {
        for _ in 0..sp.proteins {
            let acc = format!("S{:05}", ids.len() + 1);
            ids.push(format!("sp|{acc}|{acc}_{}", sp.name));
            species.push(sp.name);
            truth.push(sp.log2fc);
            base.push(abundance.sample(&mut rng));
        }
    }
    let np = ids.len();
    let amount = |p: usize, group: usize| base[p] + if group == 1 { truth[p] } else { 0.0 };
    let total = |group: usize| (0..np).map(|p| amount(p, group).exp2()).sum::<f64>();
    // Equal load: group B's amounts scaled by total(A) / total(B).
    let scale = [0.0, (total(0) / total(1)).log2()];
    let mut values = vec![f64::NAN; np * ns];
    let shifts: Vec<f64> = (0..ns).map(|_| loading.sample(&mut rng)).collect();
    for p in 0..np {
        for s in 0..ns {
            let g = s / spec.replicates;
            let v = amount(p, g) + scale[g] + shifts[s] + noise.sample(&mut rng);
            let z = ((v - 24.0) / 2.0).clamp(-2.0, 2.0);
            let p_missing = (spec.missing * (1.0 - z / 2.0)).clamp(0.0, 1.0);
            if rng.random::<f64>() >= p_missing {
                values[p * ns + s] = v.exp2();
            }
        }
    }
    let samples: Vec<String> =
        (0..ns).map(|s| format!("{}{}", ["A", "B"][s / spec.replicates], s % spec.replicates + 1)).collect();
    let design = Design {
        samples: samples
            .iter()
            .enumerate()
            .map(|(s, name)| SampleInfo {
                sample: name.clone(),
                group: ["A", "B"][s / spec.replicates].to_string(),
                replicate: Some((s % spec.replicates + 1).to_string()),
                pair: None,
                batch: None,
                extra: Default::default(),
                files: Vec::new(),
            })
            .collect(),
    };
    let table = IntensityTable {
        protein_ids: ids,
        majority_ids: vec![String::new(); np],
        gene_names: vec![String::new(); np],
        samples,
        values,
        ..IntensityTable::default()
    };
    SpikeIn { table, design, species, true_log2fc: truth }
}

/// How a normalization did on a mix with known truth, at BH-adjusted p < `alpha` (no fold-change rule).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpikeInScore {
    /// Median estimated log2 fold change of the background (first species); 0 is right.
    pub background_median_log2fc: f64,
    /// Median |estimated − true| log2 fold change of every other species.
    pub spike_median_error: f64,
    pub significant: usize,
    /// Background proteins among the significant ones / significant (NaN when none is).
    pub false_discovery_proportion: f64,
    /// Significant spike-in proteins / spike-in proteins tested.
    pub sensitivity: f64,
}

/// Runs QC (with `qc` and the optional reference set) and limma on the mix, and scores the `B-A` estimates against
/// the truth.
pub fn score_spike_in(
    mix: &SpikeIn,
    qc: &crate::qc::QcParams,
    reference: Option<&crate::reference::ReferenceSet>,
    alpha: f64,
) -> Result<SpikeInScore, String> {
    let out = crate::qc::run_qc(&mix.table, &mix.design, qc, reference).map_err(|e| e.to_string())?;
    let de_params = crate::de::DeParams { contrasts: "B-A".into(), ..Default::default() };
    let de = crate::de::run_de(&out.matrix.values, &mix.design, &de_params).map_err(|e| e.to_string())?;
    let index: std::collections::HashMap<&str, usize> =
        mix.table.protein_ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let background = mix.species.first().copied().unwrap_or_default();
    let (mut bg, mut err) = (Vec::new(), Vec::new());
    let (mut significant, mut false_hits, mut true_hits, mut spikes) = (0usize, 0usize, 0usize, 0usize);
    for (k, id) in out.matrix.protein_ids.iter().enumerate() {
        let p = index[id.as_str()];
        let (lfc, adj) = (de.log2fc[k], de.adj_p_value[k]);
        let is_bg = mix.species[p] == background;
        if is_bg {
            bg.push(lfc);
        } else {
            spikes += 1;
            err.push((lfc - mix.true_log2fc[p]).abs());
        }
        if adj < alpha {
            significant += 1;
            if is_bg {
                false_hits += 1;
            } else {
                true_hits += 1;
            }
        }
    }
    Ok(SpikeInScore {
        background_median_log2fc: crate::qc::median(bg),
        spike_median_error: crate::qc::median(err),
        significant,
        false_discovery_proportion: if significant == 0 { f64::NAN } else { false_hits as f64 / significant as f64 },
        sensitivity: true_hits as f64 / spikes.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizing_on_the_background_centres_it_where_a_global_median_does_not() {
        let mix = spike_in_mix(&SpikeInSpec::default());
        let global = crate::qc::QcParams::default();
        let before = score_spike_in(&mix, &global, None, 0.05).unwrap();
        let spec = crate::reference::ReferenceSpec::parse("species:HUMAN").unwrap();
        let human = crate::reference::ReferenceSet::new(&spec, None).unwrap();
        let after = score_spike_in(&mix, &global, Some(&human), 0.05).unwrap();
        assert!(after.background_median_log2fc.abs() <= 0.03, "{after:?}");
        assert!(before.background_median_log2fc.abs() > 0.1, "the mix shifts the background: {before:?}");
        assert!(after.false_discovery_proportion < before.false_discovery_proportion, "{before:?} → {after:?}");
    }

    #[test]
    fn same_seed_same_bytes_and_about_the_asked_missingness() {
        let spec = SyntheticSpec::new(2000, 3, 4);
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(a.matrix_tsv, b.matrix_tsv);
        let text = String::from_utf8(a.matrix_tsv).unwrap();
        let cells: Vec<&str> = text.lines().skip(1).flat_map(|l| l.split('\t').skip(1)).collect();
        assert_eq!(cells.len(), 2000 * 12);
        let missing = cells.iter().filter(|c| c.is_empty()).count() as f64 / cells.len() as f64;
        assert!((0.07..0.13).contains(&missing), "missing fraction {missing}");
        assert!((150..250).contains(&a.de_proteins.len()));
    }
}
