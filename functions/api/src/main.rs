//! The `api` Lambda function: serves the proteo-api router (submit, poll, results, list) to API Gateway.

use std::sync::Arc;

use proteo_api::{router, ApiState};
use proteo_aws::{init_tracing, Clients, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let config = Config::from_env()?;
    let clients = Clients::new(&config).await;
    let state = ApiState::new(Arc::new(clients.object_store(&config)), Arc::new(clients.job_store(&config)));
    lambda_http::run(router(state)).await
}
