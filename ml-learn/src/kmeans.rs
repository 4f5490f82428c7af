//! k-means clustering on `linfa-clustering` (Lloyd's algorithm, k-means++
//! initialization, best of several restarts).

use linfa::prelude::*;
use ml_core::ndarray::ArrayView2;
use rand_xoshiro06::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::bridge::{contiguous, view16};
use crate::error::{Error, Result, invalid};
use crate::pipeline::FittedEstimator;

/// k-means with k-means++ initialization and `n_init` restarts, keeping the
/// run of lowest inertia (scikit-learn's `KMeans(n_clusters, n_init)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    /// Number of clusters (>= 1).
    pub n_clusters: usize,
    /// Restarts (>= 1).
    pub n_init: usize,
    /// Maximum Lloyd iterations per restart.
    pub max_iter: u64,
    /// Convergence tolerance on the centroid shift.
    pub tol: f64,
    /// Seed of the initializations.
    pub seed: u64,
}

impl Default for KMeans {
    fn default() -> Self {
        Self {
            n_clusters: 8,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
        }
    }
}

impl KMeans {
    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// Zero clusters, restarts or iterations, a non-positive tolerance.
    pub fn validate(&self) -> Result<()> {
        if self.n_clusters == 0 {
            return Err(invalid("n_clusters", "must be at least 1"));
        }
        if self.n_init == 0 {
            return Err(invalid("n_init", "must be at least 1"));
        }
        if self.max_iter == 0 {
            return Err(invalid("max_iter", "must be at least 1"));
        }
        if !(self.tol > 0.0 && self.tol.is_finite()) {
            return Err(invalid("tol", "must be a positive number"));
        }
        Ok(())
    }

    pub(crate) fn fit_design(&self, x: ArrayView2<'_, f64>) -> Result<FittedEstimator> {
        self.validate()?;
        if x.nrows() < self.n_clusters {
            return Err(invalid(
                "n_clusters",
                format!("{} clusters for {} rows", self.n_clusters, x.nrows()),
            ));
        }
        let data = contiguous(&x);
        let records = view16(&data, x.nrows(), x.ncols());
        let ds = linfa::DatasetBase::from(records);
        let rng = rand_xoshiro06::Xoshiro256Plus::seed_from_u64(self.seed);
        let model = linfa_clustering::KMeans::params_with_rng(self.n_clusters, rng)
            .n_runs(self.n_init)
            .max_n_iterations(self.max_iter)
            .tolerance(self.tol)
            .fit(&ds)
            .map_err(|e| Error::Linfa {
                algorithm: "k-means",
                message: e.to_string(),
            })?;
        Ok(FittedEstimator::KMeans(model))
    }
}

/// Sum of squared distances of each row to its nearest centroid
/// (scikit-learn's `inertia_`).
pub fn inertia(x: ArrayView2<'_, f64>, centroids: ArrayView2<'_, f64>) -> f64 {
    x.outer_iter()
        .map(|row| {
            centroids
                .outer_iter()
                .map(|c| row.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
                .fold(f64::INFINITY, f64::min)
        })
        .sum()
}
