//! CART decision trees and random forests (our own code: linfa 0.8 has no
//! regression trees and does not expose the node sample counts that exact
//! TreeSHAP needs). Trees are grown directly as [`ml_core::Tree`]s.

use ml_core::ndarray::ArrayView2;
use ml_core::{Aggregation, Estimator, Link, SeededRng, Split, Tree, TreeNode, goes_left, seeded_rng};
use rand::RngExt;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// How many features each split considers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxFeatures {
    /// Every feature.
    All,
    /// `max(1, floor(sqrt(n_features)))` (scikit-learn's `"sqrt"`).
    Sqrt,
    /// `max(1, floor(log2(n_features)))`.
    Log2,
    /// A fixed count (capped at the feature count).
    Count(usize),
    /// A fraction of the features, `max(1, floor(f · n))`.
    Fraction(f64),
}

impl MaxFeatures {
    /// The number of features each split considers among `n`; a count above
    /// `n` is refused, as scikit-learn refuses it.
    fn resolve(self, n: usize) -> Result<usize> {
        if let MaxFeatures::Count(k) = self
            && k > n
        {
            return Err(invalid(
                "max_features",
                format!("{k} features asked for, the data has {n}"),
            ));
        }
        let k = match self {
            MaxFeatures::All => n,
            MaxFeatures::Sqrt => (n as f64).sqrt().floor() as usize,
            MaxFeatures::Log2 => (n as f64).log2().floor() as usize,
            MaxFeatures::Count(k) => k,
            MaxFeatures::Fraction(f) => (f * n as f64).floor() as usize,
        };
        Ok(k.clamp(1, n.max(1)))
    }

    /// Parse `all`, `sqrt`, `log2`, an integer count or a fraction in (0, 1].
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "all" | "none" | "1.0" => Ok(MaxFeatures::All),
            "sqrt" => Ok(MaxFeatures::Sqrt),
            "log2" => Ok(MaxFeatures::Log2),
            _ => {
                if let Ok(k) = s.parse::<usize>() {
                    if k > 0 {
                        return Ok(MaxFeatures::Count(k));
                    }
                } else if let Ok(f) = s.parse::<f64>()
                    && f > 0.0
                    && f <= 1.0
                {
                    return Ok(MaxFeatures::Fraction(f));
                }
                Err(invalid(
                    "max_features",
                    format!("'{s}': expected all, sqrt, log2, a count or a fraction in (0, 1]"),
                ))
            }
        }
    }
}

/// A CART decision tree: Gini impurity for classification, squared error for
/// regression, binary splits `x <= threshold` at midpoints (scikit-learn's
/// `DecisionTreeClassifier` / `DecisionTreeRegressor`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionTree {
    /// Maximum depth (root at depth 0); `None` grows until leaves are pure.
    pub max_depth: Option<usize>,
    /// A node with fewer samples is not split (>= 2).
    pub min_samples_split: usize,
    /// Each child keeps at least this many samples (>= 1).
    pub min_samples_leaf: usize,
    /// Features considered per split; `None`: all.
    pub max_features: Option<MaxFeatures>,
    /// Seed for the feature order.
    pub seed: u64,
}

impl Default for DecisionTree {
    fn default() -> Self {
        Self {
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: None,
            seed: 0,
        }
    }
}

impl DecisionTree {
    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// `min_samples_split < 2`, `min_samples_leaf < 1`.
    pub fn validate(&self) -> Result<()> {
        if self.min_samples_split < 2 {
            return Err(invalid("min_samples_split", "must be at least 2"));
        }
        if self.min_samples_leaf < 1 {
            return Err(invalid("min_samples_leaf", "must be at least 1"));
        }
        Ok(())
    }
}

/// A random forest: trees grown on bootstrap samples with a random subset of
/// features per split, probabilities (or values) averaged (scikit-learn's
/// `RandomForestClassifier` / `RandomForestRegressor`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForest {
    /// Number of trees, 1 to [`RandomForest::MAX_TREES`].
    pub n_trees: usize,
    /// Parameters of each tree. Its `max_features` defaults to `sqrt` for
    /// classification and all features for regression, as in scikit-learn.
    pub tree: DecisionTree,
    /// Draw a bootstrap sample for each tree.
    pub bootstrap: bool,
    /// Seed for bootstrap samples and feature choices.
    pub seed: u64,
}

impl Default for RandomForest {
    fn default() -> Self {
        Self {
            n_trees: 100,
            tree: DecisionTree::default(),
            bootstrap: true,
            seed: 0,
        }
    }
}

impl RandomForest {
    /// The most trees a forest may have.
    pub const MAX_TREES: usize = 100_000;

    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// A tree count outside 1..=[`RandomForest::MAX_TREES`], or invalid tree parameters.
    pub fn validate(&self) -> Result<()> {
        ml_core::limits::check_count("n_trees", self.n_trees, 1..=Self::MAX_TREES)?;
        self.tree.validate()
    }

    /// Check that the forest can be held in memory for `n` rows with
    /// `outputs` values per leaf: a tree has at most `2n - 1` nodes.
    ///
    /// # Errors
    /// [`ml_core::Error::InvalidParameter`] naming `n_trees` when it cannot.
    pub fn check_size(&self, n: usize, outputs: usize) -> Result<()> {
        let node_bytes = (std::mem::size_of::<TreeNode>() + 8 * outputs) as f64;
        let nodes = (2.0 * n as f64 - 1.0).max(1.0);
        ml_core::limits::check_work(
            "n_trees",
            self.n_trees as f64 * nodes * node_bytes,
            "use fewer trees, or limit max_depth / raise min_samples_leaf",
        )?;
        Ok(())
    }
}

/// The target a tree is grown on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TreeTarget<'a> {
    Classes { labels: &'a [usize], n_classes: usize },
    Values(&'a [f64]),
}

impl TreeTarget<'_> {
    fn n_outputs(&self) -> usize {
        match self {
            TreeTarget::Classes { n_classes, .. } => *n_classes,
            TreeTarget::Values(_) => 1,
        }
    }
}

/// Fit one tree or a forest on a preprocessed matrix.
pub(crate) fn fit_forest(
    x: ArrayView2<'_, f64>,
    target: TreeTarget<'_>,
    sample_weight: Option<&[f64]>,
    forest: &RandomForest,
) -> Result<Estimator> {
    forest.validate()?;
    let n = x.nrows();
    if forest.tree.max_depth.is_none() {
        forest.check_size(n, target.n_outputs())?;
    }
    let default_features = match target {
        TreeTarget::Classes { .. } => MaxFeatures::Sqrt,
        TreeTarget::Values(_) => MaxFeatures::All,
    };
    let max_features = forest
        .tree
        .max_features
        .unwrap_or(default_features)
        .resolve(x.ncols())?;
    // Column-major copy: split search scans one feature at a time.
    let columns: Vec<Vec<f64>> = (0..x.ncols()).map(|j| x.column(j).to_vec()).collect();
    let mut rng = seeded_rng(forest.seed);
    let mut trees = Vec::with_capacity(forest.n_trees);
    for _ in 0..forest.n_trees {
        let tree_seed: u64 = rng.random();
        let mut tree_rng = seeded_rng(tree_seed);
        let mut weights: Vec<f64> = sample_weight.map_or_else(|| vec![1.0; n], <[f64]>::to_vec);
        if forest.bootstrap {
            let mut counts = vec![0u32; n];
            for _ in 0..n {
                counts[tree_rng.random_range(0..n)] += 1;
            }
            for (w, c) in weights.iter_mut().zip(counts) {
                *w *= f64::from(c);
            }
        }
        let grower = Grower {
            columns: &columns,
            target,
            weights: &weights,
            params: &forest.tree,
            max_features,
        };
        trees.push(grower.grow(&mut tree_rng));
    }
    let n_out = target.n_outputs();
    Ok(Estimator::TreeEnsemble {
        trees,
        aggregation: Aggregation::Average,
        base_values: vec![0.0; n_out],
        link: Link::Identity,
    })
}

/// Fit a single decision tree (all rows, no bootstrap).
pub(crate) fn fit_tree(
    x: ArrayView2<'_, f64>,
    target: TreeTarget<'_>,
    sample_weight: Option<&[f64]>,
    tree: &DecisionTree,
) -> Result<Estimator> {
    let forest = RandomForest {
        n_trees: 1,
        tree: DecisionTree {
            max_features: Some(tree.max_features.unwrap_or(MaxFeatures::All)),
            ..tree.clone()
        },
        bootstrap: false,
        seed: tree.seed,
    };
    fit_forest(x, target, sample_weight, &forest)
}

struct Grower<'a> {
    columns: &'a [Vec<f64>],
    target: TreeTarget<'a>,
    weights: &'a [f64],
    params: &'a DecisionTree,
    max_features: usize,
}

struct Candidate {
    feature: usize,
    threshold: f64,
    score: f64,
}

impl Grower<'_> {
    fn grow(&self, rng: &mut SeededRng) -> Tree {
        let mut samples: Vec<u32> = (0..self.weights.len() as u32)
            .filter(|&i| self.weights[i as usize] > 0.0)
            .collect();
        let n_out = self.target.n_outputs();
        let mut nodes = vec![TreeNode {
            split: None,
            value: vec![0.0; n_out],
            cover: 0.0,
        }];
        let mut stack = vec![(0usize, 0usize, samples.len(), 0usize)];
        let mut features: Vec<usize> = (0..self.columns.len()).collect();
        let mut buf: Vec<(f64, u32)> = Vec::with_capacity(samples.len());
        while let Some((id, start, end, depth)) = stack.pop() {
            let node_samples = &samples[start..end];
            let (value, cover, impure) = self.node_value(node_samples);
            nodes[id].value = value;
            nodes[id].cover = cover;
            let m = end - start;
            let can_split = impure
                && m >= self.params.min_samples_split
                && m >= 2 * self.params.min_samples_leaf
                && self.params.max_depth.is_none_or(|d| depth < d);
            if !can_split {
                continue;
            }
            features.shuffle(rng);
            let mut best: Option<Candidate> = None;
            let mut visited = 0;
            for &f in &features {
                if visited >= self.max_features {
                    break;
                }
                buf.clear();
                buf.extend(node_samples.iter().map(|&s| (self.columns[f][s as usize], s)));
                buf.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                if buf[0].0 as f32 == buf[m - 1].0 as f32 {
                    continue; // constant here (in f32): does not count towards max_features
                }
                visited += 1;
                if let Some(c) = self.best_split(&buf, f)
                    && best.as_ref().is_none_or(|b| c.score > b.score)
                {
                    best = Some(c);
                }
            }
            let Some(best) = best else { continue };
            // Partition the node's samples: left (<= threshold) first.
            let slice = &mut samples[start..end];
            let col = &self.columns[best.feature];
            let mut left = 0;
            for i in 0..slice.len() {
                if goes_left(col[slice[i] as usize], best.threshold) {
                    slice.swap(i, left);
                    left += 1;
                }
            }
            let (l, r) = (nodes.len(), nodes.len() + 1);
            for _ in 0..2 {
                nodes.push(TreeNode {
                    split: None,
                    value: vec![0.0; n_out],
                    cover: 0.0,
                });
            }
            nodes[id].split = Some(Split {
                feature: best.feature,
                threshold: best.threshold,
                left: l,
                right: r,
                missing_left: false,
                categories: None,
            });
            stack.push((r, start + left, end, depth + 1));
            stack.push((l, start, start + left, depth + 1));
        }
        Tree { nodes }
    }

    /// The node's output, weighted sample count, and whether it is impure.
    fn node_value(&self, samples: &[u32]) -> (Vec<f64>, f64, bool) {
        let total: f64 = samples.iter().map(|&s| self.weights[s as usize]).sum();
        match self.target {
            TreeTarget::Classes { labels, n_classes } => {
                let mut counts = vec![0.0; n_classes];
                for &s in samples {
                    counts[labels[s as usize]] += self.weights[s as usize];
                }
                let impure = counts.iter().filter(|&&c| c > 0.0).count() > 1;
                (counts.iter().map(|c| c / total).collect(), total, impure)
            }
            TreeTarget::Values(y) => {
                let mean = samples
                    .iter()
                    .map(|&s| self.weights[s as usize] * y[s as usize])
                    .sum::<f64>()
                    / total;
                let var = samples
                    .iter()
                    .map(|&s| self.weights[s as usize] * (y[s as usize] - mean).powi(2))
                    .sum::<f64>()
                    / total;
                (vec![mean], total, var > 1e-14 * (1.0 + mean * mean))
            }
        }
    }

    /// Best threshold on one feature, given the node's samples sorted by it.
    /// The score is the impurity-reduction proxy: for Gini `Σ_k L_k²/W_L + Σ_k R_k²/W_R`,
    /// for squared error `S_L²/W_L + S_R²/W_R`; larger is better.
    fn best_split(&self, sorted: &[(f64, u32)], feature: usize) -> Option<Candidate> {
        let m = sorted.len();
        let min_leaf = self.params.min_samples_leaf;
        let mut best: Option<(f64, usize)> = None;
        match self.target {
            TreeTarget::Classes { labels, n_classes } => {
                let mut right = vec![0.0; n_classes];
                for &(_, s) in sorted {
                    right[labels[s as usize]] += self.weights[s as usize];
                }
                let mut left = vec![0.0; n_classes];
                let mut w_right: f64 = right.iter().sum();
                let mut w_left = 0.0;
                let mut sq_right: f64 = right.iter().map(|c| c * c).sum();
                let mut sq_left = 0.0;
                for i in 0..m - 1 {
                    let s = sorted[i].1 as usize;
                    let (c, w) = (labels[s], self.weights[s]);
                    sq_left += w * (2.0 * left[c] + w);
                    sq_right += w * (w - 2.0 * right[c]);
                    left[c] += w;
                    right[c] -= w;
                    w_left += w;
                    w_right -= w;
                    if sorted[i].0 as f32 == sorted[i + 1].0 as f32 || i + 1 < min_leaf || m - i - 1 < min_leaf {
                        continue;
                    }
                    let score = sq_left / w_left + sq_right / w_right;
                    if best.is_none_or(|b| score > b.0) {
                        best = Some((score, i));
                    }
                }
            }
            TreeTarget::Values(y) => {
                let mut s_right: f64 = sorted
                    .iter()
                    .map(|&(_, s)| self.weights[s as usize] * y[s as usize])
                    .sum();
                let mut w_right: f64 = sorted.iter().map(|&(_, s)| self.weights[s as usize]).sum();
                let (mut s_left, mut w_left) = (0.0, 0.0);
                for i in 0..m - 1 {
                    let s = sorted[i].1 as usize;
                    let (w, v) = (self.weights[s], y[s]);
                    s_left += w * v;
                    s_right -= w * v;
                    w_left += w;
                    w_right -= w;
                    if sorted[i].0 as f32 == sorted[i + 1].0 as f32 || i + 1 < min_leaf || m - i - 1 < min_leaf {
                        continue;
                    }
                    let score = s_left * s_left / w_left + s_right * s_right / w_right;
                    if best.is_none_or(|b| score > b.0) {
                        best = Some((score, i));
                    }
                }
            }
        }
        // Thresholds are midpoints of f32 values, themselves f32 (see `goes_left`);
        // values equal in f32 are never separated.
        best.map(|(score, i)| {
            let (a, b) = (sorted[i].0 as f32, sorted[i + 1].0 as f32);
            let mid = a / 2.0 + b / 2.0;
            let threshold = f64::from(if mid >= b || !mid.is_finite() { a } else { mid });
            Candidate {
                feature,
                threshold,
                score,
            }
        })
    }
}
