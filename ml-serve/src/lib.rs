#![doc = include_str!("../README.md")]

mod batch;
#[cfg(feature = "client")]
pub mod client;
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
