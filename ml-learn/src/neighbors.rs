//! k-nearest neighbours (scikit-learn's `KNeighborsClassifier` and
//! `KNeighborsRegressor` with the brute-force search): the model keeps the
//! training rows, so its spec is [`Estimator::Neighbors`].

use ml_core::Estimator;
use ml_core::ndarray::{Array2, ArrayView2};
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
}

impl Default for KNeighbors {
    fn default() -> Self {
        Self {
            n_neighbors: 5,
            distance_weighted: false,
        }
    }
}

impl KNeighbors {
    /// The most neighbours a model may ask for.
    pub const MAX_NEIGHBORS: usize = 10_000;

    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// `n_neighbors` outside 1 to [`KNeighbors::MAX_NEIGHBORS`].
    pub fn validate(&self) -> Result<()> {
        Ok(ml_core::limits::check_count(
            "n_neighbors",
            self.n_neighbors,
            1..=Self::MAX_NEIGHBORS,
        )?)
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
        })
    }
}
