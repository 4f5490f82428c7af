//! Accuracy of differentially private logistic regression (output
//! perturbation, ml-learn's `dp_logistic` pipeline over
//! `ml_privacy::DpLogisticRegression`) on breast_cancer
//! against ε, at δ = 1e-6: test accuracy on a stratified 25% split, mean and
//! standard deviation over REPEATS noise draws, for a few fixed λ, with the
//! non-private minimiser of the same objective as the ε = ∞ row. The feature
//! bounds are each column's range, assumed public.
//! Arguments: `[REPEATS [ROW_SCALE]]`.

use anyhow::Result;
use ml_sdk::core::train_test_split;
use ml_sdk::learn::Pipeline;
use ml_sdk_benches::accuracy;

/// The pipeline's parameters: the public bounds of every column, λ, (ε, δ),
/// the row divisor and the noise seed.
fn pipeline(
    bounds: &[(String, (f64, f64))],
    lambda: f64,
    eps: f64,
    row_scale: Option<f64>,
    seed: u64,
) -> Result<Pipeline> {
    let mut p: Vec<(String, String)> = bounds
        .iter()
        .map(|(name, (lo, hi))| (format!("bounds.{name}"), format!("{lo}:{hi}")))
        .collect();
    p.extend([
        ("lambda".into(), lambda.to_string()),
        ("epsilon".into(), eps.to_string()),
        ("delta".into(), "1e-6".into()),
        ("insecure_seed".into(), seed.to_string()),
    ]);
    if let Some(r) = row_scale {
        p.push(("row_scale".into(), r.to_string()));
    }
    Ok(Pipeline::from_params("dp_logistic", &p, None)?)
}

fn main() -> Result<()> {
    let repeats: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(50);
    // The row divisor r (default sqrt(d + 1): no row is shrunk).
    let row_scale: Option<f64> = std::env::args().nth(2).map(|s| s.parse()).transpose()?;
    let data = ml_sdk::datasets::breast_cancer()?;
    let (train, test) = train_test_split(&data, 0.25, 7, true)?;
    let x = data.features();
    let bounds: Vec<(String, (f64, f64))> = data
        .feature_names()
        .into_iter()
        .zip(x.columns())
        .map(|(name, c)| {
            let lo = c.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (name.to_string(), (lo, hi))
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
                    let m = pipeline(&bounds, lambda, eps, row_scale, seed)?.fit_pipeline(&train)?;
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
        let m = pipeline(&bounds, lambda, 1e6, row_scale, 0)?.fit_pipeline(&train)?;
        print!(" {:.3} |", accuracy(&m, &test)?);
    }
    println!();
    Ok(())
}
