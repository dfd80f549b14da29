//! `proteo inspect FILE [--design D]`: what the file is, which columns are used and why, and whether it reads.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use proteo_core::input::{align_samples, detect_input, read_design, read_table, Action, Detection, ReadOptions};
use proteo_core::model::{InputFormat, IntensityTable};
use serde_json::json;

#[derive(Args)]
pub struct InspectArgs {
    /// The protein table (or any file: a wrong one is named with what to upload instead).
    input: PathBuf,
    /// A design file: shows which samples it matches (and a plain matrix's sample columns are those it names).
    #[arg(long)]
    design: Option<PathBuf>,
    /// Read as this format instead of detecting it.
    #[arg(long, value_parser = crate::format_arg())]
    format: Option<InputFormat>,
    /// Print JSON (the detection, the read summary or the refusal) instead of text.
    #[arg(long)]
    json: bool,
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn names(list: &[String], max: usize) -> String {
    let shown: Vec<&str> = list.iter().take(max).map(String::as_str).collect();
    let mut out = shown.join(", ");
    if list.len() > max {
        out.push_str(&format!(" and {} more", list.len() - max));
    }
    out
}

pub fn inspect(args: &InspectArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.input).with_context(|| format!("cannot read {}", args.input.display()))?;
    let name = file_name(&args.input);
    let design = match &args.design {
        Some(p) => {
            let b = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            Some((file_name(p), read_design(&b, &file_name(p)).map_err(|e| anyhow::anyhow!("{e}"))?))
        }
        None => None,
    };
    let design_names: Option<Vec<String>> = design
        .as_ref()
        .map(|(_, d)| d.samples.iter().flat_map(|s| std::iter::once(&s.sample).chain(&s.files)).cloned().collect());
    let options = ReadOptions { format: args.format, design_samples: design_names.as_deref(), quant: None };
    let detection = match detect_input(&bytes, &name, &options) {
        Ok(d) => d,
        Err(e) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&json!({ "file": name, "error": e.to_string() }))?);
            } else {
                println!("{name}: not readable\n  {e}");
            }
            return Ok(());
        }
    };
    let read = (detection.action != Action::Refuse).then(|| read_table(&bytes, &name, &options));
    let matching = match (&read, &design) {
        (Some(Ok((table, _))), Some((design_name, design))) => {
            let shape = IntensityTable { samples: table.samples.clone(), ..IntensityTable::default() };
            Some(match align_samples(shape, design, &name, design_name, true) {
                Ok(a) if a.ignored.is_empty() => format!("all {} design samples matched", design.samples.len()),
                Ok(a) => format!(
                    "{} design samples matched; {} table samples not in the design (ignored with --samples \
                     from-design): {}",
                    design.samples.len(),
                    a.ignored.len(),
                    names(&a.ignored, 10)
                ),
                Err(e) => e.to_string(),
            })
        }
        _ => None,
    };
    if args.json {
        let mut out = json!({ "file": name, "detection": detection });
        match &read {
            Some(Ok((table, report))) => {
                out["read"] = json!(report);
                out["proteins"] = json!(table.n_proteins());
                out["samples"] = json!(table.samples);
            }
            Some(Err(e)) => out["error"] = json!(e.to_string()),
            None => {}
        }
        if let Some(m) = &matching {
            out["design"] = json!(m);
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    print_text(&name, &detection, read.as_ref(), matching.as_deref());
    Ok(())
}

fn print_text(
    name: &str,
    d: &Detection,
    read: Option<&Result<(IntensityTable, proteo_core::model::InputReport), proteo_core::input::InputError>>,
    matching: Option<&str>,
) {
    println!("{name}: {}", d.title());
    println!("  why:        {}", d.reason);
    match d.action {
        Action::Refuse => {
            println!("  refused:    {}", d.advice.as_deref().unwrap_or(""));
            return;
        }
        Action::Quantify => {
            println!(
                "  quantity:   {} (the defaults of `proteo run`; its --quantity and q-value flags change them)",
                d.quantity
            );
            println!("  note:       {}", d.advice.as_deref().unwrap_or(""));
            print_read(read, matching);
            return;
        }
        Action::Read => {}
    }
    if let Some(f) = d.format {
        println!("  reader:     --format {}", f.as_str());
    }
    let col = |c: &Option<proteo_core::input::Col>| c.as_ref().map_or("—".to_string(), |c| format!("`{}`", c.name));
    println!(
        "  protein id: {}   genes: {}   protein names: {}",
        col(&d.id_column),
        col(&d.gene_column),
        col(&d.protein_names_column)
    );
    println!(
        "  quantity:   {}{}",
        d.quantity,
        if d.log2 { " (already log2: QC skips the log2 transform)" } else { "" }
    );
    if !d.filters.is_empty() {
        let f: Vec<String> = d
            .filters
            .iter()
            .map(|f| {
                let test = match &f.test {
                    proteo_core::input::Test::Equals(t) => format!("= `{t}`"),
                    proteo_core::input::Test::NotEquals(t) => format!("≠ `{t}`"),
                    proteo_core::input::Test::Prefix(p) => format!("starts with `{p}`"),
                };
                format!("`{}` {test}", f.column.name)
            })
            .collect();
        println!("  removes:    rows where {}", f.join(", or "));
    }
    if !d.annotation_columns.is_empty() {
        let a: Vec<String> = d.annotation_columns.iter().map(|c| c.name.clone()).collect();
        println!("  annotation: {}", names(&a, 12));
    }
    if d.ignored_columns > 0 {
        println!("  ignored:    {} other columns", d.ignored_columns);
    }
    print_read(read, matching);
}

fn print_read(
    read: Option<&Result<(IntensityTable, proteo_core::model::InputReport), proteo_core::input::InputError>>,
    matching: Option<&str>,
) {
    match read {
        Some(Ok((table, r))) => {
            println!("  samples ({}): {}", table.n_samples(), names(&table.samples, 12));
            if let Some(p) = &r.precursor {
                let filters: Vec<String> = p
                    .filters
                    .iter()
                    .filter(|f| f.applied)
                    .map(|f| format!("`{}` ≤ {} removed {}", f.column, f.threshold, f.removed))
                    .collect();
                println!(
                    "  read:       {} rows → {} precursors in {} protein groups by {}; {}; {} decoys, {} without a \
                     quantity removed",
                    p.rows,
                    p.precursors,
                    p.protein_groups,
                    p.method,
                    if filters.is_empty() { "no q-value column".to_string() } else { filters.join(", ") },
                    p.removed_decoy,
                    p.removed_no_quantity
                );
                if !p.runs_without_precursors.is_empty() {
                    println!(
                        "  note:       {} runs lost every precursor to the filters: {}",
                        p.runs_without_precursors.len(),
                        names(&p.runs_without_precursors, 12)
                    );
                }
            } else {
                let mut line = format!("{} proteins from {} rows", table.n_proteins(), r.rows_read);
                for (n, what) in [
                    (r.removed_reverse, "reverse"),
                    (r.removed_contaminant, "contaminant"),
                    (r.removed_only_by_site, "only-by-site"),
                    (r.removed_not_master, "not-master"),
                    (r.short_rows_filled, "short rows filled"),
                    (r.spillover_lines_dropped, "spill-over lines dropped"),
                    (r.genes_from_ids, "genes parsed from ids"),
                ] {
                    if n > 0 {
                        line.push_str(&format!(", {n} {what}"));
                    }
                }
                println!("  read:       {line}");
            }
        }
        Some(Err(e)) => println!("  refused:    {e}"),
        None => {}
    }
    if let Some(m) = matching {
        println!("  design:     {m}");
    }
}
