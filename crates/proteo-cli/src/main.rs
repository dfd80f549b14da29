//! The `proteo` command: run QC → DE → pathway locally on files, or benchmark the stages.

mod bench;
mod bench_cohort;
mod bench_quant;
mod inspect;
mod serve;
mod spike_in;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use proteo_core::de::{DeMethod, DeParams, FTestMode, Posthoc, DEFAULT_CONTRASTS};
use proteo_core::model::{InputFormat, SampleSelection};
use proteo_core::pathway::Membership;
use proteo_core::qc::{Impute, Normalize, QcParams, DEFAULT_SEED};
use proteo_core::quant::{QuantParams, Quantity, DEFAULT_MIN_SHARED, DEFAULT_Q_VALUE};
use proteo_jobs::params::Origin;
use proteo_pipeline::contracts::{
    CameraCorrelation, CameraCorrelationName, EnrichmentMethod, DEFAULT_GSEA_PERMUTATIONS, DEFAULT_INTER_GENE_COR,
};
use proteo_pipeline::contracts::{DEFAULT_ALPHA, DEFAULT_MAX_SET_SIZE, DEFAULT_MIN_LOG2FC, DEFAULT_MIN_SET_SIZE};
use proteo_pipeline::execution::{BuiltinGeneSets, WithBuiltinGeneSets};
use proteo_pipeline::fs_store::FsStore;
use proteo_pipeline::{run_job, JobParams, JobSpec, OutputParams, PathwayParams, Progress, Stage};

/// The shipped gene-set collections (GO BP, MF, CC; CC BY 4.0, data/gene_sets/README.md), compiled into this binary
/// as indexes: a copied or `cargo install`ed `proteo` needs no file of the source tree (`builtin:` keys).
pub(crate) fn builtin_gene_sets() -> BuiltinGeneSets {
    BuiltinGeneSets::shipped(proteo_gene_sets::shipped())
}

/// The store a run reads and writes: `fs` (the output directory), answering `builtin:` keys from the shipped
/// collections.
pub(crate) fn with_shipped_gene_sets(fs: &FsStore) -> WithBuiltinGeneSets<'_, FsStore> {
    static BUILTINS: std::sync::OnceLock<BuiltinGeneSets> = std::sync::OnceLock::new();
    WithBuiltinGeneSets::new(fs, BUILTINS.get_or_init(builtin_gene_sets))
}

/// `--gene-sets`: a shipped collection (`go-bp`, `go-mf`, `go-cc`, `builtin:<name>`) as its `builtin:` key, or a
/// GMT file as its absolute path.
pub(crate) fn gene_sets_key(text: &str) -> anyhow::Result<String> {
    if let Some(c) = proteo_gene_sets::collection(text) {
        return Ok(proteo_gene_sets::builtin_key(c));
    }
    if text.starts_with(proteo_gene_sets::BUILTIN_PREFIX) {
        let names: Vec<String> =
            proteo_gene_sets::COLLECTIONS.iter().map(|c| format!("{} ({})", c.alias, c.name)).collect();
        anyhow::bail!("--gene-sets {text}: no such shipped collection; the shipped ones are {}", names.join(", "));
    }
    let path = Path::new(text);
    if !path.is_file() {
        anyhow::bail!(
            "--gene-sets {text}: cannot read it (no such file); give a GMT file (plain or gzip) or go-bp, go-mf, go-cc"
        );
    }
    absolute(path)
}

#[derive(Parser)]
#[command(name = "proteo", version, about = "Proteomics QC → differential expression → pathway enrichment, to Parquet")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline on a protein-intensity table and a design file.
    Run(Box<RunArgs>),
    /// Time every stage on a synthetic 5 000 × (9 × 4) matrix and on the bundled example; print a table.
    Bench(bench::BenchArgs),
    /// Write a synthetic matrix and design (the benchmark's data) to run or submit a job of a chosen size.
    Synthetic(bench::SyntheticArgs),
    /// Serve the web page and the cloud's HTTP API on this machine: jobs run in-process, kept in --data-dir.
    Serve(serve::ServeArgs),
    /// Score every normalization on a synthetic species mix with a constant background (FDP, sensitivity).
    SpikeIn(spike_in::SpikeInArgs),
    /// Say what a file is (tool, kind, version, the columns used, the quantity) and why, without running anything.
    Inspect(inspect::InspectArgs),
}

/// `--format`: every reader by name (`proteo inspect` shows which one a file gets).
pub(crate) fn format_arg() -> impl clap::builder::TypedValueParser<Value = InputFormat> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(InputFormat::ALL.map(InputFormat::as_str))
        .map(|s: String| InputFormat::parse(&s).expect("one of the possible values"))
}

#[derive(Clone, Copy, ValueEnum)]
enum SamplesArg {
    /// Every sample column of the table must be in the design, and every design sample in the table.
    All,
    /// Analyse the samples the design names; list the table's other sample columns as ignored.
    FromDesign,
}

#[derive(Clone, Copy, ValueEnum)]
enum QuantityArg {
    /// `Precursor.Normalised` where the report has it, else `Precursor.Quantity` (AlphaDIA: `intensity`), by MaxLFQ.
    Auto,
    /// `Precursor.Normalised` by MaxLFQ.
    PrecursorNormalised,
    /// `Precursor.Quantity` by MaxLFQ.
    PrecursorQuantity,
    /// The report's own `PG.MaxLFQ` per protein group and run.
    PgMaxlfq,
}

#[derive(Clone, Copy, ValueEnum)]
enum NormalizeArg {
    Median,
    Quantile,
    CyclicLoess,
    None,
}

#[derive(Clone, Copy, ValueEnum)]
enum ImputeArg {
    Perseus,
    MinProb,
    HalfMin,
    Knn,
    None,
}

#[derive(Clone, Copy, ValueEnum)]
enum MembershipArg {
    LeadingAccession,
    AnyMember,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum EnrichmentArg {
    Ora,
    Gsea,
    Camera,
}

#[derive(Clone, Copy, ValueEnum)]
enum DeArg {
    Limma,
    Welch,
    Student,
    Anova,
    WelchAnova,
}

#[derive(Clone, Copy, ValueEnum)]
enum FTestArg {
    PerProtein,
    Shared,
}

#[derive(Clone, Copy, ValueEnum)]
enum PosthocArg {
    None,
    Tukey,
}

#[derive(Args)]
pub struct RunArgs {
    /// Protein table (MaxQuant, DIA-NN, FragPipe, Spectronaut, AlphaPept, AlphaDIA, Proteome Discoverer, a plain matrix) or
    /// precursor report (DIA-NN report.parquet / report.tsv / pr_matrix, AlphaDIA precursors) quantified by MaxLFQ; see
    /// `proteo inspect`.
    input: PathBuf,
    /// Design file (CSV/TSV) with columns `sample` (or `label`) and `group` (or `condition`); optional `replicate`, `pair`, `batch`, covariates; or an SDRF file.
    #[arg(long)]
    design: PathBuf,
    /// Output directory (created); receives qc/, de/, pathway/ and summary.json.
    #[arg(long)]
    out: PathBuf,
    /// Input format; detected from the header when omitted (`proteo inspect FILE` shows what is detected).
    #[arg(long, value_parser = format_arg())]
    format: Option<InputFormat>,
    /// Which samples to analyse: all of the table's (the design must list them all), or those the design names.
    #[arg(long, value_enum, default_value = "all")]
    samples: SamplesArg,
    /// Precursor reports (DIA-NN report.parquet/.tsv, AlphaDIA precursors): the quantity that becomes the protein
    /// matrix; protein groups are quantified by MaxLFQ unless `pg-maxlfq`.
    #[arg(long, value_enum, default_value = "auto")]
    quantity: QuantityArg,
    /// Precursor reports: keep rows with run-specific precursor q-value `Q.Value` (AlphaDIA `qval`) ≤ this.
    #[arg(long, default_value_t = DEFAULT_Q_VALUE)]
    q_value: f64,
    /// Precursor reports: keep rows with `Lib.Q.Value` ≤ this (the MBR library's precursor q-value; limpa's default).
    #[arg(long, default_value_t = DEFAULT_Q_VALUE)]
    lib_q_value: f64,
    /// Precursor reports: keep rows with `Lib.PG.Q.Value` ≤ this (the MBR library's protein-group q-value).
    #[arg(long, default_value_t = DEFAULT_Q_VALUE)]
    lib_pg_q_value: f64,
    /// Precursor reports: also keep only rows with run-specific `PG.Q.Value` (AlphaDIA `pg_qval`) ≤ this [default: not applied].
    #[arg(long)]
    pg_q_value: Option<f64>,
    /// Precursor reports: also keep only rows with `Global.PG.Q.Value` ≤ this [default: not applied].
    #[arg(long)]
    global_pg_q_value: Option<f64>,
    /// Precursor reports: keep only proteotypic precursors (`Proteotypic` = 1).
    #[arg(long)]
    proteotypic_only: bool,
    /// Precursor reports: precursors two runs must share for their MaxLFQ ratio to count (1 as in iq and DIA-NN).
    #[arg(long, default_value_t = DEFAULT_MIN_SHARED)]
    min_shared: usize,
    /// The values are already log2: skip the log2 transform.
    #[arg(long)]
    log2_input: bool,
    /// Valid values a protein needs in at least one group [default: ⌊n/2⌋+1 of that group's size].
    #[arg(long)]
    min_valid: Option<usize>,
    /// Normalization: subtract each sample's median; limma normalizeQuantiles; limma normalizeCyclicLoess (fast,
    /// span 0.7, 3 iterations); or none.
    #[arg(long, value_enum, default_value = "median")]
    normalize: NormalizeArg,
    /// Fit the normalization on a reference set only (e.g. a constant background): a file of ids (one per line:
    /// protein ids, accessions or gene names), `regex:<pattern>` over ids and gene names, or `species:<NAME>` from
    /// UniProt entry names such as `ALBU_HUMAN` [default: all kept proteins].
    #[arg(long, value_name = "FILE|regex:RE|species:NAME")]
    normalize_on: Option<String>,
    /// Imputation of missing values (after normalization): `perseus` = per sample N(mean − 1.8 SD, 0.3 SD);
    /// `min-prob` = imputeLCMD MinProb (per sample N(1 % quantile, median protein SD)); `half-min` = half the
    /// protein's smallest intensity; `knn` = impute.knn (k = 10); `none` = limma fits the observed values.
    #[arg(long, value_enum, default_value = "perseus")]
    impute: ImputeArg,
    /// Samples to leave out, comma-separated (e.g. the outliers a first run flagged).
    #[arg(long, value_delimiter = ',')]
    exclude_samples: Vec<String>,
    /// Seed of the imputation draws: same inputs and seed give bit-identical outputs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Differential-expression method.
    #[arg(long = "de", value_enum, default_value = "limma")]
    de: DeArg,
    /// Contrasts; `A-B` always means log2 A − log2 B. `default`: every group minus the reference group when one is
    /// given (--reference) or named like a control (control, ctrl, healthy, wt, untreated, vehicle, mock, normal,
    /// sham, dmso, baseline: whole words, any case), else all pairs. `all-pairs`: every pair as first listed − later
    /// listed in the design, except `other − reference` for pairs with such a reference. `vs:<group>`: every group
    /// minus <group>. Or a list like "B-A,C-A,(B+C)/2-A".
    #[arg(long, default_value = DEFAULT_CONTRASTS)]
    contrasts: String,
    /// The reference (control) group contrasts subtract [default: a group named like a control, else the first
    /// group of the design].
    #[arg(long)]
    reference: Option<String>,
    /// limma F test for ≥ 3 groups: `per-protein` = any difference among the groups from each protein's own fit
    /// (independent of --contrasts); `shared` = limma's classifyTestsF over the requested contrasts with the design's
    /// shared correlation (equal to limma; changes with --contrasts when values are missing).
    #[arg(long, value_enum, default_value = "per-protein")]
    f_test: FTestArg,
    /// Post-hoc test added to pairwise contrasts (column `tukey_p_value`).
    #[arg(long, value_enum, default_value = "none")]
    posthoc: PosthocArg,
    /// limma: intensity-dependent variance prior (eBayes trend = TRUE).
    #[arg(long)]
    trend: bool,
    /// limma: robust empirical Bayes (eBayes robust = TRUE).
    #[arg(long)]
    robust: bool,
    /// limma: test |log2FC| > this value instead of ≠ 0 (treat).
    #[arg(long)]
    treat_lfc: Option<f64>,
    /// limma: numeric design columns to add to the model, comma-separated (e.g. `age,bmi`).
    #[arg(long, value_delimiter = ',')]
    covariates: Vec<String>,
    /// Significance cut-off on the BH-adjusted p-value (a protein is significant when adj. p < alpha and
    /// |log2FC| ≥ --min-log2fc; the summary also counts adj. p < alpha alone).
    #[arg(long, default_value_t = DEFAULT_ALPHA)]
    alpha: f64,
    /// Minimum |log2 fold change| for a protein to count as significant.
    #[arg(long, default_value_t = DEFAULT_MIN_LOG2FC)]
    min_log2fc: f64,
    /// Gene sets: a shipped collection — `go-bp` (GO Biological Process), `go-mf` (Molecular Function), `go-cc`
    /// (Cellular Component), human, UniProt-keyed, or `builtin:<name>` — or a GMT file (plain or gzip)
    /// [default: $PROTEO_GENE_SETS, else go-bp].
    #[arg(long, value_name = "go-bp|go-mf|go-cc|FILE")]
    gene_sets: Option<String>,
    /// Enrichment methods, comma-separated: `ora` = over-representation of the significant proteins
    /// (hypergeometric, up/down/both); `camera` = limma CAMERA on the moderated t; `gsea` = preranked GSEA on the
    /// moderated t (permutations; about 0.1 s per contrast on 5 000 proteins, so not run unless asked).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "ora,camera")]
    enrichment: Vec<EnrichmentArg>,
    /// GSEA: random gene sets per set size for the null (seeded with --seed); p-values reach 1/(N+1).
    #[arg(long, default_value_t = DEFAULT_GSEA_PERMUTATIONS)]
    gsea_permutations: usize,
    /// CAMERA: the inter-gene correlation within a set, a number (limma's default 0.01) or `estimated` (per set from
    /// the model residuals, limma inter.gene.cor = NA).
    #[arg(long, default_value_t = DEFAULT_INTER_GENE_COR.to_string(), value_name = "RHO|estimated")]
    camera_cor: String,
    /// Smallest gene set tested (after intersecting with the quantified proteins).
    #[arg(long, default_value_t = DEFAULT_MIN_SET_SIZE)]
    min_set_size: usize,
    /// Largest gene set tested (after intersecting with the quantified proteins).
    #[arg(long, default_value_t = DEFAULT_MAX_SET_SIZE)]
    max_set_size: usize,
    /// Which accessions of a protein group are matched to the gene sets: the leading one, or any member. The
    /// background is the quantified groups annotated by this rule.
    #[arg(long, value_enum, default_value = "leading-accession")]
    membership: MembershipArg,
    /// Store the DE statistics with every bit (by default 11 significant digits, rel. error ≤ 7.3e-12: a third smaller).
    #[arg(long)]
    full_precision: bool,
    /// No progress lines, only the final summary.
    #[arg(long, short)]
    quiet: bool,
}

impl RunArgs {
    fn job(&self) -> anyhow::Result<JobSpec> {
        let gene_sets = match &self.gene_sets {
            Some(p) => gene_sets_key(p)?,
            None => match std::env::var("PROTEO_GENE_SETS") {
                Ok(p) => gene_sets_key(&p).context("PROTEO_GENE_SETS")?,
                Err(_) => proteo_gene_sets::builtin_key(&proteo_gene_sets::COLLECTIONS[0]),
            },
        };
        let camera_correlation = match self.camera_cor.trim() {
            "estimated" | "NA" => CameraCorrelation::Named(CameraCorrelationName::Estimated),
            text => CameraCorrelation::Fixed(text.parse().map_err(|_| {
                anyhow::anyhow!("--camera-cor {text}: give a correlation such as 0.01, or `estimated`")
            })?),
        };
        let mut methods: Vec<EnrichmentMethod> = Vec::new();
        for m in &self.enrichment {
            let m = match m {
                EnrichmentArg::Ora => EnrichmentMethod::Ora,
                EnrichmentArg::Gsea => EnrichmentMethod::Gsea,
                EnrichmentArg::Camera => EnrichmentMethod::Camera,
            };
            if !methods.contains(&m) {
                methods.push(m);
            }
        }
        let params = JobParams {
            format: self.format,
            quant: QuantParams {
                quantity: match self.quantity {
                    QuantityArg::Auto => Quantity::Auto,
                    QuantityArg::PrecursorNormalised => Quantity::PrecursorNormalised,
                    QuantityArg::PrecursorQuantity => Quantity::PrecursorQuantity,
                    QuantityArg::PgMaxlfq => Quantity::PgMaxlfq,
                },
                q_value: self.q_value,
                lib_q_value: self.lib_q_value,
                lib_pg_q_value: self.lib_pg_q_value,
                pg_q_value: self.pg_q_value,
                global_pg_q_value: self.global_pg_q_value,
                proteotypic_only: self.proteotypic_only,
                min_shared: self.min_shared,
            },
            samples: match self.samples {
                SamplesArg::All => SampleSelection::All,
                SamplesArg::FromDesign => SampleSelection::FromDesign,
            },
            qc: QcParams {
                log2_input: self.log2_input,
                min_valid: self.min_valid,
                normalize: match self.normalize {
                    NormalizeArg::Median => Normalize::Median,
                    NormalizeArg::Quantile => Normalize::Quantile,
                    NormalizeArg::CyclicLoess => Normalize::CyclicLoess,
                    NormalizeArg::None => Normalize::None,
                },
                normalize_on: self.normalize_on.as_deref().map(normalize_on_spec).transpose()?,
                impute: match self.impute {
                    ImputeArg::Perseus => Impute::Perseus,
                    ImputeArg::MinProb => Impute::MinProb,
                    ImputeArg::HalfMin => Impute::HalfMin,
                    ImputeArg::Knn => Impute::Knn,
                    ImputeArg::None => Impute::None,
                },
                seed: self.seed,
                exclude_samples: self.exclude_samples.clone(),
            },
            de: DeParams {
                method: match self.de {
                    DeArg::Limma => DeMethod::Limma,
                    DeArg::Welch => DeMethod::Welch,
                    DeArg::Student => DeMethod::Student,
                    DeArg::Anova => DeMethod::Anova,
                    DeArg::WelchAnova => DeMethod::WelchAnova,
                },
                contrasts: self.contrasts.clone(),
                reference: self.reference.clone(),
                f_test: match self.f_test {
                    FTestArg::PerProtein => FTestMode::PerProtein,
                    FTestArg::Shared => FTestMode::Shared,
                },
                posthoc: match self.posthoc {
                    PosthocArg::None => Posthoc::None,
                    PosthocArg::Tukey => Posthoc::Tukey,
                },
                trend: self.trend,
                robust: self.robust,
                treat_lfc: self.treat_lfc,
                covariates: self.covariates.clone(),
            },
            pathway: PathwayParams {
                alpha: self.alpha,
                min_log2fc: self.min_log2fc,
                gene_sets,
                min_set_size: self.min_set_size,
                max_set_size: self.max_set_size,
                membership: match self.membership {
                    MembershipArg::LeadingAccession => Membership::LeadingAccession,
                    MembershipArg::AnyMember => Membership::AnyMember,
                },
                methods,
                gsea_permutations: self.gsea_permutations,
                camera_correlation,
            },
            output: OutputParams { full_precision: self.full_precision },
        };
        params.check(Origin::Local).map_err(|e| anyhow::anyhow!("{}: {e}", flag_of(&e.field)))?;
        let gene_sets = &params.pathway.gene_sets;
        if !gene_sets.starts_with(proteo_gene_sets::BUILTIN_PREFIX) {
            std::fs::metadata(gene_sets)
                .with_context(|| format!("--gene-sets: cannot read the gene sets {gene_sets}"))?;
        }
        Ok(JobSpec {
            job_id: "local".into(),
            prefix: String::new(),
            input_key: absolute(&self.input)?,
            design_key: absolute(&self.design)?,
            params,
        })
    }
}

/// The flag that sets a `params` field, for the CLI's refusal sentences.
fn flag_of(field: &str) -> &str {
    match field {
        "pathway.alpha" => "--alpha",
        "pathway.min_log2fc" => "--min-log2fc",
        "pathway.min_set_size" => "--min-set-size",
        "pathway.max_set_size" => "--max-set-size",
        "pathway.gene_sets" => "--gene-sets",
        "pathway.methods" => "--enrichment",
        "pathway.gsea_permutations" => "--gsea-permutations",
        "pathway.camera_correlation" => "--camera-cor",
        "de.treat_lfc" => "--treat-lfc",
        "de.contrasts" => "--contrasts",
        "de.covariates" => "--covariates",
        "qc.min_valid" => "--min-valid",
        "quant.q_value" => "--q-value",
        "quant.lib_q_value" => "--lib-q-value",
        "quant.lib_pg_q_value" => "--lib-pg-q-value",
        "quant.pg_q_value" => "--pg-q-value",
        "quant.global_pg_q_value" => "--global-pg-q-value",
        "quant.min_shared" => "--min-shared",
        other => other,
    }
}

/// `--normalize-on`: `regex:` and `species:` pass as they are; anything else is an id-list file, made absolute.
fn normalize_on_spec(spec: &str) -> anyhow::Result<String> {
    if spec.starts_with("regex:") || spec.starts_with("species:") {
        return Ok(spec.to_string());
    }
    let path = Path::new(spec.strip_prefix("file:").unwrap_or(spec));
    if !path.is_file() {
        anyhow::bail!("--normalize-on {spec}: no such file; give an id-list file, regex:<pattern> or species:<NAME>");
    }
    absolute(path)
}

fn absolute(p: &Path) -> anyhow::Result<String> {
    let abs = std::path::absolute(p).with_context(|| format!("cannot resolve path {}", p.display()))?;
    Ok(abs.to_string_lossy().into_owned())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("PROTEO_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Synthetic(args) => bench::synthetic(&args),
        Command::Serve(args) => serve::serve(&args),
        Command::SpikeIn(args) => spike_in::spike_in(&args),
        Command::Inspect(args) => inspect::inspect(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    let job = args.job()?;
    job.params.pathway.check().map_err(|e| anyhow::anyhow!(e))?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let fs = FsStore::new(&args.out);
    let store = with_shipped_gene_sets(&fs);
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(100) };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>26} [{bar:30}] {pos:>3}% {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let started = Instant::now();
    let stage_start = std::sync::Mutex::new((Stage::Ingest, Instant::now()));
    let on_progress = |p: Progress| {
        let mut cur = stage_start.lock().expect("lock");
        if cur.0 != p.stage {
            *cur = (p.stage, Instant::now());
        }
        // The analysis stages, then the report.
        let n = Stage::ALL.iter().position(|s| *s == p.stage).unwrap_or(Stage::ALL.len()) + 1;
        let of = Stage::ALL.len() + 1;
        bar.set_prefix(format!("[{n}/{of}] {}", p.stage.title()));
        bar.set_position(p.percent as u64);
        bar.set_message(p.message.clone());
        if p.percent == 100 {
            bar.println(format!(
                "[{n}/{of}] {:<24} done in {:>6.2} s  {}",
                p.stage.title(),
                cur.1.elapsed().as_secs_f64(),
                p.message
            ));
        }
    };
    let outcome = pollster::block_on(run_job(&store, &job, &proteo_report::HtmlReport, &on_progress));
    bar.finish_and_clear();
    let run = outcome.map_err(|(stage, e)| anyhow::anyhow!("{} failed: {e}", stage.title()))?;
    print_summary(&run.results, &args.out, started.elapsed().as_secs_f64(), run.report_key.is_some());
    // The statistics are complete: the run succeeds, and says what is missing.
    if let Some(warning) = &run.warning {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

fn s(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or("")
}

fn print_summary(results: &[proteo_pipeline::StageResult], out: &Path, seconds: f64, report: bool) {
    let get = |stage: Stage| results.iter().find(|r| r.stage == stage).map(|r| &r.summary);
    println!();
    if let Some(ingest) = get(Stage::Ingest) {
        let i = &ingest["input"];
        println!("Input: {} — {}", i["detected"].as_str().unwrap_or(""), i["intensity_columns"].as_str().unwrap_or(""));
        let mut removed = format!(
            "{} rows; removed {} reverse, {} contaminants, {} only-by-site",
            i["rows_read"], i["removed_reverse"], i["removed_contaminant"], i["removed_only_by_site"]
        );
        for (key, what) in [
            ("removed_not_master", "not master protein"),
            ("short_rows_filled", "short rows filled"),
            ("spillover_lines_dropped", "spill-over lines dropped"),
            ("genes_from_ids", "gene names taken from the ids"),
        ] {
            if i[key].as_u64().unwrap_or(0) > 0 {
                removed.push_str(&format!(", {} {what}", i[key]));
            }
        }
        if !i["precursor"].is_object() {
            println!("  {removed}");
        }
        if let Some(a) = i["annotation_columns"].as_array().filter(|a| !a.is_empty()) {
            let names: Vec<&str> = a.iter().filter_map(|v| v.as_str()).collect();
            println!("  annotation kept: {}", names.join(", "));
        }
        if i["samples_ignored_count"].as_u64().unwrap_or(0) > 0 {
            let names: Vec<&str> =
                i["samples_ignored"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
            println!("  {} samples not in the design, ignored: {}", i["samples_ignored_count"], names.join(", "));
        }
        let p = &i["precursor"];
        if p.is_object() {
            let filters: Vec<String> = p["filters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| match f["applied"].as_bool() {
                    Some(true) => format!("{} ≤ {} removed {}", s(&f["column"]), f["threshold"], f["removed"]),
                    _ => format!("{} (no such column)", s(&f["column"])),
                })
                .collect();
            println!(
                "  Precursors: {} runs, {} precursors, {} protein groups by {}; {}; removed {} decoys, {} without a \
                 quantity{}",
                p["runs"],
                p["precursors"],
                p["protein_groups"],
                s(&p["method"]),
                filters.join(", "),
                p["removed_decoy"],
                p["removed_no_quantity"],
                if p["removed_not_proteotypic"].as_u64().unwrap_or(0) > 0 {
                    format!(", {} not proteotypic", p["removed_not_proteotypic"])
                } else {
                    String::new()
                }
            );
            if let Some(gone) = p["runs_without_precursors"].as_array().filter(|g| !g.is_empty()) {
                println!("  {} runs lost every precursor to the filters and are not in the matrix", gone.len());
            }
        }
    }
    if let Some(qc) = get(Stage::Qc) {
        let c = &qc["qc"];
        println!(
            "QC: {} of {} proteins kept ({} removed by the valid-value filter), {} values imputed",
            c["proteins_kept"], c["proteins_in"], c["removed_by_valid_filter"], c["values_imputed"]
        );
        let n = &qc["normalization"];
        println!(
            "  normalization: {} on {} ({} proteins)",
            n["method"].as_str().unwrap_or(""),
            n["set"].as_str().unwrap_or(""),
            n["proteins"]
        );
        for o in qc["outliers"].as_array().into_iter().flatten() {
            println!(
                "  outlier sample {}: {} (drop it with --exclude-samples {})",
                o["sample"].as_str().unwrap_or(""),
                o["reason"].as_str().unwrap_or(""),
                o["sample"].as_str().unwrap_or("")
            );
        }
    }
    if let Some(de) = get(Stage::De) {
        println!("DE: {}", de["model"].as_str().unwrap_or(""));
        println!("  reference group: {}", de["reference"].as_str().unwrap_or(""));
        println!("  contrasts: {} (A-B = log2 A − log2 B)", de["contrast_rule"].as_str().unwrap_or(""));
        println!("  {}", de["significance_rule"].as_str().unwrap_or(""));
        for c in de["contrasts"].as_array().into_iter().flatten() {
            println!(
                "  {:<28} {:>5} significant ({} up, {} down); {} at adj. p alone",
                c["contrast"].as_str().unwrap_or(""),
                c["significant"],
                c["up"],
                c["down"],
                c["adj_p_significant"]
            );
        }
        if let Some(f) = de["f_test_significant"].as_u64() {
            println!(
                "  {:<28} {:>5} at adj. p alone ({})",
                "F test (any difference)",
                f,
                de["f_test"].as_str().unwrap_or("")
            );
        }
    }
    if let Some(pw) = get(Stage::Pathway) {
        println!(
            "Pathways: {} ({} gene sets, {} tested); background = {}",
            pw["gene_sets_title"].as_str().or(pw["gene_sets"].as_str()).unwrap_or(""),
            pw["terms"],
            pw["sets_tested"],
            pw["background_rule"].as_str().unwrap_or("")
        );
        for s in pw["selections"].as_array().into_iter().flatten() {
            if let Some(term) = s["top_term"].as_str() {
                println!(
                    "  {:<28} {:<5} {:>3} terms; top: {}",
                    s["contrast"].as_str().unwrap_or(""),
                    s["direction"].as_str().unwrap_or(""),
                    s["terms_significant"],
                    term
                );
            }
        }
        for (method, title) in [("camera", "CAMERA"), ("gsea", "GSEA")] {
            for c in pw[method]["contrasts"].as_array().into_iter().flatten() {
                println!(
                    "  {:<28} {:<6} {:>3} sets at adj. p < alpha; top up: {}; top down: {}",
                    c["contrast"].as_str().unwrap_or(""),
                    title,
                    c["sets_significant"],
                    c["top_up"].as_str().unwrap_or("—"),
                    c["top_down"].as_str().unwrap_or("—")
                );
            }
        }
    }
    if report {
        println!(
            "Outputs in {} ({seconds:.2} s); open {} in a browser",
            out.display(),
            out.join("report.html").display()
        );
    } else {
        println!("Outputs in {} ({seconds:.2} s); no report.html (see the warning)", out.display());
    }
}
