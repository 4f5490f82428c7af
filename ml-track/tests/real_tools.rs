//! What ml-track writes, read by the real MLflow (MlflowClient, `mlflow
//! migrate-filestore`) and TensorBoard (EventAccumulator, tbparse).
//!
//! These need the Python reference tools: `scripts/test.sh` installs them and
//! runs these tests with `MLSDK_PYTHON=.venv/bin/python -- --include-ignored`.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

mod common;

use std::path::Path;
use std::process::Command;

use ml_core::{MetricPoint, RunStatus, Tracker};
use ml_track::{MlflowStore, Provenance, TensorBoardWriter};
use serde_json::{Value, json};

fn python() -> String {
    std::env::var("MLSDK_PYTHON").expect("set MLSDK_PYTHON to the .venv python (scripts/test.sh does)")
}

fn check(kind: &str, root: &Path, expected: &Value) {
    let file = root.with_extension("expected.json");
    std::fs::write(&file, serde_json::to_vec_pretty(expected).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/check_tracking.py");
    let out = Command::new(python())
        .args([script, kind, root.to_str().unwrap(), file.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{kind} check failed:\n{text}");
    println!("{}", text.lines().last().unwrap_or(""));
}

/// JSON has no NaN or infinity: the checker reads these strings with `float()`.
fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        json!(format!("{v}").to_lowercase())
    }
}

fn point(key: &str, value: f64, step: i64) -> MetricPoint {
    MetricPoint {
        key: key.into(),
        value,
        step,
        timestamp_ms: 1_700_000_000_000 + 10 * step,
    }
}

#[test]
#[ignore = "a helper that other tests spawn as a separate process"]
fn child_writer() {
    common::child_writer_body();
}

#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn mlflow_reads_and_migrates_our_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = MlflowStore::open(&root).unwrap();

    let run = store.start_run("ml-sdk interop", Some("logistic c=0.5")).unwrap();
    let params = vec![
        ("c".to_string(), "0.5".to_string()),
        ("model/kind".to_string(), "logistic".to_string()),
    ];
    store.log_params(&run, &params).unwrap();
    let metrics: Vec<MetricPoint> = (0..50)
        .map(|i| point("train/loss", 1.0 / (1.0 + i as f64), i))
        .chain([point("accuracy", 0.97, 0)])
        .collect();
    store.log_metrics(&run, &metrics).unwrap();
    store.set_tags(&run, &[("team".into(), "ml-sdk".into())]).unwrap();
    store
        .log_artifact(&run, "notes/readme.txt", b"trained by ml-sdk\n")
        .unwrap();
    Provenance::collect()
        .with_data_bytes(b"x,y\n1,0\n")
        .record(&store, &run)
        .unwrap();
    store.end_run(&run, RunStatus::Finished).unwrap();

    let failed = store.start_run("ml-sdk interop", Some("failed one")).unwrap();
    store
        .log_metrics(&failed, &[point("loss", f64::NAN, 0), point("loss", f64::INFINITY, 1)])
        .unwrap();
    store.end_run(&failed, RunStatus::Failed).unwrap();

    // A writer killed mid-run leaves a RUNNING run that MLflow still reads.
    let killed = store.start_run("ml-sdk interop", Some("killed")).unwrap();
    let mut child = common::spawn_writer(&root, &killed, "steps", 0);
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_steps = store.run(&killed.0).unwrap().metrics["steps"].clone();

    // A logged model with its MLmodel, registered twice, with an alias.
    let signature = ml_core::Signature {
        inputs: vec![
            ml_core::InputColumn::numeric("mean radius"),
            ml_core::InputColumn {
                name: "color".into(),
                kind: ml_core::FeatureKind::Categorical {
                    categories: vec!["red".into(), "blue".into()],
                },
            },
        ],
        unknown_category: Default::default(),
        task: ml_core::Task::Classification {
            classes: vec!["a".into(), "b".into()],
        },
        accepts_missing: false,
    };
    ml_track::log_model(
        &store,
        &run,
        "model",
        "model.mlsdk",
        b"model bytes",
        &signature,
        &[("trainer", "logistic")],
    )
    .unwrap();
    let v1 = store.register_model("breast-cancer", &run, "model").unwrap();
    let v2 = store.register_model("breast-cancer", &run, "model").unwrap();
    store.set_alias("breast-cancer", "champion", v1.version).unwrap();
    store.set_alias("breast-cancer", "challenger", v2.version).unwrap();
    assert_eq!(store.resolve_alias("breast-cancer", "latest").unwrap().version, 2);

    let doomed = store.start_run("to delete", None).unwrap();
    let doomed_exp = store.run(&doomed.0).unwrap().info.experiment_id;
    store.delete_experiment(&doomed_exp).unwrap();

    let points = |ms: &[MetricPoint]| -> Vec<Value> {
        ms.iter()
            .map(|m| json!({"step": m.step, "timestamp_ms": m.timestamp_ms, "value": num(m.value)}))
            .collect()
    };
    let mut loss = std::collections::BTreeMap::new();
    for m in &metrics {
        loss.entry(m.key.clone()).or_insert_with(Vec::new).push(m.clone());
    }
    let rec = store.run(&run.0).unwrap();
    let expected = json!({
        "experiments": [{
            "name": "ml-sdk interop",
            "runs": [
                {
                    "run_id": run.0, "run_name": "logistic c=0.5", "status": "FINISHED",
                    "params": {"c": "0.5", "model/kind": "logistic"},
                    "tags": {"team": "ml-sdk", "mlflow.runName": "logistic c=0.5",
                             "mlsdk.data.sha256": rec.tags["mlsdk.data.sha256"]},
                    "metrics": {"train/loss": points(&loss["train/loss"]), "accuracy": points(&loss["accuracy"])},
                    "artifact_dir": "notes", "artifacts": ["notes/readme.txt"],
                    "artifact_text": {"notes/readme.txt": "trained by ml-sdk\n"},
                },
                {
                    "run_id": failed.0, "run_name": "failed one", "status": "FAILED", "params": {}, "tags": {},
                    "metrics": {"loss": [{"step": 0, "timestamp_ms": 1_700_000_000_000i64, "value": num(f64::NAN)}, {"step": 1, "timestamp_ms": 1_700_000_000_010i64, "value": num(f64::INFINITY)}]},
                },
                {
                    "run_id": killed.0, "run_name": "killed", "status": "RUNNING", "params": {}, "tags": {},
                    "metrics": {"steps": points(&killed_steps)},
                },
            ],
        }],
        "deleted_experiment": doomed_exp,
        "registry": {
            "name": "breast-cancer",
            "versions": [
                {"version": 1, "run_id": run.0, "source": format!("runs:/{}/model", run.0)},
                {"version": 2, "run_id": run.0, "source": format!("runs:/{}/model", run.0)},
            ],
            "aliases": {"champion": 1, "challenger": 2},
            "model_uri": format!("runs:/{}/model", run.0),
            "signature_inputs": ["mean radius", "color"],
        },
    });
    check("mlflow", &root, &expected);
}

/// A hyper-parameter search as MLflow's autologging records `GridSearchCV`:
/// MlflowClient lists the finished child runs under the parent (the
/// `mlflow.parentRunId` tag the UI nests them by), with their parameters
/// and scores, and the parent with the best ones.
#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn mlflow_reads_a_search_as_a_parent_with_child_runs() {
    use ml_core::search::{Candidate, SearchOutcome};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let store = MlflowStore::open(&root).unwrap();
    let parent = store.start_run("tuning", Some("tune logistic")).unwrap();
    let candidate = |c: &str, scores: &[f64]| Candidate {
        params: vec![("c".into(), c.into())],
        scores: ml_core::CvScores {
            scores: scores.to_vec(),
        },
    };
    let outcome = SearchOutcome {
        candidates: vec![
            candidate("0.1", &[0.90, 0.92, 0.91]),
            candidate("1", &[0.95, 0.94, 0.96]),
        ],
        best: 1,
    };
    let children = ml_track::log_search(&store, "tuning", &parent, "tune logistic", &outcome).unwrap();
    store.end_run(&parent, RunStatus::Finished).unwrap();
    let expect_run = |id: &ml_core::RunId, name: &str, tags: Value| {
        let rec = store.run(&id.0).unwrap();
        let metrics: serde_json::Map<String, Value> = rec
            .metrics
            .iter()
            .map(|(k, ms)| {
                let pts: Vec<Value> = ms
                    .iter()
                    .map(|m| json!({"step": m.step, "timestamp_ms": m.timestamp_ms, "value": num(m.value)}))
                    .collect();
                (k.clone(), Value::Array(pts))
            })
            .collect();
        json!({"run_id": id.0, "run_name": name, "status": "FINISHED", "params": rec.params,
               "tags": tags, "metrics": metrics})
    };
    let mut runs = vec![expect_run(&parent, "tune logistic", json!({}))];
    for (i, child) in children.iter().enumerate() {
        let run = expect_run(
            child,
            &format!("tune logistic-{i}"),
            json!({ml_track::PARENT_RUN_TAG: parent.0}),
        );
        assert_eq!(run["params"], json!({"c": outcome.candidates[i].params[0].1}));
        assert!(run["metrics"]["mean_test_score"].is_array() && run["metrics"]["split2_test_score"].is_array());
        runs.push(run);
    }
    assert_eq!(runs[0]["params"]["best_c"], "1");
    check(
        "mlflow",
        &root,
        &json!({"experiments": [{"name": "tuning", "runs": runs}]}),
    );
}

#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn tensorboard_and_tbparse_read_our_events() {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("tb");
    let tb = TensorBoardWriter::new(&logdir).unwrap();
    let run = tb.start_run("exp", Some("run a")).unwrap();
    let scalars: Vec<MetricPoint> = (0..200).map(|i| point("loss", (i as f64 * 0.1).sin(), i)).collect();
    tb.log_metrics(&run, &scalars).unwrap();
    tb.log_params(
        &run,
        &[
            ("lr".into(), "0.01".into()),
            ("optimizer".into(), "adam".into()),
            ("trees".into(), "100".into()),
        ],
    )
    .unwrap();
    let values: Vec<f64> = (0..1000).map(|i| (i as f64).sqrt()).collect();
    tb.with_run(&run, |f| f.histogram("weights", &values, 30, 0)).unwrap();
    tb.end_run(&run, RunStatus::Finished).unwrap();

    let expected = json!({"runs": [{
        "dir": "exp/run_a",
        "scalars": {"loss": scalars.iter().map(|m| json!({"step": m.step, "value": m.value as f32 as f64})).collect::<Vec<_>>()},
        "histograms": {"weights": {"num": 1000.0, "sum": values.iter().sum::<f64>(), "min": 0.0, "max": values[999]}},
        "hparams": {"lr": 0.01, "optimizer": "adam", "trees": 100.0},
        "session_status": "STATUS_SUCCESS",
    }]});
    check("tensorboard", &logdir, &expected);
}
