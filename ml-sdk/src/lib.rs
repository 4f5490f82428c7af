//! # ml-sdk
//!
//! The machine-learning lifecycle for Rust applications, without Python:
//! load real data, train, evaluate, persist, and (as the crates arrive)
//! export to ONNX, explain, check fairness, protect privacy, encrypt inference,
//! track experiments and deploy. This facade mounts each capability crate as a
//! module behind a cargo feature of the same name, so an application links
//! only what it uses.
//!
//! ```
//! use ml_sdk::prelude::*;
//!
//! let data = ml_sdk::datasets::load("breast_cancer")?;
//! let (train, test) = train_test_split(&data, 0.25, 42, true)?;
//! let trainer = Pipeline::from_params("logistic", &[], None)?;
//! let model = trainer.fit(&train)?;
//! let scores = ml_sdk::core::metrics::evaluate(&test, &model.predict(test.features())?)?;
//! assert!(scores["accuracy"] > 0.9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! | feature | module | what it brings |
//! | --- | --- | --- |
//! | (always) | [`core`] | `Dataset`, CSV loading, `ModelSpec`, metrics, splits, the five traits |
//! | `learn` (default) | `learn` | linear and logistic models, trees, forests, k-means, pipelines, persistence |
//! | `datasets` (default) | `datasets` | the bundled real data sets |
//! | `track` (default) | `track` | MLflow-compatible `mlruns/` store and REST client, TensorBoard event files, model registry, run provenance |
//! | `onnx` (default) | `onnx` | export of any `ModelSpec` to ONNX (opset 17, `ai.onnx.ml`), import of ONNX graphs, and tract to run them |
//! | `onnx-export` | `onnx` | the same without a runtime (export, import, Triton repositories): no tract build |
//! | `onnx-ort` | `onnx` | ONNX Runtime as a back end, loaded at run time from `ORT_DYLIB_PATH` |
//! | `privacy` | `privacy` | differential privacy: exact samplers, bounded aggregates, accountants, budget ledger, private logistic regression in pipelines |
//! | `serve` | `serve` | an Open Inference Protocol v2 (KServe, Triton) and MLflow scoring server over any loadable model, dynamic batching, Triton model repositories |
//! | `interpret` | `interpret` | TreeSHAP (path-dependent, interventional), linear and kernel SHAP, LIME, permutation importance, partial dependence and ICE, explainable boosting machines, Fairlearn's group metrics, threshold optimizer and reductions, charts and reports |
//! | `he` | `he` | encrypted inference: linear models scored on LWE ciphertexts (TFHE-rs), keys, encrypted requests |
//! | `neural` | `neural` | neural networks on burn: dense, convolutional and embedding layers, Keras-style training, DP-SGD, checkpoints, transfer learning |
//! | `rl` | `rl` | reinforcement learning: Gymnasium-exact environments, wrappers, vector and external environments, PPO and DQN, resumable policies that are also models |
//!
//! Beside the modules, the facade holds the few calls that need several
//! crates at once: `load_model` (feature `track`) loads any model by path or
//! URI (a saved model, an ONNX file, `models:/NAME@ALIAS`, `runs:/RUN/PATH`,
//! against a local store or an MLflow server), and `trainer_from_params`
//! (feature `learn`) builds any trainer of the workspace by name, the EBM
//! included with `interpret`; `predict_mitigation` and `binary_scores`
//! (features `track` and `interpret`) run a saved fairness mitigation,
//! loading its base model.
#![deny(missing_docs)]

pub use ml_core as core;
pub use ndarray;

/// Classical training (`ml-learn`).
#[cfg(feature = "learn")]
pub mod learn {
    pub use ml_learn::*;
}

/// The bundled data sets (`ml-datasets`).
#[cfg(feature = "datasets")]
pub mod datasets {
    pub use ml_datasets::*;
}

/// Experiment tracking (`ml-track`).
#[cfg(feature = "track")]
pub mod track {
    pub use ml_track::*;
}

/// ONNX export (`ml-onnx`).
#[cfg(feature = "onnx-export")]
pub mod onnx {
    pub use ml_onnx::*;
}

/// Differential privacy (`ml-privacy`).
#[cfg(feature = "privacy")]
pub mod privacy {
    pub use ml_privacy::*;
}

/// Neural networks on burn (`ml-neural`).
#[cfg(feature = "neural")]
pub mod neural {
    pub use ml_neural::*;
}

/// Reinforcement learning: environments, wrappers, vector envs, PPO and DQN (`ml-rl`).
#[cfg(feature = "rl")]
pub mod rl {
    pub use ml_rl::*;
}

/// Explanations and fairness (`ml-interpret`).
#[cfg(feature = "interpret")]
pub mod interpret {
    pub use ml_interpret::*;
}

#[cfg(feature = "track")]
pub mod ci;
#[cfg(feature = "track")]
mod load;
#[cfg(feature = "track")]
pub use load::{LoadedModel, ModelFormat, ModelLoadOptions, load_model};

/// Serving (`ml-serve`), with models loaded by path or URI.
#[cfg(feature = "serve")]
pub mod serve {
    pub use crate::serving::{
        UriLoader, build_repository, load_triton_repository, parse_model_arg, served_model, write_docker_context,
        write_kubernetes, write_triton_repository,
    };
    pub use ml_serve::*;
}
#[cfg(feature = "serve")]
mod serving;

/// Encrypted inference (`ml-he`): linear models scored on LWE ciphertexts,
/// with models loaded by path or URI.
#[cfg(feature = "he")]
pub mod he {
    pub use crate::encrypted::{compile_he_model, encrypt_frame, load_he_model};
    pub use ml_he::*;
}
#[cfg(feature = "he")]
mod encrypted;

#[cfg(all(feature = "track", feature = "interpret"))]
mod mitigation;
#[cfg(all(feature = "track", feature = "interpret"))]
pub use mitigation::{binary_scores, predict_mitigation};

#[cfg(feature = "learn")]
mod trainers;
#[cfg(all(feature = "learn", feature = "neural", feature = "interpret"))]
pub use trainers::learning_curve;
#[cfg(feature = "learn")]
pub use trainers::{
    AnyTrainer, EpochObserver, Fitted, FittedModel, merge_params, trainer_from_params, trainer_names, tune,
};

/// The names most programs need.
pub mod prelude {
    pub use ml_core::{
        Dataset, Deployer, Explainer, Frame, KFold, LoadOptions, Model, ModelSpec, Predictions, Signature, Task,
        Tracker, Trainer, cross_validate, default_score, train_test_split,
    };
    #[cfg(feature = "learn")]
    pub use ml_learn::{Algorithm, FittedPipeline, Pipeline, SavedModel};
    #[cfg(feature = "track")]
    pub use ml_track::{FanOutTracker, MlflowStore, Provenance, RunGuard, TensorBoardWriter};
}
