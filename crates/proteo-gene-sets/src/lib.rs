//! Gene-set collections for enrichment: GMT compiled into a compact binary index, and the shipped GO collections.

mod compile;
mod index;

pub use compile::{compile_gmt, GmtError, MAGIC};
pub use index::{GeneSetIndex, IndexError};

/// `params.pathway.gene_sets` naming a shipped collection: `builtin:<name>`.
pub const BUILTIN_PREFIX: &str = "builtin:";

/// A shipped gene-set collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    /// `builtin:<name>` names it in a job's parameters.
    pub name: &'static str,
    /// The short name `--gene-sets` also takes.
    pub alias: &'static str,
    pub title: &'static str,
    /// The GMT in `data/gene_sets/` it is compiled from.
    pub source: &'static str,
}

/// The shipped collections (Gene Ontology, CC BY 4.0; built from Debian's GO.db / org.Hs.eg.db 3.16.0 by
/// `data/gene_sets/make_go.R`, see `data/gene_sets/README.md`). The first is the default.
pub const COLLECTIONS: [Collection; 3] = [
    Collection {
        name: "go_bp_human_uniprot",
        alias: "go-bp",
        title: "GO Biological Process (human, UniProt accessions)",
        source: "go_bp_human_uniprot.gmt.gz",
    },
    Collection {
        name: "go_mf_human_uniprot",
        alias: "go-mf",
        title: "GO Molecular Function (human, UniProt accessions)",
        source: "go_mf_human_uniprot.gmt.gz",
    },
    Collection {
        name: "go_cc_human_uniprot",
        alias: "go-cc",
        title: "GO Cellular Component (human, UniProt accessions)",
        source: "go_cc_human_uniprot.gmt.gz",
    },
];

/// The collection `text` names: `builtin:<name>`, `<name>` or its alias (`go-bp`, `go-mf`, `go-cc`).
pub fn collection(text: &str) -> Option<&'static Collection> {
    let t = text.trim();
    let bare = t.strip_prefix(BUILTIN_PREFIX).unwrap_or(t);
    COLLECTIONS.iter().find(|c| c.name == bare || (c.alias == bare && bare == t))
}

/// The key `builtin:<name>` of a collection.
pub fn builtin_key(c: &Collection) -> String {
    format!("{BUILTIN_PREFIX}{}", c.name)
}

/// The index bytes of every shipped collection, compiled at build time, by name (in [`COLLECTIONS`] order).
#[cfg(feature = "builtin")]
pub fn shipped() -> [(&'static str, &'static [u8]); 3] {
    [
        (COLLECTIONS[0].name, include_bytes!(concat!(env!("OUT_DIR"), "/go_bp_human_uniprot.pgsi"))),
        (COLLECTIONS[1].name, include_bytes!(concat!(env!("OUT_DIR"), "/go_mf_human_uniprot.pgsi"))),
        (COLLECTIONS[2].name, include_bytes!(concat!(env!("OUT_DIR"), "/go_cc_human_uniprot.pgsi"))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_are_named_by_key_name_or_alias() {
        assert_eq!(collection("builtin:go_mf_human_uniprot").map(|c| c.alias), Some("go-mf"));
        assert_eq!(collection("go_cc_human_uniprot").map(|c| c.alias), Some("go-cc"));
        assert_eq!(collection("go-bp").map(|c| c.name), Some("go_bp_human_uniprot"));
        assert_eq!(collection("builtin:go-bp"), None, "a key names the collection, not its alias");
        assert_eq!(collection("builtin:../../x"), None);
        assert_eq!(builtin_key(&COLLECTIONS[0]), "builtin:go_bp_human_uniprot");
    }

    /// The shipped indexes hold what data/gene_sets/README.md states: sets, distinct accessions, and distinct
    /// (set, accession) pairs (make_go.R prints pairs per Entrez gene, which counts an accession of two genes twice).
    #[cfg(feature = "builtin")]
    #[test]
    fn shipped_indexes_load_in_place_with_the_stated_counts() {
        let expected = [(15_859, 29_151, 2_543_031), (4_957, 29_820, 456_667), (2_015, 30_411, 656_296)];
        for ((name, bytes), (sets, keys, pairs)) in shipped().into_iter().zip(expected) {
            let idx = GeneSetIndex::new(bytes::Bytes::from_static(bytes), name).unwrap();
            assert_eq!((idx.len(), idx.n_keys()), (sets, keys), "{name}");
            assert_eq!((0..idx.len()).map(|s| idx.set_len(s)).sum::<usize>(), pairs, "{name}");
        }
    }
}
