//! The HTTP server: Open Inference Protocol v2 routes (KServe's and
//! Triton's, with Triton's binary tensors, configuration, statistics and
//! repository extensions), MLflow's scoring routes, Prometheus metrics.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use ml_core::Predictions;
use ml_core::ndarray::Array2;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::batch::{BatchPolicy, Batcher};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::mlflow;
use crate::repository::{Loaded, Repository};
use crate::tensor::{InferRequest, InferResponse, decode_request, parse_header_length};

/// The request-body limit unless configured: 64 MiB.
pub const DEFAULT_MAX_BODY: usize = 64 << 20;

/// Requests with at most this many input elements run on the async worker;
/// larger ones move to the blocking pool so they do not stall other requests.
const INLINE_ELEMENTS: usize = 16_384;

/// How the server listens and what it allows.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServeConfig {
    /// The address to bind (default 127.0.0.1).
    pub host: IpAddr,
    /// The HTTP port (0 picks a free one; default 8080).
    pub port: u16,
    /// The gRPC port (0 picks a free one; default 8081; `None`: no gRPC).
    pub grpc_port: Option<u16>,
    /// Largest request body, before and after decompression (default 64 MiB).
    pub max_body: usize,
    /// Dynamic batching, off unless set.
    pub batch: Option<BatchPolicy>,
    /// Inference requests served at once; more are answered 503 with `Retry-After`.
    pub max_concurrency: usize,
    /// Open connections at most; further clients wait to be accepted.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (default 10 s).
    pub header_timeout: Duration,
    /// Time a request has from its headers to its response (default 60 s).
    pub request_timeout: Duration,
    /// Time in-flight requests have to finish at shutdown (default 30 s).
    pub drain_timeout: Duration,
    /// The bearer token inference and repository routes require.
    auth_token: Option<String>,
    /// Allow a non-loopback address without a token.
    pub insecure_public: bool,
    /// Async worker threads (default: the machine's cores).
    pub workers: Option<usize>,
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("grpc_port", &self.grpc_port)
            .field("max_body", &self.max_body)
            .field("batch", &self.batch)
            .field("max_concurrency", &self.max_concurrency)
            .field("max_connections", &self.max_connections)
            .field("header_timeout", &self.header_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("drain_timeout", &self.drain_timeout)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<redacted>"))
            .field("insecure_public", &self.insecure_public)
            .field("workers", &self.workers)
            .finish()
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            grpc_port: Some(8081),
            max_body: DEFAULT_MAX_BODY,
            batch: None,
            max_concurrency: 1024,
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
            auth_token: None,
            insecure_public: false,
            workers: None,
        }
    }
}

impl ServeConfig {
    /// Defaults: 127.0.0.1:8080, 64 MiB bodies, no batching, no token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Listen on `host:port` (HTTP), and no gRPC unless [`ServeConfig::grpc`] says so.
    pub fn bind(mut self, host: IpAddr, port: u16) -> Self {
        self.host = host;
        self.port = port;
        self.grpc_port = None;
        self
    }

    /// Also serve gRPC on `port` of the same host (0: a free one).
    pub fn grpc(mut self, port: u16) -> Self {
        self.grpc_port = Some(port);
        self
    }

    /// Merge concurrent requests of a model up to `max_rows` rows or `delay`.
    pub fn batching(mut self, max_rows: usize, delay: Duration) -> Self {
        self.batch = Some(BatchPolicy { max_rows, delay });
        self
    }

    /// Limit request bodies to `bytes` (before and after decompression).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Serve at most `n` inference requests at once.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n;
        self
    }

    /// Give clients `headers` to send a request's headers and `request` from
    /// then to the response.
    pub fn timeouts(mut self, headers: Duration, request: Duration) -> Self {
        self.header_timeout = headers;
        self.request_timeout = request;
        self
    }

    /// Require `Authorization: Bearer <token>` on inference and repository routes.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// Read the token from a file (surrounding whitespace dropped).
    ///
    /// # Errors
    /// An unreadable file, an empty token, one with spaces or control characters.
    pub fn auth_token_file(self, path: &Path) -> Result<Self> {
        let text =
            ml_core::io::read_limited("token file", path, 64 << 10).map_err(|e| Error::bad_request(e.to_string()))?;
        let token = String::from_utf8(text)
            .map_err(|_| Error::bad_request(format!("{}: the token is not UTF-8", path.display())))?;
        let token = token.trim();
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::bad_request(format!(
                "{}: the token must be one word of printable characters",
                path.display()
            )));
        }
        Ok(self.auth_token(token))
    }

    /// Check the settings.
    ///
    /// # Errors
    /// A non-loopback host without a token (unless `insecure_public`), zero
    /// limits, a batch of zero rows.
    pub fn validate(&self) -> Result<()> {
        if !self.host.is_loopback() && self.auth_token.is_none() && !self.insecure_public {
            return Err(Error::bad_request(format!(
                "refusing to serve on {} without --auth-token-file: anyone who reaches it could use the models \
                 (pass --insecure-public to do it anyway)",
                self.host
            )));
        }
        for (what, v) in [
            ("the body limit", self.max_body),
            ("the concurrency limit", self.max_concurrency),
            ("the connection limit", self.max_connections),
        ] {
            if v == 0 {
                return Err(Error::bad_request(format!("{what} must be at least 1")));
            }
        }
        if let Some(b) = self.batch {
            if b.max_rows == 0 {
                return Err(Error::bad_request("--max-batch must be at least 1"));
            }
            if b.delay > Duration::from_secs(10) {
                return Err(Error::bad_request("--batch-delay-us must be at most 10 s"));
            }
        }
        if self.workers == Some(0) {
            return Err(Error::bad_request("workers must be at least 1"));
        }
        Ok(())
    }
}

/// What the HTTP and gRPC front ends share: the models, the settings, the
/// metrics and the in-flight limit.
pub(crate) struct Shared {
    pub(crate) repo: Arc<Repository>,
    pub(crate) config: ServeConfig,
    pub(crate) metrics: Metrics,
    pub(crate) inflight: Arc<Semaphore>,
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(repo: Arc<Repository>, config: ServeConfig, metrics: Metrics) -> Arc<Self> {
        let shared = Arc::new(Shared {
            inflight: Arc::new(Semaphore::new(config.max_concurrency)),
            repo,
            config,
            metrics,
            next_id: AtomicU64::new(1),
        });
        shared.count_models();
        shared
    }

    /// Whether a request's `Authorization` value passes (always, without a token).
    pub(crate) fn authorized(&self, header: Option<&str>) -> bool {
        let Some(token) = &self.config.auth_token else {
            return true;
        };
        header
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes()))
    }

    /// A request's rows through the model (batched or not), then the outputs
    /// the request asks for: the work every front end shares.
    pub(crate) async fn infer(
        &self,
        loaded: &Arc<Loaded>,
        rows: Array2<f64>,
        request: &InferRequest,
    ) -> Result<Inference> {
        let n = rows.nrows() as u64;
        let t = Instant::now();
        let predictions = run_model(self, loaded, rows).await?;
        let compute_ns = t.elapsed().as_nanos() as u64;
        Ok(Inference {
            outputs: loaded.model.output_tensors(&predictions, request)?,
            rows: n,
            compute_ns,
        })
    }

    /// Count a finished inference request, begun at `started`, in the
    /// version's statistics and the metrics: `Ok((rows, model ns))` or the
    /// error status.
    pub(crate) fn record(&self, loaded: &Loaded, started: Instant, outcome: std::result::Result<(u64, u64), u16>) {
        let elapsed = started.elapsed();
        let ns = elapsed.as_nanos() as u64;
        let status = match outcome {
            Ok((rows, compute_ns)) => {
                loaded.stats.record(true, rows, ns, compute_ns);
                200
            }
            Err(status) => {
                loaded.stats.record(false, 0, ns, 0);
                status
            }
        };
        self.metrics
            .observe_request(loaded.model.name(), status, elapsed.as_secs_f64());
    }

    /// Publish the number of model versions loaded (after loads and unloads).
    pub(crate) fn count_models(&self) {
        self.metrics.models_loaded(self.repo.len());
    }

    /// The overload answer: the in-flight limit is reached.
    pub(crate) fn overloaded(&self) -> Error {
        Error::new(
            503,
            format!(
                "the server is serving its limit of {} requests; retry shortly",
                self.config.max_concurrency
            ),
        )
    }
}

/// What one inference made: the outputs, and the rows and model time for
/// the statistics.
pub(crate) struct Inference {
    pub(crate) outputs: Vec<crate::tensor::OutputTensor>,
    pub(crate) rows: u64,
    pub(crate) compute_ns: u64,
}

type AppState = Arc<Shared>;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(status, &json!({ "error": self.message() }))
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The router of a server over `repo` (for embedding in another axum app).
pub fn router(repo: Arc<Repository>, config: ServeConfig, metrics: Metrics) -> Router {
    routes(Shared::new(repo, config, metrics))
}

fn routes(state: AppState) -> Router {
    // Inference and repository routes: token, concurrency limit.
    let guarded = Router::new()
        .route("/v2/models/{model}/infer", post(infer))
        .route("/v2/models/{model}/versions/{version}/infer", post(infer))
        .route("/v2/repository/index", post(repository_index))
        .route("/v2/repository/models/{model}/load", post(repository_load))
        .route("/v2/repository/models/{model}/unload", post(repository_unload))
        .route("/invocations", post(invocations));
    #[cfg(feature = "he")]
    let guarded = guarded
        .route("/v2/models/{model}/encrypted", post(encrypted_infer))
        .route("/v2/models/{model}/versions/{version}/encrypted", post(encrypted_infer));
    let guarded = guarded
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_concurrency))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route("/v2/health/live", get(ok))
        .route("/v2/health/ready", get(ready))
        .route("/v2", get(server_metadata))
        .route("/v2/models/stats", get(all_stats))
        .route("/v2/models/{model}", get(model_metadata))
        .route("/v2/models/{model}/versions/{version}", get(model_metadata))
        .route("/v2/models/{model}/ready", get(model_ready))
        .route("/v2/models/{model}/versions/{version}/ready", get(model_ready))
        .route("/v2/models/{model}/config", get(model_config))
        .route("/v2/models/{model}/versions/{version}/config", get(model_config))
        .route("/v2/models/{model}/stats", get(model_stats))
        .route("/v2/models/{model}/versions/{version}/stats", get(model_stats))
        .route("/ping", get(mlflow_ping))
        .route("/health", get(mlflow_ping))
        .route("/version", get(mlflow_version))
        .route("/metrics", get(metrics_text))
        .merge(guarded)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), timeout_and_log))
        .with_state(state)
}

async fn ok() -> Response {
    StatusCode::OK.into_response()
}

async fn ready(State(s): State<AppState>) -> Response {
    if s.repo.is_empty() {
        Error::new(503, "no model is loaded").into_response()
    } else {
        StatusCode::OK.into_response()
    }
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    Error::not_found(format!(
        "no route {method} {}",
        ml_core::limits::shorten(uri.path(), 100)
    ))
    .into_response()
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    Error::new(
        405,
        format!(
            "{method} is not allowed on {}",
            ml_core::limits::shorten(uri.path(), 100)
        ),
    )
    .into_response()
}

/// The protocol extensions served (Triton's names).
pub(crate) const EXTENSIONS: [&str; 4] = [
    "binary_tensor_data",
    "model_repository",
    "statistics",
    "model_configuration",
];

async fn server_metadata() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "name": "ml-sdk",
            "version": env!("CARGO_PKG_VERSION"),
            "extensions": EXTENSIONS,
        }),
    )
}

fn model_and_version(params: &HashMap<String, String>) -> (&str, Option<&str>) {
    (
        params.get("model").map_or("", String::as_str),
        params.get("version").map(String::as_str),
    )
}

async fn model_metadata(State(s): State<AppState>, UrlPath(p): UrlPath<HashMap<String, String>>) -> Response {
    let (name, version) = model_and_version(&p);
    match s.repo.get(name, version) {
        Ok(loaded) => json_response(StatusCode::OK, &loaded.model.metadata(&s.repo.versions(name))),
        Err(e) => e.into_response(),
    }
}

async fn model_ready(State(s): State<AppState>, UrlPath(p): UrlPath<HashMap<String, String>>) -> Response {
    let (name, version) = model_and_version(&p);
    match s.repo.get(name, version) {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn model_config(State(s): State<AppState>, UrlPath(p): UrlPath<HashMap<String, String>>) -> Response {
    let (name, version) = model_and_version(&p);
    match s.repo.get(name, version) {
        Ok(loaded) => json_response(
            StatusCode::OK,
            &crate::triton::config_json(&loaded.model, s.config.batch.as_ref()),
        ),
        Err(e) => e.into_response(),
    }
}

async fn model_stats(State(s): State<AppState>, UrlPath(p): UrlPath<HashMap<String, String>>) -> Response {
    let (name, version) = model_and_version(&p);
    match s.repo.stats(Some(name), version) {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

async fn all_stats(State(s): State<AppState>) -> Response {
    match s.repo.stats(None, None) {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

async fn repository_index(State(s): State<AppState>) -> Response {
    json_response(StatusCode::OK, &s.repo.index())
}

async fn repository_load(State(s): State<AppState>, UrlPath(p): UrlPath<HashMap<String, String>>) -> Response {
    let name = p.get("model").cloned().unwrap_or_default();
    let repo = s.repo.clone();
    // Loading reads files or a tracking server: off the async workers.
    let done = tokio::task::spawn_blocking(move || repo.reload(&name)).await;
    s.count_models();
    match done {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(_) => Error::internal("loading the model failed").into_response(),
    }
}

async fn repository_unload(State(s): State<AppState>, UrlPath(p): UrlPath<HashMap<String, String>>) -> Response {
    let result = s.repo.unload(p.get("model").map_or("", String::as_str));
    s.count_models();
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn mlflow_ping() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "\n").into_response()
}

async fn mlflow_version() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        env!("CARGO_PKG_VERSION"),
    )
        .into_response()
}

/// Read the whole body within the size limit and undo `Content-Encoding`.
async fn read_body(s: &Shared, headers: &HeaderMap, body: Body) -> Result<Bytes> {
    let max = s.config.max_body;
    let too_large = || {
        Error::new(
            413,
            format!("the request body exceeds {}", ml_core::limits::bytes(max as u64)),
        )
    };
    if let Some(len) = headers.get(header::CONTENT_LENGTH)
        && len
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > max as u64)
    {
        return Err(too_large());
    }
    let raw = http_body_util::Limited::new(body, max)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                Error::bad_request(format!("reading the request body: {e}"))
            }
        })?
        .to_bytes();
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let decoded = match encoding.as_deref() {
        None | Some("" | "identity") => return Ok(raw),
        Some("gzip" | "x-gzip") => inflate(flate2::read::GzDecoder::new(&raw[..]), max),
        // HTTP's deflate is the zlib format; some clients send raw deflate.
        Some("deflate") => inflate(flate2::read::ZlibDecoder::new(&raw[..]), max)
            .or_else(|_| inflate(flate2::read::DeflateDecoder::new(&raw[..]), max)),
        Some(other) => {
            return Err(Error::new(
                415,
                format!(
                    "Content-Encoding '{}' is not supported (gzip, deflate)",
                    ml_core::limits::shorten(other, 40)
                ),
            ));
        }
    }?;
    Ok(Bytes::from(decoded))
}

fn inflate(reader: impl Read, max: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::bad_request(format!("decompressing the request body: {e}")))?;
    if out.len() > max {
        return Err(Error::new(
            413,
            format!(
                "the decompressed request body exceeds {}",
                ml_core::limits::bytes(max as u64)
            ),
        ));
    }
    Ok(out)
}

/// Predict through the model's batch queue, on the blocking pool, or here
/// for small requests.
async fn run_model(s: &Shared, loaded: &Arc<Loaded>, rows: Array2<f64>) -> Result<Predictions> {
    loaded.model.signature().validate_input(rows.view())?;
    if let Some(policy) = s.config.batch {
        let batcher = loaded.batcher.get_or_init(|| {
            Batcher::spawn(
                Arc::downgrade(loaded),
                loaded.model.name().to_string(),
                policy,
                s.metrics.clone(),
            )
        });
        return batcher.predict(rows).await;
    }
    loaded.stats.record_execution();
    s.metrics.observe_batch(loaded.model.name(), rows.nrows());
    if rows.len() <= INLINE_ELEMENTS {
        return loaded.model.predict(rows.view());
    }
    let loaded = loaded.clone();
    tokio::task::spawn_blocking(move || loaded.model.predict(rows.view()))
        .await
        .map_err(|_| Error::internal("the model failed"))?
}

/// The model version a request's path names; a failure is counted in the
/// metrics.
fn requested_model(s: &Shared, p: &HashMap<String, String>) -> Result<Arc<Loaded>> {
    let (name, version) = model_and_version(p);
    s.repo
        .get(name, version)
        .inspect_err(|e| s.metrics.observe_request(name, e.status(), 0.0))
}

async fn infer(
    State(s): State<AppState>,
    UrlPath(p): UrlPath<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let loaded = match requested_model(&s, &p) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let header_length = headers
            .get("inference-header-content-length")
            .map(|v| parse_header_length(v.to_str().unwrap_or("?")))
            .transpose()?;
        let body = read_body(&s, &headers, body).await?;
        let request = decode_request(&body, header_length)?;
        let rows = loaded.model.matrix(&request)?;
        let inference = s.infer(&loaded, rows, &request).await?;
        let counts = (inference.rows, inference.compute_ns);
        let response = InferResponse {
            model_name: loaded.model.name().to_string(),
            model_version: loaded.model.version().to_string(),
            id: request.id,
            outputs: inference.outputs,
        };
        Ok::<_, Error>((counts, response.encode()))
    }
    .await;
    match result {
        Ok((counts, (body, header_length))) => {
            s.record(&loaded, started, Ok(counts));
            match header_length {
                Some(n) => (
                    StatusCode::OK,
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/octet-stream"),
                        ),
                        (
                            header::HeaderName::from_static("inference-header-content-length"),
                            HeaderValue::from(n),
                        ),
                    ],
                    body,
                )
                    .into_response(),
                None => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
            }
        }
        Err(e) => {
            s.record(&loaded, started, Err(e.status()));
            e.into_response()
        }
    }
}

/// Encrypted scoring: the body is an `ml-he` request (the bytes of
/// `mlsdk he encrypt`'s file), the answer the response's bytes. The server
/// never sees a key or a clear value.
#[cfg(feature = "he")]
async fn encrypted_infer(
    State(s): State<AppState>,
    UrlPath(p): UrlPath<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    // The body before any refusal: a client still sending a large request
    // would otherwise see a broken pipe instead of the answer.
    let body = match read_body(&s, &headers, body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let loaded = match requested_model(&s, &p) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let context = loaded.model.encrypted().cloned().ok_or_else(|| {
            Error::bad_request(format!(
                "model '{}' does not take encrypted requests (only linear models do)",
                loaded.model.name()
            ))
        })?;
        let max = s.config.max_body;
        let t = Instant::now();
        let (rows, response) = tokio::task::spawn_blocking(move || {
            let request = ml_he::EncryptedRequest::from_bytes(&body, max)?;
            let scores = context.score(&request)?;
            Ok::<_, ml_he::Error>((request.n_rows() as u64, scores.to_bytes()))
        })
        .await
        .map_err(|_| Error::internal("encrypted scoring failed"))?
        .map_err(|e| match e {
            ml_he::Error::ModelMismatch { .. } | ml_he::Error::Parameters { .. } => Error::new(409, e.to_string()),
            e => Error::bad_request(e.to_string()),
        })?;
        Ok::<_, Error>((rows, t.elapsed().as_nanos() as u64, response))
    }
    .await;
    match result {
        Ok((rows, compute_ns, body)) => {
            s.record(&loaded, started, Ok((rows, compute_ns)));
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                )],
                body,
            )
                .into_response()
        }
        Err(e) => {
            s.record(&loaded, started, Err(e.status()));
            e.into_response()
        }
    }
}

async fn invocations(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let Some(name) = s.repo.first() else {
        return Error::new(503, "no model is loaded").into_response();
    };
    let result = async {
        let loaded = s.repo.get(&name, None)?;
        let body = read_body(&s, &headers, body).await?;
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let rows = mlflow::parse_invocations(content_type, &body, &loaded.model)?;
        let inference = s.infer(&loaded, rows, &mlflow::all_outputs()).await?;
        Ok::<_, Error>(mlflow::predictions_json(&inference.outputs))
    }
    .await;
    let (status, response) = match result {
        Ok(v) => (200, json_response(StatusCode::OK, &v)),
        Err(e) => {
            // MLflow's clients read error_code and message; ours read error.
            let code = if e.status() < 500 {
                "BAD_REQUEST"
            } else {
                "INTERNAL_ERROR"
            };
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (
                e.status(),
                json_response(
                    status,
                    &json!({"error": e.message(), "error_code": code, "message": e.message()}),
                ),
            )
        }
    };
    s.metrics
        .observe_request(&name, status, started.elapsed().as_secs_f64());
    response
}

async fn authorize(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !s.authorized(given) {
        let mut response = Error::new(401, "this route needs Authorization: Bearer <token>").into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

/// Compare without stopping at the first difference, so response times do
/// not reveal how much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn limit_concurrency(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let Ok(_permit) = s.inflight.clone().try_acquire_owned() else {
        let mut response = s.overloaded().into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    next.run(request).await
}

async fn timeout_and_log(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map(str::to_string)
        .unwrap_or_else(|| s.next_id.fetch_add(1, Ordering::Relaxed).to_string());
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let limit = s.config.request_timeout;
    let mut response = match tokio::time::timeout(limit, next.run(request)).await {
        Ok(r) => r,
        Err(_) => Error::new(
            408,
            format!("the request did not complete within {} s", limit.as_secs_f64()),
        )
        .into_response(),
    };
    tracing::info!(
        request_id = %id,
        %method,
        path = %ml_core::limits::shorten(&path, 200),
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// A server that is listening; dropping it stops it.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    grpc_addr: Option<SocketAddr>,
    stop: Option<watch::Sender<bool>>,
    done: Vec<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    repo: Arc<Repository>,
    signals: Option<Signals>,
}

/// SIGTERM and SIGINT, listened for on the server's runtime.
#[cfg(unix)]
#[derive(Debug)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(not(unix))]
#[derive(Debug)]
struct Signals;

impl Signals {
    #[cfg(unix)]
    fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| Error::internal(format!("installing the {name} handler: {e}")))
        };
        Ok(Self {
            term: install(SignalKind::terminate(), "SIGTERM")?,
            int: install(SignalKind::interrupt(), "SIGINT")?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> Result<Self> {
        Ok(Self)
    }

    async fn recv(&mut self) -> Result<()> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => Ok(()),
                _ = self.int.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c()
                .await
                .map_err(|e| Error::internal(format!("waiting for ctrl-c: {e}")))
        }
    }
}

/// Start serving `repo` on its own runtime; returns once listening.
///
/// # Errors
/// Invalid settings, an address that cannot be bound.
pub fn start(repo: Arc<Repository>, config: ServeConfig) -> Result<RunningServer> {
    config.validate()?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("mlsdk-serve");
    if let Some(n) = config.workers {
        builder.worker_threads(n);
    }
    let runtime = builder
        .build()
        .map_err(|e| Error::internal(format!("starting the async runtime: {e}")))?;
    let bind = |port: u16| -> Result<(TcpListener, SocketAddr)> {
        let addr = SocketAddr::new(config.host, port);
        let listener = runtime
            .block_on(TcpListener::bind(addr))
            .map_err(|e| Error::new(500, format!("cannot listen on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::internal(format!("reading the bound address: {e}")))?;
        Ok((listener, bound))
    };
    let (listener, addr) = bind(config.port)?;
    let grpc = config.grpc_port.map(bind).transpose()?;
    let (stop, stopped) = watch::channel(false);
    let shared = Shared::new(repo.clone(), config.clone(), Metrics::new());
    let mut done = vec![runtime.spawn(accept_loop(listener, routes(shared.clone()), config, stopped.clone()))];
    let grpc_addr = grpc.map(|(listener, addr)| {
        done.push(runtime.spawn(crate::grpc::accept_loop(listener, shared, stopped)));
        addr
    });
    Ok(RunningServer {
        addr,
        grpc_addr,
        stop: Some(stop),
        done,
        runtime: Some(runtime),
        repo,
        signals: None,
    })
}

async fn accept_loop(listener: TcpListener, app: Router, config: ServeConfig, mut stopped: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stopped.changed() => break,
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(config.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the drain timeout were cut off");
    }
}

impl RunningServer {
    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound gRPC address, when gRPC is served.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// The models served.
    pub fn repository(&self) -> &Arc<Repository> {
        &self.repo
    }

    /// Stop accepting, let in-flight requests finish (up to the drain
    /// timeout), then return.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(runtime) = self.runtime.as_ref() {
            for done in self.done.drain(..) {
                let _ = runtime.block_on(done);
            }
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }

    /// Take over SIGTERM and SIGINT from now on (the process no longer dies
    /// of them; [`RunningServer::wait_for_signal`] returns). Call it before
    /// announcing the server, so that a signal sent right after the
    /// announcement is not lost.
    ///
    /// # Errors
    /// Signal handlers that cannot be installed.
    pub fn install_signal_handlers(&mut self) -> Result<()> {
        if self.signals.is_none() {
            let runtime = self
                .runtime
                .as_ref()
                .ok_or_else(|| Error::internal("the server has stopped"))?;
            let _entered = runtime.enter();
            self.signals = Some(Signals::install()?);
        }
        Ok(())
    }

    /// Serve until SIGINT (ctrl-c) or SIGTERM, then stop gracefully.
    ///
    /// # Errors
    /// Signal handlers that cannot be installed.
    pub fn wait_for_signal(mut self) -> Result<()> {
        self.install_signal_handlers()?;
        let (Some(runtime), Some(signals)) = (self.runtime.as_ref(), self.signals.as_mut()) else {
            return Err(Error::internal("the server has stopped"));
        };
        runtime.block_on(signals.recv())?;
        self.stop_now();
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

impl ml_core::Deployment for RunningServer {
    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn shutdown(self: Box<Self>) -> ml_core::Result<()> {
        self.stop();
        Ok(())
    }
}
