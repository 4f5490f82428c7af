//! Explanations and fairness reports logged through ml-track's MLflow store,
//! read back by the real MLflow (MlflowClient and `mlflow migrate-filestore`,
//! through `scripts/check_tracking.py`): the metric histories and the JSON
//! artifacts are what we logged. Needs the Python reference tools:
//! `scripts/test.sh` runs it with `MLSDK_PYTHON=.venv/bin/python -- --include-ignored`.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::{Dataset, Explainer, Model, Predictions, RunStatus, Tracker, Trainer};
use ml_interpret::{GroupMetric, MetricFrame, TreeShap, log_explanation, log_fairness, parity_measures};
use ml_learn::Pipeline;
use ml_track::MlflowStore;
use serde_json::{Value, json};

mod common;

/// The expected run as check_tracking.py reads it: every metric's points
/// as the store recorded them, the artifacts under `dir` with their text.
fn expected_run(
    store: &MlflowStore,
    run: &ml_core::RunId,
    name: &str,
    dir: &str,
    artifacts: &[(&str, &[u8])],
) -> Value {
    let rec = store.run(&run.0).unwrap();
    assert!(!rec.metrics.is_empty());
    let metrics: serde_json::Map<String, Value> = rec
        .metrics
        .iter()
        .map(|(k, ps)| {
            let points: Vec<Value> = ps
                .iter()
                .map(|p| json!({"step": p.step, "timestamp_ms": p.timestamp_ms, "value": p.value}))
                .collect();
            (k.clone(), json!(points))
        })
        .collect();
    json!({
        "run_id": run.0, "run_name": name, "status": "FINISHED", "params": {}, "tags": {},
        "metrics": metrics, "artifact_dir": dir,
        "artifacts": artifacts.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        "artifact_text": artifacts.iter().map(|(p, t)| (p.to_string(), json!(String::from_utf8(t.to_vec()).unwrap()))).collect::<serde_json::Map<_, _>>(),
    })
}

#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn mlflow_reads_logged_explanations_and_fairness_reports() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = MlflowStore::open(&root).unwrap();

    // TreeSHAP of a small forest on breast_cancer: per-feature mean |φ| as
    // metrics (feature names with spaces), the explanation as JSON.
    let bc = ml_datasets::load("breast_cancer").unwrap();
    let forest = Pipeline::from_params(
        "forest",
        &common::params(&[("n_trees", "10"), ("max_depth", "4")]),
        Some(1),
    )
    .unwrap()
    .fit(&bc)
    .unwrap();
    let rows: Vec<usize> = (0..40).collect();
    let sample: Dataset = bc.select_rows(&rows).unwrap();
    let explanation = TreeShap::path_dependent().explain(&forest, &sample).unwrap();
    let shap_run = store.start_run("interpret interop", Some("tree shap")).unwrap();
    log_explanation(&store, &shap_run, &explanation).unwrap();
    store.end_run(&shap_run, RunStatus::Finished).unwrap();
    let shap_json = serde_json::to_vec_pretty(&explanation).unwrap();
    let shap_file = format!("explanations/{}.json", explanation.method);
    let logged = store.run(&shap_run.0).unwrap();
    assert_eq!(logged.metrics.len(), explanation.feature_names.len());
    assert!(
        logged
            .metrics
            .contains_key(&format!("{}_mean_abs/mean radius", explanation.method))
    );

    // Fairness of a logistic model on German credit by sex.
    let (german, y, groups) = common::german_credit();
    let model = Pipeline::from_params("logistic", &[], None)
        .unwrap()
        .fit(&german)
        .unwrap();
    let Predictions::Classification { labels: pred, .. } = model.predict(german.features()).unwrap() else {
        panic!("a classifier")
    };
    let pred = pred.to_vec();
    let columns = [(german.sensitive()[0].name.as_str(), groups.as_slice())];
    let frame = MetricFrame::new(
        &[
            GroupMetric::Accuracy,
            GroupMetric::SelectionRate,
            GroupMetric::TruePositiveRate,
        ],
        &y,
        &pred,
        &columns,
        1,
    )
    .unwrap();
    let parity = parity_measures(&y, &pred, &columns, 1).unwrap();
    let fair_run = store.start_run("interpret interop", Some("fairness")).unwrap();
    log_fairness(&store, &fair_run, &frame, &parity).unwrap();
    store.end_run(&fair_run, RunStatus::Finished).unwrap();
    let report = serde_json::to_vec_pretty(&json!({"metric_frame": frame, "parity": parity})).unwrap();
    let logged = store.run(&fair_run.0).unwrap();
    assert!(logged.metrics.contains_key("fairness/demographic_parity_difference"));
    assert!(logged.metrics.contains_key("fairness/overall_accuracy"));

    let expected = json!({
        "experiments": [{
            "name": "interpret interop",
            "runs": [
                expected_run(&store, &shap_run, "tree shap", "explanations", &[(&shap_file, &shap_json)]),
                expected_run(&store, &fair_run, "fairness", "fairness", &[("fairness/report.json", &report)]),
            ],
        }],
    });
    let file = dir.path().join("expected.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&expected).unwrap()).unwrap();
    let python = std::env::var("MLSDK_PYTHON").expect("set MLSDK_PYTHON to the .venv python (scripts/test.sh does)");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/check_tracking.py");
    let out = std::process::Command::new(python)
        .args([script, "mlflow", root.to_str().unwrap(), file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "MLflow read back something else:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
