//! Filesystem adapter of [`ObjectStore`]: keys are paths below a root directory.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::ports::{ObjectStore, StoreError};

/// Keys are relative paths below `root`; an absolute key names a file outside it (a local run reads the user's
/// input files in place instead of copying them).
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsStore { root: root.into() }
    }

    pub fn path(&self, key: &str) -> PathBuf {
        let k = Path::new(key);
        if k.is_absolute() {
            k.to_path_buf()
        } else {
            self.root.join(k)
        }
    }
}

impl ObjectStore for FsStore {
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        match std::fs::read(self.path(key)) {
            Ok(b) => Ok(Bytes::from(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(StoreError::NotFound { key: key.to_string() }),
            Err(e) => Err(StoreError::Transient { key: key.to_string(), message: e.to_string() }),
        }
    }

    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), StoreError> {
        let path = self.path(key);
        let io = |e: std::io::Error| StoreError::Transient { key: key.to_string(), message: e.to_string() };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Write, flush to disk, then rename: a reader never sees half a file, and a job marked finished after its
        // outputs were written finds them after a power cut too. `<name>.partial` (not a changed extension, which
        // would give `a.tsv` and `a.txt` the same temporary file).
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".partial");
        let tmp = path.with_file_name(tmp_name);
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut file, &body)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }
}
