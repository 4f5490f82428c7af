//! Permutation-based feature selection: each candidate column's importance
//! is the drop of the held-out score when that column is shuffled
//! (scikit-learn's `permutation_importance`), on every fold of a
//! cross-validation; the `n_features` columns of largest mean drop are
//! kept and the pipeline is refitted on them alone (a column selector, so
//! the model asks for those columns only).
//!
//! Cost: one fit per fold, and `columns × n_repeats` predictions of each
//! held-out fold. Cheap for linear models, trees and boosting; a
//! calibrated or neighbour model multiplies it.

use ml_core::importance::{largest, mean_std, permutation_importance};
use ml_core::{Dataset, KFold, Model, Target};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};
use crate::pipeline::Pipeline;

/// How a pipeline selects its columns by permutation importance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermutationSelection {
    /// Columns kept (scikit-learn's `n_features_to_select`).
    pub n_features: usize,
    /// Shuffles per column and fold (`n_repeats`, default 5).
    pub n_repeats: usize,
    /// Folds of the cross-validation (default 5; stratified for classes,
    /// unshuffled, as scikit-learn's `cv=5`).
    pub cv: usize,
    /// Seed of the shuffles (fold `f` uses `seed + f`).
    pub seed: u64,
}

impl PermutationSelection {
    /// The most shuffles per column and fold.
    pub const MAX_REPEATS: usize = 1_000;
    /// The most folds.
    pub const MAX_FOLDS: usize = 100;

    /// Keep `n_features` columns, 5 repeats, 5 folds, seed 0.
    pub fn new(n_features: usize) -> Self {
        Self {
            n_features,
            n_repeats: 5,
            cv: 5,
            seed: 0,
        }
    }

    /// Check the settings.
    ///
    /// # Errors
    /// No column to keep, repeats or folds out of range.
    pub fn validate(&self) -> Result<()> {
        ml_core::limits::check_count("select_features", self.n_features, 1..=usize::MAX)?;
        ml_core::limits::check_count("select_repeats", self.n_repeats, 1..=Self::MAX_REPEATS)?;
        ml_core::limits::check_count("select_cv", self.cv, 2..=Self::MAX_FOLDS)?;
        Ok(())
    }
}

/// What a selection measured and chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSelection {
    /// The candidate columns, in the data's order.
    pub columns: Vec<String>,
    /// Each candidate's mean drop of the held-out score, over folds and repeats.
    pub mean: Vec<f64>,
    /// The standard deviation (population) of those drops.
    pub std: Vec<f64>,
    /// The columns kept, in the data's order.
    pub selected: Vec<String>,
}

/// Measure every candidate column's permutation importance to `pipeline`
/// (its `columns` if it has a selector, else every feature column) on
/// cross-validated held-out folds, and choose the `n_features` most
/// important (ties to the earlier column). The pipeline's own selection
/// settings, if any, are not applied inside the folds.
///
/// # Errors
/// More columns asked for than there are, data without a target, fitting
/// or prediction failures of a fold.
pub fn select_features(
    pipeline: &Pipeline,
    data: &Dataset,
    selection: PermutationSelection,
) -> Result<FeatureSelection> {
    selection.validate()?;
    let base = Pipeline {
        select: None,
        ..pipeline.clone()
    };
    let candidates: Vec<String> = match &base.columns {
        Some(c) => c.clone(),
        None => data.feature_names(),
    };
    if selection.n_features > candidates.len() {
        return Err(invalid(
            "select_features",
            format!(
                "{} columns to keep, {} to choose from",
                selection.n_features,
                candidates.len()
            ),
        ));
    }
    let stratified = match data.target() {
        Some(Target::Classes { .. }) => true,
        Some(Target::Values { .. }) => false,
        None => return Err(invalid("select_features", "selecting by importance needs a target")),
    };
    let folds = KFold::new(selection.cv).stratified(stratified).split(data)?;
    let mut drops: Vec<Vec<f64>> = vec![Vec::new(); candidates.len()];
    for (f, fold) in folds.iter().enumerate() {
        let model = base.fit_pipeline(&data.select_rows(&fold.train)?)?;
        let held_out = data.select_rows(&fold.test)?;
        let held_out = held_out.aligned_to(&model.signature().inputs)?;
        let imp = permutation_importance(&model, &held_out, selection.n_repeats, selection.seed + f as u64)?;
        for (name, d) in held_out.feature_names().iter().zip(imp.all) {
            if let Some(j) = candidates.iter().position(|c| c == name) {
                drops[j].extend(d);
            }
        }
    }
    let (mean, std) = mean_std(&drops);
    let selected = largest(&mean, selection.n_features)
        .into_iter()
        .map(|j| candidates[j].clone())
        .collect();
    Ok(FeatureSelection {
        columns: candidates,
        mean,
        std,
        selected,
    })
}
