//! Differential privacy for ml-sdk.
//!
//! - [`exact`]: integer samplers with exactly the stated distributions
//!   (Bernoulli(exp(-γ)), discrete Laplace, discrete Gaussian, geometric),
//!   after Canonne, Kamath and Steinke 2020.
//! - [`mechanisms`]: Laplace and Gaussian mechanisms for real and integer
//!   answers (real answers through a lattice whose rounding slack is in the
//!   privacy map), the exponential mechanism, report-noisy-max and
//!   randomized response. Each release returns its value and the privacy
//!   it spent ([`Release`]).
//! - [`aggregates`]: count, sum, mean, variance, histogram and quantiles of
//!   a data column with bounds-derived sensitivity.
//! - [`accounting`]: pure, approximate, zCDP and Rényi measures with their
//!   conversions; a thread-safe [`PrivacyLedger`] (odometer or filter) with
//!   exact totals; the Rényi (RDP) and privacy-loss-distribution (PLD)
//!   accountants for DP-SGD's Poisson-subsampled Gaussian mechanism.
//! - [`train`]: differentially private logistic regression (output
//!   perturbation with exact Gaussian noise), a [`ml_core::Trainer`].
//!
//! Randomness comes from [`DpRng`]: ChaCha20 keyed by the operating system
//! unless a test asks for [`DpRng::insecure_seeded_for_tests`].
//!
//! # Trust boundary
//! A mechanism constructor that takes a sensitivity (`Laplace::new`,
//! `Gaussian::integer`, `ExponentialMechanism::new`, ...) is only as good
//! as the number the caller states, so those constructors exist only with
//! the `honest-but-curious` feature, as in OpenDP. Without it, the crate
//! offers what derives its sensitivities itself: [`aggregates`] (from
//! clamping bounds and the neighbouring relation), [`train`],
//! [`RandomizedResponse`] (one respondent's own value), the samplers in
//! [`exact`] and the accountants.

#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc)]

pub mod accounting;
pub mod aggregates;
pub mod exact;
pub mod mechanisms;
mod ratio;
pub mod rng;
pub mod train;

pub use accounting::ledger::{Budget, LedgerEntry, PrivacyLedger, Spent};
pub use accounting::pld::PldAccountant;
pub use accounting::rdp::RdpAccountant;
pub use accounting::{PrivacyLoss, zcdp_to_approximate};
pub use mechanisms::{ExponentialMechanism, Gaussian, Laplace, RandomizedResponse, Release, ReportNoisyMax};
pub use rng::DpRng;
pub use train::{DpLogisticModel, DpLogisticRegression, PrivateLinear};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter outside its domain (ε <= 0, a negative bound, ...).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Data the operation cannot use (non-finite, empty, unknown column).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// A charge the ledger's budget cannot cover; nothing was recorded.
    #[error("privacy budget exceeded: {0}")]
    BudgetExceeded(String),
    /// A parameter whose exact arithmetic would not fit the sampler's integers.
    #[error("out of range: {0}")]
    Overflow(String),
    /// The operating system's generator failed.
    #[error("randomness: {0}")]
    Randomness(String),
    /// The ledger's state is unusable (a thread panicked holding it).
    #[error("ledger: {0}")]
    Ledger(String),
    /// An error from ml-core (data loading, tracking).
    #[error(transparent)]
    Core(#[from] ml_core::Error),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;
