//! `proteo bench --precursor`: synthetic DIA-NN 2.x report.parquet files read and quantified by MaxLFQ.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use parquet::file::reader::{FileReader, SerializedFileReader};

use proteo_core::quant::synthetic::{write_report, ReportSpec, REPORT_ROW_GROUP_ROWS};
use proteo_core::quant::{quantify, quantify_shard, reduce, scan_parquet, QuantParams, DEFAULT_SHARD_CELLS};

use crate::bench::{current_memory, peak_memory, reset_peak_memory, tempdir};

/// Target of issue 12: report rows read into the precursor matrix per second and core.
const TARGET_ROWS_PER_S: f64 = 5e6;
/// Columns the default quantification reads from a DIA-NN 2.x report.
const READ_COLUMNS: &[&str] = &[
    "Run",
    "Protein.Group",
    "Precursor.Id",
    "Protein.Ids",
    "Genes",
    "Precursor.Normalised",
    "Q.Value",
    "Lib.Q.Value",
    "Lib.PG.Q.Value",
    "Decoy",
];

pub fn bench(runs: &[usize], precursors: usize, missing: f64, keep: Option<&Path>) -> anyhow::Result<()> {
    let dir = match keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.to_path_buf()
        }
        None => tempdir()?,
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "proteo bench --precursor — synthetic DIA-NN 2.1 report.parquet (71 columns, snappy), release build expected"
    );
    println!(
        "{:>6} {:>10} {:>9} {:>9} {:>10} {:>10} {:>12} {:>11} {:>12} {:>12} {:>10}",
        "runs",
        "rows",
        "file MB",
        "scan s",
        "Mrows/s",
        "MaxLFQ s",
        "shards 1t s",
        "peak MB",
        "matrices MB",
        "row grp MB",
        "RSS ratio"
    );
    for &n_runs in runs {
        let path = dir.join(format!("report_{n_runs}runs.parquet"));
        let spec = ReportSpec { runs: n_runs, precursors, missing, seed: 1, row_group_rows: REPORT_ROW_GROUP_ROWS };
        let file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let stats = write_report(&spec, std::io::BufWriter::new(file))?;
        let file_mb = std::fs::metadata(&path)?.len();
        let row_group = largest_row_group_bytes(&path)?;

        let params = QuantParams::default();
        let baseline = current_memory().unwrap_or(0);
        let reset = reset_peak_memory();
        let t = Instant::now();
        let (table, report) = scan_parquet(std::fs::File::open(&path)?, "report.parquet", &params)?;
        let scan_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let result = quantify(&table, params.min_shared, threads, DEFAULT_SHARD_CELLS);
        let lfq_s = t.elapsed().as_secs_f64();
        let peak = peak_memory().unwrap_or(0).saturating_sub(baseline);
        // One thread, shard by shard (as the Distributed Map's children run them): each shard's time.
        let t = Instant::now();
        let plan = table.plan_shards(DEFAULT_SHARD_CELLS);
        let mut shard_s = Vec::with_capacity(plan.len());
        let mut parts = Vec::with_capacity(plan.len());
        for range in &plan {
            let started = Instant::now();
            parts.push(quantify_shard(&table.shard(range.clone()), params.min_shared));
            shard_s.push(started.elapsed().as_secs_f64());
        }
        let single = reduce(parts);
        let lfq1_s = t.elapsed().as_secs_f64();
        assert_eq!(
            single.log2.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            result.log2.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "thread count must not change the result"
        );
        let matrices = (table.n_cells() * 4 + result.log2.len() * 8) as u64;
        if keep.is_some() {
            let out = dir.join(format!("proteo_{n_runs}runs.tsv"));
            write_proteins(&out, &result)?;
        }
        println!(
            "{:>6} {:>10} {:>9.1} {:>9.2} {:>10.2} {:>10.2} {:>12.2} {:>11} {:>12.1} {:>12.1} {:>10}",
            n_runs,
            stats.rows,
            file_mb as f64 / 1e6,
            scan_s,
            report.rows as f64 / scan_s / 1e6,
            lfq_s,
            lfq1_s,
            if reset { format!("{:.1}", peak as f64 / 1e6) } else { "n/a".into() },
            matrices as f64 / 1e6,
            row_group as f64 / 1e6,
            if reset { format!("{:.2}", peak as f64 / (matrices + row_group) as f64) } else { "n/a".into() },
        );
        println!(
            "       {} precursors, {} protein groups, {} proteins split into components; scan {} rows/s per core (target {})",
            table.precursors.len(),
            table.proteins.len(),
            result.components.iter().filter(|&&c| c > 1).count(),
            if report.rows as f64 / scan_s >= TARGET_ROWS_PER_S { "meets" } else { "misses" },
            TARGET_ROWS_PER_S
        );
        let largest = plan.iter().map(|r| table.protein_start[r.end] - table.protein_start[r.start]).max().unwrap_or(0);
        let mut sorted = shard_s.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "       sharded: {} shards of ≤ {} cells (largest {:.1} MB of f32); MaxLFQ per shard median {:.2} s, max {:.2} s; \
             wall of the Map at 100 Lambdas ≈ {:.1} s, at 1 000 ≈ {:.1} s (shard time alone: + scan + assembly)",
            plan.len(),
            DEFAULT_SHARD_CELLS,
            (largest * n_runs * 4) as f64 / 1e6,
            sorted.get(sorted.len() / 2).copied().unwrap_or(0.0),
            sorted.last().copied().unwrap_or(0.0),
            makespan(&shard_s, 100),
            makespan(&shard_s, 1000),
        );
        if keep.is_none() {
            std::fs::remove_file(&path).ok();
        }
    }
    println!("scan = detection + projection + filters into the precursor × run matrix (one thread); MaxLFQ on {threads} threads; shards 1t = the same shard by shard on one thread;");
    println!("peak = VmHWM above the start of the scan (scan + MaxLFQ); matrices = precursor matrix (f32) + protein matrix (f64);");
    println!("row grp = largest row group's uncompressed size of the {} columns read.", READ_COLUMNS.len());
    if keep.is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(())
}

/// The wall time of `jobs` on `workers` at once, longest first to the earliest free worker (the Map starts children
/// as slots free up; this is its makespan up to the order the manifest lists them).
fn makespan(jobs: &[f64], workers: usize) -> f64 {
    let mut sorted = jobs.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut free = vec![0.0f64; workers.clamp(1, jobs.len().max(1))];
    for job in sorted {
        let earliest = free.iter_mut().min_by(|a, b| a.total_cmp(b)).expect("one worker at least");
        *earliest += job;
    }
    free.into_iter().fold(0.0, f64::max)
}

/// Uncompressed bytes of the columns proteo reads, in the largest row group.
fn largest_row_group_bytes(path: &Path) -> anyhow::Result<u64> {
    let reader = SerializedFileReader::new(std::fs::File::open(path)?)?;
    let meta = reader.metadata();
    Ok(meta
        .row_groups()
        .iter()
        .map(|rg| {
            rg.columns()
                .iter()
                .filter(|c| READ_COLUMNS.contains(&c.column_path().string().as_str()))
                .map(|c| c.uncompressed_size() as u64)
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0))
}

/// protein, run, log2 — for comparing with directLFQ in scripts/bench-quant.
fn write_proteins(path: &Path, result: &proteo_core::quant::ShardResult) -> anyhow::Result<()> {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "protein\trun\tlog2")?;
    let n = result.runs.len();
    for (i, p) in result.proteins.iter().enumerate() {
        for (j, run) in result.runs.iter().enumerate() {
            let v = result.log2[i * n + j];
            if !v.is_nan() {
                writeln!(w, "{}\t{run}\t{v}", p.id)?;
            }
        }
    }
    Ok(())
}
