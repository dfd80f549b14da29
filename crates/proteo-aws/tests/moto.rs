//! The adapters against a local AWS (moto): S3 not-found mapping and listing, DynamoDB condition expressions,
//! Step Functions duplicate names. Run with a moto server:
//! `moto_server -p 5000 & PROTEO_TEST_AWS_ENDPOINT=http://127.0.0.1:5000 cargo test -p proteo-aws -- --ignored`

use proteo_aws::{Clients, Config};
use proteo_jobs::{
    Finish, JobRecord, JobStatus, JobStore, JobStoreError, ObjectStore, Presigner, StoreError, Workflow,
};
use serde_json::json;

const ENDPOINT_VAR: &str = "PROTEO_TEST_AWS_ENDPOINT";

/// Resource names differ per run, so a long-lived moto server can be reused.
fn unique(base: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{base}-{nanos}")
}

async fn clients(bucket: &str, table: &str) -> (Clients, Config) {
    let endpoint = std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| panic!("set {ENDPOINT_VAR} to a moto server's URL"));
    // The SDK reads these through its standard chain, as in a Lambda pointed at moto (set once, before any read).
    static ENV: std::sync::Once = std::sync::Once::new();
    ENV.call_once(|| {
        for (k, v) in [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ] {
            std::env::set_var(k, v);
        }
    });
    let config = Config::from_lookup(|k| match k {
        "PROTEO_BUCKET" => Some(bucket.to_string()),
        "PROTEO_TABLE" => Some(table.to_string()),
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        _ => None,
    })
    .unwrap();
    (Clients::new(&config).await, config)
}

#[tokio::test]
#[ignore = "needs a moto server at PROTEO_TEST_AWS_ENDPOINT; scripts/test-cloud starts one and runs these"]
async fn s3_store_maps_missing_keys_and_lists_etags() {
    let (c, config) = clients(&unique("proteo-test-s3"), "unused").await;
    c.s3.create_bucket().bucket(&config.bucket).send().await.unwrap();
    let store = c.object_store(&config);
    let missing = store.get("jobs/j1/qc/matrix.parquet").await.unwrap_err();
    assert_eq!(missing, StoreError::NotFound { key: "jobs/j1/qc/matrix.parquet".into() });
    store.put("uploads/exp 1/data.txt", b"abc".to_vec(), "text/plain").await.unwrap();
    store.put("uploads/exp 1/design.tsv", b"d".to_vec(), "text/tab-separated-values").await.unwrap();
    assert_eq!(&store.get("uploads/exp 1/data.txt").await.unwrap()[..], b"abc");
    let listed = store.list("uploads/exp 1/").await.unwrap();
    assert_eq!(listed.len(), 2);
    // MD5 of "abc", without S3's quotes.
    assert_eq!(listed[0].etag, "900150983cd24fb0d6963f7d28e17f72");
    let url = store.presign_put("jobs/j1/input/data.txt", 900, 3).await.unwrap();
    assert!(
        url.contains(&format!("{}/jobs/j1/input/data.txt", config.bucket)) && url.contains("X-Amz-Signature="),
        "{url}"
    );
    // The size is part of the signature: S3 refuses a body of any other length.
    assert!(url.contains("X-Amz-SignedHeaders=content-length%3Bhost"), "{url}");
    let other = c.s3.clone();
    let no_bucket = proteo_aws::S3Store::new(other, "no-such-bucket").get("k").await.unwrap_err();
    assert!(matches!(no_bucket, StoreError::Transient { .. } | StoreError::NotFound { .. }));
}

#[tokio::test]
#[ignore = "needs a moto server at PROTEO_TEST_AWS_ENDPOINT; scripts/test-cloud starts one and runs these"]
async fn dynamo_job_store_enforces_forward_only_transitions() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType,
    };
    let attribute = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().unwrap()
    };
    let key =
        |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap();
    let (c, config) = clients("unused", &unique("proteo-test-jobs")).await;
    c.dynamodb
        .create_table()
        .table_name(&config.table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("jobId", ScalarAttributeType::S))
        .attribute_definitions(attribute("owner", ScalarAttributeType::S))
        .attribute_definitions(attribute("createdAt", ScalarAttributeType::N))
        .key_schema(key("jobId", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(proteo_aws::dynamo::OWNER_INDEX)
                .key_schema(key("owner", KeyType::Hash))
                .key_schema(key("createdAt", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .set_non_key_attributes(Some(vec!["status".into(), "stage".into(), "progress".into()]))
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let jobs = c.job_store(&config);
    let rec =
        JobRecord::queued("j1", "api", "uploads/api/j1/x.txt", "jobs/j1/input/design.tsv", json!({"qc": {}}), 1_000)
            .owned_by("alice");
    assert!(jobs.create(&rec).await.unwrap());
    assert!(!jobs.create(&rec).await.unwrap(), "the second create finds the first");
    assert_eq!(jobs.get("j1").await.unwrap().unwrap(), rec);
    assert_eq!(jobs.get("nope").await.unwrap(), None);

    jobs.progress("j1", "qc", 20, "QC", 2_000).await.unwrap();
    jobs.progress("j1", "qc", 20, "QC again", 2_001).await.unwrap();
    let back = jobs.progress("j1", "qc", 15, "late", 2_002).await.unwrap_err();
    assert_eq!(back, JobStoreError::Conflict { job_id: "j1".into(), status: "RUNNING".into() });
    assert_eq!(jobs.progress("nope", "qc", 20, "x", 1).await.unwrap_err(), JobStoreError::NotFound("nope".into()));
    assert!(jobs.get("nope").await.unwrap().is_none(), "a refused update must not create an item");

    jobs.attach_results("j1", &["jobs/j1/summary.json".into()], &json!({"proteins": 3}), 3_000).await.unwrap();
    jobs.finish(
        "j1",
        &Finish::Succeeded { result_keys: vec!["jobs/j1/summary.json".into()], summary: json!({"proteins": 3}) },
        4_000,
    )
    .await
    .unwrap();
    let late = jobs.progress("j1", "pathway", 99, "late", 5_000).await.unwrap_err();
    assert_eq!(late, JobStoreError::Conflict { job_id: "j1".into(), status: "SUCCEEDED".into() });
    let failed = Finish::Failed { error_type: "Transient".into(), message: "late".into() };
    assert!(matches!(jobs.finish("j1", &failed, 6_000).await, Err(JobStoreError::Conflict { .. })));
    let r = jobs.get("j1").await.unwrap().unwrap();
    assert_eq!((r.status, r.progress, r.updated_at), (JobStatus::Succeeded, 100, 4_000));
    assert_eq!(r.result_keys, ["jobs/j1/summary.json"]);

    for i in 0..30u64 {
        let r = JobRecord::queued(&format!("q{i:02}"), "upload", "k", "d", json!({}), 10_000 + i).owned_by("alice");
        jobs.create(&r).await.unwrap();
        let theirs = JobRecord::queued(&format!("b{i:02}"), "upload", "k", "d", json!({}), 20_000 + i).owned_by("bob");
        jobs.create(&theirs).await.unwrap();
    }
    jobs.create(&JobRecord::queued("legacy", "api", "k", "d", json!({}), 30_000)).await.unwrap();
    jobs.finish("q00", &failed, 7_000).await.unwrap();
    let listing = jobs.list("alice", 5).await.unwrap();
    assert_eq!(listing.counts["QUEUED"], 29);
    assert_eq!((listing.counts["FAILED"], listing.counts["SUCCEEDED"], listing.counts["RUNNING"]), (1, 1, 0));
    let ids: Vec<&str> = listing.recent.iter().map(|r| r.job_id.as_str()).collect();
    assert_eq!(ids, ["q29", "q28", "q27", "q26", "q25"], "alice's newest first, none of bob's");
    assert_eq!(jobs.list("bob", 50).await.unwrap().recent.len(), 30);
    assert!(jobs.list("carol", 5).await.unwrap().recent.is_empty());
}

#[tokio::test]
#[ignore = "needs a moto server at PROTEO_TEST_AWS_ENDPOINT; scripts/test-cloud starts one and runs these"]
async fn sfn_workflow_starts_one_execution_per_job() {
    let (c, config) = clients("unused", "unused").await;
    let definition = json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}).to_string();
    let created = c
        .sfn
        .create_state_machine()
        .name(unique("proteo-test"))
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/proteo-test")
        .send()
        .await
        .unwrap();
    let config = config.with_state_machine_arn(created.state_machine_arn());
    let workflow = c.workflow(&config).unwrap();
    let input = json!({"jobId": "j1", "prefix": "jobs/j1/"});
    assert!(workflow.start("j1", &input).await.unwrap());
    // Same name and input while running: the service answers with the existing execution (idempotent start).
    workflow.start("j1", &input).await.unwrap();
    let other = json!({"jobId": "j1", "prefix": "jobs/j1/", "retry": 2});
    assert!(!workflow.start("j1", &other).await.unwrap(), "the execution name is taken: ExecutionAlreadyExists");
    let list = c.sfn.list_executions().state_machine_arn(config.state_machine_arn().unwrap()).send().await.unwrap();
    assert_eq!(list.executions().len(), 1);
    assert_eq!(list.executions()[0].name(), "j1");
}
