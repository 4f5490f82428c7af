//! Differentially private analytics under one privacy budget: a filter
//! ledger of (ε = 2, δ = 1e-5) pays for a count, means and a median of
//! German credit applicants and for a private logistic regression, and
//! refuses the release that would overspend it. The exact (non-private)
//! figures are printed beside the private ones for comparison only; a real
//! analysis would not look at them.
//!
//! ```text
//! cargo run --release -p ml-sdk-examples --bin private_analytics
//! ```

use anyhow::Result;
use ml_sdk::core::metrics::evaluate;
use ml_sdk::learn::Pipeline;
use ml_sdk::prelude::*;
use ml_sdk::privacy::aggregates::{self, Bounds, Neighbouring, NoiseSpec};
use ml_sdk::privacy::{Budget, DpRng, PrivacyLedger, PrivacyLoss, Release};

fn main() -> Result<()> {
    let data = ml_sdk::datasets::load("german_credit")?;
    let (train, test) = train_test_split(&data, 0.3, 0, true)?;
    let ledger = PrivacyLedger::filter(Budget::Approximate {
        epsilon: 2.0,
        delta: 1e-5,
    })?;
    // Noise from the operating system's generator (ChaCha20).
    let mut rng = DpRng::secure()?;
    let rel = Neighbouring::AddRemove;
    let age = aggregates::column(&train, "age")?;
    let amount = aggregates::column(&train, "credit_amount")?;
    let duration = aggregates::column(&train, "duration")?;
    let exact_mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let mut sorted = duration.clone();
    sorted.sort_by(f64::total_cmp);

    println!("{:<44} {:>12} {:>12}   spent so far", "release", "private", "exact");
    let show = |what: &str, release: Result<Release<f64>, ml_sdk::privacy::Error>, exact: f64| -> Result<()> {
        match release.and_then(|r| ledger.charge(what, r.loss).map(|spent| (r.value, spent))) {
            Ok((value, spent)) => println!(
                "{what:<44} {value:>12.2} {exact:>12.2}   ε {:.2}, δ {:.1e}",
                spent.epsilon.unwrap_or(0.0),
                spent.delta.unwrap_or(0.0)
            ),
            Err(e) => println!("{what:<44} refused: {e}"),
        }
        Ok(())
    };
    show(
        "applicants (count, Laplace ε 0.1)",
        aggregates::count(&mut rng, train.n_samples(), NoiseSpec::Laplace { epsilon: 0.1 }, rel),
        train.n_samples() as f64,
    )?;
    show(
        "mean age in [18, 80] (Laplace ε 0.2)",
        aggregates::mean(
            &mut rng,
            &age,
            Bounds::new(18.0, 80.0)?,
            NoiseSpec::Laplace { epsilon: 0.2 },
            rel,
        ),
        exact_mean(&age),
    )?;
    show(
        "mean credit amount in [0, 20000] (Gaussian)",
        aggregates::mean(
            &mut rng,
            &amount,
            Bounds::new(0.0, 20_000.0)?,
            NoiseSpec::Gaussian {
                epsilon: 0.3,
                delta: 1e-6,
            },
            rel,
        ),
        exact_mean(&amount),
    )?;
    show(
        "median duration in [0, 72] months (ε 0.2)",
        aggregates::quantile(&mut rng, &duration, Bounds::new(0.0, 72.0)?, 0.5, 73, 0.2),
        sorted[sorted.len() / 2],
    )?;

    // A private logistic regression through the ordinary pipeline: public
    // bounds for the numeric columns, one-hot categories, output
    // perturbation with exact Gaussian noise.
    let params: Vec<(String, String)> = [
        ("epsilon", "1.0"),
        ("delta", "1e-6"),
        ("bounds.job", "0:3"),
        ("bounds.credit_amount", "0:20000"),
        ("bounds.duration", "0:72"),
        ("bounds.age", "18:80"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let private = Pipeline::from_params("dp_logistic", &params, None)?.fit_pipeline(&train)?;
    let (epsilon, delta) = private.privacy_spent().unwrap_or((f64::INFINITY, 1.0));
    let spent = ledger.charge("dp_logistic", PrivacyLoss::Approximate { epsilon, delta })?;
    let public = Pipeline::from_params("logistic", &[], None)?.fit(&train)?;
    let accuracy = |m: &dyn Model| -> Result<f64> { Ok(evaluate(&test, &m.predict(test.features())?)?["accuracy"]) };
    // At ε = 1 on 700 rows the noise is large against the signal: the
    // private model may do worse than always answering the majority class.
    let majority = match test.target() {
        Some(ml_sdk::core::Target::Classes { labels, .. }) => {
            let ones = labels.iter().filter(|&&l| l == 1).count() as f64 / labels.len() as f64;
            ones.max(1.0 - ones)
        }
        _ => f64::NAN,
    };
    println!(
        "private logistic regression (ε {epsilon}, δ {delta:.0e}): held-out accuracy {:.3} (non-private {:.3}, majority class {majority:.3}); spent so far ε {:.2}",
        accuracy(&private)?,
        accuracy(public.as_ref())?,
        spent.epsilon.unwrap_or(0.0)
    );

    // The filter refuses what would overspend the budget, and records nothing.
    show(
        "mean age again (Laplace ε 0.5)",
        aggregates::mean(
            &mut rng,
            &age,
            Bounds::new(18.0, 80.0)?,
            NoiseSpec::Laplace { epsilon: 0.5 },
            rel,
        ),
        exact_mean(&age),
    )?;
    println!("ledger:\n{}", ledger.to_json()?);
    Ok(())
}
