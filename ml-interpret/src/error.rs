//! ml-interpret's errors.

/// Errors of explanations, fairness metrics and mitigation, and charts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter or argument outside its domain (an unknown metric or
    /// constraint, a group not seen in fitting, lengths that differ).
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The method does not apply to this model (TreeSHAP on a linear model,
    /// a threshold optimizer on a regressor).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Drawing a chart failed inside the drawing back end (the font,
    /// plotters), not because of the data.
    #[error("drawing: {0}")]
    Drawing(String),
    /// An error from ml-core: data, models, files.
    #[error(transparent)]
    Core(#[from] ml_core::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

/// What the ml-core traits (`Explainer`, `Model`, `Trainer`) return: the
/// same kinds, ml-core's own errors unwrapped.
impl From<Error> for ml_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Core(e) => e,
            Error::InvalidParameter { name, reason } => ml_core::Error::InvalidParameter { name, reason },
            Error::Unsupported(s) => ml_core::Error::Unsupported(s),
            Error::Drawing(s) => ml_core::Error::Backend {
                backend: "plotters",
                source: s.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_kind_through_the_ml_core_traits() {
        let core: ml_core::Error = Error::invalid("metric", "unknown").into();
        assert!(matches!(core, ml_core::Error::InvalidParameter { ref name, .. } if name == "metric"));
        let core: ml_core::Error = Error::Drawing("no font".into()).into();
        assert!(matches!(
            core,
            ml_core::Error::Backend {
                backend: "plotters",
                ..
            }
        ));
        // ml-core's own errors come back out unwrapped.
        let inner = ml_core::Error::Unsupported("x".into());
        let core: ml_core::Error = Error::from(inner).into();
        assert!(matches!(core, ml_core::Error::Unsupported(ref s) if s == "x"));
    }
}
