//! `proteo bench --cohort-de`: limma DE at cohort scale (the synthetic cohort R rebuilds exactly), time and memory.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use proteo_core::de::{run_de, DeParams};
use proteo_core::quant::synthetic::{write_report, ReportSpec, REPORT_ROW_GROUP_ROWS};
use proteo_core::synthetic::cohort_matrix;

use crate::bench::{current_memory, mb, peak_memory, reset_peak_memory};

/// Groups of the cohort (all pairs: 10 contrasts), as tests/reference/cohort_de_reference.R fits them.
const GROUPS: usize = 5;

/// `PROTEINSxSAMPLES`, e.g. `10000x1000`.
pub fn parse_size(text: &str) -> Result<(usize, usize), String> {
    let (p, s) = text.split_once(['x', 'X']).ok_or_else(|| format!("`{text}`: expected PROTEINSxSAMPLES"))?;
    let num = |v: &str| v.trim().parse::<usize>().map_err(|_| format!("`{text}`: `{v}` is not a whole number"));
    let (p, s) = (num(p)?, num(s)?);
    if p == 0 || s < 2 * GROUPS {
        return Err(format!("`{text}`: needs at least 1 protein and {} samples ({GROUPS} groups)", 2 * GROUPS));
    }
    Ok((p, s))
}

/// For each size: build the cohort, then time limma (lmFit, 10 contrasts, eBayes, moderated F, BH) once, with the
/// process's peak RSS during the fit and how far it rose above the matrix.
pub fn bench(sizes: &[(usize, usize)]) -> anyhow::Result<()> {
    println!(
        "proteo bench --cohort-de — limma, {GROUPS} groups, all 10 pairwise contrasts + moderated F + BH; one run"
    );
    println!("{:<28} {:>10} {:>10} {:>14} {:>14}", "proteins × samples", "matrix", "DE s", "peak RSS", "above matrix");
    for &(proteins, samples) in sizes {
        let (values, design) = cohort_matrix(proteins, samples, GROUPS);
        let before = current_memory();
        reset_peak_memory();
        let t = Instant::now();
        let out = run_de(&values, &design, &DeParams::default()).map_err(|e| anyhow::anyhow!("DE failed: {e}"))?;
        let secs = t.elapsed().as_secs_f64();
        let peak = peak_memory();
        let above = peak.zip(before).map(|(p, b)| mb(p.saturating_sub(b))).unwrap_or_else(|| "n/a".into());
        println!(
            "{:<28} {:>10} {:>10.3} {:>14} {:>14}",
            format!("{proteins} × {samples} ({} rows)", out.log2fc.len()),
            mb((values.len() * 8) as u64),
            secs,
            peak.map(mb).unwrap_or_else(|| "n/a".into()),
            above
        );
    }
    Ok(())
}

/// Groups of the design written beside a synthetic report (runs assigned round-robin).
const REPORT_GROUPS: usize = 4;
/// Cells without a row in the synthetic report (more often at low intensity), as `proteo bench --precursor`.
const REPORT_MISSING: f64 = 0.05;

/// `proteo synthetic --report-runs`: `report.parquet` (seed 1) and `design.tsv` in `dir`.
pub fn write_report_files(dir: &Path, runs: usize, precursors: usize) -> anyhow::Result<()> {
    if runs < 2 * REPORT_GROUPS || precursors == 0 {
        anyhow::bail!("--report-runs needs at least {} runs and --report-precursors at least 1", 2 * REPORT_GROUPS);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("report.parquet");
    let spec = ReportSpec { runs, precursors, missing: REPORT_MISSING, seed: 1, row_group_rows: REPORT_ROW_GROUP_ROWS };
    let file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let stats = write_report(&spec, std::io::BufWriter::new(file))?;
    let mut design = String::from("sample\tgroup\n");
    for r in 0..runs {
        design.push_str(&format!("{}\tG{}\n", proteo_core::quant::synthetic::run_name(r), r % REPORT_GROUPS + 1));
    }
    let design_path = dir.join("design.tsv");
    std::fs::write(&design_path, design).with_context(|| format!("cannot write {}", design_path.display()))?;
    println!(
        "DIA-NN 2.x report.parquet: {runs} runs, {precursors} precursors of {} proteins, {} rows ({:.1} MB), and \
         design.tsv ({REPORT_GROUPS} groups) in {}",
        stats.proteins,
        stats.rows,
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
        dir.display()
    );
    Ok(())
}
