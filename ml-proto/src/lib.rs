#![doc = include_str!("../README.md")]

pub use prost;

/// ONNX's protobuf schema (`package onnx`, IR version 11 and its `ai.onnx.ml`
/// additions).
#[cfg(feature = "onnx")]
#[allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]
pub mod onnx {
    include!("gen/onnx.rs");
}

/// TensorBoard's event-file records (`package tensorboard`).
#[cfg(feature = "tensorboard")]
#[allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]
pub mod tensorboard {
    include!("gen/tensorboard.rs");

    /// The hparams plugin's messages (`package tensorboard.hparams`).
    #[allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]
    pub mod hparams {
        include!("gen/tensorboard.hparams.rs");
    }
}

/// The Open Inference Protocol over gRPC (`package inference`): requests,
/// responses, Triton's model configuration, and the `GRPCInferenceService`
/// server trait.
#[cfg(feature = "inference")]
#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic,
    rustdoc::all
)]
pub mod inference {
    include!("gen_inference/inference.rs");
}

/// Protobuf's well-known types that the TensorBoard schemas import
/// (`google.protobuf.Struct`, `Value`).
#[cfg(feature = "tensorboard")]
#[allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]
pub mod google {
    /// `package google.protobuf`.
    #[allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]
    pub mod protobuf {
        include!("gen/google.protobuf.rs");
    }
}
