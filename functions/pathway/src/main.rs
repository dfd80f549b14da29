//! The `pathway` Lambda function: runs `Stage::Pathway`, writes the job summary, attaches the results to the job.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use proteo_aws::{init_tracing, Clients, Config};
use proteo_lambda::{stage_handler, Stage, StageCtx};

/// GO Biological Process, human, UniProt-keyed (CC BY 4.0; see data/gene_sets/README.md): the gene sets of a job
/// that names none. Only this binary carries them.
static GO_BP_HUMAN_UNIPROT: &[u8] = include_bytes!("../../../data/gene_sets/go_bp_human_uniprot.gmt.gz");

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let clients = Clients::new(&config).await;
    let ctx = StageCtx {
        store: clients.object_store(&config),
        jobs: clients.job_store(&config),
        builtin_gene_sets: Some(GO_BP_HUMAN_UNIPROT),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| stage_handler(&ctx, Stage::Pathway, event))).await
}
