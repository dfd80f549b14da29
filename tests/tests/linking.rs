//! Each deployable links only what it runs, checked with `cargo tree`: the API function and its router no analysis
//! code (and the router no AWS); the analysis functions no report code (proteo-report, plotters), which only the
//! report function links.

use std::path::Path;
use std::process::Command;

/// The normal (non-dev) dependencies of `package`, as `name` per line.
fn dependencies(package: &str) -> Vec<String> {
    // `cargo test` sets both at run time too; prefer those, so that a test binary reused from a build in another
    // checkout (a shared CARGO_TARGET_DIR) still finds this checkout and a cargo that exists.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let workspace = Path::new(&manifest_dir).join("..");
    let out = Command::new(cargo)
        .current_dir(&workspace)
        .args(["tree", "-p", package, "--edges", "normal", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(String::from)
        .collect()
}

fn is_analysis(name: &str) -> bool {
    name == "arrow"
        || name.starts_with("arrow-")
        || name == "parquet"
        || name.starts_with("proteo-core")
        || name == "proteo-pipeline"
        || name == "proteo-stats"
}

fn is_report(name: &str) -> bool {
    name == "proteo-report" || name == "plotters" || name.starts_with("plotters-")
}

#[test]
fn the_api_function_links_no_analysis_code() {
    let control = dependencies("proteo-pipeline");
    assert!(control.iter().any(|n| n == "parquet"), "the check must see Parquet where it is linked: {control:?}");

    let api = dependencies("api");
    assert!(api.iter().any(|n| n == "proteo-api") && api.iter().any(|n| n == "lambda_http"), "{api:?}");
    let analysis: Vec<&String> = api.iter().filter(|n| is_analysis(n)).collect();
    assert!(analysis.is_empty(), "the api function links analysis code: {analysis:?}");

    let router = dependencies("proteo-api");
    let foreign: Vec<&String> =
        router.iter().filter(|n| is_analysis(n) || n.starts_with("aws") || n.starts_with("lambda_")).collect();
    assert!(foreign.is_empty(), "proteo-api links analysis or AWS code: {foreign:?}");
}

#[test]
fn only_the_report_function_links_the_charts() {
    let report = dependencies("report");
    assert!(report.iter().any(|n| n == "plotters"), "the check must see plotters where it is linked: {report:?}");
    for package in ["qc", "de", "pathway", "ingest", "quant", "proteo-lambda", "proteo-pipeline"] {
        let deps = dependencies(package);
        assert!(deps.iter().any(|n| n == "proteo-pipeline"), "{package}: {deps:?}");
        let charts: Vec<&String> = deps.iter().filter(|n| is_report(n)).collect();
        assert!(charts.is_empty(), "{package} links report code: {charts:?}");
    }
}
