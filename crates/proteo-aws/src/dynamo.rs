//! DynamoDB job store: one item per job, forward-only transitions enforced by condition expressions (docs/cloud.md).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use proteo_jobs::{Finish, JobListing, JobRecord, JobStatus, JobStore, JobStoreError};

/// Items expire this long after creation (DynamoDB TTL on `expiresAt`, seconds since the epoch).
pub const RETENTION_SECONDS: u64 = 30 * 24 * 3600;
/// The global secondary index `GET /jobs` queries (infra/template.yaml): partition `owner`, sort `createdAt`,
/// projecting what the listing shows.
pub const OWNER_INDEX: &str = "byOwner";

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoJobStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoJobStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str) -> DynamoJobStore {
        DynamoJobStore { client, table: table.to_string() }
    }

    /// A guarded update: `SET` the given names, under `condition`. A failed condition becomes `NotFound` (no item)
    /// or `Conflict` (naming the status the item has).
    async fn update(
        &self,
        job_id: &str,
        set: &[(&str, AttributeValue)],
        condition: &str,
        extra_values: &[(&str, AttributeValue)],
    ) -> Result<(), JobStoreError> {
        let mut names = HashMap::from([("#status".to_string(), "status".to_string())]);
        let mut values: HashMap<String, AttributeValue> =
            extra_values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let mut assignments = Vec::new();
        for (name, value) in set {
            names.insert(format!("#{name}"), name.to_string());
            values.insert(format!(":{name}"), value.clone());
            assignments.push(format!("#{name} = :{name}"));
        }
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("jobId", s(job_id))
            .update_expression(format!("SET {}", assignments.join(", ")))
            .condition_expression(format!("attribute_exists(jobId) AND {condition}"))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(ctx)) => match ctx.into_err() {
                UpdateItemError::ConditionalCheckFailedException(e) => {
                    // With ReturnValuesOnConditionCheckFailure ALL_OLD the service returns the item when it exists
                    // (DynamoDB and moto alike): none means there is none. Asking again would need GetItem, which
                    // the stage roles do not have.
                    let status = e.item().and_then(|old| old.get("status")).and_then(|v| v.as_s().ok()).cloned();
                    match status {
                        Some(status) => Err(JobStoreError::Conflict { job_id: job_id.to_string(), status }),
                        None => Err(JobStoreError::NotFound(job_id.to_string())),
                    }
                }
                other => Err(JobStoreError::Transient(DisplayErrorContext(&other).to_string())),
            },
            Err(e) => Err(transient(&e)),
        }
    }
}

fn transient<E: std::error::Error + 'static>(e: &E) -> JobStoreError {
    JobStoreError::Transient(DisplayErrorContext(e).to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn keys_list(keys: &[String]) -> AttributeValue {
    AttributeValue::L(keys.iter().map(|k| s(k)).collect())
}

const UNFINISHED: &str = "#status IN (:queued, :running)";

fn unfinished_values() -> [(&'static str, AttributeValue); 2] {
    [(":queued", s(JobStatus::Queued.as_str())), (":running", s(JobStatus::Running.as_str()))]
}

/// The item of a record, attribute by attribute as docs/cloud.md lists them (JSON values stored as JSON text).
pub fn record_to_item(r: &JobRecord) -> Item {
    let mut item = Item::from([
        ("jobId".to_string(), s(&r.job_id)),
        ("status".to_string(), s(r.status.as_str())),
        ("stage".to_string(), s(&r.stage)),
        ("progress".to_string(), n(r.progress as u64)),
        ("message".to_string(), s(&r.message)),
        ("createdAt".to_string(), n(r.created_at)),
        ("updatedAt".to_string(), n(r.updated_at)),
        ("source".to_string(), s(&r.source)),
        ("inputKey".to_string(), s(&r.input_key)),
        ("designKey".to_string(), s(&r.design_key)),
        ("params".to_string(), s(&r.params.to_string())),
        ("resultKeys".to_string(), keys_list(&r.result_keys)),
        ("summary".to_string(), s(&r.summary.to_string())),
        ("expiresAt".to_string(), n(r.created_at / 1000 + RETENTION_SECONDS)),
    ]);
    // The owner is the index's partition key: an empty string is not allowed there, and an item without one
    // (written before owners existed) is simply not in the index.
    if !r.owner.is_empty() {
        item.insert("owner".into(), s(&r.owner));
    }
    if let Some(t) = &r.error_type {
        item.insert("errorType".into(), s(t));
    }
    if let Some(e) = &r.error {
        item.insert("error".into(), s(e));
    }
    if let Some(w) = &r.warning {
        item.insert("warning".into(), s(w));
    }
    item
}

/// A record from an item. `jobId` and `status` are required; other attributes absent from a projection read as
/// empty/zero.
pub fn record_from_item(item: &Item) -> Result<JobRecord, JobStoreError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number =
        |name: &str| -> Result<u64, JobStoreError> {
            match item.get(name) {
                None => Ok(0),
                Some(v) => v.as_n().ok().and_then(|x| x.parse::<u64>().ok()).ok_or_else(|| {
                    JobStoreError::Transient(format!("job item attribute `{name}` is not a whole number"))
                }),
            }
        };
    let json = |name: &str| -> serde_json::Value {
        text(name).and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(serde_json::Value::Null)
    };
    let job_id = text("jobId").ok_or_else(|| JobStoreError::Transient("job item without `jobId`".into()))?;
    let status = text("status")
        .and_then(|st| JobStatus::parse(&st))
        .ok_or_else(|| JobStoreError::Transient(format!("job item `{job_id}` has no valid `status`")))?;
    let result_keys = match item.get("resultKeys") {
        Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        Some(AttributeValue::Ss(ss)) => ss.clone(),
        _ => Vec::new(),
    };
    Ok(JobRecord {
        job_id,
        owner: text("owner").unwrap_or_default(),
        status,
        stage: text("stage").unwrap_or_default(),
        progress: number("progress")?.min(100) as u8,
        message: text("message").unwrap_or_default(),
        created_at: number("createdAt")?,
        updated_at: number("updatedAt")?,
        source: text("source").unwrap_or_default(),
        input_key: text("inputKey").unwrap_or_default(),
        design_key: text("designKey").unwrap_or_default(),
        params: json("params"),
        result_keys,
        summary: json("summary"),
        error_type: text("errorType"),
        error: text("error"),
        warning: text("warning"),
    })
}

/// Attributes the listing reads from the owner index (the template projects exactly these; the poll endpoint reads
/// whole items).
pub const LISTING_PROJECTION: &[&str] = &["jobId", "owner", "createdAt", "status", "stage", "progress"];

impl JobStore for DynamoJobStore {
    async fn create(&self, record: &JobRecord) -> Result<bool, JobStoreError> {
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_to_item(record)))
            .condition_expression("attribute_not_exists(jobId)")
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(transient(&e)),
        }
    }

    async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, JobStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("jobId", s(job_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| transient(&e))?;
        out.item().map(record_from_item).transpose()
    }

    async fn progress(
        &self,
        job_id: &str,
        stage: &str,
        progress: u8,
        message: &str,
        now: u64,
    ) -> Result<(), JobStoreError> {
        let condition = format!("{UNFINISHED} AND #progress <= :progress");
        let set = [
            ("status", s(JobStatus::Running.as_str())),
            ("stage", s(stage)),
            ("progress", n(progress as u64)),
            ("message", s(&proteo_jobs::limits::message(message))),
            ("updatedAt", n(now)),
        ];
        self.update(job_id, &set, &condition, &unfinished_values()).await
    }

    async fn attach_results(
        &self,
        job_id: &str,
        result_keys: &[String],
        summary: &serde_json::Value,
        now: u64,
    ) -> Result<(), JobStoreError> {
        let set = [("resultKeys", keys_list(result_keys)), ("summary", s(&summary.to_string())), ("updatedAt", n(now))];
        self.update(job_id, &set, UNFINISHED, &unfinished_values()).await
    }

    async fn finish(&self, job_id: &str, finish: &Finish, now: u64) -> Result<(), JobStoreError> {
        let set: Vec<(&str, AttributeValue)> = match finish {
            Finish::Succeeded { result_keys, summary } => vec![
                ("status", s(JobStatus::Succeeded.as_str())),
                ("progress", n(100)),
                ("message", s("finished")),
                ("resultKeys", keys_list(result_keys)),
                ("summary", s(&summary.to_string())),
                ("updatedAt", n(now)),
            ],
            Finish::SucceededWithWarning { result_keys, summary, warning } => vec![
                ("status", s(JobStatus::Succeeded.as_str())),
                ("progress", n(100)),
                ("message", s("finished")),
                ("resultKeys", keys_list(result_keys)),
                ("summary", s(&summary.to_string())),
                ("warning", s(&proteo_jobs::limits::message(warning))),
                ("updatedAt", n(now)),
            ],
            Finish::Failed { error_type, message } => vec![
                ("status", s(JobStatus::Failed.as_str())),
                ("message", s(&proteo_jobs::limits::message(message))),
                ("errorType", s(&proteo_jobs::limits::bounded(error_type, 64))),
                ("error", s(&proteo_jobs::limits::message(message))),
                ("updatedAt", n(now)),
            ],
        };
        self.update(job_id, &set, UNFINISHED, &unfinished_values()).await
    }

    /// A Query of the owner's items on [`OWNER_INDEX`], newest first (the index sorts by `createdAt`), all pages:
    /// counts by status and the first `limit` items. Never a Scan: the cost is the owner's jobs, not the table's.
    async fn list(&self, owner: &str, limit: usize) -> Result<JobListing, JobStoreError> {
        let mut names: HashMap<String, String> =
            LISTING_PROJECTION.iter().map(|a| (format!("#{a}"), a.to_string())).collect();
        names.insert("#owner".into(), "owner".into());
        let projection = LISTING_PROJECTION.iter().map(|a| format!("#{a}")).collect::<Vec<_>>().join(", ");
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OWNER_INDEX)
            .key_condition_expression("#owner = :owner")
            .expression_attribute_values(":owner", s(owner))
            .set_expression_attribute_names(Some(names))
            .projection_expression(projection)
            .scan_index_forward(false)
            .into_paginator()
            .send();
        let mut counts: BTreeMap<String, u64> = JobStatus::ALL.iter().map(|s| (s.as_str().to_string(), 0)).collect();
        let mut recent: Vec<JobRecord> = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| transient(&e))?;
            for item in page.items() {
                let r = record_from_item(item)?;
                *counts.entry(r.status.as_str().to_string()).or_insert(0) += 1;
                if recent.len() < limit {
                    recent.push(r);
                }
            }
        }
        keep_latest(&mut recent, limit);
        Ok(JobListing { counts, recent })
    }
}

fn keep_latest(records: &mut Vec<JobRecord>, limit: usize) {
    records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.job_id.cmp(&b.job_id)));
    records.truncate(limit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_round_trips_and_follows_the_documented_attribute_types() {
        let mut r = JobRecord::queued(
            "j1",
            "api",
            "jobs/j1/input/pg.txt",
            "jobs/j1/input/design.tsv",
            json!({"qc": {}}),
            1_700_000_000_123,
        );
        r.result_keys = vec!["jobs/j1/qc/matrix.parquet".into()];
        r.summary = json!({"proteins": 10});
        r.error_type = Some("InvalidInput".into());
        r.error = Some("column `x` is missing".into());
        let item = record_to_item(&r);
        assert!(!item.contains_key("owner"), "no empty index key");
        let r = r.owned_by("3f1c9a2e");
        let item = record_to_item(&r);
        assert_eq!(item["owner"], AttributeValue::S("3f1c9a2e".into()));
        assert_eq!(item["progress"], AttributeValue::N("0".into()));
        assert_eq!(item["params"], AttributeValue::S(r#"{"qc":{}}"#.into()));
        assert_eq!(item["expiresAt"], AttributeValue::N((1_700_000_000 + 30 * 86_400).to_string()));
        assert!(matches!(&item["resultKeys"], AttributeValue::L(l) if l.len() == 1));
        assert_eq!(record_from_item(&item).unwrap(), r);

        let bare = Item::from([("jobId".to_string(), s("j2")), ("status".to_string(), s("RUNNING"))]);
        let r2 = record_from_item(&bare).unwrap();
        assert_eq!((r2.status, r2.progress, r2.error), (JobStatus::Running, 0, None));
        let bad = Item::from([("jobId".to_string(), s("j3")), ("status".to_string(), s("DONE"))]);
        assert!(record_from_item(&bad).is_err());
    }

    #[test]
    fn listing_keeps_the_latest() {
        let mut v: Vec<JobRecord> =
            (0..5).map(|i| JobRecord::queued(&format!("j{i}"), "api", "", "", json!({}), i as u64 % 3)).collect();
        keep_latest(&mut v, 3);
        let ids: Vec<&str> = v.iter().map(|r| r.job_id.as_str()).collect();
        assert_eq!(ids, ["j2", "j1", "j4"]);
    }
}
