//! A self-contained HTML report of one run, rendered from the run's Parquet outputs and summary.json (no I/O).

mod charts;

use std::collections::HashMap;
use std::fmt::Write as _;

use bytes::Bytes;
use proteo_core::tables::{Table, TableError};
use serde_json::Value;

/// The run outputs the report reads, keyed relative to the run's prefix.
pub const REPORT_INPUTS: &[&str] = &[
    "summary.json",
    "qc/distributions.parquet",
    "qc/matrix.parquet",
    "qc/imputed.parquet",
    "qc/samples.parquet",
    "qc/pca.parquet",
    "de/results.parquet",
];

/// Outputs the report shows when the run wrote them (the F test exists for ≥ 3 groups only; each enrichment method
/// when the job ran it).
pub const OPTIONAL_REPORT_INPUTS: &[&str] =
    &["de/ftest.parquet", "pathway/enrichment.parquet", "pathway/camera.parquet", "pathway/gsea.parquet"];

/// Up to this many samples the QC charts draw one row per sample, the correlation heatmap one cell per pair of
/// samples, the PCA one label per sample, the top-protein heatmap one column per sample and the sample QC table
/// every sample; above it they summarise by group (each sample's numbers stay in `qc/samples.parquet`), so the report
/// grows with the groups, not with the samples.
pub const SAMPLE_CHART_MAX: usize = 100;

/// Proteins in the F-test table.
const TOP_F: usize = 25;
/// Proteins in the heatmap of top significant proteins.
const HEATMAP_PROTEINS: usize = 40;

/// Contrasts drawn in full (volcano, p histogram, top hits); each further one is a row of a table, so the report
/// stays within its size bound at any contrast count (all pairs of 10 groups are 45 contrasts).
pub const FULL_CONTRASTS: usize = 36;

/// Hits listed per contrast, ranked by adjusted p.
const TOP_HITS: usize = 50;
/// Volcano points labelled per contrast (the most significant hits).
const VOLCANO_LABELS: usize = 10;
/// Terms shown per contrast and direction.
const TOP_TERMS: usize = 10;

/// The bytes of each file in [`REPORT_INPUTS`], keyed as there.
#[derive(Default, Clone)]
pub struct ReportInputs {
    pub files: HashMap<String, Bytes>,
}

impl ReportInputs {
    fn get(&self, key: &str) -> Result<&Bytes, ReportError> {
        self.files.get(key).ok_or_else(|| ReportError::MissingInput { key: key.to_string() })
    }
    fn table(&self, key: &str) -> Result<Table, ReportError> {
        Ok(Table::from_parquet(self.get(key)?.clone(), key)?)
    }
}

/// The report as the report stage draws it ([`proteo_pipeline::Renderer`]): [`REPORT_INPUTS`] and
/// [`OPTIONAL_REPORT_INPUTS`] in, [`render`] out.
pub struct HtmlReport;

impl proteo_pipeline::Renderer for HtmlReport {
    fn inputs(&self) -> &'static [&'static str] {
        REPORT_INPUTS
    }
    fn optional_inputs(&self) -> &'static [&'static str] {
        OPTIONAL_REPORT_INPUTS
    }
    fn render(&self, files: &HashMap<String, Bytes>) -> Result<String, String> {
        render(&ReportInputs { files: files.clone() }).map_err(|e| e.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("report input `{key}` was not provided; the report needs every file in REPORT_INPUTS")]
    MissingInput { key: String },
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("report input `summary.json` is not valid JSON: {0}")]
    Summary(#[from] serde_json::Error),
    #[error("chart `{chart}` could not be drawn: {message}")]
    Chart { chart: String, message: String },
    #[error("the report stopped at its time limit after {done} of {total} contrasts")]
    TimedOut { done: usize, total: usize },
}

pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Each row's text from [`Table::text_indexed`]'s values and per-row indices.
fn view<'a>(values: &'a [String], index: &[u32]) -> Vec<&'a str> {
    index.iter().map(|&k| values[k as usize].as_str()).collect()
}

/// A numeric column whatever its Parquet type (float64 or uint32).
fn num(t: &Table, col: &str) -> Result<Vec<f64>, ReportError> {
    match t.f64(col) {
        Ok(v) => Ok(v),
        Err(TableError::ColumnType { .. }) => Ok(t.u32(col)?.into_iter().map(f64::from).collect()),
        Err(e) => Err(e.into()),
    }
}

fn fmt_p(p: f64) -> String {
    if !p.is_finite() {
        "NA".into()
    } else if p < 1e-3 {
        format!("{p:.2e}")
    } else {
        format!("{p:.4}")
    }
}

fn first_gene(genes: &str) -> &str {
    genes.split(';').next().unwrap_or("").trim()
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => a.iter().map(json_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out);
            }
        }
        other => out.push((prefix.to_string(), json_text(other))),
    }
}

fn kv_table(rows: &[(String, String)]) -> String {
    let mut h = String::from("<table class=\"kv\">");
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    h.push_str("</table>");
    h
}

fn humanize(key: &str) -> String {
    let s = key.replace('_', " ");
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// Pearson correlation between columns over the rows where every column is finite.
fn correlation(cols: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = cols.len();
    let rows = cols.first().map_or(0, |c| c.len());
    let complete: Vec<usize> = (0..rows).filter(|&r| cols.iter().all(|c| c[r].is_finite())).collect();
    let centred: Vec<Vec<f64>> = cols
        .iter()
        .map(|c| {
            let m = complete.iter().map(|&r| c[r]).sum::<f64>() / complete.len().max(1) as f64;
            complete.iter().map(|&r| c[r] - m).collect()
        })
        .collect();
    let mut out = vec![vec![f64::NAN; n]; n];
    for i in 0..n {
        for j in 0..n {
            let (a, b) = (&centred[i], &centred[j]);
            let sab: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let saa: f64 = a.iter().map(|x| x * x).sum();
            let sbb: f64 = b.iter().map(|x| x * x).sum();
            out[i][j] = sab / (saa * sbb).sqrt();
        }
    }
    out
}

/// The largest raw p whose BH-adjusted p is below `alpha`; if none is, the p one hit would need (alpha / m).
fn p_cut(p: &[f64], adj: &[f64], alpha: f64) -> (f64, bool) {
    let best =
        p.iter().zip(adj).filter(|(p, a)| p.is_finite() && **a < alpha).map(|(p, _)| *p).fold(f64::NAN, f64::max);
    if best.is_finite() {
        (best, true)
    } else {
        (alpha / p.iter().filter(|p| p.is_finite()).count().max(1) as f64, false)
    }
}

/// The F test: a p-value histogram and the top proteins by adjusted p (absent for two groups).
fn ftest_section(inputs: &ReportInputs, summary: &Value, alpha: f64) -> Result<String, ReportError> {
    let mut h = String::from("<section id=\"ftest\"><h2>F test: any difference among the groups</h2>");
    let Some(bytes) = inputs.files.get("de/ftest.parquet") else {
        h.push_str(
            "<p class=\"note\">No F test: the design has two groups (the contrast's t-test is the test).</p></section>",
        );
        return Ok(h);
    };
    let f = Table::from_parquet(bytes.clone(), "de/ftest.parquet")?;
    let (ids, genes) = (f.text("protein_id")?, f.text("gene_names")?);
    let (fv, df1, df2, p, adj) =
        (num(&f, "f")?, num(&f, "df1")?, num(&f, "df2")?, num(&f, "p_value")?, num(&f, "adj_p_value")?);
    let n_sig = adj.iter().filter(|a| **a < alpha).count();
    let _ = write!(
        h,
        "<p class=\"note\">{}: {n_sig} of {} proteins at BH-adjusted p &lt; {alpha}.</p><div class=\"grid\">",
        esc(&json_text(&summary["stages"]["de"]["f_test"])),
        ids.len()
    );
    h.push_str(&charts::p_histogram("F test", &p)?);
    h.push_str("</div>");
    let mut order: Vec<usize> = (0..ids.len()).collect();
    let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
    order.sort_by(|&a, &b| key(adj[a]).total_cmp(&key(adj[b])).then(key(p[a]).total_cmp(&key(p[b]))));
    let _ = write!(h, "<h4>Top {TOP_F} by adjusted p</h4><table class=\"sortable\" data-testid=\"ftest-table\"><thead><tr><th>protein</th><th>gene</th><th>F</th><th>df1</th><th>df2</th><th>p</th><th>adj. p</th></tr></thead><tbody>");
    for &i in order.iter().take(TOP_F) {
        let _ = write!(
            h,
            "<tr{}><td>{}</td><td>{}</td><td data-v=\"{}\">{:.2}</td><td>{}</td><td>{:.1}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td></tr>",
            if adj[i] < alpha { " class=\"sig\"" } else { "" },
            esc(&ids[i]),
            esc(&genes[i]),
            fv[i],
            fv[i],
            df1[i],
            df2[i],
            p[i],
            fmt_p(p[i]),
            adj[i],
            fmt_p(adj[i])
        );
    }
    h.push_str("</tbody></table></section>");
    Ok(h)
}

/// A clustered heatmap of the top proteins (smallest adjusted p in any contrast, below `alpha`), z-scored per
/// protein over the final matrix, samples in design order with their group, imputed values marked.
#[allow(clippy::too_many_arguments)]
fn heatmap_section(
    inputs: &ReportInputs,
    samples: &[String],
    groups: &[String],
    de_ids: &[&str],
    de_genes: &[&str],
    de_adj: &[f64],
    alpha: f64,
) -> Result<String, ReportError> {
    let mut best: HashMap<&str, (f64, &str)> = HashMap::new();
    for i in 0..de_ids.len() {
        let e = best.entry(de_ids[i]).or_insert((f64::INFINITY, de_genes[i]));
        if de_adj[i] < e.0 {
            e.0 = de_adj[i];
        }
    }
    let mut top: Vec<(&str, f64, &str)> =
        best.into_iter().filter(|(_, (a, _))| *a < alpha).map(|(id, (a, g))| (id, a, g)).collect();
    top.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
    top.truncate(HEATMAP_PROTEINS);
    let mut h = String::from("<section id=\"heatmap\"><h2>Top significant proteins</h2>");
    if top.len() < 2 {
        let _ = write!(h, "<p class=\"note\">Fewer than two proteins reach BH-adjusted p &lt; {alpha} in any contrast: no heatmap.</p></section>");
        return Ok(h);
    }
    let mt = inputs.table("qc/matrix.parquet")?;
    let imp = inputs.table("qc/imputed.parquet")?;
    let row_of: HashMap<String, usize> =
        mt.text("protein_id")?.into_iter().enumerate().map(|(i, id)| (id, i)).collect();
    let cols: Vec<Vec<f64>> = samples.iter().map(|s| num(&mt, s)).collect::<Result<_, _>>()?;
    let imp_cols: Vec<Vec<bool>> = samples.iter().map(|s| imp.bool(s)).collect::<Result<_, _>>()?;
    let (mut names, mut z, mut imputed) = (Vec::new(), Vec::new(), Vec::new());
    for (id, _, gene) in &top {
        let Some(&r) = row_of.get(*id) else { continue };
        let v: Vec<f64> = cols.iter().map(|c| c[r]).collect();
        let fin: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        let mean = fin.iter().sum::<f64>() / fin.len().max(1) as f64;
        let sd = (fin.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (fin.len().max(2) - 1) as f64).sqrt();
        z.push(v.iter().map(|x| if sd > 0.0 { (x - mean) / sd } else { 0.0 }).collect::<Vec<f64>>());
        imputed.push(imp_cols.iter().map(|c| c[r]).collect::<Vec<bool>>());
        let g = first_gene(gene);
        names.push(if g.is_empty() { id.to_string() } else { format!("{g} ({})", id.split(';').next().unwrap_or(id)) });
    }
    let per_sample = samples.len() <= SAMPLE_CHART_MAX;
    let uniq = charts::legend_groups(groups);
    if !per_sample {
        // One column per group: the mean z of its samples; dotted where most of its values were imputed.
        let members: Vec<Vec<usize>> =
            uniq.iter().map(|g| (0..samples.len()).filter(|&s| &groups[s] == g).collect()).collect();
        let mean_z = |row: &[f64], m: &[usize]| {
            let fin: Vec<f64> = m.iter().map(|&s| row[s]).filter(|v| v.is_finite()).collect();
            if fin.is_empty() {
                f64::NAN
            } else {
                fin.iter().sum::<f64>() / fin.len() as f64
            }
        };
        z = z.iter().map(|row| members.iter().map(|m| mean_z(row, m)).collect()).collect();
        imputed = imputed
            .iter()
            .map(|row| members.iter().map(|m| 2 * m.iter().filter(|&&s| row[s]).count() > m.len()).collect())
            .collect();
    }
    let (columns, column_groups) = if per_sample { (samples, groups) } else { (uniq.as_slice(), uniq.as_slice()) };
    let order = charts::cluster_order(&z);
    let names: Vec<String> = order.iter().map(|&i| names[i].clone()).collect();
    let z: Vec<Vec<f64>> = order.iter().map(|&i| z[i].clone()).collect();
    let imputed: Vec<Vec<bool>> = order.iter().map(|&i| imputed[i].clone()).collect();
    let columns_text = if per_sample {
        "the bar above the columns gives each sample's group; dots mark imputed values".to_string()
    } else {
        format!("with {} samples (more than {SAMPLE_CHART_MAX}) each column is a group, the mean z of its samples, and a dot marks a group where most values were imputed", samples.len())
    };
    let _ = write!(
        h,
        "<p class=\"note\">The {} proteins with the smallest BH-adjusted p in any contrast (all &lt; {alpha}), z-scored per protein over the final matrix, rows clustered (average linkage, Euclidean); {columns_text}.</p>",
        names.len()
    );
    h.push_str(&charts::zscore_heatmap(
        "Top significant proteins (z-score)",
        &names,
        columns,
        column_groups,
        &z,
        &imputed,
    ));
    h.push_str("</section>");
    Ok(h)
}

/// Render the whole report as one HTML document.
pub fn render(inputs: &ReportInputs) -> Result<String, ReportError> {
    let summary: Value = serde_json::from_slice(inputs.get("summary.json")?)?;
    let params = &summary["parameters"];
    let alpha = params["pathway"]["alpha"].as_f64().unwrap_or(0.05);
    let min_lfc = params["pathway"]["min_log2fc"].as_f64().unwrap_or(1.0);
    let mut body = String::new();
    let mut toc = String::new();

    // Run summary
    let _ = write!(toc, "<a href=\"#summary\">Run</a><a href=\"#qc\">QC</a><a href=\"#de\">Differential expression</a><a href=\"#ftest\">F test</a><a href=\"#heatmap\">Heatmap</a><a href=\"#pathway\">Pathways</a>");
    if inputs.files.contains_key("pathway/camera.parquet") {
        toc.push_str("<a href=\"#camera\">CAMERA</a>");
    }
    if inputs.files.contains_key("pathway/gsea.parquet") {
        toc.push_str("<a href=\"#gsea\">GSEA</a>");
    }
    body.push_str("<section id=\"summary\"><h2>Run summary</h2><div class=\"grid\">");
    let mut run = vec![
        ("Input".to_string(), json_text(&summary["input"])),
        ("Design".to_string(), json_text(&summary["design"])),
        ("Job".to_string(), json_text(&summary["job_id"])),
        ("Random seed (imputation)".to_string(), json_text(&params["qc"]["seed"])),
    ];
    if let Some(v) = summary["versions"].as_object() {
        run.extend(v.iter().map(|(k, v)| (format!("Version: {k}"), json_text(v))));
    }
    let ingest = &summary["stages"]["ingest"];
    run.push(("Format".into(), json_text(&ingest["input"]["detected"])));
    run.push(("Quantity".into(), json_text(&ingest["input"]["intensity_columns"])));
    run.push(("Samples".into(), json_text(&ingest["samples"])));
    run.push(("Groups".into(), json_text(&ingest["groups"])));
    let _ = write!(body, "<div><h3>Run</h3>{}</div>", kv_table(&run));
    let mut filters = Vec::new();
    for (stage, v) in [("Input", &ingest["input"]), ("QC", &summary["stages"]["qc"]["qc"])] {
        if let Some(m) = v.as_object() {
            filters.extend(
                m.iter()
                    .filter(|(_, v)| v.is_number())
                    .map(|(k, v)| (format!("{stage}: {}", humanize(k)), json_text(v))),
            );
        }
    }
    let _ = write!(body, "<div><h3>Filtering</h3>{}</div>", kv_table(&filters));
    let mut prows = Vec::new();
    flatten("", params, &mut prows);
    let _ = write!(body, "<div><h3>Parameters</h3>{}</div></div>", kv_table(&prows));
    let de_summary = &summary["stages"]["de"];
    if let Some(cs) = de_summary["contrasts"].as_array() {
        let _ = write!(
            body,
            "<h3>Significant proteins per contrast</h3><p class=\"note\" data-testid=\"contrast-rule\">Reference group: {}. Contrasts: {} (A-B = log2 A − log2 B).</p><table class=\"kv\"><tr><th>contrast</th><th>up</th><th>down</th><th>significant</th><th>adj. p &lt; {alpha} alone</th></tr>",
            esc(&json_text(&de_summary["reference"])),
            esc(&json_text(&de_summary["contrast_rule"]))
        );
        for c in cs {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&json_text(&c["contrast"])),
                json_text(&c["up"]),
                json_text(&c["down"]),
                json_text(&c["significant"]),
                json_text(&c["adj_p_significant"])
            );
        }
        if !de_summary["f_test_significant"].is_null() {
            let _ = write!(
                body,
                "<tr><td>F test (any difference)</td><td></td><td></td><td></td><td>{}</td></tr>",
                json_text(&de_summary["f_test_significant"])
            );
        }
        let _ = write!(
            body,
            "</table><p class=\"note\">Significant: BH-adjusted p &lt; {alpha} and |log2FC| ≥ {min_lfc}; the last column counts BH-adjusted p &lt; {alpha} whatever the fold change.</p>"
        );
    }
    if let Some(m) = summary["methods"].as_str() {
        let _ = write!(body, "<h3>Methods</h3><p class=\"methods\" data-testid=\"methods\">{}</p>", esc(m));
    }
    body.push_str("</section>");

    // QC
    let st = inputs.table("qc/samples.parquet")?;
    let samples = st.text("sample")?;
    let groups = st.text("group")?;
    body.push_str("<section id=\"qc\"><h2>Quality control</h2><div class=\"grid\">");
    let per_sample = samples.len() <= SAMPLE_CHART_MAX;
    let uniq = charts::legend_groups(&groups);
    let by_group = |values: &[f64]| -> Vec<Vec<f64>> {
        uniq.iter().map(|g| values.iter().zip(&groups).filter(|(_, x)| *x == g).map(|(v, _)| *v).collect()).collect()
    };
    let (ident, miss) = (num(&st, "identified")?, num(&st, "missing_pct")?);
    if per_sample {
        body.push_str(&charts::sample_bars(
            "Proteins identified per sample",
            "proteins identified",
            &samples,
            &groups,
            &ident,
        )?);
        body.push_str(&charts::sample_bars("Missing values per sample", "% missing", &samples, &groups, &miss)?);
    } else {
        let (title, desc) = ("Proteins identified per sample, by group", "proteins identified");
        body.push_str(&charts::box_plots(title, desc, &uniq, &uniq, &by_group(&ident))?);
        body.push_str(&charts::box_plots(
            "Missing values per sample, by group",
            "% missing",
            &uniq,
            &uniq,
            &by_group(&miss),
        )?);
    }
    // The five box numbers QC stored per sample (a box drawn from them is the box of all the sample's values).
    let dist = inputs.table("qc/distributions.parquet")?;
    let dist_samples = dist.text("sample")?;
    let boxes = |when: &str| -> Result<Vec<Vec<f64>>, ReportError> {
        let cols = proteo_pipeline::stages::DISTRIBUTION_STATS
            .iter()
            .map(|stat| num(&dist, &format!("{when}_{stat}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(samples
            .iter()
            .map(|s| {
                let Some(row) = dist_samples.iter().position(|x| x == s) else { return Vec::new() };
                let five: Vec<f64> = cols.iter().map(|c| c[row]).collect();
                let five = if five.iter().all(|v| v.is_finite()) { five } else { Vec::new() };
                if per_sample {
                    five
                } else {
                    vec![five.get(2).copied().unwrap_or(f64::NAN)]
                }
            })
            .collect())
    };
    let before = boxes("before")?;
    let after = boxes("after")?;
    let mt = inputs.table("qc/matrix.parquet")?;
    if per_sample {
        let (b, a) = ("Intensities before normalization (log2 raw)", "Intensities after normalization and imputation");
        body.push_str(&charts::box_plots(b, "log2 intensity", &samples, &groups, &before)?);
        body.push_str(&charts::box_plots(a, "log2 intensity", &samples, &groups, &after)?);
    } else {
        let medians = |v: &[Vec<f64>]| v.iter().map(|x| x.first().copied().unwrap_or(f64::NAN)).collect::<Vec<f64>>();
        let b = "Median log2 intensity per sample before normalization, by group";
        let a = "Median log2 intensity per sample after normalization and imputation, by group";
        body.push_str(&charts::box_plots(b, "median log2 intensity", &uniq, &uniq, &by_group(&medians(&before)))?);
        body.push_str(&charts::box_plots(a, "median log2 intensity", &uniq, &uniq, &by_group(&medians(&after)))?);
    }
    drop(before);
    let pca = inputs.table("qc/pca.parquet")?;
    let (pca_samples, pca_groups) = (pca.text("sample")?, pca.text("group")?);
    let v1 = num(&pca, "pc1_variance_pct")?.first().copied().unwrap_or(f64::NAN);
    let v2 = num(&pca, "pc2_variance_pct")?.first().copied().unwrap_or(f64::NAN);
    let (pc1, pc2) = (num(&pca, "pc1")?, num(&pca, "pc2")?);
    body.push_str(&charts::pca(&pca_samples, &pca_groups, &pc1, &pc2, (v1, v2), per_sample)?);
    let corr = num(&st, "median_correlation")?;
    if per_sample {
        let columns = samples.iter().map(|s| num(&mt, s)).collect::<Result<Vec<_>, _>>()?;
        body.push_str(&charts::heatmap(&samples, &correlation(&columns))?);
        let _ = write!(
            body,
            "</div><p class=\"note\">{} proteins in the final matrix; correlation over rows complete in every sample.</p>",
            mt.num_rows()
        );
    } else {
        let title = "Median correlation to the other samples, by group";
        body.push_str(&charts::box_plots(title, "median Pearson r", &uniq, &uniq, &by_group(&corr))?);
        let _ = write!(
            body,
            "</div><p class=\"note\" data-testid=\"qc-by-group\">{} proteins in the final matrix. With {} samples (more than {SAMPLE_CHART_MAX}) the per-sample charts are summarised by group: each box spans the group's samples (their identified proteins, % missing, median intensity, median correlation to the other samples, as in the sample QC table); the PCA shows every sample unlabelled; no sample × sample correlation heatmap is drawn. Every sample's numbers are in qc/samples.parquet.</p>",
            mt.num_rows(),
            samples.len()
        );
    }
    let qc_summary = &summary["stages"]["qc"];
    let norm = &qc_summary["normalization"];
    let _ = write!(
        body,
        "<h3>Sample QC and normalization</h3><p class=\"note\">Normalization: {} on {} ({} proteins). Shift = the median of what normalization subtracted from the sample; proteins = the reference proteins observed in it that defined it. Median r to others: over {}. Outlier rule: {}. PCA: {}.</p><table class=\"kv\" data-testid=\"sample-qc\"><tr><th>sample</th><th>group</th><th>identified</th><th>% missing</th><th>median r to others</th><th>shift</th><th>proteins defining it</th><th>outlier</th></tr>",
        esc(&json_text(&norm["method"])),
        esc(&json_text(&norm["set"])),
        json_text(&norm["proteins"]),
        esc(&json_text(&qc_summary["median_correlation_over"])),
        esc(&json_text(&qc_summary["outlier_rule"])),
        esc(&json_text(&qc_summary["pca_method"]))
    );
    let (shift, defining) = (num(&st, "normalization_shift")?, num(&st, "normalization_proteins")?);
    let (outlier, reason) = (st.bool("outlier")?, st.text("outlier_reason")?);
    for i in (0..samples.len()).filter(|&i| per_sample || outlier[i]) {
        let _ = write!(
            body,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
            if outlier[i] { " class=\"sig outlier\"" } else { "" },
            esc(&samples[i]),
            esc(&groups[i]),
            ident[i],
            miss[i],
            corr[i],
            shift[i],
            defining[i],
            if outlier[i] { format!("flagged: {}", esc(&reason[i])) } else { "—".into() }
        );
    }
    body.push_str("</table>");
    if !per_sample {
        let flagged = outlier.iter().filter(|&&o| o).count();
        let _ = write!(
            body,
            "<p class=\"note\">The table lists the {flagged} flagged of {} samples; every sample's row is in qc/samples.parquet.</p>",
            samples.len()
        );
    }
    body.push_str("</section>");

    // DE
    let de = inputs.table("de/results.parquet")?;
    // Per row a view of its dictionary value: 3 × rows strings are not built (180 000 rows at 5 000 × 36).
    let (pid_values, pid_keys) = de.text_indexed("protein_id")?;
    let (gene_values, gene_keys) = de.text_indexed("gene_names")?;
    let (contrast_values, contrast_keys) = de.text_indexed("contrast")?;
    let (pid, genes) = (view(&pid_values, &pid_keys), view(&gene_values, &gene_keys));
    let contrast = view(&contrast_values, &contrast_keys);
    let (lfc, p, adj) = (num(&de, "log2fc")?, num(&de, "p_value")?, num(&de, "adj_p_value")?);
    let tukey =
        if de.column_names().iter().any(|c| c == "tukey_p_value") { Some(num(&de, "tukey_p_value")?) } else { None };
    let (imp_a, imp_b) = (num(&de, "imputed_a")?, num(&de, "imputed_b")?);
    let mut order: Vec<String> = Vec::new();
    let mut rows_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, &c) in contrast.iter().enumerate() {
        if !rows_of.contains_key(c) {
            order.push(c.to_string());
        }
        rows_of.entry(c).or_default().push(i);
    }
    body.push_str("<section id=\"de\"><h2>Differential expression</h2>");
    let _ = write!(body, "<p class=\"note\">Volcano lines: |log2FC| = {min_lfc} and the raw p at which the BH-adjusted p reaches {alpha}. Significant proteins are drawn as points (once per pixel); the others as a grey density of {cell} px cells, darker for more proteins (1, 2–3, 4–9, 10 or more).</p>", cell = charts::DENSITY_CELL_PX);
    let mut brief = String::new();
    for (k, c) in order.iter().enumerate() {
        if proteo_core::deadline::check().is_err() {
            return Err(ReportError::TimedOut { done: k, total: order.len() });
        }
        let rows = &rows_of[c.as_str()];
        let sig = |r: usize| adj[r] < alpha && lfc[r].abs() >= min_lfc;
        let mut ranked: Vec<usize> = rows.clone();
        ranked.sort_by(|&a, &b| adj[a].total_cmp(&adj[b]).then(p[a].total_cmp(&p[b])));
        let name = |r: usize| {
            let g = first_gene(genes[r]);
            if g.is_empty() {
                pid[r].to_string()
            } else {
                g.to_string()
            }
        };
        if k >= FULL_CONTRASTS {
            let (up, down) =
                rows.iter().filter(|&&r| sig(r)).fold(
                    (0, 0),
                    |(u, d), &r| {
                        if lfc[r] > 0.0 {
                            (u + 1, d)
                        } else {
                            (u, d + 1)
                        }
                    },
                );
            let best = ranked.first().map_or_else(
                || "<td>—</td><td></td><td></td>".to_string(),
                |&r| {
                    format!(
                        "<td>{}</td><td data-v=\"{}\">{:.2}</td><td data-v=\"{}\">{}</td>",
                        esc(&name(r)),
                        lfc[r],
                        lfc[r],
                        adj[r],
                        fmt_p(adj[r])
                    )
                },
            );
            let _ = write!(
                brief,
                "<tr><td>{}</td><td>{}</td><td>{up}</td><td>{down}</td><td>{}</td>{best}</tr>",
                esc(c),
                up + down,
                rows.len()
            );
            continue;
        }
        let labelled: Vec<usize> = ranked.iter().copied().filter(|&r| sig(r)).take(VOLCANO_LABELS).collect();
        let points: Vec<charts::VolcanoPoint> = rows
            .iter()
            .map(|&r| charts::VolcanoPoint {
                log2fc: lfc[r],
                p: p[r],
                class: if sig(r) {
                    if lfc[r] > 0.0 {
                        1
                    } else {
                        -1
                    }
                } else {
                    0
                },
                label: labelled.contains(&r).then(|| name(r)),
            })
            .collect();
        let (cut, reached) = p_cut(
            &rows.iter().map(|&r| p[r]).collect::<Vec<_>>(),
            &rows.iter().map(|&r| adj[r]).collect::<Vec<_>>(),
            alpha,
        );
        let cut_label = if reached {
            format!("adj. p = {alpha}")
        } else {
            format!("adj. p = {alpha} not reached (line at {alpha}/m)")
        };
        let n_sig = rows.iter().filter(|&&r| sig(r)).count();
        let _ = write!(
            body,
            "<details class=\"contrast\" id=\"de-{k}\"{}><summary>{} — {} significant of {}</summary><div class=\"grid\">",
            if k == 0 { " open" } else { "" },
            esc(c),
            n_sig,
            rows.len()
        );
        body.push_str(&charts::volcano(c, &points, min_lfc, cut, &cut_label)?);
        body.push_str(&charts::p_histogram(c, &rows.iter().map(|&r| p[r]).collect::<Vec<_>>())?);
        body.push_str("</div>");
        let _ = write!(
            body,
            "<h4>Top {TOP_HITS} by adjusted p</h4><input class=\"search\" placeholder=\"search protein or gene\"><table class=\"sortable\"><thead><tr><th>protein</th><th>gene</th><th>log2FC</th><th>p</th><th>adj. p</th>{}<th>imputed (A / B)</th></tr></thead><tbody>",
            if tukey.is_some() { "<th>Tukey p</th>" } else { "" }
        );
        for &r in ranked.iter().take(TOP_HITS) {
            let tk =
                tukey.as_ref().map(|t| format!("<td data-v=\"{}\">{}</td>", t[r], fmt_p(t[r]))).unwrap_or_default();
            let _ = write!(
                body,
                "<tr{}><td>{}</td><td>{}</td><td data-v=\"{}\">{:.2}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td>{tk}<td>{} / {}</td></tr>",
                if sig(r) { " class=\"sig\"" } else { "" },
                esc(pid[r]),
                esc(genes[r]),
                lfc[r],
                lfc[r],
                p[r],
                fmt_p(p[r]),
                adj[r],
                fmt_p(adj[r]),
                imp_a[r],
                imp_b[r]
            );
        }
        body.push_str("</tbody></table></details>");
    }
    if !brief.is_empty() {
        let _ = write!(
            body,
            "<h3>Further contrasts</h3><p class=\"note\" data-testid=\"contrast-cap\">The first {FULL_CONTRASTS} of {} contrasts are shown in full above; each further contrast is one row here (significant proteins and the top protein by adjusted p). Every contrast's full results are in de/results.parquet; the F test below tests all groups at once.</p><table class=\"sortable\" data-testid=\"contrast-rows\"><thead><tr><th>contrast</th><th>significant</th><th>up</th><th>down</th><th>proteins</th><th>top protein</th><th>log2FC</th><th>adj. p</th></tr></thead><tbody>{brief}</tbody></table>",
            order.len()
        );
    }
    body.push_str("</section>");

    body.push_str(&ftest_section(inputs, &summary, alpha)?);
    body.push_str(&heatmap_section(inputs, &samples, &groups, &pid, &genes, &adj, alpha)?);

    body.push_str(&ora_section(inputs, &summary, &order, alpha)?);
    body.push_str(&ranked_enrichment_section(inputs, &summary, &order, alpha, RankedMethod::Camera)?);
    body.push_str(&ranked_enrichment_section(inputs, &summary, &order, alpha, RankedMethod::Gsea)?);

    let title = format!("proteo report — {}", json_text(&summary["input"]));
    Ok(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body><header><h1>{}</h1><nav>{toc}</nav></header><main>{body}<footer>Statistics: limma moderated t-tests (Ritchie et al., Nucleic Acids Research 2015), Benjamini–Hochberg adjustment. Generated by proteo.</footer></main><script>{JS}</script></body></html>",
        esc(&title),
        esc(&title)
    ))
}

/// The over-representation section: top terms per contrast and direction.
fn ora_section(inputs: &ReportInputs, summary: &Value, order: &[String], alpha: f64) -> Result<String, ReportError> {
    let mut body = String::new();
    let Some(bytes) = inputs.files.get("pathway/enrichment.parquet") else {
        body.push_str("<section id=\"pathway\"><h2>Pathway over-representation</h2><p class=\"note\">Not run (the job's enrichment methods leave out ORA).</p></section>");
        return Ok(body);
    };
    let en = Table::from_parquet(bytes.clone(), "pathway/enrichment.parquet")?;
    let (ec, ed, eid, ename) =
        (en.text("contrast")?, en.text("direction")?, en.text("term_id")?, en.text("term_name")?);
    let (eset, eov, efe, ep, eadj) = (
        num(&en, "set_size")?,
        num(&en, "overlap")?,
        num(&en, "fold_enrichment")?,
        num(&en, "p_value")?,
        num(&en, "adj_p_value")?,
    );
    let gene_sets = json_text(&summary["stages"]["pathway"]["gene_sets"]);
    let background = json_text(&summary["stages"]["pathway"]["background_rule"]);
    let _ = write!(body, "<section id=\"pathway\"><h2>Pathway over-representation</h2><p class=\"note\">Gene sets: {}. Significant proteins per contrast and direction tested against a background of {} (hypergeometric, BH-adjusted over the tested sets).</p>", esc(&gene_sets), esc(&background));
    // The rows of each contrast by direction (directions in their first order), in one pass over the table.
    let mut groups: HashMap<&str, Vec<(&str, Vec<usize>)>> = HashMap::new();
    for i in 0..en.num_rows() {
        let dirs = groups.entry(ec[i].as_str()).or_default();
        match dirs.iter_mut().find(|(d, _)| *d == ed[i]) {
            Some((_, rows)) => rows.push(i),
            None => dirs.push((ed[i].as_str(), vec![i])),
        }
    }
    let mut any = false;
    for c in order {
        for (d, mut rows) in groups.remove(c.as_str()).unwrap_or_default() {
            any = true;
            rows.sort_by(|&a, &b| eadj[a].total_cmp(&eadj[b]).then(ep[a].total_cmp(&ep[b])));
            rows.truncate(TOP_TERMS);
            let _ =
                write!(body, "<details class=\"terms\"><summary>{} — {}</summary><div class=\"grid\">", esc(c), esc(d));
            let names: Vec<String> = rows.iter().map(|&i| ename[i].clone()).collect();
            let padj: Vec<f64> = rows.iter().map(|&i| eadj[i]).collect();
            body.push_str(&charts::term_bars(&format!("Top terms: {c}, {d}"), &names, &padj, alpha)?);
            body.push_str("<table class=\"sortable\"><thead><tr><th>term</th><th>name</th><th>set size</th><th>overlap</th><th>fold enrichment</th><th>p</th><th>adj. p</th></tr></thead><tbody>");
            for &i in &rows {
                let _ = write!(
                    body,
                    "<tr{}><td>{}</td><td>{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{:.2}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td></tr>",
                    if eadj[i] < alpha { " class=\"sig\"" } else { "" },
                    esc(&eid[i]),
                    esc(&ename[i]),
                    eset[i], eset[i], eov[i], eov[i], efe[i], efe[i], ep[i], fmt_p(ep[i]), eadj[i], fmt_p(eadj[i])
                );
            }
            body.push_str("</tbody></table></details>");
        }
    }
    if !any {
        body.push_str("<p>No gene set overlapped the significant proteins of any contrast.</p>");
    }
    body.push_str("</section>");
    Ok(body)
}

/// GSEA or CAMERA: the two ranked-statistic enrichment tables.
#[derive(Clone, Copy, PartialEq)]
enum RankedMethod {
    Camera,
    Gsea,
}

/// A GSEA or CAMERA section: per contrast, the top terms by adjusted p with their direction and score.
fn ranked_enrichment_section(
    inputs: &ReportInputs,
    summary: &Value,
    order: &[String],
    alpha: f64,
    method: RankedMethod,
) -> Result<String, ReportError> {
    let (file, id, title, key) = match method {
        RankedMethod::Camera => ("pathway/camera.parquet", "camera", "CAMERA: competitive gene-set test", "camera"),
        RankedMethod::Gsea => ("pathway/gsea.parquet", "gsea", "GSEA: preranked gene-set enrichment", "gsea"),
    };
    let Some(bytes) = inputs.files.get(file) else { return Ok(String::new()) };
    let t = Table::from_parquet(bytes.clone(), file)?;
    let (tc, tid, tname) = (t.text("contrast")?, t.text("term_id")?, t.text("term_name")?);
    let (size, p, adj) = (num(&t, "set_size")?, num(&t, "p_value")?, num(&t, "adj_p_value")?);
    let st = &summary["stages"]["pathway"][key];
    let (note, score_head) = match method {
        RankedMethod::Camera => (
            format!(
                "limma CAMERA (Wu &amp; Smyth 2012) on each contrast's moderated t, {}; two-sided p, BH-adjusted over the tested sets.",
                esc(&json_text(&st["correlation"]))
            ),
            "direction",
        ),
        RankedMethod::Gsea => (
            format!(
                "Preranked GSEA (Subramanian et al. 2005; weighted Kolmogorov–Smirnov, weight 1) on each contrast's moderated t; {} gene-set permutations per set size (seed {}); NES = ES over the mean null ES of its sign; BH over the tested sets.",
                esc(&json_text(&st["permutations"])),
                esc(&json_text(&st["seed"]))
            ),
            "NES",
        ),
    };
    let score: Vec<String> = match method {
        RankedMethod::Camera => t.text("direction")?,
        RankedMethod::Gsea => num(&t, "nes")?.into_iter().map(|v| format!("{v:.2}")).collect(),
    };
    let mut h = String::new();
    let _ = write!(h, "<section id=\"{id}\"><h2>{title}</h2><p class=\"note\">{note}</p>");
    let mut rows_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in tc.iter().enumerate() {
        rows_of.entry(c.as_str()).or_default().push(i);
    }
    let mut any = false;
    for c in order {
        let Some(mut rows) = rows_of.remove(c.as_str()) else { continue };
        any = true;
        let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
        rows.sort_by(|&a, &b| key(adj[a]).total_cmp(&key(adj[b])).then(key(p[a]).total_cmp(&key(p[b]))));
        let n_sig = rows.iter().filter(|&&i| adj[i] < alpha).count();
        rows.truncate(TOP_TERMS);
        let _ = write!(
            h,
            "<details class=\"terms\"><summary>{} — {n_sig} sets at adj. p &lt; {alpha}</summary><table class=\"sortable\" data-testid=\"{id}-table\"><thead><tr><th>term</th><th>name</th><th>set size</th><th>{score_head}</th><th>p</th><th>adj. p</th></tr></thead><tbody>",
            esc(c)
        );
        for &i in &rows {
            let _ = write!(
                h,
                "<tr{}><td>{}</td><td>{}</td><td data-v=\"{}\">{}</td><td>{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td></tr>",
                if adj[i] < alpha { " class=\"sig\"" } else { "" },
                esc(&tid[i]),
                esc(&tname[i]),
                size[i],
                size[i],
                esc(&score[i]),
                p[i],
                fmt_p(p[i]),
                adj[i],
                fmt_p(adj[i])
            );
        }
        h.push_str("</tbody></table></details>");
    }
    if !any {
        h.push_str("<p>No gene set had enough proteins with a statistic in any contrast.</p>");
    }
    h.push_str("</section>");
    Ok(h)
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222}header{background:#1e3c72;color:#fff;padding:10px 24px;position:sticky;top:0;z-index:1}header h1{font-size:20px;margin:4px 0}nav a{color:#dde;margin-right:18px;text-decoration:none}main{padding:0 24px 40px}section{margin-top:24px}.grid{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}table.kv th{background:#f4f6fa;font-weight:600}table.sortable th{cursor:pointer;background:#f4f6fa}table.sortable th:after{content:' ⇅';color:#999}tr.sig td{background:#fff4e5}details{border:1px solid #ddd;border-radius:6px;padding:6px 12px;margin:10px 0}summary{font-weight:600;cursor:pointer}.note{color:#555;font-size:13px}input.search{padding:4px 8px;width:260px}svg.chart{border:1px solid #eee}footer{margin-top:32px;color:#666;font-size:12px}p.methods{max-width:960px;line-height:1.5;background:#f8f9fb;padding:10px 14px;border-left:3px solid #1e3c72}tr.outlier td{background:#fde2e2}";

const JS: &str = r#"document.querySelectorAll('table.sortable').forEach(function(t){t.querySelectorAll('th').forEach(function(th,i){var asc=true;th.addEventListener('click',function(){var b=t.tBodies[0];var rows=Array.prototype.slice.call(b.rows);rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];var u=a.dataset.v,v=c.dataset.v;var r=(u!==undefined&&v!==undefined)?(parseFloat(u)-parseFloat(v)):a.textContent.localeCompare(c.textContent);if(isNaN(r))r=0;return asc?r:-r;});asc=!asc;rows.forEach(function(r){b.appendChild(r);});});});});document.querySelectorAll('input.search').forEach(function(inp){var t=inp.nextElementSibling;inp.addEventListener('input',function(){var q=inp.value.toLowerCase();Array.prototype.forEach.call(t.tBodies[0].rows,function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});});"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_cut_is_the_largest_p_passing_bh() {
        let p = [0.001, 0.01, 0.2, f64::NAN];
        let adj = [0.003, 0.015, 0.2, f64::NAN];
        assert_eq!(p_cut(&p, &adj, 0.05), (0.01, true));
        assert_eq!(p_cut(&p[2..], &adj[2..], 0.05), (0.05, false));
    }

    #[test]
    fn correlation_uses_complete_rows_only() {
        let c = correlation(&[vec![1.0, 2.0, 3.0, f64::NAN], vec![2.0, 4.0, 6.0, 1.0], vec![3.0, 2.0, 1.0, 5.0]]);
        assert!((c[0][1] - 1.0).abs() < 1e-12 && (c[0][2] + 1.0).abs() < 1e-12);
    }
}
