//! Preranked gene-set enrichment (Subramanian et al., PNAS 2005): the weighted Kolmogorov–Smirnov running sum of
//! gseapy `prerank` (weight 1), and a seeded gene-set permutation null shared by every set of one size.
//!
//! Hand-written: no Rust crate computes GSEA. The running sum is evaluated at the hits only (its maxima are just
//! after a hit, its minima just before one), which gives the value gseapy's cumulative sum gives in O(set size).
//! Under gene-set permutation (gseapy's and fgsea's null for a preranked list) the null distribution of a set
//! depends only on its size and the ranking, so one null per size serves every set of that size.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Permutations per set size (gseapy `prerank(permutation_num = 1000)`, fgsea `nperm`).
pub const DEFAULT_PERMUTATIONS: usize = 1000;

/// A set's enrichment score and the size of its leading edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Enrichment {
    /// The running sum's largest deviation from 0: its maximum when |max| > |min|, else its minimum (gseapy).
    pub es: f64,
    /// Hits in the leading edge: the first `leading` hits for a positive score, the last `leading` for a negative.
    pub leading: usize,
}

/// The enrichment score of the set whose genes sit at rank positions `hits` (ascending, distinct, each below
/// `weights.len()`), where `weights[i]` = |statistic| of the gene at rank i (ranks by descending statistic).
/// NaN when the set is empty, holds every gene, or its weights sum to 0.
pub fn enrichment_score(weights: &[f64], hits: &[u32]) -> Enrichment {
    let n = weights.len();
    let k = hits.len();
    let total: f64 = hits.iter().map(|&h| weights[h as usize]).sum();
    if k == 0 || k >= n || total <= 0.0 || !total.is_finite() {
        return Enrichment { es: f64::NAN, leading: 0 };
    }
    let miss = 1.0 / (n - k) as f64;
    let (mut max, mut max_at) = (f64::NEG_INFINITY, 0usize);
    let (mut min, mut min_before) = (f64::INFINITY, k);
    let mut cum = 0.0;
    for (j, &h) in hits.iter().enumerate() {
        let misses = (h as usize - j) as f64 * miss;
        if h > 0 {
            // Just before hit j (after the misses in front of it).
            let before = cum / total - misses;
            if before < min {
                min = before;
                min_before = j;
            }
        }
        cum += weights[h as usize];
        let after = cum / total - misses;
        if after > max {
            max = after;
            max_at = j + 1;
        }
    }
    // The end of the list, after the misses that follow the last hit: the running sum is back at 0.
    let last = *hits.last().expect("k > 0") as usize;
    if last + 1 < n {
        let end = cum / total - (n - k) as f64 * miss;
        if end < min {
            min = end;
            min_before = k;
        }
    }
    if max.abs() > min.abs() {
        Enrichment { es: max, leading: max_at }
    } else {
        Enrichment { es: min, leading: k - min_before }
    }
}

/// The permutation null of one set size: enrichment scores of random sets of that size, split by sign and sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct Null {
    /// Null scores ≥ 0, ascending.
    positive: Vec<f64>,
    /// Null scores < 0, ascending.
    negative: Vec<f64>,
    positive_mean: f64,
    negative_mean: f64,
}

/// Random sets of `size` genes, `permutations` times (ChaCha8 seeded with `seed`, on stream `size`: the same
/// seed, ranking and size give the same null on any machine and thread count).
pub fn permutation_null(weights: &[f64], size: usize, permutations: usize, seed: u64) -> Null {
    let n = weights.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(size as u64);
    let mut pool: Vec<u32> = (0..n as u32).collect();
    let mut hits: Vec<u32> = Vec::with_capacity(size);
    let (mut positive, mut negative) = (Vec::new(), Vec::new());
    if size == 0 || size >= n {
        return Null::from_scores(positive, negative);
    }
    for _ in 0..permutations {
        // A partial Fisher–Yates shuffle of a permutation picks a uniform random subset; the pool stays a permutation.
        for i in 0..size {
            let j = rng.random_range(i as u32..n as u32) as usize;
            pool.swap(i, j);
        }
        hits.clear();
        hits.extend_from_slice(&pool[..size]);
        hits.sort_unstable();
        let es = enrichment_score(weights, &hits).es;
        if es >= 0.0 {
            positive.push(es);
        } else if es < 0.0 {
            negative.push(es);
        }
    }
    Null::from_scores(positive, negative)
}

impl Null {
    fn from_scores(mut positive: Vec<f64>, mut negative: Vec<f64>) -> Null {
        positive.sort_unstable_by(f64::total_cmp);
        negative.sort_unstable_by(f64::total_cmp);
        let mean = |v: &[f64]| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
        Null { positive_mean: mean(&positive), negative_mean: mean(&negative), positive, negative }
    }

    /// Null scores of the sign of `es`, and how many of them are at least as extreme as `es` (≥ for a positive
    /// score, ≤ for a negative one): gseapy's p-value is their ratio.
    pub fn tail(&self, es: f64) -> (usize, usize) {
        if es >= 0.0 {
            let below = self.positive.partition_point(|&v| v < es);
            (self.positive.len() - below, self.positive.len())
        } else {
            (self.negative.partition_point(|&v| v <= es), self.negative.len())
        }
    }

    /// Normalized enrichment score: `es` over the mean null score of its sign, in absolute value (gseapy, GSEA).
    pub fn nes(&self, es: f64) -> f64 {
        if es >= 0.0 {
            es / self.positive_mean
        } else {
            es / self.negative_mean.abs()
        }
    }

    /// Count, mean and standard deviation of the null scores of the sign of `es` (for Monte Carlo error bounds).
    pub fn moments(&self, es: f64) -> (usize, f64, f64) {
        let v = if es >= 0.0 { &self.positive } else { &self.negative };
        let mean = if es >= 0.0 { self.positive_mean } else { self.negative_mean };
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (v.len().max(2) - 1) as f64;
        (v.len(), mean, var.sqrt())
    }

    /// The permutation p-value `(b + 1) / (m + 1)` of [`Null::tail`] (Phipson & Smyth 2010: never 0).
    pub fn p_value(&self, es: f64) -> f64 {
        if es.is_nan() {
            return f64::NAN;
        }
        let (b, m) = self.tail(es);
        (b + 1) as f64 / (m + 1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running sum in full, as gseapy writes it (cumulative sum, then the larger extreme).
    fn es_by_cumsum(weights: &[f64], hits: &[u32]) -> f64 {
        let total: f64 = hits.iter().map(|&h| weights[h as usize]).sum();
        let miss = 1.0 / (weights.len() - hits.len()) as f64;
        let (mut run, mut max, mut min) = (0.0, f64::NEG_INFINITY, f64::INFINITY);
        for (i, w) in weights.iter().enumerate() {
            run += if hits.contains(&(i as u32)) { w / total } else { -miss };
            max = max.max(run);
            min = min.min(run);
        }
        if max.abs() > min.abs() {
            max
        } else {
            min
        }
    }

    #[test]
    fn hit_points_give_the_full_running_sum() {
        let weights: Vec<f64> = (0..60).map(|i| ((60 - i) as f64 / 7.0).abs() + 0.1 * (i % 3) as f64).collect();
        for hits in [vec![0u32, 1, 2], vec![5, 17, 40, 59], vec![57, 58, 59], vec![0, 59], vec![30]] {
            let es = enrichment_score(&weights, &hits).es;
            assert!((es - es_by_cumsum(&weights, &hits)).abs() < 1e-14, "{hits:?}: {es}");
        }
        let top = enrichment_score(&weights, &[0, 1, 2]);
        assert_eq!((top.leading, top.es > 0.0), (3, true));
        let bottom = enrichment_score(&weights, &[57, 58, 59]);
        assert_eq!((bottom.leading, bottom.es < 0.0), (3, true));
        assert!(enrichment_score(&weights, &[]).es.is_nan());
    }

    #[test]
    fn null_is_seeded_and_a_top_set_is_significant() {
        let weights: Vec<f64> = (0..500).map(|i| (250.0 - i as f64).abs() / 50.0).collect();
        let a = permutation_null(&weights, 20, 500, 7);
        assert_eq!(a, permutation_null(&weights, 20, 500, 7));
        assert_ne!(a, permutation_null(&weights, 20, 500, 8));
        assert_eq!(a.positive.len() + a.negative.len(), 500);
        let top: Vec<u32> = (0..20).collect();
        let es = enrichment_score(&weights, &top).es;
        assert_eq!(a.tail(es).0, 0);
        assert!((a.p_value(es) - 1.0 / (a.positive.len() + 1) as f64).abs() < 1e-15);
        assert!(a.nes(es) > 2.0);
    }
}
