//! k-means clustering: Lloyd's algorithm with greedy k-means++ seeding and
//! several restarts, as scikit-learn's `KMeans`.
//!
//! Our own code rather than `linfa-clustering`: linfa's k-means computes every
//! point-centroid distance one pair at a time and stopped on an absolute
//! tolerance, which made it 2-3x slower than scikit-learn on digits (see
//! BENCHMARKS.md). Here the distances of a whole iteration are one matrix
//! product (`‖x‖² - 2 x·c + ‖c‖²`).

use ml_core::ndarray::{Array1, Array2, ArrayView2, Axis};
use ml_core::{Estimator, SeededRng, seeded_rng};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// k-means with k-means++ initialization and `n_init` restarts, keeping the
/// run of lowest inertia (scikit-learn's `KMeans(n_clusters, n_init)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    /// Number of clusters (>= 1).
    pub n_clusters: usize,
    /// Restarts, 1 to [`KMeans::MAX_INIT`].
    pub n_init: usize,
    /// Maximum Lloyd iterations per restart, 1 to [`KMeans::MAX_ITER`].
    pub max_iter: u64,
    /// Convergence tolerance, relative as in scikit-learn: a run stops when
    /// the summed squared centroid shift is at most `tol` times the mean
    /// per-feature variance of the data.
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
    /// The most restarts.
    pub const MAX_INIT: usize = 1_000;
    /// The most Lloyd iterations per restart.
    pub const MAX_ITER: usize = 1_000_000;

    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// Zero clusters, restarts or iterations, a non-positive tolerance.
    pub fn validate(&self) -> Result<()> {
        if self.n_clusters == 0 {
            return Err(invalid("n_clusters", "must be at least 1"));
        }
        ml_core::limits::check_count("n_init", self.n_init, 1..=Self::MAX_INIT)?;
        ml_core::limits::check_count(
            "max_iter",
            usize::try_from(self.max_iter).unwrap_or(usize::MAX),
            1..=Self::MAX_ITER,
        )?;
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(invalid("tol", "must be a non-negative number"));
        }
        Ok(())
    }

    /// Fit on a preprocessed matrix; the estimator holds the best run's centroids.
    pub(crate) fn fit_design(&self, x: ArrayView2<'_, f64>) -> Result<Estimator> {
        self.validate()?;
        let (n, k) = (x.nrows(), self.n_clusters);
        if n < k {
            return Err(invalid("n_clusters", format!("{k} clusters for {n} rows")));
        }
        let tol = self.tol * x.var_axis(Axis(0), 0.0).mean().unwrap_or(0.0);
        let sq_norms: Array1<f64> = x.outer_iter().map(|r| r.dot(&r)).collect();
        let mut rng = seeded_rng(self.seed);
        let mut best: Option<(f64, Array2<f64>)> = None;
        for _ in 0..self.n_init {
            let init = plus_plus(x, &sq_norms, k, &mut rng);
            let (inertia, centroids) = lloyd(x, &sq_norms, init, self.max_iter, tol);
            if best.as_ref().is_none_or(|(b, _)| inertia < *b) {
                best = Some((inertia, centroids));
            }
        }
        let (_, centroids) = best.expect("n_init >= 1");
        Ok(Estimator::Centroids { centroids })
    }
}

/// Squared distances of every row to every centroid, `n × k`, and each
/// row's nearest centroid with its distance.
fn assign(x: ArrayView2<'_, f64>, sq_norms: &Array1<f64>, centroids: &Array2<f64>) -> (Vec<usize>, Vec<f64>) {
    let c_norms: Vec<f64> = centroids.outer_iter().map(|c| c.dot(&c)).collect();
    let cross = x.dot(&centroids.t());
    let mut labels = Vec::with_capacity(x.nrows());
    let mut dists = Vec::with_capacity(x.nrows());
    for (i, row) in cross.outer_iter().enumerate() {
        let (mut bj, mut bd) = (0, f64::INFINITY);
        for (j, &xc) in row.iter().enumerate() {
            let d = sq_norms[i] - 2.0 * xc + c_norms[j];
            if d < bd {
                (bj, bd) = (j, d);
            }
        }
        labels.push(bj);
        dists.push(bd.max(0.0));
    }
    (labels, dists)
}

/// Lloyd iterations from `centroids`; returns the final inertia and centroids.
fn lloyd(
    x: ArrayView2<'_, f64>,
    sq_norms: &Array1<f64>,
    mut centroids: Array2<f64>,
    max_iter: u64,
    tol: f64,
) -> (f64, Array2<f64>) {
    let (k, d) = centroids.dim();
    let mut labels = Vec::new();
    for _ in 0..max_iter {
        let (new_labels, dists) = assign(x, sq_norms, &centroids);
        let mut sums = Array2::<f64>::zeros((k, d));
        let mut counts = vec![0usize; k];
        for (row, &l) in x.outer_iter().zip(&new_labels) {
            sums.row_mut(l).scaled_add(1.0, &row);
            counts[l] += 1;
        }
        // An empty cluster takes the point farthest from its centroid.
        for (j, count) in counts.iter_mut().enumerate() {
            if *count == 0 {
                let far = (0..dists.len())
                    .max_by(|&a, &b| dists[a].total_cmp(&dists[b]))
                    .unwrap_or(0);
                sums.row_mut(j).assign(&x.row(far));
                *count = 1;
            }
        }
        for (mut s, &c) in sums.outer_iter_mut().zip(&counts) {
            s /= c as f64;
        }
        let shift: f64 = (&sums - &centroids).mapv(|v| v * v).sum();
        centroids = sums;
        let unchanged = new_labels == labels;
        labels = new_labels;
        if unchanged || shift <= tol {
            break;
        }
    }
    let (_, dists) = assign(x, sq_norms, &centroids);
    (dists.iter().sum(), centroids)
}

/// Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, with scikit-learn's
/// `2 + ln k` candidate trials per centre).
fn plus_plus(x: ArrayView2<'_, f64>, sq_norms: &Array1<f64>, k: usize, rng: &mut SeededRng) -> Array2<f64> {
    let n = x.nrows();
    let trials = 2 + (k as f64).ln() as usize;
    let mut centroids = Array2::zeros((k, x.ncols()));
    let first = rng.random_range(0..n);
    centroids.row_mut(0).assign(&x.row(first));
    let dist_to = |i: usize| -> Vec<f64> {
        let c = x.row(i);
        let cn = sq_norms[i];
        x.outer_iter()
            .zip(sq_norms)
            .map(|(r, &rn)| (rn - 2.0 * r.dot(&c) + cn).max(0.0))
            .collect()
    };
    let mut closest = dist_to(first);
    let mut potential: f64 = closest.iter().sum();
    for c in 1..k {
        let mut cumulative = Vec::with_capacity(n);
        let mut acc = 0.0;
        for &d in &closest {
            acc += d;
            cumulative.push(acc);
        }
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let target = rng.random::<f64>() * potential;
            let candidate = cumulative.partition_point(|&v| v < target).min(n - 1);
            let merged: Vec<f64> = dist_to(candidate)
                .iter()
                .zip(&closest)
                .map(|(a, b)| a.min(*b))
                .collect();
            let pot: f64 = merged.iter().sum();
            if best.as_ref().is_none_or(|(p, _, _)| pot < *p) {
                best = Some((pot, candidate, merged));
            }
        }
        let (pot, candidate, merged) = best.expect("at least two trials");
        centroids.row_mut(c).assign(&x.row(candidate));
        closest = merged;
        potential = pot;
    }
    centroids
}

#[cfg(test)]
mod tests {
    use super::*;
    use ml_core::metrics::inertia;

    fn blobs() -> Array2<f64> {
        // Three tight groups around (0,0), (10,0), (0,10).
        let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        Array2::from_shape_fn((30, 2), |(i, j)| {
            let (cx, cy) = centres[i % 3];
            let jitter = ((i * 7 + j * 3) % 5) as f64 * 0.1;
            if j == 0 { cx + jitter } else { cy - jitter }
        })
    }

    #[test]
    fn finds_separated_clusters_and_is_seeded() {
        let x = blobs();
        let km = KMeans {
            n_clusters: 3,
            seed: 5,
            ..KMeans::default()
        };
        let Estimator::Centroids { centroids } = km.fit_design(x.view()).unwrap() else {
            panic!()
        };
        let mut found: Vec<(i64, i64)> = centroids
            .outer_iter()
            .map(|c| (c[0].round() as i64, c[1].round() as i64))
            .collect();
        found.sort_unstable();
        assert_eq!(found, vec![(0, 0), (0, 10), (10, 0)]);
        assert_eq!(km.fit_design(x.view()).unwrap(), km.fit_design(x.view()).unwrap());
    }

    #[test]
    fn as_many_clusters_as_rows_gives_zero_inertia() {
        let x = blobs().slice(ml_core::ndarray::s![..4, ..]).to_owned();
        let km = KMeans {
            n_clusters: 4,
            ..KMeans::default()
        };
        let Estimator::Centroids { centroids } = km.fit_design(x.view()).unwrap() else {
            panic!()
        };
        assert!(inertia(x.view(), centroids.view()) < 1e-12);
        assert!(
            KMeans {
                n_clusters: 5,
                ..KMeans::default()
            }
            .fit_design(x.view())
            .is_err()
        );
    }
}
