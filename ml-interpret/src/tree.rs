//! Exact TreeSHAP on a tree ensemble's spec, in both of its forms.
//!
//! - Path-dependent (Lundberg, Erion, Lee, "Consistent Individualized
//!   Feature Attribution for Tree Ensembles", 2018, Algorithm 2): the
//!   Shapley values of `v(S) = E[f(x) | x_S]` where the expectation follows
//!   the training covers recorded in the nodes. Polynomial time, no data.
//! - Interventional (Lundberg et al., "From local explanations to global
//!   understanding with explainable AI for trees", Nature MI 2020): the
//!   Shapley values of `v(S) = mean_z f(x_S, z_S̄)` over a background sample
//!   `z`. For one pair (x, z) a tree is a sum of leaf indicator games: a
//!   leaf reached when the features in `A` come from x and those in `B`
//!   from z (no feature in both) contributes `v (|A|-1)! |B|! / (|A|+|B|)!`
//!   to each feature of `A` and minus `v |A|! (|B|-1)! / (|A|+|B|)!` to each
//!   of `B`. Needs no covers, so it also explains trees imported from ONNX.
//!
//! Both explain the ensemble's raw output (the margin before the link: the
//! averaged class probabilities of a forest, the log-odds of a boosted
//! binary classifier), in the preprocessed feature space.

use crate::{Error, Result};
use ml_core::ndarray::{Array3, ArrayView2};
use ml_core::{Aggregation, Estimator, Split, Tree};

/// A tree flattened for traversal.
#[derive(Debug, Clone)]
pub(crate) struct FlatTree {
    /// Per node: the split feature (`usize::MAX` for a leaf), the split
    /// (whose rule routes a row), children, and the left child's share of
    /// the node's cover.
    feature: Vec<usize>,
    split: Vec<Option<Split>>,
    left: Vec<usize>,
    right: Vec<usize>,
    left_share: Vec<f64>,
    /// `nodes × outputs` node values.
    values: Vec<f64>,
    n_out: usize,
    depth: usize,
}

impl FlatTree {
    fn new(tree: &Tree, n_out: usize) -> Result<Self> {
        let n = tree.nodes.len();
        let mut t = FlatTree {
            feature: vec![usize::MAX; n],
            split: vec![None; n],
            left: vec![0; n],
            right: vec![0; n],
            left_share: vec![0.5; n],
            values: vec![0.0; n * n_out],
            n_out,
            depth: tree.depth(),
        };
        for (i, node) in tree.nodes.iter().enumerate() {
            if node.value.len() != n_out {
                return Err(Error::invalid(
                    "model",
                    format!("tree node {i} has {} outputs, expected {n_out}", node.value.len()),
                ));
            }
            t.values[i * n_out..(i + 1) * n_out].copy_from_slice(&node.value);
            if let Some(s) = node.split {
                // Children come after their parent (validated specs), so
                // every traversal ends.
                if s.left <= i || s.right <= i || s.left >= n || s.right >= n {
                    return Err(Error::invalid("model", format!("tree node {i} has invalid children")));
                }
                t.feature[i] = s.feature;
                t.split[i] = Some(s);
                t.left[i] = s.left;
                t.right[i] = s.right;
                let (cl, cr) = (tree.nodes[s.left].cover, tree.nodes[s.right].cover);
                // Shares from the children's covers, so that the expected
                // value and the attributions use one and the same measure.
                if cl + cr > 0.0 && cl >= 0.0 && cr >= 0.0 {
                    t.left_share[i] = cl / (cl + cr);
                }
            }
        }
        Ok(t)
    }

    #[inline]
    fn is_leaf(&self, i: usize) -> bool {
        self.feature[i] == usize::MAX
    }

    /// Whether a row goes left at internal node `i`: the spec's own rule.
    #[inline]
    fn goes_left(&self, i: usize, x: &[f64]) -> bool {
        self.split[i].is_some_and(|s| s.goes_left(x[s.feature]))
    }

    #[inline]
    fn value(&self, i: usize) -> &[f64] {
        &self.values[i * self.n_out..(i + 1) * self.n_out]
    }

    /// The cover-weighted expected output.
    fn expected(&self, i: usize, out: &mut [f64], weight: f64) {
        if self.is_leaf(i) {
            for (o, v) in out.iter_mut().zip(self.value(i)) {
                *o += weight * v;
            }
        } else {
            let s = self.left_share[i];
            self.expected(self.left[i], out, weight * s);
            self.expected(self.right[i], out, weight * (1.0 - s));
        }
    }

    fn max_feature(&self) -> Option<usize> {
        self.feature.iter().copied().filter(|&f| f != usize::MAX).max()
    }

    fn leaf_of(&self, x: &[f64]) -> usize {
        let mut i = 0;
        while !self.is_leaf(i) {
            i = if self.goes_left(i, x) {
                self.left[i]
            } else {
                self.right[i]
            };
        }
        i
    }
}

/// An ensemble ready for explanation: flattened trees, the aggregation
/// scale and the base values.
#[derive(Debug, Clone)]
pub struct TreeEnsemble {
    trees: Vec<FlatTree>,
    scale: f64,
    base: Vec<f64>,
}

impl TreeEnsemble {
    /// From a spec's estimator.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an estimator that is not a tree ensemble;
    /// inconsistent trees.
    pub fn from_estimator(estimator: &Estimator) -> Result<Self> {
        let Estimator::TreeEnsemble {
            trees,
            aggregation,
            base_values,
            ..
        } = estimator
        else {
            return Err(Error::Unsupported("TreeSHAP needs a tree-ensemble model".into()));
        };
        if trees.is_empty() {
            return Err(Error::invalid("model", "the ensemble has no trees"));
        }
        let n_out = base_values.len();
        let scale = match aggregation {
            Aggregation::Average => 1.0 / trees.len() as f64,
            Aggregation::Sum => 1.0,
            other => return Err(Error::Unsupported(format!("TreeSHAP of a {other:?} ensemble"))),
        };
        Ok(TreeEnsemble {
            trees: trees.iter().map(|t| FlatTree::new(t, n_out)).collect::<Result<_>>()?,
            scale,
            base: base_values.clone(),
        })
    }

    /// Number of outputs.
    pub fn n_outputs(&self) -> usize {
        self.base.len()
    }

    /// The smallest feature count the trees can be applied to.
    pub fn min_features(&self) -> usize {
        self.trees
            .iter()
            .filter_map(FlatTree::max_feature)
            .max()
            .map_or(0, |f| f + 1)
    }

    /// The raw output (before the link) of one row.
    pub fn raw(&self, x: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.n_outputs()];
        for t in &self.trees {
            for (o, v) in out.iter_mut().zip(t.value(t.leaf_of(x))) {
                *o += v;
            }
        }
        out.iter_mut()
            .zip(&self.base)
            .for_each(|(o, b)| *o = *o * self.scale + b);
        out
    }

    /// The expected raw output under the trees' covers.
    pub fn expected_value(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.n_outputs()];
        for t in &self.trees {
            t.expected(0, &mut out, 1.0);
        }
        out.iter_mut()
            .zip(&self.base)
            .for_each(|(o, b)| *o = *o * self.scale + b);
        out
    }

    fn check_width(&self, x: ArrayView2<'_, f64>) -> Result<()> {
        if x.ncols() < self.min_features() {
            return Err(ml_core::Error::Shape {
                op: "tree_shap",
                expected: format!("at least {} columns (the trees split on them)", self.min_features()),
                got: format!("{} columns", x.ncols()),
            }
            .into());
        }
        if let Some(v) = x.iter().find(|v| v.is_nan()) {
            return Err(Error::invalid("data", format!("cannot explain a row holding {v}")));
        }
        Ok(())
    }

    /// Path-dependent TreeSHAP: `rows × features × outputs` values; the base
    /// value of every row is [`expected_value`](Self::expected_value).
    ///
    /// # Errors
    /// Rows narrower than the trees need, NaN values.
    pub fn shap_path_dependent(&self, x: ArrayView2<'_, f64>) -> Result<Array3<f64>> {
        self.check_width(x)?;
        let (n, m, k) = (x.nrows(), x.ncols(), self.n_outputs());
        let max_depth = self.trees.iter().map(|t| t.depth).max().unwrap_or(0);
        let recip: Vec<f64> = (0..max_depth + 3).map(|i| 1.0 / i as f64).collect();
        // Tree by tree over a block of rows, so that each tree stays in
        // cache while the block's rows walk it.
        Ok(par_blocks(n, m, k, |rows, phi| {
            let block = m * k;
            let xs: Vec<Vec<f64>> = rows.clone().map(|i| x.row(i).to_vec()).collect();
            let mut buf = vec![Elem::default(); (max_depth + 2) * (max_depth + 3) / 2 + max_depth + 2];
            let mut scratch = LeafScratch::default();
            for t in &self.trees {
                for (r, row) in xs.iter().enumerate() {
                    let out = &mut phi[r * block..(r + 1) * block];
                    recurse(
                        t,
                        row,
                        out,
                        &mut buf,
                        &recip,
                        &mut scratch,
                        0,
                        0,
                        0,
                        1.0,
                        1.0,
                        usize::MAX,
                    );
                }
            }
            phi.iter_mut().for_each(|p| *p *= self.scale);
        }))
    }

    /// Interventional TreeSHAP against `background` (preprocessed rows):
    /// `rows × features × outputs` values; the base value of every row is
    /// the mean raw output over the background.
    ///
    /// # Errors
    /// An empty background, rows narrower than the trees need, NaN values,
    /// row and background widths that differ.
    pub fn shap_interventional(&self, x: ArrayView2<'_, f64>, background: ArrayView2<'_, f64>) -> Result<Array3<f64>> {
        self.check_width(x)?;
        self.check_width(background)?;
        if background.nrows() == 0 {
            return Err(Error::invalid("background", "no background rows"));
        }
        if background.ncols() != x.ncols() {
            return Err(ml_core::Error::Shape {
                op: "tree_shap background",
                expected: format!("{} columns, as the rows", x.ncols()),
                got: format!("{} columns", background.ncols()),
            }
            .into());
        }
        let (n, m, k) = (x.nrows(), x.ncols(), self.n_outputs());
        let max_depth = self.trees.iter().map(|t| t.depth).max().unwrap_or(0);
        let weights = PairWeights::new(max_depth);
        let bg: Vec<Vec<f64>> = background.outer_iter().map(|r| r.to_vec()).collect();
        let scale = self.scale / bg.len() as f64;
        Ok(par_blocks(n, m, k, |rows, phi| {
            let mut side = vec![Side::Free; m];
            let mut path = Vec::with_capacity(max_depth);
            for (i, out) in rows.zip(phi.chunks_mut(m * k)) {
                let row = x.row(i).to_vec();
                for z in &bg {
                    for t in &self.trees {
                        interventional(t, &row, z, out, &mut side, &mut path, &weights, 0, 0, 0);
                    }
                }
            }
            phi.iter_mut().for_each(|p| *p *= scale);
        }))
    }

    /// The mean raw output over `background` rows.
    pub fn mean_output(&self, background: ArrayView2<'_, f64>) -> Vec<f64> {
        let mut out = vec![0.0; self.n_outputs()];
        for r in background.outer_iter() {
            for (o, v) in out.iter_mut().zip(self.raw(&r.to_vec())) {
                *o += v;
            }
        }
        let n = background.nrows().max(1) as f64;
        out.iter_mut().for_each(|o| *o /= n);
        out
    }
}

/// Runs `f(rows, phi)` over blocks of rows on the machine's threads, each
/// block writing its rows' `features × outputs` values, row after row.
pub(crate) fn par_blocks(
    n: usize,
    m: usize,
    k: usize,
    f: impl Fn(std::ops::Range<usize>, &mut [f64]) + Sync,
) -> Array3<f64> {
    const ROWS_PER_BLOCK: usize = 32;
    let mut out = vec![0.0; n * m * k];
    let block = m * k;
    if block > 0 && n > 0 {
        let threads = std::thread::available_parallelism().map_or(1, |p| p.get()).min(n);
        let per = n.div_ceil(threads);
        std::thread::scope(|s| {
            for (c, chunk) in out.chunks_mut(per * block).enumerate() {
                let f = &f;
                s.spawn(move || {
                    for (b, part) in chunk.chunks_mut(ROWS_PER_BLOCK * block).enumerate() {
                        let start = c * per + b * ROWS_PER_BLOCK;
                        f(start..start + part.len() / block, part);
                    }
                });
            }
        });
    }
    Array3::from_shape_vec((n, m, k), out).unwrap_or_else(|_| Array3::zeros((n, m, k)))
}

/// One element of the path of unique features (Lundberg et al. 2018).
#[derive(Debug, Clone, Copy, Default)]
struct Elem {
    feature: usize,
    zero: f64,
    one: f64,
    weight: f64,
}

// `recip[i]` is `1 / i`: the recursions divide by small integers at every
// step, and multiplying by a stored reciprocal is several times faster.

fn extend(p: &mut [Elem], depth: usize, zero: f64, one: f64, feature: usize, recip: &[f64]) {
    p[depth] = Elem {
        feature,
        zero,
        one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let r = recip[depth + 1];
    for i in (0..depth).rev() {
        p[i + 1].weight += one * p[i].weight * (i + 1) as f64 * r;
        p[i].weight = zero * p[i].weight * (depth - i) as f64 * r;
    }
}

fn unwind(p: &mut [Elem], depth: usize, idx: usize, recip: &[f64]) {
    let (one, zero) = (p[idx].one, p[idx].zero);
    let d1 = (depth + 1) as f64;
    let r = recip[depth + 1];
    let mut next = p[depth].weight;
    if one != 0.0 {
        let inv_one = 1.0 / one;
        for j in (0..depth).rev() {
            let t = p[j].weight;
            p[j].weight = next * d1 * recip[j + 1] * inv_one;
            next = t - p[j].weight * zero * (depth - j) as f64 * r;
        }
    } else {
        let inv_zero = 1.0 / zero;
        for j in (0..depth).rev() {
            p[j].weight = p[j].weight * d1 * inv_zero * recip[depth - j];
        }
    }
    for j in idx..depth {
        p[j].feature = p[j + 1].feature;
        p[j].zero = p[j + 1].zero;
        p[j].one = p[j + 1].one;
    }
}

/// Per-thread scratch of the leaf computation.
#[derive(Debug, Default)]
struct LeafScratch {
    next: Vec<f64>,
    total: Vec<f64>,
    zero: Vec<f64>,
    idx: Vec<usize>,
    weights: Vec<f64>,
}

/// Algorithm 2's `UnwoundPathSum` for every element `1..=depth` of the path
/// at a leaf, into `s.weights[i]`. The one-fractions of path-dependent
/// TreeSHAP are 0 or 1. Elements with 0 share one sum
/// (`Σ_j w_j / (z_i (depth - j))`); those with 1 run their recurrences side
/// by side, one step of all of them per path position, so the steps do not
/// wait on each other as they do one element at a time.
fn leaf_weights(p: &[Elem], depth: usize, recip: &[f64], s: &mut LeafScratch) {
    s.weights.clear();
    s.weights.resize(depth + 1, 0.0);
    let d1 = (depth + 1) as f64;
    let cold_sum: f64 = (0..depth).map(|j| p[j].weight * recip[depth - j]).sum();
    s.idx.clear();
    s.zero.clear();
    for (i, e) in p.iter().enumerate().take(depth + 1).skip(1) {
        if e.one != 0.0 {
            s.idx.push(i);
            s.zero.push(e.zero);
        } else if e.zero != 0.0 {
            s.weights[i] = cold_sum / e.zero * d1;
        }
    }
    let h = s.idx.len();
    s.next.clear();
    s.next.resize(h, p[depth].weight);
    s.total.clear();
    s.total.resize(h, 0.0);
    for j in (0..depth).rev() {
        let (rj, dj, wj) = (recip[j + 1], (depth - j) as f64, p[j].weight);
        for ((n, t), z) in s.next.iter_mut().zip(s.total.iter_mut()).zip(&s.zero) {
            let step = *n * rj;
            *t += step;
            *n = wj - step * z * dj;
        }
    }
    for (&i, t) in s.idx.iter().zip(&s.total) {
        s.weights[i] = t * d1;
    }
}

/// Algorithm 2's recursion: `parent` is where the parent's path starts in
/// `buf`, `depth` the number of unique features on it.
#[allow(clippy::too_many_arguments)]
fn recurse(
    t: &FlatTree,
    x: &[f64],
    phi: &mut [f64],
    buf: &mut [Elem],
    recip: &[f64],
    scratch: &mut LeafScratch,
    node: usize,
    parent: usize,
    depth: usize,
    zero: f64,
    one: f64,
    feature: usize,
) {
    let start = parent + depth + 1;
    buf.copy_within(parent..parent + depth + 1, start);
    let path = &mut buf[start..];
    extend(path, depth, zero, one, feature, recip);
    let k = t.n_out;
    if t.is_leaf(node) {
        let v = t.value(node);
        leaf_weights(path, depth, recip, scratch);
        for (e, w) in path[1..=depth].iter().zip(&scratch.weights[1..]) {
            let scale = w * (e.one - e.zero);
            for (p, vj) in phi[e.feature * k..(e.feature + 1) * k].iter_mut().zip(v) {
                *p += scale * vj;
            }
        }
        return;
    }
    let f = t.feature[node];
    let (hot, cold, hot_share) = if t.goes_left(node, x) {
        (t.left[node], t.right[node], t.left_share[node])
    } else {
        (t.right[node], t.left[node], 1.0 - t.left_share[node])
    };
    let (mut in_zero, mut in_one) = (1.0, 1.0);
    let mut depth = depth;
    if let Some(idx) = (1..=depth).find(|&i| path[i].feature == f) {
        in_zero = path[idx].zero;
        in_one = path[idx].one;
        unwind(path, depth, idx, recip);
        depth -= 1;
    }
    // A branch that neither x follows nor the covers reach adds nothing
    // (and unwinding by its zero fractions would divide by zero).
    let hot_zero = hot_share * in_zero;
    if hot_zero != 0.0 || in_one != 0.0 {
        recurse(
            t,
            x,
            phi,
            buf,
            recip,
            scratch,
            hot,
            start,
            depth + 1,
            hot_zero,
            in_one,
            f,
        );
    }
    let cold_zero = (1.0 - hot_share) * in_zero;
    if cold_zero != 0.0 {
        recurse(
            t,
            x,
            phi,
            buf,
            recip,
            scratch,
            cold,
            start,
            depth + 1,
            cold_zero,
            0.0,
            f,
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Free,
    X,
    Z,
}

/// `(a-1)! b! / (a+b)!` for `a + b` up to the deepest path.
#[derive(Debug)]
struct PairWeights {
    w: Vec<Vec<f64>>,
}

impl PairWeights {
    fn new(max_depth: usize) -> Self {
        let n = max_depth + 1;
        // w[a][b] = (a-1)! b! / (a+b)! = 1 / ((a+b) C(a+b-1, b)), a >= 1.
        let w = (0..=n)
            .map(|a| {
                (0..=n)
                    .map(|b| {
                        if a == 0 {
                            return 0.0;
                        }
                        let total = a + b;
                        let mut c = 1.0f64;
                        for j in 0..b {
                            c = c * (total - 1 - j) as f64 / (j + 1) as f64;
                        }
                        1.0 / (total as f64 * c)
                    })
                    .collect()
            })
            .collect();
        PairWeights { w }
    }
}

#[allow(clippy::too_many_arguments)]
fn interventional(
    t: &FlatTree,
    x: &[f64],
    z: &[f64],
    phi: &mut [f64],
    side: &mut [Side],
    path: &mut Vec<usize>,
    weights: &PairWeights,
    node: usize,
    nx: usize,
    nz: usize,
) {
    let k = t.n_out;
    if t.is_leaf(node) {
        if nx + nz == 0 {
            return;
        }
        let v = t.value(node);
        let wx = if nx > 0 { weights.w[nx][nz] } else { 0.0 };
        let wz = if nz > 0 { weights.w[nz][nx] } else { 0.0 };
        for &f in path.iter() {
            let s = if side[f] == Side::X { wx } else { -wz };
            for (p, vj) in phi[f * k..(f + 1) * k].iter_mut().zip(v) {
                *p += s * vj;
            }
        }
        return;
    }
    let f = t.feature[node];
    let (gx, gz) = (t.goes_left(node, x), t.goes_left(node, z));
    let child = |left: bool| if left { t.left[node] } else { t.right[node] };
    if gx == gz {
        return interventional(t, x, z, phi, side, path, weights, child(gx), nx, nz);
    }
    match side[f] {
        Side::X => interventional(t, x, z, phi, side, path, weights, child(gx), nx, nz),
        Side::Z => interventional(t, x, z, phi, side, path, weights, child(gz), nx, nz),
        Side::Free => {
            path.push(f);
            side[f] = Side::X;
            interventional(t, x, z, phi, side, path, weights, child(gx), nx + 1, nz);
            side[f] = Side::Z;
            interventional(t, x, z, phi, side, path, weights, child(gz), nx, nz + 1);
            side[f] = Side::Free;
            path.pop();
        }
    }
}
