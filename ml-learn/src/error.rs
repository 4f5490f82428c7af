//! The error type of `ml-learn`.

/// Everything that can go wrong while training or persisting a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from `ml-core` (data validation, shapes, files).
    #[error(transparent)]
    Core(#[from] ml_core::Error),
    /// linfa refused or failed to fit.
    #[error("{algorithm} (linfa): {message}")]
    Linfa {
        /// The algorithm.
        algorithm: &'static str,
        /// linfa's message.
        message: String,
    },
    /// A model file's contents could not be decoded.
    #[error("model file: {0}")]
    Decode(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ml_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Core(c) => c,
            other => ml_core::Error::Backend {
                backend: "ml-learn",
                source: Box::new(other),
            },
        }
    }
}

pub(crate) fn invalid(name: &str, reason: impl Into<String>) -> Error {
    Error::Core(ml_core::Error::invalid(name, reason))
}
