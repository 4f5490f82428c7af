//! Times the privacy workloads of `benches/compare_privacy.py` and prints
//! one JSON object per workload: `{"workload", "seconds", "count"}` (the
//! median over ROUNDS runs). Arguments: N ROUNDS.
//!
//! - `sum`: clamp N floats (uniform on [-1, 11]) to [0, 10], sum, add
//!   Laplace noise of scale 10 (ε = 1 for add/remove);
//! - `discrete_laplace`, `discrete_gaussian`: N integer noise draws of
//!   scale 3 (the samplers' throughput);
//! - `rdp`: ε of 1000 Poisson-subsampled Gaussian steps (σ 1.1, q 0.01) at
//!   δ 1e-5, from a fresh accountant.

use anyhow::Result;
use ml_sdk::privacy::aggregates::{self, Bounds, Neighbouring, NoiseSpec};
use ml_sdk::privacy::{DpRng, Gaussian, Laplace, RdpAccountant};
use ml_sdk_benches::median_seconds;
use serde_json::json;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let rounds: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let mut rng = DpRng::secure()?;
    // Deterministic data; the noise is from the secure generator.
    let mut seed = DpRng::insecure_seeded_for_tests(0);
    let data: Vec<f64> = (0..n)
        .map(|_| -1.0 + 12.0 * (seed.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
        .collect();

    let bounds = Bounds::new(0.0, 10.0)?;
    let spec = NoiseSpec::Laplace { epsilon: 1.0 };
    let s = median_seconds(rounds, || {
        Ok(aggregates::sum(&mut rng, &data, bounds, spec, Neighbouring::AddRemove)?)
    })?;
    println!("{}", json!({"workload": "sum", "seconds": s, "count": n}));

    // Scale 3 on the integers: epsilon 1/3 at sensitivity 1.
    let lap = Laplace::integer(1, 1.0 / 3.0)?;
    let s = median_seconds(rounds, || Ok(lap.sample_noise(&mut rng, n)))?;
    println!("{}", json!({"workload": "discrete_laplace", "seconds": s, "count": n}));

    // sigma 3: rho = 1 / (2 * 9).
    let gauss = Gaussian::integer(1, 1.0 / 18.0)?;
    let s = median_seconds(rounds, || Ok(gauss.sample_noise(&mut rng, n)))?;
    println!(
        "{}",
        json!({"workload": "discrete_gaussian", "seconds": s, "count": n, "sigma": gauss.sigma()})
    );

    let s = median_seconds(rounds.max(20), || {
        let mut acc = RdpAccountant::new();
        acc.compose_poisson_subsampled_gaussian(1.1, 0.01, 1000)?;
        Ok(acc.epsilon(1e-5)?)
    })?;
    println!("{}", json!({"workload": "rdp", "seconds": s, "count": 1}));
    Ok(())
}
