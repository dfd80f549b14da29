//! Every wide protein table (one row per protein group, one column per sample) read the way its detection says:
//! MaxQuant, DIA-NN matrices, FragPipe, TMT-Integrator, Spectronaut pivot, AlphaPept, AlphaDIA, PD, plain matrix.

use std::collections::HashMap;

use csv::ByteRecord;
use proteo_detect::{Col, Detection, Removed, RowFilter, Test};

use super::annotate::names_from_id;
use super::error::{excerpt, InputError};
use super::text::{cell_error, cell_text, parse_cell, Rows};
use crate::limits::{MAX_PROTEIN_ID_CHARS, MAX_REPORTED_NAMES, MAX_ROWS, MAX_VALUES};
use crate::model::{InputReport, IntensityTable};

/// A cell of `record`, trimmed; empty when the (short) row has no such field.
fn cell(record: &ByteRecord, index: usize) -> std::borrow::Cow<'_, str> {
    match record.get(index) {
        Some(f) => match cell_text(f) {
            std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(s.trim()),
            std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.trim().to_string()),
        },
        None => std::borrow::Cow::Borrowed(""),
    }
}

fn text_of(record: &ByteRecord, col: &Option<Col>) -> String {
    col.as_ref().map_or(String::new(), |c| cell(record, c.index).into_owned())
}

fn matches(filter: &RowFilter, value: &str) -> bool {
    match &filter.test {
        Test::Equals(t) => value == t,
        Test::NotEquals(t) => !value.is_empty() && value != t,
        Test::Prefix(p) => value.starts_with(p.as_str()),
    }
}

/// An Excel spill-over line: what continues an over-long cell of the line before (bare numeric ids such as
/// `1234;1235;1236`), not a protein row.
fn is_spillover(first_cell: &str) -> bool {
    !first_cell.is_empty()
        && first_cell.bytes().any(|b| b.is_ascii_digit())
        && first_cell.bytes().all(|b| b.is_ascii_digit() || b == b';' || b.is_ascii_whitespace())
}

pub(crate) fn count_removed(report: &mut InputReport, removed: Removed) {
    match removed {
        Removed::Reverse => report.removed_reverse += 1,
        Removed::Contaminant => report.removed_contaminant += 1,
        Removed::OnlyBySite => report.removed_only_by_site += 1,
        Removed::NotMaster => report.removed_not_master += 1,
    }
}

/// A protein id must be there and shorter than [`MAX_PROTEIN_ID_CHARS`].
pub(crate) fn check_id(id: &str, file: &str, line: u64, column: &str) -> Result<(), InputError> {
    if id.is_empty() {
        return Err(InputError::EmptyProteinId { file: file.into(), line, column: column.to_string() });
    }
    let chars = id.chars().count();
    if chars > MAX_PROTEIN_ID_CHARS {
        return Err(InputError::ProteinIdTooLong {
            file: file.into(),
            line,
            column: column.to_string(),
            chars,
            start: excerpt(id),
        });
    }
    Ok(())
}

/// The report's fields every reader fills from the detection.
pub(crate) fn report_for(d: &Detection) -> InputReport {
    InputReport {
        format: d.format.map_or("", |f| f.as_str()).to_string(),
        detected: d.title(),
        reason: d.reason.clone(),
        intensity_columns: d.quantity.clone(),
        log2_input: d.log2,
        annotation_columns: d.annotation_columns.iter().take(MAX_REPORTED_NAMES).map(|c| c.name.clone()).collect(),
        ..InputReport::default()
    }
}

/// Gene and protein names from the ids where the tool gave none.
pub(crate) fn fill_names_from_ids(
    table: &mut IntensityTable,
    has_genes: bool,
    has_names: bool,
    report: &mut InputReport,
) {
    if has_genes && has_names {
        return;
    }
    for (i, id) in table.protein_ids.iter().enumerate() {
        let (genes, entries) = names_from_id(id);
        if !has_genes && !genes.is_empty() {
            table.gene_names[i] = genes;
            report.genes_from_ids += 1;
        }
        if !has_names {
            table.protein_names[i] = entries;
        }
    }
}

/// Reads a wide table; `rows` has its header read.
pub(crate) fn read(mut rows: Rows<'_>, file: &str, d: &Detection) -> Result<(IntensityTable, InputReport), InputError> {
    let header = std::mem::take(&mut rows.header);
    let id_col =
        d.id_column.clone().ok_or_else(|| InputError::NoSampleColumns { file: file.into(), found: header.clone() })?;
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(d.samples.len());
    for s in &d.samples {
        if let Some(first) = first_of.insert(s.sample.as_str(), s.index) {
            return Err(InputError::DuplicateColumn {
                file: file.into(),
                name: s.sample.clone(),
                first_column: first + 1,
                column: s.index + 1,
            });
        }
    }
    let not_number_hint = if d.format == Some(proteo_detect::InputFormat::Matrix) {
        "; if that column is not a sample, list only the samples in the design file (the other columns are then kept \
         as annotation)"
    } else {
        ""
    };
    let mut table = IntensityTable {
        samples: d.samples.iter().map(|s| s.sample.clone()).collect(),
        annotations: d.annotation_columns.iter().map(|c| (c.name.clone(), Vec::new())).collect(),
        ..IntensityTable::default()
    };
    let mut report = report_for(d);
    let n_fields = header.len();
    let fill_short = d.format != Some(proteo_detect::InputFormat::Matrix);
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = ByteRecord::new();
    'rows: while let Some(line) = rows.next_raw(&mut record)? {
        if d.drops_spillover_lines {
            let first = cell(&record, id_col.index);
            let first = if first.is_empty() { cell(&record, 0) } else { first };
            if is_spillover(&first) {
                report.spillover_lines_dropped += 1;
                continue;
            }
        }
        if record.len() > n_fields && record.iter().skip(n_fields).any(|f| !f.trim_ascii().is_empty()) {
            return Err(rows.ragged(line, record.len()));
        }
        if record.len() < n_fields {
            // Tool exports are filled as R `read.delim(fill = TRUE)` reads them; a hand-made matrix missing a
            // field more likely lost a value, so it is refused with the line.
            if !fill_short {
                return Err(rows.ragged(line, record.len()));
            }
            report.short_rows_filled += 1;
        }
        report.rows_read += 1;
        if report.rows_read > MAX_ROWS {
            return Err(InputError::TooManyRows { file: file.into() });
        }
        for f in &d.filters {
            if matches(f, &cell(&record, f.column.index)) {
                count_removed(&mut report, f.removed);
                continue 'rows;
            }
        }
        let id = cell(&record, id_col.index).into_owned();
        check_id(&id, file, line, &id_col.name)?;
        for s in &d.samples {
            let field = record.get(s.index).unwrap_or(b"");
            let v = parse_cell(field, &d.missing_markers)
                .map_err(|p| cell_error(p, file, line, &s.header, field, not_number_hint))?;
            table.values.push(v);
        }
        if table.values.len() > MAX_VALUES {
            return Err(InputError::TooManyValues {
                file: file.into(),
                proteins: table.protein_ids.len() + 1,
                samples: table.samples.len(),
            });
        }
        if let Some(first_line) = seen.insert(id.clone(), line) {
            return Err(InputError::DuplicateProteinId { file: file.into(), id, first_line, line });
        }
        table.protein_ids.push(id);
        table.majority_ids.push(text_of(&record, &d.majority_ids_column));
        table.gene_names.push(text_of(&record, &d.gene_column));
        table.protein_names.push(text_of(&record, &d.protein_names_column));
        for (k, c) in d.annotation_columns.iter().enumerate() {
            table.annotations[k].1.push(cell(&record, c.index).into_owned());
        }
    }
    if report.rows_read == 0 {
        return Err(InputError::NoDataRows { file: file.into() });
    }
    let gene_is_id = d.gene_column.as_ref().is_some_and(|g| g.index == id_col.index);
    fill_names_from_ids(
        &mut table,
        d.gene_column.is_some() && !gene_is_id,
        d.protein_names_column.is_some(),
        &mut report,
    );
    Ok((table, report))
}

#[cfg(test)]
mod tests {
    use crate::input::{read_intensities, InputError};
    use crate::model::{InputFormat, InputReport, IntensityTable};

    fn read(text: &str) -> Result<IntensityTable, InputError> {
        read_intensities(text.as_bytes(), "m.tsv", None).map(|(t, _)| t)
    }

    fn message(text: &str) -> String {
        read(text).unwrap_err().to_string()
    }

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
        assert_eq!((report.short_rows_filled, report.spillover_lines_dropped), (0, 0));
        assert_eq!(t.n_proteins(), 1375);
        assert_eq!(t.majority_ids.len(), 1375);
        assert_eq!(t.gene_names.len(), 1375);
        assert_eq!(t.values.len(), 1375 * 15);
        let expected: Vec<String> =
            ["H", "L", "N"].iter().flat_map(|g| (1..=5).map(move |i| format!("{g}{i}"))).collect();
        assert_eq!(t.samples, expected);
        // sed -n 2p data/example/proteinGroups.txt | cut -f1,2,6,7,112-116 → A0AVT1 A0AVT1 <name> UBA6 3331300 0 0 0 0
        assert_eq!(t.protein_ids[0], "A0AVT1");
        assert_eq!(t.majority_ids[0], "A0AVT1");
        assert_eq!(t.gene_names[0], "UBA6");
        assert_eq!(t.protein_names[0], "Ubiquitin-like modifier-activating enzyme 6");
        assert_eq!(&t.row(0)[..5], [3331300.0, 0.0, 0.0, 0.0, 0.0]);
        assert!(t.protein_ids.iter().all(|id| !id.starts_with("REV__") && !id.starts_with("CON__")));
        let peptides = t.annotations.iter().find(|(n, _)| n == "Peptides").expect("Peptides kept as annotation");
        assert_eq!(peptides.1.len(), 1375);
    }

    const HEADER: &str = "Protein IDs\tMajority protein IDs\tGene names\tIntensity\tIntensity A\tIntensity B\t\
                          Only identified by site\tReverse\tContaminant";

    fn read_mq(rows: &[&str]) -> Result<(IntensityTable, InputReport), InputError> {
        let text = format!("{HEADER}\n{}\n", rows.join("\n"));
        read_intensities(text.as_bytes(), "pg.txt", None)
    }

    #[test]
    fn raw_intensity_and_old_contaminant_column() {
        let (t, r) = read_mq(&[
            "P1;P2\tP1\tG1\t30\t10\t20\t\t\t",
            "REV__P3\tREV__P3\t\t1\t1\t0\t+\t+\t",
            "CON__P4\tCON__P4\t\t1\t1\t0\t+\t\t+",
            "P5\tP5\t\t1\t1\t0\t+\t\t",
            "P6\tP6\tG6\t5\tNaN\t5\t\t\t",
        ])
        .unwrap();
        assert_eq!(r.intensity_columns, "Intensity");
        assert!(r.detected.contains("< 1.5.3"), "{}", r.detected);
        assert_eq!((r.rows_read, r.removed_reverse, r.removed_contaminant, r.removed_only_by_site), (5, 1, 1, 1));
        assert_eq!(t.samples, ["A", "B"]);
        assert_eq!(t.protein_ids, ["P1;P2", "P6"]);
        assert_eq!(t.majority_ids, ["P1", "P6"]);
        assert_eq!(t.gene_names, ["G1", "G6"]);
        assert_eq!(t.values[..2], [10.0, 20.0]);
        assert!(t.values[2].is_nan());
    }

    #[test]
    fn short_rows_are_filled_and_spillover_lines_dropped_as_r_and_excel_leave_them() {
        // The shape of a real upload: trailing empty flag fields missing on some rows, and an over-long
        // `Peptide IDs`-like cell that Excel continued on the next lines as bare numbers.
        let (t, r) = read_mq(&[
            "P1\tP1\tG1\t30\t10\t20",
            "12345;12346;12347",
            "12348;12349\t\t",
            "P2\tP2\tG2\t3\t1\t2\t\t\t",
            "P3\tP3\tG3\t3\t1\t2\t\t+",
        ])
        .unwrap();
        assert_eq!((r.rows_read, r.short_rows_filled, r.spillover_lines_dropped, r.removed_reverse), (3, 2, 2, 1));
        assert_eq!(t.protein_ids, ["P1", "P2"]);
        assert_eq!(t.values, [10.0, 20.0, 1.0, 2.0]);
    }

    #[test]
    fn lfq_is_preferred_and_genes_come_from_the_ids_when_there_is_no_gene_column() {
        let text = "Protein IDs\tIntensity A\tLFQ intensity A\nsp|P12345|ALBU_HUMAN;sp|P1|ALBU_MOUSE\t100\t7\n";
        let (t, r) = read_intensities(text.as_bytes(), "pg.txt", None).unwrap();
        assert_eq!(r.intensity_columns, "LFQ intensity");
        assert_eq!(t.values, [7.0]);
        assert_eq!(t.gene_names, ["ALBU"]);
        assert_eq!(t.protein_names, ["ALBU_HUMAN;ALBU_MOUSE"]);
        assert_eq!(r.genes_from_ids, 1);
        assert_eq!(t.majority_ids, [""]);
    }

    #[test]
    fn bad_number_names_line_and_column() {
        let msg = read_mq(&["P1\tP1\tG\t1\t2\t3\t\t\t", "P2\tP2\tG\t1\t2\tabc\t\t\t"]).unwrap_err().to_string();
        assert_eq!(msg, "pg.txt, line 3, column `Intensity B`: expected a number, found `abc`");
        let msg = read_mq(&["P1\tP1\tG\t1\t2,5\t3\t\t\t"]).unwrap_err().to_string();
        assert!(msg.starts_with("pg.txt, line 2, column `Intensity A`: `2,5` contains a comma"), "{msg}");
    }

    #[test]
    fn long_and_duplicate_rows() {
        let msg = read_mq(&["P1\tP1\tG\t1\t2\t3\t\t\t\tx"]).unwrap_err().to_string();
        assert!(msg.starts_with("pg.txt, line 2: expected 9 fields like the header, found 10"), "{msg}");
        let msg = read_mq(&["P1\tP1\tG\t1\t2\t3\t\t\t", "P1\tP1\tG\t1\t2\t3\t\t\t"]).unwrap_err().to_string();
        assert_eq!(msg, "pg.txt: protein id `P1` appears twice, on lines 2 and 3; protein ids must be unique");
        let msg = read_mq(&["\tP1\tG\t1\t2\t3\t\t\t"]).unwrap_err().to_string();
        assert_eq!(msg, "pg.txt, line 2, column `Protein IDs`: the protein id is empty; give every row an id");
    }

    #[test]
    fn an_overlong_protein_id_is_refused_with_its_start() {
        let id = "P".repeat(crate::limits::MAX_PROTEIN_ID_CHARS + 1);
        let msg = message(&format!("id\tS1\tS2\n{id}\t1\t2\n"));
        assert!(msg.starts_with("m.tsv, line 2, column `id`: the protein id is 32768 characters long"), "{msg}");
        assert!(msg.len() < 400, "{msg}");
    }

    #[test]
    fn forced_maxquant_without_protein_ids_names_what_it_needs() {
        let err = read_intensities(b"id\tS1\nP1\t1\n", "m.tsv", Some(InputFormat::Maxquant)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("m.tsv was to be read as a MaxQuant proteinGroups.txt (--format maxquant)"), "{msg}");
        assert!(msg.contains("`Protein IDs`") && msg.contains("it has `id`, `S1`"), "{msg}");
    }

    #[test]
    fn duplicate_sample_columns_are_refused() {
        let err =
            read_intensities(b"Protein IDs\tLFQ intensity A\tLFQ intensity A\nP1\t1\t2\n", "pg.txt", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pg.txt: the header has two columns for sample `A` (columns 2 and 3); sample names must be unique"
        );
        assert_eq!(
            message("id\tS1\tS2\tS1\nP1\t1\t2\t3\n"),
            "m.tsv: the header has two columns for sample `S1` (columns 2 and 4); sample names must be unique"
        );
    }

    #[test]
    fn header_only_files() {
        let err = read_intensities(format!("{HEADER}\r\n").as_bytes(), "pg.txt", None).unwrap_err();
        assert_eq!(err, InputError::NoDataRows { file: "pg.txt".into() });
    }

    #[test]
    fn matrix_reads_ids_genes_and_samples() {
        let t = read("Protein\tGene names\tS1\tS2\nP1\tG1\t1\t2\nP2\t\tNA\t4\n").unwrap();
        assert_eq!(t.samples, ["S1", "S2"]);
        assert_eq!(t.gene_names, ["G1", ""]);
        assert!(t.values[2].is_nan());
    }

    #[test]
    fn matrix_text_and_count_columns_are_annotation_not_samples() {
        // A text species column and a numeric `n_precursors` column, the two shapes the issue saw refused.
        let (t, r) = read_intensities(
            b"protein\tspecies\tn_precursors\tA_1\tA_2\nsp|P1|X_HUMAN\tHUMAN\t12\t1\t2\nsp|P2|Y_YEAST\tYEAST\t3\t3\t4\n",
            "summed.tsv",
            None,
        )
        .unwrap();
        assert_eq!(t.samples, ["A_1", "A_2"]);
        assert_eq!(r.annotation_columns, ["species", "n_precursors"]);
        assert_eq!(t.annotations[0], ("species".to_string(), vec!["HUMAN".to_string(), "YEAST".to_string()]));
        assert_eq!(t.gene_names, ["X", "Y"]);
    }

    #[test]
    fn matrix_ids_with_contaminant_and_decoy_prefixes_are_removed() {
        let (t, r) = read_intensities(b"id,S1,S2\nP1,1,2\nCON__P2,1,2\nREV__P3,1,2\n", "m.csv", None).unwrap();
        assert_eq!(t.protein_ids, ["P1"]);
        assert_eq!((r.removed_contaminant, r.removed_reverse), (1, 1));
    }

    #[test]
    fn empty_protein_id_names_line_and_column() {
        assert_eq!(
            message("Protein\tS1\nP1\t1\n  \t2\n"),
            "m.tsv, line 3, column `Protein`: the protein id is empty; give every row an id"
        );
    }

    #[test]
    fn no_numeric_columns() {
        let msg = message("id\tGene names\nP1\tX\n");
        assert!(msg.starts_with("m.tsv: no sample columns found"), "{msg}");
        assert!(msg.contains("`id`, `Gene names`"), "{msg}");
        assert!(message("id\nP1\nP2\n").starts_with("m.tsv: no sample columns found"));
    }

    #[test]
    fn empty_blank_and_header_only_matrices() {
        let err = |b: &[u8]| read_intensities(b, "m.tsv", None).unwrap_err();
        assert_eq!(err(b""), InputError::Empty { file: "m.tsv".into() });
        assert_eq!(err(b"\n\r\n  \n"), InputError::Blank { file: "m.tsv".into() });
        assert_eq!(err(b"\t\t\n\t\t\n"), InputError::Blank { file: "m.tsv".into() });
        assert_eq!(err(b"id\tS1\n"), InputError::NoDataRows { file: "m.tsv".into() });
        assert_eq!(err(b"id\tS1\n\t\n\n"), InputError::NoDataRows { file: "m.tsv".into() });
        assert_eq!(err(b"id\tS1"), InputError::NoDataRows { file: "m.tsv".into() });
    }

    #[test]
    fn a_short_matrix_row_is_refused_with_its_line() {
        assert_eq!(
            message("id\tS1\tS2\nP1\t1\t2\nP2\t3\n"),
            "m.tsv, line 3: expected 3 fields like the header, found 2; check that line for a missing or extra tab"
        );
    }

    #[test]
    fn trailing_unnamed_column_is_ignored() {
        let t = read("id;S1;\nP1;1;\nP2;2;\n").unwrap();
        assert_eq!(t.samples, ["S1"]);
        assert_eq!(t.values, [1.0, 2.0]);
    }
}
