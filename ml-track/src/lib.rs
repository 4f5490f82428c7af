#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod error;
mod fanout;
mod fit;
mod mlmodel;
mod provenance;
mod read;
mod registry;
#[cfg(feature = "rest")]
mod rest;
#[cfg(feature = "s3")]
mod s3;
mod store;
mod tensorboard;
mod uri;
pub mod validate;
mod yaml;

pub use error::{Error, Result};
pub use fanout::FanOutTracker;
pub use fit::{FitRecord, MODEL_ARTIFACT, ONNX_ARTIFACT, PARENT_RUN_TAG, fit_and_log, log_epoch, log_fit, log_search};
pub use mlmodel::{ONNX_MODEL_FILE, log_model, log_onnx_model, mlmodel_text, onnx_signature_json, signature_json};
pub use provenance::{Provenance, RunGuard};
pub use read::{ArtifactEntry, MAX_DOWNLOAD_BYTES, MAX_DOWNLOAD_FILES, TrackingStore, local_artifact_root};
pub use registry::{ModelVersionInfo, check_model_name};
#[cfg(feature = "rest")]
pub use rest::{MlflowRestClient, RetryPolicy};
#[cfg(feature = "s3")]
pub use s3::S3Config;
pub use store::{ExperimentInfo, MlflowStore, RunInfo, RunRecord, now_ms};
pub use tensorboard::{EventFile, TensorBoardWriter, frame_record, masked_crc32c};
pub use uri::{FetchedModel, ModelUri, ResolvedModel, fetch_model, resolve_model_uri};

/// The default store location when no URI is given: `./mlruns`, as MLflow.
pub const DEFAULT_TRACKING_URI: &str = "mlruns";

/// The tracking URI: the argument, else `MLFLOW_TRACKING_URI`, else `mlruns`.
pub fn tracking_uri(explicit: Option<&str>) -> String {
    explicit
        .map(str::to_string)
        .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_TRACKING_URI.to_string())
}

/// The experiment name: the argument, else `MLFLOW_EXPERIMENT_NAME`, else `Default`.
pub fn experiment_name(explicit: Option<&str>) -> String {
    explicit
        .map(str::to_string)
        .or_else(|| std::env::var("MLFLOW_EXPERIMENT_NAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "Default".to_string())
}

/// Whether a tracking URI names an MLflow server (`http://`, `https://`).
pub fn is_remote_uri(uri: &str) -> bool {
    uri.starts_with("http://") || uri.starts_with("https://")
}

/// The local store a URI names: a plain path or a `file:` URI.
///
/// # Errors
/// [`Error::UnsupportedUri`] for `http(s)://` (the MLflow REST back end is not
/// in this build yet) and other schemes; I/O failures opening the store.
pub fn open_store(uri: &str) -> Result<MlflowStore> {
    let path = if let Some(rest) = uri.strip_prefix("file://") {
        rest
    } else if let Some(rest) = uri.strip_prefix("file:") {
        rest
    } else if uri.contains("://") {
        return Err(Error::UnsupportedUri(uri.to_string()));
    } else {
        uri
    };
    MlflowStore::open(path)
}

/// A tracking store for a URI, to log to and read from: `http(s)://` →
/// [`MlflowRestClient`] (with the `rest` feature), a path or `file:` URI →
/// [`MlflowStore`] (created if missing).
///
/// # Errors
/// As [`check_tracking_uri`]; as [`open_store`] for local stores.
pub fn open_tracking_store(uri: &str) -> Result<Box<dyn TrackingStore>> {
    check_tracking_uri(uri)?;
    #[cfg(feature = "rest")]
    if is_remote_uri(uri) {
        return Ok(Box::new(MlflowRestClient::from_env(uri)?));
    }
    Ok(Box::new(open_store(uri)?))
}

/// Check a tracking URI without creating or contacting anything: a local
/// store's path must be a directory or not exist yet; a server's scheme
/// must be one this build speaks.
///
/// # Errors
/// [`Error::UnsupportedUri`] for a scheme this build lacks or a local path
/// that is a file.
pub fn check_tracking_uri(uri: &str) -> Result<()> {
    if is_remote_uri(uri) {
        let missing = if !cfg!(feature = "rest") {
            Some("servers need ml-track's `rest` feature")
        } else if !cfg!(feature = "rest-tls") && uri.starts_with("https://") {
            Some("HTTPS needs ml-track's `rest-tls` feature")
        } else {
            None
        };
        return match missing {
            Some(why) => Err(Error::UnsupportedUri(format!("{uri} ({why})"))),
            None => Ok(()),
        };
    }
    match local_artifact_root(uri) {
        Some(path) if path.exists() && !path.is_dir() => Err(Error::UnsupportedUri(format!(
            "{uri} (a file, not a tracking store directory)"
        ))),
        Some(_) => Ok(()),
        None => Err(Error::UnsupportedUri(uri.to_string())),
    }
}

/// As [`open_tracking_store`], for reading: a local store must exist already
/// (a mistyped path is an error, not a new empty store).
///
/// # Errors
/// [`Error::NotFound`] for a missing local store; as [`open_tracking_store`].
pub fn open_existing_store(uri: &str) -> Result<Box<dyn TrackingStore>> {
    if !is_remote_uri(uri)
        && let Some(path) = local_artifact_root(uri)
        && !path.is_dir()
    {
        return Err(Error::NotFound {
            what: "tracking store",
            id: uri.to_string(),
        });
    }
    open_tracking_store(uri)
}

/// A tracker for a URI: as [`open_tracking_store`], as a plain [`ml_core::Tracker`].
///
/// # Errors
/// As [`open_tracking_store`].
pub fn tracker_from_uri(uri: &str) -> Result<Box<dyn ml_core::Tracker>> {
    Ok(open_tracking_store(uri)?)
}
