//! [`fit_and_log`]: train with any [`Trainer`] inside a tracked run.

use ml_core::{Dataset, MetricPoint, Model, RunId, RunStatus, Tracker, Trainer, metrics};

use crate::{Provenance, RunGuard, now_ms};

/// Fit `trainer` on `data` inside a new run of `experiment`: the trainer's
/// hyper-parameters as params, its training metrics (`train_*`), the model's
/// spec as `model/spec.json` (when it can describe itself), and provenance
/// with the data set's digest. The run ends `FINISHED`, or `FAILED` when
/// fitting fails (`KILLED` on panic).
///
/// # Errors
/// Fitting and tracker failures; the run is ended either way.
pub fn fit_and_log(
    tracker: &dyn Tracker,
    experiment: &str,
    run_name: Option<&str>,
    trainer: &dyn Trainer,
    data: &Dataset,
) -> ml_core::Result<(Box<dyn Model>, RunId)> {
    let run = tracker.start_run(experiment, run_name)?;
    let guard = RunGuard::new(tracker, run.clone());
    let mut params = trainer.params();
    params.push(("trainer".into(), trainer.name().to_string()));
    params.sort();
    params.dedup_by(|a, b| a.0 == b.0);
    tracker.log_params(&run, &params)?;
    let model = trainer.fit(data)?;
    if data.target().is_some() {
        let scores = metrics::evaluate(data, &model.predict(data.features())?)?;
        let now = now_ms();
        let points: Vec<MetricPoint> = scores
            .into_iter()
            .map(|(k, v)| MetricPoint {
                key: format!("train_{k}"),
                value: v,
                step: 0,
                timestamp_ms: now,
            })
            .collect();
        tracker.log_metrics(&run, &points)?;
    }
    if let Ok(spec) = model.describe() {
        let json = serde_json::to_vec_pretty(&spec).map_err(|e| ml_core::Error::Unsupported(e.to_string()))?;
        tracker.log_artifact(&run, "model/spec.json", &json)?;
    }
    Provenance::collect().with_dataset(data).record(tracker, &run)?;
    guard.end(RunStatus::Finished)?;
    Ok((model, run))
}
