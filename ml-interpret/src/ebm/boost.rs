//! Cyclic boosting of the main effects: gradients, one small tree per feature per round, bags.

#[allow(clippy::wildcard_imports)]
use super::*;

/// One bag's boosting on its training rows, early-stopped on its
/// validation rows; returns shape functions (per feature, `k` values per
/// bin) and rounds.
#[allow(clippy::too_many_arguments)]
pub(super) fn boost_bag(
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
pub(super) enum Objective {
    Squared,
    Logistic,
    Softmax(usize),
}

impl Objective {
    /// Scores per row.
    pub(super) fn k(self) -> usize {
        match self {
            Objective::Softmax(k) => k,
            _ => 1,
        }
    }

    /// Mean loss over `rows` of scores laid out `k` per row: squared
    /// error, logistic (`log(1 + e^z) - y z`, stable) or cross-entropy.
    pub(super) fn mean_loss(self, score: &[f64], y: &[f64], rows: &[usize]) -> f64 {
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
    pub(super) fn grad_hess(self, s: &[f64], t: f64, g: &mut [f64], h: &mut [f64]) {
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
pub(super) fn step_tree(
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

/// Gradients and Hessians of the loss at the current scores (`k` per row).
pub(super) fn grad_hess(score: &[f64], y: &[f64], objective: Objective) -> (Vec<f64>, Vec<f64>) {
    let k = objective.k();
    let (mut g, mut h) = (vec![0.0; score.len()], vec![0.0; score.len()]);
    for (i, &t) in y.iter().enumerate() {
        let r = i * k..(i + 1) * k;
        objective.grad_hess(&score[r.clone()], t, &mut g[r.clone()], &mut h[r]);
    }
    (g, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_are_the_negative_loss_slopes_and_hessians_their_curvature() {
        // Squared error: residual and 1.
        let (g, h) = grad_hess(&[0.5, 2.0], &[1.0, 1.0], Objective::Squared);
        assert_eq!((g, h), (vec![0.5, -1.0], vec![1.0, 1.0]));
        // Logistic at score 0: p = 1/2.
        let (g, h) = grad_hess(&[0.0, 0.0], &[1.0, 0.0], Objective::Logistic);
        assert_eq!((g, h), (vec![0.5, -0.5], vec![0.25, 0.25]));
        // Each gradient matches a finite difference of the mean loss (of half
        // the squared error, the usual convention, for regression).
        for (objective, half) in [
            (Objective::Squared, 0.5),
            (Objective::Logistic, 1.0),
            (Objective::Softmax(3), 1.0),
        ] {
            let k = objective.k();
            let score: Vec<f64> = (0..2 * k).map(|i| 0.3 * i as f64 - 0.4).collect();
            let y = [1.0, 0.0];
            let (g, _) = grad_hess(&score, &y, objective);
            for (j, gj) in g.iter().enumerate() {
                let (mut up, mut down) = (score.clone(), score.clone());
                up[j] += 1e-6;
                down[j] -= 1e-6;
                // The mean over two rows: the slope of the sum is twice it.
                let slope =
                    half * 2.0 * (objective.mean_loss(&up, &y, &[0, 1]) - objective.mean_loss(&down, &y, &[0, 1]))
                        / 2e-6;
                assert!((gj + slope).abs() < 1e-6, "{j}: {gj} vs {}", -slope);
            }
        }
    }
}
