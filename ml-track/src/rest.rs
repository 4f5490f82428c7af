//! [`MlflowRestClient`]: the scale-out back end, speaking MLflow's REST API
//! (`/api/2.0/mlflow/...`) to a tracking server, with artifacts through the
//! server's `mlflow-artifacts` API.
//!
//! Requests that fail in transit or with 429/5xx are retried with exponential
//! backoff. Retrying never duplicates a value: a batch is built once (its
//! timestamps fixed) and resent unchanged, and MLflow's stores keep one copy of
//! a metric with the same key, value, timestamp and step, accept a param
//! re-logged with the same value, and overwrite tags.

use std::collections::BTreeMap;
use std::time::Duration;

use ml_core::{MetricPoint, RunId, RunStatus, Tracker};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::registry::ModelVersionInfo;
use crate::store::{RunInfo, RunRecord, now_ms};
use crate::validate;

/// How failed requests are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (>= 1).
    pub max_attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// A client of an MLflow tracking server.
#[derive(Debug)]
pub struct MlflowRestClient {
    base: String,
    agent: ureq::Agent,
    retry: RetryPolicy,
    auth: Option<String>,
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

fn parse_value(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => match s.as_str() {
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or(f64::NAN),
        },
        _ => f64::NAN,
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

fn string(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

impl MlflowRestClient {
    /// A client for the server at `base` (`http://host:port`). Credentials
    /// come from `MLFLOW_TRACKING_TOKEN` (bearer) or
    /// `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` (basic), as
    /// MLflow's clients read them.
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let auth = std::env::var("MLFLOW_TRACKING_TOKEN")
            .ok()
            .map(|t| format!("Bearer {t}"))
            .or_else(|| {
                let user = std::env::var("MLFLOW_TRACKING_USERNAME").ok()?;
                let pass = std::env::var("MLFLOW_TRACKING_PASSWORD").unwrap_or_default();
                Some(format!("Basic {}", base64(format!("{user}:{pass}").as_bytes())))
            });
        Self {
            base: base.trim_end_matches('/').to_string(),
            agent,
            retry: RetryPolicy::default(),
            auth,
        }
    }

    /// Replace the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
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
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 1;
        loop {
            let result = self.send_once(method, url, query, body.as_deref(), json_body);
            let retryable = match &result {
                Ok((status, _)) => matches!(status, 429 | 500 | 502 | 503 | 504),
                Err(_) => true,
            };
            if !retryable || attempt >= self.retry.max_attempts.max(1) {
                return result.map_err(|reason| Error::Transport {
                    url: url.to_string(),
                    reason,
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
    ) -> std::result::Result<(u16, Vec<u8>), String> {
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
            other => return Err(format!("unsupported method {other}")),
        };
        let mut response = response.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(|e| e.to_string())?;
        Ok((status, bytes))
    }

    fn check(status: u16, bytes: &[u8]) -> Result<Value> {
        let value: Value = if bytes.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(bytes).unwrap_or_else(|_| json!({"message": String::from_utf8_lossy(bytes)}))
        };
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
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let (status, out) = self.send(method, &url, query, bytes, true)?;
        Self::check(status, &out)
    }

    /// The id of the experiment of this name, if it exists.
    ///
    /// # Errors
    /// Server or transport failures.
    pub fn experiment_id(&self, name: &str) -> Result<Option<String>> {
        match self.api(
            "GET",
            "experiments/get-by-name",
            &[("experiment_name", name.to_string())],
            None,
        ) {
            Ok(v) => Ok(Some(string(&v["experiment"]["experiment_id"]))),
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
        match self.api("POST", "experiments/create", &[], Some(&json!({"name": name}))) {
            Ok(v) => Ok(string(&v["experiment_id"])),
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
        let v = self.api("POST", "runs/create", &[], Some(&body))?;
        Ok(RunId(string(&v["run"]["info"]["run_id"])))
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

    fn run_info(v: &Value) -> RunInfo {
        let status = match v["status"].as_str().unwrap_or("RUNNING") {
            "FINISHED" => RunStatus::Finished,
            "FAILED" => RunStatus::Failed,
            "KILLED" => RunStatus::Killed,
            _ => RunStatus::Running,
        };
        RunInfo {
            run_id: string(&v["run_id"]),
            experiment_id: string(&v["experiment_id"]),
            run_name: string(&v["run_name"]),
            status,
            start_time: int(&v["start_time"]),
            end_time: v.get("end_time").map(int),
            lifecycle_stage: string(&v["lifecycle_stage"]),
            artifact_uri: string(&v["artifact_uri"]),
        }
    }

    /// A run with its params, tags and full metric histories.
    ///
    /// # Errors
    /// An unknown run (`RESOURCE_DOES_NOT_EXIST`), server or transport failures.
    pub fn get_run(&self, run_id: &str) -> Result<RunRecord> {
        let v = self.api("GET", "runs/get", &[("run_id", run_id.to_string())], None)?;
        let run = &v["run"];
        let pairs = |key: &str| -> BTreeMap<String, String> {
            run["data"][key]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| (string(&e["key"]), string(&e["value"])))
                .collect()
        };
        let mut metrics = BTreeMap::new();
        for m in run["data"]["metrics"].as_array().into_iter().flatten() {
            let key = string(&m["key"]);
            metrics.insert(key.clone(), self.metric_history(run_id, &key)?);
        }
        Ok(RunRecord {
            info: Self::run_info(&run["info"]),
            params: pairs("params"),
            tags: pairs("tags"),
            metrics,
        })
    }

    /// Every value of a metric, following the server's pages.
    ///
    /// # Errors
    /// Server or transport failures.
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
            let v = self.api("GET", "metrics/get-history", &q, None)?;
            for m in v["metrics"].as_array().into_iter().flatten() {
                out.push(MetricPoint {
                    key: key.to_string(),
                    value: parse_value(&m["value"]),
                    step: int(&m["step"]),
                    timestamp_ms: int(&m["timestamp"]),
                });
            }
            match v["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Runs of experiments matching an MLflow filter string (empty: all).
    ///
    /// # Errors
    /// Server or transport failures.
    pub fn search_runs(&self, experiment_ids: &[String], filter: &str) -> Result<Vec<RunInfo>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"experiment_ids": experiment_ids, "filter": filter, "max_results": 1000});
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = self.api("POST", "runs/search", &[], Some(&body))?;
            out.extend(
                v["runs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| Self::run_info(&r["info"])),
            );
            match v["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    fn artifact_url(&self, run: &RunId, path: &str) -> Result<String> {
        validate::artifact_path(path)?;
        let info = Self::run_info(&self.api("GET", "runs/get", &[("run_id", run.0.clone())], None)?["run"]["info"]);
        let rest = info.artifact_uri.strip_prefix("mlflow-artifacts:").ok_or_else(|| {
            Error::UnsupportedUri(format!(
                "{} (artifacts need a server started with artifact serving)",
                info.artifact_uri
            ))
        })?;
        Ok(format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}/{path}",
            self.base,
            rest.trim_start_matches('/')
        ))
    }

    /// Upload an artifact through the server (`mlflow-artifacts` API).
    ///
    /// # Errors
    /// A run whose artifacts the server does not serve, server or transport failures.
    pub fn upload_artifact(&self, run: &RunId, path: &str, contents: &[u8]) -> Result<()> {
        let url = self.artifact_url(run, path)?;
        let (status, out) = self.send("PUT", &url, &[], Some(contents.to_vec()), false)?;
        Self::check(status, &out).map(drop)
    }

    /// Download an artifact through the server.
    ///
    /// # Errors
    /// As [`MlflowRestClient::upload_artifact`].
    pub fn download_artifact(&self, run: &RunId, path: &str) -> Result<Vec<u8>> {
        let url = self.artifact_url(run, path)?;
        let (status, out) = self.send("GET", &url, &[], None, false)?;
        if status >= 400 {
            return Self::check(status, &out).map(|_| Vec::new());
        }
        Ok(out)
    }

    /// Register `runs:/<run>/<artifact_path>` as a new version of `name`
    /// (the registered model is created if missing).
    ///
    /// # Errors
    /// Server or transport failures.
    pub fn register_model(&self, name: &str, run: &RunId, artifact_path: &str) -> Result<ModelVersionInfo> {
        match self.api("POST", "registered-models/create", &[], Some(&json!({"name": name}))) {
            Ok(_) => {}
            Err(Error::Server { error_code, .. }) if error_code == "RESOURCE_ALREADY_EXISTS" => {}
            Err(e) => return Err(e),
        }
        let source = format!("runs:/{}/{artifact_path}", run.0);
        let v = self.api(
            "POST",
            "model-versions/create",
            &[],
            Some(&json!({"name": name, "source": source, "run_id": run.0})),
        )?;
        Ok(Self::version_info(&v["model_version"]))
    }

    fn version_info(v: &Value) -> ModelVersionInfo {
        ModelVersionInfo {
            name: string(&v["name"]),
            version: int(&v["version"]) as u64,
            source: string(&v["source"]),
            run_id: string(&v["run_id"]),
            creation_timestamp: int(&v["creation_timestamp"]),
            aliases: v["aliases"].as_array().into_iter().flatten().map(string).collect(),
        }
    }

    /// The versions of a registered model, oldest first.
    ///
    /// # Errors
    /// Server or transport failures.
    pub fn model_versions(&self, name: &str) -> Result<Vec<ModelVersionInfo>> {
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
            let v = self.api("GET", "model-versions/search", &q, None)?;
            out.extend(
                v["model_versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(Self::version_info),
            );
            match v["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
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

    /// The version an alias points at.
    ///
    /// # Errors
    /// Server or transport failures.
    pub fn resolve_alias(&self, name: &str, alias: &str) -> Result<ModelVersionInfo> {
        let v = self.api(
            "GET",
            "registered-models/alias",
            &[("name", name.to_string()), ("alias", alias.to_string())],
            None,
        )?;
        Ok(Self::version_info(&v["model_version"]))
    }
}

/// Standard base64, for basic authentication.
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(input.as_bytes()), want);
        }
    }
}
