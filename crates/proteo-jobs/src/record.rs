//! One job's status item, and the only-forward status transitions it obeys.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [JobStatus::Queued, JobStatus::Running, JobStatus::Succeeded, JobStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Running => "RUNNING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }

    /// QUEUED → RUNNING → SUCCEEDED | FAILED (and QUEUED → FAILED for input refused before any stage ran).
    /// A finished job never changes again.
    pub fn can_become(self, next: JobStatus) -> bool {
        match (self, next) {
            (JobStatus::Queued, _) => next != JobStatus::Queued,
            (JobStatus::Running, JobStatus::Running | JobStatus::Succeeded | JobStatus::Failed) => true,
            _ => false,
        }
    }
}

/// Milliseconds since the Unix epoch, from the system clock (the job item's timestamps).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The job item in the job store (DynamoDB in the cloud). Kept small: the poll endpoint returns it nearly as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub job_id: String,
    /// Who the job belongs to: the `sub` of the token that submitted it, or the owner segment of a drop-in folder.
    /// Only that caller lists, polls, pages or downloads it. Empty for items written before owners existed.
    #[serde(default)]
    pub owner: String,
    pub status: JobStatus,
    /// The stage running or last run: `ingest`, `qc`, `de`, `pathway`.
    pub stage: String,
    /// 0–100 over the whole job; never decreases.
    pub progress: u8,
    pub message: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: u64,
    pub updated_at: u64,
    /// `api` (POST /jobs then upload) or `upload` (a drop-in under `uploads/`).
    pub source: String,
    pub input_key: String,
    pub design_key: String,
    /// The analysis parameters as submitted (validated when the job is ingested).
    pub params: serde_json::Value,
    pub result_keys: Vec<String>,
    /// Small counts for the poll response (proteins kept, significant per contrast…).
    pub summary: serde_json::Value,
    pub error_type: Option<String>,
    pub error: Option<String>,
    /// A SUCCEEDED job whose report could not be rendered says why here (its statistics are complete): the state
    /// machine's "Mark Succeeded With Warning" writes `report could not be rendered: <Cause>`.
    #[serde(default)]
    pub warning: Option<String>,
}

impl JobRecord {
    pub fn queued(
        job_id: &str,
        source: &str,
        input_key: &str,
        design_key: &str,
        params: serde_json::Value,
        now: u64,
    ) -> Self {
        JobRecord {
            job_id: job_id.to_string(),
            owner: String::new(),
            status: JobStatus::Queued,
            stage: "ingest".into(),
            progress: 0,
            message: "waiting for the input file".into(),
            created_at: now,
            updated_at: now,
            source: source.to_string(),
            input_key: input_key.to_string(),
            design_key: design_key.to_string(),
            params,
            result_keys: Vec::new(),
            summary: serde_json::Value::Null,
            error_type: None,
            error: None,
            warning: None,
        }
    }
}

impl JobRecord {
    /// The same record, belonging to `owner`.
    pub fn owned_by(mut self, owner: &str) -> Self {
        self.owner = owner.to_string();
        self
    }
}

/// The start of [`JobRecord::warning`] when a job's report could not be rendered; the rest is why (a Step Functions
/// `Cause`: `{"errorType": …, "errorMessage": …}`).
pub const REPORT_WARNING_PREFIX: &str = "report could not be rendered: ";

/// How a job ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Succeeded {
        result_keys: Vec<String>,
        summary: serde_json::Value,
    },
    /// SUCCEEDED, with the sentence saying what is missing (the report could not be rendered).
    SucceededWithWarning {
        result_keys: Vec<String>,
        summary: serde_json::Value,
        warning: String,
    },
    Failed {
        error_type: String,
        message: String,
    },
}

/// Counts by status and the latest jobs: the monitoring view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobListing {
    pub counts: std::collections::BTreeMap<String, u64>,
    pub recent: Vec<JobRecord>,
}

#[cfg(test)]
mod tests {
    use super::JobStatus::*;

    #[test]
    fn status_only_moves_forward() {
        assert!(Queued.can_become(Running));
        assert!(Queued.can_become(Failed));
        assert!(Running.can_become(Running));
        assert!(Running.can_become(Succeeded));
        assert!(!Running.can_become(Queued));
        for done in [Succeeded, Failed] {
            for next in super::JobStatus::ALL {
                assert!(!done.can_become(next), "{done:?} -> {next:?}");
            }
        }
    }
}
