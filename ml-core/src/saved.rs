//! Saving and loading fitted models: a versioned, checksummed file holding
//! the model's [`ModelSpec`] and how it was trained.

use std::path::{Path, PathBuf};

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::{Error, Model, ModelSpec, Predictions, Result, Signature, io};

/// The file name inside a model directory.
pub const MODEL_FILE: &str = "model.mlsdk";
/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Files larger than this are refused before parsing.
pub const MAX_MODEL_BYTES: u64 = 1 << 30;
const KIND: &str = "model";

/// A model as stored: its spec and its training provenance. Predicts through
/// the spec, exactly as the model it was saved from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// The portable description.
    pub spec: ModelSpec,
    /// The algorithm's name.
    pub trainer: String,
    /// The hyper-parameters.
    pub params: Vec<(String, String)>,
    /// The ml-sdk version that wrote it.
    pub sdk_version: String,
}

impl SavedModel {
    /// Describe any model for saving.
    ///
    /// # Errors
    /// A model that cannot describe itself.
    pub fn from_model(model: &dyn Model, trainer: &str, params: Vec<(String, String)>) -> Result<Self> {
        Ok(Self {
            spec: model.describe()?,
            trainer: trainer.to_string(),
            params,
            sdk_version: env!("CARGO_PKG_VERSION").to_string(),
        })
    }

    /// The stored bytes.
    ///
    /// # Errors
    /// Serialization failure.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let json = serde_json::to_vec(self).map_err(|e| Error::Unsupported(format!("serializing a model: {e}")))?;
        Ok(io::seal(KIND, FORMAT_VERSION, &json))
    }

    /// Parse stored bytes, checking header, length, checksum, version and the
    /// spec's consistency.
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::UnsupportedVersion`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (_, payload) = io::unseal("model file", KIND, FORMAT_VERSION, bytes)?;
        let saved: SavedModel = serde_json::from_slice(payload).map_err(|e| Error::Corrupt {
            what: "model file",
            reason: e.to_string(),
        })?;
        saved.spec.validate()?;
        Ok(saved)
    }

    /// Write to `dir/model.mlsdk` (the directory is created), atomically.
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        io::save_in_dir(dir, MODEL_FILE, &self.to_bytes()?)
    }

    /// Read from a model directory or a model file.
    ///
    /// # Errors
    /// A missing, oversized, corrupt, truncated or newer file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_bytes(&io::read_in("model file", path, MODEL_FILE, MAX_MODEL_BYTES)?)
    }
}

impl Model for SavedModel {
    fn signature(&self) -> &Signature {
        &self.spec.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        self.spec.predict(x)
    }

    fn describe(&self) -> Result<ModelSpec> {
        Ok(self.spec.clone())
    }
}
