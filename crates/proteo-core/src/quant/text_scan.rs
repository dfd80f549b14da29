//! Step (a) for delimited reports, streamed line by line: long reports (DIA-NN report.tsv, AlphaDIA precursors.tsv)
//! and wide precursor matrices (DIA-NN pr_matrix, AlphaDIA precursor matrix).

use csv::ByteRecord;

use super::columns::{run_name_from_path, summary, FilterCount, Layout};
use super::error::QuantError;
use super::table::{Builder, PrecursorTable};
use super::{looks_like_precursor_report, PrecursorKind, QuantParams, QuantReport, Quantity};
use crate::input::text::{cell_error, cell_text, parse_cell, Rows};
use crate::input::InputError;

pub(crate) fn scan(text: &[u8], file: &str, params: &QuantParams) -> Result<(PrecursorTable, QuantReport), InputError> {
    let rows = Rows::open(text, file)?;
    let header = rows.header.clone();
    let Some(kind) = looks_like_precursor_report(&header) else {
        return Err(QuantError::NotPrecursorText { file: file.to_string(), found: header }.into());
    };
    match kind {
        PrecursorKind::DiannReport | PrecursorKind::AlphadiaPrecursors => long(rows, &header, kind, file, params),
        PrecursorKind::DiannPrMatrix | PrecursorKind::AlphadiaPrecursorMatrix => {
            wide(rows, &header, kind, file, params)
        }
    }
}

fn position(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).expect("resolved from the header")
}

fn long(
    mut rows: Rows<'_>,
    header: &[String],
    kind: PrecursorKind,
    file: &str,
    params: &QuantParams,
) -> Result<(PrecursorTable, QuantReport), InputError> {
    let mut layout = Layout::new(kind, header, file, params)?;
    let numeric: Vec<usize> = layout.numeric_columns().iter().map(|c| position(header, c)).collect();
    let run_at = position(header, &layout.run);
    let protein_at = position(header, &layout.protein);
    let precursor_at = layout.precursor.as_ref().map(|c| position(header, c));
    let members_at = layout.members.as_ref().map(|c| position(header, c));
    let genes_at = layout.genes.as_ref().map(|c| position(header, c));
    let mut table = Builder::default();
    let mut numbers = vec![0.0; numeric.len()];
    let mut record = ByteRecord::new();
    let mut last_run: Option<(Vec<u8>, u32)> = None;
    let mut last_protein: Option<(Vec<u8>, u32)> = None;
    while let Some(line) = rows.next_row(&mut record)? {
        for (k, &at) in numeric.iter().enumerate() {
            let field = &record[at];
            numbers[k] = parse_cell(field, &[]).map_err(|p| cell_error(p, file, line, &header[at], field, ""))?;
        }
        let run_field = &record[run_at];
        let run = match &last_run {
            Some((name, id)) if name.as_slice() == run_field => *id,
            _ => {
                let text = cell_text(run_field);
                let name = if layout.run_is_path { run_name_from_path(text.trim()) } else { text.trim() };
                let id = table.run(name);
                last_run = Some((run_field.to_vec(), id));
                id
            }
        };
        let protein_field = &record[protein_at];
        if !layout.keep(&numbers, cell_text(protein_field).trim().is_empty()) {
            continue;
        }
        let protein = match &last_protein {
            Some((name, id)) if name.as_slice() == protein_field => *id,
            _ => {
                let text = |at: Option<usize>| at.map(|i| cell_text(&record[i]).trim().to_string()).unwrap_or_default();
                let id = table.protein(cell_text(protein_field).trim(), &text(members_at), &text(genes_at));
                last_protein = Some((protein_field.to_vec(), id));
                id
            }
        };
        let precursor = table.precursor(protein, precursor_at.map_or("".into(), |i| cell_text(&record[i])).trim());
        table.set(precursor, run, numbers[0] as f32);
    }
    if layout.report.rows == 0 {
        return Err(InputError::NoDataRows { file: file.to_string() });
    }
    let mut report = std::mem::take(&mut layout.report);
    // With --quantity pg-maxlfq every precursor row repeats its group's value: not a duplicate.
    report.duplicates_merged = if layout.precursor.is_some() { table.duplicates } else { 0 };
    let (table, emptied) = table.finish();
    if table.runs.is_empty() {
        return Err(QuantError::NothingLeft { file: file.to_string(), summary: summary(&report) }.into());
    }
    report.runs_without_precursors = emptied;
    Ok((table, report))
}

fn wide(
    mut rows: Rows<'_>,
    header: &[String],
    kind: PrecursorKind,
    file: &str,
    params: &QuantParams,
) -> Result<(PrecursorTable, QuantReport), InputError> {
    let diann = kind == PrecursorKind::DiannPrMatrix;
    let has = |c: &str| header.iter().any(|h| h == c);
    let pick = |names: &[&'static str]| names.iter().copied().find(|c| has(c));
    let missing = |column: &str, purpose: &'static str| QuantError::MissingColumn {
        file: file.to_string(),
        kind: kind.as_str(),
        column: column.to_string(),
        purpose,
        found: header.to_vec(),
    };
    match params.quantity {
        Quantity::Auto | Quantity::PrecursorNormalised if diann => {}
        Quantity::Auto if !diann => {}
        Quantity::PgMaxlfq => return Err(missing("PG.MaxLFQ", "for --quantity pg-maxlfq").into()),
        _ => return Err(missing("Precursor.Quantity", "for this --quantity (the matrix holds one quantity)").into()),
    }
    let protein_names: &[&str] = if diann { &["Protein.Group"] } else { &["pg", "pg_master", "proteins", "genes"] };
    let protein_at = position(
        header,
        pick(protein_names).ok_or_else(|| missing(protein_names[0], "to group precursors by protein"))?,
    );
    let precursor_at = position(header, if diann { "Precursor.Id" } else { "mod_seq_charge_hash" });
    let members_at = pick(if diann { &["Protein.Ids"] } else { &["proteins"] }).map(|c| position(header, c));
    let genes_at = pick(if diann { &["Genes"] } else { &["genes"] }).map(|c| position(header, c));
    let decoy_at = pick(&["decoy", "Decoy"]).map(|c| position(header, c));
    let proteotypic_at = if params.proteotypic_only {
        Some(position(
            header,
            pick(&["Proteotypic", "proteotypic"]).ok_or_else(|| missing("Proteotypic", "for --proteotypic-only"))?,
        ))
    } else {
        None
    };
    let matrix_runs = proteo_detect::matrix_runs(kind, header);
    let run_columns: Vec<usize> = matrix_runs.iter().map(|(i, _)| *i).collect();
    let mut table = Builder::default();
    let runs: Vec<u32> = matrix_runs.iter().map(|(_, name)| table.run(name)).collect();
    let mut report = QuantReport {
        kind: kind.as_str().to_string(),
        quantity: format!("{} (the matrix's values)", if diann { "Precursor.Normalised" } else { "intensity" }),
        method: format!("MaxLFQ (iq maxLFQ), ratios from ≥ {} shared precursor(s)", params.min_shared),
        // The tool filtered the matrix when it wrote it; no q-values are left to filter on.
        filters: ["Q.Value", "Lib.Q.Value", "Lib.PG.Q.Value"]
            .map(|c| FilterCount { column: c.to_string(), threshold: params.q_value, applied: false, removed: 0 })
            .to_vec(),
        ..QuantReport::default()
    };
    let mut record = ByteRecord::new();
    while let Some(line) = rows.next_row(&mut record)? {
        report.rows += 1;
        let flag = |at: Option<usize>| -> Result<Option<f64>, InputError> {
            at.map(|i| parse_cell(&record[i], &[]).map_err(|p| cell_error(p, file, line, &header[i], &record[i], "")))
                .transpose()
        };
        if flag(decoy_at)?.is_some_and(|d| !d.is_nan() && d != 0.0) {
            report.removed_decoy += 1;
            continue;
        }
        if flag(proteotypic_at)?.is_some_and(|p| p != 1.0) {
            report.removed_not_proteotypic += 1;
            continue;
        }
        let protein_id = cell_text(&record[protein_at]).trim().to_string();
        if protein_id.is_empty() {
            report.removed_no_protein += 1;
            continue;
        }
        let mut values = Vec::with_capacity(run_columns.len());
        for &at in &run_columns {
            let v =
                parse_cell(&record[at], &[]).map_err(|p| cell_error(p, file, line, &header[at], &record[at], ""))?;
            values.push(if v > 0.0 && (v as f32) > 0.0 { v as f32 } else { f32::NAN });
        }
        if values.iter().all(|v| v.is_nan()) {
            report.removed_no_quantity += 1;
            continue;
        }
        let text = |at: Option<usize>| at.map(|i| cell_text(&record[i]).trim().to_string()).unwrap_or_default();
        let protein = table.protein(&protein_id, &text(members_at), &text(genes_at));
        let precursor = table.precursor(protein, cell_text(&record[precursor_at]).trim());
        for (&run, v) in runs.iter().zip(values) {
            if !v.is_nan() {
                table.set(precursor, run, v);
            }
        }
    }
    if report.rows == 0 {
        return Err(InputError::NoDataRows { file: file.to_string() });
    }
    report.duplicates_merged = table.duplicates;
    let (table, emptied) = table.finish();
    if table.runs.is_empty() {
        return Err(QuantError::NothingLeft { file: file.to_string(), summary: summary(&report) }.into());
    }
    report.runs_without_precursors = emptied;
    Ok((table, report))
}
