//! Differentially private logistic regression as a pipeline algorithm
//! (feature `privacy`): ml-privacy's output-perturbed trainer behind the
//! pipeline's one-hot encoding.
//!
//! A private pipeline must not look at the data to preprocess it, so it
//! refuses data-derived scaling: numeric columns are clamped and scaled by
//! public bounds the caller states, one-hot indicator columns are bounded
//! by `[0, 1]`. The category lists of categorical columns are taken as
//! public (as the bounds are); a schema inferred from the same data reveals
//! which categories occur, which the privacy guarantee does not cover.

use std::collections::BTreeMap;

use ml_core::{FeatureKind, InputColumn};
use ml_privacy::{DpLogisticRegression, PrivacyLoss};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, invalid};

/// Output-perturbed L2-regularized binary logistic regression
/// ([`ml_privacy::DpLogisticRegression`]: Chaudhuri, Monteleoni and
/// Sarwate 2011, exact discrete Gaussian noise), (ε, δ)-DP for substitution
/// neighbours at a public row count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpLogistic {
    /// ε of the guarantee.
    pub epsilon: f64,
    /// δ of the guarantee.
    pub delta: f64,
    /// Regularization strength λ of the mean loss.
    pub lambda: f64,
    /// Public `(lo, hi)` bounds of numeric columns, by column name.
    pub bounds: BTreeMap<String, (f64, f64)>,
    /// Bounds of numeric columns not named in `bounds` (`None`: every
    /// numeric column must be named).
    pub default_bounds: Option<(f64, f64)>,
    /// Divisor of the scaled row (see [`DpLogisticRegression::row_scale`]).
    pub row_scale: Option<f64>,
    /// Seed of the noise, for reproducible tests only (`None`: the
    /// operating system's generator).
    pub insecure_seed: Option<u64>,
}

impl Default for DpLogistic {
    fn default() -> Self {
        Self {
            epsilon: 1.0,
            delta: 1e-6,
            lambda: 0.01,
            bounds: BTreeMap::new(),
            default_bounds: None,
            row_scale: None,
            insecure_seed: None,
        }
    }
}

/// Parse `LO:HI` (or `LO,HI`).
pub(crate) fn parse_bounds(key: &str, v: &str) -> Result<(f64, f64)> {
    let (lo, hi) = v
        .split_once(':')
        .or_else(|| v.split_once(','))
        .ok_or_else(|| invalid(key, format!("'{v}': expected LO:HI")))?;
    let num = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| invalid(key, format!("'{s}' is not a number")))
    };
    let b = (num(lo)?, num(hi)?);
    if !(b.0.is_finite() && b.1.is_finite() && b.0 <= b.1) {
        return Err(invalid(key, format!("'{v}': need finite LO <= HI")));
    }
    Ok(b)
}

impl DpLogistic {
    /// Check the hyper-parameters (the bounds are checked against the data at fit).
    ///
    /// # Errors
    /// The first invalid one.
    pub fn validate(&self) -> Result<()> {
        if !(self.epsilon > 0.0 && self.epsilon.is_finite()) {
            return Err(invalid("epsilon", format!("must be > 0, got {}", self.epsilon)));
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(invalid("delta", format!("must be in (0, 1), got {}", self.delta)));
        }
        if !(self.lambda > 0.0 && self.lambda.is_finite()) {
            return Err(invalid("lambda", format!("must be > 0, got {}", self.lambda)));
        }
        if let Some(r) = self.row_scale
            && !(r > 0.0 && r.is_finite())
        {
            return Err(invalid("row_scale", format!("must be > 0, got {r}")));
        }
        Ok(())
    }

    /// The trainer for the one-hot-encoded design of `columns`.
    pub(crate) fn trainer(&self, columns: &[InputColumn]) -> Result<DpLogisticRegression> {
        let unknown: Vec<&str> = self
            .bounds
            .keys()
            .filter(|k| !columns.iter().any(|c| &c.name == *k && c.kind == FeatureKind::Numeric))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(invalid(
                "bounds",
                format!("not numeric input columns: {}", unknown.join(", ")),
            ));
        }
        let mut feature_bounds = Vec::new();
        for c in columns {
            match &c.kind {
                FeatureKind::Categorical { categories } => {
                    feature_bounds.extend(std::iter::repeat_n((0.0, 1.0), categories.len()));
                }
                FeatureKind::Numeric => {
                    let b = self
                        .bounds
                        .get(&c.name)
                        .copied()
                        .or(self.default_bounds)
                        .ok_or_else(|| {
                            invalid(
                                "bounds",
                                format!(
                                    "no public bounds for column '{}' (give bounds.{}=LO:HI or bounds=LO:HI)",
                                    c.name, c.name
                                ),
                            )
                        })?;
                    feature_bounds.push(b);
                }
            }
        }
        Ok(DpLogisticRegression {
            lambda: self.lambda,
            feature_bounds,
            epsilon: self.epsilon,
            delta: self.delta,
            row_scale: self.row_scale,
            insecure_seed: self.insecure_seed,
        })
    }
}

/// The (ε, δ) a fit spent, as the pipeline records it.
pub(crate) fn spent(loss: PrivacyLoss) -> Result<(f64, f64)> {
    loss.to_approximate(None)
        .map_err(|e| Error::Core(ml_core::Error::invalid("privacy", e.to_string())))
}

pub(crate) fn privacy_error(e: ml_privacy::Error) -> Error {
    Error::Core(ml_core::Error::Backend {
        backend: "ml-privacy",
        source: Box::new(e),
    })
}
