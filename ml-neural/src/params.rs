//! [`NetTrainer::from_params`]: networks from `key=value` hyper-parameters,
//! as `mlsdk train --model mlp|cnn --param K=V` takes them.

use ml_core::{Activation, Error, Result};
use ml_learn::Scaling;

use crate::backend::BackendKind;
use crate::dp::{AccountantKind, DpConfig};
use crate::network::Sequential;
use crate::optim::{Optimizer, Schedule};
use crate::train::{ClassWeights, EarlyStopping, NetTrainer};

/// The model names [`NetTrainer::from_params`] knows.
pub const NAMES: [&str; 2] = ["mlp", "cnn"];

fn list(key: &str, v: &str) -> Result<Vec<usize>> {
    if v.trim().is_empty() || v == "none" {
        return Ok(Vec::new());
    }
    v.split(',')
        .map(|s| {
            s.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::invalid(key, format!("{s:?} is not a positive count")))
        })
        .collect()
}

fn dp_cfg(dp: &mut Option<DpConfig>) -> &mut DpConfig {
    dp.get_or_insert(DpConfig {
        epsilon: f64::NAN,
        delta: 1e-5,
        clip: 1.0,
        noise_multiplier: None,
        accountant: AccountantKind::Rdp,
        insecure_seed: None,
    })
}

fn number(key: &str, v: &str) -> Result<f64> {
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| Error::invalid(key, format!("{v:?} is not a number")))
}

fn count(key: &str, v: &str) -> Result<usize> {
    v.parse::<usize>()
        .map_err(|_| Error::invalid(key, format!("{v:?} is not a count")))
}

fn flag(key: &str, v: &str) -> Result<bool> {
    match v {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(Error::invalid(key, format!("{v:?}: expected true or false"))),
    }
}

fn dims(key: &str, v: &str, expected: &str) -> Result<Vec<usize>> {
    v.split(['x', 'X'])
        .map(|s| s.trim().parse::<usize>().ok().filter(|&n| n > 0))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| Error::invalid(key, format!("{v:?}: expected {expected}")))
}

/// `HxW` or `CxHxW`.
fn image(v: &str) -> Result<[usize; 3]> {
    match dims("image", v, "HxW or CxHxW")?.as_slice() {
        [h, w] => Ok([1, *h, *w]),
        [c, h, w] => Ok([*c, *h, *w]),
        _ => Err(Error::invalid("image", format!("{v:?}: expected HxW or CxHxW"))),
    }
}

/// `L` or `CxL`: a sequence is an image of height 1.
fn sequence(v: &str) -> Result<[usize; 3]> {
    match dims("sequence", v, "L or CxL")?.as_slice() {
        [l] => Ok([1, 1, *l]),
        [c, l] => Ok([*c, 1, *l]),
        _ => Err(Error::invalid("sequence", format!("{v:?}: expected L or CxL"))),
    }
}

impl NetTrainer {
    /// A trainer from hyper-parameters under Keras-like names:
    ///
    /// - both: `epochs`, `batch_size`, `lr`, `optimizer` (`adam`, `adamw`,
    ///   `sgd`), `momentum`, `lr_schedule` (`constant`, `step:E:G`,
    ///   `exponential:G`, `cosine[:MIN]`), `weight_decay`, `clip_norm`,
    ///   `dropout`, `activation`, `batch_norm`, `layer_norm`,
    ///   `class_weight` (`balanced`, or weights by label `1,2.5`),
    ///   `validation_split`, `patience`, `min_delta`, `restore_best`,
    ///   `scale` (`standard`, `minmax`, `none`), `backend` (`cpu`, `wgpu`);
    /// - `mlp`: `hidden` (widths, `64,32`), `embedding` (values per
    ///   category: categorical columns embedded instead of one-hot fed);
    /// - `cnn`: `image` (`8x8` or `CxHxW`: 2-D convolutions) or `sequence`
    ///   (`L` or `CxL`, channels first: 1-D convolutions), `filters` (one
    ///   convolution per entry, `16,32`), `kernel`, `pool`, `padding`,
    ///   `hidden` (dense layers after flattening);
    /// - DP-SGD: `dp_epsilon`, `dp_delta`, `clip`, `noise_multiplier`,
    ///   `dp_accountant` (`rdp`, `pld`), `dp_insecure_seed` (tests only).
    ///
    /// `seed` seeds initialization, splitting, shuffling and dropout (never
    /// DP noise).
    ///
    /// # Errors
    /// An unknown model or parameter, a bad value.
    pub fn from_params(name: &str, params: &[(String, String)], seed: Option<u64>) -> Result<Self> {
        let mut t = NetTrainer {
            seed: seed.unwrap_or(0),
            ..NetTrainer::default()
        };
        let cnn = match name {
            "mlp" => false,
            "cnn" => true,
            _ => {
                return Err(Error::invalid(
                    "model",
                    format!("unknown network '{name}' (known: {})", NAMES.join(", ")),
                ));
            }
        };
        let mut hidden = if cnn { vec![64] } else { vec![64, 64] };
        let (mut filters, mut kernel, mut pool, mut padding) = (vec![16], 3, 2, 1);
        let mut img = None;
        let mut one_d = false;
        let mut dropout = 0.0;
        let mut embedding = None;
        let mut activation = Activation::Relu;
        let (mut batch_norm, mut layer_norm) = (false, false);
        let (mut patience, mut min_delta, mut restore_best) = (None, 0.0, true);
        let mut momentum = None;
        let mut dp: Option<DpConfig> = None;
        for (key, value) in params {
            let (k, v) = (key.as_str(), value.as_str());
            match k {
                "hidden" => hidden = list(k, v)?,
                "embedding" if !cnn => embedding = Some(count(k, v)?),
                "epochs" => t.epochs = count(k, v)?,
                "batch_size" => t.batch_size = count(k, v)?,
                "lr" | "learning_rate" => t.learning_rate = number(k, v)?,
                "optimizer" => t.optimizer = Optimizer::parse(v)?,
                "momentum" => momentum = Some(number(k, v)?),
                "lr_schedule" => t.schedule = Schedule::parse(v)?,
                "weight_decay" => t.weight_decay = number(k, v)?,
                "clip_norm" => t.clip_norm = Some(number(k, v)?),
                "dropout" => dropout = number(k, v)?,
                "activation" => activation = Activation::parse(v)?,
                "batch_norm" => batch_norm = flag(k, v)?,
                "layer_norm" => layer_norm = flag(k, v)?,
                "class_weight" => {
                    t.class_weights = match v {
                        "none" => ClassWeights::None,
                        "balanced" => ClassWeights::Balanced,
                        _ => ClassWeights::Given(
                            v.split(',')
                                .map(|s| number(k, s.trim()))
                                .collect::<Result<Vec<f64>>>()?,
                        ),
                    }
                }
                "validation_split" => t.validation_split = number(k, v)?,
                "patience" => patience = Some(count(k, v)?),
                "min_delta" => min_delta = number(k, v)?,
                "restore_best" => restore_best = flag(k, v)?,
                "scale" => t.scaling = Scaling::parse(v).map_err(|e| Error::invalid("scale", e.to_string()))?,
                "backend" => t.backend = BackendKind::parse(v)?,
                "image" | "sequence" if cnn => {
                    if img.is_some() {
                        return Err(Error::invalid(k, "give either image or sequence, once"));
                    }
                    one_d = k == "sequence";
                    img = Some(if one_d { sequence(v)? } else { image(v)? });
                }
                "filters" if cnn => filters = list(k, v)?,
                "kernel" if cnn => kernel = count(k, v)?,
                "pool" if cnn => pool = count(k, v)?,
                "padding" if cnn => padding = count(k, v)?,
                "dp_epsilon" => dp_cfg(&mut dp).epsilon = number(k, v)?,
                "dp_delta" => dp_cfg(&mut dp).delta = number(k, v)?,
                "clip" => dp_cfg(&mut dp).clip = number(k, v)?,
                "noise_multiplier" => dp_cfg(&mut dp).noise_multiplier = Some(number(k, v)?),
                "dp_accountant" => dp_cfg(&mut dp).accountant = AccountantKind::parse(v)?,
                "dp_insecure_seed" => {
                    dp_cfg(&mut dp).insecure_seed = Some(
                        v.parse()
                            .map_err(|_| Error::invalid(k, format!("{v:?} is not a seed")))?,
                    )
                }
                _ => {
                    return Err(Error::invalid(
                        k,
                        format!("not a parameter of '{name}' (see `mlsdk train --help` and ml-neural's docs)"),
                    ));
                }
            }
        }
        if let Some(m) = momentum {
            match &mut t.optimizer {
                Optimizer::Sgd { momentum } => *momentum = m,
                _ => return Err(Error::invalid("momentum", "applies to optimizer=sgd")),
            }
        }
        if let Some(cfg) = &dp
            && cfg.epsilon.is_nan()
        {
            return Err(Error::invalid(
                "dp_epsilon",
                "DP-SGD parameters need a dp_epsilon budget",
            ));
        }
        t.dp = dp;
        if let Some(patience) = patience {
            t.early_stopping = Some(EarlyStopping {
                patience,
                min_delta,
                restore_best,
            });
            if t.validation_split == 0.0 {
                t.validation_split = 0.1;
            }
        }
        let mut arch = Sequential::new();
        if let Some(dim) = embedding {
            arch = arch.embedding(dim);
        }
        let norm = |a: Sequential| {
            if batch_norm {
                a.batch_norm()
            } else if layer_norm {
                a.layer_norm()
            } else {
                a
            }
        };
        if cnn {
            let [c, h, w] = img.ok_or_else(|| {
                Error::invalid(
                    "image",
                    "a cnn needs its input's shape, image=8x8 (2-D) or sequence=64 (1-D)",
                )
            })?;
            arch = arch.reshape(c, h, w);
            // A 1-D layer is a 2-D one whose window has height 1.
            let window = |n: usize| if one_d { [1, n] } else { [n; 2] };
            let edge = if one_d { [0, padding] } else { [padding; 2] };
            for &f in &filters {
                arch = arch.add(crate::network::LayerConfig::Conv2d {
                    filters: f,
                    kernel: window(kernel),
                    stride: [1; 2],
                    padding: edge,
                });
                if batch_norm {
                    arch = arch.batch_norm();
                }
                arch = arch.activation(activation);
                if pool > 1 {
                    arch = arch.add(crate::network::LayerConfig::MaxPool2d { pool: window(pool) });
                }
            }
            arch = arch.flatten();
        }
        for &units in &hidden {
            arch = norm(arch.dense(units)).activation(activation);
            if dropout > 0.0 {
                arch = arch.dropout(dropout);
            }
        }
        t.architecture = arch;
        Ok(t)
    }
}
