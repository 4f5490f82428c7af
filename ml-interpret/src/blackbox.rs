//! Model-agnostic global methods on any [`Model`]: permutation importance
//! (Breiman 2001; scikit-learn's `permutation_importance`) and partial
//! dependence with individual conditional expectation curves (Friedman
//! 2001; Goldstein et al. 2015; scikit-learn's `partial_dependence`, brute
//! method, with its grid).

use crate::{Error, Result};
use ml_core::ndarray::{Array2, Axis};
use ml_core::{Dataset, Explainer, Explanation, Model};
use serde::Serialize;

use crate::kernel::{output_matrix, output_names};

/// The default score of a model on labelled data: accuracy for
/// classifiers, R² for regressors (scikit-learn's `score`).
///
/// # Errors
/// Data without a target, predictions that do not match it.
pub fn default_score(model: &dyn Model, data: &Dataset, x: ml_core::ndarray::ArrayView2<'_, f64>) -> Result<f64> {
    Ok(ml_core::importance::score(data, &model.predict(x)?)?)
}

/// Permutation importance: the drop of the model's score when one column is
/// shuffled, over `n_repeats` shuffles.
#[derive(Debug, Clone)]
pub struct PermutationImportance {
    /// Shuffles per feature, 1 to [`PermutationImportance::MAX_REPEATS`].
    pub n_repeats: usize,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl Default for PermutationImportance {
    fn default() -> Self {
        PermutationImportance { n_repeats: 5, seed: 0 }
    }
}

/// The importances, as scikit-learn reports them.
pub use ml_core::importance::Importances;

impl PermutationImportance {
    /// The most shuffles per feature.
    pub const MAX_REPEATS: usize = ml_core::importance::MAX_PERMUTATION_REPEATS;

    /// Compute the importances.
    ///
    /// # Errors
    /// No repeats, no rows, data without a target.
    pub fn importances(&self, model: &dyn Model, data: &Dataset) -> Result<Importances> {
        Ok(ml_core::importance::permutation_importance(
            model,
            data,
            self.n_repeats,
            self.seed,
        )?)
    }
}

impl Explainer for PermutationImportance {
    fn name(&self) -> &str {
        "permutation"
    }

    /// See [`Importances::to_explanation`].
    fn explain(&self, model: &dyn Model, data: &Dataset) -> ml_core::Result<Explanation> {
        Ok(self.importances(model, data)?.to_explanation(data.feature_names()))
    }
}

/// Partial dependence and ICE of one feature at a time.
#[derive(Debug, Clone)]
pub struct PartialDependence {
    /// Grid points between the percentiles (fewer when the column has
    /// fewer distinct values: then those values), 2 to
    /// [`PartialDependence::MAX_GRID`].
    pub grid_resolution: usize,
    /// The grid's ends as quantiles of the column.
    pub percentiles: (f64, f64),
}

impl Default for PartialDependence {
    fn default() -> Self {
        PartialDependence {
            grid_resolution: 100,
            percentiles: (0.05, 0.95),
        }
    }
}

/// One feature's curves.
#[derive(Debug, Clone, Serialize)]
pub struct Curves {
    /// The feature's name.
    pub feature: String,
    /// The grid.
    pub grid: Vec<f64>,
    /// Names of the outputs (class names, or `value`).
    pub outputs: Vec<String>,
    /// `grid × outputs`: the mean prediction with the feature set to each point.
    pub average: Vec<Vec<f64>>,
    /// `rows × grid × outputs`: each row's prediction at each point (ICE).
    pub individual: Vec<Vec<Vec<f64>>>,
}

/// scipy's `mquantiles` with its default plotting positions (α = β = 0.4),
/// which scikit-learn's grid uses.
fn mquantile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len() as f64;
    let (a, b) = (0.4, 0.4);
    let m = a + p * (1.0 - a - b);
    let aleph = n * p + m;
    let k = aleph.clamp(1.0, n - 1.0).floor();
    let gamma = (aleph - k).clamp(0.0, 1.0);
    let k = k as usize;
    (1.0 - gamma) * sorted[k - 1] + gamma * sorted[k]
}

impl PartialDependence {
    /// The most grid points.
    pub const MAX_GRID: usize = 100_000;
    /// The grid of one column, as scikit-learn builds it.
    ///
    /// # Errors
    /// A bad resolution or percentiles, an empty or non-finite column, or
    /// percentiles that meet.
    pub fn grid(&self, column: &[f64]) -> Result<Vec<f64>> {
        let (lo, hi) = self.percentiles;
        if !(0.0..=1.0).contains(&lo) || !(0.0..=1.0).contains(&hi) || lo >= hi {
            return Err(Error::invalid(
                "percentiles",
                format!("need 0 <= lo < hi <= 1, got ({lo}, {hi})"),
            ));
        }
        ml_core::limits::check_count("grid_resolution", self.grid_resolution, 2..=Self::MAX_GRID)?;
        if column.is_empty() {
            return Err(Error::invalid("data", "no rows"));
        }
        if let Some(v) = column.iter().find(|v| !v.is_finite()) {
            return Err(Error::invalid("data", format!("non-finite value {v}")));
        }
        let mut sorted = column.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut uniques = sorted.clone();
        uniques.dedup();
        if uniques.len() < self.grid_resolution {
            return Ok(uniques);
        }
        let (a, b) = (mquantile(&sorted, lo), mquantile(&sorted, hi));
        if (a - b).abs() <= 1e-8 + 1e-5 * b.abs() {
            return Err(Error::invalid(
                "percentiles",
                "the percentiles are too close to build a grid",
            ));
        }
        let r = self.grid_resolution;
        // numpy's linspace: start + i * step, the last point exactly `b`.
        let step = (b - a) / (r - 1) as f64;
        Ok((0..r)
            .map(|i| if i == r - 1 { b } else { a + i as f64 * step })
            .collect())
    }

    /// [`curves`](Self::curves) of the named features, in the order given
    /// (none named: every feature).
    ///
    /// # Errors
    /// [`ml_core::Error::UnknownColumn`] for a name that is not one of the data's
    /// features; as [`curves`](Self::curves).
    pub fn curves_of(&self, model: &dyn Model, data: &Dataset, features: &[String]) -> Result<Vec<Curves>> {
        let names = data.feature_names();
        let chosen: Vec<usize> = if features.is_empty() {
            (0..names.len()).collect()
        } else {
            features
                .iter()
                .map(|f| {
                    names.iter().position(|n| n == f).ok_or_else(|| {
                        ml_core::Error::UnknownColumn {
                            name: f.clone(),
                            available: names.join(", "),
                        }
                        .into()
                    })
                })
                .collect::<Result<_>>()?
        };
        chosen.into_iter().map(|j| self.curves(model, data, j)).collect()
    }

    /// The curves of `feature` (a column index of the data).
    ///
    /// # Errors
    /// An unknown feature, as [`grid`](Self::grid), prediction failures.
    pub fn curves(&self, model: &dyn Model, data: &Dataset, feature: usize) -> Result<Curves> {
        let x = data.features();
        if feature >= x.ncols() {
            return Err(Error::invalid(
                "feature",
                format!("column {feature} of {} columns", x.ncols()),
            ));
        }
        let col = x.column(feature).to_vec();
        let grid = self.grid(&col)?;
        let n = x.nrows();
        let cells = n as f64 * grid.len() as f64;
        ml_core::limits::check_work(
            "grid_resolution",
            cells * x.ncols() as f64 * 8.0,
            "use a coarser grid or fewer rows",
        )?;
        // Every row at every grid point, predicted in one call.
        let mut big = Array2::<f64>::zeros((n * grid.len(), x.ncols()));
        for (g, &v) in grid.iter().enumerate() {
            let mut block = big.slice_mut(ml_core::ndarray::s![g * n..(g + 1) * n, ..]);
            block.assign(&x);
            block.column_mut(feature).fill(v);
        }
        let out = output_matrix(model, big.view())?;
        let k = out.ncols();
        let individual = (0..n)
            .map(|i| (0..grid.len()).map(|g| out.row(g * n + i).to_vec()).collect())
            .collect();
        let average = (0..grid.len())
            .map(|g| {
                out.slice(ml_core::ndarray::s![g * n..(g + 1) * n, ..])
                    .mean_axis(Axis(0))
                    .map_or_else(|| vec![0.0; k], |m| m.to_vec())
            })
            .collect();
        Ok(Curves {
            feature: data.feature_names()[feature].clone(),
            grid,
            outputs: output_names(model),
            average,
            individual,
        })
    }
}
