//! The one check of a job's `params` (fields, types, ranges, NaN), shared by the API, ingest and the CLI.
//!
//! It works on the JSON form, so the API (which links no analysis code) checks exactly what ingest and `proteo run`
//! check. The field list mirrors `proteo_pipeline::JobParams`; the contract test `params_schema_matches_job_params`
//! in proteo-pipeline fails to compile when a variant is added to one of its enums without being listed here.

use serde_json::{Map, Value};

/// Shipped gene-set collections a job may name as `builtin:<name>` (the pathway stage carries their bytes).
pub const GENE_SET_CATALOGUE: [&str; 1] = ["go_bp_human_uniprot"];
/// `params.pathway.gene_sets` naming a collection of [`GENE_SET_CATALOGUE`].
pub const BUILTIN_PREFIX: &str = "builtin:";
/// `params.pathway.gene_sets` naming a file uploaded with the job (`upload:<file name>`): it lives beside the
/// job's input, so a job can only ever read its own upload.
pub const UPLOAD_PREFIX: &str = "upload:";
/// Longest contrast specification: 4 KiB is some 200 pairwise contrasts written out, more than any design allows.
pub const MAX_CONTRASTS_CHARS: usize = 4096;
/// Most covariates in one model: each costs a residual degree of freedom, and a proteomics design with more than
/// 16 numeric covariates has too few samples left to estimate a variance.
pub const MAX_COVARIATES: usize = 16;
/// Longest covariate (design column) name, in characters.
pub const MAX_COVARIATE_CHARS: usize = 64;
/// Largest `min_valid`: a group of more than 10 000 replicates is not a proteomics design.
pub const MAX_MIN_VALID: u64 = 10_000;
/// Largest gene-set size bound: GO BP's largest term has ~12 000 human members.
pub const MAX_SET_SIZE_BOUND: u64 = 100_000;
/// Largest log2 fold-change threshold (`min_log2fc`, `treat_lfc`): 2^64-fold is beyond any measured protein.
pub const MAX_LOG2FC_THRESHOLD: f64 = 64.0;

/// A refused parameter: the field's path (`pathway.alpha`; empty for `params` itself) and a sentence saying what is
/// allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "`params` {}", self.message)
        } else {
            write!(f, "`params.{}` {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ParamError {}

/// What `params.pathway.gene_sets` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeneSetsRef<'a> {
    /// Empty: the deployment's default collection.
    Default,
    /// `builtin:<name>`, a name of [`GENE_SET_CATALOGUE`].
    Builtin(&'a str),
    /// `upload:<file>`: a file uploaded beside the job's input.
    Upload(&'a str),
    /// Anything else: a path on the user's own disk, which only a local run (`proteo run`) may read.
    LocalPath(&'a str),
}

impl<'a> GeneSetsRef<'a> {
    pub fn parse(text: &'a str) -> GeneSetsRef<'a> {
        if text.trim().is_empty() {
            GeneSetsRef::Default
        } else if let Some(name) = text.strip_prefix(BUILTIN_PREFIX) {
            GeneSetsRef::Builtin(name)
        } else if let Some(name) = text.strip_prefix(UPLOAD_PREFIX) {
            GeneSetsRef::Upload(name)
        } else {
            GeneSetsRef::LocalPath(text)
        }
    }
}

/// Where the parameters come from: a stored job (API, drop-in, `proteo serve`) may only name shipped or uploaded
/// gene sets; a local run may also name a file on the user's disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Job,
    Local,
}

/// Check a bare file name (no folders, no traversal, no control characters): the last segment of a key. The rule
/// is [`crate::keys::file_name_problem`], the one the API and ingest share.
pub fn check_file_name(name: &str) -> Result<(), String> {
    crate::keys::file_name_problem(name).map_or(Ok(()), Err)
}

/// At most 80 characters of user text in a message.
fn shown(text: &str) -> String {
    const SHOWN_CHARS: usize = 80;
    if text.chars().count() <= SHOWN_CHARS {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(SHOWN_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// Check `params.pathway.gene_sets` for `origin`.
pub fn check_gene_sets(text: &str, origin: Origin) -> Result<(), ParamError> {
    let err = |message: String| ParamError { field: "pathway.gene_sets".into(), message };
    match GeneSetsRef::parse(text) {
        GeneSetsRef::Default => Ok(()),
        GeneSetsRef::Builtin(name) if GENE_SET_CATALOGUE.contains(&name) => Ok(()),
        GeneSetsRef::Builtin(name) => Err(err(format!(
            "names `{}`, which is not a shipped collection; the shipped ones are {}",
            shown(name),
            GENE_SET_CATALOGUE.iter().map(|n| format!("`{BUILTIN_PREFIX}{n}`")).collect::<Vec<_>>().join(", ")
        ))),
        GeneSetsRef::Upload(name) => check_file_name(name).map_err(|m| err(format!("names an upload, but {m}"))),
        GeneSetsRef::LocalPath(_) if origin == Origin::Local => Ok(()),
        GeneSetsRef::LocalPath(_) => Err(err(format!(
            "must be empty (the default gene sets), `{BUILTIN_PREFIX}<name>` (one of: {}) or `{UPLOAD_PREFIX}<file>` \
             (a GMT uploaded with the job); a job cannot read other keys or paths",
            GENE_SET_CATALOGUE.join(", ")
        ))),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Bool,
    /// A whole number from the first to the second bound.
    UInt(u64, u64),
    /// A finite number.
    Number,
    Text,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    TextList,
    Section(&'static [(&'static str, Kind, bool)]),
}

/// `(name, kind, may be null)`.
type Field = (&'static str, Kind, bool);

/// Every input format `proteo_core::model::InputFormat` knows.
pub const FORMATS: &[&str] = &["matrix", "maxquant"];
pub const NORMALIZE: &[&str] = &["median", "quantile", "cyclic-loess", "none"];
pub const IMPUTE: &[&str] = &["perseus", "min-prob", "half-min", "knn", "none"];
pub const DE_METHODS: &[&str] = &["limma", "welch", "student", "anova", "welch-anova"];
pub const POSTHOC: &[&str] = &["none", "tukey"];
pub const F_TEST: &[&str] = &["per-protein", "shared"];
pub const MEMBERSHIP: &[&str] = &["leading-accession", "any-member"];

const QC: &[Field] = &[
    ("log2_input", Kind::Bool, false),
    ("min_valid", Kind::UInt(1, MAX_MIN_VALID), true),
    ("normalize", Kind::OneOf(NORMALIZE), false),
    ("normalize_on", Kind::Text, true),
    ("impute", Kind::OneOf(IMPUTE), false),
    ("seed", Kind::UInt(0, u64::MAX), false),
    ("exclude_samples", Kind::TextList, false),
];
const DE: &[Field] = &[
    ("method", Kind::OneOf(DE_METHODS), false),
    ("contrasts", Kind::Text, false),
    ("reference", Kind::Text, true),
    ("posthoc", Kind::OneOf(POSTHOC), false),
    ("trend", Kind::Bool, false),
    ("robust", Kind::Bool, false),
    ("treat_lfc", Kind::Number, true),
    ("covariates", Kind::TextList, false),
    ("f_test", Kind::OneOf(F_TEST), false),
];
const PATHWAY: &[Field] = &[
    ("alpha", Kind::Number, false),
    ("min_log2fc", Kind::Number, false),
    ("gene_sets", Kind::Text, false),
    ("min_set_size", Kind::UInt(1, MAX_SET_SIZE_BOUND), false),
    ("max_set_size", Kind::UInt(1, MAX_SET_SIZE_BOUND), false),
    ("membership", Kind::OneOf(MEMBERSHIP), false),
];
const OUTPUT: &[Field] = &[("full_precision", Kind::Bool, false)];
const TOP: &[Field] = &[
    ("format", Kind::OneOf(FORMATS), true),
    ("qc", Kind::Section(QC), false),
    ("de", Kind::Section(DE), false),
    ("pathway", Kind::Section(PATHWAY), false),
    ("output", Kind::Section(OUTPUT), false),
];

fn describe(kind: Kind) -> String {
    match kind {
        Kind::Bool => "true or false".into(),
        Kind::UInt(lo, hi) if hi == u64::MAX => format!("a whole number ≥ {lo}"),
        Kind::UInt(lo, hi) => format!("a whole number from {lo} to {hi}"),
        Kind::Number => "a number".into(),
        Kind::Text => "a string".into(),
        Kind::OneOf(values) => {
            format!("one of {}", values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "))
        }
        Kind::TextList => "a list of strings".into(),
        Kind::Section(fields) => {
            format!("an object with the fields {}", fields.iter().map(|f| f.0).collect::<Vec<_>>().join(", "))
        }
    }
}

fn got(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("`{}`", shown(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn check_fields(map: &Map<String, Value>, fields: &[Field], path: &str) -> Result<(), ParamError> {
    let at = |name: &str| if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
    if let Some(unknown) = map.keys().find(|k| !fields.iter().any(|f| f.0 == k.as_str())) {
        return Err(ParamError {
            field: at(&shown(unknown)),
            message: format!(
                "is not a parameter; {} has {}",
                if path.is_empty() { "`params`".to_string() } else { format!("`params.{path}`") },
                fields.iter().map(|f| format!("`{}`", f.0)).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    for &(name, kind, nullable) in fields {
        let Some(value) = map.get(name) else { continue };
        let field = at(name);
        if value.is_null() && nullable {
            continue;
        }
        let wrong =
            || ParamError { field: field.clone(), message: format!("must be {}; got {}", describe(kind), got(value)) };
        match kind {
            Kind::Bool => value.as_bool().map(|_| ()).ok_or_else(wrong)?,
            Kind::UInt(lo, hi) => match value.as_u64() {
                Some(n) if (lo..=hi).contains(&n) => {}
                _ => return Err(wrong()),
            },
            Kind::Number => value.as_f64().filter(|x| x.is_finite()).map(|_| ()).ok_or_else(wrong)?,
            Kind::Text => value.as_str().map(|_| ()).ok_or_else(wrong)?,
            Kind::OneOf(values) => match value.as_str() {
                Some(s) if values.contains(&s) => {}
                _ => return Err(wrong()),
            },
            Kind::TextList => match value.as_array() {
                Some(items) if items.iter().all(Value::is_string) => {}
                _ => return Err(wrong()),
            },
            Kind::Section(inner) => match value.as_object() {
                Some(m) => check_fields(m, inner, &field)?,
                None => return Err(wrong()),
            },
        }
    }
    Ok(())
}

fn range_error(field: &str, message: String) -> ParamError {
    ParamError { field: field.to_string(), message }
}

/// Check the parameters of a job: unknown fields, types, then ranges and the rules between fields. Absent fields
/// take their defaults. The first problem found is returned, naming its field and what it accepts.
pub fn check(params: &Value, origin: Origin) -> Result<(), ParamError> {
    let map = match params {
        Value::Null => return Ok(()),
        Value::Object(m) => m,
        other => {
            return Err(ParamError {
                field: String::new(),
                message: format!("must be a JSON object; got {}", got(other)),
            })
        }
    };
    check_fields(map, TOP, "")?;
    let section = |name: &str| map.get(name).and_then(Value::as_object);
    let number = |sec: &str, name: &str| section(sec).and_then(|s| s.get(name)).and_then(Value::as_f64);
    let uint = |sec: &str, name: &str| section(sec).and_then(|s| s.get(name)).and_then(Value::as_u64);
    let text = |sec: &str, name: &str| section(sec).and_then(|s| s.get(name)).and_then(Value::as_str);

    if let Some(alpha) = number("pathway", "alpha") {
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(range_error(
                "pathway.alpha",
                format!("must be between 0 and 1 (exclusive), e.g. 0.05; got {alpha}"),
            ));
        }
    }
    for (sec, name) in [("pathway", "min_log2fc"), ("de", "treat_lfc")] {
        if let Some(x) = number(sec, name) {
            if !(0.0..=MAX_LOG2FC_THRESHOLD).contains(&x) {
                return Err(range_error(
                    &format!("{sec}.{name}"),
                    format!("must be a log2 fold change from 0 to {MAX_LOG2FC_THRESHOLD}, e.g. 1; got {x}"),
                ));
            }
        }
    }
    let min_size = uint("pathway", "min_set_size").unwrap_or(10);
    let max_size = uint("pathway", "max_set_size").unwrap_or(500);
    if min_size > max_size {
        return Err(range_error(
            "pathway.min_set_size",
            format!("({min_size}) must not exceed `params.pathway.max_set_size` ({max_size})"),
        ));
    }
    if let Some(contrasts) = text("de", "contrasts") {
        if contrasts.trim().is_empty() {
            return Err(range_error(
                "de.contrasts",
                "is empty; leave it out for all pairs, or give `all-pairs`, `vs:<group>` or a list such as `B-A,C-A`"
                    .into(),
            ));
        }
        let chars = contrasts.chars().count();
        if chars > MAX_CONTRASTS_CHARS {
            return Err(range_error(
                "de.contrasts",
                format!(
                    "has {chars} characters; at most {MAX_CONTRASTS_CHARS} are accepted: run fewer contrasts per job"
                ),
            ));
        }
        if contrasts.chars().any(char::is_control) {
            return Err(range_error("de.contrasts", "contains a control character".into()));
        }
    }
    if let Some(list) = section("de").and_then(|s| s.get("covariates")).and_then(Value::as_array) {
        if list.len() > MAX_COVARIATES {
            return Err(range_error(
                "de.covariates",
                format!("lists {} columns; at most {MAX_COVARIATES} are accepted", list.len()),
            ));
        }
        let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        for (i, name) in names.iter().enumerate() {
            let chars = name.chars().count();
            if name.trim().is_empty() || chars > MAX_COVARIATE_CHARS || name.chars().any(char::is_control) {
                return Err(range_error(
                    "de.covariates",
                    format!(
                        "item {} (`{}`) must be the name of a numeric design column: 1 to {MAX_COVARIATE_CHARS} \
                         characters, no control characters",
                        i + 1,
                        shown(name)
                    ),
                ));
            }
            if names[..i].contains(name) {
                return Err(range_error("de.covariates", format!("lists `{}` twice", shown(name))));
            }
        }
    }
    if let Some(g) = text("pathway", "gene_sets") {
        check_gene_sets(g, origin)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(v: Value) -> ParamError {
        check(&v, Origin::Job).expect_err(&format!("{v} accepted"))
    }

    #[test]
    fn defaults_and_full_objects_pass() {
        check(&json!({}), Origin::Job).unwrap();
        check(&Value::Null, Origin::Job).unwrap();
        check(
            &json!({"format": null, "qc": {"log2_input": true, "min_valid": 2, "normalize": "none", "impute": "perseus",
                   "seed": 7}, "de": {"method": "welch-anova", "contrasts": "B-A", "posthoc": "tukey", "trend": true,
                   "robust": false, "treat_lfc": 0.5, "covariates": ["age"]}, "pathway": {"alpha": 0.01,
                   "min_log2fc": 0, "gene_sets": "builtin:go_bp_human_uniprot", "min_set_size": 5,
                   "max_set_size": 5}, "output": {"full_precision": true}}),
            Origin::Job,
        )
        .unwrap();
    }

    #[test]
    fn each_refusal_names_the_field_and_what_it_accepts() {
        let cases = [
            (json!({"pathway": {"alpha": 2}}), "pathway.alpha", "between 0 and 1"),
            (json!({"pathway": {"alpha": 0}}), "pathway.alpha", "between 0 and 1"),
            (json!({"pathway": {"alpha": "0.05"}}), "pathway.alpha", "must be a number; got `0.05`"),
            (json!({"pathway": {"min_log2fc": -1}}), "pathway.min_log2fc", "from 0 to 64"),
            (json!({"de": {"treat_lfc": -1}}), "de.treat_lfc", "from 0 to 64"),
            (json!({"pathway": {"min_set_size": 500, "max_set_size": 10}}), "pathway.min_set_size", "must not exceed"),
            (json!({"pathway": {"min_set_size": 0}}), "pathway.min_set_size", "from 1 to"),
            (json!({"de": {"contrasts": " "}}), "de.contrasts", "is empty"),
            (json!({"de": {"method": "limmma"}}), "de.method", "one of `limma`"),
            (json!({"de": {"covariates": "age"}}), "de.covariates", "a list of strings"),
            (json!({"de": {"covariates": ["age", "age"]}}), "de.covariates", "twice"),
            (json!({"de": {"covariates": [""]}}), "de.covariates", "item 1"),
            (json!({"qc": {"min_valid": -1}}), "qc.min_valid", "whole number from 1"),
            (json!({"qc": {"seed": 1.5}}), "qc.seed", "whole number"),
            (json!({"qc": {"log2": true}}), "qc.log2", "is not a parameter; `params.qc` has `log2_input`"),
            (json!({"pathwy": {}}), "pathwy", "is not a parameter"),
            (json!({"qc": []}), "qc", "an object with the fields"),
        ];
        for (v, field, words) in cases {
            let e = refused(v.clone());
            assert_eq!(e.field, field, "{v}: {e}");
            assert!(e.to_string().contains(words), "{v}: {e}");
            assert!(e.to_string().starts_with(&format!("`params.{field}`")), "{e}");
        }
        assert!(check(&json!([1]), Origin::Job).unwrap_err().to_string().contains("must be a JSON object"));
    }

    #[test]
    fn gene_sets_of_a_job_are_shipped_or_its_own_upload_never_a_free_key() {
        for ok in ["", "builtin:go_bp_human_uniprot", "upload:my sets.gmt", "upload:c2.gmt.gz"] {
            check_gene_sets(ok, Origin::Job).unwrap();
        }
        for bad in [
            "jobs/0b1e7c2a-5f8e-4b7a-9a51-2e0f3c4d5e6f/input/proteinGroups.txt",
            "jobs/",
            "/etc/passwd",
            "../signing.key",
            "upload:../../x",
            "upload:a/b.gmt",
            "upload:a\\b.gmt",
            "upload:%2e%2e",
            "upload:x\0y",
            "upload:",
            "builtin:../../jobs/x",
            "builtin:go_bp_mouse",
            "signing.key",
        ] {
            let e = check_gene_sets(bad, Origin::Job).expect_err(bad);
            assert_eq!(e.field, "pathway.gene_sets");
        }
        check_gene_sets("/home/me/sets.gmt", Origin::Local).unwrap();
        assert!(check_gene_sets("upload:../x", Origin::Local).is_err(), "an upload reference is checked locally too");
    }
}
