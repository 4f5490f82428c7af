//! Linear support vector machines (scikit-learn's `LinearSVC`): one-vs-rest
//! for several classes, the intercept regularized as liblinear does it
//! (a constant feature of 1), solved in the dual by coordinate descent
//! (Hsieh et al., 2008, liblinear's solver). The primal optimum is unique,
//! so the weights equal liblinear's to the tolerance.

use ml_core::ndarray::{Array1, Array2, ArrayView2};
use ml_core::{Estimator, Link};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// The loss a [`LinearSvm`] minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvmLoss {
    /// `max(0, 1 - y f(x))`.
    Hinge,
    /// `max(0, 1 - y f(x))²` (LinearSVC's default).
    SquaredHinge,
}

/// A linear SVM classifier: `C`, the loss, the tolerance and the epoch
/// limit under scikit-learn's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearSvm {
    /// Inverse regularization strength (> 0).
    pub c: f64,
    /// The loss.
    pub loss: SvmLoss,
    /// Stop when the projected gradients span less than this.
    pub tol: f64,
    /// Most passes over the data.
    pub max_iter: usize,
    /// Seed of the order in which rows are visited.
    pub seed: u64,
}

impl Default for LinearSvm {
    fn default() -> Self {
        Self {
            c: 1.0,
            loss: SvmLoss::SquaredHinge,
            tol: 1e-4,
            max_iter: 1000,
            seed: 0,
        }
    }
}

impl LinearSvm {
    /// The most passes a fit may ask for.
    pub const MAX_ITER: usize = 1_000_000;

    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// A non-positive `c` or `tol`, `max_iter` outside 1 to [`LinearSvm::MAX_ITER`].
    pub fn validate(&self) -> Result<()> {
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(invalid("c", format!("{}: expected a positive number", self.c)));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(invalid("tol", format!("{}: expected a positive number", self.tol)));
        }
        Ok(ml_core::limits::check_count(
            "max_iter",
            self.max_iter,
            1..=Self::MAX_ITER,
        )?)
    }

    /// Fit one binary problem per class (one for two classes, class 1
    /// positive); the spec's link is [`Link::Margin`].
    pub(crate) fn fit_design(&self, x: ArrayView2<'_, f64>, labels: &[usize], n_classes: usize) -> Result<Estimator> {
        self.validate()?;
        let m = x.ncols();
        let problems: Vec<usize> = if n_classes == 2 {
            vec![1]
        } else {
            (0..n_classes).collect()
        };
        let mut coefficients = Array2::zeros((problems.len(), m));
        let mut intercepts = Array1::zeros(problems.len());
        for (k, &positive) in problems.iter().enumerate() {
            let y: Vec<f64> = labels.iter().map(|&l| if l == positive { 1.0 } else { -1.0 }).collect();
            let w = self.dual_cd(x, &y)?;
            coefficients
                .row_mut(k)
                .assign(&ml_core::ndarray::ArrayView1::from(&w[..m]));
            intercepts[k] = w[m];
        }
        Ok(Estimator::Linear {
            coefficients,
            intercepts,
            link: Link::Margin,
        })
    }

    /// Dual coordinate descent on rows augmented with a constant 1; returns
    /// the weights with the intercept last.
    fn dual_cd(&self, x: ArrayView2<'_, f64>, y: &[f64]) -> Result<Vec<f64>> {
        let (n, m) = x.dim();
        let (upper, diag) = match self.loss {
            SvmLoss::Hinge => (self.c, 0.0),
            SvmLoss::SquaredHinge => (f64::INFINITY, 0.5 / self.c),
        };
        let q: Vec<f64> = x.outer_iter().map(|r| r.dot(&r) + 1.0 + diag).collect();
        let mut alpha = vec![0.0; n];
        let mut w = vec![0.0; m + 1];
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ml_core::seeded_rng(self.seed);
        for _ in 0..self.max_iter {
            order.shuffle(&mut rng);
            let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
            for &i in &order {
                let row = x.row(i);
                let f = row.iter().zip(&w).fold(w[m], |acc, (a, b)| acc + a * b);
                let g = y[i] * f - 1.0 + diag * alpha[i];
                let pg = if alpha[i] == 0.0 {
                    g.min(0.0)
                } else if alpha[i] == upper {
                    g.max(0.0)
                } else {
                    g
                };
                pg_max = pg_max.max(pg);
                pg_min = pg_min.min(pg);
                if pg != 0.0 {
                    let old = alpha[i];
                    alpha[i] = (old - g / q[i]).clamp(0.0, upper);
                    let step = (alpha[i] - old) * y[i];
                    for (wj, &a) in w.iter_mut().zip(row) {
                        *wj += step * a;
                    }
                    w[m] += step;
                }
            }
            if pg_max - pg_min < self.tol {
                break;
            }
        }
        if w.iter().any(|v| !v.is_finite()) {
            return Err(crate::Error::Core(ml_core::Error::Numerical {
                op: "linear SVM",
                reason: "the weights diverged".into(),
            }));
        }
        Ok(w)
    }
}
