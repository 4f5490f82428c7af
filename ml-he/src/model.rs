//! Linear models compiled for encrypted scoring: preprocessing folded into
//! the weights, features and weights quantized to integers, and the plaintext
//! space and noise budget checked once, when the model is compiled.

use ml_core::ndarray::{Array1, Array2, ArrayView2, Axis};
use ml_core::{Estimator, Link, ModelSpec, Predictions, Preprocess, Signature, Task};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::params::{PARAMS_2048_TUNIFORM17, Parameters, SIGMA_FACTOR};
use crate::{Error, Result};

/// How features and weights are quantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantConfig {
    /// Bits of each quantized feature (signed, centred on its range).
    pub feature_bits: u32,
    /// Bits of each quantized weight (signed).
    pub weight_bits: u32,
}

impl Default for QuantConfig {
    /// 8-bit features and weights: on breast_cancer they keep the float
    /// model's accuracy with an 18-bit accumulator.
    fn default() -> Self {
        Self {
            feature_bits: 8,
            weight_bits: 8,
        }
    }
}

/// Where feature ranges come from.
#[derive(Debug, Clone, Copy)]
pub enum Calibration<'a> {
    /// The per-column minimum and maximum of these rows (training data or a
    /// sample of it), in the model's input columns.
    Data(ArrayView2<'a, f64>),
    /// From the model alone: one-hot indicators are 0/1, min-max scaled
    /// columns land in [0, 1], standardized columns are taken to lie within
    /// `±sigmas` standard deviations. Columns without a scaling step cannot be
    /// calibrated this way.
    Spec {
        /// Range of standardized columns, in standard deviations.
        sigmas: f64,
    },
}

impl Default for Calibration<'_> {
    fn default() -> Self {
        Calibration::Spec { sigmas: 8.0 }
    }
}

/// The quantizer of one (one-hot expanded) feature:
/// `q = clamp(round((u - center) / step), min, max)`, `u ≈ center + step·q`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureQuant {
    /// The value quantized to 0.
    pub center: f64,
    /// The value of one quantization step.
    pub step: f64,
    /// Smallest quantized value.
    pub min: i64,
    /// Largest quantized value.
    pub max: i64,
}

impl FeatureQuant {
    /// The quantized value of `u`, clamped to the range.
    pub fn quantize(&self, u: f64) -> i64 {
        let q = ((u - self.center) / self.step).round();
        // Saturating float-to-int conversion, then the range.
        (q as i64).clamp(self.min, self.max)
    }
}

/// Why the plaintext space and budget are what they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Bits of the signed plaintext space `p = 2^plaintext_bits`.
    pub plaintext_bits: u32,
    /// Largest |accumulator| any input in range can produce, over outputs.
    pub max_accumulator: i64,
    /// Largest ‖w‖₂ over outputs (quantized weights).
    pub max_weight_norm: f64,
    /// Standard deviation of the output noise, `‖w‖₂ · σ_fresh`.
    pub output_noise_std: f64,
    /// Half a plaintext step, `Δ / 2`.
    pub half_step: f64,
    /// `Δ / 2` over the output noise's standard deviation; decoding is
    /// correct with probability at least `1 - 2^-128` while this is at least
    /// [`SIGMA_FACTOR`].
    pub margin_sigmas: f64,
    /// The hard bound: TUniform noise is bounded, so `Σ|w|·2^b` is the
    /// largest output noise possible; decoding can never fail while it is
    /// under `Δ / 2`.
    pub worst_case_noise: f64,
}

/// A linear model ready for encrypted scoring. Both sides derive it from the
/// same model, and its [`fingerprint`](HeModel::fingerprint) travels in every
/// request and response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeModel {
    /// Format version of the compiled model.
    pub version: u16,
    /// Parameter-set id.
    pub params_id: u16,
    /// The input columns and task of the original model.
    pub signature: Signature,
    /// One-hot steps the client applies in clear before quantizing.
    pub client_steps: Vec<Preprocess>,
    /// Names of the (one-hot expanded) encrypted features.
    pub feature_names: Vec<String>,
    /// Quantizer of each encrypted feature.
    pub features: Vec<FeatureQuant>,
    /// Quantization settings.
    pub config: QuantConfig,
    /// Quantized weights, `outputs × features`.
    pub weights: Array2<i64>,
    /// Quantized intercepts (the folded preprocessing and feature centres
    /// included), one per output.
    pub bias: Array1<i64>,
    /// Margin of each output per accumulator unit.
    pub output_scale: Array1<f64>,
    /// Link from margins to predictions.
    pub link: Link,
    /// Plaintext space and noise figures.
    pub budget: Budget,
}

/// The file kind of a compiled model (`MLSDK he-model …`).
const MODEL_KIND: &str = "he-model";

/// The current compiled-model version.
pub const HE_MODEL_VERSION: u16 = 1;

/// Largest plaintext space: one bit of the 64 is kept for the noise margin's
/// own rounding, and more than 48 bits leave no room for noise anyway.
const MAX_PLAINTEXT_BITS: u32 = 48;

impl HeModel {
    /// Compile a linear model (`ModelSpec` with a linear estimator: linear
    /// regression, binary logistic, softmax) for encrypted scoring.
    ///
    /// One-hot steps stay on the client (it encrypts indicators); standard
    /// and min-max scaling after them are folded into the weights and bias.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for other estimators or step orders;
    /// [`Error::Invalid`] for bad calibration data or bit widths;
    /// [`Error::Budget`] when the quantized model does not fit the plaintext
    /// space or the noise budget.
    pub fn compile(spec: &ModelSpec, calibration: Calibration<'_>, config: QuantConfig) -> Result<Self> {
        spec.validate()?;
        if !(2..=16).contains(&config.feature_bits) || !(2..=16).contains(&config.weight_bits) {
            return Err(Error::invalid(
                "bits",
                format!(
                    "feature and weight bits must be 2 to 16, got {} and {}",
                    config.feature_bits, config.weight_bits
                ),
            ));
        }
        let Estimator::Linear {
            coefficients,
            intercepts,
            link,
        } = &spec.estimator
        else {
            return Err(Error::Unsupported(format!(
                "encrypted scoring needs a linear model, this one is a {}",
                match &spec.estimator {
                    Estimator::TreeEnsemble { .. } => "tree ensemble",
                    Estimator::Centroids { .. } => "k-means model",
                    _ => "model of another kind",
                }
            )));
        };
        if matches!(spec.signature.task, Task::Clustering { .. }) {
            return Err(Error::Unsupported("clustering models".into()));
        }

        // Client-side steps (one-hot) first, then affine steps folded as
        // z = a ⊙ u + c.
        let mut client_steps = Vec::new();
        let mut width = spec.signature.n_inputs();
        let mut names = spec.signature.input_names();
        let mut indicator = vec![false; width];
        let mut a: Vec<f64> = Vec::new();
        let mut c: Vec<f64> = Vec::new();
        let mut standardized = Vec::new();
        let mut minmax = Vec::new();
        for step in &spec.preprocessing {
            match step {
                Preprocess::OneHot { columns, n_categories } => {
                    if !a.is_empty() {
                        return Err(Error::Unsupported(
                            "a one-hot step after a scaling step cannot be folded".into(),
                        ));
                    }
                    let (mut n2, mut ind2) = (Vec::new(), Vec::new());
                    for (j, name) in names.iter().enumerate() {
                        if let Some(k) = columns.iter().position(|&col| col == j) {
                            for cat in 0..n_categories[k] {
                                n2.push(format!("{name}={cat}"));
                                ind2.push(true);
                            }
                        } else {
                            n2.push(name.clone());
                            ind2.push(indicator[j]);
                        }
                    }
                    names = n2;
                    indicator = ind2;
                    width = step.output_width(width);
                    client_steps.push(step.clone());
                }
                Preprocess::StandardScale { mean, scale } => {
                    init_affine(&mut a, &mut c, &mut standardized, &mut minmax, width);
                    for j in 0..width {
                        // z' = (a u + c - m) / s
                        a[j] /= scale[j];
                        c[j] = (c[j] - mean[j]) / scale[j];
                        if mean[j] != 0.0 || scale[j] != 1.0 {
                            standardized[j] = true;
                        }
                    }
                }
                Preprocess::MinMaxScale { scale, offset } => {
                    init_affine(&mut a, &mut c, &mut standardized, &mut minmax, width);
                    for j in 0..width {
                        a[j] *= scale[j];
                        c[j] = c[j] * scale[j] + offset[j];
                        minmax[j] = true;
                    }
                }
                _ => return Err(Error::Unsupported("a preprocessing step this crate cannot fold".into())),
            }
        }
        init_affine(&mut a, &mut c, &mut standardized, &mut minmax, width);
        if coefficients.ncols() != width {
            return Err(Error::Unsupported(format!(
                "the estimator takes {} features, the preprocessing gives {width}",
                coefficients.ncols()
            )));
        }

        // Ranges of the encrypted features u.
        let ranges: Vec<(f64, f64)> = match calibration {
            Calibration::Data(x) => {
                spec.signature.validate_input(x)?;
                if x.nrows() == 0 {
                    return Err(Error::invalid("calibration", "no rows"));
                }
                let mut u = x.to_owned();
                for step in &client_steps {
                    u = step.apply(u.view())?;
                }
                u.axis_iter(Axis(1))
                    .map(|col| {
                        col.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                            (lo.min(v), hi.max(v))
                        })
                    })
                    .collect()
            }
            Calibration::Spec { sigmas } => {
                if !(sigmas.is_finite() && sigmas > 0.0) {
                    return Err(Error::invalid(
                        "calibration",
                        format!("sigmas must be positive, got {sigmas}"),
                    ));
                }
                (0..width)
                    .map(|j| {
                        // Back from the scaled range to u: u = (z - c) / a.
                        let z = if indicator[j] {
                            return Ok((0.0, 1.0));
                        } else if minmax[j] {
                            (0.0, 1.0)
                        } else if standardized[j] {
                            (-sigmas, sigmas)
                        } else {
                            return Err(Error::Unsupported(format!(
                                "column '{}' has no scaling step, so its range must be calibrated from data",
                                names[j]
                            )));
                        };
                        let (u0, u1) = ((z.0 - c[j]) / a[j], (z.1 - c[j]) / a[j]);
                        Ok((u0.min(u1), u0.max(u1)))
                    })
                    .collect::<Result<_>>()?
            }
        };
        let half = 1i64 << (config.feature_bits - 1);
        let features: Vec<FeatureQuant> = ranges
            .iter()
            .zip(&indicator)
            .map(|(&(lo, hi), &ind)| {
                if ind {
                    // 0 or the top of the feature range, not 0 or 1: the
                    // step then matches the other features', and one weight
                    // scale serves them all (with 0/1 the indicators' weights
                    // would dwarf the others' and round them to nothing).
                    let top = (1i64 << config.feature_bits) - 1;
                    FeatureQuant {
                        center: 0.0,
                        step: 1.0 / top as f64,
                        min: 0,
                        max: top,
                    }
                } else if hi > lo {
                    let step = (hi - lo) / ((1u64 << config.feature_bits) - 1) as f64;
                    FeatureQuant {
                        center: lo + step * half as f64,
                        step,
                        min: -half,
                        max: half - 1,
                    }
                } else {
                    FeatureQuant {
                        center: lo,
                        step: 1.0,
                        min: 0,
                        max: 0,
                    }
                }
            })
            .collect();

        // margin_o = Σ_j w_oj (a_j u_j + c_j) + b_o
        //          = Σ_j (w_oj a_j step_j) q_j + Σ_j w_oj (a_j center_j + c_j) + b_o
        let n_out = coefficients.nrows();
        let wmax = ((1i64 << (config.weight_bits - 1)) - 1) as f64;
        let mut weights = Array2::zeros((n_out, width));
        let mut bias = Array1::zeros(n_out);
        let mut output_scale = Array1::zeros(n_out);
        for o in 0..n_out {
            let row = coefficients.row(o);
            let v: Vec<f64> = (0..width)
                .map(|j| {
                    if features[j].max == features[j].min {
                        0.0
                    } else {
                        row[j] * a[j] * features[j].step
                    }
                })
                .collect();
            let constant: f64 = intercepts[o]
                + (0..width)
                    .map(|j| row[j] * (a[j] * features[j].center + c[j]))
                    .sum::<f64>();
            let vmax = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let scale = if vmax > 0.0 { vmax / wmax } else { 1.0 };
            for j in 0..width {
                weights[[o, j]] = (v[j] / scale).round() as i64;
            }
            let b = (constant / scale).round();
            if !b.is_finite() || b.abs() > 2f64.powi(MAX_PLAINTEXT_BITS as i32) {
                return Err(Error::Budget {
                    bound: "plaintext space",
                    detail: format!("output {o}: the quantized intercept {b:e} does not fit {MAX_PLAINTEXT_BITS} bits"),
                });
            }
            bias[o] = b as i64;
            output_scale[o] = scale;
        }
        let budget = budget_of(&PARAMS_2048_TUNIFORM17, &weights, &bias, &features)?;
        Ok(Self {
            version: HE_MODEL_VERSION,
            params_id: PARAMS_2048_TUNIFORM17.id,
            signature: spec.signature.clone(),
            client_steps,
            feature_names: names,
            features,
            config,
            weights,
            bias,
            output_scale,
            link: *link,
            budget,
        })
    }

    /// A model from already quantized parts (for models quantized elsewhere,
    /// and for tests that need exact integer weights). The budget is
    /// computed and the whole checked as [`HeModel::validate`] does.
    ///
    /// # Errors
    /// As [`HeModel::validate`].
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        signature: Signature,
        client_steps: Vec<Preprocess>,
        features: Vec<FeatureQuant>,
        config: QuantConfig,
        weights: Array2<i64>,
        bias: Array1<i64>,
        output_scale: Array1<f64>,
        link: Link,
    ) -> Result<Self> {
        let params = &PARAMS_2048_TUNIFORM17;
        if weights.ncols() != features.len() || bias.len() != weights.nrows() {
            return Err(Error::invalid("model", "weights, bias and features disagree in size"));
        }
        let budget = budget_of(params, &weights, &bias, &features)?;
        let feature_names = (0..features.len()).map(|j| format!("x{j}")).collect();
        let model = Self {
            version: HE_MODEL_VERSION,
            params_id: params.id,
            signature,
            client_steps,
            feature_names,
            features,
            config,
            weights,
            bias,
            output_scale,
            link,
            budget,
        };
        model.validate()?;
        Ok(model)
    }

    /// The compiled model as a versioned, checksummed ml-sdk file.
    ///
    /// # Errors
    /// Serialization failure.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let json = serde_json::to_vec(self).map_err(|e| Error::format("encrypted model", e.to_string()))?;
        Ok(ml_core::io::seal(MODEL_KIND, u32::from(HE_MODEL_VERSION), &json))
    }

    /// Read a compiled model, checking its header, digest, version and
    /// consistency.
    ///
    /// # Errors
    /// [`Error::Core`] for a foreign or corrupt file, [`Error::Format`],
    /// [`Error::Version`], [`Error::Budget`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (_, payload) = ml_core::io::unseal("encrypted model", MODEL_KIND, u32::from(HE_MODEL_VERSION), bytes)?;
        let model: Self =
            serde_json::from_slice(payload).map_err(|e| Error::format("encrypted model", e.to_string()))?;
        model.validate()?;
        Ok(model)
    }

    /// Whether `bytes` start like a compiled model file.
    pub fn sniff(bytes: &[u8]) -> bool {
        bytes.starts_with(format!("MLSDK {MODEL_KIND} ").as_bytes())
    }

    /// Write the compiled model atomically.
    ///
    /// # Errors
    /// [`Error::Core`] for I/O failures.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        Ok(ml_core::io::write_atomic(path, &self.to_bytes()?)?)
    }

    /// Read a compiled model file (at most 256 MiB).
    ///
    /// # Errors
    /// As [`HeModel::from_bytes`], and I/O failures.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        Self::from_bytes(&ml_core::io::read_limited("encrypted model", path, 256 << 20)?)
    }

    /// The parameter set.
    pub fn params(&self) -> &'static Parameters {
        Parameters::by_id(self.params_id).unwrap_or(&PARAMS_2048_TUNIFORM17)
    }

    /// Number of encrypted features per row.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Number of encrypted outputs per row.
    pub fn n_outputs(&self) -> usize {
        self.weights.nrows()
    }

    /// `log2 Δ`: a plaintext integer `m` is encoded as `m · 2^(64 - plaintext_bits)`.
    pub fn delta_log2(&self) -> u32 {
        self.params().modulus_log2 - self.budget.plaintext_bits
    }

    /// Check the model's consistency (a compiled model read from a file) and
    /// recompute its budget.
    ///
    /// # Errors
    /// [`Error::Format`], [`Error::Version`], [`Error::Budget`].
    pub fn validate(&self) -> Result<()> {
        const W: &str = "encrypted model";
        if self.version > HE_MODEL_VERSION {
            return Err(Error::Version {
                what: W,
                found: self.version,
                supported: HE_MODEL_VERSION,
            });
        }
        Parameters::require(W, self.params_id)?;
        let (n_out, n_f) = self.weights.dim();
        if n_f != self.features.len() || n_f != self.feature_names.len() || n_out == 0 {
            return Err(Error::format(W, "weights and features disagree in size"));
        }
        if self.bias.len() != n_out || self.output_scale.len() != n_out {
            return Err(Error::format(W, "bias or output scales disagree with the weights"));
        }
        if self.output_scale.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || self
                .features
                .iter()
                .any(|f| !(f.center.is_finite() && f.step.is_finite() && f.step > 0.0) || f.min > f.max)
        {
            return Err(Error::format(W, "a non-finite or non-positive scale"));
        }
        let mut width = self.signature.n_inputs();
        for s in &self.client_steps {
            let Preprocess::OneHot { columns, n_categories } = s else {
                return Err(Error::format(W, "a client step other than one-hot"));
            };
            let increasing = columns.windows(2).all(|w| w[0] < w[1]);
            if columns.len() != n_categories.len() || !increasing || columns.last().is_some_and(|&c| c >= width) {
                return Err(Error::format(W, "a one-hot step's columns do not fit its input"));
            }
            width = n_categories
                .iter()
                .try_fold(width - columns.len(), |w, &n| w.checked_add(n))
                .filter(|&w| w <= 1 << 20)
                .ok_or_else(|| Error::format(W, "a one-hot step's width overflows"))?;
        }
        let consistent = match (&self.signature.task, self.link) {
            (Task::Regression, Link::Identity) => n_out == 1,
            (Task::Classification { classes }, Link::Logistic) => n_out == 1 && classes.len() == 2,
            (Task::Classification { classes }, Link::Softmax) => n_out == classes.len() && n_out >= 2,
            _ => false,
        };
        if !consistent {
            return Err(Error::format(W, "the task, link and number of outputs disagree"));
        }
        if width != n_f {
            return Err(Error::format(W, "the client steps do not give the encrypted width"));
        }
        let budget = budget_of(self.params(), &self.weights, &self.bias, &self.features)?;
        if budget != self.budget {
            return Err(Error::format(W, "the stored budget does not match the weights"));
        }
        Ok(())
    }

    /// A 16-byte digest of everything that decides the encrypted computation
    /// and its decoding; requests and responses carry it.
    pub fn fingerprint(&self) -> [u8; 16] {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::new()
            .chain_update(b"ml-he model v1\0")
            .chain_update(&json)
            .finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        out
    }

    /// The client's quantized features of rows in the model's input columns.
    ///
    /// # Errors
    /// Input validation errors (width, non-finite values, category codes).
    pub fn quantize(&self, x: ArrayView2<'_, f64>) -> Result<Array2<i64>> {
        self.signature.validate_input(x)?;
        let mut u = x.to_owned();
        for step in &self.client_steps {
            u = step.apply(u.view())?;
        }
        let mut q = Array2::zeros(u.dim());
        for (mut qr, ur) in q.outer_iter_mut().zip(u.outer_iter()) {
            for ((qv, &uv), f) in qr.iter_mut().zip(ur.iter()).zip(&self.features) {
                *qv = f.quantize(uv);
            }
        }
        Ok(q)
    }

    /// The accumulators computed in clear: `q · weightsᵀ + bias`, what the
    /// server computes under encryption (the ground truth of exactness).
    pub fn accumulate_clear(&self, q: ArrayView2<'_, i64>) -> Array2<i64> {
        let mut out = Array2::zeros((q.nrows(), self.n_outputs()));
        for (qr, mut o) in q.outer_iter().zip(out.outer_iter_mut()) {
            for ((ov, w), b) in o.iter_mut().zip(self.weights.outer_iter()).zip(&self.bias) {
                *ov = qr
                    .iter()
                    .zip(w)
                    .fold(*b, |acc, (x, w)| acc.wrapping_add(x.wrapping_mul(*w)));
            }
        }
        out
    }

    /// Predictions from accumulators: de-quantized margins through the link,
    /// as the original model's predictions.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a matrix of the wrong width.
    pub fn predictions(&self, acc: ArrayView2<'_, i64>) -> Result<Predictions> {
        if acc.ncols() != self.n_outputs() {
            return Err(Error::invalid(
                "accumulators",
                format!("{} columns, the model has {} outputs", acc.ncols(), self.n_outputs()),
            ));
        }
        let mut margins = Array2::zeros(acc.dim());
        for (mut m, a) in margins.outer_iter_mut().zip(acc.outer_iter()) {
            for ((mv, &av), s) in m.iter_mut().zip(a.iter()).zip(&self.output_scale) {
                *mv = av as f64 * s;
            }
        }
        Ok(ml_core::linked_predictions(&self.signature.task, self.link, margins)?)
    }

    /// Predictions of the quantized model computed in clear.
    ///
    /// # Errors
    /// As [`HeModel::quantize`].
    pub fn predict_clear(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        let q = self.quantize(x)?;
        self.predictions(self.accumulate_clear(q.view()).view())
    }
}

fn init_affine(a: &mut Vec<f64>, c: &mut Vec<f64>, s: &mut Vec<bool>, m: &mut Vec<bool>, width: usize) {
    if a.is_empty() {
        *a = vec![1.0; width];
        *c = vec![0.0; width];
        *s = vec![false; width];
        *m = vec![false; width];
    }
}

/// The plaintext space a model needs and its noise figures; refuses a model
/// outside them, naming the bound.
fn budget_of(
    params: &Parameters,
    weights: &Array2<i64>,
    bias: &Array1<i64>,
    features: &[FeatureQuant],
) -> Result<Budget> {
    let mut max_acc: i128 = 0;
    let mut max_norm = 0.0f64;
    let mut max_l1: f64 = 0.0;
    for (w, &b) in weights.outer_iter().zip(bias) {
        let (mut lo, mut hi) = (b as i128, b as i128);
        for (&wj, f) in w.iter().zip(features) {
            let (x, y) = (wj as i128 * f.min as i128, wj as i128 * f.max as i128);
            lo += x.min(y);
            hi += x.max(y);
        }
        max_acc = max_acc.max(lo.abs()).max(hi.abs());
        max_norm = max_norm.max(w.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt());
        max_l1 = max_l1.max(w.iter().map(|&v| (v as f64).abs()).sum::<f64>());
    }
    // Signed accumulators in [-2^(P-1), 2^(P-1)); at least 3 bits, since
    // label mode's answers are told from scores by their 2-bit space.
    let mut bits = 3u32;
    while bits <= MAX_PLAINTEXT_BITS && max_acc >= (1i128 << (bits - 1)) {
        bits += 1;
    }
    if bits > MAX_PLAINTEXT_BITS {
        return Err(Error::Budget {
            bound: "plaintext space",
            detail: format!(
                "the worst-case accumulator {max_acc} needs more than {MAX_PLAINTEXT_BITS} bits; use fewer feature or weight bits"
            ),
        });
    }
    let sigma = max_norm * params.fresh_noise_std();
    let half_step = 2f64.powi((params.modulus_log2 - bits) as i32) / 2.0;
    let margin = if sigma > 0.0 { half_step / sigma } else { f64::INFINITY };
    if margin < SIGMA_FACTOR {
        return Err(Error::Budget {
            bound: "noise budget",
            detail: format!(
                "Δ/2 = 2^{:.1} must be at least {SIGMA_FACTOR}·σ_out, but σ_out = ‖w‖₂·σ_fresh = {max_norm:.1}·{:.0} = 2^{:.1} (a {bits}-bit accumulator); use fewer weight bits",
                half_step.log2(),
                params.fresh_noise_std(),
                sigma.log2()
            ),
        });
    }
    Ok(Budget {
        plaintext_bits: bits,
        max_accumulator: max_acc as i64,
        max_weight_norm: max_norm,
        output_noise_std: sigma,
        half_step,
        margin_sigmas: margin,
        worst_case_noise: max_l1 * params.fresh_noise_bound() as f64,
    })
}

/// A compiled model predicts in clear what it predicts under encryption:
/// the quantized model's predictions (so a server can serve one file both
/// ways).
impl ml_core::Model for HeModel {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> ml_core::Result<Predictions> {
        self.predict_clear(x).map_err(|e| match e {
            Error::Core(e) => e,
            e => ml_core::Error::Unsupported(e.to_string()),
        })
    }
}
