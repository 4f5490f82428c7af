#![doc = include_str!("../README.md")]
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
