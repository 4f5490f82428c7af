//! [`Dataset`]: the validated table every trainer, metric and explainer works on.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, Task};

/// How a feature column is to be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureKind {
    /// A real number.
    Numeric,
    /// A category, stored in the feature matrix as its index into `categories`.
    ///
    /// The pipeline's one-hot step expands it; keeping the code in a single
    /// `f64` column lets every model work on one numeric matrix.
    Categorical {
        /// The known categories, in code order.
        categories: Vec<String>,
    },
}

/// One named input column of a model or data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputColumn {
    /// Column name, as in the CSV header.
    pub name: String,
    /// How the column is read.
    #[serde(flatten)]
    pub kind: FeatureKind,
}

impl InputColumn {
    /// A numeric column.
    pub fn numeric(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: FeatureKind::Numeric,
        }
    }
}

/// The supervised target of a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Class labels `0..names.len()`, with the name of each class.
    Classes {
        /// The label of each row.
        labels: Array1<usize>,
        /// Class names, indexed by label.
        names: Vec<String>,
    },
    /// Real-valued targets.
    Values {
        /// The value of each row.
        values: Array1<f64>,
    },
}

impl Target {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Target::Classes { labels, .. } => labels.len(),
            Target::Values { values } => values.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn select(&self, rows: &[usize]) -> Target {
        match self {
            Target::Classes { labels, names } => Target::Classes {
                labels: rows.iter().map(|&r| labels[r]).collect(),
                names: names.clone(),
            },
            Target::Values { values } => Target::Values {
                values: rows.iter().map(|&r| values[r]).collect(),
            },
        }
    }
}

/// A sensitive attribute (sex, age group, ...), kept aside from the features so
/// that fairness tools can group by it without the model seeing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensitiveColumn {
    /// Column name.
    pub name: String,
    /// The group of each row.
    pub values: Vec<String>,
}

/// Features with their names, an optional target, optional sample weights and
/// optional sensitive attributes, validated on construction.
///
/// ```
/// use ml_core::{Dataset, ndarray::array};
/// let ds = Dataset::new(array![[1.0, 2.0], [3.0, 4.0]], vec!["a".into(), "b".into()])?
///     .with_classes(vec![0, 1], vec!["no".into(), "yes".into()])?;
/// assert_eq!(ds.n_samples(), 2);
/// assert!(Dataset::new(array![[f64::NAN]], vec!["a".into()]).is_err());
/// # Ok::<(), ml_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    features: Array2<f64>,
    columns: Vec<InputColumn>,
    target: Option<Target>,
    target_name: Option<String>,
    weights: Option<Array1<f64>>,
    sensitive: Vec<SensitiveColumn>,
}

impl Dataset {
    /// All-numeric features with their column names.
    ///
    /// # Errors
    /// Empty data, a name count that differs from the column count, duplicate
    /// names, or a NaN/infinite value (named by row and column).
    pub fn new(features: Array2<f64>, feature_names: Vec<String>) -> Result<Self> {
        let columns = feature_names.into_iter().map(InputColumn::numeric).collect();
        Self::with_columns(features, columns)
    }

    /// Features described column by column (numeric or categorical codes).
    ///
    /// # Errors
    /// As [`Dataset::new`], and a categorical code that is neither an index into
    /// its categories nor [`crate::UNKNOWN_CODE`].
    pub fn with_columns(features: Array2<f64>, columns: Vec<InputColumn>) -> Result<Self> {
        Self::build(features, columns, false)
    }

    /// Features that may have missing values, stored as NaN (a missing
    /// category's code is NaN too). Infinities are still refused. Trainers
    /// that cannot take missing values refuse such data by name
    /// ([`Dataset::require_complete`]); see [`Dataset::missing_counts`].
    ///
    /// ```
    /// use ml_core::{Dataset, InputColumn, ndarray::array};
    /// let ds = Dataset::with_missing(array![[1.0], [f64::NAN]], vec![InputColumn::numeric("a")])?;
    /// assert_eq!(ds.missing_counts(), vec![("a".to_string(), 1)]);
    /// assert!(ds.require_complete("logistic").is_err());
    /// # Ok::<(), ml_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Dataset::with_columns`], except for NaN.
    pub fn with_missing(features: Array2<f64>, columns: Vec<InputColumn>) -> Result<Self> {
        Self::build(features, columns, true)
    }

    fn build(features: Array2<f64>, columns: Vec<InputColumn>, missing: bool) -> Result<Self> {
        const OP: &str = "Dataset::new";
        if features.nrows() == 0 {
            return Err(Error::Empty { op: OP, what: "rows" });
        }
        if features.ncols() == 0 {
            return Err(Error::Empty {
                op: OP,
                what: "feature columns",
            });
        }
        if columns.len() != features.ncols() {
            return Err(Error::shape(
                OP,
                format!("{} column names", features.ncols()),
                columns.len(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &columns {
            if !seen.insert(c.name.as_str()) {
                return Err(Error::invalid(
                    "feature_names",
                    format!("duplicate column '{}'", c.name),
                ));
            }
        }
        if missing {
            check_not_infinite(OP, features.view(), &columns)?;
        } else {
            check_finite(OP, features.view(), &columns)?;
        }
        for (j, c) in columns.iter().enumerate() {
            if let FeatureKind::Categorical { categories } = &c.kind {
                for (i, &v) in features.column(j).iter().enumerate() {
                    let known = v >= 0.0 && v.fract() == 0.0 && (v as usize) < categories.len();
                    if !known && v != crate::UNKNOWN_CODE && !v.is_nan() {
                        return Err(Error::invalid(
                            c.name.clone(),
                            format!("row {i}: {v} is not a code of {} categories", categories.len()),
                        ));
                    }
                }
            }
        }
        Ok(Self {
            features,
            columns,
            target: None,
            target_name: None,
            weights: None,
            sensitive: Vec::new(),
        })
    }

    /// Attach class labels with their class names.
    ///
    /// # Errors
    /// Length mismatch, no classes, or a label outside `0..names.len()`.
    pub fn with_classes(mut self, labels: Vec<usize>, names: Vec<String>) -> Result<Self> {
        const OP: &str = "Dataset::with_classes";
        self.check_len(OP, labels.len())?;
        if names.is_empty() {
            return Err(Error::Empty {
                op: OP,
                what: "class names",
            });
        }
        if let Some((row, &l)) = labels.iter().enumerate().find(|&(_, &l)| l >= names.len()) {
            return Err(Error::invalid(
                "labels",
                format!("row {row}: label {l} but only {} classes", names.len()),
            ));
        }
        self.target = Some(Target::Classes {
            labels: Array1::from(labels),
            names,
        });
        Ok(self)
    }

    /// Attach real-valued targets.
    ///
    /// # Errors
    /// Length mismatch or a non-finite value.
    pub fn with_values(mut self, values: Vec<f64>) -> Result<Self> {
        const OP: &str = "Dataset::with_values";
        self.check_len(OP, values.len())?;
        if let Some((row, &v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                op: OP,
                row,
                column: self.target_name.clone().unwrap_or_else(|| "target".into()),
                value: v,
            });
        }
        self.target = Some(Target::Values {
            values: Array1::from(values),
        });
        Ok(self)
    }

    /// Name the target column (used in messages and when writing predictions).
    pub fn with_target_name(mut self, name: impl Into<String>) -> Self {
        self.target_name = Some(name.into());
        self
    }

    /// Attach per-row sample weights.
    ///
    /// # Errors
    /// Length mismatch, or a weight that is negative or not finite, or all zero.
    pub fn with_weights(mut self, weights: Vec<f64>) -> Result<Self> {
        const OP: &str = "Dataset::with_weights";
        self.check_len(OP, weights.len())?;
        if let Some((row, &w)) = weights.iter().enumerate().find(|(_, w)| !w.is_finite() || **w < 0.0) {
            return Err(Error::invalid(
                "weights",
                format!("row {row}: weight {w} is not a finite non-negative number"),
            ));
        }
        if weights.iter().all(|&w| w == 0.0) {
            return Err(Error::invalid("weights", "all weights are zero"));
        }
        self.weights = Some(Array1::from(weights));
        Ok(self)
    }

    /// Attach a sensitive attribute column, kept out of the features.
    ///
    /// # Errors
    /// Length mismatch or a name already used.
    pub fn with_sensitive(mut self, name: impl Into<String>, values: Vec<String>) -> Result<Self> {
        let name = name.into();
        self.check_len("Dataset::with_sensitive", values.len())?;
        if self.sensitive.iter().any(|s| s.name == name) || self.columns.iter().any(|c| c.name == name) {
            return Err(Error::invalid("sensitive", format!("column '{name}' already exists")));
        }
        self.sensitive.push(SensitiveColumn { name, values });
        Ok(self)
    }

    fn check_len(&self, op: &'static str, n: usize) -> Result<()> {
        if n != self.n_samples() {
            return Err(Error::shape(
                op,
                format!("{} rows", self.n_samples()),
                format!("{n} rows"),
            ));
        }
        Ok(())
    }

    /// The feature matrix (categorical columns as codes).
    pub fn features(&self) -> ArrayView2<'_, f64> {
        self.features.view()
    }

    /// The feature columns' descriptions.
    pub fn columns(&self) -> &[InputColumn] {
        &self.columns
    }

    /// The feature names, in column order.
    pub fn feature_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The columns with missing values (NaN) and how many each has, in
    /// column order; empty when the data is complete.
    pub fn missing_counts(&self) -> Vec<(String, usize)> {
        missing_counts(self.features.view(), &self.columns)
    }

    /// Refuse data with missing values on behalf of `op` (a trainer's name),
    /// naming the first column that has them.
    ///
    /// # Errors
    /// [`Error::MissingValues`].
    pub fn require_complete(&self, op: &str) -> Result<()> {
        match self.missing_counts().into_iter().next() {
            None => Ok(()),
            Some((column, count)) => Err(Error::MissingValues {
                op: op.to_string(),
                column,
                count,
                hint: IMPUTE_HINT.into(),
            }),
        }
    }

    /// Number of rows.
    pub fn n_samples(&self) -> usize {
        self.features.nrows()
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// The target, if any.
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }

    /// The target column's name, if known.
    pub fn target_name(&self) -> Option<&str> {
        self.target_name.as_deref()
    }

    /// Class labels and names.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the target is missing or real-valued.
    pub fn classes(&self) -> Result<(ArrayView1<'_, usize>, &[String])> {
        match &self.target {
            Some(Target::Classes { labels, names }) => Ok((labels.view(), names)),
            _ => Err(Error::Unsupported("this operation needs class labels as target".into())),
        }
    }

    /// Real-valued targets.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the target is missing or categorical.
    pub fn values(&self) -> Result<ArrayView1<'_, f64>> {
        match &self.target {
            Some(Target::Values { values }) => Ok(values.view()),
            _ => Err(Error::Unsupported("this operation needs real-valued targets".into())),
        }
    }

    /// The task the target implies (`None` without a target).
    pub fn task(&self) -> Option<Task> {
        self.target.as_ref().map(|t| match t {
            Target::Classes { names, .. } => Task::Classification { classes: names.clone() },
            Target::Values { .. } => Task::Regression,
        })
    }

    /// Sample weights, if any.
    pub fn weights(&self) -> Option<ArrayView1<'_, f64>> {
        self.weights.as_ref().map(|w| w.view())
    }

    /// Sensitive attribute columns.
    pub fn sensitive(&self) -> &[SensitiveColumn] {
        &self.sensitive
    }

    /// A new data set with only the named feature columns, in the order
    /// given (target, weights and sensitive columns kept).
    ///
    /// # Errors
    /// No names, a name given twice, or [`Error::UnknownColumn`].
    pub fn select_columns(&self, names: &[String]) -> Result<Dataset> {
        if names.is_empty() {
            return Err(Error::Empty {
                op: "selecting columns",
                what: "column selection",
            });
        }
        let mut picked = Vec::with_capacity(names.len());
        for name in names {
            let j = self
                .columns
                .iter()
                .position(|c| &c.name == name)
                .ok_or_else(|| Error::UnknownColumn {
                    name: name.clone(),
                    available: self.feature_names().join(", "),
                })?;
            if picked.contains(&j) {
                return Err(Error::invalid("columns", format!("'{name}' is selected twice")));
            }
            picked.push(j);
        }
        Ok(Dataset {
            features: self.features.select(Axis(1), &picked),
            columns: picked.iter().map(|&j| self.columns[j].clone()).collect(),
            target: self.target.clone(),
            target_name: self.target_name.clone(),
            weights: self.weights.clone(),
            sensitive: self.sensitive.clone(),
        })
    }

    /// This data laid out as a model's inputs: the model's columns picked
    /// by name where they differ from this data's and this data has them
    /// all (a model with a column selector takes fewer than it was given,
    /// as a file's extra columns are ignored at prediction); otherwise
    /// itself, by position, as a model with unnamed inputs takes it.
    ///
    /// # Errors
    /// [`Error::UnknownColumn`] for an input the data lacks when the widths
    /// differ.
    pub fn aligned_to(&self, inputs: &[InputColumn]) -> Result<std::borrow::Cow<'_, Dataset>> {
        let same =
            inputs.len() == self.columns.len() && inputs.iter().zip(&self.columns).all(|(a, b)| a.name == b.name);
        let all_named = inputs.iter().all(|i| self.columns.iter().any(|c| c.name == i.name));
        if same || (inputs.len() == self.columns.len() && !all_named) {
            return Ok(std::borrow::Cow::Borrowed(self));
        }
        let names: Vec<String> = inputs.iter().map(|c| c.name.clone()).collect();
        Ok(std::borrow::Cow::Owned(self.select_columns(&names)?))
    }

    /// The rows whose class is one of `classes` (indices into the class
    /// names), relabelled `0..classes.len()` in that order and named as
    /// before: a related task cut from a labelled set, as transfer learning
    /// uses (digits 0-4 to pretrain, 5-9 to fine-tune). Weights and
    /// sensitive columns follow their rows.
    ///
    /// # Errors
    /// Data without class labels, an unknown or repeated class, or no row
    /// of those classes.
    pub fn select_classes(&self, classes: &[usize]) -> Result<Dataset> {
        let (labels, names) = self.classes()?;
        if let Some(&c) = classes.iter().find(|&&c| c >= names.len()) {
            return Err(Error::invalid(
                "classes",
                format!("class {c} out of range for {} classes", names.len()),
            ));
        }
        if let Some((i, _)) = classes.iter().enumerate().find(|(i, c)| classes[..*i].contains(c)) {
            return Err(Error::invalid("classes", format!("class {} given twice", classes[i])));
        }
        let mut new_label = vec![None; names.len()];
        for (new, &old) in classes.iter().enumerate() {
            new_label[old] = Some(new);
        }
        let (rows, relabelled): (Vec<usize>, Vec<usize>) = labels
            .iter()
            .enumerate()
            .filter_map(|(i, &l)| new_label[l].map(|n| (i, n)))
            .unzip();
        let new_names = classes.iter().map(|&c| names[c].clone()).collect();
        let mut part = self.select_rows(&rows)?;
        part.target = Some(Target::Classes {
            labels: relabelled.into(),
            names: new_names,
        });
        Ok(part)
    }

    /// A new data set made of the given rows, in that order (rows may repeat).
    ///
    /// # Errors
    /// An empty selection or an index out of range.
    pub fn select_rows(&self, rows: &[usize]) -> Result<Dataset> {
        if rows.is_empty() {
            return Err(Error::Empty {
                op: "selecting rows",
                what: "row selection",
            });
        }
        if let Some(&r) = rows.iter().find(|&&r| r >= self.n_samples()) {
            return Err(Error::invalid(
                "rows",
                format!("row {r} out of range for {} rows", self.n_samples()),
            ));
        }
        Ok(Dataset {
            features: self.features.select(Axis(0), rows),
            columns: self.columns.clone(),
            target: self.target.as_ref().map(|t| t.select(rows)),
            target_name: self.target_name.clone(),
            weights: self.weights.as_ref().map(|w| rows.iter().map(|&r| w[r]).collect()),
            sensitive: self
                .sensitive
                .iter()
                .map(|s| SensitiveColumn {
                    name: s.name.clone(),
                    values: rows.iter().map(|&r| s.values[r].clone()).collect(),
                })
                .collect(),
        })
    }
}

/// What to do about missing values where they cannot be taken.
pub(crate) const IMPUTE_HINT: &str = "impute them first: a SimpleImputer step, `--param impute=mean|median|most_frequent|constant` on the command line; or train `hgb`, which learns where they go";

/// The columns of `x` with NaN values and how many each has.
pub(crate) fn missing_counts(x: ArrayView2<'_, f64>, columns: &[InputColumn]) -> Vec<(String, usize)> {
    x.axis_iter(Axis(1))
        .enumerate()
        .filter_map(|(j, col)| {
            let n = col.iter().filter(|v| v.is_nan()).count();
            (n > 0).then(|| (columns.get(j).map_or_else(|| format!("#{j}"), |c| c.name.clone()), n))
        })
        .collect()
}

/// Reject infinities (NaN, a missing value, passes), naming the first
/// offending row and column.
pub(crate) fn check_not_infinite(op: &'static str, x: ArrayView2<'_, f64>, columns: &[InputColumn]) -> Result<()> {
    first_bad(op, x, columns, f64::is_infinite)
}

/// The first value for which `bad` holds, as [`Error::NonFinite`] naming its row and column.
fn first_bad(op: &'static str, x: ArrayView2<'_, f64>, columns: &[InputColumn], bad: fn(f64) -> bool) -> Result<()> {
    for (i, row) in x.outer_iter().enumerate() {
        if let Some((j, &v)) = row.iter().enumerate().find(|(_, v)| bad(**v)) {
            return Err(Error::NonFinite {
                op,
                row: i,
                column: columns.get(j).map_or_else(|| format!("#{j}"), |c| c.name.clone()),
                value: v,
            });
        }
    }
    Ok(())
}

/// Reject NaN and infinities, naming the first offending row and column.
pub(crate) fn check_finite(op: &'static str, x: ArrayView2<'_, f64>, columns: &[InputColumn]) -> Result<()> {
    // Fast path: a branch-free pass the compiler vectorizes; the row-wise
    // search below only runs to name the offending value.
    let all_finite = match x.as_slice() {
        Some(s) => s.iter().fold(true, |a, v| a & v.is_finite()),
        None => x.fold(true, |a, v| a & v.is_finite()),
    };
    if all_finite {
        return Ok(());
    }
    first_bad(op, x, columns, |v| !v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn columns_are_selected_and_aligned_by_name() {
        let ds = Dataset::new(array![[1.0, 2.0, 3.0]], vec!["a".into(), "b".into(), "c".into()]).unwrap();
        let picked = ds.select_columns(&["c".into(), "a".into()]).unwrap();
        assert_eq!(picked.features(), array![[3.0, 1.0]]);
        assert_eq!(picked.feature_names(), ["c", "a"]);
        assert!(ds.select_columns(&["a".into(), "a".into()]).is_err());
        assert!(matches!(
            ds.select_columns(&["z".into()]),
            Err(Error::UnknownColumn { .. })
        ));
        // A model of fewer columns takes them by name ...
        let inputs = vec![InputColumn::numeric("b")];
        assert_eq!(ds.aligned_to(&inputs).unwrap().features(), array![[2.0]]);
        // ... one whose inputs are named otherwise, by position ...
        let unnamed: Vec<InputColumn> = ["x0", "x1", "x2"].into_iter().map(InputColumn::numeric).collect();
        assert_eq!(ds.aligned_to(&unnamed).unwrap().features(), ds.features());
        // ... and a column it needs that the data lacks is named.
        assert!(ds.aligned_to(&[InputColumn::numeric("z")]).is_err());
    }

    #[test]
    fn classes_are_selected_and_relabelled() {
        let ds = Dataset::new(array![[0.0], [1.0], [2.0], [3.0]], vec!["x".into()])
            .unwrap()
            .with_classes(vec![0, 2, 1, 2], vec!["a".into(), "b".into(), "c".into()])
            .unwrap();
        let part = ds.select_classes(&[2, 0]).unwrap();
        assert_eq!(part.features(), array![[0.0], [1.0], [3.0]]);
        let (labels, names) = part.classes().unwrap();
        assert_eq!(labels.to_vec(), vec![1, 0, 0]);
        assert_eq!(names, ["c", "a"]);
        assert!(ds.select_classes(&[3]).is_err());
        assert!(ds.select_classes(&[1, 1]).is_err());
    }
}
