//! The `ingest` Lambda function: S3 uploads under `jobs/` and `uploads/` → validated Parquet → a state machine run.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use proteo_aws::{init_tracing, Clients, Config};
use proteo_lambda::{ingest_handler, IngestCtx, S3Event, Sharding};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let clients = Clients::new(&config).await;
    let ctx = IngestCtx {
        store: clients.object_store(&config),
        jobs: clients.job_store(&config),
        workflow: clients.workflow(&config)?,
        sharding: Sharding {
            max_cells: config.quant_shard_cells.unwrap_or(Sharding::default().max_cells),
            max_concurrency: config.quant_max_concurrency.unwrap_or(Sharding::default().max_concurrency),
        },
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| ingest_handler(&ctx, event))).await
}
