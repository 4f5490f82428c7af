//! Accuracy of differentially private logistic regression (output
//! perturbation, `ml_privacy::DpLogisticRegression`) on breast_cancer
//! against ε, at δ = 1e-6: test accuracy on a stratified 25% split, mean and
//! standard deviation over REPEATS noise draws, for a few fixed λ, with the
//! non-private minimiser of the same objective as the ε = ∞ row. The feature
//! bounds are each column's range, assumed public.
//! Arguments: `[REPEATS [ROW_SCALE]]`.

use anyhow::Result;
use ml_sdk::core::train_test_split;
use ml_sdk::privacy::DpLogisticRegression;
use ml_sdk_benches::accuracy;

fn main() -> Result<()> {
    let repeats: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(50);
    // The row divisor r (default sqrt(d + 1): no row is shrunk).
    let row_scale: Option<f64> = std::env::args().nth(2).map(|s| s.parse()).transpose()?;
    let data = ml_sdk::datasets::breast_cancer()?;
    let (train, test) = train_test_split(&data, 0.25, 7, true)?;
    let x = data.features();
    let bounds: Vec<(f64, f64)> = x
        .columns()
        .into_iter()
        .map(|c| {
            (
                c.iter().copied().fold(f64::INFINITY, f64::min),
                c.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        })
        .collect();
    let lambdas = [0.001, 0.01, 0.1];
    let epsilons = [0.1, 0.3, 1.0, 3.0, 10.0];
    print!("| ε |");
    for l in lambdas {
        print!(" λ = {l} |");
    }
    println!("\n| --- |{}", " --- |".repeat(lambdas.len()));
    for eps in epsilons {
        print!("| {eps} |");
        for lambda in lambdas {
            let accs: Vec<f64> = (0..repeats)
                .map(|seed| {
                    let t = DpLogisticRegression {
                        lambda,
                        feature_bounds: bounds.clone(),
                        epsilon: eps,
                        delta: 1e-6,
                        row_scale,
                        insecure_seed: Some(seed),
                    };
                    let m = t.fit_private(&train)?;
                    accuracy(&m, &test)
                })
                .collect::<Result<_>>()?;
            let mean = accs.iter().sum::<f64>() / accs.len() as f64;
            let sd = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / accs.len() as f64).sqrt();
            print!(" {mean:.3} ± {sd:.3} |");
        }
        println!();
    }
    print!("| ∞ (no noise) |");
    for lambda in lambdas {
        // The huge-ε limit: the minimiser itself.
        let t = DpLogisticRegression {
            lambda,
            feature_bounds: bounds.clone(),
            epsilon: 1e6,
            delta: 1e-6,
            row_scale,
            insecure_seed: Some(0),
        };
        let m = t.fit_private(&train)?;
        print!(" {:.3} |", accuracy(&m, &test)?);
    }
    println!();
    Ok(())
}
