//! Neural networks as portable specs: [`Layer`]s applied in order to the
//! preprocessed matrix, ending in the raw outputs a [`crate::Link`] turns into
//! predictions.
//!
//! Inference is written out here in `f64` with plain loops, so a network
//! trained by `ml-neural` (on burn) predicts, explains and serves without
//! burn, and a network imported from ONNX predicts the same way. Layers work
//! on either a flat `rows × features` batch or an image batch
//! `rows × channels × height × width` (row-major, channels first, as ONNX and
//! burn lay them out); [`Layer::Reshape`] and [`Layer::Flatten`] move between
//! the two.

use ndarray::{Array1, Array2, Array4, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// An element-wise (or, for softmax, row-wise) activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `x · Φ(x)` with the exact normal CDF (`0.5 · x · (1 + erf(x / √2))`).
    Gelu,
    /// Hyperbolic tangent.
    Tanh,
    /// `1 / (1 + e^{-x})`.
    Sigmoid,
    /// Softmax over the features of a flat batch.
    Softmax,
}

impl Activation {
    /// The function's name (`relu`, `gelu`, `tanh`, `sigmoid`, `softmax`).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Gelu => "gelu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Softmax => "softmax",
        }
    }

    /// Parse a name as [`Activation::name`] writes it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the known functions.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "relu" => Activation::Relu,
            "gelu" => Activation::Gelu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "softmax" => Activation::Softmax,
            other => {
                return Err(Error::invalid(
                    "activation",
                    format!("unknown function {other:?} (relu, gelu, tanh, sigmoid, softmax)"),
                ));
            }
        })
    }

    fn apply_scalar(self, x: f64) -> f64 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => crate::spec::sigmoid(x),
            Activation::Softmax => unreachable!("softmax is row-wise"),
        }
    }
}

/// One layer of a [`crate::Estimator::NeuralNet`], with inference-time
/// parameters (dropout is gone, batch normalization folded into
/// [`Layer::Affine`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "layer", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Layer {
    /// `x · weightsᵀ + bias` on a flat batch.
    Dense {
        /// `outputs × inputs`.
        weights: Array2<f64>,
        /// One per output.
        bias: Array1<f64>,
    },
    /// A 2-D convolution (cross-correlation, as every framework computes it)
    /// on an image batch, zero padding.
    Conv2d {
        /// `out_channels × in_channels × kernel_h × kernel_w`.
        weights: Array4<f64>,
        /// One per output channel.
        bias: Array1<f64>,
        /// Vertical and horizontal stride.
        stride: [usize; 2],
        /// Zero padding added on each side, vertically and horizontally.
        padding: [usize; 2],
    },
    /// Maximum over windows of an image batch (no padding).
    MaxPool2d {
        /// Window height and width.
        kernel: [usize; 2],
        /// Vertical and horizontal stride.
        stride: [usize; 2],
    },
    /// Mean over windows of an image batch (no padding).
    AvgPool2d {
        /// Window height and width.
        kernel: [usize; 2],
        /// Vertical and horizontal stride.
        stride: [usize; 2],
    },
    /// Each flat row read as a `channels × height × width` image.
    Reshape {
        /// Channels.
        channels: usize,
        /// Height.
        height: usize,
        /// Width.
        width: usize,
    },
    /// An image batch back to flat rows (channel, then row, then column).
    Flatten,
    /// `x · scale + shift` per feature of a flat batch or per channel of an
    /// image batch: batch normalization at inference.
    Affine {
        /// Multipliers.
        scale: Vec<f64>,
        /// Offsets added after multiplying.
        shift: Vec<f64>,
    },
    /// Layer normalization over the features of a flat batch:
    /// `(x - mean) / sqrt(var + epsilon) · gamma + beta`.
    LayerNorm {
        /// Per-feature multipliers.
        gamma: Vec<f64>,
        /// Per-feature offsets.
        beta: Vec<f64>,
        /// Added to the variance.
        epsilon: f64,
    },
    /// An activation function.
    Activation {
        /// The function.
        function: Activation,
    },
    /// Category embeddings on a flat batch: each block of one-hot columns
    /// (a categorical column after [`crate::Preprocess::OneHot`]) is
    /// replaced by its product with a table, so a category's row of the
    /// table stands in for it (Keras' `Embedding` on the category's code; an
    /// unknown category, all zeros, embeds as zeros). Other columns pass
    /// through in order. The layer is linear: [`embedding_matrix`] writes it
    /// as a dense layer's weights, which is how it exports to ONNX.
    Embedding {
        /// The blocks, in increasing order of `start`, not overlapping.
        tables: Vec<EmbeddingTable>,
    },
}

/// One categorical column's embedding in a [`Layer::Embedding`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingTable {
    /// Index of the block's first one-hot column in the layer's input.
    pub start: usize,
    /// `categories × dimensions`: one row per category.
    pub table: Array2<f64>,
}

/// The output width of embedding `tables` on rows of `width` features, or
/// why they do not fit.
fn embedded_width(tables: &[EmbeddingTable], width: usize) -> std::result::Result<usize, String> {
    let mut at = 0;
    let mut out = width;
    for t in tables {
        let (cats, dim) = t.table.dim();
        if t.start < at || cats == 0 || dim == 0 || t.start.checked_add(cats).is_none_or(|end| end > width) {
            return Err(format!(
                "a table of {cats} categories at column {} on {width} features (blocks must be ordered and fit)",
                t.start
            ));
        }
        at = t.start + cats;
        out = out - cats + dim;
    }
    Ok(out)
}

/// [`Layer::Embedding`]'s `tables` on rows of `width` features as the
/// `outputs × width` weights of an equivalent dense layer (no bias): an
/// identity for the columns that pass through, each table (transposed) for
/// its block.
///
/// # Errors
/// [`Error::Corrupt`] for tables that do not fit `width`.
pub fn embedding_matrix(tables: &[EmbeddingTable], width: usize) -> Result<Array2<f64>> {
    let out = embedded_width(tables, width).map_err(|reason| Error::Corrupt {
        what: "neural network",
        reason: format!("embedding layer: {reason}"),
    })?;
    let mut w = Array2::zeros((out, width));
    let (mut i, mut o) = (0, 0);
    let mut blocks = tables.iter().peekable();
    while i < width {
        match blocks.peek() {
            Some(t) if t.start == i => {
                let (cats, dim) = t.table.dim();
                for c in 0..cats {
                    for d in 0..dim {
                        w[[o + d, i + c]] = t.table[[c, d]];
                    }
                }
                i += cats;
                o += dim;
                blocks.next();
            }
            _ => {
                w[[o, i]] = 1.0;
                i += 1;
                o += 1;
            }
        }
    }
    Ok(w)
}

/// The shape of one row as it flows through a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowShape {
    /// A flat row of this many features.
    Flat(usize),
    /// An image of `[channels, height, width]`.
    Image([usize; 3]),
}

impl RowShape {
    /// Number of values in one row.
    pub fn size(self) -> usize {
        match self {
            RowShape::Flat(d) => d,
            // Saturating: a shape read from a file must not overflow here.
            RowShape::Image([c, h, w]) => c.saturating_mul(h).saturating_mul(w),
        }
    }
}

fn pooled(len: usize, kernel: usize, stride: usize) -> Option<usize> {
    (kernel >= 1 && stride >= 1 && len >= kernel).then(|| (len - kernel) / stride + 1)
}

impl Layer {
    /// The layer's name in snake case, as serialized.
    pub fn name(&self) -> &'static str {
        match self {
            Layer::Dense { .. } => "dense",
            Layer::Conv2d { .. } => "conv2d",
            Layer::MaxPool2d { .. } => "max_pool2d",
            Layer::AvgPool2d { .. } => "avg_pool2d",
            Layer::Reshape { .. } => "reshape",
            Layer::Flatten => "flatten",
            Layer::Affine { .. } => "affine",
            Layer::LayerNorm { .. } => "layer_norm",
            Layer::Activation { .. } => "activation",
            Layer::Embedding { .. } => "embedding",
        }
    }

    /// The shape a row has after this layer, or why the layer does not fit
    /// the incoming shape.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the mismatch.
    pub fn output_shape(&self, input: RowShape) -> Result<RowShape> {
        let bad = |reason: String| Error::Corrupt {
            what: "neural network",
            reason: format!("{} layer: {reason}", self.name()),
        };
        fn finite<'a>(mut v: impl Iterator<Item = &'a f64>) -> bool {
            v.all(|x| x.is_finite())
        }
        match (self, input) {
            (Layer::Dense { weights, bias }, RowShape::Flat(d)) => {
                if weights.ncols() != d || bias.len() != weights.nrows() || weights.nrows() == 0 {
                    return Err(bad(format!(
                        "{}×{} weights and {} biases on {d} inputs",
                        weights.nrows(),
                        weights.ncols(),
                        bias.len()
                    )));
                }
                if !finite(weights.iter().chain(bias)) {
                    return Err(bad("non-finite parameter".into()));
                }
                Ok(RowShape::Flat(weights.nrows()))
            }
            (
                Layer::Conv2d {
                    weights,
                    bias,
                    stride,
                    padding,
                },
                RowShape::Image([c, h, w]),
            ) => {
                let (o, i, kh, kw) = weights.dim();
                if i != c || bias.len() != o || o == 0 {
                    return Err(bad(format!(
                        "{o}×{i} filters and {} biases on {c} channels",
                        bias.len()
                    )));
                }
                if !finite(weights.iter().chain(bias)) {
                    return Err(bad("non-finite parameter".into()));
                }
                if padding.iter().any(|&p| p > h.max(w).max(kh).max(kw)) {
                    return Err(bad(format!("padding {padding:?} wider than the image and kernel")));
                }
                match (
                    pooled(h + 2 * padding[0], kh, stride[0]),
                    pooled(w + 2 * padding[1], kw, stride[1]),
                ) {
                    (Some(oh), Some(ow)) => Ok(RowShape::Image([o, oh, ow])),
                    _ => Err(bad(format!("a {kh}×{kw} kernel does not fit a {h}×{w} image"))),
                }
            }
            (Layer::MaxPool2d { kernel, stride } | Layer::AvgPool2d { kernel, stride }, RowShape::Image([c, h, w])) => {
                match (pooled(h, kernel[0], stride[0]), pooled(w, kernel[1], stride[1])) {
                    (Some(oh), Some(ow)) => Ok(RowShape::Image([c, oh, ow])),
                    _ => Err(bad(format!(
                        "a {}×{} window does not fit a {h}×{w} image",
                        kernel[0], kernel[1]
                    ))),
                }
            }
            (
                Layer::Reshape {
                    channels,
                    height,
                    width,
                },
                RowShape::Flat(d),
            ) => {
                let size = channels.checked_mul(*height).and_then(|v| v.checked_mul(*width));
                if size != Some(d) || d == 0 {
                    return Err(bad(format!("{channels}×{height}×{width} from {d} features")));
                }
                Ok(RowShape::Image([*channels, *height, *width]))
            }
            (Layer::Flatten, shape) => Ok(RowShape::Flat(shape.size())),
            (Layer::Affine { scale, shift }, shape) => {
                let n = match shape {
                    RowShape::Flat(d) => d,
                    RowShape::Image([c, _, _]) => c,
                };
                if scale.len() != n || shift.len() != n {
                    return Err(bad(format!("{} scales for {n} features or channels", scale.len())));
                }
                if !finite(scale.iter().chain(shift)) {
                    return Err(bad("non-finite parameter".into()));
                }
                Ok(shape)
            }
            (Layer::LayerNorm { gamma, beta, epsilon }, RowShape::Flat(d)) => {
                if gamma.len() != d || beta.len() != d {
                    return Err(bad(format!("{} parameters for {d} features", gamma.len())));
                }
                if !(finite(gamma.iter().chain(beta)) && epsilon.is_finite() && *epsilon > 0.0) {
                    return Err(bad("non-finite parameter or epsilon".into()));
                }
                Ok(input)
            }
            (
                Layer::Activation {
                    function: Activation::Softmax,
                },
                RowShape::Image(_),
            ) => Err(bad("softmax needs a flat batch".into())),
            (Layer::Activation { .. }, shape) => Ok(shape),
            (Layer::Embedding { tables }, RowShape::Flat(d)) => {
                if !finite(tables.iter().flat_map(|t| t.table.iter())) {
                    return Err(bad("non-finite parameter".into()));
                }
                embedded_width(tables, d).map(RowShape::Flat).map_err(bad)
            }
            (_, RowShape::Flat(d)) => Err(bad(format!("needs an image batch, got {d} flat features"))),
            (_, RowShape::Image([c, h, w])) => Err(bad(format!("needs a flat batch, got a {c}×{h}×{w} image"))),
        }
    }

    /// Whether the layer has trainable weights (dense, convolutional,
    /// embeddings).
    pub fn is_weighted(&self) -> bool {
        matches!(
            self,
            Layer::Dense { .. } | Layer::Conv2d { .. } | Layer::Embedding { .. }
        )
    }
}

/// The activations of a batch between layers.
enum Batch {
    Flat(Array2<f64>),
    Image(Array4<f64>),
}

/// Check a network's layers against its input width and return the shape of
/// its output row.
///
/// # Errors
/// [`Error::Corrupt`] for the first layer that does not fit.
pub fn validate_layers(layers: &[Layer], input_width: usize) -> Result<RowShape> {
    if layers.is_empty() {
        return Err(Error::Corrupt {
            what: "neural network",
            reason: "no layers".into(),
        });
    }
    let mut shape = RowShape::Flat(input_width);
    for layer in layers {
        shape = layer.output_shape(shape)?;
    }
    // The outputs are the last dense layer's, so later layers must keep a
    // flat batch of that width (activations, normalization).
    if shape != RowShape::Flat(output_width(layers)) {
        return Err(Error::Corrupt {
            what: "neural network",
            reason: "the network must end in a dense layer (optionally followed by activations)".into(),
        });
    }
    Ok(shape)
}

/// The width of a network's output: its last dense layer's (networks end
/// in a dense layer); 0 when there is none.
pub fn output_width(layers: &[Layer]) -> usize {
    layers
        .iter()
        .rev()
        .find_map(|l| match l {
            Layer::Dense { weights, .. } => Some(weights.nrows()),
            _ => None,
        })
        .unwrap_or(0)
}

/// Run validated layers on a preprocessed batch: the network's raw outputs.
pub fn forward(layers: &[Layer], x: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut batch = Batch::Flat(x.to_owned());
    for layer in layers {
        batch = apply(layer, batch);
    }
    match batch {
        Batch::Flat(a) => a,
        Batch::Image(a) => {
            let n = a.dim().0;
            let d = a.len() / n.max(1);
            a.into_shape_with_order((n, d)).expect("contiguous image batch")
        }
    }
}

fn apply(layer: &Layer, batch: Batch) -> Batch {
    match (layer, batch) {
        (Layer::Dense { weights, bias }, Batch::Flat(x)) => {
            let mut out = x.dot(&weights.t());
            out += bias;
            Batch::Flat(out)
        }
        (
            Layer::Conv2d {
                weights,
                bias,
                stride,
                padding,
            },
            Batch::Image(x),
        ) => Batch::Image(conv2d(&x, weights, bias, *stride, *padding)),
        (Layer::MaxPool2d { kernel, stride }, Batch::Image(x)) => Batch::Image(pool(&x, *kernel, *stride, true)),
        (Layer::AvgPool2d { kernel, stride }, Batch::Image(x)) => Batch::Image(pool(&x, *kernel, *stride, false)),
        (
            Layer::Reshape {
                channels,
                height,
                width,
            },
            Batch::Flat(x),
        ) => {
            let n = x.nrows();
            let x = x.as_standard_layout().into_owned();
            Batch::Image(
                x.into_shape_with_order((n, *channels, *height, *width))
                    .expect("validated reshape"),
            )
        }
        (Layer::Flatten, Batch::Image(x)) => {
            let n = x.dim().0;
            let d = x.len() / n.max(1);
            let x = x.as_standard_layout().into_owned();
            Batch::Flat(x.into_shape_with_order((n, d)).expect("contiguous"))
        }
        (Layer::Flatten, flat @ Batch::Flat(_)) => flat,
        (Layer::Affine { scale, shift }, Batch::Flat(mut x)) => {
            for mut row in x.outer_iter_mut() {
                for ((v, s), b) in row.iter_mut().zip(scale).zip(shift) {
                    *v = *v * s + b;
                }
            }
            Batch::Flat(x)
        }
        (Layer::Affine { scale, shift }, Batch::Image(mut x)) => {
            for mut sample in x.outer_iter_mut() {
                for ((mut ch, s), b) in sample.outer_iter_mut().zip(scale).zip(shift) {
                    ch.mapv_inplace(|v| v * s + b);
                }
            }
            Batch::Image(x)
        }
        (Layer::LayerNorm { gamma, beta, epsilon }, Batch::Flat(mut x)) => {
            let d = x.ncols() as f64;
            for mut row in x.outer_iter_mut() {
                let mean = row.sum() / d;
                let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / d;
                let inv = 1.0 / (var + epsilon).sqrt();
                for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
                    *v = (*v - mean) * inv * g + b;
                }
            }
            Batch::Flat(x)
        }
        (
            Layer::Activation {
                function: Activation::Softmax,
            },
            Batch::Flat(x),
        ) => Batch::Flat(crate::spec::apply_link(crate::Link::Softmax, x)),
        (Layer::Activation { function }, Batch::Flat(mut x)) => {
            x.mapv_inplace(|v| function.apply_scalar(v));
            Batch::Flat(x)
        }
        (Layer::Activation { function }, Batch::Image(mut x)) => {
            x.mapv_inplace(|v| function.apply_scalar(v));
            Batch::Image(x)
        }
        (Layer::Embedding { tables }, Batch::Flat(x)) => {
            let w = embedding_matrix(tables, x.ncols()).expect("validated embedding");
            Batch::Flat(x.dot(&w.t()))
        }
        _ => unreachable!("layers are validated against their input shapes"),
    }
}

fn conv2d(x: &Array4<f64>, w: &Array4<f64>, b: &Array1<f64>, stride: [usize; 2], pad: [usize; 2]) -> Array4<f64> {
    let (n, c, h, wd) = x.dim();
    let (o, _, kh, kw) = w.dim();
    let oh = (h + 2 * pad[0] - kh) / stride[0] + 1;
    let ow = (wd + 2 * pad[1] - kw) / stride[1] + 1;
    // im2col: one row of patch values per output position, then one matrix
    // product with the filters.
    let k = c * kh * kw;
    let mut cols = Array2::<f64>::zeros((n * oh * ow, k));
    for s in 0..n {
        for y in 0..oh {
            for xx in 0..ow {
                let mut row = cols.row_mut((s * oh + y) * ow + xx);
                let mut idx = 0;
                for ch in 0..c {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (y * stride[0] + ky) as isize - pad[0] as isize;
                            let ix = (xx * stride[1] + kx) as isize - pad[1] as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                row[idx] = x[[s, ch, iy as usize, ix as usize]];
                            }
                            idx += 1;
                        }
                    }
                }
            }
        }
    }
    let filters = w
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((o, k))
        .expect("contiguous filters");
    let prod = cols.dot(&filters.t()); // (n·oh·ow) × o
    let mut out = Array4::<f64>::zeros((n, o, oh, ow));
    for s in 0..n {
        for y in 0..oh {
            for xx in 0..ow {
                let r = prod.row((s * oh + y) * ow + xx);
                for f in 0..o {
                    out[[s, f, y, xx]] = r[f] + b[f];
                }
            }
        }
    }
    out
}

fn pool(x: &Array4<f64>, kernel: [usize; 2], stride: [usize; 2], max: bool) -> Array4<f64> {
    let (n, c, h, w) = x.dim();
    let oh = (h - kernel[0]) / stride[0] + 1;
    let ow = (w - kernel[1]) / stride[1] + 1;
    let area = (kernel[0] * kernel[1]) as f64;
    Array4::from_shape_fn((n, c, oh, ow), |(s, ch, y, xx)| {
        let window = (0..kernel[0]).flat_map(|ky| (0..kernel[1]).map(move |kx| (ky, kx)));
        let values = window.map(|(ky, kx)| x[[s, ch, y * stride[0] + ky, xx * stride[1] + kx]]);
        if max {
            values.fold(f64::NEG_INFINITY, f64::max)
        } else {
            values.sum::<f64>() / area
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn embedding_is_a_lookup_and_fits_its_input() {
        // Columns: numeric, a 3-category one-hot block, numeric.
        let layer = Layer::Embedding {
            tables: vec![EmbeddingTable {
                start: 1,
                table: array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
            }],
        };
        assert_eq!(layer.output_shape(RowShape::Flat(5)).unwrap(), RowShape::Flat(4));
        let x = array![[7.0, 0.0, 1.0, 0.0, 8.0], [9.0, 0.0, 0.0, 0.0, 10.0]];
        let y = forward(std::slice::from_ref(&layer), x.view());
        // The second category's row; an unknown category (all zeros) embeds as zeros.
        assert_eq!(y, array![[7.0, 3.0, 4.0, 8.0], [9.0, 0.0, 0.0, 10.0]]);
        let err = layer.output_shape(RowShape::Flat(3)).unwrap_err().to_string();
        assert!(err.contains("embedding"), "{err}");
        let overlapping = Layer::Embedding {
            tables: vec![
                EmbeddingTable {
                    start: 0,
                    table: Array2::zeros((2, 1)),
                },
                EmbeddingTable {
                    start: 1,
                    table: Array2::zeros((2, 1)),
                },
            ],
        };
        assert!(overlapping.output_shape(RowShape::Flat(4)).is_err());
        let nan = Layer::Embedding {
            tables: vec![EmbeddingTable {
                start: 0,
                table: array![[f64::NAN]],
            }],
        };
        assert!(nan.output_shape(RowShape::Flat(1)).is_err());
    }
}
