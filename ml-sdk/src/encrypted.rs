//! Encrypted inference with models loaded by path or URI (`ml_sdk::he`).

use std::path::Path;

use ml_core::{Frame, Model};
use ml_he::{Calibration, ClientKey, EncryptedRequest, HeModel, QuantConfig, Result};

use crate::load::{ModelLoadOptions, load_model};

/// The compiled model for encrypted scoring of `model`: a compiled model
/// file (`mlsdk he compile`) as it is, or any linear model (a saved model,
/// a `.onnx` file, an MLflow model or `models:/` URI) compiled with ranges
/// taken from its own scaling steps ([`Calibration::Spec`]) and `config`.
///
/// # Errors
/// Loading failures; models that are not linear or cannot be calibrated
/// without data.
pub fn load_he_model(model: &str, config: QuantConfig, options: &ModelLoadOptions) -> Result<HeModel> {
    let path = Path::new(model);
    if path.is_file() {
        let head = read_head(path)?;
        if HeModel::sniff(&head) {
            return HeModel::load(path);
        }
    }
    let loaded = load_model(model, options)?;
    HeModel::compile(&loaded.describe()?, Calibration::default(), config)
}

/// Compile `model` with feature ranges calibrated on `data` (the training
/// data or a sample of it; columns matched by name).
///
/// # Errors
/// Loading failures, a missing column, models that are not linear, and
/// models over the plaintext space or noise budget.
pub fn compile_he_model(model: &str, data: &Frame, config: QuantConfig, options: &ModelLoadOptions) -> Result<HeModel> {
    let loaded = load_model(model, options)?;
    let signature = loaded.signature_for(data, None)?;
    let x = data.encode(&signature.inputs, signature.unknown_category)?;
    HeModel::compile(&loaded.describe()?, Calibration::Data(x.view()), config)
}

/// Quantize and encrypt a table's rows (columns matched by name, as
/// `predict` matches them).
///
/// # Errors
/// A missing column or bad value; a key of other parameters.
pub fn encrypt_frame(key: &ClientKey, model: &HeModel, data: &Frame) -> Result<EncryptedRequest> {
    let x = data.encode(&model.signature.inputs, model.signature.unknown_category)?;
    key.encrypt(model, x.view())
}

/// The first bytes of a file (enough to recognize a compiled model).
pub(crate) fn read_head(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(32);
    std::fs::File::open(path)
        .and_then(|f| f.take(32).read_to_end(&mut head))
        .map_err(|source| ml_he::Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
    Ok(head)
}
