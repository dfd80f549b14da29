//! QC stage: log2, valid-value filter, normalization (on all proteins or a reference set), imputation, per-sample
//! metrics and PCA.

use nalgebra::{DMatrix, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use proteo_stats::normalize::{
    normalize_cyclic_loess, normalize_quantiles, normalize_quantiles_on, NormalizeError, CYCLIC_LOESS_ITERATIONS,
    CYCLIC_LOESS_SPAN,
};

use proteo_stats::impute::{impute_knn, ImputeError, KNN_COLMAX, KNN_K, KNN_ROWMAX};

use crate::model::{Design, IntensityTable};
use crate::reference::{ReferenceError, ReferenceSet, MIN_REFERENCE_PROTEINS};

/// Perseus default: missing values are drawn 1.8 standard deviations below the sample mean
/// (Tyanova et al., Nat Methods 13:731, 2016; LFQ-Analyst / DEP `impute(fun = "man", shift = 1.8, scale = 0.3)`).
pub const PERSEUS_DOWNSHIFT: f64 = 1.8;
/// Perseus default: width of the imputation distribution, as a fraction of the sample standard deviation.
pub const PERSEUS_WIDTH: f64 = 0.3;
/// Default seed so that reruns agree bit for bit.
pub const DEFAULT_SEED: u64 = 42;
/// Number of principal components reported.
pub const PCA_COMPONENTS: usize = 3;
/// Proteins of the PCA's Gram matrix between two deadline checks (a check costs a clock read).
const PCA_CHECK_ROWS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Normalize {
    /// Subtract each sample's median log2 intensity (of the reference proteins, when a set is given).
    #[default]
    Median,
    /// limma `normalizeQuantiles`: every sample gets the same distribution.
    Quantile,
    /// limma `normalizeCyclicLoess(method = "fast", span = 0.7, iterations = 3)`: intensity-dependent bias removed.
    CyclicLoess,
    None,
}

impl Normalize {
    pub fn as_str(self) -> &'static str {
        match self {
            Normalize::Median => "median",
            Normalize::Quantile => "quantile",
            Normalize::CyclicLoess => "cyclic-loess",
            Normalize::None => "none",
        }
    }
}

/// imputeLCMD `impute.MinProb` default: draws centre on this quantile of each sample's observed values…
pub const MIN_PROB_QUANTILE: f64 = 0.01;
/// …with this multiple of the median per-protein standard deviation (`tune.sigma = 1`)…
pub const MIN_PROB_TUNE_SIGMA: f64 = 1.0;
/// …over proteins observed in more than this fraction of the samples.
pub const MIN_PROB_OBSERVED_FRACTION: f64 = 0.5;
/// `half-min`: log2 of half the protein's smallest observed intensity is its minimum log2 value minus this.
pub const HALF_MIN_LOG2_OFFSET: f64 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Impute {
    /// Per sample, draw from N(mean − 1.8 sd, 0.3 sd) of that sample's valid values.
    #[default]
    Perseus,
    /// imputeLCMD `impute.MinProb(q = 0.01, tune.sigma = 1)`: per sample N(1 % quantile, median protein SD).
    MinProb,
    /// Per protein, half its smallest observed intensity (log2: minimum − 1).
    HalfMin,
    /// Bioconductor `impute.knn(k = 10, rowmax = 0.5, colmax = 0.8)` over proteins (no two-means split).
    Knn,
    /// No imputation: limma fits each protein on its observed values.
    None,
}

impl Impute {
    pub fn as_str(self) -> &'static str {
        match self {
            Impute::Perseus => "perseus",
            Impute::MinProb => "min-prob",
            Impute::HalfMin => "half-min",
            Impute::Knn => "knn",
            Impute::None => "none",
        }
    }

    /// The method in a sentence, for the methods text.
    pub fn describe(self) -> String {
        match self {
            Impute::Perseus => format!(
                "Perseus-style: per sample from N(mean − {PERSEUS_DOWNSHIFT} SD, {PERSEUS_WIDTH} SD) of its observed values"
            ),
            Impute::MinProb => format!(
                "MinProb (imputeLCMD): per sample from N({}% quantile, {MIN_PROB_TUNE_SIGMA} × median protein SD)",
                MIN_PROB_QUANTILE * 100.0
            ),
            Impute::HalfMin => "half the protein's smallest observed intensity".into(),
            Impute::Knn => "k-nearest neighbours (impute.knn, k = 10, rowmax 0.5, colmax 0.8, no clustering split)".into(),
            Impute::None => "none (limma fits each protein on its observed values)".into(),
        }
    }
}

/// Robust z below this flags a sample (identified proteins, median correlation to the others).
pub const OUTLIER_ROBUST_Z: f64 = -3.0;
/// A sample with fewer identified proteins than this fraction of the median sample is flagged whatever its z.
pub const OUTLIER_IDENTIFIED_FRACTION: f64 = 0.5;
/// Consistency constant of the MAD for a normal distribution (R `mad`).
const MAD_CONSTANT: f64 = 1.4826;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QcParams {
    /// Values are already log2: skip the transform (zeros are then real values, not missing).
    pub log2_input: bool,
    /// Valid values needed in at least one group; `None` = ⌊n/2⌋+1 of that group's size.
    pub min_valid: Option<usize>,
    pub normalize: Normalize,
    /// Reference set the normalization is fitted on (`--normalize-on`): an id-list file, `regex:<re>` or
    /// `species:<NAME>`; `None` = every kept protein.
    pub normalize_on: Option<String>,
    pub impute: Impute,
    pub seed: u64,
    /// Samples dropped before anything is computed (`--exclude-samples`), e.g. the outliers a first run flagged.
    pub exclude_samples: Vec<String>,
}

impl Default for QcParams {
    fn default() -> Self {
        QcParams {
            log2_input: false,
            min_valid: None,
            normalize: Normalize::Median,
            normalize_on: None,
            impute: Impute::Perseus,
            seed: DEFAULT_SEED,
            exclude_samples: vec![],
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QcError {
    #[error("no protein has enough valid values: a protein is kept when at least {rule} values are valid in some group; {n} proteins were read")]
    NothingKept { rule: String, n: usize },
    #[error("sample `{sample}` has no valid values after filtering, so it cannot be normalized or imputed; remove it from the design")]
    EmptySample { sample: String },
    #[error("sample `{sample}` has a single valid value after filtering, too few to estimate the spread Perseus imputation needs; use --impute none or remove the sample")]
    TooFewForImputation { sample: String },
    #[error("--exclude-samples `{sample}` is not a sample of the design (samples: {samples})")]
    UnknownExcludedSample { sample: String, samples: String },
    #[error("--exclude-samples leaves {left} sample(s); an analysis needs at least 2")]
    TooFewSamplesLeft { left: usize },
    #[error("sample `{sample}` cannot be imputed: {reason}")]
    Imputation { sample: String, reason: String },
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("sample `{sample}` cannot be {method}-normalized: {reason}; use --normalize median, or remove the sample (--exclude-samples)")]
    Normalization { sample: String, method: &'static str, reason: String },
    #[error("protein `{protein}`, sample `{sample}`: {reason}")]
    BadValue { protein: String, sample: String, reason: String },
    #[error("sample `{sample}`: the imputation distribution cannot be formed (mean {mean}, sd {sd}); check the sample's values for outliers")]
    ImputationUndefined { sample: String, mean: f64, sd: f64 },
    #[error("{0}")]
    TooLarge(String),
    #[error("quality control stopped at its time limit (at {step}); the job is too large for one run: split it by samples or proteins")]
    TimedOut { step: &'static str },
}

impl From<crate::deadline::Expired> for QcError {
    fn from(_: crate::deadline::Expired) -> Self {
        QcError::TimedOut { step: "the PCA" }
    }
}

/// The matrix fits the QC limits ([`crate::limits`]): values, and the work of the PCA.
fn check_size(np: usize, ns: usize) -> Result<(), QcError> {
    use crate::limits::{over, MAX_PCA_WORK, MAX_QC_VALUES};
    let values = np.saturating_mul(ns);
    if values > MAX_QC_VALUES {
        return Err(QcError::TooLarge(over(
            &format!("the matrix ({np} proteins × {ns} samples)"),
            format!("{values} values"),
            format!("{MAX_QC_VALUES} values"),
            "split the samples into several jobs (with the same proteins) or filter the proteins first",
        )));
    }
    let (p, n) = (np as f64, ns as f64);
    let work = p * n * n / 2.0 + n * n * n;
    if work > MAX_PCA_WORK {
        return Err(QcError::TooLarge(over(
            &format!("the PCA of {ns} samples over {np} proteins"),
            format!("{work:.1e} operations"),
            format!("{MAX_PCA_WORK:.0e}"),
            "split the samples into several jobs of fewer samples each",
        )));
    }
    Ok(())
}

/// Per-sample QC numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleQc {
    pub sample: String,
    pub group: String,
    /// Proteins with a valid value in the input (after contaminant/decoy removal, before the valid-value filter).
    pub identified: u32,
    /// Percent missing in the input, same rows as `identified`.
    pub missing_pct: f64,
    /// Median log2 intensity of the valid values before normalization (input rows).
    pub median_log2: f64,
    /// What normalization subtracted from this sample: the median over its values of (before − after), which for
    /// median normalization is the median itself.
    pub normalization_shift: f64,
    /// Proteins whose values in this sample defined its normalization (reference proteins observed in it).
    pub normalization_proteins: u32,
    /// Values imputed in this sample.
    pub imputed: u32,
    /// Median Pearson correlation of this sample's log2 values with every other sample's (after normalization,
    /// before imputation; proteins observed in both).
    pub median_correlation: f64,
    /// Flagged as an outlier by [`OUTLIER_RULE`].
    pub outlier: bool,
    /// Why it was flagged (empty when it was not).
    pub outlier_reason: String,
    /// Median coefficient of variation (%) of this sample's group, on linear intensities of kept proteins with ≥ 2 valid values in the group.
    pub group_cv_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    /// samples × `PCA_COMPONENTS`, row-major; `NaN` where a component does not exist.
    pub scores: Vec<f64>,
    /// Percent of total variance per component.
    pub variance_pct: Vec<f64>,
    /// Proteins the PCA used (complete rows of the final matrix).
    pub proteins_used: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QcCounts {
    pub proteins_in: usize,
    pub removed_by_valid_filter: usize,
    pub proteins_kept: usize,
    pub values_imputed: usize,
    pub missing_after_qc: usize,
}

/// How the matrix was normalized, for the summary and the methods text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizationReport {
    pub method: String,
    /// `all kept proteins` or the reference set's description.
    pub set: String,
    /// Kept proteins in the set that defined the normalization.
    pub proteins: usize,
}

pub struct QcResult {
    /// Final log2 matrix of kept proteins, samples in design order.
    pub matrix: IntensityTable,
    /// Per kept protein, whether it belonged to the normalization reference set (all `true` without one).
    pub reference: Vec<bool>,
    pub normalization: NormalizationReport,
    /// Per kept protein, how many of its values were imputed.
    pub imputed_per_protein: Vec<u32>,
    /// proteins × samples row-major: whether the value was imputed.
    pub imputed: Vec<bool>,
    pub samples: Vec<SampleQc>,
    pub pca: Pca,
    pub counts: QcCounts,
}

/// Drops the `exclude` samples (`--exclude-samples`) from a table aligned to `design` and from the design.
pub fn exclude_samples(
    table: IntensityTable,
    design: Design,
    exclude: &[String],
) -> Result<(IntensityTable, Design), QcError> {
    if exclude.is_empty() {
        return Ok((table, design));
    }
    for name in exclude {
        if !design.samples.iter().any(|s| &s.sample == name) {
            return Err(QcError::UnknownExcludedSample {
                sample: name.clone(),
                samples: design.sample_names().join(", "),
            });
        }
    }
    let keep: Vec<usize> =
        (0..design.samples.len()).filter(|&i| !exclude.contains(&design.samples[i].sample)).collect();
    if keep.len() < 2 {
        return Err(QcError::TooFewSamplesLeft { left: keep.len() });
    }
    let ns = table.n_samples();
    let values =
        (0..table.n_proteins()).flat_map(|p| keep.iter().map(move |&s| p * ns + s)).map(|i| table.values[i]).collect();
    let samples = keep.iter().map(|&s| table.samples[s].clone()).collect();
    let design = Design { samples: keep.iter().map(|&s| design.samples[s].clone()).collect() };
    Ok((IntensityTable { samples, values, ..table }, design))
}

/// The valid values a group needs under `min_valid` (`None` = ⌊n/2⌋+1 of the group's size).
pub fn valid_threshold(group_size: usize, min_valid: Option<usize>) -> usize {
    min_valid.unwrap_or(group_size / 2 + 1)
}

/// Run QC on a table already aligned to the design (columns in design order). `reference` is the resolved
/// `params.normalize_on` set (the caller reads an id-list file); `None` normalizes on every kept protein.
pub fn run_qc(
    table: &IntensityTable,
    design: &Design,
    params: &QcParams,
    reference: Option<&ReferenceSet>,
) -> Result<QcResult, QcError> {
    let ns = table.n_samples();
    let np = table.n_proteins();
    let groups = design.groups();
    let gidx = design.group_index();
    let group_sizes: Vec<usize> = (0..groups.len()).map(|g| gidx.iter().filter(|&&x| x == g).count()).collect();
    check_size(np, ns)?;

    // zeros → missing, log2; values that cannot be intensities are refused with their row and column
    let mut log = table.values.clone();
    for (i, v) in log.iter_mut().enumerate() {
        let bad = |reason: String| QcError::BadValue {
            protein: table.protein_ids.get(i / ns.max(1)).cloned().unwrap_or_default(),
            sample: table.samples.get(i % ns.max(1)).cloned().unwrap_or_default(),
            reason,
        };
        if params.log2_input && *v == f64::NEG_INFINITY {
            // log2(0), as R writes it: a missing value.
            *v = f64::NAN;
            continue;
        }
        if v.is_infinite() {
            return Err(bad(format!("the value {v} is not a finite number; leave the cell empty for a missing value")));
        }
        if params.log2_input {
            if v.abs() > crate::limits::MAX_ABS_LOG2 {
                return Err(bad(format!(
                    "{v:e} is not a log2 intensity (log2 values lie within ±{}, the log2 of the largest number); \
                     drop --log2-input if the values are linear intensities",
                    crate::limits::MAX_ABS_LOG2
                )));
            }
        } else if *v < 0.0 {
            return Err(bad(format!(
                "the intensity {v} is negative; linear intensities are ≥ 0 (0 or empty = missing). If the values \
                 are already log2, use --log2-input (params.qc.log2_input)"
            )));
        } else if *v > 0.0 {
            *v = v.log2();
        } else {
            *v = f64::NAN;
        }
    }

    let mut samples: Vec<SampleQc> = (0..ns)
        .map(|s| {
            let col: Vec<f64> = (0..np).map(|p| log[p * ns + s]).filter(|v| !v.is_nan()).collect();
            SampleQc {
                sample: table.samples[s].clone(),
                group: groups[gidx[s]].clone(),
                identified: col.len() as u32,
                missing_pct: if np == 0 { 0.0 } else { 100.0 * (np - col.len()) as f64 / np as f64 },
                median_log2: median(col),
                normalization_shift: 0.0,
                normalization_proteins: 0,
                median_correlation: f64::NAN,
                outlier: false,
                outlier_reason: String::new(),
                imputed: 0,
                group_cv_pct: f64::NAN,
            }
        })
        .collect();

    // valid-value filter
    let thresholds: Vec<usize> = group_sizes.iter().map(|&n| valid_threshold(n, params.min_valid)).collect();
    let mut keep = Vec::with_capacity(np);
    let mut counts = vec![0usize; groups.len()];
    for p in 0..np {
        counts.iter_mut().for_each(|c| *c = 0);
        for s in 0..ns {
            if !log[p * ns + s].is_nan() {
                counts[gidx[s]] += 1;
            }
        }
        if counts.iter().zip(&thresholds).any(|(&c, &t)| c >= t && c > 0) {
            keep.push(p);
        }
    }
    if keep.is_empty() {
        let rule = match params.min_valid {
            Some(m) => format!("{m}"),
            None => "⌊n/2⌋+1 (n = group size)".to_string(),
        };
        return Err(QcError::NothingKept { rule, n: np });
    }
    let nk = keep.len();
    let mut m: Vec<f64> = Vec::with_capacity(nk * ns);
    for &p in &keep {
        m.extend_from_slice(&log[p * ns..(p + 1) * ns]);
    }
    drop(log);

    let column = |m: &[f64], s: usize| -> Vec<f64> { (0..nk).map(|p| m[p * ns + s]).filter(|v| !v.is_nan()).collect() };
    for (s, sample) in samples.iter().enumerate() {
        if column(&m, s).is_empty() {
            return Err(QcError::EmptySample { sample: sample.sample.clone() });
        }
    }

    // group CV on linear scale, before normalization and imputation
    for (g, _) in groups.iter().enumerate() {
        let members: Vec<usize> = (0..ns).filter(|&s| gidx[s] == g).collect();
        let mut cvs = Vec::new();
        for p in 0..nk {
            let lin: Vec<f64> = members.iter().map(|&s| m[p * ns + s]).filter(|v| !v.is_nan()).map(f64::exp2).collect();
            if lin.len() >= 2 {
                let (mean, sd) = mean_sd(&lin);
                cvs.push(100.0 * sd / mean);
            }
        }
        let cv = median(cvs);
        for &s in &members {
            samples[s].group_cv_pct = cv;
        }
    }

    let in_set: Vec<bool> = match reference {
        Some(r) => {
            let all = r.mask(table);
            keep.iter().map(|&p| all[p]).collect()
        }
        None => vec![true; nk],
    };
    let n_ref = in_set.iter().filter(|&&b| b).count();
    if let Some(r) = reference {
        if n_ref < MIN_REFERENCE_PROTEINS {
            return Err(ReferenceError::TooFew {
                set: r.description.clone(),
                found: n_ref,
                kept: nk,
                min: MIN_REFERENCE_PROTEINS,
                example: table.protein_ids.iter().take(2).cloned().collect::<Vec<_>>().join(", "),
            }
            .into());
        }
    }
    for (s, sample) in samples.iter_mut().enumerate() {
        sample.normalization_proteins = (0..nk).filter(|&p| in_set[p] && !m[p * ns + s].is_nan()).count() as u32;
    }
    let before = m.clone();
    normalize(&mut m, nk, ns, params.normalize, reference.map(|_| in_set.as_slice()), &samples)?;
    for (s, sample) in samples.iter_mut().enumerate() {
        let diffs: Vec<f64> = (0..nk).map(|p| before[p * ns + s] - m[p * ns + s]).filter(|d| !d.is_nan()).collect();
        sample.normalization_shift = if params.normalize == Normalize::None { 0.0 } else { median(diffs) };
    }
    drop(before);
    let normalization = NormalizationReport {
        method: params.normalize.as_str().to_string(),
        set: reference.map_or_else(|| "all kept proteins".to_string(), |r| r.description.clone()),
        proteins: n_ref,
    };

    flag_outliers(&mut samples, &m, nk, ns);
    let imputed = impute(&mut m, nk, ns, params.impute, params.seed, &samples)?;
    let mut imputed_per_protein = vec![0u32; nk];
    for p in 0..nk {
        for s in 0..ns {
            if imputed[p * ns + s] {
                imputed_per_protein[p] += 1;
                samples[s].imputed += 1;
            }
        }
    }
    let values_imputed = imputed.iter().filter(|&&b| b).count();
    let missing_after_qc = m.iter().filter(|v| v.is_nan()).count();
    let pca = pca_within_deadline(&m, nk, ns)?;

    let pick = |v: &[String]| keep.iter().map(|&p| v.get(p).cloned().unwrap_or_default()).collect::<Vec<_>>();
    let matrix = IntensityTable {
        protein_ids: pick(&table.protein_ids),
        majority_ids: pick(&table.majority_ids),
        gene_names: pick(&table.gene_names),
        protein_names: pick(&table.protein_names),
        annotations: table.annotations.iter().map(|(name, v)| (name.clone(), pick(v))).collect(),
        samples: table.samples.clone(),
        values: m,
    };
    Ok(QcResult {
        matrix,
        imputed,
        reference: in_set,
        normalization,
        imputed_per_protein,
        samples,
        pca,
        counts: QcCounts {
            proteins_in: np,
            removed_by_valid_filter: np - nk,
            proteins_kept: nk,
            values_imputed,
            missing_after_qc,
        },
    })
}

/// [`pca`], stopping with [`QcError::TimedOut`] when this thread's deadline ([`crate::deadline`]) passes.
fn pca_within_deadline(m: &[f64], n_proteins: usize, n_samples: usize) -> Result<Pca, QcError> {
    let mut expired = false;
    let pca = pca_checked(m, n_proteins, n_samples, &mut || {
        expired = crate::deadline::check().is_err();
        expired
    });
    if expired {
        return Err(QcError::TimedOut { step: "the PCA" });
    }
    Ok(pca)
}

/// The stated outlier rule, as the summary and report print it.
pub const OUTLIER_RULE: &str = "a sample is flagged when its identified proteins or its median correlation to the other samples has a robust z (median/MAD over samples) below −3, or it identifies fewer than half the proteins of the median sample";

fn robust_z(values: &[f64]) -> Vec<f64> {
    let med = median(values.iter().copied().filter(|v| v.is_finite()).collect());
    let mad = MAD_CONSTANT * median(values.iter().filter(|v| v.is_finite()).map(|v| (v - med).abs()).collect());
    values.iter().map(|v| if mad > 0.0 && v.is_finite() { (v - med) / mad } else { 0.0 }).collect()
}

/// Each sample's median correlation is taken over at most this many other samples: all of them up to
/// `CORRELATION_PANEL + 1` samples (exact), else a panel of this many spread evenly over the design order (cost
/// samples × panel × proteins, linear in the samples, and no samples × samples matrix).
pub const CORRELATION_PANEL: usize = 100;

/// The samples a sample's median correlation is taken over: every sample when there are at most
/// [`CORRELATION_PANEL`] + 1, else [`CORRELATION_PANEL`] spread evenly over the design order.
pub fn correlation_panel(ns: usize) -> Vec<usize> {
    if ns <= CORRELATION_PANEL + 1 {
        return (0..ns).collect();
    }
    (0..CORRELATION_PANEL).map(|i| i * (ns - 1) / (CORRELATION_PANEL - 1)).collect()
}

/// Median correlation to the other samples (over [`correlation_panel`]) and the outlier flags of [`OUTLIER_RULE`],
/// on the normalized log2 matrix before imputation.
fn flag_outliers(samples: &mut [SampleQc], m: &[f64], nk: usize, ns: usize) {
    let columns: Vec<Vec<f64>> = (0..ns).map(|s| (0..nk).map(|p| m[p * ns + s]).collect()).collect();
    let panel = correlation_panel(ns);
    for (s, sample) in samples.iter_mut().enumerate() {
        let cors: Vec<f64> = panel
            .iter()
            .filter(|&&t| t != s)
            .map(|&t| pairwise_correlation(&columns[s], &columns[t]))
            .filter(|c| c.is_finite())
            .collect();
        sample.median_correlation = median(cors);
    }
    if ns < 3 {
        return;
    }
    let identified: Vec<f64> = samples.iter().map(|s| f64::from(s.identified)).collect();
    let correlation: Vec<f64> = samples.iter().map(|s| s.median_correlation).collect();
    let (zi, zc) = (robust_z(&identified), robust_z(&correlation));
    let median_identified = median(identified.clone());
    for (s, sample) in samples.iter_mut().enumerate() {
        let mut why = Vec::new();
        if zi[s] < OUTLIER_ROBUST_Z {
            why.push(format!("identified proteins {} (robust z {:.1})", sample.identified, zi[s]));
        } else if identified[s] < OUTLIER_IDENTIFIED_FRACTION * median_identified {
            why.push(format!(
                "identified proteins {} < half the median sample's {median_identified}",
                sample.identified
            ));
        }
        if zc[s] < OUTLIER_ROBUST_Z {
            why.push(format!("median correlation {:.3} (robust z {:.1})", sample.median_correlation, zc[s]));
        }
        sample.outlier = !why.is_empty();
        sample.outlier_reason = why.join("; ");
    }
}

/// Pearson correlation of two samples' columns over the proteins observed in both (NaN with fewer than 3).
fn pairwise_correlation(a: &[f64], b: &[f64]) -> f64 {
    let both = || a.iter().zip(b).filter(|(x, y)| !x.is_nan() && !y.is_nan());
    let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
    for (x, y) in both() {
        n += 1;
        sx += x;
        sy += y;
    }
    if n < 3 {
        return f64::NAN;
    }
    let (mx, my) = (sx / n as f64, sy / n as f64);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in both() {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    sxy / (sxx * syy).sqrt()
}

/// R `quantile(x, q, type = 7)` of finite values (NaN for none).
fn quantile7(mut v: Vec<f64>, q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * q;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + frac * (v[hi] - v[lo])
}

/// Fills the missing values of the normalized log2 matrix by `method`; returns which values were imputed. Random
/// methods draw from one ChaCha20 stream per sample (stream = sample index) seeded by `seed`, so a sample's draws do
/// not depend on the other samples and reruns are bit-identical.
fn impute(
    m: &mut [f64],
    nk: usize,
    ns: usize,
    method: Impute,
    seed: u64,
    samples: &[SampleQc],
) -> Result<Vec<bool>, QcError> {
    let mask: Vec<bool> = m.iter().map(|v| v.is_nan()).collect();
    let name = |s: usize| samples.get(s).map(|x| x.sample.clone()).unwrap_or_default();
    let col = |m: &[f64], s: usize| -> Vec<f64> { (0..nk).map(|p| m[p * ns + s]).filter(|v| !v.is_nan()).collect() };
    let draw = |m: &mut [f64], s: usize, mean: f64, sd: f64| -> Result<(), QcError> {
        let normal = Normal::new(mean, sd).map_err(|e| QcError::Imputation {
            sample: name(s),
            reason: format!("the imputation distribution N({mean}, {sd}) is not defined ({e})"),
        })?;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        rng.set_stream(s as u64);
        for p in 0..nk {
            let v = &mut m[p * ns + s];
            if v.is_nan() {
                *v = normal.sample(&mut rng);
            }
        }
        Ok(())
    };
    match method {
        Impute::None => return Ok(vec![false; nk * ns]),
        Impute::Perseus => {
            for s in 0..ns {
                let valid = col(m, s);
                if valid.len() == nk {
                    continue;
                }
                if valid.len() < 2 {
                    return Err(QcError::TooFewForImputation { sample: name(s) });
                }
                let (mean, sd) = mean_sd(&valid);
                draw(m, s, mean - PERSEUS_DOWNSHIFT * sd, PERSEUS_WIDTH * sd)?;
            }
        }
        Impute::MinProb => {
            let sds: Vec<f64> = (0..nk)
                .filter_map(|p| {
                    let row: Vec<f64> = m[p * ns..(p + 1) * ns].iter().copied().filter(|v| !v.is_nan()).collect();
                    (row.len() as f64 / ns as f64 > MIN_PROB_OBSERVED_FRACTION).then(|| mean_sd(&row).1)
                })
                .filter(|v| v.is_finite())
                .collect();
            let sd = median(sds) * MIN_PROB_TUNE_SIGMA;
            for s in 0..ns {
                let valid = col(m, s);
                if valid.len() == nk {
                    continue;
                }
                if !sd.is_finite() {
                    return Err(QcError::Imputation {
                        sample: name(s),
                        reason: "no protein is observed in more than half the samples, so MinProb has no spread to draw with; use --impute perseus".into(),
                    });
                }
                let q = quantile7(valid, MIN_PROB_QUANTILE);
                draw(m, s, q, sd)?;
            }
        }
        Impute::HalfMin => {
            for p in 0..nk {
                let row = &mut m[p * ns..(p + 1) * ns];
                let min = row.iter().copied().filter(|v| !v.is_nan()).fold(f64::INFINITY, f64::min);
                if min.is_finite() {
                    row.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = min - HALF_MIN_LOG2_OFFSET);
                }
            }
        }
        Impute::Knn => {
            impute_knn(m, nk, ns, KNN_K, KNN_ROWMAX, KNN_COLMAX).map_err(|e| {
                let (s, reason) = match &e {
                    ImputeError::ColumnTooSparse { column, pct, max } => (
                        *column,
                        format!("{pct:.0} % of its kept proteins are missing, more than the {max:.0} % kNN imputation allows; exclude it (--exclude-samples) or use --impute perseus"),
                    ),
                    ImputeError::EmptyColumn { column } => (*column, "it has no observed value".to_string()),
                };
                QcError::Imputation { sample: name(s), reason }
            })?;
        }
    }
    Ok(mask.iter().zip(m.iter()).map(|(&was, v)| was && !v.is_nan()).collect())
}

/// Normalizes the kept log2 matrix in place; `reference` (per row) restricts what the normalization is fitted on.
fn normalize(
    m: &mut [f64],
    nk: usize,
    ns: usize,
    method: Normalize,
    reference: Option<&[bool]>,
    samples: &[SampleQc],
) -> Result<(), QcError> {
    let sample_err = |e: NormalizeError| {
        let (column, reason) = match &e {
            NormalizeError::TooFewValues { column, n } => {
                (*column, format!("it has {n} observed value(s) and needs at least 2"))
            }
            NormalizeError::EmptyReference { column } => (*column, "no reference protein is observed in it".into()),
            NormalizeError::TooFewRows(_) => (0, e.to_string()),
        };
        QcError::Normalization {
            sample: samples.get(column).map(|s| s.sample.clone()).unwrap_or_default(),
            method: method.as_str(),
            reason,
        }
    };
    match method {
        Normalize::None => {}
        Normalize::Median => {
            for s in 0..ns {
                let col: Vec<f64> = (0..nk)
                    .filter(|&p| reference.is_none_or(|r| r[p]))
                    .map(|p| m[p * ns + s])
                    .filter(|v| !v.is_nan())
                    .collect();
                if col.is_empty() {
                    return Err(sample_err(NormalizeError::EmptyReference { column: s }));
                }
                let med = median(col);
                for p in 0..nk {
                    m[p * ns + s] -= med;
                }
            }
        }
        Normalize::Quantile => match reference {
            None => normalize_quantiles(m, nk, ns).map_err(sample_err)?,
            Some(r) => normalize_quantiles_on(m, nk, ns, r).map_err(sample_err)?,
        },
        Normalize::CyclicLoess => {
            normalize_cyclic_loess(m, nk, ns, CYCLIC_LOESS_SPAN, CYCLIC_LOESS_ITERATIONS, reference)
                .map_err(sample_err)?
        }
    }
    Ok(())
}

/// Up to this many samples PCA is exact (eigen-decomposition of the samples × samples Gram matrix, cost
/// proteins × samples², bounded by this cap); above it, randomized subspace iteration, linear in the samples.
pub const PCA_EXACT_MAX_SAMPLES: usize = 200;
/// Extra random directions beyond [`PCA_COMPONENTS`] (Halko, Martinsson & Tropp, SIAM Review 53:217, 2011, §4.2:
/// p = 5–10 suffices; more directions make the leading components converge faster when their gaps are small).
pub const PCA_OVERSAMPLING: usize = 17;
/// Power (subspace) iterations of the randomized PCA (Halko et al. 2011, Algorithm 4.4); with the oversampling above
/// the scores agree with the exact PCA to 1e-6 of the largest score (tested on the bundled example and on 2 000
/// synthetic samples).
pub const PCA_POWER_ITERATIONS: usize = 8;
/// Seed of the randomized PCA's test matrix: the same matrix always gives the same scores.
pub const PCA_SEED: u64 = 20_111;

/// PCA of the samples on complete proteins, centred per protein (R `prcomp(t(m), center = TRUE)`): exact for at most
/// [`PCA_EXACT_MAX_SAMPLES`] samples, randomized subspace iteration above. Signs are fixed so the largest |score| of
/// each component is positive.
pub fn pca(m: &[f64], n_proteins: usize, n_samples: usize) -> Pca {
    pca_checked(m, n_proteins, n_samples, &mut || false)
}

/// [`pca`], calling `stop` every [`PCA_CHECK_ROWS`] proteins of the exact Gram matrix or at every power iteration of
/// the randomized one; when it answers true the PCA is abandoned (all NaN).
fn pca_checked(m: &[f64], n_proteins: usize, n_samples: usize, stop: &mut dyn FnMut() -> bool) -> Pca {
    if n_samples <= PCA_EXACT_MAX_SAMPLES {
        pca_exact_checked(m, n_proteins, n_samples, stop)
    } else {
        pca_randomized_checked(m, n_proteins, n_samples, stop)
    }
}

/// How [`pca`] computes the components for `n_samples` samples, for the summary.
pub fn pca_method(n_samples: usize) -> String {
    if n_samples <= PCA_EXACT_MAX_SAMPLES {
        "exact: eigen-decomposition of the samples × samples Gram matrix".into()
    } else {
        format!(
            "randomized subspace iteration (Halko, Martinsson & Tropp 2011): {} Gaussian directions (seed {PCA_SEED}), {PCA_POWER_ITERATIONS} power iterations; scores within 1e-6 of the exact PCA's largest score",
            PCA_COMPONENTS + PCA_OVERSAMPLING
        )
    }
}

/// Which samples each sample's median correlation is taken over, for the summary.
pub fn correlation_rule(n_samples: usize) -> String {
    if n_samples <= CORRELATION_PANEL + 1 {
        "every other sample".into()
    } else {
        format!("a panel of {CORRELATION_PANEL} samples spread evenly over the design order (of {n_samples})")
    }
}

/// The complete rows of a proteins × samples row-major matrix, each centred on its mean.
fn centred_complete_rows(m: &[f64], n_proteins: usize, ns: usize) -> Vec<Vec<f64>> {
    (0..n_proteins)
        .map(|p| &m[p * ns..(p + 1) * ns])
        .filter(|r| r.iter().all(|v| v.is_finite()))
        .map(|r| {
            let mean = r.iter().sum::<f64>() / ns as f64;
            r.iter().map(|v| v - mean).collect()
        })
        .collect()
}

/// Scores and % variance from per-component eigenvalues λ (variance × (proteins − 1) scale) and sample vectors, in
/// descending order of λ; `total` is the trace of the Gram matrix.
fn pca_from_components(components: &[(f64, Vec<f64>)], total: f64, ns: usize, proteins_used: usize) -> Pca {
    let mut scores = vec![f64::NAN; ns * PCA_COMPONENTS];
    let mut variance_pct = vec![f64::NAN; PCA_COMPONENTS];
    for (c, (lambda, v)) in components.iter().take(PCA_COMPONENTS).enumerate() {
        let lambda = lambda.max(0.0);
        if total <= 0.0 || lambda <= total * 1e-12 {
            continue;
        }
        let (mut best, mut sign) = (0.0, 1.0);
        for x in v {
            if x.abs() > best {
                best = x.abs();
                sign = x.signum();
            }
        }
        for i in 0..ns {
            scores[i * PCA_COMPONENTS + c] = sign * v[i] * lambda.sqrt();
        }
        variance_pct[c] = 100.0 * lambda / total;
    }
    Pca { scores, variance_pct, proteins_used }
}

/// Exact PCA via the eigen-decomposition of the samples × samples Gram matrix (cost proteins × samples²).
pub fn pca_exact(m: &[f64], n_proteins: usize, n_samples: usize) -> Pca {
    pca_exact_checked(m, n_proteins, n_samples, &mut || false)
}

fn pca_exact_checked(m: &[f64], n_proteins: usize, n_samples: usize, stop: &mut dyn FnMut() -> bool) -> Pca {
    let ns = n_samples;
    let rows = centred_complete_rows(m, n_proteins, ns);
    if rows.len() < 2 || ns < 2 {
        return pca_from_components(&[], 0.0, ns, rows.len());
    }
    let mut gram = DMatrix::<f64>::zeros(ns, ns);
    for (k, centred) in rows.iter().enumerate() {
        if k % PCA_CHECK_ROWS == 0 && stop() {
            return pca_from_components(&[], 0.0, ns, rows.len());
        }
        for i in 0..ns {
            for j in 0..=i {
                gram[(i, j)] += centred[i] * centred[j];
            }
        }
    }
    for i in 0..ns {
        for j in 0..i {
            gram[(j, i)] = gram[(i, j)];
        }
    }
    let eig = SymmetricEigen::new(gram);
    let mut order: Vec<usize> = (0..ns).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let total: f64 = eig.eigenvalues.iter().map(|v| v.max(0.0)).sum();
    let components: Vec<(f64, Vec<f64>)> = order
        .iter()
        .take(PCA_COMPONENTS)
        .map(|&k| (eig.eigenvalues[k], eig.eigenvectors.column(k).iter().copied().collect()))
        .collect();
    pca_from_components(&components, total, ns, rows.len())
}

/// Randomized PCA (Halko, Martinsson & Tropp 2011, Algorithm 4.4: randomized subspace iteration with a QR at every
/// step, then Rayleigh–Ritz on the subspace): a seeded Gaussian test matrix of [`PCA_COMPONENTS`] +
/// [`PCA_OVERSAMPLING`] columns, [`PCA_POWER_ITERATIONS`] power iterations. Cost proteins × samples × directions per
/// pass, linear in the samples; the % variance uses the exact total (the trace, i.e. the sum of squares).
pub fn pca_randomized(m: &[f64], n_proteins: usize, n_samples: usize) -> Pca {
    pca_randomized_checked(m, n_proteins, n_samples, &mut || false)
}

fn pca_randomized_checked(m: &[f64], n_proteins: usize, n_samples: usize, stop: &mut dyn FnMut() -> bool) -> Pca {
    let ns = n_samples;
    let rows = centred_complete_rows(m, n_proteins, ns);
    let np = rows.len();
    let l = (PCA_COMPONENTS + PCA_OVERSAMPLING).min(ns).min(np);
    if np < 2 || ns < 2 || l < 1 {
        return pca_from_components(&[], 0.0, ns, np);
    }
    // x: proteins × samples (the data, transposed relative to prcomp's samples × proteins).
    let x = DMatrix::<f64>::from_fn(np, ns, |p, s| rows[p][s]);
    drop(rows);
    let total: f64 = x.iter().map(|v| v * v).sum();
    let mut rng = ChaCha20Rng::seed_from_u64(PCA_SEED);
    let unit = Normal::new(0.0, 1.0).expect("the standard normal is defined");
    let omega = DMatrix::<f64>::from_fn(np, l, |_, _| unit.sample(&mut rng));
    // q: an orthonormal basis (samples × l) of the range of xᵀ, refined by power iterations.
    let mut q = x.tr_mul(&omega).qr().q();
    for _ in 0..PCA_POWER_ITERATIONS {
        if stop() {
            return pca_from_components(&[], 0.0, ns, np);
        }
        let z = (&x * &q).qr().q();
        q = x.tr_mul(&z).qr().q();
    }
    // Rayleigh–Ritz: the l × l Gram matrix of x q gives the leading eigenpairs of xᵀx restricted to span(q).
    let xq = &x * &q;
    let small = xq.tr_mul(&xq);
    let eig = SymmetricEigen::new(small);
    let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let components: Vec<(f64, Vec<f64>)> = order
        .iter()
        .take(PCA_COMPONENTS)
        .map(|&k| {
            let v = &q * eig.eigenvectors.column(k);
            (eig.eigenvalues[k], v.iter().copied().collect())
        })
        .collect();
    pca_from_components(&components, total, ns, np)
}

/// Median of the values (R `median`); `NaN` for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Mean and sample standard deviation (n − 1).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let ss: f64 = v.iter().map(|x| (x - mean) * (x - mean)).sum();
    (mean, if v.len() > 1 { (ss / (n - 1.0)).sqrt() } else { f64::NAN })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SampleInfo;

    fn design(groups: &[(&str, &str)]) -> Design {
        Design { samples: groups.iter().map(|(s, g)| SampleInfo::in_group(s.to_string(), g.to_string())).collect() }
    }

    fn table(values: Vec<f64>, ns: usize) -> IntensityTable {
        let np = values.len() / ns;
        IntensityTable {
            protein_ids: (0..np).map(|i| format!("P{i}")).collect(),
            majority_ids: vec![String::new(); np],
            gene_names: vec![String::new(); np],
            samples: (0..ns).map(|i| format!("S{i}")).collect(),
            values,
            ..IntensityTable::default()
        }
    }

    #[test]
    fn filter_keeps_proteins_with_majority_valid_in_some_group() {
        // 2 groups of 3: threshold 2 per group.
        let d = design(&[("S0", "A"), ("S1", "A"), ("S2", "A"), ("S3", "B"), ("S4", "B"), ("S5", "B")]);
        let t = table(
            vec![
                8.0, 8.0, 0.0, 0.0, 0.0, 0.0, // 2 valid in A → kept
                8.0, 0.0, 0.0, 8.0, 0.0, 0.0, // 1 + 1 → dropped
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0, // all missing → dropped
                2.0, 4.0, 8.0, 16.0, 32.0, 64.0,
            ],
            6,
        );
        let p = QcParams { normalize: Normalize::None, impute: Impute::None, ..Default::default() };
        let r = run_qc(&t, &d, &p, None).unwrap();
        assert_eq!(r.matrix.protein_ids, vec!["P0", "P3"]);
        assert_eq!(r.counts.removed_by_valid_filter, 2);
        assert_eq!(r.matrix.row(1), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(r.samples[0].identified, 3);
        assert!((r.samples[2].missing_pct - 75.0).abs() < 1e-12);
        let strict = QcParams { min_valid: Some(3), ..p };
        assert_eq!(run_qc(&t, &d, &strict, None).unwrap().matrix.protein_ids, vec!["P3"]);
    }

    #[test]
    fn median_normalization_centres_every_sample_at_zero() {
        let d = design(&[("S0", "A"), ("S1", "A"), ("S2", "B"), ("S3", "B")]);
        let t = table((1..=40).map(|i| (i * 37 % 101) as f64 * 1000.0).collect(), 4);
        let r = run_qc(&t, &d, &QcParams { impute: Impute::None, ..Default::default() }, None).unwrap();
        for s in 0..4 {
            let col: Vec<f64> = (0..r.matrix.n_proteins()).map(|p| r.matrix.value(p, s)).collect();
            assert!(median(col).abs() < 1e-12);
        }
    }

    #[test]
    fn imputation_is_downshifted_and_seeded() {
        let d = design(&[("S0", "A"), ("S1", "A"), ("S2", "B"), ("S3", "B")]);
        let mut v: Vec<f64> = (0..400).map(|i| 1000.0 + (i * 7919 % 1000) as f64 * 100.0).collect();
        for p in (0..100).step_by(3) {
            v[p * 4 + 1] = 0.0;
        }
        let t = table(v, 4);
        let a = run_qc(&t, &d, &QcParams::default(), None).unwrap();
        let b = run_qc(&t, &d, &QcParams::default(), None).unwrap();
        assert_eq!(a.matrix.values, b.matrix.values);
        assert_eq!(a.counts.values_imputed, 34);
        assert_eq!(a.samples[1].imputed, 34);
        assert_eq!(a.counts.missing_after_qc, 0);
        let c = run_qc(&t, &d, &QcParams { seed: 7, ..Default::default() }, None).unwrap();
        assert_ne!(a.matrix.values, c.matrix.values);
        // imputed values sit well below the observed ones of that sample
        let observed: Vec<f64> = (0..100).filter(|p| p % 3 != 0).map(|p| a.matrix.value(p, 1)).collect();
        let imputed: Vec<f64> = (0..100).filter(|p| p % 3 == 0).map(|p| a.matrix.value(p, 1)).collect();
        let (mo, so) = mean_sd(&observed);
        let (mi, _) = mean_sd(&imputed);
        assert!(mi < mo - 1.2 * so, "imputed mean {mi} vs observed {mo} ± {so}");
        // the other samples' values were not touched by sample 1's draws
        assert_eq!(a.matrix.value(0, 0), c.matrix.value(0, 0));
    }

    #[test]
    fn pca_matches_known_structure() {
        // Two groups separated along one direction: PC1 carries (almost) all variance and splits the groups.
        let ns = 4;
        let mut m = Vec::new();
        for p in 0..50 {
            let base = p as f64;
            let eps = (p % 7) as f64 * 1e-3;
            m.extend_from_slice(&[base - 1.0, base - 1.0 + eps, base + 1.0, base + 1.0 - eps]);
        }
        let pca = pca(&m, 50, ns);
        assert!(pca.variance_pct[0] > 99.0);
        assert!(pca.scores[0] * pca.scores[2 * PCA_COMPONENTS] < 0.0);
        let total: f64 = pca.variance_pct.iter().filter(|v| v.is_finite()).sum();
        assert!(total <= 100.0 + 1e-9);
    }

    #[test]
    fn nothing_kept_is_an_error_not_an_empty_run() {
        let d = design(&[("S0", "A"), ("S1", "A")]);
        let t = table(vec![0.0, 5.0, 0.0, 0.0], 2);
        let err = run_qc(&t, &d, &QcParams::default(), None).err().unwrap();
        assert!(err.to_string().starts_with("no protein has enough valid values"));
    }
}
