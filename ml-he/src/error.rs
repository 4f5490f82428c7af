//! The crate's error type.

use std::path::PathBuf;

/// Errors of encrypted inference. Every malformed input is one of these,
/// never a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A buffer or file that is not a well-formed ml-he message.
    #[error("{what}: {reason}")]
    Format {
        /// What was being read (`"request"`, `"client key"`, ...).
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A message written by a newer (or unknown) format version.
    #[error("{what}: format version {found} is not supported (this build reads up to {supported})")]
    Version {
        /// What was being read.
        what: &'static str,
        /// The version found.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },
    /// A message made under other cryptographic parameters.
    #[error("{what}: parameter set {found} does not match this build's {expected}")]
    Parameters {
        /// What was being read.
        what: &'static str,
        /// The parameter-set id found.
        found: u16,
        /// The id expected.
        expected: u16,
    },
    /// Ciphertexts made under another client key.
    #[error("{what}: key fingerprint {found} does not match the key's {expected}")]
    KeyMismatch {
        /// What was being checked.
        what: &'static str,
        /// The fingerprint found, hexadecimal.
        found: String,
        /// The fingerprint expected, hexadecimal.
        expected: String,
    },
    /// A request or response made for another model (or another quantization
    /// of the same model).
    #[error("{what}: made for model {found}, not for this model ({expected})")]
    ModelMismatch {
        /// What was being checked.
        what: &'static str,
        /// The model fingerprint found, hexadecimal.
        found: String,
        /// This model's fingerprint, hexadecimal.
        expected: String,
    },
    /// A model that cannot be evaluated exactly under the parameters: its
    /// quantized accumulator does not fit the plaintext space, or its noise
    /// exceeds the budget.
    #[error("model exceeds the {bound}: {detail}")]
    Budget {
        /// The bound, in words.
        bound: &'static str,
        /// Figures.
        detail: String,
    },
    /// A model or option this crate cannot encrypt.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An invalid parameter or input.
    #[error("{what}: {reason}")]
    Invalid {
        /// The parameter or input.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An error from ml-core (input validation, model files).
    #[error(transparent)]
    Core(#[from] ml_core::Error),
}

impl Error {
    pub(crate) fn format(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Format {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            reason: reason.into(),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
