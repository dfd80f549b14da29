//! Handlers of the analysis Lambda functions: `ingest` (S3 trigger), the `qc`/`de`/`pathway`/`report` stages and
//! the `quant` Map (Step Functions).

mod ingest;
mod quant;
mod stage;
#[cfg(test)]
mod testing;

use lambda_runtime::Diagnostic;
use proteo_pipeline::StageError;

pub use ingest::{derived_job_id, ingest_handler, s3_event_key, IngestCtx};
pub use proteo_jobs::keys::DROP_IN_DESIGN_NAMES;
pub use proteo_jobs::UploadKey;
pub use proteo_pipeline::execution::{BuiltinGeneSets, WithBuiltinGeneSets, BUILTIN_GO_BP_KEY};
pub use proteo_pipeline::quant_map::Sharding;
pub use quant::{quant_handler, QuantCtx};
pub use stage::{serve_report, serve_stage, stage_handler, StageCtx};

pub use aws_lambda_events::s3::S3Event;
pub use proteo_pipeline::Stage;

/// The Lambda error a stage error becomes: `errorType` is what the state machine's Retry/Catch match.
pub fn diagnostic(e: &StageError) -> Diagnostic {
    Diagnostic { error_type: e.error_type().to_string(), error_message: proteo_jobs::limits::message(&e.to_string()) }
}
