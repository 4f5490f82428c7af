//! Errors of the server, each with the HTTP status it answers with.

use std::fmt;

/// An error answered to a client (status and message, sent as
/// `{"error": "…"}`) or met while starting the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    status: u16,
    message: String,
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with this HTTP status.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed or does not fit the model.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 404: no such model, version or route.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 500: the server failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A model's refusal of its input is the client's error (400); failures of
/// the model or its files are the server's (500).
impl From<ml_core::Error> for Error {
    fn from(e: ml_core::Error) -> Self {
        use ml_core::Error as E;
        let status = match &e {
            E::Shape { .. }
            | E::NonFinite { .. }
            | E::MissingValues { .. }
            | E::Empty { .. }
            | E::UnknownColumn { .. }
            | E::MissingColumn { .. }
            | E::UnseenCategory { .. }
            | E::Csv { .. }
            | E::InvalidParameter { .. }
            | E::LimitExceeded { .. } => 400,
            _ => 500,
        };
        Self::new(status, e.to_string())
    }
}

impl From<Error> for ml_core::Error {
    fn from(e: Error) -> Self {
        ml_core::Error::Backend {
            backend: "ml-serve",
            source: Box::new(e),
        }
    }
}
