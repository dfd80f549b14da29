//! The storage port the stages use (defined in proteo-jobs so the API can share it without the analysis code).

pub use proteo_jobs::ports::{ObjectStore, StoreError};
