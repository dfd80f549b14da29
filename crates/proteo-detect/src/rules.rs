//! The ordered rule table: the first rule whose columns match names the file. Refusals (peptide tables, DE
//! results, designs, binary files) come first, then precursor reports, then the tools' protein tables, and the
//! plain matrix last.

use std::collections::HashSet;

use crate::names::{clean_run_names, match_names, run_key};
use crate::text::is_numeric_or_missing;
use crate::{
    Action, Col, DetectError, DetectOptions, Detection, HeaderView, InputFormat, LongLayout, PrecursorKind, Removed,
    RowFilter, SampleColumn, Test,
};

/// One rule: which reader it names, what it needs (for `--format` errors), and its test.
struct Rule {
    format: Option<InputFormat>,
    requires: &'static str,
    test: fn(&Ctx<'_>) -> Option<Detection>,
}

/// In order: the first match wins.
const RULES: &[Rule] = &[
    Rule { format: None, requires: "", test: binary },
    Rule { format: None, requires: "", test: mztab },
    Rule { format: None, requires: "", test: design_file },
    Rule { format: None, requires: "", test: de_results },
    Rule {
        format: Some(InputFormat::PrecursorReport),
        requires: "`Run.Index` and `Precursor.Lib.Index` (report.parquet), or `Run`/`File.Name` and `Precursor.Id` \
                   (report.tsv), or `Precursor.Id` and run columns (pr_matrix), or AlphaDIA `precursor_idx`, `pg` and \
                   `intensity`",
        test: precursor_report,
    },
    Rule { format: None, requires: "", test: peptide_level },
    Rule {
        format: Some(InputFormat::Maxquant),
        requires:
            "`Protein IDs` and `LFQ intensity <sample>`, `Reporter intensity corrected <n>`, `Intensity <sample>` \
                   or `iBAQ <sample>` columns",
        test: maxquant,
    },
    Rule {
        format: Some(InputFormat::DiannPgMatrix),
        requires:
            "`Protein.Group` with `Protein.Names`, `Genes` or `First.Protein.Description`, then one column per run",
        test: diann_pg_matrix,
    },
    Rule {
        format: Some(InputFormat::DiannGeneMatrix),
        requires: "`Genes` as the first column, then one column per run",
        test: diann_gene_matrix,
    },
    Rule {
        format: Some(InputFormat::FragpipeProtein),
        requires: "`Protein ID` and `<sample> MaxLFQ Intensity`, `<sample> Intensity` or `<sample> Razor Intensity` \
                   columns",
        test: fragpipe_protein,
    },
    Rule {
        format: Some(InputFormat::FragpipeAbundance),
        requires: "`Index`, `NumberPSM` and `MaxPepProb`, then one column per sample",
        test: fragpipe_abundance,
    },
    Rule {
        format: Some(InputFormat::SpectronautPivot),
        requires: "`PG.ProteinGroups` (or `PG.ProteinAccessions`) and `[n] <run>.PG.Quantity` columns",
        test: spectronaut_pivot,
    },
    Rule {
        format: Some(InputFormat::SpectronautLong),
        requires: "`R.FileName` (or `R.Label`), `PG.ProteinGroups` (or `PG.ProteinAccessions`) and `PG.Quantity`",
        test: spectronaut_long,
    },
    Rule {
        format: Some(InputFormat::Alphapept),
        requires: "an unnamed first column and `<sample>_LFQ` columns",
        test: alphapept,
    },
    Rule { format: Some(InputFormat::Alphadia), requires: "`pg` as the first column", test: alphadia },
    Rule {
        format: Some(InputFormat::PdProteins),
        requires: "`Accession` and `Abundance: F<n>: <sample>` (or `Abundance <sample>`) columns",
        test: pd_proteins,
    },
    Rule { format: Some(InputFormat::Matrix), requires: "a protein id column and sample columns", test: matrix },
];

/// What `--format <format>` needs to find in the header.
pub fn rule_requirements(format: InputFormat) -> &'static str {
    RULES.iter().find(|r| r.format == Some(format)).map_or("", |r| r.requires)
}

/// Binary files recognised by their first bytes: (tool, kind).
pub fn binary_kind(magic: &[u8]) -> Option<(&'static str, &'static str)> {
    if magic.starts_with(b"PK\x03\x04") {
        Some(("Excel or zip", "workbook (.xlsx) or zip archive"))
    } else if magic.starts_with(b"\xD0\xCF\x11\xE0") {
        Some(("Excel", "workbook (.xls)"))
    } else {
        None
    }
}

pub(crate) fn run(view: &HeaderView, options: &DetectOptions<'_>) -> Result<Detection, DetectError> {
    let ctx = Ctx::new(view, options);
    match options.format {
        Some(forced) => {
            for rule in RULES.iter().filter(|r| r.format == Some(forced)) {
                if let Some(d) = (rule.test)(&ctx) {
                    return Ok(d);
                }
            }
            Err(DetectError::FormatMismatch { format: forced, needs: rule_requirements(forced).to_string() })
        }
        None => {
            for rule in RULES {
                if let Some(d) = (rule.test)(&ctx) {
                    return Ok(d);
                }
            }
            Err(DetectError::NoSamples { columns: view.columns.clone() })
        }
    }
}

struct Ctx<'a> {
    cols: &'a [String],
    rows: &'a [Vec<String>],
    magic: &'a [u8],
    parquet: bool,
    file_name: &'a str,
    design: Option<&'a [String]>,
}

impl<'a> Ctx<'a> {
    fn new(view: &'a HeaderView, options: &DetectOptions<'a>) -> Self {
        Ctx {
            cols: &view.columns,
            rows: &view.rows,
            magic: &view.magic,
            parquet: view.source == Some(crate::Source::Parquet),
            file_name: options.file_name,
            design: options.design_samples,
        }
    }

    fn col(&self, index: usize) -> Col {
        Col { index, name: self.cols[index].clone() }
    }

    /// The first column named `name` (case-insensitive).
    fn find(&self, name: &str) -> Option<Col> {
        self.cols.iter().position(|c| c.eq_ignore_ascii_case(name)).map(|i| self.col(i))
    }

    fn has(&self, name: &str) -> bool {
        self.cols.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    fn find_any(&self, names: &[&str]) -> Option<Col> {
        names.iter().find_map(|n| self.find(n))
    }

    /// Columns named `<prefix><rest>` (prefix case-insensitive, `rest` not empty), with `rest` trimmed.
    fn prefixed(&self, prefix: &str) -> Vec<(usize, String)> {
        self.cols
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let head = h.get(..prefix.len())?;
                let rest = h[prefix.len()..].trim();
                (head.eq_ignore_ascii_case(prefix) && !rest.is_empty()).then(|| (i, rest.to_string()))
            })
            .collect()
    }

    /// Columns named `<rest><suffix>` (suffix case-insensitive, `rest` not empty), with `rest` trimmed.
    fn suffixed(&self, suffix: &str) -> Vec<(usize, String)> {
        self.cols
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let cut = h.len().checked_sub(suffix.len())?;
                let tail = h.get(cut..)?;
                let rest = h[..cut].trim();
                (tail.eq_ignore_ascii_case(suffix) && !rest.is_empty()).then(|| (i, rest.to_string()))
            })
            .collect()
    }

    /// Whether a peeked data row holds a text cell (not a number, not missing) in this column.
    fn holds_text(&self, index: usize, missing: &[String]) -> bool {
        self.rows.iter().filter_map(|r| r.get(index)).any(|v| !is_numeric_or_missing(v, missing))
    }

    /// The numeric cells of this column in the peeked rows.
    fn numbers(&self, index: usize) -> impl Iterator<Item = f64> + '_ {
        self.rows.iter().filter_map(move |r| r.get(index)).filter_map(|v| v.trim().parse::<f64>().ok())
    }
}

fn samples_named(cols: &[(usize, String)], headers: &[String]) -> Vec<SampleColumn> {
    cols.iter().map(|(i, s)| SampleColumn::new(*i, &headers[*i], s.clone())).collect()
}

/// Run columns named by run files: directories and extensions removed where that keeps them unique.
fn run_samples(ctx: &Ctx<'_>, indices: &[usize]) -> Vec<SampleColumn> {
    let headers: Vec<String> = indices.iter().map(|&i| ctx.cols[i].clone()).collect();
    let names = clean_run_names(&headers);
    indices.iter().zip(names).map(|(&i, sample)| SampleColumn::new(i, &ctx.cols[i], sample)).collect()
}

/// Fills `annotation_columns` with the named columns present and counts the rest as ignored.
fn finish(ctx: &Ctx<'_>, mut d: Detection, annotation: &[&str]) -> Detection {
    let mut used: HashSet<usize> = d.samples.iter().map(|s| s.index).collect();
    for c in [&d.id_column, &d.majority_ids_column, &d.gene_column, &d.protein_names_column].into_iter().flatten() {
        used.insert(c.index);
    }
    if d.annotation_columns.is_empty() {
        for name in annotation {
            if let Some(c) = ctx.find(name) {
                if used.insert(c.index) {
                    d.annotation_columns.push(c);
                }
            }
        }
    } else {
        used.extend(d.annotation_columns.iter().map(|c| c.index));
    }
    d.ignored_columns = ctx.cols.len().saturating_sub(used.len());
    d
}

fn refuse(tool: &str, kind: &str, reason: String, advice: &str) -> Option<Detection> {
    let mut d = Detection::new(None, tool, kind, Action::Refuse);
    d.reason = reason;
    d.advice = Some(advice.to_string());
    Some(d)
}

fn filter(column: Col, test: Test, removed: Removed) -> RowFilter {
    RowFilter { column, test, removed }
}

// ---------------------------------------------------------------- refusals

fn binary(ctx: &Ctx<'_>) -> Option<Detection> {
    let (tool, kind) = binary_kind(ctx.magic)?;
    refuse(
        tool,
        kind,
        "the file starts with the bytes of a zip/Office file, not with a line of column names".into(),
        "open it in Excel and save the sheet as \"Text (Tab delimited)\" (or unzip the archive), then upload the .txt",
    )
}

fn mztab(ctx: &Ctx<'_>) -> Option<Detection> {
    let first = ctx.cols.first()?;
    if !["MTD", "COM", "PRH", "PSH", "PEH"].contains(&first.as_str()) {
        return None;
    }
    let mode = ctx
        .rows
        .iter()
        .chain(std::iter::once(&ctx.cols.to_vec()))
        .find(|r| r.len() >= 3 && r[0] == "MTD" && r[1] == "mzTab-type")
        .map(|r| r[2].clone())
        .unwrap_or_default();
    if mode.eq_ignore_ascii_case("Identification") {
        refuse(
            "mzTab",
            "identification file",
            "`MTD mzTab-type Identification`: protein and PSM identifications without abundances".into(),
            "an identification mzTab has no protein quantities to compare; upload the protein table of the tool that \
             quantified the runs (for MaxQuant, proteinGroups.txt)",
        )
    } else {
        refuse(
            "mzTab",
            "file",
            format!("`MTD` metadata lines (mzTab-type `{}`)", crate::text::excerpt(&mode)),
            "proteo does not read mzTab yet; upload the protein table of the tool that quantified the runs (MaxQuant \
             proteinGroups.txt, DIA-NN report.pg_matrix.tsv, FragPipe combined_protein.tsv, …)",
        )
    }
}

fn design_file(ctx: &Ctx<'_>) -> Option<Detection> {
    if ctx.has("source name") && ctx.cols.iter().any(|c| c.to_ascii_lowercase().starts_with("comment[")) {
        return refuse(
            "SDRF-Proteomics",
            "sample design (.sdrf.tsv)",
            "`source name` and `comment[…]` columns".into(),
            "an SDRF file describes the samples: give it as the design (--design, or \"Load a design file\" on the \
             page) together with the quantities table",
        );
    }
    if ctx.has("Run Label") && ctx.has("Condition") && ctx.has("File Name") {
        return refuse(
            "Spectronaut",
            "condition setup",
            "`Run Label`, `Condition` and `File Name` columns".into(),
            "the condition setup is a design: give it as the design (--design), with the Spectronaut report as input",
        );
    }
    let sample = ctx.find_any(&["sample", "label", "sample name", "sample_name"]);
    let group = ctx.find_any(&["group", "condition"]);
    if let (Some(s), Some(g)) = (sample, group) {
        if ctx.cols.len() <= DESIGN_MAX_COLUMNS {
            return refuse(
                "proteo",
                "design file",
                format!("`{}` and `{}` columns and no quantities", s.name, g.name),
                "this is the sample design: give it as the design (--design), with the protein table as input",
            );
        }
    }
    None
}

/// A table with sample and group columns and at most this many columns is a design, not quantities.
const DESIGN_MAX_COLUMNS: usize = 8;

fn de_results(ctx: &Ctx<'_>) -> Option<Detection> {
    if ctx.has("AVG Log2 Ratio") || ctx.has("Comparison (group1/group2)") {
        return refuse(
            "Spectronaut",
            "candidates table",
            "`AVG Log2 Ratio` / `Comparison (group1/group2)` columns: differential-expression results".into(),
            "a candidates table holds differential-expression results already; export the protein-group pivot report \
             (one PG.Quantity column per run) and upload that",
        );
    }
    if ctx.has("logFC") && (ctx.has("adj.P.Val") || ctx.has("P.Value")) {
        return refuse(
            "limma",
            "topTable",
            "`logFC` and `adj.P.Val` columns: differential-expression results".into(),
            "this holds differential-expression results already; upload the protein intensity table they came from",
        );
    }
    None
}

fn precursor_report(ctx: &Ctx<'_>) -> Option<Detection> {
    let kind = crate::precursor_kind(ctx.cols)?;
    let (file_kind, reason) = match kind {
        // The 1.9/2.x column set, which DIA-NN writes as report.parquet.
        PrecursorKind::DiannReport if ctx.has("Run.Index") && ctx.has("Precursor.Lib.Index") => (
            "report.parquet",
            format!("`Run.Index` and `Precursor.Lib.Index` in the {}", if ctx.parquet { "schema" } else { "header" }),
        ),
        PrecursorKind::DiannReport => {
            let run = ctx.find_any(&["Run", "File.Name"]).map_or_else(String::new, |c| c.name);
            (
                if ctx.parquet { "report.parquet" } else { "report.tsv" },
                format!("`{run}` and `Precursor.Id` columns: one row per precursor and run"),
            )
        }
        PrecursorKind::DiannPrMatrix => (
            "report.pr_matrix.tsv",
            "`Precursor.Id` and `Protein.Group`, then one column per run: a precursor matrix".to_string(),
        ),
        PrecursorKind::AlphadiaPrecursors => {
            let id = ctx.find_any(&["precursor_idx", "mod_seq_charge_hash"]).map_or_else(String::new, |c| c.name);
            ("precursors.tsv", format!("`{id}`, `pg` and `intensity` columns: one row per precursor and run"))
        }
        PrecursorKind::AlphadiaPrecursorMatrix => {
            ("precursor matrix", format!("`{}` as the first column: one row per precursor", ctx.cols[0]))
        }
    };
    let mut d = Detection::new(Some(InputFormat::PrecursorReport), kind.tool(), file_kind, Action::Quantify);
    d.reason = reason;
    d.precursor = Some(kind);
    d.advice = Some(format!(
        "precursor quantities are filtered (`Q.Value`, `Lib.Q.Value`, `Lib.PG.Q.Value` ≤ 0.01 where present; decoys \
         dropped) and summarised to protein groups by MaxLFQ; the same search's {} is read directly too",
        kind.protein_table()
    ));
    d.quantity = match kind {
        PrecursorKind::AlphadiaPrecursors => "`intensity` → MaxLFQ".into(),
        PrecursorKind::DiannPrMatrix | PrecursorKind::AlphadiaPrecursorMatrix => "run columns → MaxLFQ".into(),
        PrecursorKind::DiannReport if ctx.has("Precursor.Normalised") => "`Precursor.Normalised` → MaxLFQ".into(),
        PrecursorKind::DiannReport => "`Precursor.Quantity` → MaxLFQ".into(),
    };
    if let Some((run, run_is_path)) = crate::long_run_column(kind, ctx.cols) {
        let alphadia = kind == PrecursorKind::AlphadiaPrecursors;
        let protein = ctx.find_any(if alphadia { &["pg", "pg_master", "proteins"] } else { &["Protein.Group"] });
        let quantity =
            ctx.find_any(if alphadia { &["intensity"] } else { &["Precursor.Normalised", "Precursor.Quantity"] });
        if let (Some(run), Some(protein), Some(quantity)) = (ctx.find(run), protein, quantity) {
            d.long = Some(LongLayout { run, protein, quantity, run_is_path });
        }
    }
    d.samples = crate::matrix_runs(kind, ctx.cols)
        .into_iter()
        .map(|(i, run)| SampleColumn::new(i, &ctx.cols[i], run))
        .collect();
    if kind == PrecursorKind::DiannReport {
        d.version = if ctx.has("Run.Index") && ctx.has("Precursor.Lib.Index") {
            Some("1.9/2.x column set".into())
        } else if ctx.has("Precursor.Translated") {
            Some("1.8 column set".into())
        } else if ctx.has("Normalisation.Factor") {
            Some("1.9 column set".into())
        } else {
            None
        };
    }
    Some(d)
}

fn peptide_level(ctx: &Ctx<'_>) -> Option<Detection> {
    let mq = "upload proteinGroups.txt from the same MaxQuant txt folder";
    if ctx.has("Raw file") && ctx.has("Sequence") && (ctx.has("Leading razor protein") || ctx.has("Proteins")) {
        return refuse(
            "MaxQuant",
            "evidence.txt",
            "`Raw file`, `Sequence` and `Leading razor protein` columns: one row per peptide feature".into(),
            mq,
        );
    }
    if ctx.has("Sequence") && ctx.has("Leading razor protein") && ctx.has("Protein group IDs") {
        return refuse(
            "MaxQuant",
            "peptides.txt",
            "`Sequence`, `Leading razor protein` and `Protein group IDs` columns: one row per peptide".into(),
            mq,
        );
    }
    let fp = "upload combined_protein.tsv from the same FragPipe output folder";
    if ctx.has("Peptide Sequence") && (ctx.has("Protein ID") || ctx.has("Protein")) {
        let kind = if ctx.has("Charge") && (ctx.has("M/Z") || ctx.has("Modified Sequence")) {
            "combined_ion.tsv"
        } else if ctx.has("Modified Sequence") {
            "combined_modified_peptide.tsv"
        } else {
            "combined_peptide.tsv"
        };
        return refuse("FragPipe", kind, "`Peptide Sequence` and `Protein ID` columns: one row per peptide".into(), fp);
    }
    if ctx.has("Spectrum") && ctx.has("Peptide") && ctx.has("Spectrum File") {
        return refuse("FragPipe", "psm.tsv", "`Spectrum`, `Spectrum File` and `Peptide` columns".into(), fp);
    }
    if ctx.has("Annotated Sequence") {
        let kind = if ctx.has("Spectrum File") { "PSMs export" } else { "PeptideGroups export" };
        return refuse(
            "Proteome Discoverer",
            kind,
            "`Annotated Sequence` and `Master Protein Accessions` columns: one row per peptide".into(),
            "export the Proteins table instead (in Proteome Discoverer: File › Export › To Text (tab delimited), \
             Proteins)",
        );
    }
    if ctx.has("R.FileName") && ctx.has("PG.ProteinGroups") && !ctx.has("PG.Quantity") {
        return refuse(
            "Spectronaut",
            "long report without PG.Quantity",
            "`R.FileName` and `PG.ProteinGroups` but no `PG.Quantity` column".into(),
            "add PG.Quantity to the report's columns (Report perspective › schema), or export the protein-group pivot \
             report (one PG.Quantity column per run)",
        );
    }
    if (ctx.has("R.Label") || ctx.has("R.FileName")) && ctx.has("PG.ProteinGroups") && !ctx.has("PG.Quantity") {
        return refuse(
            "Spectronaut",
            "long report without PG.Quantity",
            "`R.Label` and `PG.ProteinGroups` but no `PG.Quantity` column".into(),
            "add PG.Quantity to the report's columns (Report perspective › schema), or export the protein-group pivot \
             report (one PG.Quantity column per run)",
        );
    }
    None
}

// ---------------------------------------------------------------- protein tables

const MAXQUANT_ANNOTATION: &[&str] = &[
    "Fasta headers",
    "Number of proteins",
    "Peptides",
    "Razor + unique peptides",
    "Unique peptides",
    "Sequence coverage [%]",
    "Mol. weight [kDa]",
    "Q-value",
    "Score",
];

fn maxquant(ctx: &Ctx<'_>) -> Option<Detection> {
    let id = ctx.find("Protein IDs")?;
    let lfq = ctx.prefixed("LFQ intensity ");
    let reporter = ctx.prefixed("Reporter intensity corrected ");
    let raw = ctx.prefixed("Intensity ");
    let ibaq = ctx.prefixed("iBAQ ");
    let (quantity, mut cols, why) = if !lfq.is_empty() {
        ("LFQ intensity", lfq, "LFQ intensity is MaxQuant's normalised quantity and is preferred")
    } else if !reporter.is_empty() {
        ("Reporter intensity corrected", tmt_channels(reporter), "TMT reporter intensities, isotope-corrected")
    } else if !raw.is_empty() {
        ("Intensity", raw, "no LFQ intensity columns: summed peptide intensities are used")
    } else if !ibaq.is_empty() {
        ("iBAQ", ibaq, "only iBAQ columns")
    } else {
        return None;
    };
    cols.retain(|(_, s)| !s.is_empty());
    let mut d = Detection::new(Some(InputFormat::Maxquant), "MaxQuant", "proteinGroups.txt", Action::Read);
    let contaminant = ctx.find("Potential contaminant");
    let old = ctx.find("Contaminant");
    d.version = if contaminant.is_some() {
        Some("≥ 1.5.3: `Potential contaminant` column".into())
    } else if old.is_some() {
        Some("< 1.5.3: `Contaminant` column".into())
    } else {
        None
    };
    d.reason = format!("`Protein IDs` and {} `{quantity} <sample>` columns ({why})", cols.len());
    d.quantity = quantity.to_string();
    d.samples = samples_named(&cols, ctx.cols);
    d.id_column = Some(id);
    d.majority_ids_column = ctx.find("Majority protein IDs");
    d.gene_column = ctx.find("Gene names");
    d.protein_names_column = ctx.find("Protein names");
    if let Some(c) = ctx.find("Reverse") {
        d.filters.push(filter(c, Test::Equals("+".into()), Removed::Reverse));
    }
    if let Some(c) = contaminant.or(old) {
        d.filters.push(filter(c, Test::Equals("+".into()), Removed::Contaminant));
    }
    if let Some(c) = ctx.find("Only identified by site") {
        d.filters.push(filter(c, Test::Equals("+".into()), Removed::OnlyBySite));
    }
    d.drops_spillover_lines = true;
    Some(finish(ctx, d, MAXQUANT_ANNOTATION))
}

/// TMT channels `Reporter intensity corrected <n>[ <experiment>]`: per-experiment columns when there are several
/// experiments (plexes), else the channel totals (identical for one experiment, and named by the channel alone).
fn tmt_channels(cols: Vec<(usize, String)>) -> Vec<(usize, String)> {
    let experiment = |s: &str| s.split_once(' ').map(|(_, e)| e.trim().to_string());
    let experiments: HashSet<String> = cols.iter().filter_map(|(_, s)| experiment(s)).collect();
    let bare: Vec<(usize, String)> = cols.iter().filter(|(_, s)| experiment(s).is_none()).cloned().collect();
    if experiments.len() >= 2 || bare.is_empty() {
        cols.into_iter().filter(|(_, s)| experiment(s).is_some()).collect()
    } else {
        bare
    }
}

const DIANN_ANNOTATION: &[&str] =
    &["Protein.Ids", "First.Protein.Description", "N.Sequences", "N.Proteotypic.Sequences", "Protein.Names", "Genes"];

fn diann_pg_matrix(ctx: &Ctx<'_>) -> Option<Detection> {
    let id = ctx.find("Protein.Group")?;
    if !(ctx.has("Protein.Names") || ctx.has("Genes") || ctx.has("First.Protein.Description") || ctx.has("Protein.Ids"))
    {
        return None;
    }
    let known: HashSet<String> =
        DIANN_ANNOTATION.iter().chain(&["Protein.Group"]).map(|s| s.to_ascii_lowercase()).collect();
    let runs: Vec<usize> =
        (0..ctx.cols.len()).filter(|&i| !known.contains(&ctx.cols[i].to_ascii_lowercase())).collect();
    if runs.is_empty() {
        return None;
    }
    let mut d = Detection::new(Some(InputFormat::DiannPgMatrix), "DIA-NN", "report.pg_matrix.tsv", Action::Read);
    let full_paths = runs.iter().any(|&i| ctx.cols[i].contains(['/', '\\']));
    d.version = Some(if ctx.has("N.Sequences") {
        "2.x layout: `N.Sequences` and `N.Proteotypic.Sequences`, no `Protein.Ids`".into()
    } else if full_paths {
        "1.x layout with full-path run names (as DIA-NN 1.8 writes them)".into()
    } else {
        "1.x layout with bare run names (DIA-NN 1.9, or renamed columns)".into()
    });
    d.reason =
        format!("`Protein.Group`{} and {} run columns", if ctx.has("Genes") { ", `Genes`" } else { "" }, runs.len());
    d.quantity = "protein group quantity (DIA-NN MaxLFQ)".into();
    d.samples = run_samples(ctx, &runs);
    d.id_column = Some(id);
    d.gene_column = ctx.find("Genes");
    d.protein_names_column = ctx.find("Protein.Names");
    Some(finish(ctx, d, &DIANN_ANNOTATION[..4]))
}

fn diann_gene_matrix(ctx: &Ctx<'_>) -> Option<Detection> {
    if ctx.cols.first().map(String::as_str) != Some("Genes") || ctx.has("Protein.Group") {
        return None;
    }
    let known: HashSet<String> = DIANN_ANNOTATION.iter().map(|s| s.to_ascii_lowercase()).collect();
    let runs: Vec<usize> =
        (1..ctx.cols.len()).filter(|&i| !known.contains(&ctx.cols[i].to_ascii_lowercase())).collect();
    if runs.is_empty() {
        return None;
    }
    let unique = ctx.file_name.to_ascii_lowercase().contains("unique_genes");
    let kind = if unique { "report.unique_genes_matrix.tsv" } else { "report.gg_matrix.tsv" };
    let mut d = Detection::new(Some(InputFormat::DiannGeneMatrix), "DIA-NN", kind, Action::Read);
    d.reason = format!("`Genes` as the first column and {} run columns: gene-level quantities", runs.len());
    d.quantity = if unique { "gene quantity from unique peptides" } else { "gene group quantity" }.into();
    d.samples = run_samples(ctx, &runs);
    d.id_column = Some(ctx.col(0));
    d.gene_column = Some(ctx.col(0));
    d.protein_names_column = ctx.find("Protein.Names");
    Some(finish(ctx, d, &DIANN_ANNOTATION[..4]))
}

const FRAGPIPE_ANNOTATION: &[&str] = &[
    "Protein",
    "Entry Name",
    "Protein Length",
    "Organism",
    "Protein Existence",
    "Protein Probability",
    "Top Peptide Probability",
    "Combined Total Peptides",
    "Combined Spectral Count",
    "Combined Unique Spectral Count",
    "Combined Total Spectral Count",
    "Indistinguishable Proteins",
    "Protein Group",
    "SubGroup",
    "Coverage",
    "Unique Stripped Peptides",
    "Summarized Total Spectral Count",
    "Summarized Unique Spectral Count",
];

fn fragpipe_protein(ctx: &Ctx<'_>) -> Option<Detection> {
    let id = ctx.find("Protein ID")?;
    if !(ctx.has("Protein Probability") || ctx.has("Entry Name") || ctx.has("Indistinguishable Proteins")) {
        return None;
    }
    let not_combined = |v: Vec<(usize, String)>| -> Vec<(usize, String)> {
        v.into_iter().filter(|(_, s)| !s.to_ascii_lowercase().starts_with("combined")).collect()
    };
    let maxlfq = not_combined(ctx.suffixed(" MaxLFQ Intensity"));
    let plain: Vec<(usize, String)> = not_combined(ctx.suffixed(" Intensity"))
        .into_iter()
        .filter(|(_, s)| {
            let l = s.to_ascii_lowercase();
            !["maxlfq", "razor", "total", "unique"].iter().any(|w| l.ends_with(&format!(" {w}")) || l == *w)
        })
        .collect();
    let razor = not_combined(ctx.suffixed(" Razor Intensity"));
    let total = not_combined(ctx.suffixed(" Total Intensity"));
    let (quantity, cols, version) = if !maxlfq.is_empty() {
        ("MaxLFQ Intensity", maxlfq, "IonQuant MaxLFQ layout")
    } else if !plain.is_empty() {
        ("Intensity", plain, "IonQuant layout without MaxLFQ")
    } else if !razor.is_empty() {
        ("Razor Intensity", razor, "Philosopher layout (FragPipe ≤ 14)")
    } else if !total.is_empty() {
        ("Total Intensity", total, "Philosopher layout (FragPipe ≤ 14)")
    } else {
        return None;
    };
    let mut d = Detection::new(Some(InputFormat::FragpipeProtein), "FragPipe", "combined_protein.tsv", Action::Read);
    d.version = Some(version.into());
    d.reason = format!("`Protein ID` and {} `<sample> {quantity}` columns", cols.len());
    d.quantity = quantity.into();
    d.samples = samples_named(&cols, ctx.cols);
    let flag_col = ctx.find("Protein").unwrap_or_else(|| id.clone());
    d.filters.push(filter(flag_col.clone(), Test::Prefix("contam_".into()), Removed::Contaminant));
    d.filters.push(filter(flag_col, Test::Prefix("rev_".into()), Removed::Reverse));
    d.id_column = Some(id);
    d.gene_column = ctx.find_any(&["Gene", "Gene Names"]);
    d.protein_names_column = ctx.find("Description");
    Some(finish(ctx, d, FRAGPIPE_ANNOTATION))
}

const TMT_INTEGRATOR_ANNOTATION: &[&str] =
    &["Index", "Gene", "NumberPSM", "ProteinID", "MaxPepProb", "ReferenceIntensity", "Peptide", "SequenceWindow"];

/// Largest absolute value a log2 quantity takes (2^64 is far above any MS intensity): above it, values are linear.
const LOG2_CEILING: f64 = 64.0;

fn fragpipe_abundance(ctx: &Ctx<'_>) -> Option<Detection> {
    let index = ctx.find("Index")?;
    if !(ctx.has("NumberPSM") && ctx.has("MaxPepProb")) {
        return None;
    }
    let known: HashSet<String> = TMT_INTEGRATOR_ANNOTATION.iter().map(|s| s.to_ascii_lowercase()).collect();
    let cols: Vec<usize> =
        (0..ctx.cols.len()).filter(|&i| !known.contains(&ctx.cols[i].to_ascii_lowercase())).collect();
    if cols.is_empty() {
        return None;
    }
    let name = ctx.file_name.to_ascii_lowercase();
    let ratio = crate::names::basename(&name).starts_with("ratio_");
    let reference = ctx.has("ReferenceIntensity");
    let values_log2 = cols.iter().flat_map(|&i| ctx.numbers(i)).all(|v| v.abs() < LOG2_CEILING);
    let log2 = ratio || reference || values_log2;
    let (tool, kind) = if ratio {
        ("FragPipe TMT-Integrator", "ratio_protein table")
    } else if reference {
        ("FragPipe TMT-Integrator", "abundance_protein table")
    } else {
        ("FragPipe", "abundance_protein table")
    };
    let mut d = Detection::new(Some(InputFormat::FragpipeAbundance), tool, kind, Action::Read);
    d.reason = format!(
        "`Index`, `NumberPSM`, `MaxPepProb`{} and {} sample columns",
        if reference { ", `ReferenceIntensity`" } else { "" },
        cols.len()
    );
    d.log2 = log2;
    d.quantity = match (ratio, log2) {
        (true, _) => "log2 ratio to the reference channel (already log2: no log2 transform)".into(),
        (false, true) => "log2 abundance (already log2: no log2 transform)".into(),
        (false, false) => "abundance".into(),
    };
    d.samples = samples_named(&cols.iter().map(|&i| (i, ctx.cols[i].clone())).collect::<Vec<_>>(), ctx.cols);
    let accession = ctx.find("ProteinID");
    let gene = ctx.find("Gene");
    match (&accession, &gene) {
        (Some(acc), _) => {
            d.id_column = Some(acc.clone());
            d.gene_column = gene.clone().or(Some(index.clone()));
        }
        (None, _) => {
            d.id_column = Some(index.clone());
            d.gene_column = gene.clone();
        }
    }
    Some(finish(ctx, d, &["Index", "NumberPSM", "MaxPepProb", "ReferenceIntensity"]))
}

fn spectronaut_pivot(ctx: &Ctx<'_>) -> Option<Detection> {
    let id = ctx.find_any(&["PG.ProteinGroups", "PG.ProteinAccessions"])?;
    let runs: Vec<usize> = ctx.suffixed(".PG.Quantity").into_iter().map(|(i, _)| i).collect();
    if runs.is_empty() {
        return None;
    }
    let mut d =
        Detection::new(Some(InputFormat::SpectronautPivot), "Spectronaut", "protein-group pivot report", Action::Read);
    let mangled = runs.iter().any(|&i| ctx.cols[i].starts_with("X."));
    if mangled {
        d.version = Some("column names mangled by R's check.names (`X.1..<run>`)".into());
    }
    d.reason = format!("`{}` and {} `<run>.PG.Quantity` columns", id.name, runs.len());
    d.quantity = "PG.Quantity".into();
    let headers: Vec<String> = runs.iter().map(|&i| ctx.cols[i].clone()).collect();
    let names: Vec<String> = headers.iter().map(|h| run_key(h)).collect();
    let unique = names.iter().collect::<HashSet<_>>().len() == names.len();
    d.samples = runs
        .iter()
        .zip(if unique { names } else { headers })
        .map(|(&i, sample)| SampleColumn::new(i, &ctx.cols[i], sample))
        .collect();
    d.id_column = Some(id.clone());
    d.gene_column = ctx.find("PG.Genes");
    d.protein_names_column = ctx.find_any(&["PG.ProteinDescriptions", "PG.ProteinNames"]);
    d.missing_markers = vec!["Filtered".into()];
    let run_columns: HashSet<usize> = ctx
        .cols
        .iter()
        .enumerate()
        .filter(|(_, c)| c.starts_with('[') || c.starts_with("X."))
        .map(|(i, _)| i)
        .collect();
    let taken: HashSet<usize> = [Some(&id), d.gene_column.as_ref(), d.protein_names_column.as_ref()]
        .into_iter()
        .flatten()
        .map(|c| c.index)
        .collect();
    d.annotation_columns = (0..ctx.cols.len())
        .filter(|i| ctx.cols[*i].starts_with("PG.") && !run_columns.contains(i) && !taken.contains(i))
        .map(|i| ctx.col(i))
        .collect();
    Some(finish(ctx, d, &[]))
}

fn spectronaut_long(ctx: &Ctx<'_>) -> Option<Detection> {
    let run = ctx.find_any(&["R.FileName", "R.Label", "R.Raw File Name"])?;
    let protein = ctx.find_any(&["PG.ProteinGroups", "PG.ProteinAccessions"])?;
    let quantity = ctx.find("PG.Quantity")?;
    let mut d = Detection::new(Some(InputFormat::SpectronautLong), "Spectronaut", "long report", Action::Read);
    d.reason = format!(
        "`{}`, `{}` and `PG.Quantity` columns: one row per fragment, pivoted to protein groups × runs",
        run.name, protein.name
    );
    d.quantity = "PG.Quantity (one value per protein group and run)".into();
    d.id_column = Some(protein.clone());
    d.gene_column = ctx.find("PG.Genes");
    d.protein_names_column = ctx.find_any(&["PG.ProteinDescriptions", "PG.ProteinNames"]);
    d.missing_markers = vec!["Filtered".into()];
    d.long = Some(LongLayout { run, protein, quantity, run_is_path: false });
    Some(finish(ctx, d, &[]))
}

fn alphapept(ctx: &Ctx<'_>) -> Option<Detection> {
    if ctx.cols.first().is_none_or(|c| !c.is_empty()) {
        return None;
    }
    let lfq: Vec<(usize, String)> = ctx.suffixed("_LFQ").into_iter().filter(|(i, _)| *i > 0).collect();
    if lfq.is_empty() {
        return None;
    }
    let mut d = Detection::new(Some(InputFormat::Alphapept), "AlphaPept", "results_proteins.csv", Action::Read);
    d.reason = format!("an unnamed protein column and {} `<sample>_LFQ` columns", lfq.len());
    d.quantity = "LFQ (`<sample>_LFQ`; the raw `<sample>` intensities are not used)".into();
    d.samples = samples_named(&lfq, ctx.cols);
    d.id_column = Some(ctx.col(0));
    d.filters.push(filter(ctx.col(0), Test::Prefix("REV__".into()), Removed::Reverse));
    d.filters.push(filter(ctx.col(0), Test::Prefix("CON__".into()), Removed::Contaminant));
    Some(finish(ctx, d, &[]))
}

fn alphadia(ctx: &Ctx<'_>) -> Option<Detection> {
    if ctx.cols.first().map(String::as_str) != Some("pg") {
        return None;
    }
    let known = ["genes", "proteins", "pg_master"];
    let runs: Vec<usize> = (1..ctx.cols.len()).filter(|&i| !known.contains(&ctx.cols[i].as_str())).collect();
    if runs.is_empty() {
        return None;
    }
    let mut d = Detection::new(Some(InputFormat::Alphadia), "AlphaDIA", "pg.matrix.tsv", Action::Read);
    d.reason = format!("`pg` as the first column and {} run columns", runs.len());
    d.quantity = "protein group intensity (AlphaDIA directLFQ)".into();
    d.samples = run_samples(ctx, &runs);
    d.id_column = Some(ctx.col(0));
    d.gene_column = ctx.find("genes");
    Some(finish(ctx, d, &["proteins", "pg_master"]))
}

const PD_ANNOTATION: &[&str] = &[
    "# Peptides",
    "# PSMs",
    "# Unique Peptides",
    "Coverage [%]",
    "MW [kDa]",
    "# AAs",
    "calc. pI",
    "Sum PEP Score",
    "Score Sequest HT: Sequest HT",
    "Exp. q-value: Combined",
    "Protein FDR Confidence: Combined",
];

/// TMT channel labels as PD writes them after the file id (`126`, `127N`, `134C`).
fn is_tmt_channel(s: &str) -> bool {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    digits == 3 && (s.len() == 3 || (s.len() == 4 && matches!(s.as_bytes()[3], b'N' | b'C')))
}

fn pd_proteins(ctx: &Ctx<'_>) -> Option<Detection> {
    let id = ctx.find("Accession")?;
    let mut samples = Vec::new();
    for (i, h) in ctx.cols.iter().enumerate() {
        let Some(rest) = h.strip_prefix("Abundance: ").or_else(|| h.strip_prefix("Abundance ")) else { continue };
        if rest.starts_with("Ratio") || rest.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = rest.split(": ").map(str::trim).collect();
        let (sample, group_hint) = if parts.len() >= 2 {
            let tail: Vec<&str> = parts[1].split(',').map(str::trim).collect();
            let channel = tail.first().copied().filter(|t| is_tmt_channel(t));
            let sample = match channel {
                Some(c) => format!("{} {c}", parts[0]),
                None => parts[0].to_string(),
            };
            (sample, tail.last().filter(|t| tail.len() >= 2 && !t.is_empty()).map(|t| t.to_string()))
        } else {
            (rest.trim().to_string(), None)
        };
        samples.push(SampleColumn { index: i, header: h.clone(), sample, group_hint });
    }
    if samples.is_empty() {
        return None;
    }
    let mut d = Detection::new(Some(InputFormat::PdProteins), "Proteome Discoverer", "Proteins export", Action::Read);
    d.reason = format!("`Accession` and {} `Abundance` columns", samples.len());
    d.quantity = "Abundance (not normalised or scaled)".into();
    d.samples = samples;
    d.id_column = Some(id);
    d.gene_column = ctx.find_any(&["Gene Symbol", "Gene"]);
    d.protein_names_column = ctx.find("Description");
    if let Some(c) = ctx.find("Master") {
        d.filters.push(filter(c, Test::NotEquals("IsMasterProtein".into()), Removed::NotMaster));
    }
    if let Some(c) = ctx.find("Contaminant") {
        d.filters.push(filter(c, Test::Equals("True".into()), Removed::Contaminant));
    }
    Some(finish(ctx, d, PD_ANNOTATION))
}

/// Headers (lower case, `_` and `.` read as spaces) of gene-symbol columns: the first becomes the gene column.
pub const GENE_HEADERS: &[&str] =
    &["gene", "genes", "gene name", "gene names", "gene symbol", "gene symbols", "symbol", "gene id", "genename"];
/// Headers of protein-name columns.
pub const PROTEIN_NAME_HEADERS: &[&str] =
    &["protein name", "protein names", "description", "protein description", "protein descriptions", "entry name"];
/// Headers of other per-protein columns a matrix may carry: annotation, never samples, whatever their values.
pub const ANNOTATION_HEADERS: &[&str] = &[
    "species",
    "organism",
    "taxonomy",
    "os",
    "majority protein ids",
    "protein ids",
    "fasta headers",
    "accession",
    "uniprot",
    "n precursors",
    "n peptides",
    "n proteins",
    "n psms",
    "n",
    "count",
    "nr of precursors",
    "precursors",
    "peptides",
    "unique peptides",
    "psms",
    "# peptides",
    "# psms",
    "coverage",
    "sequence coverage",
    "length",
    "protein length",
    "mw",
    "mol weight",
    "score",
    "q value",
    "qvalue",
    "pep",
];

fn normalized(header: &str) -> String {
    header.trim().to_ascii_lowercase().replace(['_', '.', '-'], " ")
}

fn matrix(ctx: &Ctx<'_>) -> Option<Detection> {
    if ctx.cols.is_empty() {
        return None;
    }
    // A pandas index written with the table: an unnamed first column of row numbers.
    let first = if ctx.cols.len() > 2
        && ctx.cols[0].is_empty()
        && !ctx.rows.is_empty()
        && ctx.rows.iter().all(|row| row.first().is_some_and(|v| v.parse::<u64>().is_ok()))
    {
        1
    } else {
        0
    };
    let mut d = Detection::new(Some(InputFormat::Matrix), "Plain", "matrix", Action::Read);
    d.id_column = Some(ctx.col(first));
    let mut annotation = Vec::new();
    let mut candidates = Vec::new();
    for i in first + 1..ctx.cols.len() {
        let name = &ctx.cols[i];
        let norm = normalized(name);
        if name.is_empty() {
            continue;
        }
        if GENE_HEADERS.contains(&norm.as_str()) && d.gene_column.is_none() {
            d.gene_column = Some(ctx.col(i));
        } else if PROTEIN_NAME_HEADERS.contains(&norm.as_str()) && d.protein_names_column.is_none() {
            d.protein_names_column = Some(ctx.col(i));
        } else {
            candidates.push(i);
        }
    }
    let why;
    match ctx.design {
        Some(design) => {
            let available: Vec<String> = candidates.iter().map(|&i| ctx.cols[i].clone()).collect();
            let matched = match_names(design, &available);
            let mut taken = vec![false; candidates.len()];
            for k in matched.iter().flatten() {
                taken[*k] = true;
            }
            for (k, &i) in candidates.iter().enumerate() {
                if taken[k] {
                    d.samples.push(SampleColumn::new(i, &ctx.cols[i], ctx.cols[i].clone()));
                } else {
                    annotation.push(ctx.col(i));
                }
            }
            why = format!(
                "{} columns named by the design are samples; the other columns are annotation",
                d.samples.len()
            );
        }
        None => {
            for &i in &candidates {
                let norm = normalized(&ctx.cols[i]);
                let known =
                    ANNOTATION_HEADERS.contains(&norm.as_str()) || norm.starts_with("n ") || norm.starts_with('#');
                if known || ctx.holds_text(i, &[]) {
                    annotation.push(ctx.col(i));
                } else {
                    d.samples.push(SampleColumn::new(i, &ctx.cols[i], ctx.cols[i].clone()));
                }
            }
            why = format!(
                "{} numeric columns are samples; text columns and columns named like annotation (species, counts, …) \
                 are annotation",
                d.samples.len()
            );
        }
    }
    if d.samples.is_empty() {
        return None;
    }
    d.reason = format!(
        "no tool's columns: `{}` is the protein id{}; {why}",
        crate::text::excerpt(&ctx.cols[first]),
        d.gene_column.as_ref().map_or(String::new(), |g| format!(", `{}` the gene", g.name))
    );
    d.quantity = "the values as given".into();
    d.annotation_columns = annotation;
    let id = d.id_column.clone()?;
    d.filters.push(filter(id.clone(), Test::Prefix("REV__".into()), Removed::Reverse));
    d.filters.push(filter(id, Test::Prefix("CON__".into()), Removed::Contaminant));
    Some(finish(ctx, d, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HeaderView;

    fn view(header: &str, rows: &[&str]) -> HeaderView {
        let text = std::iter::once(header).chain(rows.iter().copied()).collect::<Vec<_>>().join("\n");
        HeaderView::from_text(text.as_bytes(), true).unwrap()
    }

    fn detect_named(header: &str, rows: &[&str], file_name: &str) -> Detection {
        let options = DetectOptions { file_name, ..DetectOptions::default() };
        crate::detect(&view(header, rows), &options).unwrap()
    }

    fn detect(header: &str, rows: &[&str]) -> Detection {
        detect_named(header, rows, "x.tsv")
    }

    fn samples(d: &Detection) -> Vec<&str> {
        d.samples.iter().map(|s| s.sample.as_str()).collect()
    }

    #[test]
    fn every_protein_table_is_named_with_its_samples() {
        let cases: &[(&str, InputFormat, &[&str])] = &[
            ("Protein IDs\tMajority protein IDs\tGene names\tIntensity\tIntensity H1\tLFQ intensity H1\tLFQ intensity L1\tReverse\tPotential contaminant", InputFormat::Maxquant, &["H1", "L1"]),
            ("Protein IDs\tReporter intensity corrected 0\tReporter intensity corrected 1\tReporter intensity corrected 0 MS2\tReporter intensity corrected 1 MS2\tIntensity\tIntensity MS2", InputFormat::Maxquant, &["0", "1"]),
            ("Protein IDs\tReporter intensity corrected 0 P1\tReporter intensity corrected 0 P2\tReporter intensity corrected 0", InputFormat::Maxquant, &["0 P1", "0 P2"]),
            ("Protein.Group\tProtein.Ids\tProtein.Names\tGenes\tFirst.Protein.Description\t/data/run_A.mzML\t/data/run_B.mzML", InputFormat::DiannPgMatrix, &["run_A", "run_B"]),
            ("Protein.Group\tProtein.Names\tGenes\tFirst.Protein.Description\tN.Sequences\tN.Proteotypic.Sequences\tD:\\raw\\a.raw\tD:\\raw\\b.raw", InputFormat::DiannPgMatrix, &["a", "b"]),
            ("Genes\tr1.raw\tr2.raw", InputFormat::DiannGeneMatrix, &["r1", "r2"]),
            ("Protein\tProtein ID\tEntry Name\tGene\tDescription\tProtein Probability\tCombined Spectral Count\tA Spectral Count\tA Intensity\tB Intensity\tA MaxLFQ Intensity\tB MaxLFQ Intensity\tIndistinguishable Proteins", InputFormat::FragpipeProtein, &["A", "B"]),
            ("Protein\tProtein ID\tEntry Name\tGene\tProtein Probability\tA Intensity\tB Intensity", InputFormat::FragpipeProtein, &["A", "B"]),
            ("Protein Group\tSubGroup\tProtein\tProtein ID\tEntry Name\tGene Names\tProtein Probability\tS1 Razor Intensity\tS2 Razor Intensity", InputFormat::FragpipeProtein, &["S1", "S2"]),
            ("Index\tNumberPSM\tProteinID\tMaxPepProb\tReferenceIntensity\tC3L-00606-N\tC3L-00606-T", InputFormat::FragpipeAbundance, &["C3L-00606-N", "C3L-00606-T"]),
            ("PG.ProteinGroups\tPG.Genes\tPG.Qvalue\t[1] A_01.raw.PG.Quantity\t[2] A_02.raw.PG.Quantity\t[1] A_01.raw.PG.Cscore (Run-Wise)", InputFormat::SpectronautPivot, &["A_01", "A_02"]),
            ("PG.ProteinGroups\tPG.Genes\tX.1..A_01.raw.PG.Quantity\tX.2..A_02.raw.PG.Quantity", InputFormat::SpectronautPivot, &["A_01", "A_02"]),
            (",A_LFQ,B_LFQ,A,B", InputFormat::Alphapept, &["A", "B"]),
            ("pg\trun_1\trun_2", InputFormat::Alphadia, &["run_1", "run_2"]),
            ("Accession\tDescription\tGene\t# Peptides\tAbundance S1rep1\tAbundance S2rep1", InputFormat::PdProteins, &["S1rep1", "S2rep1"]),
            ("Checked\tMaster\tAccession\tDescription\tContaminant\tAbundance Ratio: (A) / (B)\tAbundance: F1: Sample, ConditionA\tAbundance: F2: Sample, ConditionB\tAbundances (Normalized): F1: Sample, ConditionA", InputFormat::PdProteins, &["F1", "F2"]),
            ("Accession\tAbundance: F1: 126, Sample, Tumor\tAbundance: F1: 127N, Sample, Normal", InputFormat::PdProteins, &["F1 126", "F1 127N"]),
            ("protein\tspecies\tn_precursors\tA_1\tA_2", InputFormat::Matrix, &["A_1", "A_2"]),
        ];
        for (header, format, expected) in cases {
            let d = detect(header, &[]);
            assert_eq!(d.format, Some(*format), "{header}: {}", d.reason);
            assert_eq!(d.action, Action::Read, "{header}");
            assert_eq!(samples(&d), *expected, "{header}");
            assert!(!d.reason.is_empty() && !d.quantity.is_empty(), "{header}");
        }
    }

    #[test]
    fn columns_and_filters_each_tool_states() {
        let d = detect("Protein IDs\tMajority protein IDs\tProtein names\tGene names\tPeptides\tLFQ intensity A\tOnly identified by site\tReverse\tContaminant", &[]);
        assert_eq!(d.gene_column.unwrap().name, "Gene names");
        assert_eq!(d.protein_names_column.unwrap().name, "Protein names");
        assert_eq!(d.annotation_columns[0].name, "Peptides");
        assert_eq!(
            d.filters.iter().map(|f| f.removed).collect::<Vec<_>>(),
            [Removed::Reverse, Removed::Contaminant, Removed::OnlyBySite]
        );
        assert!(d.version.unwrap().contains("< 1.5.3"));
        let d = detect("Protein\tProtein ID\tGene\tProtein Probability\tA MaxLFQ Intensity", &[]);
        assert_eq!(d.filters[0].test, Test::Prefix("contam_".into()));
        assert_eq!(d.id_column.unwrap().name, "Protein ID");
        let d = detect("Index\tNumberPSM\tProteinID\tMaxPepProb\tReferenceIntensity\tA\tB", &[]);
        assert!(d.log2, "TMT-Integrator writes log2");
        assert_eq!((d.id_column.unwrap().name.as_str(), d.gene_column.unwrap().name.as_str()), ("ProteinID", "Index"));
        let d = detect_named(
            "Index\tNumberPSM\tProteinID\tMaxPepProb\tReferenceIntensity\tA\tB",
            &[],
            "/x/ratio_protein_MD.tsv",
        );
        assert!(d.log2 && d.kind.starts_with("ratio_protein"));
        let d = detect("Index\tNumberPSM\tProteinID\tMaxPepProb\tA\tB", &["G\t3\tP1\t1\t123456.5\t234567"]);
        assert!(!d.log2, "linear abundances without ReferenceIntensity");
        let d = detect("PG.ProteinGroups\tPG.Genes\t[1] a.PG.Quantity", &[]);
        assert_eq!(d.missing_markers, ["Filtered"]);
        let d = detect("Protein.Group\tProtein.Names\tGenes\tN.Sequences\tN.Proteotypic.Sequences\ta", &[]);
        assert!(d.version.unwrap().starts_with("2.x"));
        assert_eq!(
            d.annotation_columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["N.Sequences", "N.Proteotypic.Sequences"]
        );
    }

    #[test]
    fn a_plain_matrix_takes_text_columns_and_count_columns_as_annotation() {
        let d = detect("id\tOrganism\tn_peptides\tS1\tS2", &["P1\tHomo sapiens\t3\t1.5\t2", "P2\tYeast\t4\tNA\t3"]);
        assert_eq!(samples(&d), ["S1", "S2"]);
        assert_eq!(
            d.annotation_columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["Organism", "n_peptides"]
        );
        // A text column of an unknown name is annotation too (found in the data rows).
        let d = detect("id\tkingdom\tS1", &["P1\tFungi\t1"]);
        assert_eq!(samples(&d), ["S1"]);
        // With a design, the design's samples are the samples and every other column is annotation.
        let design = ["S2".to_string(), "S1".to_string()];
        let options = DetectOptions { design_samples: Some(&design), ..DetectOptions::default() };
        let d = crate::detect(&view("id\tweird_numbers\tS1\tS2", &["P1\t7\t1\t2"]), &options).unwrap();
        assert_eq!(samples(&d), ["S1", "S2"]);
        assert_eq!(d.annotation_columns[0].name, "weird_numbers");
        // A pandas index is skipped.
        let d = detect("\tprotein\tS1", &["0\tP1\t1", "1\tP2\t2"]);
        assert_eq!(d.id_column.unwrap().name, "protein");
    }

    #[test]
    fn wrong_files_are_refused_with_what_they_are_and_what_to_upload() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("Peptide Sequence\tPrev AA\tNext AA\tProtein\tProtein ID\tEntry Name\tGene\tA Intensity", "FragPipe", "combined_peptide.tsv", "combined_protein.tsv"),
            ("Sequence\tLength\tModifications\tProteins\tLeading razor protein\tRaw file\tExperiment\tIntensity", "MaxQuant", "evidence.txt", "proteinGroups.txt"),
            ("Sequence\tLeading razor protein\tProtein group IDs\tIntensity A", "MaxQuant", "peptides.txt", "proteinGroups.txt"),
            ("Checked\tConfidence\tAnnotated Sequence\tMaster Protein Accessions\tAbundance: F1: Sample, A", "Proteome Discoverer", "PeptideGroups export", "Proteins table"),
            ("Condition Numerator\tCondition Denominator\tComparison (group1/group2)\tAVG Log2 Ratio\tQvalue\tProteinGroups", "Spectronaut", "candidates table", "pivot report"),
            ("MTD\tmzTab-version\t1.0.0", "mzTab", "identification file", "proteinGroups.txt"),
            ("source name\tcharacteristics[organism]\tcomment[data file]\tfactor value[disease]", "SDRF-Proteomics", "sample design (.sdrf.tsv)", "--design"),
            ("R.Label\tPG.Genes\tF.Charge\tPG.ProteinGroups\tF.PeakArea", "Spectronaut", "long report without PG.Quantity", "PG.Quantity"),
            ("logFC\tAveExpr\tt\tP.Value\tadj.P.Val\tB", "limma", "topTable", "intensity table"),
            ("sample\tgroup\treplicate", "proteo", "design file", "--design"),
        ];
        for (header, tool, kind, advice) in cases {
            let rows: &[&str] = if header.starts_with("MTD") { &["MTD\tmzTab-type\tIdentification"] } else { &[] };
            let d = detect(header, rows);
            assert_eq!(d.action, Action::Refuse, "{header}");
            assert_eq!((d.tool.as_str(), d.kind.as_str()), (*tool, *kind), "{header}");
            assert!(d.advice.as_deref().unwrap().contains(advice), "{header}: {:?}", d.advice);
        }
        let d = crate::detect(&HeaderView::from_text(b"PK\x03\x04\x14\x00", false).unwrap(), &DetectOptions::default())
            .unwrap();
        assert_eq!(d.action, Action::Refuse);
    }

    #[test]
    fn precursor_reports_go_to_the_quant_path() {
        for (header, kind) in [
            ("Run.Index\tRun\tChannel\tPrecursor.Id\tPrecursor.Lib.Index\tPrecursor.Quantity", "report.parquet"),
            ("File.Name\tRun\tProtein.Group\tPrecursor.Id\tPrecursor.Quantity\tPrecursor.Translated", "report.tsv"),
            ("Protein.Group\tProtein.Ids\tPrecursor.Id\t/a/r1.mzML\t/a/r2.mzML", "report.pr_matrix.tsv"),
            ("\tprecursor_idx\trun\tpg\tintensity\tqval", "precursors.tsv"),
            ("mod_seq_charge_hash\tr1\tr2\tgenes", "precursor matrix"),
        ] {
            let d = detect(header, &[]);
            assert_eq!(
                (d.action, d.format, d.kind.as_str()),
                (Action::Quantify, Some(InputFormat::PrecursorReport), kind),
                "{header}"
            );
        }
        let parquet = HeaderView::from_schema(vec!["Run.Index".into(), "Precursor.Lib.Index".into()]);
        assert_eq!(crate::detect(&parquet, &DetectOptions::default()).unwrap().kind, "report.parquet");
        let long = detect("\tFile.Name\tProtein.Group\tPrecursor.Id\tPrecursor.Normalised", &[]).long.unwrap();
        assert_eq!((long.run.index, long.run_is_path, long.quantity.name.as_str()), (1, true, "Precursor.Normalised"));
        let long = detect("File.Name\tRun\tProtein.Group\tPrecursor.Id\tPrecursor.Quantity", &[]).long.unwrap();
        assert_eq!((long.run.name.as_str(), long.run_is_path, long.protein.index), ("Run", false, 2));
        let pr = detect("Protein.Group\tProtein.Ids\tGenes\tPrecursor.Id\t/a/r1.mzML\tD:\\b\\r2.raw", &[]);
        assert_eq!((pr.long.clone(), samples(&pr)), (None, vec!["r1", "r2"]));
    }

    #[test]
    fn a_forced_format_runs_only_its_rule_and_says_what_it_needs() {
        let options = DetectOptions { format: Some(InputFormat::Maxquant), ..DetectOptions::default() };
        let err = crate::detect(&view("id\tS1", &[]), &options).unwrap_err();
        assert!(
            matches!(err, DetectError::FormatMismatch { format: InputFormat::Maxquant, ref needs } if needs.contains("`Protein IDs`"))
        );
        let options = DetectOptions { format: Some(InputFormat::Matrix), ..DetectOptions::default() };
        let d = crate::detect(&view("Protein IDs\tLFQ intensity A", &["P1\t5"]), &options).unwrap();
        assert_eq!((d.format, samples(&d)), (Some(InputFormat::Matrix), vec!["LFQ intensity A"]));
        for format in InputFormat::ALL {
            assert!(!rule_requirements(format).is_empty(), "{format:?}");
        }
    }

    #[test]
    fn too_many_sample_columns_are_refused_before_reading() {
        let header: String = std::iter::once("id".to_string())
            .chain((0..=crate::limits::MAX_SAMPLE_COLUMNS).map(|i| format!("s{i}")))
            .collect::<Vec<_>>()
            .join("\t");
        let err = crate::detect(&view(&header, &[]), &DetectOptions::default()).unwrap_err();
        assert_eq!(err, DetectError::TooManySamples { found: crate::limits::MAX_SAMPLE_COLUMNS + 1 });
    }
}
