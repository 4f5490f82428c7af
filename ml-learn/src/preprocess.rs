//! Preprocessing fitted on data and described as [`Preprocess`] steps.

use ml_core::ndarray::{ArrayView2, Axis};
use ml_core::{FeatureKind, InputColumn, Preprocess};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// Which scaler a pipeline fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// No scaling.
    None,
    /// Zero mean, unit variance ([`StandardScaler`]).
    Standard,
    /// Into [0, 1] ([`MinMaxScaler`]).
    MinMax,
}

impl Scaling {
    /// Parse `none`, `standard` or `minmax`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Scaling::None),
            "standard" => Ok(Scaling::Standard),
            "minmax" | "min_max" => Ok(Scaling::MinMax),
            _ => Err(invalid("scale", format!("'{s}': expected none, standard or minmax"))),
        }
    }
}

/// Standardization: `(x - mean) / std` with the population standard
/// deviation; constant columns and `keep` columns get scale 1 and (for
/// `keep`) mean 0, i.e. pass through (scikit-learn's `StandardScaler`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardScaler;

impl StandardScaler {
    /// Fit on `x`, leaving the columns flagged in `keep` unchanged.
    ///
    /// # Errors
    /// No rows.
    pub fn fit(x: ArrayView2<'_, f64>, keep: &[bool]) -> Result<Preprocess> {
        let mean = x.mean_axis(Axis(0)).ok_or_else(|| invalid("x", "no rows"))?;
        let std = x.std_axis(Axis(0), 0.0);
        let pass = |j: usize| keep.get(j).copied().unwrap_or(false);
        Ok(Preprocess::StandardScale {
            mean: (0..x.ncols()).map(|j| if pass(j) { 0.0 } else { mean[j] }).collect(),
            scale: (0..x.ncols())
                .map(|j| {
                    if pass(j) || std[j] < 10.0 * f64::EPSILON * mean[j].abs().max(1.0) {
                        1.0
                    } else {
                        std[j]
                    }
                })
                .collect(),
        })
    }
}

/// Min-max scaling into [0, 1]; constant columns are shifted to 0
/// (scikit-learn's `MinMaxScaler`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MinMaxScaler;

impl MinMaxScaler {
    /// Fit on `x`.
    ///
    /// # Errors
    /// No rows.
    pub fn fit(x: ArrayView2<'_, f64>) -> Result<Preprocess> {
        if x.nrows() == 0 {
            return Err(invalid("x", "no rows"));
        }
        let mut scale = Vec::with_capacity(x.ncols());
        let mut offset = Vec::with_capacity(x.ncols());
        for col in x.axis_iter(Axis(1)) {
            let lo = col.fold(f64::INFINITY, |a, &b| a.min(b));
            let hi = col.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let s = if hi > lo { 1.0 / (hi - lo) } else { 1.0 };
            scale.push(s);
            offset.push(-lo * s);
        }
        Ok(Preprocess::MinMaxScale { scale, offset })
    }
}

/// One-hot encoding of the categorical input columns, in place.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneHotEncoder;

impl OneHotEncoder {
    /// The step for these input columns, or `None` when none is categorical.
    pub fn fit(columns: &[InputColumn]) -> Option<Preprocess> {
        let (cols, n): (Vec<usize>, Vec<usize>) = columns
            .iter()
            .enumerate()
            .filter_map(|(j, c)| match &c.kind {
                FeatureKind::Categorical { categories } => Some((j, categories.len())),
                FeatureKind::Numeric => None,
            })
            .unzip();
        (!cols.is_empty()).then_some(Preprocess::OneHot {
            columns: cols,
            n_categories: n,
        })
    }

    /// Which output columns of the step are one-hot indicators.
    pub fn indicator_mask(columns: &[InputColumn]) -> Vec<bool> {
        columns
            .iter()
            .flat_map(|c| match &c.kind {
                FeatureKind::Categorical { categories } => vec![true; categories.len()],
                FeatureKind::Numeric => vec![false],
            })
            .collect()
    }
}
