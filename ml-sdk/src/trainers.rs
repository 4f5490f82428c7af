//! The trainer registry: every algorithm of the workspace by name, from
//! `key=value` hyper-parameters, as `mlsdk train --model NAME --param K=V`
//! and `mlsdk mitigate --trainer NAME` take them.

use ml_core::{Dataset, Model, Result, Trainer};
use ml_learn::Pipeline;

/// A trainer chosen by name: one of ml-learn's pipelines (`logistic`,
/// `linear`, `ridge`, `tree`, `forest`, `kmeans`, and with the `privacy`
/// feature `dp_logistic`) or, with the `interpret` feature, ml-interpret's
/// explainable boosting machine (`ebm`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyTrainer {
    /// An ml-learn pipeline (preprocessing and one estimator).
    Pipeline(Pipeline),
    /// An explainable boosting machine.
    #[cfg(feature = "interpret")]
    Ebm(ml_interpret::Ebm),
    /// A neural network (`mlp`, `cnn`).
    #[cfg(feature = "neural")]
    Neural(ml_neural::NetTrainer),
}

/// Called after each epoch of a network's training with the epoch and its
/// `(metric, value)` pairs.
pub type EpochObserver<'a> = dyn FnMut(usize, &[(&str, f64)]) + 'a;

/// A fit with what some algorithms report besides the model.
#[derive(Debug)]
pub struct Fitted {
    /// The model.
    pub model: Box<dyn Model>,
    /// The (ε, δ) it spent, if it is differentially private.
    pub privacy: Option<(f64, f64)>,
    /// The full privacy report, for DP-SGD: `epsilon`, `delta`,
    /// `noise_multiplier`, `sampling_rate`, `steps`, `accountant`, `clip`.
    pub privacy_report: Option<serde_json::Value>,
    /// A network's training checkpoint (weights, optimizer state, history),
    /// to save beside the model so training can resume.
    pub checkpoint: Option<Vec<u8>>,
    /// Epochs trained and why training stopped early, for networks.
    pub history: Option<serde_json::Value>,
    /// The same history, typed.
    #[cfg(feature = "neural")]
    pub network_history: Option<ml_neural::History>,
}

/// A fitted model and the (ε, δ) it spent, if it is differentially private.
pub type FittedModel = (Box<dyn Model>, Option<(f64, f64)>);

/// The names [`trainer_from_params`] knows.
pub fn trainer_names() -> Vec<&'static str> {
    let names = ml_learn::Algorithm::NAMES.iter().copied();
    #[cfg(feature = "interpret")]
    let names = names.chain(["ebm"]);
    #[cfg(feature = "neural")]
    let names = names.chain(ml_neural::NAMES);
    names.collect()
}

/// The fixed parameters with a candidate's over them (a key in both takes
/// the candidate's value).
pub fn merge_params(fixed: &[(String, String)], candidate: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fixed
        .iter()
        .filter(|(k, _)| !candidate.iter().any(|(c, _)| c == k))
        .cloned()
        .collect();
    out.extend(candidate.iter().cloned());
    out
}

/// Search hyper-parameters of the model `name` (any of [`trainer_names`])
/// by cross-validation, as scikit-learn's `GridSearchCV` and
/// `RandomizedSearchCV` do: each candidate's parameters over `fixed`, fitted
/// and scored (accuracy or R²) on every fold; the best by mean score.
/// `on_candidate` sees each as it is scored. Refit the best with
/// [`trainer_from_params`] and [`merge_params`].
///
/// ```
/// use ml_sdk::core::{KFold, search::ParamGrid};
/// let data = ml_sdk::datasets::load("iris")?;
/// let folds = KFold::new(3).stratified(true).split(&data)?;
/// let grid = ParamGrid::parse(&["max_depth=1,3"])?;
/// let found = ml_sdk::tune("tree", &[], grid.candidates(), &data, &folds, Some(0), &mut |_| {})?;
/// assert_eq!(found.best().params[0].1, "3");
/// # Ok::<(), ml_sdk::core::Error>(())
/// ```
///
/// # Errors
/// As [`ml_core::search::search`]: an unknown model, a searched key that is
/// also fixed, a bad candidate (named), a fold that fails.
pub fn tune(
    name: &str,
    fixed: &[(String, String)],
    candidates: Vec<ml_core::search::Params>,
    data: &Dataset,
    folds: &[ml_core::Fold],
    seed: Option<u64>,
    on_candidate: &mut dyn FnMut(&ml_core::search::Candidate),
) -> Result<ml_core::search::SearchOutcome> {
    // An unknown model is refused once, not as every candidate's failure.
    trainer_from_params(name, fixed, seed)?;
    if let Some((k, _)) = candidates
        .iter()
        .flatten()
        .find(|(k, _)| fixed.iter().any(|(f, _)| f == k))
    {
        return Err(ml_core::Error::invalid(
            k.clone(),
            "is both fixed and searched: leave it out of the fixed parameters",
        ));
    }
    ml_core::search::search(
        candidates,
        &mut |candidate| {
            let trainer = trainer_from_params(name, &merge_params(fixed, candidate), seed)?;
            ml_core::cross_validate(trainer.as_trainer(), data, folds, &ml_core::default_score)
        },
        on_candidate,
    )
}

/// The trainer of this name with these hyper-parameters; `seed` seeds the
/// random algorithms (never a private model's noise).
///
/// # Errors
/// An unknown name (the known ones listed), an unknown parameter or a bad
/// value ([`ml_core::Error::InvalidParameter`]).
pub fn trainer_from_params(name: &str, params: &[(String, String)], seed: Option<u64>) -> Result<AnyTrainer> {
    #[cfg(feature = "interpret")]
    if name == "ebm" {
        return Ok(AnyTrainer::Ebm(ml_interpret::Ebm::from_params(params, seed)?));
    }
    #[cfg(feature = "neural")]
    if ml_neural::NAMES.contains(&name) {
        return Ok(AnyTrainer::Neural(ml_neural::NetTrainer::from_params(
            name, params, seed,
        )?));
    }
    match Pipeline::from_params(name, params, seed) {
        Ok(p) => Ok(AnyTrainer::Pipeline(p)),
        Err(ml_learn::Error::Core(ml_core::Error::InvalidParameter { name: field, .. })) if field == "model" => {
            Err(ml_core::Error::invalid(
                "model",
                format!("unknown model '{name}' (known: {})", trainer_names().join(", ")),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

impl AnyTrainer {
    /// The trainer as a [`Trainer`].
    pub fn as_trainer(&self) -> &dyn Trainer {
        match self {
            AnyTrainer::Pipeline(p) => p,
            #[cfg(feature = "interpret")]
            AnyTrainer::Ebm(e) => e,
            #[cfg(feature = "neural")]
            AnyTrainer::Neural(n) => n,
        }
    }

    /// Whether the algorithm learns without a target (k-means).
    pub fn is_unsupervised(&self) -> bool {
        matches!(self, AnyTrainer::Pipeline(p) if matches!(p.algorithm, ml_learn::Algorithm::KMeans(_)))
    }

    /// Fit, returning the model and the (ε, δ) it spent if private.
    ///
    /// # Errors
    /// As the algorithm's `fit`.
    pub fn fit_model(&self, data: &Dataset) -> Result<FittedModel> {
        let f = self.fit_detailed(data, &mut |_, _| {})?;
        Ok((f.model, f.privacy))
    }

    /// Fit, with each epoch's metrics passed to `on_epoch` (networks only:
    /// the epoch and `(name, value)` pairs such as `loss`, `val_loss`,
    /// `accuracy`, `epsilon`) and everything the algorithm reports.
    ///
    /// # Errors
    /// As the algorithm's `fit`.
    pub fn fit_detailed(&self, data: &Dataset, on_epoch: &mut EpochObserver<'_>) -> Result<Fitted> {
        let plain = |model: Box<dyn Model>, privacy| Fitted {
            model,
            privacy,
            privacy_report: None,
            checkpoint: None,
            history: None,
            #[cfg(feature = "neural")]
            network_history: None,
        };
        #[cfg(not(feature = "neural"))]
        let _ = on_epoch;
        Ok(match self {
            AnyTrainer::Pipeline(p) => {
                let m = p.fit_pipeline(data)?;
                let spent = m.privacy_spent();
                plain(Box::new(m), spent)
            }
            #[cfg(feature = "interpret")]
            AnyTrainer::Ebm(e) => plain(Box::new(e.fit_ebm(data)?), None),
            #[cfg(feature = "neural")]
            AnyTrainer::Neural(n) => {
                let net = n.fit_network(data, &mut |e| on_epoch(e.epoch, &e.metrics()))?;
                let report = net.privacy().cloned();
                Fitted {
                    privacy: report.as_ref().map(|r| (r.epsilon, r.delta)),
                    privacy_report: report.as_ref().and_then(|r| serde_json::to_value(r).ok()),
                    checkpoint: Some(ml_neural::checkpoint::to_bytes(net.state())?),
                    history: serde_json::to_value(net.history()).ok(),
                    network_history: Some(net.history().clone()),
                    model: Box::new(net),
                }
            }
        })
    }
}

/// A network's learning curve: the training loss by epoch (thick) and the
/// validation loss (thin), where there is one.
#[cfg(all(feature = "neural", feature = "interpret"))]
pub fn learning_curve(history: &ml_neural::History) -> ml_interpret::charts::Chart {
    let epochs = &history.epochs;
    let val: Vec<f64> = epochs.iter().filter_map(|e| e.val_loss).collect();
    ml_interpret::charts::Chart::Curves {
        title: if val.len() == epochs.len() && !val.is_empty() {
            "learning curve (thick: training loss, thin: validation loss)".into()
        } else {
            "learning curve (training loss)".into()
        },
        x_label: "epoch".into(),
        y_label: "loss".into(),
        x: epochs.iter().map(|e| (e.epoch + 1) as f64).collect(),
        thin: if val.len() == epochs.len() && !val.is_empty() {
            vec![val]
        } else {
            Vec::new()
        },
        thick: epochs.iter().map(|e| e.loss).collect(),
    }
}

impl Trainer for AnyTrainer {
    fn name(&self) -> &str {
        self.as_trainer().name()
    }

    fn params(&self) -> Vec<(String, String)> {
        self.as_trainer().params()
    }

    fn fit(&self, data: &Dataset) -> Result<Box<dyn Model>> {
        self.as_trainer().fit(data)
    }
}
