//! The `report` Lambda function: writes the job summary and `report.html`, attaches the results to the job item.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // The only function that links the charts (proteo-report); the analysis stages never draw.
    proteo_lambda::serve_report(&proteo_report::HtmlReport).await
}
