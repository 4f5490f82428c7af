//! The one tracked-fit flow: what a run of a fitted model holds, logged the
//! same way by [`fit_and_log`], by `mlsdk train --tracking-uri` and by any
//! caller of [`log_fit`], so every such run loads back with `runs:/ID/model`.

use std::collections::BTreeMap;

use ml_core::{Dataset, MODEL_FILE, MetricPoint, Model, RunId, RunStatus, SavedModel, Tracker, Trainer, metrics};

use crate::{Provenance, RunGuard, log_model, log_onnx_model, now_ms};

/// The artifact path of the model in a tracked run (`runs:/ID/model`).
pub const MODEL_ARTIFACT: &str = "model";
/// The artifact path of the model's ONNX export, when logged.
pub const ONNX_ARTIFACT: &str = "onnx-model";

/// Everything a tracked fit logs besides the model file itself.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct FitRecord {
    /// Params besides the trainer's own (e.g. `data`, `target`).
    pub params: Vec<(String, String)>,
    /// Training-set metrics, logged as `train_<name>`.
    pub train_metrics: BTreeMap<String, f64>,
    /// Cross-validation: the metric's name and one score per fold, logged as
    /// `cv_<name>` (one step per fold) and `cv_<name>_mean`.
    pub cv: Option<(String, Vec<f64>)>,
    /// The (ε, δ) a private model spent, logged as `privacy_epsilon_spent`
    /// and `privacy_delta_spent`.
    pub privacy: Option<(f64, f64)>,
    /// Tags (e.g. `mlsdk.model`).
    pub tags: Vec<(String, String)>,
    /// The model's ONNX export, logged as an MLflow model with the `onnx`
    /// flavor under [`ONNX_ARTIFACT`].
    pub onnx: Option<Vec<u8>>,
    /// The run's provenance (default: [`Provenance::collect`], without a
    /// data digest); see [`Provenance::with_data_bytes`].
    pub provenance: Option<Provenance>,
}

impl FitRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Log one training step's figures as metric points at step `epoch`, so
/// the run keeps each metric's history (MLflow's metric history,
/// TensorBoard's scalar curves): a network's epoch (`loss`, `val_loss`,
/// `accuracy`, ...), or a reinforcement-learning update at its count of
/// environment steps (`episode_return`).
///
/// # Errors
/// Back-end failures.
pub fn log_epoch(tracker: &dyn Tracker, run: &RunId, epoch: usize, figures: &[(&str, f64)]) -> ml_core::Result<()> {
    let now = now_ms();
    let points: Vec<MetricPoint> = figures
        .iter()
        .map(|(key, value)| MetricPoint {
            key: (*key).to_string(),
            value: *value,
            step: epoch as i64,
            timestamp_ms: now,
        })
        .collect();
    tracker.log_metrics(run, &points)
}

/// Log a fitted model to a started run: the trainer's params and the
/// record's, metrics, the model file with its `MLmodel` under
/// [`MODEL_ARTIFACT`] (and the ONNX model if given), tags, and provenance.
/// The run is left open.
///
/// # Errors
/// Tracker failures; a model that cannot be serialized.
pub fn log_fit(tracker: &dyn Tracker, run: &RunId, model: &SavedModel, record: &FitRecord) -> ml_core::Result<()> {
    let mut params = model.params.clone();
    params.push(("trainer".into(), model.trainer.clone()));
    params.extend(record.params.iter().cloned());
    // A key logged twice must keep one value: the first wins.
    let mut seen = std::collections::BTreeSet::new();
    params.retain(|(k, _)| seen.insert(k.clone()));
    tracker.log_params(run, &params)?;
    let now = now_ms();
    let point = |key: String, value: f64, step: i64| MetricPoint {
        key,
        value,
        step,
        timestamp_ms: now,
    };
    let mut points: Vec<MetricPoint> = record
        .train_metrics
        .iter()
        .map(|(k, v)| point(format!("train_{k}"), *v, 0))
        .collect();
    if let Some((epsilon, delta)) = record.privacy {
        points.push(point("privacy_epsilon_spent".into(), epsilon, 0));
        points.push(point("privacy_delta_spent".into(), delta, 0));
    }
    if let Some((metric, scores)) = &record.cv {
        let key = format!("cv_{metric}");
        points.extend(scores.iter().enumerate().map(|(i, v)| point(key.clone(), *v, i as i64)));
        let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
        points.push(point(format!("{key}_mean"), mean, 0));
    }
    tracker.log_metrics(run, &points)?;
    log_model(
        tracker,
        run,
        MODEL_ARTIFACT,
        MODEL_FILE,
        &model.to_bytes()?,
        &model.spec.signature,
        &[("trainer", model.trainer.as_str())],
    )?;
    let mut tags = vec![("mlsdk.task".to_string(), model.spec.signature.task.name().to_string())];
    tags.extend(record.tags.iter().cloned());
    tracker.set_tags(run, &tags)?;
    if let Some(onnx) = &record.onnx {
        log_onnx_model(tracker, run, ONNX_ARTIFACT, onnx, &model.spec.signature)?;
    }
    match &record.provenance {
        Some(p) => p.record(tracker, run),
        None => Provenance::collect().record(tracker, run),
    }
}

/// Fit `trainer` on `data` inside a new run of `experiment` and log it as
/// [`log_fit`] does: params, training metrics (`train_*`), the model file
/// with its `MLmodel` under `model/` (so `runs:/ID/model` loads it), and
/// provenance with the data set's digest. The run ends `FINISHED`, or
/// `FAILED` when fitting fails (`KILLED` on panic).
///
/// # Errors
/// Fitting and tracker failures, a model that cannot describe itself; the
/// run is ended either way.
pub fn fit_and_log(
    tracker: &dyn Tracker,
    experiment: &str,
    run_name: Option<&str>,
    trainer: &dyn Trainer,
    data: &Dataset,
) -> ml_core::Result<(Box<dyn Model>, RunId)> {
    let run = tracker.start_run(experiment, run_name)?;
    let guard = RunGuard::new(tracker, run.clone());
    let model = trainer.fit(data)?;
    let mut record = FitRecord::new();
    if data.target().is_some() {
        record.train_metrics = metrics::score_model(model.as_ref(), data)?;
    }
    record.provenance = Some(Provenance::collect().with_dataset(data));
    let saved = SavedModel::from_model(model.as_ref(), trainer.name(), trainer.params())?;
    log_fit(tracker, &run, &saved, &record)?;
    guard.end(RunStatus::Finished)?;
    Ok((model, run))
}

/// MLflow's tag that makes a run another's child.
pub const PARENT_RUN_TAG: &str = "mlflow.parentRunId";

/// Log a hyper-parameter search under a started parent run, as MLflow's
/// autologging does for `GridSearchCV`: one finished child run per candidate
/// (tagged [`PARENT_RUN_TAG`], named `PREFIX-N`) with its parameters,
/// `mean_test_score`, `std_test_score`, `rank_test_score` and
/// `split<k>_test_score`; on the parent, `best_<param>` params and
/// `best_cv_score`. Returns the child runs' ids.
///
/// # Errors
/// Tracker failures.
pub fn log_search(
    tracker: &dyn Tracker,
    experiment: &str,
    parent: &RunId,
    prefix: &str,
    outcome: &ml_core::search::SearchOutcome,
) -> ml_core::Result<Vec<RunId>> {
    let ranks = outcome.ranks();
    let mut children = Vec::with_capacity(outcome.candidates.len());
    for (i, (c, rank)) in outcome.candidates.iter().zip(ranks).enumerate() {
        let child = tracker.start_run(experiment, Some(&format!("{prefix}-{i}")))?;
        tracker.set_tags(&child, &[(PARENT_RUN_TAG.into(), parent.0.clone())])?;
        tracker.log_params(&child, &c.params)?;
        let splits: Vec<String> = (0..c.scores.scores.len())
            .map(|k| format!("split{k}_test_score"))
            .collect();
        let mut figures = vec![
            ("mean_test_score", c.scores.mean()),
            ("std_test_score", c.scores.std()),
            ("rank_test_score", rank as f64),
        ];
        figures.extend(splits.iter().map(String::as_str).zip(c.scores.scores.iter().copied()));
        log_epoch(tracker, &child, 0, &figures)?;
        tracker.end_run(&child, RunStatus::Finished)?;
        children.push(child);
    }
    let best = outcome.best();
    let params: Vec<(String, String)> = best
        .params
        .iter()
        .map(|(k, v)| (format!("best_{k}"), v.clone()))
        .collect();
    tracker.log_params(parent, &params)?;
    log_epoch(tracker, parent, 0, &[("best_cv_score", best.scores.mean())])?;
    Ok(children)
}
