//! In-memory job store: the fake the tests and the local server use, with the same transition rules as DynamoDB.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::ports::{JobStore, JobStoreError};
use crate::record::{Finish, JobListing, JobRecord, JobStatus};

#[derive(Default)]
pub struct MemoryJobStore {
    jobs: Mutex<HashMap<String, JobRecord>>,
}

impl MemoryJobStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Put a record in as it is, replacing any with its id (loading a persisted store; no transition rules apply).
    pub fn insert(&self, record: JobRecord) {
        self.jobs.lock().expect("lock").insert(record.job_id.clone(), record);
    }

    /// Every record, in no particular order.
    pub fn snapshot(&self) -> Vec<JobRecord> {
        self.jobs.lock().expect("lock").values().cloned().collect()
    }
}

fn conflict(r: &JobRecord) -> JobStoreError {
    JobStoreError::Conflict { job_id: r.job_id.clone(), status: r.status.as_str().to_string() }
}

impl JobStore for MemoryJobStore {
    async fn create(&self, record: &JobRecord) -> Result<bool, JobStoreError> {
        let mut jobs = self.jobs.lock().expect("lock");
        if jobs.contains_key(&record.job_id) {
            return Ok(false);
        }
        jobs.insert(record.job_id.clone(), record.clone());
        Ok(true)
    }

    async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, JobStoreError> {
        Ok(self.jobs.lock().expect("lock").get(job_id).cloned())
    }

    async fn progress(
        &self,
        job_id: &str,
        stage: &str,
        progress: u8,
        message: &str,
        now: u64,
    ) -> Result<(), JobStoreError> {
        let mut jobs = self.jobs.lock().expect("lock");
        let r = jobs.get_mut(job_id).ok_or_else(|| JobStoreError::NotFound(job_id.to_string()))?;
        if !r.status.can_become(JobStatus::Running) || progress < r.progress {
            return Err(conflict(r));
        }
        r.status = JobStatus::Running;
        r.stage = stage.to_string();
        r.progress = progress;
        r.message = crate::limits::message(message);
        r.updated_at = now;
        Ok(())
    }

    async fn attach_results(
        &self,
        job_id: &str,
        result_keys: &[String],
        summary: &serde_json::Value,
        now: u64,
    ) -> Result<(), JobStoreError> {
        let mut jobs = self.jobs.lock().expect("lock");
        let r = jobs.get_mut(job_id).ok_or_else(|| JobStoreError::NotFound(job_id.to_string()))?;
        if r.status.is_finished() {
            return Err(conflict(r));
        }
        r.result_keys = result_keys.to_vec();
        r.summary = summary.clone();
        r.updated_at = now;
        Ok(())
    }

    async fn finish(&self, job_id: &str, finish: &Finish, now: u64) -> Result<(), JobStoreError> {
        let mut jobs = self.jobs.lock().expect("lock");
        let r = jobs.get_mut(job_id).ok_or_else(|| JobStoreError::NotFound(job_id.to_string()))?;
        let next = match finish {
            Finish::Succeeded { .. } | Finish::SucceededWithWarning { .. } => JobStatus::Succeeded,
            Finish::Failed { .. } => JobStatus::Failed,
        };
        if !r.status.can_become(next) {
            return Err(conflict(r));
        }
        r.status = next;
        r.updated_at = now;
        match finish {
            Finish::Succeeded { result_keys, summary } => {
                r.progress = 100;
                r.message = "finished".into();
                r.result_keys = result_keys.clone();
                r.summary = summary.clone();
            }
            Finish::SucceededWithWarning { result_keys, summary, warning } => {
                r.progress = 100;
                r.message = "finished".into();
                r.result_keys = result_keys.clone();
                r.summary = summary.clone();
                r.warning = Some(crate::limits::message(warning));
            }
            Finish::Failed { error_type, message } => {
                r.message = crate::limits::message(message);
                r.error_type = Some(crate::limits::bounded(error_type, 64));
                r.error = Some(r.message.clone());
            }
        }
        Ok(())
    }

    async fn list(&self, owner: &str, limit: usize) -> Result<JobListing, JobStoreError> {
        let jobs = self.jobs.lock().expect("lock");
        let owned = || jobs.values().filter(|r| r.owner == owner);
        let mut counts = std::collections::BTreeMap::new();
        for s in JobStatus::ALL {
            counts.insert(s.as_str().to_string(), 0);
        }
        for r in owned() {
            *counts.entry(r.status.as_str().to_string()).or_insert(0) += 1;
        }
        let mut recent: Vec<JobRecord> = owned().cloned().collect();
        recent.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.job_id.cmp(&b.job_id)));
        recent.truncate(limit);
        Ok(JobListing { counts, recent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_writes_cannot_reopen_a_finished_job() {
        let s = MemoryJobStore::new();
        let rec =
            JobRecord::queued("j1", "api", "uploads/api/j1/x", "jobs/j1/input/design.tsv", serde_json::json!({}), 1)
                .owned_by("alice");
        assert!(pollster::block_on(s.create(&rec)).unwrap());
        assert!(!pollster::block_on(s.create(&rec)).unwrap(), "second create finds the first");
        pollster::block_on(s.progress("j1", "qc", 10, "qc", 2)).unwrap();
        assert!(pollster::block_on(s.progress("j1", "qc", 5, "late", 3)).is_err(), "progress never decreases");
        let done = Finish::Succeeded { result_keys: vec!["k".into()], summary: serde_json::json!({"n": 1}) };
        pollster::block_on(s.finish("j1", &done, 4)).unwrap();
        assert!(pollster::block_on(s.progress("j1", "pathway", 99, "late", 5)).is_err());
        let failed = Finish::Failed { error_type: "Transient".into(), message: "late".into() };
        assert!(pollster::block_on(s.finish("j1", &failed, 6)).is_err());
        let r = pollster::block_on(s.get("j1")).unwrap().unwrap();
        assert_eq!((r.status, r.progress), (JobStatus::Succeeded, 100));
        let l = pollster::block_on(s.list("alice", 10)).unwrap();
        assert_eq!(l.counts["SUCCEEDED"], 1);
        assert_eq!(l.counts["RUNNING"], 0);
        let other = pollster::block_on(s.list("bob", 10)).unwrap();
        assert!(other.recent.is_empty() && other.counts.values().all(|n| *n == 0), "bob sees none of alice's jobs");
    }
}
