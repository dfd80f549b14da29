//! The design file (sample → group, optional replicate, pair, batch, covariates; or an SDRF file) and aligning a
//! table's samples to it: names matched after stripping paths, extensions and tool prefixes, linear in the number
//! of columns, with the closest candidate named for every name left over.

use std::collections::{BTreeMap, HashMap};

use csv::ByteRecord;
use proteo_detect::names::{closest, match_names};

use super::error::InputError;
use super::text::{cell_text, decode, Rows};
use crate::limits::MAX_LISTED;
use crate::model::{Design, IntensityTable, SampleInfo};

/// Accepted headers per role, compared case-insensitively; the first matching column takes the role.
const SAMPLE_ALIASES: &[&str] = &["sample", "label", "sample_name", "sample name", "run label", "run", "experiment"];
const GROUP_ALIASES: &[&str] = &["group", "condition"];
const REPLICATE_ALIASES: &[&str] = &["replicate"];
const PAIR_ALIASES: &[&str] = &["pair"];
const BATCH_ALIASES: &[&str] = &["batch"];
/// Columns naming the sample's data file (Spectronaut condition setup, MaxQuant-style designs): matched too.
const FILE_ALIASES: &[&str] = &["file name", "raw file", "data file", "file"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Sample,
    Group,
    Replicate,
    Pair,
    Batch,
    File,
    Extra,
    /// A column with an empty header (a trailing delimiter from a spreadsheet).
    Ignored,
}

fn roles(header: &[String]) -> Vec<Role> {
    let table: [(Role, &[&str]); 6] = [
        (Role::Sample, SAMPLE_ALIASES),
        (Role::Group, GROUP_ALIASES),
        (Role::Replicate, REPLICATE_ALIASES),
        (Role::Pair, PAIR_ALIASES),
        (Role::Batch, BATCH_ALIASES),
        (Role::File, FILE_ALIASES),
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

/// Whether a header is an SDRF-Proteomics header (`source name` and `factor value[…]` / `comment[…]` columns).
fn is_sdrf(header: &[String]) -> bool {
    header.iter().any(|h| h.eq_ignore_ascii_case("source name"))
        && header.iter().any(|h| {
            let l = h.to_ascii_lowercase();
            l.starts_with("factor value[") || l.starts_with("comment[") || l.starts_with("characteristics[")
        })
}

/// Reads a design file (CSV, semicolon CSV or TSV), or an SDRF file (`source name`, `factor value[…]`,
/// `comment[data file]`).
pub fn read_design(bytes: &[u8], file_name: &str) -> Result<Design, InputError> {
    let text = decode(bytes, file_name)?;
    let mut rows = Rows::open(&text, file_name)?;
    if is_sdrf(&rows.header) {
        return read_sdrf(rows, file_name);
    }
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
    // A two-column design (`sample,disease`) names its groups in the other column, whatever its header.
    let named: Vec<usize> = (0..header.len()).filter(|&c| roles[c] != Role::Ignored).collect();
    let group_col = match column_of(Role::Group) {
        Some(c) => c,
        None if named.len() == 2 => named.into_iter().find(|&c| c != sample_col).expect("two columns"),
        None => return Err(missing("group", GROUP_ALIASES)),
    };
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
            .filter(|(c, &r)| r == Role::Extra && *c != group_col)
            .map(|(c, _)| (header[c].clone(), cell_text(&record[c]).trim().to_string()))
            .collect();
        samples.push(SampleInfo {
            sample,
            group,
            replicate: optional(&record, Role::Replicate),
            pair: optional(&record, Role::Pair),
            batch: optional(&record, Role::Batch),
            extra,
            files: optional(&record, Role::File).into_iter().collect(),
        });
    }
    if samples.is_empty() {
        return Err(InputError::NoDataRows { file: file_name.to_string() });
    }
    Ok(Design { samples })
}

/// `KEY=value;KEY=value` (SDRF ontology-style values) as pairs; `None` for a plain value.
fn key_values(value: &str) -> Option<Vec<(&str, &str)>> {
    let pairs: Vec<(&str, &str)> = value.split(';').map(|p| p.trim().split_once('=')).collect::<Option<Vec<_>>>()?;
    (!pairs.is_empty()).then_some(pairs)
}

/// Per row, the group its factor values name: plain values as they are; `KEY=value;…` values reduced to the
/// values of the keys that differ between rows (`SP=Yeast;CT=protein;QY=10` → `10`); several factors joined by
/// ` / `.
fn sdrf_groups<'a>(factors: &'a [Vec<String>]) -> Vec<String> {
    let n = factors.first().map_or(0, Vec::len);
    let mut groups = vec![Vec::<String>::new(); n];
    for column in factors {
        let parsed: Vec<Option<Vec<(&str, &str)>>> = column.iter().map(|v| key_values(v)).collect();
        let value_of = |p: &Option<Vec<(&'a str, &'a str)>>, key: &str| -> Option<&'a str> {
            p.as_ref().and_then(|kv| kv.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
        };
        let varying: Vec<&str> = match parsed.first().cloned().flatten() {
            Some(first) if parsed.iter().all(Option::is_some) => first
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| parsed.iter().any(|p| value_of(p, k) != value_of(&parsed[0], k)))
                .collect(),
            _ => Vec::new(),
        };
        for (row, value) in column.iter().enumerate() {
            let g = match (&parsed[row], varying.is_empty()) {
                (Some(kv), false) => {
                    kv.iter().filter(|(k, _)| varying.contains(k)).map(|(_, v)| v.trim()).collect::<Vec<_>>().join(" ")
                }
                _ => value.trim().to_string(),
            };
            groups[row].push(g);
        }
    }
    groups.into_iter().map(|g| g.join(" / ")).collect()
}

/// One line of an SDRF file, as read.
struct SdrfRow {
    line: u64,
    sample: String,
    file: Option<String>,
    factors: Vec<String>,
    extra: BTreeMap<String, String>,
    replicate: Option<String>,
}

fn read_sdrf(mut rows: Rows<'_>, file_name: &str) -> Result<Design, InputError> {
    let header = std::mem::take(&mut rows.header);
    let lower: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    let source = lower.iter().position(|h| h == "source name").expect("checked by is_sdrf");
    let data_file = lower.iter().position(|h| h == "comment[data file]");
    let replicate = lower.iter().position(|h| h == "characteristics[biological replicate]");
    let factor_cols: Vec<usize> = (0..header.len()).filter(|&i| lower[i].starts_with("factor value[")).collect();
    if factor_cols.is_empty() {
        return Err(InputError::SdrfWithoutFactor { file: file_name.into() });
    }
    let extra_cols: Vec<usize> = (0..header.len())
        .filter(|&i| lower[i].starts_with("characteristics[") || lower[i].starts_with("factor value["))
        .collect();
    let mut raw: Vec<SdrfRow> = Vec::new();
    let mut record = ByteRecord::new();
    while let Some((line, _)) = rows.next_row_filled(&mut record)? {
        let cell = |c: usize| record.get(c).map_or(String::new(), |f| cell_text(f).trim().to_string());
        let sample = cell(source);
        if sample.is_empty() {
            return Err(InputError::EmptyDesignCell { file: file_name.into(), line, column: header[source].clone() });
        }
        let extra = extra_cols.iter().map(|&c| (header[c].clone(), cell(c))).collect();
        raw.push(SdrfRow {
            line,
            sample,
            file: data_file.map(cell).filter(|f| !f.is_empty()),
            factors: factor_cols.iter().map(|&c| cell(c)).collect(),
            extra,
            replicate: replicate.map(cell).filter(|r| !r.is_empty()),
        });
    }
    if raw.is_empty() {
        return Err(InputError::NoDataRows { file: file_name.into() });
    }
    let factors: Vec<Vec<String>> =
        (0..factor_cols.len()).map(|k| raw.iter().map(|r| r.factors[k].clone()).collect()).collect();
    let groups = sdrf_groups(&factors);
    // One sample per source name: its fractions (several data files) stay one sample.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut first_line: Vec<u64> = Vec::new();
    let mut samples: Vec<SampleInfo> = Vec::new();
    for (SdrfRow { line, sample, file, extra, replicate, .. }, group) in raw.into_iter().zip(groups) {
        match index.get(&sample) {
            Some(&k) => {
                if samples[k].group != group {
                    return Err(InputError::DuplicateDesignSample {
                        file: file_name.into(),
                        sample,
                        first_line: first_line[k],
                        line,
                    });
                }
                if let Some(f) = file.filter(|f| !samples[k].files.contains(f)) {
                    samples[k].files.push(f);
                }
            }
            None => {
                index.insert(sample.clone(), samples.len());
                first_line.push(line);
                samples.push(SampleInfo {
                    sample,
                    group,
                    replicate,
                    pair: None,
                    batch: None,
                    extra,
                    files: file.into_iter().collect(),
                });
            }
        }
    }
    Ok(Design { samples })
}

/// A table aligned to its design: columns in design order, named as the design names them.
#[derive(Debug, Clone, PartialEq)]
pub struct Aligned {
    pub table: IntensityTable,
    /// Table columns the design does not name (only with `from_design`), in table order.
    pub ignored: Vec<String>,
}

/// [`align_samples`] requiring the design and the table to list the same samples.
pub fn align_to_design(
    table: IntensityTable,
    design: &Design,
    table_file: &str,
    design_file: &str,
) -> Result<IntensityTable, InputError> {
    align_samples(table, design, table_file, design_file, false).map(|a| a.table)
}

/// Reorders the table's sample columns into design order and names them as the design does. A design sample
/// matches a column with the same name, else the same name once directories, extensions, `[n] ` prefixes and tool
/// suffixes are removed (`/data/A_01.raw` is `A_01`), else the same name ignoring case and punctuation; SDRF
/// samples also match through their data files. With `from_design`, columns the design does not name are left
/// out (and listed); otherwise they are an error, as are design samples without a column — each named with the
/// closest candidate on the other side.
pub fn align_samples(
    table: IntensityTable,
    design: &Design,
    table_file: &str,
    design_file: &str,
    from_design: bool,
) -> Result<Aligned, InputError> {
    let wanted: Vec<String> = design.samples.iter().map(|s| s.sample.clone()).collect();
    let mut seen: HashMap<&str, ()> = HashMap::with_capacity(wanted.len());
    for s in &wanted {
        if seen.insert(s.as_str(), ()).is_some() {
            return Err(InputError::RepeatedDesignSample { design_file: design_file.into(), sample: s.clone() });
        }
    }
    let mut order = match_names(&wanted, &table.samples);
    // SDRF and condition-setup designs also name each sample's data file(s).
    let mut used = vec![false; table.samples.len()];
    for i in order.iter().flatten() {
        used[*i] = true;
    }
    let pending: Vec<(usize, &String)> = design
        .samples
        .iter()
        .enumerate()
        .filter(|(k, _)| order[*k].is_none())
        .flat_map(|(k, s)| s.files.iter().map(move |f| (k, f)))
        .collect();
    if !pending.is_empty() {
        let free: Vec<usize> = (0..table.samples.len()).filter(|i| !used[*i]).collect();
        let names: Vec<String> = free.iter().map(|&i| table.samples[i].clone()).collect();
        let files: Vec<String> = pending.iter().map(|(_, f)| (*f).clone()).collect();
        for ((k, _), m) in pending.iter().zip(match_names(&files, &names)) {
            let Some(m) = m else { continue };
            let column = free[m];
            if let Some(first) = order[*k] {
                return Err(InputError::AmbiguousSample {
                    table_file: table_file.into(),
                    design_file: design_file.into(),
                    sample: design.samples[*k].sample.clone(),
                    first: table.samples[first].clone(),
                    second: table.samples[column].clone(),
                });
            }
            order[*k] = Some(column);
            used[column] = true;
        }
    }
    let matched = order.iter().flatten().count();
    if matched == 0 {
        return Err(InputError::NoSampleInDesign {
            table_file: table_file.into(),
            design_file: design_file.into(),
            n_columns: table.samples.len(),
            design_samples: wanted,
            table_samples: table.samples.clone(),
        });
    }
    let unused: Vec<&str> = (0..table.samples.len()).filter(|i| !used[*i]).map(|i| table.samples[i].as_str()).collect();
    let unmatched_design: Vec<&str> =
        order.iter().zip(&wanted).filter(|(o, _)| o.is_none()).map(|(_, w)| w.as_str()).collect();
    let with_closest = |names: &[&str], others: &[&str]| -> Vec<(String, Option<String>)> {
        names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let c = if k < MAX_LISTED { closest(n, others.iter().copied()).map(str::to_string) } else { None };
                (n.to_string(), c)
            })
            .collect()
    };
    if !unmatched_design.is_empty() || (!unused.is_empty() && !from_design) {
        // A misspelt design sample may have left its column as annotation (a plain matrix): look there too.
        let candidates: Vec<&str> =
            unused.iter().copied().chain(table.annotations.iter().map(|(name, _)| name.as_str())).collect();
        return Err(InputError::SampleMismatch {
            table_file: table_file.into(),
            design_file: design_file.into(),
            missing_columns: with_closest(&unmatched_design, &candidates),
            extra_columns: if from_design { Vec::new() } else { with_closest(&unused, &unmatched_design) },
        });
    }
    let ignored: Vec<String> = unused.iter().map(|s| s.to_string()).collect();
    let order: Vec<usize> = order.into_iter().map(|o| o.expect("every design sample matched")).collect();
    let identity = order.len() == table.samples.len() && order.iter().enumerate().all(|(k, &i)| k == i);
    if identity && table.samples == wanted {
        return Ok(Aligned { table, ignored });
    }
    let n = table.samples.len();
    let mut values = Vec::with_capacity(order.len() * table.n_proteins());
    for row in table.values.chunks_exact(n.max(1)) {
        values.extend(order.iter().map(|&i| row[i]));
    }
    Ok(Aligned { table: IntensityTable { samples: wanted, values, ..table }, ignored })
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
            protein_names: vec![String::new(); n],
            samples: samples.iter().map(|s| s.to_string()).collect(),
            values: values.to_vec(),
            annotations: Vec::new(),
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
        let err = align_to_design(t.clone(), &d, "proteinGroups.txt", "exp_design.txt").unwrap_err();
        assert_eq!(
            err.to_string(),
            "columns `H5`, `L5`, `N5` are not in exp_design.txt; to analyse only the design's samples, use --samples \
             from-design"
        );
        let a = align_samples(t, &d, "proteinGroups.txt", "exp_design.txt", true).unwrap();
        assert_eq!(a.ignored, ["H5", "L5", "N5"]);
        assert_eq!(a.table.samples, d.sample_names());
        assert_eq!(a.table.values.len(), 1375 * 12);
    }

    #[test]
    fn run_names_match_after_paths_extensions_and_prefixes_and_take_the_design_names() {
        let d = design("sample\tgroup\nA_01\ta\nB_01\tb\nC3L-00606-N\tc\n").unwrap();
        let t = table(&["/scratch/x/B_01.mzML", "[1] A_01.raw.PG.Quantity", "C3L.00606.N"], &[1.0, 2.0, 3.0]);
        let a = align_to_design(t, &d, "t.tsv", "d.tsv").unwrap();
        assert_eq!(a.samples, ["A_01", "B_01", "C3L-00606-N"]);
        assert_eq!(a.values, [2.0, 1.0, 3.0]);
    }

    #[test]
    fn a_design_naming_none_of_the_samples_says_so() {
        let d = design("sample\tgroup\nX\ta\nY\tb\n").unwrap();
        let err = align_to_design(table(&["A", "B"], &[1.0, 2.0]), &d, "t.tsv", "d.tsv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "d.tsv names none of the 2 samples of t.tsv (the design has `X`, `Y`; the table has `A`, `B`); check \
             that the design belongs to this table"
        );
    }

    #[test]
    fn alignment_stays_linear_with_200_000_columns() {
        let n = 200_000;
        let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        let d = Design {
            samples: names
                .iter()
                .rev()
                .map(|s| SampleInfo {
                    sample: s.clone(),
                    group: "g".into(),
                    replicate: None,
                    pair: None,
                    batch: None,
                    extra: BTreeMap::new(),
                    files: vec![],
                })
                .collect(),
        };
        let t = IntensityTable {
            protein_ids: vec!["P".into()],
            majority_ids: vec![String::new()],
            gene_names: vec![String::new()],
            protein_names: vec![String::new()],
            samples: names.iter().map(|s| format!("/data/{s}.raw")).collect(),
            values: (0..n).map(|i| i as f64).collect(),
            annotations: vec![],
        };
        let a = align_to_design(t, &d, "t", "d").unwrap();
        assert_eq!(a.values[0], (n - 1) as f64);
        assert_eq!(a.samples[0], format!("s{}", n - 1));
    }

    #[test]
    fn sdrf_designs_give_groups_from_factor_values_and_match_through_data_files() {
        let sdrf =
            "source name\tcharacteristics[organism]\tassay name\tcomment[data file]\tcomment[fraction identifier]\t\
                    factor value[spiked compound]\n\
                    S1\thuman\trun 1\tUPS_50amol_R1.raw\t1\tSP=Yeast;CT=protein;QY=50 amol\n\
                    S2\thuman\trun 2\tUPS_50amol_R2.raw\t1\tSP=Yeast;CT=protein;QY=50 amol\n\
                    S3\thuman\trun 3\tUPS_500amol_R1.raw\t1\tSP=Yeast;CT=protein;QY=500 amol\n";
        let d = read_design(sdrf.as_bytes(), "x.sdrf.tsv").unwrap();
        assert_eq!(d.sample_names(), ["S1", "S2", "S3"]);
        assert_eq!(d.groups(), ["50 amol", "500 amol"]);
        assert_eq!(d.samples[0].files, ["UPS_50amol_R1.raw"]);
        assert_eq!(d.samples[0].extra.get("characteristics[organism]").map(String::as_str), Some("human"));
        let t = table(&["/d/UPS_500amol_R1.mzML", "UPS_50amol_R1", "UPS_50amol_R2"], &[3.0, 1.0, 2.0]);
        let a = align_to_design(t, &d, "pg.tsv", "x.sdrf.tsv").unwrap();
        assert_eq!(a.samples, ["S1", "S2", "S3"]);
        assert_eq!(a.values, [1.0, 2.0, 3.0]);
        let no_factor = "source name\tcomment[data file]\nS1\ta.raw\n";
        assert_eq!(
            read_design(no_factor.as_bytes(), "y.sdrf.tsv").unwrap_err().to_string(),
            "y.sdrf.tsv is an SDRF file without a `factor value[…]` column, so it does not say which group each sample \
             is in; add a `factor value[<what differs>]` column (e.g. `factor value[disease]`)"
        );
    }

    #[test]
    fn sdrf_fractions_of_one_source_are_one_sample_with_several_files() {
        let sdrf = "source name\tcomment[data file]\tfactor value[disease]\nP1\tf1.raw\tAD\nP1\tf2.raw\tAD\nP2\tf3.raw\tctrl\n";
        let d = read_design(sdrf.as_bytes(), "s.sdrf.tsv").unwrap();
        assert_eq!(d.samples.len(), 2);
        assert_eq!(d.samples[0].files, ["f1.raw", "f2.raw"]);
        let t = table(&["f1", "f2", "f3"], &[1.0, 2.0, 3.0]);
        let err = align_to_design(t, &d, "t.tsv", "s.sdrf.tsv").unwrap_err();
        assert!(err.to_string().contains("columns `f1` and `f2` both match design sample `P1`"), "{err}");
    }

    #[test]
    fn spectronaut_condition_setup_is_a_design() {
        let setup = "#\tReference\tRun Label\tCondition\tFraction\tReplicate\tQuantity Correction Factor\tLabel\tColor\tFile Name\n\
                     1\tFALSE\trun_S01.htrms\tDummy\tNA\t1\t1\tDummy\t#13ECEC\trun_S01\n";
        let d = read_design(setup.as_bytes(), "ConditionSetup.tsv").unwrap();
        assert_eq!(d.samples[0].sample, "run_S01.htrms");
        assert_eq!(d.samples[0].group, "Dummy");
        assert_eq!(d.samples[0].replicate.as_deref(), Some("1"));
        assert_eq!(d.samples[0].files, ["run_S01"]);
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
    fn a_two_column_design_takes_its_other_column_as_the_group() {
        let d = design("sample,disease\nA,control\nB,case\n").unwrap();
        assert_eq!(d.groups(), ["control", "case"]);
        assert!(d.samples[0].extra.is_empty());
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
             `sample name` or `run label` or `run` or `experiment`, found `name`, `condition`"
        );
        assert_eq!(
            design("label\ttreatment\tbatch\nA\tx\t1\n").unwrap_err().to_string(),
            "design.tsv: no group column; expected a column named `group` or `condition`, found `label`, \
             `treatment`, `batch`"
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
            "design samples `H6` (closest: `X1`), `H7` (closest: `X1`) have no column in proteinGroups.txt; columns \
             `X1` (closest: `H6`), `X2` (closest: `H6`) are not in design.tsv; rename them so the design and the \
             table agree"
        );
        let err = align_to_design(table(&["H1", "H6", "H7", "X"], &[1.0; 4]), &d, "t.tsv", "d.tsv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "column `X` is not in d.tsv; to analyse only the design's samples, use --samples from-design"
        );
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
