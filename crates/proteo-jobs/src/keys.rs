//! The S3 key layout of a job: `jobs/<job_id>/{input,qc,de,pathway}/…` and `jobs/<job_id>/summary.json`.

/// Prefix of every object of a job.
pub fn job_prefix(job_id: &str) -> String {
    format!("jobs/{job_id}/")
}

/// Where a user's upload for an API-submitted job lands: `jobs/<id>/input/<file>`.
pub fn upload_key(job_id: &str, file_name: &str) -> String {
    format!("jobs/{job_id}/input/{file_name}")
}

/// The design an API-submitted job carries in its POST body is stored here.
pub fn design_key(job_id: &str) -> String {
    format!("jobs/{job_id}/input/design.tsv")
}

/// The job id in a key under `jobs/<id>/…`, if any.
pub fn job_id_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("jobs/")?;
    let (id, _) = rest.split_once('/')?;
    (!id.is_empty()).then_some(id)
}

/// A job id is 1–64 characters of `[A-Za-z0-9_-]` (UUIDs and derived ids both fit); anything else is refused
/// before it reaches a key or a table.
pub fn valid_job_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        assert_eq!(upload_key("abc", "proteinGroups.txt"), "jobs/abc/input/proteinGroups.txt");
        assert_eq!(job_id_of("jobs/abc/input/x.txt"), Some("abc"));
        assert_eq!(job_id_of("uploads/abc/x.txt"), None);
        assert_eq!(job_id_of("jobs//x"), None);
        assert!(valid_job_id("0b1e7c2a-5f8e-4b7a-9a51-2e0f3c4d5e6f"));
        assert!(!valid_job_id("../etc"));
        assert!(!valid_job_id(""));
    }
}
