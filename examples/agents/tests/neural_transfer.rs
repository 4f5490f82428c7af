#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
//! The transfer-learning example runs end to end (few epochs) and leaves
//! what it says: curves in MLflow and TensorBoard, a checkpoint, a
//! registered model with its ONNX export.

#[test]
fn neural_transfer_pretrains_fine_tunes_tracks_and_registers() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_neural_transfer"))
        .args([dir.path().to_str().unwrap(), "12"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for step in [
        "1. pretrained",
        "2. saved its checkpoint",
        "3. fine-tuned",
        "4. from scratch",
        "5. logged",
    ] {
        assert!(text.contains(step), "no {step:?} in:\n{text}");
    }
    assert!(dir.path().join("pretrained").read_dir().unwrap().count() > 0);
    assert!(dir.path().join("model/model.mlsdk").is_file());
    let store = ml_sdk::track::MlflowStore::open(dir.path().join("mlruns")).unwrap();
    let experiment = store.experiment_by_name("neural_transfer").unwrap().unwrap();
    let runs = store.runs(&experiment.experiment_id).unwrap();
    assert_eq!(runs.len(), 4, "pretrain, fine-tune, scratch and the model's run");
    let mut by_name = std::collections::HashMap::new();
    for r in &runs {
        let record = store.run(&r.run_id).unwrap();
        by_name.insert(record.info.run_name.clone(), record);
    }
    // Fine-tuning logs the head's epochs, then the whole network's after them.
    let tune = &by_name["fine-tune-5-9"];
    assert_eq!(tune.metrics["loss"].len(), 12 + 6, "{:?}", tune.metrics.keys());
    assert!(by_name["pretrain-0-4"].metrics.contains_key("val_loss"));
    let model_run = &by_name["digits-5-9-model"];
    assert!(model_run.metrics.contains_key("accuracy"));
    let version = store.resolve_alias("digits-5-9", "champion").unwrap();
    assert_eq!(version.run_id, model_run.info.run_id);
    // TensorBoard got the same curves: an event file per run.
    let events: usize = walk(&dir.path().join("tensorboard"));
    assert!(events >= 3, "{events} event files");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p)
            } else {
                usize::from(
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("events.out.tfevents"),
                )
            }
        })
        .sum()
}
