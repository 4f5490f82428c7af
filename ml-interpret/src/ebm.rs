//! An explainable boosting machine (Lou, Caruana, Gehrke, Hooker, KDD 2013;
//! Nori et al., InterpretML 2019): a generalized additive model
//! `link⁻¹(b + Σ_j f_j(x_j))` whose shape functions `f_j` are learned by
//! cyclic gradient boosting on binned features, one small tree (by
//! default one split of the feature's bins) per feature per round, with a
//! low learning rate, early stopping on a held-out part of the data and
//! averaging over bags. As InterpretML (0.7) does, the first rounds place
//! their split at random among the allowed cut points ("smoothing rounds",
//! for smoother shapes) and later rounds greedily.
//!
//! The fitted model describes itself as a [`ModelSpec`]: a sum of one
//! tree per feature whose leaves are the feature's bins (node covers are
//! the training counts), with the intercept as base value and the logistic
//! link for two classes. So it predicts, exports to ONNX and explains
//! (TreeSHAP gives `f_j(x_j)` minus its mean) like any tree ensemble here.
//! Binary classification and regression; pairwise interactions are not
//! fitted.

use ml_core::ndarray::{Array2, ArrayView2};
use ml_core::{
    Aggregation, Dataset, Error, Estimator, FeatureKind, Link, Model, ModelSpec, Predictions, Result, Signature, Split,
    Target, Task, Trainer, Tree, TreeNode,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

/// The trainer, with InterpretML 0.7's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Ebm {
    /// Bins per numeric feature at most (quantile edges).
    pub max_bins: usize,
    /// Shrinkage of each boosting step (`None`: 0.015 for classification,
    /// 0.04 for regression).
    pub learning_rate: Option<f64>,
    /// Leaves of each boosting step's tree over the bins (2 or 3).
    pub max_leaves: usize,
    /// Rounds whose splits are placed at random (`None`: 75 for
    /// classification, 500 for regression).
    pub smoothing_rounds: Option<usize>,
    /// Relative improvement of the validation loss that counts.
    pub early_stopping_tolerance: f64,
    /// Boosting rounds at most (each round visits every feature).
    pub max_rounds: usize,
    /// Stop when the validation loss has not improved for this many rounds.
    pub early_stopping_rounds: usize,
    /// Fraction of each bag held out for early stopping.
    pub validation_size: f64,
    /// Bags averaged.
    pub outer_bags: usize,
    /// Rows a leaf of a boosting step needs at least.
    pub min_samples_leaf: usize,
    /// Seed of the bags' splits.
    pub seed: u64,
}

impl Default for Ebm {
    fn default() -> Self {
        Ebm {
            max_bins: 1024,
            learning_rate: None,
            max_leaves: 2,
            smoothing_rounds: None,
            early_stopping_tolerance: 1e-5,
            max_rounds: 50_000,
            early_stopping_rounds: 100,
            validation_size: 0.15,
            outer_bags: 14,
            min_samples_leaf: 4,
            seed: 0,
        }
    }
}

/// One feature's bins: upper edges (a value goes to the first bin whose
/// edge, as `f32`, it does not exceed, as the spec's split rule reads).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureBins {
    /// The feature's name.
    pub name: String,
    /// Upper edges of every bin but the last, increasing, as `f32` values.
    pub edges: Vec<f64>,
}

impl FeatureBins {
    fn of(&self, v: f64) -> usize {
        let v = v as f32;
        self.edges.partition_point(|&e| v > e as f32)
    }

    fn n_bins(&self) -> usize {
        self.edges.len() + 1
    }
}

/// A fitted EBM: intercept, bins and shape functions.
#[derive(Debug, Clone, Serialize)]
pub struct EbmModel {
    #[serde(skip)]
    spec: ModelSpec,
    /// The intercept (log-odds or value).
    pub intercept: f64,
    /// Each feature's bins.
    pub bins: Vec<FeatureBins>,
    /// Each feature's shape function: one value per bin, centred so that
    /// its mean over the training rows is 0.
    pub shapes: Vec<Vec<f64>>,
    /// Training rows per bin.
    pub counts: Vec<Vec<f64>>,
    /// Boosting rounds run in each bag.
    pub rounds: Vec<usize>,
}

impl EbmModel {
    /// Each row's additive contributions (`rows × features`): the local
    /// explanation, exact by construction.
    ///
    /// # Errors
    /// Input that does not match the model.
    pub fn contributions(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.spec.signature.validate_input(x)?;
        Ok(Array2::from_shape_fn((x.nrows(), self.bins.len()), |(i, j)| {
            self.shapes[j][self.bins[j].of(x[[i, j]])]
        }))
    }
}

impl Model for EbmModel {
    fn signature(&self) -> &Signature {
        &self.spec.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        self.spec.predict(x)
    }

    fn describe(&self) -> Result<ModelSpec> {
        Ok(self.spec.clone())
    }
}

/// Quantile edges (midpoints between distinct neighbouring values, rounded
/// to `f32`), or one bin per category code.
fn bins_of(name: &str, col: &[f64], kind: &FeatureKind, max_bins: usize) -> FeatureBins {
    let edges = match kind {
        FeatureKind::Categorical { categories } => (0..categories.len().saturating_sub(1))
            .map(|c| c as f64 + 0.5)
            .collect(),
        FeatureKind::Numeric => {
            let mut v: Vec<f32> = col.iter().map(|&x| x as f32).collect();
            v.sort_by(f32::total_cmp);
            v.dedup();
            let mut edges: Vec<f64> = if v.len() <= max_bins {
                v.windows(2).map(|w| w[0] as f64).collect()
            } else {
                (1..max_bins)
                    .map(|b| f64::from(v[b * v.len() / max_bins - 1]))
                    .collect()
            };
            edges.dedup();
            edges
        }
    };
    FeatureBins {
        name: name.to_string(),
        edges,
    }
}

/// One bag's boosting on its training rows, early-stopped on its
/// validation rows; returns shape functions (bins per feature) and rounds.
#[allow(clippy::too_many_arguments)]
fn boost_bag(
    cfg: &Ebm,
    (lr, smoothing, seed): (f64, usize, u64),
    binned: &[Vec<usize>],
    n_bins: &[usize],
    y: &[f64],
    binary: bool,
    intercept: f64,
    train: &[usize],
    valid: &[usize],
) -> (Vec<Vec<f64>>, usize) {
    let m = binned.len();
    let mut shapes: Vec<Vec<f64>> = n_bins.iter().map(|&b| vec![0.0; b]).collect();
    let mut score = vec![intercept; y.len()];
    let loss = |score: &[f64], rows: &[usize]| -> f64 {
        rows.iter()
            .map(|&i| {
                if binary {
                    let z = score[i];
                    // log(1 + e^z) - y z, stable
                    (if z > 0.0 {
                        z + (-z).exp().ln_1p()
                    } else {
                        z.exp().ln_1p()
                    }) - y[i] * z
                } else {
                    (y[i] - score[i]).powi(2)
                }
            })
            .sum::<f64>()
            / rows.len().max(1) as f64
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut best = (loss(&score, valid), shapes.clone(), 0usize);
    let mut since = 0;
    let mut g = vec![0.0; 0];
    let mut h = vec![0.0; 0];
    for round in 1..=cfg.max_rounds {
        for j in 0..m {
            let nb = n_bins[j];
            g.clear();
            g.resize(nb, 0.0);
            h.clear();
            h.resize(nb, 0.0);
            let mut cnt = vec![0usize; nb];
            for &i in train {
                let b = binned[j][i];
                if binary {
                    let p = 1.0 / (1.0 + (-score[i]).exp());
                    g[b] += y[i] - p;
                    h[b] += (p * (1.0 - p)).max(1e-12);
                } else {
                    g[b] += y[i] - score[i];
                    h[b] += 1.0;
                }
                cnt[b] += 1;
            }
            let random = (round <= smoothing).then_some(&mut rng);
            let update = step_tree(&g, &h, &cnt, cfg.min_samples_leaf, cfg.max_leaves, random);
            for (s, u) in shapes[j].iter_mut().zip(&update) {
                *s += lr * u;
            }
            for (i, sc) in score.iter_mut().enumerate() {
                *sc += lr * update[binned[j][i]];
            }
        }
        let l = loss(&score, valid);
        if l < best.0 - cfg.early_stopping_tolerance * best.0.abs() {
            best = (l, shapes.clone(), round);
            since = 0;
        } else {
            since += 1;
            if since >= cfg.early_stopping_rounds {
                break;
            }
        }
    }
    (best.1, best.2)
}

/// One boosting step's tree over ordered bins: at most `max_leaves` (2 or
/// 3) leaves, each split the best by gain (or, in smoothing rounds, one of
/// the allowed cut points at random), each leaf's value the Newton step
/// `G / H`.
fn step_tree(
    g: &[f64],
    h: &[f64],
    cnt: &[usize],
    min_leaf: usize,
    max_leaves: usize,
    mut random: Option<&mut StdRng>,
) -> Vec<f64> {
    use rand::RngExt;
    let nb = g.len();
    let seg = |a: usize, b: usize| -> (f64, f64, usize) {
        let mut s = (0.0, 0.0, 0);
        for k in a..b {
            s.0 += g[k];
            s.1 += h[k];
            s.2 += cnt[k];
        }
        s
    };
    let gain = |s: (f64, f64, usize)| if s.1 > 0.0 { s.0 * s.0 / s.1 } else { 0.0 };
    // A split of [a, b) into [a, c) and [c, b), with its gain.
    let mut split = |a: usize, b: usize| -> Option<(usize, f64)> {
        let total = seg(a, b);
        let mut left = (0.0, 0.0, 0usize);
        let mut allowed = Vec::new();
        for c in a + 1..b {
            left.0 += g[c - 1];
            left.1 += h[c - 1];
            left.2 += cnt[c - 1];
            let right = (total.0 - left.0, total.1 - left.1, total.2 - left.2);
            if left.2 >= min_leaf && right.2 >= min_leaf {
                allowed.push((c, gain(left) + gain(right) - gain(total)));
            }
        }
        match random.as_deref_mut() {
            Some(rng) if !allowed.is_empty() => Some(allowed[rng.random_range(0..allowed.len())]),
            _ => allowed
                .into_iter()
                .filter(|a| a.1 > 1e-12)
                .max_by(|a, b| a.1.total_cmp(&b.1)),
        }
    };
    let mut cuts = vec![0, nb];
    if let Some((c, _)) = split(0, nb) {
        cuts = vec![0, c, nb];
        if max_leaves >= 3 {
            match (split(0, c), split(c, nb)) {
                (Some((cl, gl)), Some((_, gr))) if gl >= gr => cuts = vec![0, cl, c, nb],
                (_, Some((cr, _))) => cuts = vec![0, c, cr, nb],
                (Some((cl, _)), None) => cuts = vec![0, cl, c, nb],
                (None, None) => {}
            }
        }
    }
    let mut out = vec![0.0; nb];
    for w in cuts.windows(2) {
        let s = seg(w[0], w[1]);
        let v = if s.1 > 0.0 { s.0 / s.1 } else { 0.0 };
        out[w[0]..w[1]].iter_mut().for_each(|o| *o = v);
    }
    out
}

/// A tree over a feature's bins: balanced splits at the edges, a leaf per bin.
fn shape_tree(feature: usize, bins: &FeatureBins, shape: &[f64], counts: &[f64]) -> Tree {
    fn build(
        nodes: &mut Vec<TreeNode>,
        feature: usize,
        edges: &[f64],
        shape: &[f64],
        counts: &[f64],
        lo: usize,
        hi: usize,
    ) -> usize {
        let at = nodes.len();
        let cover: f64 = counts[lo..=hi].iter().sum();
        let mean = if cover > 0.0 {
            (lo..=hi).map(|b| shape[b] * counts[b]).sum::<f64>() / cover
        } else {
            shape[lo..=hi].iter().sum::<f64>() / (hi - lo + 1) as f64
        };
        nodes.push(TreeNode {
            split: None,
            value: vec![mean],
            cover,
        });
        if lo < hi {
            let mid = (lo + hi) / 2;
            let left = build(nodes, feature, edges, shape, counts, lo, mid);
            let right = build(nodes, feature, edges, shape, counts, mid + 1, hi);
            nodes[at].split = Some(Split {
                feature,
                threshold: edges[mid],
                left,
                right,
            });
        }
        at
    }
    let mut nodes = Vec::new();
    build(&mut nodes, feature, &bins.edges, shape, counts, 0, shape.len() - 1);
    Tree { nodes }
}

impl Ebm {
    /// Fit, returning the concrete model.
    ///
    /// # Errors
    /// Bad parameters, no rows, a target of more than two classes (not
    /// supported yet) or none.
    pub fn fit_ebm(&self, data: &Dataset) -> Result<EbmModel> {
        if self.max_bins < 2
            || self.learning_rate.is_some_and(|l| !(l > 0.0 && l.is_finite()))
            || self.outer_bags == 0
            || self.max_rounds == 0
            || !(2..=3).contains(&self.max_leaves)
        {
            return Err(Error::invalid(
                "ebm",
                "needs max_bins >= 2, learning_rate > 0, outer_bags >= 1, max_rounds >= 1, max_leaves 2 or 3",
            ));
        }
        if !(self.validation_size > 0.0 && self.validation_size < 1.0) {
            return Err(Error::invalid("validation_size", "must be in (0, 1)"));
        }
        let n = data.n_samples();
        if n < 4 {
            return Err(Error::invalid("data", "an EBM needs at least 4 rows"));
        }
        let (y, binary, task, link): (Vec<f64>, bool, Task, Link) = match data.target() {
            Some(Target::Classes { labels, names }) if names.len() == 2 => (
                labels.iter().map(|&l| l as f64).collect(),
                true,
                Task::Classification { classes: names.clone() },
                Link::Logistic,
            ),
            Some(Target::Classes { names, .. }) => {
                return Err(Error::Unsupported(format!(
                    "EBM fits two classes or real values; the target has {} classes",
                    names.len()
                )));
            }
            Some(Target::Values { values }) => (values.to_vec(), false, Task::Regression, Link::Identity),
            None => return Err(Error::invalid("target", "an EBM needs a target")),
        };
        let lr = self.learning_rate.unwrap_or(if binary { 0.015 } else { 0.04 });
        let smoothing = self.smoothing_rounds.unwrap_or(if binary { 75 } else { 500 });
        let x = data.features();
        let columns = data.columns();
        let bins: Vec<FeatureBins> = columns
            .iter()
            .enumerate()
            .map(|(j, c)| bins_of(&c.name, &x.column(j).to_vec(), &c.kind, self.max_bins))
            .collect();
        let binned: Vec<Vec<usize>> = bins
            .iter()
            .enumerate()
            .map(|(j, b)| x.column(j).iter().map(|&v| b.of(v)).collect())
            .collect();
        let n_bins: Vec<usize> = bins.iter().map(FeatureBins::n_bins).collect();
        let mean = y.iter().sum::<f64>() / n as f64;
        let intercept0 = if binary {
            let p = mean.clamp(1e-6, 1.0 - 1e-6);
            (p / (1.0 - p)).ln()
        } else {
            mean
        };
        let mut rng = StdRng::seed_from_u64(self.seed);
        let n_valid = ((n as f64 * self.validation_size).round() as usize).clamp(1, n - 1);
        let bags: Vec<(Vec<usize>, Vec<usize>, u64)> = (0..self.outer_bags)
            .map(|b| {
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut rng);
                let (v, t) = order.split_at(n_valid);
                (t.to_vec(), v.to_vec(), self.seed.wrapping_add(b as u64 + 1))
            })
            .collect();
        // Bags in parallel, at most one per core: each is independent given its split.
        let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
        let mut results: Vec<(Vec<Vec<f64>>, usize)> = Vec::new();
        for chunk in bags.chunks(threads) {
            let done: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|(t, v, seed)| {
                        s.spawn(|| {
                            boost_bag(
                                self,
                                (lr, smoothing, *seed),
                                &binned,
                                &n_bins,
                                &y,
                                binary,
                                intercept0,
                                t,
                                v,
                            )
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            results.extend(done);
        }
        if results.len() != self.outer_bags {
            return Err(Error::invalid("ebm", "a bag's worker thread panicked"));
        }
        let mut shapes: Vec<Vec<f64>> = n_bins.iter().map(|&b| vec![0.0; b]).collect();
        for (bag, _) in &results {
            for (s, b) in shapes.iter_mut().zip(bag) {
                s.iter_mut().zip(b).for_each(|(a, v)| *a += v / self.outer_bags as f64);
            }
        }
        let counts: Vec<Vec<f64>> = binned
            .iter()
            .zip(&n_bins)
            .map(|(col, &nb)| {
                let mut c = vec![0.0; nb];
                col.iter().for_each(|&b| c[b] += 1.0);
                c
            })
            .collect();
        // Centre each shape on the training rows; the means join the intercept.
        let mut intercept = intercept0;
        for (s, c) in shapes.iter_mut().zip(&counts) {
            let m = s.iter().zip(c).map(|(v, c)| v * c).sum::<f64>() / n as f64;
            s.iter_mut().for_each(|v| *v -= m);
            intercept += m;
        }
        let trees = (0..bins.len())
            .map(|j| shape_tree(j, &bins[j], &shapes[j], &counts[j]))
            .collect();
        let spec = ModelSpec {
            signature: Signature {
                inputs: columns.to_vec(),
                unknown_category: Default::default(),
                task,
            },
            preprocessing: vec![],
            estimator: Estimator::TreeEnsemble {
                trees,
                aggregation: Aggregation::Sum,
                base_values: vec![intercept],
                link,
            },
        };
        Ok(EbmModel {
            spec,
            intercept,
            bins,
            shapes,
            counts,
            rounds: results.iter().map(|r| r.1).collect(),
        })
    }
}

impl Trainer for Ebm {
    fn name(&self) -> &str {
        "ebm"
    }

    fn params(&self) -> Vec<(String, String)> {
        vec![
            ("max_bins".into(), self.max_bins.to_string()),
            (
                "learning_rate".into(),
                self.learning_rate.map_or("auto".into(), |l| l.to_string()),
            ),
            ("max_leaves".into(), self.max_leaves.to_string()),
            (
                "smoothing_rounds".into(),
                self.smoothing_rounds.map_or("auto".into(), |r| r.to_string()),
            ),
            ("max_rounds".into(), self.max_rounds.to_string()),
            ("early_stopping_rounds".into(), self.early_stopping_rounds.to_string()),
            ("validation_size".into(), self.validation_size.to_string()),
            ("outer_bags".into(), self.outer_bags.to_string()),
            ("min_samples_leaf".into(), self.min_samples_leaf.to_string()),
            ("seed".into(), self.seed.to_string()),
        ]
    }

    fn fit(&self, data: &Dataset) -> Result<Box<dyn Model>> {
        Ok(Box::new(self.fit_ebm(data)?))
    }
}

/// One feature's piecewise-constant term of an additive tree model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapeFunction {
    /// The feature (after preprocessing).
    pub feature: String,
    /// Bin edges: bin `b` holds values above `edges[b - 1]` and at most `edges[b]`.
    pub edges: Vec<f64>,
    /// The term's value in each bin (`edges.len() + 1` values; one output).
    pub values: Vec<f64>,
}

/// The global explanation of an additive model: the shape function of
/// every feature of a tree ensemble whose trees each split on one feature
/// (an EBM, or any such model), and its base value.
///
/// # Errors
/// A model that is not a one-output tree ensemble, or a tree splitting on
/// two features (an interaction, not a shape function).
pub fn shape_functions(spec: &ModelSpec) -> Result<(f64, Vec<ShapeFunction>)> {
    let Estimator::TreeEnsemble {
        trees,
        aggregation,
        base_values,
        ..
    } = &spec.estimator
    else {
        return Err(Error::Unsupported("shape functions need a tree ensemble".into()));
    };
    if base_values.len() != 1 {
        return Err(Error::Unsupported(
            "shape functions of multi-output models are not drawn".into(),
        ));
    }
    let scale = match aggregation {
        Aggregation::Average => 1.0 / trees.len().max(1) as f64,
        Aggregation::Sum => 1.0,
    };
    let names = spec.transformed_feature_names();
    let mut by_feature: std::collections::BTreeMap<usize, Vec<&Tree>> = std::collections::BTreeMap::new();
    let mut constant = 0.0;
    for t in trees {
        let mut feats: Vec<usize> = t.nodes.iter().filter_map(|n| n.split.map(|s| s.feature)).collect();
        feats.sort_unstable();
        feats.dedup();
        match feats.as_slice() {
            [] => constant += t.nodes.first().and_then(|n| n.value.first()).copied().unwrap_or(0.0) * scale,
            [f] => by_feature.entry(*f).or_default().push(t),
            _ => {
                return Err(Error::Unsupported(
                    "a tree splits on several features: the model is not additive".into(),
                ));
            }
        }
    }
    let mut shapes = Vec::new();
    for (f, ts) in by_feature {
        let mut edges: Vec<f64> = ts
            .iter()
            .flat_map(|t| {
                t.nodes
                    .iter()
                    .filter_map(|n| n.split.map(|s| f64::from(s.threshold as f32)))
            })
            .collect();
        edges.sort_by(f64::total_cmp);
        edges.dedup();
        // A point inside each bin under the split rule (compare as f32).
        let points: Vec<f64> = (0..=edges.len())
            .map(|b| {
                if b == 0 {
                    edges[0]
                } else {
                    f64::from((edges[b - 1] as f32).next_up())
                }
            })
            .collect();
        let width = f + 1;
        let values = points
            .iter()
            .map(|&v| {
                let mut row = vec![0.0; width];
                row[f] = v;
                let row = ml_core::ndarray::ArrayView1::from(&row);
                ts.iter().map(|t| t.nodes[t.leaf(row)].value[0]).sum::<f64>() * scale
            })
            .collect();
        shapes.push(ShapeFunction {
            feature: names.get(f).cloned().unwrap_or_else(|| format!("x{f}")),
            edges,
            values,
        });
    }
    Ok((base_values[0] + constant, shapes))
}
