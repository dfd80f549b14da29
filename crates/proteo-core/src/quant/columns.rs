//! Which columns of a long precursor report play which role, and the row filters with their counts.

use super::error::QuantError;
use super::{PrecursorKind, QuantParams, QuantReport, Quantity};

/// One q-value filter: its column, threshold, whether the report has the column, and the rows it removed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FilterCount {
    pub column: String,
    pub threshold: f64,
    /// False when the report has no such column (the filter could not be applied).
    pub applied: bool,
    pub removed: usize,
}

/// The columns a long report is read through, by name.
pub(crate) struct Layout {
    pub run: String,
    /// The run column holds file paths (`File.Name`): the run is the file name without directory and extension.
    pub run_is_path: bool,
    /// `None` with `--quantity pg-maxlfq`: the protein group is its own single "precursor".
    pub precursor: Option<String>,
    pub protein: String,
    pub members: Option<String>,
    pub genes: Option<String>,
    pub quantity: String,
    pub decoy: Option<String>,
    pub proteotypic: Option<String>,
    /// Applied q-value filters (column, threshold), in order.
    pub filters: Vec<(String, f64)>,
    pub report: QuantReport,
}

pub(crate) use proteo_detect::run_name_from_path;

impl Layout {
    /// The layout of a long report of `kind` with these columns.
    pub fn new(kind: PrecursorKind, columns: &[String], file: &str, params: &QuantParams) -> Result<Self, QuantError> {
        let has = |c: &str| columns.iter().any(|x| x == c);
        let missing = |column: &str, purpose: &'static str| QuantError::MissingColumn {
            file: file.to_string(),
            kind: kind.as_str(),
            column: column.to_string(),
            purpose,
            found: columns.to_vec(),
        };
        let pick = |names: &[&str]| names.iter().find(|c| has(c)).map(|c| c.to_string());
        let alphadia = kind == PrecursorKind::AlphadiaPrecursors;
        let (run, run_is_path) = proteo_detect::long_run_column(kind, columns)
            .map(|(run, is_path)| (run.to_string(), is_path))
            .ok_or_else(|| {
                if alphadia {
                    missing("run", "to know the run of each row")
                } else {
                    missing("Run", "to know the run of each row")
                }
            })?;
        let protein_names: &[&str] = if alphadia { &["pg", "pg_master", "proteins"] } else { &["Protein.Group"] };
        let protein = pick(protein_names).ok_or_else(|| missing(protein_names[0], "to group precursors by protein"))?;
        let quantity = match (params.quantity, alphadia) {
            (Quantity::PgMaxlfq, _) => {
                pick(&["PG.MaxLFQ"]).ok_or_else(|| missing("PG.MaxLFQ", "for --quantity pg-maxlfq"))?
            }
            (Quantity::Auto, true) => pick(&["intensity"]).ok_or_else(|| missing("intensity", "as the quantity"))?,
            (Quantity::Auto, false) => pick(&["Precursor.Normalised", "Precursor.Quantity"])
                .ok_or_else(|| missing("Precursor.Normalised", "as the quantity"))?,
            (Quantity::PrecursorNormalised, _) => {
                pick(&["Precursor.Normalised"]).ok_or_else(|| missing("Precursor.Normalised", "as the quantity"))?
            }
            (Quantity::PrecursorQuantity, _) => {
                pick(&["Precursor.Quantity"]).ok_or_else(|| missing("Precursor.Quantity", "as the quantity"))?
            }
        };
        let precursor = if params.quantity == Quantity::PgMaxlfq {
            None
        } else {
            let names: &[&str] = if alphadia { &["mod_seq_charge_hash", "precursor_idx"] } else { &["Precursor.Id"] };
            Some(pick(names).ok_or_else(|| missing(names[0], "to tell precursors apart"))?)
        };
        let q_columns: [(&str, Option<f64>); 5] = if alphadia {
            [("qval", Some(params.q_value)), ("pg_qval", params.pg_q_value), ("", None), ("", None), ("", None)]
        } else {
            [
                ("Q.Value", Some(params.q_value)),
                ("Lib.Q.Value", Some(params.lib_q_value)),
                ("Lib.PG.Q.Value", Some(params.lib_pg_q_value)),
                ("PG.Q.Value", params.pg_q_value),
                ("Global.PG.Q.Value", params.global_pg_q_value),
            ]
        };
        let mut filters = Vec::new();
        let mut counts = Vec::new();
        for (column, threshold) in q_columns {
            let Some(threshold) = threshold else { continue };
            let applied = has(column);
            if applied {
                filters.push((column.to_string(), threshold));
            }
            counts.push(FilterCount { column: column.to_string(), threshold, applied, removed: 0 });
        }
        let proteotypic = if params.proteotypic_only {
            Some(
                pick(&["Proteotypic", "proteotypic"])
                    .ok_or_else(|| missing("Proteotypic", "for --proteotypic-only"))?,
            )
        } else {
            None
        };
        let method = match params.quantity {
            Quantity::PgMaxlfq => "PG.MaxLFQ as written in the report".to_string(),
            _ => format!("MaxLFQ (iq maxLFQ), ratios from ≥ {} shared precursor(s)", params.min_shared),
        };
        Ok(Layout {
            run,
            run_is_path,
            precursor,
            protein,
            members: pick(if alphadia { &["proteins"] } else { &["Protein.Ids"] }),
            genes: pick(if alphadia { &["genes"] } else { &["Genes"] }),
            report: QuantReport {
                kind: kind.as_str().to_string(),
                quantity: quantity.clone(),
                method,
                filters: counts,
                ..QuantReport::default()
            },
            quantity,
            decoy: pick(&["Decoy", "decoy"]),
            proteotypic,
            filters,
        })
    }

    /// Every column read, in a fixed order (the order [`Row`] values are given in).
    pub fn numeric_columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![&self.quantity];
        out.extend(self.filters.iter().map(|(c, _)| c.as_str()));
        out.extend(self.decoy.as_deref());
        out.extend(self.proteotypic.as_deref());
        out
    }

    pub fn text_columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![&self.run, &self.protein];
        out.extend(self.precursor.as_deref());
        out.extend(self.members.as_deref());
        out.extend(self.genes.as_deref());
        out
    }

    /// Whether a row is kept, counting it under the first filter it fails. `numbers` are in
    /// [`Layout::numeric_columns`] order, `NaN` for an empty cell.
    pub fn keep(&mut self, numbers: &[f64], protein_empty: bool) -> bool {
        let r = &mut self.report;
        r.rows += 1;
        let nf = self.filters.len();
        if let Some(decoy_at) = self.decoy.as_ref().map(|_| 1 + nf) {
            let d = numbers[decoy_at];
            if !d.is_nan() && d != 0.0 {
                r.removed_decoy += 1;
                return false;
            }
        }
        let applied = r.filters.iter_mut().filter(|f| f.applied);
        for ((_, threshold), (count, &q)) in self.filters.iter().zip(applied.zip(&numbers[1..])) {
            // A missing q-value is not evidence of a confident identification.
            if q.is_nan() || q > *threshold {
                count.removed += 1;
                return false;
            }
        }
        if self.proteotypic.is_some() {
            let at = 1 + nf + usize::from(self.decoy.is_some());
            if numbers[at] != 1.0 {
                r.removed_not_proteotypic += 1;
                return false;
            }
        }
        if protein_empty {
            r.removed_no_protein += 1;
            return false;
        }
        let q = numbers[0];
        if q.is_nan() || q <= 0.0 || !q.is_finite() || (q as f32) <= 0.0 {
            r.removed_no_quantity += 1;
            return false;
        }
        true
    }
}

/// The rows the filters removed, in one phrase (for the message when nothing is left).
pub(crate) fn summary(report: &QuantReport) -> String {
    let mut parts = vec![format!("{} rows read", report.rows)];
    for f in report.filters.iter().filter(|f| f.applied && f.removed > 0) {
        parts.push(format!("{} removed by {} ≤ {}", f.removed, f.column, f.threshold));
    }
    for (n, what) in [
        (report.removed_decoy, "decoys"),
        (report.removed_not_proteotypic, "not proteotypic"),
        (report.removed_no_protein, "without a protein group"),
        (report.removed_no_quantity, "without a quantity"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::cols;

    #[test]
    fn filters_count_the_first_reason_and_absent_columns_are_reported() {
        let header = cols("Run\tProtein.Group\tPrecursor.Id\tPrecursor.Quantity\tQ.Value\tLib.Q.Value\tDecoy");
        let mut l = Layout::new(PrecursorKind::DiannReport, &header, "r.tsv", &QuantParams::default()).unwrap();
        assert_eq!(l.quantity, "Precursor.Quantity");
        assert_eq!(l.numeric_columns(), ["Precursor.Quantity", "Q.Value", "Lib.Q.Value", "Decoy"]);
        assert!(l.keep(&[10.0, 0.001, 0.0, 0.0], false));
        assert!(!l.keep(&[10.0, 0.5, 0.5, 0.0], false));
        assert!(!l.keep(&[10.0, 0.001, 0.02, 0.0], false));
        assert!(!l.keep(&[10.0, 0.001, 0.0, 1.0], false));
        assert!(!l.keep(&[0.0, 0.001, 0.0, 0.0], false));
        assert!(!l.keep(&[f64::NAN, 0.001, 0.0, 0.0], false));
        assert!(!l.keep(&[5.0, f64::NAN, 0.0, 0.0], false));
        assert!(!l.keep(&[5.0, 0.0, 0.0, 0.0], true));
        let r = &l.report;
        assert_eq!((r.rows, r.removed_decoy, r.removed_no_quantity, r.removed_no_protein), (8, 1, 2, 1));
        assert_eq!(
            r.filters.iter().map(|f| (f.column.as_str(), f.applied, f.removed)).collect::<Vec<_>>(),
            [("Q.Value", true, 2), ("Lib.Q.Value", true, 1), ("Lib.PG.Q.Value", false, 0)]
        );
        assert_eq!(
            summary(r),
            "8 rows read, 2 removed by Q.Value ≤ 0.01, 1 removed by Lib.Q.Value ≤ 0.01, 1 decoys, \
                                 1 without a protein group, 2 without a quantity"
        );
    }

    #[test]
    fn missing_columns_are_named_with_their_purpose() {
        let header = cols("Run\tProtein.Group\tPrecursor.Id\tPrecursor.Quantity");
        let p = QuantParams { quantity: Quantity::PgMaxlfq, ..QuantParams::default() };
        let e = Layout::new(PrecursorKind::DiannReport, &header, "report.tsv", &p).err().unwrap().to_string();
        assert!(
            e.starts_with(
                "report.tsv: the DIA-NN main report has no `PG.MaxLFQ` column, which proteo needs for \
                               --quantity pg-maxlfq"
            ),
            "{e}"
        );
        let p = QuantParams { proteotypic_only: true, ..QuantParams::default() };
        let e = Layout::new(PrecursorKind::DiannReport, &header, "report.tsv", &p).err().unwrap().to_string();
        assert!(e.contains("no `Proteotypic` column, which proteo needs for --proteotypic-only"), "{e}");
    }
}
