//! DP-SGD's privacy-utility trade-off: test accuracy against the budget ε
//! on digits and breast cancer, mean and spread over seeds.
//!
//! `cargo run --release -p ml-neural --example dp_tradeoff [SEEDS]`
//!
//! Each data set is split once (75/25, stratified, seed 0); every budget
//! trains the same network with SGD (momentum 0.9), clip 1, δ 1e-5 and σ
//! calibrated by the RDP accountant for the run's sampling rate and steps.
//! The row "none" is the same training without DP-SGD.

use ml_core::{Dataset, Error, Model, Predictions, Result, train_test_split};
use ml_neural::{AccountantKind, DpConfig, NetTrainer, Optimizer, Sequential};

fn accuracy(model: &dyn Model, data: &Dataset) -> Result<f64> {
    let Predictions::Classification { labels, .. } = model.predict(data.features())? else {
        return Err(Error::Unsupported("not a classifier".into()));
    };
    let (y, _) = data.classes()?;
    Ok(y.iter().zip(&labels).filter(|(a, b)| a == b).count() as f64 / y.len() as f64)
}

fn main() -> Result<()> {
    let seeds: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(3), |s| s.parse())
        .map_err(|_| Error::invalid("arguments", "dp_tradeoff [SEEDS]"))?;
    let budgets = [Some(0.5), Some(1.0), Some(2.0), Some(4.0), Some(8.0), None];
    println!("| data set | ε | mean test accuracy | min – max | σ | ms / epoch |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, data, epochs) in [
        ("digits", ml_datasets::digits()?, 20),
        ("breast_cancer", ml_datasets::breast_cancer()?, 30),
    ] {
        let (train, test) = train_test_split(&data, 0.25, 0, true)?;
        for budget in budgets {
            let (mut accs, mut sigma, mut ms) = (Vec::new(), f64::NAN, 0.0);
            for seed in 0..seeds {
                let trainer = NetTrainer {
                    architecture: Sequential::new().dense(64).relu(),
                    epochs,
                    batch_size: 64,
                    optimizer: Optimizer::Sgd { momentum: 0.9 },
                    learning_rate: 0.05,
                    seed,
                    dp: budget.map(|epsilon| DpConfig {
                        epsilon,
                        delta: 1e-5,
                        clip: 1.0,
                        noise_multiplier: None,
                        accountant: AccountantKind::Rdp,
                        insecure_seed: None,
                    }),
                    ..NetTrainer::default()
                };
                let mut seconds = 0.0;
                let net = trainer.fit_network(&train, &mut |e| seconds += e.seconds)?;
                ms += 1e3 * seconds / net.history().epochs.len() as f64 / seeds as f64;
                if let Some(p) = net.privacy() {
                    sigma = p.noise_multiplier;
                }
                accs.push(accuracy(&net, &test)?);
            }
            let mean = accs.iter().sum::<f64>() / accs.len() as f64;
            let (lo, hi) = accs
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &a| (l.min(a), h.max(a)));
            let eps = budget.map_or("none".to_string(), |e| format!("{e}"));
            let sigma = if sigma.is_nan() {
                String::new()
            } else {
                format!("{sigma:.3}")
            };
            println!("| {name} | {eps} | {mean:.4} | {lo:.4} – {hi:.4} | {sigma} | {ms:.2} |");
        }
    }
    Ok(())
}
