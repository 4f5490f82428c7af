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
//! # Example
//! A private mean under a budget that refuses to be overspent:
//!
//! ```
//! use ml_privacy::aggregates::{Bounds, Neighbouring, NoiseSpec, mean};
//! use ml_privacy::{Budget, DpRng, PrivacyLedger};
//!
//! # fn main() -> ml_privacy::Result<()> {
//! let ages = [23.0, 35.0, 41.0, 58.0, 62.0, 29.0, 47.0];
//! let ledger = PrivacyLedger::filter(Budget::Approximate { epsilon: 1.0, delta: 0.0 })?;
//! let mut rng = DpRng::secure()?;
//! let release = mean(
//!     &mut rng,
//!     &ages,
//!     Bounds::new(18.0, 90.0)?,
//!     NoiseSpec::Laplace { epsilon: 0.5 },
//!     Neighbouring::AddRemove,
//! )?;
//! ledger.charge("mean age", release.loss)?;
//! // Clamped to the bounds whatever the noise.
//! assert!((18.0..=90.0).contains(&release.value));
//! // A second release at ε = 0.6 would exceed ε = 1: refused, nothing recorded.
//! let again = mean(&mut rng, &ages, Bounds::new(18.0, 90.0)?, NoiseSpec::Laplace { epsilon: 0.6 }, Neighbouring::AddRemove)?;
//! assert!(matches!(
//!     ledger.charge("mean age again", again.loss),
//!     Err(ml_privacy::Error::BudgetExceeded { .. })
//! ));
//! assert_eq!(ledger.entries()?.len(), 1);
//! # Ok(())
//! # }
//! ```
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
#[non_exhaustive]
pub enum Error {
    /// A parameter outside its domain (ε <= 0, a negative bound, ...).
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter (`"epsilon"`, `"sampling rate"`).
        name: String,
        /// What is wrong with it, with the value given.
        reason: String,
    },
    /// Data the operation cannot use (non-finite, empty, unknown column).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// A charge the ledger's budget cannot cover; nothing was recorded.
    #[error("privacy budget exceeded: '{label}' would bring the total to {total} (budget {budget})")]
    BudgetExceeded {
        /// The refused charge's label.
        label: String,
        /// The total it would have brought, in the ledger's measure.
        total: String,
        /// The ledger's budget.
        budget: String,
    },
    /// A parameter whose exact arithmetic would not fit the sampler's integers.
    #[error("out of range: {what}")]
    Overflow {
        /// The quantity that does not fit.
        what: String,
    },
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

impl Error {
    /// [`Error::InvalidParameter`] for `name`.
    pub fn param(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// [`Error::Overflow`].
    pub fn overflow(what: impl Into<String>) -> Self {
        Error::Overflow { what: what.into() }
    }
}

/// The one check of a parameter that must be finite and above zero (ε, ρ,
/// a noise multiplier), quoting the value as given.
pub(crate) fn check_positive(name: &str, value: f64) -> Result<()> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(Error::param(
            name,
            format!("must be finite and > 0, got {}", ml_core::limits::readable(value)),
        ))
    }
}

/// The one check of a δ: in (0, 1), quoted as given.
pub(crate) fn check_delta(delta: f64) -> Result<()> {
    if delta > 0.0 && delta < 1.0 {
        Ok(())
    } else {
        Err(Error::param(
            "delta",
            format!("must be in (0, 1), got {}", ml_core::limits::readable(delta)),
        ))
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;
