//! [`NetTrainer`]: Keras' `fit` for [`Sequential`] networks, with
//! validation split, early stopping, class weights, schedules, gradient
//! clipping and DP-SGD; [`NeuralNetwork`], the fitted [`Model`].

use std::io::IsTerminal;
use std::time::Instant;

use burn::tensor::activation::{log_sigmoid, log_softmax};
use burn::tensor::{Device, Tensor};
use ml_core::ndarray::{Array2, ArrayView2, Axis};
use ml_core::{
    Dataset, Error, Estimator, Link, Model, ModelSpec, Predictions, Preprocess, Result, RowShape, Signature, Target,
    Task, Trainer,
};
use ml_learn::{MinMaxScaler, OneHotEncoder, Scaling, StandardScaler};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::backend::{self, BackendKind, Mode, download, upload};
use crate::dp::{self, DpConfig, PrivacyReport};
use crate::network::{LayerConfig, Network, Sequential};
use crate::optim::{Optimizer, OptimizerState, Schedule, Update, clip_global_norm};

/// Per-class loss weights.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "weights", rename_all = "snake_case")]
pub enum ClassWeights {
    /// Every class alike.
    #[default]
    None,
    /// `n / (classes · n_c)`, scikit-learn's and Keras' "balanced".
    Balanced,
    /// One weight per class, by label.
    Given(Vec<f64>),
}

/// Stop when the validation loss stops improving (Keras' `EarlyStopping`
/// on `val_loss`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// The least decrease that counts as an improvement.
    pub min_delta: f64,
    /// Put back the weights of the best epoch at the end.
    pub restore_best: bool,
}

/// Hyper-parameters of network training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetTrainer {
    /// The layers below the head (the head is added for the task).
    pub architecture: Sequential,
    /// Passes over the training rows.
    pub epochs: usize,
    /// Rows per mini-batch (the expected batch under DP-SGD's Poisson sampling).
    pub batch_size: usize,
    /// The update rule.
    pub optimizer: Optimizer,
    /// The initial learning rate.
    pub learning_rate: f64,
    /// How the learning rate changes by epoch.
    pub schedule: Schedule,
    /// L2 penalty (decoupled for AdamW).
    pub weight_decay: f64,
    /// Clip the gradient's global L2 norm to this (not with DP-SGD, which
    /// clips per example).
    pub clip_norm: Option<f64>,
    /// Per-class loss weights.
    pub class_weights: ClassWeights,
    /// Fraction of the rows held out to validate each epoch (0: none).
    pub validation_split: f64,
    /// Early stopping on the validation loss.
    pub early_stopping: Option<EarlyStopping>,
    /// Input scaling fitted on the training rows (networks need scaled inputs).
    pub scaling: Scaling,
    /// Seed of initialization, splitting, shuffling and dropout.
    pub seed: u64,
    /// Where tensors are computed.
    pub backend: BackendKind,
    /// Differentially private training (DP-SGD).
    pub dp: Option<DpConfig>,
    /// Show a progress bar on a terminal.
    pub progress: bool,
}

impl Default for NetTrainer {
    fn default() -> Self {
        Self {
            architecture: Sequential::new().dense(64).relu().dense(64).relu(),
            epochs: 50,
            batch_size: 32,
            optimizer: Optimizer::adam(),
            learning_rate: 1e-3,
            schedule: Schedule::Constant,
            weight_decay: 0.0,
            clip_norm: None,
            class_weights: ClassWeights::None,
            validation_split: 0.0,
            early_stopping: None,
            scaling: Scaling::Standard,
            seed: 0,
            backend: BackendKind::Cpu,
            dp: None,
            progress: false,
        }
    }
}

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 0-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f64,
    /// Training accuracy (classification).
    pub accuracy: Option<f64>,
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// Validation accuracy (classification).
    pub val_accuracy: Option<f64>,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Wall time of the epoch.
    pub seconds: f64,
    /// ε spent so far (DP-SGD).
    pub epsilon: Option<f64>,
}

impl EpochLog {
    /// The figures as `(name, value)` metric pairs (Keras' names).
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let mut m = vec![("loss", self.loss), ("learning_rate", self.learning_rate)];
        let opt = [
            ("accuracy", self.accuracy),
            ("val_loss", self.val_loss),
            ("val_accuracy", self.val_accuracy),
            ("epsilon", self.epsilon),
        ];
        m.extend(opt.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        m
    }
}

/// The training history, one entry per epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The epochs.
    pub epochs: Vec<EpochLog>,
    /// Why training stopped before its last epoch, if it did.
    pub stopped_early: Option<String>,
}

/// How the network's output becomes a loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Softmax cross-entropy over k ≥ 3 classes (one output per class).
    CrossEntropy,
    /// Binary cross-entropy on one logit.
    BinaryCrossEntropy,
    /// Mean squared error on the standardized target.
    MeanSquaredError,
}

impl LossKind {
    fn for_task(task: &Task) -> Result<(Self, usize)> {
        match task {
            Task::Classification { classes } if classes.len() == 2 => Ok((LossKind::BinaryCrossEntropy, 1)),
            Task::Classification { classes } if classes.len() > 2 => Ok((LossKind::CrossEntropy, classes.len())),
            Task::Classification { .. } => Err(Error::invalid("target", "classification needs at least two classes")),
            Task::Regression => Ok((LossKind::MeanSquaredError, 1)),
            other => Err(Error::Unsupported(format!("{} with a neural network", other.name()))),
        }
    }

    fn link(self) -> Link {
        match self {
            LossKind::CrossEntropy => Link::Softmax,
            LossKind::BinaryCrossEntropy => Link::Logistic,
            LossKind::MeanSquaredError => Link::Identity,
        }
    }
}

/// Everything a run needs to continue: what a checkpoint holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// The hyper-parameters.
    pub trainer: NetTrainer,
    /// The model's input signature and task.
    pub signature: Signature,
    /// Preprocessing fitted on the training rows.
    pub preprocessing: Vec<Preprocess>,
    /// Regression targets are trained standardized: `(mean, scale)`.
    pub target_scale: Option<(f64, f64)>,
    /// The loss.
    pub loss: LossKind,
    /// The network and its weights.
    pub network: Network,
    /// The optimizer's state.
    pub optimizer: OptimizerState,
    /// Epochs completed.
    pub epoch: usize,
    /// Their history.
    pub history: History,
    /// Best validation loss so far and the epoch that reached it.
    pub best: Option<(f64, usize)>,
    /// Weights of the best epoch (with early stopping's `restore_best`).
    #[serde(skip)]
    pub best_weights: Option<Vec<Vec<f32>>>,
    /// DP-SGD steps taken.
    pub dp_steps: u64,
    /// Whether training has finished (all epochs, early stop or budget).
    pub finished: bool,
}

impl TrainState {
    /// A state before the first epoch: a fresh optimizer, no history.
    fn untrained(
        trainer: NetTrainer,
        signature: Signature,
        preprocessing: Vec<Preprocess>,
        target_scale: Option<(f64, f64)>,
        loss: LossKind,
        network: Network,
    ) -> Self {
        Self {
            trainer,
            signature,
            preprocessing,
            target_scale,
            loss,
            network,
            optimizer: OptimizerState::default(),
            epoch: 0,
            history: History::default(),
            best: None,
            best_weights: None,
            dp_steps: 0,
            finished: false,
        }
    }
}

/// A fitted network: predicts through its [`ModelSpec`] (no burn needed),
/// and keeps its weights, history and privacy report.
#[derive(Debug, Clone)]
pub struct NeuralNetwork {
    spec: ModelSpec,
    state: TrainState,
    privacy: Option<PrivacyReport>,
}

impl NeuralNetwork {
    /// Build from a training state.
    ///
    /// # Errors
    /// A corrupt network.
    pub fn from_state(state: TrainState, privacy: Option<PrivacyReport>) -> Result<Self> {
        let mut layers = state.network.inference_layers()?;
        if let Some((mean, scale)) = state.target_scale {
            // Standardized regression targets: fold the scaling into the head.
            if let Some(ml_core::Layer::Dense { weights, bias }) = layers
                .iter_mut()
                .rev()
                .find(|l| matches!(l, ml_core::Layer::Dense { .. }))
            {
                weights.mapv_inplace(|w| w * scale);
                bias.mapv_inplace(|b| b * scale + mean);
            }
        }
        let spec = ModelSpec {
            signature: state.signature.clone(),
            preprocessing: state.preprocessing.clone(),
            estimator: Estimator::NeuralNet {
                layers,
                link: state.loss.link(),
            },
        };
        spec.validate()?;
        Ok(Self { spec, state, privacy })
    }

    /// A network from a spec with a `NeuralNet` estimator (an imported ONNX
    /// network, or a saved model of ours), ready to fine-tune: weights as in
    /// the spec, `trainer`'s hyper-parameters, no history.
    ///
    /// # Errors
    /// Another estimator, layers without a training counterpart.
    pub fn from_spec(spec: &ModelSpec, trainer: NetTrainer) -> Result<Self> {
        let Estimator::NeuralNet { layers, link } = &spec.estimator else {
            return Err(Error::Unsupported(
                "a network from a spec that is not a neural network".into(),
            ));
        };
        let loss = match (link, &spec.signature.task) {
            (Link::Softmax, Task::Classification { .. }) => LossKind::CrossEntropy,
            (Link::Logistic, Task::Classification { .. }) => LossKind::BinaryCrossEntropy,
            (Link::Identity, Task::Regression) => LossKind::MeanSquaredError,
            (link, task) => {
                return Err(Error::Unsupported(format!(
                    "training a network with a {link:?} link for {}",
                    task.name()
                )));
            }
        };
        let mut width = spec.signature.n_inputs();
        for step in &spec.preprocessing {
            width = step.output_width(width);
        }
        let network = Network::from_inference_layers(layers, width)?;
        let mut state = TrainState::untrained(
            trainer,
            spec.signature.clone(),
            spec.preprocessing.clone(),
            None,
            loss,
            network,
        );
        state.finished = true;
        Self::from_state(state, None)
    }

    /// The training state (weights, optimizer, history): what a checkpoint saves.
    pub fn state(&self) -> &TrainState {
        &self.state
    }

    /// The network and its weights.
    pub fn network(&self) -> &Network {
        &self.state.network
    }

    /// The training history.
    pub fn history(&self) -> &History {
        &self.state.history
    }

    /// What DP-SGD spent, for private training.
    pub fn privacy(&self) -> Option<&PrivacyReport> {
        self.privacy.as_ref()
    }

    /// The hyper-parameters as `(name, value)` pairs.
    pub fn params(&self) -> Vec<(String, String)> {
        self.state.trainer.params()
    }

    /// The network's raw outputs (before the link) for input rows, computed
    /// by burn on `backend` in single precision: batch inference on a GPU,
    /// and the check that the spec computes what was trained.
    ///
    /// # Errors
    /// Input that does not fit the signature, a missing backend.
    pub fn raw_outputs_on(&self, x: ArrayView2<'_, f64>, backend: BackendKind) -> Result<Array2<f64>> {
        let design = self.spec.transform(x)?;
        let device = backend.device()?;
        let net = &self.state.network;
        let shapes = net.shapes()?;
        let leaves = backend::leaves(net, &device, false);
        let n = design.nrows();
        let k = net.output_width();
        let mut out = Vec::with_capacity(n * k);
        for chunk in design.axis_chunks_iter(Axis(0), 2048) {
            let rows: Vec<f32> = chunk.iter().map(|&v| v as f32).collect();
            let input = upload(rows, [chunk.nrows(), chunk.ncols()], &device);
            let (z, _) = backend::forward(net, &shapes, &leaves, input, Mode::Eval, false);
            out.extend(download(z)?.into_iter().map(f64::from));
        }
        let mut raw = Array2::from_shape_vec((n, k), out).map_err(|e| Error::invalid("outputs", e.to_string()))?;
        if let Some((mean, scale)) = self.state.target_scale {
            raw.mapv_inplace(|v| v * scale + mean);
        }
        Ok(raw)
    }
}

impl Model for NeuralNetwork {
    fn signature(&self) -> &Signature {
        &self.spec.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions> {
        self.spec.predict(x)
    }

    fn describe(&self) -> Result<ModelSpec> {
        Ok(self.spec.clone())
    }
}

/// Training rows ready for batches.
pub(crate) struct TrainRows {
    x: Vec<f32>,
    d: usize,
    labels: Vec<usize>,
    values: Vec<f64>,
    weights: Vec<f64>,
}

impl TrainRows {
    pub(crate) fn n(&self) -> usize {
        self.weights.len()
    }

    pub(crate) fn batch_x(&self, idx: &[usize], device: &Device) -> Tensor<2> {
        let mut v = Vec::with_capacity(idx.len() * self.d);
        for &i in idx {
            v.extend_from_slice(&self.x[i * self.d..(i + 1) * self.d]);
        }
        upload(v, [idx.len(), self.d], device)
    }
}

impl NetTrainer {
    /// The hyper-parameters as `(name, value)` pairs for tracking.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut p = vec![
            (
                "architecture".to_string(),
                serde_json::to_string(&self.architecture).unwrap_or_default(),
            ),
            ("epochs".into(), self.epochs.to_string()),
            ("batch_size".into(), self.batch_size.to_string()),
            (
                "optimizer".into(),
                serde_json::to_string(&self.optimizer).unwrap_or_default(),
            ),
            ("lr".into(), self.learning_rate.to_string()),
            (
                "lr_schedule".into(),
                serde_json::to_string(&self.schedule).unwrap_or_default(),
            ),
            ("weight_decay".into(), self.weight_decay.to_string()),
            ("validation_split".into(), self.validation_split.to_string()),
            ("seed".into(), self.seed.to_string()),
        ];
        if let Some(c) = self.clip_norm {
            p.push(("clip_norm".into(), c.to_string()));
        }
        if let Some(es) = &self.early_stopping {
            p.push(("patience".into(), es.patience.to_string()));
        }
        if let Some(dp) = &self.dp {
            p.extend(dp.params());
        }
        p
    }

    fn check(&self) -> Result<()> {
        let bad = |k: &str, r: &str| Err(Error::invalid(k, r));
        if self.epochs == 0 {
            return bad("epochs", "at least one epoch");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "at least one row a batch");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("lr", "a positive learning rate");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("weight_decay", "a non-negative number");
        }
        if !(0.0..0.9).contains(&self.validation_split) {
            return bad("validation_split", "a fraction in [0, 0.9)");
        }
        if self.clip_norm.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
            return bad("clip_norm", "a positive norm");
        }
        if self.early_stopping.is_some() && self.validation_split == 0.0 {
            return bad("patience", "early stopping needs a validation_split");
        }
        if let Some(dp) = &self.dp {
            dp.check()?;
            if self.validation_split > 0.0 {
                return bad(
                    "validation_split",
                    "DP-SGD's guarantee covers the training rows only: hold out validation data yourself",
                );
            }
        }
        Ok(())
    }

    /// Fit a new network to `data`.
    ///
    /// # Errors
    /// Invalid hyper-parameters, a data set without a target, an
    /// architecture that does not fit the input, a missing backend, a
    /// privacy budget too small for one step.
    pub fn fit_network(&self, data: &Dataset, on_epoch: &mut dyn FnMut(&EpochLog)) -> Result<NeuralNetwork> {
        let state = self.initial_state(data)?;
        self.train(state, data, on_epoch)
    }

    /// The untrained state for `data`: preprocessing fitted, weights
    /// initialized.
    ///
    /// # Errors
    /// As [`NetTrainer::fit_network`].
    pub fn initial_state(&self, data: &Dataset) -> Result<TrainState> {
        data.require_complete("a neural network")?;
        self.check()?;
        let task = data
            .task()
            .ok_or_else(|| Error::invalid("target", "training needs a target column"))?;
        let (loss, outputs) = LossKind::for_task(&task)?;
        let mut preprocessing = Vec::new();
        let mut x = data.features().to_owned();
        let mut blocks = Vec::new();
        if let Some(step) = OneHotEncoder::fit(data.columns()) {
            x = step.apply(x.view())?;
            blocks = step.one_hot_blocks();
            preprocessing.push(step);
        }
        let keep = OneHotEncoder::indicator_mask(data.columns());
        let scaler = match self.scaling {
            Scaling::None => None,
            Scaling::Standard => Some(StandardScaler::fit(x.view(), &keep).map_err(to_core)?),
            Scaling::MinMax => Some(MinMaxScaler::fit(x.view()).map_err(to_core)?),
        };
        if let Some(step) = scaler {
            preprocessing.push(step);
        }
        let mut rng = ml_core::seeded_rng(self.seed);
        let architecture = embed_categoricals(&self.architecture, &blocks)?;
        let network = Network::new(&architecture, x.ncols(), outputs, &mut rng)?;
        self.fresh_state(data, task, Default::default(), preprocessing, loss, network)
    }

    /// An untrained state: no epochs, a fresh optimizer, regression targets
    /// standardized on `data`.
    fn fresh_state(
        &self,
        data: &Dataset,
        task: Task,
        unknown_category: ml_core::UnknownCategory,
        preprocessing: Vec<Preprocess>,
        loss: LossKind,
        network: Network,
    ) -> Result<TrainState> {
        let target_scale = match data.target() {
            Some(Target::Values { .. }) => {
                let v = data.values()?;
                let sd = v.std(0.0);
                Some((v.mean().unwrap_or(0.0), if sd > 0.0 { sd } else { 1.0 }))
            }
            _ => None,
        };
        let signature = Signature {
            inputs: data.columns().to_vec(),
            unknown_category,
            task,
            accepts_missing: false,
        };
        Ok(TrainState::untrained(
            self.clone(),
            signature,
            preprocessing,
            target_scale,
            loss,
            network,
        ))
    }

    /// Fine-tune a pretrained network on `data`: its preprocessing and
    /// weights are kept (freeze layers and replace the head of `network`
    /// first), the optimizer starts afresh, and this trainer's
    /// hyper-parameters apply.
    ///
    /// # Errors
    /// As [`NetTrainer::fit_network`], and a data set whose columns or task
    /// do not fit the network.
    pub fn fine_tune(
        &self,
        pretrained: &TrainState,
        network: Network,
        data: &Dataset,
        on_epoch: &mut dyn FnMut(&EpochLog),
    ) -> Result<NeuralNetwork> {
        self.check()?;
        let task = data
            .task()
            .ok_or_else(|| Error::invalid("target", "training needs a target column"))?;
        let (loss, outputs) = LossKind::for_task(&task)?;
        if network.output_width() != outputs {
            return Err(Error::invalid(
                "head",
                format!(
                    "the network gives {} outputs, the task needs {outputs}: replace the head",
                    network.output_width()
                ),
            ));
        }
        if data.columns() != pretrained.signature.inputs.as_slice() {
            return Err(Error::invalid(
                "data",
                "the columns differ from the pretrained network's",
            ));
        }
        let state = self.fresh_state(
            data,
            task,
            pretrained.signature.unknown_category,
            pretrained.preprocessing.clone(),
            loss,
            network,
        )?;
        self.train(state, data, on_epoch)
    }

    /// Continue a saved run on the same data until its trainer's epochs are
    /// done (or raise `epochs` on the state's trainer first to train longer).
    /// With the same data, a resumed run ends with the weights an
    /// uninterrupted one would have.
    ///
    /// # Errors
    /// As [`NetTrainer::fit_network`].
    pub fn resume(state: TrainState, data: &Dataset, on_epoch: &mut dyn FnMut(&EpochLog)) -> Result<NeuralNetwork> {
        let trainer = state.trainer.clone();
        trainer.check()?;
        if data.columns() != state.signature.inputs.as_slice() {
            return Err(Error::invalid("data", "the columns differ from the checkpoint's"));
        }
        trainer.train(state, data, on_epoch)
    }

    pub(crate) fn rows(&self, state: &TrainState, data: &Dataset) -> Result<TrainRows> {
        let mut x = data.features().to_owned();
        for step in &state.preprocessing {
            x = step.apply(x.view())?;
        }
        if x.ncols() != state.network.input_width {
            return Err(Error::shape(
                "fit",
                format!("{} preprocessed features", state.network.input_width),
                x.ncols(),
            ));
        }
        let n = x.nrows();
        if n == 0 {
            return Err(Error::Empty {
                op: "fit",
                what: "rows",
            });
        }
        let (labels, values) = match data.target() {
            Some(Target::Classes { .. }) => (data.classes()?.0.to_vec(), Vec::new()),
            Some(Target::Values { .. }) => {
                let (m, s) = state.target_scale.unwrap_or((0.0, 1.0));
                (Vec::new(), data.values()?.iter().map(|v| (v - m) / s).collect())
            }
            None => return Err(Error::invalid("target", "training needs a target column")),
        };
        let mut weights: Vec<f64> = data.weights().map_or_else(|| vec![1.0; n], |w| w.to_vec());
        if let Task::Classification { classes } = &state.signature.task {
            let k = classes.len();
            let cw: Vec<f64> = match &self.class_weights {
                ClassWeights::None => vec![1.0; k],
                ClassWeights::Balanced => {
                    let mut counts = vec![0usize; k];
                    labels.iter().for_each(|&l| counts[l] += 1);
                    counts
                        .iter()
                        .map(|&c| if c == 0 { 0.0 } else { n as f64 / (k * c) as f64 })
                        .collect()
                }
                ClassWeights::Given(w) => {
                    if w.len() != k || w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                        return Err(Error::invalid(
                            "class_weights",
                            format!("{} non-negative weights for {k} classes", w.len()),
                        ));
                    }
                    w.clone()
                }
            };
            weights.iter_mut().zip(&labels).for_each(|(w, &l)| *w *= cw[l]);
        }
        Ok(TrainRows {
            x: x.iter().map(|&v| v as f32).collect(),
            d: x.ncols(),
            labels,
            values,
            weights,
        })
    }

    fn train(
        &self,
        mut state: TrainState,
        data: &Dataset,
        on_epoch: &mut dyn FnMut(&EpochLog),
    ) -> Result<NeuralNetwork> {
        data.require_complete("a neural network")?;
        state.network.validate()?;
        let rows = self.rows(&state, data)?;
        let device = self.backend.device()?;
        let ad = device.clone().autodiff();
        let shapes = state.network.shapes()?;
        let n = rows.n();

        // The split is fixed by the seed, so a resumed run holds out the same rows.
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ml_core::seeded_rng(self.seed ^ 0x5bd1_e995));
        let n_val = (n as f64 * self.validation_split).round() as usize;
        let (val, train) = order.split_at(n_val);
        let mut train = train.to_vec();
        train.sort_unstable();
        if train.is_empty() {
            return Err(Error::Empty {
                op: "fit",
                what: "training rows after the validation split",
            });
        }
        let plan = match &self.dp {
            Some(cfg) => Some(dp::Plan::new(
                cfg,
                self.batch_size,
                train.len(),
                self.epochs,
                &state.network,
            )?),
            None => None,
        };
        let mut noise = match &self.dp {
            Some(cfg) => Some(cfg.rng()?),
            None => None,
        };

        let bar = (self.progress && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(self.epochs as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} epoch {pos}/{len} {msg} [{elapsed} < {eta}]")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_position(state.epoch as u64);
            bar
        });

        while state.epoch < self.epochs && !state.finished {
            let epoch = state.epoch;
            let started = Instant::now();
            let lr = self.schedule.rate(self.learning_rate, epoch, self.epochs);
            let update = Update {
                optimizer: self.optimizer,
                lr,
                weight_decay: self.weight_decay,
            };
            // One generator per epoch, derived from the seed: a resumed run
            // shuffles and drops out exactly as an uninterrupted one.
            let mut rng = ml_core::seeded_rng(
                self.seed
                    .wrapping_add((epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            );
            let mut totals = Totals::default();
            if let (Some(plan), Some(noise)) = (&plan, noise.as_mut()) {
                for _ in 0..plan.steps_per_epoch {
                    if state.dp_steps >= plan.max_steps {
                        break;
                    }
                    let batch = plan.sample(&train, &mut rng);
                    let grads =
                        dp::private_gradients(plan, &state, &shapes, &rows, &batch, &ad, &mut rng, noise, &mut totals)?;
                    apply_update(&mut state, &grads, update);
                    state.dp_steps += 1;
                }
            } else {
                let mut idx = train.clone();
                idx.shuffle(&mut rng);
                for batch in idx.chunks(self.batch_size) {
                    let mut grads = self.step(&mut state, &shapes, &rows, batch, &ad, &mut rng, &mut totals)?;
                    if let Some(c) = self.clip_norm {
                        clip_global_norm(&mut grads, c);
                    }
                    apply_update(&mut state, &grads, update);
                }
            }
            let (loss, accuracy) = totals.finish()?;
            let (val_loss, val_accuracy) = if val.is_empty() {
                (None, None)
            } else {
                let (l, a) = evaluate_rows(&state, &shapes, &rows, val, &device)?;
                (Some(l), a)
            };
            let epsilon = match &plan {
                Some(p) => Some(p.epsilon(state.dp_steps)?),
                None => None,
            };
            let log = EpochLog {
                epoch,
                loss,
                accuracy,
                val_loss,
                val_accuracy,
                learning_rate: lr,
                seconds: started.elapsed().as_secs_f64(),
                epsilon,
            };
            state.epoch += 1;
            if let (Some(es), Some(vl)) = (&self.early_stopping, val_loss) {
                let improved = state.best.is_none_or(|(b, _)| vl < b - es.min_delta);
                if improved {
                    state.best = Some((vl, epoch));
                    if es.restore_best {
                        state.best_weights = Some(state.network.params.iter().map(|p| p.value.clone()).collect());
                    }
                } else if state.best.is_some_and(|(_, e)| epoch - e >= es.patience) {
                    state.finished = true;
                    state.history.stopped_early = Some(format!(
                        "validation loss did not improve for {} epochs after epoch {}",
                        es.patience,
                        state.best.map_or(0, |(_, e)| e)
                    ));
                }
            }
            if let Some(p) = &plan
                && state.dp_steps >= p.max_steps
                && state.epoch < self.epochs
            {
                state.finished = true;
                state.history.stopped_early = Some(format!(
                    "the privacy budget ε = {} allows {} steps",
                    p.config.epsilon, p.max_steps
                ));
            }
            if let Some(bar) = &bar {
                bar.set_message(format!(
                    "loss {loss:.4}{}",
                    val_loss.map_or(String::new(), |v| format!(" val_loss {v:.4}"))
                ));
                bar.inc(1);
            }
            on_epoch(&log);
            state.history.epochs.push(log);
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        state.finished = true;
        if let (Some(es), Some(best)) = (&self.early_stopping, state.best_weights.take())
            && es.restore_best
        {
            for (p, w) in state.network.params.iter_mut().zip(best) {
                p.value = w;
            }
        }
        let privacy = match &plan {
            Some(p) => Some(p.report(state.dp_steps)?),
            None => None,
        };
        NeuralNetwork::from_state(state, privacy)
    }

    /// One mini-batch: forward, loss, backward; the gradients of the
    /// trainable parameters (`None` for frozen ones).
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        state: &mut TrainState,
        shapes: &[RowShape],
        rows: &TrainRows,
        batch: &[usize],
        ad: &Device,
        rng: &mut ml_core::SeededRng,
        totals: &mut Totals,
    ) -> Result<Vec<Option<Vec<f32>>>> {
        let leaves = backend::leaves(&state.network, ad, true);
        let x = rows.batch_x(batch, ad);
        let (z, extras) = backend::forward(&state.network, shapes, &leaves, x, Mode::Train(rng), false);
        let wsum: f64 = batch.iter().map(|&i| rows.weights[i]).sum();
        let loss = loss_tensor(state.loss, z.clone(), rows, batch, wsum.max(f64::MIN_POSITIVE), ad);
        let grads = loss.backward();
        let logits = download(z.inner())?;
        totals.add(state.loss, &logits, rows, batch);
        update_running_stats(state, extras.batch_stats, batch.len())?;
        leaves
            .iter()
            .zip(&state.network.params)
            .map(|(leaf, p)| {
                if !p.trainable {
                    return Ok(None);
                }
                match leaf.grad(&grads) {
                    Some(g) => download(g).map(Some),
                    None => Ok(Some(vec![0.0; p.value.len()])),
                }
            })
            .collect()
    }
}

/// Apply gradients to the trainable parameters.
pub(crate) fn apply_update(state: &mut TrainState, grads: &[Option<Vec<f32>>], update: Update) {
    state.optimizer.begin(state.network.params.len());
    for (i, (p, g)) in state.network.params.iter_mut().zip(grads).enumerate() {
        if let (true, Some(g)) = (p.trainable, g) {
            state.optimizer.apply(i, &mut p.value, g, update);
        }
    }
}

fn update_running_stats(state: &mut TrainState, stats: Vec<(usize, Tensor<1>, Tensor<1>)>, batch: usize) -> Result<()> {
    for (layer, mean, var) in stats {
        let crate::network::LayerConfig::BatchNorm { momentum, .. } = state.network.layers[layer] else {
            continue;
        };
        let (mean, var) = (download(mean)?, download(var)?);
        let unbias = if batch > 1 {
            batch as f32 / (batch - 1) as f32
        } else {
            1.0
        };
        let m = momentum as f32;
        for p in state.network.params.iter_mut().filter(|p| p.layer == layer) {
            let src = match p.kind {
                crate::network::ParamKind::RunningMean => &mean,
                crate::network::ParamKind::RunningVar => &var,
                _ => continue,
            };
            let scale = if p.kind == crate::network::ParamKind::RunningVar {
                unbias
            } else {
                1.0
            };
            for (r, &b) in p.value.iter_mut().zip(src) {
                *r = m * *r + (1.0 - m) * b * scale;
            }
        }
    }
    Ok(())
}

/// The batch loss as a tensor, each row weighted, divided by `norm`.
pub(crate) fn loss_tensor(
    kind: LossKind,
    z: Tensor<2>,
    rows: &TrainRows,
    batch: &[usize],
    norm: f64,
    device: &Device,
) -> Tensor<1> {
    let b = batch.len();
    match kind {
        LossKind::CrossEntropy => {
            let k = z.dims()[1];
            let mut t = vec![0f32; b * k];
            for (r, &i) in batch.iter().enumerate() {
                t[r * k + rows.labels[i]] = (rows.weights[i] / norm) as f32;
            }
            -(log_softmax(z, 1) * upload(t, [b, k], device)).sum()
        }
        LossKind::BinaryCrossEntropy => {
            let pos: Vec<f32> = batch
                .iter()
                .map(|&i| {
                    if rows.labels[i] == 1 {
                        (rows.weights[i] / norm) as f32
                    } else {
                        0.0
                    }
                })
                .collect();
            let neg: Vec<f32> = batch
                .iter()
                .map(|&i| {
                    if rows.labels[i] == 1 {
                        0.0
                    } else {
                        (rows.weights[i] / norm) as f32
                    }
                })
                .collect();
            -(log_sigmoid(z.clone()) * upload(pos, [b, 1], device) + log_sigmoid(-z) * upload(neg, [b, 1], device))
                .sum()
        }
        LossKind::MeanSquaredError => {
            let y: Vec<f32> = batch.iter().map(|&i| rows.values[i] as f32).collect();
            let w: Vec<f32> = batch.iter().map(|&i| (rows.weights[i] / norm) as f32).collect();
            ((z - upload(y, [b, 1], device)).square() * upload(w, [b, 1], device)).sum()
        }
    }
}

/// Host-side loss of one row from its outputs.
fn row_loss(kind: LossKind, logits: &[f32], label: usize, value: f64) -> (f64, Option<bool>) {
    match kind {
        LossKind::CrossEntropy => {
            let m = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
            let lse = m + logits.iter().map(|&z| (z as f64 - m).exp()).sum::<f64>().ln();
            let pred = ml_core::argmax(logits.iter().map(|&v| v as f64));
            (lse - logits[label] as f64, Some(pred == label))
        }
        LossKind::BinaryCrossEntropy => {
            let z = logits[0] as f64;
            let y = label as f64;
            let l = z.max(0.0) - z * y + (-z.abs()).exp().ln_1p();
            (l, Some((z > 0.0) == (label == 1)))
        }
        LossKind::MeanSquaredError => {
            let e = logits[0] as f64 - value;
            (e * e, None)
        }
    }
}

/// Running sums of an epoch's batches.
#[derive(Default)]
pub(crate) struct Totals {
    loss: f64,
    weight: f64,
    correct: f64,
    classified: bool,
}

impl Totals {
    pub(crate) fn add(&mut self, kind: LossKind, logits: &[f32], rows: &TrainRows, batch: &[usize]) {
        let k = logits.len() / batch.len().max(1);
        for (r, &i) in batch.iter().enumerate() {
            let (l, ok) = row_loss(
                kind,
                &logits[r * k..(r + 1) * k],
                rows.labels.get(i).copied().unwrap_or(0),
                rows.values.get(i).copied().unwrap_or(0.0),
            );
            let w = rows.weights[i];
            self.loss += w * l;
            self.weight += w;
            if let Some(ok) = ok {
                self.classified = true;
                self.correct += if ok { w } else { 0.0 };
            }
        }
    }

    fn finish(&self) -> Result<(f64, Option<f64>)> {
        if self.weight <= 0.0 {
            return Ok((f64::NAN, None));
        }
        let loss = self.loss / self.weight;
        if !loss.is_finite() {
            return Err(Error::Unsupported(
                "training diverged (non-finite loss): lower the learning rate or scale the inputs".into(),
            ));
        }
        Ok((loss, self.classified.then(|| self.correct / self.weight)))
    }
}

fn evaluate_rows(
    state: &TrainState,
    shapes: &[RowShape],
    rows: &TrainRows,
    idx: &[usize],
    device: &Device,
) -> Result<(f64, Option<f64>)> {
    let leaves = backend::leaves(&state.network, device, false);
    let mut totals = Totals::default();
    for chunk in idx.chunks(2048) {
        let x = rows.batch_x(chunk, device);
        let (z, _) = backend::forward(&state.network, shapes, &leaves, x, Mode::Eval, false);
        totals.add(state.loss, &download(z)?, rows, chunk);
    }
    totals.finish()
}

pub(crate) fn to_core(e: ml_learn::Error) -> Error {
    Error::invalid("preprocessing", e.to_string())
}

impl Trainer for NetTrainer {
    fn name(&self) -> &str {
        if self
            .architecture
            .layers()
            .iter()
            .any(|l| matches!(l, crate::network::LayerConfig::Conv2d { .. }))
        {
            "cnn"
        } else {
            "mlp"
        }
    }

    fn params(&self) -> Vec<(String, String)> {
        NetTrainer::params(self)
    }

    fn fit(&self, data: &Dataset) -> Result<Box<dyn Model>> {
        Ok(Box::new(self.fit_network(data, &mut |_| {})?))
    }
}

/// The architecture with its embedding layer, if any, given the data's
/// categorical blocks (it must come first, where the blocks are).
fn embed_categoricals(architecture: &Sequential, blocks: &[[usize; 2]]) -> Result<Sequential> {
    let mut arch = architecture.clone();
    for (i, layer) in arch.layers.iter_mut().enumerate() {
        if let LayerConfig::Embedding { blocks: b, .. } = layer
            && b.is_empty()
        {
            if i != 0 {
                return Err(Error::invalid(
                    format!("layer {i} (embedding)"),
                    "embeddings read the categorical columns: make it the first layer",
                ));
            }
            if blocks.is_empty() {
                return Err(Error::invalid(
                    "layer 0 (embedding)",
                    "the data has no categorical columns to embed",
                ));
            }
            *b = blocks.to_vec();
        }
    }
    Ok(arch)
}
