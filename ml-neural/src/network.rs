//! Architectures ([`Sequential`], [`LayerConfig`]) and their weights
//! ([`Network`]), kept on the host as `f32` vectors.
//!
//! burn runs the forward and backward passes (see [`crate::backend`]); the
//! weights, optimizer state and running statistics live here as plain vectors,
//! so checkpoints, freezing, head replacement and DP-SGD's per-example
//! clipping need nothing from burn's module or record formats, and a network
//! trains identically on any backend burn offers.

use ml_core::ndarray::{Array1, Array2, Array4};
use ml_core::{Activation, Error, Layer, Result, RowShape};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// One layer of an architecture, before training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "layer", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LayerConfig {
    /// A fully connected layer (Keras `Dense`, PyTorch `Linear`).
    Dense {
        /// Output width.
        units: usize,
    },
    /// A 2-D convolution over image rows (Keras `Conv2D`, PyTorch `Conv2d`).
    Conv2d {
        /// Output channels.
        filters: usize,
        /// Kernel height and width.
        kernel: [usize; 2],
        /// Stride.
        stride: [usize; 2],
        /// Zero padding on each side.
        padding: [usize; 2],
    },
    /// Max pooling (stride = window).
    MaxPool2d {
        /// Window height and width.
        pool: [usize; 2],
    },
    /// Average pooling (stride = window).
    AvgPool2d {
        /// Window height and width.
        pool: [usize; 2],
    },
    /// Read flat rows as images (digits' 64 columns as 1×8×8).
    Reshape {
        /// Channels.
        channels: usize,
        /// Height.
        height: usize,
        /// Width.
        width: usize,
    },
    /// Images back to flat rows.
    Flatten,
    /// Inverted dropout while training; the identity at inference.
    Dropout {
        /// Fraction of activations zeroed, in [0, 1).
        rate: f64,
    },
    /// Batch normalization (per feature, or per channel of images), with
    /// running statistics for inference.
    BatchNorm {
        /// Weight of the old running statistics in each update (Keras' 0.99
        /// is PyTorch's momentum 0.01).
        momentum: f64,
        /// Added to the variance.
        epsilon: f64,
    },
    /// Layer normalization over the features of flat rows.
    LayerNorm {
        /// Added to the variance.
        epsilon: f64,
    },
    /// An activation function.
    Activation {
        /// The function.
        function: Activation,
    },
    /// Embeddings of categorical columns (Keras' `Embedding`, one per
    /// column): each block of one-hot columns becomes `dim` learned values,
    /// the category's row of its table. Comes first, on the preprocessed
    /// rows; see [`Sequential::embedding`].
    Embedding {
        /// Values per category.
        dim: usize,
        /// `[start, categories]` of each one-hot block in the input; empty
        /// in a [`Sequential`] means every categorical column of the data,
        /// filled in when training starts.
        blocks: Vec<[usize; 2]>,
    },
}

impl LayerConfig {
    /// The layer's name in snake case.
    pub fn name(&self) -> &'static str {
        match self {
            LayerConfig::Dense { .. } => "dense",
            LayerConfig::Conv2d { .. } => "conv2d",
            LayerConfig::MaxPool2d { .. } => "max_pool2d",
            LayerConfig::AvgPool2d { .. } => "avg_pool2d",
            LayerConfig::Reshape { .. } => "reshape",
            LayerConfig::Flatten => "flatten",
            LayerConfig::Dropout { .. } => "dropout",
            LayerConfig::BatchNorm { .. } => "batch_norm",
            LayerConfig::LayerNorm { .. } => "layer_norm",
            LayerConfig::Activation { .. } => "activation",
            LayerConfig::Embedding { .. } => "embedding",
        }
    }

    /// Every size the layer names (units, filters, windows, shapes).
    fn sizes(&self) -> Vec<usize> {
        match self {
            LayerConfig::Dense { units } => vec![*units],
            LayerConfig::Conv2d {
                filters,
                kernel,
                stride,
                padding,
            } => [&[*filters][..], kernel, stride, padding].concat(),
            LayerConfig::MaxPool2d { pool } | LayerConfig::AvgPool2d { pool } => pool.to_vec(),
            LayerConfig::Reshape {
                channels,
                height,
                width,
            } => vec![*channels, *height, *width],
            LayerConfig::Embedding { dim, blocks } => {
                std::iter::once(*dim).chain(blocks.iter().flatten().copied()).collect()
            }
            _ => Vec::new(),
        }
    }

    fn output_shape(&self, input: RowShape, index: usize) -> Result<RowShape> {
        let bad = |reason: String| Error::invalid(format!("layer {index} ({})", self.name()), reason);
        let nonzero = |v: &[usize]| v.iter().all(|&x| x > 0);
        // Sizes from a file or a caller stay far from overflow: every product
        // of them below is then exact.
        if self.sizes().iter().any(|&n| n > MAX_SIZE) || input.size() > MAX_SIZE {
            return Err(bad(format!("a size above {MAX_SIZE}")));
        }
        Ok(match (self, input) {
            (LayerConfig::Dense { units }, RowShape::Flat(_)) if *units > 0 => RowShape::Flat(*units),
            (
                LayerConfig::Conv2d {
                    filters,
                    kernel,
                    stride,
                    padding,
                },
                RowShape::Image([_, h, w]),
            ) if *filters > 0 && nonzero(kernel) && nonzero(stride) => {
                let (ph, pw) = (h + 2 * padding[0], w + 2 * padding[1]);
                if ph < kernel[0] || pw < kernel[1] {
                    return Err(bad(format!("a {}×{} kernel on a {h}×{w} image", kernel[0], kernel[1])));
                }
                RowShape::Image([
                    *filters,
                    (ph - kernel[0]) / stride[0] + 1,
                    (pw - kernel[1]) / stride[1] + 1,
                ])
            }
            (LayerConfig::MaxPool2d { pool } | LayerConfig::AvgPool2d { pool }, RowShape::Image([c, h, w]))
                if nonzero(pool) =>
            {
                if h < pool[0] || w < pool[1] {
                    return Err(bad(format!("a {}×{} window on a {h}×{w} image", pool[0], pool[1])));
                }
                RowShape::Image([c, (h - pool[0]) / pool[0] + 1, (w - pool[1]) / pool[1] + 1])
            }
            (
                LayerConfig::Reshape {
                    channels,
                    height,
                    width,
                },
                RowShape::Flat(d),
            ) => {
                if channels * height * width != d || d == 0 {
                    return Err(bad(format!(
                        "{channels}×{height}×{width} images from rows of {d} features"
                    )));
                }
                RowShape::Image([*channels, *height, *width])
            }
            (LayerConfig::Flatten, shape) => RowShape::Flat(shape.size()),
            (LayerConfig::Dropout { rate }, shape) => {
                if !(0.0..1.0).contains(rate) {
                    return Err(bad(format!("rate {rate} outside [0, 1)")));
                }
                shape
            }
            (LayerConfig::BatchNorm { momentum, epsilon }, shape) => {
                if !((0.0..1.0).contains(momentum) && *epsilon > 0.0 && epsilon.is_finite()) {
                    return Err(bad("momentum in [0, 1) and a positive epsilon".into()));
                }
                shape
            }
            (LayerConfig::LayerNorm { epsilon }, RowShape::Flat(d)) => {
                if !(*epsilon > 0.0 && epsilon.is_finite()) {
                    return Err(bad("a positive epsilon".into()));
                }
                RowShape::Flat(d)
            }
            (
                LayerConfig::Activation {
                    function: Activation::Softmax,
                },
                RowShape::Image(_),
            ) => return Err(bad("softmax needs flat rows (add flatten)".into())),
            (LayerConfig::Activation { .. }, shape) => shape,
            (LayerConfig::Embedding { dim, blocks }, RowShape::Flat(d)) => {
                if *dim == 0 || blocks.is_empty() {
                    return Err(bad(
                        "a positive dim, and categorical columns to embed (the data has none)".into(),
                    ));
                }
                let mut at = 0;
                for &[start, cats] in blocks {
                    if start < at || cats == 0 || start + cats > d {
                        return Err(bad(format!(
                            "a block of {cats} columns at {start} on rows of {d} features"
                        )));
                    }
                    at = start + cats;
                }
                RowShape::Flat(d + blocks.len() * dim - blocks.iter().map(|b| b[1]).sum::<usize>())
            }
            (_, RowShape::Flat(d)) => {
                return Err(bad(format!(
                    "needs images, got flat rows of {d} features (add reshape first), or a zero size"
                )));
            }
            (_, RowShape::Image([c, h, w])) => {
                return Err(bad(format!(
                    "needs flat rows, got {c}×{h}×{w} images (add flatten first)"
                )));
            }
        })
    }
}

/// The largest width, count or window a layer may name, and the largest
/// row: 2²⁰ (products of three stay within 64 bits).
pub const MAX_SIZE: usize = 1 << 20;

/// A stack of layers read at a glance, as Keras' `Sequential`:
///
/// ```
/// use ml_neural::Sequential;
/// let mlp = Sequential::new().dense(64).relu().dropout(0.1).dense(32).relu();
/// let cnn = Sequential::new()
///     .reshape(1, 8, 8)
///     .conv2d(16, 3)
///     .relu()
///     .max_pool2d(2)
///     .flatten()
///     .dense(32)
///     .relu();
/// assert_eq!(mlp.layers().len(), 5);
/// assert_eq!(cnn.layers().len(), 7);
/// ```
///
/// The output layer (one unit per class, one for binary classification and
/// regression) is added by the trainer for the task; it is the network's
/// head, the part transfer learning replaces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sequential {
    pub(crate) layers: Vec<LayerConfig>,
}

impl Sequential {
    /// An empty stack.
    pub fn new() -> Self {
        Self::default()
    }

    /// A stack of these layers.
    pub fn from_layers(layers: Vec<LayerConfig>) -> Self {
        Self { layers }
    }

    /// The layers.
    pub fn layers(&self) -> &[LayerConfig] {
        &self.layers
    }

    /// Append any layer (Keras' `model.add`).
    #[must_use]
    #[allow(clippy::should_implement_trait)] // Keras' name; a stack is not a sum.
    pub fn add(mut self, layer: LayerConfig) -> Self {
        self.layers.push(layer);
        self
    }

    /// A dense layer of `units` outputs.
    #[must_use]
    pub fn dense(self, units: usize) -> Self {
        self.add(LayerConfig::Dense { units })
    }

    /// A square `kernel × kernel` convolution, stride 1, no padding.
    #[must_use]
    pub fn conv2d(self, filters: usize, kernel: usize) -> Self {
        self.add(LayerConfig::Conv2d {
            filters,
            kernel: [kernel; 2],
            stride: [1; 2],
            padding: [0; 2],
        })
    }

    /// Square max pooling.
    #[must_use]
    pub fn max_pool2d(self, pool: usize) -> Self {
        self.add(LayerConfig::MaxPool2d { pool: [pool; 2] })
    }

    /// Square average pooling.
    #[must_use]
    pub fn avg_pool2d(self, pool: usize) -> Self {
        self.add(LayerConfig::AvgPool2d { pool: [pool; 2] })
    }

    /// Read rows as `channels × height × width` images.
    #[must_use]
    pub fn reshape(self, channels: usize, height: usize, width: usize) -> Self {
        self.add(LayerConfig::Reshape {
            channels,
            height,
            width,
        })
    }

    /// Read rows as sequences of `length` steps with `channels` values each,
    /// channels first (PyTorch's `N × C × L`; a Keras `(steps, channels)`
    /// input is transposed). A sequence is an image of height 1, so the 1-D
    /// layers below are 2-D layers with a window of height 1, as TensorFlow
    /// computes its `Conv1D`; they export to ONNX as such.
    #[must_use]
    pub fn sequence(self, channels: usize, length: usize) -> Self {
        self.reshape(channels, 1, length)
    }

    /// A 1-D convolution of `kernel` steps over a [`Sequential::sequence`],
    /// stride 1, no padding.
    #[must_use]
    pub fn conv1d(self, filters: usize, kernel: usize) -> Self {
        self.conv1d_with(filters, kernel, 1, 0)
    }

    /// A 1-D convolution with a stride and zero padding of `padding` steps
    /// on each end.
    #[must_use]
    pub fn conv1d_with(self, filters: usize, kernel: usize, stride: usize, padding: usize) -> Self {
        self.add(LayerConfig::Conv2d {
            filters,
            kernel: [1, kernel],
            stride: [1, stride],
            padding: [0, padding],
        })
    }

    /// 1-D max pooling over windows of `pool` steps.
    #[must_use]
    pub fn max_pool1d(self, pool: usize) -> Self {
        self.add(LayerConfig::MaxPool2d { pool: [1, pool] })
    }

    /// 1-D average pooling over windows of `pool` steps.
    #[must_use]
    pub fn avg_pool1d(self, pool: usize) -> Self {
        self.add(LayerConfig::AvgPool2d { pool: [1, pool] })
    }

    /// Embed every categorical column of the data in `dim` learned values
    /// (Keras' `Embedding(categories, dim)` per column) instead of feeding
    /// its one-hot columns on; numeric columns pass through. Put it first.
    /// Computed as the product of each one-hot block with its table, which
    /// equals a lookup and costs nothing for the tens of categories of
    /// tabular data.
    #[must_use]
    pub fn embedding(self, dim: usize) -> Self {
        self.add(LayerConfig::Embedding {
            dim,
            blocks: Vec::new(),
        })
    }

    /// Images back to flat rows.
    #[must_use]
    pub fn flatten(self) -> Self {
        self.add(LayerConfig::Flatten)
    }

    /// Dropout with this rate.
    #[must_use]
    pub fn dropout(self, rate: f64) -> Self {
        self.add(LayerConfig::Dropout { rate })
    }

    /// Batch normalization with Keras' defaults (momentum 0.99, epsilon 1e-3).
    #[must_use]
    pub fn batch_norm(self) -> Self {
        self.add(LayerConfig::BatchNorm {
            momentum: 0.99,
            epsilon: 1e-3,
        })
    }

    /// Layer normalization (epsilon 1e-5).
    #[must_use]
    pub fn layer_norm(self) -> Self {
        self.add(LayerConfig::LayerNorm { epsilon: 1e-5 })
    }

    /// An activation function.
    #[must_use]
    pub fn activation(self, function: Activation) -> Self {
        self.add(LayerConfig::Activation { function })
    }

    /// ReLU.
    #[must_use]
    pub fn relu(self) -> Self {
        self.activation(Activation::Relu)
    }

    /// GELU (exact).
    #[must_use]
    pub fn gelu(self) -> Self {
        self.activation(Activation::Gelu)
    }

    /// tanh.
    #[must_use]
    pub fn tanh(self) -> Self {
        self.activation(Activation::Tanh)
    }

    /// The logistic sigmoid.
    #[must_use]
    pub fn sigmoid(self) -> Self {
        self.activation(Activation::Sigmoid)
    }

    /// Softmax over features.
    #[must_use]
    pub fn softmax(self) -> Self {
        self.activation(Activation::Softmax)
    }
}

/// What a weight vector holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// Dense `outputs × inputs` or convolution `out × in × kh × kw` weights.
    Weight,
    /// One bias per output or channel.
    Bias,
    /// Normalization multipliers.
    Gamma,
    /// Normalization offsets.
    Beta,
    /// Batch normalization's running mean (not trained by gradients).
    RunningMean,
    /// Batch normalization's running variance (not trained by gradients).
    RunningVar,
    /// An embedding table, `categories × dim`.
    Table,
}

/// One weight tensor of a network, row-major `f32`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Index of its layer.
    pub layer: usize,
    /// What it holds.
    pub kind: ParamKind,
    /// Its shape.
    pub shape: Vec<usize>,
    /// The values.
    #[serde(skip)]
    pub value: Vec<f32>,
    /// Whether gradients update it (frozen layers and running statistics:
    /// false).
    pub trainable: bool,
}

impl Param {
    /// Whether gradients can ever update it (running statistics never).
    pub fn is_statistic(&self) -> bool {
        matches!(self.kind, ParamKind::RunningMean | ParamKind::RunningVar)
    }
}

/// An architecture with its weights: the layers (the last dense layer is
/// the head) and every weight tensor, for a given input width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Width of the (preprocessed) input rows.
    pub input_width: usize,
    /// The layers, head included.
    pub layers: Vec<LayerConfig>,
    /// Every weight tensor, in layer order.
    pub params: Vec<Param>,
}

impl Network {
    /// A network of `body` followed by a dense head of `outputs` units, with
    /// weights drawn from `rng`: Glorot-uniform weights (Keras' default),
    /// zero biases, unit gammas, zero betas.
    ///
    /// # Errors
    /// A layer that does not fit its input shape, or a zero size.
    pub fn new(body: &Sequential, input_width: usize, outputs: usize, rng: &mut impl rand::Rng) -> Result<Self> {
        let mut layers = body.layers.clone();
        layers.push(LayerConfig::Dense { units: outputs });
        let mut net = Self {
            input_width,
            layers,
            params: Vec::new(),
        };
        let shapes = net.shapes()?;
        net.params = net
            .layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| init_params(l, i, shapes[i], rng))
            .collect();
        Ok(net)
    }

    /// The row shape entering each layer, and finally the output's.
    ///
    /// # Errors
    /// A layer that does not fit, or a network that does not end in flat rows.
    pub fn shapes(&self) -> Result<Vec<RowShape>> {
        if self.input_width == 0 {
            return Err(Error::invalid("input", "no input features"));
        }
        let mut shapes = vec![RowShape::Flat(self.input_width)];
        for (i, l) in self.layers.iter().enumerate() {
            shapes.push(l.output_shape(shapes[i], i)?);
        }
        match shapes.last() {
            Some(RowShape::Flat(_)) => Ok(shapes),
            _ => Err(Error::invalid("layers", "the network must end in flat rows")),
        }
    }

    /// Width of the output rows.
    pub fn output_width(&self) -> usize {
        self.shapes().ok().and_then(|s| s.last().map(|s| s.size())).unwrap_or(0)
    }

    /// The index of the head (the last dense layer).
    pub fn head(&self) -> Option<usize> {
        self.layers.iter().rposition(|l| matches!(l, LayerConfig::Dense { .. }))
    }

    /// Indices into [`Network::params`] of the parameters of `layer`.
    pub fn params_of(&self, layer: usize) -> impl Iterator<Item = usize> + '_ {
        self.params
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.layer == layer)
            .map(|(i, _)| i)
    }

    /// Freeze (or unfreeze) the trainable parameters of the layers before
    /// `layer` (exclusive): transfer learning's "train only the top".
    pub fn freeze_below(&mut self, layer: usize, frozen: bool) {
        for p in &mut self.params {
            if p.layer < layer && !p.is_statistic() {
                p.trainable = !frozen;
            }
        }
    }

    /// Freeze everything but the head.
    pub fn freeze_all_but_head(&mut self) {
        if let Some(h) = self.head() {
            self.freeze_below(h, true);
        }
    }

    /// Replace the head by a freshly initialized dense layer of `outputs`
    /// units (trainable): the start of fine-tuning on a new task.
    ///
    /// # Errors
    /// A network without a dense layer.
    pub fn replace_head(&mut self, outputs: usize, rng: &mut impl rand::Rng) -> Result<()> {
        let head = self
            .head()
            .ok_or_else(|| Error::invalid("network", "no dense head to replace"))?;
        if outputs == 0 {
            return Err(Error::invalid("outputs", "a head needs at least one output"));
        }
        self.layers[head] = LayerConfig::Dense { units: outputs };
        let shapes = self.shapes()?;
        self.params.retain(|p| p.layer != head);
        let fresh = init_params(&self.layers[head], head, shapes[head], rng);
        let at = self
            .params
            .iter()
            .position(|p| p.layer > head)
            .unwrap_or(self.params.len());
        self.params.splice(at..at, fresh);
        Ok(())
    }

    /// Number of trainable values.
    pub fn n_trainable(&self) -> usize {
        self.params.iter().filter(|p| p.trainable).map(|p| p.value.len()).sum()
    }

    /// Whether the network has layers whose output for one row depends on
    /// other rows while training (batch normalization): DP-SGD refuses them.
    pub fn mixes_rows(&self) -> bool {
        self.layers.iter().any(|l| matches!(l, LayerConfig::BatchNorm { .. }))
    }

    /// Whether every weighted layer is dense (then DP-SGD computes
    /// per-example gradient norms from one backward pass).
    pub fn dense_only(&self) -> bool {
        !self.layers.iter().any(|l| {
            matches!(
                l,
                LayerConfig::Conv2d { .. } | LayerConfig::LayerNorm { .. } | LayerConfig::Embedding { .. }
            )
        })
    }

    /// The inference layers of [`ml_core::Estimator::NeuralNet`]: dropout
    /// removed, batch normalization folded into an affine step, weights in
    /// `f64`.
    ///
    /// # Errors
    /// Parameters that do not match their shapes (a corrupt network).
    pub fn inference_layers(&self) -> Result<Vec<Layer>> {
        let shapes = self.shapes()?;
        let mut out = Vec::new();
        let get = |layer: usize, kind: ParamKind| -> Result<&Param> {
            self.params
                .iter()
                .find(|p| p.layer == layer && p.kind == kind)
                .ok_or_else(|| Error::Corrupt {
                    what: "network",
                    reason: format!("layer {layer} has no {kind:?} parameter"),
                })
        };
        let f64s = |p: &Param| p.value.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        for (i, l) in self.layers.iter().enumerate() {
            match l {
                LayerConfig::Dense { units } => {
                    let w = get(i, ParamKind::Weight)?;
                    let weights = Array2::from_shape_vec((*units, shapes[i].size()), f64s(w)).map_err(corrupt)?;
                    out.push(Layer::Dense {
                        weights,
                        bias: Array1::from(f64s(get(i, ParamKind::Bias)?)),
                    });
                }
                LayerConfig::Conv2d {
                    filters,
                    kernel,
                    stride,
                    padding,
                } => {
                    let RowShape::Image([c, _, _]) = shapes[i] else {
                        return Err(corrupt("convolution on flat rows"));
                    };
                    let w = get(i, ParamKind::Weight)?;
                    let weights =
                        Array4::from_shape_vec((*filters, c, kernel[0], kernel[1]), f64s(w)).map_err(corrupt)?;
                    out.push(Layer::Conv2d {
                        weights,
                        bias: Array1::from(f64s(get(i, ParamKind::Bias)?)),
                        stride: *stride,
                        padding: *padding,
                    });
                }
                LayerConfig::MaxPool2d { pool } => out.push(Layer::MaxPool2d {
                    kernel: *pool,
                    stride: *pool,
                }),
                LayerConfig::AvgPool2d { pool } => out.push(Layer::AvgPool2d {
                    kernel: *pool,
                    stride: *pool,
                }),
                LayerConfig::Reshape {
                    channels,
                    height,
                    width,
                } => out.push(Layer::Reshape {
                    channels: *channels,
                    height: *height,
                    width: *width,
                }),
                LayerConfig::Flatten => out.push(Layer::Flatten),
                LayerConfig::Dropout { .. } => {}
                LayerConfig::BatchNorm { epsilon, .. } => {
                    let (g, b) = (f64s(get(i, ParamKind::Gamma)?), f64s(get(i, ParamKind::Beta)?));
                    let (m, v) = (
                        f64s(get(i, ParamKind::RunningMean)?),
                        f64s(get(i, ParamKind::RunningVar)?),
                    );
                    let scale: Vec<f64> = g.iter().zip(&v).map(|(g, v)| g / (v + epsilon).sqrt()).collect();
                    let shift = b.iter().zip(&m).zip(&scale).map(|((b, m), s)| b - m * s).collect();
                    out.push(Layer::Affine { scale, shift });
                }
                LayerConfig::LayerNorm { epsilon } => out.push(Layer::LayerNorm {
                    gamma: f64s(get(i, ParamKind::Gamma)?),
                    beta: f64s(get(i, ParamKind::Beta)?),
                    epsilon: *epsilon,
                }),
                LayerConfig::Activation { function } => out.push(Layer::Activation { function: *function }),
                LayerConfig::Embedding { dim, blocks } => {
                    let tables = blocks
                        .iter()
                        .zip(self.params_of(i))
                        .map(|(&[start, cats], p)| {
                            Ok(ml_core::EmbeddingTable {
                                start,
                                table: Array2::from_shape_vec((cats, *dim), f64s(&self.params[p])).map_err(corrupt)?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    out.push(Layer::Embedding { tables });
                }
            }
        }
        Ok(out)
    }

    /// A trainable network from inference layers (an imported ONNX network's
    /// spec, or one of ours): dense and convolutional weights, affine steps
    /// as batch normalization with unit running variance, layer norms and
    /// activations. Every parameter starts trainable.
    ///
    /// # Errors
    /// Layers without a training counterpart (pooling whose stride is not
    /// its window), or that do not fit `input_width`.
    pub fn from_inference_layers(layers: &[Layer], input_width: usize) -> Result<Self> {
        let mut configs = Vec::new();
        let mut params = Vec::new();
        let f32s = |v: &mut dyn Iterator<Item = &f64>| v.map(|&x| x as f32).collect::<Vec<f32>>();
        let mut param = |layer: usize, kind: ParamKind, shape: Vec<usize>, value: Vec<f32>| {
            params.push(Param {
                layer,
                kind,
                trainable: !matches!(kind, ParamKind::RunningMean | ParamKind::RunningVar),
                shape,
                value,
            });
        };
        for l in layers {
            let i = configs.len();
            configs.push(match l {
                Layer::Dense { weights, bias } => {
                    let (o, n) = weights.dim();
                    param(i, ParamKind::Weight, vec![o, n], f32s(&mut weights.iter()));
                    param(i, ParamKind::Bias, vec![o], f32s(&mut bias.iter()));
                    LayerConfig::Dense { units: o }
                }
                Layer::Conv2d {
                    weights,
                    bias,
                    stride,
                    padding,
                } => {
                    let (o, c, kh, kw) = weights.dim();
                    param(i, ParamKind::Weight, vec![o, c, kh, kw], f32s(&mut weights.iter()));
                    param(i, ParamKind::Bias, vec![o], f32s(&mut bias.iter()));
                    LayerConfig::Conv2d {
                        filters: o,
                        kernel: [kh, kw],
                        stride: *stride,
                        padding: *padding,
                    }
                }
                Layer::MaxPool2d { kernel, stride } | Layer::AvgPool2d { kernel, stride } => {
                    if kernel != stride {
                        return Err(Error::Unsupported(format!(
                            "training a {} whose stride differs from its window",
                            l.name()
                        )));
                    }
                    if matches!(l, Layer::MaxPool2d { .. }) {
                        LayerConfig::MaxPool2d { pool: *kernel }
                    } else {
                        LayerConfig::AvgPool2d { pool: *kernel }
                    }
                }
                Layer::Reshape {
                    channels,
                    height,
                    width,
                } => LayerConfig::Reshape {
                    channels: *channels,
                    height: *height,
                    width: *width,
                },
                Layer::Flatten => LayerConfig::Flatten,
                Layer::Affine { scale, shift } => {
                    // (x - 0) / sqrt((1 - ε) + ε) · scale + shift = x · scale + shift.
                    let epsilon = 1e-3;
                    let n = scale.len();
                    param(i, ParamKind::Gamma, vec![n], f32s(&mut scale.iter()));
                    param(i, ParamKind::Beta, vec![n], f32s(&mut shift.iter()));
                    param(i, ParamKind::RunningMean, vec![n], vec![0.0; n]);
                    param(i, ParamKind::RunningVar, vec![n], vec![(1.0 - epsilon) as f32; n]);
                    LayerConfig::BatchNorm {
                        momentum: 0.99,
                        epsilon,
                    }
                }
                Layer::LayerNorm { gamma, beta, epsilon } => {
                    param(i, ParamKind::Gamma, vec![gamma.len()], f32s(&mut gamma.iter()));
                    param(i, ParamKind::Beta, vec![beta.len()], f32s(&mut beta.iter()));
                    LayerConfig::LayerNorm { epsilon: *epsilon }
                }
                Layer::Activation { function } => LayerConfig::Activation { function: *function },
                Layer::Embedding { tables } => {
                    let dim = tables.first().map_or(0, |t| t.table.ncols());
                    if tables.iter().any(|t| t.table.ncols() != dim) {
                        return Err(Error::Unsupported(
                            "training embeddings of different widths in one layer".into(),
                        ));
                    }
                    for t in tables {
                        param(i, ParamKind::Table, t.table.shape().to_vec(), f32s(&mut t.table.iter()));
                    }
                    LayerConfig::Embedding {
                        dim,
                        blocks: tables.iter().map(|t| [t.start, t.table.nrows()]).collect(),
                    }
                }
                other => return Err(Error::Unsupported(format!("training a {} layer", other.name()))),
            });
        }
        let net = Self {
            input_width,
            layers: configs,
            params,
        };
        net.validate()?;
        Ok(net)
    }

    /// Check that every parameter has its shape's number of finite values.
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn validate(&self) -> Result<()> {
        let shapes = self.shapes().map_err(|e| corrupt(e.to_string()))?;
        for (i, l) in self.layers.iter().enumerate() {
            let expected: Vec<(ParamKind, Vec<usize>)> = param_shapes(l, shapes[i]);
            let have: Vec<&Param> = self.params.iter().filter(|p| p.layer == i).collect();
            if have.len() != expected.len()
                || have
                    .iter()
                    .zip(&expected)
                    .any(|(p, (k, s))| p.kind != *k || &p.shape != s)
            {
                return Err(corrupt(format!("layer {i} ({}) has the wrong parameters", l.name())));
            }
        }
        if self.params.len()
            != self
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| param_shapes(l, shapes[i]).len())
                .sum::<usize>()
        {
            return Err(corrupt("parameters of unknown layers"));
        }
        for p in &self.params {
            if Some(p.value.len()) != element_count(&p.shape) || p.value.iter().any(|v| !v.is_finite()) {
                return Err(corrupt(format!("a parameter of layer {} has bad values", p.layer)));
            }
        }
        Ok(())
    }
}

/// The number of values of a tensor of `shape`, unless it overflows.
pub(crate) fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

fn corrupt(reason: impl ToString) -> Error {
    Error::Corrupt {
        what: "network",
        reason: reason.to_string(),
    }
}

fn param_shapes(layer: &LayerConfig, input: RowShape) -> Vec<(ParamKind, Vec<usize>)> {
    let channels = match input {
        RowShape::Flat(d) => d,
        RowShape::Image([c, _, _]) => c,
    };
    match layer {
        LayerConfig::Dense { units } => vec![
            (ParamKind::Weight, vec![*units, input.size()]),
            (ParamKind::Bias, vec![*units]),
        ],
        LayerConfig::Conv2d { filters, kernel, .. } => vec![
            (ParamKind::Weight, vec![*filters, channels, kernel[0], kernel[1]]),
            (ParamKind::Bias, vec![*filters]),
        ],
        LayerConfig::BatchNorm { .. } => vec![
            (ParamKind::Gamma, vec![channels]),
            (ParamKind::Beta, vec![channels]),
            (ParamKind::RunningMean, vec![channels]),
            (ParamKind::RunningVar, vec![channels]),
        ],
        LayerConfig::LayerNorm { .. } => vec![(ParamKind::Gamma, vec![channels]), (ParamKind::Beta, vec![channels])],
        LayerConfig::Embedding { dim, blocks } => blocks
            .iter()
            .map(|&[_, cats]| (ParamKind::Table, vec![cats, *dim]))
            .collect(),
        _ => Vec::new(),
    }
}

fn init_params(layer: &LayerConfig, index: usize, input: RowShape, rng: &mut impl rand::Rng) -> Vec<Param> {
    param_shapes(layer, input)
        .into_iter()
        .map(|(kind, shape)| {
            let n: usize = shape.iter().product();
            let value = match kind {
                ParamKind::Weight => {
                    // Glorot uniform: fan_in and fan_out include the kernel area.
                    let receptive: usize = shape[2..].iter().product();
                    let (fan_out, fan_in) = (shape[0] * receptive, shape[1] * receptive);
                    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
                    (0..n).map(|_| rng.random_range(-limit..limit) as f32).collect()
                }
                // Keras' Embedding initializer: uniform in ±0.05.
                ParamKind::Table => (0..n).map(|_| rng.random_range(-0.05..0.05) as f32).collect(),
                ParamKind::Gamma | ParamKind::RunningVar => vec![1.0; n],
                ParamKind::Bias | ParamKind::Beta | ParamKind::RunningMean => vec![0.0; n],
            };
            Param {
                layer: index,
                trainable: !matches!(kind, ParamKind::RunningMean | ParamKind::RunningVar),
                kind,
                shape,
                value,
            }
        })
        .collect()
}
