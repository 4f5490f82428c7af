//! Quickstart: train a standardized logistic regression on the bundled breast
//! cancer data, cross-validate it, print a held-out confusion matrix, and save
//! the model.
//!
//! ```text
//! cargo run --release -p ml-sdk-examples --bin quickstart [-- OUT_DIR]
//! ```

use anyhow::Result;
use ml_sdk::core::metrics::{confusion_matrix, evaluate};
use ml_sdk::core::{Predictions, Target};
use ml_sdk::learn::{Pipeline, SavedModel};
use ml_sdk::prelude::*;

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
    Ok(())
}
