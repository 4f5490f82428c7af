//! KernelSHAP (Lundberg and Lee, "A Unified Approach to Interpreting Model
//! Predictions", NeurIPS 2017) on any model's predictions: the Shapley
//! values of `v(S) = mean_z f(x_S, z_S̄)` over a background, estimated by
//! weighted least squares over coalitions with the Shapley kernel and the
//! efficiency constraint built in.
//!
//! Coalitions are chosen as shap's `KernelExplainer` chooses them: subset
//! sizes from the smallest (with their complements) are enumerated while
//! the budget covers them, the remaining budget is sampled by the kernel's
//! size weights. When the budget covers every coalition (2^M - 2 of them)
//! the result is exact. Features on which the row equals every background
//! row get 0 and are left out of the regression, as in shap.
//!
//! Optionally (`max_features`), the regression keeps only `k` features,
//! chosen as shap's `l1_reg="num_features(k)"` chooses them: the first `k`
//! to enter a least-angle regression (LARS) path on the coalitions, with
//! each coalition also entered as its complement so the selection respects
//! the efficiency constraint; the kept features are then refitted.

use crate::{Error, Result};
use ml_core::ndarray::{Array2, Array3, ArrayView1, ArrayView2, s};
use ml_core::{Dataset, Explainer, Explanation, ExplanationScope, Model, Predictions, Task};
use ml_core::{SeededRng, seeded_rng};
use rand::RngExt;
use rand::seq::SliceRandom;

/// KernelSHAP on a model's output (probabilities for classifiers, values
/// for regressors), over the model's input columns.
#[derive(Debug, Clone)]
pub struct KernelShap {
    /// Background rows in the model's input columns.
    pub background: Array2<f64>,
    /// Coalitions per explained row (`None`: shap's default, 2M + 2048), at
    /// most [`KernelShap::MAX_SAMPLES`].
    pub n_samples: Option<usize>,
    /// Keep only this many features in the regression (`None`: all).
    pub max_features: Option<usize>,
    /// Seed of the coalition sampling.
    pub seed: u64,
}

/// Synthetic rows evaluated per model call: large enough to amortize the
/// call, small enough to stay in cache.
const CHUNK_ROWS: usize = 4096;

/// Explained rows with their flattened `features × outputs` values.
type RowValues = Vec<(usize, Vec<f64>)>;

impl KernelShap {
    /// The most coalitions per explained row.
    pub const MAX_SAMPLES: usize = 10_000_000;

    /// One row's attributions, `features × outputs` flattened.
    #[allow(clippy::too_many_arguments)]
    fn explain_row(
        &self,
        model: &dyn Model,
        row: ArrayView1<'_, f64>,
        bg: ArrayView2<'_, f64>,
        fx: ArrayView1<'_, f64>,
        fnull: &[f64],
        budget: usize,
        rng: &mut SeededRng,
        buf: &mut Array2<f64>,
    ) -> Result<Vec<f64>> {
        let (m, nb, k) = (row.len(), bg.nrows(), fnull.len());
        let mut phi_out = vec![0.0; m * k];
        let vars: Vec<usize> = (0..m).filter(|&j| bg.column(j).iter().any(|&b| b != row[j])).collect();
        let p = vars.len();
        if p == 0 {
            return Ok(phi_out);
        }
        let (masks, weights) = if p == 1 {
            (Vec::new(), Vec::new())
        } else {
            coalitions(p, budget, rng)
        };
        // v(S) - E f for every coalition: the model on the row's values in S
        // and each background row's elsewhere, averaged, in chunks.
        let mut ey = vec![vec![0.0; masks.len()]; k];
        let per_chunk = (CHUNK_ROWS / nb).max(1);
        for (c0, group) in masks.chunks(per_chunk).enumerate().map(|(g, ms)| (g * per_chunk, ms)) {
            let rows = group.len() * nb;
            if buf.nrows() < rows {
                *buf = Array2::zeros((rows, m));
            }
            for (c, mask) in group.iter().enumerate() {
                let mut block = buf.slice_mut(s![c * nb..(c + 1) * nb, ..]);
                block.assign(&bg);
                for (t, &j) in vars.iter().enumerate() {
                    if mask[t] {
                        block.column_mut(j).fill(row[j]);
                    }
                }
            }
            let out = output_matrix(model, buf.slice(s![..rows, ..]))?;
            for c in 0..group.len() {
                for (o, e) in ey.iter_mut().enumerate() {
                    let sum: f64 = (0..nb).map(|b| out[[c * nb + b, o]]).sum();
                    e[c0 + c] = sum / nb as f64 - fnull[o];
                }
            }
        }
        let idx: Vec<usize> = (0..p).collect();
        for (o, ey) in ey.iter().enumerate() {
            let total = fx[o] - fnull[o];
            let mut phi = regress(&masks, &weights, ey, &idx, total)?;
            if let Some(keep) = self.max_features.filter(|&kf| kf < p) {
                let chosen = lars_select(&masks, &weights, ey, total, p, keep)?;
                let refit = regress(&masks, &weights, ey, &chosen, total)?;
                phi = vec![0.0; p];
                for (&j, v) in chosen.iter().zip(refit) {
                    phi[j] = v;
                }
            }
            for (t, &j) in vars.iter().enumerate() {
                phi_out[j * k + o] = phi[t];
            }
        }
        Ok(phi_out)
    }

    /// KernelSHAP against `background` with shap's defaults.
    pub fn new(background: Array2<f64>) -> Self {
        KernelShap {
            background,
            n_samples: None,
            max_features: None,
            seed: 0,
        }
    }

    /// KernelSHAP against up to `max_rows` rows of `x`, evenly spaced (every
    /// `ceil(n / max_rows)`-th row): a background that keeps the cost of
    /// each explanation bounded on a large data set.
    pub fn with_background_from(x: ArrayView2<'_, f64>, max_rows: usize) -> Self {
        let step = x.nrows().div_ceil(max_rows.max(1)).max(1);
        KernelShap::new(x.slice(ml_core::ndarray::s![..;step, ..]).to_owned())
    }
}

/// The model's outputs as a matrix: class probabilities (one-hot labels
/// where the model gives none) or values.
pub(crate) fn output_matrix(model: &dyn Model, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
    Ok(match model.predict(x)? {
        Predictions::Classification {
            probabilities: Some(p), ..
        } => p,
        Predictions::Classification { labels, classes, .. } => {
            Array2::from_shape_fn((labels.len(), classes.len()), |(i, j)| {
                f64::from(u8::from(labels[i] == j))
            })
        }
        Predictions::Regression { values } => values.insert_axis(ml_core::ndarray::Axis(1)),
        _ => {
            return Err(Error::Unsupported(
                "KernelSHAP explains classifiers and regressors".into(),
            ));
        }
    })
}

/// Names of a model's outputs: class names or `value`.
pub(crate) fn output_names(model: &dyn Model) -> Vec<String> {
    match &model.signature().task {
        Task::Classification { classes } => classes.clone(),
        _ => vec!["value".into()],
    }
}

fn binom(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |c, j| c * (n - j) as f64 / (j + 1) as f64)
}

/// The coalitions (membership over the varying features) and their kernel weights.
fn coalitions(m: usize, budget: usize, rng: &mut SeededRng) -> (Vec<Vec<bool>>, Vec<f64>) {
    let total = if m >= 60 { usize::MAX } else { (1usize << m) - 2 };
    let budget = budget.min(total);
    // shap: sizes 1..=ceil((M-1)/2), the middle size unpaired when M is even.
    let n_sizes = (m - 1).div_ceil(2);
    let n_paired = (m - 1) / 2;
    let mut weight: Vec<f64> = (1..=n_sizes).map(|s| (m - 1) as f64 / (s * (m - s)) as f64).collect();
    if n_sizes != n_paired
        && let Some(last) = weight.last_mut()
    {
        *last /= 2.0;
    }
    let sum: f64 = weight.iter().sum();
    weight.iter_mut().for_each(|w| *w /= sum);
    let mut masks = Vec::new();
    let mut weights = Vec::new();
    let mut left = budget;
    let mut remaining = weight.clone();
    let mut full = 0;
    for s in 1..=n_sizes {
        let paired = s <= n_paired;
        let count = binom(m, s) * if paired { 2.0 } else { 1.0 };
        if left as f64 * remaining[s - 1] / count >= 1.0 - 1e-8 {
            full += 1;
            left -= count as usize;
            if remaining[s - 1] < 1.0 {
                let r = remaining[s - 1];
                remaining.iter_mut().for_each(|w| *w /= 1.0 - r);
            }
            let mut w = weight[s - 1] / binom(m, s);
            if paired {
                w /= 2.0;
            }
            for_each_subset(m, s, |mask| {
                masks.push(mask.to_vec());
                weights.push(w);
                if paired {
                    masks.push(mask.iter().map(|b| !b).collect());
                    weights.push(w);
                }
            });
        } else {
            break;
        }
    }
    if full < n_sizes && left > 0 {
        let fixed = masks.len();
        let rest: Vec<f64> = weight[full..].to_vec();
        let rest_sum: f64 = rest.iter().sum();
        let weight_left: f64 = weight[full..].iter().sum();
        let mut seen: std::collections::HashMap<Vec<bool>, usize> = std::collections::HashMap::new();
        let mut order: Vec<usize> = (0..m).collect();
        let mut tries = 0;
        while left > 0 && tries < 4 * budget.max(1) {
            tries += 1;
            // A size by the remaining kernel weights.
            let mut u = rng.random::<f64>() * rest_sum;
            let mut s = full + 1;
            for (i, w) in rest.iter().enumerate() {
                if u < *w {
                    s = full + 1 + i;
                    break;
                }
                u -= w;
            }
            order.shuffle(rng);
            let mut mask = vec![false; m];
            for &j in &order[..s] {
                mask[j] = true;
            }
            let mut add = |mask: Vec<bool>, masks: &mut Vec<Vec<bool>>, weights: &mut Vec<f64>, left: &mut usize| {
                if let Some(&at) = seen.get(&mask) {
                    weights[at] += 1.0;
                } else {
                    seen.insert(mask.clone(), masks.len());
                    masks.push(mask);
                    weights.push(1.0);
                    *left -= 1;
                }
            };
            let complement: Vec<bool> = mask.iter().map(|b| !b).collect();
            add(mask, &mut masks, &mut weights, &mut left);
            if left > 0 && s <= n_paired {
                add(complement, &mut masks, &mut weights, &mut left);
            }
        }
        let sampled: f64 = weights[fixed..].iter().sum();
        if sampled > 0.0 {
            weights[fixed..].iter_mut().for_each(|w| *w *= weight_left / sampled);
        }
    }
    (masks, weights)
}

fn for_each_subset(m: usize, s: usize, mut f: impl FnMut(&[bool])) {
    let mut idx: Vec<usize> = (0..s).collect();
    let mut mask = vec![false; m];
    loop {
        mask.iter_mut().for_each(|b| *b = false);
        for &i in &idx {
            mask[i] = true;
        }
        f(&mask);
        // Next combination in lexicographic order.
        let mut i = s;
        while i > 0 && idx[i - 1] == m - s + i - 1 {
            i -= 1;
        }
        if i == 0 {
            return;
        }
        idx[i - 1] += 1;
        for j in i..s {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

/// Solve `a z = b` by Gaussian elimination with partial pivoting.
pub(crate) fn solve(mut a: Array2<f64>, mut b: Vec<f64>) -> Result<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[[i, c]].abs().total_cmp(&a[[j, c]].abs()))
            .unwrap_or(c);
        if a[[p, c]].abs() < 1e-300 {
            return Err(Error::invalid(
                "kernel_shap",
                "singular linear system (too few samples for the features)",
            ));
        }
        if p != c {
            for k in 0..n {
                a.swap([p, k], [c, k]);
            }
            b.swap(p, c);
        }
        for r in c + 1..n {
            let f = a[[r, c]] / a[[c, c]];
            if f != 0.0 {
                for k in c..n {
                    a[[r, k]] -= f * a[[c, k]];
                }
                b[r] -= f * b[c];
            }
        }
    }
    let mut z = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[[r, k]] * z[k]).sum();
        z[r] = (b[r] - s) / a[[r, r]];
    }
    Ok(z)
}

/// The first `keep` features to enter the LARS path (Efron, Hastie,
/// Johnstone, Tibshirani 2004; scikit-learn's `lars_path`, method "lar",
/// no intercept) of shap's augmented problem: rows `sqrt(w (M - |S|))·z` with
/// targets `ey`, and `sqrt(w |S|)·(z - 1)` with targets `ey - total`.
fn lars_select(
    masks: &[Vec<bool>],
    weights: &[f64],
    ey: &[f64],
    total: f64,
    p: usize,
    keep: usize,
) -> Result<Vec<usize>> {
    let mut x = Vec::with_capacity(2 * masks.len());
    let mut y = Vec::with_capacity(2 * masks.len());
    for ((mask, &w), &e) in masks.iter().zip(weights).zip(ey) {
        let size = mask.iter().filter(|&&b| b).count() as f64;
        let (a, b) = ((w * (p as f64 - size)).sqrt(), (w * size).sqrt());
        x.push(mask.iter().map(|&m| a * f64::from(u8::from(m))).collect::<Vec<f64>>());
        y.push(a * e);
        x.push(
            mask.iter()
                .map(|&m| b * (f64::from(u8::from(m)) - 1.0))
                .collect::<Vec<f64>>(),
        );
        y.push(b * (e - total));
    }
    let n = x.len();
    let xr = &x;
    let col = |j: usize| (0..n).map(move |i| xr[i][j]);
    let mut active: Vec<usize> = Vec::new();
    let mut signs: Vec<f64> = Vec::new();
    let mut residual = y.clone();
    while active.len() < keep.min(p) {
        let c: Vec<f64> = (0..p)
            .map(|j| col(j).zip(&residual).map(|(a, r)| a * r).sum())
            .collect();
        let cmax = (0..p)
            .filter(|j| !active.contains(j))
            .max_by(|&a, &b| c[a].abs().total_cmp(&c[b].abs()));
        let Some(j) = cmax else { break };
        let big_c = c[j].abs();
        if big_c <= 1e-14 {
            break;
        }
        active.push(j);
        signs.push(c[j].signum());
        // Equiangular direction of the active, signed columns.
        let q = active.len();
        let xa: Vec<Vec<f64>> = active
            .iter()
            .zip(&signs)
            .map(|(&a, &sg)| col(a).map(|v| v * sg).collect())
            .collect();
        let mut gram = Array2::<f64>::zeros((q, q));
        for r in 0..q {
            for s in 0..q {
                gram[[r, s]] = xa[r].iter().zip(&xa[s]).map(|(u, v)| u * v).sum();
            }
        }
        let g1 = solve(gram, vec![1.0; q])?;
        let aa = 1.0 / g1.iter().sum::<f64>().max(1e-300).sqrt();
        let w: Vec<f64> = g1.iter().map(|v| v * aa).collect();
        let u: Vec<f64> = (0..n).map(|i| (0..q).map(|r| xa[r][i] * w[r]).sum()).collect();
        let mut gamma = big_c / aa;
        for k in (0..p).filter(|k| !active.contains(k)) {
            let ak: f64 = col(k).zip(&u).map(|(a, b)| a * b).sum();
            for cand in [(big_c - c[k]) / (aa - ak), (big_c + c[k]) / (aa + ak)] {
                if cand > 1e-12 && cand < gamma {
                    gamma = cand;
                }
            }
        }
        for (r, ui) in residual.iter_mut().zip(&u) {
            *r -= gamma * ui;
        }
    }
    active.sort_unstable();
    Ok(active)
}

/// The constrained weighted least squares: attributions of the `vars`
/// features (the last one eliminated by the efficiency constraint).
fn regress(masks: &[Vec<bool>], weights: &[f64], ey: &[f64], vars: &[usize], total: f64) -> Result<Vec<f64>> {
    let p = vars.len();
    if p == 1 {
        return Ok(vec![total]);
    }
    let last = vars[p - 1];
    let q = p - 1;
    let mut ata = Array2::<f64>::zeros((q, q));
    let mut atb = vec![0.0; q];
    let mut row = vec![0.0; q];
    for ((mask, &w), &y) in masks.iter().zip(weights).zip(ey) {
        let zl = f64::from(u8::from(mask[last]));
        for (r, &j) in row.iter_mut().zip(vars) {
            *r = f64::from(u8::from(mask[j])) - zl;
        }
        let yy = y - zl * total;
        for a in 0..q {
            if row[a] == 0.0 {
                continue;
            }
            atb[a] += w * row[a] * yy;
            for b in 0..q {
                ata[[a, b]] += w * row[a] * row[b];
            }
        }
    }
    let mut z = solve(ata, atb)?;
    let rest = total - z.iter().sum::<f64>();
    z.push(rest);
    Ok(z)
}

impl Explainer for KernelShap {
    fn name(&self) -> &str {
        "kernel_shap"
    }

    fn explain(&self, model: &dyn Model, data: &Dataset) -> ml_core::Result<Explanation> {
        let x = data.features();
        let bg = self.background.view();
        let m = x.ncols();
        if bg.nrows() == 0 {
            return Err(Error::invalid("background", "no background rows").into());
        }
        if bg.ncols() != m {
            return Err(ml_core::Error::Shape {
                op: "kernel_shap background",
                expected: format!("{m} columns, as the data"),
                got: format!("{} columns", bg.ncols()),
            });
        }
        if let Some(v) = bg.iter().find(|v| !v.is_finite()) {
            return Err(Error::invalid("background", format!("non-finite value {v}")).into());
        }
        if let Some(0) = self.max_features {
            return Err(Error::invalid("max_features", "must be at least 1").into());
        }
        let fx = output_matrix(model, x)?;
        let fbg = output_matrix(model, bg)?;
        let k = fx.ncols();
        let nb = bg.nrows();
        let fnull: Vec<f64> = (0..k).map(|o| fbg.column(o).sum() / nb as f64).collect();
        let budget = self.n_samples.unwrap_or(2 * m + 2048);
        let n = x.nrows();
        ml_core::limits::check_count("n_samples", budget, 1..=Self::MAX_SAMPLES)?;
        ml_core::limits::check_work(
            "n_samples",
            budget as f64 * m as f64 * 8.0 * 2.0,
            "sample fewer coalitions",
        )?;
        ml_core::limits::check_evaluations(
            "n_samples",
            budget as f64 * nb as f64 * n as f64,
            "sample fewer coalitions, use a smaller background or explain fewer rows",
        )?;
        // Rows are explained in parallel, each with its own generator seeded
        // from (seed, row), so the result does not depend on the threads.
        let threads = std::thread::available_parallelism()
            .map_or(1, |p| p.get())
            .min(n.max(1));
        let per = n.div_ceil(threads.max(1)).max(1);
        let results: Vec<Result<RowValues>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .step_by(per)
                .map(|start| {
                    let (fx, fnull) = (&fx, &fnull);
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        let mut buf = Array2::<f64>::zeros((0, m));
                        for i in start..(start + per).min(n) {
                            let mut rng = seeded_rng(self.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                            let phi =
                                self.explain_row(model, x.row(i), bg, fx.row(i), fnull, budget, &mut rng, &mut buf)?;
                            out.push((i, phi));
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::invalid("kernel_shap", "a worker thread panicked")))
                })
                .collect()
        });
        let mut values = Array3::<f64>::zeros((n, m, k));
        for part in results {
            for (i, phi) in part? {
                for j in 0..m {
                    for o in 0..k {
                        values[[i, j, o]] = phi[j * k + o];
                    }
                }
            }
        }
        let n = x.nrows();
        Ok(Explanation {
            method: "kernel_shap".into(),
            scope: ExplanationScope::Local,
            feature_names: data.feature_names(),
            output_names: output_names(model),
            base_values: Array2::from_shape_fn((n, k), |(_, o)| fnull[o]),
            values,
        })
    }
}
