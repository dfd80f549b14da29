//! DE stage: model matrix from the design, contrasts, and the per-protein tests (limma, t-tests, ANOVA, Tukey HSD).

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use proteo_stats::anova::{anova_oneway, welch_anova};
use proteo_stats::limma::{contrasts_fit, design_rank, ebayes, group_ftest, lm_fit, treat, EbayesOptions};
use proteo_stats::padjust::p_adjust_bh;
use proteo_stats::ptukey::StudentizedRangeCache;
use proteo_stats::ttest::{student_t, welch_t};
use proteo_stats::tukey::tukey_pair;

use crate::model::Design;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DeMethod {
    /// lmFit + eBayes moderated t (and F for ≥ 3 groups).
    #[default]
    Limma,
    /// Two-sample Welch t-test per contrast.
    Welch,
    /// Two-sample Student t-test (pooled variance) per contrast.
    Student,
    /// One-way ANOVA F; contrasts use the pooled ANOVA variance (Fisher LSD).
    Anova,
    /// Welch one-way ANOVA (unequal variances); contrasts use Welch t-tests.
    WelchAnova,
}

impl DeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            DeMethod::Limma => "limma",
            DeMethod::Welch => "welch",
            DeMethod::Student => "student",
            DeMethod::Anova => "anova",
            DeMethod::WelchAnova => "welch-anova",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Posthoc {
    #[default]
    None,
    /// Tukey HSD (Tukey–Kramer for unequal group sizes) on the one-way ANOVA of each protein.
    Tukey,
}

/// Which moderated F test limma runs for ≥ 3 groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FTestMode {
    /// "Any difference among the groups", from each protein's own fit with the moderated variance
    /// ([`proteo_stats::limma::group_ftest`]): the same whatever `--contrasts` asks for.
    #[default]
    PerProtein,
    /// limma's `classifyTestsF` F over the requested contrasts with the design's shared correlation (`eBayes`'s
    /// `F`): equal to limma, but it changes with the contrasts when values are missing.
    Shared,
}

impl FTestMode {
    pub fn describe(self) -> &'static str {
        match self {
            FTestMode::PerProtein => "moderated F of any difference among the groups, from each protein's own fit",
            FTestMode::Shared => "limma classifyTestsF F over the requested contrasts (shared design correlation)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeParams {
    pub method: DeMethod,
    /// `default`, `all-pairs`, `vs:<group>`, or a comma-separated list such as `B-A,C-A,(B+C)/2-A`
    /// ([`parse_contrasts`] says how each reads).
    pub contrasts: String,
    /// The reference (control) group; `None` = a group named like a control ([`CONTROL_WORDS`]), else the first.
    pub reference: Option<String>,
    pub posthoc: Posthoc,
    /// limma eBayes `trend = TRUE`.
    pub trend: bool,
    /// limma eBayes `robust = TRUE`.
    pub robust: bool,
    /// limma `treat` minimum |log2 fold change| under the null; `None` = ordinary moderated t.
    pub treat_lfc: Option<f64>,
    /// Numeric design columns added to the limma model.
    pub covariates: Vec<String>,
    /// limma's F test for ≥ 3 groups.
    pub f_test: FTestMode,
}

impl Default for DeParams {
    fn default() -> Self {
        DeParams {
            method: DeMethod::Limma,
            contrasts: DEFAULT_CONTRASTS.into(),
            reference: None,
            posthoc: Posthoc::None,
            trend: false,
            robust: false,
            treat_lfc: None,
            covariates: vec![],
            f_test: FTestMode::PerProtein,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DeError {
    #[error("the design has {0} group; differential expression needs at least 2")]
    OneGroup(usize),
    #[error("contrast `{contrast}`: {reason}")]
    BadContrast { contrast: String, reason: String },
    #[error("--reference `{group}` is not a group of the design (groups: {groups})")]
    BadReference { group: String, groups: String },
    #[error("group `{group}` has {n} sample(s); the {test} needs at least {need} per group")]
    TooFewReplicates { group: String, n: usize, test: &'static str, need: usize },
    #[error("covariate `{column}`: {reason}")]
    BadCovariate { column: String, reason: String },
    #[error("the design cannot be fitted: {column} is confounded with {with} (the model matrix is not full rank); drop it or add samples that separate them")]
    Confounded { column: String, with: String },
    #[error("the design leaves no residual degrees of freedom ({samples} samples, {params} model parameters): groups need replicates")]
    NoResidualDf { samples: usize, params: usize },
    #[error("{0}")]
    Stats(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("differential expression stopped at its time limit ({step}); the job is too large for one run: split it into jobs with fewer contrasts or proteins")]
    TimedOut { step: &'static str },
}

/// Deepest nesting of parentheses and signs in a contrast (`((B+C)/2-A)` is 2 deep); bounds the parser's recursion.
const MAX_CONTRAST_NESTING: usize = 32;
/// Proteins between two deadline checks in the per-protein loops.
const CHECK_EVERY: usize = 256;

fn check_deadline(i: usize, step: &'static str) -> Result<(), DeError> {
    if i.is_multiple_of(CHECK_EVERY) {
        crate::deadline::check().map_err(|_| DeError::TimedOut { step })?;
    }
    Ok(())
}

/// A linear combination of group means: `log2fc = Σ weights[g] · mean[g]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contrast {
    pub name: String,
    pub weights: Vec<f64>,
    /// `(a, b)` when the contrast is the plain difference `a − b` of two groups.
    pub pair: Option<(usize, usize)>,
}

/// The contrast spec that orients itself by the reference group (see [`parse_contrasts`]).
pub const DEFAULT_CONTRASTS: &str = "default";

/// Whole words (case-insensitive, split at anything but letters and digits) that mark a group as the control:
/// the names control groups go by in proteomics designs (LFQ-Analyst, MSstats and DEP examples, clinical cohorts).
pub const CONTROL_WORDS: &[&str] = &[
    "control",
    "controls",
    "ctrl",
    "ctrls",
    "healthy",
    "wt",
    "untreated",
    "vehicle",
    "mock",
    "normal",
    "sham",
    "dmso",
    "baseline",
];

/// How the reference group was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferenceChoice {
    /// `--reference <group>`.
    Given,
    /// Its name contains a [`CONTROL_WORDS`] word.
    ControlName,
    /// No group is named like a control: the first group of the design.
    FirstGroup,
}

/// The group other groups are compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceGroup {
    pub index: usize,
    pub name: String,
    pub chosen: ReferenceChoice,
}

impl ReferenceGroup {
    /// True when contrasts orient towards it (given, or named like a control).
    pub fn orients(&self) -> bool {
        self.chosen != ReferenceChoice::FirstGroup
    }

    /// One sentence for the summary, the report and the methods text.
    pub fn describe(&self) -> String {
        match self.chosen {
            ReferenceChoice::Given => format!("`{}` (given with --reference)", self.name),
            ReferenceChoice::ControlName => format!("`{}` (its name says control)", self.name),
            ReferenceChoice::FirstGroup => format!(
                "none (no group is named like a control and none was given; `{}`, listed first, is the first term of its pairs)",
                self.name
            ),
        }
    }
}

fn is_control_name(name: &str) -> (bool, bool) {
    let words: Vec<String> =
        name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let hits = words.iter().filter(|w| CONTROL_WORDS.contains(&w.as_str())).count();
    (hits > 0, hits > 0 && hits == words.len())
}

/// The reference group: `given` when set (it must be a group), else the first group whose name is only control
/// words, else the first whose name contains one, else the first group of the design.
pub fn reference_group(groups: &[String], given: Option<&str>) -> Result<ReferenceGroup, DeError> {
    if let Some(g) = given.map(str::trim).filter(|g| !g.is_empty()) {
        let index = groups
            .iter()
            .position(|x| x == g)
            .ok_or_else(|| DeError::BadReference { group: g.to_string(), groups: groups.join(", ") })?;
        return Ok(ReferenceGroup { index, name: g.to_string(), chosen: ReferenceChoice::Given });
    }
    let pure = groups.iter().position(|g| is_control_name(g).1);
    let any = groups.iter().position(|g| is_control_name(g).0);
    Ok(match pure.or(any) {
        Some(index) => ReferenceGroup { index, name: groups[index].clone(), chosen: ReferenceChoice::ControlName },
        None => ReferenceGroup {
            index: 0,
            name: groups.first().cloned().unwrap_or_default(),
            chosen: ReferenceChoice::FirstGroup,
        },
    })
}

/// Parse a contrast spec. `A-B` always means log2 A − log2 B.
/// - `default` (or empty): `other − reference` for every other group when the reference is given or named like a
///   control; otherwise `all-pairs`.
/// - `all-pairs`: every pair, `first listed − later listed` in design order, except that a pair with an orienting
///   reference reads `other − reference`.
/// - `vs:<group>`: `other − group` for every other group.
/// - a comma-separated list of linear combinations (`B-A,C-A,(B+C)/2-A`), as written.
pub fn parse_contrasts(spec: &str, groups: &[String], reference: &ReferenceGroup) -> Result<Vec<Contrast>, DeError> {
    let k = groups.len();
    let diff = |a: usize, b: usize| {
        let mut w = vec![0.0; k];
        w[a] = 1.0;
        w[b] = -1.0;
        Contrast { name: format!("{}-{}", groups[a], groups[b]), weights: w, pair: Some((a, b)) }
    };
    let spec = spec.trim();
    let all_pairs = || {
        let mut out = Vec::new();
        for a in 0..k {
            for b in a + 1..k {
                out.push(if reference.orients() && a == reference.index { diff(b, a) } else { diff(a, b) });
            }
        }
        out
    };
    if spec.is_empty() || spec == DEFAULT_CONTRASTS {
        if reference.orients() {
            return Ok((0..k).filter(|&g| g != reference.index).map(|g| diff(g, reference.index)).collect());
        }
        return Ok(all_pairs());
    }
    if spec == "all-pairs" {
        return Ok(all_pairs());
    }
    if let Some(control) = spec.strip_prefix("vs:") {
        let c = groups.iter().position(|g| g == control.trim()).ok_or_else(|| DeError::BadContrast {
            contrast: spec.to_string(),
            reason: format!("`{}` is not a group of the design (groups: {})", control.trim(), groups.join(", ")),
        })?;
        return Ok((0..k).filter(|&g| g != c).map(|g| diff(g, c)).collect());
    }
    let mut out: Vec<Contrast> = Vec::new();
    for item in spec.split(',') {
        let text = item.trim();
        let shown = || {
            let cut: String = text.chars().take(SHOWN_CONTRAST_CHARS).collect();
            if cut.len() < text.len() {
                format!("{cut}…")
            } else {
                cut
            }
        };
        let err = |reason: String| DeError::BadContrast { contrast: shown(), reason };
        let mut p = ContrastParser { s: text, pos: 0, groups, depth: 0 };
        let lin = p.expr().map_err(err)?;
        p.skip_ws();
        if p.pos != text.len() {
            return Err(err(format!("unexpected `{}`", &text[p.pos..])));
        }
        if lin.constant.abs() > 1e-12 {
            return Err(err("a contrast compares groups and cannot contain a bare number".into()));
        }
        if lin.weights.iter().chain([&lin.constant]).any(|w| !w.is_finite()) {
            return Err(err("its group weights are not finite numbers; use factors such as `(B+C)/2-A`".into()));
        }
        let sum: f64 = lin.weights.iter().sum();
        if lin.weights.iter().all(|w| *w == 0.0) || sum.is_nan() || sum.abs() > 1e-9 {
            return Err(err(format!(
                "the group weights must sum to zero (they sum to {sum}); write a difference such as `{}`",
                if k >= 2 { format!("{}-{}", groups[1], groups[0]) } else { "B-A".into() }
            )));
        }
        let nz: Vec<usize> = (0..k).filter(|&g| lin.weights[g] != 0.0).collect();
        let pair = match nz.as_slice() {
            [x, y] if lin.weights[*x] == 1.0 && lin.weights[*y] == -1.0 => Some((*x, *y)),
            [x, y] if lin.weights[*x] == -1.0 && lin.weights[*y] == 1.0 => Some((*y, *x)),
            _ => None,
        };
        if out.iter().any(|c| c.name == text) {
            return Err(err("listed twice".into()));
        }
        out.push(Contrast { name: text.to_string(), weights: lin.weights, pair });
    }
    Ok(out)
}

/// Longest contrast text quoted in a message.
const SHOWN_CONTRAST_CHARS: usize = 80;

/// Largest factor in a contrast (`1000*B-1000*A` is allowed; a weight beyond it is a typo, and weights near
/// the float range would overflow in the fit).
const MAX_CONTRAST_FACTOR: f64 = 1e6;

struct Linear {
    weights: Vec<f64>,
    constant: f64,
}

struct ContrastParser<'a> {
    s: &'a str,
    pos: usize,
    groups: &'a [String],
    depth: usize,
}

impl ContrastParser<'_> {
    fn skip_ws(&mut self) {
        while self.s[self.pos..].starts_with(' ') {
            self.pos += 1;
        }
    }
    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.s[self.pos..].chars().next()
    }
    fn expr(&mut self) -> Result<Linear, String> {
        let mut acc = self.term()?;
        while let Some(c @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            let rhs = self.term()?;
            let sign = if c == '+' { 1.0 } else { -1.0 };
            acc.weights.iter_mut().zip(&rhs.weights).for_each(|(a, b)| *a += sign * b);
            acc.constant += sign * rhs.constant;
        }
        Ok(acc)
    }
    fn term(&mut self) -> Result<Linear, String> {
        let mut acc = self.factor()?;
        while let Some(c @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            let rhs = self.factor()?;
            let is_const = |l: &Linear| l.weights.iter().all(|w| *w == 0.0);
            if c == '/' {
                if !is_const(&rhs) || rhs.constant == 0.0 {
                    return Err("can only divide by a non-zero number".into());
                }
                acc.weights.iter_mut().for_each(|w| *w /= rhs.constant);
                acc.constant /= rhs.constant;
            } else if is_const(&rhs) {
                acc.weights.iter_mut().for_each(|w| *w *= rhs.constant);
                acc.constant *= rhs.constant;
            } else if is_const(&acc) {
                let f = acc.constant;
                acc = Linear { weights: rhs.weights.iter().map(|w| w * f).collect(), constant: rhs.constant * f };
            } else {
                return Err("two groups cannot be multiplied".into());
            }
        }
        Ok(acc)
    }
    fn factor(&mut self) -> Result<Linear, String> {
        self.depth += 1;
        if self.depth > MAX_CONTRAST_NESTING {
            return Err(format!("nests parentheses or signs more than {MAX_CONTRAST_NESTING} deep"));
        }
        let out = self.factor_inner();
        self.depth -= 1;
        out
    }
    fn factor_inner(&mut self) -> Result<Linear, String> {
        let k = self.groups.len();
        match self.peek() {
            None => Err("ends where a group name was expected".into()),
            Some('(') => {
                self.pos += 1;
                let inner = self.expr()?;
                if self.peek() != Some(')') {
                    return Err("a `(` is not closed".into());
                }
                self.pos += 1;
                Ok(inner)
            }
            Some('-') => {
                self.pos += 1;
                let mut f = self.factor()?;
                f.weights.iter_mut().for_each(|w| *w = -*w);
                f.constant = -f.constant;
                Ok(f)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let rest = &self.s[self.pos..];
                let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
                let shown: String = rest[..end].chars().take(24).collect();
                let v: f64 = rest[..end].parse().map_err(|_| format!("`{shown}` is not a number"))?;
                if !(v.is_finite() && v.abs() <= MAX_CONTRAST_FACTOR) {
                    return Err(format!(
                        "the number `{shown}…` is out of range: factors in a contrast lie within ±{MAX_CONTRAST_FACTOR}"
                    ));
                }
                self.pos += end;
                Ok(Linear { weights: vec![0.0; k], constant: v })
            }
            Some(_) => {
                let rest = &self.s[self.pos..];
                let best =
                    (0..k).filter(|&g| rest.starts_with(self.groups[g].as_str())).max_by_key(|&g| self.groups[g].len());
                match best {
                    Some(g) => {
                        self.pos += self.groups[g].len();
                        let mut w = vec![0.0; k];
                        w[g] = 1.0;
                        Ok(Linear { weights: w, constant: 0.0 })
                    }
                    None => {
                        let word: String = rest.chars().take_while(|c| !"+-*/() ".contains(*c)).collect();
                        Err(format!("`{word}` is not a group of the design (groups: {})", self.groups.join(", ")))
                    }
                }
            }
        }
    }
}

/// Largest magnitude of a covariate value: beyond it the squares in the QR fit lose every digit of precision.
const MAX_COVARIATE: f64 = 1e12;

/// The limma model matrix `~ 0 + group [+ batch] [+ pair] [+ covariates]` with treatment coding of the extra factors.
pub struct ModelMatrix {
    pub matrix: DMatrix<f64>,
    pub columns: Vec<String>,
    pub formula: String,
}

pub fn model_matrix(design: &Design, covariates: &[String]) -> Result<ModelMatrix, DeError> {
    let groups = design.groups();
    let gidx = design.group_index();
    let n = design.samples.len();
    let mut cols: Vec<(String, Vec<f64>)> = groups
        .iter()
        .enumerate()
        .map(|(g, name)| (format!("group `{name}`"), gidx.iter().map(|&x| if x == g { 1.0 } else { 0.0 }).collect()))
        .collect();
    let mut formula = "~ 0 + group".to_string();
    let mut factor = |label: &str, values: Vec<Option<String>>, cols: &mut Vec<(String, Vec<f64>)>| {
        if values.iter().all(|v| v.as_deref().unwrap_or("").is_empty()) {
            return;
        }
        let vals: Vec<String> = values.into_iter().map(|v| v.unwrap_or_default()).collect();
        let mut levels: Vec<&String> = Vec::new();
        for v in &vals {
            if !levels.contains(&v) {
                levels.push(v);
            }
        }
        if levels.len() < 2 {
            return;
        }
        formula.push_str(&format!(" + {label}"));
        for lv in levels.iter().skip(1) {
            cols.push((format!("{label} `{lv}`"), vals.iter().map(|v| if v == *lv { 1.0 } else { 0.0 }).collect()));
        }
    };
    factor("batch", design.samples.iter().map(|s| s.batch.clone()).collect(), &mut cols);
    factor("pair", design.samples.iter().map(|s| s.pair.clone()).collect(), &mut cols);
    for cov in covariates {
        let mut v = Vec::with_capacity(n);
        for s in &design.samples {
            let text = s.extra.get(cov).ok_or_else(|| DeError::BadCovariate {
                column: cov.clone(),
                reason: format!(
                    "the design file has no such column (extra columns: {})",
                    design.samples[0].extra.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            })?;
            let x: f64 =
                text.trim().parse().ok().filter(|x: &f64| x.is_finite() && x.abs() <= MAX_COVARIATE).ok_or_else(
                    || DeError::BadCovariate {
                        column: cov.clone(),
                        reason: format!(
                            "sample `{}` has `{}`, expected a finite number within ±{MAX_COVARIATE:e}",
                            s.sample,
                            text.chars().take(40).collect::<String>()
                        ),
                    },
                )?;
            v.push(x);
        }
        formula.push_str(&format!(" + {cov}"));
        cols.push((format!("covariate `{cov}`"), v));
    }
    let p = cols.len();
    let matrix = DMatrix::from_fn(n, p, |i, j| cols[j].1[i]);
    // Find the first column that adds nothing to the span of the ones before it.
    let mut rank_before = 0;
    for j in 0..p {
        let r = design_rank(&matrix.columns(0, j + 1).into_owned());
        if r == rank_before {
            let with = explain_dependence(&matrix, j, &cols.iter().map(|c| c.0.clone()).collect::<Vec<_>>());
            return Err(DeError::Confounded { column: cols[j].0.clone(), with });
        }
        rank_before = r;
    }
    if n <= p {
        return Err(DeError::NoResidualDf { samples: n, params: p });
    }
    Ok(ModelMatrix { matrix, columns: cols.into_iter().map(|c| c.0).collect(), formula })
}

/// Each protein's least-squares residuals on the DE model matrix ([`model_matrix`]), proteins × samples in design
/// order (a NaN row for a protein with a missing value), and the residual df (samples − columns). CAMERA's
/// estimated inter-gene correlation is computed from them.
pub fn residuals(values: &[f64], design: &Design, covariates: &[String]) -> Result<(Vec<f64>, usize), DeError> {
    let mm = model_matrix(design, covariates)?;
    let (n, p) = mm.matrix.shape();
    let q = mm.matrix.clone().qr().q();
    let mut out = vec![f64::NAN; values.len()];
    for (row, res) in values.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
        if row.iter().all(|v| v.is_finite()) {
            let y = nalgebra::DVector::from_column_slice(row);
            let fitted = &q * (q.transpose() * &y);
            for i in 0..n {
                res[i] = y[i] - fitted[i];
            }
        }
    }
    Ok((out, n - p))
}

/// Names the earlier columns that column `j` is a linear combination of.
fn explain_dependence(m: &DMatrix<f64>, j: usize, names: &[String]) -> String {
    let a = m.columns(0, j).into_owned();
    let b = m.column(j).into_owned();
    let coef = a.clone().svd(true, true).solve(&b, 1e-10).ok();
    let parts: Vec<String> = match coef {
        Some(c) => (0..j).filter(|&i| c[i].abs() > 1e-8).map(|i| names[i].clone()).collect(),
        None => vec![],
    };
    if parts.is_empty() {
        "the columns before it".into()
    } else {
        parts.join(" + ")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FTest {
    pub f: Vec<f64>,
    pub df1: Vec<f64>,
    pub df2: Vec<f64>,
    pub p_value: Vec<f64>,
    pub adj_p_value: Vec<f64>,
}

/// DE results in long form: one row per (contrast, protein), contrast-major.
#[derive(Debug, Clone, PartialEq)]
pub struct DeOutput {
    pub contrasts: Vec<Contrast>,
    pub reference: ReferenceGroup,
    pub n_proteins: usize,
    pub log2fc: Vec<f64>,
    pub t: Vec<f64>,
    pub df: Vec<f64>,
    pub p_value: Vec<f64>,
    pub adj_p_value: Vec<f64>,
    pub tukey_p_value: Option<Vec<f64>>,
    /// Per protein, mean log2 intensity over all samples (limma `Amean`).
    pub avg_expr: Vec<f64>,
    pub ftest: Option<FTest>,
    /// A one-line description of the model, for the summary.
    pub model: String,
    /// limma prior (s2.prior, df.prior) — the median over proteins when trend/robust make them per protein.
    pub prior: Option<(f64, f64)>,
}

fn check_groups(k: usize) -> Result<(), DeError> {
    use crate::limits::{over, MAX_GROUPS};
    if k > MAX_GROUPS {
        return Err(DeError::TooLarge(over(
            "the number of groups in the design",
            k,
            MAX_GROUPS,
            "split the design into jobs of related groups (each with its controls)",
        )));
    }
    Ok(())
}

/// What a job over the contrast cap is offered: the F test answers "does any group differ" without a contrast per
/// pair, and a few chosen contrasts say which.
const CONTRAST_ADVICE: &str = "to ask whether any group differs, use the moderated F test (--de limma computes it for \
every design with 3 or more groups, whatever the contrasts) with the contrasts you need: `vs:<control>` or a list such \
as `B-A,C-A`; or split the groups into several jobs";

fn check_contrasts(nc: usize, np: usize) -> Result<(), DeError> {
    use crate::limits::{over, MAX_CONTRASTS, MAX_DE_ROWS};
    if nc > MAX_CONTRASTS {
        return Err(DeError::TooLarge(over("the number of contrasts", nc, MAX_CONTRASTS, CONTRAST_ADVICE)));
    }
    if nc.saturating_mul(np) > MAX_DE_ROWS {
        return Err(DeError::TooLarge(over(
            &format!("the DE result ({np} proteins × {nc} contrasts)"),
            format!("{} rows", nc.saturating_mul(np)),
            format!("{MAX_DE_ROWS} rows"),
            "name fewer contrasts, or split the proteins or groups into several jobs",
        )));
    }
    Ok(())
}

/// Run differential expression on a log2 matrix (proteins × samples in design order, `NaN` = missing).
pub fn run_de(values: &[f64], design: &Design, params: &DeParams) -> Result<DeOutput, DeError> {
    let ns = design.samples.len();
    let np = values.len().checked_div(ns).unwrap_or(0);
    let groups = design.groups();
    let gidx = design.group_index();
    let k = groups.len();
    if k < 2 {
        return Err(DeError::OneGroup(k));
    }
    let sizes: Vec<usize> = (0..k).map(|g| gidx.iter().filter(|&&x| x == g).count()).collect();
    check_groups(k)?;
    let reference = reference_group(&groups, params.reference.as_deref())?;
    let contrasts = parse_contrasts(&params.contrasts, &groups, &reference)?;
    let nc = contrasts.len();
    check_contrasts(nc, np)?;
    let need_two = |gs: &mut dyn Iterator<Item = usize>, test: &'static str| -> Result<(), DeError> {
        for g in gs {
            if sizes[g] < 2 {
                return Err(DeError::TooFewReplicates { group: groups[g].clone(), n: sizes[g], test, need: 2 });
            }
        }
        Ok(())
    };
    let avg_expr: Vec<f64> = (0..np).map(|p| nan_mean(&values[p * ns..(p + 1) * ns])).collect();

    let mut log2fc = vec![f64::NAN; nc * np];
    let mut t = vec![f64::NAN; nc * np];
    let mut df = vec![f64::NAN; nc * np];
    let mut p_value = vec![f64::NAN; nc * np];
    let mut ftest = None;
    let mut prior = None;
    let model;

    let pairwise_only = |method: &str| -> Result<Vec<(usize, usize)>, DeError> {
        contrasts
            .iter()
            .map(|c| {
                c.pair.ok_or_else(|| DeError::BadContrast {
                    contrast: c.name.clone(),
                    reason: format!("the {method} compares two groups; use --de limma for combined contrasts"),
                })
            })
            .collect()
    };

    match params.method {
        DeMethod::Limma => {
            let mm = model_matrix(design, &params.covariates)?;
            let p = mm.columns.len();
            let mut cmat = DMatrix::<f64>::zeros(p, nc);
            for (j, c) in contrasts.iter().enumerate() {
                for g in 0..k {
                    cmat[(g, j)] = c.weights[g];
                }
            }
            let fit = lm_fit(values, ns, &mm.matrix).map_err(|e| DeError::Stats(e.to_string()))?;
            crate::deadline::check().map_err(|_| DeError::TimedOut { step: "the linear model fit" })?;
            let cfit = contrasts_fit(&fit, &cmat).map_err(|e| DeError::Stats(e.to_string()))?;
            let eb = ebayes(&cfit, &EbayesOptions { trend: params.trend, robust: params.robust })
                .map_err(|e| DeError::Stats(e.to_string()))?;
            let (tt, pp) = match params.treat_lfc {
                Some(lfc) => treat(&cfit, &eb, lfc),
                None => (eb.t.clone(), eb.p_value.clone()),
            };
            for j in 0..nc {
                for i in 0..np {
                    let r = j * np + i;
                    log2fc[r] = cfit.coefficients[i * nc + j];
                    t[r] = tt[i * nc + j];
                    p_value[r] = pp[i * nc + j];
                    df[r] = eb.df_total[i];
                }
            }
            if k >= 3 && params.f_test == FTestMode::PerProtein {
                let g = group_ftest(values, ns, &mm.matrix, &(0..k).collect::<Vec<_>>(), &fit.df_residual, &eb);
                ftest = Some(FTest {
                    adj_p_value: p_adjust_bh(&g.p_value),
                    f: g.f,
                    df1: g.df1,
                    df2: g.df2,
                    p_value: g.p_value,
                });
            } else if k >= 3 && nc >= 2 {
                ftest = Some(FTest {
                    adj_p_value: p_adjust_bh(&eb.f_p_value),
                    df1: vec![eb.f_df1; np],
                    df2: eb.f_df2.clone(),
                    f: eb.f.clone(),
                    p_value: eb.f_p_value.clone(),
                });
            }
            prior = Some((finite_median(&eb.s2_prior), finite_median(&eb.df_prior)));
            model = format!(
                "limma lmFit {} + eBayes{}{}{}",
                mm.formula,
                if params.trend { " trend" } else { "" },
                if params.robust { " robust" } else { "" },
                params.treat_lfc.map(|l| format!(" + treat(lfc = {l})")).unwrap_or_default()
            );
        }
        DeMethod::Welch | DeMethod::Student => {
            let pairs =
                pairwise_only(if params.method == DeMethod::Welch { "Welch t-test" } else { "Student t-test" })?;
            let test_name = if params.method == DeMethod::Welch { "Welch t-test" } else { "Student t-test" };
            need_two(&mut pairs.iter().flat_map(|&(a, b)| [a, b]), test_name)?;
            let mut a_buf = Vec::with_capacity(ns);
            let mut b_buf = Vec::with_capacity(ns);
            for (j, &(a, b)) in pairs.iter().enumerate() {
                for i in 0..np {
                    check_deadline(i, "the t-tests")?;
                    let row = &values[i * ns..(i + 1) * ns];
                    a_buf.clear();
                    b_buf.clear();
                    for s in 0..ns {
                        if gidx[s] == a {
                            a_buf.push(row[s]);
                        } else if gidx[s] == b {
                            b_buf.push(row[s]);
                        }
                    }
                    let r = if params.method == DeMethod::Welch {
                        welch_t(&a_buf, &b_buf)
                    } else {
                        student_t(&a_buf, &b_buf)
                    };
                    let o = j * np + i;
                    log2fc[o] = r.diff;
                    t[o] = r.t;
                    df[o] = r.df;
                    p_value[o] = r.p_value;
                }
            }
            if k >= 3 {
                ftest = Some(oneway_ftest(values, np, ns, &gidx, k, params.method == DeMethod::Welch));
            }
            model = format!("two-sample {test_name} per contrast");
        }
        DeMethod::Anova | DeMethod::WelchAnova => {
            let welch = params.method == DeMethod::WelchAnova;
            if welch {
                need_two(&mut (0..k), "Welch ANOVA")?;
            } else if sizes.iter().map(|&n| n - 1).sum::<usize>() == 0 {
                return Err(DeError::NoResidualDf { samples: ns, params: k });
            }
            let pairs = pairwise_only(if welch { "Welch ANOVA" } else { "ANOVA" })?;
            ftest = Some(oneway_ftest(values, np, ns, &gidx, k, welch));
            let mut a_buf = Vec::with_capacity(ns);
            let mut b_buf = Vec::with_capacity(ns);
            for i in 0..np {
                check_deadline(i, "the ANOVA")?;
                let row = &values[i * ns..(i + 1) * ns];
                let aov = anova_oneway(row, &gidx, k);
                for (j, &(a, b)) in pairs.iter().enumerate() {
                    let o = j * np + i;
                    if welch {
                        a_buf.clear();
                        b_buf.clear();
                        for s in 0..ns {
                            if gidx[s] == a {
                                a_buf.push(row[s]);
                            } else if gidx[s] == b {
                                b_buf.push(row[s]);
                            }
                        }
                        let r = welch_t(&a_buf, &b_buf);
                        (log2fc[o], t[o], df[o], p_value[o]) = (r.diff, r.t, r.df, r.p_value);
                    } else {
                        let diff = aov.means[a] - aov.means[b];
                        let se = (aov.mse * (1.0 / aov.counts[a] as f64 + 1.0 / aov.counts[b] as f64)).sqrt();
                        let tv = diff / se;
                        log2fc[o] = diff;
                        t[o] = tv;
                        df[o] = aov.df2;
                        p_value[o] = proteo_stats::dist::pt_two_sided(tv, aov.df2);
                    }
                }
            }
            model = if welch {
                "Welch one-way ANOVA; contrasts by Welch t-test".into()
            } else {
                "one-way ANOVA; contrasts by pooled-variance t (Fisher LSD)".into()
            };
        }
    }

    let tukey_p_value = if params.posthoc == Posthoc::Tukey {
        let pairs = contrasts
            .iter()
            .map(|c| {
                c.pair.ok_or_else(|| DeError::BadContrast {
                    contrast: c.name.clone(),
                    reason: "Tukey HSD compares two groups; it cannot test a combined contrast".into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut cache = StudentizedRangeCache::new();
        let mut out = vec![f64::NAN; nc * np];
        for i in 0..np {
            check_deadline(i, "Tukey HSD")?;
            let aov = anova_oneway(&values[i * ns..(i + 1) * ns], &gidx, k);
            for (j, &(a, b)) in pairs.iter().enumerate() {
                out[j * np + i] = tukey_pair(&aov.means, &aov.counts, aov.mse, aov.df2, a, b, &mut cache).p_value;
            }
        }
        Some(out)
    } else {
        None
    };

    let mut adj_p_value = Vec::with_capacity(nc * np);
    for j in 0..nc {
        adj_p_value.extend(p_adjust_bh(&p_value[j * np..(j + 1) * np]));
    }
    Ok(DeOutput {
        contrasts,
        reference,
        n_proteins: np,
        log2fc,
        t,
        df,
        p_value,
        adj_p_value,
        tukey_p_value,
        avg_expr,
        ftest,
        model,
        prior,
    })
}

fn oneway_ftest(values: &[f64], np: usize, ns: usize, gidx: &[usize], k: usize, welch: bool) -> FTest {
    let (mut f, mut df1, mut df2, mut p) = (vec![0.0; np], vec![0.0; np], vec![0.0; np], vec![0.0; np]);
    for i in 0..np {
        let row = &values[i * ns..(i + 1) * ns];
        let r = if welch { welch_anova(row, gidx, k) } else { anova_oneway(row, gidx, k) };
        (f[i], df1[i], df2[i], p[i]) = (r.f, r.df1, r.df2, r.p_value);
    }
    FTest { adj_p_value: p_adjust_bh(&p), f, df1, df2, p_value: p }
}

fn nan_mean(v: &[f64]) -> f64 {
    let (s, n) = v.iter().filter(|x| !x.is_nan()).fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

fn finite_median(v: &[f64]) -> f64 {
    crate::qc::median(v.iter().copied().filter(|x| !x.is_nan()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SampleInfo;

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn design(rows: &[(&str, &str, Option<&str>, Option<&str>)]) -> Design {
        Design {
            samples: rows
                .iter()
                .map(|(s, g, b, p)| SampleInfo {
                    sample: s.to_string(),
                    group: g.to_string(),
                    replicate: None,
                    pair: p.map(String::from),
                    batch: b.map(String::from),
                    extra: Default::default(),
                    files: Vec::new(),
                })
                .collect(),
        }
    }

    fn names(spec: &str, g: &[String], given: Option<&str>) -> Vec<String> {
        let r = reference_group(g, given).unwrap();
        parse_contrasts(spec, g, &r).unwrap().into_iter().map(|c| c.name).collect()
    }

    #[test]
    fn contrasts_read_other_minus_reference_and_first_minus_later() {
        let g = groups(&["A", "B", "C"]);
        assert_eq!(names("all-pairs", &g, None), vec!["A-B", "A-C", "B-C"]);
        assert_eq!(names("default", &g, None), vec!["A-B", "A-C", "B-C"]);
        assert_eq!(names("default", &g, Some("B")), vec!["A-B", "C-B"]);
        assert_eq!(names("all-pairs", &g, Some("B")), vec!["A-B", "A-C", "C-B"]);
        // A cohort listed cancer first reads cancer − control, and pulldowns read bait − control.
        let cohort = groups(&["Cancer", "Healthy Control"]);
        assert_eq!(names("default", &cohort, None), vec!["Cancer-Healthy Control"]);
        assert_eq!(names("all-pairs", &cohort, None), vec!["Cancer-Healthy Control"]);
        let pulldown = groups(&["Ctrl", "Ubi4", "Ubi6"]);
        assert_eq!(names("default", &pulldown, None), vec!["Ubi4-Ctrl", "Ubi6-Ctrl"]);
        assert_eq!(names("all-pairs", &pulldown, None), vec!["Ubi4-Ctrl", "Ubi6-Ctrl", "Ubi4-Ubi6"]);
        let r = reference_group(&pulldown, None).unwrap();
        assert_eq!((r.index, r.chosen), (0, ReferenceChoice::ControlName));
        let err = reference_group(&g, Some("Z")).unwrap_err().to_string();
        assert_eq!(err, "--reference `Z` is not a group of the design (groups: A, B, C)");
        let vs = parse_contrasts("vs:B", &g, &reference_group(&g, None).unwrap()).unwrap();
        assert_eq!(vs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["A-B", "C-B"]);
        assert_eq!(vs[0].weights, vec![1.0, -1.0, 0.0]);
        assert_eq!(vs[0].pair, Some((0, 1)));
    }

    #[test]
    fn control_names_are_whole_words_and_pure_names_win() {
        let pick = |names: &[&str]| {
            let r = reference_group(&groups(names), None).unwrap();
            (r.name, r.chosen)
        };
        assert_eq!(pick(&["KO", "WT"]).0, "WT");
        assert_eq!(pick(&["drug_DMSO_24h", "drug_X_24h"]).0, "drug_DMSO_24h");
        assert_eq!(pick(&["Controlled", "Normalized"]), ("Controlled".into(), ReferenceChoice::FirstGroup));
        assert_eq!(pick(&["WT_treated", "WT"]).0, "WT");
        assert_eq!(pick(&["tumour", "NORMAL"]).0, "NORMAL");
        assert_eq!(pick(&["sham-operated", "TAC"]).0, "sham-operated");
    }

    #[test]
    fn explicit_contrasts_parse_to_weights() {
        let g = groups(&["ctrl", "drug-1", "drug-12"]);
        let r = reference_group(&g, None).unwrap();
        let c = parse_contrasts("drug-12-ctrl, (drug-1+drug-12)/2-ctrl, 2*drug-1 - 2 * ctrl", &g, &r).unwrap();
        assert_eq!(c[0].weights, vec![-1.0, 0.0, 1.0]);
        assert_eq!(c[0].pair, Some((2, 0)));
        assert_eq!(c[1].weights, vec![-1.0, 0.5, 0.5]);
        assert_eq!(c[1].pair, None);
        assert_eq!(c[2].weights, vec![-2.0, 2.0, 0.0]);
    }

    #[test]
    fn bad_contrasts_say_why() {
        let g = groups(&["A", "B"]);
        let r = reference_group(&g, None).unwrap();
        let msg = |s: &str| parse_contrasts(s, &g, &r).unwrap_err().to_string();
        assert!(msg("B-X").contains("`X` is not a group of the design (groups: A, B)"), "{}", msg("B-X"));
        assert!(msg("B").contains("must sum to zero"));
        assert!(msg("B-A+1").contains("bare number"));
        assert!(msg("(B-A").contains("not closed"));
        assert!(msg("B*A").contains("cannot be multiplied"));
        assert!(msg("vs:Z").contains("`Z` is not a group"));
    }

    #[test]
    fn confounded_batch_is_named() {
        // batch b2 holds exactly the samples of group B
        let d = design(&[
            ("1", "A", Some("b1"), None),
            ("2", "A", Some("b1"), None),
            ("3", "B", Some("b2"), None),
            ("4", "B", Some("b2"), None),
        ]);
        let err = model_matrix(&d, &[]).err().unwrap().to_string();
        assert!(err.contains("batch `b2` is confounded with group `B`"), "{err}");
    }

    #[test]
    fn no_replicates_leaves_no_residual_df() {
        let d = design(&[("1", "A", None, None), ("2", "B", None, None), ("3", "C", None, None)]);
        let err = model_matrix(&d, &[]).err().unwrap();
        assert_eq!(err, DeError::NoResidualDf { samples: 3, params: 3 });
    }

    #[test]
    fn paired_design_adds_pair_columns() {
        let d = design(&[
            ("1", "A", None, Some("p1")),
            ("2", "B", None, Some("p1")),
            ("3", "A", None, Some("p2")),
            ("4", "B", None, Some("p2")),
            ("5", "A", None, Some("p3")),
            ("6", "B", None, Some("p3")),
        ]);
        let mm = model_matrix(&d, &[]).unwrap();
        assert_eq!(mm.formula, "~ 0 + group + pair");
        assert_eq!(mm.columns.len(), 4);
    }

    #[test]
    fn t_test_refuses_single_sample_groups() {
        let d = design(&[("1", "A", None, None), ("2", "A", None, None), ("3", "B", None, None)]);
        let p = DeParams { method: DeMethod::Welch, ..Default::default() };
        let err = run_de(&[1.0, 2.0, 3.0], &d, &p).unwrap_err();
        assert_eq!(err.to_string(), "group `B` has 1 sample(s); the Welch t-test needs at least 2 per group");
    }

    #[test]
    fn too_many_contrasts_offer_the_f_test_and_chosen_contrasts() {
        // 30 groups: all pairs are 435 contrasts, over MAX_CONTRASTS.
        let rows: Vec<(String, String)> = (0..60).map(|s| (format!("S{s}"), format!("G{}", s % 30 + 1))).collect();
        let d = Design { samples: rows.iter().map(|(s, g)| SampleInfo::in_group(s.as_str(), g.as_str())).collect() };
        let values: Vec<f64> = (0..3 * 60).map(|v| 20.0 + ((v * 7919) % 61) as f64 / 10.0).collect();
        let err = run_de(&values, &d, &DeParams::default()).unwrap_err().to_string();
        assert!(err.starts_with("the number of contrasts is 435, over the limit of 256;"), "{err}");
        assert!(err.contains("moderated F test") && err.contains("`vs:<control>`"), "{err}");
        let chosen = DeParams { contrasts: "vs:G1".into(), ..DeParams::default() };
        let out = run_de(&values, &d, &chosen).unwrap();
        assert_eq!(out.contrasts.len(), 29);
        assert!(out.ftest.as_ref().is_some_and(|f| f.f.iter().all(|x| x.is_finite())), "the F test over 30 groups");
    }
}
