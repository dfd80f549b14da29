//! The `quant` Lambda function: the Distributed Map's children (protein shards → MaxLFQ) and the assembly after it.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use proteo_aws::{init_tracing, Clients, Config};
use proteo_lambda::{quant_handler, QuantCtx};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let clients = Clients::new(&config).await;
    let ctx = QuantCtx { store: clients.object_store(&config) };
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| quant_handler(&ctx, event))).await
}
