//! DQN on CartPole-v1 under a few settings, for BENCHMARKS.md: the default
//! (rl-baselines3-zoo's tuned hyper-parameters, vanilla targets as in
//! Stable-Baselines3), the same with double Q-learning, and a smaller
//! network trained more often with and without a slower target network.
//!
//! `cargo run --release -p ml-rl --example dqn_variants VARIANT SEED [STEPS]`
//! with VARIANT one of `zoo`, `zoo-double`, `small`, `small-target500`;
//! prints the mean return of 100 deterministic episodes and the seconds.

use ml_rl::dqn::{DqnConfig, train_dqn};
use ml_rl::ppo::evaluate;

fn main() -> ml_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let variant = args.get(1).map_or("zoo", String::as_str);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let steps: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(50_000);
    let zoo = DqnConfig {
        seed,
        ..DqnConfig::default()
    };
    let small = DqnConfig {
        hidden: vec![64, 64],
        train_freq: 64,
        gradient_steps: 32,
        double_q: true,
        ..zoo.clone()
    };
    let cfg = match variant {
        "zoo" => zoo,
        "zoo-double" => DqnConfig { double_q: true, ..zoo },
        "small" => small,
        "small-target500" => DqnConfig {
            target_update_interval: 500,
            ..small
        },
        other => {
            return Err(ml_core::Error::invalid(
                "variant",
                format!("{other:?} (known: zoo, zoo-double, small, small-target500)"),
            ));
        }
    };
    let started = std::time::Instant::now();
    let (policy, stats) = train_dqn("CartPole-v1", &cfg, steps, &mut |_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    let returns = evaluate(&policy, "CartPole-v1", 100, 10_000)?;
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    println!(
        "{}",
        serde_json::json!({"variant": variant, "seed": seed, "env_steps": stats.env_steps,
                           "mean_return": mean, "seconds": seconds})
    );
    Ok(())
}
