//! The compact precursor × run table a report is scanned into, its protein shards, and their reduction to a matrix.
//!
//! Names are interned while scanning; each run is one `f32` column (the reports store quantities as float32, so
//! nothing is lost), and rows are ordered by protein, then precursor, so any row order in the file gives the same
//! table. A shard is a contiguous range of proteins with its precursor rows: self-contained, so a Step Functions
//! Distributed Map child can quantify it alone, and the reduced matrix is the same whatever the shard count.

use std::collections::HashMap;
use std::ops::Range;

use super::maxlfq::{maxlfq, Workspace};

/// Annotation of one protein group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProteinInfo {
    /// `Protein.Group` (DIA-NN), `pg` (AlphaDIA).
    pub id: String,
    /// `Protein.Ids`, or empty.
    pub members: String,
    /// `Genes`, or empty.
    pub genes: String,
}

/// Precursor quantities by run, grouped by protein (step (a) of the quantification).
#[derive(Debug, Clone, PartialEq)]
pub struct PrecursorTable {
    /// Sorted by name.
    pub runs: Vec<String>,
    /// Sorted by id.
    pub proteins: Vec<ProteinInfo>,
    /// Precursors of protein `i` are rows `protein_start[i]..protein_start[i + 1]`.
    pub protein_start: Vec<usize>,
    /// Precursor ids, sorted within each protein.
    pub precursors: Vec<String>,
    /// One column per run, `precursors.len()` long: linear quantity, `NaN` = not quantified.
    pub columns: Vec<Vec<f32>>,
}

/// Cells (precursors × runs) per shard by default: 4 M cells are 16 MB of `f32`, small next to any Lambda.
pub const DEFAULT_SHARD_CELLS: usize = 4 << 20;

impl PrecursorTable {
    pub fn n_cells(&self) -> usize {
        self.precursors.len() * self.runs.len()
    }

    /// Step (b): contiguous protein ranges whose precursors × runs stay within `max_cells` (a protein larger than
    /// that gets a shard of its own). Depends only on the table, so a plan is reproducible.
    pub fn plan_shards(&self, max_cells: usize) -> Vec<Range<usize>> {
        let per_precursor = self.runs.len().max(1);
        let mut out = Vec::new();
        let mut start = 0;
        for p in 0..self.proteins.len() {
            let cells = (self.protein_start[p + 1] - self.protein_start[start]) * per_precursor;
            if p > start && cells > max_cells {
                out.push(start..p);
                start = p;
            }
        }
        if start < self.proteins.len() {
            out.push(start..self.proteins.len());
        }
        out
    }

    /// The proteins `range` with their precursor rows, as a self-contained shard.
    pub fn shard(&self, range: Range<usize>) -> Shard {
        let rows = self.protein_start[range.start]..self.protein_start[range.end];
        let n = self.runs.len();
        let mut values = vec![f32::NAN; rows.len() * n];
        for (r, column) in self.columns.iter().enumerate() {
            for (k, row) in rows.clone().enumerate() {
                values[k * n + r] = column[row];
            }
        }
        Shard {
            runs: self.runs.clone(),
            proteins: self.proteins[range.clone()].to_vec(),
            protein_start: self.protein_start[range.start..=range.end].iter().map(|s| s - rows.start).collect(),
            precursors: self.precursors[rows].to_vec(),
            values,
        }
    }
}

/// A contiguous range of proteins with their precursors (step (b)'s unit of work).
#[derive(Debug, Clone, PartialEq)]
pub struct Shard {
    pub runs: Vec<String>,
    pub proteins: Vec<ProteinInfo>,
    /// Relative to this shard's `precursors`.
    pub protein_start: Vec<usize>,
    pub precursors: Vec<String>,
    /// `precursors.len() × runs.len()`, row-major: linear quantity, `NaN` = not quantified.
    pub values: Vec<f32>,
}

/// One shard's proteins quantified (step (c)).
#[derive(Debug, Clone, PartialEq)]
pub struct ShardResult {
    pub runs: Vec<String>,
    pub proteins: Vec<ProteinInfo>,
    /// `proteins.len() × runs.len()`, row-major: log2 MaxLFQ abundance, `NaN` = not quantified.
    pub log2: Vec<f64>,
    /// Per protein, connected components of runs in its fit (> 1: levels across components are not comparable).
    pub components: Vec<u32>,
}

/// Step (c): MaxLFQ of every protein of `shard`. Each protein's numbers depend on its own precursors only.
pub fn quantify_shard(shard: &Shard, min_shared: usize) -> ShardResult {
    let n = shard.runs.len();
    let mut ws = Workspace::default();
    let mut log2 = Vec::with_capacity(shard.proteins.len() * n);
    let mut components = Vec::with_capacity(shard.proteins.len());
    let mut x = Vec::new();
    for p in 0..shard.proteins.len() {
        let rows = shard.protein_start[p]..shard.protein_start[p + 1];
        x.clear();
        x.extend(shard.values[rows.start * n..rows.end * n].iter().map(|&v| f64::from(v).log2()));
        let e = maxlfq(&x, rows.len(), n, min_shared, &mut ws);
        log2.extend_from_slice(&e.log2);
        components.push(e.components as u32);
    }
    ShardResult { runs: shard.runs.clone(), proteins: shard.proteins.clone(), log2, components }
}

/// Step (d): the shards' results concatenated in protein order (the order of `results` does not matter).
pub fn reduce(mut results: Vec<ShardResult>) -> ShardResult {
    results.sort_by(|a, b| a.proteins.first().map(|p| &p.id).cmp(&b.proteins.first().map(|p| &p.id)));
    let mut out = ShardResult { runs: Vec::new(), proteins: Vec::new(), log2: Vec::new(), components: Vec::new() };
    for r in results {
        if out.runs.is_empty() {
            out.runs = r.runs;
        } else {
            assert_eq!(out.runs, r.runs, "shards of one table share its runs");
        }
        out.proteins.extend(r.proteins);
        out.log2.extend(r.log2);
        out.components.extend(r.components);
    }
    out
}

/// Steps (b)–(d) on this machine: shards of at most `max_cells`, quantified by `threads` workers, reduced in
/// protein order. The result is the same for every `threads` and `max_cells`.
pub fn quantify(table: &PrecursorTable, min_shared: usize, threads: usize, max_cells: usize) -> ShardResult {
    let plan = table.plan_shards(max_cells);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = threads.clamp(1, plan.len().max(1));
    let mut results: Vec<(usize, ShardResult)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(range) = plan.get(i) else { break };
                        done.push((i, quantify_shard(&table.shard(range.clone()), min_shared)));
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("quantification worker panicked")).collect()
    });
    results.sort_by_key(|(i, _)| *i);
    reduce(results.into_iter().map(|(_, r)| r).collect())
}

/// Collects rows while a report is scanned; [`Builder::finish`] orders them into a [`PrecursorTable`].
#[derive(Default)]
pub(crate) struct Builder {
    runs: Vec<String>,
    run_index: HashMap<String, u32>,
    proteins: Vec<ProteinInfo>,
    protein_index: HashMap<String, u32>,
    precursor_names: Vec<String>,
    precursor_protein: Vec<u32>,
    /// First row of each precursor name; rows of the same name in other proteins are chained through `next_row`.
    precursor_index: HashMap<String, u32>,
    next_row: Vec<u32>,
    columns: Vec<Vec<f32>>,
    pub duplicates: usize,
}

const NO_ROW: u32 = u32::MAX;

impl Builder {
    /// The index of run `name`, adding it if new.
    pub fn run(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.run_index.get(name) {
            return i;
        }
        let i = self.runs.len() as u32;
        self.runs.push(name.to_string());
        self.run_index.insert(name.to_string(), i);
        self.columns.push(Vec::new());
        i
    }

    /// The index of protein group `id`; annotation is taken from its first row.
    pub fn protein(&mut self, id: &str, members: &str, genes: &str) -> u32 {
        if let Some(&i) = self.protein_index.get(id) {
            return i;
        }
        let i = self.proteins.len() as u32;
        self.proteins.push(ProteinInfo { id: id.to_string(), members: members.to_string(), genes: genes.to_string() });
        self.protein_index.insert(id.to_string(), i);
        i
    }

    /// The row of precursor `name` in protein `protein`, adding it if new.
    pub fn precursor(&mut self, protein: u32, name: &str) -> u32 {
        let new_row = self.precursor_names.len() as u32;
        let mut last = match self.precursor_index.get(name) {
            None => {
                self.precursor_index.insert(name.to_string(), new_row);
                NO_ROW
            }
            Some(&first) => first,
        };
        if last != NO_ROW {
            loop {
                if self.precursor_protein[last as usize] == protein {
                    return last;
                }
                match self.next_row[last as usize] {
                    NO_ROW => break,
                    next => last = next,
                }
            }
            self.next_row[last as usize] = new_row;
        }
        self.precursor_names.push(name.to_string());
        self.precursor_protein.push(protein);
        self.next_row.push(NO_ROW);
        new_row
    }

    /// Records `value` for (`row`, `run`); a second value for the same cell keeps the larger, as DIA-NN's R
    /// package does ("multiple quantities per id: the maximum of these will be calculated").
    pub fn set(&mut self, row: u32, run: u32, value: f32) {
        let known = self.precursor_names.len();
        let column = &mut self.columns[run as usize];
        let row = row as usize;
        if column.len() <= row {
            // Later runs see every precursor the first ones named: size them once.
            let target = if column.is_empty() { known } else { row + 1 };
            column.resize(target.max(row + 1), f32::NAN);
        }
        let cell = &mut column[row];
        if cell.is_nan() {
            *cell = value;
        } else {
            self.duplicates += 1;
            *cell = cell.max(value);
        }
    }

    /// The table, and the runs named in the report that kept no value (every row filtered away), sorted.
    pub fn finish(self) -> (PrecursorTable, Vec<String>) {
        let Builder { runs, proteins, precursor_names, precursor_protein, mut columns, .. } = self;
        let n_rows = precursor_names.len();
        let (mut run_order, mut emptied): (Vec<usize>, Vec<usize>) =
            (0..runs.len()).partition(|&r| columns[r].iter().any(|v| !v.is_nan()));
        run_order.sort_by(|&a, &b| runs[a].cmp(&runs[b]));
        emptied.sort_by(|&a, &b| runs[a].cmp(&runs[b]));
        let emptied: Vec<String> = emptied.iter().map(|&r| runs[r].clone()).collect();
        let mut protein_order: Vec<usize> = (0..proteins.len()).collect();
        protein_order.sort_by(|&a, &b| proteins[a].id.cmp(&proteins[b].id));
        let mut protein_rank = vec![0usize; proteins.len()];
        for (rank, &p) in protein_order.iter().enumerate() {
            protein_rank[p] = rank;
        }
        let mut row_order: Vec<usize> = (0..n_rows).collect();
        row_order.sort_by(|&a, &b| {
            (protein_rank[precursor_protein[a] as usize], &precursor_names[a])
                .cmp(&(protein_rank[precursor_protein[b] as usize], &precursor_names[b]))
        });
        let mut protein_start = vec![0usize; proteins.len() + 1];
        for &row in &row_order {
            protein_start[protein_rank[precursor_protein[row] as usize] + 1] += 1;
        }
        for i in 0..proteins.len() {
            protein_start[i + 1] += protein_start[i];
        }
        let mut scratch = vec![f32::NAN; n_rows];
        for &r in &run_order {
            let column = &mut columns[r];
            column.resize(n_rows, f32::NAN);
            for (new, &old) in row_order.iter().enumerate() {
                scratch[new] = column[old];
            }
            std::mem::swap(column, &mut scratch);
            column.shrink_to_fit();
        }
        let mut names: Vec<Option<String>> = precursor_names.into_iter().map(Some).collect();
        let mut proteins: Vec<Option<ProteinInfo>> = proteins.into_iter().map(Some).collect();
        let mut runs: Vec<Option<String>> = runs.into_iter().map(Some).collect();
        let mut columns: Vec<Option<Vec<f32>>> = columns.into_iter().map(Some).collect();
        let table = PrecursorTable {
            runs: run_order.iter().map(|&r| runs[r].take().expect("each run once")).collect(),
            columns: run_order.iter().map(|&r| columns[r].take().expect("each run once")).collect(),
            proteins: protein_order.iter().map(|&p| proteins[p].take().expect("each protein once")).collect(),
            protein_start,
            precursors: row_order.iter().map(|&r| names[r].take().expect("each row once")).collect(),
        };
        (table, emptied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5 proteins with 1–3 precursors over 4 runs, fed in a scrambled order.
    fn table(reverse: bool) -> PrecursorTable {
        let mut rows = Vec::new();
        for p in 0..5u32 {
            for k in 0..=(p % 3) {
                for r in 0..4u32 {
                    if (p + k + r) % 5 != 0 {
                        rows.push((
                            format!("P{p}"),
                            format!("PEP{k}"),
                            format!("run{r}"),
                            (100 * p + 10 * k + r + 1) as f32,
                        ));
                    }
                }
            }
        }
        if reverse {
            rows.reverse();
        }
        let mut b = Builder::default();
        for (p, k, r, v) in rows {
            let pi = b.protein(&p, &p, "");
            let row = b.precursor(pi, &k);
            let ri = b.run(&r);
            b.set(row, ri, v);
        }
        b.finish().0
    }

    #[test]
    fn row_order_in_the_file_does_not_change_the_table() {
        let t = table(false);
        let other = table(true);
        let bits = |t: &PrecursorTable| t.columns.iter().flatten().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!((&t.runs, &t.proteins, &t.precursors), (&other.runs, &other.proteins, &other.precursors));
        assert_eq!(bits(&t), bits(&other));
        assert_eq!(t.runs, ["run0", "run1", "run2", "run3"]);
        assert_eq!(t.protein_start, [0, 1, 3, 6, 7, 9]);
        // PEP0 is a name shared by every protein: one row per (protein, name).
        assert_eq!(t.precursors[1..3], ["PEP0".to_string(), "PEP1".to_string()]);
        assert_eq!(t.columns[1][0], 2.0);
        assert!(t.columns[0][0].is_nan());
    }

    #[test]
    fn duplicates_keep_the_maximum_and_are_counted() {
        let mut b = Builder::default();
        let p = b.protein("P", "", "");
        let row = b.precursor(p, "X");
        let r = b.run("a");
        b.set(row, r, 3.0);
        b.set(row, r, 5.0);
        b.set(row, r, 4.0);
        assert_eq!(b.duplicates, 2);
        assert_eq!(b.finish().0.columns[0], [5.0]);
    }

    #[test]
    fn any_shard_count_and_thread_count_give_identical_bits() {
        let t = table(false);
        let one = quantify(&t, 1, 1, usize::MAX);
        for (threads, cells) in [(1, 1), (2, 4), (3, 8), (2, 1)] {
            let other = quantify(&t, 1, threads, cells);
            assert_eq!(one.proteins, other.proteins);
            let bits = |r: &ShardResult| r.log2.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&one), bits(&other), "threads {threads}, cells {cells}");
        }
        assert_eq!(t.plan_shards(1).len(), 5);
        assert_eq!(t.plan_shards(12), [0..2, 2..3, 3..5]);
        let shuffled = reduce(t.plan_shards(4).into_iter().rev().map(|r| quantify_shard(&t.shard(r), 1)).collect());
        assert_eq!(shuffled.proteins, one.proteins);
    }
}
