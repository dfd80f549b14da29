//! SVG charts for the report, drawn with plotters' SVG backend (no font files: text is emitted as `<text>`).

use std::collections::HashSet;
use std::fmt::Write as _;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::ReportError;

/// Tableau 10: distinguishable group colours, also for colour-blind readers.
const PALETTE: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(89, 161, 79),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];
const UP: RGBColor = RGBColor(200, 40, 40);
const DOWN: RGBColor = RGBColor(40, 90, 200);
const FONT: &str = "sans-serif";
/// Where a chart's points are spliced in, below labels and threshold lines.
const SENTINEL: &str = "@@POINTS@@";

pub fn group_color(groups: &[String], group: &str) -> RGBColor {
    let i = groups.iter().position(|g| g == group).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn chart_err(chart: &str) -> impl Fn(Box<dyn std::fmt::Debug>) -> ReportError + '_ {
    move |e| ReportError::Chart { chart: chart.to_string(), message: format!("{e:?}") }
}

macro_rules! tryc {
    ($e:expr, $chart:expr) => {
        $e.map_err(|e| chart_err($chart)(Box::new(e)))?
    };
}

/// How a legend entry is marked.
#[derive(Clone, Copy)]
enum Mark {
    Square,
    Dot,
}

/// Pixels per character of an 11 px sans-serif label (plotters' own estimate is no better without font files).
const CHAR_PX: f64 = 6.4;

/// The width a column of labels needs, within `lo..=hi` pixels.
fn label_width<'a>(labels: impl IntoIterator<Item = &'a String>, lo: u32, hi: u32) -> u32 {
    let longest = labels.into_iter().map(|l| l.chars().count()).max().unwrap_or(0);
    ((longest as f64 * CHAR_PX) as u32 + 12).clamp(lo, hi)
}

/// Width of the strip at the right of a chart that holds its legend.
fn legend_width(entries: &[(String, RGBColor, Mark)]) -> u32 {
    label_width(entries.iter().map(|e| &e.0), 40, 190) + 30
}

/// The legend in its own strip beside the plot, so it never covers data, labels or threshold lines.
fn side_legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    entries: &[(String, RGBColor, Mark)],
    chart: &str,
) -> Result<(), ReportError> {
    let style = TextStyle::from((FONT, 11).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, (label, color, mark)) in entries.iter().enumerate() {
        let y = 46 + 18 * k as i32;
        match mark {
            Mark::Square => tryc!(area.draw(&Rectangle::new([(8, y - 5), (18, y + 5)], color.filled())), chart),
            Mark::Dot => tryc!(area.draw(&Circle::new((13, y), 5, color.filled())), chart),
        }
        tryc!(area.draw(&Text::new(label.clone(), (24, y), style.clone())), chart);
    }
    Ok(())
}

fn group_entries(uniq: &[String], mark: Mark, fade: f64) -> Vec<(String, RGBColor, Mark)> {
    uniq.iter()
        .map(|g| {
            let c = group_color(uniq, g);
            (g.clone(), blend(WHITE, c, fade), mark)
        })
        .collect()
}

/// Sample `i` (in file order, first at the top) sits in row `n - 1 - i` of a segmented y axis.
fn row_label(names: &[String], v: &SegmentValue<i32>) -> String {
    let n = names.len() as i32;
    match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) if *i >= 0 && *i < n => names[(n - 1 - *i) as usize].clone(),
        _ => String::new(),
    }
}

/// Half the width of a box plot's median mark, as a fraction of the value axis (≈ 1 px on a 500 px axis).
const MEDIAN_HALF_WIDTH: f64 = 0.0012;

/// Height of a chart with one row per sample.
fn rows_height(n: usize) -> u32 {
    (16 * n as u32 + 110).max(240)
}

/// Inline SVG inside HTML needs no namespace; dropping it keeps the page free of any URL.
fn finish(svg: String, class: &str) -> String {
    merge_lines(&svg).replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1).replacen(
        "<svg ",
        &format!("<svg class=\"{class}\" "),
        1,
    )
}

/// The SVG with each run of consecutive `<line …/>` elements of one style (plotters writes one element per grid
/// line and tick, ~95 bytes each, half of a chart's bytes) drawn as one `<path>` of the same style: the same
/// strokes in about a fifth of the bytes.
fn merge_lines(svg: &str) -> String {
    // `<line STYLE x1="…" y1="…" x2="…" y2="…"/>` as plotters' SVG backend writes it, one element per text line.
    fn parse(line: &str) -> Option<(&str, [&str; 4])> {
        let rest = line.strip_prefix("<line ")?.strip_suffix("/>")?;
        let at = rest.find(" x1=\"")?;
        let (style, mut coords) = (&rest[..at], &rest[at..]);
        let mut v = [""; 4];
        for (slot, name) in v.iter_mut().zip([" x1=\"", " y1=\"", " x2=\"", " y2=\""]) {
            coords = coords.strip_prefix(name)?;
            let end = coords.find('"')?;
            *slot = &coords[..end];
            coords = &coords[end + 1..];
        }
        coords.is_empty().then_some((style, v))
    }
    let mut out = String::with_capacity(svg.len());
    let mut run: Option<(&str, String)> = None;
    let flush = |out: &mut String, run: &mut Option<(&str, String)>| {
        if let Some((style, d)) = run.take() {
            let _ = writeln!(out, "<path {style} fill=\"none\" d=\"{d}\"/>");
        }
    };
    for line in svg.split_inclusive('\n') {
        let Some((style, [x1, y1, x2, y2])) = parse(line.trim_end_matches('\n')) else {
            flush(&mut out, &mut run);
            out.push_str(line);
            continue;
        };
        if run.as_ref().is_some_and(|(s, _)| *s != style) {
            flush(&mut out, &mut run);
        }
        let (_, d) = run.get_or_insert_with(|| (style, String::new()));
        match (x1 == x2, y1 == y2) {
            (false, true) => {
                let _ = write!(d, "M{x1} {y1}H{x2}");
            }
            (true, false) => {
                let _ = write!(d, "M{x1} {y1}V{y2}");
            }
            _ => {
                let _ = write!(d, "M{x1} {y1}L{x2} {y2}");
            }
        }
    }
    flush(&mut out, &mut run);
    out
}

fn splice(svg: String, fragment: &str) -> String {
    let Some(at) = svg.find(SENTINEL) else { return svg };
    let start = svg[..at].rfind("<text").unwrap_or(at);
    let end = svg[at..].find("</text>").map(|e| at + e + "</text>".len()).unwrap_or(at + SENTINEL.len());
    format!("{}{}{}", &svg[..start], fragment, &svg[end..])
}

fn label_of(names: &[String], v: &SegmentValue<i32>) -> String {
    match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(*i as usize).cloned().unwrap_or_default(),
        SegmentValue::Last => String::new(),
    }
}

/// The distinct groups in order of first appearance.
pub(crate) fn legend_groups(groups: &[String]) -> Vec<String> {
    let mut seen = Vec::new();
    for g in groups {
        if !seen.contains(g) {
            seen.push(g.clone());
        }
    }
    seen
}

/// Largest magnitude an axis reaches: a range of ±`f64::MAX` overflows to infinity once padded, and plotters' tick
/// search never ends on an infinite range (a value of 1.7e308 once spun the report writer forever).
const AXIS_LIMIT: f64 = 1e300;

/// A value as an axis can place it: finite values clamped to ±[`AXIS_LIMIT`] (plotters' pixel arithmetic overflows
/// beyond), non-finite ones left for the callers' filters.
fn on_axis(v: f64) -> f64 {
    if v.is_finite() {
        v.clamp(-AXIS_LIMIT, AXIS_LIMIT)
    } else {
        v
    }
}

/// The smallest and largest finite value, each clamped to ±[`AXIS_LIMIT`] (so padding and scaling stay finite).
fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()).map(|v| v.clamp(-AXIS_LIMIT, AXIS_LIMIT)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    (lo <= hi).then_some((lo, hi))
}

fn pad(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let span = if hi > lo { hi - lo } else { 1.0 };
    (lo - span * frac, hi + span * frac)
}

/// One horizontal bar per sample (samples top to bottom in design order, names readable), coloured by group,
/// with the group legend beside the plot; the value axis (counts, percentages) has no decimals.
pub fn sample_bars(
    title: &str,
    x_desc: &str,
    samples: &[String],
    groups: &[String],
    values: &[f64],
) -> Result<String, ReportError> {
    let values: Vec<f64> = values.iter().copied().map(on_axis).collect();
    let n = samples.len() as i32;
    let xmax = finite_range(values.iter().copied()).map(|r| r.1).unwrap_or(1.0).max(1e-9) * 1.08;
    let uniq = legend_groups(groups);
    let entries = group_entries(&uniq, Mark::Square, 1.0);
    let mut buf = String::new();
    {
        let lw = legend_width(&entries);
        let root = SVGBackend::with_string(&mut buf, (560 + lw, rows_height(samples.len()))).into_drawing_area();
        tryc!(root.fill(&WHITE), title);
        let (plot, legend) = root.split_horizontally(560);
        let mut chart = tryc!(
            ChartBuilder::on(&plot)
                .caption(title, (FONT, 16))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(label_width(samples, 30, 220))
                .build_cartesian_2d(0.0..xmax, (0..n).into_segmented()),
            title
        );
        tryc!(
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(samples.len() + 1)
                .y_label_formatter(&|v| row_label(samples, v))
                .y_label_style((FONT, 11))
                .light_line_style(RGBColor(245, 245, 245))
                .x_label_formatter(&|v| format!("{v:.0}"))
                .x_desc(x_desc)
                .draw(),
            title
        );
        for g in &uniq {
            let c = group_color(&uniq, g);
            let bars = (0..n).filter(|&i| &groups[i as usize] == g).map(|i| {
                let row = n - 1 - i;
                let mut r = Rectangle::new(
                    [(0.0, SegmentValue::Exact(row)), (values[i as usize], SegmentValue::Exact(row + 1))],
                    c.filled(),
                );
                r.set_margin(2, 2, 0, 0);
                r
            });
            tryc!(chart.draw_series(bars), title);
        }
        side_legend(&legend, &entries, title)?;
        tryc!(root.present(), title);
    }
    Ok(finish(buf, "chart"))
}

/// Tukey box plots (whiskers at the most extreme values within 1.5 IQR), one row per name (a sample, or a group when
/// `groups` are the names themselves), coloured by group; `x_desc` names the value axis.
pub fn box_plots(
    title: &str,
    x_desc: &str,
    samples: &[String],
    groups: &[String],
    data: &[Vec<f64>],
) -> Result<String, ReportError> {
    let n = samples.len() as i32;
    let stats: Vec<Option<[f64; 5]>> = data.iter().map(|v| five_numbers(v).map(|s| s.map(on_axis))).collect();
    let (lo, hi) = finite_range(stats.iter().flatten().flat_map(|s| [s[0], s[4]])).unwrap_or((0.0, 1.0));
    let (lo, hi) = pad(lo, hi, 0.05);
    let uniq = legend_groups(groups);
    let entries = group_entries(&uniq, Mark::Square, 0.55);
    let mut buf = String::new();
    {
        let lw = legend_width(&entries);
        let root = SVGBackend::with_string(&mut buf, (560 + lw, rows_height(samples.len()))).into_drawing_area();
        tryc!(root.fill(&WHITE), title);
        let (plot, legend) = root.split_horizontally(560);
        let mut chart = tryc!(
            ChartBuilder::on(&plot)
                .caption(title, (FONT, 16))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(label_width(samples, 30, 220))
                .build_cartesian_2d(lo..hi, (0..n).into_segmented()),
            title
        );
        tryc!(
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(samples.len() + 1)
                .y_label_formatter(&|v| row_label(samples, v))
                .y_label_style((FONT, 11))
                .light_line_style(RGBColor(245, 245, 245))
                .x_desc(x_desc)
                .draw(),
            title
        );
        for g in &uniq {
            let c = group_color(&uniq, g);
            let mut elements: Vec<DynElement<'static, SVGBackend, (f64, SegmentValue<i32>)>> = Vec::new();
            for i in (0..n).filter(|&i| &groups[i as usize] == g) {
                let Some([w0, q1, med, q3, w1]) = stats[i as usize] else { continue };
                let row = n - 1 - i;
                let (top, bottom, mid) =
                    (SegmentValue::Exact(row), SegmentValue::Exact(row + 1), SegmentValue::CenterOf(row));
                let mut r = Rectangle::new([(q1, top.clone()), (q3, bottom.clone())], c.mix(0.55).filled());
                r.set_margin(3, 3, 0, 0);
                elements.push(r.into_dyn());
                elements.push(PathElement::new(vec![(w0, mid.clone()), (q1, mid.clone())], BLACK).into_dyn());
                elements.push(PathElement::new(vec![(q3, mid.clone()), (w1, mid)], BLACK).into_dyn());
                // A filled strip, not a zero-width outline: SVG renders no `<rect>` of width 0.
                let half = (hi - lo) * MEDIAN_HALF_WIDTH;
                let mut m = Rectangle::new([(med - half, top), (med + half, bottom)], BLACK.filled());
                m.set_margin(3, 3, 0, 0);
                elements.push(m.into_dyn());
            }
            tryc!(chart.draw_series(elements), title);
        }
        side_legend(&legend, &entries, title)?;
        tryc!(root.present(), title);
    }
    Ok(finish(buf, "chart"))
}

/// The box statistics QC stores per sample: one rule for the boxes it summarises and the ones drawn here.
pub use proteo_stats::boxplot::five_numbers;

/// PC1 against PC2, one colour per group, % variance explained in the axis labels; each point named by its sample
/// when `labels` (a cohort's hundreds of names would cover the points).
pub fn pca(
    samples: &[String],
    groups: &[String],
    pc1: &[f64],
    pc2: &[f64],
    var: (f64, f64),
    labels: bool,
) -> Result<String, ReportError> {
    let title = "PCA of the final matrix";
    let (pc1, pc2): (Vec<f64>, Vec<f64>) =
        (pc1.iter().copied().map(on_axis).collect(), pc2.iter().copied().map(on_axis).collect());
    let (pc1, pc2) = (&pc1[..], &pc2[..]);
    let (x0, x1) = finite_range(pc1.iter().copied()).unwrap_or((-1.0, 1.0));
    let (y0, y1) = finite_range(pc2.iter().copied()).unwrap_or((-1.0, 1.0));
    let ((x0, x1), (y0, y1)) = (pad(x0, x1, 0.15), pad(y0, y1, 0.15));
    let uniq = legend_groups(groups);
    let entries = group_entries(&uniq, Mark::Dot, 1.0);
    let mut buf = String::new();
    {
        let lw = legend_width(&entries);
        let root = SVGBackend::with_string(&mut buf, (560 + lw, 420)).into_drawing_area();
        tryc!(root.fill(&WHITE), title);
        let (plot, legend) = root.split_horizontally(560);
        let mut chart = tryc!(
            ChartBuilder::on(&plot)
                .caption(title, (FONT, 16))
                .margin(10)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, y0..y1),
            title
        );
        tryc!(
            chart
                .configure_mesh()
                .x_desc(format!("PC1 ({:.1}% of variance)", var.0))
                .y_desc(format!("PC2 ({:.1}% of variance)", var.1))
                .light_line_style(RGBColor(240, 240, 240))
                .draw(),
            title
        );
        for g in &uniq {
            let c = group_color(&uniq, g);
            let idx: Vec<usize> = (0..samples.len()).filter(|&i| &groups[i] == g).collect();
            let radius = if labels { 6 } else { 3 };
            tryc!(chart.draw_series(idx.iter().map(|&i| Circle::new((pc1[i], pc2[i]), radius, c.filled()))), title);
            if !labels {
                continue;
            }
            let style = TextStyle::from((FONT, 10).into_font()).color(&RGBColor(80, 80, 80));
            tryc!(
                chart.draw_series(idx.iter().map(|&i| Text::new(samples[i].clone(), (pc1[i], pc2[i]), style.clone()))),
                title
            );
        }
        side_legend(&legend, &entries, title)?;
        tryc!(root.present(), title);
    }
    Ok(finish(buf, "chart"))
}

fn blend(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let m = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Sample × sample Pearson correlation as a heatmap, with a colour bar from the lowest r to 1.
pub fn heatmap(samples: &[String], corr: &[Vec<f64>]) -> Result<String, ReportError> {
    let title = "Sample correlation (Pearson r)";
    let n = samples.len() as i32;
    let lo = finite_range(corr.iter().flatten().copied()).map(|r| r.0).unwrap_or(0.0).min(0.999);
    let (c0, c1) = (RGBColor(255, 255, 240), RGBColor(30, 60, 140));
    let color = |r: f64| blend(c0, c1, (r - lo) / (1.0 - lo));
    let labels = label_width(samples, 30, 220);
    let side = (18 * n.max(8) + 80) as u32 + labels;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (side + 90, side)).into_drawing_area();
        tryc!(root.fill(&WHITE), title);
        let (plot, bar) = root.split_horizontally(side);
        let mut chart = tryc!(
            ChartBuilder::on(&plot)
                .caption(title, (FONT, 16))
                .margin(10)
                .x_label_area_size(labels)
                .y_label_area_size(labels)
                .build_cartesian_2d((0..n).into_segmented(), (0..n).into_segmented()),
            title
        );
        tryc!(
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(samples.len() + 1)
                .y_labels(samples.len() + 1)
                .x_label_formatter(&|v| label_of(samples, v))
                .y_label_formatter(&|v| label_of(samples, v))
                .x_label_style((FONT, 11).into_font().transform(FontTransform::Rotate90))
                .y_label_style((FONT, 11))
                .draw(),
            title
        );
        let cells = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| {
            let r = corr[i as usize][j as usize];
            let fill = if r.is_finite() { color(r) } else { RGBColor(200, 200, 200) };
            Rectangle::new(
                [
                    (SegmentValue::Exact(i), SegmentValue::Exact(j)),
                    (SegmentValue::Exact(i + 1), SegmentValue::Exact(j + 1)),
                ],
                fill.filled(),
            )
        });
        tryc!(chart.draw_series(cells), title);
        let steps = 20;
        let (top, height) = (40, side as i32 - 60 - labels as i32);
        for k in 0..steps {
            let y = top + height * k / steps;
            let r = 1.0 - (1.0 - lo) * k as f64 / (steps - 1) as f64;
            tryc!(bar.draw(&Rectangle::new([(10, y), (30, y + height / steps + 1)], color(r).filled())), title);
        }
        let style = TextStyle::from((FONT, 11).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        tryc!(bar.draw(&Text::new("1.00".to_string(), (34, top), style.clone())), title);
        tryc!(bar.draw(&Text::new(format!("{lo:.2}"), (34, top + height), style.clone())), title);
        tryc!(bar.draw(&Text::new("r".to_string(), (16, top - 14), style)), title);
        tryc!(root.present(), title);
    }
    Ok(finish(buf, "chart"))
}

/// One point of a volcano plot.
pub struct VolcanoPoint {
    pub log2fc: f64,
    pub p: f64,
    /// −1 down, 0 not significant, 1 up.
    pub class: i8,
    pub label: Option<String>,
}

/// Side of a density cell of a volcano's non-significant proteins, in pixels.
pub const DENSITY_CELL_PX: i32 = 6;
/// Density shades: a cell holding at least this many proteins is drawn at this opacity (the highest level it
/// reaches), so 1, 2–3, 4–9 and 10 or more proteins per cell read apart.
pub const DENSITY_LEVELS: [(u32, f64); 4] = [(1, 0.2), (2, 0.35), (4, 0.55), (10, 0.8)];

/// A binned density of pixel positions: [`DENSITY_CELL_PX`] cells, one `<path>` per shade of [`DENSITY_LEVELS`],
/// horizontally adjacent cells of one shade merged into one rectangle. Its size grows with the occupied cells, not
/// with the points.
fn density_paths(positions: impl Iterator<Item = (i32, i32)>, color: RGBColor) -> String {
    let mut cells: std::collections::BTreeMap<(i32, i32), u32> = std::collections::BTreeMap::new();
    for (x, y) in positions {
        *cells.entry((y.div_euclid(DENSITY_CELL_PX), x.div_euclid(DENSITY_CELL_PX))).or_default() += 1;
    }
    let level = |n: u32| DENSITY_LEVELS.iter().rposition(|&(min, _)| n >= min).unwrap_or(0);
    let mut d = vec![String::new(); DENSITY_LEVELS.len()];
    let mut run: Option<(i32, i32, i32, usize)> = None; // row, first column, last column, level
    let flush = |run: Option<(i32, i32, i32, usize)>, d: &mut [String]| {
        if let Some((row, c0, c1, l)) = run {
            let w = (c1 - c0 + 1) * DENSITY_CELL_PX;
            let _ = write!(d[l], "M{} {}h{w}v{DENSITY_CELL_PX}h-{w}z", c0 * DENSITY_CELL_PX, row * DENSITY_CELL_PX);
        }
    };
    for (&(row, col), &n) in &cells {
        let l = level(n);
        run = match run {
            Some((r, c0, c1, rl)) if r == row && c1 + 1 == col && rl == l => Some((r, c0, col, l)),
            previous => {
                flush(previous, &mut d);
                Some((row, col, col, l))
            }
        };
    }
    flush(run, &mut d);
    let mut out = String::new();
    for (l, path) in d.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
        let _ = write!(
            out,
            r#"<path class="density" data-class="not significant" data-min-count="{}" d="{path}" fill="{}" fill-opacity="{}"/>"#,
            DENSITY_LEVELS[l].0,
            hex(color),
            DENSITY_LEVELS[l].1
        );
    }
    out
}

/// p-values are floored here before −log10 so that p = 0 (underflow) still plots, at the top.
const P_FLOOR: f64 = 1e-300;

/// log2FC against −log10 p; threshold lines at ±`min_log2fc` and at `p_cut`; significant points in colour (one
/// `<path>` per direction, pixel-deduplicated dots), the rest as a grey binned density ([`density_paths`]), labels
/// for the points that carry one. Its size is bounded by the plot's cells plus the significant points.
pub fn volcano(
    contrast: &str,
    points: &[VolcanoPoint],
    min_log2fc: f64,
    p_cut: f64,
    p_cut_label: &str,
) -> Result<String, ReportError> {
    let title = format!("Volcano: {contrast}");
    let clamped: Vec<VolcanoPoint> = points
        .iter()
        .map(|p| VolcanoPoint { log2fc: on_axis(p.log2fc), p: p.p, class: p.class, label: p.label.clone() })
        .collect();
    let points = &clamped[..];
    let ny = |p: f64| -p.max(P_FLOOR).log10();
    let xm =
        finite_range(points.iter().map(|p| p.log2fc.abs())).map(|r| r.1).unwrap_or(1.0).max(min_log2fc * 1.5) * 1.05;
    let ymax = finite_range(points.iter().map(|p| ny(p.p))).map(|r| r.1).unwrap_or(1.0).max(ny(p_cut)).max(1.0) * 1.08;
    let mut buf = String::new();
    let mut fragment = String::new();
    let classes = [(0i8, RGBColor(150, 150, 150), "not significant (density)"), (1, UP, "up"), (-1, DOWN, "down")];
    let entries: Vec<(String, RGBColor, Mark)> = classes.iter().map(|c| (c.2.to_string(), c.1, Mark::Dot)).collect();
    {
        let lw = legend_width(&entries);
        let root = SVGBackend::with_string(&mut buf, (560 + lw, 420)).into_drawing_area();
        tryc!(root.fill(&WHITE), &title);
        let (plot, legend) = root.split_horizontally(560);
        let mut chart = tryc!(
            ChartBuilder::on(&plot)
                .caption(&title, (FONT, 16))
                .margin(10)
                .x_label_area_size(45)
                .y_label_area_size(55)
                .build_cartesian_2d(-xm..xm, 0.0..ymax),
            &title
        );
        tryc!(
            chart
                .configure_mesh()
                .x_desc("log2 fold change")
                .y_desc("−log10 p")
                .light_line_style(RGBColor(240, 240, 240))
                .draw(),
            &title
        );
        tryc!(chart.draw_series(std::iter::once(Text::new(SENTINEL, (0.0, 0.0), (FONT, 1)))), &title);
        let thr = RGBColor(120, 120, 120);
        for x in [-min_log2fc, min_log2fc] {
            tryc!(chart.draw_series(LineSeries::new(vec![(x, 0.0), (x, ymax)], thr.stroke_width(1))), &title);
        }
        if p_cut > 0.0 && p_cut.is_finite() {
            let y = ny(p_cut);
            tryc!(chart.draw_series(LineSeries::new(vec![(-xm, y), (xm, y)], thr.stroke_width(1))), &title);
            let style = TextStyle::from((FONT, 10).into_font()).color(&thr).pos(Pos::new(HPos::Left, VPos::Bottom));
            tryc!(
                chart.draw_series(std::iter::once(Text::new(p_cut_label.to_string(), (-xm * 0.98, y), style))),
                &title
            );
        }
        let grey = classes[0].1;
        let background = points.iter().filter(|p| p.class == 0 && p.log2fc.is_finite() && p.p.is_finite());
        fragment.push_str(&density_paths(background.map(|p| chart.backend_coord(&(p.log2fc, ny(p.p)))), grey));
        for (class, color, name) in classes.into_iter().skip(1) {
            let mut seen = HashSet::new();
            let mut d = String::new();
            let mut last = (0, 0);
            for p in points.iter().filter(|p| p.class == class && p.log2fc.is_finite() && p.p.is_finite()) {
                let (x, y) = chart.backend_coord(&(p.log2fc, ny(p.p)));
                if !seen.insert((x, y)) {
                    continue;
                }
                if d.is_empty() {
                    let _ = write!(d, "M{x} {y}h0");
                } else {
                    let _ = write!(d, "m{} {}h0", x - last.0, y - last.1);
                }
                last = (x, y);
            }
            if !d.is_empty() {
                let _ = write!(
                    fragment,
                    r#"<path class="pts" data-class="{name}" d="{d}" stroke="{}" stroke-opacity="0.9" stroke-width="5" stroke-linecap="round" fill="none"/>"#,
                    hex(color)
                );
            }
        }
        let mut placed: Vec<(i32, i32, i32)> = Vec::new();
        for p in points.iter().filter(|p| p.label.is_some()) {
            let text = p.label.as_deref().unwrap_or_default();
            let (x, y) = chart.backend_coord(&(p.log2fc, ny(p.p)));
            let w = 6 * text.chars().count() as i32;
            let left = p.log2fc < 0.0;
            let mut ly = y - 4;
            let lx = if left { x - 4 - w } else { x + 4 };
            while placed.iter().any(|&(px, py, pw)| (ly - py).abs() < 11 && lx < px + pw && px < lx + w) {
                ly += 11;
            }
            placed.push((lx, ly, w));
            let _ = write!(
                fragment,
                r#"<text class="vl" x="{}" y="{ly}" font-size="10" font-family="sans-serif" text-anchor="{}">{}</text>"#,
                if left { x - 4 } else { x + 4 },
                if left { "end" } else { "start" },
                crate::esc(text)
            );
        }
        side_legend(&legend, &entries, &title)?;
        tryc!(root.present(), &title);
    }
    Ok(finish(splice(buf, &fragment), "chart volcano"))
}

/// Histogram of p-values in 20 bins of 0.05.
pub fn p_histogram(contrast: &str, p: &[f64]) -> Result<String, ReportError> {
    const BINS: usize = 20;
    let title = format!("p-value histogram: {contrast}");
    let mut counts = [0u32; BINS];
    for &v in p.iter().filter(|v| v.is_finite()) {
        counts[((v * BINS as f64) as usize).min(BINS - 1)] += 1;
    }
    let ymax = (*counts.iter().max().unwrap_or(&1)).max(1) as f64 * 1.1;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (420, 420)).into_drawing_area();
        tryc!(root.fill(&WHITE), &title);
        let mut chart = tryc!(
            ChartBuilder::on(&root)
                .caption(&title, (FONT, 14))
                .margin(10)
                .x_label_area_size(45)
                .y_label_area_size(55)
                .build_cartesian_2d(0.0..1.0, 0.0..ymax),
            &title
        );
        tryc!(
            chart
                .configure_mesh()
                .disable_x_mesh()
                .y_label_formatter(&|v| format!("{v:.0}"))
                .x_desc("p-value")
                .y_desc("proteins")
                .draw(),
            &title
        );
        let w = 1.0 / BINS as f64;
        tryc!(
            chart.draw_series(counts.iter().enumerate().map(|(i, &c)| {
                Rectangle::new(
                    [(i as f64 * w, 0.0), ((i + 1) as f64 * w, c as f64)],
                    PALETTE[0].filled().stroke_width(0),
                )
            })),
            &title
        );
        tryc!(root.present(), &title);
    }
    Ok(finish(buf, "chart"))
}

/// Horizontal bars of −log10 adjusted p for enriched terms, best at the top.
pub fn term_bars(title: &str, names: &[String], adj_p: &[f64], alpha: f64) -> Result<String, ReportError> {
    let n = names.len() as i32;
    let vals: Vec<f64> = adj_p.iter().map(|p| -p.max(P_FLOOR).log10()).collect();
    let xmax = finite_range(vals.iter().copied()).map(|r| r.1).unwrap_or(1.0).max(-alpha.log10()) * 1.1;
    let short: Vec<String> =
        names
            .iter()
            .map(|s| {
                if s.chars().count() > 48 {
                    format!("{}…", s.chars().take(47).collect::<String>())
                } else {
                    s.clone()
                }
            })
            .collect();
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (640, (60 + 24 * n.max(3)) as u32 + 50)).into_drawing_area();
        tryc!(root.fill(&WHITE), title);
        let mut chart = tryc!(
            ChartBuilder::on(&root)
                .caption(title, (FONT, 14))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(290)
                .build_cartesian_2d(0.0..xmax, (0..n).into_segmented()),
            title
        );
        // Rank 0 (best) at the top: row i is drawn at n-1-i.
        tryc!(
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(names.len() + 1)
                .y_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) | SegmentValue::Exact(i) if *i < n => {
                        short[(n - 1 - *i) as usize].clone()
                    }
                    _ => String::new(),
                })
                .x_desc(format!("−log10 adjusted p (red line: adjusted p = {alpha})"))
                .draw(),
            title
        );
        tryc!(
            chart.draw_series(vals.iter().enumerate().map(|(i, &v)| {
                let row = n - 1 - i as i32;
                let c = if adj_p[i] < alpha { PALETTE[0] } else { RGBColor(180, 180, 180) };
                let mut r =
                    Rectangle::new([(0.0, SegmentValue::Exact(row)), (v, SegmentValue::Exact(row + 1))], c.filled());
                r.set_margin(3, 3, 0, 0);
                r
            })),
            title
        );
        let a = -alpha.log10();
        tryc!(
            chart.draw_series(LineSeries::new(
                vec![(a, SegmentValue::Exact(0)), (a, SegmentValue::Last)],
                RGBColor(200, 40, 40).stroke_width(1)
            )),
            title
        );
        tryc!(root.present(), title);
    }
    Ok(finish(buf, "chart"))
}

/// Leaf order of an average-linkage (UPGMA) clustering of `rows` by Euclidean distance over the columns both rows
/// have finite (scaled to the full column count), so similar rows sit together in a heatmap.
pub fn cluster_order(rows: &[Vec<f64>]) -> Vec<usize> {
    let n = rows.len();
    if n < 3 {
        return (0..n).collect();
    }
    let dist = |a: &[f64], b: &[f64]| {
        let (mut s, mut k) = (0.0, 0usize);
        for (x, y) in a.iter().zip(b) {
            if x.is_finite() && y.is_finite() {
                s += (x - y) * (x - y);
                k += 1;
            }
        }
        if k == 0 {
            f64::MAX / 4.0
        } else {
            (s * a.len() as f64 / k as f64).sqrt()
        }
    };
    // Each cluster: its leaves in order and its size; distances between clusters kept in a matrix.
    let mut clusters: Vec<Option<Vec<usize>>> = (0..n).map(|i| Some(vec![i])).collect();
    let mut d: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| dist(&rows[i], &rows[j])).collect()).collect();
    for _ in 1..n {
        let (mut best, mut bi, mut bj) = (f64::INFINITY, 0, 0);
        for i in 0..n {
            if clusters[i].is_none() {
                continue;
            }
            for j in i + 1..n {
                if clusters[j].is_some() && d[i][j] < best {
                    (best, bi, bj) = (d[i][j], i, j);
                }
            }
        }
        let (ni, nj) = (clusters[bi].as_ref().map_or(0, Vec::len), clusters[bj].as_ref().map_or(0, Vec::len));
        for k in 0..n {
            if k != bi && k != bj && clusters[k].is_some() {
                let v = (d[bi][k] * ni as f64 + d[bj][k] * nj as f64) / (ni + nj) as f64;
                d[bi][k] = v;
                d[k][bi] = v;
            }
        }
        let right = clusters[bj].take().unwrap_or_default();
        if let Some(left) = clusters[bi].as_mut() {
            left.extend(right);
        }
    }
    clusters.into_iter().flatten().next().unwrap_or_default()
}

/// Blue (−) – white – red (+) for a z-score, saturating at ±`Z_SATURATE`.
fn z_color(z: f64) -> RGBColor {
    const Z_SATURATE: f64 = 2.5;
    if !z.is_finite() {
        return RGBColor(210, 210, 210);
    }
    let t = (z / Z_SATURATE).clamp(-1.0, 1.0);
    if t >= 0.0 {
        blend(RGBColor(255, 255, 255), UP, t)
    } else {
        blend(RGBColor(255, 255, 255), DOWN, -t)
    }
}

/// A heatmap of z-scored proteins (rows, in the order given) × samples (columns, design order), a group colour bar
/// above the columns, imputed values marked with a dot, and a z colour key.
pub fn zscore_heatmap(
    title: &str,
    rows: &[String],
    samples: &[String],
    groups: &[String],
    z: &[Vec<f64>],
    imputed: &[Vec<bool>],
) -> String {
    let uniq = legend_groups(groups);
    let (cell_w, cell_h) = (18, 14);
    let label_w = label_width(rows, 40, 200) as i32;
    let sample_h = label_width(samples, 30, 160) as i32;
    let (left, top) = (10, 56);
    let width = left + cell_w * samples.len() as i32 + label_w + 140;
    let height = top + cell_h * rows.len() as i32 + sample_h + 30;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart heatmap-z\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/><text x=\"{left}\" y=\"20\" font-family=\"{FONT}\" font-size=\"16\">{}</text>",
        crate::esc(title)
    );
    for (s, g) in groups.iter().enumerate() {
        let x = left + cell_w * s as i32;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{cell_w}\" height=\"10\" fill=\"{}\"><title>{}: {}</title></rect>",
            top - 14,
            hex(group_color(&uniq, g)),
            crate::esc(&samples[s]),
            crate::esc(g)
        );
    }
    for (r, name) in rows.iter().enumerate() {
        let y = top + cell_h * r as i32;
        for s in 0..samples.len() {
            let x = left + cell_w * s as i32;
            let v = z[r][s];
            let _ = write!(
                svg,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{cell_w}\" height=\"{cell_h}\" fill=\"{}\"><title>{} in {}: z = {v:.2}{}</title></rect>",
                hex(z_color(v)),
                crate::esc(name),
                crate::esc(&samples[s]),
                if imputed[r][s] { " (imputed)" } else { "" }
            );
            if imputed[r][s] {
                let _ =
                    write!(svg, "<circle cx=\"{}\" cy=\"{}\" r=\"2\" fill=\"#333\"/>", x + cell_w / 2, y + cell_h / 2);
            }
        }
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-family=\"{FONT}\" font-size=\"11\">{}</text>",
            left + cell_w * samples.len() as i32 + 4,
            y + cell_h - 3,
            crate::esc(name)
        );
    }
    let base = top + cell_h * rows.len() as i32 + 4;
    for (s, name) in samples.iter().enumerate() {
        let x = left + cell_w * s as i32 + cell_w / 2 + 4;
        let _ = write!(
            svg,
            "<text x=\"{x}\" y=\"{base}\" font-family=\"{FONT}\" font-size=\"11\" transform=\"rotate(90 {x} {base})\">{}</text>",
            crate::esc(name)
        );
    }
    let kx = left + cell_w * samples.len() as i32 + label_w + 20;
    for (i, g) in uniq.iter().enumerate() {
        let y = top + 16 * i as i32;
        let _ = write!(
            svg,
            "<rect x=\"{kx}\" y=\"{y}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-family=\"{FONT}\" font-size=\"11\">{}</text>",
            hex(group_color(&uniq, g)),
            kx + 14,
            y + 9,
            crate::esc(g)
        );
    }
    let ky = top + 16 * uniq.len() as i32 + 10;
    for k in 0..11 {
        let zv = 2.5 - 0.5 * k as f64;
        let _ = write!(
            svg,
            "<rect x=\"{kx}\" y=\"{}\" width=\"14\" height=\"8\" fill=\"{}\"/>",
            ky + 8 * k,
            hex(z_color(zv))
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-family=\"{FONT}\" font-size=\"11\">z +2.5</text><text x=\"{}\" y=\"{}\" font-family=\"{FONT}\" font-size=\"11\">z −2.5</text><text x=\"{kx}\" y=\"{}\" font-family=\"{FONT}\" font-size=\"11\">● imputed</text></svg>",
        kx + 18,
        ky + 8,
        kx + 18,
        ky + 88,
        ky + 108
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_lines_of_one_style_become_one_path_and_the_rest_is_kept() {
        let grey = r##"opacity="0.1" stroke="#000000" stroke-width="1""##;
        let svg = format!(
            "<svg>\n<line {grey} x1=\"65\" y1=\"364\" x2=\"409\" y2=\"364\"/>\n<line {grey} x1=\"70\" y1=\"31\" \
             x2=\"70\" y2=\"299\"/>\n<line {grey} x1=\"1\" y1=\"2\" x2=\"3\" y2=\"4\"/>\n<line opacity=\"0.2\" \
             stroke=\"#000000\" stroke-width=\"1\" x1=\"5\" y1=\"6\" x2=\"7\" y2=\"6\"/>\n<text x=\"1\">a</text>\n\
             <line {grey} x1=\"8\" y1=\"9\" x2=\"8\" y2=\"10\"/>\n</svg>\n"
        );
        let expected = format!(
            "<svg>\n<path {grey} fill=\"none\" d=\"M65 364H409M70 31V299M1 2L3 4\"/>\n<path opacity=\"0.2\" \
             stroke=\"#000000\" stroke-width=\"1\" fill=\"none\" d=\"M5 6H7\"/>\n<text x=\"1\">a</text>\n\
             <path {grey} fill=\"none\" d=\"M8 9V10\"/>\n</svg>\n"
        );
        assert_eq!(merge_lines(&svg), expected);
        let odd = "<svg>\n<line x1=\"1\" y1=\"2\" x2=\"3\"/>\n<line a=\"b\" x1=\"1\" y1=\"2\" x2=\"3\" y2=\"4\" z=\"5\"/>\n</svg>";
        assert_eq!(merge_lines(odd), odd, "lines not in plotters' form are left as they are");
    }

    /// Every chart on values at the ends of the float range returns (a bounded time), with finite axes.
    #[test]
    fn charts_of_extreme_values_finish() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let names: Vec<String> = (0..4).map(|i| format!("S{i}")).collect();
            let groups: Vec<String> = ["A", "A", "B", "B"].map(String::from).to_vec();
            let extreme = vec![f64::MAX, -f64::MAX, f64::NAN, f64::INFINITY, 1e-320, 0.0, 20.0];
            let data: Vec<Vec<f64>> = (0..4).map(|_| extreme.clone()).collect();
            box_plots("box", "log2 intensity", &names, &groups, &data).unwrap();
            sample_bars("bars", "x", &names, &groups, &[f64::MAX, 1.0, f64::NAN, 2.0]).unwrap();
            pca(&names, &groups, &[f64::MAX, -f64::MAX, 0.0, 1.0], &[1.0, f64::MAX, 0.0, -1.0], (50.0, 20.0), true)
                .unwrap();
            let points: Vec<VolcanoPoint> = [f64::MAX, -f64::MAX, 1.0, f64::NAN]
                .iter()
                .map(|&l| VolcanoPoint { log2fc: l, p: 1e-300, class: 1, label: Some("G".into()) })
                .collect();
            volcano("B-A", &points, 1.0, 0.01, "adj. p < 0.05").unwrap();
            term_bars("terms", &["t".to_string()], &[0.0], 0.05).unwrap();
            let _ = tx.send(());
        });
        assert!(rx.recv_timeout(std::time::Duration::from_secs(60)).is_ok(), "a chart did not finish");
    }

    #[test]
    fn clustering_puts_similar_rows_together() {
        let rows = vec![vec![1.0, 1.0, -1.0], vec![-1.0, -1.0, 1.0], vec![1.1, 0.9, -1.0], vec![-0.9, -1.1, 1.2]];
        let order = cluster_order(&rows);
        let pos = |i: usize| order.iter().position(|&x| x == i).unwrap() as i32;
        assert_eq!(order.len(), 4);
        assert_eq!((pos(0) - pos(2)).abs(), 1, "{order:?}");
        assert_eq!((pos(1) - pos(3)).abs(), 1, "{order:?}");
    }

    #[test]
    fn five_numbers_match_r_boxplot_stats_on_a_small_vector() {
        // R 4.2.2: quantile(c(1,2,3,4,100), type = 7) -> 1, 2, 3, 4, 100; whiskers within 1.5 IQR: 1 and 4.
        let s = five_numbers(&[1.0, 2.0, 3.0, 4.0, 100.0, f64::NAN]).unwrap();
        assert_eq!(s, [1.0, 2.0, 3.0, 4.0, 4.0]);
        assert!(five_numbers(&[f64::NAN]).is_none());
    }

    #[test]
    fn volcano_draws_significant_points_and_a_density_of_the_rest() {
        // 1000 grey proteins on one spot, 5 on another, 1 alone; 200 significant ones, one of them labelled.
        let grey = |log2fc: f64, p: f64, n: usize| {
            (0..n).map(move |i| VolcanoPoint { log2fc: log2fc + i as f64 * 1e-9, p, class: 0, label: None })
        };
        let pts: Vec<VolcanoPoint> = grey(0.1, 0.5, 1000)
            .chain(grey(-0.5, 0.05, 5))
            .chain(grey(0.6, 0.9, 1))
            .chain((0..200).map(|i| VolcanoPoint {
                log2fc: 2.0 + i as f64 * 0.01,
                p: 10f64.powf(-3.0 - i as f64 * 0.02),
                class: 1,
                label: (i == 0).then(|| "A&B".to_string()),
            }))
            .collect();
        let svg = volcano("B-A", &pts, 1.0, 1e-3, "adj. p = 0.05").unwrap();
        assert!(!svg.contains("http"));
        assert!(!svg.contains(SENTINEL));
        let density = |min: u32| {
            let tag = format!(r#"data-min-count="{min}" d=""#);
            svg.split(&tag).nth(1).map(|s| s.split('"').next().unwrap().matches('M').count()).unwrap_or(0)
        };
        assert_eq!((density(1), density(2), density(4), density(10)), (1, 0, 1, 1), "one cell per spot, by count");
        let up = svg.split(r#"data-class="up" d=""#).nth(1).unwrap().split('"').next().unwrap();
        assert!(up.matches("h0").count() > 150, "every significant point that has its own pixel");
        assert!(svg.contains(r#"class="vl""#) && svg.contains("A&amp;B"));
    }

    #[test]
    fn density_merges_adjacent_cells_of_one_shade() {
        let c = DENSITY_CELL_PX;
        let d = density_paths([(0, 0), (c, 0), (2 * c, 1), (5 * c, 0)].into_iter(), RGBColor(0, 0, 0));
        assert!(d.contains(&format!("M0 0h{}v{c}h-{}z", 3 * c, 3 * c)), "{d}");
        assert!(d.contains(&format!("M{} 0h{c}v{c}h-{c}z", 5 * c)), "{d}");
        assert_eq!(d.matches("<path").count(), 1);
    }
}
