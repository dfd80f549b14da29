//! The `de` Lambda function: runs `Stage::De` for the job spec Step Functions passes in.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    proteo_lambda::serve_stage(proteo_lambda::Stage::De, proteo_lambda::BuiltinGeneSets::default()).await
}
