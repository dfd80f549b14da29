//! Quantification across workers, the state machine's Distributed Map: ingest writes a report's protein shards and
//! a manifest ([`write_plan`]), each child quantifies its shards ([`quantify_item`]), and the last step reduces the
//! results into the protein table and finishes ingest ([`assemble`]). The quant Lambda runs the last two in the
//! cloud, `proteo serve` in process; the table is byte-identical to the in-place quantification at any shard count.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use proteo_core::input::{finish_plan, QuantPlan};
use proteo_core::model::{Design, InputReport};
use proteo_core::quant::shard_io::{read_result, read_shard, write_result, write_shard, ShardFileError};
use proteo_core::quant::{quantify_shard, ShardResult};

use crate::contracts::{JobSpec, Stage, StageResult};
use crate::ports::ObjectStore;
use crate::stages::{finish_ingest, write_stage_summary, StageError, JSON, PARQUET};

/// Shard cap of the cloud and `proteo serve`: precursor × run cells per shard (4 M cells are 16 MB of `f32` and
/// about a second of MaxLFQ): the default of `QUANT_SHARD_CELLS`.
pub const DEFAULT_MAP_SHARD_CELLS: usize = proteo_core::quant::DEFAULT_SHARD_CELLS;
/// Children of the Distributed Map at once by default (template parameter `QuantMaxConcurrency`).
pub const DEFAULT_MAP_CONCURRENCY: u32 = 100;

/// How a process splits precursor reports for the Map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sharding {
    /// Precursor × run cells per shard; a report that fits in one shard is quantified in place.
    pub max_cells: usize,
    /// The Map's `MaxConcurrency` (through `MaxConcurrencyPath`).
    pub max_concurrency: u32,
}

impl Default for Sharding {
    fn default() -> Self {
        Sharding { max_cells: DEFAULT_MAP_SHARD_CELLS, max_concurrency: DEFAULT_MAP_CONCURRENCY }
    }
}

/// What ingest adds to the execution input (key `quant`) of a job whose report was split: the state machine's
/// Choice takes the Map when it is present. The other states ignore it (the stages read the JobSpec fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuantMap {
    /// The manifest the Map's ItemReader reads: a JSON array of [`ShardItem`].
    pub manifest: String,
    pub shards: usize,
    pub max_concurrency: u32,
}

/// One Map item: where a shard is, where its result goes, and MaxLFQ's one parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShardItem {
    pub shard: String,
    pub result: String,
    pub min_shared: usize,
}

/// The execution state with its `quant` key: the input of the assembly step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantJob {
    #[serde(flatten)]
    pub spec: JobSpec,
    pub quant: QuantMap,
}

/// What the quant function is invoked with: a batch of items (`ItemBatcher`: `{"Items": [...]}`), one item (a Map
/// without a batcher, as the local AWS emulator runs it), or the job state for the assembly step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum QuantEvent {
    Batch {
        #[serde(rename = "Items")]
        items: Vec<ShardItem>,
    },
    Shard(ShardItem),
    Assemble(Box<QuantJob>),
}

fn quant_key(job: &JobSpec, file: &str) -> String {
    job.key(Stage::Ingest, &format!("quant/{file}"))
}

/// The input report so far and the design, kept beside the shards for the assembly step (which reads nothing
/// outside the job's `ingest/`).
fn plan_key(job: &JobSpec) -> String {
    quant_key(job, "plan.json")
}

#[derive(Serialize, Deserialize)]
struct PlanFile {
    report: InputReport,
    design: Design,
}

fn file_error(e: ShardFileError) -> StageError {
    StageError::Internal(format!("quantification shard: {e}"))
}

/// Writes every shard, the plan's input report and the manifest (last: a manifest names only shards that exist).
/// The same plan writes the same bytes.
pub async fn write_plan(
    store: &impl ObjectStore,
    job: &JobSpec,
    plan: QuantPlan,
    design: Design,
    max_concurrency: u32,
) -> Result<QuantMap, StageError> {
    let QuantPlan { table, shards, report } = plan;
    let mut items = Vec::with_capacity(shards.len());
    for (i, range) in shards.iter().enumerate() {
        let shard_key = quant_key(job, &format!("shards/{i:05}.parquet"));
        let bytes = write_shard(&table.shard(range.clone())).map_err(file_error)?;
        store.put(&shard_key, bytes, PARQUET).await?;
        items.push(ShardItem {
            shard: shard_key,
            result: quant_key(job, &format!("results/{i:05}.parquet")),
            min_shared: job.params.quant.min_shared,
        });
    }
    drop(table);
    store.put(&plan_key(job), serde_json::to_vec(&PlanFile { report, design }).expect("json"), JSON).await?;
    let manifest = quant_key(job, "manifest.json");
    store.put(&manifest, serde_json::to_vec(&items).expect("json"), JSON).await?;
    Ok(QuantMap { manifest, shards: items.len(), max_concurrency })
}

/// A Map child's work for one item: the shard read, quantified by MaxLFQ and its result written. Idempotent (a
/// retried child writes the same bytes).
pub async fn quantify_item(store: &impl ObjectStore, item: &ShardItem) -> Result<(), StageError> {
    let bytes = store.get(&item.shard).await?;
    let shard = read_shard(bytes, &item.shard).map_err(file_error)?;
    let result = quantify_shard(&shard, item.min_shared);
    drop(shard);
    store.put(&item.result, write_result(&result).map_err(file_error)?, PARQUET).await?;
    Ok(())
}

/// The Map's items, from its manifest.
pub async fn read_manifest(store: &impl ObjectStore, key: &str) -> Result<Vec<ShardItem>, StageError> {
    let bytes = store.get(key).await?;
    serde_json::from_slice(&bytes).map_err(|e| StageError::Internal(format!("quantification manifest {key}: {e}")))
}

/// The last step: every shard's result reduced into the protein table (as in-place quantification gives it), then
/// the rest of ingest, its summary written.
pub async fn assemble(store: &impl ObjectStore, job: &QuantJob) -> Result<StageResult, StageError> {
    let spec = &job.spec;
    let items = read_manifest(store, &job.quant.manifest).await?;
    let mut results: Vec<ShardResult> = Vec::with_capacity(items.len());
    for item in &items {
        let bytes: Bytes = store.get(&item.result).await?;
        results.push(read_result(bytes, &item.result).map_err(file_error)?);
    }
    let plan = store.get(&plan_key(spec)).await?;
    let PlanFile { report, design } = serde_json::from_slice(&plan)
        .map_err(|e| StageError::Internal(format!("quantification plan {}: {e}", plan_key(spec))))?;
    let (table, report) = finish_plan(results, report);
    let mut result = finish_ingest(store, spec, table, report, design, &|_, _| {}).await?;
    write_stage_summary(store, spec, &mut result).await?;
    Ok(result)
}
