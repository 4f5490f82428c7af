//! ONNX for ml-sdk: export any [`ml_core::ModelSpec`] (pipelines with one-hot
//! encoding and scaling, linear, logistic and softmax models, decision trees
//! and random forests, k-means) to a standard ONNX model: default-domain
//! opset 17 plus `ai.onnx.ml` opset 3 for tree ensembles. The protobuf is
//! written by this crate itself, so no `protoc` or generated code is needed.
//! Exports are checked by `onnx.checker` (full check) and run by ONNX Runtime
//! in the test suite, against our own predictions.
//!
//! ```
//! use ml_core::Trainer;
//! let data = ml_datasets::load("iris")?;
//! let model = ml_learn::Pipeline::from_params("forest", &[("n_trees".into(), "5".into())], Some(1))?.fit(&data)?;
//! let bytes = ml_onnx::export(&model.describe()?)?;
//! assert!(bytes.len() > 100);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod export;
mod proto;

pub use export::{INPUT, IR_VERSION, ML_OPSET, OPSET, export};

/// Everything that can go wrong in `ml-onnx`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from `ml-core` (an invalid spec).
    #[error(transparent)]
    Core(#[from] ml_core::Error),
    /// A model this exporter cannot express.
    #[error("ONNX export: unsupported {0}")]
    Unsupported(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ml_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Core(c) => c,
            other => ml_core::Error::Backend {
                backend: "ml-onnx",
                source: Box::new(other),
            },
        }
    }
}
