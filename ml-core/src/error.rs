//! The error type of `ml-core`, which sibling crates wrap.

use std::path::PathBuf;

/// Everything that can go wrong in `ml-core`.
///
/// Variants name the operation and carry the values involved, so that a
/// message reaching a user says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two things that must agree in size do not.
    #[error("{op}: shape mismatch, expected {expected}, got {got}")]
    Shape {
        /// The operation that checked.
        op: &'static str,
        /// What was expected, in words (`"30 columns"`).
        expected: String,
        /// What was found.
        got: String,
    },
    /// A NaN or infinite value where only finite numbers are allowed.
    #[error("{op}: non-finite value {value} at row {row}, column '{column}'")]
    NonFinite {
        /// The operation that checked.
        op: &'static str,
        /// Zero-based row index.
        row: usize,
        /// Column name.
        column: String,
        /// The offending value.
        value: f64,
    },
    /// Missing values (NaN) given to something that cannot take them.
    #[error("{op} cannot take missing values: column '{column}' has {count} ({hint})")]
    MissingValues {
        /// What refused them (`"logistic"`, `"predict"`).
        op: String,
        /// The first column with missing values.
        column: String,
        /// How many values of that column are missing.
        count: usize,
        /// What to do instead.
        hint: String,
    },
    /// No rows, no columns, or no classes where some are needed.
    #[error("{op}: empty {what}")]
    Empty {
        /// The operation that checked.
        op: &'static str,
        /// What was empty.
        what: &'static str,
    },
    /// A column asked for by name is not there.
    #[error("unknown column '{name}' (available: {available})")]
    UnknownColumn {
        /// The requested name.
        name: String,
        /// The names that exist, comma separated.
        available: String,
    },
    /// A column the model needs is missing from the input.
    #[error("missing column '{name}' required by the model")]
    MissingColumn {
        /// The missing column.
        name: String,
    },
    /// A categorical value that was not seen when the encoding was fitted.
    #[error("column '{column}': unseen category '{value}' (known: {known})")]
    UnseenCategory {
        /// Column name.
        column: String,
        /// The unknown value.
        value: String,
        /// Known categories, comma separated.
        known: String,
    },
    /// Malformed CSV input.
    #[error("CSV line {line}: {message}")]
    Csv {
        /// One-based line number in the file (the header is line 1).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A hyper-parameter or argument outside its domain.
    #[error("invalid parameter '{name}': {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The operation does not apply to this kind of model or data.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A file could not be read or written.
    #[error("{op} '{path}': {source}")]
    Io {
        /// What was being done (`"read"`, `"write"`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A stored file is corrupt, truncated, or not ours.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// What was being read (`"model file"`).
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A stored file was written by a newer format version than this build reads.
    #[error("{what} has format version {found}, this build reads up to {supported}")]
    UnsupportedVersion {
        /// What was being read.
        what: &'static str,
        /// Version found in the file.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// A failure inside another crate's back end (tracking server, runtime),
    /// kept as its own typed error so callers can downcast it.
    #[error("{source}")]
    Backend {
        /// The back end (`"mlflow"`, `"onnxruntime"`).
        backend: &'static str,
        /// The back end's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An input is larger than a bound that keeps memory and time in check
    /// (see [`crate::limits`]).
    #[error("{what} exceeds the limit of {limit} ({hint})")]
    LimitExceeded {
        /// What was too large (`"a line of the CSV input"`).
        what: String,
        /// The bound, as people read it (`"64 MiB"`).
        limit: String,
        /// How to raise the bound or shrink the input.
        hint: String,
    },
    /// A numerical procedure failed (singular system, divergence).
    #[error("{op}: {reason}")]
    Numerical {
        /// The procedure.
        op: &'static str,
        /// What happened.
        reason: String,
    },
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

    /// Shorthand for [`Error::Shape`].
    pub fn shape(op: &'static str, expected: impl ToString, got: impl ToString) -> Self {
        Error::Shape {
            op,
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }
}
