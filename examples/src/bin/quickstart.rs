//! Quickstart: train a standardized logistic regression on the bundled breast
//! cancer data, cross-validate it, print a held-out confusion matrix, save the
//! model, and log the run (params, metrics, model, provenance) to an
//! MLflow-compatible store.
//!
//! ```text
//! cargo run --release -p ml-sdk-examples --bin quickstart [-- OUT_DIR]
//! ```

use anyhow::Result;
use ml_sdk::core::metrics::{confusion_matrix, evaluate};
use ml_sdk::core::{MetricPoint, Predictions, RunStatus, Target, Tracker};
use ml_sdk::learn::{Pipeline, SavedModel};
use ml_sdk::prelude::*;
use ml_sdk::track::{experiment_name, now_ms, open_store, tracking_uri};

fn main() -> Result<()> {
    let out_dir = std::env::args().nth(1).unwrap_or_else(|| "out/quickstart".to_string());
    let data = ml_sdk::datasets::load("breast_cancer")?;
    println!(
        "breast_cancer: {} rows x {} features",
        data.n_samples(),
        data.n_features()
    );

    // Standard scaling + L2 logistic regression (C = 1), as scikit-learn's
    // make_pipeline(StandardScaler(), LogisticRegression()).
    let trainer = Pipeline::from_params("logistic", &[("c".into(), "1.0".into())], None)?;

    let folds = KFold::new(5).stratified(true).split(&data)?;
    let cv = cross_validate(&trainer, &data, &folds, &default_score)?;
    println!("5-fold cross-validated accuracy: {:.4} ± {:.4}", cv.mean(), cv.std());

    let (train, test) = train_test_split(&data, 0.25, 42, true)?;
    let model = trainer.fit_pipeline(&train)?;
    let pred = model.predict(test.features())?;
    let scores = evaluate(&test, &pred)?;
    println!(
        "held-out accuracy {:.4}, ROC AUC {:.4}",
        scores["accuracy"], scores["roc_auc"]
    );

    if let (Some(Target::Classes { labels, names }), Predictions::Classification { labels: predicted, .. }) =
        (test.target(), &pred)
    {
        let cm = confusion_matrix(&labels.to_vec(), &predicted.to_vec(), names.len())?;
        println!("confusion matrix (rows: true, columns: predicted)");
        println!(
            "{:>12} {}",
            "",
            names.iter().map(|n| format!("{n:>10}")).collect::<String>()
        );
        for (i, name) in names.iter().enumerate() {
            println!(
                "{name:>12} {}",
                cm.row(i).iter().map(|c| format!("{c:>10}")).collect::<String>()
            );
        }
    }

    let final_model = trainer.fit_pipeline(&data)?;
    let saved = SavedModel::from_model(&final_model, trainer.name(), trainer.params())?;
    let path = saved.save(std::path::Path::new(&out_dir))?;
    println!("saved to {}", path.display());

    // Log the run where MLflow would: $MLFLOW_TRACKING_URI, else ./mlruns.
    let uri = tracking_uri(None);
    let store = open_store(&uri)?;
    let run = store.start_run(&experiment_name(Some("quickstart")), Some("logistic"))?;
    let guard = RunGuard::new(&store, run.clone());
    store.log_params(&run, &trainer.params())?;
    let now = now_ms();
    let mut points: Vec<MetricPoint> = cv
        .scores
        .iter()
        .enumerate()
        .map(|(i, &s)| MetricPoint {
            key: "cv_accuracy".into(),
            value: s,
            step: i as i64,
            timestamp_ms: now,
        })
        .collect();
    points.extend(scores.iter().map(|(k, &v)| MetricPoint {
        key: format!("test_{k}"),
        value: v,
        step: 0,
        timestamp_ms: now,
    }));
    store.log_metrics(&run, &points)?;
    store.log_artifact(&run, "model/model.mlsdk", &saved.to_bytes()?)?;
    Provenance::collect().with_dataset(&data).record(&store, &run)?;
    guard.end(RunStatus::Finished)?;
    println!(
        "logged run {} to {uri} (mlsdk runs show {} --tracking-uri {uri})",
        run.0, run.0
    );
    Ok(())
}
