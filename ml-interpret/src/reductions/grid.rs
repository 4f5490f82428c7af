//! Fairlearn's `GridSearch`: the best response to each point of a grid of multipliers.

#[allow(clippy::wildcard_imports)]
use super::*;

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
    /// Grid points (one model trained for each), 1 to [`GridSearch::MAX_GRID`].
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
    /// The most grid points.
    pub const MAX_GRID: usize = 10_000;

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
        ml_core::limits::check_count("grid_size", self.grid_size, 1..=Self::MAX_GRID)?;
        if self.grid_limit.is_nan() || self.grid_limit <= 0.0 || !(0.0..=1.0).contains(&self.constraint_weight) {
            return Err(Error::invalid(
                "grid search",
                "needs grid_limit > 0, constraint_weight in [0, 1]",
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
                accepts_missing: false,
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
pub(super) fn integer_grid(dim: usize, size: usize) -> Vec<(usize, Vec<i64>)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_integer_grid_takes_the_smallest_l1_ball_that_holds_enough_points() {
        // One dimension: -n..=n for the smallest n with `size` points.
        let g = integer_grid(1, 5);
        assert_eq!(g.iter().map(|(_, p)| p[0]).collect::<Vec<_>>(), [-2, -1, 0, 1, 2]);
        assert!(g.iter().all(|(n, _)| *n == 2));
        // Two dimensions: every point within the L1 ball, first `size` kept.
        let g = integer_grid(2, 13);
        assert_eq!(g.len(), 13);
        assert!(
            g.iter()
                .all(|(n, p)| p.iter().map(|v| v.abs()).sum::<i64>() <= *n as i64)
        );
        assert_eq!(g[0].1, [-2, 0]);
        assert_eq!(integer_grid(0, 3), [(0, vec![])]);
    }
}
