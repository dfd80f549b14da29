//! The plain matrix format: protein id in the first column, one numeric column per sample, optional gene column.

use std::collections::HashMap;

use csv::ByteRecord;

use super::error::{excerpt, InputError};
use super::text::{cell_error, cell_text, parse_cell, Rows};
use crate::model::{InputReport, IntensityTable};

/// Headers (compared lower-case, `_` and `.` read as spaces) of gene-symbol columns: the first becomes `gene_names`.
const GENE_HEADERS: &[&str] = &["gene", "genes", "gene name", "gene names", "gene symbol", "gene symbols", "symbol"];
/// Headers of other annotation columns a matrix may carry: skipped, not samples.
const OTHER_ANNOTATION_HEADERS: &[&str] = &["description", "protein name", "protein names"];

fn normalized(header: &str) -> String {
    header.trim().to_ascii_lowercase().replace(['_', '.'], " ")
}

enum Column {
    Sample,
    Gene,
    /// Another annotation column, or a nameless column that must stay empty.
    Skipped {
        unnamed: bool,
    },
}

/// Reads a plain matrix; `rows` has its header read.
pub(crate) fn read(mut rows: Rows<'_>, file: &str) -> Result<(IntensityTable, InputReport), InputError> {
    let header = std::mem::take(&mut rows.header);
    let id_column = header[0].clone();
    let mut kinds = Vec::with_capacity(header.len());
    let mut samples: Vec<String> = Vec::new();
    let mut sample_columns: Vec<usize> = Vec::new();
    let mut gene_column = None;
    for (i, name) in header.iter().enumerate().skip(1) {
        let norm = normalized(name);
        let kind = if name.is_empty() {
            Column::Skipped { unnamed: true }
        } else if GENE_HEADERS.contains(&norm.as_str()) && gene_column.is_none() {
            gene_column = Some(i);
            Column::Gene
        } else if GENE_HEADERS.contains(&norm.as_str()) || OTHER_ANNOTATION_HEADERS.contains(&norm.as_str()) {
            Column::Skipped { unnamed: false }
        } else {
            if let Some(first) = sample_columns.iter().position(|&c| header[c] == *name) {
                return Err(InputError::DuplicateColumn {
                    file: file.to_string(),
                    name: name.clone(),
                    first_column: sample_columns[first] + 1,
                    column: i + 1,
                });
            }
            samples.push(name.clone());
            sample_columns.push(i);
            Column::Sample
        };
        kinds.push((i, kind));
    }
    if samples.is_empty() {
        return Err(InputError::NoSampleColumns { file: file.to_string(), found: header });
    }
    let looks_like_maxquant = header.iter().any(|h| h == super::maxquant::PROTEIN_IDS);
    let not_number_hint = if looks_like_maxquant {
        "; this looks like a MaxQuant proteinGroups.txt, so read it with the MaxQuant format instead of the matrix format"
    } else {
        "; a matrix has the protein id in the first column and only numeric sample columns after it (an annotation \
         column other than gene names, description or protein names must be removed)"
    };

    let mut table = IntensityTable {
        protein_ids: Vec::new(),
        majority_ids: Vec::new(),
        gene_names: Vec::new(),
        samples,
        values: Vec::new(),
    };
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = ByteRecord::new();
    let mut rows_read = 0;
    while let Some(line) = rows.next_row(&mut record)? {
        rows_read += 1;
        let id = cell_text(&record[0]).trim().to_string();
        if id.is_empty() {
            return Err(InputError::EmptyProteinId { file: file.to_string(), line, column: id_column.clone() });
        }
        for (i, kind) in &kinds {
            let field = &record[*i];
            match kind {
                Column::Sample => {
                    let v = parse_cell(field).map_err(|p| {
                        let hint = if rows_read == 1 { not_number_hint } else { "" };
                        cell_error(p, file, line, &header[*i], field, hint)
                    })?;
                    table.values.push(v);
                }
                Column::Gene => table.gene_names.push(cell_text(field).trim().to_string()),
                Column::Skipped { unnamed: true } if !cell_text(field).trim().is_empty() => {
                    return Err(InputError::UnnamedColumn {
                        file: file.to_string(),
                        line,
                        column: i + 1,
                        found: excerpt(cell_text(field).trim()),
                    });
                }
                Column::Skipped { .. } => {}
            }
        }
        if let Some(first_line) = seen.insert(id.clone(), line) {
            return Err(InputError::DuplicateProteinId { file: file.to_string(), id, first_line, line });
        }
        table.protein_ids.push(id);
    }
    if rows_read == 0 {
        return Err(InputError::NoDataRows { file: file.to_string() });
    }
    let n = table.protein_ids.len();
    table.majority_ids = vec![String::new(); n];
    if gene_column.is_none() {
        table.gene_names = vec![String::new(); n];
    }
    let report = InputReport { format: "matrix".to_string(), rows_read, ..InputReport::default() };
    Ok((table, report))
}

#[cfg(test)]
mod tests {
    use crate::input::{read_intensities, InputError};
    use crate::model::InputFormat;

    fn read(text: &str) -> Result<crate::model::IntensityTable, InputError> {
        read_intensities(text.as_bytes(), "m.tsv", None).map(|(t, _)| t)
    }

    fn message(text: &str) -> String {
        read(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_a_matrix_with_a_gene_column_and_missing_markers() {
        let text = "Protein\tGene names\tA\tDescription\tB\n\
                    P1\tGAPDH\t1.5\tglyco\tNA\n\
                    P2\t\t0\t\t-2e1\n\
                    P3\tACTB\t#N/A\tx\t\n";
        let (t, report) = read_intensities(text.as_bytes(), "m.tsv", None).unwrap();
        assert_eq!(t.protein_ids, ["P1", "P2", "P3"]);
        assert_eq!(t.gene_names, ["GAPDH", "", "ACTB"]);
        assert_eq!(t.majority_ids, ["", "", ""]);
        assert_eq!(t.samples, ["A", "B"]);
        assert_eq!(t.value(0, 0), 1.5);
        assert!(t.value(0, 1).is_nan());
        assert_eq!(t.row(1), [0.0, -20.0]);
        assert!(t.value(2, 0).is_nan() && t.value(2, 1).is_nan());
        assert_eq!(report.format, "matrix");
        assert_eq!(report.intensity_columns, "");
        assert_eq!(report.rows_read, 3);
        assert_eq!(report.removed_reverse + report.removed_contaminant + report.removed_only_by_site, 0);
    }

    #[test]
    fn semicolon_csv_with_crlf_and_bom() {
        let text = "\u{FEFF}id;S1;S2\r\nP1;1;2\r\nP2;3.25;NaN\r\n";
        let t = read(text).unwrap();
        assert_eq!(t.samples, ["S1", "S2"]);
        assert_eq!(t.protein_ids, ["P1", "P2"]);
        assert_eq!(t.value(1, 0), 3.25);
        assert!(t.value(1, 1).is_nan());
    }

    #[test]
    fn comma_csv_with_quotes() {
        let t = read("\"id\",\"S 1\"\n\"P1\",\"5\"\n").unwrap();
        assert_eq!(t.samples, ["S 1"]);
        assert_eq!(t.value(0, 0), 5.0);
    }

    #[test]
    fn text_cell_names_file_line_column_and_text() {
        assert_eq!(
            message("id\tH1\tH3\nP1\t1\t2\nP2\t3\tn/a\n"),
            "m.tsv, line 3, column `H3`: expected a number, found `n/a`"
        );
    }

    #[test]
    fn text_cell_on_first_row_explains_the_matrix_layout() {
        let msg = message("id\tOrganism\tH1\nP1\tHuman\t2\n");
        assert!(
            msg.starts_with("m.tsv, line 2, column `Organism`: expected a number, found `Human`; a matrix has"),
            "{msg}"
        );
    }

    #[test]
    fn decimal_comma_is_explained() {
        let msg = message("id;S1\nP1;1234,5\n");
        assert!(msg.starts_with("m.tsv, line 2, column `S1`: `1234,5` contains a comma"), "{msg}");
        assert!(msg.contains("`.` as the decimal separator and no thousands separators"), "{msg}");
        let msg = message("id\tS1\nP1\t1,234.5\n");
        assert!(msg.starts_with("m.tsv, line 2, column `S1`: `1,234.5` contains a comma"), "{msg}");
    }

    #[test]
    fn infinity_is_refused_but_negative_is_kept() {
        assert_eq!(
            message("id\tS1\nP1\t-1\nP2\tinf\n"),
            "m.tsv, line 3, column `S1`: expected a finite number, found `inf`"
        );
    }

    #[test]
    fn ragged_row_names_line_and_counts() {
        assert_eq!(
            message("id\tS1\tS2\nP1\t1\t2\nP2\t1\t2\t3\n"),
            "m.tsv, line 3: expected 3 fields like the header, found 4; check that line for a missing or extra tab"
        );
    }

    #[test]
    fn duplicate_protein_names_both_lines() {
        assert_eq!(
            message("id\tS1\nP1\t1\nP2\t2\n\nP1\t3\n"),
            "m.tsv: protein id `P1` appears twice, on lines 2 and 5; protein ids must be unique"
        );
    }

    #[test]
    fn duplicate_sample_column_is_refused() {
        assert_eq!(
            message("id\tS1\tS2\tS1\nP1\t1\t2\t3\n"),
            "m.tsv: the header has two columns named `S1` (columns 2 and 4); sample names must be unique"
        );
    }

    #[test]
    fn empty_protein_id_names_line_and_column() {
        assert_eq!(message("Protein\tS1\nP1\t1\n  \t2\n"), "m.tsv, line 3, column `Protein`: the protein id is empty");
    }

    #[test]
    fn no_numeric_columns() {
        let msg = message("id\tGene names\nP1\tX\n");
        assert!(msg.starts_with("m.tsv: no sample columns found"), "{msg}");
        assert!(msg.contains("`id`, `Gene names`"), "{msg}");
        // A single column.
        assert!(message("id\nP1\nP2\n").starts_with("m.tsv: no sample columns found"));
    }

    #[test]
    fn empty_blank_and_header_only_files() {
        let err = |b: &[u8]| read_intensities(b, "m.tsv", None).unwrap_err();
        assert_eq!(err(b""), InputError::Empty { file: "m.tsv".into() });
        assert_eq!(err(b"\n\r\n  \n"), InputError::Blank { file: "m.tsv".into() });
        assert_eq!(err(b"\t\t\n\t\t\n"), InputError::Blank { file: "m.tsv".into() });
        assert_eq!(err(b"id\tS1\n"), InputError::NoDataRows { file: "m.tsv".into() });
        assert_eq!(err(b"id\tS1\n\t\n\n"), InputError::NoDataRows { file: "m.tsv".into() });
        assert_eq!(err(b"id\tS1"), InputError::NoDataRows { file: "m.tsv".into() });
    }

    #[test]
    fn trailing_unnamed_column_is_ignored_only_when_empty() {
        let t = read("id;S1;\nP1;1;\nP2;2;\n").unwrap();
        assert_eq!(t.samples, ["S1"]);
        assert_eq!(t.values, [1.0, 2.0]);
        assert_eq!(
            message("id;S1;\nP1;1;\nP2;2;7\n"),
            "m.tsv, line 3: column 3 has no header but contains `7`; give it a sample name or delete it"
        );
    }

    #[test]
    fn maxquant_forced_as_matrix_fails_on_first_text_column() {
        let text = "Protein IDs\tMajority protein IDs\tGene names\tLFQ intensity A\nP1;P2\tP1\tG\t5\n";
        let msg =
            read_intensities(text.as_bytes(), "proteinGroups.txt", Some(InputFormat::Matrix)).unwrap_err().to_string();
        assert!(
            msg.starts_with("proteinGroups.txt, line 2, column `Majority protein IDs`: expected a number, found `P1`"),
            "{msg}"
        );
        assert!(msg.contains("MaxQuant"), "{msg}");
    }
}
