//! Optimizers and learning-rate schedules, on host vectors.
//!
//! The update rules are PyTorch's (`torch.optim.SGD`, `Adam`, `AdamW`);
//! their state (moments, step count) is plain data, saved in checkpoints so
//! a resumed run continues exactly where it stopped.

use ml_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Optimizer {
    /// Stochastic gradient descent with (heavy-ball) momentum; weight decay
    /// is added to the gradient.
    Sgd {
        /// Momentum (0: plain SGD).
        momentum: f64,
    },
    /// Adam; weight decay is added to the gradient (L2 regularization).
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Added to the denominator.
        epsilon: f64,
    },
    /// AdamW: Adam with decoupled weight decay.
    AdamW {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Added to the denominator.
        epsilon: f64,
    },
}

impl Optimizer {
    /// Adam with the usual constants (0.9, 0.999, 1e-8).
    pub fn adam() -> Self {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }

    /// Parse `sgd`, `adam` or `adamw` with the usual constants (SGD's
    /// momentum 0.9).
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "sgd" => Optimizer::Sgd { momentum: 0.9 },
            "adam" => Optimizer::adam(),
            "adamw" => Optimizer::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
            other => {
                return Err(Error::invalid(
                    "optimizer",
                    format!("{other:?}: expected sgd, adam or adamw"),
                ));
            }
        })
    }

    /// Number of state vectors per parameter.
    fn slots(self) -> usize {
        match self {
            Optimizer::Sgd { .. } => 1,
            Optimizer::Adam { .. } | Optimizer::AdamW { .. } => 2,
        }
    }
}

/// How the learning rate changes from epoch to epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// Multiplied by `gamma` every `every` epochs (PyTorch's `StepLR`).
    Step {
        /// Epochs between decays.
        every: usize,
        /// Factor.
        gamma: f64,
    },
    /// Multiplied by `gamma` every epoch (`ExponentialLR`).
    Exponential {
        /// Factor.
        gamma: f64,
    },
    /// Cosine annealing from the initial rate to `min_lr` over the run's
    /// epochs (`CosineAnnealingLR`).
    Cosine {
        /// The final rate.
        min_lr: f64,
    },
}

impl Schedule {
    /// The rate for `epoch` (0-based) of `epochs`.
    pub fn rate(self, base: f64, epoch: usize, epochs: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Exponential { gamma } => base * gamma.powi(epoch as i32),
            Schedule::Cosine { min_lr } => {
                let t = epoch as f64 / epochs.max(1) as f64;
                min_lr + (base - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }

    /// Parse `constant`, `step:EVERY:GAMMA`, `exponential:GAMMA` or
    /// `cosine[:MIN_LR]`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let num = |p: &str| -> Result<f64> {
            p.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| Error::invalid("lr_schedule", format!("{p:?} is not a non-negative number")))
        };
        Ok(match parts.as_slice() {
            ["constant"] => Schedule::Constant,
            ["step", every, gamma] => Schedule::Step {
                every: every
                    .parse()
                    .map_err(|_| Error::invalid("lr_schedule", format!("{every:?} is not a count of epochs")))?,
                gamma: num(gamma)?,
            },
            ["exponential", gamma] => Schedule::Exponential { gamma: num(gamma)? },
            ["cosine"] => Schedule::Cosine { min_lr: 0.0 },
            ["cosine", min] => Schedule::Cosine { min_lr: num(min)? },
            _ => {
                return Err(Error::invalid(
                    "lr_schedule",
                    format!("{s:?}: expected constant, step:EVERY:GAMMA, exponential:GAMMA or cosine[:MIN_LR]"),
                ));
            }
        })
    }
}

/// An optimizer's state: the step count and its vectors per parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Updates made.
    pub step: u64,
    /// Per parameter, the optimizer's vectors (momentum; or first and
    /// second moments), each as long as the parameter; empty until the first
    /// update of that parameter.
    #[serde(skip)]
    pub slots: Vec<Vec<Vec<f32>>>,
}

/// Hyper-parameters of one update.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Update {
    pub optimizer: Optimizer,
    pub lr: f64,
    pub weight_decay: f64,
}

impl OptimizerState {
    /// Start of an update: count the step.
    pub(crate) fn begin(&mut self, n_params: usize) {
        self.step += 1;
        if self.slots.len() != n_params {
            self.slots.resize(n_params, Vec::new());
        }
    }

    /// Apply one update to parameter `index` with gradient `grad`.
    pub(crate) fn apply(&mut self, index: usize, value: &mut [f32], grad: &[f32], u: Update) {
        let slots = &mut self.slots[index];
        if slots.len() != u.optimizer.slots() || slots.iter().any(|s| s.len() != value.len()) {
            *slots = vec![vec![0.0; value.len()]; u.optimizer.slots()];
        }
        let (lr, wd) = (u.lr as f32, u.weight_decay as f32);
        match u.optimizer {
            Optimizer::Sgd { momentum } => {
                let mu = momentum as f32;
                let buf = &mut slots[0];
                for ((p, &g), b) in value.iter_mut().zip(grad).zip(buf.iter_mut()) {
                    let g = g + wd * *p;
                    *b = if mu > 0.0 { mu * *b + g } else { g };
                    *p -= lr * *b;
                }
            }
            Optimizer::Adam { beta1, beta2, epsilon } | Optimizer::AdamW { beta1, beta2, epsilon } => {
                let decoupled = matches!(u.optimizer, Optimizer::AdamW { .. });
                let t = self.step as i32;
                let (b1, b2) = (beta1 as f32, beta2 as f32);
                let c1 = 1.0 - beta1.powi(t);
                let c2 = 1.0 - beta2.powi(t);
                let step = (u.lr / c1) as f32;
                let c2s = c2.sqrt() as f32;
                let eps = epsilon as f32;
                let (m, rest) = slots.split_at_mut(1);
                let (m, v) = (&mut m[0], &mut rest[0]);
                for (((p, &g), mi), vi) in value.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
                    let g = if decoupled {
                        *p -= lr * wd * *p;
                        g
                    } else {
                        g + wd * *p
                    };
                    *mi = b1 * *mi + (1.0 - b1) * g;
                    *vi = b2 * *vi + (1.0 - b2) * g * g;
                    *p -= step * *mi / (vi.sqrt() / c2s + eps);
                }
            }
        }
    }
}

/// Scale gradients so their joint L2 norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`); returns the norm before clipping.
pub(crate) fn clip_global_norm(grads: &mut [Option<Vec<f32>>], max_norm: f64) -> f64 {
    let norm = grads
        .iter()
        .flatten()
        .flat_map(|g| g.iter())
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt();
    if norm > max_norm && norm > 0.0 {
        let s = (max_norm / norm) as f32;
        for g in grads.iter_mut().flatten() {
            g.iter_mut().for_each(|v| *v *= s);
        }
    }
    norm
}
