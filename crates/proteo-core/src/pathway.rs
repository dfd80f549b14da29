//! Gene-set enrichment of one run: protein groups mapped to the gene sets once per job, then per selection or
//! contrast over-representation (hypergeometric + BH), preranked GSEA and CAMERA on the moderated t.

use proteo_stats::camera::{Camera, InterGeneCorrelation};
use proteo_stats::gsea::{enrichment_score, permutation_null, Null};
use proteo_stats::hyper::phyper_upper;
use proteo_stats::padjust::p_adjust_bh;

pub use proteo_gene_sets::{GeneSetIndex as GeneSets, GmtError as PathwayError};

/// Smallest gene set tested, counted after intersecting with the annotated background (clusterProfiler
/// `enricher(minGSSize = 10)`; GSEA uses 15).
pub const DEFAULT_MIN_SET_SIZE: usize = 10;
/// Largest gene set tested, after intersecting with the background (clusterProfiler `maxGSSize = 500`, GSEA 500).
pub const DEFAULT_MAX_SET_SIZE: usize = 500;

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

/// One tested set with at least one selected protein group in it, before its overlap is spelled out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OraHit {
    /// Index among the tested sets ([`Enricher::term`]).
    pub tested: u32,
    /// K: annotated background protein groups in the set.
    pub set_size: u32,
    /// k: selected protein groups in the set.
    pub overlap: u32,
    pub expected: f64,
    pub fold_enrichment: f64,
    pub p_value: f64,
    pub adj_p_value: f64,
}

/// The over-representation result of one selection: the sets it overlaps, sorted by p then term id, and the
/// selection itself (to spell out each overlap when the row is written).
#[derive(Debug, Clone)]
pub struct OraResult {
    pub hits: Vec<OraHit>,
    selected: Vec<bool>,
}

/// Preranked GSEA of one set in one contrast.
#[derive(Debug, Clone, PartialEq)]
pub struct GseaRow {
    pub tested: u32,
    /// Ranked protein groups in the set.
    pub set_size: u32,
    pub es: f64,
    pub nes: f64,
    /// `(b + 1) / (m + 1)` over the m same-sign permutation scores, b of them at least as extreme.
    pub p_value: f64,
    /// Benjamini–Hochberg over the sets of this contrast.
    pub adj_p_value: f64,
    /// Background indices of the leading edge, most extreme rank first.
    pub leading_edge: Vec<u32>,
}

/// CAMERA of one set in one contrast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraRow {
    pub tested: u32,
    /// Protein groups of the set with a statistic (`NGenes`).
    pub set_size: u32,
    /// The inter-gene correlation used (fixed, or estimated for this set).
    pub correlation: f64,
    /// limma's direction: up when `pt(t, df, lower.tail = FALSE) ≤ pt(t, df)`.
    pub up: bool,
    /// Two-sided p (`PValue`).
    pub p_value: f64,
    /// Benjamini–Hochberg over the sets of this contrast (`FDR`).
    pub adj_p_value: f64,
}

/// GSEA settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GseaSettings {
    /// Random sets drawn per set size.
    pub permutations: usize,
    pub seed: u64,
    /// Threads for the permutation nulls (results do not depend on it).
    pub threads: usize,
}

#[derive(Debug, Clone)]
struct TestedSet {
    set: u32,
    /// Background indices (sorted) of the annotated protein groups in the set.
    members: Vec<u32>,
}

/// Enrichment for one run: the background-dependent work (mapping, set ∩ background, protein → sets) is done once
/// in [`Enricher::new`] and reused by every selection ([`Enricher::ora`]) and contrast ([`Enricher::gsea`],
/// [`Enricher::camera`]).
///
/// Method: N = background protein groups with at least one key in any gene set; n = selected groups among those;
/// per set, K = background groups in it (a group is in a set when its leading key, or any key, is), tested when
/// `min_size ≤ K ≤ max_size`; k = selected groups in it; p = P(X ≥ k); BH over all tested sets.
#[derive(Debug, Clone)]
pub struct Enricher<'a> {
    sets: &'a GeneSets,
    background_ids: &'a [String],
    key: AnnotationKey,
    annotated: Vec<bool>,
    n_annotated: usize,
    min_size: usize,
    tested: Vec<TestedSet>,
    /// Protein group → the tested sets it is in (CSR over the background).
    group_set_start: Vec<u32>,
    group_sets: Vec<u32>,
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
        background_ids: &'a [String],
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
        for s in 0..sets.len() {
            members.clear();
            for k in sets.members(s) {
                for &g in &groups[start[k as usize] as usize..start[k as usize + 1] as usize] {
                    if stamp[g as usize] != s as u32 {
                        stamp[g as usize] = s as u32;
                        members.push(g);
                    }
                }
            }
            if (min_size..=max_size).contains(&members.len()) {
                members.sort_unstable();
                tested.push(TestedSet { set: s as u32, members: members.clone() });
            }
        }

        // Protein group → tested sets.
        let mut group_set_start = vec![0u32; background_ids.len() + 1];
        for t in &tested {
            for &g in &t.members {
                group_set_start[g as usize + 1] += 1;
            }
        }
        for i in 0..background_ids.len() {
            group_set_start[i + 1] += group_set_start[i];
        }
        let mut fill = group_set_start.clone();
        let mut group_sets = vec![0u32; group_set_start[background_ids.len()] as usize];
        for (ti, t) in tested.iter().enumerate() {
            for &g in &t.members {
                group_sets[fill[g as usize] as usize] = ti as u32;
                fill[g as usize] += 1;
            }
        }

        Enricher { sets, background_ids, key, annotated, n_annotated, min_size, tested, group_set_start, group_sets }
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
    /// Id and name of tested set `tested`.
    pub fn term(&self, tested: u32) -> (&'a str, &'a str) {
        let s = self.tested[tested as usize].set as usize;
        let sets: &'a GeneSets = self.sets;
        (sets.id(s), sets.name(s))
    }
    /// Protein group id of background index `g`.
    pub fn protein(&self, g: u32) -> &'a str {
        &self.background_ids[g as usize]
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

    /// Over-representation of the selection (indices into the background; duplicates ignored) in every tested set.
    /// Overlaps are counted from the selected groups' own set lists, and tails computed only where the overlap is
    /// non-zero (a set without overlap has p = 1 and is not returned, but counts in the BH family).
    ///
    /// # Panics
    /// When an index is out of the background's range.
    pub fn ora(&self, selected: &[usize]) -> OraResult {
        let (mask, n) = self.selection_mask(selected);
        if n == 0 {
            return OraResult { hits: Vec::new(), selected: mask };
        }
        let mut overlaps = vec![0u32; self.tested.len()];
        for (g, &on) in mask.iter().enumerate() {
            if on {
                let sets = &self.group_sets[self.group_set_start[g] as usize..self.group_set_start[g + 1] as usize];
                for &t in sets {
                    overlaps[t as usize] += 1;
                }
            }
        }
        let big_n = self.n_annotated as u64;
        let p: Vec<f64> = self
            .tested
            .iter()
            .zip(&overlaps)
            .map(
                |(t, &k)| {
                    if k == 0 {
                        1.0
                    } else {
                        phyper_upper(u64::from(k), t.members.len() as u64, big_n, n as u64)
                    }
                },
            )
            .collect();
        let adj = p_adjust_bh(&p);
        let mut hits: Vec<OraHit> = Vec::new();
        for (i, t) in self.tested.iter().enumerate() {
            let k = overlaps[i];
            if k == 0 {
                continue;
            }
            let big_k = t.members.len();
            let expected = n as f64 * big_k as f64 / big_n as f64;
            hits.push(OraHit {
                tested: i as u32,
                set_size: big_k as u32,
                overlap: k,
                expected,
                fold_enrichment: f64::from(k) / expected,
                p_value: p[i],
                adj_p_value: adj[i],
            });
        }
        hits.sort_by(|a, b| {
            a.p_value.total_cmp(&b.p_value).then_with(|| self.term(a.tested).0.cmp(self.term(b.tested).0))
        });
        OraResult { hits, selected: mask }
    }

    /// The overlap of `hit`: its protein group ids in background order, joined by [`OVERLAP_SEPARATOR`].
    pub fn overlap_ids(&self, result: &OraResult, hit: &OraHit) -> String {
        let mut out = String::new();
        for &g in &self.tested[hit.tested as usize].members {
            if result.selected[g as usize] {
                if !out.is_empty() {
                    out.push_str(OVERLAP_SEPARATOR);
                }
                out.push_str(&self.background_ids[g as usize]);
            }
        }
        out
    }

    /// Tests the selection against every size-passing set: [`Enricher::ora`] with each overlap spelled out.
    ///
    /// # Panics
    /// When an index is out of the background's range.
    pub fn run(&self, selected: &[usize]) -> Vec<EnrichmentRow> {
        let result = self.ora(selected);
        result
            .hits
            .iter()
            .map(|h| {
                let (id, name) = self.term(h.tested);
                EnrichmentRow {
                    term_id: id.to_string(),
                    term_name: name.to_string(),
                    set_size: h.set_size as usize,
                    overlap: h.overlap as usize,
                    expected: h.expected,
                    fold_enrichment: h.fold_enrichment,
                    p_value: h.p_value,
                    adj_p_value: h.adj_p_value,
                    overlap_ids: self.overlap_ids(&result, h),
                }
            })
            .collect()
    }

    /// Members of tested set `t` that have a statistic, as positions in `index` (`u32::MAX` = no statistic).
    fn members_in(&self, t: &TestedSet, index: &[u32], out: &mut Vec<u32>) {
        out.clear();
        out.extend(t.members.iter().map(|&g| index[g as usize]).filter(|&r| r != u32::MAX));
    }

    /// Preranked GSEA of one contrast: `stat[i]` is background group i's statistic (the moderated t; NaN =
    /// not tested, left out of the ranking). Groups are ranked by descending statistic (ties in background
    /// order), weights |statistic|; every tested set with at least the minimum size among the ranked groups gets a
    /// row, in tested-set order, BH over them.
    ///
    /// # Panics
    /// When `stat` is not as long as the background.
    pub fn gsea(&self, stat: &[f64], settings: &GseaSettings) -> Vec<GseaRow> {
        assert_eq!(stat.len(), self.background_ids.len(), "one statistic per background protein group");
        let mut order: Vec<u32> = (0..stat.len() as u32).filter(|&g| stat[g as usize].is_finite()).collect();
        order.sort_by(|&a, &b| stat[b as usize].total_cmp(&stat[a as usize]).then(a.cmp(&b)));
        let mut rank = vec![u32::MAX; stat.len()];
        for (r, &g) in order.iter().enumerate() {
            rank[g as usize] = r as u32;
        }
        let weights: Vec<f64> = order.iter().map(|&g| stat[g as usize].abs()).collect();
        let n = weights.len();
        let mut hits_of: Vec<(u32, Vec<u32>)> = Vec::new();
        let mut hits = Vec::new();
        for (ti, t) in self.tested.iter().enumerate() {
            self.members_in(t, &rank, &mut hits);
            if hits.len() >= self.min_size.max(1) && hits.len() < n {
                hits.sort_unstable();
                hits_of.push((ti as u32, hits.clone()));
            }
        }
        let mut sizes: Vec<usize> = hits_of.iter().map(|(_, h)| h.len()).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let nulls = null_per_size(&weights, &sizes, settings);
        let mut rows: Vec<GseaRow> = hits_of
            .iter()
            .map(|(ti, h)| {
                let e = enrichment_score(&weights, h);
                let null = &nulls[sizes.binary_search(&h.len()).expect("a null per size")];
                let lead: Vec<u32> = if e.es >= 0.0 {
                    h[..e.leading].iter().map(|&r| order[r as usize]).collect()
                } else {
                    h[h.len() - e.leading..].iter().rev().map(|&r| order[r as usize]).collect()
                };
                GseaRow {
                    tested: *ti,
                    set_size: h.len() as u32,
                    es: e.es,
                    nes: null.nes(e.es),
                    p_value: null.p_value(e.es),
                    adj_p_value: f64::NAN,
                    leading_edge: lead,
                }
            })
            .collect();
        let adj = bh_finite(&rows.iter().map(|r| r.p_value).collect::<Vec<_>>());
        for (r, a) in rows.iter_mut().zip(adj) {
            r.adj_p_value = a;
        }
        rows
    }

    /// CAMERA of one contrast: `t[i]` and `df[i]` are background group i's moderated t and its total degrees of
    /// freedom (NaN = not tested; such groups are left out, as limma needs a statistic for every gene). The genes
    /// are every group with a statistic (G); each tested set with at least the minimum size among them gets a row,
    /// in tested-set order, BH over them. For [`InterGeneCorrelation::Estimated`], `residuals` gives, per
    /// background group, its least-squares residuals (`n_samples` each, NaN for a group without a complete row)
    /// and the residual df; `None` is returned when they are missing or a tested group has none.
    ///
    /// # Panics
    /// When `t` or `df` is not as long as the background.
    pub fn camera(
        &self,
        t: &[f64],
        df: &[f64],
        correlation: InterGeneCorrelation,
        residuals: Option<(&[f64], usize, usize)>,
    ) -> Option<Vec<CameraRow>> {
        assert!(t.len() == self.background_ids.len() && df.len() == t.len(), "one t and df per protein group");
        let genes: Vec<u32> =
            (0..t.len() as u32).filter(|&g| t[g as usize].is_finite() && df[g as usize].is_finite()).collect();
        if genes.len() < 3 {
            return Some(Vec::new());
        }
        let mut index = vec![u32::MAX; t.len()];
        for (i, &g) in genes.iter().enumerate() {
            index[g as usize] = i as u32;
        }
        let gt: Vec<f64> = genes.iter().map(|&g| t[g as usize]).collect();
        let gdf: Vec<f64> = genes.iter().map(|&g| df[g as usize]).collect();
        let mut cam = Camera::new(&gt, &gdf);
        if correlation == InterGeneCorrelation::Estimated {
            let (res, n_samples, residual_df) = residuals?;
            let mut u = Vec::with_capacity(genes.len() * n_samples);
            for &g in &genes {
                let row = &res[g as usize * n_samples..(g as usize + 1) * n_samples];
                if row.iter().any(|v| !v.is_finite()) {
                    return None;
                }
                u.extend_from_slice(row);
            }
            cam = cam.with_residuals(&u, n_samples, residual_df);
        }
        let mut members = Vec::new();
        let mut rows = Vec::new();
        for (ti, set) in self.tested.iter().enumerate() {
            self.members_in(set, &index, &mut members);
            if members.len() < self.min_size.max(1) || members.len() >= genes.len() {
                continue;
            }
            let m: Vec<usize> = members.iter().map(|&i| i as usize).collect();
            let r = cam.test(&m, correlation)?;
            rows.push(CameraRow {
                tested: ti as u32,
                set_size: r.n_genes as u32,
                correlation: r.correlation,
                up: r.is_up,
                p_value: r.p_value,
                adj_p_value: f64::NAN,
            });
        }
        let adj = bh_finite(&rows.iter().map(|r| r.p_value).collect::<Vec<_>>());
        for (r, a) in rows.iter_mut().zip(adj) {
            r.adj_p_value = a;
        }
        Some(rows)
    }
}

/// BH over the finite p-values; NaN stays NaN and is not counted.
fn bh_finite(p: &[f64]) -> Vec<f64> {
    let idx: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_finite()).collect();
    let adj = p_adjust_bh(&idx.iter().map(|&i| p[i]).collect::<Vec<_>>());
    let mut out = vec![f64::NAN; p.len()];
    for (&i, a) in idx.iter().zip(adj) {
        out[i] = a;
    }
    out
}

/// One permutation null per set size, computed on up to `settings.threads` threads (each size has its own
/// random stream, so the result does not depend on the thread count).
fn null_per_size(weights: &[f64], sizes: &[usize], settings: &GseaSettings) -> Vec<Null> {
    let threads = settings.threads.clamp(1, sizes.len().max(1));
    let mut out: Vec<Option<Null>> = vec![None; sizes.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..sizes.len())
                        .step_by(threads)
                        .map(|i| (i, permutation_null(weights, sizes[i], settings.permutations, settings.seed)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, null) in h.join().expect("a permutation thread does not panic") {
                out[i] = Some(null);
            }
        }
    });
    out.into_iter().map(|n| n.expect("every size computed")).collect()
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
