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
//! Classification (two classes: one logistic score; more: one score per
//! class, softmax cross-entropy, each boosting step's split chosen by its
//! gain summed over the classes) and regression; optional pairwise
//! interactions (`interactions`): pairs ranked by FAST on the main effects'
//! residuals, then boosted as tables over coarse bins (a value per class
//! for more than two classes), each exported as a two-feature tree.

use ml_core::ndarray::{Array2, ArrayView2};
use ml_core::{
    Aggregation, Dataset, Error, Estimator, FeatureKind, Link, Model, ModelSpec, Predictions, Result, Signature, Split,
    Target, Task, Trainer, Tree, TreeNode,
};
use ml_core::{SeededRng, seeded_rng};
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
    /// Pairwise interaction terms to add (0: none), the pairs ranked by
    /// FAST (Lou et al. 2013) on the main effects' residuals.
    pub interactions: usize,
    /// Bins per feature in an interaction term at most.
    pub max_interaction_bins: usize,
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
            interactions: 0,
            max_interaction_bins: 32,
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

/// A pairwise interaction term: a table over two features' coarse bins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairTerm {
    /// The two features (indices).
    pub features: (usize, usize),
    /// Their coarse bins.
    pub bins: (FeatureBins, FeatureBins),
    /// `bins.0 × bins.1` values (boosted on top of the centred main
    /// effects, so their training mean is small but not removed); with more
    /// than two classes, one per class: `values[a][b * classes + c]`.
    pub values: Vec<Vec<f64>>,
}

/// A fitted EBM: intercept, bins and shape functions.
#[derive(Debug, Clone, Serialize)]
pub struct EbmModel {
    #[serde(skip)]
    spec: ModelSpec,
    /// One intercept per score: the only one, or each class's with more than
    /// two classes (softmax link).
    pub intercepts: Vec<f64>,
    /// Each feature's bins.
    pub bins: Vec<FeatureBins>,
    /// Each feature's shape function: one value per bin (with more than two
    /// classes, one per bin and class: bin `b`, class `c` at
    /// `b * classes + c`), centred so that its mean over the training rows
    /// is 0.
    pub shapes: Vec<Vec<f64>>,
    /// Training rows per bin.
    pub counts: Vec<Vec<f64>>,
    /// Boosting rounds run in each bag.
    pub rounds: Vec<usize>,
    /// Interaction terms (empty unless asked for).
    pub pairs: Vec<PairTerm>,
}

impl EbmModel {
    /// Each row's main-effect contributions (`rows × features`): the local
    /// explanation, exact by construction (interaction terms, if any, add
    /// [`pair_contributions`](Self::pair_contributions)).
    ///
    /// # Errors
    /// Input that does not match the model; a model of more than two
    /// classes, which has a contribution per class (TreeSHAP on the model
    /// gives them, centred).
    pub fn contributions(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.one_score_input(x)?;
        Ok(Array2::from_shape_fn((x.nrows(), self.bins.len()), |(i, j)| {
            self.shapes[j][self.bins[j].of(x[[i, j]])]
        }))
    }

    /// Each row's interaction contributions (`rows × pairs`).
    ///
    /// # Errors
    /// Input that does not match the model; a model of more than two
    /// classes (see [`contributions`](Self::contributions)).
    pub fn pair_contributions(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.one_score_input(x)?;
        Ok(Array2::from_shape_fn((x.nrows(), self.pairs.len()), |(i, k)| {
            let p = &self.pairs[k];
            p.values[p.bins.0.of(x[[i, p.features.0]])][p.bins.1.of(x[[i, p.features.1]])]
        }))
    }
}

impl EbmModel {
    /// The intercept (log-odds or value; with more than two classes, the
    /// first class's score, see `intercepts`).
    pub fn intercept(&self) -> f64 {
        self.intercepts[0]
    }

    /// The contribution methods' checks: one score per row, valid input.
    fn one_score_input(&self, x: ArrayView2<'_, f64>) -> Result<()> {
        if self.intercepts.len() > 1 {
            return Err(Error::Unsupported(
                "contributions of an EBM with more than two classes (one per class: explain it with TreeSHAP)".into(),
            ));
        }
        self.spec.signature.validate_input(x)
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

/// Every column's bins, every row's bin per column, and the bin counts.
fn binning(data: &Dataset, max_bins: usize) -> (Vec<FeatureBins>, Vec<Vec<usize>>, Vec<usize>) {
    let x = data.features();
    let bins: Vec<FeatureBins> = data
        .columns()
        .iter()
        .enumerate()
        .map(|(j, c)| bins_of(&c.name, &x.column(j).to_vec(), &c.kind, max_bins))
        .collect();
    let binned = bins
        .iter()
        .enumerate()
        .map(|(j, b)| x.column(j).iter().map(|&v| b.of(v)).collect())
        .collect();
    let n_bins = bins.iter().map(FeatureBins::n_bins).collect();
    (bins, binned, n_bins)
}

/// One bag's boosting on its training rows, early-stopped on its
/// validation rows; returns shape functions (per feature, `k` values per
/// bin) and rounds.
#[allow(clippy::too_many_arguments)]
fn boost_bag(
    cfg: &Ebm,
    (lr, smoothing, seed): (f64, usize, u64),
    binned: &[Vec<usize>],
    n_bins: &[usize],
    y: &[f64],
    objective: Objective,
    intercepts: &[f64],
    train: &[usize],
    valid: &[usize],
) -> (Vec<Vec<f64>>, usize) {
    let m = binned.len();
    let k = objective.k();
    let mut shapes: Vec<Vec<f64>> = n_bins.iter().map(|&b| vec![0.0; b * k]).collect();
    let mut score: Vec<f64> = (0..y.len()).flat_map(|_| intercepts.iter().copied()).collect();
    let loss = |score: &[f64], rows: &[usize]| objective.mean_loss(score, y, rows);
    let mut rng = seeded_rng(seed);
    let mut best = (loss(&score, valid), shapes.clone(), 0usize);
    let mut since = 0;
    let mut g = vec![0.0; 0];
    let mut h = vec![0.0; 0];
    let (mut gi, mut hi) = (vec![0.0; k], vec![0.0; k]);
    for round in 1..=cfg.max_rounds {
        for j in 0..m {
            let nb = n_bins[j];
            g.clear();
            g.resize(nb * k, 0.0);
            h.clear();
            h.resize(nb * k, 0.0);
            let mut cnt = vec![0usize; nb];
            for &i in train {
                let b = binned[j][i];
                objective.grad_hess(&score[i * k..(i + 1) * k], y[i], &mut gi, &mut hi);
                for c in 0..k {
                    g[b * k + c] += gi[c];
                    h[b * k + c] += hi[c];
                }
                cnt[b] += 1;
            }
            let random = (round <= smoothing).then_some(&mut rng);
            let update = step_tree(&g, &h, &cnt, k, cfg.min_samples_leaf, cfg.max_leaves, random);
            for (s, u) in shapes[j].iter_mut().zip(&update) {
                *s += lr * u;
            }
            for (i, row) in score.chunks_mut(k).enumerate() {
                let b = binned[j][i];
                for (sc, u) in row.iter_mut().zip(&update[b * k..(b + 1) * k]) {
                    *sc += lr * u;
                }
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

/// The loss boosted: squared error (regression), logistic (two classes,
/// one score per row) or softmax cross-entropy (`K` classes, `K` scores per
/// row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Objective {
    Squared,
    Logistic,
    Softmax(usize),
}

impl Objective {
    /// Scores per row.
    fn k(self) -> usize {
        match self {
            Objective::Softmax(k) => k,
            _ => 1,
        }
    }

    /// Mean loss over `rows` of scores laid out `k` per row: squared
    /// error, logistic (`log(1 + e^z) - y z`, stable) or cross-entropy.
    fn mean_loss(self, score: &[f64], y: &[f64], rows: &[usize]) -> f64 {
        let k = self.k();
        rows.iter()
            .map(|&i| {
                let s = &score[i * k..(i + 1) * k];
                match self {
                    Objective::Squared => (y[i] - s[0]).powi(2),
                    Objective::Logistic => {
                        let z = s[0];
                        (if z > 0.0 {
                            z + (-z).exp().ln_1p()
                        } else {
                            z.exp().ln_1p()
                        }) - y[i] * z
                    }
                    Objective::Softmax(_) => {
                        let top = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        let log_sum = top + s.iter().map(|v| (v - top).exp()).sum::<f64>().ln();
                        log_sum - s[y[i] as usize]
                    }
                }
            })
            .sum::<f64>()
            / rows.len().max(1) as f64
    }

    /// One row's negative gradient and Hessian (diagonal) per score.
    fn grad_hess(self, s: &[f64], t: f64, g: &mut [f64], h: &mut [f64]) {
        match self {
            Objective::Squared => {
                g[0] = t - s[0];
                h[0] = 1.0;
            }
            Objective::Logistic => {
                let p = 1.0 / (1.0 + (-s[0]).exp());
                g[0] = t - p;
                h[0] = (p * (1.0 - p)).max(1e-12);
            }
            Objective::Softmax(_) => {
                let top = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = s.iter().map(|v| (v - top).exp()).sum();
                for (c, v) in s.iter().enumerate() {
                    let p = (v - top).exp() / total;
                    g[c] = f64::from(u8::from(t as usize == c)) - p;
                    h[c] = (p * (1.0 - p)).max(1e-12);
                }
            }
        }
    }
}

/// One boosting step's tree over ordered bins: at most `max_leaves` (2 or
/// 3) leaves, each split the best by gain (or, in smoothing rounds, one of
/// the allowed cut points at random), each leaf's value the Newton step
/// `G / H`. With `k` scores per row (`g`, `h` hold `k` values per bin), a
/// split's gain is the sum over scores and each leaf has a step per score.
fn step_tree(
    g: &[f64],
    h: &[f64],
    cnt: &[usize],
    k: usize,
    min_leaf: usize,
    max_leaves: usize,
    mut random: Option<&mut SeededRng>,
) -> Vec<f64> {
    use rand::RngExt;
    let nb = cnt.len();
    // Sums of bins [a, b): gradients and Hessians per score, and rows.
    let seg = |a: usize, b: usize| -> (Vec<f64>, Vec<f64>, usize) {
        let mut s = (vec![0.0; k], vec![0.0; k], 0);
        for bin in a..b {
            for c in 0..k {
                s.0[c] += g[bin * k + c];
                s.1[c] += h[bin * k + c];
            }
            s.2 += cnt[bin];
        }
        s
    };
    let gain1 = |g: f64, h: f64| if h > 0.0 { g * g / h } else { 0.0 };
    let gain = |g: &[f64], h: &[f64]| (0..k).map(|c| gain1(g[c], h[c])).sum::<f64>();
    // A split of [a, b) into [a, c) and [c, b), with its gain.
    let mut split = |a: usize, b: usize| -> Option<(usize, f64)> {
        let total = seg(a, b);
        let total_gain = gain(&total.0, &total.1);
        let (mut lg, mut lh, mut ln) = (vec![0.0; k], vec![0.0; k], 0usize);
        let mut allowed = Vec::new();
        for cut in a + 1..b {
            for c in 0..k {
                lg[c] += g[(cut - 1) * k + c];
                lh[c] += h[(cut - 1) * k + c];
            }
            ln += cnt[cut - 1];
            if ln >= min_leaf && total.2 - ln >= min_leaf {
                let right: f64 = (0..k).map(|c| gain1(total.0[c] - lg[c], total.1[c] - lh[c])).sum();
                allowed.push((cut, gain(&lg, &lh) + right - total_gain));
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
    let mut out = vec![0.0; nb * k];
    for w in cuts.windows(2) {
        let (sg, sh, _) = seg(w[0], w[1]);
        for bin in w[0]..w[1] {
            for c in 0..k {
                out[bin * k + c] = if sh[c] > 0.0 { sg[c] / sh[c] } else { 0.0 };
            }
        }
    }
    out
}

/// FAST's score of a pair: the best gain of one cut on each feature (four
/// quadrants, Newton values) over the 2-d histogram of gradients (`k`
/// scores per row: gains summed over them).
#[allow(clippy::too_many_arguments)]
fn pair_gain(
    a: &[usize],
    b: &[usize],
    na: usize,
    nb: usize,
    k: usize,
    g: &[f64],
    h: &[f64],
    rows: &[usize],
) -> (f64, usize, usize) {
    let (mut hg, mut hh) = (vec![0.0; na * nb * k], vec![0.0; na * nb * k]);
    for &i in rows {
        let cell = (a[i] * nb + b[i]) * k;
        for c in 0..k {
            hg[cell + c] += g[i * k + c];
            hh[cell + c] += h[i * k + c];
        }
    }
    // Prefix sums per score: P[x][y] = sum over cells (< x, < y).
    let w = nb + 1;
    let (mut pg, mut ph) = (vec![0.0; (na + 1) * w * k], vec![0.0; (na + 1) * w * k]);
    for x in 0..na {
        for y in 0..nb {
            for c in 0..k {
                let at = |xx: usize, yy: usize| (xx * w + yy) * k + c;
                let cell = (x * nb + y) * k + c;
                pg[at(x + 1, y + 1)] = hg[cell] + pg[at(x, y + 1)] + pg[at(x + 1, y)] - pg[at(x, y)];
                ph[at(x + 1, y + 1)] = hh[cell] + ph[at(x, y + 1)] + ph[at(x + 1, y)] - ph[at(x, y)];
            }
        }
    }
    let rect = |p: &[f64], c: usize, x0: usize, x1: usize, y0: usize, y1: usize| {
        p[(x1 * w + y1) * k + c] - p[(x0 * w + y1) * k + c] - p[(x1 * w + y0) * k + c] + p[(x0 * w + y0) * k + c]
    };
    let score = |g: f64, h: f64| if h > 1e-12 { g * g / h } else { 0.0 };
    let region = |x0: usize, x1: usize, y0: usize, y1: usize| {
        (0..k)
            .map(|c| score(rect(&pg, c, x0, x1, y0, y1), rect(&ph, c, x0, x1, y0, y1)))
            .sum::<f64>()
    };
    let total = region(0, na, 0, nb);
    let mut best = (0.0, 0, 0);
    for cx in 1..na {
        for cy in 1..nb {
            let quads = [(0, cx, 0, cy), (cx, na, 0, cy), (0, cx, cy, nb), (cx, na, cy, nb)];
            let gain: f64 = quads
                .iter()
                .map(|&(x0, x1, y0, y1)| region(x0, x1, y0, y1))
                .sum::<f64>()
                - total;
            if gain > best.0 {
                best = (gain, cx, cy);
            }
        }
    }
    best
}

/// Gradients and Hessians of the loss at the current scores (`k` per row).
fn grad_hess(score: &[f64], y: &[f64], objective: Objective) -> (Vec<f64>, Vec<f64>) {
    let k = objective.k();
    let (mut g, mut h) = (vec![0.0; score.len()], vec![0.0; score.len()]);
    for (i, &t) in y.iter().enumerate() {
        let r = i * k..(i + 1) * k;
        objective.grad_hess(&score[r.clone()], t, &mut g[r.clone()], &mut h[r]);
    }
    (g, h)
}

/// One bag's boosting of the interaction tables (`k` values per cell) on
/// top of fixed scores, early-stopped on its validation rows.
#[allow(clippy::too_many_arguments)]
fn boost_pairs(
    cfg: &Ebm,
    lr: f64,
    pairs: &[(usize, usize)],
    coarse: &[Vec<usize>],
    n_coarse: &[usize],
    y: &[f64],
    objective: Objective,
    base: &[f64],
    (train, valid): (&[usize], &[usize]),
) -> Vec<Vec<f64>> {
    let k = objective.k();
    let mut tables: Vec<Vec<f64>> = pairs
        .iter()
        .map(|&(a, b)| vec![0.0; n_coarse[a] * n_coarse[b] * k])
        .collect();
    let mut score = base.to_vec();
    let loss = |score: &[f64]| objective.mean_loss(score, y, valid);
    let mut best = (loss(&score), tables.clone());
    let mut since = 0;
    for _ in 0..cfg.max_rounds {
        for (p, &(a, b)) in pairs.iter().enumerate() {
            let (na, nb) = (n_coarse[a], n_coarse[b]);
            let (g, h) = grad_hess(&score, y, objective);
            let (gain, cx, cy) = pair_gain(&coarse[a], &coarse[b], na, nb, k, &g, &h, train);
            if gain <= 0.0 {
                continue;
            }
            let quad = |x: usize, yb: usize| usize::from(x >= cx) + 2 * usize::from(yb >= cy);
            let (mut qg, mut qh, mut qn) = (vec![0.0; 4 * k], vec![0.0; 4 * k], [0usize; 4]);
            for &i in train {
                let q = quad(coarse[a][i], coarse[b][i]);
                for c in 0..k {
                    qg[q * k + c] += g[i * k + c];
                    qh[q * k + c] += h[i * k + c];
                }
                qn[q] += 1;
            }
            if qn.iter().any(|&c| c < cfg.min_samples_leaf) {
                continue;
            }
            let step: Vec<f64> = (0..4 * k).map(|qc| lr * qg[qc] / qh[qc]).collect();
            for x in 0..na {
                for yb in 0..nb {
                    let q = quad(x, yb);
                    for c in 0..k {
                        tables[p][(x * nb + yb) * k + c] += step[q * k + c];
                    }
                }
            }
            for (i, row) in score.chunks_mut(k).enumerate() {
                let q = quad(coarse[a][i], coarse[b][i]);
                for (c, sc) in row.iter_mut().enumerate() {
                    *sc += step[q * k + c];
                }
            }
        }
        let l = loss(&score);
        if l < best.0 - cfg.early_stopping_tolerance * best.0.abs() {
            best = (l, tables.clone());
            since = 0;
        } else {
            since += 1;
            if since >= cfg.early_stopping_rounds {
                break;
            }
        }
    }
    best.1
}

/// A tree over two features' coarse bins: balanced over the first's edges,
/// each of its leaves a balanced tree over the second's.
fn pair_tree(p: &PairTerm, counts: &[Vec<f64>]) -> Tree {
    let mut nodes = Vec::new();
    let (fa, fb) = p.features;
    let (ea, eb) = (&p.bins.0.edges, &p.bins.1.edges);
    #[allow(clippy::too_many_arguments)]
    fn build(
        nodes: &mut Vec<TreeNode>,
        p: &PairTerm,
        counts: &[Vec<f64>],
        (fa, fb): (usize, usize),
        (ea, eb): (&[f64], &[f64]),
        (lo, hi): (usize, usize),
        inner: Option<usize>,
    ) -> usize {
        let at = nodes.len();
        // Cells covered: rows lo..=hi of the first feature (outer level), or
        // columns lo..=hi of the second at row `inner`.
        let cells: Vec<(usize, usize)> = match inner {
            None => (lo..=hi).flat_map(|x| (0..=eb.len()).map(move |y| (x, y))).collect(),
            Some(x) => (lo..=hi).map(|y| (x, y)).collect(),
        };
        let cover: f64 = cells.iter().map(|&(x, y)| counts[x][y]).sum();
        // `k` values per cell (one per score).
        let k = p.values.first().map_or(1, |r| r.len() / (eb.len() + 1)).max(1);
        let value = (0..k)
            .map(|c| {
                if cover > 0.0 {
                    cells
                        .iter()
                        .map(|&(x, y)| p.values[x][y * k + c] * counts[x][y])
                        .sum::<f64>()
                        / cover
                } else {
                    cells.iter().map(|&(x, y)| p.values[x][y * k + c]).sum::<f64>() / cells.len().max(1) as f64
                }
            })
            .collect();
        nodes.push(TreeNode {
            split: None,
            value,
            cover,
        });
        match inner {
            None if lo == hi => {
                // Descend into the second feature for this row of cells.
                let child = build(nodes, p, counts, (fa, fb), (ea, eb), (0, eb.len()), Some(lo));
                // A leaf of the outer level is its inner tree: replace it.
                let inner_root = nodes[child].clone();
                nodes[at] = inner_root;
                let shift = child - at;
                nodes.remove(child);
                for n in nodes.iter_mut().skip(at) {
                    if let Some(s) = &mut n.split {
                        s.left -= shift;
                        s.right -= shift;
                    }
                }
            }
            None => {
                let mid = (lo + hi) / 2;
                let left = build(nodes, p, counts, (fa, fb), (ea, eb), (lo, mid), None);
                let right = build(nodes, p, counts, (fa, fb), (ea, eb), (mid + 1, hi), None);
                nodes[at].split = Some(Split {
                    feature: fa,
                    threshold: ea[mid],
                    left,
                    right,
                });
            }
            Some(_) if lo == hi => {}
            Some(x) => {
                let mid = (lo + hi) / 2;
                let left = build(nodes, p, counts, (fa, fb), (ea, eb), (lo, mid), Some(x));
                let right = build(nodes, p, counts, (fa, fb), (ea, eb), (mid + 1, hi), Some(x));
                nodes[at].split = Some(Split {
                    feature: fb,
                    threshold: eb[mid],
                    left,
                    right,
                });
            }
        }
        at
    }
    build(&mut nodes, p, counts, (fa, fb), (ea, eb), (0, ea.len()), None);
    Tree { nodes }
}

/// A tree over a feature's bins: balanced splits at the edges, a leaf per
/// bin, each node's value the count-weighted mean of its bins' `k` values.
fn shape_tree(feature: usize, bins: &FeatureBins, shape: &[f64], counts: &[f64], k: usize) -> Tree {
    #[allow(clippy::too_many_arguments)]
    fn build(
        nodes: &mut Vec<TreeNode>,
        feature: usize,
        edges: &[f64],
        shape: &[f64],
        counts: &[f64],
        k: usize,
        lo: usize,
        hi: usize,
    ) -> usize {
        let at = nodes.len();
        let cover: f64 = counts[lo..=hi].iter().sum();
        let value = (0..k)
            .map(|c| {
                if cover > 0.0 {
                    (lo..=hi).map(|b| shape[b * k + c] * counts[b]).sum::<f64>() / cover
                } else {
                    (lo..=hi).map(|b| shape[b * k + c]).sum::<f64>() / (hi - lo + 1) as f64
                }
            })
            .collect();
        nodes.push(TreeNode {
            split: None,
            value,
            cover,
        });
        if lo < hi {
            let mid = (lo + hi) / 2;
            let left = build(nodes, feature, edges, shape, counts, k, lo, mid);
            let right = build(nodes, feature, edges, shape, counts, k, mid + 1, hi);
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
    build(&mut nodes, feature, &bins.edges, shape, counts, k, 0, counts.len() - 1);
    Tree { nodes }
}

impl Ebm {
    /// Hyper-parameters by name, as `mlsdk train --model ebm --param K=V`
    /// takes them and [`Trainer::params`] lists them (`auto` for the
    /// learning rate and smoothing rounds means InterpretML's default);
    /// `seed` from the argument unless a `seed` param is given.
    ///
    /// # Errors
    /// An unknown key or a value that does not parse
    /// ([`Error::InvalidParameter`] naming it).
    pub fn from_params(params: &[(String, String)], seed: Option<u64>) -> Result<Self> {
        let mut e = Ebm {
            seed: seed.unwrap_or(0),
            ..Default::default()
        };
        for (k, v) in params {
            let (k, v) = (k.trim(), v.trim());
            let bad = || Error::invalid(k, format!("'{v}' is not a valid value"));
            let auto = v.eq_ignore_ascii_case("auto");
            match k {
                "max_bins" => e.max_bins = v.parse().map_err(|_| bad())?,
                "learning_rate" if auto => e.learning_rate = None,
                "learning_rate" => e.learning_rate = Some(v.parse().map_err(|_| bad())?),
                "max_leaves" => e.max_leaves = v.parse().map_err(|_| bad())?,
                "smoothing_rounds" if auto => e.smoothing_rounds = None,
                "smoothing_rounds" => e.smoothing_rounds = Some(v.parse().map_err(|_| bad())?),
                "max_rounds" => e.max_rounds = v.parse().map_err(|_| bad())?,
                "early_stopping_rounds" => e.early_stopping_rounds = v.parse().map_err(|_| bad())?,
                "early_stopping_tolerance" => e.early_stopping_tolerance = v.parse().map_err(|_| bad())?,
                "validation_size" => e.validation_size = v.parse().map_err(|_| bad())?,
                "outer_bags" => e.outer_bags = v.parse().map_err(|_| bad())?,
                "min_samples_leaf" => e.min_samples_leaf = v.parse().map_err(|_| bad())?,
                "interactions" => e.interactions = v.parse().map_err(|_| bad())?,
                "max_interaction_bins" => e.max_interaction_bins = v.parse().map_err(|_| bad())?,
                "seed" => e.seed = v.parse().map_err(|_| bad())?,
                _ => return Err(Error::invalid(k, "not a parameter of 'ebm'")),
            }
        }
        Ok(e)
    }
}

impl Ebm {
    /// The interaction stage: rank every pair by FAST on the main effects'
    /// residuals, boost the best `interactions` pairs' tables in each bag,
    /// average and centre them.
    #[allow(clippy::too_many_arguments)]
    fn fit_pairs(
        &self,
        data: &Dataset,
        binned: &[Vec<usize>],
        shapes: &[Vec<f64>],
        intercepts: &[f64],
        y: &[f64],
        objective: Objective,
        lr: f64,
        bags: &[(Vec<usize>, Vec<usize>, u64)],
    ) -> Result<Vec<PairTerm>> {
        let n = data.n_samples();
        let m = binned.len();
        let k = objective.k();
        let (coarse_bins, coarse, n_coarse) = binning(data, self.max_interaction_bins.max(2));
        let base: Vec<f64> = (0..n)
            .flat_map(|i| {
                (0..k).map(move |c| intercepts[c] + (0..m).map(|j| shapes[j][binned[j][i] * k + c]).sum::<f64>())
            })
            .collect();
        let (g, h) = grad_hess(&base, y, objective);
        let all: Vec<usize> = (0..n).collect();
        let mut ranked: Vec<(f64, (usize, usize))> = (0..m)
            .flat_map(|a| (a + 1..m).map(move |b| (a, b)))
            .map(|(a, b)| {
                (
                    pair_gain(&coarse[a], &coarse[b], n_coarse[a], n_coarse[b], k, &g, &h, &all).0,
                    (a, b),
                )
            })
            .collect();
        ranked.sort_by(|p, q| q.0.total_cmp(&p.0));
        let chosen: Vec<(usize, usize)> = ranked.iter().take(self.interactions).map(|r| r.1).collect();
        let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
        let mut tables: Vec<Vec<f64>> = chosen
            .iter()
            .map(|&(a, b)| vec![0.0; n_coarse[a] * n_coarse[b] * k])
            .collect();
        for chunk in bags.chunks(threads) {
            let done: Vec<Vec<Vec<f64>>> = std::thread::scope(|s| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|(t, v, _)| {
                        let (chosen, coarse, n_coarse, base) = (&chosen, &coarse, &n_coarse, &base);
                        s.spawn(move || boost_pairs(self, lr, chosen, coarse, n_coarse, y, objective, base, (t, v)))
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            for bag in done {
                for (t, b) in tables.iter_mut().zip(bag) {
                    t.iter_mut().zip(b).for_each(|(a, v)| *a += v / bags.len() as f64);
                }
            }
        }
        Ok(chosen
            .iter()
            .zip(tables)
            .map(|(&(a, b), table)| {
                let row = n_coarse[b] * k;
                // The tables stay as boosted: moving their mean into the
                // intercept would change no prediction.
                let values = (0..n_coarse[a])
                    .map(|xa| table[xa * row..(xa + 1) * row].to_vec())
                    .collect();
                PairTerm {
                    features: (a, b),
                    bins: (coarse_bins[a].clone(), coarse_bins[b].clone()),
                    values,
                }
            })
            .collect())
    }

    /// Fit, returning the concrete model.
    ///
    /// # Errors
    /// Bad parameters, no rows, no target.
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
        let (y, objective, task, link): (Vec<f64>, Objective, Task, Link) = match data.target() {
            Some(Target::Classes { labels, names }) if names.len() >= 2 => (
                labels.iter().map(|&l| l as f64).collect(),
                if names.len() == 2 {
                    Objective::Logistic
                } else {
                    Objective::Softmax(names.len())
                },
                Task::Classification { classes: names.clone() },
                if names.len() == 2 {
                    Link::Logistic
                } else {
                    Link::Softmax
                },
            ),
            Some(Target::Classes { .. }) => {
                return Err(Error::invalid("target", "an EBM classifier needs two classes or more"));
            }
            Some(Target::Values { values }) => (values.to_vec(), Objective::Squared, Task::Regression, Link::Identity),
            None => return Err(Error::invalid("target", "an EBM needs a target")),
        };
        let k = objective.k();
        let classification = objective != Objective::Squared;
        let lr = self.learning_rate.unwrap_or(if classification { 0.015 } else { 0.04 });
        let smoothing = self.smoothing_rounds.unwrap_or(if classification { 75 } else { 500 });
        let x = data.features();
        let columns = data.columns();
        let (bins, binned, n_bins) = binning(data, self.max_bins);
        let mean = y.iter().sum::<f64>() / n as f64;
        // Starting scores: the log-odds or mean, or each class's log prior.
        let intercepts0: Vec<f64> = match objective {
            Objective::Logistic => {
                let p = mean.clamp(1e-6, 1.0 - 1e-6);
                vec![(p / (1.0 - p)).ln()]
            }
            Objective::Squared => vec![mean],
            Objective::Softmax(k) => (0..k)
                .map(|c| {
                    let share = y.iter().filter(|&&t| t as usize == c).count() as f64 / n as f64;
                    share.max(1e-6).ln()
                })
                .collect(),
        };
        let mut rng = seeded_rng(self.seed);
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
                                objective,
                                &intercepts0,
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
        let mut shapes: Vec<Vec<f64>> = n_bins.iter().map(|&b| vec![0.0; b * k]).collect();
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
        // Centre each shape (per score) on the training rows; the means join
        // the intercepts.
        let mut intercepts = intercepts0;
        for (s, c) in shapes.iter_mut().zip(&counts) {
            for (class, intercept) in intercepts.iter_mut().enumerate() {
                let m = (0..c.len()).map(|b| s[b * k + class] * c[b]).sum::<f64>() / n as f64;
                (0..c.len()).for_each(|b| s[b * k + class] -= m);
                *intercept += m;
            }
        }
        let mut trees: Vec<Tree> = (0..bins.len())
            .map(|j| shape_tree(j, &bins[j], &shapes[j], &counts[j], k))
            .collect();
        let pairs = if self.interactions > 0 && bins.len() >= 2 {
            self.fit_pairs(data, &binned, &shapes, &intercepts, &y, objective, lr, &bags)?
        } else {
            Vec::new()
        };
        for p in &pairs {
            let (a, b) = p.features;
            let mut cell = vec![vec![0.0; p.bins.1.n_bins()]; p.bins.0.n_bins()];
            for i in 0..n {
                cell[p.bins.0.of(x[[i, a]])][p.bins.1.of(x[[i, b]])] += 1.0;
            }
            trees.push(pair_tree(p, &cell));
        }
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
                base_values: intercepts.clone(),
                link,
            },
        };
        Ok(EbmModel {
            spec,
            intercepts,
            bins,
            shapes,
            counts,
            rounds: results.iter().map(|r| r.1).collect(),
            pairs,
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
            ("interactions".into(), self.interactions.to_string()),
            ("max_interaction_bins".into(), self.max_interaction_bins.to_string()),
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

/// An additive model's terms (see [`shape_functions`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdditiveTerms {
    /// The base value.
    pub intercept: f64,
    /// One shape function per feature with a term.
    pub shapes: Vec<ShapeFunction>,
    /// The feature pairs of two-feature terms.
    pub interactions: Vec<(String, String)>,
}

/// The global explanation of an additive model: its base value, the shape
/// function of every feature of a tree ensemble whose trees each split on
/// one feature (an EBM, or any such model), and the feature pairs of its
/// two-feature trees (interaction terms, listed, not drawn).
///
/// # Errors
/// A model that is not a one-output tree ensemble (for several outputs,
/// such as an EBM of more than two classes, see [`shape_functions_of`]), or
/// a tree splitting on three features or more.
pub fn shape_functions(spec: &ModelSpec) -> Result<AdditiveTerms> {
    if spec.estimator.n_outputs() != 1 {
        return Err(Error::Unsupported(
            "shape functions of a model with several outputs: take them output by output".into(),
        ));
    }
    shape_functions_of(spec, 0)
}

/// [`shape_functions`] of one output of a tree ensemble (one class's score
/// of a softmax model, say): its base value and each feature's term.
///
/// # Errors
/// A model that is not a tree ensemble, an output it does not have, or a
/// tree splitting on three features or more.
pub fn shape_functions_of(spec: &ModelSpec, output: usize) -> Result<AdditiveTerms> {
    let Estimator::TreeEnsemble {
        trees,
        aggregation,
        base_values,
        ..
    } = &spec.estimator
    else {
        return Err(Error::Unsupported("shape functions need a tree ensemble".into()));
    };
    if output >= base_values.len() {
        return Err(Error::invalid(
            "output",
            format!("{output} of a model with {} outputs", base_values.len()),
        ));
    }
    if trees
        .iter()
        .flat_map(|t| &t.nodes)
        .any(|n| n.value.len() != base_values.len())
    {
        return Err(Error::invalid(
            "trees",
            "a node's values do not match the model's outputs",
        ));
    }
    let scale = match aggregation {
        Aggregation::Average => 1.0 / trees.len().max(1) as f64,
        Aggregation::Sum => 1.0,
        other => return Err(Error::Unsupported(format!("shape functions of a {other:?} ensemble"))),
    };
    let names = spec.transformed_feature_names();
    let mut by_feature: std::collections::BTreeMap<usize, Vec<&Tree>> = std::collections::BTreeMap::new();
    let mut constant = 0.0;
    let mut pairs = Vec::new();
    for t in trees {
        let mut feats: Vec<usize> = t.nodes.iter().filter_map(|n| n.split.map(|s| s.feature)).collect();
        feats.sort_unstable();
        feats.dedup();
        match feats.as_slice() {
            [] => {
                constant += t
                    .nodes
                    .first()
                    .and_then(|n| n.value.get(output))
                    .copied()
                    .unwrap_or(0.0)
                    * scale
            }
            [f] => by_feature.entry(*f).or_default().push(t),
            [a, b] => pairs.push((*a, *b)),
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
                ts.iter().map(|t| t.nodes[t.leaf(row)].value[output]).sum::<f64>() * scale
            })
            .collect();
        shapes.push(ShapeFunction {
            feature: names.get(f).cloned().unwrap_or_else(|| format!("x{f}")),
            edges,
            values,
        });
    }
    let name = |f: usize| names.get(f).cloned().unwrap_or_else(|| format!("x{f}"));
    let pairs = pairs.into_iter().map(|(a, b)| (name(a), name(b))).collect();
    Ok(AdditiveTerms {
        intercept: base_values[output] + constant,
        shapes,
        interactions: pairs,
    })
}
