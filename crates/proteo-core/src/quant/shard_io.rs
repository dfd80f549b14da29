//! Shards and their results as Parquet files, the form a Distributed Map child reads from and writes to S3.
//!
//! A shard file has one row per precursor (`protein_id`, `protein_members`, `protein_genes`, `precursor`, then one
//! `run:<name>` column per run with the linear quantity); a result file one row per protein (`protein_id`,
//! `protein_members`, `protein_genes`, `components`, then `run:<name>` columns of log2 MaxLFQ abundance). The same
//! shard gives the same bytes, and reading either back gives the value it was written from.

use bytes::Bytes;

use super::table::{ProteinInfo, Shard, ShardResult};
use crate::tables::{Table, TableBuilder, TableError};

/// Prefix of the per-run columns (a run may be named like any other column).
pub const RUN_COLUMN_PREFIX: &str = "run:";
const PROTEIN_COLUMNS: [&str; 3] = ["protein_id", "protein_members", "protein_genes"];
const PRECURSOR_COLUMN: &str = "precursor";
const COMPONENTS_COLUMN: &str = "components";

#[derive(Debug, thiserror::Error)]
pub enum ShardFileError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("{file} is not a proteo quantification {kind}: expected columns {expected} and `run:<name>` columns (found {found})")]
    NotShardFile { file: String, kind: &'static str, expected: String, found: String },
    #[error("{file}: column `{column}` row {row} holds {value}, which is not a 32-bit float quantity")]
    NotF32 { file: String, column: String, row: usize, value: f64 },
    #[error("{file}: protein `{protein}` has no precursor rows; a shard holds each protein with its precursors")]
    EmptyProtein { file: String, protein: String },
    #[error(
        "{file}: protein `{protein}` appears in rows that are not adjacent (row {row}); shards are ordered by protein"
    )]
    ProteinSplit { file: String, protein: String, row: usize },
}

fn run_columns(runs: &[String]) -> impl Iterator<Item = String> + '_ {
    runs.iter().map(|r| format!("{RUN_COLUMN_PREFIX}{r}"))
}

fn with_proteins<'a>(b: TableBuilder, proteins: impl Iterator<Item = &'a ProteinInfo> + Clone) -> TableBuilder {
    b.text(PROTEIN_COLUMNS[0], &proteins.clone().map(|p| p.id.clone()).collect::<Vec<_>>())
        .text_dict(PROTEIN_COLUMNS[1], proteins.clone().map(|p| p.members.as_str()))
        .text_dict(PROTEIN_COLUMNS[2], proteins.map(|p| p.genes.as_str()))
}

/// Checks that `table` has the fixed columns and at least one run column; the run names in column order.
fn layout(table: &Table, file: &str, kind: &'static str, fixed: &[&str]) -> Result<Vec<String>, ShardFileError> {
    let names = table.column_names();
    let runs: Vec<String> =
        names.iter().filter_map(|n| n.strip_prefix(RUN_COLUMN_PREFIX)).map(str::to_string).collect();
    if runs.is_empty() || fixed.iter().any(|c| !names.iter().any(|n| n == c)) {
        return Err(ShardFileError::NotShardFile {
            file: file.to_string(),
            kind,
            expected: fixed.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
            found: proteo_detect::list_names(&names),
        });
    }
    Ok(runs)
}

/// A shard or result file read back: its table, run names and protein columns.
struct Opened {
    table: Table,
    runs: Vec<String>,
    ids: Vec<String>,
    members: Vec<String>,
    genes: Vec<String>,
}

/// Reads a shard or result file, checking that it has the protein columns, `extra` and at least one run column.
fn open(bytes: Bytes, file: &str, kind: &'static str, extra: &str) -> Result<Opened, ShardFileError> {
    let table = Table::from_parquet(bytes, file)?;
    let [id, members, genes] = PROTEIN_COLUMNS;
    let runs = layout(&table, file, kind, &[id, members, genes, extra])?;
    let [ids, members, genes] = PROTEIN_COLUMNS.map(|c| table.text(c));
    Ok(Opened { ids: ids?, members: members?, genes: genes?, runs, table })
}

/// The shard as Parquet (one row per precursor).
pub fn write_shard(shard: &Shard) -> Result<Vec<u8>, ShardFileError> {
    let n = shard.runs.len();
    let mut row_protein = Vec::with_capacity(shard.precursors.len());
    for (p, protein) in shard.proteins.iter().enumerate() {
        let rows = shard.protein_start[p + 1] - shard.protein_start[p];
        if rows == 0 {
            return Err(ShardFileError::EmptyProtein { file: "shard".into(), protein: protein.id.clone() });
        }
        row_protein.extend(std::iter::repeat_n(protein, rows));
    }
    let mut b = with_proteins(TableBuilder::new(), row_protein.into_iter()).text(PRECURSOR_COLUMN, &shard.precursors);
    for (r, name) in run_columns(&shard.runs).enumerate() {
        b = b.f64(&name, (0..shard.precursors.len()).map(|k| f64::from(shard.values[k * n + r])).collect());
    }
    Ok(b.to_parquet("shard")?)
}

/// Reads a shard file written by [`write_shard`]; `file` names it in messages.
pub fn read_shard(bytes: Bytes, file: &str) -> Result<Shard, ShardFileError> {
    let Opened { table, runs, ids, members, genes } = open(bytes, file, "shard", PRECURSOR_COLUMN)?;
    let precursors = table.text(PRECURSOR_COLUMN)?;
    let mut proteins: Vec<ProteinInfo> = Vec::new();
    let mut protein_start = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (row, id) in ids.iter().enumerate() {
        if proteins.last().is_some_and(|p| &p.id == id) {
            continue;
        }
        if !seen.insert(id.as_str()) {
            return Err(ShardFileError::ProteinSplit { file: file.to_string(), protein: id.clone(), row });
        }
        protein_start.push(row);
        proteins.push(ProteinInfo { id: id.clone(), members: members[row].clone(), genes: genes[row].clone() });
    }
    protein_start.push(ids.len());
    let n = runs.len();
    let mut values = vec![f32::NAN; ids.len() * n];
    for (r, column) in run_columns(&runs).enumerate() {
        for (k, v) in table.f64(&column)?.into_iter().enumerate() {
            let narrow = v as f32;
            if !(f64::from(narrow) == v || v.is_nan()) {
                return Err(ShardFileError::NotF32 { file: file.to_string(), column, row: k, value: v });
            }
            values[k * n + r] = narrow;
        }
    }
    Ok(Shard { runs, proteins, protein_start, precursors, values })
}

/// A shard's result as Parquet (one row per protein).
pub fn write_result(result: &ShardResult) -> Result<Vec<u8>, ShardFileError> {
    let n = result.runs.len();
    let np = result.proteins.len();
    let mut b =
        with_proteins(TableBuilder::new(), result.proteins.iter()).u32(COMPONENTS_COLUMN, result.components.clone());
    for (r, name) in run_columns(&result.runs).enumerate() {
        b = b.f64(&name, (0..np).map(|p| result.log2[p * n + r]).collect());
    }
    Ok(b.to_parquet("shard result")?)
}

/// Reads a result file written by [`write_result`]; `file` names it in messages.
pub fn read_result(bytes: Bytes, file: &str) -> Result<ShardResult, ShardFileError> {
    let Opened { table, runs, ids, members, genes } = open(bytes, file, "shard result", COMPONENTS_COLUMN)?;
    let proteins: Vec<ProteinInfo> = ids
        .into_iter()
        .zip(members)
        .zip(genes)
        .map(|((id, members), genes)| ProteinInfo { id, members, genes })
        .collect();
    let np = proteins.len();
    let n = runs.len();
    let mut log2 = vec![f64::NAN; np * n];
    for (r, column) in run_columns(&runs).enumerate() {
        for (p, v) in table.f64(&column)?.into_iter().enumerate() {
            log2[p * n + r] = v;
        }
    }
    Ok(ShardResult { runs, proteins, log2, components: table.u32(COMPONENTS_COLUMN)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::synthetic::{write_report, ReportSpec};
    use crate::quant::{quantify_shard, reduce, scan, QuantParams, DEFAULT_MIN_SHARED};

    fn table() -> crate::quant::PrecursorTable {
        let spec = ReportSpec { runs: 12, precursors: 900, missing: 0.2, seed: 5, row_group_rows: 4096 };
        let mut bytes = Vec::new();
        write_report(&spec, &mut bytes).unwrap();
        scan(&bytes, "report.parquet", &QuantParams::default()).unwrap().0
    }

    /// The whole path a Distributed Map takes: plan, each shard through a file, quantified, its result through a
    /// file, reduced.
    fn matrix_through_files(table: &crate::quant::PrecursorTable, max_cells: usize) -> (usize, Vec<u8>) {
        let plan = table.plan_shards(max_cells);
        let results: Vec<ShardResult> = plan
            .iter()
            .rev()
            .map(|range| {
                let shard = table.shard(range.clone());
                let file = write_shard(&shard).unwrap();
                assert_eq!(write_shard(&shard).unwrap(), file, "the same shard gives the same bytes");
                let back = read_shard(Bytes::from(file), "shard.parquet").unwrap();
                assert_eq!(back.values.len(), shard.values.len());
                assert!(back
                    .values
                    .iter()
                    .zip(&shard.values)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())));
                let result = quantify_shard(&back, DEFAULT_MIN_SHARED);
                let file = write_result(&result).unwrap();
                read_result(Bytes::from(file), "result.parquet").unwrap()
            })
            .collect();
        (plan.len(), write_result(&reduce(results)).unwrap())
    }

    #[test]
    fn the_matrix_is_byte_identical_through_shard_files_at_any_shard_count() {
        let table = table();
        let direct = write_result(&crate::quant::quantify(&table, DEFAULT_MIN_SHARED, 1, usize::MAX)).unwrap();
        let mut counts = Vec::new();
        for cells in [usize::MAX, 600, 60, 1] {
            let (shards, bytes) = matrix_through_files(&table, cells);
            assert_eq!(bytes, direct, "{shards} shards of at most {cells} cells");
            counts.push(shards);
        }
        assert_eq!(counts[0], 1);
        assert_eq!(counts[3], table.proteins.len(), "one protein per shard at a 1-cell cap");
        assert!(counts[1] > 1 && counts[2] > counts[1], "{counts:?}");
    }

    #[test]
    fn a_foreign_parquet_file_is_refused_with_what_a_shard_holds() {
        let other = TableBuilder::new().text("protein", &["P1".to_string()]).f64("value", vec![1.0]);
        let bytes = Bytes::from(other.to_parquet("other").unwrap());
        let err = read_shard(bytes.clone(), "jobs/j/ingest/quant/shards/00001.parquet").unwrap_err().to_string();
        assert!(
            err.starts_with("jobs/j/ingest/quant/shards/00001.parquet is not a proteo quantification shard"),
            "{err}"
        );
        assert!(err.contains("`protein_id`") && err.contains("found"), "{err}");
        let err = read_result(bytes, "r.parquet").unwrap_err().to_string();
        assert!(err.contains("not a proteo quantification shard result"), "{err}");
        let wide = TableBuilder::new()
            .text("protein_id", &["P1".to_string()])
            .text("protein_members", &["P1".to_string()])
            .text("protein_genes", &["G".to_string()])
            .text("precursor", &["PEP2".to_string()])
            .f64("run:a", vec![0.1]);
        let err = read_shard(Bytes::from(wide.to_parquet("x").unwrap()), "s.parquet").unwrap_err().to_string();
        assert!(err.contains("row 0 holds 0.1, which is not a 32-bit float"), "{err}");
    }
}
