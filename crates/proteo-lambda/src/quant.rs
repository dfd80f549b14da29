//! The handler of the `quant` function, the state machine's Distributed Map: quantify a batch of protein shards
//! (a child) or assemble the protein table from every shard's result (the step after the Map).

use lambda_runtime::{Diagnostic, LambdaEvent};
use proteo_jobs::{keys, ObjectStore};
use proteo_pipeline::quant_map::{assemble, quantify_item, QuantEvent, QuantJob, ShardItem};
use proteo_pipeline::StageError;
use serde_json::{json, Value};
use tracing::Instrument;

use crate::diagnostic;
use crate::stage::decode_job_spec;

/// What the quant function holds from cold start on.
pub struct QuantCtx<S> {
    pub store: S,
}

/// `{"Items": [...]}` or one item → `{"shards": n}`; the job state with `quant` → `{"stage": "ingest", "keys": [...]}`.
pub async fn quant_handler<S: ObjectStore>(ctx: &QuantCtx<S>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let outcome = match decode(event.payload) {
        Ok(QuantEvent::Batch { items }) => shards(ctx, &items).await,
        Ok(QuantEvent::Shard(item)) => shards(ctx, std::slice::from_ref(&item)).await,
        Ok(QuantEvent::Assemble(job)) => {
            let span = tracing::info_span!("assemble", job_id = %job.spec.job_id, shards = job.quant.shards);
            Box::pin(assemble(&ctx.store, &job))
                .instrument(span)
                .await
                .map(|r| json!({"stage": r.stage.as_str(), "keys": r.keys}))
        }
        Err(e) => Err(e),
    };
    outcome.map_err(|e| {
        let shown = proteo_jobs::limits::message(&e.to_string());
        tracing::error!(error_type = e.error_type(), error = %shown, "quantification failed");
        diagnostic(&e)
    })
}

async fn shards<S: ObjectStore>(ctx: &QuantCtx<S>, items: &[ShardItem]) -> Result<Value, StageError> {
    for item in items {
        let span = tracing::info_span!("shard", shard = %item.shard);
        quantify_item(&ctx.store, item).instrument(span).await?;
    }
    Ok(json!({ "shards": items.len() }))
}

/// The event must name only the quantification keys of one valid job: shard `n` of a job and its result `n`, or a
/// job spec (checked as the stages check it) whose manifest is that job's.
fn decode(payload: Value) -> Result<QuantEvent, StageError> {
    let event: QuantEvent = serde_json::from_value(payload).map_err(|e| {
        StageError::InvalidInput(format!(
            "The quantification input is not a shard item, a batch of them or a job with `quant` ({e})."
        ))
    })?;
    match &event {
        QuantEvent::Batch { items } => items.iter().try_for_each(check_item)?,
        QuantEvent::Shard(item) => check_item(item)?,
        QuantEvent::Assemble(job) => {
            let QuantJob { spec, quant } = job.as_ref();
            let spec = decode_job_spec(serde_json::to_value(spec).expect("json"))?;
            let own = format!("{}ingest/quant/manifest.json", spec.prefix);
            if quant.manifest != own {
                return Err(StageError::InvalidInput(format!(
                    "The quantification manifest `{}` is not job `{}`'s (expected `{own}`).",
                    proteo_jobs::limits::bounded(&quant.manifest, 120),
                    spec.job_id
                )));
            }
        }
    }
    Ok(event)
}

/// `jobs/<id>/ingest/quant/<folder>/<n>.parquet` → `(id, n)` (the layout [`keys::job_prefix`] and
/// `proteo_pipeline::quant_map` give).
fn shard_parts<'a>(key: &'a str, folder: &str) -> Option<(&'a str, &'a str)> {
    let rest = key.strip_prefix("jobs/")?;
    let (id, file) = rest.split_once(&format!("/ingest/quant/{folder}/"))?;
    let n = file.strip_suffix(".parquet")?;
    (keys::valid_job_id(id) && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some((id, n))
}

fn check_item(item: &ShardItem) -> Result<(), StageError> {
    match (shard_parts(&item.shard, "shards"), shard_parts(&item.result, "results")) {
        (Some(shard), Some(result)) if shard == result => Ok(()),
        _ => Err(StageError::InvalidInput(format!(
            "The shard item names `{}` → `{}`; expected `jobs/<id>/ingest/quant/shards/<n>.parquet` → the same job's \
             `results/<n>.parquet`.",
            proteo_jobs::limits::bounded(&item.shard, 120),
            proteo_jobs::limits::bounded(&item.result, 120)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_name_one_jobs_shard_and_its_result() {
        let item = |shard: &str, result: &str| json!({"shard": shard, "result": result, "minShared": 2});
        let ok = item("jobs/j1/ingest/quant/shards/00003.parquet", "jobs/j1/ingest/quant/results/00003.parquet");
        assert!(matches!(decode(ok.clone()), Ok(QuantEvent::Shard(_))));
        assert!(
            matches!(decode(json!({"Items": [ok.clone(), ok]})), Ok(QuantEvent::Batch { items }) if items.len() == 2)
        );
        for (shard, result) in [
            ("jobs/j1/ingest/quant/shards/00003.parquet", "jobs/j2/ingest/quant/results/00003.parquet"),
            ("jobs/j1/ingest/quant/shards/00003.parquet", "jobs/j1/ingest/quant/results/00004.parquet"),
            ("jobs/j1/ingest/quant/shards/00003.parquet", "jobs/j1/qc/table.parquet"),
            ("jobs/../x/ingest/quant/shards/1.parquet", "jobs/../x/ingest/quant/results/1.parquet"),
            ("uploads/api/j1/x.parquet", "jobs/j1/ingest/quant/results/1.parquet"),
        ] {
            let e = decode(item(shard, result)).unwrap_err();
            assert_eq!(e.error_type(), "InvalidInput", "{shard} → {result}");
        }
        let e = decode(json!({"shard": "a"})).unwrap_err();
        assert!(e.to_string().contains("not a shard item"), "{e}");
    }

    #[test]
    fn the_assembly_reads_only_its_own_jobs_manifest() {
        let job = |manifest: &str| {
            json!({"jobId": "j1", "prefix": "jobs/j1/", "inputKey": "jobs/j1/input/report.parquet",
                   "designKey": "jobs/j1/input/design.tsv", "params": {},
                   "quant": {"manifest": manifest, "shards": 3, "maxConcurrency": 10}})
        };
        assert!(matches!(decode(job("jobs/j1/ingest/quant/manifest.json")), Ok(QuantEvent::Assemble(_))));
        let e = decode(job("jobs/j2/ingest/quant/manifest.json")).unwrap_err();
        assert!(e.to_string().contains("is not job `j1`'s"), "{e}");
    }
}
