//! The in-process state machine of `proteo serve`: `statemachine.asl.json` itself, parsed at start, walked state by
//! state with its Retry (per-retrier attempt counts, interval × backoff^n) and Catch rules, the stage Tasks run
//! in-process and the DynamoDB Tasks applied to the job store. A change to the ASL that this interpreter does not
//! understand stops the server at start with a sentence, instead of running something else than the cloud runs.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proteo_jobs::{now_ms, Finish, JobStore, JobStoreError, Workflow, WorkflowError, REPORT_WARNING_PREFIX};
use proteo_pipeline::quant_map::{QuantJob, ShardItem};
use proteo_pipeline::{JobSpec, Stage, StageError};
use serde_json::{json, Value};

/// The state machine the cloud runs, compiled in.
pub const STATE_MACHINE_ASL: &str = include_str!("../../../statemachine.asl.json");

/// What a Task state does here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `arn:aws:states:::lambda:invoke` of `${QcFunctionArn}` / `${DeFunctionArn}` / `${PathwayFunctionArn}` /
    /// `${ReportFunctionArn}`.
    Stage(Stage),
    /// `lambda:invoke` of `${QuantFunctionArn}` with the whole state: the protein table from the Map's shards.
    Assemble,
    /// `dynamodb:updateItem` setting status SUCCEEDED (condition: RUNNING).
    MarkSucceeded,
    /// `dynamodb:updateItem` setting status SUCCEEDED and `warning` to [`REPORT_WARNING_PREFIX`] + the caught Cause
    /// (the ASL's `States.Format`, evaluated here as Step Functions evaluates it).
    MarkSucceededWithWarning,
    /// `dynamodb:updateItem` setting status FAILED with the caught error.
    MarkFailed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub errors: Vec<String>,
    pub interval_seconds: f64,
    pub backoff_rate: f64,
    pub max_attempts: u32,
    /// `MaxDelaySeconds`: the cap on one wait (none in the ASL: uncapped).
    pub max_delay_seconds: Option<f64>,
    /// `JitterStrategy: FULL`: each wait is drawn uniformly from zero to the (capped) backoff.
    pub full_jitter: bool,
}

impl Retrier {
    /// The wait before retry number `attempt + 1` (`attempt` retries done so far), before any scaling; `unit` is a
    /// draw from [0, 1) used only with full jitter.
    pub fn wait_seconds(&self, attempt: u32, unit: f64) -> f64 {
        let backoff = self.interval_seconds * self.backoff_rate.powi(attempt as i32);
        let capped = self.max_delay_seconds.map_or(backoff, |m| backoff.min(m));
        if self.full_jitter {
            capped * unit
        } else {
            capped
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    pub errors: Vec<String>,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Task {
        action: Action,
        retry: Vec<Retrier>,
        catch: Vec<Catcher>,
        next: String,
    },
    /// Rules of the form `{"Variable": "$.<key>", "IsPresent": true|false, "Next": ...}`, then `Default`.
    Choice {
        rules: Vec<PresenceRule>,
        default: String,
    },
    /// A Distributed Map of the quant function over the manifest named at `manifest_path`.
    Map(MapState),
    Succeed,
    Fail,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PresenceRule {
    /// The top-level key of the state the rule looks at (`$.quant` → `quant`).
    pub key: String,
    pub is_present: bool,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapState {
    /// Top-level key path of the ItemReader's S3 key (`$.quant.manifest` → `["quant", "manifest"]`).
    pub manifest_path: Vec<String>,
    /// `MaxConcurrencyPath` as keys; `None`: `MaxConcurrency` (0 = no limit) is `max_concurrency`.
    pub max_concurrency_path: Option<Vec<String>>,
    pub max_concurrency: u64,
    /// `ItemBatcher.MaxItemsPerBatch` (1 without a batcher).
    pub batch: usize,
    /// The child's Retry (the ItemProcessor's one Task).
    pub child_retry: Vec<Retrier>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    pub start_at: String,
    pub states: HashMap<String, State>,
}

/// Does a Retry/Catch `ErrorEquals` list match this error name? (`States.ALL` matches everything; a stage error is
/// a task failure, so `States.TaskFailed` matches it too.)
fn matches(errors: &[String], error: &str) -> bool {
    errors.iter().any(|e| e == error || e == "States.ALL" || e == "States.TaskFailed")
}

impl StateMachine {
    pub fn parse(asl: &str) -> Result<StateMachine, String> {
        let doc: Value = serde_json::from_str(asl).map_err(|e| format!("statemachine.asl.json is not JSON: {e}"))?;
        let start_at = doc["StartAt"].as_str().ok_or("statemachine.asl.json has no StartAt")?.to_string();
        let states_json = doc["States"].as_object().ok_or("statemachine.asl.json has no States")?;
        let mut states = HashMap::new();
        for (name, s) in states_json {
            let what = |m: &str| format!("state `{name}`: {m}");
            let state = match s["Type"].as_str() {
                Some("Succeed") => State::Succeed,
                Some("Fail") => State::Fail,
                Some("Task") => {
                    let action = action(s).map_err(|m| what(&m))?;
                    let next = s["Next"].as_str().ok_or_else(|| what("a Task needs `Next`"))?.to_string();
                    let retry = s["Retry"]
                        .as_array()
                        .map(|rs| rs.iter().map(retrier).collect::<Result<Vec<_>, String>>())
                        .transpose()
                        .map_err(|m| what(&m))?
                        .unwrap_or_default();
                    let catch = s["Catch"]
                        .as_array()
                        .map(|cs| cs.iter().map(catcher).collect::<Result<Vec<_>, String>>())
                        .transpose()
                        .map_err(|m| what(&m))?
                        .unwrap_or_default();
                    State::Task { action, retry, catch, next }
                }
                Some("Choice") => choice(s).map_err(|m| what(&m))?,
                Some("Map") => State::Map(map_state(s).map_err(|m| what(&m))?),
                other => return Err(what(&format!("type {other:?} is not supported by proteo serve"))),
            };
            states.insert(name.clone(), state);
        }
        let machine = StateMachine { start_at, states };
        machine.check()?;
        Ok(machine)
    }

    /// Every transition names a state that exists.
    fn check(&self) -> Result<(), String> {
        let exists = |n: &str| self.states.contains_key(n);
        if !exists(&self.start_at) {
            return Err(format!("StartAt `{}` is not a state", self.start_at));
        }
        for (name, s) in &self.states {
            let targets: Vec<&String> = match s {
                State::Task { next, catch, .. } | State::Map(MapState { next, catch, .. }) => {
                    std::iter::once(next).chain(catch.iter().map(|c| &c.next)).collect()
                }
                State::Choice { rules, default } => {
                    rules.iter().map(|r| &r.next).chain(std::iter::once(default)).collect()
                }
                State::Succeed | State::Fail => Vec::new(),
            };
            for target in targets {
                if !exists(target) {
                    return Err(format!("state `{name}` goes to `{target}`, which is not a state"));
                }
            }
        }
        Ok(())
    }

    /// The state that runs `stage` (where a restarted server resumes a job).
    pub fn state_of(&self, stage: Stage) -> Option<&str> {
        self.states.iter().find_map(|(n, s)| match s {
            State::Task { action: Action::Stage(x), .. } if *x == stage => Some(n.as_str()),
            _ => None,
        })
    }
}

fn action(s: &Value) -> Result<Action, String> {
    let params = &s["Parameters"];
    match s["Resource"].as_str() {
        Some("arn:aws:states:::lambda:invoke") => {
            if params["Payload.$"] != "$" {
                return Err("a stage Task must pass the whole state (`\"Payload.$\": \"$\"`)".into());
            }
            if s["ResultPath"] != Value::Null || s.get("ResultPath").is_none() {
                return Err("a stage Task must discard its result (`\"ResultPath\": null`)".into());
            }
            match params["FunctionName"].as_str() {
                Some("${QuantFunctionArn}") => Ok(Action::Assemble),
                Some("${QcFunctionArn}") => Ok(Action::Stage(Stage::Qc)),
                Some("${DeFunctionArn}") => Ok(Action::Stage(Stage::De)),
                Some("${PathwayFunctionArn}") => Ok(Action::Stage(Stage::Pathway)),
                Some("${ReportFunctionArn}") => Ok(Action::Stage(Stage::Report)),
                other => Err(format!("unknown function {other:?}")),
            }
        }
        Some("arn:aws:states:::dynamodb:updateItem") => {
            let values = &params["ExpressionAttributeValues"];
            if values[":succeeded"]["S"] == "SUCCEEDED" && values.get(":warning").is_some() {
                let understood = format!("States.Format('{REPORT_WARNING_PREFIX}{{}}', $.error.Cause)");
                if values[":warning"]["S.$"] != understood.as_str() {
                    return Err(format!("a `:warning` must be `{{\"S.$\": \"{understood}\"}}`"));
                }
                Ok(Action::MarkSucceededWithWarning)
            } else if values[":succeeded"]["S"] == "SUCCEEDED" {
                Ok(Action::MarkSucceeded)
            } else if values[":failed"]["S"] == "FAILED" {
                Ok(Action::MarkFailed)
            } else {
                Err("a DynamoDB Task must set status SUCCEEDED (`:succeeded`) or FAILED (`:failed`)".into())
            }
        }
        other => Err(format!("resource {other:?} is not supported by proteo serve")),
    }
}

fn json_path(v: &Value, what: &str) -> Result<Vec<String>, String> {
    let path = v.as_str().ok_or_else(|| format!("{what} must be a JSONPath string"))?;
    let keys: Vec<String> = path
        .strip_prefix("$.")
        .ok_or_else(|| format!("{what} `{path}` must start with `$.`"))?
        .split('.')
        .map(str::to_string)
        .collect();
    if keys.iter().any(|k| k.is_empty() || k.contains(['[', ']', '*'])) {
        return Err(format!("{what} `{path}` must be a plain path of keys"));
    }
    Ok(keys)
}

fn at<'a>(state: &'a Value, keys: &[String]) -> Option<&'a Value> {
    keys.iter().try_fold(state, |v, k| v.get(k))
}

fn choice(s: &Value) -> Result<State, String> {
    let rules = s["Choices"]
        .as_array()
        .ok_or("a Choice needs `Choices`")?
        .iter()
        .map(|r| {
            let keys = json_path(&r["Variable"], "a Choice rule's `Variable`")?;
            let [key] = keys.as_slice() else { return Err("a Choice rule must test a top-level key".to_string()) };
            let is_present = r["IsPresent"].as_bool().ok_or("proteo serve runs only `IsPresent` Choice rules")?;
            let next = r["Next"].as_str().ok_or("a Choice rule needs `Next`")?.to_string();
            Ok(PresenceRule { key: key.clone(), is_present, next })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let default = s["Default"].as_str().ok_or("a Choice needs `Default`")?.to_string();
    Ok(State::Choice { rules, default })
}

fn retriers(v: &Value) -> Result<Vec<Retrier>, String> {
    v.as_array().map(|rs| rs.iter().map(retrier).collect()).transpose().map(Option::unwrap_or_default)
}

fn map_state(s: &Value) -> Result<MapState, String> {
    let reader = &s["ItemReader"];
    if reader["Resource"] != "arn:aws:states:::s3:getObject" || reader["ReaderConfig"]["InputType"] != "JSON" {
        return Err(
            "a Map must read its items from a JSON array on S3 (`ItemReader` s3:getObject, InputType JSON)".into()
        );
    }
    let manifest_path = json_path(&reader["Parameters"]["Key.$"], "the ItemReader's `Key.$`")?;
    let processor = &s["ItemProcessor"];
    if processor["ProcessorConfig"]["Mode"] != "DISTRIBUTED" {
        return Err("a Map must be DISTRIBUTED".into());
    }
    let start = processor["StartAt"].as_str().ok_or("the ItemProcessor needs `StartAt`")?;
    let child = &processor["States"][start];
    if child["Resource"] != "arn:aws:states:::lambda:invoke"
        || child["Parameters"]["FunctionName"] != "${QuantFunctionArn}"
        || child["Parameters"]["Payload.$"] != "$"
        || child["End"] != true
    {
        return Err(
            "the ItemProcessor must be one Task invoking ${QuantFunctionArn} with its item, ending there".into()
        );
    }
    if s["ResultPath"] != Value::Null || s.get("ResultPath").is_none() {
        return Err("a Map must discard its result (`\"ResultPath\": null`)".into());
    }
    let max_concurrency_path = match s.get("MaxConcurrencyPath") {
        Some(p) => Some(json_path(p, "`MaxConcurrencyPath`")?),
        None => None,
    };
    let catch = s["Catch"]
        .as_array()
        .map(|cs| cs.iter().map(catcher).collect::<Result<Vec<_>, String>>())
        .transpose()?
        .unwrap_or_default();
    Ok(MapState {
        manifest_path,
        max_concurrency_path,
        max_concurrency: s["MaxConcurrency"].as_u64().unwrap_or(0),
        batch: s["ItemBatcher"]["MaxItemsPerBatch"].as_u64().unwrap_or(1).max(1) as usize,
        child_retry: retriers(&child["Retry"])?,
        retry: retriers(&s["Retry"])?,
        catch,
        next: s["Next"].as_str().ok_or("a Map needs `Next`")?.to_string(),
    })
}

fn errors_of(v: &Value) -> Result<Vec<String>, String> {
    v["ErrorEquals"]
        .as_array()
        .and_then(|a| a.iter().map(|e| e.as_str().map(str::to_string)).collect())
        .ok_or_else(|| "`ErrorEquals` must be a list of error names".to_string())
}

fn retrier(v: &Value) -> Result<Retrier, String> {
    let full_jitter = match v["JitterStrategy"].as_str() {
        None | Some("NONE") => false,
        Some("FULL") => true,
        Some(other) => return Err(format!("`JitterStrategy` {other:?} is not FULL or NONE")),
    };
    Ok(Retrier {
        errors: errors_of(v)?,
        // The ASL defaults: 1 s, rate 2, 3 attempts, no cap, no jitter.
        interval_seconds: v["IntervalSeconds"].as_f64().unwrap_or(1.0),
        backoff_rate: v["BackoffRate"].as_f64().unwrap_or(2.0),
        max_attempts: v["MaxAttempts"].as_u64().unwrap_or(3).min(u32::MAX as u64) as u32,
        max_delay_seconds: v["MaxDelaySeconds"].as_f64(),
        full_jitter,
    })
}

/// A draw from [0, 1) for full jitter (the 53 high bits of a random UUID: no RNG crate needed for a retry wait).
fn unit_draw() -> f64 {
    let bits = u64::from_be_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().expect("8 bytes"));
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

fn catcher(v: &Value) -> Result<Catcher, String> {
    if v["ResultPath"] != "$.error" {
        return Err("a Catch must put the error at `$.error` (the Mark Failed state reads it there)".into());
    }
    Ok(Catcher { errors: errors_of(v)?, next: v["Next"].as_str().ok_or("a Catch needs `Next`")?.to_string() })
}

/// Runs one stage of a job (in production: `run_job_stage` under the concurrency cap), and the quant function's
/// work for the Map (a runner without it refuses, as a stack without the quant function would).
pub trait StageRunner: Send + Sync + 'static {
    fn run(&self, stage: Stage, job: &JobSpec) -> impl Future<Output = Result<Vec<String>, StageError>> + Send;

    /// The Map's items: the manifest at `key`.
    fn manifest(&self, key: &str) -> impl Future<Output = Result<Vec<ShardItem>, StageError>> + Send {
        let key = key.to_string();
        async move { Err(StageError::Internal(format!("this server cannot read the quantification manifest {key}"))) }
    }

    /// One Map child: a batch of shards quantified.
    fn quantify(&self, items: Vec<ShardItem>) -> impl Future<Output = Result<(), StageError>> + Send {
        async move { Err(StageError::Internal(format!("this server cannot quantify {} shards", items.len()))) }
    }

    /// The step after the Map: the protein table assembled and ingest finished.
    fn assemble(&self, job: QuantJob) -> impl Future<Output = Result<(), StageError>> + Send {
        async move { Err(StageError::Internal(format!("this server cannot assemble job {}", job.spec.job_id))) }
    }
}

/// The workflow port, in-process: executions named by job id (a second start of a name is refused, as Step
/// Functions refuses it), each walking the state machine on its own task.
pub struct LocalWorkflow<R, J> {
    inner: Arc<Inner<R, J>>,
}

struct Inner<R, J> {
    machine: StateMachine,
    runner: R,
    jobs: Arc<J>,
    executions: Mutex<HashSet<String>>,
    /// Multiplies every retry interval (1.0 = the ASL's seconds; tests shorten it).
    interval_scale: f64,
}

impl<R, J> Clone for LocalWorkflow<R, J> {
    fn clone(&self) -> Self {
        LocalWorkflow { inner: Arc::clone(&self.inner) }
    }
}

impl<R: StageRunner, J: JobStore + 'static> LocalWorkflow<R, J> {
    pub fn new(machine: StateMachine, runner: R, jobs: Arc<J>, interval_scale: f64) -> Self {
        LocalWorkflow {
            inner: Arc::new(Inner { machine, runner, jobs, executions: Mutex::new(HashSet::new()), interval_scale }),
        }
    }

    /// Start (unless one of that name exists) an execution at `state`; returns its handle, `None` for a duplicate.
    pub fn start_at(&self, job: JobSpec, state: &str) -> Option<tokio::task::JoinHandle<()>> {
        let input = serde_json::to_value(&job).expect("a job spec is JSON");
        self.start_with(input, job, state)
    }

    /// [`LocalWorkflow::start_at`] with the whole execution input (the job spec and any keys ingest added).
    fn start_with(&self, input: Value, job: JobSpec, state: &str) -> Option<tokio::task::JoinHandle<()>> {
        if !self.inner.executions.lock().expect("lock").insert(job.job_id.clone()) {
            return None;
        }
        let inner = Arc::clone(&self.inner);
        let state = state.to_string();
        Some(tokio::spawn(async move { inner.execute(input, job, state).await }))
    }

    /// Resume a job interrupted by a restart at the state that runs `stage` (stages are idempotent: a rerun
    /// overwrites its outputs with the same bytes).
    pub fn resume(&self, job: JobSpec, stage: Stage) -> Option<tokio::task::JoinHandle<()>> {
        let state = self.inner.machine.state_of(stage)?.to_string();
        self.start_at(job, &state)
    }
}

impl<R: StageRunner, J: JobStore + 'static> Workflow for LocalWorkflow<R, J> {
    async fn start(&self, _job_id: &str, input: &Value) -> Result<bool, WorkflowError> {
        let job: JobSpec = serde_json::from_value(input.clone())
            .map_err(|e| WorkflowError::Transient(format!("the execution input is not a job spec: {e}")))?;
        let start = self.inner.machine.start_at.clone();
        Ok(self.start_with(input.clone(), job, &start).is_some())
    }
}

type Failure = (String, String);

impl<R: StageRunner, J: JobStore + 'static> Inner<R, J> {
    async fn execute(self: Arc<Self>, input: Value, job: JobSpec, mut current: String) {
        let id = job.job_id.clone();
        // `$.error` of the state, once a Catch has put it there.
        let mut caught: Option<Failure> = None;
        loop {
            let Some(state) = self.machine.states.get(&current) else { return };
            let (outcome, next, catch) = match state {
                State::Task { action, retry, catch, next } => {
                    let outcome = self
                        .with_retry(&id, &current, retry, || self.act(*action, &input, &job, caught.as_ref()))
                        .await;
                    (outcome, next, catch)
                }
                State::Map(map) => {
                    let outcome =
                        self.with_retry(&id, &current, &map.retry, || Arc::clone(&self).map(map, &input)).await;
                    (outcome, &map.next, &map.catch)
                }
                State::Choice { rules, default } => {
                    let rule = rules.iter().find(|r| input.get(&r.key).is_some_and(|v| !v.is_null()) == r.is_present);
                    current = rule.map_or(default, |r| &r.next).clone();
                    continue;
                }
                State::Succeed | State::Fail => {
                    tracing::info!(job_id = %id, state = %current, "execution ended");
                    return;
                }
            };
            current = match outcome {
                Ok(()) => next.clone(),
                Err((error, cause)) => match catch.iter().find(|c| matches(&c.errors, &error)) {
                    Some(c) => {
                        tracing::warn!(job_id = %id, state = %current, error, "caught; going to {}", c.next);
                        caught = Some((error, cause));
                        c.next.clone()
                    }
                    None => {
                        let cause = proteo_jobs::limits::message(&cause);
                        tracing::error!(job_id = %id, state = %current, error, cause, "execution failed (uncaught)");
                        return;
                    }
                },
            };
        }
    }

    /// `attempt` until it succeeds, no retrier matches its error, or the matching retrier's attempts are spent.
    async fn with_retry<Fut>(
        &self,
        id: &str,
        state: &str,
        retry: &[Retrier],
        mut attempt: impl FnMut() -> Fut,
    ) -> Result<(), Failure>
    where
        Fut: Future<Output = Result<(), Failure>>,
    {
        let mut attempts = vec![0u32; retry.len()];
        loop {
            let Err((error, cause)) = attempt().await else { return Ok(()) };
            let Some(i) = retry.iter().position(|r| matches(&r.errors, &error)) else { return Err((error, cause)) };
            if attempts[i] >= retry[i].max_attempts {
                return Err((error, cause));
            }
            let wait = retry[i].wait_seconds(attempts[i], unit_draw()) * self.interval_scale;
            attempts[i] += 1;
            tracing::warn!(job_id = %id, state, error, attempt = attempts[i], wait_s = wait, "retrying");
            tokio::time::sleep(Duration::from_secs_f64(wait.max(0.0))).await;
        }
    }

    /// The Distributed Map: the manifest's items in batches, at most `MaxConcurrency` children at once, each with
    /// the child's Retry. Any child failing fails the Map (`ToleratedFailurePercentage` 0), as
    /// `States.ExceedToleratedFailureThreshold` with the child's error in the cause.
    async fn map(self: Arc<Self>, map: &MapState, input: &Value) -> Result<(), Failure> {
        let runtime = |m: String| ("States.Runtime".to_string(), m);
        let key = at(input, &map.manifest_path).and_then(Value::as_str).ok_or_else(|| {
            runtime(format!("the Map's ItemReader key `$.{}` is not in the state", map.manifest_path.join(".")))
        })?;
        let items = self.runner.manifest(key).await.map_err(stage_failure)?;
        let limit = match &map.max_concurrency_path {
            Some(path) => at(input, path).and_then(Value::as_u64).unwrap_or(0),
            None => map.max_concurrency,
        };
        let batches: Vec<Vec<ShardItem>> = items.chunks(map.batch).map(<[ShardItem]>::to_vec).collect();
        let width = if limit == 0 { batches.len() } else { limit as usize }.clamp(1, batches.len().max(1));
        let gate = Arc::new(tokio::sync::Semaphore::new(width));
        let mut children = tokio::task::JoinSet::new();
        for batch in batches {
            let (inner, gate, retry) = (Arc::clone(&self), Arc::clone(&gate), map.child_retry.clone());
            children.spawn(async move {
                let _slot = gate.acquire_owned().await.map_err(|_| runtime("the server is shutting down".into()))?;
                let runner = &inner.runner;
                let child = || {
                    let batch = batch.clone();
                    async move { runner.quantify(batch).await.map_err(stage_failure) }
                };
                inner.with_retry("map child", "Quantify Shard", &retry, child).await
            });
        }
        while let Some(done) = children.join_next().await {
            let failed = match done {
                Ok(Ok(())) => continue,
                Ok(Err((error, cause))) => format!("{error}: {cause}"),
                Err(e) => format!("a child stopped: {e}"),
            };
            children.abort_all();
            return Err(("States.ExceedToleratedFailureThreshold".into(), failed));
        }
        Ok(())
    }

    /// Run one Task; an error is `(Error, Cause)` as Step Functions names them. The Cause of a stage error is the
    /// Lambda error JSON `{"errorType", "errorMessage"}`, as in the cloud.
    async fn act(
        &self,
        action: Action,
        input: &Value,
        job: &JobSpec,
        caught: Option<&(String, String)>,
    ) -> Result<(), (String, String)> {
        match action {
            Action::Stage(stage) => self.runner.run(stage, job).await.map(|_| ()).map_err(stage_failure),
            Action::Assemble => {
                let quant: QuantJob = serde_json::from_value(input.clone()).map_err(|e| {
                    ("States.Runtime".to_string(), format!("the state has no quantification plan: {e}"))
                })?;
                self.runner.assemble(quant).await.map_err(stage_failure)
            }
            Action::MarkSucceeded => {
                let record = self.jobs.get(&job.job_id).await.map_err(store_error)?;
                let Some(record) = record else { return Err(condition_failed(&job.job_id)) };
                let finish = Finish::Succeeded { result_keys: record.result_keys, summary: record.summary };
                self.finish(&job.job_id, &finish).await
            }
            Action::MarkSucceededWithWarning => {
                let record = self.jobs.get(&job.job_id).await.map_err(store_error)?;
                let Some(record) = record else { return Err(condition_failed(&job.job_id)) };
                let cause = caught.map_or("", |(_, cause)| cause.as_str());
                let warning = format!("{REPORT_WARNING_PREFIX}{cause}");
                let finish =
                    Finish::SucceededWithWarning { result_keys: record.result_keys, summary: record.summary, warning };
                self.finish(&job.job_id, &finish).await
            }
            Action::MarkFailed => {
                let (error_type, cause) = caught.cloned().unwrap_or_else(|| ("States.Runtime".into(), String::new()));
                // The API shows a Cause's `errorMessage`; the local store keeps that sentence.
                let message = serde_json::from_str::<Value>(&cause)
                    .ok()
                    .and_then(|c| c["errorMessage"].as_str().map(str::to_string))
                    .unwrap_or(cause);
                self.finish(&job.job_id, &Finish::Failed { error_type, message }).await
            }
        }
    }

    async fn finish(&self, job_id: &str, finish: &Finish) -> Result<(), (String, String)> {
        match self.jobs.finish(job_id, finish, now_ms()).await {
            Ok(()) => Ok(()),
            Err(JobStoreError::Conflict { .. } | JobStoreError::NotFound(_)) => Err(condition_failed(job_id)),
            Err(e @ JobStoreError::Transient(_)) => Err(store_error(e)),
        }
    }
}

/// A stage error as Step Functions reports a Lambda's: the error type, and the Lambda error JSON as the Cause.
fn stage_failure(e: StageError) -> Failure {
    let cause = json!({"errorType": e.error_type(), "errorMessage": e.to_string()}).to_string();
    (e.error_type().to_string(), cause)
}

fn store_error(e: JobStoreError) -> (String, String) {
    ("DynamoDB.InternalServerErrorException".into(), e.to_string())
}

fn condition_failed(job_id: &str) -> (String, String) {
    (
        "DynamoDB.ConditionalCheckFailedException".into(),
        format!("job `{job_id}` was not in the status the update requires"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_state_machine_parses_into_qc_de_pathway_report_with_retry_and_catch() {
        let m = StateMachine::parse(STATE_MACHINE_ASL).unwrap();
        // A split precursor report goes through the Map and the assembly; every job then from QC on.
        let Some(State::Choice { rules, default }) = m.states.get(&m.start_at) else { panic!("starts with a Choice") };
        assert_eq!(default, "Run QC");
        let [rule] = rules.as_slice() else { panic!("one rule: {rules:?}") };
        assert_eq!((rule.key.as_str(), rule.is_present), ("quant", true));
        let Some(State::Map(map)) = m.states.get(&rule.next) else { panic!("`{}` is the Map", rule.next) };
        assert_eq!(map.manifest_path, ["quant", "manifest"]);
        assert_eq!(map.max_concurrency_path.as_deref(), Some(&["quant".to_string(), "maxConcurrency".to_string()][..]));
        assert!(map.batch > 1, "the children take batches of shards");
        assert!(map.child_retry.iter().any(|r| r.errors.contains(&"Transient".to_string())));
        assert!(map.catch.iter().any(|c| matches(&c.errors, "States.ExceedToleratedFailureThreshold")));
        let Some(State::Task { action: Action::Assemble, next, .. }) = m.states.get(&map.next) else {
            panic!("the Map is followed by the assembly")
        };
        assert_eq!(next, default);
        let mut order = Vec::new();
        let mut cur = default.clone();
        while let Some(State::Task { action, retry, catch, next }) = m.states.get(&cur) {
            order.push(*action);
            if let Action::Stage(_) = action {
                let r =
                    retry.iter().find(|r| r.errors.contains(&"Transient".to_string())).expect("Transient is retried");
                assert_eq!((r.interval_seconds, r.backoff_rate, r.max_attempts), (2.0, 2.0, 3));
                assert!(!retry.iter().any(|r| matches(&r.errors, "InvalidInput")), "refused input must not be retried");
                // A report that cannot be rendered does not fail the job: its statistics are complete.
                let on_error =
                    if *action == Action::Stage(Stage::Report) { "Mark Succeeded With Warning" } else { "Mark Failed" };
                assert!(catch.iter().any(|c| matches(&c.errors, "InvalidInput") && c.next == on_error), "{action:?}");
                assert!(catch.iter().any(|c| matches(&c.errors, "States.Timeout") && c.next == on_error), "{action:?}");
                let throttle = retry
                    .iter()
                    .find(|r| r.errors == ["Lambda.TooManyRequestsException"])
                    .expect("throttling has its own retrier");
                assert!(throttle.full_jitter && throttle.max_attempts >= 50, "{throttle:?}");
                assert!(!r.errors.contains(&"Lambda.TooManyRequestsException".to_string()), "not with Transient");
                let cap = throttle.max_delay_seconds.expect("MaxDelaySeconds");
                assert!(throttle.wait_seconds(40, 0.999_999) <= cap && throttle.wait_seconds(40, 0.0) == 0.0);
            }
            cur = next.clone();
        }
        assert_eq!(
            order,
            [
                Action::Stage(Stage::Qc),
                Action::Stage(Stage::De),
                Action::Stage(Stage::Pathway),
                Action::Stage(Stage::Report),
                Action::MarkSucceeded
            ]
        );
        assert_eq!(m.states.get(&cur), Some(&State::Succeed));
        let Some(State::Task { action, next, .. }) = m.states.get("Mark Succeeded With Warning") else {
            panic!("no Mark Succeeded With Warning")
        };
        assert_eq!((*action, m.states.get(next)), (Action::MarkSucceededWithWarning, Some(&State::Succeed)));
        assert_eq!(m.state_of(Stage::De), Some("Run DE"));
    }

    #[test]
    fn waits_back_off_up_to_the_cap_and_full_jitter_draws_below_it() {
        let r = Retrier {
            errors: vec!["X".into()],
            interval_seconds: 1.0,
            backoff_rate: 2.0,
            max_attempts: 10,
            max_delay_seconds: Some(5.0),
            full_jitter: false,
        };
        let waits: Vec<f64> = (0..5).map(|n| r.wait_seconds(n, 0.5)).collect();
        assert_eq!(waits, [1.0, 2.0, 4.0, 5.0, 5.0]);
        let jittered = Retrier { full_jitter: true, ..r };
        assert_eq!(jittered.wait_seconds(3, 0.5), 2.5);
        for _ in 0..100 {
            let u = unit_draw();
            assert!((0.0..1.0).contains(&u), "{u}");
        }
    }

    #[test]
    fn an_asl_this_interpreter_cannot_run_is_refused_with_the_state_named() {
        let mut doc: Value = serde_json::from_str(STATE_MACHINE_ASL).unwrap();
        doc["States"]["Run DE"]["Parameters"]["FunctionName"] = json!("${OtherArn}");
        let e = StateMachine::parse(&doc.to_string()).unwrap_err();
        assert!(e.starts_with("state `Run DE`: unknown function"), "{e}");
        let mut doc: Value = serde_json::from_str(STATE_MACHINE_ASL).unwrap();
        doc["States"]["Run QC"]["Next"] = json!("Nowhere");
        assert_eq!(
            StateMachine::parse(&doc.to_string()).unwrap_err(),
            "state `Run QC` goes to `Nowhere`, which is not a state"
        );
    }
}
