#![doc = include_str!("../README.md")]

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
