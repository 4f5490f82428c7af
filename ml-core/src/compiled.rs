//! Specs laid out for serving: [`CompiledSpec`] is a [`ModelSpec`] whose
//! tree ensemble is flattened once into arrays (feature, `f32` threshold,
//! children) and walked several rows at a time, so a server that predicts
//! the same model many times does not pay for the spec's general layout on
//! every call. Predictions are exactly those of the spec: the same split
//! rule ([`crate::goes_left`]), the same order of summation. A k-nearest-
//! neighbours model gets its KD-tree built once, when its search uses one.

use ndarray::{Array2, ArrayView2};

use crate::neighbors::KdTree;
use crate::spec::{Aggregation, Estimator, ModelSpec, Tree};
use crate::{Model, Predictions, Result, Signature};

/// Rows walked through a tree together: their paths are independent, so
/// the memory loads of one overlap those of the others.
const LANES: usize = 8;

/// Rows × trees above which a batch is split over the cores.
const PARALLEL_WORK: usize = 20_000;

/// A tree ensemble as flat arrays. Leaves point to themselves with an
/// infinite threshold, so every row takes exactly `depth` steps per tree.
#[derive(Debug, Clone)]
struct FlatEnsemble {
    feature: Vec<u32>,
    threshold: Vec<f32>,
    /// `[left, right]` of each node: a step indexes it with the comparison,
    /// with no branch to mispredict.
    children: Vec<[u32; 2]>,
    /// Whether a missing value goes left at each node ([`crate::Split::missing_left`]).
    nan_left: Vec<bool>,
    /// `n_outputs` values per node.
    values: Vec<f64>,
    roots: Vec<u32>,
    depths: Vec<u32>,
    n_outputs: usize,
    scale: f64,
    base_values: Vec<f64>,
}

impl FlatEnsemble {
    /// `None` when the ensemble is too large for 32-bit node indices or
    /// has categorical splits (those predict through the spec).
    fn new(trees: &[Tree], aggregation: Aggregation, base_values: &[f64]) -> Option<Self> {
        let n_outputs = base_values.len();
        let total: usize = trees.iter().map(|t| t.nodes.len()).sum();
        if total >= u32::MAX as usize || trees.iter().any(Tree::has_categorical_splits) {
            return None;
        }
        let mut f = FlatEnsemble {
            feature: Vec::with_capacity(total),
            threshold: Vec::with_capacity(total),
            children: Vec::with_capacity(total),
            nan_left: Vec::with_capacity(total),
            values: Vec::with_capacity(total * n_outputs),
            roots: Vec::with_capacity(trees.len()),
            depths: Vec::with_capacity(trees.len()),
            n_outputs,
            scale: match aggregation {
                Aggregation::Average => 1.0 / trees.len().max(1) as f64,
                Aggregation::Sum => 1.0,
            },
            base_values: base_values.to_vec(),
        };
        for t in trees {
            let offset = f.feature.len() as u32;
            f.roots.push(offset);
            f.depths.push(t.depth() as u32);
            for (i, n) in t.nodes.iter().enumerate() {
                match &n.split {
                    Some(s) => {
                        f.feature.push(s.feature as u32);
                        f.threshold.push(s.threshold as f32);
                        f.children.push([offset + s.left as u32, offset + s.right as u32]);
                        f.nan_left.push(s.missing_left);
                    }
                    None => {
                        let me = offset + i as u32;
                        f.feature.push(0);
                        f.threshold.push(f32::INFINITY);
                        f.children.push([me, me]);
                        f.nan_left.push(false);
                    }
                }
                f.values.extend_from_slice(&n.value);
                // Nodes of the wrong width were refused by ModelSpec::validate.
                f.values.resize(f.feature.len() * n_outputs, 0.0);
            }
        }
        Some(f)
    }

    /// Sums of the trees for `rows` (row-major, `width` columns, as `f32`)
    /// into `out` (row-major, `n_outputs` columns), tree by tree.
    fn accumulate(&self, x: &[f32], width: usize, out: &mut [f64]) {
        let k = self.n_outputs;
        let rows = out.len() / k.max(1);
        for (&root, &depth) in self.roots.iter().zip(&self.depths) {
            let mut start = 0;
            while start < rows {
                let lanes = LANES.min(rows - start);
                let mut idx = [root; LANES];
                for _ in 0..depth {
                    for (l, node) in idx.iter_mut().enumerate().take(lanes) {
                        let n = *node as usize;
                        let v = x[(start + l) * width + self.feature[n] as usize];
                        // NaN compares false and goes right unless the split sends it left.
                        let left = v <= self.threshold[n] || (v.is_nan() && self.nan_left[n]);
                        *node = self.children[n][usize::from(!left)];
                    }
                }
                for (l, node) in idx.iter().enumerate().take(lanes) {
                    let v = &self.values[*node as usize * k..(*node as usize + 1) * k];
                    for (o, vj) in out[(start + l) * k..(start + l + 1) * k].iter_mut().zip(v) {
                        *o += vj;
                    }
                }
                start += lanes;
            }
        }
        for o in out.chunks_mut(k.max(1)) {
            for (oj, b) in o.iter_mut().zip(&self.base_values) {
                *oj = *oj * self.scale + b;
            }
        }
    }

    /// The raw outputs of a preprocessed matrix.
    fn raw_output(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let (rows, width, k) = (x.nrows(), x.ncols(), self.n_outputs);
        // Single precision, as the split rule compares.
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let mut out = vec![0.0; rows * k];
        let threads = crate::parallel::threads_for(rows, rows * self.roots.len(), PARALLEL_WORK);
        if threads <= 1 {
            self.accumulate(&x32, width, &mut out);
        } else {
            let chunk = rows.div_ceil(threads);
            std::thread::scope(|scope| {
                for (xs, os) in x32.chunks(chunk * width).zip(out.chunks_mut(chunk * k)) {
                    scope.spawn(move || self.accumulate(xs, width, os));
                }
            });
        }
        Array2::from_shape_vec((rows, k), out).unwrap_or_else(|_| Array2::zeros((rows, k)))
    }
}

/// A [`ModelSpec`] prepared for many predictions: tree ensembles flattened
/// once (see the module docs); other estimators as the spec evaluates them.
#[derive(Debug, Clone)]
pub struct CompiledSpec {
    spec: ModelSpec,
    flat: Option<FlatEnsemble>,
    /// A neighbour model's KD-tree, built once.
    tree: Option<KdTree>,
}

impl CompiledSpec {
    /// Prepare a (validated) spec.
    pub fn new(spec: ModelSpec) -> Self {
        let flat = match &spec.estimator {
            Estimator::TreeEnsemble {
                trees,
                aggregation,
                base_values,
                ..
            } => FlatEnsemble::new(trees, *aggregation, base_values),
            _ => None,
        };
        let tree = match &spec.estimator {
            Estimator::Neighbors {
                points,
                search,
                leaf_size,
                ..
            } if search.uses_tree(points.ncols()) => Some(KdTree::new(points.view(), *leaf_size)),
            _ => None,
        };
        Self { spec, flat, tree }
    }

    /// The spec.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }
}

impl Model for CompiledSpec {
    fn signature(&self) -> &Signature {
        &self.spec.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        if self.flat.is_none() && self.tree.is_none() {
            return self.spec.predict(x);
        }
        let design = self.spec.transform(x)?;
        self.spec.estimator.check_width(design.ncols())?;
        let raw = match &self.flat {
            Some(flat) => flat.raw_output(design.view()),
            None => crate::neighbors::raw_output(&self.spec.estimator, self.tree.as_ref(), design.view()),
        };
        self.spec.estimator.predictions(&self.spec.signature.task, raw)
    }

    fn describe(&self) -> Result<ModelSpec> {
        Ok(self.spec.clone())
    }
}
