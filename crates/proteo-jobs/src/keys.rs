//! The S3 key layout: uploads under `uploads/` (the only prefix the upload trigger watches), everything a job
//! writes under `jobs/<job_id>/…`, and the one set of file-name rules the API, ingest and `proteo serve` share.

/// Every upload lands under this prefix and nothing else does: the S3 trigger fires once per upload.
pub const UPLOADS_PREFIX: &str = "uploads/";
/// Uploads of API jobs: `uploads/api/<jobId>/<fileName>` (the presigned PUT of `POST /jobs`).
pub const API_UPLOADS_PREFIX: &str = "uploads/api/";
/// Drop-in uploads: `uploads/drop/<owner>/<folder>/<data file>` plus `design.tsv` (or `.csv`) beside it.
pub const DROP_IN_PREFIX: &str = "uploads/drop/";
/// Design files a drop-in folder may hold next to its data file (compared case-insensitively).
pub const DROP_IN_DESIGN_NAMES: [&str; 2] = ["design.tsv", "design.csv"];
/// Largest accepted file name, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 200;
/// How much of a refused file name a message quotes.
const SHOWN_NAME_CHARS: usize = 80;
/// Largest owner id (the token's `sub`), in characters: Cognito's are 36, other identity providers' rarely over 64.
pub const MAX_OWNER_CHARS: usize = 128;

/// Prefix of every object a job writes.
pub fn job_prefix(job_id: &str) -> String {
    format!("jobs/{job_id}/")
}

/// Where a user's upload for an API-submitted job lands: `uploads/api/<id>/<file>`.
pub fn upload_key(job_id: &str, file_name: &str) -> String {
    format!("{API_UPLOADS_PREFIX}{job_id}/{file_name}")
}

/// The design an API-submitted job carries in its POST body is stored here (outside the upload trigger's prefix:
/// the API writes it, no upload does).
pub fn design_key(job_id: &str) -> String {
    format!("jobs/{job_id}/input/design.tsv")
}

/// The folder of an owner's drop-in uploads: `uploads/drop/<owner>/<folder>/`.
pub fn drop_in_folder(owner: &str, folder: &str) -> String {
    format!("{DROP_IN_PREFIX}{owner}/{folder}/")
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

/// An owner id (the `sub` of the caller's token, or a lab's) is 1–[`MAX_OWNER_CHARS`] printable ASCII characters
/// without `/`, `\`, `*`, `?` or a leading `.`: it is one key segment and appears in IAM resource ARNs.
pub fn valid_owner(owner: &str) -> bool {
    !owner.is_empty()
        && owner.len() <= MAX_OWNER_CHARS
        && !owner.starts_with('.')
        && owner.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'\\' | b'*' | b'?'))
}

/// Why `name` cannot be the last segment of an upload key, as a sentence; `None` when it can. The API refuses
/// such a name at the door and ingest ignores such a key, so the two can never disagree about a file.
pub fn file_name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if chars == 0 {
        return Some("the file name is empty; give the name of the data file you will upload".into());
    }
    if chars > MAX_FILE_NAME_CHARS {
        return Some(format!("the file name has {chars} characters; at most {MAX_FILE_NAME_CHARS} are accepted"));
    }
    // Quoted names are cut: a refused name never floods a message.
    let shown = crate::limits::bounded(name, SHOWN_NAME_CHARS);
    if name.contains(['/', '\\']) {
        return Some(format!("the file name `{shown}` must be a bare file name, without `/` or `\\`"));
    }
    if name.contains("..") {
        return Some(format!("the file name `{shown}` must not contain `..`"));
    }
    if name.starts_with('.') {
        return Some(format!(
            "the file name `{shown}` starts with `.`: hidden files (`.DS_Store`, editor backups) are never analysed; \
             rename the data file"
        ));
    }
    if name.chars().any(char::is_control) {
        return Some(format!("the file name {shown:?} contains a control character"));
    }
    if name.contains('%') {
        return Some(format!("the file name `{shown}` must not contain `%` (percent-encoded names are refused)"));
    }
    None
}

/// What an uploaded key is to the ingest function (and to `proteo serve`'s upload route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadKey {
    /// `uploads/api/<id>/<file>`: the data file of an API job.
    ApiInput { job_id: String },
    /// `uploads/drop/<owner>/<folder>/<file>`: one half of a drop-in; `folder` is the whole folder key, ending `/`.
    DropIn { owner: String, folder: String, is_design: bool },
    /// Anything else (nested or hidden files, keys outside the layout).
    Ignored,
}

impl UploadKey {
    pub fn classify(key: &str) -> UploadKey {
        let Some((dir, file)) = key.rsplit_once('/') else { return UploadKey::Ignored };
        if file_name_problem(file).is_some() {
            return UploadKey::Ignored;
        }
        if let Some(job_id) = dir.strip_prefix(API_UPLOADS_PREFIX) {
            return if valid_job_id(job_id) {
                UploadKey::ApiInput { job_id: job_id.to_string() }
            } else {
                UploadKey::Ignored
            };
        }
        let Some((owner, folder)) = dir.strip_prefix(DROP_IN_PREFIX).and_then(|rest| rest.split_once('/')) else {
            return UploadKey::Ignored;
        };
        if !valid_owner(owner) || folder.is_empty() || folder.contains('/') || folder.starts_with('.') {
            return UploadKey::Ignored;
        }
        UploadKey::DropIn {
            owner: owner.to_string(),
            folder: format!("{dir}/"),
            is_design: DROP_IN_DESIGN_NAMES.iter().any(|d| d.eq_ignore_ascii_case(file)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        assert_eq!(upload_key("abc", "proteinGroups.txt"), "uploads/api/abc/proteinGroups.txt");
        assert_eq!(design_key("abc"), "jobs/abc/input/design.tsv");
        assert_eq!(job_id_of("jobs/abc/input/x.txt"), Some("abc"));
        assert_eq!(job_id_of("uploads/abc/x.txt"), None);
        assert_eq!(job_id_of("jobs//x"), None);
        assert!(valid_job_id("0b1e7c2a-5f8e-4b7a-9a51-2e0f3c4d5e6f"));
        assert!(!valid_job_id("../etc"));
        assert!(!valid_job_id(""));
        assert_eq!(drop_in_folder("lab-7", "exp 1"), "uploads/drop/lab-7/exp 1/");
    }

    #[test]
    fn no_output_key_is_an_upload() {
        for output in [
            "jobs/abc/input/design.tsv",
            "jobs/abc/ingest/table.parquet",
            "jobs/abc/qc/matrix.parquet",
            "jobs/abc/de/ranked/0.jsonl",
            "jobs/abc/summary.json",
            "jobs/abc/report.html",
        ] {
            assert!(!output.starts_with(UPLOADS_PREFIX), "{output}");
            assert_eq!(UploadKey::classify(output), UploadKey::Ignored, "{output}");
        }
    }

    #[test]
    fn keys_are_classified_as_docs_cloud_md_says() {
        assert_eq!(
            UploadKey::classify("uploads/api/abc/proteinGroups.txt"),
            UploadKey::ApiInput { job_id: "abc".into() }
        );
        assert_eq!(UploadKey::classify("uploads/api/abc/nested/x.txt"), UploadKey::Ignored);
        assert_eq!(UploadKey::classify("uploads/api/a.b/x.txt"), UploadKey::Ignored);
        assert_eq!(UploadKey::classify("uploads/api/abc/.hidden.txt"), UploadKey::Ignored);
        assert_eq!(
            UploadKey::classify("uploads/drop/lab-7/exp 1/proteinGroups.txt"),
            UploadKey::DropIn { owner: "lab-7".into(), folder: "uploads/drop/lab-7/exp 1/".into(), is_design: false }
        );
        assert_eq!(
            UploadKey::classify("uploads/drop/u1/exp1/Design.CSV"),
            UploadKey::DropIn { owner: "u1".into(), folder: "uploads/drop/u1/exp1/".into(), is_design: true }
        );
        for ignored in [
            "uploads/x.txt",
            "uploads/drop/u1/x.txt",
            "uploads/drop/u1/a/b/x.txt",
            "uploads/drop/u1/a/",
            "uploads/drop/u1/a/.DS_Store",
            "uploads/drop/u1/.a/x.txt",
            "uploads/drop/.u/a/x.txt",
            "uploads/drop/u*/a/x.txt",
            "uploads/other/u1/a/x.txt",
        ] {
            assert_eq!(UploadKey::classify(ignored), UploadKey::Ignored, "{ignored}");
        }
    }

    #[test]
    fn a_name_the_api_accepts_is_a_name_ingest_takes() {
        for bad in ["", "a/b", "a\\b", "..", "x..y", ".", ".hidden", "tab\tname", "nul\0"] {
            assert!(file_name_problem(bad).is_some(), "{bad:?} accepted");
            assert_eq!(UploadKey::classify(&upload_key("j1", bad)), UploadKey::Ignored, "{bad:?}");
        }
        assert!(file_name_problem(&"é".repeat(MAX_FILE_NAME_CHARS)).is_none(), "the limit counts characters");
        assert!(file_name_problem(&"a".repeat(MAX_FILE_NAME_CHARS + 1)).is_some());
        for good in ["proteinGroups.txt", "report.pg_matrix.tsv", "my data (2).csv", "design.tsv", "design.csv"] {
            assert!(file_name_problem(good).is_none(), "{good:?} refused");
            assert_eq!(
                UploadKey::classify(&upload_key("j1", good)),
                UploadKey::ApiInput { job_id: "j1".into() },
                "{good:?}"
            );
        }
        assert!(file_name_problem(".hidden").unwrap().contains("starts with `.`"));
    }

    #[test]
    fn owners_are_single_safe_segments() {
        assert!(valid_owner("3f1c9a2e-7b4d-4e1a-9c0b-2a6d8e4f1b3c"));
        assert!(valid_owner("auth0|64b1f"));
        for bad in ["", "a/b", ".x", "a*", "a?", "a b", &"x".repeat(MAX_OWNER_CHARS + 1)] {
            assert!(!valid_owner(bad), "{bad:?}");
        }
    }
}
