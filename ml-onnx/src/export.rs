//! [`ModelSpec`] → ONNX.

use ml_core::ndarray::{ArrayView1, ArrayView2};
use ml_core::{
    Aggregation, CalibrationInput, Calibrator, Estimator, FeatureKind, Link, ModelSpec, Preprocess, Task, Tree,
};

use ml_proto::onnx::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto, ValueInfoProto,
};
use ml_proto::prost::Message;

use crate::proto::{Attr, DataType, Dim, node, tensor_f32, tensor_f64, tensor_i64, tensor_u8, value_info};
use crate::{Error, Result};

/// The default-domain opset the exporter targets.
pub const OPSET: i64 = 17;
/// The `ai.onnx.ml` opset.
pub const ML_OPSET: i64 = 3;
/// ONNX IR version written (the one opset 17 belongs to).
pub const IR_VERSION: i64 = 8;
/// Name of the input tensor: `double [N, inputs]`, columns in signature order,
/// categorical columns as category codes (`-1` for unknown).
pub const INPUT: &str = "input";

pub(crate) struct Graph {
    nodes: Vec<NodeProto>,
    pub(crate) initializers: Vec<TensorProto>,
    counter: usize,
}

impl Graph {
    pub(crate) fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{}", self.counter)
    }

    pub(crate) fn const_f64(&mut self, prefix: &str, dims: &[i64], data: &[f64]) -> String {
        let name = self.fresh(prefix);
        self.initializers.push(tensor_f64(&name, dims, data));
        name
    }

    pub(crate) fn cast(&mut self, x: &str, to: DataType) -> String {
        self.op("Cast", &[x], &[("to", Attr::Int(to as i64))])
    }

    pub(crate) fn const_i64(&mut self, prefix: &str, dims: &[i64], data: &[i64]) -> String {
        let name = self.fresh(prefix);
        self.initializers.push(tensor_i64(&name, dims, data));
        name
    }

    pub(crate) fn op(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.op_to(op, "", inputs, &[&out], attrs);
        out
    }

    pub(crate) fn op_to(&mut self, op: &str, domain: &str, inputs: &[&str], outputs: &[&str], attrs: &[(&str, Attr)]) {
        let name = self.fresh(&format!("{op}_node"));
        self.nodes.push(node(op, domain, &name, inputs, outputs, attrs));
    }

    /// Rename the model outputs written by the nodes from index `from` on
    /// (`label`, `probabilities`, `scores`, `variable`) to fresh internal
    /// names, so a model's graph can feed a larger one (calibration,
    /// averaging); returns the new name of `wanted` if those nodes wrote it.
    pub(crate) fn internal(&mut self, from: usize, wanted: &str) -> Option<String> {
        let mut found = None;
        for name in ["label", "probabilities", "scores", "variable"] {
            let fresh = self.fresh(&format!("inner_{name}"));
            let mut renamed = false;
            for n in &mut self.nodes[from..] {
                for v in n.input.iter_mut().chain(n.output.iter_mut()) {
                    if v == name {
                        *v = fresh.clone();
                        renamed = true;
                    }
                }
            }
            if renamed && name == wanted {
                found = Some(fresh);
            }
        }
        found
    }
}

fn f32s(v: impl IntoIterator<Item = f64>) -> Vec<f32> {
    v.into_iter().map(|x| x as f32).collect()
}

/// The largest `f32` not above `t`: with it, `x <= threshold` decides the
/// same for every `f32` input as `x <= t` does.
fn f32_at_most(t: f64) -> f32 {
    let f = t as f32;
    if f64::from(f) > t { f.next_down() } else { f }
}

/// Export a spec as an ONNX model.
///
/// Inputs and outputs:
/// - input `input`: `double [N, n_inputs]`, the model's input columns in
///   signature order (categorical columns as codes, see
///   [`ml_core::Frame::encode`]);
/// - classifiers: `label` (`int64 [N]`, the class index; names in the
///   `classes` metadata) and `probabilities` (`double [N, classes]`);
/// - regressors: `variable` (`double [N, 1]`);
/// - k-means: `label` (`int64 [N]`) and `scores` (`double [N, clusters]`,
///   squared distances).
///
/// The graph computes in double what the spec computes in `f64`, so outputs
/// match [`ModelSpec`]'s predictions to rounding; tree ensembles take their
/// input rounded to `float`, exactly as [`ml_core::goes_left`] compares.
///
/// Metadata (`metadata_props`): `task`, `feature_names`, `categories`,
/// `classes` (JSON), as well as producer name and version.
///
/// # Errors
/// [`Error::Unsupported`] for estimator/link combinations without an export
/// (tree ensembles with a logistic link), and an invalid spec.
pub fn export(spec: &ModelSpec) -> Result<Vec<u8>> {
    spec.validate()?;
    let mut g = Graph {
        nodes: Vec::new(),
        initializers: Vec::new(),
        counter: 0,
    };
    // The graph computes in double what ModelSpec computes in f64, op for op,
    // so preprocessing is bit-identical; trees then round to float exactly as
    // `goes_left` does.
    let mut x = INPUT.to_string();
    let mut width = spec.signature.n_inputs();
    for step in &spec.preprocessing {
        x = preprocess(&mut g, step, &x, width)?;
        width = step.output_width(width);
    }
    let outputs = estimator_outputs(&mut g, &spec.signature.task, &x, width, &spec.estimator)?;
    let input = value_info(
        INPUT,
        DataType::Double,
        &[Dim::Named("N"), Dim::Fixed(spec.signature.n_inputs() as i64)],
    );
    let ml_opset = if g.nodes.iter().any(|n| n.op_type.as_deref() == Some("TreeEnsemble")) {
        CATEGORICAL_ML_OPSET
    } else {
        ML_OPSET
    };
    let graph = GraphProto {
        node: g.nodes,
        name: Some("ml_sdk_model".into()),
        initializer: g.initializers,
        input: vec![input],
        output: outputs,
        ..Default::default()
    };
    let opset = |domain: &str, version| OperatorSetIdProto {
        domain: Some(domain.into()),
        version: Some(version),
    };
    let model = ModelProto {
        ir_version: Some(IR_VERSION),
        producer_name: Some("ml-sdk".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        domain: Some("org.ml-sdk".into()),
        model_version: Some(1),
        doc_string: Some("exported by ml-sdk from a ModelSpec".into()),
        graph: Some(graph),
        opset_import: vec![opset("", OPSET), opset("ai.onnx.ml", ml_opset)],
        metadata_props: metadata(spec)?
            .into_iter()
            .map(|(k, v)| StringStringEntryProto {
                key: Some(k.into()),
                value: Some(v),
            })
            .collect(),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}

/// The named outputs (see [`export`]) of `estimator` on `x`, its
/// preprocessed input (`width` columns).
fn estimator_outputs(
    g: &mut Graph,
    task: &Task,
    x: &str,
    width: usize,
    estimator: &Estimator,
) -> Result<Vec<ValueInfoProto>> {
    Ok(match estimator {
        Estimator::Linear {
            coefficients,
            intercepts,
            link,
        } => linear(g, task, x, coefficients.view(), intercepts.view(), *link)?,
        Estimator::TreeEnsemble {
            trees,
            aggregation,
            base_values,
            link,
        } => tree_ensemble(g, task, x, trees, *aggregation, base_values, *link)?,
        Estimator::NeuralNet { layers, link } => {
            let margins = crate::neural::network(g, x, width, layers)?;
            let n_out = estimator.n_outputs();
            linked_outputs(g, task, margins, n_out, *link, "neural network")?
        }
        Estimator::Centroids { centroids } => match task {
            Task::Clustering { n_clusters } => nearest_centroid(g, x, centroids.view(), *n_clusters),
            _ => return Err(Error::Unsupported(format!("{} with centroids", task.name()))),
        },
        Estimator::Neighbors { .. } => {
            return Err(Error::Unsupported(
                "exporting k-nearest neighbours: ONNX has no neighbour-search operator (serve the model as it is, or export another model)".into(),
            ));
        }
        Estimator::Calibrated {
            base,
            input,
            calibrators,
        } => {
            let Task::Classification { classes } = task else {
                return Err(Error::Unsupported(format!("calibrating {}", task.name())));
            };
            let (scores, columns) = base_scores(g, task, x, width, base, *input)?;
            let proba = calibrated(g, (&scores, columns), classes.len(), calibrators)?;
            let mut outputs = Vec::new();
            classifier_outputs(g, &proba, classes.len(), &mut outputs);
            outputs
        }
        Estimator::Averaged { members } => {
            let Task::Classification { classes } = task else {
                return Err(Error::Unsupported(format!("averaging {}", task.name())));
            };
            // Each member from what the ensemble passes on (its input,
            // after any steps of its own) through the member's own
            // preprocessing; their probabilities summed in order, then
            // divided, as the spec averages them.
            let mut total: Option<String> = None;
            for m in members {
                let (mut mx, mut mwidth) = (x.to_string(), width);
                for step in &m.preprocessing {
                    mx = preprocess(g, step, &mx, mwidth)?;
                    mwidth = step.output_width(mwidth);
                }
                let from = g.nodes.len();
                estimator_outputs(g, &m.signature.task, &mx, mwidth, &m.estimator)?;
                let p = g.internal(from, "probabilities").ok_or_else(|| {
                    Error::Unsupported("an averaged ensemble's member without class probabilities".into())
                })?;
                total = Some(match total {
                    None => p,
                    Some(t) => g.op("Add", &[&t, &p], &[]),
                });
            }
            let total = total.ok_or_else(|| Error::Unsupported("an averaged ensemble without members".into()))?;
            let n = g.const_f64("members", &[1], &[members.len() as f64]);
            let proba = g.op("Div", &[&total, &n], &[]);
            let mut outputs = Vec::new();
            classifier_outputs(g, &proba, classes.len(), &mut outputs);
            outputs
        }
        _ => return Err(Error::Unsupported(format!("{} with this estimator", task.name()))),
    })
}

/// The scores a calibrated classifier's calibrators read (`double`) and
/// their columns:
/// the base's raw outputs (its graph with the margin link, whose `scores`
/// are its margins) or its probabilities.
fn base_scores(
    g: &mut Graph,
    task: &Task,
    x: &str,
    width: usize,
    base: &Estimator,
    input: CalibrationInput,
) -> Result<(String, usize)> {
    let from = g.nodes.len();
    let (name, columns) = match input {
        CalibrationInput::Probability => {
            estimator_outputs(g, task, x, width, base)?;
            let classes = match task {
                Task::Classification { classes } => classes.len(),
                _ => 0,
            };
            ("probabilities", classes)
        }
        CalibrationInput::Decision => {
            let mut margins = base.clone();
            match &mut margins {
                Estimator::Linear { link, .. }
                | Estimator::TreeEnsemble { link, .. }
                | Estimator::NeuralNet { link, .. } => *link = Link::Margin,
                _ => {
                    return Err(Error::Unsupported(
                        "calibrating the decision values of this estimator".into(),
                    ));
                }
            }
            estimator_outputs(g, task, x, width, &margins)?;
            ("scores", base.n_outputs())
        }
    };
    let scores = g
        .internal(from, name)
        .ok_or_else(|| Error::Unsupported(format!("calibrating a classifier without {name}")))?;
    Ok((scores, columns))
}

/// Calibrated probabilities from `scores`, `width` columns (see [`ml_core::Calibrator`]),
/// op for op as the spec computes them in double: for two classes the
/// positive class's score (the last column) calibrated and completed,
/// for more each class's column calibrated and the row normalized
/// (uniform where it sums to zero); then a rounding excess over one is
/// one, as scikit-learn does.
fn calibrated(g: &mut Graph, (scores, width): (&str, usize), k: usize, calibrators: &[Calibrator]) -> Result<String> {
    let column = |g: &mut Graph, c: usize| {
        let start = g.const_i64("start", &[1], &[c as i64]);
        let end = g.const_i64("end", &[1], &[c as i64 + 1]);
        let axis = g.const_i64("axis", &[1], &[1]);
        g.op("Slice", &[scores, &start, &end, &axis], &[])
    };
    let proba = if k == 2 {
        let cal = calibrators
            .first()
            .ok_or_else(|| Error::Unsupported("a calibrated classifier without calibrators".into()))?;
        // The one margin, or the probabilities' column 1: the last column.
        let s = column(g, width - 1);
        let p1 = calibrator(g, &s, cal);
        with_complement(g, &p1)
    } else {
        if calibrators.len() != k {
            return Err(Error::Unsupported(format!(
                "{} calibrators for {k} classes",
                calibrators.len()
            )));
        }
        let columns: Vec<String> = calibrators
            .iter()
            .enumerate()
            .map(|(c, cal)| {
                let s = column(g, c);
                calibrator(g, &s, cal)
            })
            .collect();
        let refs: Vec<&str> = columns.iter().map(String::as_str).collect();
        let p = g.op("Concat", &refs, &[("axis", Attr::Int(1))]);
        let axes = g.const_i64("axes", &[1], &[1]);
        let total = g.op("ReduceSum", &[&p, &axes], &[("keepdims", Attr::Int(1))]);
        let zero = g.const_f64("zero", &[1], &[0.0]);
        let none = g.op("Equal", &[&total, &zero], &[]);
        let uniform = g.const_f64("uniform", &[1], &[1.0 / k as f64]);
        let normalized = g.op("Div", &[&p, &total], &[]);
        g.op("Where", &[&none, &uniform, &normalized], &[])
    };
    let one = g.const_f64("one", &[1], &[1.0]);
    let limit = g.const_f64("limit", &[1], &[1.0 + 1e-5]);
    let above = g.op("Greater", &[&proba, &one], &[]);
    let within = g.op("LessOrEqual", &[&proba, &limit], &[]);
    let excess = g.op("And", &[&above, &within], &[]);
    Ok(g.op("Where", &[&excess, &one, &proba], &[]))
}

/// One calibrator applied to the column `s` (`double [N, 1]`).
fn calibrator(g: &mut Graph, s: &str, cal: &Calibrator) -> String {
    match cal {
        Calibrator::Sigmoid { a, b } => {
            let a = g.const_f64("platt_a", &[1], &[*a]);
            let b = g.const_f64("platt_b", &[1], &[*b]);
            let one = g.const_f64("one", &[1], &[1.0]);
            let z = g.op("Mul", &[&a, s], &[]);
            let z = g.op("Add", &[&z, &b], &[]);
            let e = g.op("Exp", &[&z], &[]);
            let d = g.op("Add", &[&one, &e], &[]);
            g.op("Div", &[&one, &d], &[])
        }
        Calibrator::Isotonic { x, y } => {
            let m = x.len();
            let (first, last) = (x[0], x[m - 1]);
            let y_first = g.const_f64("iso_first", &[1], &[y[0]]);
            if m == 1 {
                // One point: its value, NaN for NaN (which alone is not
                // equal to itself; tract's IsNaN is not boolean).
                let number = g.op("Equal", &[s, s], &[]);
                return g.op("Where", &[&number, &y_first, s], &[]);
            }
            // i = the knots below s (partition_point), the segment
            // [i - 1, i] clamped to the knots, then the interpolation; the
            // knot's own value where s is one, the end values outside.
            let xs = g.const_f64("iso_x", &[m as i64], x);
            let ys = g.const_f64("iso_y", &[m as i64], y);
            let row = g.const_f64("iso_x_row", &[1, m as i64], x);
            let below = g.op("Less", &[&row, s], &[]);
            let below = g.cast(&below, DataType::Int64);
            let axes = g.const_i64("axes", &[1], &[1]);
            let i = g.op("ReduceSum", &[&below, &axes], &[("keepdims", Attr::Int(1))]);
            let one = g.const_i64("one", &[1], &[1]);
            let lo = g.op("Sub", &[&i, &one], &[]);
            let zero = g.const_i64("zero", &[1], &[0]);
            let lo = g.op("Max", &[&lo, &zero], &[]);
            let top = g.const_i64("top", &[1], &[m as i64 - 2]);
            let lo = g.op("Min", &[&lo, &top], &[]);
            let hi = g.op("Add", &[&lo, &one], &[]);
            let x0 = g.op("Gather", &[&xs, &lo], &[("axis", Attr::Int(0))]);
            let x1 = g.op("Gather", &[&xs, &hi], &[("axis", Attr::Int(0))]);
            let y0 = g.op("Gather", &[&ys, &lo], &[("axis", Attr::Int(0))]);
            let y1 = g.op("Gather", &[&ys, &hi], &[("axis", Attr::Int(0))]);
            let num = g.op("Sub", &[s, &x0], &[]);
            let den = g.op("Sub", &[&x1, &x0], &[]);
            let t = g.op("Div", &[&num, &den], &[]);
            let rise = g.op("Sub", &[&y1, &y0], &[]);
            let step = g.op("Mul", &[&t, &rise], &[]);
            let inside = g.op("Add", &[&y0, &step], &[]);
            let at_knot = g.op("Equal", &[s, &x1], &[]);
            let v = g.op("Where", &[&at_knot, &y1, &inside], &[]);
            let last_c = g.const_f64("iso_last_x", &[1], &[last]);
            let y_last = g.const_f64("iso_last", &[1], &[y[m - 1]]);
            let high = g.op("GreaterOrEqual", &[s, &last_c], &[]);
            let v = g.op("Where", &[&high, &y_last, &v], &[]);
            let first_c = g.const_f64("iso_first_x", &[1], &[first]);
            let low = g.op("LessOrEqual", &[s, &first_c], &[]);
            g.op("Where", &[&low, &y_first, &v], &[])
        }
    }
}

/// One preprocessing step applied to `x` (`width` columns wide); returns the
/// step's output value.
fn preprocess(g: &mut Graph, step: &Preprocess, x: &str, width: usize) -> Result<String> {
    Ok(match step {
        Preprocess::OneHot { columns, n_categories } => one_hot(g, x, width, columns, n_categories),
        Preprocess::StandardScale { mean, scale } => {
            let m = g.const_f64("mean", &[1, width as i64], mean);
            let s = g.const_f64("scale", &[1, width as i64], scale);
            let centred = g.op("Sub", &[x, &m], &[]);
            g.op("Div", &[&centred, &s], &[])
        }
        Preprocess::MinMaxScale { scale, offset } => {
            let s = g.const_f64("scale", &[1, width as i64], scale);
            let o = g.const_f64("offset", &[1, width as i64], offset);
            let scaled = g.op("Mul", &[x, &s], &[]);
            g.op("Add", &[&scaled, &o], &[])
        }
        // `Where(IsNaN(x), values, x)` rather than ai.onnx.ml's `Imputer`,
        // whose values are single precision: the fill stays bit-identical
        // to the spec's in the double graph.
        Preprocess::Impute { values, indicators } => {
            let fill = g.const_f64("impute", &[1, width as i64], values);
            let missing = g.op("IsNaN", &[x], &[]);
            let imputed = g.op("Where", &[&missing, &fill, x], &[]);
            if indicators.is_empty() {
                imputed
            } else {
                let idx = g.const_i64(
                    "indicators",
                    &[indicators.len() as i64],
                    &indicators.iter().map(|&c| c as i64).collect::<Vec<_>>(),
                );
                let flags = g.op("Gather", &[&missing, &idx], &[("axis", Attr::Int(1))]);
                let flags = g.cast(&flags, DataType::Double);
                g.op("Concat", &[&imputed, &flags], &[("axis", Attr::Int(1))])
            }
        }
        Preprocess::Project { mean, components } => {
            let m = g.const_f64("mean", &[1, width as i64], mean);
            let c = g.const_f64(
                "components",
                &[width as i64, components.nrows() as i64],
                &components.t().iter().copied().collect::<Vec<_>>(),
            );
            let centred = g.op("Sub", &[x, &m], &[]);
            g.op("MatMul", &[&centred, &c], &[])
        }
        // Runs of terms of one degree: a Gather per factor position, their
        // product, all concatenated after the inputs in the terms' order.
        Preprocess::Polynomial { terms } => {
            let mut pieces = vec![x.to_string()];
            let mut start = 0;
            while start < terms.len() {
                let degree = terms[start].len();
                let end = start + terms[start..].iter().take_while(|t| t.len() == degree).count();
                let run = &terms[start..end];
                let mut product: Option<String> = None;
                for f in 0..degree {
                    let idx: Vec<i64> = run.iter().map(|t| t[f] as i64).collect();
                    let idx = g.const_i64("factor", &[idx.len() as i64], &idx);
                    let factor = g.op("Gather", &[x, &idx], &[("axis", Attr::Int(1))]);
                    product = Some(match product {
                        None => factor,
                        Some(p) => g.op("Mul", &[&p, &factor], &[]),
                    });
                }
                pieces.extend(product);
                start = end;
            }
            let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
            g.op("Concat", &refs, &[("axis", Attr::Int(1))])
        }
        other => {
            return Err(Error::Unsupported(format!(
                "exporting the preprocessing step {other:?}"
            )));
        }
    })
}

/// One-hot encoding of the category-code columns `columns` (with
/// `n_categories` each) in place, the other columns passed through in order.
fn one_hot(g: &mut Graph, x: &str, width: usize, columns: &[usize], n_categories: &[usize]) -> String {
    let mut pieces = Vec::new();
    let mut numeric_run: Vec<i64> = Vec::new();
    let flush = |g: &mut Graph, run: &mut Vec<i64>, pieces: &mut Vec<String>| {
        if !run.is_empty() {
            let idx = g.const_i64("cols", &[run.len() as i64], run);
            pieces.push(g.op("Gather", &[x, &idx], &[("axis", Attr::Int(1))]));
            run.clear();
        }
    };
    for j in 0..width {
        match columns.iter().position(|&c| c == j) {
            None => numeric_run.push(j as i64),
            Some(k) => {
                flush(g, &mut numeric_run, &mut pieces);
                let idx = g.const_i64("col", &[1], &[j as i64]);
                let col = g.op("Gather", &[x, &idx], &[("axis", Attr::Int(1))]);
                let n = n_categories[k];
                let codes = g.const_f64("codes", &[1, n as i64], &(0..n).map(|c| c as f64).collect::<Vec<_>>());
                let eq = g.op("Equal", &[&col, &codes], &[]);
                pieces.push(g.cast(&eq, DataType::Double));
            }
        }
    }
    flush(g, &mut numeric_run, &mut pieces);
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    g.op("Concat", &refs, &[("axis", Attr::Int(1))])
}

/// A linear model: margins `x W + b`, then the link; returns the outputs.
fn linear(
    g: &mut Graph,
    task: &Task,
    x: &str,
    coefficients: ArrayView2<'_, f64>,
    intercepts: ArrayView1<'_, f64>,
    link: Link,
) -> Result<Vec<ValueInfoProto>> {
    let (k, width) = coefficients.dim();
    let w = g.const_f64(
        "coef",
        &[width as i64, k as i64],
        &coefficients.t().iter().copied().collect::<Vec<_>>(),
    );
    let b = g.const_f64("intercept", &[k as i64], &intercepts.to_vec());
    let xw = g.op("MatMul", &[x, &w], &[]);
    let margins = g.op("Add", &[&xw, &b], &[]);
    linked_outputs(g, task, margins, k, link, "linear model")
}

/// The named outputs of a model whose raw outputs are `margins` (double):
/// `variable` for regression, `label` and `probabilities` through `link`
/// for classification.
fn linked_outputs(
    g: &mut Graph,
    task: &Task,
    margins: String,
    k: usize,
    link: Link,
    what: &str,
) -> Result<Vec<ValueInfoProto>> {
    let mut outputs = Vec::new();
    match (task, link) {
        (Task::Regression, Link::Identity) => {
            g.op_to("Identity", "", &[&margins], &["variable"], &[]);
            outputs.push(value_info(
                "variable",
                DataType::Double,
                &[Dim::Named("N"), Dim::Fixed(1)],
            ));
        }
        // Decision values without probabilities (linear SVMs): `label` and the
        // margins as `scores`, as ONNX's LinearClassifier gives them.
        (Task::Classification { .. }, Link::Margin) => {
            g.op_to("Identity", "", &[&margins], &["scores"], &[]);
            if k == 1 {
                let zero = g.const_f64("zero", &[1], &[0.0]);
                let positive = g.op("Greater", &[&margins, &zero], &[]);
                let label = g.cast(&positive, DataType::Int64);
                let axes = g.const_i64("axes", &[1], &[1]);
                g.op_to("Squeeze", "", &[&label, &axes], &["label"], &[]);
            } else {
                g.op_to(
                    "ArgMax",
                    "",
                    &["scores"],
                    &["label"],
                    &[("axis", Attr::Int(1)), ("keepdims", Attr::Int(0))],
                );
            }
            outputs.push(value_info("label", DataType::Int64, &[Dim::Named("N")]));
            outputs.push(value_info(
                "scores",
                DataType::Double,
                &[Dim::Named("N"), Dim::Fixed(k as i64)],
            ));
        }
        (Task::Classification { classes }, link) => {
            let proba = match link {
                Link::Logistic => {
                    let p1 = g.op("Sigmoid", &[&margins], &[]);
                    with_complement(g, &p1)
                }
                Link::Softmax => g.op("Softmax", &[&margins], &[("axis", Attr::Int(1))]),
                Link::Identity => margins,
                other => {
                    return Err(Error::Unsupported(format!(
                        "a {what} classifying with a {other:?} link"
                    )));
                }
            };
            classifier_outputs(g, &proba, classes.len(), &mut outputs);
        }
        _ => {
            return Err(Error::Unsupported(format!(
                "{what} with a {link:?} link for {}",
                task.name()
            )));
        }
    }
    Ok(outputs)
}

/// The node and leaf attributes of the trees, leaf weights scaled by
/// `scale`. A two-class ensemble that predicts probabilities lists class 1
/// only: ONNX Runtime reads two-class ensembles specially (listing both
/// classes does not return the summed weights), so its score is P(class 1)
/// and the graph completes `[1 - p, p]` itself.
fn tree_attrs(trees: &[Tree], scale: f64, binary_classifier: bool) -> TreeAttrs {
    let mut a = TreeAttrs::default();
    for (t, tree) in trees.iter().enumerate() {
        for (i, n) in tree.nodes.iter().enumerate() {
            a.tree_ids.push(t as i64);
            a.node_ids.push(i as i64);
            match &n.split {
                Some(s) => {
                    a.features.push(s.feature as i64);
                    a.values.push(f32_at_most(s.threshold));
                    a.modes.push("BRANCH_LEQ".into());
                    a.true_ids.push(s.left as i64);
                    a.false_ids.push(s.right as i64);
                    a.missing_true.push(i64::from(s.missing_left));
                }
                None => {
                    a.features.push(0);
                    a.values.push(0.0);
                    a.modes.push("LEAF".into());
                    a.true_ids.push(0);
                    a.false_ids.push(0);
                    a.missing_true.push(0);
                    for (c, v) in n.value.iter().enumerate() {
                        if binary_classifier && c == 0 {
                            continue;
                        }
                        a.leaf_tree.push(t as i64);
                        a.leaf_node.push(i as i64);
                        a.leaf_target.push(c as i64);
                        a.leaf_weight.push((v * scale) as f32);
                    }
                }
            }
        }
    }
    a
}

/// What every leaf value is multiplied by for `aggregation`: averaged
/// ensembles divide by the trees, summed ones keep their values.
fn leaf_scale(trees: &[Tree], aggregation: Aggregation) -> Result<f64> {
    match aggregation {
        Aggregation::Average => Ok(1.0 / trees.len() as f64),
        Aggregation::Sum => Ok(1.0),
        other => Err(Error::Unsupported(format!("a {other:?} tree ensemble"))),
    }
}

/// A tree ensemble (`ai.onnx.ml` `TreeEnsembleRegressor` or
/// `TreeEnsembleClassifier` on the input rounded to float); returns the
/// outputs.
fn tree_ensemble(
    g: &mut Graph,
    task: &Task,
    x: &str,
    trees: &[Tree],
    aggregation: Aggregation,
    base_values: &[f64],
    link: Link,
) -> Result<Vec<ValueInfoProto>> {
    if trees.iter().any(Tree::has_categorical_splits) {
        return categorical_tree_ensemble(g, task, x, trees, aggregation, base_values, link);
    }
    let x32 = g.cast(x, DataType::Float);
    let binary_classifier =
        matches!(task, Task::Classification { classes } if classes.len() == 2) && link == Link::Identity;
    let scale = leaf_scale(trees, aggregation)?;
    if binary_classifier && base_values.iter().any(|&b| b != 0.0) {
        return Err(Error::Unsupported("two-class tree ensemble with base values".into()));
    }
    let a = tree_attrs(trees, scale, binary_classifier);
    let mut attrs = vec![
        ("nodes_treeids", Attr::Ints(a.tree_ids)),
        ("nodes_nodeids", Attr::Ints(a.node_ids)),
        ("nodes_featureids", Attr::Ints(a.features)),
        ("nodes_values", Attr::Floats(a.values)),
        ("nodes_modes", Attr::Strs(a.modes)),
        ("nodes_truenodeids", Attr::Ints(a.true_ids)),
        ("nodes_falsenodeids", Attr::Ints(a.false_ids)),
    ];
    // Learned missing-value directions (gradient boosting); without them
    // a NaN compares false and takes the false (right) branch, as ours do.
    if a.missing_true.contains(&1) {
        attrs.push(("nodes_missing_value_tracks_true", Attr::Ints(a.missing_true)));
    }
    if base_values.iter().any(|&b| b != 0.0) {
        attrs.push(("base_values", Attr::Floats(f32s(base_values.iter().copied()))));
    }
    let mut outputs = Vec::new();
    match (task, link) {
        (Task::Regression, Link::Identity) => {
            attrs.extend(summed_targets(
                a.leaf_tree,
                a.leaf_node,
                a.leaf_target,
                a.leaf_weight,
                1,
            ));
            let raw = g.fresh("tree_value");
            g.op_to("TreeEnsembleRegressor", "ai.onnx.ml", &[&x32], &[&raw], &attrs);
            g.op_to(
                "Cast",
                "",
                &[&raw],
                &["variable"],
                &[("to", Attr::Int(DataType::Double as i64))],
            );
            outputs.push(value_info(
                "variable",
                DataType::Double,
                &[Dim::Named("N"), Dim::Fixed(1)],
            ));
        }
        // Summed raw outputs, then the link in double precision: one
        // margin through the logistic link (boosting, EBMs), or the sums
        // as decision values (a calibrated classifier's scores).
        (Task::Classification { classes }, Link::Logistic) | (Task::Classification { classes }, Link::Margin)
            if link == Link::Margin || (classes.len() == 2 && base_values.len() == 1) =>
        {
            let k = base_values.len();
            attrs.extend(summed_targets(
                a.leaf_tree,
                a.leaf_node,
                a.leaf_target,
                a.leaf_weight,
                k,
            ));
            let raw = g.fresh("tree_margin");
            g.op_to("TreeEnsembleRegressor", "ai.onnx.ml", &[&x32], &[&raw], &attrs);
            let margin = g.cast(&raw, DataType::Double);
            return linked_outputs(g, task, margin, k, link, "tree ensemble");
        }
        (Task::Classification { classes }, Link::Identity | Link::Softmax) => {
            let post = if link == Link::Softmax { "SOFTMAX" } else { "NONE" };
            attrs.extend([
                ("class_treeids", Attr::Ints(a.leaf_tree)),
                ("class_nodeids", Attr::Ints(a.leaf_node)),
                ("class_ids", Attr::Ints(a.leaf_target)),
                ("class_weights", Attr::Floats(a.leaf_weight)),
                ("classlabels_int64s", Attr::Ints((0..classes.len() as i64).collect())),
                ("post_transform", Attr::Str(post.into())),
            ]);
            let label = g.fresh("tree_label");
            let raw = g.fresh("tree_proba");
            g.op_to("TreeEnsembleClassifier", "ai.onnx.ml", &[&x32], &[&label, &raw], &attrs);
            let mut proba = g.cast(&raw, DataType::Double);
            if binary_classifier {
                let one_idx = g.const_i64("class1", &[1], &[1]);
                let p1 = g.op("Gather", &[&proba, &one_idx], &[("axis", Attr::Int(1))]);
                proba = with_complement(g, &p1);
            }
            classifier_outputs(g, &proba, classes.len(), &mut outputs);
        }
        _ => {
            return Err(Error::Unsupported(format!(
                "tree ensemble with a {link:?} link for {}",
                task.name()
            )));
        }
    }
    Ok(outputs)
}

/// The `ai.onnx.ml` opset a model with categorical splits needs: the
/// version-5 `TreeEnsemble` operator, whose `BRANCH_MEMBER` nodes test set
/// membership.
pub(crate) const CATEGORICAL_ML_OPSET: i64 = 5;

/// A tree ensemble with categorical splits as one `TreeEnsemble`
/// (`ai.onnx.ml` opset 5): summed raw outputs, then the base values and the
/// link in double precision, as gradient boosting's other exports do. A
/// categorical node is `BRANCH_MEMBER` of its left categories (with `-1`,
/// the unseen category's code, where missing values go left, since ours
/// sends it where missing values go); a tree whose leaves feed several
/// outputs is written once per output (each leaf feeds one).
fn categorical_tree_ensemble(
    g: &mut Graph,
    task: &Task,
    x: &str,
    trees: &[Tree],
    aggregation: Aggregation,
    base_values: &[f64],
    link: Link,
) -> Result<Vec<ValueInfoProto>> {
    let scale = leaf_scale(trees, aggregation)?;
    let n_targets = base_values.len();
    let (mut features, mut splits, mut modes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut true_ids, mut true_leafs, mut false_ids, mut false_leafs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut missing_true, mut membership, mut roots) = (Vec::new(), Vec::new(), Vec::new());
    let (mut leaf_targets, mut leaf_weights) = (Vec::new(), Vec::new());
    for tree in trees {
        for target in 0..n_targets {
            if tree
                .nodes
                .iter()
                .all(|n| n.split.is_some() || n.value.get(target).is_none_or(|&v| v == 0.0))
            {
                continue;
            }
            // Interior nodes and leaves are numbered apart.
            let (mut node_at, mut leaf_at) = (vec![0; tree.nodes.len()], vec![0; tree.nodes.len()]);
            let mut next_node = features.len();
            for (i, n) in tree.nodes.iter().enumerate() {
                if n.split.is_some() {
                    node_at[i] = next_node;
                    next_node += 1;
                } else {
                    leaf_at[i] = leaf_targets.len();
                    leaf_targets.push(target as i64);
                    leaf_weights.push((n.value.get(target).copied().unwrap_or(0.0) * scale) as f32);
                }
            }
            let child = |c: usize| -> (i64, i64) {
                if tree.nodes[c].split.is_some() {
                    (node_at[c] as i64, 0)
                } else {
                    (leaf_at[c] as i64, 1)
                }
            };
            match tree.nodes[0].split {
                None => {
                    // A lone leaf: one node whose branches both reach it.
                    roots.push(features.len() as i64);
                    features.push(0);
                    splits.push(0.0);
                    modes.push(0u8);
                    true_ids.push(leaf_at[0] as i64);
                    true_leafs.push(1);
                    false_ids.push(leaf_at[0] as i64);
                    false_leafs.push(1);
                    missing_true.push(0);
                }
                Some(_) => roots.push(node_at[0] as i64),
            }
            for n in &tree.nodes {
                let Some(s) = n.split else { continue };
                features.push(s.feature as i64);
                match s.categories {
                    Some(set) => {
                        splits.push(0.0);
                        modes.push(6u8); // BRANCH_MEMBER
                        membership.extend(set.codes().iter().map(|&c| c as f32));
                        if s.missing_left {
                            membership.push(-1.0);
                        }
                        membership.push(f32::NAN);
                    }
                    None => {
                        splits.push(f32_at_most(s.threshold));
                        modes.push(0u8); // BRANCH_LEQ
                    }
                }
                let (t, tl) = child(s.left);
                let (f, fl) = child(s.right);
                true_ids.push(t);
                true_leafs.push(tl);
                false_ids.push(f);
                false_leafs.push(fl);
                missing_true.push(i64::from(s.missing_left));
            }
        }
    }
    let x32 = g.cast(x, DataType::Float);
    let n_nodes = features.len() as i64;
    let attrs = vec![
        ("n_targets", Attr::Int(n_targets as i64)),
        ("aggregate_function", Attr::Int(1)), // SUM
        ("post_transform", Attr::Int(0)),     // NONE
        ("tree_roots", Attr::Ints(roots)),
        ("nodes_featureids", Attr::Ints(features)),
        (
            "nodes_splits",
            Attr::Tensor(Box::new(tensor_f32("nodes_splits", &[n_nodes], &splits))),
        ),
        (
            "nodes_modes",
            Attr::Tensor(Box::new(tensor_u8("nodes_modes", &[n_nodes], &modes))),
        ),
        ("nodes_truenodeids", Attr::Ints(true_ids)),
        ("nodes_trueleafs", Attr::Ints(true_leafs)),
        ("nodes_falsenodeids", Attr::Ints(false_ids)),
        ("nodes_falseleafs", Attr::Ints(false_leafs)),
        ("nodes_missing_value_tracks_true", Attr::Ints(missing_true)),
        (
            "membership_values",
            Attr::Tensor(Box::new(tensor_f32(
                "membership_values",
                &[membership.len() as i64],
                &membership,
            ))),
        ),
        ("leaf_targetids", Attr::Ints(leaf_targets)),
        (
            "leaf_weights",
            Attr::Tensor(Box::new(tensor_f32(
                "leaf_weights",
                &[leaf_weights.len() as i64],
                &leaf_weights,
            ))),
        ),
    ];
    let raw = g.fresh("tree_raw");
    g.op_to("TreeEnsemble", "ai.onnx.ml", &[&x32], &[&raw], &attrs);
    let raw = g.cast(&raw, DataType::Double);
    let base = g.const_f64("base_values", &[1, n_targets as i64], base_values);
    let margin = g.op("Add", &[&raw, &base], &[]);
    linked_outputs(
        g,
        task,
        margin,
        n_targets,
        link,
        "tree ensemble with categorical splits",
    )
}

/// k-means: squared distances to the centroids (`scores`) and the nearest
/// one (`label`), as `|x|² - 2 x·c + |c|²`.
fn nearest_centroid(g: &mut Graph, x: &str, centroids: ArrayView2<'_, f64>, n_clusters: usize) -> Vec<ValueInfoProto> {
    let k = n_clusters as i64;
    let width = centroids.ncols() as i64;
    let ct = g.const_f64(
        "centroids_t",
        &[width, k],
        &centroids.t().iter().copied().collect::<Vec<_>>(),
    );
    let cc = g.const_f64(
        "centroid_norms",
        &[1, k],
        &centroids.outer_iter().map(|c| c.dot(&c)).collect::<Vec<_>>(),
    );
    let xx = g.op(
        "ReduceSumSquare",
        &[x],
        &[("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(1))],
    );
    let cross = g.op("MatMul", &[x, &ct], &[]);
    let minus_two = g.const_f64("minus_two", &[1], &[-2.0]);
    let scaled = g.op("Mul", &[&cross, &minus_two], &[]);
    let partial = g.op("Add", &[&scaled, &xx], &[]);
    g.op_to("Add", "", &[&partial, &cc], &["scores"], &[]);
    g.op_to(
        "ArgMin",
        "",
        &["scores"],
        &["label"],
        &[("axis", Attr::Int(1)), ("keepdims", Attr::Int(0))],
    );
    vec![
        value_info("label", DataType::Int64, &[Dim::Named("N")]),
        value_info("scores", DataType::Double, &[Dim::Named("N"), Dim::Fixed(k)]),
    ]
}

/// The model's `metadata_props`: `task`, `feature_names`, `categories`,
/// `classes`, `unknown_category` and the spec itself (JSON), so importing
/// gives back exactly this model (checked against the graph on import, see
/// `import::to_spec`).
fn metadata(spec: &ModelSpec) -> Result<Vec<(&'static str, String)>> {
    let categories: serde_json::Map<String, serde_json::Value> = spec
        .signature
        .inputs
        .iter()
        .filter_map(|c| match &c.kind {
            FeatureKind::Categorical { categories } => Some((c.name.clone(), serde_json::json!(categories))),
            FeatureKind::Numeric => None,
        })
        .collect();
    let classes = match &spec.signature.task {
        Task::Classification { classes } => serde_json::json!(classes),
        _ => serde_json::Value::Null,
    };
    Ok(vec![
        ("task", spec.signature.task.name().to_string()),
        (
            "feature_names",
            serde_json::json!(spec.signature.input_names()).to_string(),
        ),
        ("categories", serde_json::Value::Object(categories).to_string()),
        ("classes", classes.to_string()),
        (
            "unknown_category",
            serde_json::to_value(spec.signature.unknown_category)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        ),
        (
            crate::import::SPEC_METADATA,
            serde_json::to_string(spec).map_err(|e| Error::Unsupported(format!("spec as JSON: {e}")))?,
        ),
    ])
}

#[derive(Default)]
struct TreeAttrs {
    tree_ids: Vec<i64>,
    node_ids: Vec<i64>,
    features: Vec<i64>,
    values: Vec<f32>,
    modes: Vec<String>,
    true_ids: Vec<i64>,
    false_ids: Vec<i64>,
    /// 1 where a missing value takes the true (left) branch.
    missing_true: Vec<i64>,
    leaf_tree: Vec<i64>,
    leaf_node: Vec<i64>,
    leaf_target: Vec<i64>,
    leaf_weight: Vec<f32>,
}

/// The attributes of a `TreeEnsembleRegressor` summing the leaf weights
/// into one target (regression, or a classifier's one margin).
fn summed_targets(
    tree: Vec<i64>,
    node: Vec<i64>,
    target: Vec<i64>,
    weight: Vec<f32>,
    n_targets: usize,
) -> [(&'static str, Attr); 7] {
    [
        ("target_treeids", Attr::Ints(tree)),
        ("target_nodeids", Attr::Ints(node)),
        ("target_ids", Attr::Ints(target)),
        ("target_weights", Attr::Floats(weight)),
        ("n_targets", Attr::Int(n_targets as i64)),
        ("aggregate_function", Attr::Str("SUM".into())),
        ("post_transform", Attr::Str("NONE".into())),
    ]
}

/// Two-class probabilities `[1 - p1, p1]` from the positive class's column.
fn with_complement(g: &mut Graph, p1: &str) -> String {
    let one = g.const_f64("one", &[1], &[1.0]);
    let p0 = g.op("Sub", &[&one, p1], &[]);
    g.op("Concat", &[&p0, p1], &[("axis", Attr::Int(1))])
}

/// `probabilities` (named) and `label` = the first most probable class, as
/// our own predictions break ties.
fn classifier_outputs(g: &mut Graph, proba: &str, k: usize, outputs: &mut Vec<ValueInfoProto>) {
    g.op_to("Identity", "", &[proba], &["probabilities"], &[]);
    g.op_to(
        "ArgMax",
        "",
        &["probabilities"],
        &["label"],
        &[("axis", Attr::Int(1)), ("keepdims", Attr::Int(0))],
    );
    outputs.push(value_info("label", DataType::Int64, &[Dim::Named("N")]));
    outputs.push(value_info(
        "probabilities",
        DataType::Double,
        &[Dim::Named("N"), Dim::Fixed(k as i64)],
    ));
}

#[cfg(test)]
mod tests {
    use ml_core::{Split, TreeNode};

    use super::*;

    fn graph() -> Graph {
        Graph {
            nodes: Vec::new(),
            initializers: Vec::new(),
            counter: 0,
        }
    }

    /// A stump on feature 1 at 0.1 with two-class leaf values.
    fn stump() -> Tree {
        let leaf = |p: f64| TreeNode {
            split: None,
            value: vec![1.0 - p, p],
            cover: 1.0,
        };
        Tree {
            nodes: vec![
                TreeNode {
                    split: Some(Split {
                        feature: 1,
                        threshold: 0.1,
                        left: 1,
                        right: 2,
                        missing_left: false,
                        categories: None,
                    }),
                    value: vec![0.5, 0.5],
                    cover: 2.0,
                },
                leaf(0.25),
                leaf(0.75),
            ],
        }
    }

    #[test]
    fn tree_attributes_flatten_nodes_and_scale_leaves() {
        let a = tree_attrs(&[stump(), stump()], 0.5, false);
        assert_eq!(a.tree_ids, [0, 0, 0, 1, 1, 1]);
        assert_eq!(a.node_ids, [0, 1, 2, 0, 1, 2]);
        assert_eq!(a.modes[..3], ["BRANCH_LEQ", "LEAF", "LEAF"]);
        assert_eq!((a.features[0], a.true_ids[0], a.false_ids[0]), (1, 1, 2));
        // The threshold rounds down to float, so `x <= t` keeps its meaning.
        assert_eq!(a.values[0], f32_at_most(0.1));
        // Both classes per leaf, weights averaged over the two trees.
        assert_eq!(a.leaf_target[..4], [0, 1, 0, 1]);
        assert_eq!(a.leaf_weight[..4], [0.375, 0.125, 0.125, 0.375]);
        // A two-class probability ensemble lists class 1 only.
        let b = tree_attrs(&[stump()], 1.0, true);
        assert_eq!(
            (b.leaf_target, b.leaf_node, b.leaf_weight),
            (vec![1, 1], vec![1, 2], vec![0.25, 0.75])
        );
    }

    #[test]
    fn one_hot_keeps_numeric_runs_together_in_column_order() {
        let mut g = graph();
        // Columns: numeric, numeric, categorical (3 codes), numeric.
        let out = one_hot(&mut g, "x", 4, &[2], &[3]);
        let ops: Vec<&str> = g.nodes.iter().map(|n| n.op_type()).collect();
        assert_eq!(ops, ["Gather", "Gather", "Equal", "Cast", "Gather", "Concat"]);
        let concat = g.nodes.last().unwrap();
        assert_eq!(concat.output, [out]);
        assert_eq!(concat.input.len(), 3);
        // The first gather takes columns 0 and 1 at once.
        assert_eq!(g.initializers[0].int64_data, [0, 1]);
    }

    #[test]
    fn linear_links_map_to_their_operators_or_are_refused() {
        let coef = ml_core::ndarray::array![[1.0, 2.0]];
        let b = ml_core::ndarray::array![0.5];
        let two = Task::Classification {
            classes: vec!["a".into(), "b".into()],
        };
        let mut g = graph();
        let outputs = linear(&mut g, &two, "x", coef.view(), b.view(), Link::Logistic).unwrap();
        let names: Vec<&str> = outputs.iter().map(|o| o.name()).collect();
        assert_eq!(names, ["label", "probabilities"]);
        assert!(g.nodes.iter().any(|n| n.op_type() == "Sigmoid"));
        let mut g = graph();
        assert!(linear(&mut g, &Task::Regression, "x", coef.view(), b.view(), Link::Logistic).is_err());
    }

    #[test]
    fn metadata_carries_the_signature_and_the_spec() {
        let spec = ModelSpec {
            signature: ml_core::Signature {
                inputs: vec![ml_core::InputColumn::numeric("age")],
                unknown_category: Default::default(),
                task: Task::Regression,
                accepts_missing: false,
            },
            preprocessing: vec![],
            estimator: Estimator::Linear {
                coefficients: ml_core::ndarray::array![[1.0]],
                intercepts: ml_core::ndarray::array![0.0],
                link: Link::Identity,
            },
        };
        let m: std::collections::BTreeMap<_, _> = metadata(&spec).unwrap().into_iter().collect();
        assert_eq!(m["task"], "regression");
        assert_eq!(m["feature_names"], r#"["age"]"#);
        assert_eq!(m["classes"], "null");
        let back: ModelSpec = serde_json::from_str(&m[crate::import::SPEC_METADATA]).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn thresholds_round_down_to_f32() {
        for t in [0.1, 1.0 / 3.0, 2.5, -7.3, 1e-30, 123_456.789] {
            let f = f32_at_most(t);
            assert!(f64::from(f) <= t);
            assert!(f64::from(f.next_up()) > t, "{t}: {f} is not the largest f32 at most t");
        }
    }

    #[test]
    fn invalid_specs_are_refused() {
        let mut spec = ModelSpec {
            signature: ml_core::Signature {
                inputs: vec![ml_core::InputColumn::numeric("x")],
                unknown_category: Default::default(),
                task: Task::Regression,
                accepts_missing: false,
            },
            preprocessing: vec![],
            estimator: Estimator::Linear {
                coefficients: ml_core::ndarray::array![[1.0, 2.0]],
                intercepts: ml_core::ndarray::array![0.0],
                link: Link::Identity,
            },
        };
        assert!(export(&spec).is_err());
        spec.estimator = Estimator::Linear {
            coefficients: ml_core::ndarray::array![[1.0]],
            intercepts: ml_core::ndarray::array![0.0],
            link: Link::Identity,
        };
        let bytes = export(&spec).unwrap();
        // ModelProto starts with ir_version (field 1, varint) = 8.
        assert_eq!(&bytes[..2], &[0x08, IR_VERSION as u8]);
    }
}
