//! AWS adapters of the proteo ports (S3, DynamoDB, Step Functions), the configuration they read once, and JSON logs.

pub mod config;
pub mod dynamo;
pub mod s3;
pub mod sfn;

pub use config::{Clients, Config, ConfigError};
pub use dynamo::DynamoJobStore;
pub use proteo_jobs::ObjectMeta;
pub use s3::S3Store;
pub use sfn::SfnWorkflow;

/// JSON log lines for CloudWatch, filtered by `RUST_LOG` (default `info`). Call once at cold start; a second
/// call (tests, or a shell that already set a subscriber) leaves the first subscriber in place.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}
