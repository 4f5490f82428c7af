//! Fit and prediction times of histogram gradient boosting on a CSV file,
//! for benches/compare_boosting.py (the same data through scikit-learn and
//! LightGBM in the same run).
//!
//! `cargo run --release -p ml-learn --example boosting_timing -- TRAIN.csv TEST.csv RUNS [KEY=VALUE ...]`
//!
//! Both files have a `target` column (classes if integers, else values).
//! Prints one JSON line: the best fit time of RUNS, the prediction time of
//! the test rows, and the test accuracy (or R²).

use std::time::Instant;

use ml_core::{Frame, LoadOptions, Model, Predictions, Trainer, metrics};
use ml_learn::Pipeline;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [train, test, runs, params @ ..] = args.as_slice() else {
        return Err("usage: boosting_timing TRAIN.csv TEST.csv RUNS [KEY=VALUE ...]".into());
    };
    let opts = LoadOptions::with_target("target");
    let train = Frame::read_csv(train)?.to_dataset(&opts)?;
    let test = Frame::read_csv(test)?.to_dataset(&opts)?;
    let params: Vec<(String, String)> = params
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or("KEY=VALUE")
        })
        .collect::<Result<_, _>>()?;
    let trainer = Pipeline::from_params("hgb", &params, Some(0))?;
    let mut best = f64::INFINITY;
    let mut model = None;
    for _ in 0..runs.parse::<usize>()? {
        let started = Instant::now();
        let fitted = trainer.fit(&train)?;
        best = best.min(started.elapsed().as_secs_f64());
        model = Some(fitted);
    }
    let model = model.ok_or("RUNS must be at least 1")?;
    let started = Instant::now();
    let predictions = model.predict(test.features())?;
    let predict_seconds = started.elapsed().as_secs_f64();
    let score = match &predictions {
        Predictions::Classification { labels, .. } => metrics::accuracy(&test.classes()?.0.to_vec(), &labels.to_vec())?,
        Predictions::Regression { values } => metrics::r2_score(test.values()?, values.view())?,
        _ => return Err("boosting predicts classes or values".into()),
    };
    println!(
        "{{\"fit_seconds\": {best}, \"predict_seconds\": {predict_seconds}, \"score\": {score}, \"rows\": {}}}",
        train.n_samples()
    );
    Ok(())
}
