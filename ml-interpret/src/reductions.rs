//! Fairness mitigation by reduction: the exponentiated-gradient algorithm
//! of Agarwal, Beygelzimer, Dudík, Langford, Wallach ("A Reductions
//! Approach to Fair Classification", ICML 2018), in the form of Fairlearn's
//! `ExponentiatedGradient`: a zero-sum game between a learner that fits any
//! [`Trainer`] to reweighted, relabelled data (the best response to the
//! current Lagrange multipliers) and multipliers updated by exponentiated
//! gradient on the constraint violations. The result is a randomized
//! classifier: a distribution over the fitted models.
//!
//! As Fairlearn does, each iteration after the first also solves the
//! linear program for the best mix of the learners found so far (least
//! error plus `B` times the largest violation) and keeps whichever of that
//! mix and the averaged play has the smaller duality gap. Difference from
//! Fairlearn: a trainer that cannot take sample weights is fitted on a
//! weighted resample instead of being refused.

use ml_core::ndarray::{Array1, Array2, ArrayView2};
use ml_core::{Dataset, Error, Model, ModelSpec, Predictions, Result, Signature, Target, Task, Trainer};
use ml_core::{SeededRng, seeded_rng};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The constraint, as a moment of the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// Selection rate equal across groups.
    DemographicParity,
    /// True- and false-positive rates equal across groups.
    EqualizedOdds,
    /// True-positive rate equal across groups.
    TruePositiveRateParity,
    /// False-positive rate equal across groups.
    FalsePositiveRateParity,
    /// Error rate equal across groups.
    ErrorRateParity,
}

impl Moment {
    /// Parse Fairlearn's name.
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "demographic_parity" => Moment::DemographicParity,
            "equalized_odds" => Moment::EqualizedOdds,
            "true_positive_rate_parity" | "equal_opportunity" => Moment::TruePositiveRateParity,
            "false_positive_rate_parity" => Moment::FalsePositiveRateParity,
            "error_rate_parity" => Moment::ErrorRateParity,
            _ => {
                return Err(Error::invalid(
                    "constraint",
                    format!(
                        "unknown constraint '{s}' (known: demographic_parity, equalized_odds, \
                         true_positive_rate_parity, false_positive_rate_parity, error_rate_parity)"
                    ),
                ));
            }
        })
    }

    /// The event of a row with label `y` (`None`: the row is in no constraint).
    fn event(&self, y: usize) -> Option<usize> {
        match self {
            Moment::DemographicParity | Moment::ErrorRateParity => Some(0),
            Moment::EqualizedOdds => Some(y),
            Moment::TruePositiveRateParity => (y == 1).then_some(0),
            Moment::FalsePositiveRateParity => (y == 0).then_some(0),
        }
    }
}

/// The problem's fixed parts: labels, groups, events and their sizes.
struct Problem {
    moment: Moment,
    y: Vec<usize>,
    group: Vec<usize>,
    event: Vec<Option<usize>>,
    n_groups: usize,
    n_events: usize,
    /// Rows per (event, group) and per event.
    n_ge: Vec<f64>,
    n_e: Vec<f64>,
    bound: f64,
}

impl Problem {
    fn new(moment: Moment, y: Vec<usize>, groups: &[String], bound: f64) -> Self {
        let mut keys: Vec<&String> = groups.iter().collect();
        keys.sort();
        keys.dedup();
        let group: Vec<usize> = groups.iter().map(|g| keys.binary_search(&g).unwrap_or(0)).collect();
        let n_events = if moment == Moment::EqualizedOdds { 2 } else { 1 };
        let event: Vec<Option<usize>> = y.iter().map(|&l| moment.event(l)).collect();
        let mut n_ge = vec![0.0; n_events * keys.len()];
        let mut n_e = vec![0.0; n_events];
        for i in 0..y.len() {
            if let Some(e) = event[i] {
                n_ge[e * keys.len() + group[i]] += 1.0;
                n_e[e] += 1.0;
            }
        }
        Problem {
            moment,
            y,
            group,
            event,
            n_groups: keys.len(),
            n_events,
            n_ge,
            n_e,
            bound,
        }
    }

    fn k(&self) -> usize {
        self.n_events * self.n_groups * 2
    }

    fn idx(&self, e: usize, g: usize, plus: bool) -> usize {
        (e * self.n_groups + g) * 2 + usize::from(!plus)
    }

    /// The utility of row i under prediction h: the prediction, or the error.
    fn utility(&self, i: usize, h: f64) -> f64 {
        match self.moment {
            Moment::ErrorRateParity => {
                if self.y[i] == 1 {
                    1.0 - h
                } else {
                    h
                }
            }
            _ => h,
        }
    }

    /// Error and constraint values (`γ - bound`) of predictions in [0, 1].
    fn evaluate(&self, h: &[f64]) -> (f64, Vec<f64>) {
        let n = h.len() as f64;
        let error = h
            .iter()
            .zip(&self.y)
            .map(|(&p, &y)| if y == 1 { 1.0 - p } else { p })
            .sum::<f64>()
            / n;
        let mut sum_ge = vec![0.0; self.n_events * self.n_groups];
        let mut sum_e = vec![0.0; self.n_events];
        for i in 0..h.len() {
            if let Some(e) = self.event[i] {
                let u = self.utility(i, h[i]);
                sum_ge[e * self.n_groups + self.group[i]] += u;
                sum_e[e] += u;
            }
        }
        let mut gamma = vec![0.0; self.k()];
        for e in 0..self.n_events {
            let mu_e = if self.n_e[e] > 0.0 { sum_e[e] / self.n_e[e] } else { 0.0 };
            for g in 0..self.n_groups {
                let c = self.n_ge[e * self.n_groups + g];
                let d = if c > 0.0 {
                    sum_ge[e * self.n_groups + g] / c - mu_e
                } else {
                    0.0
                };
                gamma[self.idx(e, g, true)] = d - self.bound;
                gamma[self.idx(e, g, false)] = -d - self.bound;
            }
        }
        (error, gamma)
    }

    /// Fairlearn's projection of the multipliers: within an event,
    /// `Σ_g P(g|e) γ_(e,g)` is 0, so shifting `λ+ - λ-` by a multiple of
    /// `P(g|e)` keeps `λ·γ`; the weighted median shift has the least L1
    /// norm, which removes the bound's cost of multipliers that cancel.
    fn project(&self, lambda: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.k()];
        for e in 0..self.n_events {
            let groups: Vec<usize> = (0..self.n_groups)
                .filter(|&g| self.n_ge[e * self.n_groups + g] > 0.0)
                .collect();
            let prob: Vec<f64> = groups
                .iter()
                .map(|&g| self.n_ge[e * self.n_groups + g] / self.n_e[e])
                .collect();
            let mut signed: Vec<f64> = groups
                .iter()
                .map(|&g| lambda[self.idx(e, g, true)] - lambda[self.idx(e, g, false)])
                .collect();
            if groups.is_empty() {
                continue;
            }
            let normalized: Vec<f64> = signed.iter().zip(&prob).map(|(s, p)| s / p).collect();
            let mut order: Vec<usize> = (0..groups.len()).collect();
            order.sort_by(|&a, &b| normalized[a].total_cmp(&normalized[b]));
            let half = prob.iter().sum::<f64>() / 2.0;
            let mut cum = 0.0;
            let mut at = order[order.len() - 1];
            for &o in &order {
                cum += prob[o];
                if cum >= half {
                    at = o;
                    break;
                }
            }
            let shift = normalized[at];
            for (s, p) in signed.iter_mut().zip(&prob) {
                *s -= p * shift;
            }
            for (&g, s) in groups.iter().zip(signed) {
                out[self.idx(e, g, true)] = s.max(0.0);
                out[self.idx(e, g, false)] = (-s).max(0.0);
            }
        }
        out
    }

    /// Per row, the gain of predicting 1 over 0 in the Lagrangian
    /// `error + λ·γ` (positive: predicting 1 is better).
    fn signed_weights(&self, lambda: &[f64]) -> Vec<f64> {
        let n = self.y.len() as f64;
        let mut per_event = vec![0.0; self.n_events];
        for (e, pe) in per_event.iter_mut().enumerate() {
            if self.n_e[e] > 0.0 {
                *pe = (0..self.n_groups)
                    .map(|g| lambda[self.idx(e, g, true)] - lambda[self.idx(e, g, false)])
                    .sum::<f64>()
                    / self.n_e[e];
            }
        }
        (0..self.y.len())
            .map(|i| {
                let err_cost = if self.y[i] == 1 { -1.0 / n } else { 1.0 / n };
                let fair_cost = match self.event[i] {
                    Some(e) => {
                        let g = self.group[i];
                        let c = self.n_ge[e * self.n_groups + g];
                        let du = if self.moment == Moment::ErrorRateParity && self.y[i] == 1 {
                            -1.0
                        } else {
                            1.0
                        };
                        let own = (lambda[self.idx(e, g, true)] - lambda[self.idx(e, g, false)]) / c;
                        du * (own - per_event[e])
                    }
                    None => 0.0,
                };
                -(err_cost + fair_cost)
            })
            .collect()
    }
}

/// The labels and class names of a two-class target, with one group per row.
fn binary_target<'a>(data: &'a Dataset, groups: &[String]) -> Result<(Vec<usize>, &'a Vec<String>)> {
    let Some(Target::Classes { labels, names }) = data.target() else {
        return Err(Error::invalid("target", "fairness reductions need class labels"));
    };
    if names.len() != 2 {
        return Err(Error::invalid(
            "target",
            format!("fairness reductions are binary; the target has {} classes", names.len()),
        ));
    }
    if groups.len() != data.n_samples() {
        return Err(Error::invalid(
            "sensitive",
            format!("{} group values for {} rows", groups.len(), data.n_samples()),
        ));
    }
    Ok((labels.to_vec(), names))
}

/// Fairlearn's `GridSearch`: best responses to a grid of Lagrange
/// multipliers (one signed multiplier per group and event, the first group
/// of each event fixed at 0, on Fairlearn's integer lattice of L1 norm at
/// most `n` scaled to `grid_limit`), and the one minimizing
/// `constraint_weight · largest violation + (1 - constraint_weight) · error`
/// (its "tradeoff_optimization"). The result is one deterministic model.
#[derive(Debug, Clone)]
pub struct GridSearch {
    /// The constraint.
    pub moment: Moment,
    /// Grid points.
    pub grid_size: usize,
    /// Largest multiplier.
    pub grid_limit: f64,
    /// Weight of the disparity against the error in the selection.
    pub constraint_weight: f64,
    /// Seed of the weighted resampling (trainers without sample weights).
    pub seed: u64,
}

/// One grid point's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct GridPoint {
    /// The signed multipliers, per event and group (the first group's left out).
    pub lambda: Vec<f64>,
    /// Training error.
    pub error: f64,
    /// Largest constraint violation (`max ± (μ_group - μ)`).
    pub disparity: f64,
}

/// The model GridSearch selected, and every grid point.
#[derive(Debug)]
pub struct GridSearchResult {
    /// The selected model.
    pub model: MitigatedClassifier,
    /// Index of the selected point in `points`.
    pub best: usize,
    /// Every point tried.
    pub points: Vec<GridPoint>,
}

impl GridSearch {
    /// Fairlearn's defaults: 10 points, limit 2, equal weights.
    pub fn new(moment: Moment) -> Self {
        GridSearch {
            moment,
            grid_size: 10,
            grid_limit: 2.0,
            constraint_weight: 0.5,
            seed: 0,
        }
    }

    /// Fit on `data` (two classes) with `groups`.
    ///
    /// # Errors
    /// As [`ExponentiatedGradient::fit`].
    pub fn fit(&self, trainer: &dyn Trainer, data: &Dataset, groups: &[String]) -> Result<GridSearchResult> {
        let (labels, names) = binary_target(data, groups)?;
        if self.grid_size == 0
            || self.grid_limit.is_nan()
            || self.grid_limit <= 0.0
            || !(0.0..=1.0).contains(&self.constraint_weight)
        {
            return Err(Error::invalid(
                "grid search",
                "needs grid_size >= 1, grid_limit > 0, constraint_weight in [0, 1]",
            ));
        }
        let p = Problem::new(self.moment, labels, groups, 0.0);
        let dims: Vec<(usize, usize)> = (0..p.n_events)
            .flat_map(|e| (1..p.n_groups).map(move |g| (e, g)))
            .collect();
        let mut game = Game::new(&p, trainer, data, self.seed);
        let mut points = Vec::new();
        let mut models = Vec::new();
        for (units, point) in integer_grid(dims.len(), self.grid_size) {
            let scale = if units == 0 {
                0.0
            } else {
                self.grid_limit / units as f64
            };
            let mut lambda = vec![0.0; p.k()];
            for (&(e, g), &v) in dims.iter().zip(&point) {
                let v = v as f64 * scale;
                lambda[p.idx(e, g, true)] = v.max(0.0);
                lambda[p.idx(e, g, false)] = (-v).max(0.0);
            }
            let learner = game.respond(&lambda)?;
            let preds = learner.predict(data.features())?;
            let (error, gamma) = p.evaluate(&preds);
            points.push(GridPoint {
                lambda: point.iter().map(|&v| v as f64 * scale).collect(),
                error,
                disparity: gamma.iter().copied().fold(0.0, f64::max),
            });
            models.push(learner);
        }
        let w = self.constraint_weight;
        let loss = |q: &GridPoint| w * q.disparity + (1.0 - w) * q.error;
        let best = (0..points.len())
            .min_by(|&a, &b| loss(&points[a]).total_cmp(&loss(&points[b])))
            .unwrap_or(0);
        let model = MitigatedClassifier {
            signature: Signature {
                inputs: data.columns().to_vec(),
                unknown_category: Default::default(),
                task: Task::Classification { classes: names.clone() },
            },
            learners: vec![models.swap_remove(best)],
            weights: vec![1.0],
            iterations: points.len(),
            best_gap: f64::NAN,
        };
        Ok(GridSearchResult { model, best, points })
    }
}

/// Fairlearn's integer lattice: the first `size` vectors (in its
/// enumeration order) of integers with L1 norm at most `n`, for the
/// smallest `n` (from its first guess) that gives `size` of them.
fn integer_grid(dim: usize, size: usize) -> Vec<(usize, Vec<i64>)> {
    fn acc(index: usize, max_val: i64, entry: &mut Vec<i64>, out: &mut Vec<Vec<i64>>) {
        if index == entry.len() {
            out.push(entry.clone());
            return;
        }
        for v in -max_val..=max_val {
            entry[index] = v;
            acc(index + 1, max_val - v.abs(), entry, out);
        }
    }
    if dim == 0 {
        return vec![(0, vec![])];
    }
    let guess = ((size as f64 / 2f64.powi(dim as i32)).powf(1.0 / dim as f64) - 1.0).floor();
    let mut n = guess.max(0.0) as i64;
    loop {
        let mut out = Vec::new();
        acc(0, n, &mut vec![0; dim], &mut out);
        if out.len() >= size {
            out.truncate(size);
            return out.into_iter().map(|p| (n as usize, p)).collect();
        }
        n += 1;
    }
}

/// One fitted learner: a model, or a constant where the reweighted labels
/// were all one class.
#[derive(Debug)]
enum Learner {
    Model(Box<dyn Model>),
    Constant(usize),
}

impl Learner {
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        Ok(match self {
            Learner::Constant(c) => vec![*c as f64; x.nrows()],
            Learner::Model(m) => match m.predict(x)? {
                Predictions::Classification { labels, .. } => labels.iter().map(|&l| l as f64).collect(),
                _ => return Err(Error::Unsupported("the trainer did not fit a classifier".into())),
            },
        })
    }
}

/// Fairlearn's `ExponentiatedGradient` over any trainer.
#[derive(Debug, Clone)]
pub struct ExponentiatedGradient {
    /// The constraint.
    pub moment: Moment,
    /// Allowed violation of each constraint (Fairlearn's `difference_bound`).
    pub difference_bound: f64,
    /// `1 / B`, where B bounds the multipliers' L1 norm (Fairlearn's `eps`).
    pub eps: f64,
    /// Iterations at most.
    pub max_iter: usize,
    /// Initial step size (times 1/B).
    pub eta0: f64,
    /// Seed of the weighted resampling (trainers without sample weights).
    pub seed: u64,
    /// Solve the best-mix linear program each iteration (Fairlearn's
    /// `run_linprog_step`); without it the result is the averaged play of
    /// the best iteration (Algorithm 1 of the paper).
    pub run_linprog_step: bool,
}

impl ExponentiatedGradient {
    /// Fairlearn's defaults.
    pub fn new(moment: Moment) -> Self {
        ExponentiatedGradient {
            moment,
            difference_bound: 0.01,
            eps: 0.01,
            max_iter: 50,
            eta0: 2.0,
            seed: 0,
            run_linprog_step: true,
        }
    }

    /// Fit on `data` (two classes; the second is positive) with `groups`
    /// (one sensitive value per row).
    ///
    /// # Errors
    /// A target that is not two classes, groups of the wrong length, bad
    /// parameters, the trainer's failures.
    pub fn fit(&self, trainer: &dyn Trainer, data: &Dataset, groups: &[String]) -> Result<MitigatedClassifier> {
        let (labels, names) = binary_target(data, groups)?;
        let n = data.n_samples();
        if !(self.eps > 0.0 && self.difference_bound >= 0.0 && self.eta0 > 0.0) || self.max_iter == 0 {
            return Err(Error::invalid(
                "exponentiated gradient",
                "needs eps > 0, bound >= 0, eta0 > 0, max_iter >= 1",
            ));
        }
        let p = Problem::new(self.moment, labels, groups, self.difference_bound);
        let mut game = Game::new(&p, trainer, data, self.seed);
        let b = 1.0 / self.eps;
        let k = p.k();
        let mut theta = vec![0.0f64; k];
        let mut lambda_sum = vec![0.0; k];
        let mut q_sum: Vec<f64> = Vec::new();
        let (mut nu, mut eta) = (0.0, 0.0);
        let mut gaps = Vec::new();
        let mut gaps_eg = Vec::new();
        let mut qs: Vec<Vec<f64>> = Vec::new();
        // The last program's learner count and result: it changes only when
        // a learner is added.
        let mut last_lp: Option<(usize, Vec<f64>, f64)> = None;
        let (mut last_checked, mut last_gap) = (5usize, f64::INFINITY);
        for t in 0..self.max_iter {
            let ex: Vec<f64> = theta.iter().map(|v| v.exp()).collect();
            let denom = 1.0 + ex.iter().sum::<f64>();
            let lambda: Vec<f64> = ex.iter().map(|v| b * v / denom).collect();
            lambda_sum.iter_mut().zip(&lambda).for_each(|(s, l)| *s += l);
            let lambda_eg: Vec<f64> = lambda_sum.iter().map(|s| s / (t + 1) as f64).collect();
            let h = game.best_h(&lambda)?;
            if t == 0 {
                // Fairlearn's nu: half the standard deviation of h's errors over sqrt(n).
                let errs: Vec<f64> = game.outcomes[h]
                    .preds
                    .iter()
                    .zip(&p.y)
                    .map(|(&a, &y)| (a - y as f64).abs())
                    .collect();
                let mean = errs.iter().sum::<f64>() / n as f64;
                let var = errs.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0).max(1.0);
                nu = 0.5 * var.sqrt() / (n as f64).sqrt();
                eta = self.eta0 / b;
            }
            if q_sum.len() < game.learners.len() {
                q_sum.resize(game.learners.len(), 0.0);
            }
            q_sum[h] += 1.0;
            let total: f64 = q_sum.iter().sum();
            let q: Vec<f64> = q_sum.iter().map(|v| v / total).collect();
            let gap_eg = game.gap(&q, &lambda_eg, nu, b)?;
            gaps_eg.push(gap_eg);
            let lp = if t == 0 || !self.run_linprog_step {
                None
            } else {
                let n_hs = game.outcomes.len();
                match &last_lp {
                    Some((n, q_lp, gap_lp)) if *n == n_hs => Some((q_lp.clone(), *gap_lp)),
                    _ => match game.best_mix(b) {
                        Some((q_lp, lambda_lp)) => {
                            let gap_lp = game.gap(&q_lp, &lambda_lp, nu, b)?;
                            last_lp = Some((n_hs, q_lp.clone(), gap_lp));
                            Some((q_lp, gap_lp))
                        }
                        None => None,
                    },
                }
            };
            let gap = match lp {
                Some((q_lp, gap_lp)) if gap_lp <= gap_eg => {
                    qs.push(q_lp);
                    gap_lp
                }
                _ => {
                    qs.push(q);
                    gap_eg
                }
            };
            gaps.push(gap);
            if gap < nu && t >= 5 {
                break;
            }
            if t as f64 >= last_checked as f64 * 1.6 {
                let best = gaps_eg.iter().copied().fold(f64::INFINITY, f64::min);
                if best > last_gap * 0.8 {
                    eta *= 0.8;
                }
                last_checked = t;
                last_gap = best;
            }
            let gamma = &game.outcomes[h].gamma;
            theta.iter_mut().zip(gamma).for_each(|(th, g)| *th += eta * g);
        }
        let min_gap = gaps.iter().copied().fold(f64::INFINITY, f64::min);
        let best_iter = gaps.iter().rposition(|&g| g <= min_gap + 1e-8).unwrap_or(0);
        let mut weights = qs[best_iter].clone();
        weights.resize(game.learners.len(), 0.0);
        let Game { learners, .. } = game;
        Ok(MitigatedClassifier {
            signature: Signature {
                inputs: data.columns().to_vec(),
                unknown_category: Default::default(),
                task: Task::Classification { classes: names.clone() },
            },
            learners,
            weights,
            iterations: gaps.len(),
            best_gap: gaps[best_iter],
        })
    }
}

struct Outcome {
    preds: Vec<f64>,
    error: f64,
    gamma: Vec<f64>,
}

struct Game<'a> {
    p: &'a Problem,
    trainer: &'a dyn Trainer,
    data: &'a Dataset,
    learners: Vec<Learner>,
    outcomes: Vec<Outcome>,
    rng: SeededRng,
}

impl<'a> Game<'a> {
    fn new(p: &'a Problem, trainer: &'a dyn Trainer, data: &'a Dataset, seed: u64) -> Self {
        Game {
            p,
            trainer,
            data,
            learners: Vec::new(),
            outcomes: Vec::new(),
            rng: seeded_rng(seed),
        }
    }

    /// `error + λ·(γ - bound)` with λ projected (Fairlearn's `opt_lambda`).
    fn lagrangian(&self, error: f64, gamma: &[f64], lambda: &[f64]) -> f64 {
        let lambda = self.p.project(lambda);
        error + gamma.iter().zip(&lambda).map(|(g, l)| g * l).sum::<f64>()
    }

    /// The best response to `lambda`: a new learner fitted to the reweighted
    /// data, unless one already played is as good.
    /// A learner fitted to the data relabelled and reweighted by the gain of
    /// predicting 1 under `lambda` (a constant where all gains agree).
    fn respond(&mut self, lambda: &[f64]) -> Result<Learner> {
        let sw = self.p.signed_weights(lambda);
        let red_y: Vec<usize> = sw.iter().map(|&w| usize::from(w > 0.0)).collect();
        let abs_sum: f64 = sw.iter().map(|w| w.abs()).sum();
        let n = sw.len() as f64;
        Ok(if red_y.iter().all(|&c| c == red_y[0]) || abs_sum == 0.0 {
            Learner::Constant(red_y[0])
        } else {
            let w: Vec<f64> = sw.iter().map(|v| n * v.abs() / abs_sum).collect();
            Learner::Model(self.fit_weighted(&red_y, &w)?)
        })
    }

    fn best_h(&mut self, lambda: &[f64]) -> Result<usize> {
        let learner = self.respond(lambda)?;
        let preds = learner.predict(self.data.features())?;
        let (error, gamma) = self.p.evaluate(&preds);
        let l_new = self.lagrangian(error, &gamma, lambda);
        let best_old = self
            .outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| (i, self.lagrangian(o.error, &o.gamma, lambda)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, l_old)) = best_old
            && l_new >= l_old - 1e-8
        {
            return Ok(i);
        }
        self.learners.push(learner);
        self.outcomes.push(Outcome { preds, error, gamma });
        Ok(self.learners.len() - 1)
    }

    /// Fit to labels with sample weights; a trainer that takes none is fitted
    /// on a resample drawn with probabilities proportional to the weights.
    fn fit_weighted(&mut self, labels: &[usize], w: &[f64]) -> Result<Box<dyn Model>> {
        let names = vec!["0".to_string(), "1".to_string()];
        let base = Dataset::new(self.data.features().to_owned(), self.data.feature_names())?
            .with_classes(labels.to_vec(), names.clone())?;
        match self.trainer.fit(&base.clone().with_weights(w.to_vec())?) {
            Err(Error::Unsupported(_)) => {}
            other => return other,
        }
        let total: f64 = w.iter().sum();
        let mut cum = Vec::with_capacity(w.len());
        let mut acc = 0.0;
        for v in w {
            acc += v / total;
            cum.push(acc);
        }
        let mut idx: Vec<usize> = (0..w.len())
            .map(|_| {
                let u: f64 = self.rng.random();
                cum.partition_point(|&c| c < u).min(w.len() - 1)
            })
            .collect();
        idx.sort_unstable();
        let sample = base.select_rows(&idx)?;
        // A resample can miss a class the weights hold: keep one row of each.
        let has = |c: usize| idx.iter().any(|&i| labels[i] == c);
        if !(has(0) && has(1)) {
            let mut with: Vec<usize> = idx.clone();
            for c in 0..2 {
                if !has(c)
                    && let Some(i) = labels.iter().position(|&l| l == c)
                {
                    with.push(i);
                }
            }
            return self.trainer.fit(&base.select_rows(&with)?);
        }
        self.trainer.fit(&sample)
    }

    fn mix(&self, q: &[f64]) -> (f64, Vec<f64>) {
        let mut error = 0.0;
        let mut gamma = vec![0.0; self.p.k()];
        for (o, &w) in self.outcomes.iter().zip(q) {
            error += w * o.error;
            gamma.iter_mut().zip(&o.gamma).for_each(|(g, v)| *g += w * v);
        }
        (error, gamma)
    }

    /// Fairlearn's linear-programming step: the mix of the learners found
    /// so far with the least error plus `B` times its largest violation
    /// (a slack variable bounds every violation), and the multipliers of
    /// the violation rows from the dual. `None` if the simplex fails.
    fn best_mix(&self, b: f64) -> Option<(Vec<f64>, Vec<f64>)> {
        let hs = self.outcomes.len();
        let mut c: Vec<f64> = self.outcomes.iter().map(|o| o.error).collect();
        c.push(b);
        let a_ub: Vec<Vec<f64>> = (0..self.p.k())
            .map(|j| {
                let mut row: Vec<f64> = self.outcomes.iter().map(|o| o.gamma[j]).collect();
                row.push(-1.0);
                row
            })
            .collect();
        let mut sums_to_one = vec![1.0; hs];
        sums_to_one.push(0.0);
        let s = crate::lp::minimize(&c, &a_ub, &vec![0.0; a_ub.len()], &[sums_to_one], &[1.0])?;
        Some((s.x[..hs].to_vec(), s.ub_duals))
    }

    /// Fairlearn's duality gap of (Q, λ̂).
    fn gap(&mut self, q: &[f64], lambda: &[f64], nu: f64, b: f64) -> Result<f64> {
        let (error, gamma) = self.mix(q);
        let l = self.lagrangian(error, &gamma, lambda);
        let max_violation = gamma.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let l_high = error + if max_violation > 0.0 { b * max_violation } else { 0.0 };
        let mut l_low = l;
        for mul in [1.0, 2.0, 5.0, 10.0] {
            let scaled: Vec<f64> = lambda.iter().map(|v| v * mul).collect();
            let h = self.best_h(&scaled)?;
            let o = &self.outcomes[h];
            l_low = l_low.min(self.lagrangian(o.error, &o.gamma, lambda));
            if (l - l_low).max(l_high - l) > nu + 1e-8 {
                break;
            }
        }
        Ok((l - l_low).max(l_high - l))
    }
}

/// The randomized classifier exponentiated gradient returns: each learner
/// with its probability. [`Model::predict`] gives the probability of the
/// positive class (`Σ w_t h_t(x)`) and labels it where that is at least
/// one half; sampling a label with that probability is Fairlearn's
/// `predict`.
#[derive(Debug)]
pub struct MitigatedClassifier {
    signature: Signature,
    learners: Vec<Learner>,
    weights: Vec<f64>,
    /// Iterations run.
    pub iterations: usize,
    /// The duality gap of the returned mix.
    pub best_gap: f64,
}

/// One member of a saved mix: a constant label or a model's spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MixMember {
    /// Always this label (0 or 1).
    Constant(usize),
    /// A model described by its spec.
    Spec(Box<ModelSpec>),
}

/// A [`MitigatedClassifier`] as data: its signature and its members with
/// their probabilities (members of probability 0 are left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedMix {
    /// Inputs and classes.
    pub signature: Signature,
    /// `(probability, member)`.
    pub members: Vec<(f64, MixMember)>,
}

impl MitigatedClassifier {
    /// The learners' probabilities (one per fitted learner).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The mix as data, every member described by its spec.
    ///
    /// # Errors
    /// A member model that cannot describe itself.
    pub fn to_saved(&self) -> Result<SavedMix> {
        let mut members = Vec::new();
        for (l, &w) in self.learners.iter().zip(&self.weights) {
            if w > 0.0 {
                members.push((
                    w,
                    match l {
                        Learner::Constant(c) => MixMember::Constant(*c),
                        Learner::Model(m) => MixMember::Spec(Box::new(m.describe()?)),
                    },
                ));
            }
        }
        Ok(SavedMix {
            signature: self.signature.clone(),
            members,
        })
    }

    /// Rebuild from saved data.
    ///
    /// # Errors
    /// No members, probabilities that are negative or do not sum to 1,
    /// invalid specs.
    pub fn from_saved(saved: SavedMix) -> Result<Self> {
        let total: f64 = saved.members.iter().map(|(w, _)| w).sum();
        if saved.members.is_empty()
            || saved.members.iter().any(|(w, _)| w.is_nan() || *w < 0.0)
            || (total - 1.0).abs() > 1e-9
        {
            return Err(Error::invalid(
                "mix",
                "member probabilities must be non-negative and sum to 1",
            ));
        }
        let mut learners = Vec::new();
        let mut weights = Vec::new();
        for (w, m) in saved.members {
            learners.push(match m {
                MixMember::Constant(c) if c <= 1 => Learner::Constant(c),
                MixMember::Constant(c) => return Err(Error::invalid("mix", format!("constant label {c}"))),
                MixMember::Spec(spec) => {
                    spec.validate()?;
                    Learner::Model(spec)
                }
            });
            weights.push(w);
        }
        Ok(MitigatedClassifier {
            signature: saved.signature,
            learners,
            weights,
            iterations: 0,
            best_gap: f64::NAN,
        })
    }

    /// Positive-class probability per row.
    ///
    /// # Errors
    /// Input that does not match the signature.
    pub fn positive_probability(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        self.signature.validate_input(x)?;
        let mut p = vec![0.0; x.nrows()];
        for (l, &w) in self.learners.iter().zip(&self.weights) {
            if w > 0.0 {
                for (pi, h) in p.iter_mut().zip(l.predict(x)?) {
                    *pi += w * h;
                }
            }
        }
        Ok(p)
    }
}

impl Model for MitigatedClassifier {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        let p = self.positive_probability(x)?;
        let proba = Array2::from_shape_fn((p.len(), 2), |(i, j)| if j == 1 { p[i] } else { 1.0 - p[i] });
        let classes = match &self.signature.task {
            Task::Classification { classes } => classes.clone(),
            _ => vec!["0".into(), "1".into()],
        };
        Ok(Predictions::Classification {
            labels: Array1::from_iter(p.iter().map(|&v| usize::from(v >= 0.5))),
            probabilities: Some(proba),
            classes,
        })
    }
}
