//! ONNX for ml-sdk, both directions.
//!
//! - **Export** any [`ml_core::ModelSpec`] (pipelines with one-hot encoding
//!   and scaling, linear, logistic and softmax models, decision trees and
//!   random forests, k-means) to a standard ONNX model: default-domain
//!   opset 17 plus `ai.onnx.ml` opset 3 for tree ensembles. Exports are
//!   checked by `onnx.checker` (full check) and run by ONNX Runtime in the
//!   test suite, against our own predictions.
//! - **Run** standard ONNX models as an [`ml_core::Model`]: [`OnnxModel`],
//!   on tract (pure Rust, feature `tract`, the default) or ONNX Runtime
//!   (feature `ort`, see [`Runtime`]). Graphs from scikit-learn's skl2onnx
//!   run as exported: `ZipMap` outputs are replaced by their probability
//!   tensors, a `Scaler` that only feeds a linear operator is folded into
//!   its coefficients, and for tract `Scaler` and `TreeEnsembleRegressor`
//!   are rewritten into operators it has ([`rewrite`]). On ONNX Runtime a
//!   model runs through an I/O binding that keeps its input tensor between
//!   calls of the same batch shape.
//! - **Import** linear and tree-ensemble graphs as a [`ml_core::ModelSpec`]
//!   ([`OnnxModel`]'s `describe`, [`import::to_spec`]).
//!
//! The protobuf is ml-proto's `onnx` types (prost code generated from the
//! `onnx` wheel's `onnx-ml.proto` and committed), so a build needs no
//! `protoc`.
//!
//! # Pointing `ort` at ONNX Runtime
//! With the `ort` feature, ONNX Runtime (>= 1.31) is loaded when the first
//! model is, from `Runtime::Ort { library: Some(path) }` or else from the
//! `ORT_DYLIB_PATH` environment variable. The `onnxruntime` wheel from PyPI
//! ships the library as `site-packages/onnxruntime/capi/libonnxruntime.so.*`
//! (`scripts/setup-python.sh` installs it into `.venv/`); a system install
//! works the same way. A missing file, a file that is not ONNX Runtime, or a
//! version older than 1.31 is an [`Error::Runtime`], not a panic.
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
pub mod graph;
pub mod import;
mod import_neural;
mod model;
mod neural;
mod proto;
pub mod rewrite;
mod runtime;
#[cfg(feature = "tract")]
mod trees;

pub use export::{INPUT, IR_VERSION, ML_OPSET, OPSET, export};
pub use graph::OnnxGraph;
pub use model::{MAX_MODEL_BYTES, OnnxModel, OutputNames};
pub use runtime::Runtime;

/// Everything that can go wrong in `ml-onnx`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from `ml-core` (an invalid spec).
    #[error(transparent)]
    Core(#[from] ml_core::Error),
    /// A model or graph feature this crate does not handle (named).
    #[error("ONNX: unsupported {0}")]
    Unsupported(String),
    /// Bytes that are not a well-formed ONNX model, or an inconsistent one.
    #[error("invalid ONNX model: {0}")]
    Invalid(String),
    /// The runtime failed to load or run the model.
    #[error("{runtime}: {message}")]
    Runtime {
        /// `tract`, `ort` or `onnx` (output interpretation).
        runtime: &'static str,
        /// What it said.
        message: String,
    },
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
