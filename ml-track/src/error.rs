//! The error type of `ml-track`.

use std::path::PathBuf;

/// Everything that can go wrong while tracking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from `ml-core`.
    #[error(transparent)]
    Core(#[from] ml_core::Error),
    /// A key, value or name that MLflow would refuse (its own rules and limits).
    #[error("invalid {field} '{value}': {reason}")]
    Invalid {
        /// What was checked (`"param key"`, `"tag value"`).
        field: &'static str,
        /// The offending value (shortened when long).
        value: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// An experiment or run that does not exist.
    #[error("{what} '{id}' does not exist")]
    NotFound {
        /// `"experiment"` or `"run"`.
        what: &'static str,
        /// Its id or name.
        id: String,
    },
    /// A write that MLflow forbids on existing state (a param logged twice with
    /// different values, logging to a finished or deleted run).
    #[error("{0}")]
    Conflict(String),
    /// A file could not be read or written.
    #[error("{op} '{path}'")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A store file that cannot be understood.
    #[error("malformed {path}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A tracking URI this build cannot serve.
    #[error("unsupported tracking URI '{0}'")]
    UnsupportedUri(String),
    /// An MLflow tracking server refused a request, with MLflow's `error_code`.
    #[error("MLflow server: {error_code} (HTTP {status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// MLflow's `error_code` (`RESOURCE_DOES_NOT_EXIST`, ...).
        error_code: String,
        /// MLflow's message.
        message: String,
    },
    /// A server reply that is not what MLflow's REST API sends (a missing
    /// field, a wrong type, an unknown enum value).
    #[error("malformed reply from the MLflow server ({endpoint}): {reason}")]
    Reply {
        /// The API endpoint.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// The server took a request and did not answer in time.
    #[error("the MLflow server at {server} {waited} (MLFLOW_HTTP_REQUEST_TIMEOUT sets the wait)")]
    NoAnswer {
        /// The server's base URL.
        server: String,
        /// What it did not do, and how long it was given.
        waited: String,
    },
    /// The server could not be reached, even after retries.
    #[error("MLflow server unreachable at {url}: {reason}")]
    Transport {
        /// The request URL.
        url: String,
        /// What failed.
        reason: String,
    },
}

impl Error {
    /// MLflow's `error_code` for this error, as its REST API reports it.
    pub fn error_code(&self) -> &str {
        match self {
            Error::Invalid { .. } | Error::Conflict(_) => "INVALID_PARAMETER_VALUE",
            Error::NotFound { .. } => "RESOURCE_DOES_NOT_EXIST",
            Error::Server { error_code, .. } => error_code,
            _ => "INTERNAL_ERROR",
        }
    }

    pub(crate) fn io<'a>(op: &'static str, path: &'a std::path::Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
        move |source| Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ml_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Core(c) => c,
            other => ml_core::Error::Backend {
                backend: "ml-track",
                source: Box::new(other),
            },
        }
    }
}
