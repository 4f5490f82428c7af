//! Prometheus metrics (`GET /metrics`, OpenMetrics text): requests by model
//! and status, latency, batch sizes, queue depth, models loaded.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    model: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabel {
    model: String,
}

fn latency_histogram() -> Histogram {
    // 10 µs to about 10 s.
    Histogram::new(exponential_buckets(1e-5, 2.0, 21))
}

fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 14))
}

/// The server's metrics; cheap to clone (shared counters).
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<ModelLabel, Histogram, fn() -> Histogram>,
    batch_rows: Family<ModelLabel, Histogram, fn() -> Histogram>,
    queue: Family<ModelLabel, Gauge>,
    loaded: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mlsdk");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<ModelLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let batch_rows = Family::<ModelLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            batch_histogram as fn() -> Histogram,
        );
        let queue = Family::<ModelLabel, Gauge>::default();
        let loaded = Gauge::default();
        registry.register(
            "inference_requests",
            "Inference requests by model and HTTP status",
            requests.clone(),
        );
        registry.register(
            "inference_request_duration_seconds",
            "Time from request to response, by model",
            latency.clone(),
        );
        registry.register("batch_rows", "Rows per call of the model, by model", batch_rows.clone());
        registry.register("queue_depth", "Requests waiting for a batch, by model", queue.clone());
        registry.register("models_loaded", "Model versions loaded", loaded.clone());
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                latency,
                batch_rows,
                queue,
                loaded,
            }),
        }
    }

    /// Count a finished inference request.
    pub fn observe_request(&self, model: &str, status: u16, seconds: f64) {
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                model: model.to_string(),
                status,
            })
            .inc();
        if status < 400 {
            self.inner
                .latency
                .get_or_create(&ModelLabel {
                    model: model.to_string(),
                })
                .observe(seconds);
        }
    }

    /// Record the rows of one call of a model.
    pub fn observe_batch(&self, model: &str, rows: usize) {
        self.inner
            .batch_rows
            .get_or_create(&ModelLabel {
                model: model.to_string(),
            })
            .observe(rows as f64);
    }

    /// Set the number of requests waiting for a model's next batch.
    pub fn queue_depth(&self, model: &str, depth: usize) {
        self.inner
            .queue
            .get_or_create(&ModelLabel {
                model: model.to_string(),
            })
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Set the number of model versions loaded.
    pub fn models_loaded(&self, n: usize) {
        self.inner.loaded.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }
}
