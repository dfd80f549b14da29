//! Preranked GSEA against gseapy 1.1.13 `prerank` (weight 1): enrichment scores and leading edges exactly, NES and
//! nominal p within the Monte Carlo error of two independent permutation runs.
//!
//! Reference: `tests/fixtures/gsea_*.tsv`, written by `tests/reference/gsea_reference.sh` (10 000 permutations).
//!
//! Error model: with m same-sign null scores, a permutation p-value b/m is a binomial proportion, SD
//! √(p(1 − p)/m); the NES divides by a null mean whose relative SD is cv/√m (cv = null SD / null mean). Two
//! independent runs differ by at most `Z_BOUND` combined SDs, plus 1/(m + 1) for our (b + 1)/(m + 1).

use proteo_stats::gsea::{enrichment_score, permutation_null};

/// Exact agreement of enrichment scores (the 1e-10).
const ES_TOL: f64 = 1e-10;
/// Combined standard deviations allowed between our and gseapy's NES and p (30 sets; 4.5 SD is p ≈ 7e-6 each).
const Z_BOUND: f64 = 4.5;
/// Our permutations (gseapy's fixture used 10 000).
const PERMUTATIONS: usize = 2000;
const GSEAPY_PERMUTATIONS: f64 = 10_000.0;
const SEED: u64 = 11;

fn read(name: &str) -> Vec<Vec<String>> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}; run gsea_reference.sh"));
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .skip(1)
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn prerank_matches_gseapy() {
    let ranking = read("gsea_ranking.tsv");
    let mut genes: Vec<(String, f64)> = ranking.iter().map(|r| (r[0].clone(), r[1].parse().unwrap())).collect();
    genes.sort_by(|a, b| b.1.total_cmp(&a.1));
    let position: std::collections::HashMap<&str, u32> =
        genes.iter().enumerate().map(|(i, (g, _))| (g.as_str(), i as u32)).collect();
    let weights: Vec<f64> = genes.iter().map(|(_, s)| s.abs()).collect();
    let sets: std::collections::HashMap<String, Vec<String>> = read("gsea_sets.tsv")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].split(',').map(str::to_string).collect()))
        .collect();
    let results = read("gsea_results.tsv");
    assert_eq!(results.len(), 30);
    let (mut worst_p, mut worst_nes) = (0.0f64, 0.0f64);
    for r in &results {
        let set = &r[0];
        let mut hits: Vec<u32> = sets[set].iter().map(|g| position[g.as_str()]).collect();
        hits.sort_unstable();
        assert_eq!(hits.len(), r[1].parse::<usize>().unwrap());
        let e = enrichment_score(&weights, &hits);
        let (es, nes, p): (f64, f64, f64) = (r[2].parse().unwrap(), r[3].parse().unwrap(), r[4].parse().unwrap());
        assert!((e.es - es).abs() <= ES_TOL * es.abs(), "{set}: ES ours {} gseapy {es}", e.es);

        let lead: Vec<u32> =
            if e.es >= 0.0 { hits[..e.leading].to_vec() } else { hits[hits.len() - e.leading..].to_vec() };
        let mut lead: Vec<&str> = lead.iter().map(|&h| genes[h as usize].0.as_str()).collect();
        lead.sort_unstable();
        assert_eq!(lead.join(";"), r[5], "{set}: leading edge");

        let null = permutation_null(&weights, hits.len(), PERMUTATIONS, SEED);
        let (m, mean, sd) = null.moments(e.es);
        let m = m as f64;
        // gseapy's same-sign count is about m · GSEAPY_PERMUTATIONS / PERMUTATIONS.
        let m_g = m * GSEAPY_PERMUTATIONS / PERMUTATIONS as f64;
        let ours_p = null.p_value(e.es);
        let pbar = ((ours_p + p) / 2.0).clamp(1.0 / m_g, 1.0);
        let p_sd = (pbar * (1.0 - pbar) * (1.0 / m + 1.0 / m_g)).sqrt();
        let p_err = (ours_p - p).abs();
        assert!(p_err <= Z_BOUND * p_sd + 1.0 / (m + 1.0), "{set}: p ours {ours_p} gseapy {p} (SD {p_sd:.2e})");
        let cv = sd / mean.abs();
        let nes_sd = nes.abs() * cv * (1.0 / m + 1.0 / m_g).sqrt();
        let nes_err = (null.nes(e.es) - nes).abs();
        assert!(nes_err <= Z_BOUND * nes_sd, "{set}: NES ours {} gseapy {nes} (SD {nes_sd:.2e})", null.nes(e.es));
        worst_p = worst_p.max(p_err / (p_sd + 1.0 / (m + 1.0)));
        worst_nes = worst_nes.max(nes_err / nes_sd);
    }
    eprintln!("GSEA vs gseapy: p within {worst_p:.2} combined SD (+1/(m+1)), NES within {worst_nes:.2} SD");
}
