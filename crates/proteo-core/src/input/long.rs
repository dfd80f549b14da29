//! A long report (one row per protein group × run × precursor × fragment, Spectronaut) pivoted to protein groups ×
//! runs on its protein-level quantity: every row of a protein group and run must carry the same value.

use std::collections::HashMap;

use csv::ByteRecord;
use proteo_detect::names::clean_run_names;
use proteo_detect::Detection;

use super::error::InputError;
use super::text::{cell_error, cell_text, parse_cell, Rows};
use super::wide::{check_id, fill_names_from_ids, report_for};
use crate::limits::{MAX_ROWS, MAX_SAMPLE_COLUMNS, MAX_VALUES};
use crate::model::IntensityTable;

fn cell(record: &ByteRecord, index: usize) -> String {
    record.get(index).map_or(String::new(), |f| cell_text(f).trim().to_string())
}

/// Values equal as a protein quantity repeated on every fragment row (NaN equals NaN).
fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

pub(crate) fn read(
    mut rows: Rows<'_>,
    file: &str,
    d: &Detection,
) -> Result<(IntensityTable, crate::model::InputReport), InputError> {
    let header = std::mem::take(&mut rows.header);
    let layout = d.long.clone().ok_or_else(|| InputError::NoSampleColumns { file: file.into(), found: header })?;
    let mut report = report_for(d);
    let mut proteins: HashMap<String, u32> = HashMap::new();
    let mut protein_ids: Vec<String> = Vec::new();
    let mut genes: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut runs: HashMap<String, u32> = HashMap::new();
    let mut run_names: Vec<String> = Vec::new();
    let mut values: HashMap<(u32, u32), (f64, u64)> = HashMap::new();
    let mut record = ByteRecord::new();
    while let Some(line) = rows.next_raw(&mut record)? {
        if record.len() > header_len(&rows) && record.iter().skip(header_len(&rows)).any(|f| !f.trim_ascii().is_empty())
        {
            return Err(rows.ragged(line, record.len()));
        }
        report.rows_read += 1;
        let protein = cell(&record, layout.protein.index);
        check_id(&protein, file, line, &layout.protein.name)?;
        let run = cell(&record, layout.run.index);
        let field = record.get(layout.quantity.index).unwrap_or(b"");
        let v = parse_cell(field, &d.missing_markers)
            .map_err(|p| cell_error(p, file, line, &layout.quantity.name, field, ""))?;
        let p = match proteins.get(&protein) {
            Some(&p) => p,
            None => {
                if protein_ids.len() >= MAX_ROWS {
                    return Err(InputError::TooManyRows { file: file.into() });
                }
                let p = protein_ids.len() as u32;
                proteins.insert(protein.clone(), p);
                genes.push(d.gene_column.as_ref().map_or(String::new(), |c| cell(&record, c.index)));
                names.push(d.protein_names_column.as_ref().map_or(String::new(), |c| cell(&record, c.index)));
                protein_ids.push(protein.clone());
                p
            }
        };
        let r = match runs.get(&run) {
            Some(&r) => r,
            None => {
                if run_names.len() >= MAX_SAMPLE_COLUMNS {
                    return Err(InputError::TooManySamples { file: file.into(), found: run_names.len() + 1 });
                }
                let r = run_names.len() as u32;
                runs.insert(run.clone(), r);
                run_names.push(run.clone());
                r
            }
        };
        match values.get(&(p, r)) {
            Some(&(first, first_line)) if !same(first, v) => {
                return Err(InputError::LongConflict {
                    file: file.into(),
                    line,
                    first_line,
                    protein,
                    run,
                    first,
                    second: v,
                });
            }
            Some(_) => {}
            None => {
                values.insert((p, r), (v, line));
            }
        }
    }
    if report.rows_read == 0 {
        return Err(InputError::NoDataRows { file: file.into() });
    }
    let (np, ns) = (protein_ids.len(), run_names.len());
    if np.saturating_mul(ns) > MAX_VALUES {
        return Err(InputError::TooManyValues { file: file.into(), proteins: np, samples: ns });
    }
    let mut matrix = vec![f64::NAN; np * ns];
    for ((p, r), (v, _)) in values {
        matrix[p as usize * ns + r as usize] = v;
    }
    let mut table = IntensityTable {
        majority_ids: vec![String::new(); np],
        protein_ids,
        gene_names: genes,
        protein_names: names,
        samples: clean_run_names(&run_names),
        values: matrix,
        annotations: Vec::new(),
    };
    fill_names_from_ids(&mut table, d.gene_column.is_some(), d.protein_names_column.is_some(), &mut report);
    Ok((table, report))
}

fn header_len(rows: &Rows<'_>) -> usize {
    rows.n_fields()
}

#[cfg(test)]
mod tests {
    use crate::input::{read_intensities, InputError};

    const HEADER: &str = "R.Condition,R.FileName,PG.ProteinGroups,PG.Genes,PG.Quantity,EG.PrecursorId,F.PeakArea";

    #[test]
    fn fragments_are_pivoted_to_one_value_per_protein_group_and_run() {
        let text = format!(
            "{HEADER}\nA,run_1.raw,P1,G1,100,pep1,5\nA,run_1.raw,P1,G1,100,pep2,6\nB,run_2.raw,P1,G1,200,pep1,7\n\
             B,run_2.raw,P2,G2,Filtered,pep9,8\nA,run_1.raw,P2,G2,50,pep9,1\n"
        );
        let (t, r) = read_intensities(text.as_bytes(), "report.csv", None).unwrap();
        assert_eq!(r.format, "spectronaut-long");
        assert_eq!(r.rows_read, 5);
        assert_eq!(t.samples, ["run_1", "run_2"]);
        assert_eq!(t.protein_ids, ["P1", "P2"]);
        assert_eq!(t.gene_names, ["G1", "G2"]);
        assert_eq!(&t.values[..3], [100.0, 200.0, 50.0]);
        assert!(t.values[3].is_nan());
    }

    #[test]
    fn two_quantities_for_one_protein_group_and_run_are_refused_with_both_lines() {
        let text = format!("{HEADER}\nA,r1,P1,G1,100,p1,5\nA,r1,P1,G1,101,p2,6\n");
        let err = read_intensities(text.as_bytes(), "report.csv", None).unwrap_err();
        assert!(matches!(err, InputError::LongConflict { line: 3, first_line: 2, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "report.csv, line 3: protein group `P1` has two different quantities for run `r1` (100 on line 2, 101 \
             here); a long report must have one protein quantity per protein group and run"
        );
    }
}
