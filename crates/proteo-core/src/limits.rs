//! Caps on what one job reads, each checked before the expensive work and refused with a sentence that says the
//! limit and how to split the job.

/// The header-line and sample-column caps are checked by detection (also in the API, which does not link this crate).
pub use proteo_detect::limits::{MAX_HEADER_BYTES, MAX_LISTED, MAX_QUOTED_CHARS, MAX_SAMPLE_COLUMNS};

/// Largest decompressed size accepted from a gzip upload (1 GiB): far above any protein table (a 20 000-protein ×
/// 500-sample matrix is ≈ 150 MB), low enough that a gzip bomb cannot exhaust a Lambda's memory.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// Most data rows in a protein table (2 000 000): ten times the protein groups of the largest multi-species
/// searches with isoforms; more rows is a peptide or precursor table, or several tables pasted together.
pub const MAX_ROWS: usize = 2_000_000;

/// Most values (proteins × samples) in one table (400 million, 3.2 GB of doubles): what one stage can hold with
/// its working copies in a 10 GB Lambda.
pub const MAX_VALUES: usize = 400_000_000;

/// Longest protein id, in characters (32 767, Excel's cell limit): the largest real protein groups (titin,
/// immunoglobulin families) are a few thousand characters; a longer id is a damaged line.
pub const MAX_PROTEIN_ID_CHARS: usize = 32_767;

/// Names (ignored samples, annotation columns) listed in a run summary; the rest are counted.
pub const MAX_REPORTED_NAMES: usize = 50;
