//! The models a server holds: names, versions, where each came from, and
//! its statistics. Reloading swaps a model atomically: requests already
//! holding the old one finish on it.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::model::{ServedModel, check_name};

/// Loads models by URI for a [`Repository`]: the seam between the server
/// and the model stores (files, ONNX, MLflow registries).
pub trait ModelLoader: Send + Sync + Debug {
    /// Load the model at `uri` to serve it as `name`; the version is the
    /// registry's where the URI names one.
    ///
    /// # Errors
    /// A URI that does not resolve, a model that cannot be loaded.
    fn load(&self, name: &str, uri: &str) -> ml_core::Result<ServedModel>;
}

/// Counters of one model version, as Triton's statistics extension reports them.
#[derive(Debug, Default)]
pub struct ModelStats {
    inference_count: AtomicU64,
    execution_count: AtomicU64,
    success_count: AtomicU64,
    success_ns: AtomicU64,
    fail_count: AtomicU64,
    fail_ns: AtomicU64,
    compute_ns: AtomicU64,
    last_inference_ms: AtomicU64,
}

impl ModelStats {
    /// Record a request of `rows` rows that took `ns` in all, `compute_ns` of it in the model.
    pub fn record(&self, ok: bool, rows: u64, ns: u64, compute_ns: u64) {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.last_inference_ms.store(ms, Ordering::Relaxed);
        if ok {
            self.inference_count.fetch_add(rows, Ordering::Relaxed);
            self.success_count.fetch_add(1, Ordering::Relaxed);
            self.success_ns.fetch_add(ns, Ordering::Relaxed);
            self.compute_ns.fetch_add(compute_ns, Ordering::Relaxed);
        } else {
            self.fail_count.fetch_add(1, Ordering::Relaxed);
            self.fail_ns.fetch_add(ns, Ordering::Relaxed);
        }
    }

    /// Record one execution of the model (a batch may serve many requests).
    pub fn record_execution(&self) {
        self.execution_count.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            last_inference_ms: get(&self.last_inference_ms),
            inference_count: get(&self.inference_count),
            execution_count: get(&self.execution_count),
            success: (get(&self.success_count), get(&self.success_ns)),
            fail: (get(&self.fail_count), get(&self.fail_ns)),
            compute: (get(&self.success_count), get(&self.compute_ns)),
        }
    }
}

/// One model version's counters at a moment; durations as (count, ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Milliseconds since the epoch of the last request.
    pub last_inference_ms: u64,
    /// Rows scored.
    pub inference_count: u64,
    /// Calls of the model (a batch serves several requests at once).
    pub execution_count: u64,
    /// Successful requests and their total time.
    pub success: (u64, u64),
    /// Failed requests and their total time.
    pub fail: (u64, u64),
    /// Time spent in the model.
    pub compute: (u64, u64),
}

impl StatsSnapshot {
    fn json(&self, name: &str, version: &str) -> Value {
        let d = |(count, ns): (u64, u64)| json!({"count": count, "ns": ns});
        json!({
            "name": name,
            "version": version,
            "last_inference": self.last_inference_ms,
            "inference_count": self.inference_count,
            "execution_count": self.execution_count,
            "inference_stats": {
                "success": d(self.success),
                "fail": d(self.fail),
                "queue": d((0, 0)),
                "compute_input": d((0, 0)),
                "compute_infer": d(self.compute),
                "compute_output": d((0, 0)),
                "cache_hit": d((0, 0)),
                "cache_miss": d((0, 0)),
            },
            "batch_stats": [],
        })
    }
}

/// A model version with its counters.
#[derive(Debug)]
pub struct Loaded {
    /// The model.
    pub model: ServedModel,
    /// Its counters.
    pub stats: ModelStats,
    /// Its batching queue, started on the first request when batching is on.
    pub(crate) batcher: std::sync::OnceLock<crate::batch::Batcher>,
}

#[derive(Debug)]
struct Entry {
    /// Where it was loaded from, for reloads.
    uri: Option<String>,
    versions: BTreeMap<String, Arc<Loaded>>,
    /// The version answering requests that name none.
    default: String,
}

/// The models of a server.
#[derive(Debug, Default)]
pub struct Repository {
    models: RwLock<BTreeMap<String, Entry>>,
    loader: Option<Arc<dyn ModelLoader>>,
    order: RwLock<Vec<String>>,
}

/// Versions sort numerically where they are numbers, so `10` follows `9`.
fn version_key(v: &str) -> (u64, String) {
    (v.parse().unwrap_or(u64::MAX), v.to_string())
}

impl Repository {
    /// An empty repository that loads models by URI with `loader`.
    pub fn with_loader(loader: Arc<dyn ModelLoader>) -> Self {
        Self {
            loader: Some(loader),
            ..Self::default()
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Entry>> {
        self.models.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Entry>> {
        self.models.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Add a model version (replacing one of the same name and version).
    /// The newest version answers requests that name none.
    pub fn insert(&self, model: ServedModel) {
        self.insert_from(model, None);
    }

    fn insert_from(&self, model: ServedModel, uri: Option<String>) {
        let name = model.name().to_string();
        let version = model.version().to_string();
        {
            let mut models = self.write();
            let entry = models.entry(name.clone()).or_insert_with(|| Entry {
                uri: None,
                versions: BTreeMap::new(),
                default: version.clone(),
            });
            if uri.is_some() {
                entry.uri = uri;
            }
            entry.versions.insert(
                version.clone(),
                Arc::new(Loaded {
                    model,
                    stats: ModelStats::default(),
                    batcher: std::sync::OnceLock::new(),
                }),
            );
            entry.default = entry
                .versions
                .keys()
                .max_by_key(|v| version_key(v))
                .cloned()
                .unwrap_or(version);
        }
        let mut order = self.order.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !order.contains(&name) {
            order.push(name);
        }
    }

    /// Load `uri` with the repository's loader and serve it as `name`.
    ///
    /// # Errors
    /// No loader, or the loader's error.
    pub fn load(&self, name: &str, uri: &str) -> Result<()> {
        check_name("model name", name)?;
        let loader = self
            .loader
            .as_ref()
            .ok_or_else(|| Error::new(400, "this server has no model loader"))?;
        let model = loader.load(name, uri).map_err(|e| Error::new(400, e.to_string()))?;
        // A re-resolved alias replaces what was served under the name.
        let replacing = self.read().get(name).is_some_and(|e| e.uri.is_some());
        if replacing {
            let mut models = self.write();
            if let Some(entry) = models.get_mut(name) {
                entry.versions.clear();
            }
        }
        self.insert_from(model, Some(uri.to_string()));
        Ok(())
    }

    /// Re-resolve and reload a model loaded by URI (a `models:/NAME@ALIAS`
    /// whose alias moved is served from its new version).
    ///
    /// # Errors
    /// An unknown model (404), one added without a URI (400), the loader's error.
    pub fn reload(&self, name: &str) -> Result<()> {
        let uri = {
            let models = self.read();
            let entry = models
                .get(name)
                .ok_or_else(|| Error::not_found(format!("unknown model '{}'", ml_core::limits::shorten(name, 60))))?;
            entry
                .uri
                .clone()
                .ok_or_else(|| Error::bad_request(format!("model '{name}' was not loaded from a URI")))?
        };
        self.load(name, &uri)
    }

    /// Stop serving a model (requests holding it finish).
    ///
    /// # Errors
    /// An unknown model (404).
    pub fn unload(&self, name: &str) -> Result<()> {
        self.write()
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| Error::not_found(format!("unknown model '{}'", ml_core::limits::shorten(name, 60))))?;
        self.order
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|n| n != name);
        Ok(())
    }

    /// The model `name` at `version` (default: the newest).
    ///
    /// # Errors
    /// An unknown model or version (404).
    pub fn get(&self, name: &str, version: Option<&str>) -> Result<Arc<Loaded>> {
        let models = self.read();
        let entry = models
            .get(name)
            .ok_or_else(|| Error::not_found(format!("unknown model '{}'", ml_core::limits::shorten(name, 60))))?;
        let version = version.unwrap_or(&entry.default);
        entry.versions.get(version).cloned().ok_or_else(|| {
            Error::not_found(format!(
                "model '{name}' has no version '{}'",
                ml_core::limits::shorten(version, 40)
            ))
        })
    }

    /// The versions of a model, oldest first.
    pub fn versions(&self, name: &str) -> Vec<String> {
        let models = self.read();
        let mut v: Vec<String> = models
            .get(name)
            .map(|e| e.versions.keys().cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|v| version_key(v));
        v
    }

    /// The first model added (MLflow's `/invocations` scores it).
    pub fn first(&self) -> Option<String> {
        self.order
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .first()
            .cloned()
    }

    /// Number of model versions loaded.
    pub fn len(&self) -> usize {
        self.read().values().map(|e| e.versions.len()).sum()
    }

    /// Whether no model is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The repository index (`POST /v2/repository/index`).
    pub fn index(&self) -> Value {
        self.index_entries()
            .into_iter()
            .map(|(name, version)| json!({"name": name, "version": version, "state": "READY", "reason": ""}))
            .collect()
    }

    /// The counters of one model version, every version of a model, or
    /// every model: `(name, version, counters)`.
    ///
    /// # Errors
    /// An unknown model or version (404).
    pub fn statistics(
        &self,
        name: Option<&str>,
        version: Option<&str>,
    ) -> Result<Vec<(String, String, StatsSnapshot)>> {
        if let (Some(name), Some(version)) = (name, version) {
            let loaded = self.get(name, Some(version))?;
            return Ok(vec![(name.to_string(), version.to_string(), loaded.stats.snapshot())]);
        }
        let models = self.read();
        let entries: Vec<(&String, &Entry)> =
            match name {
                Some(name) => vec![models.get_key_value(name).ok_or_else(|| {
                    Error::not_found(format!("unknown model '{}'", ml_core::limits::shorten(name, 60)))
                })?],
                None => models.iter().collect(),
            };
        Ok(entries
            .into_iter()
            .flat_map(|(n, e)| {
                e.versions
                    .iter()
                    .map(move |(v, l)| (n.clone(), v.clone(), l.stats.snapshot()))
            })
            .collect())
    }

    /// Triton's statistics as JSON (`GET …/stats`).
    ///
    /// # Errors
    /// As [`Repository::statistics`].
    pub fn stats(&self, name: Option<&str>, version: Option<&str>) -> Result<Value> {
        let stats = self.statistics(name, version)?;
        Ok(json!({ "model_stats": stats.iter().map(|(n, v, s)| s.json(n, v)).collect::<Vec<_>>() }))
    }

    /// The repository index as `(name, version)` pairs, all ready.
    pub fn index_entries(&self) -> Vec<(String, String)> {
        self.read()
            .iter()
            .flat_map(|(n, e)| e.versions.keys().map(move |v| (n.clone(), v.clone())))
            .collect()
    }
}
