//! Linear models: logistic (binary and multinomial) and least squares on
//! linfa; ridge in closed form.

use linfa::prelude::*;
use ml_core::ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use ml_core::{Estimator, Link};
use serde::{Deserialize, Serialize};

use crate::bridge::{contiguous, mat2, vec1, view16};
use crate::error::{Error, Result, invalid};
use crate::pipeline::FittedEstimator;

/// L2-regularized logistic regression (binary, or multinomial for more than
/// two classes), fitted by L-BFGS in `linfa-logistic`.
///
/// Minimizes `Σ log-loss + ‖w‖² / (2C)` (intercept not penalized): scikit-learn's
/// `LogisticRegression(C=c)` objective, so equal `c` gives equal models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// Inverse regularization strength (> 0).
    pub c: f64,
    /// Maximum L-BFGS iterations, 1 to [`LogisticRegression::MAX_ITER`].
    pub max_iter: u64,
    /// Convergence tolerance on the gradient of the per-sample mean loss
    /// (scikit-learn's `tol` for `lbfgs`).
    pub tol: f64,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        Self {
            c: 1.0,
            max_iter: 100,
            tol: 1e-4,
        }
    }
}

impl LogisticRegression {
    /// The most L-BFGS iterations.
    pub const MAX_ITER: usize = 1_000_000;

    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// A non-positive `c` or `tol`, or zero iterations.
    pub fn validate(&self) -> Result<()> {
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(invalid("c", format!("{} must be a positive number", self.c)));
        }
        if !(self.tol > 0.0 && self.tol.is_finite()) {
            return Err(invalid("tol", format!("{} must be a positive number", self.tol)));
        }
        ml_core::limits::check_count(
            "max_iter",
            usize::try_from(self.max_iter).unwrap_or(usize::MAX),
            1..=Self::MAX_ITER,
        )?;
        Ok(())
    }

    pub(crate) fn fit_design(
        &self,
        x: ArrayView2<'_, f64>,
        labels: &[usize],
        n_classes: usize,
    ) -> Result<FittedEstimator> {
        self.validate()?;
        let present: std::collections::BTreeSet<usize> = labels.iter().copied().collect();
        if present.len() != n_classes {
            return Err(invalid(
                "target",
                format!(
                    "logistic regression needs every class in the training data: {} of {n_classes} present",
                    present.len()
                ),
            ));
        }
        let data = contiguous(&x);
        let records = view16(&data, x.nrows(), x.ncols());
        let targets = ndarray16::Array1::from(labels.to_vec());
        let ds = linfa::DatasetBase::new(records, targets);
        let fail = |e: linfa_logistic::error::Error| Error::Linfa {
            algorithm: "logistic regression",
            message: e.to_string(),
        };
        // linfa's objective is the summed loss; its gradient is n times that of
        // the mean loss whose tolerance `tol` is stated for.
        let gradient_tolerance = self.tol * labels.len() as f64;
        if n_classes == 2 {
            let model = linfa_logistic::LogisticRegression::default()
                .alpha(1.0 / self.c)
                .max_iterations(self.max_iter)
                .gradient_tolerance(gradient_tolerance)
                .fit(&ds)
                .map_err(fail)?;
            Ok(FittedEstimator::Binary(model))
        } else {
            let model = linfa_logistic::MultiLogisticRegression::default()
                .alpha(1.0 / self.c)
                .max_iterations(self.max_iter)
                .gradient_tolerance(gradient_tolerance)
                .fit(&ds)
                .map_err(fail)?;
            Ok(FittedEstimator::Multinomial(model))
        }
    }
}

/// The spec of a fitted binary linfa model, oriented so that the single
/// output is the log-odds of class 1.
pub(crate) fn binary_spec(model: &linfa_logistic::FittedLogisticRegression<f64, usize>) -> Estimator {
    let sign = if model.labels().pos.class == 1 { 1.0 } else { -1.0 };
    let coefficients = vec1(model.params()).mapv(|w| w * sign).insert_axis(Axis(0));
    Estimator::Linear {
        coefficients,
        intercepts: Array1::from(vec![model.intercept() * sign]),
        link: Link::Logistic,
    }
}

/// The spec of a fitted multinomial linfa model, rows in class order.
pub(crate) fn multinomial_spec(model: &linfa_logistic::MultiFittedLogisticRegression<f64, usize>) -> Estimator {
    let params = mat2(model.params()); // features × classes, in model.classes() order
    let intercept = vec1(model.intercept());
    let k = model.classes().len();
    let mut coefficients = Array2::zeros((k, params.nrows()));
    let mut intercepts = Array1::zeros(k);
    for (col, &class) in model.classes().iter().enumerate() {
        coefficients.row_mut(class).assign(&params.column(col));
        intercepts[class] = intercept[col];
    }
    Estimator::Linear {
        coefficients,
        intercepts,
        link: Link::Softmax,
    }
}

/// Ordinary least squares (`linfa-linear`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinearRegression {}

impl LinearRegression {
    pub(crate) fn fit_design(&self, x: ArrayView2<'_, f64>, y: ArrayView1<'_, f64>) -> Result<FittedEstimator> {
        let data = contiguous(&x);
        let records = view16(&data, x.nrows(), x.ncols());
        let targets = ndarray16::Array1::from(y.to_vec());
        let ds = linfa::DatasetBase::new(records, targets);
        let model = linfa_linear::LinearRegression::new()
            .fit(&ds)
            .map_err(|e| Error::Linfa {
                algorithm: "linear regression",
                message: e.to_string(),
            })?;
        Ok(FittedEstimator::Ols(model))
    }
}

pub(crate) fn ols_spec(model: &linfa_linear::FittedLinearRegression<f64>) -> Estimator {
    Estimator::Linear {
        coefficients: vec1(model.params()).insert_axis(Axis(0)),
        intercepts: Array1::from(vec![model.intercept()]),
        link: Link::Identity,
    }
}

/// Ridge regression: minimizes `‖y - Xw - b‖² + alpha ‖w‖²` (intercept not
/// penalized), solved exactly by Cholesky on the centred normal equations, as
/// scikit-learn's `Ridge(alpha)` with its `cholesky` solver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ridge {
    /// Regularization strength (>= 0).
    pub alpha: f64,
}

impl Default for Ridge {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

impl Ridge {
    /// Check the hyper-parameters.
    ///
    /// # Errors
    /// A negative or non-finite `alpha`.
    pub fn validate(&self) -> Result<()> {
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            return Err(invalid(
                "alpha",
                format!("{} must be a non-negative number", self.alpha),
            ));
        }
        Ok(())
    }

    pub(crate) fn fit_design(&self, x: ArrayView2<'_, f64>, y: ArrayView1<'_, f64>) -> Result<FittedEstimator> {
        self.validate()?;
        let x_mean = x.mean_axis(Axis(0)).ok_or_else(|| invalid("x", "no rows"))?;
        let y_mean = y.mean().unwrap_or(0.0);
        let xc = &x - &x_mean;
        let yc = &y - y_mean;
        let mut gram = xc.t().dot(&xc);
        for i in 0..gram.nrows() {
            gram[[i, i]] += self.alpha;
        }
        let rhs = xc.t().dot(&yc);
        let w = cholesky_solve(gram, rhs)?;
        let b = y_mean - x_mean.dot(&w);
        Ok(FittedEstimator::Own(Estimator::Linear {
            coefficients: w.insert_axis(Axis(0)),
            intercepts: Array1::from(vec![b]),
            link: Link::Identity,
        }))
    }
}

/// Solve `A x = b` for symmetric positive definite `A`.
fn cholesky_solve(mut a: Array2<f64>, b: Array1<f64>) -> Result<Array1<f64>> {
    let n = a.nrows();
    for j in 0..n {
        let mut d = a[[j, j]];
        for k in 0..j {
            d -= a[[j, k]] * a[[j, k]];
        }
        if d <= 1e-12 * a[[j, j]].abs().max(1e-300) {
            return Err(Error::Core(ml_core::Error::Numerical {
                op: "ridge",
                reason: "singular system (collinear features with alpha = 0); use alpha > 0".into(),
            }));
        }
        let d = d.sqrt();
        a[[j, j]] = d;
        for i in j + 1..n {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= a[[i, k]] * a[[j, k]];
            }
            a[[i, j]] = s / d;
        }
    }
    let mut y = b;
    for i in 0..n {
        for k in 0..i {
            y[i] -= a[[i, k]] * y[k];
        }
        y[i] /= a[[i, i]];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= a[[k, i]] * y[k];
        }
        y[i] /= a[[i, i]];
    }
    Ok(y)
}
