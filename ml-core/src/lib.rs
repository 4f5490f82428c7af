//! Core types of ml-sdk: the [`Dataset`], the portable [`ModelSpec`], metrics,
//! splits and cross-validation, CSV loading, and the five traits that connect
//! the crates: [`Model`], [`Trainer`], [`Tracker`], [`Explainer`], [`Deployer`].
//!
//! `ml-core` has no heavy dependencies; training, ONNX, privacy, explanations
//! and tracking live in sibling crates that all speak these types.
//!
//! ```
//! use ml_core::{Frame, LoadOptions, Model, ModelSpec, Estimator, Link, Signature, Task, InputColumn};
//! use ml_core::ndarray::array;
//!
//! // Read a CSV with a header; text columns become categorical codes.
//! let frame = Frame::from_csv_reader("x,color,y\n0.5,red,1\n-1.0,blue,0\n".as_bytes())?;
//! let data = frame.to_dataset(&LoadOptions::with_target("y"))?;
//! assert_eq!(data.feature_names(), ["x", "color"]);
//!
//! // A hand-written logistic model described as a spec is a Model.
//! let spec = ModelSpec {
//!     signature: Signature {
//!         inputs: vec![InputColumn::numeric("x")],
//!         unknown_category: Default::default(),
//!         task: Task::Classification { classes: vec!["0".into(), "1".into()] },
//!     },
//!     preprocessing: vec![],
//!     estimator: Estimator::Linear { coefficients: array![[2.0]], intercepts: array![0.0], link: Link::Logistic },
//! };
//! spec.validate()?;
//! let pred = spec.predict(array![[1.0], [-1.0]].view())?;
//! assert_eq!(ml_core::metrics::accuracy(&[1, 0], &pred_labels(&pred))?, 1.0);
//! # fn pred_labels(p: &ml_core::Predictions) -> Vec<usize> {
//! #     match p { ml_core::Predictions::Classification { labels, .. } => labels.to_vec(), _ => vec![] }
//! # }
//! # Ok::<(), ml_core::Error>(())
//! ```
#![deny(missing_docs)]

pub mod compiled;
mod dataset;
mod error;
mod frame;
pub mod io;
pub mod limits;
pub mod metrics;
mod model;
pub mod neural;
mod saved;
mod spec;
mod split;
mod traits;

pub use compiled::CompiledSpec;
pub use dataset::{Dataset, FeatureKind, InputColumn, SensitiveColumn, Target};
pub use error::{Error, Result};
pub use frame::{
    ColumnType, Frame, LoadOptions, TaskKind, UNKNOWN_CODE, UnknownCategory, write_csv, write_predictions_csv,
};
pub use limits::ReadLimits;
pub use model::{Predictions, Signature, Task, argmax};
pub use neural::{Activation, EmbeddingTable, Layer, RowShape, embedding_matrix};
pub use saved::{FORMAT_VERSION, MAX_MODEL_BYTES, MODEL_FILE, SavedModel};
pub use spec::{
    Aggregation, Estimator, Link, ModelSpec, Preprocess, Split, Tree, TreeNode, apply_link, goes_left,
    linked_predictions, sigmoid,
};
pub use split::{
    CvScores, Fold, KFold, SeededRng, cross_validate, default_score, seeded_rng, train_test_indices, train_test_split,
};
pub use traits::{
    Deployer, Deployment, Explainer, Explanation, ExplanationScope, MetricPoint, Model, RunId, RunStatus, Tracker,
    Trainer,
};

pub use ndarray;
