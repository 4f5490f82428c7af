//! Classical training for ml-sdk: logistic, linear and ridge regression,
//! decision trees, random forests, k-means, scaling and one-hot encoding,
//! chained by a [`Pipeline`] into one fitted unit that implements
//! [`ml_core::Model`], describes itself as a [`ml_core::ModelSpec`] and saves
//! to a versioned file.
//!
//! linfa does the fitting where it serves (logistic and least squares
//! regression). Trees, forests, ridge and k-means are our own: linfa 0.8 lacks
//! regression trees and node sample counts, and its k-means was 2-3x slower than
//! scikit-learn's (BENCHMARKS.md). linfa's ndarray 0.16 never crosses this
//! crate's boundary.
//!
//! ```
//! use ml_core::{KFold, Model, Trainer, cross_validate, default_score};
//! use ml_learn::{Pipeline, SavedModel};
//!
//! let data = ml_datasets::load("breast_cancer")?;
//! let trainer = Pipeline::from_params("logistic", &[("c".into(), "1.0".into())], None)?;
//! let folds = KFold::new(5).stratified(true).split(&data)?;
//! let cv = cross_validate(&trainer, &data, &folds, &default_score)?;
//! assert!(cv.mean() > 0.95);
//!
//! let model = trainer.fit_pipeline(&data)?;
//! let dir = tempfile::tempdir().unwrap();
//! SavedModel::from_model(&model, trainer.name(), trainer.params())?.save(dir.path())?;
//! let loaded = SavedModel::load(dir.path())?;
//! assert_eq!(loaded.predict(data.features())?, model.describe()?.predict(data.features())?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod bridge;
mod error;
mod kmeans;
mod linear;
mod pipeline;
mod preprocess;
#[cfg(feature = "privacy")]
mod private;
mod tree;

pub use error::{Error, Result};
pub use kmeans::KMeans;
pub use linear::{LinearRegression, LogisticRegression, Ridge};
/// K-means' inertia lives with the other metrics in ml-core; re-exported here.
pub use ml_core::metrics::inertia;
/// Model files moved to ml-core (any crate's model saves and loads the same way); re-exported here.
pub use ml_core::{FORMAT_VERSION, MAX_MODEL_BYTES, MODEL_FILE, SavedModel};
pub use pipeline::{Algorithm, FittedPipeline, Pipeline};
pub use preprocess::{MinMaxScaler, OneHotEncoder, Scaling, StandardScaler};
#[cfg(feature = "privacy")]
pub use private::DpLogistic;
pub use tree::{DecisionTree, MaxFeatures, RandomForest};
