//! Over-representation analysis: GMT gene sets, protein-group → annotation-key mapping, hypergeometric test + BH.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;

use proteo_stats::hyper::phyper_upper;
use proteo_stats::padjust::p_adjust_bh;

/// Smallest gene set tested, counted after intersecting with the annotated background (clusterProfiler
/// `enricher(minGSSize = 10)`; GSEA uses 15).
pub const DEFAULT_MIN_SET_SIZE: usize = 10;
/// Largest gene set tested, after intersecting with the background (clusterProfiler `maxGSSize = 500`, GSEA 500).
pub const DEFAULT_MAX_SET_SIZE: usize = 500;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

#[derive(Debug, thiserror::Error)]
pub enum PathwayError {
    #[error("gene-set file `{file}` looks gzip-compressed but could not be decompressed: {source}")]
    Gzip {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("gene-set file `{file}`, line {line}: {reason} (expected GMT: `id<TAB>name<TAB>member<TAB>member...`)")]
    BadLine { file: String, line: usize, reason: String },
    #[error("gene-set file `{file}` contains no gene sets")]
    Empty { file: String },
}

/// FxHash (rustc's hasher) with a finaliser: the interning map sees ~2.5 million short-key lookups when the
/// shipped GO BP file is loaded, and SipHash alone would take a large share of the load budget. No hashing crate is
/// in the workspace, and HashDoS resistance is not needed for keys read from a curated gene-set file.
#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8-byte chunk")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    /// Fx leaves the low bits (which pick the hashbrown bucket) depending on the first bytes of the key only;
    /// a murmur3 `fmix64`-style finaliser spreads all bits before use.
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Keys of up to 10 characters from `[0-9A-Za-z_-]` (every UniProt accession, nearly every gene symbol) are
/// packed into a `u64` (length, then 6 bits per character), so lookups hash and compare one integer and the table
/// stays small enough for cache; other keys go through a string map.
const PACKED_KEY_MAX: usize = 10;

fn packed_key(key: &str) -> Option<u64> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > PACKED_KEY_MAX {
        return None;
    }
    let mut v = b.len() as u64;
    for &c in b {
        let code = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        v = (v << 6) | u64::from(code);
    }
    Some(v)
}

/// Key string ↔ dense `u32` id.
#[derive(Debug, Clone, Default)]
struct Interner {
    keys: Vec<Box<str>>,
    packed: FxMap<u64, u32>,
    long: FxMap<Box<str>, u32>,
}

impl Interner {
    fn get(&self, key: &str) -> Option<u32> {
        match packed_key(key) {
            Some(packed) => self.packed.get(&packed).copied(),
            None => self.long.get(key).copied(),
        }
    }

    fn intern(&mut self, key: &str) -> u32 {
        let next = u32::try_from(self.keys.len()).expect("fewer than 2^32 distinct gene-set members");
        let id = match packed_key(key) {
            Some(packed) => *self.packed.entry(packed).or_insert(next),
            None => match self.long.get(key) {
                Some(&id) => id,
                None => {
                    self.long.insert(key.into(), next);
                    next
                }
            },
        };
        if id == next {
            self.keys.push(key.into());
        }
        id
    }
}

/// Decompressed bytes handed from the inflating thread to the parser at a time.
const GZIP_CHUNK: usize = 1 << 20;

/// Incremental GMT parser: fed whole lines, possibly in several pieces, so that a gzip file is parsed while it is
/// being inflated (on a second thread; together the two take about as long as inflating alone plus the part of
/// parsing that does not overlap).
struct GmtParser<'f> {
    file: &'f str,
    lines_done: usize,
    sets: Vec<GeneSet>,
    keys: Interner,
    seen_ids: FxMap<String, usize>,
    /// Per key id, 1 + the index of the last set that took it: deduplicates members without sorting each set.
    last_set: Vec<u32>,
}

impl<'f> GmtParser<'f> {
    fn new(file: &'f str) -> Self {
        GmtParser {
            file,
            lines_done: 0,
            sets: Vec::new(),
            keys: Interner::default(),
            seen_ids: FxMap::default(),
            last_set: Vec::new(),
        }
    }

    fn bad(&self, line: usize, reason: String) -> PathwayError {
        PathwayError::BadLine { file: self.file.to_string(), line, reason }
    }

    fn parse_gzip(&mut self, bytes: &[u8]) -> Result<(), PathwayError> {
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
            let inflater = scope.spawn(move || -> std::io::Result<()> {
                let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
                loop {
                    let mut buf = vec![0u8; GZIP_CHUNK];
                    let mut filled = 0;
                    while filled < GZIP_CHUNK {
                        let n = decoder.read(&mut buf[filled..])?;
                        if n == 0 {
                            break;
                        }
                        filled += n;
                    }
                    buf.truncate(filled);
                    // The parser hangs up on the first bad line; stop quietly then.
                    if filled == 0 || tx.send(buf).is_err() {
                        return Ok(());
                    }
                }
            });
            let mut carry: Vec<u8> = Vec::new();
            let parsed = (|| {
                for chunk in rx.iter() {
                    let mut rest: &[u8] = &chunk;
                    if !carry.is_empty() {
                        match rest.iter().position(|&b| b == b'\n') {
                            Some(nl) => {
                                carry.extend_from_slice(&rest[..=nl]);
                                rest = &rest[nl + 1..];
                                let line = std::mem::take(&mut carry);
                                self.parse_lines(&line)?;
                            }
                            None => {
                                carry.extend_from_slice(rest);
                                continue;
                            }
                        }
                    }
                    match rest.iter().rposition(|&b| b == b'\n') {
                        Some(nl) => {
                            self.parse_lines(&rest[..=nl])?;
                            carry.extend_from_slice(&rest[nl + 1..]);
                        }
                        None => carry.extend_from_slice(rest),
                    }
                }
                Ok(())
            })();
            drop(rx);
            let inflated = inflater.join().expect("the gzip inflating thread does not panic");
            // A corrupt stream shows up first as a truncated last line: report the gzip error, not the symptom.
            inflated.map_err(|source| PathwayError::Gzip { file: self.file.to_string(), source })?;
            parsed?;
            self.parse_lines(&carry)
        })
    }

    /// Parses complete lines (`text` ends with a newline, or is the end of the file).
    fn parse_lines(&mut self, text: &[u8]) -> Result<(), PathwayError> {
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        if text.is_empty() {
            return Ok(());
        }
        let text = std::str::from_utf8(text).map_err(|e| {
            let line = self.lines_done + 1 + text[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            self.bad(line, format!("not valid UTF-8 ({e})"))
        })?;
        for line in text.split('\n') {
            self.lines_done += 1;
            self.parse_line(line)?;
        }
        Ok(())
    }

    fn parse_line(&mut self, line: &str) -> Result<(), PathwayError> {
        let line_no = self.lines_done;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            return Ok(());
        }
        let mut fields = line.split('\t');
        let id = fields.next().unwrap_or("").trim();
        if id.is_empty() {
            return Err(self.bad(line_no, "the gene-set id (first field) is empty".to_string()));
        }
        let Some(name) = fields.next() else {
            return Err(self.bad(line_no, format!("gene set `{id}` has no tab-separated name field")));
        };
        if let Some(&first) = self.seen_ids.get(id) {
            return Err(self.bad(line_no, format!("gene-set id `{id}` was already defined on line {first}")));
        }
        self.seen_ids.insert(id.to_string(), line_no);
        let stamp = u32::try_from(self.sets.len() + 1).expect("fewer than 2^32 gene sets");
        let mut members: Vec<u32> = Vec::new();
        for m in fields.map(str::trim).filter(|m| !m.is_empty()) {
            let k = self.keys.intern(m) as usize;
            if k == self.last_set.len() {
                self.last_set.push(0);
            }
            if self.last_set[k] != stamp {
                self.last_set[k] = stamp;
                members.push(k as u32);
            }
        }
        self.sets.push(GeneSet { id: id.to_string(), name: name.trim().to_string(), members });
        Ok(())
    }

    fn finish(self) -> Result<GeneSets, PathwayError> {
        if self.sets.is_empty() {
            return Err(PathwayError::Empty { file: self.file.to_string() });
        }
        Ok(GeneSets { sets: self.sets, keys: self.keys })
    }
}

/// One gene set (GMT line). Members are interned key ids, deduplicated, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneSet {
    pub id: String,
    pub name: String,
    members: Vec<u32>,
}

impl GeneSet {
    /// Number of distinct members in the file (before intersecting with any background).
    pub fn len(&self) -> usize {
        self.members.len()
    }
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Gene sets read from a GMT file, with member keys (UniProt accessions or gene symbols) interned to `u32`.
#[derive(Debug, Clone)]
pub struct GeneSets {
    sets: Vec<GeneSet>,
    keys: Interner,
}

impl GeneSets {
    /// Parses GMT (`id \t name \t member...`, one set per line), plain or gzip (detected by magic bytes).
    /// Blank lines are skipped, empty member fields (trailing tabs) ignored, duplicate members deduplicated.
    /// A line without a name field, with an empty id, with an id seen before, or not UTF-8 is an error naming its
    /// line. `file_name` is used in error messages only.
    pub fn from_gmt(bytes: &[u8], file_name: &str) -> Result<GeneSets, PathwayError> {
        let mut parser = GmtParser::new(file_name);
        if bytes.starts_with(&GZIP_MAGIC) {
            parser.parse_gzip(bytes)?;
        } else {
            parser.parse_lines(bytes)?;
        }
        parser.finish()
    }

    pub fn len(&self) -> usize {
        self.sets.len()
    }
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
    pub fn sets(&self) -> &[GeneSet] {
        &self.sets
    }
    /// Number of distinct member keys over all sets.
    pub fn n_keys(&self) -> usize {
        self.keys.keys.len()
    }
    /// True when `key` is a member of at least one set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.keys.get(key).is_some()
    }
    /// Members of `set` as they are written in the file (first occurrence of each).
    pub fn members<'a>(&'a self, set: &'a GeneSet) -> impl Iterator<Item = &'a str> + 'a {
        set.members.iter().map(move |&k| &*self.keys.keys[k as usize])
    }
    fn key_id(&self, key: &str) -> Option<u32> {
        self.keys.get(key)
    }
}

/// The accessions of a protein group id, as UniProt-keyed gene sets spell them: split on `;`; FASTA-header style
/// `sp|P12345|NAME_HUMAN` → `P12345`; `CON__` (MaxQuant contaminant) prefix removed; `REV__` entries (decoy
/// sequences, which have no biology) dropped; isoform suffix `-N` removed; duplicates dropped, order kept.
pub fn group_accessions(protein_group_id: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for part in protein_group_id.split(';') {
        let mut acc = part.trim();
        if acc.starts_with("REV__") {
            continue;
        }
        acc = acc.strip_prefix("CON__").unwrap_or(acc);
        if acc.contains('|') {
            let mut f = acc.split('|');
            let (first, second) = (f.next(), f.next());
            acc = match second {
                Some(s) if !s.is_empty() => s,
                _ => first.unwrap_or(""),
            };
        }
        if let Some((base, suffix)) = acc.rsplit_once('-') {
            if !base.is_empty() && !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) {
                acc = base;
            }
        }
        if !acc.is_empty() && !out.contains(&acc) {
            out.push(acc);
        }
    }
    out
}

/// The gene names of a protein group (MaxQuant `Gene names`: `;`-separated), trimmed and deduplicated.
pub fn group_gene_names(gene_names: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for g in gene_names.split(';').map(str::trim) {
        if !g.is_empty() && !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// Which column of the run was matched against the gene-set members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationKey {
    /// Protein ids → UniProt accessions (isoform suffix and `CON__` prefix removed).
    UniprotAccession,
    /// The gene names column, used only when no accession of the run occurs in the gene sets.
    GeneName,
}

impl AnnotationKey {
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationKey::UniprotAccession => "uniprot_accession",
            AnnotationKey::GeneName => "gene_name",
        }
    }
}

/// Which members of a protein group are matched against the gene sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Membership {
    /// The group's leading (first) accession, or its first gene name: the rule DAVID, clusterProfiler workflows and
    /// Perseus annotation use for protein groups.
    #[default]
    LeadingAccession,
    /// Any accession (or gene name) of the group: groups sharing peptides with an annotated protein count too.
    AnyMember,
}

impl Membership {
    /// How a group counts as annotated, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Membership::LeadingAccession => "its leading accession",
            Membership::AnyMember => "any of its member accessions",
        }
    }
}

/// Separates protein groups in [`EnrichmentRow::overlap_ids`]; `;` already separates proteins within a group.
pub const OVERLAP_SEPARATOR: &str = " | ";

/// One tested gene set with at least one selected protein group in it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnrichmentRow {
    pub term_id: String,
    pub term_name: String,
    /// K: annotated background protein groups in the set.
    pub set_size: usize,
    /// k: selected protein groups in the set.
    pub overlap: usize,
    /// n·K/N.
    pub expected: f64,
    /// k / expected = (k/n) / (K/N).
    pub fold_enrichment: f64,
    /// P(X ≥ k), X ~ Hypergeometric(N, K, n).
    pub p_value: f64,
    /// Benjamini–Hochberg over every size-passing set of this selection.
    pub adj_p_value: f64,
    /// Protein group ids of the overlap, in background order, joined by [`OVERLAP_SEPARATOR`] (group ids contain `;`).
    pub overlap_ids: String,
}

#[derive(Debug, Clone)]
struct TestedSet {
    set: usize,
    /// Background indices (sorted) of the annotated protein groups in the set.
    members: Vec<u32>,
}

/// Over-representation analysis for one run: the background-dependent work (mapping, set ∩ background) is done
/// once in [`Enricher::new`] and reused by every [`Enricher::run`] (one per contrast and direction).
///
/// Method: N = background protein groups with at least one key in any gene set; n = selected groups among those;
/// per set, K = background groups in it (a group is in a set when any of its keys is), tested when
/// `min_size ≤ K ≤ max_size`; k = selected groups in it; p = P(X ≥ k); BH over all tested sets.
#[derive(Debug, Clone)]
pub struct Enricher<'a> {
    sets: &'a GeneSets,
    background_ids: Vec<String>,
    key: AnnotationKey,
    annotated: Vec<bool>,
    n_annotated: usize,
    tested: Vec<TestedSet>,
}

impl<'a> Enricher<'a> {
    /// `background_ids[i]` is the protein group id of background group `i` (all groups quantified in the run);
    /// `background_genes[i]` its gene names, or `background_genes` empty when the input has none. Sizes are
    /// inclusive limits on K.
    ///
    /// `membership` says which of a group's accessions (or gene names) are matched.
    ///
    /// # Panics
    /// When `background_genes` is neither empty nor as long as `background_ids`.
    pub fn new(
        sets: &'a GeneSets,
        background_ids: &[String],
        background_genes: &[String],
        min_size: usize,
        max_size: usize,
        membership: Membership,
    ) -> Enricher<'a> {
        assert!(
            background_genes.is_empty() || background_genes.len() == background_ids.len(),
            "background_genes must be empty or have one entry per protein group ({} ids, {} gene names)",
            background_ids.len(),
            background_genes.len()
        );
        let keys_of = |key: AnnotationKey| -> Vec<Vec<u32>> {
            (0..background_ids.len())
                .map(|i| {
                    let mut raw: Vec<&str> = match key {
                        AnnotationKey::UniprotAccession => group_accessions(&background_ids[i]),
                        AnnotationKey::GeneName => {
                            background_genes.get(i).map(|g| group_gene_names(g)).unwrap_or_default()
                        }
                    };
                    if membership == Membership::LeadingAccession {
                        raw.truncate(1);
                    }
                    raw.into_iter().filter_map(|k| sets.key_id(k)).collect()
                })
                .collect()
        };
        let mut key = AnnotationKey::UniprotAccession;
        let mut group_keys = keys_of(key);
        if group_keys.iter().all(Vec::is_empty) && !background_genes.is_empty() {
            let by_gene = keys_of(AnnotationKey::GeneName);
            if by_gene.iter().any(|k| !k.is_empty()) {
                key = AnnotationKey::GeneName;
                group_keys = by_gene;
            }
        }
        let annotated: Vec<bool> = group_keys.iter().map(|k| !k.is_empty()).collect();
        let n_annotated = annotated.iter().filter(|&&a| a).count();

        // Key id → background groups holding it (CSR layout over the dense key-id range).
        let n_keys = sets.n_keys();
        let mut start = vec![0u32; n_keys + 1];
        for ks in &group_keys {
            for &k in ks {
                start[k as usize + 1] += 1;
            }
        }
        for i in 0..n_keys {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut groups = vec![0u32; start[n_keys] as usize];
        for (g, ks) in group_keys.iter().enumerate() {
            for &k in ks {
                groups[fill[k as usize] as usize] = g as u32;
                fill[k as usize] += 1;
            }
        }

        // Set ∩ background, deduplicating groups that match a set through several keys.
        let mut stamp = vec![u32::MAX; background_ids.len()];
        let mut tested = Vec::new();
        let mut members: Vec<u32> = Vec::new();
        for (s, set) in sets.sets.iter().enumerate() {
            members.clear();
            for &k in &set.members {
                for &g in &groups[start[k as usize] as usize..start[k as usize + 1] as usize] {
                    if stamp[g as usize] != s as u32 {
                        stamp[g as usize] = s as u32;
                        members.push(g);
                    }
                }
            }
            if (min_size..=max_size).contains(&members.len()) {
                members.sort_unstable();
                tested.push(TestedSet { set: s, members: members.clone() });
            }
        }

        Enricher { sets, background_ids: background_ids.to_vec(), key, annotated, n_annotated, tested }
    }

    /// Which run column was matched to the gene sets. When nothing matched either way this is
    /// `UniprotAccession` and [`Enricher::n_annotated`] is 0.
    pub fn key_used(&self) -> AnnotationKey {
        self.key
    }
    /// N: background protein groups with at least one key in the gene sets.
    pub fn n_annotated(&self) -> usize {
        self.n_annotated
    }
    /// Number of gene sets whose size within the background is in the limits (the BH family size).
    pub fn n_tested_sets(&self) -> usize {
        self.tested.len()
    }
    /// n: distinct selected protein groups that are annotated.
    ///
    /// # Panics
    /// When an index is out of the background's range.
    pub fn n_selected_annotated(&self, selected: &[usize]) -> usize {
        self.selection_mask(selected).1
    }

    fn selection_mask(&self, selected: &[usize]) -> (Vec<bool>, usize) {
        let mut mask = vec![false; self.background_ids.len()];
        let mut n = 0;
        for &i in selected {
            assert!(i < mask.len(), "selected index {i} is outside the background of {} protein groups", mask.len());
            if !mask[i] && self.annotated[i] {
                mask[i] = true;
                n += 1;
            }
        }
        (mask, n)
    }

    /// Tests the selection (indices into the background; duplicates ignored) against every size-passing set.
    /// Returns the sets with overlap ≥ 1, sorted by p-value then term id.
    ///
    /// # Panics
    /// When an index is out of the background's range.
    pub fn run(&self, selected: &[usize]) -> Vec<EnrichmentRow> {
        let (mask, n) = self.selection_mask(selected);
        if n == 0 {
            return Vec::new();
        }
        let big_n = self.n_annotated as u64;
        let overlaps: Vec<usize> =
            self.tested.iter().map(|t| t.members.iter().filter(|&&g| mask[g as usize]).count()).collect();
        let p: Vec<f64> = self
            .tested
            .iter()
            .zip(&overlaps)
            .map(|(t, &k)| if k == 0 { 1.0 } else { phyper_upper(k as u64, t.members.len() as u64, big_n, n as u64) })
            .collect();
        let adj = p_adjust_bh(&p);

        let mut rows: Vec<EnrichmentRow> = Vec::new();
        for (i, t) in self.tested.iter().enumerate() {
            let k = overlaps[i];
            if k == 0 {
                continue;
            }
            let set = &self.sets.sets[t.set];
            let big_k = t.members.len();
            let expected = n as f64 * big_k as f64 / big_n as f64;
            let overlap_ids = t
                .members
                .iter()
                .filter(|&&g| mask[g as usize])
                .map(|&g| self.background_ids[g as usize].as_str())
                .collect::<Vec<_>>()
                .join(OVERLAP_SEPARATOR);
            rows.push(EnrichmentRow {
                term_id: set.id.clone(),
                term_name: set.name.clone(),
                set_size: big_k,
                overlap: k,
                expected,
                fold_enrichment: k as f64 / expected,
                p_value: p[i],
                adj_p_value: adj[i],
                overlap_ids,
            });
        }
        rows.sort_by(|a, b| a.p_value.total_cmp(&b.p_value).then_with(|| a.term_id.cmp(&b.term_id)));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessions_are_normalised() {
        assert_eq!(group_accessions("P12345-2;Q9XXX5;CON__P02768;REV__Q1"), vec!["P12345", "Q9XXX5", "P02768"]);
        assert_eq!(group_accessions("sp|P12345|ALBU_HUMAN;tr|A0A024R|A0A_HUMAN"), vec!["P12345", "A0A024R"]);
        assert_eq!(group_accessions("P12345;P12345-3; P12345-12"), vec!["P12345"]);
        assert_eq!(group_accessions("CON__sp|P02769|ALBU_BOVIN"), vec!["P02769"]);
        assert_eq!(group_accessions("REV__P1"), Vec::<&str>::new());
        assert_eq!(group_accessions("GENE-A"), vec!["GENE-A"]);
        assert_eq!(group_gene_names("HLA-A; HLA-B;HLA-A;"), vec!["HLA-A", "HLA-B"]);
    }

    #[test]
    fn gmt_parsing_and_errors() {
        let gmt = b"T1\tone\tA\tB\tA\t\nT2\ttwo\r\n\nT3\tthree\tC\n";
        let sets = GeneSets::from_gmt(gmt, "x.gmt").unwrap();
        assert_eq!(sets.len(), 3);
        assert_eq!(sets.sets()[0].len(), 2);
        assert!(sets.sets()[1].is_empty());
        assert_eq!(sets.members(&sets.sets()[0]).collect::<Vec<_>>(), vec!["A", "B"]);
        assert_eq!(sets.n_keys(), 3);

        let err = GeneSets::from_gmt(b"T1\tone\tA\nT2 no tabs\n", "x.gmt").unwrap_err();
        assert!(matches!(err, PathwayError::BadLine { line: 2, .. }), "{err}");
        let err = GeneSets::from_gmt(b"T1\tone\tA\n\tname\tB\n", "x.gmt").unwrap_err();
        assert!(matches!(err, PathwayError::BadLine { line: 2, .. }), "{err}");
        let err = GeneSets::from_gmt(b"T1\tone\tA\n\nT1\tagain\tB\n", "x.gmt").unwrap_err();
        assert!(err.to_string().contains("line 3") && err.to_string().contains("line 1"), "{err}");
        let err = GeneSets::from_gmt(b"T1\tone\t\xff\n", "x.gmt").unwrap_err();
        assert!(matches!(err, PathwayError::BadLine { line: 1, .. }), "{err}");
        assert!(matches!(GeneSets::from_gmt(b"\n\n", "x.gmt"), Err(PathwayError::Empty { .. })));
        assert!(matches!(GeneSets::from_gmt(&[0x1f, 0x8b, 0, 1, 2], "x.gmt.gz"), Err(PathwayError::Gzip { .. })));
    }

    #[test]
    fn gzip_parsing_spans_chunks_and_keeps_line_numbers() {
        use std::io::Write;
        // ~3 MiB of text: lines cross the inflater's 1 MiB chunk boundaries.
        let mut text = String::new();
        let n_lines = 30_000;
        for i in 0..n_lines {
            text.push_str(&format!("GO:{i:07}\tterm {i}"));
            for j in 0..12 {
                text.push_str(&format!("\tP{:05}", (i * 7 + j * 13) % 50_000));
            }
            text.push('\n');
        }
        let gz = |t: &str| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(t.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        let plain = GeneSets::from_gmt(text.as_bytes(), "big.gmt").unwrap();
        let zipped = GeneSets::from_gmt(&gz(&text), "big.gmt.gz").unwrap();
        assert_eq!(zipped.len(), n_lines);
        assert_eq!(zipped.sets(), plain.sets());
        assert_eq!(zipped.n_keys(), plain.n_keys());
        let last = &zipped.sets()[n_lines - 1];
        assert_eq!(zipped.members(last).count(), 12);

        let broken = format!("{text}no tab here\n{text}");
        let err = GeneSets::from_gmt(&gz(&broken), "big.gmt.gz").unwrap_err();
        assert!(matches!(err, PathwayError::BadLine { line, .. } if line == n_lines + 1), "{err}");
    }

    #[test]
    fn group_counts_once_when_several_accessions_hit_a_set() {
        let sets = GeneSets::from_gmt(b"S\ts\tA\tB\tC\nU\tu\tD\n", "x.gmt").unwrap();
        let ids: Vec<String> = ["A;B", "C-2", "D", "E"].iter().map(|s| s.to_string()).collect();
        let e = Enricher::new(&sets, &ids, &[], 1, 10, Membership::AnyMember);
        assert_eq!(e.key_used(), AnnotationKey::UniprotAccession);
        assert_eq!(e.n_annotated(), 3);
        let rows = e.run(&[0, 0, 2, 3]);
        assert_eq!(e.n_selected_annotated(&[0, 0, 2, 3]), 2);
        let s = rows.iter().find(|r| r.term_id == "S").unwrap();
        assert_eq!((s.set_size, s.overlap), (2, 1));
        assert_eq!(s.overlap_ids, "A;B", "one group, listed once");
        // By the leading accession only, `A;B` is in S through A and `C-2` through C; `E` is still not annotated.
        let lead = Enricher::new(&sets, &ids, &[], 1, 10, Membership::LeadingAccession);
        assert_eq!(lead.n_annotated(), 3);
        let only_b: Vec<String> = ["B;A", "D"].iter().map(|s| s.to_string()).collect();
        let lead_b = Enricher::new(&sets, &only_b, &[], 1, 10, Membership::LeadingAccession);
        assert_eq!(lead_b.n_annotated(), 2, "B leads and is in S");
        // N = 3, K = 2, n = 2, k = 1: P(X ≥ 1) = 1 - C(1,2)/C(3,2) = 1.
        assert_eq!(s.p_value, 1.0);
        let u = rows.iter().find(|r| r.term_id == "U").unwrap();
        // K = 1, k = 1: P = n/N = 2/3.
        assert!((u.p_value - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(rows[0].term_id, "U");
    }

    #[test]
    fn falls_back_to_gene_names_only_when_no_accession_matches() {
        let sets = GeneSets::from_gmt(b"S\ts\tALB\tTP53\n", "x.gmt").unwrap();
        let ids: Vec<String> = ["P02768", "P04637"].iter().map(|s| s.to_string()).collect();
        let genes: Vec<String> = ["ALB", "TP53;X"].iter().map(|s| s.to_string()).collect();
        let e = Enricher::new(&sets, &ids, &genes, 1, 10, Membership::AnyMember);
        assert_eq!(e.key_used(), AnnotationKey::GeneName);
        assert_eq!(e.n_annotated(), 2);
        let e = Enricher::new(&sets, &ids, &[], 1, 10, Membership::AnyMember);
        assert_eq!((e.key_used(), e.n_annotated()), (AnnotationKey::UniprotAccession, 0));
        assert!(e.run(&[0, 1]).is_empty());
    }
}
