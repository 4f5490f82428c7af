//! Custom objectives on a [`Network`]: forward passes recorded for
//! automatic differentiation, the gradients of any scalar built from their
//! outputs, and an optimizer that applies them to the host-side weights.
//! Reinforcement learning (PPO's clipped surrogate, DQN's TD error) trains
//! networks this way; [`crate::NetTrainer`] covers supervised learning.
//!
//! ```
//! use ml_neural::tape::{Optim, Tape, Tensor};
//! use ml_neural::{BackendKind, Network, Optimizer, Sequential};
//! # fn main() -> ml_core::Result<()> {
//! let mut rng = ml_core::seeded_rng(0);
//! let mut net = Network::new(&Sequential::new().dense(8).tanh(), 2, 1, &mut rng)?;
//! let mut optim = Optim::new(Optimizer::adam(), 1e-2);
//! for _ in 0..200 {
//!     // Fit y = x0 - x1 on four points.
//!     let tape = Tape::new(&net, BackendKind::Cpu)?;
//!     let x = tape.matrix(vec![0., 0., 1., 0., 0., 1., 1., 1.], 4, 2);
//!     let y = tape.matrix(vec![0., 1., -1., 0.], 4, 1);
//!     let loss = (tape.forward(x) - y).square().mean();
//!     let grads = tape.gradients(loss)?;
//!     optim.step(&mut net, grads);
//! }
//! let out = net.predict(&[1.0, 0.0])?;
//! assert!((out[0] - 1.0).abs() < 0.1);
//! # Ok(())
//! # }
//! ```

use burn::tensor::{Device, Gradients};
pub use burn::tensor::{Tensor, activation};
use ml_core::{Layer, Result, RowShape};

use crate::backend::{self, BackendKind, Mode, download, upload};
use crate::network::Network;
use crate::optim::{Optimizer, OptimizerState, Update, clip_global_norm};

/// One recorded pass over a network's current weights.
pub struct Tape<'n> {
    net: &'n Network,
    shapes: Vec<RowShape>,
    leaves: Vec<Tensor<1>>,
    device: Device,
}

impl std::fmt::Debug for Tape<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape").field("params", &self.leaves.len()).finish()
    }
}

impl<'n> Tape<'n> {
    /// Upload `net`'s weights (trainable ones requiring gradients).
    ///
    /// # Errors
    /// An invalid network, a missing backend.
    pub fn new(net: &'n Network, backend: BackendKind) -> Result<Self> {
        let device = backend.device()?.autodiff();
        let shapes = net.shapes()?;
        let leaves = backend::leaves(net, &device, true);
        Ok(Self {
            net,
            shapes,
            leaves,
            device,
        })
    }

    /// A `rows × cols` matrix on the tape's device (row-major values).
    pub fn matrix(&self, values: Vec<f32>, rows: usize, cols: usize) -> Tensor<2> {
        upload(values, [rows, cols], &self.device)
    }

    /// The network's raw outputs for a batch (inference mode: no dropout,
    /// batch normalization from running statistics).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        backend::forward(self.net, &self.shapes, &self.leaves, x, Mode::Eval, false).0
    }

    /// Gradients of `loss` (a one-element tensor) for every parameter:
    /// `None` for frozen ones, zeros for those it does not depend on.
    ///
    /// # Errors
    /// A failed device read.
    pub fn gradients(&self, loss: Tensor<1>) -> Result<Vec<Option<Vec<f32>>>> {
        Ok(gradients(loss, &[self])?.remove(0))
    }
}

/// Gradients of one `loss` for the parameters of several tapes (networks
/// trained by one objective, as an actor and its log standard deviation):
/// one backward pass, which burn allows once per graph.
///
/// # Errors
/// A failed device read.
pub fn gradients(loss: Tensor<1>, tapes: &[&Tape<'_>]) -> Result<Vec<Vec<Option<Vec<f32>>>>> {
    let grads = loss.backward();
    tapes.iter().map(|t| t.collect(&grads)).collect()
}

/// A tensor's values read back to the host (a loss, ratios), for logging.
///
/// # Errors
/// A failed device read.
pub fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    download(t)
}

impl Tape<'_> {
    fn collect(&self, grads: &Gradients) -> Result<Vec<Option<Vec<f32>>>> {
        self.leaves
            .iter()
            .zip(&self.net.params)
            .map(|(leaf, p)| {
                if !p.trainable {
                    return Ok(None);
                }
                match leaf.grad(grads) {
                    Some(g) => download(g).map(Some),
                    None => Ok(Some(vec![0.0; p.value.len()])),
                }
            })
            .collect()
    }
}

/// An optimizer and its state for a custom training loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Optim {
    /// The update rule.
    pub optimizer: Optimizer,
    /// Learning rate of the next step.
    pub learning_rate: f64,
    /// Weight decay (L2 for SGD and Adam, decoupled for AdamW).
    pub weight_decay: f64,
    /// Clip the gradients' global L2 norm to this before each step.
    pub clip_norm: Option<f64>,
    /// Step count and moment vectors (saved with checkpoints).
    pub state: OptimizerState,
}

impl Optim {
    /// `optimizer` at learning rate `lr`, no decay or clipping.
    pub fn new(optimizer: Optimizer, lr: f64) -> Self {
        Self {
            optimizer,
            learning_rate: lr,
            weight_decay: 0.0,
            clip_norm: None,
            state: OptimizerState::default(),
        }
    }

    /// Apply `grads` (from [`Tape::gradients`] on `net`) to `net`'s
    /// trainable parameters; returns the gradients' norm before clipping.
    pub fn step(&mut self, net: &mut Network, mut grads: Vec<Option<Vec<f32>>>) -> f64 {
        let norm = clip_global_norm(&mut grads, self.clip_norm.unwrap_or(f64::INFINITY));
        let update = Update {
            optimizer: self.optimizer,
            lr: self.learning_rate,
            weight_decay: self.weight_decay,
        };
        self.state.begin(net.params.len());
        for (i, (p, g)) in net.params.iter_mut().zip(&grads).enumerate() {
            if let (true, Some(g)) = (p.trainable, g)
                && g.len() == p.value.len()
            {
                self.state.apply(i, &mut p.value, g, update);
            }
        }
        norm
    }
}

impl Network {
    /// The network's raw outputs for one row, computed on the host in
    /// `f64` from its inference layers (no burn): cheap for the small
    /// networks of reinforcement learning, one row at a time.
    ///
    /// # Errors
    /// A row of the wrong width, a corrupt network.
    pub fn predict(&self, row: &[f32]) -> Result<Vec<f64>> {
        let layers = self.inference_layers()?;
        Ok(forward_rows(&layers, self.input_width, &[row])?.remove(0))
    }
}

/// Raw outputs of a batch of rows through inference layers computed once
/// ([`Network::inference_layers`]), on the host in `f64`.
///
/// # Errors
/// A row whose width is not `width`.
pub fn forward_rows<R: AsRef<[f32]>>(layers: &[Layer], width: usize, rows: &[R]) -> Result<Vec<Vec<f64>>> {
    if let Some(bad) = rows.iter().find(|r| r.as_ref().len() != width) {
        return Err(ml_core::Error::shape("forward", width.to_string(), bad.as_ref().len()));
    }
    let x = ml_core::ndarray::Array2::from_shape_fn((rows.len(), width), |(i, j)| f64::from(rows[i].as_ref()[j]));
    Ok(ml_core::neural::forward(layers, x.view())
        .outer_iter()
        .map(|r| r.to_vec())
        .collect())
}
