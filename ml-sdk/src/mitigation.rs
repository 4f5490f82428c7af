//! Saved fairness mitigations on new data: the calls that need the model
//! loader and ml-interpret together.

use std::path::Path;

use ml_core::{Dataset, Frame, Predictions, Result};
use ml_interpret::{BinaryScores, SavedMitigation};

use crate::{LoadedModel, ModelLoadOptions, load_model};

/// The rows of `frame` as `model` reads them (by its signature; with the
/// `target` column as classes where named) and the model's binary scores on
/// them, what a threshold optimizer is fitted to and predicts from.
///
/// # Errors
/// Columns the model needs that `frame` lacks, a model that is not a binary
/// classifier with probabilities.
pub fn binary_scores(model: &LoadedModel, frame: &Frame, target: Option<&str>) -> Result<(Dataset, BinaryScores)> {
    let signature = model.signature_for(frame, target)?;
    let data = frame.dataset_for(&signature, target, &[])?;
    let scores = BinaryScores::of(model, data.features())?;
    Ok((data, scores))
}

/// Predict with the mitigation saved at `path` (its directory or
/// `mitigation.json`) on `frame`: a threshold optimizer loads its base model
/// with `options` and thresholds its scores per group, a mix averages its
/// models; labels are drawn from `seed` as [`SavedMitigation::predict`]
/// draws them. `sensitive` renames the sensitive columns (empty: the saved
/// names).
///
/// # Errors
/// A missing or corrupt mitigation, a base model that cannot be loaded or
/// is not the one the thresholds were fitted to, missing columns, groups
/// not seen in fitting.
pub fn predict_mitigation(
    path: &Path,
    frame: &Frame,
    options: &ModelLoadOptions,
    sensitive: &[String],
    seed: u64,
) -> Result<Predictions> {
    let file = SavedMitigation::find(path).unwrap_or_else(|| path.to_path_buf());
    let saved = SavedMitigation::load(&file)?;
    let base = match saved.base_model(&file) {
        Some(uri) => Some(binary_scores(&load_model(&uri, options)?, frame, None)?.1),
        None => None,
    };
    saved.predict(frame, base.as_ref(), sensitive, seed)
}
