//! Fairlearn's `ExponentiatedGradient`: the game between the learner and the multipliers.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Fairlearn's `ExponentiatedGradient` over any trainer.
#[derive(Debug, Clone)]
pub struct ExponentiatedGradient {
    /// The constraint.
    pub moment: Moment,
    /// Allowed violation of each constraint (Fairlearn's `difference_bound`).
    pub difference_bound: f64,
    /// `1 / B`, where B bounds the multipliers' L1 norm (Fairlearn's `eps`).
    pub eps: f64,
    /// Iterations at most (a model trained in each), 1 to
    /// [`ExponentiatedGradient::MAX_ITER`].
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
    /// The most iterations.
    pub const MAX_ITER: usize = 100_000;

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
        ml_core::limits::check_count("max_iter", self.max_iter, 1..=Self::MAX_ITER)?;
        if !(self.eps > 0.0 && self.difference_bound >= 0.0 && self.eta0 > 0.0) {
            return Err(Error::invalid(
                "exponentiated gradient",
                "needs eps > 0, bound >= 0, eta0 > 0",
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
                accepts_missing: false,
            },
            learners,
            weights,
            iterations: gaps.len(),
            best_gap: gaps[best_iter],
        })
    }
}

pub(super) struct Outcome {
    preds: Vec<f64>,
    error: f64,
    gamma: Vec<f64>,
}

pub(super) struct Game<'a> {
    p: &'a Problem,
    trainer: &'a dyn Trainer,
    data: &'a Dataset,
    learners: Vec<Learner>,
    outcomes: Vec<Outcome>,
    rng: SeededRng,
}

impl<'a> Game<'a> {
    pub(super) fn new(p: &'a Problem, trainer: &'a dyn Trainer, data: &'a Dataset, seed: u64) -> Self {
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
    pub(super) fn lagrangian(&self, error: f64, gamma: &[f64], lambda: &[f64]) -> f64 {
        let lambda = self.p.project(lambda);
        error + gamma.iter().zip(&lambda).map(|(g, l)| g * l).sum::<f64>()
    }

    /// The best response to `lambda`: a new learner fitted to the reweighted
    /// data, unless one already played is as good.
    /// A learner fitted to the data relabelled and reweighted by the gain of
    /// predicting 1 under `lambda` (a constant where all gains agree).
    pub(super) fn respond(&mut self, lambda: &[f64]) -> Result<Learner> {
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

    pub(super) fn best_h(&mut self, lambda: &[f64]) -> Result<usize> {
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
    pub(super) fn fit_weighted(&mut self, labels: &[usize], w: &[f64]) -> Result<Box<dyn Model>> {
        let names = vec!["0".to_string(), "1".to_string()];
        let base = Dataset::new(self.data.features().to_owned(), self.data.feature_names())?
            .with_classes(labels.to_vec(), names.clone())?;
        match self.trainer.fit(&base.clone().with_weights(w.to_vec())?) {
            Err(ml_core::Error::Unsupported(_)) => {}
            other => return Ok(other?),
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
            return Ok(self.trainer.fit(&base.select_rows(&with)?)?);
        }
        Ok(self.trainer.fit(&sample)?)
    }

    pub(super) fn mix(&self, q: &[f64]) -> (f64, Vec<f64>) {
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
    pub(super) fn best_mix(&self, b: f64) -> Option<(Vec<f64>, Vec<f64>)> {
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
    pub(super) fn gap(&mut self, q: &[f64], lambda: &[f64], nu: f64, b: f64) -> Result<f64> {
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
