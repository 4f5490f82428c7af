//! Neural networks (`Estimator::NeuralNet`) → ONNX operators.
//!
//! Networks are trained in single precision, so the graph computes in
//! `float` (every runtime has float kernels for Conv, pooling and
//! LayerNormalization; several lack double ones) between a cast of the
//! preprocessed input and a cast of the outputs back to double.

use ml_core::{Activation, Layer, RowShape};

use crate::export::Graph;
use crate::proto::{Attr, DataType, tensor_f32};
use crate::{Error, Result};

impl Graph {
    fn const_f32(&mut self, prefix: &str, dims: &[i64], data: &[f32]) -> String {
        let name = self.fresh(prefix);
        self.initializers.push(tensor_f32(&name, dims, data));
        name
    }
}

fn f32s<'a>(v: impl IntoIterator<Item = &'a f64>) -> Vec<f32> {
    v.into_iter().map(|&x| x as f32).collect()
}

/// The network's raw outputs (double) from the preprocessed input `x`
/// (`width` columns).
pub(crate) fn network(g: &mut Graph, x: &str, width: usize, layers: &[Layer]) -> Result<String> {
    let mut h = g.cast(x, DataType::Float);
    let mut shape = RowShape::Flat(width);
    for layer in layers {
        let next = layer.output_shape(shape)?;
        h = match layer {
            Layer::Dense { weights, bias } => {
                let (o, i) = weights.dim();
                let w = g.const_f32("dense_w", &[o as i64, i as i64], &f32s(weights.iter()));
                let b = g.const_f32("dense_b", &[o as i64], &f32s(bias.iter()));
                g.op("Gemm", &[&h, &w, &b], &[("transB", Attr::Int(1))])
            }
            Layer::Conv2d {
                weights,
                bias,
                stride,
                padding,
            } => {
                let (o, i, kh, kw) = weights.dim();
                let dims = [o as i64, i as i64, kh as i64, kw as i64];
                let w = g.const_f32("conv_w", &dims, &f32s(weights.iter()));
                let b = g.const_f32("conv_b", &[o as i64], &f32s(bias.iter()));
                let pads = [padding[0], padding[1], padding[0], padding[1]].map(|p| p as i64);
                g.op(
                    "Conv",
                    &[&h, &w, &b],
                    &[
                        ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
                        ("strides", Attr::Ints(stride.iter().map(|&s| s as i64).collect())),
                        ("pads", Attr::Ints(pads.to_vec())),
                    ],
                )
            }
            Layer::MaxPool2d { kernel, stride } | Layer::AvgPool2d { kernel, stride } => {
                let op = if matches!(layer, Layer::MaxPool2d { .. }) {
                    "MaxPool"
                } else {
                    "AveragePool"
                };
                g.op(
                    op,
                    &[&h],
                    &[
                        ("kernel_shape", Attr::Ints(kernel.iter().map(|&k| k as i64).collect())),
                        ("strides", Attr::Ints(stride.iter().map(|&s| s as i64).collect())),
                    ],
                )
            }
            Layer::Reshape {
                channels,
                height,
                width,
            } => {
                let dims = g.const_i64("shape", &[4], &[-1, *channels as i64, *height as i64, *width as i64]);
                g.op("Reshape", &[&h, &dims], &[])
            }
            Layer::Flatten => g.op("Flatten", &[&h], &[("axis", Attr::Int(1))]),
            Layer::Affine { scale, shift } => {
                let dims: Vec<i64> = match shape {
                    RowShape::Flat(d) => vec![d as i64],
                    RowShape::Image([c, _, _]) => vec![c as i64, 1, 1],
                };
                let s = g.const_f32("scale", &dims, &f32s(scale));
                let b = g.const_f32("shift", &dims, &f32s(shift));
                let m = g.op("Mul", &[&h, &s], &[]);
                g.op("Add", &[&m, &b], &[])
            }
            Layer::LayerNorm { gamma, beta, epsilon } => {
                let d = gamma.len() as i64;
                let s = g.const_f32("gamma", &[d], &f32s(gamma));
                let b = g.const_f32("beta", &[d], &f32s(beta));
                g.op(
                    "LayerNormalization",
                    &[&h, &s, &b],
                    &[("axis", Attr::Int(-1)), ("epsilon", Attr::Float(*epsilon as f32))],
                )
            }
            Layer::Activation { function } => match function {
                Activation::Relu => g.op("Relu", &[&h], &[]),
                Activation::Tanh => g.op("Tanh", &[&h], &[]),
                Activation::Sigmoid => g.op("Sigmoid", &[&h], &[]),
                Activation::Softmax => g.op("Softmax", &[&h], &[("axis", Attr::Int(1))]),
                Activation::Gelu => {
                    // Gelu is an operator from opset 20; opset 17 spells it out.
                    let root2 = g.const_f32("sqrt2", &[1], &[std::f32::consts::SQRT_2]);
                    let half = g.const_f32("half", &[1], &[0.5]);
                    let one = g.const_f32("one", &[1], &[1.0]);
                    let scaled = g.op("Div", &[&h, &root2], &[]);
                    let erf = g.op("Erf", &[&scaled], &[]);
                    let cdf = g.op("Add", &[&erf, &one], &[]);
                    let xh = g.op("Mul", &[&h, &half], &[]);
                    g.op("Mul", &[&xh, &cdf], &[])
                }
                other => return Err(Error::Unsupported(format!("the {} activation in ONNX", other.name()))),
            },
            Layer::Embedding { tables } => {
                // Linear: one MatMul with the equivalent dense weights
                // (identity for passed-through columns). A Gather per block
                // would need the codes, which preprocessing has one-hot
                // encoded already.
                let RowShape::Flat(d) = shape else {
                    return Err(Error::Invalid("an embedding on images".into()));
                };
                let w = ml_core::embedding_matrix(tables, d)?;
                let wt = w.t();
                let (i, o) = wt.dim();
                let m = g.const_f32("embedding", &[i as i64, o as i64], &f32s(wt.iter()));
                g.op("MatMul", &[&h, &m], &[])
            }
            other => return Err(Error::Unsupported(format!("the {} layer in ONNX", other.name()))),
        };
        shape = next;
    }
    Ok(g.cast(&h, DataType::Double))
}
