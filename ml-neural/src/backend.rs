//! The forward and backward passes on burn.
//!
//! Weights travel to the device as flat `f32` tensors each step (leaves that
//! require gradients when trainable), the layers are burn's tensor operations
//! (matmul, `conv2d`, pooling, activations), and gradients come back as
//! vectors. For DP-SGD, each dense layer's pre-activation gets a zero "probe"
//! leaf added: its gradient is the per-example gradient of the layer's
//! output, from which per-example weight gradients follow without a
//! per-example backward pass.

use burn::tensor::activation;
use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};
use ml_core::{Activation, Error, Result, RowShape};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::network::{LayerConfig, Network, ParamKind};

/// Where tensors are computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackendKind {
    /// burn's pure-Rust CPU backend (`flex`).
    #[default]
    Cpu,
    /// burn's wgpu backend: the first GPU adapter (Vulkan, Metal, DX12), or
    /// Mesa's software Vulkan driver. Needs the `wgpu` feature.
    Wgpu,
}

impl BackendKind {
    /// Parse `cpu` or `wgpu`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "cpu" | "flex" => Ok(BackendKind::Cpu),
            "wgpu" | "gpu" => Ok(BackendKind::Wgpu),
            other => Err(Error::invalid("backend", format!("{other:?}: expected cpu or wgpu"))),
        }
    }

    /// The device, checked to exist.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when this build lacks the backend or no adapter
    /// is found (instead of burn's panic in a worker thread).
    pub fn device(self) -> Result<Device> {
        match self {
            BackendKind::Cpu => Ok(Device::flex()),
            BackendKind::Wgpu => wgpu_device(),
        }
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    crate::gpu::device()
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device> {
    Err(Error::Unsupported(
        "the wgpu backend: this build of ml-neural lacks its `wgpu` feature".into(),
    ))
}

/// Whether a pass trains (dropout on, batch statistics) or infers.
pub(crate) enum Mode<'a> {
    /// Training: dropout masks are drawn from this generator.
    Train(&'a mut dyn rand::Rng),
    /// Inference.
    Eval,
}

/// What a training pass leaves besides the outputs.
#[derive(Default)]
pub(crate) struct PassExtras {
    /// Per dense layer (in order): its input (detached) and its probe leaf.
    pub probes: Vec<(usize, Tensor<2>, Tensor<2>)>,
    /// Per batch-normalization layer: the batch mean and (biased) variance.
    pub batch_stats: Vec<(usize, Tensor<1>, Tensor<1>)>,
}

enum Act {
    Flat(Tensor<2>),
    Image(Tensor<4>),
}

/// Upload a host vector as a tensor of `shape`.
pub(crate) fn upload<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Read a tensor back as a vector.
///
/// # Errors
/// A failed device read.
pub(crate) fn download<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t
        .try_into_data()
        .map_err(|e| Error::Unsupported(format!("reading a tensor from the device: {e:?}")))?;
    let data = data.convert::<f32>();
    data.as_slice::<f32>()
        .map(<[f32]>::to_vec)
        .map_err(|e| Error::Unsupported(format!("reading a tensor from the device: {e:?}")))
}

/// The weight leaves of a pass: every parameter uploaded, trainable ones
/// requiring gradients when `grad` is set.
pub(crate) fn leaves(net: &Network, device: &Device, grad: bool) -> Vec<Tensor<1>> {
    net.params
        .iter()
        .map(|p| {
            let t = upload(p.value.clone(), [p.value.len()], device);
            if grad && p.trainable { t.require_grad() } else { t }
        })
        .collect()
}

/// Run the network on a flat batch.
pub(crate) fn forward(
    net: &Network,
    shapes: &[RowShape],
    leaves: &[Tensor<1>],
    x: Tensor<2>,
    mut mode: Mode<'_>,
    probe: bool,
) -> (Tensor<2>, PassExtras) {
    let mut extras = PassExtras::default();
    let n = x.dims()[0];
    let device = x.device();
    let param = |layer: usize, kind: ParamKind| -> Tensor<1> {
        let i = net
            .params
            .iter()
            .position(|p| p.layer == layer && p.kind == kind)
            .expect("validated network");
        leaves[i].clone()
    };
    let mut act = Act::Flat(x);
    for (i, layer) in net.layers.iter().enumerate() {
        act = match (layer, act) {
            (LayerConfig::Dense { units }, Act::Flat(x)) => {
                let d = shapes[i].size();
                let w = param(i, ParamKind::Weight).reshape([*units, d]);
                let b = param(i, ParamKind::Bias).reshape([1, *units]);
                let input = x.clone();
                let mut y = x.matmul(w.transpose()) + b;
                if probe {
                    let p = Tensor::<2>::zeros([n, *units], &device).require_grad();
                    y = y + p.clone();
                    extras.probes.push((i, input.detach(), p));
                }
                Act::Flat(y)
            }
            (
                LayerConfig::Conv2d {
                    filters,
                    kernel,
                    stride,
                    padding,
                },
                Act::Image(x),
            ) => {
                let c = x.dims()[1];
                let w = param(i, ParamKind::Weight).reshape([*filters, c, kernel[0], kernel[1]]);
                let b = param(i, ParamKind::Bias);
                Act::Image(conv2d(x, w, Some(b), ConvOptions::new(*stride, *padding, [1, 1], 1)))
            }
            (LayerConfig::MaxPool2d { pool }, Act::Image(x)) => Act::Image(max_pool2d(x, MaxPoolOptions::new(*pool))),
            (LayerConfig::AvgPool2d { pool }, Act::Image(x)) => Act::Image(avg_pool2d(x, AvgPoolOptions::new(*pool))),
            (
                LayerConfig::Reshape {
                    channels,
                    height,
                    width,
                },
                Act::Flat(x),
            ) => Act::Image(x.reshape([n, *channels, *height, *width])),
            (LayerConfig::Flatten, Act::Image(x)) => Act::Flat(x.reshape([n, shapes[i].size()])),
            (LayerConfig::Flatten, flat) => flat,
            (LayerConfig::Dropout { rate }, act) => match &mut mode {
                Mode::Train(rng) if *rate > 0.0 => {
                    let keep = 1.0 - rate;
                    let size = n * shapes[i].size();
                    let mask: Vec<f32> = (0..size)
                        .map(|_| {
                            if rng.random::<f64>() < keep {
                                (1.0 / keep) as f32
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    match act {
                        Act::Flat(x) => Act::Flat(x * upload(mask, [n, shapes[i].size()], &device)),
                        Act::Image(x) => {
                            let d = x.dims();
                            Act::Image(x * upload(mask, d, &device))
                        }
                    }
                }
                _ => act,
            },
            (LayerConfig::BatchNorm { epsilon, .. }, act) => {
                let gamma = param(i, ParamKind::Gamma);
                let beta = param(i, ParamKind::Beta);
                let training = matches!(mode, Mode::Train(_));
                let (mean, var) = if training {
                    (None, None)
                } else {
                    (
                        Some(param(i, ParamKind::RunningMean)),
                        Some(param(i, ParamKind::RunningVar)),
                    )
                };
                match act {
                    Act::Flat(x) => {
                        let d = x.dims()[1];
                        let (m, v) = match (mean, var) {
                            (Some(m), Some(v)) => (m.reshape([1, d]), v.reshape([1, d])),
                            _ => {
                                let m = x.clone().mean_dim(0);
                                let v = (x.clone() - m.clone()).square().mean_dim(0);
                                extras.batch_stats.push((
                                    i,
                                    m.clone().detach().reshape([d]),
                                    v.clone().detach().reshape([d]),
                                ));
                                (m, v)
                            }
                        };
                        let y = (x - m) / (v + *epsilon).sqrt();
                        Act::Flat(y * gamma.reshape([1, d]) + beta.reshape([1, d]))
                    }
                    Act::Image(x) => {
                        let c = x.dims()[1];
                        let (m, v) = match (mean, var) {
                            (Some(m), Some(v)) => (m.reshape([1, c, 1, 1]), v.reshape([1, c, 1, 1])),
                            _ => {
                                let m = x.clone().mean_dim(0).mean_dim(2).mean_dim(3);
                                let v = (x.clone() - m.clone()).square().mean_dim(0).mean_dim(2).mean_dim(3);
                                extras.batch_stats.push((
                                    i,
                                    m.clone().detach().reshape([c]),
                                    v.clone().detach().reshape([c]),
                                ));
                                (m, v)
                            }
                        };
                        let y = (x - m) / (v + *epsilon).sqrt();
                        Act::Image(y * gamma.reshape([1, c, 1, 1]) + beta.reshape([1, c, 1, 1]))
                    }
                }
            }
            (LayerConfig::LayerNorm { epsilon }, Act::Flat(x)) => {
                let d = x.dims()[1];
                let m = x.clone().mean_dim(1);
                let v = (x.clone() - m.clone()).square().mean_dim(1);
                let y = (x - m) / (v + *epsilon).sqrt();
                Act::Flat(y * param(i, ParamKind::Gamma).reshape([1, d]) + param(i, ParamKind::Beta).reshape([1, d]))
            }
            (LayerConfig::Embedding { dim, blocks }, Act::Flat(x)) => {
                // Numeric columns pass through; each one-hot block times
                // its table (a lookup, differentiable in the table).
                let d = shapes[i].size();
                let mut parts = Vec::new();
                let mut at = 0;
                for (&[start, cats], p) in blocks.iter().zip(net.params_of(i)) {
                    if start > at {
                        parts.push(x.clone().slice([0..n, at..start]));
                    }
                    let table = leaves[p].clone().reshape([cats, *dim]);
                    parts.push(x.clone().slice([0..n, start..start + cats]).matmul(table));
                    at = start + cats;
                }
                if at < d {
                    parts.push(x.slice([0..n, at..d]));
                }
                Act::Flat(Tensor::cat(parts, 1))
            }
            (LayerConfig::Activation { function }, Act::Flat(x)) => Act::Flat(activate(*function, x)),
            (LayerConfig::Activation { function }, Act::Image(x)) => Act::Image(activate(*function, x)),
            _ => unreachable!("validated shapes"),
        };
    }
    match act {
        Act::Flat(y) => (y, extras),
        Act::Image(y) => {
            let d = y.dims()[1..].iter().product();
            (y.reshape([n, d]), extras)
        }
    }
}

fn activate<const D: usize>(f: Activation, x: Tensor<D>) -> Tensor<D> {
    match f {
        Activation::Relu => activation::relu(x),
        Activation::Gelu => activation::gelu(x),
        Activation::Tanh => activation::tanh(x),
        Activation::Sigmoid => activation::sigmoid(x),
        Activation::Softmax => activation::softmax(x, D - 1),
        _ => unreachable!("every activation of this version is handled"),
    }
}
