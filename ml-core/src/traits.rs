//! The five traits that connect the crates. All are object-safe: a
//! `Box<dyn Model>` travels from trainer to tracker to explainer to server.

use std::fmt::Debug;
use std::sync::Arc;

use ndarray::{Array2, Array3, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::{Dataset, ModelSpec, Predictions, Result, Signature};

/// A fitted model.
///
/// # Design
/// Input is an `f64` matrix view whose columns follow [`Model::signature`]
/// (categorical columns as codes, see [`crate::Frame::encode`]), so one call
/// shape serves models trained here, models read from ONNX and models behind a
/// server. No generic parameters: the trait stays object-safe and cheap to box.
/// [`Model::describe`] gives the portable [`ModelSpec`] that exporters and exact
/// explainers need; models that cannot describe themselves say so with
/// [`crate::Error::Unsupported`] rather than approximating.
pub trait Model: Send + Sync + Debug {
    /// Inputs and output kind.
    fn signature(&self) -> &Signature;

    /// Predict for each row of `x`.
    ///
    /// # Errors
    /// Wrong width, NaN/infinite values, unknown category codes.
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions>;

    /// The portable description of this model.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] for models that have none.
    fn describe(&self) -> Result<ModelSpec> {
        Err(crate::Error::Unsupported(
            "this model cannot describe itself as a ModelSpec".into(),
        ))
    }
}

impl<M: Model + ?Sized> Model for Box<M> {
    fn signature(&self) -> &Signature {
        (**self).signature()
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        (**self).predict(x)
    }
    fn describe(&self) -> Result<ModelSpec> {
        (**self).describe()
    }
}

impl<M: Model + ?Sized> Model for Arc<M> {
    fn signature(&self) -> &Signature {
        (**self).signature()
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        (**self).predict(x)
    }
    fn describe(&self) -> Result<ModelSpec> {
        (**self).describe()
    }
}

/// Hyper-parameters that can fit a [`Model`] to a [`Dataset`].
///
/// # Design
/// As in linfa, the unfitted parameters and the fitted model are different
/// types: a trainer is validated configuration, `fit` returns a new model and
/// never mutates the trainer, so one trainer can fit many folds (see
/// [`crate::cross_validate`]) from several threads. [`Trainer::params`] lists
/// the hyper-parameters as strings so any [`Tracker`] can log them.
pub trait Trainer: Send + Sync + Debug {
    /// A short name of the algorithm (`"logistic_regression"`).
    fn name(&self) -> &str;

    /// The hyper-parameters, as `(name, value)` pairs for logging.
    fn params(&self) -> Vec<(String, String)>;

    /// Fit a model.
    ///
    /// # Errors
    /// A data set without the target the algorithm needs, or a numerical failure.
    fn fit(&self, data: &Dataset) -> Result<Box<dyn Model>>;
}

/// Identifies a run within a tracker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RunId(pub String);

/// The end state of a run (MLflow's run statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Still running.
    Running,
    /// Ended normally.
    Finished,
    /// Ended with an error.
    Failed,
    /// Interrupted (panic, signal).
    Killed,
}

/// One metric observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Metric name.
    pub key: String,
    /// Value.
    pub value: f64,
    /// Training step (epoch, iteration, fold).
    pub step: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// Where runs are recorded: parameters, metrics, tags, artifacts.
///
/// # Design
/// Shaped after MLflow's tracking model (experiments, runs, params, metrics
/// with steps, tags, artifacts, run status), because that is the format the
/// back ends speak: a local `mlruns/` store, an MLflow server, TensorBoard event
/// files, or several at once. Calls take a [`RunId`] instead of holding a
/// "current run", so one tracker serves many concurrent runs and the trait stays
/// object-safe. Batches (`&[...]`) let remote back ends send one request per call.
pub trait Tracker: Send + Sync + Debug {
    /// Start a run in an experiment (created if missing).
    ///
    /// # Errors
    /// Back-end failures.
    fn start_run(&self, experiment: &str, run_name: Option<&str>) -> Result<RunId>;

    /// Log hyper-parameters (write-once per key, as in MLflow).
    ///
    /// # Errors
    /// Invalid keys or values, back-end failures.
    fn log_params(&self, run: &RunId, params: &[(String, String)]) -> Result<()>;

    /// Log metric observations.
    ///
    /// # Errors
    /// Invalid keys, non-finite values the back end cannot store, back-end failures.
    fn log_metrics(&self, run: &RunId, metrics: &[MetricPoint]) -> Result<()>;

    /// Set tags.
    ///
    /// # Errors
    /// Invalid keys or values, back-end failures.
    fn set_tags(&self, run: &RunId, tags: &[(String, String)]) -> Result<()>;

    /// Store a file under the run's artifacts at a relative path.
    ///
    /// # Errors
    /// A path escaping the artifact root, back-end failures.
    fn log_artifact(&self, run: &RunId, path: &str, contents: &[u8]) -> Result<()>;

    /// End the run with a status.
    ///
    /// # Errors
    /// Back-end failures.
    fn end_run(&self, run: &RunId, status: RunStatus) -> Result<()>;
}

/// Whether an explanation is per row or for the model as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplanationScope {
    /// One attribution per row (SHAP, LIME, ICE).
    Local,
    /// One attribution for the model (permutation importance, PDP).
    Global,
}

/// Feature attributions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The method (`"tree_shap"`).
    pub method: String,
    /// Local or global.
    pub scope: ExplanationScope,
    /// Names of the attributed features.
    pub feature_names: Vec<String>,
    /// Names of the explained outputs (class names, or `"value"`).
    pub output_names: Vec<String>,
    /// `rows × outputs` base values (the expected output for SHAP).
    pub base_values: Array2<f64>,
    /// `rows × features × outputs` attributions.
    pub values: Array3<f64>,
}

/// Explains a model's predictions on data.
///
/// # Design
/// Takes any `&dyn Model` and a [`Dataset`] (targets present for methods that
/// score, such as permutation importance; features alone otherwise), so
/// black-box methods serve every model. Exact methods (TreeSHAP, linear SHAP)
/// call [`Model::describe`] and refuse with [`crate::Error::Unsupported`] when
/// the model has no suitable spec. One output shape, [`Explanation`], covers
/// local and global methods, so trackers and chart writers take any of them.
pub trait Explainer: Send + Sync + Debug {
    /// The method's name.
    fn name(&self) -> &str;

    /// Explain `model` on `data`.
    ///
    /// # Errors
    /// A model the method does not apply to, data that do not match the model.
    fn explain(&self, model: &dyn Model, data: &Dataset) -> Result<Explanation>;
}

/// A running or written deployment.
pub trait Deployment: Send + Sync + Debug {
    /// Where it is reachable: a URL for a server, a path for a written
    /// repository or manifest.
    fn endpoint(&self) -> String;

    /// Stop serving (gracefully: in-flight requests finish) or release
    /// resources.
    ///
    /// # Errors
    /// Back-end failures while stopping.
    fn shutdown(self: Box<Self>) -> Result<()>;
}

/// Puts a model where clients can reach it.
///
/// # Design
/// One call for very different targets: an in-process HTTP server (Open
/// Inference Protocol, MLflow `/invocations`), a Triton model repository on
/// disk, container and Kubernetes manifests. The model comes as
/// `Arc<dyn Model>` because a server shares it between request handlers; the
/// result is a [`Deployment`] handle whose `shutdown` consumes it, so a
/// stopped deployment cannot be used again.
pub trait Deployer: Send + Sync + Debug {
    /// Deploy `model` under `name`.
    ///
    /// # Errors
    /// An invalid name, a model the target cannot serve, back-end failures.
    fn deploy(&self, name: &str, model: Arc<dyn Model>) -> Result<Box<dyn Deployment>>;
}
