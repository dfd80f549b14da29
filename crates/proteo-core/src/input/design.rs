//! The design file (sample → group, optional replicate, pair, batch, covariates) and aligning a table to it.

use std::collections::{BTreeMap, HashMap};

use csv::ByteRecord;

use super::error::InputError;
use super::text::{cell_text, decode, Rows};
use crate::model::{Design, IntensityTable, SampleInfo};

/// Accepted headers per role, compared case-insensitively; the first matching column takes the role.
const SAMPLE_ALIASES: &[&str] = &["sample", "label", "sample_name", "sample name"];
const GROUP_ALIASES: &[&str] = &["group", "condition"];
const REPLICATE_ALIASES: &[&str] = &["replicate"];
const PAIR_ALIASES: &[&str] = &["pair"];
const BATCH_ALIASES: &[&str] = &["batch"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Sample,
    Group,
    Replicate,
    Pair,
    Batch,
    Extra,
    /// A column with an empty header (a trailing delimiter from a spreadsheet).
    Ignored,
}

fn roles(header: &[String]) -> Vec<Role> {
    let table: [(Role, &[&str]); 5] = [
        (Role::Sample, SAMPLE_ALIASES),
        (Role::Group, GROUP_ALIASES),
        (Role::Replicate, REPLICATE_ALIASES),
        (Role::Pair, PAIR_ALIASES),
        (Role::Batch, BATCH_ALIASES),
    ];
    let mut out: Vec<Role> = Vec::with_capacity(header.len());
    for name in header {
        let role = if name.is_empty() {
            Role::Ignored
        } else {
            table
                .iter()
                .find(|(role, aliases)| !out.contains(role) && aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
                .map_or(Role::Extra, |(role, _)| *role)
        };
        out.push(role);
    }
    out
}

/// Reads a design file (CSV, semicolon CSV or TSV).
pub fn read_design(bytes: &[u8], file_name: &str) -> Result<Design, InputError> {
    let text = decode(bytes, file_name)?;
    let mut rows = Rows::open(&text, file_name)?;
    let header = std::mem::take(&mut rows.header);
    let roles = roles(&header);
    let column_of = |role: Role| roles.iter().position(|&r| r == role);
    let missing = |role: &'static str, aliases: &'static [&'static str]| InputError::MissingDesignColumn {
        file: file_name.to_string(),
        role,
        aliases,
        found: header.clone(),
    };
    let sample_col = column_of(Role::Sample).ok_or_else(|| missing("sample", SAMPLE_ALIASES))?;
    let group_col = column_of(Role::Group).ok_or_else(|| missing("group", GROUP_ALIASES))?;
    let optional = |record: &ByteRecord, role: Role| {
        column_of(role).map(|c| cell_text(&record[c]).trim().to_string()).filter(|v| !v.is_empty())
    };

    let mut samples = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut record = ByteRecord::new();
    while let Some(line) = rows.next_row(&mut record)? {
        let required = |col: usize| {
            let value = cell_text(&record[col]).trim().to_string();
            if value.is_empty() {
                Err(InputError::EmptyDesignCell { file: file_name.to_string(), line, column: header[col].clone() })
            } else {
                Ok(value)
            }
        };
        let sample = required(sample_col)?;
        let group = required(group_col)?;
        if let Some(first_line) = seen.insert(sample.clone(), line) {
            return Err(InputError::DuplicateDesignSample { file: file_name.to_string(), sample, first_line, line });
        }
        let extra: BTreeMap<String, String> = roles
            .iter()
            .enumerate()
            .filter(|(_, &r)| r == Role::Extra)
            .map(|(c, _)| (header[c].clone(), cell_text(&record[c]).trim().to_string()))
            .collect();
        samples.push(SampleInfo {
            sample,
            group,
            replicate: optional(&record, Role::Replicate),
            pair: optional(&record, Role::Pair),
            batch: optional(&record, Role::Batch),
            extra,
        });
    }
    if samples.is_empty() {
        return Err(InputError::NoDataRows { file: file_name.to_string() });
    }
    Ok(Design { samples })
}

/// Reorders the table's sample columns into design order. Errors, listing every name on both sides, when a design
/// sample has no column or a column has no design row.
pub fn align_to_design(
    table: IntensityTable,
    design: &Design,
    table_file: &str,
    design_file: &str,
) -> Result<IntensityTable, InputError> {
    let position: HashMap<&str, usize> = table.samples.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    let mut order = Vec::with_capacity(design.samples.len());
    let mut missing_columns = Vec::new();
    for info in &design.samples {
        match position.get(info.sample.as_str()) {
            Some(&i) if order.contains(&i) => {
                return Err(InputError::RepeatedDesignSample {
                    design_file: design_file.to_string(),
                    sample: info.sample.clone(),
                });
            }
            Some(&i) => order.push(i),
            None => missing_columns.push(info.sample.clone()),
        }
    }
    let extra_columns: Vec<String> =
        table.samples.iter().enumerate().filter(|(i, _)| !order.contains(i)).map(|(_, s)| s.clone()).collect();
    if !missing_columns.is_empty() || !extra_columns.is_empty() {
        return Err(InputError::SampleMismatch {
            table_file: table_file.to_string(),
            design_file: design_file.to_string(),
            missing_columns,
            extra_columns,
        });
    }
    if order.iter().enumerate().all(|(k, &i)| k == i) {
        return Ok(table);
    }
    let n = table.samples.len();
    let mut values = Vec::with_capacity(table.values.len());
    for row in table.values.chunks_exact(n) {
        values.extend(order.iter().map(|&i| row[i]));
    }
    let samples = order.iter().map(|&i| table.samples[i].clone()).collect();
    Ok(IntensityTable { samples, values, ..table })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::read_intensities;

    fn design(text: &str) -> Result<Design, InputError> {
        read_design(text.as_bytes(), "design.tsv")
    }

    fn table(samples: &[&str], values: &[f64]) -> IntensityTable {
        let n = values.len() / samples.len();
        IntensityTable {
            protein_ids: (0..n).map(|i| format!("P{i}")).collect(),
            majority_ids: vec![String::new(); n],
            gene_names: vec![String::new(); n],
            samples: samples.iter().map(|s| s.to_string()).collect(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn reads_the_real_design_and_aligns_the_real_table() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/example/");
        let d = read_design(&std::fs::read(format!("{root}experimental_design.tsv")).unwrap(), "design.tsv").unwrap();
        assert_eq!(d.samples.len(), 15);
        assert_eq!(d.groups(), ["CD34High", "CD34Low", "CD34Neg"]);
        assert_eq!(d.samples[5].sample, "L1");
        assert_eq!(d.samples[5].replicate.as_deref(), Some("1"));
        assert!(d.samples[5].extra.is_empty());
        let bytes = std::fs::read(format!("{root}proteinGroups.txt")).unwrap();
        let (t, _) = read_intensities(&bytes, "proteinGroups.txt", None).unwrap();

        // Same order already: unchanged.
        let aligned = align_to_design(t.clone(), &d, "proteinGroups.txt", "design.tsv").unwrap();
        assert_eq!(aligned, t);

        // Reversed design order: columns follow.
        let reversed = Design { samples: d.samples.iter().rev().cloned().collect() };
        let aligned = align_to_design(t.clone(), &reversed, "proteinGroups.txt", "design.tsv").unwrap();
        assert_eq!(aligned.samples[0], "N5");
        assert_eq!(aligned.protein_ids, t.protein_ids);
        for p in [0, 100, 1374] {
            let (a, b): (Vec<f64>, Vec<f64>) = (aligned.row(p).to_vec(), t.row(p).iter().rev().copied().collect());
            assert_eq!(
                a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn the_upstream_12_sample_design_leaves_3_columns_unassigned() {
        // LFQ-Analyst's own design for this data set uses H1-4, L1-4, N1-4 only (see data/example/SOURCE.md).
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/example/");
        let bytes = std::fs::read(format!("{root}upstream_exp_design_p10_0144.txt")).unwrap();
        let d = read_design(&bytes, "exp_design.txt").unwrap();
        assert_eq!(d.samples.len(), 12);
        let bytes = std::fs::read(format!("{root}proteinGroups.txt")).unwrap();
        let (t, _) = read_intensities(&bytes, "proteinGroups.txt", None).unwrap();
        let err = align_to_design(t, &d, "proteinGroups.txt", "exp_design.txt").unwrap_err();
        assert_eq!(err.to_string(), "columns `H5`, `L5`, `N5` are not in exp_design.txt");
    }

    #[test]
    fn aliases_optional_columns_and_extras() {
        let d = design("Sample_Name,Group,Batch,Pair,age,\nA,ctrl,b1,,54,\nB,treat,,p1,61,\n").unwrap();
        assert_eq!(d.sample_names(), ["A", "B"]);
        assert_eq!(d.groups(), ["ctrl", "treat"]);
        assert_eq!(d.samples[0].batch.as_deref(), Some("b1"));
        assert_eq!(d.samples[0].pair, None);
        assert_eq!(d.samples[1].pair.as_deref(), Some("p1"));
        assert_eq!(d.samples[1].replicate, None);
        assert_eq!(d.samples[1].extra.get("age").map(String::as_str), Some("61"));
        assert_eq!(d.samples[1].extra.len(), 1);
    }

    #[test]
    fn both_sample_and_label_take_the_first_and_keep_the_other_as_extra() {
        let d = design("label;sample;condition\r\nH1;x1;a\r\n").unwrap();
        assert_eq!(d.samples[0].sample, "H1");
        assert_eq!(d.samples[0].extra.get("sample").map(String::as_str), Some("x1"));
    }

    #[test]
    fn missing_columns_say_what_was_found() {
        assert_eq!(
            design("name\tcondition\nA\tx\n").unwrap_err().to_string(),
            "design.tsv: no sample column; expected a column named `sample` or `label` or `sample_name` or \
             `sample name`, found `name`, `condition`"
        );
        assert_eq!(
            design("label\ttreatment\nA\tx\n").unwrap_err().to_string(),
            "design.tsv: no group column; expected a column named `group` or `condition`, found `label`, `treatment`"
        );
    }

    #[test]
    fn empty_cells_duplicates_and_no_rows() {
        assert_eq!(
            design("label\tcondition\nA\tx\nB\t \n").unwrap_err().to_string(),
            "design.tsv, line 3: the `condition` cell is empty; every sample needs a name and a group"
        );
        assert_eq!(
            design("label\tcondition\n\tx\n").unwrap_err().to_string(),
            "design.tsv, line 2: the `label` cell is empty; every sample needs a name and a group"
        );
        assert_eq!(
            design("label\tcondition\nA\tx\nB\tx\nA\ty\n").unwrap_err().to_string(),
            "design.tsv: sample `A` is listed twice, on lines 2 and 4; each sample must appear once"
        );
        assert_eq!(design("label\tcondition\n\n").unwrap_err(), InputError::NoDataRows { file: "design.tsv".into() });
        assert_eq!(design("").unwrap_err(), InputError::Empty { file: "design.tsv".into() });
        let msg = design("label\tcondition\nA\tx\textra\n").unwrap_err().to_string();
        assert!(msg.starts_with("design.tsv, line 2: expected 2 fields like the header, found 3"), "{msg}");
    }

    #[test]
    fn mismatch_lists_every_name() {
        let d = design("label\tcondition\nH1\ta\nH6\tb\nH7\tb\n").unwrap();
        let err = align_to_design(table(&["X1", "H1", "X2"], &[1.0, 2.0, 3.0]), &d, "proteinGroups.txt", "design.tsv")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "design samples `H6`, `H7` have no column in proteinGroups.txt; columns `X1`, `X2` are not in design.tsv"
        );
        let err = align_to_design(table(&["H1", "H6", "H7", "X"], &[1.0; 4]), &d, "t.tsv", "d.tsv").unwrap_err();
        assert_eq!(err.to_string(), "column `X` is not in d.tsv");
    }

    #[test]
    fn alignment_reorders_values_row_by_row() {
        let d = design("sample,group\nB,g\nC,g\nA,h\n").unwrap();
        let t = table(&["A", "B", "C"], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let aligned = align_to_design(t, &d, "t.csv", "d.csv").unwrap();
        assert_eq!(aligned.samples, ["B", "C", "A"]);
        assert_eq!(aligned.values, [2.0, 3.0, 1.0, 5.0, 6.0, 4.0]);
        assert_eq!(aligned.protein_ids, ["P0", "P1"]);
    }

    #[test]
    fn a_hand_built_design_repeating_a_sample_is_refused() {
        let d = design("sample,group\nA,g\nB,h\n").unwrap();
        let twice = Design { samples: vec![d.samples[0].clone(), d.samples[0].clone(), d.samples[1].clone()] };
        let err = align_to_design(table(&["A", "B"], &[1.0, 2.0]), &twice, "t.csv", "d.csv").unwrap_err();
        assert_eq!(err.to_string(), "d.csv: sample `A` is listed more than once; each sample must appear once");
    }
}
