//! LIME for tabular data (Ribeiro, Singh, Guestrin, "Why Should I Trust
//! You?", KDD 2016), as the `lime` package's `LimeTabularExplainer` does it
//! by default: each numeric column is cut at its training quartiles (a
//! categorical column keeps its categories), perturbations draw every
//! column's bin with its training frequency, an interpretable feature is 1
//! where a perturbation shares the explained row's bin, perturbations are
//! weighted by an exponential kernel on the distance in that 0/1 space
//! (width `0.75 sqrt(features)`), and a weighted ridge regression (α = 1)
//! of each model output on the 0/1 features gives the local weights.
//!
//! One difference: within a bin, the value handed to the model is a
//! training value from that bin drawn at random, where `lime` draws from a
//! normal truncated to the bin; both keep the value inside the bin. LIME's
//! weights do not add up to the prediction (it is not a Shapley method);
//! the base value reported is the regression's intercept.

use crate::{Error, Result};
use ml_core::ndarray::{Array2, Array3};
use ml_core::seeded_rng;
use ml_core::{Dataset, Explainer, Explanation, ExplanationScope, FeatureKind, Model};
use rand::RngExt;

use crate::kernel::{output_matrix, output_names};

/// Tabular LIME against the training data's distribution.
#[derive(Debug, Clone)]
pub struct Lime {
    /// Training rows in the model's input columns: bins and their values.
    pub training: Array2<f64>,
    /// Perturbations per explained row (the first is the row itself), 2 to
    /// [`Lime::MAX_SAMPLES`].
    pub n_samples: usize,
    /// Kernel width (`None`: `0.75 sqrt(features)`).
    pub kernel_width: Option<f64>,
    /// Ridge penalty of the local model.
    pub alpha: f64,
    /// Seed of the perturbations.
    pub seed: u64,
}

impl Lime {
    /// The most perturbations per explained row.
    pub const MAX_SAMPLES: usize = 10_000_000;

    /// `lime`'s defaults: 5000 perturbations, α = 1.
    pub fn new(training: Array2<f64>) -> Self {
        Lime {
            training,
            n_samples: 5000,
            kernel_width: None,
            alpha: 1.0,
            seed: 0,
        }
    }
}

/// One column's bins: the values of each bin (sorted), and how to place a value.
struct Bins {
    /// Bin edges (numeric columns; empty for categorical ones).
    edges: Vec<f64>,
    /// Training values in each bin.
    members: Vec<Vec<f64>>,
}

impl Bins {
    fn of(&self, v: f64) -> usize {
        if self.edges.is_empty() {
            // Categorical: codes are bins.
            return (v.max(0.0) as usize).min(self.members.len().saturating_sub(1));
        }
        self.edges.iter().take_while(|&&e| v > e).count()
    }
}

/// numpy's `percentile` (linear interpolation) of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Weighted ridge with an unpenalized intercept: centre by the weighted
/// means, solve `(Zᵀ W Z + α I) β = Zᵀ W y`.
fn weighted_ridge(z: &Array2<f64>, y: &[f64], w: &[f64], alpha: f64) -> Result<(Vec<f64>, f64)> {
    let (n, m) = z.dim();
    let sw: f64 = w.iter().sum();
    let zm: Vec<f64> = (0..m)
        .map(|j| (0..n).map(|i| w[i] * z[[i, j]]).sum::<f64>() / sw)
        .collect();
    let ym = (0..n).map(|i| w[i] * y[i]).sum::<f64>() / sw;
    let mut a = Array2::<f64>::zeros((m, m));
    let mut b = vec![0.0; m];
    let mut zc = vec![0.0; m];
    for i in 0..n {
        for j in 0..m {
            zc[j] = z[[i, j]] - zm[j];
        }
        let yc = y[i] - ym;
        for j in 0..m {
            let wz = w[i] * zc[j];
            b[j] += wz * yc;
            for l in 0..=j {
                a[[j, l]] += wz * zc[l];
            }
        }
    }
    for j in 0..m {
        a[[j, j]] += alpha;
        for l in 0..j {
            a[[l, j]] = a[[j, l]];
        }
    }
    let beta = crate::kernel::solve(a, b)?;
    let intercept = ym - beta.iter().zip(&zm).map(|(b, m)| b * m).sum::<f64>();
    Ok((beta, intercept))
}

impl Explainer for Lime {
    fn name(&self) -> &str {
        "lime"
    }

    fn explain(&self, model: &dyn Model, data: &Dataset) -> ml_core::Result<Explanation> {
        let x = data.features();
        let t = self.training.view();
        let m = x.ncols();
        if t.nrows() == 0 {
            return Err(Error::invalid("training", "no training rows").into());
        }
        if t.ncols() != m {
            return Err(ml_core::Error::Shape {
                op: "lime training data",
                expected: format!("{m} columns, as the data"),
                got: format!("{} columns", t.ncols()),
            });
        }
        if let Some(v) = t.iter().find(|v| !v.is_finite()) {
            return Err(Error::invalid("training", format!("non-finite value {v}")).into());
        }
        ml_core::limits::check_count("n_samples", self.n_samples, 2..=Self::MAX_SAMPLES)?;
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(Error::invalid("alpha", "must be finite and > 0").into());
        }
        let columns = data.columns();
        let bins: Vec<Bins> = (0..m)
            .map(|j| {
                let mut col: Vec<f64> = t.column(j).to_vec();
                col.sort_by(f64::total_cmp);
                match &columns[j].kind {
                    FeatureKind::Categorical { categories } => {
                        let mut members = vec![Vec::new(); categories.len().max(1)];
                        for &v in &col {
                            if v >= 0.0 && (v as usize) < members.len() {
                                members[v as usize].push(v);
                            }
                        }
                        Bins { edges: vec![], members }
                    }
                    FeatureKind::Numeric => {
                        let mut edges: Vec<f64> = [25.0, 50.0, 75.0].iter().map(|&q| percentile(&col, q)).collect();
                        edges.dedup();
                        let mut members = vec![Vec::new(); edges.len() + 1];
                        let b = Bins { edges, members: vec![] };
                        for &v in &col {
                            members[b.of(v)].push(v);
                        }
                        Bins {
                            edges: b.edges,
                            members,
                        }
                    }
                }
            })
            .collect();
        let width = self.kernel_width.unwrap_or(0.75 * (m as f64).sqrt());
        let n = x.nrows();
        let ns = self.n_samples;
        ml_core::limits::check_work("n_samples", ns as f64 * m as f64 * 8.0 * 3.0, "draw fewer samples")?;
        ml_core::limits::check_evaluations(
            "n_samples",
            ns as f64 * n as f64,
            "draw fewer samples or explain fewer rows",
        )?;
        let fx = output_matrix(model, x)?;
        let k = fx.ncols();
        let mut values = Array3::<f64>::zeros((n, m, k));
        let mut base = Array2::<f64>::zeros((n, k));
        for (i, row) in x.outer_iter().enumerate() {
            let mut rng = seeded_rng(self.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let own: Vec<usize> = (0..m).map(|j| bins[j].of(row[j])).collect();
            let mut samples = Array2::<f64>::zeros((ns, m));
            let mut z = Array2::<f64>::zeros((ns, m));
            samples.row_mut(0).assign(&row);
            z.row_mut(0).fill(1.0);
            for s in 1..ns {
                for j in 0..m {
                    // A training value at random: its bin has the training frequency.
                    let v = t[[rng.random_range(0..t.nrows()), j]];
                    let b = bins[j].of(v);
                    let pool = &bins[j].members[b];
                    let v = if pool.is_empty() {
                        v
                    } else {
                        pool[rng.random_range(0..pool.len())]
                    };
                    samples[[s, j]] = v;
                    z[[s, j]] = f64::from(u8::from(b == own[j]));
                }
            }
            let weights: Vec<f64> = z
                .outer_iter()
                .map(|r| {
                    let d2: f64 = r.iter().map(|v| (1.0 - v) * (1.0 - v)).sum();
                    (-d2 / (width * width)).exp().sqrt()
                })
                .collect();
            let out = output_matrix(model, samples.view())?;
            for o in 0..k {
                let y: Vec<f64> = out.column(o).to_vec();
                let (beta, intercept) = weighted_ridge(&z, &y, &weights, self.alpha)?;
                for (j, b) in beta.into_iter().enumerate() {
                    values[[i, j, o]] = b;
                }
                base[[i, o]] = intercept;
            }
        }
        Ok(Explanation {
            method: "lime".into(),
            scope: ExplanationScope::Local,
            feature_names: data.feature_names(),
            output_names: output_names(model),
            base_values: base,
            values,
        })
    }
}
