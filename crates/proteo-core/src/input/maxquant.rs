//! MaxQuant `proteinGroups.txt`: LFQ (or raw) intensity columns, filtered for reverse, contaminant, only-by-site.

use std::collections::HashMap;

use csv::ByteRecord;

use super::error::InputError;
use super::text::{cell_error, cell_text, parse_cell, Rows};
use crate::model::{InputReport, IntensityTable};

pub(crate) const PROTEIN_IDS: &str = "Protein IDs";
const MAJORITY_IDS: &str = "Majority protein IDs";
const GENE_NAMES: &str = "Gene names";
const LFQ_PREFIX: &str = "LFQ intensity ";
const INTENSITY_PREFIX: &str = "Intensity ";
const REVERSE: &str = "Reverse";
/// `Potential contaminant` since MaxQuant 1.6; `Contaminant` before.
const CONTAMINANT: &[&str] = &["Potential contaminant", "Contaminant"];
const ONLY_BY_SITE: &str = "Only identified by site";
/// The flag MaxQuant writes in the three filter columns.
const FLAGGED: &str = "+";

/// Sample columns as `(column index, sample name)` for columns named `<prefix><sample>`.
fn prefixed_columns(header: &[String], prefix: &str) -> Vec<(usize, String)> {
    header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let head = h.get(..prefix.len())?;
            let sample = h[prefix.len()..].trim();
            (head.eq_ignore_ascii_case(prefix) && !sample.is_empty()).then(|| (i, sample.to_string()))
        })
        .collect()
}

/// The intensity columns to use and their kind: `LFQ intensity <s>` when present, else `Intensity <s>`.
fn intensity_columns(header: &[String]) -> Option<(&'static str, Vec<(usize, String)>)> {
    let lfq = prefixed_columns(header, LFQ_PREFIX);
    if !lfq.is_empty() {
        return Some(("LFQ intensity", lfq));
    }
    let raw = prefixed_columns(header, INTENSITY_PREFIX);
    (!raw.is_empty()).then_some(("Intensity", raw))
}

/// Whether a header is a MaxQuant protein-groups header: `Protein IDs` and at least one per-sample intensity column.
pub(crate) fn is_maxquant(header: &[String]) -> bool {
    header.iter().any(|h| h == PROTEIN_IDS) && intensity_columns(header).is_some()
}

fn find(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h.eq_ignore_ascii_case(name))
}

/// Reads a MaxQuant protein-groups table; `rows` has its header read.
pub(crate) fn read(mut rows: Rows<'_>, file: &str) -> Result<(IntensityTable, InputReport), InputError> {
    let header = std::mem::take(&mut rows.header);
    let protein_col = find(&header, PROTEIN_IDS).ok_or_else(|| InputError::MissingColumn {
        file: file.to_string(),
        column: PROTEIN_IDS.to_string(),
        hint: ", which every MaxQuant proteinGroups.txt has; is this the right file, or is it a plain matrix?"
            .to_string(),
    })?;
    let (kind, columns) =
        intensity_columns(&header).ok_or_else(|| InputError::NoIntensityColumns { file: file.to_string() })?;
    for (k, (col, name)) in columns.iter().enumerate() {
        if let Some((first, _)) = columns[..k].iter().find(|(_, n)| n == name) {
            return Err(InputError::DuplicateColumn {
                file: file.to_string(),
                name: header[*col].clone(),
                first_column: first + 1,
                column: col + 1,
            });
        }
    }
    let majority_col = find(&header, MAJORITY_IDS);
    let gene_col = find(&header, GENE_NAMES);
    let reverse_col = find(&header, REVERSE);
    let contaminant_col = CONTAMINANT.iter().find_map(|c| find(&header, c));
    let site_col = find(&header, ONLY_BY_SITE);
    let flagged =
        |record: &ByteRecord, col: Option<usize>| col.is_some_and(|c| cell_text(&record[c]).trim() == FLAGGED);

    let mut table = IntensityTable {
        protein_ids: Vec::new(),
        majority_ids: Vec::new(),
        gene_names: Vec::new(),
        samples: columns.iter().map(|(_, s)| s.clone()).collect(),
        values: Vec::new(),
    };
    let mut report =
        InputReport { format: "maxquant".to_string(), intensity_columns: kind.to_string(), ..InputReport::default() };
    let text_of = |record: &ByteRecord, col: Option<usize>| {
        col.map_or(String::new(), |c| cell_text(&record[c]).trim().to_string())
    };
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = ByteRecord::new();
    while let Some(line) = rows.next_row(&mut record)? {
        report.rows_read += 1;
        if flagged(&record, reverse_col) {
            report.removed_reverse += 1;
            continue;
        }
        if flagged(&record, contaminant_col) {
            report.removed_contaminant += 1;
            continue;
        }
        if flagged(&record, site_col) {
            report.removed_only_by_site += 1;
            continue;
        }
        let id = text_of(&record, Some(protein_col));
        if id.is_empty() {
            return Err(InputError::EmptyProteinId {
                file: file.to_string(),
                line,
                column: header[protein_col].clone(),
            });
        }
        for (col, _) in &columns {
            let field = &record[*col];
            let v = parse_cell(field).map_err(|p| cell_error(p, file, line, &header[*col], field, ""))?;
            table.values.push(v);
        }
        if let Some(first_line) = seen.insert(id.clone(), line) {
            return Err(InputError::DuplicateProteinId { file: file.to_string(), id, first_line, line });
        }
        table.protein_ids.push(id);
        table.majority_ids.push(text_of(&record, majority_col));
        table.gene_names.push(text_of(&record, gene_col));
    }
    if report.rows_read == 0 {
        return Err(InputError::NoDataRows { file: file.to_string() });
    }
    Ok((table, report))
}

#[cfg(test)]
mod tests {
    use crate::input::{read_intensities, InputError};
    use crate::model::InputFormat;

    pub(crate) fn example_bytes() -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/example/proteinGroups.txt");
        std::fs::read(path).expect("data/example/proteinGroups.txt is checked in")
    }

    #[test]
    fn reads_the_real_example() {
        let (t, report) = read_intensities(&example_bytes(), "proteinGroups.txt", None).unwrap();
        // Reference counts, derived independently of this code (columns 143/144/145 = only by site/reverse/
        // potential contaminant; precedence reverse > contaminant > only by site; the file has CRLF line ends):
        //   awk -F'\t' 'NR>1{n++; if($144=="+")r++; else if($145=="+")c++; else if($143=="+")s++}
        //     END{print n,r,c,s,n-r-c-s}' data/example/proteinGroups.txt      → 1459 17 49 18 1375
        // Without precedence the flags count 17 / 49 / 21: three only-by-site rows are also contaminants.
        assert_eq!(report.format, "maxquant");
        assert_eq!(report.intensity_columns, "LFQ intensity");
        assert_eq!(report.rows_read, 1459);
        assert_eq!(report.removed_reverse, 17);
        assert_eq!(report.removed_contaminant, 49);
        assert_eq!(report.removed_only_by_site, 18);
        assert_eq!(t.n_proteins(), 1375);
        assert_eq!(t.majority_ids.len(), 1375);
        assert_eq!(t.gene_names.len(), 1375);
        assert_eq!(t.values.len(), 1375 * 15);
        let expected: Vec<String> =
            ["H", "L", "N"].iter().flat_map(|g| (1..=5).map(move |i| format!("{g}{i}"))).collect();
        assert_eq!(t.samples, expected);
        // sed -n 2p data/example/proteinGroups.txt | cut -f1,2,7,112-116 → A0AVT1 A0AVT1 UBA6 3331300 0 0 0 0
        assert_eq!(t.protein_ids[0], "A0AVT1");
        assert_eq!(t.majority_ids[0], "A0AVT1");
        assert_eq!(t.gene_names[0], "UBA6");
        assert_eq!(&t.row(0)[..5], [3331300.0, 0.0, 0.0, 0.0, 0.0]);
        assert!(t.protein_ids.iter().all(|id| !id.starts_with("REV__") && !id.starts_with("CON__")));
    }

    #[test]
    fn the_example_as_a_matrix_fails_on_the_first_text_column() {
        let msg =
            read_intensities(&example_bytes(), "proteinGroups.txt", Some(InputFormat::Matrix)).unwrap_err().to_string();
        // "Peptide counts (all)" holds `7;7;7`-like text; "Majority protein IDs" comes first and holds `A0AVT1`.
        assert!(
            msg.starts_with(
                "proteinGroups.txt, line 2, column `Majority protein IDs`: expected a number, found `A0AVT1`"
            ),
            "{msg}"
        );
    }

    const HEADER: &str = "Protein IDs\tMajority protein IDs\tGene names\tIntensity\tIntensity A\tIntensity B\t\
                          Only identified by site\tReverse\tContaminant";

    fn read(rows: &[&str]) -> Result<(crate::model::IntensityTable, crate::model::InputReport), InputError> {
        let text = format!("{HEADER}\n{}\n", rows.join("\n"));
        read_intensities(text.as_bytes(), "pg.txt", None)
    }

    #[test]
    fn raw_intensity_and_old_contaminant_column() {
        let (t, r) = read(&[
            "P1;P2\tP1\tG1\t30\t10\t20\t\t\t",
            "REV__P3\tREV__P3\t\t1\t1\t0\t+\t+\t",
            "CON__P4\tCON__P4\t\t1\t1\t0\t+\t\t+",
            "P5\tP5\t\t1\t1\t0\t+\t\t",
            "P6\tP6\tG6\t5\tNaN\t5\t\t\t",
        ])
        .unwrap();
        assert_eq!(r.intensity_columns, "Intensity");
        assert_eq!((r.rows_read, r.removed_reverse, r.removed_contaminant, r.removed_only_by_site), (5, 1, 1, 1));
        assert_eq!(t.samples, ["A", "B"]);
        assert_eq!(t.protein_ids, ["P1;P2", "P6"]);
        assert_eq!(t.majority_ids, ["P1", "P6"]);
        assert_eq!(t.gene_names, ["G1", "G6"]);
        assert_eq!(t.values[..2], [10.0, 20.0]);
        assert!(t.values[2].is_nan());
    }

    #[test]
    fn lfq_is_preferred_and_gene_names_may_be_absent() {
        let text = "Protein IDs\tIntensity A\tLFQ intensity A\nP1\t100\t7\n";
        let (t, r) = read_intensities(text.as_bytes(), "pg.txt", None).unwrap();
        assert_eq!(r.intensity_columns, "LFQ intensity");
        assert_eq!(t.values, [7.0]);
        assert_eq!(t.gene_names, [""]);
        assert_eq!(t.majority_ids, [""]);
    }

    #[test]
    fn bad_number_names_line_and_column() {
        let msg = read(&["P1\tP1\tG\t1\t2\t3\t\t\t", "P2\tP2\tG\t1\t2\tn/a\t\t\t"]).unwrap_err().to_string();
        assert_eq!(msg, "pg.txt, line 3, column `Intensity B`: expected a number, found `n/a`");
        let msg = read(&["P1\tP1\tG\t1\t2,5\t3\t\t\t"]).unwrap_err().to_string();
        assert!(msg.starts_with("pg.txt, line 2, column `Intensity A`: `2,5` contains a comma"), "{msg}");
    }

    #[test]
    fn ragged_and_duplicate_rows() {
        let msg = read(&["P1\tP1\tG\t1\t2\t3\t\t"]).unwrap_err().to_string();
        assert!(msg.starts_with("pg.txt, line 2: expected 9 fields like the header, found 8"), "{msg}");
        let msg = read(&["P1\tP1\tG\t1\t2\t3\t\t\t", "P1\tP1\tG\t1\t2\t3\t\t\t"]).unwrap_err().to_string();
        assert_eq!(msg, "pg.txt: protein id `P1` appears twice, on lines 2 and 3; protein ids must be unique");
        let msg = read(&["\tP1\tG\t1\t2\t3\t\t\t"]).unwrap_err().to_string();
        assert_eq!(msg, "pg.txt, line 2, column `Protein IDs`: the protein id is empty");
    }

    #[test]
    fn forced_maxquant_without_protein_ids_names_the_column() {
        let err = read_intensities(b"id\tS1\nP1\t1\n", "m.tsv", Some(InputFormat::Maxquant)).unwrap_err();
        assert!(matches!(&err, InputError::MissingColumn { column, .. } if column == "Protein IDs"));
        assert!(err.to_string().starts_with("m.tsv: column `Protein IDs` not found"), "{err}");
        let err =
            read_intensities(b"Protein IDs\tIntensity\nP1\t1\n", "m.tsv", Some(InputFormat::Maxquant)).unwrap_err();
        assert_eq!(err, InputError::NoIntensityColumns { file: "m.tsv".into() });
    }

    #[test]
    fn duplicate_sample_columns_are_refused() {
        let err =
            read_intensities(b"Protein IDs\tLFQ intensity A\tLFQ intensity A\nP1\t1\t2\n", "pg.txt", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pg.txt: the header has two columns named `LFQ intensity A` (columns 2 and 3); sample names must be unique"
        );
    }

    #[test]
    fn header_only_maxquant() {
        let err = read_intensities(format!("{HEADER}\r\n").as_bytes(), "pg.txt", None).unwrap_err();
        assert_eq!(err, InputError::NoDataRows { file: "pg.txt".into() });
    }
}
