//! Which precursor-level report a header (or Parquet schema) is: the one predicate the detection rule and the
//! quant path's readers share, so what `proteo inspect` names is what `proteo run` quantifies.

use serde::{Deserialize, Serialize};

/// The kinds of precursor-level file proteo quantifies to protein groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrecursorKind {
    /// DIA-NN main report, long: one row per precursor and run (report.parquet in 1.9/2.x, report.tsv up to 1.9).
    DiannReport,
    /// AlphaDIA precursors.tsv, long: one row per precursor and run.
    AlphadiaPrecursors,
    /// DIA-NN report.pr_matrix.tsv: one row per precursor, one column per run.
    DiannPrMatrix,
    /// AlphaDIA precursor matrix: `mod_seq_charge_hash`, one column per run, then annotation.
    AlphadiaPrecursorMatrix,
}

impl PrecursorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrecursorKind::DiannReport => "DIA-NN main report",
            PrecursorKind::AlphadiaPrecursors => "AlphaDIA precursors.tsv",
            PrecursorKind::DiannPrMatrix => "DIA-NN precursor matrix (pr_matrix)",
            PrecursorKind::AlphadiaPrecursorMatrix => "AlphaDIA precursor matrix",
        }
    }

    /// The tool that writes it.
    pub fn tool(self) -> &'static str {
        match self {
            PrecursorKind::DiannReport | PrecursorKind::DiannPrMatrix => "DIA-NN",
            PrecursorKind::AlphadiaPrecursors | PrecursorKind::AlphadiaPrecursorMatrix => "AlphaDIA",
        }
    }

    /// The same search's protein-level table, named in refusals (a single-run report).
    pub fn protein_table(self) -> &'static str {
        match self {
            PrecursorKind::DiannReport | PrecursorKind::DiannPrMatrix => "report.pg_matrix.tsv",
            PrecursorKind::AlphadiaPrecursors | PrecursorKind::AlphadiaPrecursorMatrix => "pg.matrix.tsv",
        }
    }
}

/// Which precursor-level kind a header line (or a Parquet schema's column names) belongs to, if any; names only,
/// exact case as the tools write them.
pub fn precursor_kind(columns: &[String]) -> Option<PrecursorKind> {
    let has = |name: &str| columns.iter().any(|c| c == name);
    let run = has("Run") || has("File.Name") || has("Run.Index");
    if has("Run.Index") && has("Precursor.Lib.Index") {
        return Some(PrecursorKind::DiannReport);
    }
    if has("Precursor.Id") {
        if run {
            return Some(PrecursorKind::DiannReport);
        }
        if has("Protein.Group") {
            return Some(PrecursorKind::DiannPrMatrix);
        }
        return None;
    }
    let precursor = has("mod_seq_charge_hash") || has("precursor_idx");
    if precursor && has("intensity") && (has("pg") || has("proteins")) {
        return Some(PrecursorKind::AlphadiaPrecursors);
    }
    let first = columns.first().map(String::as_str);
    if matches!(first, Some("mod_seq_charge_hash" | "mod_seq_hash")) && !has("run") {
        return Some(PrecursorKind::AlphadiaPrecursorMatrix);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(header: &str) -> Vec<String> {
        header.split('\t').map(str::to_string).collect()
    }

    #[test]
    fn kinds_are_recognised_from_column_names() {
        let k = |h: &str| precursor_kind(&cols(h));
        assert_eq!(k("Run.Index\tRun\tPrecursor.Id\tPrecursor.Lib.Index"), Some(PrecursorKind::DiannReport));
        assert_eq!(k("Run.Index\tPrecursor.Lib.Index"), Some(PrecursorKind::DiannReport));
        assert_eq!(
            k("File.Name\tRun\tProtein.Group\tPrecursor.Id\tPrecursor.Quantity"),
            Some(PrecursorKind::DiannReport)
        );
        assert_eq!(k("\tFile.Name\tPrecursor.Id\tPrecursor.Normalised"), Some(PrecursorKind::DiannReport));
        assert_eq!(k("Protein.Group\tProtein.Ids\tPrecursor.Id\t/a/r1.mzML"), Some(PrecursorKind::DiannPrMatrix));
        assert_eq!(k("\trun\tpg\tmod_seq_charge_hash\tintensity\tqval"), Some(PrecursorKind::AlphadiaPrecursors));
        assert_eq!(k("\tprecursor_idx\trun\tpg\tintensity\tqval"), Some(PrecursorKind::AlphadiaPrecursors));
        assert_eq!(k("mod_seq_charge_hash\tA\tB\tgenes"), Some(PrecursorKind::AlphadiaPrecursorMatrix));
        assert_eq!(k("Protein.Group\tProtein.Ids\tGenes\t/a/r1.mzML"), None, "pg_matrix is protein level");
        assert_eq!(k("Precursor.Id\tStripped.Sequence"), None, "no runs and no protein group");
        assert_eq!(k("Protein IDs\tLFQ intensity A"), None);
    }
}
