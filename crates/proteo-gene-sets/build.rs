//! With the `builtin` feature: compiles the shipped gzip GMTs (data/gene_sets/) into index files in OUT_DIR.

#[path = "src/compile.rs"]
#[allow(dead_code)]
mod compile;

/// The shipped collections, by index file name (as `src/lib.rs` embeds them) and GMT source.
const SHIPPED: [(&str, &str); 3] = [
    ("go_bp_human_uniprot.pgsi", "go_bp_human_uniprot.gmt.gz"),
    ("go_mf_human_uniprot.pgsi", "go_mf_human_uniprot.gmt.gz"),
    ("go_cc_human_uniprot.pgsi", "go_cc_human_uniprot.gmt.gz"),
];

fn main() {
    println!("cargo:rerun-if-changed=src/compile.rs");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_BUILTIN").is_none() {
        return;
    }
    let manifest =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let data = manifest.join("../../data/gene_sets");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (index, source) in SHIPPED {
        let path = data.join(source);
        println!("cargo:rerun-if-changed={}", path.display());
        let gmt = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("cannot read the shipped gene sets {}: {e}", path.display()));
        let bytes = compile::compile_gmt(&gmt, source).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(out.join(index), bytes).unwrap_or_else(|e| panic!("cannot write {index} to OUT_DIR: {e}"));
    }
}
