//! Gene and protein names parsed from UniProt-style protein ids, for tables without a gene column.
//!
//! Per `;`-separated member of a protein group: the `GN=` field of a full FASTA header (exact), else the Swiss-Prot
//! entry name (`sp|P12345|ALBU_HUMAN` → entry `ALBU_HUMAN`, gene `ALBU`). An entry name's prefix is usually, not
//! always, the gene symbol (`RL4_HUMAN` is RPL4), so ids with a `GN=` or a tool's gene column are preferred; TrEMBL
//! entry names repeat the accession (`tr|A0A024R|A0A024R_HUMAN`) and give no gene. Decoys (`REV__`, `rev_`) give
//! nothing; contaminant prefixes (`CON__`, `contam_`) and Spectronaut's `1/` count prefix are dropped.

/// `(genes, entry names)` of a protein group id, each deduplicated in order and joined by `;` (empty when the id
/// is not UniProt-style).
pub fn names_from_id(id: &str) -> (String, String) {
    let mut genes: Vec<&str> = Vec::new();
    let mut entries: Vec<&str> = Vec::new();
    for member in id.split(';') {
        let (gene, entry) = member_names(member);
        if let Some(g) = gene.filter(|g| !genes.contains(g)) {
            genes.push(g);
        }
        if let Some(e) = entry.filter(|e| !entries.contains(e)) {
            entries.push(e);
        }
    }
    (genes.join(";"), entries.join(";"))
}

fn member_names(member: &str) -> (Option<&str>, Option<&str>) {
    let mut m = member.trim();
    if let Some((count, rest)) = m.split_once('/') {
        if !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()) {
            m = rest;
        }
    }
    if m.starts_with("REV__") || m.starts_with("rev_") {
        return (None, None);
    }
    m = m.strip_prefix("CON__").or_else(|| m.strip_prefix("contam_")).unwrap_or(m);
    let gn =
        m.split_once(" GN=").map(|(_, rest)| rest.split_whitespace().next().unwrap_or("")).filter(|g| !g.is_empty());
    let head = m.split_whitespace().next().unwrap_or("");
    let mut fields = head.split('|');
    let (db, accession, entry) = (fields.next(), fields.next(), fields.next());
    let (Some(db), Some(accession), Some(entry)) = (db, accession, entry) else { return (gn, None) };
    if entry.is_empty() {
        return (gn, None);
    }
    let entry_gene = entry.rsplit_once('_').map(|(g, _)| g).filter(|g| !g.is_empty() && *g != accession);
    let gene = gn.or(if db == "sp" { entry_gene } else { None });
    (gene, Some(entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genes_and_entries_from_uniprot_ids() {
        assert_eq!(names_from_id("sp|P36578|RL4_HUMAN"), ("RL4".into(), "RL4_HUMAN".into()));
        assert_eq!(
            names_from_id("sp|P12345|ALBU_HUMAN;sp|P12346|ALBU_HUMAN;tr|A0A024R|A0A024R_HUMAN"),
            ("ALBU".into(), "ALBU_HUMAN;A0A024R_HUMAN".into())
        );
        assert_eq!(
            names_from_id("sp|P02768|ALBU_HUMAN Serum albumin OS=Homo sapiens OX=9606 GN=ALB PE=1 SV=2"),
            ("ALB".into(), "ALBU_HUMAN".into())
        );
        assert_eq!(names_from_id("CON__sp|P02769|ALBU_BOVIN"), ("ALBU".into(), "ALBU_BOVIN".into()));
        assert_eq!(names_from_id("REV__sp|Q13085|ACACA_HUMAN"), (String::new(), String::new()));
        assert_eq!(names_from_id("1/sp|O75475|PSIP1_HUMAN"), ("PSIP1".into(), "PSIP1_HUMAN".into()));
        assert_eq!(names_from_id("P12345;Q9Y2S6"), (String::new(), String::new()));
        assert_eq!(names_from_id(""), (String::new(), String::new()));
        assert_eq!(names_from_id("sp||"), (String::new(), String::new()));
    }
}
