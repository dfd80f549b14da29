//! The `qc` Lambda function: runs `Stage::Qc` for the job spec Step Functions passes in.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use proteo_aws::{init_tracing, Clients, Config};
use proteo_lambda::{stage_handler, Stage, StageCtx};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let clients = Clients::new(&config).await;
    let ctx = StageCtx { store: clients.object_store(&config), jobs: clients.job_store(&config), builtin_gene_sets: None };
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| stage_handler(&ctx, Stage::Qc, event))).await
}
