//! Pure analysis for proteo: input formats, QC, differential expression, pathway enrichment, Parquet tables.

pub mod de;
pub mod deadline;
pub mod input;
pub mod limits;
pub mod model;
pub mod pathway;
pub mod qc;
pub mod reference;
pub mod synthetic;
pub mod tables;
