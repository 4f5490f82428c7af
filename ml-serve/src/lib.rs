//! Model serving for ml-sdk.
//!
//! One server speaks the protocols the Python serving tools' clients use,
//! so they drive it unchanged:
//! - the **Open Inference Protocol v2** over REST (KServe's and Triton's):
//!   health, server and model metadata, inference with JSON tensors or
//!   Triton's binary tensor extension (`Inference-Header-Content-Length`),
//!   request compression, Triton's model configuration, statistics and
//!   repository (index, load, unload) extensions;
//! - the same protocol over **gRPC** (`inference.GRPCInferenceService`, as
//!   Triton defines it; KServe's `open_inference_grpc.proto` is its first six
//!   methods): typed or raw (`raw_input_contents`) tensors, gzip and deflate
//!   message compression, model configuration, statistics and repository
//!   methods (shared-memory and streaming methods answer `UNIMPLEMENTED`);
//! - **MLflow's scoring protocol** (`POST /invocations` with
//!   `dataframe_split`, `dataframe_records`, `instances`, `inputs` or CSV;
//!   `/ping`, `/health`, `/version`);
//! - Prometheus metrics on `/metrics`.
//!
//! Models are any [`ml_core::Model`]: an ml-sdk model predicts through its
//! spec directly, an ONNX model through its runtime. Several models and
//! versions are served at once from a [`Repository`]; a model loaded by URI
//! (through a [`ModelLoader`], which the `ml-sdk` facade provides for files,
//! ONNX and MLflow registries) is re-resolved by
//! `POST /v2/repository/models/{m}/load`, so a moved registry alias is
//! served without a restart.
//!
//! Bad input is answered, never fatal: every error is JSON
//! (`{"error": "…"}`) with its status (400 malformed or mismatched tensors,
//! 401 missing token, 404 unknown model, 408 timeouts, 413 oversized bodies,
//! 503 overload with `Retry-After`). Shutdown drains in-flight requests.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ml_serve::{ModelInterface, Repository, ServeConfig, ServedModel, start};
//! # fn demo(model: Arc<dyn ml_core::Model>) -> ml_serve::Result<()> {
//! let repo = Arc::new(Repository::default());
//! repo.insert(ServedModel::new("credit", "1", model, ModelInterface::default())?);
//! let server = start(repo, ServeConfig::new().bind([127, 0, 0, 1].into(), 0))?;
//! println!("{}", server.http_addr());
//! server.wait_for_signal()?;
//! # Ok(()) }
//! ```
//!
//! # Threat model
//! Loopback by default; a public address needs a bearer token (or an
//! explicit opt-out). The token guards inference and repository routes;
//! health routes stay open for Kubernetes probes, metadata and metrics for
//! monitoring. Use TLS in front of it (an ingress or a sidecar) on a network.

mod batch;
pub mod deploy;
pub mod error;
mod grpc;
pub mod metrics;
pub mod mlflow;
pub mod model;
pub mod repository;
pub mod server;
pub mod tensor;
pub mod triton;

use std::sync::Arc;

pub use batch::{BatchPolicy, slice_rows};
pub use deploy::{DeploySpec, probe};
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use model::{DEFAULT_INPUT, LabelKind, ModelInterface, ServedModel, TensorSpec};
pub use repository::{Loaded, ModelLoader, ModelStats, Repository, StatsSnapshot};
pub use server::{DEFAULT_MAX_BODY, RunningServer, ServeConfig, router, start};
pub use triton::TritonConfig;

/// Serves a model over HTTP: the [`ml_core::Deployer`] of an in-process
/// server. Each deployment is a server of its own with one model.
#[derive(Debug, Clone, Default)]
pub struct HttpDeployer {
    config: ServeConfig,
}

impl HttpDeployer {
    /// Deploy with these settings (use port 0 for a free port per deployment).
    pub fn new(config: ServeConfig) -> Self {
        Self { config }
    }
}

impl ml_core::Deployer for HttpDeployer {
    fn deploy(&self, name: &str, model: Arc<dyn ml_core::Model>) -> ml_core::Result<Box<dyn ml_core::Deployment>> {
        let repo = Arc::new(Repository::default());
        repo.insert(ServedModel::new(name, "1", model, ModelInterface::default())?);
        Ok(Box::new(start(repo, self.config.clone())?))
    }
}
