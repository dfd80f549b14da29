//! Seeded synthetic data sets shaped like real LFQ experiments, for benchmarks and tests.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{ChiSquared, Distribution, Normal};

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
        matrix.push_str(&format!("SYN{p:05}"));
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

#[cfg(test)]
mod tests {
    use super::*;

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
