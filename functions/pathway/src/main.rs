//! The `pathway` Lambda function: runs `Stage::Pathway`, writes the job summary, attaches the results to the job.

/// GO Biological Process, human, UniProt-keyed (CC BY 4.0; see data/gene_sets/README.md): the gene sets of a job
/// that names none. Only this binary carries them.
static GO_BP_HUMAN_UNIPROT: &[u8] = include_bytes!("../../../data/gene_sets/go_bp_human_uniprot.gmt.gz");

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    proteo_lambda::serve_stage(proteo_lambda::Stage::Pathway, Some(GO_BP_HUMAN_UNIPROT)).await
}
