//! Step Functions adapter: one execution per job, named by the job id.

use aws_sdk_sfn::error::DisplayErrorContext;
use proteo_jobs::{Workflow, WorkflowError};

#[derive(Debug, Clone)]
pub struct SfnWorkflow {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl SfnWorkflow {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: &str) -> SfnWorkflow {
        SfnWorkflow { client, state_machine_arn: state_machine_arn.to_string() }
    }
}

impl Workflow for SfnWorkflow {
    /// `Ok(false)` when an execution with this name exists (`ExecutionAlreadyExists`). While that execution is
    /// still running and the input is identical, Step Functions instead answers with the existing execution, so
    /// this returns `Ok(true)` — either way exactly one execution runs.
    async fn start(&self, job_id: &str, input: &serde_json::Value) -> Result<bool, WorkflowError> {
        let sent = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(job_id)
            .input(input.to_string())
            .send()
            .await;
        match sent {
            Ok(out) => {
                tracing::info!(job_id, execution = out.execution_arn(), "execution started");
                Ok(true)
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => {
                tracing::info!(job_id, "execution already exists");
                Ok(false)
            }
            Err(e) => Err(WorkflowError::Transient(DisplayErrorContext(&e).to_string())),
        }
    }
}
