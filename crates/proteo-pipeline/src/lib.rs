//! Job and stage contracts, the storage port, the stage runner shared by Lambda and local runs, and the filesystem adapter.

pub mod contracts;
pub mod execution;
pub mod fs_store;
pub mod methods;
pub mod ports;
pub mod quant_map;
pub mod report;
pub mod stages;
pub mod workflow;

pub use contracts::{JobParams, JobSpec, OutputParams, PathwayParams, Stage, StageResult};
pub use ports::{ObjectStore, StoreError};
pub use report::{Renderer, REPORT_WARNING_PREFIX};
pub use stages::{run_stage, write_job_summary, Progress, StageError};
pub use workflow::{run_job, JobRun};
