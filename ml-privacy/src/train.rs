//! Differentially private training: binary logistic regression by output
//! perturbation (Chaudhuri, Monteleoni and Sarwate, "Differentially Private
//! Empirical Risk Minimization", JMLR 2011, Section 3 and Corollary 8).
//!
//! The model minimises `(1/n) Σ log(1 + exp(-y w·x)) + (λ/2) ‖w‖²` over
//! features mapped into the unit ball (each column clamped to public bounds
//! and scaled to [-1, 1], a constant bias column, all divided by
//! `sqrt(d + 1)`), so the loss is 1-Lipschitz and the objective
//! λ-strongly convex. Changing one record then moves the minimiser by at
//! most `2 / (n λ)` in L2 norm; the solver stops at a gradient norm below
//! `τ = 1e-9`, which can move it a further `τ / λ` per data set, so the
//! sensitivity used is `2 / (n λ) + 2 τ / λ`. The exact discrete Gaussian
//! mechanism on each coefficient gives (ε, δ)-DP through zCDP
//! (Canonne, Kamath, Steinke 2020).
//!
//! Assumptions: the feature bounds are public (chosen without looking at
//! the data), the row count n is public (substitution neighbours, as in the
//! paper), and λ is fixed in advance; tuning λ on the same data spends
//! privacy that this analysis does not count.

use ml_core::ndarray::{Array1, Array2, ArrayView2};
use ml_core::{Dataset, Estimator, Link, Model, ModelSpec, Predictions, Preprocess, Signature, Target, Task, Trainer};

use crate::accounting::PrivacyLoss;
use crate::mechanisms::Gaussian;
use crate::rng::DpRng;
use crate::{Error, Result};

/// The solver's gradient-norm tolerance, counted in the sensitivity.
const TOL: f64 = 1e-9;

/// Output-perturbed L2-regularized logistic regression for two classes.
#[derive(Debug, Clone, PartialEq)]
pub struct DpLogisticRegression {
    /// Regularization strength λ of the mean loss (> 0).
    pub lambda: f64,
    /// Public clamping bounds `(lo, hi)` of each input column, in order.
    pub feature_bounds: Vec<(f64, f64)>,
    /// ε of the (ε, δ) guarantee.
    pub epsilon: f64,
    /// δ of the (ε, δ) guarantee.
    pub delta: f64,
    /// The divisor `r` of the scaled row `[1, x_scaled]` (`None`:
    /// `sqrt(d + 1)`, so no row is ever longer than 1). Smaller values keep
    /// more signal per row; rows then longer than 1 are shrunk to the unit
    /// sphere during training (the exported model is the linear model on the
    /// unshrunk rows, so its labels are the trained model's, and its
    /// probabilities for shrunk rows are sharper).
    pub row_scale: Option<f64>,
    /// Seed for the noise, for reproducible tests only (`None`: the
    /// operating system's generator).
    pub insecure_seed: Option<u64>,
}

/// A fitted private model: a linear [`ModelSpec`] and the privacy its
/// training spent.
#[derive(Debug, Clone)]
pub struct DpLogisticModel {
    spec: ModelSpec,
    loss: PrivacyLoss,
}

impl DpLogisticModel {
    /// What training spent.
    pub fn loss(&self) -> PrivacyLoss {
        self.loss
    }
}

impl Model for DpLogisticModel {
    fn signature(&self) -> &Signature {
        &self.spec.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> ml_core::Result<Predictions> {
        self.spec.predict(x)
    }

    fn describe(&self) -> ml_core::Result<ModelSpec> {
        Ok(self.spec.clone())
    }
}

/// The unit-ball design: row i is `[1, (clamp(x_ij) - mid_j) / half_j] / r`,
/// shrunk to norm 1 if it is longer (a per-row map, so the sensitivity
/// analysis is unchanged).
fn design(x: ArrayView2<'_, f64>, bounds: &[(f64, f64)], r: f64) -> Array2<f64> {
    let d = bounds.len();
    let mut out = Array2::zeros((x.nrows(), d + 1));
    for (i, row) in x.outer_iter().enumerate() {
        out[[i, 0]] = 1.0 / r;
        for (j, (&v, &(lo, hi))) in row.iter().zip(bounds).enumerate() {
            let half = (hi - lo) / 2.0;
            out[[i, j + 1]] = if half > 0.0 {
                (v.clamp(lo, hi) - (lo + hi) / 2.0) / half / r
            } else {
                0.0
            };
        }
        let mut o = out.row_mut(i);
        let norm = o.dot(&o).sqrt();
        if norm > 1.0 {
            o /= norm;
        }
    }
    out
}

/// The minimiser of the regularized mean logistic loss, by Newton's method
/// with backtracking, to a gradient norm below [`TOL`]. `y` in {-1, +1}.
fn fit_newton(x: &Array2<f64>, y: &[f64], lambda: f64) -> Result<Array1<f64>> {
    let (n, p) = x.dim();
    let nf = n as f64;
    let objective = |w: &Array1<f64>| {
        let m = x.dot(w);
        let loss: f64 = m
            .iter()
            .zip(y)
            .map(|(&mi, &yi)| {
                let z = -yi * mi;
                // log(1 + e^z), stable.
                if z > 0.0 {
                    z + (-z).exp().ln_1p()
                } else {
                    z.exp().ln_1p()
                }
            })
            .sum();
        loss / nf + 0.5 * lambda * w.dot(w)
    };
    let mut w = Array1::zeros(p);
    for _ in 0..200 {
        let m = x.dot(&w);
        // s_i = sigmoid(-y_i m_i): the weight of each row's gradient.
        let s: Vec<f64> = m
            .iter()
            .zip(y)
            .map(|(&mi, &yi)| 1.0 / (1.0 + (yi * mi).exp()))
            .collect();
        let mut grad = &w * lambda;
        let mut hess = Array2::<f64>::eye(p) * lambda;
        for (i, row) in x.outer_iter().enumerate() {
            grad.scaled_add(-s[i] * y[i] / nf, &row);
            let c = s[i] * (1.0 - s[i]) / nf;
            for a in 0..p {
                let ra = row[a] * c;
                for b in 0..=a {
                    hess[[a, b]] += ra * row[b];
                }
            }
        }
        let gnorm = grad.dot(&grad).sqrt();
        if gnorm <= TOL {
            return Ok(w);
        }
        let step = cholesky_solve(&hess, &grad)?;
        let f0 = objective(&w);
        let slope = grad.dot(&step);
        let mut t = 1.0;
        loop {
            let cand = &w - &(&step * t);
            if objective(&cand) <= f0 - 1e-4 * t * slope || t < 1e-10 {
                w = cand;
                break;
            }
            t *= 0.5;
        }
    }
    Err(Error::InvalidData(format!(
        "logistic regression did not reach gradient norm {TOL:e} in 200 Newton steps"
    )))
}

/// Solve `H z = g` for symmetric positive definite `H` (lower triangle used).
fn cholesky_solve(h: &Array2<f64>, g: &Array1<f64>) -> Result<Array1<f64>> {
    let p = g.len();
    let mut l = Array2::<f64>::zeros((p, p));
    for i in 0..p {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[[i, k]] * l[[j, k]]).sum();
            if i == j {
                let v = h[[i, i]] - s;
                if v <= 0.0 || !v.is_finite() {
                    return Err(Error::InvalidData("Hessian not positive definite".into()));
                }
                l[[i, i]] = v.sqrt();
            } else {
                l[[i, j]] = (h[[i, j]] - s) / l[[j, j]];
            }
        }
    }
    let mut z = g.clone();
    for i in 0..p {
        let s: f64 = (0..i).map(|k| l[[i, k]] * z[k]).sum();
        z[i] = (z[i] - s) / l[[i, i]];
    }
    for i in (0..p).rev() {
        let s: f64 = (i + 1..p).map(|k| l[[k, i]] * z[k]).sum();
        z[i] = (z[i] - s) / l[[i, i]];
    }
    Ok(z)
}

impl DpLogisticRegression {
    fn row_scale(&self) -> f64 {
        self.row_scale
            .unwrap_or_else(|| ((self.feature_bounds.len() + 1) as f64).sqrt())
    }

    fn check_params(&self, n_features: usize) -> Result<()> {
        if !(self.lambda > 0.0 && self.lambda.is_finite()) {
            return Err(Error::param(
                "lambda",
                format!("must be > 0, got {}", ml_core::limits::readable(self.lambda)),
            ));
        }
        if self.feature_bounds.len() != n_features {
            return Err(Error::param(
                "feature bounds",
                format!("{} given for {n_features} columns", self.feature_bounds.len(),),
            ));
        }
        if let Some((lo, hi)) = self
            .feature_bounds
            .iter()
            .find(|(lo, hi)| !(lo.is_finite() && hi.is_finite() && lo <= hi))
        {
            return Err(Error::param(
                "feature bounds",
                format!("[{lo}, {hi}] is not a finite interval"),
            ));
        }
        if let Some(r) = self.row_scale
            && !(r > 0.0 && r.is_finite())
        {
            return Err(Error::param(
                "row scale",
                format!("must be > 0, got {}", ml_core::limits::readable(r)),
            ));
        }
        Ok(())
    }

    /// Checks the parameters against the matrix, the matrix's values and the
    /// labels; returns the labels as ±1.
    fn check_matrix(&self, x: ArrayView2<'_, f64>, labels: &[usize], n_classes: usize) -> Result<Vec<f64>> {
        self.check_params(x.ncols())?;
        if x.nrows() == 0 {
            return Err(Error::InvalidData("no rows to train on".into()));
        }
        if labels.len() != x.nrows() {
            return Err(Error::InvalidData(format!(
                "{} labels for {} rows",
                labels.len(),
                x.nrows()
            )));
        }
        if let Some(v) = x.iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidData(format!("non-finite feature value {v}")));
        }
        if n_classes != 2 {
            return Err(Error::InvalidData(format!(
                "private logistic regression is binary; the target has {n_classes} classes"
            )));
        }
        if let Some(l) = labels.iter().find(|&&l| l > 1) {
            return Err(Error::InvalidData(format!("label {l} of a binary target")));
        }
        Ok(labels.iter().map(|&l| if l == 1 { 1.0 } else { -1.0 }).collect())
    }

    fn check(&self, data: &Dataset) -> Result<Vec<f64>> {
        match data.target() {
            Some(Target::Classes { labels, names }) => {
                self.check_matrix(data.features(), &labels.to_vec(), names.len())
            }
            _ => Err(Error::InvalidData(
                "private logistic regression needs a class target".into(),
            )),
        }
    }

    /// The exact minimiser on the unit-ball design (bias first), without
    /// noise. NOT private: for comparisons and tests.
    ///
    /// # Errors
    /// As [`DpLogisticRegression`]'s fit, privacy aside: invalid parameters or
    /// data.
    pub fn minimiser_without_privacy(&self, data: &Dataset) -> Result<Vec<f64>> {
        let y = self.check(data)?;
        let x = design(data.features(), &self.feature_bounds, self.row_scale());
        Ok(fit_newton(&x, &y, self.lambda)?.to_vec())
    }

    /// Fit on a numeric matrix (rows × columns, `feature_bounds` one per
    /// column) with class labels 0/1, spending (ε, δ). This is the step a
    /// pipeline calls after its data-independent preprocessing (one-hot
    /// encoding over public category lists).
    ///
    /// # Errors
    /// Invalid parameters, non-finite values, labels that are not binary, a
    /// solver failure.
    pub fn fit_matrix(&self, x: ArrayView2<'_, f64>, labels: &[usize], n_classes: usize) -> Result<PrivateLinear> {
        let y = self.check_matrix(x, labels, n_classes)?;
        let r = self.row_scale();
        let design = design(x, &self.feature_bounds, r);
        let w = fit_newton(&design, &y, self.lambda)?;
        let n = x.nrows() as f64;
        let sensitivity = 2.0 / (n * self.lambda) + 2.0 * TOL / self.lambda;
        let d = self.feature_bounds.len();
        let mech = Gaussian::approximate_vector_trusted(sensitivity, d + 1, self.epsilon, self.delta)?;
        let mut rng = match self.insecure_seed {
            Some(s) => DpRng::insecure_seeded_for_tests(s),
            None => DpRng::secure()?,
        };
        let noisy = mech.release_vector(&mut rng, w.as_slice().unwrap_or(&w.to_vec()))?;
        let mut wv = noisy.value;
        // Constant columns carry no information; their (noise-only)
        // coefficients are dropped, which is post-processing.
        for (j, (lo, hi)) in self.feature_bounds.iter().enumerate() {
            if hi <= lo {
                wv[j + 1] = 0.0;
            }
        }
        // Back to raw features: the design's affine map becomes a standard scaling.
        Ok(PrivateLinear {
            scaling: Preprocess::StandardScale {
                mean: self.feature_bounds.iter().map(|(lo, hi)| (lo + hi) / 2.0).collect(),
                scale: self
                    .feature_bounds
                    .iter()
                    .map(|(lo, hi)| if hi > lo { (hi - lo) / 2.0 * r } else { 1.0 })
                    .collect(),
            },
            estimator: Estimator::Linear {
                coefficients: Array2::from_shape_vec((1, d), wv[1..].to_vec())
                    .map_err(|e| Error::InvalidData(e.to_string()))?,
                intercepts: Array1::from(vec![wv[0] / r]),
                link: Link::Logistic,
            },
            loss: noisy.loss,
        })
    }

    /// Fit, spending (ε, δ).
    ///
    /// # Errors
    /// As [`fit_matrix`](Self::fit_matrix), and a target that is not two classes.
    pub fn fit_private(&self, data: &Dataset) -> Result<DpLogisticModel> {
        data.require_complete("private logistic regression")?;
        let Some(Target::Classes { labels, names }) = data.target() else {
            return Err(Error::InvalidData(
                "private logistic regression needs a class target".into(),
            ));
        };
        let fitted = self.fit_matrix(data.features(), &labels.to_vec(), names.len())?;
        let classes = names.clone();
        let spec = ModelSpec {
            signature: Signature {
                inputs: data.columns().to_vec(),
                unknown_category: Default::default(),
                task: Task::Classification { classes },
                accepts_missing: false,
            },
            preprocessing: vec![fitted.scaling],
            estimator: fitted.estimator,
        };
        Ok(DpLogisticModel {
            spec,
            loss: fitted.loss,
        })
    }
}

/// What [`DpLogisticRegression::fit_matrix`] releases: a scaling and a
/// linear estimator over the matrix's columns, and the privacy spent.
#[derive(Debug, Clone)]
pub struct PrivateLinear {
    /// The public-bounds scaling the coefficients apply to.
    pub scaling: Preprocess,
    /// The noisy logistic model.
    pub estimator: Estimator,
    /// What the release spent.
    pub loss: PrivacyLoss,
}

impl Trainer for DpLogisticRegression {
    fn name(&self) -> &str {
        "dp_logistic_regression"
    }

    fn params(&self) -> Vec<(String, String)> {
        vec![
            ("lambda".into(), self.lambda.to_string()),
            ("epsilon".into(), self.epsilon.to_string()),
            ("delta".into(), self.delta.to_string()),
            ("mechanism".into(), "output perturbation, discrete Gaussian".into()),
        ]
    }

    fn fit(&self, data: &Dataset) -> ml_core::Result<Box<dyn Model>> {
        self.fit_private(data)
            .map(|m| Box::new(m) as Box<dyn Model>)
            .map_err(|e| ml_core::Error::Backend {
                backend: "ml-privacy",
                source: Box::new(e),
            })
    }
}
