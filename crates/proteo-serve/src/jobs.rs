//! The job store of `proteo serve`: the in-memory store's forward-only rules, with every accepted change written
//! through to `<dir>/<jobId>.json` (write, then rename), so the jobs survive a restart.

use std::path::{Path, PathBuf};

use proteo_jobs::memory::MemoryJobStore;
use proteo_jobs::{keys, Finish, JobListing, JobRecord, JobStore, JobStoreError};

/// The owner of every job of `proteo serve`: one user (whoever holds the token, or this machine's user on loopback).
/// Jobs written before owners existed are loaded as this owner's.
pub const LOCAL_OWNER: &str = "local";

pub struct FileJobStore {
    dir: PathBuf,
    memory: MemoryJobStore,
    /// Serialises "change in memory, then write the file", so the file of a job is always its latest state.
    write: tokio::sync::Mutex<()>,
}

impl FileJobStore {
    /// Open (creating) `dir` and load every job in it. A file that does not parse is named in the error: the
    /// store refuses to start rather than silently forget a job.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<FileJobStore> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let memory = MemoryJobStore::new();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path)?;
            let mut record: JobRecord = serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: not a job record: {e}", path.display()),
                )
            })?;
            if record.owner.is_empty() {
                record.owner = LOCAL_OWNER.to_string();
            }
            memory.insert(record);
        }
        Ok(FileJobStore { dir, memory, write: tokio::sync::Mutex::new(()) })
    }

    /// Every job, oldest first (what a restarted server resumes from).
    pub fn all(&self) -> Vec<JobRecord> {
        let mut all = self.memory.snapshot();
        all.sort_by(|a, b| (a.created_at, &a.job_id).cmp(&(b.created_at, &b.job_id)));
        all
    }

    fn path(&self, job_id: &str) -> PathBuf {
        self.dir.join(format!("{job_id}.json"))
    }

    async fn persist(&self, job_id: &str) -> Result<(), JobStoreError> {
        let Some(record) = self.memory.get(job_id).await? else { return Ok(()) };
        let body = serde_json::to_vec_pretty(&record).map_err(|e| JobStoreError::Transient(e.to_string()))?;
        write_atomically(&self.path(job_id), &body)
            .map_err(|e| JobStoreError::Transient(format!("writing job `{job_id}` to {}: {e}", self.dir.display())))
    }
}

fn write_atomically(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}

fn checked(job_id: &str) -> Result<(), JobStoreError> {
    // The id names a file: only the characters every job id is made of.
    if keys::valid_job_id(job_id) {
        Ok(())
    } else {
        Err(JobStoreError::NotFound(job_id.to_string()))
    }
}

impl JobStore for FileJobStore {
    async fn create(&self, record: &JobRecord) -> Result<bool, JobStoreError> {
        checked(&record.job_id)?;
        let _w = self.write.lock().await;
        let created = self.memory.create(record).await?;
        if created {
            self.persist(&record.job_id).await?;
        }
        Ok(created)
    }

    async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, JobStoreError> {
        self.memory.get(job_id).await
    }

    async fn progress(
        &self,
        job_id: &str,
        stage: &str,
        progress: u8,
        message: &str,
        now: u64,
    ) -> Result<(), JobStoreError> {
        checked(job_id)?;
        let _w = self.write.lock().await;
        self.memory.progress(job_id, stage, progress, message, now).await?;
        self.persist(job_id).await
    }

    async fn attach_results(
        &self,
        job_id: &str,
        result_keys: &[String],
        summary: &serde_json::Value,
        now: u64,
    ) -> Result<(), JobStoreError> {
        checked(job_id)?;
        let _w = self.write.lock().await;
        self.memory.attach_results(job_id, result_keys, summary, now).await?;
        self.persist(job_id).await
    }

    async fn finish(&self, job_id: &str, finish: &Finish, now: u64) -> Result<(), JobStoreError> {
        checked(job_id)?;
        let _w = self.write.lock().await;
        self.memory.finish(job_id, finish, now).await?;
        self.persist(job_id).await
    }

    async fn list(&self, owner: &str, limit: usize) -> Result<JobListing, JobStoreError> {
        self.memory.list(owner, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proteo_jobs::JobStatus;
    use serde_json::json;

    #[tokio::test]
    async fn jobs_and_their_transitions_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = FileJobStore::open(dir.path()).unwrap();
            let a = JobRecord::queued(
                "job-a",
                "api",
                "jobs/job-a/input/x.txt",
                "jobs/job-a/input/design.tsv",
                json!({}),
                1,
            );
            assert!(s.create(&a).await.unwrap());
            assert!(!s.create(&a).await.unwrap(), "a second create of the same id is refused");
            s.progress("job-a", "qc", 20, "Quality control: filtering", 2).await.unwrap();
            let b = JobRecord::queued(
                "job-b",
                "api",
                "jobs/job-b/input/x.txt",
                "jobs/job-b/input/design.tsv",
                json!({}),
                3,
            );
            s.create(&b).await.unwrap();
            s.finish(
                "job-b",
                &Finish::Failed { error_type: "InvalidInput".into(), message: "x.txt, line 3: …".into() },
                4,
            )
            .await
            .unwrap();
        }
        let s = FileJobStore::open(dir.path()).unwrap();
        let a = s.get("job-a").await.unwrap().unwrap();
        assert_eq!((a.status, a.stage.as_str(), a.progress), (JobStatus::Running, "qc", 20));
        let b = s.get("job-b").await.unwrap().unwrap();
        assert_eq!((b.status, b.error.as_deref()), (JobStatus::Failed, Some("x.txt, line 3: …")));
        // The rules still hold after the reload: no going back, no change to a finished job.
        assert!(matches!(s.progress("job-a", "qc", 10, "x", 5).await, Err(JobStoreError::Conflict { .. })));
        assert!(matches!(s.progress("job-b", "qc", 50, "x", 5).await, Err(JobStoreError::Conflict { .. })));
        assert_eq!(
            s.list(LOCAL_OWNER, 10).await.unwrap().counts.get("FAILED"),
            Some(&1),
            "old items are the local owner's"
        );
        assert_eq!(s.all().iter().map(|r| r.job_id.as_str()).collect::<Vec<_>>(), ["job-a", "job-b"]);
    }

    #[test]
    fn a_corrupt_job_file_stops_the_store_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("broken.json"), b"{not json").unwrap();
        let e = FileJobStore::open(dir.path()).err().unwrap();
        assert!(e.to_string().contains("broken.json: not a job record"), "{e}");
    }

    #[tokio::test]
    async fn ids_that_are_not_job_ids_never_become_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileJobStore::open(dir.path()).unwrap();
        let bad = JobRecord::queued("../x", "api", "k", "d", json!({}), 1);
        assert!(matches!(s.create(&bad).await, Err(JobStoreError::NotFound(_))));
        assert!(!dir.path().parent().unwrap().join("x.json").exists());
    }
}
