//! Limits detection checks before any table is read; `proteo_core::limits` re-exports them beside the readers' own.

/// Longest header line accepted (8 MiB): 20 000 run columns named by 200-character paths plus every annotation
/// column fit; a longer line is not a protein table's header (or is a table too wide for one job).
pub const MAX_HEADER_BYTES: usize = 8 << 20;

/// Most sample columns in one table (20 000): ten times the largest published MS cohorts; the QC matrix of 10 000
/// proteins × 20 000 samples is 1.6 GB of doubles, about what one stage can hold with its working copies.
pub const MAX_SAMPLE_COLUMNS: usize = 20_000;

/// Data rows detection looks at to tell text columns from numeric ones.
pub const PEEK_ROWS: usize = 20;

/// Longest cell, header or name quoted in a message, in characters.
pub const MAX_QUOTED_CHARS: usize = 60;

/// Most names spelled out in one message; the rest are counted.
pub const MAX_LISTED: usize = 20;
