//! The `pathway` Lambda function: runs `Stage::Pathway` (the report function writes the job summary after it).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // GO BP, MF and CC, human, UniProt-keyed (CC BY 4.0; see data/gene_sets/README.md), compiled into gene-set
    // indexes at build time: the `builtin:` collections a job may name. Only this binary carries them.
    let builtins = proteo_lambda::BuiltinGeneSets::shipped(proteo_gene_sets::shipped());
    proteo_lambda::serve_stage(proteo_lambda::Stage::Pathway, builtins).await
}
