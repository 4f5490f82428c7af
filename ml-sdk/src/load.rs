//! Load any model by path or URI: a model saved by ml-sdk (its directory or
//! `model.mlsdk` file, an MLflow model directory logged by ml-sdk), an ONNX
//! file (ours or any exporter's) or a logged ONNX model, `models:/NAME/VERSION`,
//! `models:/NAME@ALIAS` and `runs:/RUN_ID/PATH` against a local store or an
//! MLflow server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ml_core::ndarray::ArrayView2;
use ml_core::{Error, Frame, InputColumn, MODEL_FILE, Model, ModelSpec, Predictions, Result, SavedModel, Signature};
use ml_track::{FetchedModel, ModelUri, TrackingStore, fetch_model, open_existing_store, tracking_uri};

/// How [`load_model`] finds and runs a model.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ModelLoadOptions {
    /// The tracking store that `models:/` and `runs:/` URIs resolve against
    /// (default: `MLFLOW_TRACKING_URI`, else `./mlruns`).
    pub tracking_uri: Option<String>,
    /// The runtime for ONNX models (one this build has: `onnx` brings tract,
    /// `onnx-ort` ONNX Runtime).
    #[cfg(feature = "onnx-export")]
    pub runtime: ml_onnx::Runtime,
}

impl ModelLoadOptions {
    /// Defaults: the environment's tracking store, tract for ONNX (ONNX
    /// Runtime in a build with `onnx-ort` and without `onnx`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolve URIs against this tracking store.
    pub fn tracking_uri(mut self, uri: impl Into<String>) -> Self {
        self.tracking_uri = Some(uri.into());
        self
    }

    /// Run ONNX models on this runtime.
    #[cfg(feature = "onnx-export")]
    pub fn runtime(mut self, runtime: ml_onnx::Runtime) -> Self {
        self.runtime = runtime;
        self
    }
}

/// What a loaded model was stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelFormat {
    /// An ml-sdk model file (`model.mlsdk`).
    Saved,
    /// An ONNX graph.
    Onnx,
}

/// A model loaded by [`load_model`]; it is a [`Model`] itself. Keeps a
/// downloaded copy alive as long as it lives.
#[derive(Debug)]
pub struct LoadedModel {
    model: Arc<dyn Model>,
    #[cfg(feature = "onnx-export")]
    onnx: Option<Arc<ml_onnx::OnnxModel>>,
    saved: Option<SavedModel>,
    format: ModelFormat,
    positional: bool,
    file: PathBuf,
    fetched: FetchedModel,
}

/// An ONNX file, directly or as the `model.onnx` of a logged ONNX model
/// (MLflow's onnx flavor) without an ml-sdk model beside it.
fn onnx_file(path: &Path) -> Option<PathBuf> {
    let is_onnx = |p: &Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if path.is_file() && is_onnx(path) {
        return Some(path.to_path_buf());
    }
    let inner = path.join(ml_track::ONNX_MODEL_FILE);
    (path.is_dir() && inner.is_file() && !path.join(MODEL_FILE).exists()).then_some(inner)
}

/// Load a model from a path or a `models:/`/`runs:/` URI.
///
/// # Errors
/// A malformed URI, an unknown model, version, alias or run, a missing,
/// corrupt or newer model file, an ONNX graph that cannot be loaded (or an
/// ONNX file in a build without a runtime for it: features `onnx`, `onnx-ort`).
pub fn load_model(uri: &str, options: &ModelLoadOptions) -> Result<LoadedModel> {
    let parsed = ModelUri::parse(uri)?;
    let store: Option<Box<dyn TrackingStore>> = if parsed.needs_store() {
        Some(open_existing_store(&tracking_uri(options.tracking_uri.as_deref()))?)
    } else {
        None
    };
    let fetched = fetch_model(&parsed, store.as_deref())?;
    let path = fetched.path().to_path_buf();
    if let Some(file) = onnx_file(&path) {
        #[cfg(feature = "onnx-export")]
        {
            let model = Arc::new(ml_onnx::OnnxModel::load_with(&file, options.runtime.clone())?);
            let positional = !model.has_feature_names();
            return Ok(LoadedModel {
                model: model.clone(),
                onnx: Some(model),
                saved: None,
                format: ModelFormat::Onnx,
                positional,
                file,
                fetched,
            });
        }
        #[cfg(not(feature = "onnx-export"))]
        return Err(Error::Unsupported(format!(
            "{} is an ONNX model; loading it needs ml-sdk's `onnx` feature",
            file.display()
        )));
    }
    let file = ml_core::io::file_in(&path, MODEL_FILE);
    let saved = SavedModel::load(&path)?;
    Ok(LoadedModel {
        model: Arc::new(saved.clone()),
        #[cfg(feature = "onnx-export")]
        onnx: None,
        saved: Some(saved),
        format: ModelFormat::Saved,
        positional: false,
        file,
        fetched,
    })
}

impl LoadedModel {
    /// The model.
    pub fn model(&self) -> &dyn Model {
        self.model.as_ref()
    }

    /// The ONNX model, for models stored as one.
    #[cfg(feature = "onnx-export")]
    pub fn onnx(&self) -> Option<&ml_onnx::OnnxModel> {
        self.onnx.as_deref()
    }

    /// The ml-sdk model file's contents (trainer, params, spec), for models
    /// stored as one.
    pub fn saved(&self) -> Option<&SavedModel> {
        self.saved.as_ref()
    }

    /// The saved model, or an error naming what was loaded instead.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an ONNX model.
    pub fn require_saved(&self) -> Result<&SavedModel> {
        self.saved.as_ref().ok_or_else(|| {
            Error::Unsupported(format!(
                "{} is an ONNX model; this needs a model saved by ml-sdk",
                self.file.display()
            ))
        })
    }

    /// What it was stored as.
    pub fn format(&self) -> ModelFormat {
        self.format
    }

    /// The file it was read from (a local copy for downloaded models).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Where the model came from: the run and registry version for URIs.
    pub fn source(&self) -> Option<&ml_track::ResolvedModel> {
        self.fetched.resolved()
    }

    /// Whether it reads its inputs by position: an ONNX model that does not
    /// name its columns.
    pub fn reads_columns_by_position(&self) -> bool {
        self.positional
    }

    /// The signature to read a table with: the model's own, or for a model
    /// that reads by position the table's columns (bar `target`) in order,
    /// all numeric, which must be as many as the model takes.
    ///
    /// # Errors
    /// A positional model given a table with another number of columns.
    pub fn signature_for(&self, frame: &Frame, target: Option<&str>) -> Result<Signature> {
        let sig = self.model.signature().clone();
        if !self.positional {
            return Ok(sig);
        }
        let names: Vec<&String> = frame.names().iter().filter(|n| Some(n.as_str()) != target).collect();
        if names.len() != sig.n_inputs() {
            return Err(Error::invalid(
                "data",
                format!(
                    "the ONNX model takes {} input columns and does not name them, so it reads the CSV's columns \
                     in order; the data has {} (besides the target)",
                    sig.n_inputs(),
                    names.len()
                ),
            ));
        }
        Ok(Signature {
            inputs: names.into_iter().map(|n| InputColumn::numeric(n.clone())).collect(),
            ..sig
        })
    }

    /// Predict for a table: columns matched by name (extras ignored), or by
    /// position for a model that reads them so.
    ///
    /// # Errors
    /// A missing column, as [`LoadedModel::signature_for`], prediction failures.
    pub fn predict_frame(&self, frame: &Frame) -> Result<Predictions> {
        let signature = self.signature_for(frame, None)?;
        let x = frame.encode(&signature.inputs, signature.unknown_category)?;
        self.model.predict(x.view())
    }
}

impl Model for LoadedModel {
    fn signature(&self) -> &Signature {
        self.model.signature()
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        self.model.predict(x)
    }

    fn describe(&self) -> Result<ModelSpec> {
        self.model.describe()
    }
}
