//! A model as the server presents it: its tensor interface (input and
//! output names and datatypes), the matrix a request's tensors make, and the
//! output tensors its predictions make.

use std::sync::Arc;

use ml_core::ndarray::{Array2, ArrayView2};
use ml_core::{FeatureKind, Model, Predictions, Signature, Task};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::tensor::{DataType, InferRequest, OutputData, OutputTensor, TensorData};

/// The name of the one `[N, features]` input of ml-sdk's models (as their
/// ONNX exports name it).
pub const DEFAULT_INPUT: &str = "input";

/// The tensor names and types a model is served with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelInterface {
    /// Name of the `[N, features]` input tensor.
    pub input: String,
    /// Its datatype in metadata (any numeric datatype is accepted), and the
    /// datatype of float outputs: `FP32` or `FP64`.
    pub float_type: DataType,
    /// Name of the labels output (classifiers, clustering).
    pub label: String,
    /// Name of the class-probabilities output (classifiers).
    pub probabilities: String,
    /// Name of the values output (regressors).
    pub value: String,
    /// What the labels output holds.
    pub labels: LabelKind,
}

/// What a classifier's labels output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LabelKind {
    /// The class index, `INT64` (ml-sdk's ONNX exports; the class names are
    /// in the model's metadata).
    #[default]
    Index,
    /// The class value: `INT64` when every class name is an integer, else
    /// `BYTES` (what scikit-learn's ONNX classifiers emit).
    Value,
}

impl Default for ModelInterface {
    /// The names of ml-sdk's ONNX exports: `input`, `label`,
    /// `probabilities`, `variable`; FP64, as they take and give doubles.
    fn default() -> Self {
        Self {
            input: DEFAULT_INPUT.into(),
            float_type: DataType::Fp64,
            label: "label".into(),
            probabilities: "probabilities".into(),
            value: "variable".into(),
            labels: LabelKind::Index,
        }
    }
}

impl ModelInterface {
    /// Use another input name (an ONNX graph's own).
    pub fn with_input(mut self, name: impl Into<String>) -> Self {
        self.input = name.into();
        self
    }

    /// Declare FP64 (`true`) or FP32 inputs and float outputs.
    pub fn with_double(mut self, double: bool) -> Self {
        self.float_type = if double { DataType::Fp64 } else { DataType::Fp32 };
        self
    }

    /// Emit labels as class indices or class values.
    pub fn with_labels(mut self, labels: LabelKind) -> Self {
        self.labels = labels;
        self
    }

    /// Use other output names.
    pub fn with_outputs(
        mut self,
        label: impl Into<String>,
        probabilities: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.label = label.into();
        self.probabilities = probabilities.into();
        self.value = value.into();
        self
    }
}

/// A loaded model ready to serve, with the name and version it answers to.
#[derive(Debug, Clone)]
pub struct ServedModel {
    name: String,
    version: String,
    model: Arc<dyn Model>,
    interface: ModelInterface,
    platform: String,
    source: String,
    #[cfg(feature = "he")]
    encrypted: Option<Arc<ml_he::ServerContext>>,
}

/// One output a model produces: its name, datatype and shape (`-1` for the batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Name.
    pub name: String,
    /// Datatype.
    pub datatype: DataType,
    /// Shape, `-1` for the batch dimension.
    pub shape: Vec<i64>,
}

impl ServedModel {
    /// Serve `model` as `name`, version `version`.
    ///
    /// # Errors
    /// An empty or unusable name or version (they appear in URL paths).
    pub fn new(name: &str, version: &str, model: Arc<dyn Model>, interface: ModelInterface) -> Result<Self> {
        check_name("model name", name)?;
        check_name("model version", version)?;
        Ok(Self {
            name: name.to_string(),
            version: version.to_string(),
            model,
            interface,
            platform: "ml-sdk".into(),
            source: String::new(),
            #[cfg(feature = "he")]
            encrypted: None,
        })
    }

    /// Also take encrypted requests (`POST /v2/models/NAME/encrypted`),
    /// scored by this compiled model. The caller makes sure it is the same
    /// model as the one served in clear.
    #[cfg(feature = "he")]
    pub fn with_encrypted(mut self, context: Arc<ml_he::ServerContext>) -> Self {
        self.encrypted = Some(context);
        self
    }

    /// The encrypted-scoring context, when the model takes encrypted requests.
    #[cfg(feature = "he")]
    pub fn encrypted(&self) -> Option<&Arc<ml_he::ServerContext>> {
        self.encrypted.as_ref()
    }

    /// Record what runs it (`"ml-sdk"` for specs, `"onnxruntime_onnx"`) and
    /// where it came from (a path or URI), for metadata and logs.
    pub fn with_origin(mut self, platform: impl Into<String>, source: impl Into<String>) -> Self {
        self.platform = platform.into();
        self.source = source.into();
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The model.
    pub fn model(&self) -> &Arc<dyn Model> {
        &self.model
    }

    /// Its tensor names and types.
    pub fn interface(&self) -> &ModelInterface {
        &self.interface
    }

    /// What runs it.
    pub fn platform(&self) -> &str {
        &self.platform
    }

    /// Where it came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        self.model.signature()
    }

    /// The inputs it takes: the `[-1, features]` matrix.
    pub fn inputs(&self) -> Vec<TensorSpec> {
        vec![TensorSpec {
            name: self.interface.input.clone(),
            datatype: self.interface.float_type,
            shape: vec![-1, self.signature().n_inputs() as i64],
        }]
    }

    /// The outputs it produces.
    pub fn outputs(&self) -> Vec<TensorSpec> {
        let i = &self.interface;
        match &self.signature().task {
            Task::Classification { classes } => vec![
                TensorSpec {
                    name: i.label.clone(),
                    datatype: label_type(i.labels, classes),
                    shape: vec![-1],
                },
                TensorSpec {
                    name: i.probabilities.clone(),
                    datatype: i.float_type,
                    shape: vec![-1, classes.len() as i64],
                },
            ],
            Task::Regression => vec![TensorSpec {
                name: i.value.clone(),
                datatype: i.float_type,
                shape: vec![-1, 1],
            }],
            Task::Clustering { .. } => vec![TensorSpec {
                name: i.label.clone(),
                datatype: DataType::Int64,
                shape: vec![-1],
            }],
            _ => Vec::new(),
        }
    }

    /// The Open Inference Protocol's model metadata.
    pub fn metadata(&self, versions: &[String]) -> Value {
        let tensor = |t: &TensorSpec| json!({"name": t.name, "datatype": t.datatype.as_str(), "shape": t.shape});
        json!({
            "name": self.name,
            "versions": versions,
            "platform": self.platform,
            "inputs": self.inputs().iter().map(tensor).collect::<Vec<_>>(),
            "outputs": self.outputs().iter().map(tensor).collect::<Vec<_>>(),
        })
    }

    /// The rows a request's input tensors make, in the signature's column
    /// order: one `[N, features]` tensor named as the model's input (or the
    /// only tensor sent), or one `[N]`/`[N, 1]` tensor per named column
    /// (categorical columns as category strings or codes).
    ///
    /// # Errors
    /// Unknown or missing input names, wrong shapes or datatypes, unknown
    /// categories (400).
    pub fn matrix(&self, request: &InferRequest) -> Result<Array2<f64>> {
        let sig = self.signature();
        let width = sig.n_inputs();
        if request.inputs.is_empty() {
            return Err(Error::bad_request("the request has no inputs"));
        }
        if let Some(t) = request.inputs.iter().find(|t| t.name == self.interface.input) {
            if request.inputs.len() > 1 {
                return Err(Error::bad_request(format!(
                    "input '{}' holds every column; send it alone",
                    t.name
                )));
            }
            let numbers = numeric(t)?;
            let rows = match t.shape.as_slice() {
                [n, w] if *w == width => *n,
                [n] if width == 1 => *n,
                other => {
                    return Err(Error::bad_request(format!(
                        "input '{}' has shape {other:?}; model '{}' takes [N, {width}]",
                        t.name, self.name
                    )));
                }
            };
            return Array2::from_shape_vec((rows, width), numbers.to_vec())
                .map_err(|e| Error::bad_request(format!("input '{}': {e}", t.name)));
        }
        // One tensor per column.
        for t in &request.inputs {
            if !sig.inputs.iter().any(|c| c.name == t.name) {
                return Err(Error::bad_request(format!(
                    "model '{}' has no input '{}'; it takes '{}' [N, {width}] or one tensor per column ({})",
                    self.name,
                    ml_core::limits::shorten(&t.name, 60),
                    self.interface.input,
                    ml_core::limits::shorten(&sig.input_names().join(", "), 200)
                )));
            }
        }
        let mut rows = None;
        let mut columns = Vec::with_capacity(width);
        for column in &sig.inputs {
            let t = request
                .inputs
                .iter()
                .find(|t| t.name == column.name)
                .ok_or_else(|| Error::bad_request(format!("input '{}' is missing", column.name)))?;
            let n = match t.shape.as_slice() {
                [n] | [n, 1] => *n,
                other => {
                    return Err(Error::bad_request(format!(
                        "input '{}' has shape {other:?}; a column is [N] or [N, 1]",
                        t.name
                    )));
                }
            };
            if rows.is_some_and(|r| r != n) {
                return Err(Error::bad_request(format!(
                    "input '{}' has {n} rows, the other columns {}",
                    t.name,
                    rows.unwrap_or_default()
                )));
            }
            rows = Some(n);
            let values: Vec<f64> = match (&column.kind, &t.data) {
                (_, TensorData::Numbers(v)) => v.clone(),
                (FeatureKind::Categorical { categories }, TensorData::Bytes(items)) => items
                    .iter()
                    .map(|b| {
                        let s = String::from_utf8_lossy(b);
                        match categories.iter().position(|c| *c == s) {
                            Some(code) => Ok(code as f64),
                            None if sig.unknown_category == ml_core::UnknownCategory::Ignore => Ok(-1.0),
                            None => Err(Error::bad_request(format!(
                                "input '{}': unknown category '{}'",
                                t.name,
                                ml_core::limits::shorten(&s, 60)
                            ))),
                        }
                    })
                    .collect::<Result<_>>()?,
                (FeatureKind::Numeric, TensorData::Bytes(_)) => {
                    return Err(Error::bad_request(format!(
                        "input '{}' is numeric; BYTES is for categorical columns",
                        t.name
                    )));
                }
            };
            columns.push(values);
        }
        let rows = rows.unwrap_or(0);
        Ok(Array2::from_shape_fn((rows, width), |(i, j)| columns[j][i]))
    }

    /// Predict for rows (the model checks width and finiteness).
    ///
    /// # Errors
    /// The model's refusal (400) or failure (500).
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        Ok(self.model.predict(x)?)
    }

    /// The output tensors of predictions, filtered to the requested outputs.
    ///
    /// # Errors
    /// A requested output the model does not have (400).
    pub fn output_tensors(&self, predictions: &Predictions, request: &InferRequest) -> Result<Vec<OutputTensor>> {
        let i = &self.interface;
        let rows = predictions.len();
        let float = |values: Vec<f64>| match i.float_type {
            DataType::Fp64 => OutputData::F64(values),
            _ => OutputData::F32(values.into_iter().map(|v| v as f32).collect()),
        };
        let mut all: Vec<(String, Vec<usize>, OutputData)> = Vec::new();
        match predictions {
            Predictions::Classification {
                labels,
                probabilities,
                classes,
            } => {
                all.push((
                    i.label.clone(),
                    vec![rows],
                    label_data(i.labels, labels.iter().copied(), classes),
                ));
                if let Some(p) = probabilities {
                    all.push((
                        i.probabilities.clone(),
                        vec![rows, p.ncols()],
                        float(p.iter().copied().collect()),
                    ));
                }
            }
            Predictions::Regression { values } => {
                all.push((i.value.clone(), vec![rows, 1], float(values.to_vec())));
            }
            Predictions::Clustering { clusters } => {
                all.push((
                    i.label.clone(),
                    vec![rows],
                    OutputData::I64(clusters.iter().map(|&c| c as i64).collect()),
                ));
            }
            _ => {
                return Err(Error::internal(
                    "the model made a kind of prediction this server cannot send",
                ));
            }
        }
        if request.outputs.is_empty() {
            return Ok(all
                .into_iter()
                .map(|(name, shape, data)| OutputTensor {
                    binary: request.wants_binary(&name),
                    name,
                    shape,
                    data,
                })
                .collect());
        }
        request
            .outputs
            .iter()
            .map(|o| {
                let (name, shape, data) = all.iter().find(|(n, ..)| *n == o.name).ok_or_else(|| {
                    Error::bad_request(format!(
                        "model '{}' has no output '{}' (it has {})",
                        self.name,
                        ml_core::limits::shorten(&o.name, 60),
                        all.iter().map(|(n, ..)| n.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                Ok(OutputTensor {
                    name: name.clone(),
                    shape: shape.clone(),
                    data: data.clone(),
                    binary: request.wants_binary(name),
                })
            })
            .collect()
    }
}

/// Class labels go out as indices, or as the class values: integers when
/// every class name is one (as ONNX classifiers emit them), strings otherwise.
fn label_type(kind: LabelKind, classes: &[String]) -> DataType {
    if kind == LabelKind::Index || classes.iter().all(|c| c.parse::<i64>().is_ok()) {
        DataType::Int64
    } else {
        DataType::Bytes
    }
}

fn label_data(kind: LabelKind, labels: impl Iterator<Item = usize>, classes: &[String]) -> OutputData {
    if kind == LabelKind::Index {
        return OutputData::I64(labels.map(|l| l as i64).collect());
    }
    let name = |l: usize| classes.get(l).cloned().unwrap_or_else(|| l.to_string());
    match label_type(kind, classes) {
        DataType::Int64 => OutputData::I64(labels.map(|l| name(l).parse().unwrap_or(l as i64)).collect()),
        _ => OutputData::Bytes(labels.map(name).collect()),
    }
}

fn numeric(t: &crate::tensor::InputTensor) -> Result<&[f64]> {
    match &t.data {
        TensorData::Numbers(v) => Ok(v),
        TensorData::Bytes(_) => Err(Error::bad_request(format!(
            "input '{}' is BYTES; the feature matrix takes a numeric datatype (FP32, FP64, INT64, …)",
            t.name
        ))),
    }
}

/// Check a model name or version: they appear in URL paths and file names,
/// so 1 to 128 letters, digits, `-`, `_`, `.` or `@`, not `.` or `..`.
///
/// # Errors
/// Any other name (400).
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "{what} '{}' must be 1 to 128 letters, digits, '-', '_', '.' or '@'",
            ml_core::limits::shorten(name, 60)
        )))
    }
}
