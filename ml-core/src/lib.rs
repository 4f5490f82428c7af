#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod compiled;
mod dataset;
mod error;
mod frame;
pub mod importance;
pub mod io;
pub mod limits;
pub mod metrics;
mod model;
pub mod neighbors;
pub mod neural;
mod parallel;
mod saved;
pub mod search;
mod spec;
mod split;
mod traits;

pub use compiled::CompiledSpec;
pub use dataset::{Dataset, FeatureKind, InputColumn, SensitiveColumn, Target};
pub use error::{Error, Result};
pub use frame::{
    ColumnType, DEFAULT_MISSING_MARKERS, Frame, LoadOptions, MISSING_MARKERS_ENV, TaskKind, UNKNOWN_CODE,
    UnknownCategory, write_csv, write_predictions_csv,
};
pub use limits::ReadLimits;
pub use model::{Predictions, Signature, Task, argmax};
pub use neighbors::{KdTree, NeighborSearch};
pub use neural::{Activation, EmbeddingTable, Layer, RowShape, embedding_matrix};
pub use saved::{FORMAT_VERSION, MAX_MODEL_BYTES, MODEL_FILE, SavedModel};
pub use spec::{
    Aggregation, CalibrationInput, Calibrator, CategorySet, Estimator, Link, MAX_AVERAGED_MEMBERS, ModelSpec,
    Preprocess, Split, Tree, TreeNode, apply_link, goes_left, linked_predictions, sigmoid,
};
pub use split::{
    CvScores, Fold, KFold, SeededRng, cross_validate, default_score, seeded_rng, train_test_indices, train_test_split,
};
pub use traits::{
    Deployer, Deployment, Explainer, Explanation, ExplanationScope, MetricPoint, Model, RunId, RunStatus, Tracker,
    Trainer,
};

pub use ndarray;
