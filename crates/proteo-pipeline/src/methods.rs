//! The methods paragraph of a run, written from the job summary: what a paper can cite, with every parameter as
//! applied and the counts each step removed.

use serde_json::Value;

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The methods paragraph for a job summary (`parameters`, `versions` and the per-stage summaries of
/// [`crate::stages::write_job_summary`]).
pub fn methods_text(summary: &Value) -> String {
    let params = &summary["parameters"];
    let st = &summary["stages"];
    let (ingest, qc, de, pw) = (&st["ingest"], &st["qc"], &st["de"], &st["pathway"]);
    let input = &ingest["input"];
    let mut out = Vec::new();
    out.push(format!(
        "Protein intensities ({}, {} format{}; {} rows read) were analysed with proteo {}.",
        text(&summary["input"]),
        text(&input["format"]),
        match text(&input["intensity_columns"]).as_str() {
            "" => String::new(),
            cols => format!(", {cols} columns"),
        },
        count(&input["rows_read"]),
        text(&summary["versions"]["proteo"]),
    ));
    if text(&input["format"]) == "maxquant" {
        out.push(format!(
            "Rows flagged as reverse ({}), potential contaminant ({}) or only identified by site ({}) were removed.",
            count(&input["removed_reverse"]),
            count(&input["removed_contaminant"]),
            count(&input["removed_only_by_site"])
        ));
    }
    let excluded: Vec<String> = ingest["excluded_samples"].as_array().into_iter().flatten().map(text).collect();
    if !excluded.is_empty() {
        out.push(format!("Samples {} were excluded before analysis.", excluded.join(", ")));
    }
    let c = &qc["qc"];
    let rule = match params["qc"]["min_valid"].as_u64() {
        Some(n) => format!("{n}"),
        None => "⌊n/2⌋+1 (n = group size)".to_string(),
    };
    let log2 = if params["qc"]["log2_input"].as_bool().unwrap_or(false) {
        "Values were taken as log2 intensities"
    } else {
        "Intensities were log2-transformed with zeros treated as missing"
    };
    out.push(format!(
        "{log2}; proteins with at least {rule} valid values in at least one group were kept ({} of {}; {} removed by this filter).",
        count(&c["proteins_kept"]),
        count(&c["proteins_in"]),
        count(&c["removed_by_valid_filter"])
    ));
    let norm = &qc["normalization"];
    let method = match text(&norm["method"]).as_str() {
        "median" => "subtracting each sample's median log2 intensity".to_string(),
        "quantile" => "quantile normalization (limma normalizeQuantiles)".to_string(),
        "cyclic-loess" => {
            "cyclic loess (limma normalizeCyclicLoess, method \"fast\", span 0.7, 3 iterations)".to_string()
        }
        _ => String::new(),
    };
    if method.is_empty() {
        out.push("No between-sample normalization was applied.".into());
    } else {
        out.push(format!(
            "Samples were normalized by {method}, fitted on {} ({} proteins).",
            text(&norm["set"]),
            count(&norm["proteins"])
        ));
    }
    let outliers: Vec<String> = qc["outliers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| format!("{} ({})", text(&o["sample"]), text(&o["reason"])))
        .collect();
    if outliers.is_empty() {
        out.push(format!("No sample was flagged as an outlier ({}).", text(&qc["outlier_rule"])));
    } else {
        out.push(format!(
            "Flagged as outliers ({}): {}; they were kept unless listed as excluded.",
            text(&qc["outlier_rule"]),
            outliers.join("; ")
        ));
    }
    let imputed = count(&c["values_imputed"]);
    out.push(format!(
        "Missing values were imputed after normalization ({}){}.",
        text(&qc["imputation"]),
        if imputed > 0 {
            format!(" ({imputed} values, random seed {})", text(&params["qc"]["seed"]))
        } else {
            String::new()
        }
    ));
    out.push(format!(
        "Differential expression: {} on {} proteins; reference group {}; contrasts: {} (A-B = log2 A − log2 B); Benjamini–Hochberg adjustment within each contrast; {}.",
        text(&de["model"]),
        count(&de["proteins_tested"]),
        text(&de["reference"]),
        text(&de["contrast_rule"]),
        text(&de["significance_rule"])
    ));
    if !de["f_test"].is_null() {
        out.push(format!(
            "The F test ({}) was adjusted by Benjamini–Hochberg over proteins; {} proteins had adjusted p < {}.",
            text(&de["f_test"]),
            count(&de["f_test_significant"]),
            text(&params["pathway"]["alpha"])
        ));
    }
    let ran = |m: &str| {
        // Summaries written before the methods were selectable ran ORA only.
        pw["methods"].as_array().map_or(m == "ora", |a| a.iter().any(|v| v.as_str() == Some(m)))
    };
    if !pw.is_null() && !pw["gene_sets"].is_null() && ran("ora") {
        out.push(format!(
            "Over-representation of the gene sets {} among the significant proteins (up, down and both, per contrast) was tested with the hypergeometric test against a background of the {} quantified proteins with at least one annotation ({} of {} quantified; a protein group counts as annotated by {}), sets of {}–{} annotated members, Benjamini–Hochberg over the tested sets.",
            text(&pw["gene_sets"]),
            count(&pw["background_annotated"]),
            count(&pw["background_annotated"]),
            count(&pw["background"]),
            text(&pw["membership"]),
            text(&params["pathway"]["min_set_size"]),
            text(&params["pathway"]["max_set_size"]),
        ));
    }
    if !pw.is_null() && ran("camera") {
        out.push(format!(
            "Competitive gene-set tests used limma CAMERA (Wu & Smyth, Nucleic Acids Res. 2012) on each contrast's moderated t statistics over the {} sets ({}–{} proteins with a statistic) of {}, with the {}; two-sided p-values, Benjamini–Hochberg over the tested sets per contrast.",
            count(&pw["sets_tested"]),
            text(&params["pathway"]["min_set_size"]),
            text(&params["pathway"]["max_set_size"]),
            text(&pw["gene_sets"]),
            text(&pw["camera"]["correlation"]),
        ));
    }
    if !pw.is_null() && ran("gsea") {
        out.push(format!(
            "Preranked gene-set enrichment analysis (Subramanian et al., PNAS 2005; weighted Kolmogorov–Smirnov statistic, weight 1, as gseapy prerank) ranked proteins by each contrast's moderated t; p-values came from {} random gene sets per set size (ChaCha8 random stream, seed {}; p = (b + 1)/(m + 1) over null scores of the same sign), NES divides the enrichment score by the mean null score of its sign; Benjamini–Hochberg over the tested sets per contrast.",
            text(&pw["gsea"]["permutations"]),
            text(&pw["gsea"]["seed"]),
        ));
    }
    let mut checked = String::from("Statistics follow limma (Ritchie et al., Nucleic Acids Res. 2015) and were checked against R 4.2.2 / limma 3.54.1");
    if !pw.is_null() && ran("gsea") {
        checked.push_str(" (GSEA enrichment scores against gseapy 1.1.13)");
    }
    checked.push('.');
    out.push(checked);
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn methods_state_every_parameter_and_count() {
        let s = json!({
            "input": "proteinGroups.txt", "versions": {"proteo": "0.1.0"},
            "parameters": {"qc": {"min_valid": null, "log2_input": false, "seed": 42}, "pathway": {"alpha": 0.05, "min_set_size": 10, "max_set_size": 500}},
            "stages": {
                "ingest": {"input": {"format": "maxquant", "intensity_columns": "LFQ intensity", "rows_read": 1459,
                           "removed_reverse": 3, "removed_contaminant": 20, "removed_only_by_site": 5}, "excluded_samples": []},
                "qc": {"qc": {"proteins_kept": 705, "proteins_in": 1400, "removed_by_valid_filter": 695, "values_imputed": 120},
                       "normalization": {"method": "median", "set": "HUMAN proteins (`_HUMAN` entry names)", "proteins": 600},
                       "imputation": "Perseus-style", "outlier_rule": "robust z < -3",
                       "outliers": [{"sample": "N5", "reason": "identified proteins 50"}]},
                "de": {"model": "limma lmFit ~ 0 + group + eBayes", "proteins_tested": 705, "reference": "`Ctrl` (its name says control)",
                       "contrast_rule": "each group − reference group Ctrl", "significance_rule": "significant = BH-adjusted p < 0.05 and |log2FC| ≥ 1",
                       "f_test": "per protein", "f_test_significant": 88},
                "pathway": {"gene_sets": "go_bp.gmt.gz", "background_annotated": 650, "background": 705, "membership": "its leading accession"}
            }
        });
        let m = methods_text(&s);
        for needle in [
            "proteo 0.1.0",
            "reverse (3)",
            "705 of 1400",
            "695 removed",
            "HUMAN proteins",
            "600 proteins",
            "N5",
            "120 values, random seed 42",
            "`Ctrl`",
            "each group − reference group Ctrl",
            "88 proteins",
            "650 quantified proteins",
            "leading accession",
            "10–500",
        ] {
            assert!(m.contains(needle), "missing `{needle}` in: {m}");
        }
        assert!(!m.contains("CAMERA") && !m.contains("Kolmogorov"), "a summary without `methods` ran ORA only: {m}");
    }

    #[test]
    fn methods_name_each_enrichment_method_run_with_its_parameters() {
        let mut s = json!({
            "input": "x.tsv", "versions": {"proteo": "0.1.0"},
            "parameters": {"qc": {"seed": 7}, "pathway": {"alpha": 0.05, "min_set_size": 15, "max_set_size": 300}},
            "stages": {"pathway": {"gene_sets": "go_mf_human_uniprot", "sets_tested": 812, "methods": ["camera", "gsea"],
                "camera": {"correlation": "inter-gene correlation fixed at 0.01"},
                "gsea": {"permutations": 2000, "seed": 7}}}
        });
        let m = methods_text(&s);
        for needle in
            ["CAMERA", "812 sets", "15–300", "go_mf_human_uniprot", "fixed at 0.01", "2000 random gene sets", "seed 7"]
        {
            assert!(m.contains(needle), "missing `{needle}` in: {m}");
        }
        assert!(!m.contains("hypergeometric"), "ORA was not run: {m}");
        s["stages"]["pathway"]["methods"] = json!(["ora"]);
        s["stages"]["pathway"]["background_annotated"] = json!(600);
        let m = methods_text(&s);
        assert!(m.contains("hypergeometric") && !m.contains("CAMERA (") && !m.contains("Kolmogorov"), "{m}");
    }
}
