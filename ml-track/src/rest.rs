//! [`MlflowRestClient`]: the scale-out back end, speaking MLflow's REST API
//! (`/api/2.0/mlflow/...`) to a tracking server, with artifacts through the
//! server's `mlflow-artifacts` API.
//!
//! Requests that fail in transit or with 429/5xx are retried with exponential
//! backoff. Retrying never duplicates a value: a batch is built once (its
//! timestamps fixed) and resent unchanged, and MLflow's stores keep one copy of
//! a metric with the same key, value, timestamp and step, accept a param
//! re-logged with the same value, and overwrite tags.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use ml_core::{MetricPoint, RunId, RunStatus, Tracker};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::read::{ArtifactEntry, TrackingStore, join_artifact_path, list_local, local_artifact_root, read_local};
use crate::registry::ModelVersionInfo;
use crate::store::{ExperimentInfo, RunInfo, RunRecord, now_ms};
use crate::validate;

/// How long requests may take and how failed ones are retried.
///
/// A server that refuses connections or answers 429/5xx is asked again
/// with exponential backoff; one that accepts a request and does not answer
/// within [`RetryPolicy::request_timeout`] is not (it would only make the
/// caller wait again). No attempt starts once [`RetryPolicy::total`] has
/// passed, so a call ends within about `total + request_timeout`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (>= 1).
    pub max_attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Time for the server to answer one request, and for each of sending
    /// the request's body and receiving the reply's.
    pub request_timeout: Duration,
    /// Time after which no further attempt starts.
    pub total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            total: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The defaults, with the knobs MLflow's own client reads from the
    /// environment: `MLFLOW_HTTP_REQUEST_TIMEOUT` (seconds per request; the
    /// total budget becomes twice that when larger than the default),
    /// `MLFLOW_HTTP_REQUEST_MAX_RETRIES` (retries after the first attempt)
    /// and `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR` (seconds before the first
    /// retry, doubled after each).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming a variable that is set to something
    /// other than a non-negative number.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`RetryPolicy::from_env`], with the variables looked up by `var`.
    ///
    /// # Errors
    /// As [`RetryPolicy::from_env`].
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut policy = Self::default();
        let read = |name: &'static str| -> Result<Option<f64>> {
            match var(name) {
                Some(v) if !v.trim().is_empty() => match v.trim().parse::<f64>() {
                    Ok(x) if (0.0..1e9).contains(&x) => Ok(Some(x)),
                    _ => Err(Error::Invalid {
                        field: name,
                        value: v,
                        reason: "expected a non-negative number of seconds or retries".into(),
                    }),
                },
                _ => Ok(None),
            }
        };
        if let Some(s) = read("MLFLOW_HTTP_REQUEST_TIMEOUT")? {
            policy.request_timeout = Duration::from_secs_f64(s.max(0.001));
            policy.total = policy.total.max(policy.request_timeout * 2);
        }
        if let Some(n) = read("MLFLOW_HTTP_REQUEST_MAX_RETRIES")? {
            policy.max_attempts = (n as u32).saturating_add(1);
        }
        if let Some(s) = read("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR")? {
            policy.initial_backoff = Duration::from_secs_f64(s);
            policy.max_backoff = policy.max_backoff.max(policy.initial_backoff);
        }
        Ok(policy)
    }
}

/// A client of an MLflow tracking server.
#[derive(Debug)]
pub struct MlflowRestClient {
    base: String,
    agent: ureq::Agent,
    retry: RetryPolicy,
    auth: Option<String>,
    /// Each run's artifact location, looked up once: a run's artifact URI
    /// never changes, and a download of a directory asks for it per file.
    artifact_locations: Mutex<HashMap<String, ArtifactLocation>>,
    /// How `s3://` locations are reached (`None`: from the environment).
    #[cfg(feature = "s3")]
    s3: Option<crate::S3Config>,
}

fn status_name(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "RUNNING",
        RunStatus::Finished => "FINISHED",
        RunStatus::Failed => "FAILED",
        RunStatus::Killed => "KILLED",
    }
}

fn kv(pairs: &[(String, String)]) -> Vec<Value> {
    pairs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect()
}

/// MLflow's JSON spelling of a metric value (`NaN`, `Infinity` are accepted
/// by its protobuf JSON parser as strings).
fn metric_value(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}

/// MLflow writes int64 fields as JSON numbers, protobuf's JSON mapping as
/// strings: take either, refuse anything else.
fn de_i64<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        Num(i64),
        Text(String),
    }
    match Int::deserialize(d)? {
        Int::Num(n) => Ok(n),
        Int::Text(t) => t.parse().map_err(serde::de::Error::custom),
    }
}

fn de_opt_i64<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    de_i64(d).map(Some)
}

/// A metric value: a number, or `NaN`/`Infinity`/`-Infinity` as strings.
fn de_metric_value<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        Num(f64),
        Text(String),
    }
    match V::deserialize(d)? {
        V::Num(n) => Ok(n),
        V::Text(t) => match t.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other.parse().map_err(serde::de::Error::custom),
        },
    }
}

/// The replies this client reads, as MLflow's REST API documents them.
/// Fields that protobuf's JSON mapping omits when empty have defaults; the
/// rest are required, so a partial reply is an error.
mod wire {
    use super::{Deserialize, de_i64, de_metric_value, de_opt_i64};

    #[derive(Debug, Deserialize)]
    pub struct Experiment {
        pub experiment_id: String,
        pub name: String,
        #[serde(default)]
        pub artifact_location: String,
        #[serde(default)]
        pub lifecycle_stage: String,
        #[serde(default, deserialize_with = "de_opt_i64")]
        pub creation_time: Option<i64>,
    }

    #[derive(Debug, Deserialize)]
    pub struct GetExperiment {
        pub experiment: Experiment,
    }

    #[derive(Debug, Deserialize)]
    pub struct SearchExperiments {
        #[serde(default)]
        pub experiments: Vec<Experiment>,
        #[serde(default)]
        pub next_page_token: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct CreateExperiment {
        pub experiment_id: String,
    }

    #[derive(Debug, Deserialize)]
    pub struct RunInfo {
        pub run_id: String,
        pub experiment_id: String,
        #[serde(default)]
        pub run_name: String,
        pub status: String,
        #[serde(deserialize_with = "de_i64")]
        pub start_time: i64,
        #[serde(default, deserialize_with = "de_opt_i64")]
        pub end_time: Option<i64>,
        #[serde(default)]
        pub lifecycle_stage: String,
        pub artifact_uri: String,
    }

    #[derive(Debug, Deserialize)]
    pub struct KeyValue {
        pub key: String,
        #[serde(default)]
        pub value: String,
    }

    #[derive(Debug, Deserialize)]
    pub struct Metric {
        #[serde(default)]
        pub key: String,
        #[serde(deserialize_with = "de_metric_value")]
        pub value: f64,
        #[serde(default, deserialize_with = "de_i64")]
        pub step: i64,
        #[serde(deserialize_with = "de_i64")]
        pub timestamp: i64,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct RunData {
        #[serde(default)]
        pub metrics: Vec<Metric>,
        #[serde(default)]
        pub params: Vec<KeyValue>,
        #[serde(default)]
        pub tags: Vec<KeyValue>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Run {
        pub info: RunInfo,
        #[serde(default)]
        pub data: RunData,
    }

    #[derive(Debug, Deserialize)]
    pub struct GetRun {
        pub run: Run,
    }

    #[derive(Debug, Deserialize)]
    pub struct SearchRuns {
        #[serde(default)]
        pub runs: Vec<Run>,
        #[serde(default)]
        pub next_page_token: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct MetricHistory {
        #[serde(default)]
        pub metrics: Vec<Metric>,
        #[serde(default)]
        pub next_page_token: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct ModelVersion {
        pub name: String,
        #[serde(deserialize_with = "de_i64")]
        pub version: i64,
        #[serde(default)]
        pub source: String,
        #[serde(default)]
        pub run_id: String,
        #[serde(default, deserialize_with = "de_opt_i64")]
        pub creation_timestamp: Option<i64>,
        #[serde(default)]
        pub aliases: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct OneModelVersion {
        pub model_version: ModelVersion,
    }

    #[derive(Debug, Deserialize)]
    pub struct SearchModelVersions {
        #[serde(default)]
        pub model_versions: Vec<ModelVersion>,
        #[serde(default)]
        pub next_page_token: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct RegisteredModel {
        pub name: String,
    }

    #[derive(Debug, Deserialize)]
    pub struct SearchRegisteredModels {
        #[serde(default)]
        pub registered_models: Vec<RegisteredModel>,
        #[serde(default)]
        pub next_page_token: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct FileInfo {
        pub path: String,
        #[serde(default)]
        pub is_dir: bool,
        #[serde(default, deserialize_with = "de_opt_i64")]
        pub file_size: Option<i64>,
    }

    #[derive(Debug, Deserialize)]
    pub struct ListArtifacts {
        #[serde(default)]
        pub files: Vec<FileInfo>,
    }
}

fn run_status(s: &str) -> Result<RunStatus> {
    Ok(match s {
        "RUNNING" | "SCHEDULED" => RunStatus::Running,
        "FINISHED" => RunStatus::Finished,
        "FAILED" => RunStatus::Failed,
        "KILLED" => RunStatus::Killed,
        other => {
            return Err(Error::Reply {
                endpoint: "runs".into(),
                reason: format!("unknown run status '{other}'"),
            });
        }
    })
}

fn run_info(w: wire::RunInfo) -> Result<RunInfo> {
    Ok(RunInfo {
        status: run_status(&w.status)?,
        run_id: w.run_id,
        experiment_id: w.experiment_id,
        run_name: w.run_name,
        start_time: w.start_time,
        end_time: w.end_time,
        lifecycle_stage: w.lifecycle_stage,
        artifact_uri: w.artifact_uri,
    })
}

fn experiment_info(w: wire::Experiment) -> ExperimentInfo {
    ExperimentInfo {
        experiment_id: w.experiment_id,
        name: w.name,
        lifecycle_stage: w.lifecycle_stage,
        artifact_location: w.artifact_location,
        creation_time: w.creation_time.unwrap_or(0),
    }
}

fn version_info(w: wire::ModelVersion) -> Result<ModelVersionInfo> {
    Ok(ModelVersionInfo {
        version: u64::try_from(w.version).map_err(|_| Error::Reply {
            endpoint: "model-versions".into(),
            reason: format!("negative version {}", w.version),
        })?,
        name: w.name,
        source: w.source,
        run_id: w.run_id,
        creation_timestamp: w.creation_timestamp.unwrap_or(0),
        aliases: w.aliases,
    })
}

fn non_empty(token: Option<String>) -> Option<String> {
    token.filter(|t| !t.is_empty())
}

/// Where a run's artifacts are, as this client reaches them.
#[derive(Debug, Clone)]
enum ArtifactLocation {
    /// Through the server's `mlflow-artifacts` API, below this path.
    Proxied(String),
    /// A directory on this machine (the server's `--default-artifact-root`
    /// or `--artifacts-destination` on a shared filesystem).
    Local(PathBuf),
    /// An S3-compatible bucket (`s3://`), reached directly.
    #[cfg(feature = "s3")]
    S3(crate::s3::S3Location),
}

/// The largest reply body read (1 GiB: an artifact download).
const MAX_REPLY_BYTES: u64 = 1 << 30;

/// Why one attempt failed.
#[derive(Debug)]
enum Failure {
    /// The server did not answer (or connect, or take the body) in time.
    Timeout(String),
    /// Any other transport failure.
    Other(String),
}

impl From<ureq::Error> for Failure {
    fn from(e: ureq::Error) -> Self {
        match e {
            ureq::Error::Timeout(phase) => Failure::Timeout(match phase {
                ureq::Timeout::Connect | ureq::Timeout::Resolve => "did not accept a connection".to_string(),
                ureq::Timeout::SendRequest | ureq::Timeout::SendBody => "did not take the request".to_string(),
                ureq::Timeout::RecvBody => "did not finish its reply".to_string(),
                _ => "did not answer".to_string(),
            }),
            other => Failure::Other(other.to_string()),
        }
    }
}

/// A duration in seconds for a message (`30 s`, `0.5 s`).
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// An HTTP agent with the policy's timeouts.
fn agent_for(retry: &RetryPolicy) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(retry.connect_timeout))
        .timeout_send_request(Some(retry.request_timeout))
        .timeout_send_body(Some(retry.request_timeout))
        .timeout_recv_response(Some(retry.request_timeout))
        .timeout_recv_body(Some(retry.request_timeout))
        .build()
        .into()
}

impl MlflowRestClient {
    /// A client for the server at `base` (`http://host:port`). Credentials
    /// come from `MLFLOW_TRACKING_TOKEN` (bearer) or
    /// `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` (basic), as
    /// MLflow's clients read them.
    ///
    /// Timeouts and retries are [`RetryPolicy::from_env`]'s; a variable set
    /// to something that is not a number leaves the defaults (see
    /// [`MlflowRestClient::from_env`] to be told instead).
    pub fn new(base: &str) -> Self {
        Self::with_policy(base, RetryPolicy::from_env().unwrap_or_default())
    }

    /// The client for `base` with this policy and the environment's credentials.
    fn with_policy(base: &str, retry: RetryPolicy) -> Self {
        let auth = std::env::var("MLFLOW_TRACKING_TOKEN")
            .ok()
            .map(|t| format!("Bearer {t}"))
            .or_else(|| {
                let user = std::env::var("MLFLOW_TRACKING_USERNAME").ok()?;
                let pass = std::env::var("MLFLOW_TRACKING_PASSWORD").unwrap_or_default();
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
                ))
            });
        Self {
            base: base.trim_end_matches('/').to_string(),
            agent: agent_for(&retry),
            retry,
            auth,
            artifact_locations: Mutex::new(HashMap::new()),
            #[cfg(feature = "s3")]
            s3: None,
        }
    }

    /// Reach `s3://` artifact locations with this configuration instead of
    /// the environment's ([`crate::S3Config::from_env`]).
    #[cfg(feature = "s3")]
    pub fn with_s3(mut self, config: crate::S3Config) -> Self {
        self.s3 = Some(config);
        self
    }

    /// A client for the server at `base`, refusing malformed
    /// `MLFLOW_HTTP_REQUEST_*` settings.
    ///
    /// # Errors
    /// As [`RetryPolicy::from_env`].
    pub fn from_env(base: &str) -> Result<Self> {
        Ok(Self::with_policy(base, RetryPolicy::from_env()?))
    }

    /// Replace the retry policy (and the timeouts it carries).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.agent = agent_for(&retry);
        self.retry = retry;
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        json_body: bool,
    ) -> Result<(u16, Vec<u8>)> {
        let started = std::time::Instant::now();
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 1;
        loop {
            let result = self.send_once(method, url, query, body.as_deref(), json_body);
            if let Err(Failure::Timeout(what)) = &result {
                return Err(Error::NoAnswer {
                    server: self.base.clone(),
                    waited: format!("{what} within {}", seconds(self.retry.request_timeout)),
                });
            }
            let retryable = match &result {
                Ok((status, _)) => matches!(status, 429 | 500 | 502 | 503 | 504),
                Err(_) => true,
            };
            let out_of_time = started.elapsed() + backoff >= self.retry.total;
            if !retryable || attempt >= self.retry.max_attempts.max(1) || out_of_time {
                return result.map_err(|f| Error::Transport {
                    url: url.to_string(),
                    reason: match f {
                        Failure::Timeout(what) | Failure::Other(what) => what,
                    },
                });
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(self.retry.max_backoff);
            attempt += 1;
        }
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        query: &[(&str, String)],
        body: Option<&[u8]>,
        json_body: bool,
    ) -> std::result::Result<(u16, Vec<u8>), Failure> {
        let with_headers = |mut r: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
            for (k, v) in query {
                r = r.query(*k, v);
            }
            if let Some(a) = &self.auth {
                r = r.header("Authorization", a);
            }
            r
        };
        let with_body_headers = |mut r: ureq::RequestBuilder<ureq::typestate::WithBody>| {
            for (k, v) in query {
                r = r.query(*k, v);
            }
            if let Some(a) = &self.auth {
                r = r.header("Authorization", a);
            }
            let ct = if json_body {
                "application/json"
            } else {
                "application/octet-stream"
            };
            r.header("Content-Type", ct)
        };
        let response = match method {
            "GET" => with_headers(self.agent.get(url)).call(),
            "POST" => with_body_headers(self.agent.post(url)).send(body.unwrap_or_default()),
            "PUT" => with_body_headers(self.agent.put(url)).send(body.unwrap_or_default()),
            "PATCH" => with_body_headers(self.agent.patch(url)).send(body.unwrap_or_default()),
            "DELETE" => with_headers(self.agent.delete(url)).call(),
            other => return Err(Failure::Other(format!("unsupported method {other}"))),
        };
        let mut response = response.map_err(Failure::from)?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_vec()
            .map_err(Failure::from)?;
        Ok((status, bytes))
    }

    /// The reply's JSON, or the server's error. A successful reply that is
    /// not JSON (a proxy's page, a truncated body) is [`Error::Reply`].
    fn check(url: &str, status: u16, bytes: &[u8]) -> Result<Value> {
        let parsed: Option<Value> = if bytes.is_empty() {
            Some(json!({}))
        } else {
            serde_json::from_slice(bytes).ok()
        };
        if status < 400 && parsed.is_none() {
            let shown: String = String::from_utf8_lossy(bytes)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(120)
                .collect();
            return Err(Error::Reply {
                endpoint: format!("{url}, HTTP {status}"),
                reason: format!("not JSON: {shown}"),
            });
        }
        let value = parsed.unwrap_or_else(|| json!({"message": String::from_utf8_lossy(bytes)}));
        if status >= 400 {
            return Err(Error::Server {
                status,
                error_code: value["error_code"].as_str().unwrap_or("INTERNAL_ERROR").to_string(),
                message: value["message"]
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string),
            });
        }
        Ok(value)
    }

    fn api(&self, method: &str, endpoint: &str, query: &[(&str, String)], body: Option<&Value>) -> Result<Value> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.base);
        let bytes = body.map(serde_json::to_vec).transpose().map_err(|e| Error::Reply {
            endpoint: endpoint.into(),
            reason: format!("encoding the request: {e}"),
        })?;
        let (status, out) = self.send(method, &url, query, bytes, true)?;
        Self::check(&url, status, &out)
    }

    /// A request whose reply is parsed into `T`: a reply that lacks a field
    /// MLflow always sends, or has one of the wrong type, is [`Error::Reply`].
    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        endpoint: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T> {
        let value = self.api(method, endpoint, query, body)?;
        serde_json::from_value(value).map_err(|e| Error::Reply {
            endpoint: endpoint.into(),
            reason: e.to_string(),
        })
    }

    /// The id of the experiment of this name, if it exists.
    ///
    /// # Errors
    /// Server or transport failures, a malformed reply.
    pub fn experiment_id(&self, name: &str) -> Result<Option<String>> {
        Ok(self.experiment(name)?.map(|e| e.experiment_id))
    }

    fn experiment(&self, name: &str) -> Result<Option<ExperimentInfo>> {
        match self.call::<wire::GetExperiment>(
            "GET",
            "experiments/get-by-name",
            &[("experiment_name", name.to_string())],
            None,
        ) {
            Ok(v) => Ok(Some(experiment_info(v.experiment))),
            Err(Error::Server { error_code, .. }) if error_code == "RESOURCE_DOES_NOT_EXIST" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The experiment's id, created if missing.
    ///
    /// # Errors
    /// An invalid name, server or transport failures.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        validate::name("experiment name", name)?;
        if let Some(id) = self.experiment_id(name)? {
            return Ok(id);
        }
        match self.call::<wire::CreateExperiment>("POST", "experiments/create", &[], Some(&json!({"name": name}))) {
            Ok(v) => Ok(v.experiment_id),
            // Another client created it first.
            Err(Error::Server { error_code, .. }) if error_code == "RESOURCE_ALREADY_EXISTS" => {
                self.experiment_id(name)?.ok_or_else(|| Error::NotFound {
                    what: "experiment",
                    id: name.into(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Start a run in an experiment given by id.
    ///
    /// # Errors
    /// Server or transport failures.
    pub fn create_run(&self, experiment_id: &str, run_name: Option<&str>) -> Result<RunId> {
        if let Some(n) = run_name {
            validate::name("run name", n)?;
        }
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        let mut tags = vec![
            ("mlflow.user".to_string(), user.clone()),
            (
                "mlflow.source.name".to_string(),
                std::env::args().next().unwrap_or_default(),
            ),
            ("mlflow.source.type".to_string(), "LOCAL".to_string()),
        ];
        let mut body = json!({"experiment_id": experiment_id, "start_time": now_ms(), "user_id": user});
        if let Some(n) = run_name {
            body["run_name"] = json!(n);
            tags.push(("mlflow.runName".into(), n.to_string()));
        }
        body["tags"] = Value::Array(kv(&tags));
        let v: wire::GetRun = self.call("POST", "runs/create", &[], Some(&body))?;
        Ok(RunId(v.run.info.run_id))
    }

    /// Log metrics, params and tags in as few `log-batch` requests as the
    /// server's limits allow (1000 metrics, 100 params, 100 tags, 1000
    /// entities per request).
    ///
    /// # Errors
    /// Invalid keys or values (checked before anything is sent), server or
    /// transport failures.
    pub fn log_batch(
        &self,
        run: &RunId,
        metrics: &[MetricPoint],
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<()> {
        for m in metrics {
            validate::key("metric key", &m.key)?;
        }
        for (k, v) in params {
            validate::key("param key", k)?;
            validate::value("param value", v, validate::MAX_PARAM_VAL_LENGTH)?;
        }
        for (k, v) in tags {
            validate::key("tag key", k)?;
            validate::value("tag value", v, validate::MAX_TAG_VAL_LENGTH)?;
        }
        let (mut m, mut p, mut t) = (metrics, params, tags);
        while !m.is_empty() || !p.is_empty() || !t.is_empty() {
            let np = p.len().min(validate::MAX_PARAMS_TAGS_PER_BATCH);
            let nt = t.len().min(validate::MAX_PARAMS_TAGS_PER_BATCH);
            let nm = m.len().min(validate::MAX_METRICS_PER_BATCH - np - nt);
            let body = json!({
                "run_id": run.0,
                "metrics": m[..nm].iter().map(|x| json!({"key": x.key, "value": metric_value(x.value), "timestamp": x.timestamp_ms, "step": x.step})).collect::<Vec<_>>(),
                "params": kv(&p[..np]),
                "tags": kv(&t[..nt]),
            });
            self.api("POST", "runs/log-batch", &[], Some(&body))?;
            (m, p, t) = (&m[nm..], &p[np..], &t[nt..]);
        }
        Ok(())
    }

    /// Set a run's status and end time.
    ///
    /// # Errors
    /// Server or transport failures.
    pub fn update_run(&self, run: &RunId, status: RunStatus) -> Result<()> {
        let mut body = json!({"run_id": run.0, "status": status_name(status)});
        if status != RunStatus::Running {
            body["end_time"] = json!(now_ms());
        }
        self.api("POST", "runs/update", &[], Some(&body)).map(drop)
    }

    fn run_wire(&self, run_id: &str) -> Result<wire::Run> {
        validate::id("run id", run_id)?;
        Ok(self
            .call::<wire::GetRun>("GET", "runs/get", &[("run_id", run_id.to_string())], None)?
            .run)
    }

    /// A run with its params, tags and full metric histories.
    ///
    /// # Errors
    /// An unknown run (`RESOURCE_DOES_NOT_EXIST`), server or transport
    /// failures, a malformed reply.
    pub fn get_run(&self, run_id: &str) -> Result<RunRecord> {
        let run = self.run_wire(run_id)?;
        let pairs =
            |v: Vec<wire::KeyValue>| -> BTreeMap<String, String> { v.into_iter().map(|e| (e.key, e.value)).collect() };
        let mut metrics = BTreeMap::new();
        for m in &run.data.metrics {
            metrics.insert(m.key.clone(), self.metric_history(run_id, &m.key)?);
        }
        Ok(RunRecord {
            info: run_info(run.info)?,
            params: pairs(run.data.params),
            tags: pairs(run.data.tags),
            metrics,
        })
    }

    /// Every value of a metric, following the server's pages.
    ///
    /// # Errors
    /// Server or transport failures, a malformed reply.
    pub fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![
                ("run_id", run_id.to_string()),
                ("metric_key", key.to_string()),
                ("max_results", "25000".to_string()),
            ];
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let v: wire::MetricHistory = self.call("GET", "metrics/get-history", &q, None)?;
            out.extend(v.metrics.into_iter().map(|m| MetricPoint {
                key: key.to_string(),
                value: m.value,
                step: m.step,
                timestamp_ms: m.timestamp,
            }));
            match non_empty(v.next_page_token) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }

    /// Runs of experiments matching an MLflow filter string (empty: all).
    ///
    /// # Errors
    /// Server or transport failures, a malformed reply.
    pub fn search_runs(&self, experiment_ids: &[String], filter: &str) -> Result<Vec<RunInfo>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"experiment_ids": experiment_ids, "filter": filter, "max_results": 1000});
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v: wire::SearchRuns = self.call("POST", "runs/search", &[], Some(&body))?;
            for r in v.runs {
                out.push(run_info(r.info)?);
            }
            match non_empty(v.next_page_token) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }

    /// Active experiments, following the server's pages.
    ///
    /// # Errors
    /// Server or transport failures, a malformed reply.
    pub fn search_experiments(&self) -> Result<Vec<ExperimentInfo>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"max_results": 1000, "view_type": "ACTIVE_ONLY"});
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v: wire::SearchExperiments = self.call("POST", "experiments/search", &[], Some(&body))?;
            out.extend(v.experiments.into_iter().map(experiment_info));
            match non_empty(v.next_page_token) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort_by(|a, b| {
            a.creation_time
                .cmp(&b.creation_time)
                .then(a.experiment_id.cmp(&b.experiment_id))
        });
        Ok(out)
    }

    /// Where a run's artifacts are: proxied by the server
    /// (`mlflow-artifacts:`), a local directory (a plain path or `file:`
    /// URI, as a server started with `--default-artifact-root DIR` hands
    /// out), or with the `s3` feature an S3-compatible bucket (`s3://`,
    /// configured from the environment as MLflow's client is); any other
    /// scheme is [`Error::UnsupportedUri`] naming it.
    fn artifact_location(&self, run_id: &str) -> Result<ArtifactLocation> {
        if let Some(known) = self.artifact_locations.lock().ok().and_then(|m| m.get(run_id).cloned()) {
            return Ok(known);
        }
        let location = self.lookup_artifact_location(run_id)?;
        if let Ok(mut m) = self.artifact_locations.lock() {
            m.insert(run_id.to_string(), location.clone());
        }
        Ok(location)
    }

    fn lookup_artifact_location(&self, run_id: &str) -> Result<ArtifactLocation> {
        let info = self.run_wire(run_id)?.info;
        let uri = info.artifact_uri;
        if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
            // mlflow-artifacts:/path or mlflow-artifacts://host:port/path
            let path = match rest.strip_prefix("//") {
                Some(authority_and_path) => authority_and_path.split_once('/').map_or("", |(_, p)| p).to_string(),
                None => rest.trim_start_matches('/').to_string(),
            };
            return Ok(ArtifactLocation::Proxied(path));
        }
        if let Some(root) = local_artifact_root(&uri) {
            return Ok(ArtifactLocation::Local(root));
        }
        #[cfg(feature = "s3")]
        if uri.starts_with("s3://") {
            let config = self.s3.clone().unwrap_or_else(crate::S3Config::from_env);
            return Ok(ArtifactLocation::S3(crate::s3::S3Location::from_uri(&uri, &config)?));
        }
        let scheme = uri.split_once("://").map_or(uri.as_str(), |(s, _)| s);
        let supported = if cfg!(feature = "s3") {
            "artifacts are read through the server's proxy, from a local directory or from S3"
        } else {
            "artifacts are read through the server's proxy or from a local directory (S3 needs ml-track's `s3` feature)"
        };
        Err(Error::UnsupportedUri(format!(
            "{uri} (run {run_id}'s artifacts: the '{scheme}' scheme is not supported; {supported})"
        )))
    }

    fn proxied_url(&self, root: &str, path: &str) -> String {
        let full = join_artifact_path(root, path.trim_matches('/'));
        format!("{}/api/2.0/mlflow-artifacts/artifacts/{full}", self.base)
    }

    /// Upload an artifact: through the server's `mlflow-artifacts` API, or
    /// into the run's artifact directory when that is local.
    ///
    /// # Errors
    /// An artifact location this client cannot reach, server or transport
    /// failures, I/O failures on a local directory.
    pub fn upload_artifact(&self, run: &RunId, path: &str, contents: &[u8]) -> Result<()> {
        validate::artifact_path(path)?;
        match self.artifact_location(&run.0)? {
            ArtifactLocation::Proxied(root) => {
                let url = self.proxied_url(&root, path);
                let (status, out) = self.send("PUT", &url, &[], Some(contents.to_vec()), false)?;
                Self::check(&url, status, &out).map(drop)
            }
            ArtifactLocation::Local(root) => {
                let target = root.join(path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
                }
                Ok(ml_core::io::write_atomic(&target, contents)?)
            }
            #[cfg(feature = "s3")]
            ArtifactLocation::S3(bucket) => bucket.put(path, contents),
        }
    }

    /// Download an artifact file.
    ///
    /// # Errors
    /// As [`MlflowRestClient::upload_artifact`]; a missing file.
    pub fn download_artifact(&self, run: &RunId, path: &str) -> Result<Vec<u8>> {
        validate::artifact_path(path)?;
        match self.artifact_location(&run.0)? {
            ArtifactLocation::Proxied(root) => {
                let url = self.proxied_url(&root, path);
                let (status, out) = self.send("GET", &url, &[], None, false)?;
                if status >= 400 {
                    return Self::check(&url, status, &out).map(|_| Vec::new());
                }
                Ok(out)
            }
            ArtifactLocation::Local(root) => read_local(&root, path),
            #[cfg(feature = "s3")]
            ArtifactLocation::S3(bucket) => bucket.get(path, crate::read::MAX_DOWNLOAD_BYTES),
        }
    }

    /// The entries directly below an artifact directory of a run.
    ///
    /// # Errors
    /// As [`MlflowRestClient::upload_artifact`]; a malformed reply.
    pub fn list_artifacts(&self, run: &RunId, path: &str) -> Result<Vec<ArtifactEntry>> {
        let path = path.trim_matches('/');
        if !path.is_empty() {
            validate::artifact_path(path)?;
        }
        match self.artifact_location(&run.0)? {
            ArtifactLocation::Proxied(root) => {
                let dir = join_artifact_path(&root, path);
                let url = format!("{}/api/2.0/mlflow-artifacts/artifacts", self.base);
                let (status, out) = self.send("GET", &url, &[("path", dir)], None, false)?;
                let value = Self::check(&url, status, &out)?;
                let listing: wire::ListArtifacts = serde_json::from_value(value).map_err(|e| Error::Reply {
                    endpoint: "mlflow-artifacts/artifacts".into(),
                    reason: e.to_string(),
                })?;
                let mut entries = Vec::new();
                for f in listing.files {
                    // The server names entries relative to the listed directory.
                    let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
                    if name.is_empty() || name == "." || name == ".." {
                        return Err(Error::Reply {
                            endpoint: "mlflow-artifacts/artifacts".into(),
                            reason: format!("bad entry '{}'", f.path),
                        });
                    }
                    entries.push(ArtifactEntry {
                        path: join_artifact_path(path, &name),
                        is_dir: f.is_dir,
                        file_size: f.file_size.and_then(|s| u64::try_from(s).ok()),
                    });
                }
                entries.sort_by(|a, b| a.path.cmp(&b.path));
                Ok(entries)
            }
            ArtifactLocation::Local(root) => list_local(&root, path),
            #[cfg(feature = "s3")]
            ArtifactLocation::S3(bucket) => bucket.list(path),
        }
    }

    /// Register `runs:/<run>/<artifact_path>` as a new version of `name`
    /// (the registered model is created if missing).
    ///
    /// # Errors
    /// Server or transport failures, a malformed reply.
    pub fn register_model(&self, name: &str, run: &RunId, artifact_path: &str) -> Result<ModelVersionInfo> {
        validate::artifact_path(artifact_path)?;
        match self.api("POST", "registered-models/create", &[], Some(&json!({"name": name}))) {
            Ok(_) => {}
            Err(Error::Server { error_code, .. }) if error_code == "RESOURCE_ALREADY_EXISTS" => {}
            Err(e) => return Err(e),
        }
        let source = format!("runs:/{}/{artifact_path}", run.0);
        let v: wire::OneModelVersion = self.call(
            "POST",
            "model-versions/create",
            &[],
            Some(&json!({"name": name, "source": source, "run_id": run.0})),
        )?;
        version_info(v.model_version)
    }

    /// Registered model names, sorted.
    ///
    /// # Errors
    /// Server or transport failures, a malformed reply.
    pub fn registered_models(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![("max_results", "1000".to_string())];
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let v: wire::SearchRegisteredModels = self.call("GET", "registered-models/search", &q, None)?;
            out.extend(v.registered_models.into_iter().map(|m| m.name));
            match non_empty(v.next_page_token) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort();
        Ok(out)
    }

    /// The versions of a registered model, oldest first.
    ///
    /// # Errors
    /// An unknown model ([`Error::NotFound`]), server or transport
    /// failures, a malformed reply.
    pub fn model_versions(&self, name: &str) -> Result<Vec<ModelVersionInfo>> {
        // The search below answers an empty list for an unknown name.
        match self.api("GET", "registered-models/get", &[("name", name.to_string())], None) {
            Ok(_) => {}
            Err(Error::Server { error_code, .. }) if error_code == "RESOURCE_DOES_NOT_EXIST" => {
                return Err(Error::NotFound {
                    what: "registered model",
                    id: name.into(),
                });
            }
            Err(e) => return Err(e),
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![
                ("filter", format!("name='{}'", name.replace('\'', "\\'"))),
                ("max_results", "1000".to_string()),
            ];
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let v: wire::SearchModelVersions = self.call("GET", "model-versions/search", &q, None)?;
            for m in v.model_versions {
                out.push(version_info(m)?);
            }
            match non_empty(v.next_page_token) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort_by_key(|v| v.version);
        Ok(out)
    }

    /// Point an alias at a version.
    ///
    /// # Errors
    /// Server or transport failures.
    pub fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        self.api(
            "POST",
            "registered-models/alias",
            &[],
            Some(&json!({"name": name, "alias": alias, "version": version.to_string()})),
        )
        .map(drop)
    }

    /// Remove an alias.
    ///
    /// # Errors
    /// Server or transport failures.
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.api(
            "DELETE",
            "registered-models/alias",
            &[("name", name.to_string()), ("alias", alias.to_string())],
            None,
        )
        .map(drop)
    }

    /// The version an alias points at; `latest` is the newest version.
    ///
    /// # Errors
    /// Server or transport failures, a malformed reply.
    pub fn resolve_alias(&self, name: &str, alias: &str) -> Result<ModelVersionInfo> {
        if alias.eq_ignore_ascii_case("latest") {
            return self.model_versions(name)?.pop().ok_or_else(|| Error::NotFound {
                what: "model alias",
                id: format!("{name}@{alias}"),
            });
        }
        let v: wire::OneModelVersion = self.call(
            "GET",
            "registered-models/alias",
            &[("name", name.to_string()), ("alias", alias.to_string())],
            None,
        )?;
        version_info(v.model_version)
    }
}

impl TrackingStore for MlflowRestClient {
    fn tracking_uri(&self) -> String {
        self.base.clone()
    }

    fn experiments(&self) -> Result<Vec<ExperimentInfo>> {
        self.search_experiments()
    }

    fn experiment_by_name(&self, name: &str) -> Result<Option<ExperimentInfo>> {
        Ok(self.experiment(name)?.filter(|e| e.lifecycle_stage != "deleted"))
    }

    fn runs(&self, experiment_id: &str) -> Result<Vec<RunInfo>> {
        let mut runs = self.search_runs(&[experiment_id.to_string()], "")?;
        runs.sort_by_key(|r| std::cmp::Reverse(r.start_time));
        Ok(runs)
    }

    fn run(&self, run_id: &str) -> Result<RunRecord> {
        self.get_run(run_id)
    }

    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        MlflowRestClient::metric_history(self, run_id, key)
    }

    fn list_artifacts(&self, run_id: &str, path: &str) -> Result<Vec<ArtifactEntry>> {
        MlflowRestClient::list_artifacts(self, &RunId(run_id.to_string()), path)
    }

    fn download_artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>> {
        MlflowRestClient::download_artifact(self, &RunId(run_id.to_string()), path)
    }

    fn local_artifact_path(&self, run_id: &str, path: &str) -> Result<Option<PathBuf>> {
        Ok(match self.artifact_location(run_id)? {
            ArtifactLocation::Local(root) => Some(crate::read::confined(&root, path)?),
            ArtifactLocation::Proxied(_) => None,
            #[cfg(feature = "s3")]
            ArtifactLocation::S3(_) => None,
        })
    }

    fn registered_models(&self) -> Result<Vec<String>> {
        MlflowRestClient::registered_models(self)
    }

    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersionInfo>> {
        MlflowRestClient::model_versions(self, name)
    }

    fn register_model(&self, name: &str, run: &RunId, artifact_path: &str) -> Result<ModelVersionInfo> {
        MlflowRestClient::register_model(self, name, run, artifact_path)
    }

    fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        MlflowRestClient::set_alias(self, name, alias, version)
    }

    fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        MlflowRestClient::delete_alias(self, name, alias)
    }

    fn resolve_alias(&self, name: &str, alias: &str) -> Result<ModelVersionInfo> {
        MlflowRestClient::resolve_alias(self, name, alias)
    }
}

impl Tracker for MlflowRestClient {
    fn start_run(&self, experiment: &str, run_name: Option<&str>) -> ml_core::Result<RunId> {
        let id = self.get_or_create_experiment(experiment)?;
        Ok(self.create_run(&id, run_name)?)
    }

    fn log_params(&self, run: &RunId, params: &[(String, String)]) -> ml_core::Result<()> {
        Ok(self.log_batch(run, &[], params, &[])?)
    }

    fn log_metrics(&self, run: &RunId, metrics: &[MetricPoint]) -> ml_core::Result<()> {
        Ok(self.log_batch(run, metrics, &[], &[])?)
    }

    fn set_tags(&self, run: &RunId, tags: &[(String, String)]) -> ml_core::Result<()> {
        Ok(self.log_batch(run, &[], &[], tags)?)
    }

    fn log_artifact(&self, run: &RunId, path: &str, contents: &[u8]) -> ml_core::Result<()> {
        Ok(self.upload_artifact(run, path, contents)?)
    }

    fn end_run(&self, run: &RunId, status: RunStatus) -> ml_core::Result<()> {
        Ok(self.update_run(run, status)?)
    }
}
