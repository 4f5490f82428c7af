//! Naive Bayes (scikit-learn's `GaussianNB` and `MultinomialNB`). Both are
//! linear in what they see, so their specs are softmax-linear models: the
//! multinomial one over the counts, the Gaussian one over the inputs and
//! their squares (a [`Preprocess::Polynomial`] step), which gives the same
//! joint log-likelihoods and the same probabilities.

use ml_core::ndarray::{Array1, Array2, ArrayView2, Axis};
use ml_core::{Estimator, InputColumn, Link, Preprocess};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// Which likelihood the features follow.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case")]
pub enum NaiveBayes {
    /// A normal distribution per class and feature (`GaussianNB`).
    Gaussian {
        /// Added to every variance, times the largest feature variance
        /// (scikit-learn's `var_smoothing`, default 1e-9).
        var_smoothing: f64,
    },
    /// Counts (`MultinomialNB`): non-negative features.
    Multinomial {
        /// Additive (Laplace) smoothing (scikit-learn's `alpha`, default 1).
        alpha: f64,
    },
}

impl Default for NaiveBayes {
    fn default() -> Self {
        NaiveBayes::Gaussian { var_smoothing: 1e-9 }
    }
}

impl NaiveBayes {
    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// A negative or non-finite smoothing.
    pub fn validate(&self) -> Result<()> {
        let (name, v) = match self {
            NaiveBayes::Gaussian { var_smoothing } => ("var_smoothing", *var_smoothing),
            NaiveBayes::Multinomial { alpha } => ("alpha", *alpha),
        };
        if !(v.is_finite() && v >= 0.0) {
            return Err(invalid(name, format!("{v}: expected a finite number >= 0")));
        }
        Ok(())
    }

    /// Fit on the design matrix: the steps the spec needs after the
    /// pipeline's own (the squares for the Gaussian model) and the estimator.
    pub(crate) fn fit_design(
        &self,
        x: ArrayView2<'_, f64>,
        labels: &[usize],
        n_classes: usize,
        names: &[String],
    ) -> Result<(Option<Preprocess>, Estimator)> {
        self.validate()?;
        let (n, m) = x.dim();
        let mut counts = vec![0usize; n_classes];
        for &l in labels {
            counts[l] += 1;
        }
        let log_prior: Array1<f64> = counts.iter().map(|&c| (c as f64 / n as f64).ln()).collect();
        match *self {
            NaiveBayes::Multinomial { alpha } => {
                if let Some(j) = (0..m).find(|&j| x.column(j).iter().any(|&v| v < 0.0)) {
                    return Err(invalid(
                        names.get(j).map_or("x", String::as_str),
                        "multinomial naive Bayes needs non-negative features (counts); this column has negative values",
                    ));
                }
                let mut fc = Array2::<f64>::from_elem((n_classes, m), alpha);
                for (row, &l) in x.outer_iter().zip(labels) {
                    fc.row_mut(l).scaled_add(1.0, &row);
                }
                for mut r in fc.outer_iter_mut() {
                    let total = r.sum().ln();
                    r.mapv_inplace(|v| v.ln() - total);
                }
                if fc.iter().any(|v| !v.is_finite()) {
                    return Err(invalid(
                        "alpha",
                        "a class with no counts in some feature needs alpha > 0",
                    ));
                }
                Ok((
                    None,
                    Estimator::Linear {
                        coefficients: fc,
                        intercepts: log_prior,
                        link: Link::Softmax,
                    },
                ))
            }
            NaiveBayes::Gaussian { var_smoothing } => {
                let max_var = x.var_axis(Axis(0), 0.0).fold(0.0f64, |a, &b| a.max(b));
                let eps = var_smoothing * max_var;
                let mut coef = Array2::<f64>::zeros((n_classes, 2 * m));
                let mut intercepts = log_prior;
                for c in 0..n_classes {
                    let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
                    if rows.is_empty() {
                        continue; // log prior -inf: never predicted.
                    }
                    let xc = x.select(Axis(0), &rows);
                    let mean = xc.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(m));
                    let var = xc.var_axis(Axis(0), 0.0) + eps;
                    if var.iter().any(|&v| v <= 0.0) {
                        return Err(invalid(
                            "var_smoothing",
                            "a constant feature needs var_smoothing > 0 to have a variance",
                        ));
                    }
                    for j in 0..m {
                        coef[[c, j]] = mean[j] / var[j];
                        coef[[c, m + j]] = -0.5 / var[j];
                        intercepts[c] -=
                            0.5 * (2.0 * std::f64::consts::PI * var[j]).ln() + 0.5 * mean[j] * mean[j] / var[j];
                    }
                }
                // An absent class: a very low score rather than -inf, so the spec stays finite.
                intercepts.mapv_inplace(|v| if v.is_finite() { v } else { -1e300 });
                Ok((
                    Some(Preprocess::Polynomial {
                        terms: (0..m).map(|j| vec![j, j]).collect(),
                    }),
                    Estimator::Linear {
                        coefficients: coef,
                        intercepts,
                        link: Link::Softmax,
                    },
                ))
            }
        }
    }
}

/// The names of a design matrix's columns, for messages.
pub(crate) fn design_names(columns: &[InputColumn], width: usize) -> Vec<String> {
    if columns.len() == width {
        columns.iter().map(|c| c.name.clone()).collect()
    } else {
        (0..width).map(|j| format!("#{j}")).collect()
    }
}
