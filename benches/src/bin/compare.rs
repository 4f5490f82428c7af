//! Times the comparison workloads and prints one JSON object per workload:
//! `{"workload", "seconds" (median), "runs", "quality"}`. Driven by
//! `benches/compare_sklearn.py`, which runs scikit-learn on the same data.

use anyhow::Result;
use ml_sdk::core::Estimator;
use ml_sdk::learn::inertia;
use ml_sdk_benches::{accuracy, digits_split, forest, kmeans, logistic, median_seconds};
use serde_json::json;

fn main() -> Result<()> {
    let runs: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(20);

    let bc = ml_sdk::datasets::breast_cancer()?;
    let lr = logistic()?;
    let secs = median_seconds(runs, || lr.fit_pipeline(&bc).map(drop).map_err(Into::into))?;
    let quality = accuracy(&lr.fit_pipeline(&bc)?, &bc)?;
    println!(
        "{}",
        json!({"workload": "logistic_breast_cancer", "seconds": secs, "runs": runs, "quality": quality, "quality_metric": "training accuracy"})
    );

    let (train, test) = digits_split()?;
    let rf = forest(0)?;
    let secs = median_seconds(runs.div_ceil(4), || {
        rf.fit_pipeline(&train).map(drop).map_err(Into::into)
    })?;
    let quality = accuracy(&rf.fit_pipeline(&train)?, &test)?;
    println!(
        "{}",
        json!({"workload": "forest100_depth8_digits", "seconds": secs, "runs": runs.div_ceil(4), "quality": quality, "quality_metric": "test accuracy"})
    );

    let digits = ml_sdk::datasets::digits()?;
    let km = kmeans(0);
    let secs = median_seconds(runs.div_ceil(4), || {
        km.fit_pipeline(&digits).map(drop).map_err(Into::into)
    })?;
    let Estimator::Centroids { centroids } = km.fit_pipeline(&digits)?.spec().estimator else {
        anyhow::bail!("k-means without centroids")
    };
    let quality = inertia(digits.features(), centroids.view());
    println!(
        "{}",
        json!({"workload": "kmeans10_ninit10_digits", "seconds": secs, "runs": runs.div_ceil(4), "quality": quality, "quality_metric": "inertia"})
    );
    Ok(())
}
