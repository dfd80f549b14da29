//! Over-representation analysis against base R 4.2.2, and a smoke test on the shipped GO BP file.
//!
//! Reference: `tests/fixtures/pathway_*`, written by `tests/reference/pathway_reference.R` (phyper + p.adjust "BH"
//! over the same mapping rules, implemented independently in R).

use std::io::Write;

use proteo_core::pathway::{
    AnnotationKey, Enricher, EnrichmentRow, GeneSets, Membership, DEFAULT_MAX_SET_SIZE, DEFAULT_MIN_SET_SIZE,
};

/// Relative agreement with R for p-values and derived numbers.
const REL_TOL: f64 = 1e-10;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Background {
    ids: Vec<String>,
    genes: Vec<String>,
    selected: Vec<usize>,
}

fn background() -> Background {
    let text = fixture("pathway_background.tsv");
    let (mut ids, mut genes, mut selected) = (Vec::new(), Vec::new(), Vec::new());
    for (i, line) in text.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "bad background line {line:?}");
        ids.push(f[0].to_string());
        genes.push(f[1].to_string());
        if f[2] == "1" {
            selected.push(i);
        }
    }
    Background { ids, genes, selected }
}

struct Summary {
    min_size: usize,
    max_size: usize,
    n_annotated: usize,
    n_selected: usize,
    n_tested: usize,
}

fn summary(key: &str) -> Summary {
    let text = fixture("pathway_summary.tsv");
    let line = text.lines().skip(1).find(|l| l.starts_with(&format!("{key}\t"))).expect("summary row");
    let f: Vec<usize> = line.split('\t').skip(1).map(|v| v.parse().unwrap()).collect();
    Summary { min_size: f[0], max_size: f[1], n_annotated: f[2], n_selected: f[3], n_tested: f[4] }
}

fn assert_close(what: &str, ours: f64, r: f64) {
    let rel = ((ours - r) / r).abs();
    assert!(rel <= REL_TOL, "{what}: ours {ours:e}, R {r:e}, rel err {rel:e}");
}

fn compare(rows: &[EnrichmentRow], expected_file: &str) {
    let text = fixture(expected_file);
    let expected: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    assert!(expected.len() >= 10, "{expected_file} has only {} rows", expected.len());
    let got: Vec<&str> = rows.iter().map(|r| r.term_id.as_str()).collect();
    let want: Vec<&str> = expected.iter().map(|e| e[0]).collect();
    assert_eq!(got, want, "rows or their order (p, then term id) differ from R");
    for (r, e) in rows.iter().zip(&expected) {
        let at = &r.term_id;
        assert_eq!(r.term_name, e[1], "{at}");
        assert_eq!(r.set_size, e[2].parse::<usize>().unwrap(), "{at}: set size K");
        assert_eq!(r.overlap, e[3].parse::<usize>().unwrap(), "{at}: overlap k");
        assert_close(&format!("{at} expected"), r.expected, e[4].parse().unwrap());
        assert_close(&format!("{at} fold"), r.fold_enrichment, e[5].parse().unwrap());
        assert_close(&format!("{at} p"), r.p_value, e[6].parse().unwrap());
        assert_close(&format!("{at} adj p"), r.adj_p_value, e[7].parse().unwrap());
        assert_eq!(r.overlap_ids, e[8], "{at}: overlapping protein ids");
    }
}

fn check_run(gmt_bytes: &[u8], file_name: &str, key: AnnotationKey, expected_file: &str) {
    let bg = background();
    let s = summary(key.as_str());
    let sets = GeneSets::from_gmt(gmt_bytes, file_name).unwrap();
    let enricher = Enricher::new(&sets, &bg.ids, &bg.genes, s.min_size, s.max_size, Membership::AnyMember);
    assert_eq!(enricher.key_used(), key);
    assert_eq!(enricher.n_annotated(), s.n_annotated, "N");
    assert_eq!(enricher.n_selected_annotated(&bg.selected), s.n_selected, "n");
    assert_eq!(enricher.n_tested_sets(), s.n_tested, "sets passing the size limits");
    let rows = enricher.run(&bg.selected);
    compare(&rows, expected_file);
    // A second selection through the same enricher must not be affected by the first.
    assert_eq!(enricher.run(&bg.selected), rows);
}

#[test]
fn uniprot_keyed_matches_r() {
    check_run(
        fixture("pathway_uniprot.gmt").as_bytes(),
        "pathway_uniprot.gmt",
        AnnotationKey::UniprotAccession,
        "pathway_expected_uniprot.tsv",
    );
}

#[test]
fn gzip_input_gives_the_same_result() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(fixture("pathway_uniprot.gmt").as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    check_run(&bytes, "pathway_uniprot.gmt.gz", AnnotationKey::UniprotAccession, "pathway_expected_uniprot.tsv");
}

#[test]
fn symbol_keyed_falls_back_to_gene_names_and_matches_r() {
    check_run(
        fixture("pathway_symbol.gmt").as_bytes(),
        "pathway_symbol.gmt",
        AnnotationKey::GeneName,
        "pathway_expected_symbol.tsv",
    );
}

/// The shipped GO BP file with the protein groups of the shipped MaxQuant example.
#[test]
fn shipped_go_bp_with_example_protein_groups() {
    let root = format!("{}/../..", env!("CARGO_MANIFEST_DIR"));
    let gmt = std::fs::read(format!("{root}/data/gene_sets/go_bp_human_uniprot.gmt.gz")).unwrap();
    let sets = GeneSets::from_gmt(&gmt, "go_bp_human_uniprot.gmt.gz").unwrap();
    // Counts stated in data/gene_sets/README.md.
    assert_eq!(sets.len(), 15_859);
    assert_eq!(sets.n_keys(), 29_151);

    let table = std::fs::read_to_string(format!("{root}/data/example/proteinGroups.txt")).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (id_col, gene_col) = (col("Protein IDs"), col("Gene names"));
    let (mut ids, mut genes) = (Vec::new(), Vec::new());
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        ids.push(f[id_col].to_string());
        genes.push(f[gene_col].to_string());
    }
    assert_eq!(ids.len(), 1_459);

    let enricher =
        Enricher::new(&sets, &ids, &genes, DEFAULT_MIN_SET_SIZE, DEFAULT_MAX_SET_SIZE, Membership::AnyMember);
    println!(
        "example: {} of {} protein groups annotated by {}; {} GO BP terms tested (size {}..={})",
        enricher.n_annotated(),
        ids.len(),
        enricher.key_used().as_str(),
        enricher.n_tested_sets(),
        DEFAULT_MIN_SET_SIZE,
        DEFAULT_MAX_SET_SIZE
    );
    assert_eq!(enricher.key_used(), AnnotationKey::UniprotAccession);
    // Human cell-line proteome against a propagated GO BP: most groups (all but contaminants, decoys and
    // unreviewed oddities) should be annotated.
    assert!(enricher.n_annotated() > 1_200 && enricher.n_annotated() < ids.len(), "{}", enricher.n_annotated());
    // The leading-accession rule (the pipeline's default) annotates a subset: groups annotated only through a
    // non-leading member drop out of the background.
    let lead =
        Enricher::new(&sets, &ids, &genes, DEFAULT_MIN_SET_SIZE, DEFAULT_MAX_SET_SIZE, Membership::LeadingAccession);
    println!("example: {} protein groups annotated by the leading accession", lead.n_annotated());
    assert!(lead.n_annotated() <= enricher.n_annotated() && lead.n_annotated() > 1_100, "{}", lead.n_annotated());
    assert!(enricher.n_tested_sets() > 1_000, "{}", enricher.n_tested_sets());

    // Ribosomal proteins (gene names RPL*/RPS*) must bring up cytoplasmic translation as the top term.
    let ribosomal: Vec<usize> = genes
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            g.split(';').any(|g| {
                (g.starts_with("RPL") || g.starts_with("RPS")) && g[3..].starts_with(|c: char| c.is_ascii_digit())
            })
        })
        .map(|(i, _)| i)
        .collect();
    assert!(ribosomal.len() >= 20, "{}", ribosomal.len());
    let rows = enricher.run(&ribosomal);
    println!("ribosomal selection ({} groups), top terms:", ribosomal.len());
    for r in rows.iter().take(5) {
        println!(
            "  {} {} K={} k={} p={:e} adj={:e}",
            r.term_id, r.term_name, r.set_size, r.overlap, r.p_value, r.adj_p_value
        );
    }
    let top = &rows[..5.min(rows.len())];
    let hit = top.iter().find(|r| r.term_id == "GO:0002181").expect("GO:0002181 cytoplasmic translation in the top 5");
    assert_eq!(hit.term_name, "cytoplasmic translation");
    assert!(hit.adj_p_value < 1e-10, "{}", hit.adj_p_value);
}
