//! Every real export in `../shared/data/formats/` through detection and the readers: the kind named, the columns
//! used, the counts (each checked independently with awk/Python, commands beside the numbers), and the refusals.
//! Needs `../shared` beside the repository (CI has it); each test prints why and passes when it is absent.

use std::path::{Path, PathBuf};

use proteo_core::input::{align_samples, detect_input, read_design, read_table, Action, InputError, ReadOptions};
use proteo_core::model::InputReport;
use proteo_core::model::IntensityTable;

fn formats() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/formats");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent (these tests read the real exports in ../shared)", dir.display());
        None
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/formats").join(name)
}

fn read(dir: &Path, rel: &str) -> Result<(IntensityTable, InputReport), InputError> {
    let bytes = std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let name = rel.rsplit('/').next().unwrap();
    read_table(&bytes, name, &ReadOptions::default())
}

fn read_with_design(dir: &Path, rel: &str, design: &Path, from_design: bool) -> IntensityTable {
    let bytes = std::fs::read(dir.join(rel)).unwrap();
    let design_bytes = std::fs::read(design).unwrap();
    let d = read_design(&design_bytes, "design.tsv").unwrap();
    let names: Vec<String> = d.samples.iter().map(|s| s.sample.clone()).collect();
    let options = ReadOptions { design_samples: Some(&names), ..ReadOptions::default() };
    let (t, _) = read_table(&bytes, rel, &options).unwrap();
    align_samples(t, &d, rel, "design.tsv", from_design).unwrap_or_else(|e| panic!("{rel}: {e}")).table
}

fn refusal(dir: &Path, rel: &str) -> String {
    read(dir, rel).err().unwrap_or_else(|| panic!("{rel} was read")).to_string()
}

#[test]
fn maxquant_label_free_and_tmt() {
    let Some(dir) = formats() else { return };
    let (t, r) = read(&dir, "maxquant_proteingroups_1.5.3.8-einprot/1356_proteinGroups.txt").unwrap();
    // python3 csv count: 463 rows; Reverse 8, Potential contaminant 38 (not reverse), only-by-site 32 → 385 kept.
    assert_eq!((r.rows_read, r.removed_reverse, r.removed_contaminant, r.removed_only_by_site), (463, 8, 38, 32));
    assert_eq!(t.n_proteins(), 385);
    assert_eq!(r.intensity_columns, "LFQ intensity");
    assert!(r.detected.starts_with("MaxQuant proteinGroups.txt (≥ 1.5.3"), "{}", r.detected);
    assert_eq!(t.samples.len(), 9);
    assert!(t.gene_names.iter().filter(|g| !g.is_empty()).count() > 300);

    let (t, r) = read(&dir, "maxquant_tmt-proteingroups_pwilmart-JPR2017/proteinGroups.txt").unwrap();
    // 2313 rows; Reverse 50, contaminant 34, only-by-site 9 → 2220.
    assert_eq!((r.rows_read, t.n_proteins()), (2313, 2220));
    assert_eq!(r.intensity_columns, "Reporter intensity corrected");
    assert_eq!(t.samples, (0..10).map(|i| i.to_string()).collect::<Vec<_>>(), "one experiment: the channel totals");
}

#[test]
fn diann_pg_matrices_of_three_layouts() {
    let Some(dir) = formats() else { return };
    let (t, r) = read(&dir, "diann_pg-matrix_1.8.2b8-einprot/PXD028735.pg_matrix.tsv").unwrap();
    assert_eq!(r.format, "diann-pg-matrix");
    assert!(r.detected.contains("full-path run names"), "{}", r.detected);
    assert_eq!(t.n_proteins(), 12261);
    assert_eq!(t.samples[0], "LFQ_Orbitrap_AIF_Condition_A_Sample_Beta_01");
    assert_eq!(t.gene_names[0], "TMA7;TMA7B");
    assert_eq!(t.protein_names[0], "TMA7B_HUMAN;TMA7_HUMAN");
    let design = dir.join("diann_pg-matrix_1.8.2b8-einprot/PXD028735_sampleAnnot.txt");
    let aligned = read_with_design(&dir, "diann_pg-matrix_1.8.2b8-einprot/PXD028735.pg_matrix.tsv", &design, false);
    assert_eq!(aligned.samples[0], "LFQ_Orbitrap_AIF_Condition_A_Sample_Beta_01");

    let (t, r) = read(&dir, "diann_pg-matrix_2.1.0-alphapepttools/pg.matrix_top100.tsv").unwrap();
    assert!(r.detected.contains("2.x layout"), "{}", r.detected);
    assert_eq!((t.n_proteins(), t.n_samples()), (100, 61));
    assert_eq!(r.annotation_columns, ["First.Protein.Description", "N.Sequences", "N.Proteotypic.Sequences"]);
    assert!(t.samples.iter().all(|s| s.starts_with("20180618_QX0_JaBa_SA_LC12_5_CSF1_1_8-1xD1xS1fM1_sample")));

    let (t, _) = read(&dir, "diann_pg-matrix_renamed-alphastats/report_final.pg_matrix.tsv").unwrap();
    assert_eq!((t.n_proteins(), t.n_samples()), (10, 20));
    assert_eq!(t.gene_names[0], "HDLBP");
}

#[test]
fn fragpipe_combined_protein_old_and_new_and_tmt_integrator() {
    let Some(dir) = formats() else { return };
    let (t, r) = read(&dir, "fragpipe_combined-protein_19.1-einprot/combined_protein.tsv").unwrap();
    // 453 rows, 37 with `contam_` in `Protein` (cut -f1 | grep -c contam_).
    assert_eq!((r.rows_read, r.removed_contaminant, t.n_proteins()), (453, 37, 416));
    assert_eq!(r.intensity_columns, "MaxLFQ Intensity");
    assert_eq!(t.samples[0], "Adnp_IP04");
    assert!(t.annotations.iter().any(|(n, _)| n == "Organism"));

    let (t, r) = read(&dir, "fragpipe_combined-proteins_renamed-alphastats/combined_proteins.tsv").unwrap();
    assert_eq!(r.intensity_columns, "Razor Intensity");
    assert_eq!((t.n_proteins(), t.n_samples(), t.gene_names[0].as_str()), (10, 20, "HPX"));

    let (t, r) =
        read(&dir, "fragpipe_tmt-abundance-protein-MD_ccRCC-FragPipeAnalystR/ccRCC_prot_abundance_MD_3plex.tsv")
            .unwrap();
    assert!(r.log2_input, "TMT-Integrator abundances are log2");
    assert_eq!((t.n_proteins(), t.n_samples()), (10671, 24));
    assert_eq!((t.protein_ids[0].as_str(), t.gene_names[0].as_str()), ("P04217", "A1BG"));
    let design = dir.join("fragpipe_tmt-abundance-protein-MD_ccRCC-FragPipeAnalystR/experiment_annotation.tsv");
    let aligned = read_with_design(
        &dir,
        "fragpipe_tmt-abundance-protein-MD_ccRCC-FragPipeAnalystR/ccRCC_prot_abundance_MD_3plex.tsv",
        &design,
        false,
    );
    assert_eq!(aligned.samples[0], "C3N-01179-T");
}

#[test]
fn spectronaut_pivot_and_long_reports() {
    let Some(dir) = formats() else { return };
    let (t, r) = read(&dir, "spectronaut_pg-pivot-Rmangled_20.4-einprot/SN_unit_test_subset.tsv").unwrap();
    assert!(r.detected.contains("R's check.names"), "{}", r.detected);
    assert_eq!(
        t.samples,
        ["A_01", "A_02", "A_03", "B_01", "B_02", "B_03"].map(|s| format!("LFQ_24min_500ng_2Th_3ms_{s}"))
    );
    assert_eq!((t.n_proteins(), t.gene_names[0].as_str()), (200, "OCA5"));
    let aligned = read_with_design(
        &dir,
        "spectronaut_pg-pivot-Rmangled_20.4-einprot/SN_unit_test_subset.tsv",
        &fixture("spectronaut_pivot_design.tsv"),
        false,
    );
    assert_eq!(aligned.samples[0], "LFQ_24min_500ng_2Th_3ms_A_01.raw");

    let (t, r) = read(&dir, "spectronaut_long-report-csv_msstatsconvert/spectronaut_input.csv").unwrap();
    // python3: 648 rows, 1 protein group × 6 runs, one PG.Quantity per pair.
    assert_eq!((r.format.as_str(), r.rows_read, t.n_proteins(), t.n_samples()), ("spectronaut-long", 648, 1, 6));
    assert_eq!(t.values[0], 4302.70458984375);
    assert_eq!(t.gene_names[0], "PSIP1", "from the `sp|…|PSIP1_HUMAN` id: the report has no PG.Genes");

    let (t, _) = read(&dir, "spectronaut_long-report_fragment-alphastats/results_non_european_comma.tsv").unwrap();
    assert_eq!((t.n_proteins(), t.n_samples()), (33, 1));

    let msg = refusal(&dir, "spectronaut_long-report_top20-alphapepttools/example_dataset_mouse_sn_top20peptides.tsv");
    assert!(msg.contains("looks like a Spectronaut long report without PG.Quantity"), "{msg}");
    let msg = refusal(&dir, "spectronaut_condition-setup_msreport/ConditionSetup.tsv");
    assert!(msg.contains("Spectronaut condition setup") && msg.contains("--design"), "{msg}");
    let d = read_design(
        &std::fs::read(dir.join("spectronaut_condition-setup_msreport/ConditionSetup.tsv")).unwrap(),
        "c.tsv",
    )
    .unwrap();
    assert_eq!(d.samples.len(), 2);
}

#[test]
fn alphapept_alphadia_and_proteome_discoverer() {
    let Some(dir) = formats() else { return };
    let (t, r) = read(&dir, "alphapept_results-proteins_0.5.0-alphastats/results_proteins.csv").unwrap();
    // 3781 rows, 38 `REV__` decoys.
    assert_eq!((r.rows_read, r.removed_reverse, t.n_proteins()), (3781, 38, 3743));
    assert_eq!(t.samples, ["A", "B"]);
    assert_eq!(t.values[0], 466932936.27537036, "A_LFQ, not the raw A");
    assert_eq!(t.gene_names[0], "RL4");

    let (t, r) = read(&dir, "alphadia_pg-matrix_1.10.5dev-alphapepttools/pg.matrix.tsv").unwrap();
    assert_eq!(r.format, "alphadia");
    assert_eq!((t.n_proteins(), t.n_samples()), (2748, 61));
    let aligned = read_with_design(
        &dir,
        "alphadia_pg-matrix_1.10.5dev-alphapepttools/pg.matrix.tsv",
        &fixture("bader2020_csf_design.tsv"),
        true,
    );
    assert!(aligned.n_samples() >= 55, "{}", aligned.n_samples());

    let (t, r) = read(&dir, "pd_proteins_tiny-renamed-wrProteo/tinyPD_allProteins.txt.gz").unwrap();
    assert_eq!(r.format, "pd-proteins");
    assert_eq!(t.samples, ["S1rep1", "S1rep2", "S1rep3", "S2rep1", "S2rep2", "S2rep3"]);
    assert_eq!((t.n_proteins(), t.gene_names[0].as_str()), (299, "Tubb4a"));
}

#[test]
fn precursor_reports_are_named_and_quantified() {
    let Some(dir) = formats() else { return };
    for (rel, kind) in [
        ("diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet", "report.parquet"),
        ("diann_report-tsv_1.8.1-alphabase/diann_1.8.1_report_head.tsv", "report.tsv"),
        ("diann_report-tsv_1.8.2b8-einprot/PXD028735.report.tsv", "report.tsv"),
        ("diann_report-tsv_1.9.0-alphabase/diann_1.9.0_report_head.tsv", "report.tsv"),
        ("diann_pr-matrix_1.8.2b8-einprot/PXD028735.pr_matrix.tsv", "report.pr_matrix.tsv"),
        ("alphadia_precursors-tsv_1.8.1-alphabase/alphadia_1.8.1_report_head.tsv", "precursors.tsv"),
        ("alphadia_precursor-matrix_1.10-proteobench/AlphaDIA_1.10_sample.tsv", "precursor matrix"),
    ] {
        let bytes = std::fs::read(dir.join(rel)).unwrap();
        let d = detect_input(&bytes, rel, &ReadOptions::default()).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!((d.action, d.kind.as_str()), (Action::Quantify, kind), "{rel}");
        assert!(d.precursor.is_some() && d.advice.as_deref().unwrap().contains("MaxLFQ"), "{rel}");
        match read_table(&bytes, rel, &ReadOptions::default()) {
            Ok((t, r)) => {
                assert_eq!(r.format, "precursor-report", "{rel}");
                assert!(r.detected.contains(kind), "{rel}: {}", r.detected);
                assert!(t.n_proteins() > 0 && t.n_samples() >= 2, "{rel}");
                assert_eq!(r.precursor.unwrap().runs, t.n_samples(), "{rel}");
            }
            // The AlphaDIA precursors.tsv excerpt holds one run.
            Err(e) => assert!(e.to_string().contains("holds precursors of 1 run"), "{rel}: {e}"),
        }
    }
}

#[test]
fn wrong_files_get_this_looks_like() {
    let Some(dir) = formats() else { return };
    for (rel, looks_like, upload) in [
        ("maxquant_evidence_proteobench/MaxQuant_evidence_sample.txt", "a MaxQuant evidence.txt", "proteinGroups.txt"),
        (
            "maxquant_evidence_proteobench/MaxQuant_2_5_1_evidence_sample.txt",
            "a MaxQuant evidence.txt",
            "proteinGroups.txt",
        ),
        (
            "pd_peptidegroups_proteobench/ProteomeDIscoverer_PeptideGroups_trimmed.txt",
            "Proteome Discoverer PeptideGroups",
            "Proteins",
        ),
        ("mztab_maxquant-1.6.3.4-alphastats/test.mztab", "an mzTab identification file", "proteinGroups.txt"),
        ("sdrf_examples_sdrf-pipelines/PXD000001.sdrf.tsv", "an SDRF-Proteomics sample design", "design"),
    ] {
        let msg = refusal(&dir, rel);
        assert!(msg.contains(looks_like) && msg.contains(upload), "{rel}: {msg}");
        assert!(msg.len() < 600, "{rel}: {} characters", msg.len());
    }
}

#[test]
fn sdrf_files_are_designs() {
    let Some(dir) = formats() else { return };
    let d =
        read_design(&std::fs::read(dir.join("sdrf_examples_sdrf-pipelines/PXD000001.sdrf.tsv")).unwrap(), "x.sdrf.tsv")
            .unwrap();
    assert_eq!(d.samples.len(), 6);
    assert_eq!(d.groups(), ["10", "5", "2.5", "1"], "the QY= of the spiked compound");
    let d = read_design(
        &std::fs::read(dir.join("sdrf_examples_sdrf-pipelines/MSV000079033-Blood-Plasma-TMT10.sdrf.tsv")).unwrap(),
        "y.sdrf.tsv",
    );
    assert!(d.is_ok(), "{d:?}");
}
