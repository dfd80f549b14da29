//! Configuration from the environment (read once at cold start) and the SDK clients built from it.

/// The data bucket (all functions).
pub const BUCKET_VAR: &str = "PROTEO_BUCKET";
/// The DynamoDB job table (all functions).
pub const TABLE_VAR: &str = "PROTEO_TABLE";
/// The Step Functions state machine the ingest function starts.
pub const STATE_MACHINE_VAR: &str = "PROTEO_STATE_MACHINE_ARN";
/// The ingest function's shard cap (precursor × run cells per Distributed Map shard); default in the pipeline.
pub const QUANT_SHARD_CELLS_VAR: &str = "PROTEO_QUANT_SHARD_CELLS";
/// The Distributed Map's `MaxConcurrency` (template parameter `QuantMaxConcurrency`), which ingest passes on.
pub const QUANT_MAX_CONCURRENCY_VAR: &str = "PROTEO_QUANT_MAX_CONCURRENCY";
/// Set only in tests (moto): every client talks to this endpoint, and S3 uses path-style addressing.
pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL";

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ConfigError {
    #[error("the environment variable `{0}` is not set; the deployment template must define it for this function")]
    Missing(&'static str),
    #[error("the environment variable `{name}` is `{value}`; expected a whole number of at least 1")]
    NotACount { name: &'static str, value: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub bucket: String,
    pub table: String,
    /// Only the ingest function needs it: ask through [`Config::state_machine_arn`].
    state_machine_arn: Option<String>,
    pub endpoint_url: Option<String>,
    /// Only the ingest function reads them (unset: the pipeline's defaults).
    pub quant_shard_cells: Option<usize>,
    pub quant_max_concurrency: Option<u32>,
}

impl Config {
    /// `PROTEO_BUCKET` and `PROTEO_TABLE` are required; an empty value counts as missing.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] over any variable lookup (tests pass a map instead of mutating the process environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let count = |name: &'static str| -> Result<Option<u64>, ConfigError> {
            get(name)
                .map(|v| match v.trim().parse::<u64>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err(ConfigError::NotACount { name, value: v }),
                })
                .transpose()
        };
        Ok(Config {
            quant_shard_cells: count(QUANT_SHARD_CELLS_VAR)?.map(|n| n as usize),
            quant_max_concurrency: count(QUANT_MAX_CONCURRENCY_VAR)?.map(|n| n.min(u64::from(u32::MAX)) as u32),
            bucket: required(BUCKET_VAR)?,
            table: required(TABLE_VAR)?,
            state_machine_arn: get(STATE_MACHINE_VAR),
            endpoint_url: get(ENDPOINT_VAR),
        })
    }

    /// The state machine ARN, or the error naming `PROTEO_STATE_MACHINE_ARN`.
    pub fn state_machine_arn(&self) -> Result<&str, ConfigError> {
        self.state_machine_arn.as_deref().ok_or(ConfigError::Missing(STATE_MACHINE_VAR))
    }

    pub fn with_state_machine_arn(mut self, arn: impl Into<String>) -> Config {
        self.state_machine_arn = Some(arn.into());
        self
    }
}

/// SDK clients, built once at cold start and cloned (cheaply) into the adapters.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sfn: aws_sdk_sfn::Client,
}

impl Clients {
    /// Region, credentials and `AWS_ENDPOINT_URL` come from aws-config's standard chain; with an endpoint URL
    /// (moto, LocalStack) S3 switches to path-style addressing, which such endpoints need.
    pub async fn new(config: &Config) -> Clients {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        let path_style = config.endpoint_url.is_some() || sdk.endpoint_url().is_some();
        let s3_config = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(path_style).build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sfn: aws_sdk_sfn::Client::new(&sdk),
        }
    }

    pub fn object_store(&self, config: &Config) -> crate::S3Store {
        crate::S3Store::new(self.s3.clone(), &config.bucket)
    }

    pub fn job_store(&self, config: &Config) -> crate::DynamoJobStore {
        crate::DynamoJobStore::new(self.dynamodb.clone(), &config.table)
    }

    /// The workflow the ingest function starts; fails naming `PROTEO_STATE_MACHINE_ARN` when it is not set.
    pub fn workflow(&self, config: &Config) -> Result<crate::SfnWorkflow, ConfigError> {
        Ok(crate::SfnWorkflow::new(self.sfn.clone(), config.state_machine_arn()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn names_the_missing_variable() {
        assert_eq!(Config::from_lookup(lookup(&[(TABLE_VAR, "t")])), Err(ConfigError::Missing("PROTEO_BUCKET")));
        assert_eq!(
            Config::from_lookup(lookup(&[(BUCKET_VAR, "b"), (TABLE_VAR, " ")])),
            Err(ConfigError::Missing("PROTEO_TABLE"))
        );
        let c = Config::from_lookup(lookup(&[(BUCKET_VAR, "b"), (TABLE_VAR, "t")])).unwrap();
        assert_eq!((c.bucket.as_str(), c.table.as_str(), c.endpoint_url.as_deref()), ("b", "t", None));
        let err = c.state_machine_arn().unwrap_err();
        assert!(err.to_string().contains("PROTEO_STATE_MACHINE_ARN"), "{err}");
        let c = Config::from_lookup(lookup(&[
            (BUCKET_VAR, "b"),
            (TABLE_VAR, "t"),
            (STATE_MACHINE_VAR, "arn:aws:states:eu-west-1:1:stateMachine:proteo"),
            (ENDPOINT_VAR, "http://127.0.0.1:5000"),
        ]))
        .unwrap();
        assert_eq!(c.state_machine_arn(), Ok("arn:aws:states:eu-west-1:1:stateMachine:proteo"));
        assert_eq!(c.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!((c.quant_shard_cells, c.quant_max_concurrency), (None, None));
        let base = [(BUCKET_VAR, "b"), (TABLE_VAR, "t")];
        let with = |k: &'static str, v: &'static str| {
            let mut vars = base.to_vec();
            vars.push((k, v));
            Config::from_lookup(lookup(&vars))
        };
        assert_eq!(with(QUANT_SHARD_CELLS_VAR, "4096").unwrap().quant_shard_cells, Some(4096));
        assert_eq!(with(QUANT_MAX_CONCURRENCY_VAR, "40").unwrap().quant_max_concurrency, Some(40));
        for bad in ["0", "-3", "many"] {
            let err = with(QUANT_SHARD_CELLS_VAR, bad).unwrap_err().to_string();
            assert!(err.contains("PROTEO_QUANT_SHARD_CELLS") && err.contains(bad), "{err}");
        }
    }
}
