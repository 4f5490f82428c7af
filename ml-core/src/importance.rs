//! Permutation importance (Breiman 2001; scikit-learn's
//! `permutation_importance`): the drop of a model's score when one column's
//! values are shuffled among the rows. ml-interpret explains models with it
//! and ml-learn selects features by it, so both read the same numbers.

use ndarray::{Array2, Array3};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::{Dataset, Error, Explanation, ExplanationScope, Model, Predictions, Result, Target, metrics, seeded_rng};

/// The most shuffles per feature.
pub const MAX_PERMUTATION_REPEATS: usize = 100_000;

/// Permutation importances, as scikit-learn reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importances {
    /// Score on the unshuffled data.
    pub baseline: f64,
    /// Mean drop per feature.
    pub mean: Vec<f64>,
    /// Standard deviation (population) of the drops per feature.
    pub std: Vec<f64>,
    /// `features × repeats` drops.
    pub all: Vec<Vec<f64>>,
}

impl Importances {
    /// As an [`Explanation`]: one row, the mean drop per feature; the base
    /// value is the baseline score.
    pub fn to_explanation(&self, feature_names: Vec<String>) -> Explanation {
        let m = self.mean.len();
        Explanation {
            method: "permutation".into(),
            scope: ExplanationScope::Global,
            feature_names,
            output_names: vec!["score_drop".into()],
            base_values: Array2::from_elem((1, 1), self.baseline),
            values: Array3::from_shape_fn((1, m, 1), |(_, j, _)| self.mean[j]),
        }
    }
}

/// The indices of the `k` largest values (ties to the earlier index), in
/// increasing order.
pub fn largest(values: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    order.truncate(k);
    order.sort_unstable();
    order
}

/// Each feature's mean drop and its standard deviation (population), over
/// its drops (none: zero).
pub fn mean_std(drops: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let mean: Vec<f64> = drops
        .iter()
        .map(|d| d.iter().sum::<f64>() / d.len().max(1) as f64)
        .collect();
    let std = drops
        .iter()
        .zip(&mean)
        .map(|(d, m)| (d.iter().map(|v| (v - m).powi(2)).sum::<f64>() / d.len().max(1) as f64).sqrt())
        .collect();
    (mean, std)
}

/// Accuracy for classifiers, R² for regressors (scikit-learn's `score`),
/// of `predictions` against `data`'s target.
///
/// # Errors
/// Data without a target, predictions that do not match it.
pub fn score(data: &Dataset, predictions: &Predictions) -> Result<f64> {
    match (data.target(), predictions) {
        (Some(Target::Classes { labels, .. }), Predictions::Classification { labels: p, .. }) => {
            metrics::accuracy(&labels.to_vec(), &p.to_vec())
        }
        (Some(Target::Values { values }), Predictions::Regression { values: p }) => {
            metrics::r2_score(values.view(), p.view())
        }
        (None, _) => Err(Error::invalid(
            "target",
            "permutation importance needs a target to score against",
        )),
        _ => Err(Error::invalid("target", "the target does not match the model's task")),
    }
}

/// The importance of each of `data`'s feature columns to `model`: its score
/// on `data` less its score with that column shuffled, `n_repeats` times
/// per column, the shuffles drawn from `seed`. The model reads `data`'s
/// feature matrix as it is (align it to the model's inputs first).
///
/// # Errors
/// No repeats or more than [`MAX_PERMUTATION_REPEATS`], no rows, data
/// without a target, more evaluations than the work limit allows.
pub fn permutation_importance(model: &dyn Model, data: &Dataset, n_repeats: usize, seed: u64) -> Result<Importances> {
    crate::limits::check_count("n_repeats", n_repeats, 1..=MAX_PERMUTATION_REPEATS)?;
    if data.n_samples() == 0 {
        return Err(Error::invalid("data", "no rows"));
    }
    crate::limits::check_evaluations(
        "n_repeats",
        n_repeats as f64 * data.n_features() as f64 * data.n_samples() as f64,
        "use fewer repeats or fewer rows",
    )?;
    let x = data.features();
    let baseline = score(data, &model.predict(x)?)?;
    let mut rng = seeded_rng(seed);
    let mut all = Vec::with_capacity(x.ncols());
    let mut shuffled = x.to_owned();
    let mut order: Vec<usize> = (0..x.nrows()).collect();
    for j in 0..x.ncols() {
        let mut drops = Vec::with_capacity(n_repeats);
        for _ in 0..n_repeats {
            order.shuffle(&mut rng);
            for (i, &from) in order.iter().enumerate() {
                shuffled[[i, j]] = x[[from, j]];
            }
            drops.push(baseline - score(data, &model.predict(shuffled.view())?)?);
        }
        shuffled.column_mut(j).assign(&x.column(j));
        all.push(drops);
    }
    let (mean, std) = mean_std(&all);
    Ok(Importances {
        baseline,
        mean,
        std,
        all,
    })
}
