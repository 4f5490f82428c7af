//! Pairwise interactions: FAST ranking on the residuals, boosting over coarse bins, two-feature trees.

#[allow(clippy::wildcard_imports)]
use super::*;

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

/// FAST's score of a pair: the best gain of one cut on each feature (four
/// quadrants, Newton values) over the 2-d histogram of gradients (`k`
/// scores per row: gains summed over them).
#[allow(clippy::too_many_arguments)]
pub(super) fn pair_gain(
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

/// One bag's boosting of the interaction tables (`k` values per cell) on
/// top of fixed scores, early-stopped on its validation rows. An
/// improvement counts when it is `early_stopping_tolerance` of the larger
/// of the loss and `floor` (the intercept-only model's loss): pairs can
/// drive a small validation set's loss towards zero, where a constant
/// relative gain per round kept the boosting going for tens of thousands
/// of rounds (`benches/compare_ebm_pairs.py`, BENCHMARKS.md).
#[allow(clippy::too_many_arguments)]
pub(super) fn boost_pairs(
    cfg: &Ebm,
    lr: f64,
    pairs: &[(usize, usize)],
    coarse: &[Vec<usize>],
    n_coarse: &[usize],
    y: &[f64],
    objective: Objective,
    base: &[f64],
    (train, valid): (&[usize], &[usize]),
    floor: f64,
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
        if l < best.0 - cfg.early_stopping_tolerance * best.0.abs().max(floor) {
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
pub(super) fn pair_tree(p: &PairTerm, counts: &[Vec<f64>]) -> Tree {
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
                    missing_left: false,
                    categories: None,
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
                    missing_left: false,
                    categories: None,
                });
            }
        }
        at
    }
    build(&mut nodes, p, counts, (fa, fb), (ea, eb), (0, ea.len()), None);
    Tree { nodes }
}
