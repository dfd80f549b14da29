//! Which precursor-level report a header (or Parquet schema) is, its run column and how its runs are named: the rules
//! the detection, the quant path's readers and the web page share, so what `proteo inspect` and the page name is what
//! `proteo run` quantifies.

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

/// Extensions DIA-NN removes from a raw file's name to make the run name (exact case, stripped repeatedly).
pub const DIANN_RUN_EXTENSIONS: &[&str] = &[".dia", ".mzML", ".mzml", ".raw", ".RAW", ".d", ".wiff", ".wiff2", ".gz"];

/// The run name of a raw file path, as DIA-NN derives `Run` from `File.Name` (directory and extensions removed).
/// The quant path names runs by it, and the web page applies it (with [`DIANN_RUN_EXTENSIONS`] from `POST /inspect`)
/// to the run column it scans.
pub fn run_name_from_path(path: &str) -> &str {
    let mut name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    while let Some(ext) = DIANN_RUN_EXTENSIONS.iter().find(|e| name.len() > e.len() && name.ends_with(*e)) {
        name = &name[..name.len() - ext.len()];
    }
    name
}

/// The run column of a long precursor report and whether it holds file paths (`File.Name`, named by
/// [`run_name_from_path`]): AlphaDIA `run`; DIA-NN `Run`, else `File.Name`. `None` for matrices or without one.
pub fn long_run_column(kind: PrecursorKind, columns: &[String]) -> Option<(&'static str, bool)> {
    let has = |name: &str| columns.iter().any(|c| c == name);
    match kind {
        PrecursorKind::AlphadiaPrecursors => has("run").then_some(("run", false)),
        PrecursorKind::DiannReport if has("Run") => Some(("Run", false)),
        PrecursorKind::DiannReport => has("File.Name").then_some(("File.Name", true)),
        PrecursorKind::DiannPrMatrix | PrecursorKind::AlphadiaPrecursorMatrix => None,
    }
}

/// Annotation columns of DIA-NN's pr_matrix (1.8–2.x); every other named column is a run.
pub const PR_MATRIX_ANNOTATION: &[&str] = &[
    "Protein.Group",
    "Protein.Ids",
    "Protein.Names",
    "Genes",
    "First.Protein.Description",
    "Proteotypic",
    "Stripped.Sequence",
    "Modified.Sequence",
    "Precursor.Charge",
    "Precursor.Id",
    "Precursor.Lib.Index",
    "N.Sequences",
    "N.Proteotypic.Sequences",
];

/// Annotation columns of AlphaDIA's precursor matrix; every other named column is a run.
pub const ALPHADIA_MATRIX_ANNOTATION: &[&str] = &[
    "mod_seq_charge_hash",
    "mod_seq_hash",
    "precursor_idx",
    "genes",
    "proteins",
    "pg",
    "pg_master",
    "decoy",
    "mods",
    "mod_sites",
    "sequence",
    "charge",
    "proteotypic",
];

/// A precursor matrix's run columns (position, run name): every named column that is not annotation; DIA-NN's
/// run headers are file paths, named by [`run_name_from_path`]. Empty for long reports.
pub fn matrix_runs(kind: PrecursorKind, header: &[String]) -> Vec<(usize, String)> {
    let (annotation, paths) = match kind {
        PrecursorKind::DiannPrMatrix => (PR_MATRIX_ANNOTATION, true),
        PrecursorKind::AlphadiaPrecursorMatrix => (ALPHADIA_MATRIX_ANNOTATION, false),
        PrecursorKind::DiannReport | PrecursorKind::AlphadiaPrecursors => return Vec::new(),
    };
    (0..header.len())
        .filter(|&i| !header[i].is_empty() && !annotation.contains(&header[i].as_str()))
        .map(|i| (i, if paths { run_name_from_path(&header[i]) } else { &header[i] }.to_string()))
        .collect()
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

    #[test]
    fn run_names_are_file_stems_as_diann_writes_run() {
        assert_eq!(run_name_from_path("/scratch/x/LFQ_A_01.mzML"), "LFQ_A_01");
        assert_eq!(run_name_from_path(r"D:\GeorgW\dbia\timstof10\CPD_NE_000011_01.d"), "CPD_NE_000011_01");
        assert_eq!(run_name_from_path(r"D:\Raw\KL_Try_001_a.mzML.dia"), "KL_Try_001_a");
        assert_eq!(run_name_from_path("plain"), "plain");
        assert_eq!(run_name_from_path(".raw"), ".raw", "a bare extension is a name");
    }

    #[test]
    fn run_columns_of_long_reports_and_matrices() {
        let diann18 = cols("File.Name\tRun\tProtein.Group\tPrecursor.Id");
        assert_eq!(long_run_column(PrecursorKind::DiannReport, &diann18), Some(("Run", false)));
        let paths_only = cols("\tFile.Name\tProtein.Group\tPrecursor.Id");
        assert_eq!(long_run_column(PrecursorKind::DiannReport, &paths_only), Some(("File.Name", true)));
        let alphadia = cols("\tprecursor_idx\trun\tpg\tintensity");
        assert_eq!(long_run_column(PrecursorKind::AlphadiaPrecursors, &alphadia), Some(("run", false)));
        let pr = cols("Protein.Group\tProtein.Ids\tGenes\tPrecursor.Id\t/a/r1.mzML\tC:\\b\\r2.d");
        assert_eq!(long_run_column(PrecursorKind::DiannPrMatrix, &pr), None);
        assert_eq!(matrix_runs(PrecursorKind::DiannPrMatrix, &pr), vec![(4, "r1".into()), (5, "r2".into())]);
        let ad = cols("mod_seq_charge_hash\tA_1\tB_1\tgenes\tpg");
        assert_eq!(
            matrix_runs(PrecursorKind::AlphadiaPrecursorMatrix, &ad),
            vec![(1, "A_1".into()), (2, "B_1".into())]
        );
        assert!(matrix_runs(PrecursorKind::DiannReport, &diann18).is_empty());
    }
}
