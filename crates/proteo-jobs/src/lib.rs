//! Job records, status transitions, S3 key layout and the ports (object store, job store, workflow) shared by every shell.

pub mod keys;
pub mod limits;
pub mod memory;
pub mod params;
pub mod ports;
pub mod record;

pub use keys::UploadKey;
pub use ports::{
    JobStore, JobStoreError, ObjectLister, ObjectMeta, ObjectStore, Presigner, StoreError, Workflow, WorkflowError,
};
pub use record::now_ms;
pub use record::{Finish, JobListing, JobRecord, JobStatus, REPORT_WARNING_PREFIX};
