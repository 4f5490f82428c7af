//! The MLflow file store's readers on arbitrary file contents: the first
//! byte picks which file of a small, valid store is replaced (a run's or an
//! experiment's meta.yaml, a metric, a param, a tag, a registered model's
//! or version's meta.yaml, an alias), the rest is its new content; then
//! everything the store reads is read. Any panic is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ml_core::{MetricPoint, RunStatus, Tracker};
use ml_track::MlflowStore;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, content)) = data.split_first() else {
        return;
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let Ok(store) = MlflowStore::open(dir.path()) else { return };
    let Ok(run) = store.start_run("fuzz", Some("r")) else { return };
    let point = MetricPoint {
        key: "m".into(),
        value: 1.0,
        step: 0,
        timestamp_ms: 1,
    };
    let _ = store.log_metrics(&run, &[point]);
    let _ = store.log_params(&run, &[("p".into(), "1".into())]);
    let _ = store.end_run(&run, RunStatus::Finished);
    let _ = store.register_model("model", &run, "model");
    let _ = store.set_alias("model", "champion", 1);
    let Ok(info) = store.run(&run.0).map(|r| r.info) else { return };
    let run_dir = dir.path().join(&info.experiment_id).join(&run.0);
    let models = dir.path().join("models").join("model");
    let targets = [
        run_dir.join("meta.yaml"),
        dir.path().join(&info.experiment_id).join("meta.yaml"),
        run_dir.join("metrics").join("m"),
        run_dir.join("params").join("p"),
        run_dir.join("tags").join("mlflow.runName"),
        models.join("meta.yaml"),
        models.join("version-1").join("meta.yaml"),
        models.join("aliases").join("champion"),
    ];
    let _ = std::fs::write(&targets[usize::from(pick) % targets.len()], content);
    if let Ok(experiments) = store.experiments() {
        for e in experiments {
            let _ = store.runs(&e.experiment_id);
        }
    }
    let _ = store.run(&run.0);
    let _ = store.metric_history(&run.0, "m");
    if let Ok(names) = store.registered_models() {
        for name in names {
            let _ = store.model_versions(&name);
        }
    }
    let _ = store.resolve_alias("model", "champion");
});
