//! Feed-forward networks in ONNX graphs → `Estimator::NeuralNet`.

use ml_core::ndarray::{Array1, Array2, Array4};
use ml_core::{Activation, Estimator, Layer, Link, RowShape, Task};

use crate::graph::{AttrValue, Node, OnnxGraph};
use crate::{Error, Result};

fn weights(model: &OnnxGraph, node: &Node, input: usize) -> Result<(Vec<i64>, Vec<f64>)> {
    let name = node
        .inputs
        .get(input)
        .ok_or_else(|| Error::Invalid(format!("{} without input {input}", node.op_type)))?;
    if let Some(t) = model.graph.initializer(name) {
        return Ok((t.dims.clone(), t.to_f64()?));
    }
    // Exporters such as PyTorch's write shapes as Constant nodes.
    match model.graph.producer(name) {
        Some(c) if c.op_type == "Constant" && !c.is_ml() => match c.attr("value") {
            Some(AttrValue::Tensor(t)) => Ok((t.dims.clone(), t.to_f64()?)),
            _ => Err(Error::Unsupported(format!(
                "importing a Constant '{name}' that holds no tensor"
            ))),
        },
        _ => Err(Error::Unsupported(format!(
            "importing a {} whose weights '{name}' are computed, not stored",
            node.op_type
        ))),
    }
}

fn usize_dims(dims: &[i64]) -> Result<Vec<usize>> {
    dims.iter()
        .map(|&d| usize::try_from(d).map_err(|_| Error::Invalid(format!("negative dimension {d}"))))
        .collect()
}

/// A window attribute of a 2-D operator, or of a 1-D one as a 2-D window of
/// height 1 (sequences are images of height 1 in a spec).
fn pair(node: &Node, name: &str, default: [usize; 2]) -> Result<[usize; 2]> {
    match node.attr(name) {
        None => Ok(default),
        Some(_) => match node.ints(name)? {
            [a, b] if *a > 0 && *b > 0 => Ok([*a as usize, *b as usize]),
            [a] if *a > 0 => Ok([1, *a as usize]),
            other => Err(Error::Unsupported(format!(
                "importing {} with {name} {other:?}",
                node.op_type
            ))),
        },
    }
}

fn float_or(node: &Node, name: &str, default: f32) -> Result<f32> {
    match node.attr(name) {
        None => Ok(default),
        Some(AttrValue::Float(f)) => Ok(*f),
        Some(_) => Err(Error::Invalid(format!(
            "{} attribute {name} is not a float",
            node.op_type
        ))),
    }
}

fn no_padding(node: &Node) -> Result<()> {
    if node.int_or("ceil_mode", 0)? != 0 || pair(node, "dilations", [1, 1])? != [1, 1] {
        return Err(Error::Unsupported(format!(
            "importing {} with ceil_mode or dilations",
            node.op_type
        )));
    }
    if node.attr("pads").is_some() && node.ints("pads")?.iter().any(|&p| p != 0) {
        return Err(Error::Unsupported(format!("importing a padded {}", node.op_type)));
    }
    if node.str_or("auto_pad", "NOTSET")? != "NOTSET" {
        return Err(Error::Unsupported(format!("importing {} with auto_pad", node.op_type)));
    }
    Ok(())
}

/// The network that starts at `first` (fed the preprocessed input, `width`
/// columns), up to its output: a `Softmax` (the link) for classifiers,
/// the graph output for regressors.
pub(crate) fn network(model: &OnnxGraph, first: &Node, width: usize, task: &Task) -> Result<Estimator> {
    let mut layers: Vec<Layer> = Vec::new();
    let mut shape = RowShape::Flat(width);
    let mut node = first;
    loop {
        let op = node.op_type.as_str();
        if node.is_ml() {
            return Err(Error::Unsupported(format!("importing a network with {op}")));
        }
        let layer = match op {
            "Cast" | "Identity" => None,
            "MatMul" => {
                let (dims, w) = weights(model, node, 1)?;
                let [i, o] = usize_dims(&dims)?[..] else {
                    return Err(Error::Unsupported(format!(
                        "importing a MatMul with weights of shape {dims:?}"
                    )));
                };
                let w = Array2::from_shape_vec((i, o), w).map_err(|e| Error::Invalid(e.to_string()))?;
                Some(Layer::Dense {
                    weights: w.t().to_owned(),
                    bias: Array1::zeros(o),
                })
            }
            "Add" => {
                // A bias after MatMul.
                let Some(Layer::Dense { bias, .. }) = layers.last_mut() else {
                    return Err(Error::Unsupported(
                        "importing a network with Add after no MatMul".into(),
                    ));
                };
                let (_, b) = weights(model, node, 1)?;
                if b.len() != bias.len() {
                    return Err(Error::Unsupported(format!(
                        "importing an Add of {} values after a layer of {}",
                        b.len(),
                        bias.len()
                    )));
                }
                bias.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                None
            }
            "Gemm" => {
                if node.int_or("transA", 0)? != 0 {
                    return Err(Error::Unsupported("importing a Gemm with transA".into()));
                }
                let alpha = float_or(node, "alpha", 1.0)?;
                let (dims, w) = weights(model, node, 1)?;
                let [a, b] = usize_dims(&dims)?[..] else {
                    return Err(Error::Unsupported(format!(
                        "importing a Gemm with weights of shape {dims:?}"
                    )));
                };
                let w = Array2::from_shape_vec((a, b), w).map_err(|e| Error::Invalid(e.to_string()))?;
                let w = if node.int_or("transB", 0)? != 0 {
                    w
                } else {
                    w.t().to_owned()
                };
                let scale = f64::from(alpha);
                let o = w.nrows();
                let bias = match node.inputs.get(2) {
                    Some(_) => {
                        let (_, c) = weights(model, node, 2)?;
                        let beta = float_or(node, "beta", 1.0)?;
                        match c.len() {
                            1 => Array1::from_elem(o, c[0] * f64::from(beta)),
                            n if n == o => Array1::from_iter(c.iter().map(|v| v * f64::from(beta))),
                            n => return Err(Error::Unsupported(format!("importing a Gemm bias of {n} values"))),
                        }
                    }
                    None => Array1::zeros(o),
                };
                Some(Layer::Dense {
                    weights: w.mapv(|v| v * scale),
                    bias,
                })
            }
            "Relu" | "Tanh" | "Sigmoid" => Some(Layer::Activation {
                function: match op {
                    "Relu" => Activation::Relu,
                    "Tanh" => Activation::Tanh,
                    _ => Activation::Sigmoid,
                },
            }),
            "Softmax" => {
                let axis = node.int_or("axis", -1)?;
                if !matches!(axis, 1 | -1) || !matches!(task, Task::Classification { .. }) {
                    return Err(Error::Unsupported(
                        "importing a Softmax that is not a classifier's output".into(),
                    ));
                }
                crate::import::check_passthrough(model, node.outputs.first().map_or("", String::as_str))?;
                return Ok(Estimator::NeuralNet {
                    layers,
                    link: Link::Softmax,
                });
            }
            "Conv" => {
                if node.int_or("group", 1)? != 1 || pair(node, "dilations", [1, 1])? != [1, 1] {
                    return Err(Error::Unsupported("importing a grouped or dilated Conv".into()));
                }
                let (dims, w) = weights(model, node, 1)?;
                let (o, i, kh, kw) = match usize_dims(&dims)?[..] {
                    [o, i, kh, kw] => (o, i, kh, kw),
                    [o, i, k] => (o, i, 1, k),
                    _ => {
                        return Err(Error::Unsupported(format!(
                            "importing a Conv with weights of shape {dims:?}"
                        )));
                    }
                };
                let pads = match node.attr("pads") {
                    Some(_) => node.ints("pads")?.to_vec(),
                    None => vec![0; 4],
                };
                let padding = match pads[..] {
                    [t, l, b, r] if t == b && l == r && t >= 0 && l >= 0 => [t as usize, l as usize],
                    [l, r] if l == r && l >= 0 => [0, l as usize],
                    _ => return Err(Error::Unsupported(format!("importing a Conv with pads {pads:?}"))),
                };
                let bias = match node.inputs.get(2) {
                    Some(_) => Array1::from(weights(model, node, 2)?.1),
                    None => Array1::zeros(o),
                };
                Some(Layer::Conv2d {
                    weights: Array4::from_shape_vec((o, i, kh, kw), w).map_err(|e| Error::Invalid(e.to_string()))?,
                    bias,
                    stride: pair(node, "strides", [1, 1])?,
                    padding,
                })
            }
            "MaxPool" | "AveragePool" => {
                no_padding(node)?;
                let kernel = pair(node, "kernel_shape", [0, 0])?;
                let stride = pair(node, "strides", [1, 1])?;
                Some(if op == "MaxPool" {
                    Layer::MaxPool2d { kernel, stride }
                } else {
                    Layer::AvgPool2d { kernel, stride }
                })
            }
            "Flatten" => {
                if node.int_or("axis", 1)? != 1 {
                    return Err(Error::Unsupported("importing a Flatten on an axis other than 1".into()));
                }
                Some(Layer::Flatten)
            }
            "Reshape" => {
                let (_, dims) = weights(model, node, 1)?;
                match dims[..] {
                    [_, c, h, w] if c > 0.0 && h > 0.0 && w > 0.0 => Some(Layer::Reshape {
                        channels: c as usize,
                        height: h as usize,
                        width: w as usize,
                    }),
                    [_, c, l] if c > 0.0 && l > 0.0 => Some(Layer::Reshape {
                        channels: c as usize,
                        height: 1,
                        width: l as usize,
                    }),
                    [_, _] => Some(Layer::Flatten),
                    _ => return Err(Error::Unsupported(format!("importing a Reshape to {dims:?}"))),
                }
            }
            other => return Err(Error::Unsupported(format!("importing a network with {other}"))),
        };
        if let Some(layer) = layer {
            // A layer that does not fit its input is an invalid graph.
            shape = layer
                .output_shape(shape)
                .map_err(|e| Error::Invalid(format!("{op}: {e}")))?;
            layers.push(layer);
        }
        let value = node.outputs.first().map_or("", String::as_str);
        let mut consumers = model.graph.consumers(value);
        match (consumers.next(), consumers.next()) {
            (Some(next), None) => node = next,
            (None, _) if matches!(task, Task::Regression) && matches!(shape, RowShape::Flat(1)) => {
                return Ok(Estimator::NeuralNet {
                    layers,
                    link: Link::Identity,
                });
            }
            _ => {
                return Err(Error::Unsupported(format!(
                    "importing a network whose '{value}' is not followed by one operator"
                )));
            }
        }
    }
}
