//! `proteo bench`: time each stage on a synthetic matrix and on the bundled example, and print a table.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use proteo_core::de::{run_de, DeParams, Posthoc};
use proteo_core::input::{align_to_design, read_design, read_intensities};
use proteo_core::qc::{run_qc, QcParams};
use proteo_core::synthetic::{generate_with_ids, pick_ids, SyntheticData, SyntheticSpec};
use proteo_pipeline::fs_store::FsStore;
use proteo_pipeline::report::run_report;
use proteo_pipeline::{run_stage, JobParams, JobSpec, PathwayParams, Stage};

const EXAMPLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/example");

/// The shape of a synthetic matrix (`proteo bench` and `proteo synthetic` share it, so equal arguments give the
/// same matrix).
#[derive(Args)]
pub struct Shape {
    /// Proteins in the synthetic matrix.
    #[arg(long, default_value_t = 5000)]
    proteins: usize,
    /// Groups in the synthetic matrix.
    #[arg(long, default_value_t = 9)]
    groups: usize,
    /// Replicates per group in the synthetic matrix.
    #[arg(long, default_value_t = 4)]
    replicates: usize,
    /// Fraction of missing cells in the synthetic matrix (more often at low abundance).
    #[arg(long, default_value_t = 0.1)]
    missing: f64,
    /// Seed of the generator: the same arguments give the same matrix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Name the proteins `SYN00000`… (which map to no gene set) instead of real UniProt accessions drawn from the
    /// shipped GO BP gene sets (which make the pathway stage do the work it does on real data).
    #[arg(long)]
    synthetic_ids: bool,
}

impl Shape {
    /// The protein names of the matrix: real accessions unless `--synthetic-ids`.
    fn ids(&self) -> anyhow::Result<Vec<String>> {
        if self.synthetic_ids {
            return Ok(Vec::new());
        }
        uniprot_ids(self.proteins, self.seed)
    }

    fn spec(&self) -> anyhow::Result<SyntheticSpec> {
        if self.groups < 2 || self.replicates < 1 || self.proteins < 1 || !(0.0..1.0).contains(&self.missing) {
            anyhow::bail!("need --proteins ≥ 1, --groups ≥ 2, --replicates ≥ 1 and 0 ≤ --missing < 1");
        }
        Ok(SyntheticSpec {
            missing: self.missing,
            seed: self.seed,
            ..SyntheticSpec::new(self.proteins, self.groups, self.replicates)
        })
    }
}

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    shape: Shape,
    /// Repetitions per measurement; the table shows the median.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Skip the bundled example.
    #[arg(long)]
    no_example: bool,
    /// Skip the 10-group 4 000 × (10 × 3) case.
    #[arg(long)]
    no_pulldown: bool,
    /// Also run the large case: 20 000 proteins × 10 groups × 10 replicates (DE time and peak memory).
    #[arg(long)]
    large: bool,
    /// Also run cohorts of 5 000 proteins × 10 groups at these sample counts (e.g. `200,1000,2000`): each stage and
    /// the report once, with its time and peak RSS, and the size of report.html.
    #[arg(long, value_delimiter = ',')]
    cohort_samples: Vec<usize>,
    /// Keep the synthetic input (`matrix.tsv`, `design.tsv`) and its stage outputs in this directory instead of
    /// deleting them (to inspect the files, or to submit the same job elsewhere).
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Benchmark limma DE alone at cohort scale instead, at these sizes (e.g. `10000x1000,20000x5000`): the
    /// synthetic cohort of 5 groups that tests/reference/cohort_de_reference.R rebuilds in R; time and peak RSS.
    #[arg(long, value_delimiter = ',', value_parser = crate::bench_cohort::parse_size)]
    cohort_de: Vec<(usize, usize)>,
    /// Benchmark precursor quantification instead: a synthetic DIA-NN 2.x report.parquet per `--runs` entry, read
    /// (detection, projection, filters) and quantified by MaxLFQ; time, rows/s and peak memory.
    #[arg(long)]
    precursor: bool,
    /// Runs of each synthetic report (with --precursor).
    #[arg(long, value_delimiter = ',', default_value = "200,1000")]
    runs: Vec<usize>,
    /// Precursors of each synthetic report (with --precursor).
    #[arg(long, default_value_t = 40_000)]
    precursors: usize,
    /// Fraction of precursor × run cells without a row (with --precursor; more often at low intensity).
    #[arg(long, default_value_t = 0.05)]
    precursor_missing: f64,
}

#[derive(Args)]
pub struct SyntheticArgs {
    /// Directory to write `matrix.tsv` (plain matrix, linear intensities, empty = missing) and `design.tsv` to.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    shape: Shape,
    /// Write a synthetic DIA-NN 2.x `report.parquet` of this many runs instead (the real 71-column schema, snappy)
    /// with a `design.tsv` of its runs in 4 groups: a precursor report to run (or submit) at cohort size.
    #[arg(long)]
    report_runs: Option<usize>,
    /// Precursors of the `--report-runs` report.
    #[arg(long, default_value_t = 2000)]
    report_precursors: usize,
}

/// `proteo synthetic`: the benchmark's data as files, to run (or submit) a job of a chosen size.
pub fn synthetic(args: &SyntheticArgs) -> anyhow::Result<()> {
    if let Some(runs) = args.report_runs {
        return crate::bench_cohort::write_report_files(&args.out, runs, args.report_precursors);
    }
    let data = generate_with_ids(&args.shape.spec()?, &args.shape.ids()?);
    write_synthetic(&args.out, &data)?;
    println!(
        "{} proteins × {} groups × {} replicates ({} with a real effect) in {}",
        args.shape.proteins,
        args.shape.groups,
        args.shape.replicates,
        data.de_proteins.len(),
        args.out.display()
    );
    Ok(())
}

/// `n` UniProt accessions of the shipped GO BP gene sets (every key of the file, sorted, then a seeded shuffle).
fn uniprot_ids(n: usize, seed: u64) -> anyhow::Result<Vec<String>> {
    let (name, bytes) = proteo_gene_sets::shipped()[0];
    let sets = proteo_gene_sets::GeneSetIndex::new(bytes::Bytes::from_static(bytes), name)?;
    let keys: Vec<String> = (0..sets.n_keys() as u32).map(|k| sets.key(k).to_string()).collect();
    let ids = pick_ids(&keys, n, seed);
    if ids.len() < n {
        anyhow::bail!("the shipped gene sets have {} accessions; use --synthetic-ids for {n} proteins", ids.len());
    }
    Ok(ids)
}

/// `matrix.tsv` and `design.tsv` of `data` in `dir` (created if missing).
fn write_synthetic(dir: &std::path::Path, data: &SyntheticData) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, bytes) in [("matrix.tsv", &data.matrix_tsv), ("design.tsv", &data.design_tsv)] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Peak resident memory since the last [`reset_peak_memory`], in bytes (Linux `VmHWM`); `None` elsewhere.
pub(crate) fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

pub(crate) fn current_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Reset the kernel's peak-RSS counter of this process (writing 5 to clear_refs, Linux ≥ 4.0).
pub(crate) fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub(crate) fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    (median(times), last.expect("at least one rep"))
}

fn ms(d: Duration) -> String {
    format!("{:>10.1}", d.as_secs_f64() * 1e3)
}

pub fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    if !args.cohort_de.is_empty() {
        return crate::bench_cohort::bench(&args.cohort_de);
    }
    if args.precursor {
        return crate::bench_quant::bench(&args.runs, args.precursors, args.precursor_missing, args.keep.as_deref());
    }
    println!("proteo bench — single thread, release build expected; median of {} runs, milliseconds", args.reps);
    println!("{:<44} {:>10}", "measurement", "ms");
    let spec = args.shape.spec()?;
    let shape = &args.shape;
    let data = generate_with_ids(&spec, &shape.ids()?);
    let label = format!(
        "synthetic {}×({}×{}), {:.0}% missing, {} ids",
        shape.proteins,
        shape.groups,
        shape.replicates,
        shape.missing * 100.0,
        if shape.synthetic_ids { "SYN" } else { "UniProt" }
    );
    let dir = match &args.keep {
        Some(d) => d.clone(),
        None => tempdir()?,
    };
    write_synthetic(&dir, &data)?;
    let tukey_params = DeParams { posthoc: Posthoc::Tukey, ..Default::default() };
    let kept_out = args.keep.as_ref().map(|d| d.join("out"));
    stage_rows(&label, &dir, "matrix.tsv", "design.tsv", args.reps, tukey_params, kept_out.as_deref())?;

    // The DE engine alone, on the QC'd matrix, split into its parts.
    let (table, _) = read_intensities(&data.matrix_tsv, "matrix.tsv", None)?;
    let design = read_design(&data.design_tsv, "design.tsv")?;
    let table = align_to_design(table, &design, "matrix.tsv", "design.tsv")?;
    let qc = run_qc(&table, &design, &QcParams::default(), None)?;
    let no_impute =
        run_qc(&table, &design, &QcParams { impute: proteo_core::qc::Impute::None, ..Default::default() }, None)?;
    let limma = DeParams::default();
    let tukey = DeParams { posthoc: Posthoc::Tukey, ..Default::default() };
    let (d, out) = time(args.reps, || run_de(&qc.matrix.values, &design, &limma).expect("de"));
    println!("{:<44} {}", format!("  DE limma all-pairs ({}) + F + BH", out.contrasts.len()), ms(d));
    let (d, _) = time(args.reps, || run_de(&qc.matrix.values, &design, &tukey).expect("de"));
    println!("{:<44} {}", "  DE limma + F + Tukey HSD + BH", ms(d));
    let (d, _) = time(args.reps, || run_de(&no_impute.matrix.values, &design, &tukey).expect("de"));
    println!("{:<44} {}", "  same, unimputed (missing values kept)", ms(d));

    if !args.no_pulldown {
        // The issue-18 pulldown case: 10 groups × 3 replicates, 4 000 proteins, all 45 pairs.
        let pulldown = SyntheticSpec { seed: shape.seed, ..SyntheticSpec::new(4000, 10, 3) };
        let ids = if shape.synthetic_ids { Vec::new() } else { uniprot_ids(4000, shape.seed)? };
        let dir = tempdir()?.join("pulldown");
        write_synthetic(&dir, &generate_with_ids(&pulldown, &ids))?;
        stage_rows(
            "synthetic 4000×(10×3), 10% missing",
            &dir,
            "matrix.tsv",
            "design.tsv",
            args.reps,
            DeParams::default(),
            None,
        )?;
        std::fs::remove_dir_all(&dir).ok();
    }

    let ex = PathBuf::from(EXAMPLE_DIR);
    if !args.no_example && !ex.join("proteinGroups.txt").is_file() {
        println!("bundled example: not at {} (this binary runs outside its checkout); skipped", ex.display());
    } else if !args.no_example {
        stage_rows(
            "bundled example (MaxQuant, 1459×15)",
            &ex,
            "proteinGroups.txt",
            "experimental_design.tsv",
            args.reps,
            DeParams::default(),
            None,
        )?;
    }
    if args.large {
        large_case(args.reps.min(3), shape.synthetic_ids)?;
    }
    for &n in &args.cohort_samples {
        cohort_case(n)?;
    }
    if args.keep.is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(())
}

pub(crate) fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("proteo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Proteins and groups of the cohort case.
const COHORT_PROTEINS: usize = 5000;
const COHORT_GROUPS: usize = 10;

/// 5 000 proteins × `samples` (10 groups): every stage and the report once through the stage runner, each with its
/// time and the process's peak RSS during it (VmHWM reset before each), and report.html's size.
fn cohort_case(samples: usize) -> anyhow::Result<()> {
    if samples < COHORT_GROUPS || !samples.is_multiple_of(COHORT_GROUPS) {
        anyhow::bail!("--cohort-samples needs multiples of {COHORT_GROUPS} (the cohort has {COHORT_GROUPS} groups)");
    }
    let dir = tempdir()?.join(format!("cohort-{samples}"));
    let spec = SyntheticSpec::new(COHORT_PROTEINS, COHORT_GROUPS, samples / COHORT_GROUPS);
    let data = generate_with_ids(&spec, &uniprot_ids(COHORT_PROTEINS, spec.seed)?);
    write_synthetic(&dir, &data)?;
    drop(data);
    let job = bench_job(&dir, "matrix.tsv", "design.tsv", DeParams::default());
    let fs = FsStore::new(dir.join("out"));
    let store = crate::with_shipped_gene_sets(&fs);
    println!("cohort {COHORT_PROTEINS}×{samples} ({COHORT_GROUPS} groups), 10% missing; one run each");
    println!("{:<44} {:>10} {:>12}", "", "ms", "peak RSS");
    let row = |name: &str, d: Duration, peak: Option<u64>| {
        println!("{:<44} {} {:>12}", format!("  {name}"), ms(d), peak.map(mb).unwrap_or_else(|| "n/a".into()));
    };
    let mut total = Duration::ZERO;
    for stage in Stage::ALL {
        reset_peak_memory();
        let t = Instant::now();
        pollster::block_on(run_stage(&store, &job, stage, &|_| {}))
            .map_err(|e| anyhow::anyhow!("{} failed: {e}", stage.title()))?;
        let d = t.elapsed();
        total += d;
        row(stage.title(), d, peak_memory());
    }
    reset_peak_memory();
    let t = Instant::now();
    let key = pollster::block_on(run_report(&store, &job, &proteo_report::HtmlReport))
        .and_then(|run| run.report)
        .map_err(|e| anyhow::anyhow!("report failed: {e}"))?;
    let d = t.elapsed();
    total += d;
    row("summary + report", d, peak_memory());
    println!("{:<44} {}", "  whole run", ms(total));
    let size = std::fs::metadata(dir.join("out").join(&key)).map(|m| m.len()).unwrap_or(0);
    println!("  {:<42} {:>10}", "report.html", mb(size));
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// The job the benchmark runs: `input` and `design` in `dir`, default QC, the shipped GO BP sets.
fn bench_job(dir: &std::path::Path, input: &str, design: &str, de: DeParams) -> JobSpec {
    JobSpec {
        job_id: "bench".into(),
        prefix: String::new(),
        input_key: dir.join(input).to_string_lossy().into_owned(),
        design_key: dir.join(design).to_string_lossy().into_owned(),
        params: JobParams {
            format: None,
            quant: Default::default(),
            samples: Default::default(),
            qc: QcParams::default(),
            de,
            pathway: PathwayParams::with_gene_sets(proteo_pipeline::execution::BUILTIN_GO_BP_KEY),
            output: Default::default(),
        },
    }
}

/// 20 000 proteins × 100 samples × 10 groups: every stage, then DE (limma + F + Tukey + BH) time and its peak
/// memory over the matrix.
fn large_case(reps: usize, synthetic_ids: bool) -> anyhow::Result<()> {
    let spec = SyntheticSpec::new(20_000, 10, 10);
    let ids = if synthetic_ids { Vec::new() } else { uniprot_ids(20_000, spec.seed)? };
    let data = generate_with_ids(&spec, &ids);
    let dir = tempdir()?.join("large");
    write_synthetic(&dir, &data)?;
    stage_rows(
        "synthetic 20000×(10×10), 10% missing",
        &dir,
        "matrix.tsv",
        "design.tsv",
        reps,
        DeParams::default(),
        None,
    )?;
    std::fs::remove_dir_all(&dir).ok();
    let (table, _) = read_intensities(&data.matrix_tsv, "matrix.tsv", None)?;
    let design = read_design(&data.design_tsv, "design.tsv")?;
    let table = align_to_design(table, &design, "matrix.tsv", "design.tsv")?;
    drop(data);
    let qc = run_qc(&table, &design, &QcParams::default(), None)?;
    drop(table);
    let params = DeParams { posthoc: Posthoc::Tukey, ..Default::default() };
    let (d, _) = time(reps, || run_de(&qc.matrix.values, &design, &params).expect("de"));
    println!("{:<44} {}", "  DE limma (45) + F + Tukey HSD + BH", ms(d));
    let matrix_bytes = (qc.matrix.values.len() * 8) as u64;
    if reset_peak_memory() {
        let before = current_memory().unwrap_or(0);
        let out = run_de(&qc.matrix.values, &design, &params).expect("de");
        let extra = peak_memory().unwrap_or(0).saturating_sub(before);
        println!(
            "  DE peak memory above the input: {} = {:.2}× the {} matrix ({} result rows)",
            mb(extra),
            extra as f64 / matrix_bytes as f64,
            mb(matrix_bytes),
            out.p_value.len()
        );
    }
    Ok(())
}

/// Time each stage through the real stage runner (Parquet in, Parquet out, on local disk), then list output sizes.
fn stage_rows(
    label: &str,
    dir: &std::path::Path,
    input: &str,
    design: &str,
    reps: usize,
    de: DeParams,
    keep: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let out = match keep {
        Some(d) => d.to_path_buf(),
        None => tempdir()?.join("out"),
    };
    let job = bench_job(dir, input, design, de);
    let fs = FsStore::new(&out);
    let store = crate::with_shipped_gene_sets(&fs);
    println!("{label}");
    let mut total = Duration::ZERO;
    for stage in Stage::ALL {
        // Every rep parses the gene sets, as `proteo run` and a cold Lambda do.
        let (d, r) = time(reps, || {
            proteo_pipeline::stages::forget_parsed_gene_sets();
            pollster::block_on(run_stage(&store, &job, stage, &|_| {}))
        });
        r.map_err(|e| anyhow::anyhow!("{} failed: {e}", stage.title()))?;
        total += d;
        // One more run for the stage's peak resident memory (the process's, from the RSS it started at).
        let peak = if reset_peak_memory() {
            let start = current_memory().unwrap_or(0);
            proteo_pipeline::stages::forget_parsed_gene_sets();
            pollster::block_on(run_stage(&store, &job, stage, &|_| {}))
                .map_err(|e| anyhow::anyhow!("{} failed: {e}", stage.title()))?;
            let peak = peak_memory().unwrap_or(0);
            format!("peak RSS {} (+{} over its start)", mb(peak), mb(peak.saturating_sub(start)))
        } else {
            String::new()
        };
        println!("{:<44} {}   {peak}", format!("  {}", stage.title()), ms(d));
    }
    let (d, r) = time(reps, || {
        pollster::block_on(run_report(&store, &job, &proteo_report::HtmlReport)).and_then(|run| run.report)
    });
    r.map_err(|e| anyhow::anyhow!("report failed: {e}"))?;
    total += d;
    println!("{:<44} {}", "  summary + report", ms(d));
    println!("{:<44} {}", "  whole run", ms(total));
    let (warm, r) = time(reps, || pollster::block_on(run_stage(&store, &job, Stage::Pathway, &|_| {})));
    r.map_err(|e| anyhow::anyhow!("{} failed: {e}", Stage::Pathway.title()))?;
    println!("{:<44} {}", "  pathway, gene sets already parsed (warm)", ms(warm));
    for file in ["qc/matrix.parquet", "de/results.parquet", "pathway/enrichment.parquet", "report.html"] {
        let size = std::fs::metadata(out.join(file)).map(|m| m.len()).unwrap_or(0);
        println!("  {file:<42} {:>10}", mb(size));
    }
    if keep.is_none() {
        std::fs::remove_dir_all(&out).ok();
    }
    Ok(())
}
