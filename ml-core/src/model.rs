//! What a model takes and gives: [`Task`], [`Signature`], [`Predictions`].

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::dataset::{check_finite, check_not_infinite, missing_counts};
use crate::frame::{UNKNOWN_CODE, UnknownCategory};
use crate::{Error, FeatureKind, InputColumn, Result};

/// What a model predicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Task {
    /// One of these classes (names indexed by label).
    Classification {
        /// Class names, indexed by label.
        classes: Vec<String>,
    },
    /// A real value.
    Regression,
    /// A cluster index in `0..n_clusters`.
    Clustering {
        /// Number of clusters.
        n_clusters: usize,
    },
}

impl Task {
    /// A short name: `classification`, `regression` or `clustering`.
    pub fn name(&self) -> &'static str {
        match self {
            Task::Classification { .. } => "classification",
            Task::Regression => "regression",
            Task::Clustering { .. } => "clustering",
        }
    }
}

/// The contract of a model's input and output: named input columns (the input
/// shape is `rows × inputs.len()`), how unseen categories are handled, and the
/// task, which fixes the output kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Input columns in order.
    pub inputs: Vec<InputColumn>,
    /// What to do with an unseen category.
    #[serde(default)]
    pub unknown_category: UnknownCategory,
    /// The output kind.
    pub task: Task,
    /// Whether inputs may have missing values (NaN): the model imputes them
    /// or routes them (gradient boosting). Otherwise NaN is refused by name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accepts_missing: bool,
}

impl Signature {
    /// A signature for these inputs and task: unseen categories refused,
    /// missing values refused.
    pub fn new(inputs: Vec<InputColumn>, task: Task) -> Self {
        Self {
            inputs,
            unknown_category: UnknownCategory::Error,
            task,
            accepts_missing: false,
        }
    }

    /// Number of input columns.
    pub fn n_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Input column names.
    pub fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|c| c.name.clone()).collect()
    }

    /// Check an input matrix against this signature: width, finiteness
    /// (NaN only where [`Signature::accepts_missing`]), and categorical codes
    /// (`-1` only under [`UnknownCategory::Ignore`]).
    ///
    /// # Errors
    /// [`Error::Shape`], [`Error::MissingValues`], [`Error::NonFinite`],
    /// [`Error::InvalidParameter`].
    pub fn validate_input(&self, x: ArrayView2<'_, f64>) -> Result<()> {
        const OP: &str = "predict";
        if x.ncols() != self.inputs.len() {
            return Err(Error::shape(
                OP,
                format!("{} input columns", self.inputs.len()),
                format!("{} columns", x.ncols()),
            ));
        }
        if x.nrows() == 0 {
            return Err(Error::Empty { op: OP, what: "rows" });
        }
        if self.accepts_missing {
            check_not_infinite(OP, x, &self.inputs)?;
        } else if let Err(e) = check_finite(OP, x, &self.inputs) {
            return Err(match missing_counts(x, &self.inputs).into_iter().next() {
                Some((column, count)) => Error::MissingValues {
                    op: OP.into(),
                    column,
                    count,
                    hint: "the model was trained on complete data; impute the input, or train with an imputer (`impute=`) or with hgb".into(),
                },
                None => e,
            });
        }
        for (j, c) in self.inputs.iter().enumerate() {
            if let FeatureKind::Categorical { categories } = &c.kind {
                for (i, &v) in x.column(j).iter().enumerate() {
                    let known = v >= 0.0 && v.fract() == 0.0 && (v as usize) < categories.len();
                    let ignored = v == UNKNOWN_CODE && self.unknown_category == UnknownCategory::Ignore;
                    let missing = v.is_nan() && self.accepts_missing;
                    if !(known || ignored || missing) {
                        return Err(Error::invalid(
                            c.name.clone(),
                            format!(
                                "row {i}: {v} is not a code of the {} known categories",
                                categories.len()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The output of [`crate::Model::predict`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Predictions {
    /// Class labels, with class probabilities where the model gives them.
    Classification {
        /// Predicted label of each row.
        labels: Array1<usize>,
        /// `rows × classes` probabilities.
        probabilities: Option<Array2<f64>>,
        /// Class names, indexed by label.
        classes: Vec<String>,
    },
    /// Real values.
    Regression {
        /// Predicted value of each row.
        values: Array1<f64>,
    },
    /// Cluster assignments.
    Clustering {
        /// Cluster of each row.
        clusters: Array1<usize>,
    },
}

impl Predictions {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Predictions::Classification { labels, .. } => labels.len(),
            Predictions::Regression { values } => values.len(),
            Predictions::Clustering { clusters } => clusters.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Classification predictions from probabilities: the label of each row is
    /// the most probable class (the first one on ties, as `argmax` does).
    pub fn from_probabilities(probabilities: Array2<f64>, classes: Vec<String>) -> Self {
        let labels = probabilities.outer_iter().map(|r| argmax(r.iter().copied())).collect();
        Predictions::Classification {
            labels,
            probabilities: Some(probabilities),
            classes,
        }
    }

    /// A score per row for metrics such as ROC AUC: the positive-class
    /// probability for binary classification, the value for regression.
    pub fn scores(&self) -> Option<Array1<f64>> {
        match self {
            Predictions::Classification {
                probabilities: Some(p), ..
            } if p.ncols() == 2 => Some(p.column(1).to_owned()),
            Predictions::Regression { values } => Some(values.clone()),
            _ => None,
        }
    }
}

/// Index of the largest value (first on ties); 0 for an empty iterator.
pub fn argmax(values: impl IntoIterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.into_iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}
