//! Histogram gradient boosting, after scikit-learn's
//! `HistGradientBoostingClassifier`/`Regressor` and LightGBM: features are
//! binned once (at most 255 bins of values plus one for missing values),
//! trees grow leaf-wise (best split first) on per-bin gradient and hessian
//! sums, a child's histogram is its parent's minus its sibling's, and every
//! split learns where missing values go. The model is a plain
//! [`ml_core::Estimator::TreeEnsemble`] (summed trees with a logistic,
//! softmax or identity link), so it predicts as its spec, exports to ONNX,
//! and is explained by exact TreeSHAP.
//!
//! Thresholds are single-precision values and binning compares as
//! [`ml_core::goes_left`] does, so the trees route every training row
//! exactly as the spec (and ONNX) route it.

use std::collections::BinaryHeap;

use ml_core::ndarray::{ArrayView1, ArrayView2};
use ml_core::{Aggregation, CategorySet, Estimator, Link, Split, Tree, TreeNode, goes_left};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// Whether to hold out a validation set and stop when its loss stops
/// falling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EarlyStopping {
    /// On when there are more than 10,000 rows (scikit-learn's `"auto"`).
    Auto,
    /// Always.
    On,
    /// Never: `max_iter` iterations.
    Off,
}

impl EarlyStopping {
    /// Parse `auto`, `true`/`on` or `false`/`off`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "true" | "on" => Ok(Self::On),
            "false" | "off" => Ok(Self::Off),
            _ => Err(invalid(
                "early_stopping",
                format!("'{s}': expected auto, true or false"),
            )),
        }
    }
}

/// How a pipeline gives categorical columns to boosting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalFeatures {
    /// As category codes, split natively (a set of categories goes left),
    /// as scikit-learn's default `"from_dtype"` treats pandas categories.
    #[default]
    FromDtype,
    /// One-hot encoded first, like any other model.
    Onehot,
}

impl CategoricalFeatures {
    /// Parse `from_dtype` (or `native`) or `onehot`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "from_dtype" | "native" => Ok(Self::FromDtype),
            "onehot" | "none" => Ok(Self::Onehot),
            _ => Err(invalid(
                "categorical_features",
                format!("'{s}': expected from_dtype (native splits) or onehot"),
            )),
        }
    }
}

/// Histogram gradient boosting: log loss for classes (binary or
/// multinomial), squared error for values. Hyper-parameters and defaults
/// are scikit-learn's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistGradientBoosting {
    /// Shrinkage of every tree's values.
    pub learning_rate: f64,
    /// Boosting iterations (one tree per iteration, per class for more
    /// than two classes).
    pub max_iter: usize,
    /// Leaves per tree (`None`: no limit).
    pub max_leaf_nodes: Option<usize>,
    /// Depth per tree (`None`: no limit).
    pub max_depth: Option<usize>,
    /// Rows a leaf must hold.
    pub min_samples_leaf: usize,
    /// L2 penalty on leaf values.
    pub l2_regularization: f64,
    /// Bins for non-missing values of each feature (at most 255).
    pub max_bins: usize,
    /// Early stopping on a held-out validation set.
    pub early_stopping: EarlyStopping,
    /// The share of rows held out for early stopping.
    pub validation_fraction: f64,
    /// Stop after this many iterations without an improvement of `tol`.
    pub n_iter_no_change: usize,
    /// The smallest improvement of the validation loss that counts.
    pub tol: f64,
    /// Seed of the validation split.
    pub seed: u64,
    /// Threads to fit on: 0 for every core, 1 for none but the caller's.
    /// The model is the same whatever the threads.
    #[serde(default)]
    pub n_threads: usize,
    /// How a pipeline gives it categorical columns (native splits by
    /// default; [`HistGradientBoosting::fit_categorical`] takes the codes).
    #[serde(default)]
    pub categorical_features: CategoricalFeatures,
}

impl Default for HistGradientBoosting {
    fn default() -> Self {
        Self {
            learning_rate: 0.1,
            max_iter: 100,
            max_leaf_nodes: Some(31),
            max_depth: None,
            min_samples_leaf: 20,
            l2_regularization: 0.0,
            max_bins: 255,
            early_stopping: EarlyStopping::Auto,
            validation_fraction: 0.1,
            n_iter_no_change: 10,
            tol: 1e-7,
            seed: 0,
            n_threads: 0,
            categorical_features: CategoricalFeatures::FromDtype,
        }
    }
}

/// What boosting fits.
#[derive(Debug, Clone, Copy)]
pub enum BoostTarget<'a> {
    /// Class indices below `n_classes`.
    Classes {
        /// One per row.
        labels: &'a [usize],
        /// How many classes.
        n_classes: usize,
    },
    /// Real values.
    Values(&'a [f64]),
}

/// A split of a node's rows: `rows ≤ threshold` (or missing, with
/// `missing_left`) go left.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    gain: f64,
    feature: usize,
    /// The last bin that goes left.
    bin: usize,
    /// Where missing values go as learned (see `Grower::split` for features
    /// without them in training).
    missing_left: bool,
    /// For a categorical feature, the categories (bins) that go left.
    categories: Option<CategorySet>,
    /// The left child's gradient and hessian sums and rows.
    left: Bin,
}

/// Per-bin sums of one feature's gradients, hessians and rows.
#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

impl std::ops::AddAssign for Bin {
    fn add_assign(&mut self, o: Bin) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }
}

impl std::ops::Sub for Bin {
    type Output = Bin;
    fn sub(self, o: Bin) -> Bin {
        Bin {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

/// What a candidate split of a node gives (see `Grower::gain`).
enum Gain {
    /// The left side is below the minimums: scan on.
    LeftTooSmall,
    /// The right side is: no further split point can do better.
    RightTooSmall,
    /// The loss reduction.
    Of(f64),
}

/// A leaf waiting to be split, ordered by its best split's gain.
struct Open {
    gain: f64,
    node: usize,
}

impl PartialEq for Open {
    fn eq(&self, other: &Self) -> bool {
        self.gain.total_cmp(&other.gain).is_eq() && self.node == other.node
    }
}
impl Eq for Open {}
impl PartialOrd for Open {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Open {
    // Larger gains first; among equal gains the earlier node.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.gain.total_cmp(&other.gain).then(other.node.cmp(&self.node))
    }
}

/// The bins filled together at most (see `Grower::histogram`): a
/// first-level data cache (32 KiB here) less room for the columns read
/// (24 KiB measured best on breast_cancer, digits and 100,000 rows).
const GROUP_BYTES: usize = 24 * 1024;

/// Nodes with fewer row-feature updates than this fill their histograms
/// on one thread (the hand-off costs more than it saves).
const PARALLEL_UPDATES: usize = 1 << 14;

/// Histograms of at least this many bins are scanned for splits on
/// several threads.
const PARALLEL_SCAN_BINS: usize = 2048;

/// Rows a thread partitions at a time in nodes of at least twice as many.
const PARTITION_CHUNK: usize = 1 << 12;

/// The smallest hessian sum a child may have (scikit-learn's
/// `min_hessian_to_split`).
const MIN_HESSIAN: f64 = 1e-3;

/// Features binned once: thresholds per feature and each row's bin.
///
/// Feature `f` has `thresholds[f].len() + 1` bins of values and one more
/// for missing values (its code is the count of value bins), so a node's
/// histogram is one flat array with each feature's bins at
/// `offsets[f]..offsets[f + 1]`, sized by the feature's own values (most
/// of digits' pixels have a handful) rather than 256 for every feature.
struct Binned {
    /// Ascending single-precision thresholds; bin `b` holds the values at
    /// most `thresholds[b]` and above `thresholds[b - 1]`.
    thresholds: Vec<Vec<f64>>,
    /// `features × rows`, column by column.
    codes: Vec<Vec<u8>>,
    /// Whether the feature had missing values in training.
    has_missing: Vec<bool>,
    /// Where each feature's bins start in a histogram (one more entry
    /// than features: the histogram's length last).
    offsets: Vec<usize>,
    /// Features that can split a node: more than one bin of values, or
    /// missing values. Histograms skip the others.
    splittable: Vec<usize>,
    /// The splittable features' codes row by row (`rows × splittable`),
    /// each plus its feature's offset: a histogram reads a row's codes
    /// from one cache line however scattered a node's rows are.
    by_row: Option<Vec<u16>>,
    /// Rows per bin (the root's histogram's counts).
    counts: Vec<u32>,
    /// Ranges of `splittable` whose histograms are filled together.
    groups: Vec<std::ops::Range<usize>>,
    /// Whether each feature holds category codes (bin `c` is code `c`).
    categorical: Vec<bool>,
}

impl Binned {
    /// Bin every column (on several threads with `parallel`).
    fn fit(x: ArrayView2<'_, f64>, max_bins: usize, categorical: &[bool], parallel: bool) -> Result<Self> {
        let categorical: Vec<bool> = (0..x.ncols())
            .map(|f| categorical.get(f).copied().unwrap_or(false))
            .collect();
        let bin = |f: usize| {
            if categorical[f] {
                bin_categories(x.column(f), f, max_bins)
            } else {
                Ok(bin_column(x.column(f), max_bins))
            }
        };
        let columns: Vec<(Vec<f64>, Vec<u8>, bool)> = if parallel {
            (0..x.ncols()).into_par_iter().map(bin).collect::<Result<_>>()?
        } else {
            (0..x.ncols()).map(bin).collect::<Result<_>>()?
        };
        let mut thresholds = Vec::with_capacity(x.ncols());
        let mut codes: Vec<Vec<u8>> = Vec::with_capacity(x.ncols());
        let mut has_missing = Vec::with_capacity(x.ncols());
        let mut offsets = vec![0];
        let mut splittable = Vec::new();
        for (f, (t, column, missing)) in columns.into_iter().enumerate() {
            codes.push(column);
            if missing || !t.is_empty() {
                splittable.push(f);
            }
            has_missing.push(missing);
            offsets.push(offsets[f] + t.len() + 2);
            thresholds.push(t);
        }
        // Features whose bins fit the cache together fill a histogram in
        // one pass over a node's rows.
        let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
        let mut bytes = 0;
        for (i, &f) in splittable.iter().enumerate() {
            let size = (offsets[f + 1] - offsets[f]) * std::mem::size_of::<Bin>();
            match groups.last_mut() {
                Some(g) if bytes + size <= GROUP_BYTES => {
                    g.end = i + 1;
                    bytes += size;
                }
                _ => {
                    groups.push(i..i + 1);
                    bytes = size;
                }
            }
        }
        // Groups fill on the threads side by side: as many groups as fit
        // the cache would leave one thread a group more than the other (4
        // and 3 of 20 features' 7), so on several threads their count is
        // rounded up to a multiple of the threads, features dealt out by
        // their bins. Only where many nodes fill on several threads:
        // elsewhere more groups are only more passes over the rows.
        let threads = rayon::current_num_threads();
        let many_parallel_nodes = x.nrows() * splittable.len() >= 8 * PARALLEL_UPDATES;
        if parallel && many_parallel_nodes && threads > 1 && groups.len() > 1 && !groups.len().is_multiple_of(threads) {
            let count = groups
                .len()
                .div_ceil(threads)
                .saturating_mul(threads)
                .min(splittable.len());
            let size = |f: usize| offsets[f + 1] - offsets[f];
            let total: usize = splittable.iter().map(|&f| size(f)).sum();
            groups.clear();
            let mut filled = 0;
            for (i, &f) in splittable.iter().enumerate() {
                // A new group once the last one holds its share, or when
                // the features left are just enough for the groups left.
                let made = groups.len();
                let share = (made * total).div_ceil(count);
                let left = splittable.len() - i;
                match groups.last_mut() {
                    Some(g) if filled < share && left > count - made => g.end = i + 1,
                    _ => groups.push(i..i + 1),
                }
                filled += size(f);
            }
        }
        let by_row = (groups.len() == 1).then(|| {
            (0..x.nrows())
                .flat_map(|r| {
                    let (codes, offsets) = (&codes, &offsets);
                    splittable
                        .iter()
                        .map(move |&f: &usize| (offsets[f] + usize::from(codes[f][r])) as u16)
                })
                .collect()
        });
        let mut counts = vec![0; offsets[offsets.len() - 1]];
        for &f in &splittable {
            for &code in &codes[f] {
                counts[offsets[f] + usize::from(code)] += 1;
            }
        }
        Ok(Self {
            thresholds,
            codes,
            has_missing,
            offsets,
            splittable,
            by_row,
            counts,
            groups,
            categorical,
        })
    }

    /// The bins in `hist` of each range of `splittable` (disjoint slices,
    /// with where each starts) and its features.
    fn slices<'h>(
        &self,
        hist: &'h mut [Bin],
        ranges: &[std::ops::Range<usize>],
    ) -> Vec<(usize, &'h mut [Bin], &[usize])> {
        let mut out = Vec::with_capacity(ranges.len());
        let (mut rest, mut at) = (hist, 0);
        for group in ranges {
            let features = &self.splittable[group.clone()];
            let start = self.offsets[features[0]];
            let end = self.offsets[features[features.len() - 1] + 1];
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - at);
            let (bins, tail) = tail.split_at_mut(end - start);
            out.push((start, bins, features));
            rest = tail;
            at = end;
        }
        out
    }

    /// The code of missing values of feature `f`.
    fn missing_code(&self, f: usize) -> usize {
        self.thresholds[f].len() + 1
    }
}

/// One column's thresholds, codes and whether it has missing values: the
/// values are sorted with their rows, thresholds come from the sorted
/// values and codes from one walk along them.
fn bin_column(col: ArrayView1<'_, f64>, max_bins: usize) -> (Vec<f64>, Vec<u8>, bool) {
    let mut sorted: Vec<(f32, u32)> = col
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(r, &v)| (v as f32, r as u32))
        .collect();
    sorted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let values: Vec<f32> = sorted.iter().map(|&(v, _)| v).collect();
    let t = bin_thresholds(&values, max_bins);
    // Missing values keep the code past the value bins.
    let mut column = vec![(t.len() + 1) as u8; col.len()];
    let mut b = 0;
    for &(v, r) in &sorted {
        while b < t.len() && !goes_left(f64::from(v), t[b]) {
            b += 1;
        }
        column[r as usize] = b as u8;
    }
    let missing = sorted.len() < col.len();
    (t, column, missing)
}

/// A categorical column's bins: its codes themselves (bin `c` holds code
/// `c`), missing values (and negative codes, categories unseen when the
/// encoding was made) in the bin after the last code.
///
/// # Errors
/// A code that is not a whole number, or one of `max_bins` or more.
fn bin_categories(col: ArrayView1<'_, f64>, f: usize, max_bins: usize) -> Result<(Vec<f64>, Vec<u8>, bool)> {
    let mut top = 0usize;
    for &v in col {
        if v.is_nan() || v < 0.0 {
            continue;
        }
        if v.fract() != 0.0 || v >= max_bins as f64 {
            return Err(invalid(
                "categorical_features",
                format!(
                    "feature {f} holds {v}: native categorical splits take whole category codes below max_bins ({max_bins}); give categorical_features=onehot for more categories"
                ),
            ));
        }
        top = top.max(v as usize);
    }
    let n_categories = top + 1;
    let mut missing = false;
    let codes = col
        .iter()
        .map(|&v| {
            if v.is_nan() || v < 0.0 {
                missing = true;
                n_categories as u8
            } else {
                v as u8
            }
        })
        .collect();
    // Thresholds between the codes keep the bin count (and the bins'
    // layout) of a numeric feature; categorical splits never read them.
    let thresholds = (1..n_categories).map(|c| c as f64 - 0.5).collect();
    Ok((thresholds, codes, missing))
}

/// Thresholds between the distinct single-precision values of a column:
/// between neighbours when there are at most `max_bins` of them, else at
/// `max_bins` quantiles (scikit-learn's binning, cut between the same
/// values).
fn bin_thresholds(values: &[f32], max_bins: usize) -> Vec<f64> {
    let mut distinct = values.to_vec();
    distinct.dedup();
    let between = |a: f32, b: f32| -> f64 {
        // A float in [a, b): every value up to a goes left, b goes right.
        let m = ((f64::from(a) + f64::from(b)) / 2.0) as f32;
        f64::from(if m >= b || m < a { a } else { m })
    };
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| between(w[0], w[1])).collect();
    }
    // Quantiles of the values (with repeats) as scikit-learn takes them:
    // numpy's percentile with `method="averaged_inverted_cdf"` at
    // `linspace(0, 100, max_bins + 1)[1:-1]`, in the same floating-point
    // steps, so the cut points fall between the same values.
    let n = values.len();
    let step = 100.0 / max_bins as f64;
    let mut out: Vec<f64> = Vec::with_capacity(max_bins - 1);
    for q in 1..max_bins {
        let virtual_index = n as f64 * (q as f64 * step / 100.0) - 1.0;
        let lower = virtual_index.floor();
        let below = (lower.max(0.0) as usize).min(n - 1);
        let above = ((lower + 1.0).max(0.0) as usize).min(n - 1);
        let p = if virtual_index == lower {
            f64::from(values[below]) + 0.5 * (f64::from(values[above]) - f64::from(values[below]))
        } else {
            f64::from(values[above])
        };
        // The threshold: the largest distinct value at most p, moved
        // between it and the next one (the same rows on each side).
        let i = distinct.partition_point(|&d| f64::from(d) <= p);
        if i == 0 || i >= distinct.len() {
            continue;
        }
        let t = between(distinct[i - 1], distinct[i]);
        if out.last().is_none_or(|&l| t > l) {
            out.push(t);
        }
    }
    out
}

/// One output's gradient-hessian pairs and free histogram buffers.
type Buffers = (Vec<[f32; 2]>, Vec<Vec<Bin>>);

/// A grown tree, each leaf's value and rows, and the histogram buffers it
/// leaves free.
struct Grown {
    tree: Tree,
    leaves: Vec<(f64, Vec<u32>)>,
    pool: Vec<Vec<Bin>>,
}

/// One tree as it grows: the spec's nodes with each leaf's rows.
struct Grower<'a> {
    binned: &'a Binned,
    cfg: &'a HistGradientBoosting,
    /// Each row's gradient and hessian: single precision as scikit-learn
    /// keeps them (summed in double precision), side by side so a row's
    /// pair is one read, and half the bytes of doubles for the cache.
    gh: &'a [[f32; 2]],
    /// Whether large histograms fill on several threads.
    parallel: bool,
    nodes: Vec<TreeNode>,
    /// Rows of each node (emptied once split).
    rows: Vec<Vec<u32>>,
    /// Histograms of open leaves (`features × bins`), dropped once split.
    hists: Vec<Option<Vec<Bin>>>,
    /// Histogram buffers no node needs any more, reused (by this tree and
    /// the next) rather than allocated and zeroed again.
    pool: Vec<Vec<Bin>>,
    depth: Vec<usize>,
    /// Gradient and hessian sums of each node.
    sums: Vec<(f64, f64)>,
    best: Vec<Option<Candidate>>,
}

impl<'a> Grower<'a> {
    fn leaf_value(&self, g: f64, h: f64) -> f64 {
        -self.cfg.learning_rate * g / (h + self.cfg.l2_regularization)
    }

    /// The histogram of `rows`, filled a group of features at a time:
    /// each group's bins fit the first-level cache together, and a row's
    /// gradient, hessian and codes are read once per group (one cache line
    /// of codes however scattered the node's rows). One group of every
    /// feature when all bins fit (digits), one feature a group at worst.
    /// Groups fill on several threads when the node is large; each bin is
    /// summed by one thread in row order whatever the threads, so the
    /// trees do not depend on them.
    fn histogram(&mut self, rows: &[u32]) -> Vec<Bin> {
        let mut hist = self.buffer();
        let binned = self.binned;
        if let Some(by_row) = &binned.by_row {
            hist.fill(Bin::default());
            let stride = binned.splittable.len();
            for &r in rows {
                let r = r as usize;
                let [g, h] = self.gh[r].map(f64::from);
                for &code in &by_row[r * stride..(r + 1) * stride] {
                    let b = &mut hist[usize::from(code)];
                    b.g += g;
                    b.h += h;
                    b.n += 1;
                }
            }
            return hist;
        }
        // Each group zeroes its own bins, which it then finds in cache.
        let fill = |(base, bins, group): (usize, &mut [Bin], &[usize])| {
            bins.fill(Bin::default());
            let columns: Vec<(&[u8], usize)> = group
                .iter()
                .map(|&f| (binned.codes[f].as_slice(), binned.offsets[f] - base))
                .collect();
            for &r in rows {
                let r = r as usize;
                let [g, h] = self.gh[r].map(f64::from);
                for &(codes, offset) in &columns {
                    let b = &mut bins[offset + usize::from(codes[r])];
                    b.g += g;
                    b.h += h;
                    b.n += 1;
                }
            }
        };
        let groups = binned.slices(&mut hist, &binned.groups);
        if self.parallel && rows.len() * binned.splittable.len() >= PARALLEL_UPDATES {
            groups.into_par_iter().for_each(fill);
        } else {
            groups.into_iter().for_each(fill);
        }
        hist
    }

    /// A histogram buffer of the right length: whatever histogram it held,
    /// which the caller overwrites. Bins of features outside every group
    /// (those that cannot split) are zero in every buffer: no fill writes
    /// them, the root's counts are zero there, and subtraction keeps zero.
    fn buffer(&mut self) -> Vec<Bin> {
        self.pool
            .pop()
            .unwrap_or_else(|| vec![Bin::default(); self.binned.offsets[self.binned.offsets.len() - 1]])
    }

    /// A new node over `rows` with its histogram and gradient and hessian
    /// sums; returns its index.
    fn add(
        &mut self,
        rows: Vec<u32>,
        hist: Vec<Bin>,
        (g, h): (f64, f64),
        depth: usize,
        outputs: usize,
        k: usize,
    ) -> usize {
        let mut value = vec![0.0; outputs];
        value[k] = self.leaf_value(g, h);
        let id = self.nodes.len();
        self.nodes.push(TreeNode {
            split: None,
            value,
            cover: rows.len() as f64,
        });
        let splittable = self.cfg.max_depth.is_none_or(|d| depth < d) && rows.len() >= 2 * self.cfg.min_samples_leaf;
        self.best.push(if splittable {
            self.find_split(&hist, g, h, rows.len())
        } else {
            None
        });
        let hist = if self.best[id].is_some() {
            Some(hist)
        } else {
            // A node that will not split never reads its histogram again.
            self.pool.push(hist);
            None
        };
        self.rows.push(rows);
        self.sums.push((g, h));
        self.hists.push(hist);
        self.depth.push(depth);
        id
    }

    /// The gain of a split whose left side has the gradient, hessian and
    /// row sums `left` of the node's `total` (whose score is `parent`), or
    /// which side is too small (rows below `min_samples_leaf`, hessians
    /// below the minimum).
    #[inline]
    fn gain(&self, left: Bin, total: Bin, parent: f64) -> Gain {
        let min_leaf = self.cfg.min_samples_leaf.max(1) as u32;
        let right = total - left;
        if left.n < min_leaf || left.h < MIN_HESSIAN {
            return Gain::LeftTooSmall;
        }
        if right.n < min_leaf || right.h < MIN_HESSIAN {
            return Gain::RightTooSmall;
        }
        Gain::Of(self.score(left.g, left.h) + self.score(right.g, right.h) - parent)
    }

    /// A node's score `g² / (h + λ)`; a split gains its children's scores
    /// less its parent's.
    #[inline]
    fn score(&self, g: f64, h: f64) -> f64 {
        g * g / (h + self.cfg.l2_regularization)
    }

    /// The best split of a node with histogram `hist` and sums `g`, `h`, `n`:
    /// the first feature's among equal gains. Large histograms are scanned
    /// a run of features a thread, the runs' best taken in feature order,
    /// so the split does not depend on the threads.
    fn find_split(&self, hist: &[Bin], g: f64, h: f64, n: usize) -> Option<Candidate> {
        let total = Bin { g, h, n: n as u32 };
        let parent = self.score(g, h);
        let features = &self.binned.splittable;
        let threads = rayon::current_num_threads();
        // Threads idle through a small node's histogram take longer to wake
        // than a scan of it.
        let large = n * features.len() >= PARALLEL_UPDATES && hist.len() >= PARALLEL_SCAN_BINS;
        if !self.parallel || threads < 2 || !large {
            return self.scan(features, hist, total, parent);
        }
        let runs: Vec<Option<Candidate>> = features
            .par_chunks(features.len().div_ceil(threads))
            .map(|run| self.scan(run, hist, total, parent))
            .collect();
        runs.into_iter().flatten().fold(None, |best, c| {
            if best.is_none_or(|b: Candidate| c.gain > b.gain) {
                Some(c)
            } else {
                best
            }
        })
    }

    /// The best split among `features` (see `find_split`).
    fn scan(&self, features: &[usize], hist: &[Bin], total: Bin, parent: f64) -> Option<Candidate> {
        let mut best: Option<Candidate> = None;
        for &f in features {
            let bins = &hist[self.binned.offsets[f]..self.binned.offsets[f + 1]];
            if self.binned.categorical[f] {
                if let Some(c) = self.categorical_split(f, bins, total)
                    && best.is_none_or(|b| c.gain > b.gain)
                {
                    best = Some(c);
                }
                continue;
            }
            let non_missing = self.binned.missing_code(f);
            let missing = bins[non_missing];
            // Missing values right, then (if any) left; with missing values
            // the split "every value left, missing right" is tried too.
            for missing_left in [false, true] {
                if missing_left && missing.n == 0 {
                    continue;
                }
                let end = if missing.n > 0 && !missing_left {
                    non_missing
                } else {
                    non_missing - 1
                };
                let mut left = if missing_left { missing } else { Bin::default() };
                for (b, &bin) in bins.iter().enumerate().take(end) {
                    left += bin;
                    let gain = match self.gain(left, total, parent) {
                        Gain::LeftTooSmall => continue,
                        Gain::RightTooSmall => break,
                        Gain::Of(gain) => gain,
                    };
                    if gain > 0.0 && best.is_none_or(|c| gain > c.gain) {
                        best = Some(Candidate {
                            gain,
                            feature: f,
                            bin: b,
                            missing_left,
                            categories: None,
                            left,
                        });
                    }
                }
            }
        }
        best
    }

    /// The best split of categorical feature `f` (scikit-learn's, after
    /// Fisher's grouping and LightGBM): categories with enough hessian
    /// support (missing values as one more category) sorted by their
    /// smoothed gradient ratio, then scanned from each end up to the
    /// middle, the scanned ones going left. Categories with too little
    /// support always go right.
    fn categorical_split(&self, f: usize, bins: &[Bin], total: Bin) -> Option<Candidate> {
        /// scikit-learn's `MIN_CAT_SUPPORT` (LightGBM's `cat_smooth`).
        const SUPPORT: f64 = 10.0;
        let parent = self.score(total.g, total.h);
        let support_factor = f64::from(total.n) / total.h;
        let missing_code = self.binned.missing_code(f);
        let mut used: Vec<(usize, f64)> = bins
            .iter()
            .enumerate()
            .filter(|&(b, bin)| (b < missing_code || self.binned.has_missing[f]) && bin.h * support_factor >= SUPPORT)
            .map(|(b, bin)| (b, bin.g / (bin.h + SUPPORT)))
            .collect();
        if used.len() <= 1 {
            return None;
        }
        used.sort_by(|a, b| a.1.total_cmp(&b.1));
        // (gain, where the scan stopped, its direction, the left sums)
        let mut best: Option<(f64, usize, i8, Bin)> = None;
        for direction in [1i8, -1] {
            let middle = if direction == 1 {
                used.len().div_ceil(2)
            } else {
                used.len().div_ceil(2) - 1
            };
            let mut left = Bin::default();
            for i in 0..middle {
                let at = if direction == 1 { i } else { used.len() - 1 - i };
                left += bins[used[at].0];
                let gain = match self.gain(left, total, parent) {
                    Gain::LeftTooSmall => continue,
                    Gain::RightTooSmall => break,
                    Gain::Of(gain) => gain,
                };
                if gain > 0.0 && best.is_none_or(|b| gain > b.0) {
                    best = Some((gain, at, direction, left));
                }
            }
        }
        let (gain, at, direction, left) = best?;
        let chosen = if direction == 1 { &used[..=at] } else { &used[at..] };
        let missing_left = chosen.iter().any(|&(c, _)| c == missing_code);
        let categories = CategorySet::new(chosen.iter().map(|&(c, _)| c).filter(|&c| c < missing_code)).ok()?;
        Some(Candidate {
            gain,
            feature: f,
            bin: 0,
            missing_left,
            categories: Some(categories),
            left,
        })
    }

    /// Split node `id` by its best candidate; returns the children.
    fn split(&mut self, id: usize, c: Candidate, outputs: usize, k: usize) -> (usize, usize) {
        let rows = std::mem::take(&mut self.rows[id]);
        let codes = &self.binned.codes[c.feature];
        let missing_code = self.binned.missing_code(c.feature);
        // Without missing values in training, a missing value at prediction
        // goes to the larger child (scikit-learn's rule).
        let missing_left = if self.binned.has_missing[c.feature] {
            c.missing_left
        } else {
            c.left.n > rows.len() as u32 - c.left.n
        };
        // Branch-free: every row is written to both sides and only the
        // side it belongs to moves on.
        let goes_left: Vec<bool> = (0..=missing_code)
            .map(|b| match &c.categories {
                _ if b == missing_code => missing_left,
                None => b <= c.bin,
                Some(set) => set.contains(b),
            })
            .collect();
        let partition = |rows: &[u32]| {
            let (mut left, mut right) = (vec![0; rows.len()], vec![0; rows.len()]);
            let (mut nl, mut nr) = (0, 0);
            for &r in rows {
                let l = goes_left[usize::from(codes[r as usize])];
                left[nl] = r;
                right[nr] = r;
                nl += usize::from(l);
                nr += usize::from(!l);
            }
            left.truncate(nl);
            right.truncate(nr);
            (left, right)
        };
        // Large nodes in chunks on several threads, joined in row order.
        let (left, right) = if self.parallel && rows.len() >= 2 * PARTITION_CHUNK {
            let parts: Vec<(Vec<u32>, Vec<u32>)> = rows.par_chunks(PARTITION_CHUNK).map(partition).collect();
            let (mut left, mut right) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
            for (l, r) in parts {
                left.extend_from_slice(&l);
                right.extend_from_slice(&r);
            }
            (left, right)
        } else {
            partition(&rows)
        };
        let (g, h) = self.sums[id];
        let parent = self.hists[id].take().unwrap_or_else(|| self.histogram(&rows));
        // The smaller child's histogram is built, the larger one's is the
        // parent's minus it.
        let (small, large_is_left) = if left.len() <= right.len() {
            (&left, false)
        } else {
            (&right, true)
        };
        let small_hist = self.histogram(small);

        let mut large_hist = parent;
        for (p, &s) in large_hist.iter_mut().zip(&small_hist) {
            *p = *p - s;
        }
        let (left_hist, right_hist) = if large_is_left {
            (large_hist, small_hist)
        } else {
            (small_hist, large_hist)
        };
        let depth = self.depth[id] + 1;
        let threshold = match c.categories {
            // Unused: the categories decide.
            Some(_) => 0.0,
            None => self.binned.thresholds[c.feature]
                .get(c.bin)
                .copied()
                // Every value left, missing values right.
                .unwrap_or(f64::from(f32::MAX)),
        };
        let l = self.add(left, left_hist, (c.left.g, c.left.h), depth, outputs, k);
        let r = self.add(right, right_hist, (g - c.left.g, h - c.left.h), depth, outputs, k);
        self.nodes[id].split = Some(Split {
            feature: c.feature,
            threshold,
            left: l,
            right: r,
            missing_left,
            categories: c.categories,
        });
        (l, r)
    }

    /// The histogram of every row: each feature's column read in order,
    /// two features a pass (each row's gradient and hessian read once for
    /// both), and the rows per bin, the same for every tree, copied.
    fn root_histogram(&mut self) -> Vec<Bin> {
        let mut hist = self.buffer();
        let binned = self.binned;
        for (b, &n) in hist.iter_mut().zip(&binned.counts) {
            *b = Bin { g: 0.0, h: 0.0, n };
        }
        let gh = self.gh;
        let fill = |(base, bins, pair): (usize, &mut [Bin], &[usize])| {
            if let [f, e] = *pair {
                let (fo, eo) = (binned.offsets[f] - base, binned.offsets[e] - base);
                let rows = binned.codes[f].iter().zip(&binned.codes[e]).zip(gh);
                for ((&cf, &ce), &[g, h]) in rows {
                    let (g, h) = (f64::from(g), f64::from(h));
                    let b = &mut bins[fo + usize::from(cf)];
                    b.g += g;
                    b.h += h;
                    let b = &mut bins[eo + usize::from(ce)];
                    b.g += g;
                    b.h += h;
                }
            } else {
                for (&code, &[g, h]) in binned.codes[pair[0]].iter().zip(gh) {
                    let (g, h) = (f64::from(g), f64::from(h));
                    let b = &mut bins[usize::from(code)];
                    b.g += g;
                    b.h += h;
                }
            }
        };
        // Pairs of features are the threads' tasks: columns are read in
        // order, so there is no cache to share.
        let pairs: Vec<std::ops::Range<usize>> = (0..binned.splittable.len())
            .step_by(2)
            .map(|i| i..(i + 2).min(binned.splittable.len()))
            .collect();
        let groups = binned.slices(&mut hist, &pairs);
        if self.parallel && gh.len() * binned.splittable.len() >= PARALLEL_UPDATES {
            groups.into_par_iter().for_each(fill);
        } else {
            groups.into_iter().for_each(fill);
        }
        hist
    }

    /// Grow a tree on every row for output `k` of `outputs`; returns it
    /// with every leaf's value and rows, and the histogram buffers for the
    /// next tree.
    fn grow(mut self, outputs: usize, k: usize) -> Grown {
        let rows: Vec<u32> = (0..self.gh.len() as u32).collect();
        let hist = self.root_histogram();
        let sums = self
            .gh
            .iter()
            .fold((0.0, 0.0), |(g, h), &[gr, hr]| (g + f64::from(gr), h + f64::from(hr)));
        self.add(rows, hist, sums, 0, outputs, k);
        let max_leaves = self.cfg.max_leaf_nodes.unwrap_or(usize::MAX);
        let mut open = BinaryHeap::new();
        if let Some(c) = self.best[0] {
            open.push(Open { gain: c.gain, node: 0 });
        }
        let mut leaves = 1;
        while leaves < max_leaves {
            let Some(Open { node, .. }) = open.pop() else { break };
            let Some(c) = self.best[node] else { continue };
            let (l, r) = self.split(node, c, outputs, k);
            leaves += 1;
            for child in [l, r] {
                if let Some(c) = self.best[child] {
                    open.push(Open {
                        gain: c.gain,
                        node: child,
                    });
                }
            }
        }
        let leaves = self
            .nodes
            .iter()
            .zip(self.rows.iter_mut())
            .filter(|(n, _)| n.split.is_none())
            .map(|(n, rows)| (n.value[k], std::mem::take(rows)))
            .collect();
        self.pool.extend(self.hists.drain(..).flatten());
        Grown {
            tree: Tree { nodes: self.nodes },
            leaves,
            pool: self.pool,
        }
    }
}

/// The loss's starting raw predictions (one per output).
fn baseline(target: BoostTarget<'_>, rows: &[u32], weights: Option<&[f64]>) -> Vec<f64> {
    let w = |r: u32| weights.map_or(1.0, |w| w[r as usize]);
    let total: f64 = rows.iter().map(|&r| w(r)).sum();
    match target {
        BoostTarget::Values(y) => vec![rows.iter().map(|&r| w(r) * y[r as usize]).sum::<f64>() / total],
        BoostTarget::Classes { labels, n_classes } => {
            let mut p = vec![0.0; n_classes];
            for &r in rows {
                p[labels[r as usize]] += w(r);
            }
            let eps = f64::EPSILON;
            let p: Vec<f64> = p.iter().map(|v| (v / total).clamp(eps, 1.0 - eps)).collect();
            if n_classes == 2 {
                vec![(p[1] / (1.0 - p[1])).ln()]
            } else {
                let logs: Vec<f64> = p.iter().map(|v| v.ln()).collect();
                let mean = logs.iter().sum::<f64>() / n_classes as f64;
                logs.iter().map(|l| l - mean).collect()
            }
        }
    }
}

/// Gradients and hessians of output `k` at raw predictions `raw`
/// (`rows × outputs`; for more than one output, the softmax of each row,
/// computed once an iteration), times the sample weights if any, rounded
/// to single precision as scikit-learn keeps them (its histograms then sum
/// them in double precision, as here).
fn gradients(
    target: BoostTarget<'_>,
    raw: &[f64],
    outputs: usize,
    k: usize,
    weights: Option<&[f64]>,
    parallel: bool,
    gh: &mut [[f32; 2]],
) {
    // Rows `from..` into the chunk `gh`.
    let fill = |(from, gh): (usize, &mut [[f32; 2]])| {
        for (i, gh) in gh.iter_mut().enumerate() {
            let r = from + i;
            let (g, h) = match target {
                BoostTarget::Values(y) => (raw[r] - y[r], 1.0),
                BoostTarget::Classes { labels, .. } if outputs == 1 => {
                    let p = sigmoid(raw[r]);
                    (p - f64::from(u8::from(labels[r] == 1)), p * (1.0 - p))
                }
                BoostTarget::Classes { labels, .. } => {
                    let p = raw[r * outputs + k];
                    (p - f64::from(u8::from(labels[r] == k)), p * (1.0 - p))
                }
            };
            let w = weights.map_or(1.0, |w| w[r]);
            *gh = [(w * g) as f32, (w * h) as f32];
        }
    };
    const CHUNK: usize = 8192;
    if parallel && gh.len() > CHUNK {
        gh.par_chunks_mut(CHUNK)
            .enumerate()
            .map(|(c, gh)| (c * CHUNK, gh))
            .for_each(fill);
    } else {
        fill((0, gh));
    }
}

// Branch-free (the sign of a raw prediction is unpredictable row by row);
// for z below about -709, exp(-z) overflows to infinity and the result is
// 0, as it should be.
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn softmax_at(row: &[f64], k: usize) -> f64 {
    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
    (row[k] - m).exp() / s
}

/// Mean loss of raw predictions on `rows` (log loss or half squared error,
/// as scikit-learn's early stopping scores).
fn mean_loss(target: BoostTarget<'_>, raw: &[f64], outputs: usize, rows: &[u32], weights: Option<&[f64]>) -> f64 {
    let w = |r: u32| weights.map_or(1.0, |w| w[r as usize]);
    let total: f64 = rows.iter().map(|&r| w(r)).sum();
    let loss: f64 = rows
        .iter()
        .map(|&r| {
            let i = r as usize;
            let row = &raw[i * outputs..(i + 1) * outputs];
            w(r) * match target {
                BoostTarget::Values(y) => 0.5 * (row[0] - y[i]).powi(2),
                BoostTarget::Classes { labels, .. } if outputs == 1 => {
                    let p = sigmoid(row[0]).clamp(1e-15, 1.0 - 1e-15);
                    if labels[i] == 1 { -p.ln() } else { -(1.0 - p).ln() }
                }
                BoostTarget::Classes { labels, .. } => -softmax_at(row, labels[i]).max(1e-300).ln(),
            }
        })
        .sum();
    loss / total
}

impl HistGradientBoosting {
    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// The first invalid one.
    pub fn validate(&self) -> Result<()> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(invalid("learning_rate", "must be positive"));
        }
        if self.max_iter == 0 {
            return Err(invalid("max_iter", "must be at least 1"));
        }
        if self.max_leaf_nodes.is_some_and(|m| m < 2) {
            return Err(invalid("max_leaf_nodes", "must be at least 2 (or none)"));
        }
        if self.max_depth == Some(0) {
            return Err(invalid("max_depth", "must be at least 1 (or none)"));
        }
        if self.min_samples_leaf == 0 {
            return Err(invalid("min_samples_leaf", "must be at least 1"));
        }
        if !(self.l2_regularization.is_finite() && self.l2_regularization >= 0.0) {
            return Err(invalid("l2_regularization", "must be non-negative"));
        }
        if !(2..=255).contains(&self.max_bins) {
            return Err(invalid("max_bins", "must be between 2 and 255"));
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return Err(invalid("validation_fraction", "must be in (0, 1)"));
        }
        if self.n_iter_no_change == 0 {
            return Err(invalid("n_iter_no_change", "must be at least 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(invalid("tol", "must be non-negative"));
        }
        Ok(())
    }

    /// Fit on a design matrix (NaN is a missing value, infinities are
    /// refused), with optional sample weights; returns the estimator (raw
    /// outputs: one logit for two classes, one per class for more, the
    /// value for regression) and the iterations run.
    ///
    /// # Errors
    /// Invalid hyper-parameters, no rows, infinite values, one class.
    pub fn fit_design(
        &self,
        x: ArrayView2<'_, f64>,
        target: BoostTarget<'_>,
        weights: Option<&[f64]>,
    ) -> Result<(Estimator, usize)> {
        self.fit_categorical(x, target, weights, &[])
    }

    /// [`HistGradientBoosting::fit_design`] with native categorical
    /// features: where `categorical[j]` is true, feature `j` holds category
    /// codes (whole numbers below `max_bins`; NaN or a negative code is
    /// missing) and splits send a set of categories left (scikit-learn's
    /// `categorical_features`).
    ///
    /// # Errors
    /// As [`HistGradientBoosting::fit_design`]; a categorical feature with
    /// a code that is not a whole number or not below `max_bins`.
    pub fn fit_categorical(
        &self,
        x: ArrayView2<'_, f64>,
        target: BoostTarget<'_>,
        weights: Option<&[f64]>,
        categorical: &[bool],
    ) -> Result<(Estimator, usize)> {
        self.validate()?;
        match self.n_threads {
            0 => self.fit_threads(x, target, weights, categorical, rayon::current_num_threads() > 1),
            1 => self.fit_threads(x, target, weights, categorical, false),
            n => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| invalid("n_threads", format!("cannot start {n} threads: {e}")))?
                .install(|| self.fit_threads(x, target, weights, categorical, true)),
        }
    }

    fn fit_threads(
        &self,
        x: ArrayView2<'_, f64>,
        target: BoostTarget<'_>,
        weights: Option<&[f64]>,
        categorical: &[bool],
        parallel: bool,
    ) -> Result<(Estimator, usize)> {
        let n = x.nrows();
        if n == 0 {
            return Err(invalid("data", "no rows to train on"));
        }
        if let Some((i, j)) = x.indexed_iter().find(|(_, v)| v.is_infinite()).map(|(ij, _)| ij) {
            return Err(invalid("data", format!("row {i}, feature {j} is infinite")));
        }
        let (outputs, link) = match target {
            BoostTarget::Values(_) => (1, Link::Identity),
            BoostTarget::Classes { n_classes: 2, .. } => (1, Link::Logistic),
            BoostTarget::Classes { n_classes, .. } if n_classes > 2 => (n_classes, Link::Softmax),
            BoostTarget::Classes { .. } => return Err(invalid("target", "needs at least two classes")),
        };
        let early = match self.early_stopping {
            EarlyStopping::Auto => n > 10_000,
            EarlyStopping::On => true,
            EarlyStopping::Off => false,
        };
        let (train, valid) = if early {
            self.validation_split(target, n)?
        } else {
            ((0..n as u32).collect(), Vec::new())
        };
        // Bins from the training rows only.
        let train_x = x.select(
            ml_core::ndarray::Axis(0),
            &train.iter().map(|&r| r as usize).collect::<Vec<_>>(),
        );
        let binned_train = Binned::fit(train_x.view(), self.max_bins, categorical, parallel)?;
        let base = baseline(target, &train, weights);
        // Raw predictions of every row, read only for the validation rows'
        // loss: kept with early stopping alone.
        let mut raw: Vec<f64> = if early {
            (0..n).flat_map(|_| base.iter().copied()).collect()
        } else {
            Vec::new()
        };
        let local_target = |rows: &[u32]| -> (Vec<usize>, Vec<f64>) {
            match target {
                BoostTarget::Classes { labels, .. } => (rows.iter().map(|&r| labels[r as usize]).collect(), Vec::new()),
                BoostTarget::Values(y) => (Vec::new(), rows.iter().map(|&r| y[r as usize]).collect()),
            }
        };
        let (train_labels, train_values) = local_target(&train);
        let train_target = match target {
            BoostTarget::Classes { n_classes, .. } => BoostTarget::Classes {
                labels: &train_labels,
                n_classes,
            },
            BoostTarget::Values(_) => BoostTarget::Values(&train_values),
        };
        let train_w: Option<Vec<f64>> = weights.map(|w| train.iter().map(|&r| w[r as usize]).collect());
        let m = train.len();
        let mut train_raw: Vec<f64> = (0..m).flat_map(|_| base.iter().copied()).collect();
        let mut trees = Vec::new();
        let mut scores = Vec::new();
        if early {
            scores.push(-mean_loss(target, &raw, outputs, &valid, weights));
        }
        let mut iterations = 0;
        // Each output's gradients and its free histogram buffers, reused
        // from one iteration to the next.
        let mut buffers: Vec<Buffers> = (0..outputs).map(|_| (vec![[0.0; 2]; m], Vec::new())).collect();
        for _ in 0..self.max_iter {
            // Every output's gradients come from the raw predictions before
            // this iteration's trees (scikit-learn's order).
            let softmax = if outputs > 1 {
                let raw = ml_core::ndarray::Array2::from_shape_vec((m, outputs), train_raw.clone())
                    .map_err(|e| invalid("data", e.to_string()))?;
                Some(ml_core::apply_link(Link::Softmax, raw).into_raw_vec_and_offset().0)
            } else {
                None
            };
            let before = softmax.as_deref().unwrap_or(&train_raw);
            // One tree per output, each on its own gradients (in its own
            // buffers): on several threads when there are several outputs.
            let grow = |(k, (gh, pool)): (usize, &mut Buffers)| {
                gradients(train_target, before, outputs, k, train_w.as_deref(), parallel, gh);
                let grower = Grower {
                    binned: &binned_train,
                    cfg: self,
                    gh,
                    parallel,
                    nodes: Vec::new(),
                    rows: Vec::new(),
                    hists: Vec::new(),
                    pool: std::mem::take(pool),
                    depth: Vec::new(),
                    sums: Vec::new(),
                    best: Vec::new(),
                };
                let grown = grower.grow(outputs, k);
                *pool = grown.pool;
                (grown.tree, grown.leaves)
            };
            let results: Vec<_> = if parallel && outputs > 1 {
                buffers.par_iter_mut().enumerate().map(grow).collect()
            } else {
                buffers.iter_mut().enumerate().map(grow).collect()
            };
            let mut grown = Vec::with_capacity(outputs);
            for (k, (tree, leaves)) in results.into_iter().enumerate() {
                for (value, rows) in leaves {
                    for r in rows {
                        train_raw[r as usize * outputs + k] += value;
                    }
                }
                grown.push((tree, k));
            }
            iterations += 1;
            for (tree, k) in grown {
                if early {
                    for &r in &valid {
                        let leaf = tree.leaf(x.row(r as usize));
                        raw[r as usize * outputs + k] += tree.nodes[leaf].value[k];
                    }
                }
                trees.push(tree);
            }
            if early {
                scores.push(-mean_loss(target, &raw, outputs, &valid, weights));
                if self.should_stop(&scores) {
                    break;
                }
            }
        }
        Ok((
            Estimator::TreeEnsemble {
                trees,
                aggregation: Aggregation::Sum,
                base_values: base,
                link,
            },
            iterations,
        ))
    }

    /// scikit-learn's rule: stop when none of the last `n_iter_no_change`
    /// scores beats the one before them by more than `tol`.
    fn should_stop(&self, scores: &[f64]) -> bool {
        let k = self.n_iter_no_change;
        if scores.len() <= k {
            return false;
        }
        let reference = scores[scores.len() - k - 1] + self.tol;
        !scores[scores.len() - k..].iter().any(|&s| s > reference)
    }

    /// Training and validation rows, stratified by class for classes.
    fn validation_split(&self, target: BoostTarget<'_>, n: usize) -> Result<(Vec<u32>, Vec<u32>)> {
        let mut rng = ml_core::seeded_rng(self.seed);
        let groups: Vec<Vec<u32>> = match target {
            BoostTarget::Classes { labels, n_classes } => {
                let mut groups = vec![Vec::new(); n_classes];
                for (i, &l) in labels.iter().enumerate() {
                    groups[l].push(i as u32);
                }
                groups
            }
            BoostTarget::Values(_) => vec![(0..n as u32).collect()],
        };
        let (mut train, mut valid) = (Vec::new(), Vec::new());
        for mut rows in groups {
            rows.shuffle(&mut rng);
            let k = ((rows.len() as f64) * self.validation_fraction).round() as usize;
            valid.extend_from_slice(&rows[..k.min(rows.len())]);
            train.extend_from_slice(&rows[k.min(rows.len())..]);
        }
        if train.is_empty() || valid.is_empty() {
            return Err(invalid(
                "validation_fraction",
                format!("leaves {} training and {} validation rows", train.len(), valid.len()),
            ));
        }
        train.sort_unstable();
        valid.sort_unstable();
        Ok((train, valid))
    }
}
