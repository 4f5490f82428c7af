//! The MLflow file store on its own: round trips, MLflow's rules, concurrent
//! writers (threads and processes), runs that end by panic.

mod common;

use std::sync::Arc;

use ml_core::{MetricPoint, RunId, RunStatus, Tracker};
use ml_track::{Error, FanOutTracker, MlflowStore, Provenance, RunGuard, TensorBoardWriter};

fn metric(key: &str, value: f64, step: i64) -> MetricPoint {
    MetricPoint {
        key: key.into(),
        value,
        step,
        timestamp_ms: 1_700_000_000_000 + step,
    }
}

fn track_err(e: ml_core::Error) -> Error {
    match e {
        ml_core::Error::Backend { source, .. } => *source.downcast::<Error>().expect("an ml-track error"),
        other => panic!("unexpected {other}"),
    }
}

#[test]
#[ignore = "a helper that other tests spawn as a separate process"]
fn child_writer() {
    // Only does work when spawned by another test (see common::spawn_writer).
    common::child_writer_body();
}

#[test]
fn logs_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = MlflowStore::open(dir.path()).unwrap();
    let run = store.start_run("exp one", Some("first")).unwrap();
    store
        .log_params(&run, &[("c".into(), "0.5".into()), ("nested/key".into(), "x y".into())])
        .unwrap();
    store
        .log_metrics(
            &run,
            &[
                metric("loss", 1.5, 0),
                metric("loss", 0.25, 1),
                metric("acc", f64::NAN, 0),
            ],
        )
        .unwrap();
    store.set_tags(&run, &[("team".into(), "ml".into())]).unwrap();
    store.log_artifact(&run, "model/model.mlsdk", b"bytes").unwrap();
    store.end_run(&run, RunStatus::Finished).unwrap();

    let rec = store.run(&run.0).unwrap();
    assert_eq!(rec.info.run_name, "first");
    assert_eq!(rec.info.status, RunStatus::Finished);
    assert!(rec.info.end_time.is_some());
    assert_eq!(rec.params["nested/key"], "x y");
    assert_eq!(rec.tags["team"], "ml");
    assert_eq!(rec.tags["mlflow.runName"], "first");
    let loss: Vec<(i64, f64)> = rec.metrics["loss"].iter().map(|m| (m.step, m.value)).collect();
    assert_eq!(loss, vec![(0, 1.5), (1, 0.25)]);
    assert!(rec.metrics["acc"][0].value.is_nan());
    let art = store
        .root()
        .join(&rec.info.experiment_id)
        .join(&run.0)
        .join("artifacts/model/model.mlsdk");
    assert_eq!(std::fs::read(art).unwrap(), b"bytes");

    // The same experiment name resolves to the same experiment.
    let again = store.start_run("exp one", None).unwrap();
    assert_eq!(store.run(&again.0).unwrap().info.experiment_id, rec.info.experiment_id);
    let names: Vec<String> = store.experiments().unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, vec!["Default", "exp one"]);
    assert_eq!(store.runs(&rec.info.experiment_id).unwrap().len(), 2);
}

#[test]
fn mlflow_rules_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = MlflowStore::open(dir.path()).unwrap();
    let run = store.start_run("e", None).unwrap();
    store.log_params(&run, &[("p".into(), "1".into())]).unwrap();
    store.log_params(&run, &[("p".into(), "1".into())]).unwrap(); // same value: fine, as in MLflow
    let e = track_err(store.log_params(&run, &[("p".into(), "2".into())]).unwrap_err());
    assert!(
        matches!(e, Error::Conflict(_)) && e.error_code() == "INVALID_PARAMETER_VALUE",
        "{e}"
    );

    for bad in ["", "../x", "a//b", "a*b"] {
        let e = track_err(store.log_metrics(&run, &[metric(bad, 1.0, 0)]).unwrap_err());
        assert!(matches!(e, Error::Invalid { .. }), "{bad}: {e}");
    }
    let long = "v".repeat(6001);
    assert!(matches!(
        track_err(store.log_params(&run, &[("q".into(), long)]).unwrap_err()),
        Error::Invalid { .. }
    ));
    assert!(matches!(
        track_err(store.log_artifact(&run, "../../escape", b"x").unwrap_err()),
        Error::Invalid { .. }
    ));
    let ghost = RunId("0123456789abcdef0123456789abcdef".into());
    let e = track_err(store.log_metrics(&ghost, &[metric("m", 1.0, 0)]).unwrap_err());
    assert_eq!(e.error_code(), "RESOURCE_DOES_NOT_EXIST");
    assert!(matches!(
        track_err(store.start_run("two\nlines", None).unwrap_err()),
        Error::Invalid { .. }
    ));
    // Nothing invalid reached the disk.
    let rec = store.run(&run.0).unwrap();
    assert_eq!(rec.params.len(), 1);
    assert!(rec.metrics.is_empty());
}

#[test]
fn deleted_experiments_move_to_trash() {
    let dir = tempfile::tempdir().unwrap();
    let store = MlflowStore::open(dir.path()).unwrap();
    let run = store.start_run("doomed", None).unwrap();
    let id = store.run(&run.0).unwrap().info.experiment_id;
    store.delete_experiment(&id).unwrap();
    assert!(dir.path().join(".trash").join(&id).join("meta.yaml").exists());
    assert!(store.experiment_by_name("doomed").unwrap().is_none());
    // A new experiment of the same name is a different one.
    let run2 = store.start_run("doomed", None).unwrap();
    assert_ne!(store.run(&run2.0).unwrap().info.experiment_id, id);
}

#[test]
fn eight_threads_and_two_processes_lose_no_metric_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MlflowStore::open(dir.path()).unwrap());
    let run = store.start_run("concurrent", None).unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| common::spawn_writer(dir.path(), &run, "shared", 500))
        .collect();
    std::thread::scope(|s| {
        for t in 0..8 {
            let store = Arc::clone(&store);
            let run = run.clone();
            s.spawn(move || {
                for i in 0..500 {
                    store
                        .log_metrics(&run, &[metric("shared", (t * 1000 + i) as f64, i)])
                        .unwrap();
                }
            });
        }
    });
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let rec = store.run(&run.0).unwrap();
    assert_eq!(rec.metrics["shared"].len(), 8 * 500 + 2 * 500);
    // Every thread's values are all there.
    for t in 0..8 {
        let mine = rec.metrics["shared"]
            .iter()
            .filter(|m| (m.value as i64) / 1000 == t && m.value >= 1000.0 * t as f64)
            .count();
        assert!(mine >= 500, "thread {t}: {mine}");
    }
}

#[test]
fn a_killed_writer_leaves_a_readable_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = MlflowStore::open(dir.path()).unwrap();
    let run = store.start_run("killed", None).unwrap();
    let mut child = common::spawn_writer(dir.path(), &run, "steps", 0);
    std::thread::sleep(std::time::Duration::from_millis(400));
    child.kill().unwrap();
    child.wait().unwrap();
    let rec = store.run(&run.0).unwrap();
    assert_eq!(rec.info.status, RunStatus::Running);
    assert!(!rec.metrics["steps"].is_empty());
    // Steps are consecutive from 0: no torn or lost line before the kill.
    for (i, m) in rec.metrics["steps"].iter().enumerate() {
        assert_eq!(m.step, i as i64);
    }
}

#[test]
fn run_guard_marks_panics_killed_and_forgotten_runs_failed() {
    let dir = tempfile::tempdir().unwrap();
    let store = MlflowStore::open(dir.path()).unwrap();
    let run = store.start_run("guarded", None).unwrap();
    let id = run.0.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = RunGuard::new(&store, run);
        panic!("training blew up");
    }));
    assert!(result.is_err());
    assert_eq!(store.run(&id).unwrap().info.status, RunStatus::Killed);

    let run = store.start_run("guarded", None).unwrap();
    let id = run.0.clone();
    drop(RunGuard::new(&store, run));
    assert_eq!(store.run(&id).unwrap().info.status, RunStatus::Failed);

    let run = store.start_run("guarded", None).unwrap();
    let id = run.0.clone();
    RunGuard::new(&store, run).end(RunStatus::Finished).unwrap();
    assert_eq!(store.run(&id).unwrap().info.status, RunStatus::Finished);
}

#[test]
fn fan_out_logs_to_every_back_end_with_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let fan = FanOutTracker::new(vec![
        Box::new(MlflowStore::open(dir.path().join("mlruns")).unwrap()),
        Box::new(TensorBoardWriter::new(dir.path().join("tb")).unwrap()),
    ]);
    let run = fan.start_run("fan", Some("both")).unwrap();
    fan.log_metrics(&run, &[metric("loss", 1.0, 0)]).unwrap();
    Provenance::collect()
        .with_data_bytes(b"a,b\n1,2\n")
        .record(&fan, &run)
        .unwrap();
    let ids = fan.backend_runs(&run).unwrap();
    fan.end_run(&run, RunStatus::Finished).unwrap();

    let store = MlflowStore::open(dir.path().join("mlruns")).unwrap();
    let rec = store.run(&ids[0].0).unwrap();
    assert_eq!(rec.metrics["loss"][0].value, 1.0);
    assert_eq!(rec.tags["mlsdk.data.sha256"], ml_core::io::sha256_hex(b"a,b\n1,2\n"));
    assert!(rec.tags["mlsdk.rustc"].starts_with("rustc "));
    assert!(rec.tags.contains_key("mlsdk.command"));
    let tb_dir = dir.path().join("tb").join("fan").join("both");
    let files: Vec<_> = std::fs::read_dir(tb_dir).unwrap().collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn registry_versions_and_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let store = MlflowStore::open(dir.path()).unwrap();
    let run = store.start_run("reg", None).unwrap();
    // Registering needs the artifact to exist.
    assert!(matches!(
        store.register_model("m", &run, "model").unwrap_err(),
        Error::NotFound { .. }
    ));
    store.log_artifact(&run, "model/model.mlsdk", b"x").unwrap();
    let v1 = store.register_model("m", &run, "model").unwrap();
    let v2 = store.register_model("m", &run, "model").unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(v2.source, format!("runs:/{}/model", run.0));
    store.set_alias("m", "champion", 1).unwrap();
    assert_eq!(store.resolve_alias("m", "champion").unwrap().version, 1);
    assert_eq!(store.resolve_alias("m", "latest").unwrap().version, 2);
    store.set_alias("m", "champion", 2).unwrap();
    let versions = store.model_versions("m").unwrap();
    assert_eq!(versions[1].aliases, vec!["champion"]);
    assert!(versions[0].aliases.is_empty());
    for bad in ["latest", "v3", "has space", ""] {
        assert!(
            matches!(store.set_alias("m", bad, 1).unwrap_err(), Error::Invalid { .. }),
            "{bad}"
        );
    }
    assert!(matches!(
        store.set_alias("m", "gold", 9).unwrap_err(),
        Error::NotFound { .. }
    ));
    assert!(matches!(
        store.register_model("a/b", &run, "model").unwrap_err(),
        Error::Invalid { .. }
    ));
    store.delete_alias("m", "champion").unwrap();
    assert!(store.resolve_alias("m", "champion").is_err());
    assert_eq!(store.registered_models().unwrap(), vec!["m"]);
}

#[test]
fn fit_and_log_records_a_training_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = MlflowStore::open(dir.path()).unwrap();
    let data = ml_datasets::iris().unwrap();
    let trainer = ml_learn::Pipeline::from_params("tree", &[("max_depth".into(), "3".into())], Some(1)).unwrap();
    let (model, run) = ml_track::fit_and_log(&store, "library", Some("tree"), &trainer, &data).unwrap();
    let rec = store.run(&run.0).unwrap();
    assert_eq!(rec.info.status, RunStatus::Finished);
    assert_eq!(rec.params["max_depth"], "3");
    assert_eq!(rec.params["seed"], "1");
    assert_eq!(rec.params["trainer"], "tree");
    let acc = rec.metrics["train_accuracy"][0].value;
    let pred = model.predict(data.features()).unwrap();
    assert_eq!(acc, ml_core::metrics::evaluate(&data, &pred).unwrap()["accuracy"]);
    assert!(rec.tags.contains_key("mlsdk.data.sha256"));
    let exp = rec.info.experiment_id;
    // The model loads back from the run as `mlsdk train --tracking-uri` logs it.
    let artifacts = dir.path().join(exp).join(&run.0).join("artifacts/model");
    let saved = ml_core::SavedModel::load(&artifacts).unwrap();
    assert_eq!(saved.spec, model.describe().unwrap());
    assert_eq!(saved.trainer, "tree");
    assert!(
        std::fs::read_to_string(artifacts.join("MLmodel"))
            .unwrap()
            .contains("model.mlsdk")
    );
    let fetched = ml_track::fetch_model(
        &ml_track::ModelUri::parse(&format!("runs:/{}/model", run.0)).unwrap(),
        Some(&store),
    )
    .unwrap();
    assert_eq!(ml_core::SavedModel::load(fetched.path()).unwrap(), saved);

    // A trainer that fails leaves a FAILED run.
    let linear = ml_learn::Pipeline::from_params("linear", &[], None).unwrap();
    assert!(ml_track::fit_and_log(&store, "library", Some("bad"), &linear, &data).is_err());
    let runs = store
        .runs(&store.experiment_by_name("library").unwrap().unwrap().experiment_id)
        .unwrap();
    assert!(
        runs.iter()
            .any(|r| r.run_name == "bad" && r.status == RunStatus::Failed)
    );
}

#[test]
fn the_store_reads_back_through_the_tracking_store_trait() {
    use ml_track::{ModelUri, TrackingStore, fetch_model, open_existing_store};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    assert!(open_existing_store(root.to_str().unwrap()).is_err());
    let store = MlflowStore::open(&root).unwrap();
    let run = store.start_run("reads", Some("r")).unwrap();
    store.log_artifact(&run, "model/MLmodel", b"flavors: {}\n").unwrap();
    store.log_artifact(&run, "model/sub/weights.bin", &[1, 2, 3]).unwrap();
    store
        .log_metrics(
            &run,
            &[MetricPoint {
                key: "loss".into(),
                value: 0.25,
                step: 3,
                timestamp_ms: 7,
            }],
        )
        .unwrap();
    store.end_run(&run, RunStatus::Finished).unwrap();
    let read: Box<dyn TrackingStore> = open_existing_store(root.to_str().unwrap()).unwrap();
    let listed = read.list_artifacts(&run.0, "model").unwrap();
    let names: Vec<(&str, bool)> = listed.iter().map(|e| (e.path.as_str(), e.is_dir)).collect();
    assert_eq!(names, [("model/MLmodel", false), ("model/sub", true)]);
    assert_eq!(
        read.download_artifact(&run.0, "model/sub/weights.bin").unwrap(),
        [1, 2, 3]
    );
    assert!(read.download_artifact(&run.0, "model/../../x").is_err());
    assert!(read.download_artifact(&run.0, "model/missing").is_err());
    assert_eq!(read.metric_history(&run.0, "loss").unwrap()[0].step, 3);
    assert_eq!(
        read.runs(&read.experiment_by_name("reads").unwrap().unwrap().experiment_id)
            .unwrap()
            .len(),
        1
    );

    // A copy of a directory holds every file; a failed copy leaves nothing.
    let out = dir.path().join("copy");
    let copied = read.download_artifacts(&run.0, "model", &out).unwrap();
    assert_eq!(copied, out.join("model"));
    assert_eq!(std::fs::read(copied.join("sub/weights.bin")).unwrap(), [1, 2, 3]);
    assert!(read.download_artifacts(&run.0, "model", &out).is_err(), "dest exists");
    let failed = dir.path().join("failed");
    assert!(read.download_artifacts(&run.0, "model/missing", &failed).is_err());
    assert!(!failed.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".mlsdk-download"))
        .collect();
    assert!(leftovers.is_empty());

    // The registry through the trait, and URIs resolved against it.
    let v = read.register_model("m", &run, "model").unwrap();
    read.set_alias("m", "champion", v.version).unwrap();
    for uri in ["models:/m@champion", "models:/m/1", &format!("runs:/{}/model", run.0)] {
        let fetched = fetch_model(&ModelUri::parse(uri).unwrap(), Some(read.as_ref())).unwrap();
        assert!(fetched.path().join("MLmodel").is_file(), "{uri}");
    }
    assert!(fetch_model(&ModelUri::parse("models:/m/2").unwrap(), Some(read.as_ref())).is_err());
    assert!(fetch_model(&ModelUri::parse("models:/m@nope").unwrap(), Some(read.as_ref())).is_err());
    assert!(fetch_model(&ModelUri::parse("models:/m@champion").unwrap(), None).is_err());
}

#[test]
fn malformed_meta_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = MlflowStore::open(dir.path()).unwrap();
    let run = store.start_run("exp", None).unwrap();
    store.end_run(&run, RunStatus::Finished).unwrap();
    let info = store.run(&run.0).unwrap().info;
    let meta = dir.path().join(&info.experiment_id).join(&run.0).join("meta.yaml");
    let good = std::fs::read_to_string(&meta).unwrap();
    let cases = [
        ("a: b\n".to_string(), "no 'run_id'"),
        (good.replace("status: 3", "status: 9"), "unknown run status '9'"),
        (
            good.lines()
                .map(|l| {
                    if l.starts_with("start_time") {
                        "start_time: soon"
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
            "'start_time' is not a time",
        ),
        (
            good.replace(&run.0, "0123456789abcdef0123456789abcdef"),
            "is not its directory's name",
        ),
    ];
    for (text, needle) in cases {
        std::fs::write(&meta, &text).unwrap();
        let Err(e) = store.run(&run.0) else {
            panic!("accepted: {text}")
        };
        assert!(matches!(e, Error::Malformed { .. }), "{text}: {e:?}");
        let shown = e.to_string();
        assert!(shown.contains("meta.yaml") && shown.contains(needle), "{shown}");
    }
    std::fs::write(&meta, &good).unwrap();
    let exp_meta = dir.path().join(&info.experiment_id).join("meta.yaml");
    std::fs::write(&exp_meta, "experiment_id: '1'\n").unwrap();
    let e = store.experiments().unwrap_err().to_string();
    assert!(e.contains("no 'name'"), "{e}");
}

#[cfg(unix)]
#[test]
fn artifact_paths_stay_inside_the_run() {
    use ml_track::TrackingStore;
    let dir = tempfile::tempdir().unwrap();
    let store = MlflowStore::open(dir.path().join("mlruns")).unwrap();
    let run = store.start_run("exp", None).unwrap();
    store.log_artifact(&run, "model/model.txt", b"inside").unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"outside").unwrap();
    let info = store.run(&run.0).unwrap().info;
    let artifacts = dir
        .path()
        .join("mlruns")
        .join(&info.experiment_id)
        .join(&run.0)
        .join("artifacts");
    std::os::unix::fs::symlink(&outside, artifacts.join("link")).unwrap();

    assert_eq!(store.download_artifact(&run.0, "model/model.txt").unwrap(), b"inside");
    for path in ["link/secret.txt", "link", "../../../outside/secret.txt", "/etc/passwd"] {
        let read = store.download_artifact(&run.0, path);
        assert!(matches!(read, Err(Error::Invalid { .. })), "{path}: {read:?}");
        let located = store.local_artifact_path(&run.0, path);
        assert!(matches!(located, Err(Error::Invalid { .. })), "{path}: {located:?}");
    }
    assert!(store.list_artifacts(&run.0, "link").is_err());

    // A model read in place: a link inside it that leads out is refused too.
    std::os::unix::fs::symlink(outside.join("secret.txt"), artifacts.join("model/extra.txt")).unwrap();
    let uri = ml_track::ModelUri::parse(&format!("runs:/{}/model", run.0)).unwrap();
    let fetched = ml_track::fetch_model(&uri, Some(&store));
    assert!(matches!(fetched, Err(Error::Invalid { .. })), "{:?}", fetched.err());
    std::fs::remove_file(artifacts.join("model/extra.txt")).unwrap();
    assert!(ml_track::fetch_model(&uri, Some(&store)).is_ok());
}
