//! Neural networks for ml-sdk, trained on [burn](https://burn.dev).
//!
//! - [`Sequential`]: a Keras-like stack of dense, convolutional, pooling,
//!   normalization, dropout and activation layers; the output layer is added
//!   for the task.
//! - [`NetTrainer`]: `fit` with mini-batches, SGD with momentum, Adam or
//!   AdamW, learning-rate schedules, weight decay, gradient clipping, class
//!   weights, a validation split with early stopping and restore-best,
//!   seeded and reproducible on the CPU; per-epoch [`EpochLog`]s for any
//!   tracker; a progress bar on a terminal.
//! - [`NeuralNetwork`]: the fitted network, a [`ml_core::Model`] that
//!   predicts through its [`ml_core::ModelSpec`] (`Estimator::NeuralNet`), so
//!   metrics, explanations, fairness, ONNX export and serving take it like any
//!   model, without burn.
//! - [`checkpoint`]: versioned checkpoints of weights, optimizer state and
//!   history, independent of burn's record formats; [`NetTrainer::resume`].
//! - Transfer learning: [`Network::freeze_all_but_head`],
//!   [`Network::replace_head`], [`NetTrainer::fine_tune`].
//! - DP-SGD ([`DpConfig`]): per-example clipping (from dense layers' inputs
//!   and output gradients, or micro-batches), Gaussian noise, Poisson
//!   sampling, ε from ml-privacy's RDP or PLD accountant.
//!
//! The CPU backend is burn's pure-Rust `flex`; the `wgpu` feature adds GPUs.
//!
//! ```no_run
//! use ml_neural::{NetTrainer, Sequential};
//! # fn main() -> ml_core::Result<()> {
//! let data = ml_datasets::digits()?;
//! let trainer = NetTrainer {
//!     architecture: Sequential::new().dense(64).relu().dense(64).relu(),
//!     epochs: 20,
//!     ..NetTrainer::default()
//! };
//! let net = trainer.fit_network(&data, &mut |e| println!("epoch {} loss {:.4}", e.epoch, e.loss))?;
//! # Ok(()) }
//! ```

mod backend;
pub mod checkpoint;
mod dp;
#[cfg(feature = "wgpu")]
mod gpu;
mod network;
mod optim;
mod params;
pub mod tape;
mod train;

pub use backend::BackendKind;
pub use dp::{AccountantKind, DpConfig, PrivacyReport};
pub use network::{LayerConfig, Network, Param, ParamKind, Sequential};
pub use optim::{Optimizer, OptimizerState, Schedule};
pub use params::NAMES;
pub use train::{ClassWeights, EarlyStopping, EpochLog, History, LossKind, NetTrainer, NeuralNetwork, TrainState};
