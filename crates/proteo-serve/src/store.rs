//! The object store of `proteo serve`: keys are files below `<data-dir>/objects`, and "presigned" URLs are the
//! server's own `/files/<key>` routes, signed with HMAC-SHA256 over method, key and expiry like S3's query signing.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use proteo_jobs::{ObjectLister, ObjectMeta, ObjectStore, Presigner, StoreError};
use proteo_pipeline::fs_store::FsStore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// A directory as a bucket, confined to it: a key that is absolute or climbs out with `..` does not exist.
pub struct LocalStore {
    fs: FsStore,
    root: PathBuf,
    /// `http://127.0.0.1:8080`: what signed URLs start with.
    public_url: String,
    secret: Vec<u8>,
    /// Milliseconds since the Unix epoch (replaceable in tests).
    clock: fn() -> u64,
}

/// Why a signed URL was refused (the sentence of the 403).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignatureError {
    #[error("the URL is not signed: it needs `expires` and `signature` query parameters from the API")]
    Missing,
    #[error("the URL's signature does not match; request a new URL from the API")]
    Mismatch,
    #[error("the URL expired {0} s ago; request a new URL from the API")]
    Expired(u64),
}

impl LocalStore {
    /// Objects under `root`; `secret` signs the URLs (keep it across restarts so issued URLs stay valid).
    pub fn new(root: impl Into<PathBuf>, public_url: &str, secret: Vec<u8>) -> LocalStore {
        let root = root.into();
        LocalStore {
            fs: FsStore::new(root.clone()),
            root,
            public_url: public_url.trim_end_matches('/').to_string(),
            secret,
            clock: proteo_jobs::now_ms,
        }
    }

    pub fn with_clock(mut self, clock: fn() -> u64) -> LocalStore {
        self.clock = clock;
        self
    }

    /// Where an upload to `key` is written while it arrives (a unique `.partial` beside it: listings skip it, a
    /// restart removes it) and where it goes once complete.
    pub fn upload_paths(&self, key: &str) -> Result<(PathBuf, PathBuf), StoreError> {
        self.confined(key)?;
        let target = self.fs.path(key);
        let io = |e: std::io::Error| StoreError::Transient { key: key.to_string(), message: e.to_string() };
        std::fs::create_dir_all(target.parent().unwrap_or(&self.root)).map_err(io)?;
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{}.partial", uuid::Uuid::new_v4().simple()));
        Ok((target.with_file_name(name), target))
    }

    /// Move a completed upload into place (the rename is atomic; the directory is synced so it survives a crash).
    pub fn commit_upload(&self, tmp: &Path, target: &Path) -> std::io::Result<()> {
        std::fs::rename(tmp, target)?;
        std::fs::File::open(target.parent().unwrap_or(&self.root))?.sync_all()
    }

    /// Remove the half-written files (`*.partial`) a crash left below the root. Returns how many.
    pub fn remove_partials(&self) -> std::io::Result<usize> {
        let mut removed = 0;
        let mut pending = vec![self.root.clone()];
        while let Some(dir) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|x| x == "partial") {
                    std::fs::remove_file(&path)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Delete every object of a job (an expired job's design); a job id that is not one deletes nothing.
    pub fn remove_job(&self, job_id: &str) -> std::io::Result<()> {
        if !proteo_jobs::keys::valid_job_id(job_id) {
            return Ok(());
        }
        match std::fs::remove_dir_all(self.root.join("jobs").join(job_id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Only relative keys made of normal segments are accepted: `jobs/<id>/input/x.txt`, never `/etc/x` or `../x`.
    pub fn valid_key(key: &str) -> bool {
        !key.is_empty()
            && !key.contains('\\')
            && !key.contains('\0')
            && key.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
            && Path::new(key).components().all(|c| matches!(c, Component::Normal(_)))
    }

    fn confined(&self, key: &str) -> Result<(), StoreError> {
        if Self::valid_key(key) {
            Ok(())
        } else {
            Err(StoreError::NotFound { key: key.to_string() })
        }
    }

    fn signature(&self, method: &str, key: &str, expires: u64, length: Option<u64>) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(format!("{method}\n{key}\n{expires}").as_bytes());
        if let Some(length) = length {
            mac.update(format!("\n{length}").as_bytes());
        }
        hex(&mac.finalize().into_bytes())
    }

    fn sign(&self, method: &str, key: &str, ttl_seconds: u64, length: Option<u64>) -> Result<String, StoreError> {
        self.confined(key)?;
        let expires = (self.clock)() / 1000 + ttl_seconds;
        let signature = self.signature(method, key, expires, length);
        let length = length.map(|n| format!("&length={n}")).unwrap_or_default();
        Ok(format!("{}/files/{}?expires={expires}{length}&signature={signature}", self.public_url, encode_path(key)))
    }

    /// Check a `/files/<key>` request's `expires`, `length` (signed into upload URLs: the only size accepted) and
    /// `signature` for `method` (`GET` or `PUT`).
    pub fn verify(
        &self,
        method: &str,
        key: &str,
        expires: Option<u64>,
        length: Option<u64>,
        signature: Option<&str>,
    ) -> Result<(), SignatureError> {
        let (Some(expires), Some(signature)) = (expires, signature) else { return Err(SignatureError::Missing) };
        let expected = self.signature(method, key, expires, length);
        // Compare digests of both, so the comparison takes the same time wherever the strings differ.
        if Sha256::digest(expected.as_bytes()) != Sha256::digest(signature.as_bytes()) {
            return Err(SignatureError::Mismatch);
        }
        let now = (self.clock)() / 1000;
        if now > expires {
            return Err(SignatureError::Expired(now - expires));
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encode each segment of a key for a URL path (unreserved characters kept, `/` kept between segments).
fn encode_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl ObjectStore for LocalStore {
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        self.confined(key)?;
        self.fs.get(key).await
    }

    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.confined(key)?;
        self.fs.put(key, body, content_type).await
    }
}

impl Presigner for LocalStore {
    async fn presign_put(&self, key: &str, ttl_seconds: u64, content_length: u64) -> Result<String, StoreError> {
        self.sign("PUT", key, ttl_seconds, Some(content_length))
    }

    async fn presign_get(&self, key: &str, ttl_seconds: u64) -> Result<String, StoreError> {
        self.sign("GET", key, ttl_seconds, None)
    }
}

impl ObjectLister for LocalStore {
    /// Every file whose key starts with `prefix`, with a content hash as its ETag (S3's, for single-part uploads,
    /// is the MD5; any content hash serves the same purpose here).
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let io = |e: std::io::Error| StoreError::Transient { key: prefix.to_string(), message: e.to_string() };
        // Walk from the deepest directory the prefix names completely.
        let dir_part = prefix.rsplit_once('/').map_or("", |(d, _)| d);
        if !dir_part.is_empty() && !Self::valid_key(dir_part) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut pending = vec![self.root.join(dir_part)];
        while let Some(dir) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io)?;
                let path = entry.path();
                if entry.file_type().map_err(io)?.is_dir() {
                    pending.push(path);
                    continue;
                }
                let Ok(rel) = path.strip_prefix(&self.root) else { continue };
                let Some(key) = rel.to_str().map(|k| k.replace(std::path::MAIN_SEPARATOR, "/")) else { continue };
                // Half-written files (FsStore writes `<name>.partial` then renames) are not objects yet.
                if !key.starts_with(prefix) || key.ends_with(".partial") {
                    continue;
                }
                let body = std::fs::read(&path).map_err(io)?;
                out.push(ObjectMeta { etag: hex(&Sha256::digest(&body)[..16]), size: body.len() as u64, key });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> u64 {
        1_700_000_000_000
    }

    fn store(dir: &Path) -> LocalStore {
        LocalStore::new(dir, "http://127.0.0.1:9/", b"secret".to_vec()).with_clock(clock)
    }

    #[test]
    fn keys_cannot_leave_the_directory() {
        for bad in ["", "/etc/passwd", "../x", "jobs/../../x", "a//b", "a/./b", "a\\b", "jobs/a/", "a\0b", "..", "."] {
            assert!(!LocalStore::valid_key(bad), "{bad:?} accepted");
        }
        for good in ["jobs/abc/input/proteinGroups.txt", "jobs/abc/report.html", "x", "my data (2).txt"] {
            assert!(LocalStore::valid_key(good), "{good:?} refused");
        }
    }

    #[tokio::test]
    async fn signed_urls_verify_for_their_method_and_key_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let url = s.presign_put("jobs/a/input/my file.txt", 900, 42).await.unwrap();
        assert!(
            url.starts_with(
                "http://127.0.0.1:9/files/jobs/a/input/my%20file.txt?expires=1700000900&length=42&signature="
            ),
            "{url}"
        );
        let sig = url.rsplit_once("signature=").unwrap().1;
        let key = "jobs/a/input/my file.txt";
        assert_eq!(s.verify("PUT", key, Some(1_700_000_900), Some(42), Some(sig)), Ok(()));
        assert_eq!(s.verify("GET", key, Some(1_700_000_900), Some(42), Some(sig)), Err(SignatureError::Mismatch));
        assert_eq!(
            s.verify("PUT", "jobs/b/input/my file.txt", Some(1_700_000_900), Some(42), Some(sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(s.verify("PUT", key, Some(1_700_000_901), Some(42), Some(sig)), Err(SignatureError::Mismatch));
        // The size is signed: another length (or none) does not verify.
        assert_eq!(s.verify("PUT", key, Some(1_700_000_900), Some(43), Some(sig)), Err(SignatureError::Mismatch));
        assert_eq!(s.verify("PUT", key, Some(1_700_000_900), None, Some(sig)), Err(SignatureError::Mismatch));
        assert_eq!(s.verify("PUT", key, None, Some(42), Some(sig)), Err(SignatureError::Missing));
        let old = s.signature("PUT", "k", 1_699_999_990, None);
        assert_eq!(s.verify("PUT", "k", Some(1_699_999_990), None, Some(&old)), Err(SignatureError::Expired(10)));
        assert!(s.presign_get("../x", 900).await.is_err());
    }

    #[tokio::test]
    async fn listing_finds_nested_files_under_a_prefix_and_skips_partial_writes() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.put("jobs/a/de/results.parquet", b"r".to_vec(), "").await.unwrap();
        s.put("jobs/a/summary.json", b"{}".to_vec(), "").await.unwrap();
        s.put("jobs/ab/summary.json", b"{}".to_vec(), "").await.unwrap();
        std::fs::write(dir.path().join("jobs/a/x.partial"), b"half").unwrap();
        let keys: Vec<String> = s.list("jobs/a/").await.unwrap().into_iter().map(|o| o.key).collect();
        assert_eq!(keys, ["jobs/a/de/results.parquet", "jobs/a/summary.json"]);
        assert!(s.list("jobs/none/").await.unwrap().is_empty());
        let same = s.list("jobs/a/summary.json").await.unwrap();
        assert_eq!((same.len(), same[0].size), (1, 2));
        assert!(s.get("/etc/hostname").await.is_err());
    }
}
