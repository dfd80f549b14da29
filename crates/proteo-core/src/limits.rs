//! Limits of the analysis, each checked before the expensive work and answered with one sentence that says the
//! limit and how to split the job. (The input readers' limits — file size, header, columns, id length, rows — sit
//! beside these; the numbers below are the analysis stages'.)

/// Most groups in one design. Each pair of groups is a contrast (64 groups: 2 016 pairs), and a design with more
/// conditions than this is a screen, better run as several jobs of related groups.
pub const MAX_GROUPS: usize = 64;

/// Most contrasts in one job: the DE results hold one row per protein and contrast, and the report draws a volcano
/// per contrast. 256 is all pairs of 23 groups.
pub const MAX_CONTRASTS: usize = 256;

/// Most rows of `de/results.parquet` (proteins × contrasts): 10 million rows are ~0.5 GB of columns in the DE stage,
/// inside the DE Lambda's 1769 MB with the model fit beside them.
pub const MAX_DE_ROWS: usize = 10_000_000;

/// Most values in the QC matrix (proteins × samples): QC holds about four copies of it as f64 (input, log2, kept,
/// the Parquet columns), so 40 million values are ~1.3 GB, inside the QC Lambda's 1769 MB.
pub const MAX_QC_VALUES: usize = 40_000_000;

/// Most multiply-adds of the PCA (complete proteins × samples² / 2 for the sample Gram matrix, plus samples³ for
/// its eigen-decomposition): 2·10¹¹ is about a minute on one Lambda vCPU, well inside the 300 s stage limit.
pub const MAX_PCA_WORK: f64 = 2e11;

/// The largest magnitude of a log2 intensity: log2 of the largest finite number is 1024, so a "log2" value beyond
/// it cannot be the log2 of any intensity (and squaring it for a variance would overflow).
pub const MAX_ABS_LOG2: f64 = 1024.0;

/// The sentence for a job over a limit: what was found, the limit, and how to split.
pub fn over(what: &str, found: impl std::fmt::Display, limit: impl std::fmt::Display, split: &str) -> String {
    format!("{what} is {found}, over the limit of {limit}; {split}")
}
