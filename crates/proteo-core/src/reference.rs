//! Reference sets for normalization (`--normalize-on`): an id-list file, a regex over ids and genes, or a species.

use std::collections::HashSet;

use crate::model::IntensityTable;
use crate::pathway::{group_accessions, group_gene_names};

/// Fewest kept proteins a reference set may define a normalization with: below this a per-sample median or
/// loess curve is noise (MSstats `globalStandards` and DIA-NN's normalization use hundreds).
pub const MIN_REFERENCE_PROTEINS: usize = 10;

/// What `--normalize-on` says, before anything is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceSpec {
    /// A file of ids (store key or local path): one per line, the first tab/comma field; `#` starts a comment.
    IdList(String),
    /// `regex:<re>`: a protein group belongs when the regex matches its id, majority ids or gene names.
    Regex(String),
    /// `species:<NAME>`: groups whose UniProt entry names all end in `_<NAME>` (e.g. `ALBU_HUMAN`).
    Species(String),
}

impl ReferenceSpec {
    pub fn parse(spec: &str) -> Result<ReferenceSpec, ReferenceError> {
        let spec = spec.trim();
        if let Some(re) = spec.strip_prefix("regex:") {
            return Ok(ReferenceSpec::Regex(re.to_string()));
        }
        if let Some(sp) = spec.strip_prefix("species:") {
            let sp = sp.trim().trim_start_matches('_').to_ascii_uppercase();
            if sp.is_empty() || !sp.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(ReferenceError::BadSpecies(sp));
            }
            return Ok(ReferenceSpec::Species(sp));
        }
        let path = spec.strip_prefix("file:").unwrap_or(spec);
        if path.is_empty() {
            return Err(ReferenceError::Empty);
        }
        Ok(ReferenceSpec::IdList(path.to_string()))
    }

    /// The id-list file to read, if this spec names one.
    pub fn file(&self) -> Option<&str> {
        match self {
            ReferenceSpec::IdList(p) => Some(p),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReferenceError {
    #[error(
        "--normalize-on is empty; give an id-list file, `regex:<pattern>` or `species:<NAME>` (e.g. species:HUMAN)"
    )]
    Empty,
    #[error("--normalize-on species `{0}`: a species is the UniProt mnemonic after `_` in entry names, letters and digits only (HUMAN, YEAST, ECOLI)")]
    BadSpecies(String),
    #[error("--normalize-on regex `{pattern}` is not a valid regular expression: {reason}")]
    BadRegex { pattern: String, reason: String },
    #[error("--normalize-on file `{file}` contains no ids (one id per line; the first tab- or comma-separated field is used)")]
    EmptyIdList { file: String },
    #[error("--normalize-on file `{file}` is not UTF-8 text")]
    NotText { file: String },
    #[error("--normalize-on {set} matched {found} of the {kept} proteins kept after filtering; normalizing on a reference set needs at least {min}. Check the ids/pattern against the input's protein ids (e.g. {example})")]
    TooFew { set: String, found: usize, kept: usize, min: usize, example: String },
}

enum Matcher {
    Ids(HashSet<String>),
    Regex(regex::Regex),
    Species(String),
}

/// A resolved reference set: [`ReferenceSet::mask`] says which proteins of a table belong to it.
pub struct ReferenceSet {
    /// How the set was defined, for the summary and the methods text (`species HUMAN`, `regex ^sp`, `ids in f.txt`).
    pub description: String,
    matcher: Matcher,
}

impl ReferenceSet {
    /// Resolves `spec`; `id_list` holds the bytes of the file an [`ReferenceSpec::IdList`] names.
    pub fn new(spec: &ReferenceSpec, id_list: Option<&[u8]>) -> Result<ReferenceSet, ReferenceError> {
        Ok(match spec {
            ReferenceSpec::Regex(p) => ReferenceSet {
                description: format!("proteins matching regex `{p}`"),
                matcher: Matcher::Regex(
                    regex::Regex::new(p)
                        .map_err(|e| ReferenceError::BadRegex { pattern: p.clone(), reason: e.to_string() })?,
                ),
            },
            ReferenceSpec::Species(s) => ReferenceSet {
                description: format!("{s} proteins (`_{s}` entry names)"),
                matcher: Matcher::Species(s.clone()),
            },
            ReferenceSpec::IdList(file) => {
                let name = file.rsplit(['/', '\\']).next().unwrap_or(file).to_string();
                let text = std::str::from_utf8(id_list.unwrap_or_default())
                    .map_err(|_| ReferenceError::NotText { file: name.clone() })?;
                let ids: HashSet<String> = text
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or(""))
                    .filter_map(|l| l.split(['\t', ',']).next())
                    .map(|f| f.trim().trim_matches('"').to_string())
                    .filter(|f| !f.is_empty())
                    .collect();
                if ids.is_empty() {
                    return Err(ReferenceError::EmptyIdList { file: name });
                }
                ReferenceSet {
                    description: format!("the {} ids listed in {name}", ids.len()),
                    matcher: Matcher::Ids(ids),
                }
            }
        })
    }

    /// Per protein of `table`, whether it belongs to the set.
    pub fn mask(&self, table: &IntensityTable) -> Vec<bool> {
        (0..table.n_proteins())
            .map(|p| {
                let id = &table.protein_ids[p];
                let majority = table.majority_ids.get(p).map(String::as_str).unwrap_or("");
                let genes = table.gene_names.get(p).map(String::as_str).unwrap_or("");
                match &self.matcher {
                    Matcher::Ids(ids) => {
                        ids.contains(id)
                            || group_accessions(id)
                                .iter()
                                .chain(group_accessions(majority).iter())
                                .any(|a| ids.contains(*a))
                            || group_gene_names(genes).iter().any(|g| ids.contains(*g))
                    }
                    Matcher::Regex(re) => re.is_match(id) || re.is_match(majority) || re.is_match(genes),
                    // Seam: when the input table carries a species/organism annotation column (readers of issue 12),
                    // match it here before falling back to the entry names in the ids.
                    Matcher::Species(s) => group_species(&[id, majority]).as_deref() == Some(s.as_str()),
                }
            })
            .collect()
    }
}

/// The species mnemonic of one protein entry: `sp|P02768|ALBU_HUMAN` or `ALBU_HUMAN` → `HUMAN`; `None` when the
/// entry carries no UniProt entry name.
pub fn entry_species(entry: &str) -> Option<&str> {
    let entry = entry.trim();
    let name = entry.rsplit('|').next().unwrap_or(entry);
    let (head, species) = name.rsplit_once('_')?;
    let ok = !head.is_empty()
        && (2..=6).contains(&species.len())
        && species.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && species.bytes().any(|b| b.is_ascii_uppercase());
    ok.then_some(species)
}

/// The species of a protein group: every member (over the `;`-separated id fields given) that names a species names
/// the same one. Groups mixing species (peptides shared between organisms) have none.
pub fn group_species(fields: &[&str]) -> Option<String> {
    let mut found: Option<&str> = None;
    for field in fields {
        for entry in field.split(';') {
            if let Some(s) = entry_species(entry) {
                match found {
                    None => found = Some(s),
                    Some(f) if f != s => return None,
                    _ => {}
                }
            }
        }
    }
    found.map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(ids: &[&str], genes: &[&str]) -> IntensityTable {
        IntensityTable {
            protein_ids: ids.iter().map(|s| s.to_string()).collect(),
            majority_ids: vec![String::new(); ids.len()],
            gene_names: genes.iter().map(|s| s.to_string()).collect(),
            samples: vec!["S".into()],
            values: vec![1.0; ids.len()],
        }
    }

    #[test]
    fn species_comes_from_entry_names_and_mixed_groups_have_none() {
        assert_eq!(entry_species("sp|P02768|ALBU_HUMAN"), Some("HUMAN"));
        assert_eq!(entry_species("ADH1_YEAST"), Some("YEAST"));
        assert_eq!(entry_species("P02768"), None);
        assert_eq!(entry_species("HLA_A"), None);
        assert_eq!(group_species(&["TMA7B_HUMAN;TMA7_HUMAN", ""]).as_deref(), Some("HUMAN"));
        assert_eq!(group_species(&["ACT_HUMAN;ACT1_YEAST"]), None);
        let t = table(&["sp|P1|A_HUMAN", "sp|P2|B_YEAST", "P3"], &["", "", ""]);
        let set = ReferenceSet::new(&ReferenceSpec::parse("species:human").unwrap(), None).unwrap();
        assert_eq!(set.mask(&t), vec![true, false, false]);
    }

    #[test]
    fn id_lists_match_accessions_and_genes_and_regexes_match_any_field() {
        let t = table(&["P12345-2;Q1", "O99999", "X1"], &["ALB", "TP53", "GAPDH;GAPDHS"]);
        let list = b"# housekeeping\nprotein\tnote\nP12345\tx\nGAPDHS,y\n\n";
        let set = ReferenceSet::new(&ReferenceSpec::parse("ids.txt").unwrap(), Some(list)).unwrap();
        assert_eq!(set.mask(&t), vec![true, false, true]);
        assert!(set.description.contains("ids.txt"));
        let re = ReferenceSet::new(&ReferenceSpec::parse("regex:^TP5").unwrap(), None).unwrap();
        assert_eq!(re.mask(&t), vec![false, true, false]);
    }

    #[test]
    fn bad_specs_say_what_to_write() {
        let err =
            |s: &str| ReferenceSet::new(&ReferenceSpec::parse(s).unwrap(), Some(b"")).err().map(|e| e.to_string());
        assert!(err("regex:(").unwrap().contains("not a valid regular expression"));
        assert!(ReferenceSpec::parse("species:HU-MAN").unwrap_err().to_string().contains("letters and digits"));
        assert!(err("empty.txt").unwrap().contains("contains no ids"));
        assert_eq!(ReferenceSpec::parse(" ").unwrap_err(), ReferenceError::Empty);
    }
}
