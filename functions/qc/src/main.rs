//! The `qc` Lambda function: runs `Stage::Qc` for the job spec Step Functions passes in.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    proteo_lambda::serve_stage(proteo_lambda::Stage::Qc, proteo_lambda::BuiltinGeneSets::default()).await
}
