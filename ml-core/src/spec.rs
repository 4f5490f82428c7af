//! [`ModelSpec`]: the portable description of a fitted model.
//!
//! Exporters (ONNX), explainers (TreeSHAP, linear SHAP) and encrypted inference
//! work on specs, never on the trainer's own types, so a model loaded from
//! elsewhere is served like one trained here. A spec is itself a [`Model`]
//! and predicts exactly as the model it describes.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use serde::{Deserialize, Serialize};

use crate::frame::UNKNOWN_CODE;
use crate::neighbors::NeighborSearch;
use crate::neural::Layer;
use crate::{Error, FeatureKind, Model, Predictions, Result, Signature, Task};

/// A fitted model described portably: input signature, preprocessing, estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Inputs and output kind.
    pub signature: Signature,
    /// Steps applied in order to the input matrix before the estimator.
    pub preprocessing: Vec<Preprocess>,
    /// The estimator applied to the preprocessed matrix.
    pub estimator: Estimator,
}

/// A preprocessing step from one numeric matrix to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Preprocess {
    /// Replace each listed column, which holds category codes, by one 0/1
    /// column per category, in place; other columns pass through. The unknown
    /// code `-1` and a missing value (NaN) become all zeros.
    OneHot {
        /// Indices of the coded columns, increasing.
        columns: Vec<usize>,
        /// Number of categories of each listed column.
        n_categories: Vec<usize>,
    },
    /// `(x - mean) / scale`, column-wise (scikit-learn's `StandardScaler`).
    StandardScale {
        /// Column means.
        mean: Vec<f64>,
        /// Column scales (standard deviations; 1 where the deviation is 0).
        scale: Vec<f64>,
    },
    /// `x * scale + offset`, column-wise (scikit-learn's `MinMaxScaler`, whose
    /// `scale_` and `min_` these are).
    MinMaxScale {
        /// Multipliers.
        scale: Vec<f64>,
        /// Offsets added after multiplying.
        offset: Vec<f64>,
    },
    /// Missing values (NaN) replaced column by column (scikit-learn's
    /// `SimpleImputer`, whose `statistics_` these are), then a 0/1 column
    /// that flags the missing values of each `indicators` column appended
    /// after all columns (its `add_indicator=True`).
    Impute {
        /// The value a missing one becomes, per column.
        values: Vec<f64>,
        /// Columns whose missing-value indicator is appended, increasing.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        indicators: Vec<usize>,
    },
    /// The input columns, then the product of each term's columns appended
    /// in order: scikit-learn's `PolynomialFeatures(include_bias=False)`
    /// lists every term of degree 2 and up this way.
    Polynomial {
        /// Each appended column's factors, as input column indices (a
        /// square repeats its column).
        terms: Vec<Vec<usize>>,
    },
    /// `(x - mean) · componentsᵀ`: the input replaced by its coordinates
    /// along `components` (scikit-learn's `PCA` without whitening, whose
    /// `mean_` and `components_` these are).
    Project {
        /// Column means.
        mean: Vec<f64>,
        /// `k × inputs`, one component per row.
        components: Array2<f64>,
    },
}

impl Preprocess {
    /// The step's name in snake case (`one_hot`, `standard_scale`, `min_max_scale`).
    pub fn name(&self) -> &'static str {
        match self {
            Preprocess::OneHot { .. } => "one_hot",
            Preprocess::StandardScale { .. } => "standard_scale",
            Preprocess::MinMaxScale { .. } => "min_max_scale",
            Preprocess::Impute { .. } => "impute",
            Preprocess::Polynomial { .. } => "polynomial",
            Preprocess::Project { .. } => "project",
        }
    }
}

/// The function from the estimator's raw outputs (margins) to predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Link {
    /// Outputs are used as they are (regression values, or probabilities).
    Identity,
    /// One output, the positive-class log-odds of a binary classifier.
    Logistic,
    /// One output per class, turned into probabilities by softmax.
    Softmax,
    /// Decision values without probabilities (support vector machines): the
    /// label is the largest output's class, or, with one output, the second
    /// class where it is positive.
    Margin,
}

/// How the trees of an ensemble are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Aggregation {
    /// Mean of the trees' outputs (random forests).
    Average,
    /// Sum of the trees' outputs (boosting).
    Sum,
}

/// The estimator of a [`ModelSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Estimator {
    /// `link(x · coefficientsᵀ + intercepts)`: linear and ridge regression,
    /// logistic and softmax regression.
    Linear {
        /// `outputs × features`.
        coefficients: Array2<f64>,
        /// One per output.
        intercepts: Array1<f64>,
        /// Link from margins to predictions.
        link: Link,
    },
    /// `link(base_values + aggregate(tree outputs))`: decision trees, forests, boosting.
    TreeEnsemble {
        /// The trees.
        trees: Vec<Tree>,
        /// How tree outputs combine.
        aggregation: Aggregation,
        /// Added to the aggregate (one per output).
        base_values: Vec<f64>,
        /// Link from the sum to predictions.
        link: Link,
    },
    /// `link(network(x))`: a feed-forward network whose last dense layer
    /// gives the raw outputs (see [`crate::neural`]).
    NeuralNet {
        /// The layers in order.
        layers: Vec<Layer>,
        /// Link from the network's outputs to predictions.
        link: Link,
    },
    /// Nearest centroid in Euclidean distance (k-means).
    Centroids {
        /// `clusters × features`.
        centroids: Array2<f64>,
    },
    /// The mean of the `k` nearest training rows' outputs in Euclidean
    /// distance (k-nearest neighbours): with one-hot class rows as outputs,
    /// the class probabilities scikit-learn's `predict_proba` gives; with
    /// values, its regression. Ties in distance go to the earlier row.
    Neighbors {
        /// The training rows, `rows × features`.
        points: Array2<f64>,
        /// Each row's output, `rows × outputs`.
        outputs: Array2<f64>,
        /// How many neighbours.
        k: usize,
        /// Weight neighbours by inverse distance (exact matches alone
        /// decide when there are some) instead of equally.
        distance_weighted: bool,
        /// How neighbours are found (the same ones either way).
        #[serde(default, skip_serializing_if = "crate::neighbors::is_auto")]
        search: NeighborSearch,
        /// Rows per KD-tree leaf (scikit-learn's `leaf_size`).
        #[serde(
            default = "NeighborSearch::default_leaf_size",
            skip_serializing_if = "crate::neighbors::is_default_leaf_size"
        )]
        leaf_size: usize,
    },
    /// A classifier whose scores are mapped to probabilities by fitted
    /// calibrators (scikit-learn's `CalibratedClassifierCV` with
    /// `ensemble=False`): one calibrator of the positive class's score for
    /// two classes (the other class gets the complement), else one per
    /// class, normalized to sum to one (uniform where they sum to zero).
    Calibrated {
        /// The classifier.
        base: Box<Estimator>,
        /// Which of its scores the calibrators read.
        input: CalibrationInput,
        /// One for two classes, else one per class.
        calibrators: Vec<Calibrator>,
    },
    /// The mean of its members' class probabilities, the class of largest
    /// mean predicted: scikit-learn's `CalibratedClassifierCV` with
    /// `ensemble=True`, one calibrated classifier per cross-validation
    /// fold, each a whole model with its own preprocessing. Its raw outputs
    /// are its input columns, passed through; the members predict from them.
    Averaged {
        /// Models over the same inputs and task as the ensemble's.
        members: Vec<ModelSpec>,
    },
}

/// The most members an [`Estimator::Averaged`] may have.
pub const MAX_AVERAGED_MEMBERS: usize = 100;

/// Which scores of a calibrated classifier its calibrators read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationInput {
    /// The raw outputs (margins; scikit-learn's `decision_function`).
    Decision,
    /// The probabilities (`predict_proba`), for classifiers without
    /// decision values (trees, forests, neighbours, naive Bayes).
    Probability,
}

/// A map from a classifier's score to a probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibrator {
    /// Platt's sigmoid, `1 / (1 + exp(a·s + b))` (scikit-learn's
    /// `"sigmoid"`).
    Sigmoid {
        /// Slope.
        a: f64,
        /// Offset.
        b: f64,
    },
    /// Linear interpolation through the points `(x, y)` (`x` increasing,
    /// `y` non-decreasing), held at the end values outside them
    /// (scikit-learn's `"isotonic"`, `out_of_bounds="clip"`).
    Isotonic {
        /// Scores, increasing.
        x: Vec<f64>,
        /// Probabilities, non-decreasing.
        y: Vec<f64>,
    },
}

impl Calibrator {
    /// The probability for score `s`.
    pub fn apply(&self, s: f64) -> f64 {
        match self {
            Calibrator::Sigmoid { a, b } => 1.0 / (1.0 + (a * s + b).exp()),
            Calibrator::Isotonic { x, y } => {
                let (Some(&first), Some(&last)) = (x.first(), x.last()) else {
                    return f64::NAN;
                };
                if s.is_nan() {
                    return f64::NAN;
                }
                if s <= first {
                    return y[0];
                }
                if s >= last {
                    return y[y.len() - 1];
                }
                // x[i - 1] < s < x[i] (or equal to x[i]).
                let i = x.partition_point(|&v| v < s);
                if x[i] == s {
                    return y[i];
                }
                let t = (s - x[i - 1]) / (x[i] - x[i - 1]);
                y[i - 1] + t * (y[i] - y[i - 1])
            }
        }
    }

    fn check(&self) -> std::result::Result<(), String> {
        match self {
            Calibrator::Sigmoid { a, b } if a.is_finite() && b.is_finite() => Ok(()),
            Calibrator::Sigmoid { .. } => Err("a sigmoid calibrator with a non-finite parameter".into()),
            Calibrator::Isotonic { x, y } => {
                if x.is_empty() || x.len() != y.len() {
                    return Err("an isotonic calibrator needs as many probabilities as scores, at least one".into());
                }
                if x.iter().chain(y).any(|v| !v.is_finite())
                    || x.windows(2).any(|w| w[0] >= w[1])
                    || y.windows(2).any(|w| w[0] > w[1])
                {
                    return Err(
                        "an isotonic calibrator needs increasing scores and non-decreasing probabilities".into(),
                    );
                }
                Ok(())
            }
        }
    }
}

/// A binary decision tree stored as a node array; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes; children always come after their parent.
    pub nodes: Vec<TreeNode>,
}

/// One tree node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// The test of an internal node; `None` for a leaf.
    pub split: Option<Split>,
    /// The node's output (class probabilities or values), one per output.
    /// Internal nodes keep theirs too: explainers use them.
    pub value: Vec<f64>,
    /// The (weighted) number of training samples that reached the node, which
    /// path-dependent TreeSHAP needs.
    pub cover: f64,
}

/// The test of an internal node: rows whose value, rounded to `f32`, is at
/// most the threshold (rounded to `f32`) go left; see [`goes_left`]. A
/// missing value (NaN) goes left when `missing_left`, else right. A split
/// on a categorical feature (its values are category codes) has
/// `categories`: the codes in the set go left, the others right, and a
/// missing value or a negative code (a category unseen in training) goes
/// where `missing_left` says, as scikit-learn's native categorical splits
/// route them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Feature index in the preprocessed matrix.
    pub feature: usize,
    /// Threshold.
    pub threshold: f64,
    /// Left child index.
    pub left: usize,
    /// Right child index.
    pub right: usize,
    /// Where a missing value goes: left when true, right (the default, and
    /// what a NaN compared against the threshold does) when false. Gradient
    /// boosting learns it per split; ONNX keeps it as
    /// `nodes_missing_value_tracks_true`. Written only when true, so specs
    /// of trees that never route missing values read as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing_left: bool,
    /// For a split on category codes, the codes that go left (the
    /// threshold is then unused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<CategorySet>,
}

impl Split {
    /// Whether a row whose split feature is `x` goes left: [`goes_left`],
    /// or membership of `categories`, with NaN (and, for categories, a
    /// negative code) going where `missing_left` says.
    #[inline]
    pub fn goes_left(&self, x: f64) -> bool {
        match &self.categories {
            _ if x.is_nan() => self.missing_left,
            None => goes_left(x, self.threshold),
            Some(_) if x < 0.0 => self.missing_left,
            Some(set) => set.contains_value(x),
        }
    }
}

/// A set of category codes below [`CategorySet::CAPACITY`], as a bitset
/// (what scikit-learn keeps per categorical split). Written as the sorted
/// list of its codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CategorySet([u64; 4]);

impl CategorySet {
    /// Codes run from 0 to 255.
    pub const CAPACITY: usize = 256;

    /// The set of `codes`.
    ///
    /// # Errors
    /// A code of [`CategorySet::CAPACITY`] or more.
    pub fn new(codes: impl IntoIterator<Item = usize>) -> Result<Self> {
        let mut set = Self::default();
        for c in codes {
            if c >= Self::CAPACITY {
                return Err(Error::invalid(
                    "categories",
                    format!("code {c}: at most {} categories", Self::CAPACITY),
                ));
            }
            set.0[c / 64] |= 1 << (c % 64);
        }
        Ok(set)
    }

    /// Whether `code` is in the set.
    pub fn contains(&self, code: usize) -> bool {
        code < Self::CAPACITY && self.0[code / 64] & (1 << (code % 64)) != 0
    }

    /// Whether the value `x` is a code in the set (whole numbers only).
    pub fn contains_value(&self, x: f64) -> bool {
        x >= 0.0 && x.fract() == 0.0 && x < Self::CAPACITY as f64 && self.contains(x as usize)
    }

    /// The codes, ascending.
    pub fn codes(&self) -> Vec<usize> {
        (0..Self::CAPACITY).filter(|&c| self.contains(c)).collect()
    }
}

impl Serialize for CategorySet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.codes().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CategorySet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let codes = Vec::<usize>::deserialize(deserializer)?;
        Self::new(codes).map_err(serde::de::Error::custom)
    }
}

/// The split rule of every tree: compare in single precision, as
/// scikit-learn's trees and ONNX's tree ensembles do. Our trainers put
/// thresholds on `f32` values, so a tree exported to ONNX (whose inputs and
/// thresholds are `float`) takes exactly the same path as here.
pub fn goes_left(x: f64, threshold: f64) -> bool {
    (x as f32) <= (threshold as f32)
}

impl Tree {
    /// Index of the leaf a row reaches.
    pub fn leaf(&self, row: ArrayView1<'_, f64>) -> usize {
        let mut i = 0;
        while let Some(s) = &self.nodes[i].split {
            i = if s.goes_left(row[s.feature]) { s.left } else { s.right };
        }
        i
    }

    /// Whether a split tests category sets ([`Split::categories`]).
    pub fn has_categorical_splits(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| n.split.is_some_and(|s| s.categories.is_some()))
    }

    /// Maximum depth (a single leaf has depth 0).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        let mut max = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(s) = &n.split {
                depth[s.left] = depth[i] + 1;
                depth[s.right] = depth[i] + 1;
                max = max.max(depth[i] + 1);
            }
        }
        max
    }

    fn validate(&self, n_features: usize, n_outputs: usize) -> Result<()> {
        let bad = |reason: String| Err(Error::Corrupt { what: "tree", reason });
        if self.nodes.is_empty() {
            return bad("no nodes".into());
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if n.value.len() != n_outputs {
                return bad(format!("node {i} has {} outputs, expected {n_outputs}", n.value.len()));
            }
            if n.value.iter().any(|v| !v.is_finite()) || !n.cover.is_finite() || n.cover < 0.0 {
                return bad(format!("node {i} has a non-finite value or cover"));
            }
            if let Some(s) = &n.split {
                if s.feature >= n_features {
                    return bad(format!("node {i} splits on feature {} of {n_features}", s.feature));
                }
                if !s.threshold.is_finite() && s.categories.is_none() {
                    return bad(format!("node {i} has a non-finite threshold"));
                }
                // Children after their parent: no cycles, traversal terminates.
                if s.left <= i || s.right <= i || s.left >= self.nodes.len() || s.right >= self.nodes.len() {
                    return bad(format!("node {i} has invalid children {} and {}", s.left, s.right));
                }
            }
        }
        Ok(())
    }
}

impl Estimator {
    /// What the estimator is, in brief, as JSON (`mlsdk inspect` shows
    /// it): its `kind` and its size (trees and nodes, layers, neighbours,
    /// calibrators, members; a calibrated or averaged estimator's base).
    pub fn summary(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Estimator::Linear { coefficients, link, .. } => {
                json!({"kind": "linear", "outputs": coefficients.nrows(), "features": coefficients.ncols(), "link": link})
            }
            Estimator::TreeEnsemble { trees, aggregation, .. } => json!({
                "kind": "tree_ensemble", "trees": trees.len(), "aggregation": aggregation,
                "max_depth": trees.iter().map(Tree::depth).max(),
                "nodes": trees.iter().map(|t| t.nodes.len()).sum::<usize>(),
            }),
            Estimator::Centroids { centroids } => json!({"kind": "centroids", "clusters": centroids.nrows()}),
            Estimator::NeuralNet { layers, link } => json!({
                "kind": "neural_net", "layers": layers.iter().map(Layer::name).collect::<Vec<_>>(), "link": link,
            }),
            Estimator::Neighbors {
                points,
                k,
                distance_weighted,
                search,
                ..
            } => json!({
                "kind": "neighbors", "rows": points.nrows(), "k": k,
                "weights": if *distance_weighted { "distance" } else { "uniform" }, "search": search,
            }),
            Estimator::Calibrated {
                base,
                input,
                calibrators,
            } => json!({
                "kind": "calibrated", "input": input, "calibrators": calibrators.len(), "base": base.summary(),
            }),
            Estimator::Averaged { members } => json!({
                "kind": "averaged", "members": members.len(),
                "member": members.first().map(|m| m.estimator.summary()),
            }),
        }
    }

    /// Number of raw outputs.
    pub fn n_outputs(&self) -> usize {
        match self {
            Estimator::Linear { coefficients, .. } => coefficients.nrows(),
            Estimator::TreeEnsemble { base_values, .. } => base_values.len(),
            Estimator::NeuralNet { layers, .. } => crate::neural::output_width(layers),
            Estimator::Centroids { centroids } => centroids.nrows(),
            Estimator::Neighbors { outputs, .. } => outputs.ncols(),
            Estimator::Calibrated { base, .. } => base.n_outputs(),
            Estimator::Averaged { members } => members.first().map_or(0, |m| m.signature.n_inputs()),
        }
    }

    /// Raw outputs before the link: margins, tree sums, or squared distances to
    /// each centroid.
    pub fn raw_output(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        match self {
            Estimator::Linear {
                coefficients,
                intercepts,
                ..
            } => {
                // One pass into the output: a one-row call then costs one
                // allocation, not the product's, the sum's and a general
                // matrix product's setup.
                let mut out = Array2::zeros((x.nrows(), coefficients.nrows()));
                for (row, mut o) in x.outer_iter().zip(out.outer_iter_mut()) {
                    for ((oj, c), b) in o.iter_mut().zip(coefficients.outer_iter()).zip(intercepts) {
                        *oj = row.iter().zip(c).fold(0.0, |acc, (a, w)| acc + a * w) + b;
                    }
                }
                out
            }
            Estimator::TreeEnsemble {
                trees,
                aggregation,
                base_values,
                ..
            } => {
                let k = base_values.len();
                let mut out = Array2::zeros((x.nrows(), k));
                let scale = match aggregation {
                    Aggregation::Average => 1.0 / trees.len().max(1) as f64,
                    Aggregation::Sum => 1.0,
                };
                // Tree by tree over a block of rows, so a tree's nodes stay in
                // cache; every row still adds the trees in their order, so
                // the sums are the same as row by row. Large batches split
                // their rows over the cores.
                let accumulate = |xs: ArrayView2<'_, f64>, mut os: ArrayViewMut2<'_, f64>| {
                    for t in trees {
                        for (row, mut o) in xs.outer_iter().zip(os.outer_iter_mut()) {
                            let v = &t.nodes[t.leaf(row)].value;
                            for (oj, vj) in o.iter_mut().zip(v) {
                                *oj += vj;
                            }
                        }
                    }
                    for mut o in os.outer_iter_mut() {
                        for (oj, b) in o.iter_mut().zip(base_values) {
                            *oj = *oj * scale + b;
                        }
                    }
                };
                let threads = crate::parallel::threads_for(x.nrows(), x.nrows() * trees.len(), PARALLEL_TREE_WORK);
                crate::parallel::by_row_chunks(x, out.view_mut(), threads, accumulate);
                out
            }
            Estimator::NeuralNet { layers, .. } => crate::neural::forward(layers, x),
            Estimator::Centroids { centroids } => {
                let mut out = Array2::zeros((x.nrows(), centroids.nrows()));
                for (row, mut o) in x.outer_iter().zip(out.outer_iter_mut()) {
                    for (c, oj) in centroids.outer_iter().zip(o.iter_mut()) {
                        *oj = row.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
                    }
                }
                out
            }
            Estimator::Neighbors { .. } => crate::neighbors::raw_output(self, None, x),
            Estimator::Calibrated { base, .. } => base.raw_output(x),
            Estimator::Averaged { .. } => x.to_owned(),
        }
    }
}

/// Rows × trees above which a tree ensemble's batch is split over the
/// cores (below it, starting threads costs more than it saves).
const PARALLEL_TREE_WORK: usize = 20_000;

/// Apply a link to raw outputs row-wise.
pub fn apply_link(link: Link, raw: Array2<f64>) -> Array2<f64> {
    match link {
        Link::Identity | Link::Margin => raw,
        Link::Logistic => {
            let mut p = Array2::zeros((raw.nrows(), 2));
            for (i, &z) in raw.column(0).iter().enumerate() {
                let s = sigmoid(z);
                p[[i, 0]] = 1.0 - s;
                p[[i, 1]] = s;
            }
            p
        }
        Link::Softmax => {
            let mut p = raw;
            for mut row in p.outer_iter_mut() {
                let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                row.mapv_inplace(|z| (z - m).exp());
                let s = row.sum();
                row /= s;
            }
            p
        }
    }
}

/// The logistic function, stable for large |z|.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Preprocess {
    /// `[start, categories]` of each one-hot block this step writes, in
    /// its output's columns (empty for the other steps).
    pub fn one_hot_blocks(&self) -> Vec<[usize; 2]> {
        let Preprocess::OneHot { columns, n_categories } = self else {
            return Vec::new();
        };
        let mut shift = 0;
        columns
            .iter()
            .zip(n_categories)
            .map(|(&c, &n)| {
                let start = c + shift;
                shift += n - 1;
                [start, n]
            })
            .collect()
    }

    /// Width of the output for an input of width `n`.
    pub fn output_width(&self, n: usize) -> usize {
        match self {
            Preprocess::OneHot { n_categories, .. } => n - n_categories.len() + n_categories.iter().sum::<usize>(),
            Preprocess::Impute { indicators, .. } => n + indicators.len(),
            Preprocess::Polynomial { terms } => n + terms.len(),
            Preprocess::Project { components, .. } => components.nrows(),
            _ => n,
        }
    }

    /// Apply the step.
    ///
    /// # Errors
    /// [`Error::Shape`] if `x` is not of the width the step was fitted on, and
    /// an invalid category code.
    pub fn apply(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        const OP: &str = "preprocess";
        match self {
            Preprocess::OneHot { columns, n_categories } => {
                if columns.iter().any(|&c| c >= x.ncols()) {
                    return Err(Error::shape(OP, "coded columns within the input", x.ncols()));
                }
                let width = self.output_width(x.ncols());
                let mut out = Array2::zeros((x.nrows(), width));
                for (i, row) in x.outer_iter().enumerate() {
                    let mut o = 0;
                    for (j, &v) in row.iter().enumerate() {
                        if let Some(k) = columns.iter().position(|&c| c == j) {
                            let n = n_categories[k];
                            // An unseen category and a missing one (NaN) set no indicator.
                            if v != UNKNOWN_CODE && !v.is_nan() {
                                if v < 0.0 || v.fract() != 0.0 || v as usize >= n {
                                    return Err(Error::invalid("one-hot", format!("row {i}: code {v} outside 0..{n}")));
                                }
                                out[[i, o + v as usize]] = 1.0;
                            }
                            o += n;
                        } else {
                            out[[i, o]] = v;
                            o += 1;
                        }
                    }
                }
                Ok(out)
            }
            Preprocess::StandardScale { mean, scale } => {
                check_width(OP, mean.len(), x.ncols())?;
                let mut out = x.to_owned();
                for (mut col, (m, s)) in out.axis_iter_mut(Axis(1)).zip(mean.iter().zip(scale)) {
                    col.mapv_inplace(|v| (v - m) / s);
                }
                Ok(out)
            }
            Preprocess::MinMaxScale { scale, offset } => {
                check_width(OP, scale.len(), x.ncols())?;
                let mut out = x.to_owned();
                for (mut col, (s, b)) in out.axis_iter_mut(Axis(1)).zip(scale.iter().zip(offset)) {
                    col.mapv_inplace(|v| v * s + b);
                }
                Ok(out)
            }
            Preprocess::Impute { values, indicators } => {
                check_width(OP, values.len(), x.ncols())?;
                if indicators.iter().any(|&c| c >= x.ncols()) {
                    return Err(Error::shape(OP, "indicator columns within the input", x.ncols()));
                }
                let n = x.ncols();
                let mut out = Array2::zeros((x.nrows(), self.output_width(n)));
                out.slice_mut(ndarray::s![.., ..n]).assign(&x);
                for (k, &c) in indicators.iter().enumerate() {
                    for i in 0..x.nrows() {
                        out[[i, n + k]] = if x[[i, c]].is_nan() { 1.0 } else { 0.0 };
                    }
                }
                for (mut col, &fill) in out.axis_iter_mut(Axis(1)).zip(values) {
                    col.mapv_inplace(|v| if v.is_nan() { fill } else { v });
                }
                Ok(out)
            }
            Preprocess::Project { mean, components } => {
                check_width(OP, mean.len(), x.ncols())?;
                check_width(OP, components.ncols(), x.ncols())?;
                let mut centred = x.to_owned();
                for (mut col, m) in centred.axis_iter_mut(Axis(1)).zip(mean) {
                    col -= *m;
                }
                Ok(centred.dot(&components.t()))
            }
            Preprocess::Polynomial { terms } => {
                let n = x.ncols();
                if terms.iter().flatten().any(|&c| c >= n) {
                    return Err(Error::shape(OP, "term columns within the input", n));
                }
                let mut out = Array2::zeros((x.nrows(), n + terms.len()));
                out.slice_mut(ndarray::s![.., ..n]).assign(&x);
                for (row, mut o) in x.outer_iter().zip(out.outer_iter_mut()) {
                    for (t, term) in terms.iter().enumerate() {
                        o[n + t] = term.iter().fold(1.0, |p, &c| p * row[c]);
                    }
                }
                Ok(out)
            }
        }
    }

    fn validate(&self, n: usize) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::Corrupt {
                what: "preprocessing step",
                reason,
            })
        };
        match self {
            Preprocess::OneHot { columns, n_categories } => {
                if columns.len() != n_categories.len()
                    || columns.windows(2).any(|w| w[0] >= w[1])
                    || columns.iter().any(|&c| c >= n)
                {
                    return bad("one-hot columns out of order or range".into());
                }
            }
            Preprocess::StandardScale { mean: a, scale: b } | Preprocess::MinMaxScale { scale: a, offset: b } => {
                if a.len() != n || b.len() != n {
                    return bad(format!("scaler fitted on {} columns, input has {n}", a.len()));
                }
                if a.iter().chain(b).any(|v| !v.is_finite()) {
                    return bad("non-finite scaler parameter".into());
                }
                if matches!(self, Preprocess::StandardScale { .. }) && b.contains(&0.0) {
                    return bad("zero scale".into());
                }
            }
            Preprocess::Impute { values, indicators } => {
                if values.len() != n {
                    return bad(format!("imputer fitted on {} columns, input has {n}", values.len()));
                }
                if values.iter().any(|v| !v.is_finite()) {
                    return bad("non-finite imputed value".into());
                }
                if indicators.windows(2).any(|w| w[0] >= w[1]) || indicators.iter().any(|&c| c >= n) {
                    return bad("indicator columns out of order or range".into());
                }
            }
            Preprocess::Polynomial { terms } => {
                if terms.iter().any(|t| t.is_empty() || t.iter().any(|&c| c >= n)) {
                    return bad("polynomial term empty or out of range".into());
                }
            }
            Preprocess::Project { mean, components } => {
                if mean.len() != n || components.ncols() != n || components.nrows() == 0 {
                    return bad(format!(
                        "projection of {} columns onto {} components, input has {n}",
                        components.ncols(),
                        components.nrows()
                    ));
                }
                if mean.iter().chain(components.iter()).any(|v| !v.is_finite()) {
                    return bad("non-finite projection".into());
                }
            }
        }
        Ok(())
    }
}

fn check_width(op: &'static str, expected: usize, got: usize) -> Result<()> {
    if expected != got {
        return Err(Error::shape(
            op,
            format!("{expected} columns"),
            format!("{got} columns"),
        ));
    }
    Ok(())
}

impl ModelSpec {
    /// Check that the parts fit together and hold finite numbers. Specs read
    /// from files are validated before use, so a hostile file cannot make
    /// prediction index out of bounds or loop.
    ///
    /// # Errors
    /// [`Error::Corrupt`] describing the first inconsistency.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::Corrupt {
                what: "model spec",
                reason,
            })
        };
        let mut width = self.signature.n_inputs();
        if width == 0 {
            return bad("no inputs".into());
        }
        for step in &self.preprocessing {
            step.validate(width)?;
            width = step.output_width(width);
        }
        let n_out = self.estimator.n_outputs();
        match &self.estimator {
            Estimator::Linear {
                coefficients,
                intercepts,
                link,
            } => {
                if coefficients.ncols() != width || intercepts.len() != n_out {
                    return bad(format!(
                        "linear model of {} features on {width} inputs",
                        coefficients.ncols()
                    ));
                }
                if coefficients.iter().chain(intercepts).any(|v| !v.is_finite()) {
                    return bad("non-finite coefficient".into());
                }
                self.check_link(*link, n_out)?;
            }
            Estimator::TreeEnsemble {
                trees,
                base_values,
                link,
                ..
            } => {
                if trees.is_empty() {
                    return bad("no trees".into());
                }
                if base_values.iter().any(|v| !v.is_finite()) {
                    return bad("non-finite base value".into());
                }
                for t in trees {
                    t.validate(width, n_out)?;
                }
                self.check_link(*link, n_out)?;
            }
            Estimator::NeuralNet { layers, link } => {
                crate::neural::validate_layers(layers, width)?;
                self.check_link(*link, n_out)?;
            }
            Estimator::Centroids { centroids } => {
                if centroids.ncols() != width || centroids.nrows() == 0 || centroids.iter().any(|v| !v.is_finite()) {
                    return bad("centroids do not match the inputs".into());
                }
                if self.signature.task
                    != (Task::Clustering {
                        n_clusters: centroids.nrows(),
                    })
                {
                    return bad("centroids need a clustering task with one cluster per centroid".into());
                }
            }
            Estimator::Neighbors {
                points,
                outputs,
                k,
                leaf_size,
                ..
            } => {
                if points.ncols() != width || points.nrows() == 0 || points.nrows() != outputs.nrows() {
                    return bad("neighbours do not match the inputs or their outputs".into());
                }
                if *k == 0 || *k > points.nrows() {
                    return bad(format!("{k} neighbours among {} rows", points.nrows()));
                }
                if points.iter().chain(outputs.iter()).any(|v| !v.is_finite()) {
                    return bad("non-finite neighbour".into());
                }
                if *leaf_size == 0 || *leaf_size > NeighborSearch::MAX_LEAF_SIZE {
                    return bad(format!(
                        "leaf_size {leaf_size} outside 1 to {}",
                        NeighborSearch::MAX_LEAF_SIZE
                    ));
                }
                self.check_link(Link::Identity, n_out)?;
            }
            Estimator::Calibrated { base, calibrators, .. } => {
                let Task::Classification { classes } = &self.signature.task else {
                    return bad("calibration needs a classification task".into());
                };
                let want = if classes.len() == 2 { 1 } else { classes.len() };
                if calibrators.len() != want {
                    return bad(format!(
                        "{} calibrators for {} classes (expected {want})",
                        calibrators.len(),
                        classes.len()
                    ));
                }
                if let Some(reason) = calibrators.iter().find_map(|c| c.check().err()) {
                    return bad(reason);
                }
                if matches!(**base, Estimator::Calibrated { .. }) {
                    return bad("a calibrated classifier inside another".into());
                }
                ModelSpec {
                    estimator: (**base).clone(),
                    ..self.clone()
                }
                .validate()?;
            }
            Estimator::Averaged { members } => {
                if !matches!(self.signature.task, Task::Classification { .. }) {
                    return bad("averaging class probabilities needs a classification task".into());
                }
                if members.is_empty() || members.len() > MAX_AVERAGED_MEMBERS {
                    return bad(format!("{} members (1 to {MAX_AVERAGED_MEMBERS})", members.len()));
                }
                if !self.preprocessing.is_empty() {
                    return bad("an averaged ensemble's members preprocess for themselves".into());
                }
                for m in members {
                    if m.signature.inputs != self.signature.inputs || m.signature.task != self.signature.task {
                        return bad("a member's inputs or task differ from the ensemble's".into());
                    }
                    if matches!(m.estimator, Estimator::Averaged { .. }) {
                        return bad("an averaged ensemble inside another".into());
                    }
                    m.validate()?;
                }
            }
        }
        Ok(())
    }

    fn check_link(&self, link: Link, n_out: usize) -> Result<()> {
        let ok = match (&self.signature.task, link) {
            (Task::Regression, Link::Identity) => n_out == 1,
            (Task::Classification { classes }, Link::Logistic) => n_out == 1 && classes.len() == 2,
            (Task::Classification { classes }, Link::Softmax | Link::Identity) => n_out == classes.len(),
            (Task::Classification { classes }, Link::Margin) => {
                n_out == classes.len() || (n_out == 1 && classes.len() == 2)
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::Corrupt {
                what: "model spec",
                reason: format!(
                    "{link:?} link with {n_out} outputs does not fit a {} task",
                    self.signature.task.name()
                ),
            })
        }
    }

    /// The input after all preprocessing steps: what the estimator sees.
    ///
    /// # Errors
    /// As [`Signature::validate_input`].
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.signature.validate_input(x)?;
        let Some((first, rest)) = self.preprocessing.split_first() else {
            return Ok(x.to_owned());
        };
        // The first step reads the input itself: no copy before it.
        let mut cur = first.apply(x)?;
        for step in rest {
            cur = step.apply(cur.view())?;
        }
        Ok(cur)
    }

    /// Names of the estimator's features: input names, with each one-hot
    /// column expanded to `name=category`.
    pub fn transformed_feature_names(&self) -> Vec<String> {
        let mut names = self.signature.input_names();
        for step in &self.preprocessing {
            if let Preprocess::Impute { indicators, .. } = step {
                // scikit-learn's MissingIndicator names.
                let flags: Vec<String> = indicators
                    .iter()
                    .map(|&c| format!("missingindicator_{}", names.get(c).map_or("?", String::as_str)))
                    .collect();
                names.extend(flags);
            }
            if let Preprocess::Project { components, .. } = step {
                // scikit-learn's names for PCA's outputs.
                names = (0..components.nrows()).map(|i| format!("pca{i}")).collect();
            }
            if let Preprocess::Polynomial { terms } = step {
                // scikit-learn's names: `a^2`, `a b`.
                let named: Vec<String> = terms
                    .iter()
                    .map(|t| {
                        let mut parts: Vec<String> = Vec::new();
                        let mut i = 0;
                        while i < t.len() {
                            let run = t[i..].iter().take_while(|&&c| c == t[i]).count();
                            let name = names.get(t[i]).map_or("?", String::as_str);
                            parts.push(if run == 1 {
                                name.to_string()
                            } else {
                                format!("{name}^{run}")
                            });
                            i += run;
                        }
                        parts.join(" ")
                    })
                    .collect();
                names.extend(named);
            }
            if let Preprocess::OneHot { columns, .. } = step {
                let mut out = Vec::new();
                for (j, name) in names.iter().enumerate() {
                    match (columns.contains(&j), self.signature.inputs.get(j).map(|c| &c.kind)) {
                        (true, Some(FeatureKind::Categorical { categories })) => {
                            out.extend(categories.iter().map(|c| format!("{name}={c}")));
                        }
                        _ => out.push(name.clone()),
                    }
                }
                names = out;
            }
        }
        names
    }

    /// Predictions from an already preprocessed matrix.
    ///
    /// # Errors
    /// As [`Estimator::predict`].
    pub fn predict_transformed(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        self.estimator.predict(&self.signature.task, x)
    }
}

impl Estimator {
    /// Predictions for a task from a preprocessed matrix.
    ///
    /// # Errors
    /// [`Error::Shape`] for a matrix of the wrong width; [`Error::Unsupported`]
    /// for an estimator that does not fit the task.
    pub fn predict(&self, task: &Task, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        self.check_width(x.ncols())?;
        self.predictions(task, self.raw_output(x))
    }

    /// Check that a preprocessed matrix of `width` columns fits the estimator.
    ///
    /// # Errors
    /// [`Error::Shape`].
    pub fn check_width(&self, width: usize) -> Result<()> {
        let needed = match self {
            Estimator::Calibrated { base, .. } => return base.check_width(width),
            Estimator::Averaged { members } => members.first().map(|m| m.signature.n_inputs()),
            Estimator::Linear { coefficients, .. } => Some(coefficients.ncols()),
            Estimator::Centroids { centroids } => Some(centroids.ncols()),
            Estimator::Neighbors { points, .. } => Some(points.ncols()),
            Estimator::NeuralNet { layers, .. } => {
                crate::neural::validate_layers(layers, width)
                    .map_err(|e| Error::shape("predict", e.to_string(), format!("{width} columns")))?;
                None
            }
            Estimator::TreeEnsemble { trees, .. } => trees
                .iter()
                .flat_map(|t| t.nodes.iter().filter_map(|n| n.split.map(|s| s.feature)))
                .max()
                .map(|f| f + 1),
        };
        if let Some(w) = needed
            && (width < w || (!matches!(self, Estimator::TreeEnsemble { .. }) && width != w))
        {
            return Err(Error::shape(
                "predict",
                format!("{w} features"),
                format!("{width} columns"),
            ));
        }
        Ok(())
    }

    /// Predictions for a task from raw outputs (see [`Estimator::raw_output`]).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an estimator that does not fit the task.
    pub fn predictions(&self, task: &Task, raw: Array2<f64>) -> Result<Predictions> {
        Ok(match (task, self) {
            (Task::Clustering { .. }, Estimator::Centroids { .. }) => Predictions::Clustering {
                clusters: raw
                    .outer_iter()
                    .map(|r| crate::model::argmax(r.iter().map(|d| -d)))
                    .collect(),
            },
            (Task::Regression | Task::Classification { .. }, Estimator::Neighbors { .. }) => {
                linked_predictions(task, Link::Identity, raw)?
            }
            (Task::Regression | Task::Classification { .. }, Estimator::Linear { link, .. })
            | (Task::Regression | Task::Classification { .. }, Estimator::TreeEnsemble { link, .. })
            | (Task::Regression | Task::Classification { .. }, Estimator::NeuralNet { link, .. }) => {
                linked_predictions(task, *link, raw)?
            }
            (
                Task::Classification { classes },
                Estimator::Calibrated {
                    base,
                    input,
                    calibrators,
                },
            ) => calibrated(task, classes, base, *input, calibrators, raw)?,
            (Task::Classification { classes }, Estimator::Averaged { members }) => averaged(classes, members, raw)?,
            (task, _) => return Err(Error::Unsupported(format!("{} with this estimator", task.name()))),
        })
    }
}

/// An averaged ensemble's predictions from its input rows (see
/// [`Estimator::Averaged`]).
fn averaged(classes: &[String], members: &[ModelSpec], x: Array2<f64>) -> Result<Predictions> {
    let mut total = Array2::<f64>::zeros((x.nrows(), classes.len()));
    for m in members {
        match m.predict(x.view())? {
            Predictions::Classification {
                probabilities: Some(p), ..
            } if p.dim() == total.dim() => total += &p,
            _ => {
                return Err(Error::Unsupported(
                    "an averaged ensemble's member without class probabilities".into(),
                ));
            }
        }
    }
    total /= members.len().max(1) as f64;
    Ok(Predictions::from_probabilities(total, classes.to_vec()))
}

/// A calibrated classifier's predictions from its base's raw outputs (see
/// [`Estimator::Calibrated`]).
fn calibrated(
    task: &Task,
    classes: &[String],
    base: &Estimator,
    input: CalibrationInput,
    calibrators: &[Calibrator],
    raw: Array2<f64>,
) -> Result<Predictions> {
    let scores = match input {
        CalibrationInput::Decision => raw,
        CalibrationInput::Probability => match base.predictions(task, raw)? {
            Predictions::Classification {
                probabilities: Some(p), ..
            } => p,
            _ => {
                return Err(Error::Unsupported(
                    "calibrating a classifier without probabilities".into(),
                ));
            }
        },
    };
    let k = classes.len();
    let mut proba = Array2::zeros((scores.nrows(), k));
    for (row, mut p) in scores.outer_iter().zip(proba.outer_iter_mut()) {
        if k == 2 {
            // The positive class's score: the one margin, or column 1.
            let p1 = calibrators[0].apply(row[row.len() - 1]);
            p[0] = 1.0 - p1;
            p[1] = p1;
        } else {
            for ((pc, cal), &s) in p.iter_mut().zip(calibrators).zip(row) {
                *pc = cal.apply(s);
            }
            let total: f64 = p.sum();
            if total == 0.0 {
                p.fill(1.0 / k as f64);
            } else {
                p /= total;
            }
        }
        // As scikit-learn: a rounding excess over one is one.
        p.mapv_inplace(|v| if v > 1.0 && v <= 1.0 + 1e-5 { 1.0 } else { v });
    }
    Ok(Predictions::from_probabilities(proba, classes.to_vec()))
}

/// Predictions for a regression or classification task from raw outputs
/// (margins, tree sums) through `link`: what linear and tree estimators
/// predict, for any computation that ends in their raw outputs (encrypted
/// inference decrypts margins).
///
/// # Errors
/// [`Error::Unsupported`] for a clustering task.
pub fn linked_predictions(task: &Task, link: Link, raw: Array2<f64>) -> Result<Predictions> {
    Ok(match task {
        Task::Regression => Predictions::Regression {
            values: raw.column(0).to_owned(),
        },
        Task::Classification { classes } if link == Link::Margin => Predictions::Classification {
            labels: raw
                .outer_iter()
                .map(|r| match r.len() {
                    1 => usize::from(r[0] > 0.0),
                    _ => crate::model::argmax(r.iter().copied()),
                })
                .collect(),
            probabilities: None,
            classes: classes.clone(),
        },
        Task::Classification { classes } => Predictions::from_probabilities(apply_link(link, raw), classes.clone()),
        task => return Err(Error::Unsupported(format!("{} from linked outputs", task.name()))),
    })
}

impl Model for ModelSpec {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        let design = self.transform(x)?;
        self.predict_transformed(design.view())
    }

    fn describe(&self) -> Result<ModelSpec> {
        Ok(self.clone())
    }
}
