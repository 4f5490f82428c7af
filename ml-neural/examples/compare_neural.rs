//! ml-sdk's side of `benches/compare_neural.py`: networks on digits with
//! the split the script chose, timed per epoch.
//!
//! `cargo run --release -p ml-neural --example compare_neural SPLIT.json EPOCHS`
//! prints one JSON object per network.

use std::time::Instant;

use ml_core::{Dataset, Error, Model, Predictions, Result};
use ml_learn::Scaling;
use ml_neural::{AccountantKind, DpConfig, LayerConfig, NetTrainer, Optimizer, Sequential};
use serde_json::{Value, json};

fn accuracy(model: &dyn Model, data: &Dataset) -> Result<f64> {
    let Predictions::Classification { labels, .. } = model.predict(data.features())? else {
        return Err(Error::Unsupported("not a classifier".into()));
    };
    let (y, _) = data.classes()?;
    Ok(y.iter().zip(&labels).filter(|(a, b)| a == b).count() as f64 / y.len() as f64)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = || Error::invalid("arguments", "compare_neural SPLIT.json [EPOCHS]");
    let text = std::fs::read_to_string(args.get(1).ok_or_else(usage)?).map_err(|_| usage())?;
    let split: Value = serde_json::from_str(&text).map_err(|_| usage())?;
    let epochs: usize = args.get(2).map_or(Ok(20), |s| s.parse()).map_err(|_| usage())?;
    let rows = |k: &str| -> Vec<usize> {
        split[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .map(|v| v as usize)
            .collect()
    };
    // Digits scaled to [0, 1] by their range, 16, as the script does.
    let raw = ml_datasets::digits()?;
    let scaled = Dataset::with_columns(raw.features().mapv(|v| v / 16.0), raw.columns().to_vec())?;
    let (y, names) = raw.classes()?;
    let data = scaled.with_classes(y.to_vec(), names.to_vec())?;
    let (train, test) = (data.select_rows(&rows("train"))?, data.select_rows(&rows("test"))?);
    let base = NetTrainer {
        epochs,
        batch_size: 32,
        scaling: Scaling::None,
        seed: 0,
        ..NetTrainer::default()
    };
    let mlp = Sequential::new().dense(64).relu().dense(64).relu();
    let cnn = Sequential::new()
        .reshape(1, 8, 8)
        .add(LayerConfig::Conv2d {
            filters: 16,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [1, 1],
        })
        .relu()
        .max_pool2d(2)
        .flatten()
        .dense(64)
        .relu();
    let dp = |epsilon| DpConfig {
        epsilon,
        delta: 1e-5,
        clip: 1.0,
        noise_multiplier: None,
        accountant: AccountantKind::Rdp,
        insecure_seed: None,
    };
    let runs = [
        (
            "mlp_64_64",
            NetTrainer {
                architecture: mlp.clone(),
                ..base.clone()
            },
        ),
        (
            "cnn_16c3_pool_64",
            NetTrainer {
                architecture: cnn,
                ..base.clone()
            },
        ),
        (
            "mlp_64_64_sgd",
            NetTrainer {
                architecture: mlp.clone(),
                optimizer: Optimizer::Sgd { momentum: 0.9 },
                learning_rate: 0.05,
                ..base.clone()
            },
        ),
        (
            "mlp_64_64_dpsgd_eps8",
            NetTrainer {
                architecture: mlp.clone(),
                optimizer: Optimizer::Sgd { momentum: 0.9 },
                learning_rate: 0.05,
                dp: Some(dp(8.0)),
                ..base.clone()
            },
        ),
        (
            "mlp_64_64_dpsgd_eps2",
            NetTrainer {
                architecture: mlp,
                optimizer: Optimizer::Sgd { momentum: 0.9 },
                learning_rate: 0.05,
                dp: Some(dp(2.0)),
                ..base.clone()
            },
        ),
    ];
    for (name, trainer) in runs {
        let started = Instant::now();
        let net = trainer.fit_network(&train, &mut |_| {})?;
        let seconds = started.elapsed().as_secs_f64();
        let epochs_run = net.history().epochs.len();
        println!(
            "{}",
            json!({
                "tool": "ml-sdk", "model": name, "epochs": epochs_run,
                "ms_per_epoch": 1e3 * seconds / epochs_run as f64,
                "test_accuracy": accuracy(&net, &test)?,
                "epsilon": net.privacy().map(|p| p.epsilon),
            })
        );
    }
    Ok(())
}
