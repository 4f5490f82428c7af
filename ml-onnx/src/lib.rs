#![doc = include_str!("../README.md")]
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
