//! [`OnnxModel`]: any standard ONNX model as an ml-core [`Model`].

use std::path::Path;

use ml_core::ndarray::{Array1, Array2, ArrayView2};
use ml_core::{FeatureKind, InputColumn, Model, ModelSpec, Predictions, Signature, Task, UnknownCategory};

use crate::graph::{OnnxGraph, dtype, dtype_name};
use crate::rewrite;
use crate::runtime::{Input, OutData, Output, Runtime, Session};
use crate::{Error, Result};

/// Largest ONNX file [`OnnxModel::load`] reads (protobuf's own 2 GiB limit).
pub const MAX_MODEL_BYTES: u64 = 2 << 30;

/// Classifier operators whose class labels name the classes.
const CLASSIFIERS: [&str; 3] = ["LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier"];

/// How the graph's outputs map onto [`Predictions`].
#[derive(Debug, Clone)]
enum OutputPlan {
    /// Label output (index) and score output (index, width).
    Classification {
        label: Option<usize>,
        scores: Option<usize>,
        /// The label values the graph emits, in class order.
        label_values: Vec<String>,
    },
    Regression {
        value: usize,
    },
    Clustering {
        label: usize,
    },
}

impl OutputPlan {
    /// The graph outputs a prediction reads: a classifier's labels only
    /// when it has no scores (labels are the scores' argmax otherwise).
    fn reads(&self) -> Vec<usize> {
        match self {
            OutputPlan::Classification { scores: Some(s), .. } => vec![*s],
            OutputPlan::Classification {
                label, scores: None, ..
            } => label.iter().copied().collect(),
            OutputPlan::Regression { value } => vec![*value],
            OutputPlan::Clustering { label } => vec![*label],
        }
    }
}

/// An ONNX model loaded into a runtime.
///
/// Its [`Signature`] comes from the metadata ml-sdk's exporter writes
/// (feature names, categories, classes); for models from elsewhere it is
/// derived from the graph: one `[N, width]` float or double input whose
/// columns are numeric features `x0 … x{width-1}`, classes from the
/// classifier's labels.
#[derive(Debug)]
pub struct OnnxModel {
    signature: Signature,
    graph: OnnxGraph,
    input_name: String,
    f64_input: bool,
    named_features: bool,
    plan: OutputPlan,
    /// Names of the outputs of the graph as run (after rewrites).
    output_names: Vec<String>,
    runtime: Runtime,
    session: Box<dyn Session>,
}

/// The graph outputs an [`OnnxModel`]'s predictions are read from, by role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputNames {
    /// Class or cluster labels.
    pub label: Option<String>,
    /// Class scores (probabilities).
    pub scores: Option<String>,
    /// Regression values.
    pub value: Option<String>,
}

impl OnnxModel {
    /// Load an ONNX file with the default runtime (tract).
    ///
    /// # Errors
    /// I/O failures, [`Error::Invalid`] for files that are not ONNX models,
    /// [`Error::Unsupported`] for graphs outside what [`OnnxModel`] runs.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(path, Runtime::Tract)
    }

    /// Load an ONNX file with a chosen runtime.
    ///
    /// # Errors
    /// As [`OnnxModel::load`], and [`Error::Runtime`] when the runtime
    /// cannot be loaded (ONNX Runtime missing or too old).
    pub fn load_with(path: impl AsRef<Path>, runtime: Runtime) -> Result<Self> {
        let path = path.as_ref();
        let bytes = ml_core::io::read_limited("ONNX model", path, MAX_MODEL_BYTES).map_err(Error::Core)?;
        Self::from_bytes(&bytes, runtime)
    }

    /// Load a model from its bytes.
    ///
    /// # Errors
    /// As [`OnnxModel::load_with`].
    pub fn from_bytes(bytes: &[u8], runtime: Runtime) -> Result<Self> {
        let graph = OnnxGraph::parse(bytes)?;
        let inputs = graph.graph.runtime_inputs();
        let input = match inputs.as_slice() {
            [one] => (*one).clone(),
            [] => return Err(Error::Invalid("ONNX model without inputs".into())),
            more => {
                return Err(Error::Unsupported(format!(
                    "a model with {} inputs (one [N, features] input is supported)",
                    more.len()
                )));
            }
        };
        let f64_input = match input.elem_type {
            Some(dtype::FLOAT) => false,
            Some(dtype::DOUBLE) => true,
            Some(t) => {
                return Err(Error::Unsupported(format!(
                    "input '{}' of type {} (float or double is supported)",
                    input.name,
                    dtype_name(t)
                )));
            }
            None => {
                return Err(Error::Unsupported(format!(
                    "input '{}' that is not a tensor",
                    input.name
                )));
            }
        };
        let width = rewrite::declared_width(&input)
            .ok_or_else(|| Error::Unsupported(format!("input '{}' without a fixed [N, features] shape", input.name)))?;
        if width == 0 {
            return Err(Error::Invalid(format!("input '{}' has no columns", input.name)));
        }

        let mut runnable = graph.clone();
        rewrite::fold_scalers(&mut runnable)?;
        match runtime {
            Runtime::Tract => rewrite::for_tract(&mut runnable)?,
            Runtime::Ort { .. } => rewrite::strip_zipmap(&mut runnable)?,
        }
        let (signature, named_features) = signature(&graph, width)?;
        let plan = plan(&graph, &runnable, &signature)?;
        let output_names = runnable.graph.outputs.iter().map(|o| o.name.clone()).collect();
        let mut wanted = vec![false; runnable.graph.outputs.len()];
        for i in plan.reads() {
            wanted[i] = true;
        }
        let session = crate::runtime::open(&runtime, &runnable.to_bytes(), width, f64_input, &input.name, wanted)?;
        Ok(OnnxModel {
            signature,
            graph,
            input_name: input.name,
            f64_input,
            named_features,
            plan,
            output_names,
            runtime,
            session,
        })
    }

    /// The runtime executing this model.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The decoded graph (as loaded, before any rewrite).
    pub fn graph(&self) -> &OnnxGraph {
        &self.graph
    }

    /// Name of the graph input.
    pub fn input_name(&self) -> &str {
        &self.input_name
    }

    /// Whether the graph's input is double precision (else float).
    pub fn takes_double(&self) -> bool {
        self.f64_input
    }

    /// Whether the label output holds class indices (ml-sdk's exports, which
    /// keep the class names in metadata) rather than the class values.
    pub fn labels_are_indices(&self) -> bool {
        self.graph.metadata("task").is_some()
    }

    /// The outputs predictions are read from (names as the graph has them,
    /// after a ZipMap is stripped).
    pub fn output_names(&self) -> OutputNames {
        let name = |i: &usize| self.output_names.get(*i).cloned();
        match &self.plan {
            OutputPlan::Classification { label, scores, .. } => OutputNames {
                label: label.as_ref().and_then(name),
                scores: scores.as_ref().and_then(name),
                value: None,
            },
            OutputPlan::Regression { value } => OutputNames {
                value: name(value),
                ..OutputNames::default()
            },
            OutputPlan::Clustering { label } => OutputNames {
                label: name(label),
                ..OutputNames::default()
            },
        }
    }

    /// Whether the file names its input columns (ml-sdk's exports do); when
    /// not, the columns are positional (`x0`, `x1`, …).
    pub fn has_feature_names(&self) -> bool {
        self.named_features
    }

    /// Run the graph on raw rows and return its outputs.
    fn run(&self, x: ArrayView2<'_, f64>) -> Result<Vec<Option<Output>>> {
        let input = Input {
            rows: x,
            as_f32: !self.f64_input,
        };
        self.session.run(input)
    }
}

fn runtime_output(what: &str) -> Error {
    Error::Runtime {
        runtime: "onnx",
        message: format!("unexpected output: {what}"),
    }
}

/// The values of an output as `f64`, checked to be `rows × cols`.
fn matrix(out: &Output, rows: usize) -> Result<Array2<f64>> {
    let data: Vec<f64> = match &out.data {
        OutData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        OutData::F64(v) => v.clone(),
        OutData::I64(v) => v.iter().map(|&x| x as f64).collect(),
        OutData::Str(_) => return Err(runtime_output("strings where numbers were expected")),
    };
    let cols = data.len().checked_div(rows).unwrap_or(0);
    if cols * rows != data.len() || out.shape.first().is_some_and(|&r| r != rows) {
        return Err(runtime_output(&format!("shape {:?} for {rows} rows", out.shape)));
    }
    Array2::from_shape_vec((rows, cols), data).map_err(|e| runtime_output(&e.to_string()))
}

fn labels_as_strings(out: &Output) -> Vec<String> {
    match &out.data {
        OutData::Str(v) => v.clone(),
        OutData::I64(v) => v.iter().map(i64::to_string).collect(),
        OutData::F32(v) => v.iter().map(f32::to_string).collect(),
        OutData::F64(v) => v.iter().map(f64::to_string).collect(),
    }
}

impl Model for OnnxModel {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> ml_core::Result<Predictions> {
        self.signature.validate_input(x)?;
        let rows = x.nrows();
        let outs = self.run(x)?;
        let get = |i: usize| {
            outs.get(i)
                .and_then(Option::as_ref)
                .ok_or_else(|| runtime_output(&format!("missing output {i}")))
        };
        Ok(match (&self.plan, &self.signature.task) {
            (OutputPlan::Regression { value }, _) => {
                let m = matrix(get(*value)?, rows)?;
                if m.ncols() != 1 {
                    return Err(runtime_output(&format!("{} values per row for a regression", m.ncols())).into());
                }
                Predictions::Regression {
                    values: m.column(0).to_owned(),
                }
            }
            (OutputPlan::Clustering { label }, _) => {
                let m = matrix(get(*label)?, rows)?;
                Predictions::Clustering {
                    clusters: m.column(0).iter().map(|&c| c.max(0.0) as usize).collect(),
                }
            }
            (
                OutputPlan::Classification {
                    label,
                    scores,
                    label_values,
                },
                Task::Classification { classes },
            ) => {
                let mut probabilities = scores.map(|s| matrix(get(s)?, rows)).transpose()?;
                // A classifier that saw one class gives it probability 1,
                // whatever layout a runtime uses for its scores (tract
                // completes a one-class tree ensemble to two columns).
                if classes.len() == 1 && probabilities.is_some() {
                    probabilities = Some(Array2::ones((rows, 1)));
                }
                if let Some(p) = &probabilities
                    && p.ncols() != classes.len()
                {
                    return Err(runtime_output(&format!("{} scores for {} classes", p.ncols(), classes.len())).into());
                }
                // Labels are the first most probable class, as ONNX Runtime's
                // classifiers pick them (tract's two-class tree layout picks
                // from the scores before completing them).
                let labels: Array1<usize> = match (label, &probabilities) {
                    (_, Some(p)) => p.outer_iter().map(|r| ml_core::argmax(r.iter().copied())).collect(),
                    (Some(l), None) => {
                        let raw = labels_as_strings(get(*l)?);
                        if raw.len() != rows {
                            return Err(runtime_output(&format!("{} labels for {rows} rows", raw.len())).into());
                        }
                        raw.iter()
                            .map(|v| {
                                label_values
                                    .iter()
                                    .position(|c| c == v)
                                    .ok_or_else(|| runtime_output(&format!("label {v} is not a known class")))
                            })
                            .collect::<Result<_>>()?
                    }
                    (None, None) => return Err(runtime_output("neither labels nor scores").into()),
                };
                Predictions::Classification {
                    labels,
                    probabilities,
                    classes: classes.clone(),
                }
            }
            (OutputPlan::Classification { .. }, _) => {
                return Err(runtime_output("classification outputs for another task").into());
            }
        })
    }

    fn describe(&self) -> ml_core::Result<ModelSpec> {
        Ok(crate::import::to_spec(&self.graph, &self.signature)?)
    }
}

/// The signature from ml-sdk's metadata when present, else from the graph.
fn signature(graph: &OnnxGraph, width: usize) -> Result<(Signature, bool)> {
    let meta_json = |key: &str| -> Result<Option<serde_json::Value>> {
        graph
            .metadata(key)
            .map(|v| serde_json::from_str(v).map_err(|e| Error::Invalid(format!("metadata {key}: {e}"))))
            .transpose()
    };
    let names: Option<Vec<String>> = meta_json("feature_names")?
        .map(|v| serde_json::from_value(v).map_err(|e| Error::Invalid(format!("metadata feature_names: {e}"))))
        .transpose()?;
    let named = names.as_ref().is_some_and(|n| n.len() == width);
    let names = names
        .filter(|n| n.len() == width)
        .unwrap_or_else(|| (0..width).map(|j| format!("x{j}")).collect());
    let categories: std::collections::BTreeMap<String, Vec<String>> = meta_json("categories")?
        .map(|v| serde_json::from_value(v).map_err(|e| Error::Invalid(format!("metadata categories: {e}"))))
        .transpose()?
        .unwrap_or_default();
    let inputs = names
        .into_iter()
        .map(|name| match categories.get(&name) {
            Some(cats) => InputColumn {
                name,
                kind: FeatureKind::Categorical {
                    categories: cats.clone(),
                },
            },
            None => InputColumn::numeric(name),
        })
        .collect();
    let unknown_category = match graph.metadata("unknown_category") {
        Some("ignore") => UnknownCategory::Ignore,
        _ => UnknownCategory::default(),
    };
    let task = match graph.metadata("task") {
        Some("regression") => Task::Regression,
        Some("clustering") => {
            let k = graph
                .graph
                .outputs
                .iter()
                .find(|o| o.name == "scores")
                .and_then(|o| o.fixed_dim(1))
                .ok_or_else(|| Error::Invalid("clustering model without a [N, k] scores output".into()))?;
            Task::Clustering {
                n_clusters: k.max(0) as usize,
            }
        }
        Some("classification") => {
            let classes: Vec<String> = meta_json("classes")?
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| Error::Invalid(format!("metadata classes: {e}")))?
                .ok_or_else(|| Error::Invalid("classification model without classes".into()))?;
            Task::Classification { classes }
        }
        Some(other) => return Err(Error::Invalid(format!("metadata task '{other}'"))),
        None => match class_labels(graph)? {
            Some(labels) => Task::Classification { classes: labels },
            None => match softmax_output_width(graph) {
                // A network whose output is a softmax (PyTorch's and Keras'
                // exports): classes named by index.
                Some(k) => Task::Classification {
                    classes: (0..k).map(|c| c.to_string()).collect(),
                },
                None => Task::Regression,
            },
        },
    };
    Ok((
        Signature {
            inputs,
            unknown_category,
            task,
            accepts_missing: false,
        },
        named,
    ))
}

/// The width `k` of a single `[N, k]` graph output that a `Softmax` computes.
fn softmax_output_width(graph: &OnnxGraph) -> Option<usize> {
    let [output] = graph.graph.outputs.as_slice() else {
        return None;
    };
    let producer = graph.graph.producer(&output.name)?;
    let k = output.fixed_dim(1)?;
    (producer.op_type == "Softmax" && !producer.is_ml() && k >= 2).then_some(k as usize)
}

/// The class labels of the graph's classifier node, or else of its
/// `ZipMap` (networks compute their labels with ordinary operators), as
/// strings.
fn class_labels(graph: &OnnxGraph) -> Result<Option<Vec<String>>> {
    let classifiers = graph
        .graph
        .nodes
        .iter()
        .filter(|n| n.is_ml() && CLASSIFIERS.contains(&n.op_type.as_str()));
    let zipmaps = graph.graph.nodes.iter().filter(|n| n.is_ml() && n.op_type == "ZipMap");
    match classifiers.chain(zipmaps).next() {
        Some(n) => n
            .class_labels()?
            .map(Some)
            .ok_or_else(|| Error::Invalid(format!("{} node '{}' without class labels", n.op_type, n.name))),
        None => Ok(None),
    }
}

/// Which runtime output carries what. Outputs are matched on the graph as
/// the runtime runs it (`runnable`), in graph order.
fn plan(original: &OnnxGraph, runnable: &OnnxGraph, signature: &Signature) -> Result<OutputPlan> {
    let outputs = &runnable.graph.outputs;
    let is_label = |t: Option<i64>| matches!(t, Some(dtype::INT64 | dtype::STRING | dtype::INT32));
    let is_real = |t: Option<i64>| matches!(t, Some(dtype::FLOAT | dtype::DOUBLE));
    match &signature.task {
        Task::Regression => {
            let value = outputs
                .iter()
                .position(|o| is_real(o.elem_type))
                .ok_or_else(|| Error::Unsupported("a regression model without a float output".into()))?;
            Ok(OutputPlan::Regression { value })
        }
        Task::Clustering { .. } => {
            let label = outputs
                .iter()
                .position(|o| is_label(o.elem_type))
                .ok_or_else(|| Error::Unsupported("a clustering model without a label output".into()))?;
            Ok(OutputPlan::Clustering { label })
        }
        Task::Classification { classes } => {
            let label = outputs.iter().position(|o| is_label(o.elem_type));
            let scores = outputs.iter().position(|o| is_real(o.elem_type));
            if label.is_none() && scores.is_none() {
                return Err(Error::Unsupported("a classifier without label or score outputs".into()));
            }
            // ml-sdk's exports emit the class index; others emit the label.
            let label_values = match class_labels(original)? {
                Some(v) if original.metadata("task").is_none() => v,
                _ => (0..classes.len()).map(|i| i.to_string()).collect(),
            };
            Ok(OutputPlan::Classification {
                label,
                scores,
                label_values,
            })
        }
        other => Err(Error::Unsupported(format!("running a {} model", other.name()))),
    }
}
