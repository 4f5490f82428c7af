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

use ml_core::ndarray::{Array3, ArrayView2};
use ml_core::{Aggregation, Error, Estimator, Result, Tree};

/// A tree flattened for traversal.
#[derive(Debug, Clone)]
pub(crate) struct FlatTree {
    /// Per node: the split feature (`usize::MAX` for a leaf), the threshold
    /// as `f32` (the split rule), children, and the left child's share of
    /// the node's cover.
    feature: Vec<usize>,
    threshold: Vec<f32>,
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
            threshold: vec![0.0; n],
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
                t.threshold[i] = s.threshold as f32;
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

    #[inline]
    fn goes_left(&self, i: usize, x: &[f64]) -> bool {
        (x[self.feature[i]] as f32) <= self.threshold[i]
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
            return Err(Error::Shape {
                op: "tree_shap",
                expected: format!("at least {} columns (the trees split on them)", self.min_features()),
                got: format!("{} columns", x.ncols()),
            });
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
        Ok(par_rows(n, m, k, |i, phi| {
            let row = x.row(i).to_vec();
            let mut buf = vec![Elem::default(); (max_depth + 2) * (max_depth + 3) / 2 + max_depth + 2];
            for t in &self.trees {
                recurse(t, &row, phi, &mut buf, 0, 0, 0, 1.0, 1.0, usize::MAX);
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
            return Err(Error::Shape {
                op: "tree_shap background",
                expected: format!("{} columns, as the rows", x.ncols()),
                got: format!("{} columns", background.ncols()),
            });
        }
        let (n, m, k) = (x.nrows(), x.ncols(), self.n_outputs());
        let max_depth = self.trees.iter().map(|t| t.depth).max().unwrap_or(0);
        let weights = PairWeights::new(max_depth);
        let bg: Vec<Vec<f64>> = background.outer_iter().map(|r| r.to_vec()).collect();
        let scale = self.scale / bg.len() as f64;
        Ok(par_rows(n, m, k, |i, phi| {
            let row = x.row(i).to_vec();
            let mut side = vec![Side::Free; m];
            let mut path = Vec::with_capacity(max_depth);
            for z in &bg {
                for t in &self.trees {
                    interventional(t, &row, z, phi, &mut side, &mut path, &weights, 0, 0, 0);
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

/// Runs `f(row, phi)` for every row over the machine's threads, each row
/// writing its own `features × outputs` block.
pub(crate) fn par_rows(n: usize, m: usize, k: usize, f: impl Fn(usize, &mut [f64]) + Sync) -> Array3<f64> {
    let mut out = vec![0.0; n * m * k];
    let block = m * k;
    if block == 0 || n == 0 {
        return Array3::from_shape_vec((n, m, k), out).unwrap_or_else(|_| Array3::zeros((n, m, k)));
    }
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get()).min(n);
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        for (c, chunk) in out.chunks_mut(per * block).enumerate() {
            let f = &f;
            s.spawn(move || {
                for (j, phi) in chunk.chunks_mut(block).enumerate() {
                    f(c * per + j, phi);
                }
            });
        }
    });
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

fn extend(p: &mut [Elem], depth: usize, zero: f64, one: f64, feature: usize) {
    p[depth] = Elem {
        feature,
        zero,
        one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        p[i + 1].weight += one * p[i].weight * (i + 1) as f64 / d1;
        p[i].weight = zero * p[i].weight * (depth - i) as f64 / d1;
    }
}

fn unwind(p: &mut [Elem], depth: usize, idx: usize) {
    let (one, zero) = (p[idx].one, p[idx].zero);
    let d1 = (depth + 1) as f64;
    let mut next = p[depth].weight;
    for j in (0..depth).rev() {
        if one != 0.0 {
            let t = p[j].weight;
            p[j].weight = next * d1 / ((j + 1) as f64 * one);
            next = t - p[j].weight * zero * (depth - j) as f64 / d1;
        } else {
            p[j].weight = p[j].weight * d1 / (zero * (depth - j) as f64);
        }
    }
    for j in idx..depth {
        p[j].feature = p[j + 1].feature;
        p[j].zero = p[j + 1].zero;
        p[j].one = p[j + 1].one;
    }
}

fn unwound_sum(p: &[Elem], depth: usize, idx: usize) -> f64 {
    let (one, zero) = (p[idx].one, p[idx].zero);
    let mut next = p[depth].weight;
    let mut total = 0.0;
    if one != 0.0 {
        for j in (0..depth).rev() {
            let t = next / ((j + 1) as f64 * one);
            total += t;
            next = p[j].weight - t * zero * (depth - j) as f64;
        }
    } else if zero != 0.0 {
        for j in (0..depth).rev() {
            total += p[j].weight / (zero * (depth - j) as f64);
        }
    }
    total * (depth + 1) as f64
}

/// Algorithm 2's recursion: `parent` is where the parent's path starts in
/// `buf`, `depth` the number of unique features on it.
#[allow(clippy::too_many_arguments)]
fn recurse(
    t: &FlatTree,
    x: &[f64],
    phi: &mut [f64],
    buf: &mut [Elem],
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
    extend(path, depth, zero, one, feature);
    let k = t.n_out;
    if t.is_leaf(node) {
        let v = t.value(node);
        for i in 1..=depth {
            let w = unwound_sum(path, depth, i);
            let e = path[i];
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
        unwind(path, depth, idx);
        depth -= 1;
    }
    recurse(t, x, phi, buf, hot, start, depth + 1, hot_share * in_zero, in_one, f);
    recurse(
        t,
        x,
        phi,
        buf,
        cold,
        start,
        depth + 1,
        (1.0 - hot_share) * in_zero,
        0.0,
        f,
    );
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
