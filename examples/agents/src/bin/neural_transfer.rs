//! A neural network with transfer learning, tracked from start to end: an
//! MLP learns the digits 0-4; its checkpoint is saved and read back (our
//! versioned container, not burn's record format); its head is replaced
//! and the network fine-tuned on the digits 5-9 from 10% of their training
//! rows (the head alone at a high rate, then every layer at a lower one);
//! the same architecture trained from scratch on the same rows is the
//! baseline. Every epoch's loss and accuracy go to one MLflow run per
//! stage and to TensorBoard at once; the fine-tuned network is logged with
//! its ONNX export and `MLmodel`, and registered as `digits-5-9@champion`.
//!
//! ```text
//! cargo run --release -p ml-sdk-agent-examples --bin neural_transfer [-- OUT_DIR [EPOCHS]]
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use ml_sdk::core::metrics::score_model;
use ml_sdk::core::{Dataset, Model, Predictions, RunId, RunStatus, Tracker, Trainer};
use ml_sdk::neural::{EarlyStopping, EpochLog, NetTrainer, NeuralNetwork, Sequential, checkpoint};
use ml_sdk::prelude::*;
use ml_sdk::track::{FitRecord, log_epoch, log_fit};

const EXPERIMENT: &str = "neural_transfer";
const MODEL_NAME: &str = "digits-5-9";
const ALIAS: &str = "champion";

fn accuracy(model: &dyn Model, data: &Dataset) -> Result<f64> {
    let Predictions::Classification { labels, .. } = model.predict(data.features())? else {
        anyhow::bail!("a classifier predicts classes")
    };
    let (y, _) = data.classes()?;
    Ok(ml_sdk::core::metrics::accuracy(&y.to_vec(), &labels.to_vec())?)
}

/// Train with `fit`, logging every epoch to `run` on `tracker`; returns
/// the network and the number of epochs run.
fn tracked(
    tracker: &dyn Tracker,
    run: &RunId,
    offset: usize,
    fit: impl FnOnce(&mut dyn FnMut(&EpochLog)) -> ml_sdk::core::Result<NeuralNetwork>,
) -> Result<NeuralNetwork> {
    let mut log_error = None;
    let net = fit(&mut |e: &EpochLog| {
        if let Err(err) = log_epoch(tracker, run, offset + e.epoch, &e.metrics()) {
            log_error.get_or_insert(err);
        }
    })?;
    if let Some(e) = log_error {
        return Err(e.into());
    }
    Ok(net)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "out/neural_transfer".into()));
    let epochs: usize = args.next().map_or(Ok(100), |s| s.parse()).context("EPOCHS")?;
    std::fs::create_dir_all(&out)?;
    let out = out.canonicalize()?;
    let mlruns = out.join("mlruns");
    let tensorboard = out.join("tensorboard");
    // Every curve to both: MLflow's metric history and TensorBoard's event files.
    let tracker = FanOutTracker::new(vec![
        Box::new(MlflowStore::open(&mlruns)?),
        Box::new(TensorBoardWriter::new(&tensorboard)?),
    ]);
    let store = MlflowStore::open(&mlruns)?;

    let digits = ml_sdk::datasets::digits()?;
    // Digits 0-4 to pretrain, 5-9 (relabelled 0-4) to fine-tune.
    let (source, target) = (
        digits.select_classes(&[0, 1, 2, 3, 4])?,
        digits.select_classes(&[5, 6, 7, 8, 9])?,
    );
    let (train, test) = ml_sdk::core::train_test_split(&target, 0.25, 0, true)?;
    let few = train.select_rows(&(0..train.n_samples()).step_by(10).collect::<Vec<_>>())?;
    let base = NetTrainer {
        architecture: Sequential::new().dense(64).relu().dense(64).relu(),
        epochs,
        ..NetTrainer::default()
    };

    // 1. Pretrain on 0-4, a tenth held out for early stopping.
    let run = tracker.start_run(EXPERIMENT, Some("pretrain-0-4"))?;
    let guard = RunGuard::new(&tracker, run.clone());
    let pretrainer = NetTrainer {
        validation_split: 0.1,
        early_stopping: Some(EarlyStopping {
            patience: 10,
            min_delta: 0.0,
            restore_best: true,
        }),
        ..base.clone()
    };
    let pretrained = tracked(&tracker, &run, 0, |cb| pretrainer.fit_network(&source, cb))?;
    tracker.log_params(&run, &pretrained.params())?;
    guard.end(RunStatus::Finished)?;
    let history = pretrained.history();
    println!(
        "1. pretrained a 64-64 MLP on the digits 0-4 ({} rows): {} epochs{}, training accuracy {:.4}",
        source.n_samples(),
        history.epochs.len(),
        history
            .stopped_early
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        accuracy(&pretrained, &source)?
    );

    // 2. Its checkpoint, read back as a later program would.
    let ckpt_dir = out.join("pretrained");
    let path = checkpoint::save(pretrained.state(), &ckpt_dir)?;
    let restored = checkpoint::load(&path)?;
    ensure!(
        restored.network == pretrained.state().network,
        "the checkpoint does not hold the network trained"
    );
    println!(
        "2. saved its checkpoint to {} ({} bytes) and read it back",
        path.display(),
        std::fs::metadata(&path)?.len()
    );

    // 3. New head, trained alone; then every layer at a lower rate.
    let run = tracker.start_run(EXPERIMENT, Some("fine-tune-5-9"))?;
    let guard = RunGuard::new(&tracker, run.clone());
    let mut net = restored.network.clone();
    net.replace_head(5, &mut ml_sdk::core::seeded_rng(0))?;
    net.freeze_all_but_head();
    let head = NetTrainer {
        learning_rate: 1e-2,
        ..base.clone()
    };
    let frozen = tracked(&tracker, &run, 0, |cb| head.fine_tune(&restored, net, &few, cb))?;
    let head_accuracy = accuracy(&frozen, &test)?;
    let mut all = frozen.network().clone();
    all.freeze_below(all.layers.len(), false);
    let everything = NetTrainer {
        learning_rate: 1e-3,
        epochs: epochs / 2,
        ..base.clone()
    };
    let tuned = tracked(&tracker, &run, epochs, |cb| {
        everything.fine_tune(frozen.state(), all, &few, cb)
    })?;
    let tuned_accuracy = accuracy(&tuned, &test)?;
    tracker.log_params(&run, &tuned.params())?;
    guard.end(RunStatus::Finished)?;
    println!(
        "3. fine-tuned on {} rows of the digits 5-9 (10% of their training rows): test accuracy {head_accuracy:.4} with the new head alone, {tuned_accuracy:.4} after all layers",
        few.n_samples()
    );

    // 4. The baseline: the same network from scratch on the same rows.
    let run = tracker.start_run(EXPERIMENT, Some("scratch-5-9"))?;
    let guard = RunGuard::new(&tracker, run.clone());
    let scratch = tracked(&tracker, &run, 0, |cb| base.fit_network(&few, cb))?;
    tracker.log_params(&run, &scratch.params())?;
    guard.end(RunStatus::Finished)?;
    let scratch_accuracy = accuracy(&scratch, &test)?;
    println!(
        "4. from scratch on the same rows: test accuracy {scratch_accuracy:.4} (fine-tuned: {tuned_accuracy:.4}, {:+.4})",
        tuned_accuracy - scratch_accuracy
    );

    // 5. The fine-tuned network with its ONNX export in one more run, then
    // registered; it reloads and predicts as before.
    let saved = SavedModel::from_model(&tuned, Trainer::name(&tuned.state().trainer), tuned.params())?;
    let run = store.start_run(EXPERIMENT, Some("digits-5-9-model"))?;
    let guard = RunGuard::new(&store, run.clone());
    let mut record = FitRecord::new();
    record.params = tuned.params();
    record.train_metrics = score_model(&tuned, &few)?;
    record.onnx = Some(ml_sdk::onnx::export(&saved.spec)?);
    log_fit(&store, &run, &saved, &record)?;
    let test_metrics = score_model(&tuned, &test)?;
    let points: Vec<(&str, f64)> = test_metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    log_epoch(
        &store,
        &run,
        0,
        &[&points[..], &[("scratch_accuracy", scratch_accuracy)]].concat(),
    )?;
    guard.end(RunStatus::Finished)?;
    let version = store.register_model(MODEL_NAME, &run, ml_sdk::track::MODEL_ARTIFACT)?;
    store.set_alias(MODEL_NAME, ALIAS, version.version)?;
    let model_dir = out.join("model");
    saved.save(&model_dir)?;
    let reloaded = SavedModel::load(&model_dir)?;
    ensure!(
        (accuracy(&reloaded.spec, &test)? - tuned_accuracy).abs() < 1e-12,
        "the saved model predicts otherwise"
    );
    println!(
        "5. logged the fine-tuned network with its ONNX export to run {}; registered as {MODEL_NAME} version {} with alias @{ALIAS}; saved to {}",
        run.0,
        version.version,
        model_dir.display()
    );
    println!("\nwhere to look:");
    println!(
        "  curves (MLflow):      mlflow ui --backend-store-uri {}",
        mlruns.display()
    );
    println!("  curves (TensorBoard): tensorboard --logdir {}", tensorboard.display());
    println!(
        "  the model:            mlsdk predict --model {} --data FILE.csv, or models:/{MODEL_NAME}@{ALIAS}",
        model_dir.display()
    );
    Ok(())
}
