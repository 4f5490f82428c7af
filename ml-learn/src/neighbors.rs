//! k-nearest neighbours (scikit-learn's `KNeighborsClassifier` and
//! `KNeighborsRegressor`, searching by KD-tree or brute force): the model
//! keeps the training rows, so its spec is [`Estimator::Neighbors`].

use ml_core::ndarray::{Array2, ArrayView2};
use ml_core::{Estimator, NeighborSearch};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};
use crate::tree::TreeTarget;

/// k-nearest neighbours in Euclidean distance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KNeighbors {
    /// How many neighbours vote (scikit-learn's `n_neighbors`, default 5).
    pub n_neighbors: usize,
    /// Weight votes by inverse distance (`weights="distance"`) instead of
    /// equally (`"uniform"`).
    pub distance_weighted: bool,
    /// How neighbours are found (scikit-learn's `algorithm`: `auto`,
    /// `kd_tree`, `brute`); the predictions are the same.
    #[serde(default)]
    pub search: NeighborSearch,
    /// Rows per KD-tree leaf (scikit-learn's `leaf_size`, default 30).
    #[serde(default = "NeighborSearch::default_leaf_size")]
    pub leaf_size: usize,
}

impl Default for KNeighbors {
    fn default() -> Self {
        Self {
            n_neighbors: 5,
            distance_weighted: false,
            search: NeighborSearch::Auto,
            leaf_size: NeighborSearch::DEFAULT_LEAF_SIZE,
        }
    }
}

impl KNeighbors {
    /// The most neighbours a model may ask for.
    pub const MAX_NEIGHBORS: usize = 10_000;

    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// `n_neighbors` outside 1 to [`KNeighbors::MAX_NEIGHBORS`], `leaf_size`
    /// outside 1 to [`NeighborSearch::MAX_LEAF_SIZE`].
    pub fn validate(&self) -> Result<()> {
        ml_core::limits::check_count("n_neighbors", self.n_neighbors, 1..=Self::MAX_NEIGHBORS)?;
        ml_core::limits::check_count("leaf_size", self.leaf_size, 1..=NeighborSearch::MAX_LEAF_SIZE)?;
        Ok(())
    }

    /// "Fit": keep the rows with their outputs (one-hot classes or values).
    pub(crate) fn fit_design(&self, x: ArrayView2<'_, f64>, target: TreeTarget<'_>) -> Result<Estimator> {
        self.validate()?;
        if self.n_neighbors > x.nrows() {
            return Err(invalid(
                "n_neighbors",
                format!("{} neighbours asked for, {} training rows", self.n_neighbors, x.nrows()),
            ));
        }
        let outputs = match target {
            TreeTarget::Classes { labels, n_classes } => {
                let mut o = Array2::zeros((labels.len(), n_classes));
                for (i, &l) in labels.iter().enumerate() {
                    o[[i, l]] = 1.0;
                }
                o
            }
            TreeTarget::Values(v) => Array2::from_shape_fn((v.len(), 1), |(i, _)| v[i]),
        };
        Ok(Estimator::Neighbors {
            points: x.to_owned(),
            outputs,
            k: self.n_neighbors,
            distance_weighted: self.distance_weighted,
            search: self.search,
            leaf_size: self.leaf_size,
        })
    }
}
