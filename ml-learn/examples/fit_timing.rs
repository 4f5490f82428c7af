//! Fit and prediction times of one model on a CSV file, for the comparison
//! scripts that run the same data through the Python peers in the same run
//! (benches/compare_boosting.py, benches/compare_neighbors.py).
//!
//! `cargo run --release -p ml-learn --example fit_timing -- TRAIN.csv TEST.csv RUNS [KEY=VALUE ...]`
//!
//! Both files have a `target` column (classes if integers, else values).
//! `model=NAME` picks the model (default `hgb`), `predict_csv=PATH` also
//! times prediction over another file's rows, `save=DIR` saves the fitted
//! model there (to check that a faster fit gives the same model, byte for
//! byte); every other `KEY=VALUE` is a hyper-parameter. Prints one JSON line: the best fit time of RUNS, the
//! best prediction time of the test rows (of RUNS), and the test accuracy
//! (or R²).

use std::time::Instant;

use ml_core::{Frame, LoadOptions, Model, Trainer};
use ml_learn::Pipeline;

fn best_of<T>(
    runs: usize,
    mut f: impl FnMut() -> Result<T, Box<dyn std::error::Error>>,
) -> Result<(f64, T), Box<dyn std::error::Error>> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let out = f()?;
        best = best.min(started.elapsed().as_secs_f64());
        last = Some(out);
    }
    Ok((best, last.ok_or("RUNS must be at least 1")?))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [train, test, runs, params @ ..] = args.as_slice() else {
        return Err("usage: fit_timing TRAIN.csv TEST.csv RUNS [KEY=VALUE ...]".into());
    };
    let runs: usize = runs.parse()?;
    let opts = LoadOptions::with_target("target");
    let train = Frame::read_csv(train)?.to_dataset(&opts)?;
    let test = Frame::read_csv(test)?.to_dataset(&opts)?;
    let mut model_name = "hgb".to_string();
    let mut predict_csv = None;
    let mut save = None;
    let mut hyper = Vec::new();
    for p in params {
        match p.split_once('=').ok_or("KEY=VALUE")? {
            ("model", v) => model_name = v.to_string(),
            ("predict_csv", v) => predict_csv = Some(v.to_string()),
            ("save", v) => save = Some(std::path::PathBuf::from(v)),
            (k, v) => hyper.push((k.to_string(), v.to_string())),
        }
    }
    let trainer = Pipeline::from_params(&model_name, &hyper, Some(0))?;
    let (fit_seconds, model) = best_of(runs, || Ok(trainer.fit(&train)?))?;
    let (predict_seconds, predictions) = best_of(runs, || Ok(model.predict(test.features())?))?;
    let score = ml_core::importance::score(&test, &predictions)?;
    if let Some(dir) = save {
        ml_core::SavedModel::from_model(&model, &model_name, hyper.clone())?.save(&dir)?;
    }
    let mut extra = String::new();
    if let Some(path) = predict_csv {
        let rows = Frame::read_csv(&path)?.to_dataset(&opts)?;
        let (secs, _) = best_of(runs, || Ok(model.predict(rows.features())?))?;
        extra = format!(
            ", \"predict_csv_seconds\": {secs}, \"predict_csv_rows\": {}",
            rows.n_samples()
        );
    }
    println!(
        "{{\"fit_seconds\": {fit_seconds}, \"predict_seconds\": {predict_seconds}, \"score\": {score}, \"rows\": {}{extra}}}",
        train.n_samples()
    );
    Ok(())
}
