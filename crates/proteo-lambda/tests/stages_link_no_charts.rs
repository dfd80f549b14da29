//! The analysis functions link no report code (proteo-report, plotters); only the report function does: `cargo tree`.

use std::path::Path;
use std::process::Command;

/// The normal (non-dev) dependencies of `package`, as `name` per line.
fn dependencies(package: &str) -> Vec<String> {
    // As in proteo-api's check: prefer the run-time variables, so a test binary reused from another checkout's build
    // (a shared CARGO_TARGET_DIR) still looks at this checkout.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let workspace = Path::new(&manifest_dir).join("../..");
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

fn is_report(name: &str) -> bool {
    name == "proteo-report" || name == "plotters" || name.starts_with("plotters-")
}

#[test]
fn only_the_report_function_links_the_charts() {
    let report = dependencies("report");
    assert!(report.iter().any(|n| n == "plotters"), "the check must see plotters where it is linked: {report:?}");
    for package in ["qc", "de", "pathway", "ingest", "proteo-lambda", "proteo-pipeline"] {
        let deps = dependencies(package);
        assert!(deps.iter().any(|n| n == "proteo-pipeline"), "{package}: {deps:?}");
        let charts: Vec<&String> = deps.iter().filter(|n| is_report(n)).collect();
        assert!(charts.is_empty(), "{package} links report code: {charts:?}");
    }
}
