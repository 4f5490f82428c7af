#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod boosting;
mod bridge;
pub mod calibration;
mod error;
mod kmeans;
mod linear;
mod naive_bayes;
mod neighbors;
mod pipeline;
mod preprocess;
#[cfg(feature = "privacy")]
mod private;
mod selection;
mod svm;
mod tree;

pub use boosting::{BoostTarget, CategoricalFeatures, EarlyStopping, HistGradientBoosting};
pub use calibration::{Calibration, CalibrationMethod};
pub use error::{Error, Result};
pub use kmeans::KMeans;
pub use linear::{LinearRegression, LogisticRegression, Ridge};
/// K-means' inertia lives with the other metrics in ml-core; re-exported here.
pub use ml_core::metrics::inertia;
/// Model files moved to ml-core (any crate's model saves and loads the same way); re-exported here.
pub use ml_core::{FORMAT_VERSION, MAX_MODEL_BYTES, MODEL_FILE, SavedModel};
pub use naive_bayes::NaiveBayes;
pub use neighbors::KNeighbors;
pub use pipeline::{Algorithm, FittedPipeline, Pipeline};
pub use preprocess::{
    FittedPca, ImputeStrategy, MinMaxScaler, OneHotEncoder, Pca, PolynomialFeatures, Scaling, SimpleImputer,
    StandardScaler,
};
#[cfg(feature = "privacy")]
pub use private::DpLogistic;
pub use selection::{FeatureSelection, PermutationSelection, select_features};
pub use svm::{LinearSvm, SvmLoss};
pub use tree::{DecisionTree, MaxFeatures, RandomForest};
