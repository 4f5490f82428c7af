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

/// How [`SimpleImputer`] fills a missing value of a numeric column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum ImputeStrategy {
    /// The mean of the values present.
    Mean,
    /// The median of the values present (the mean of the middle two for an
    /// even count).
    Median,
    /// The most frequent value present (the smallest on ties).
    MostFrequent,
    /// A constant.
    Constant {
        /// The value put in.
        fill_value: f64,
    },
}

impl ImputeStrategy {
    /// Parse `mean`, `median`, `most_frequent` or `constant` (filling with
    /// `fill_value`, 0 unless given), scikit-learn's names.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str, fill_value: Option<f64>) -> Result<Self> {
        match s {
            "mean" => Ok(Self::Mean),
            "median" => Ok(Self::Median),
            "most_frequent" => Ok(Self::MostFrequent),
            "constant" => Ok(Self::Constant {
                fill_value: fill_value.unwrap_or(0.0),
            }),
            _ => Err(invalid(
                "impute",
                format!("'{s}': expected mean, median, most_frequent or constant"),
            )),
        }
    }

    /// scikit-learn's name of the strategy.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Median => "median",
            Self::MostFrequent => "most_frequent",
            Self::Constant { .. } => "constant",
        }
    }
}

/// Missing-value imputation fitted on data (scikit-learn's `SimpleImputer`):
/// each numeric column's missing values become the strategy's statistic of
/// the values present; a categorical column's become its most frequent
/// category whatever the strategy (a mean of category codes means nothing).
/// With `add_indicator`, a 0/1 column per column that had missing values in
/// the fitted data is appended, as scikit-learn's `add_indicator=True` does.
///
/// ```
/// use ml_core::{InputColumn, ndarray::array};
/// use ml_learn::{ImputeStrategy, SimpleImputer};
/// let x = array![[1.0, f64::NAN], [3.0, 4.0], [f64::NAN, 8.0]];
/// let cols = [InputColumn::numeric("a"), InputColumn::numeric("b")];
/// let step = SimpleImputer::new(ImputeStrategy::Median).fit(x.view(), &cols)?;
/// assert_eq!(step.apply(x.view())?.row(2).to_vec(), vec![2.0, 8.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimpleImputer {
    /// How numeric columns are filled.
    #[serde(flatten)]
    pub strategy: ImputeStrategy,
    /// Append a missing-value indicator per column that had missing values.
    #[serde(default)]
    pub add_indicator: bool,
}

impl SimpleImputer {
    /// An imputer with this strategy and no indicator columns.
    pub fn new(strategy: ImputeStrategy) -> Self {
        Self {
            strategy,
            add_indicator: false,
        }
    }

    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// A constant that is not a finite number.
    pub fn validate(&self) -> Result<()> {
        match self.strategy {
            ImputeStrategy::Constant { fill_value } if !fill_value.is_finite() => {
                Err(invalid("fill_value", "must be a finite number"))
            }
            _ => Ok(()),
        }
    }

    /// Fit on `x`, whose columns are described by `columns`.
    ///
    /// # Errors
    /// An invalid constant, a width that differs from `columns`, or a column
    /// with no value present (nothing to impute from; drop it).
    pub fn fit(&self, x: ArrayView2<'_, f64>, columns: &[InputColumn]) -> Result<Preprocess> {
        self.validate()?;
        if x.ncols() != columns.len() {
            return Err(invalid(
                "x",
                format!("{} columns, {} described", x.ncols(), columns.len()),
            ));
        }
        let mut values = Vec::with_capacity(x.ncols());
        let mut indicators = Vec::new();
        for (j, (col, c)) in x.axis_iter(Axis(1)).zip(columns).enumerate() {
            let mut present: Vec<f64> = col.iter().copied().filter(|v| !v.is_nan()).collect();
            if present.len() < col.len() && self.add_indicator {
                indicators.push(j);
            }
            if present.is_empty() {
                return Err(invalid(
                    &c.name,
                    "every value is missing: there is nothing to impute from (drop the column)",
                ));
            }
            let strategy = match c.kind {
                FeatureKind::Categorical { .. } => ImputeStrategy::MostFrequent,
                FeatureKind::Numeric => self.strategy,
            };
            values.push(match strategy {
                ImputeStrategy::Mean => present.iter().sum::<f64>() / present.len() as f64,
                ImputeStrategy::Median => {
                    present.sort_by(f64::total_cmp);
                    let m = present.len() / 2;
                    if present.len() % 2 == 1 {
                        present[m]
                    } else {
                        (present[m - 1] + present[m]) / 2.0
                    }
                }
                ImputeStrategy::MostFrequent => {
                    present.sort_by(f64::total_cmp);
                    // Runs of equal values in order: the first longest run is the smallest mode.
                    let (mut best, mut best_len, mut start) = (present[0], 0, 0);
                    for i in 1..=present.len() {
                        if i == present.len() || present[i] != present[start] {
                            if i - start > best_len {
                                (best, best_len) = (present[start], i - start);
                            }
                            start = i;
                        }
                    }
                    best
                }
                ImputeStrategy::Constant { fill_value } => fill_value,
            });
        }
        Ok(Preprocess::Impute { values, indicators })
    }
}

/// Principal component analysis (scikit-learn's `PCA(n_components)`
/// without whitening): the data centred and projected onto the
/// eigenvectors of its covariance with the largest eigenvalues, each signed
/// so that its largest entry in magnitude is positive (scikit-learn's
/// `svd_flip`). The covariance's eigenvectors come from cyclic Jacobi
/// rotations, exact to rounding for the widths tabular data has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pca {
    /// How many components to keep (at most the number of columns).
    pub n_components: usize,
}

/// A fitted [`Pca`]: the step and each component's share of the variance.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedPca {
    /// The [`Preprocess::Project`] step.
    pub step: Preprocess,
    /// Each kept component's variance over the total (scikit-learn's
    /// `explained_variance_ratio_`).
    pub explained_variance_ratio: Vec<f64>,
}

impl Pca {
    /// The widest input PCA takes (the covariance is `columns × columns`).
    pub const MAX_COLUMNS: usize = 2_000;

    /// Fit on `x`.
    ///
    /// # Errors
    /// Fewer than two rows, more components than columns, none, or an
    /// input wider than [`Pca::MAX_COLUMNS`].
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<FittedPca> {
        let (n, m) = x.dim();
        if n < 2 {
            return Err(invalid("pca", "needs at least two rows"));
        }
        if self.n_components == 0 || self.n_components > m {
            return Err(invalid(
                "pca",
                format!("{} components of {m} columns: expected 1 to {m}", self.n_components),
            ));
        }
        if m > Self::MAX_COLUMNS {
            return Err(invalid(
                "pca",
                format!("{m} columns is more than the {} it takes", Self::MAX_COLUMNS),
            ));
        }
        let mean = x.mean_axis(Axis(0)).ok_or_else(|| invalid("pca", "no rows"))?;
        let centred = &x - &mean;
        let cov = centred.t().dot(&centred) / (n as f64 - 1.0);
        let total: f64 = (0..m).map(|j| cov[[j, j]]).sum();
        let (values, vectors) = symmetric_eigen(cov);
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let k = self.n_components;
        let mut components = ml_core::ndarray::Array2::zeros((k, m));
        for (r, &c) in order.iter().take(k).enumerate() {
            let v = vectors.column(c);
            let big = v
                .iter()
                .copied()
                .fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
            let sign = if big < 0.0 { -1.0 } else { 1.0 };
            components.row_mut(r).assign(&(&v * sign));
        }
        let ratio = order
            .iter()
            .take(k)
            .map(|&c| if total > 0.0 { values[c].max(0.0) / total } else { 0.0 })
            .collect();
        Ok(FittedPca {
            step: Preprocess::Project {
                mean: mean.to_vec(),
                components,
            },
            explained_variance_ratio: ratio,
        })
    }
}

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic
/// Jacobi rotations.
fn symmetric_eigen(mut a: ml_core::ndarray::Array2<f64>) -> (Vec<f64>, ml_core::ndarray::Array2<f64>) {
    let n = a.nrows();
    let mut v = ml_core::ndarray::Array2::<f64>::eye(n);
    let scale: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]] * a[[i, j]])
            .sum();
        if off <= 1e-30 * scale || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[[p, q]];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[[i, i]]).collect(), v)
}

/// Products of the input columns up to a degree, appended after them:
/// scikit-learn's `PolynomialFeatures(degree, interaction_only,
/// include_bias=False)`, in its column order (every term of degree 2 in
/// lexicographic order, then degree 3, …), as a [`Preprocess::Polynomial`]
/// step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolynomialFeatures {
    /// The highest degree (at least 2; 1 would add nothing).
    pub degree: usize,
    /// Only products of distinct columns (no powers).
    #[serde(default)]
    pub interaction_only: bool,
}

impl PolynomialFeatures {
    /// The most columns the step may output: the count grows as
    /// `inputs^degree`, and a wide result is refused before it is built.
    pub const MAX_OUTPUTS: usize = 10_000;

    /// Check the degree.
    ///
    /// # Errors
    /// A degree below 2 or above 5.
    pub fn validate(&self) -> Result<()> {
        if !(2..=5).contains(&self.degree) {
            return Err(invalid(
                "polynomial",
                format!("degree {}: expected 2 to 5", self.degree),
            ));
        }
        Ok(())
    }

    /// The step for `n_inputs` columns.
    ///
    /// # Errors
    /// An invalid degree, or more than [`PolynomialFeatures::MAX_OUTPUTS`]
    /// columns out.
    pub fn step(&self, n_inputs: usize) -> Result<Preprocess> {
        self.validate()?;
        let mut terms: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<Vec<usize>> = (0..n_inputs).map(|j| vec![j]).collect();
        for _ in 2..=self.degree {
            // Extend each term of the previous degree by a column no smaller
            // (or, for interactions only, larger) than its last.
            let mut next = Vec::new();
            for term in &current {
                let last = term[term.len() - 1];
                let from = if self.interaction_only { last + 1 } else { last };
                for j in from..n_inputs {
                    if n_inputs + terms.len() + next.len() >= Self::MAX_OUTPUTS {
                        return Err(invalid(
                            "polynomial",
                            format!(
                                "degree {} of {n_inputs} columns makes more than {} columns",
                                self.degree,
                                Self::MAX_OUTPUTS
                            ),
                        ));
                    }
                    let mut t = term.clone();
                    t.push(j);
                    next.push(t);
                }
            }
            terms.extend(next.iter().cloned());
            current = next;
        }
        Ok(Preprocess::Polynomial { terms })
    }
}
