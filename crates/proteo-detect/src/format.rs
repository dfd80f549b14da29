//! The readers a file can be sent to: one value per kind of table, as `--format` and `params.format` name them.

use serde::{Deserialize, Serialize};

/// The reader for a file, detected from its header or forced with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// First column protein id, then sample columns; other columns are annotation.
    Matrix,
    /// MaxQuant `proteinGroups.txt`.
    Maxquant,
    /// DIA-NN `report.pg_matrix.tsv`.
    DiannPgMatrix,
    /// DIA-NN `report.gg_matrix.tsv` / `report.unique_genes_matrix.tsv` (gene-level: the id is the gene).
    DiannGeneMatrix,
    /// FragPipe `combined_protein.tsv`.
    FragpipeProtein,
    /// FragPipe TMT-Integrator or FragPipe-DIA `abundance_protein_*.tsv` / `ratio_protein_*.tsv`.
    FragpipeAbundance,
    /// Spectronaut run-pivot protein-group report (`[n] <run>.PG.Quantity` columns).
    SpectronautPivot,
    /// Spectronaut long (normal) report, pivoted to protein groups × runs on `PG.Quantity`.
    SpectronautLong,
    /// AlphaPept `results_proteins.csv`.
    Alphapept,
    /// AlphaDIA `pg.matrix.tsv`.
    Alphadia,
    /// Proteome Discoverer Proteins export.
    PdProteins,
    /// A precursor-level report (DIA-NN `report.parquet` / `report.tsv`, precursor matrices, AlphaDIA
    /// `precursors.tsv`): quantified to proteins by the quant path.
    PrecursorReport,
}

impl InputFormat {
    pub const ALL: [InputFormat; 12] = [
        InputFormat::Matrix,
        InputFormat::Maxquant,
        InputFormat::DiannPgMatrix,
        InputFormat::DiannGeneMatrix,
        InputFormat::FragpipeProtein,
        InputFormat::FragpipeAbundance,
        InputFormat::SpectronautPivot,
        InputFormat::SpectronautLong,
        InputFormat::Alphapept,
        InputFormat::Alphadia,
        InputFormat::PdProteins,
        InputFormat::PrecursorReport,
    ];

    /// The name `--format` and `params.format` take.
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Matrix => "matrix",
            InputFormat::Maxquant => "maxquant",
            InputFormat::DiannPgMatrix => "diann-pg-matrix",
            InputFormat::DiannGeneMatrix => "diann-gene-matrix",
            InputFormat::FragpipeProtein => "fragpipe-protein",
            InputFormat::FragpipeAbundance => "fragpipe-abundance",
            InputFormat::SpectronautPivot => "spectronaut-pivot",
            InputFormat::SpectronautLong => "spectronaut-long",
            InputFormat::Alphapept => "alphapept",
            InputFormat::Alphadia => "alphadia",
            InputFormat::PdProteins => "pd-proteins",
            InputFormat::PrecursorReport => "precursor-report",
        }
    }

    /// The tool and file a user would recognise, for messages.
    pub fn description(self) -> &'static str {
        match self {
            InputFormat::Matrix => "a plain protein × sample matrix",
            InputFormat::Maxquant => "a MaxQuant proteinGroups.txt",
            InputFormat::DiannPgMatrix => "a DIA-NN report.pg_matrix.tsv",
            InputFormat::DiannGeneMatrix => "a DIA-NN report.gg_matrix.tsv or unique_genes_matrix.tsv",
            InputFormat::FragpipeProtein => "a FragPipe combined_protein.tsv",
            InputFormat::FragpipeAbundance => "a FragPipe abundance_protein or ratio_protein table (TMT-Integrator)",
            InputFormat::SpectronautPivot => "a Spectronaut protein-group pivot report",
            InputFormat::SpectronautLong => "a Spectronaut long report with PG.Quantity",
            InputFormat::Alphapept => "an AlphaPept results_proteins.csv",
            InputFormat::Alphadia => "an AlphaDIA pg.matrix.tsv",
            InputFormat::PdProteins => "a Proteome Discoverer Proteins export",
            InputFormat::PrecursorReport => "a precursor-level report (DIA-NN report.parquet or report.tsv)",
        }
    }

    pub fn parse(name: &str) -> Option<InputFormat> {
        InputFormat::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_parse() {
        for f in InputFormat::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.as_str()));
            assert_eq!(serde_json::from_str::<InputFormat>(&json).unwrap(), f);
            assert_eq!(InputFormat::parse(f.as_str()), Some(f));
        }
        assert_eq!(InputFormat::parse("MaxQuant"), Some(InputFormat::Maxquant));
        assert_eq!(InputFormat::parse("excel"), None);
    }
}
