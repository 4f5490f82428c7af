//! Train DQN on a classic-control task with discrete actions and evaluate it deterministically.
//!
//! `cargo run --release -p ml-rl --example dqn [ENV] [STEPS] [SEED]`
//! prints a JSON line: mean return over 100 episodes, steps, seconds.

use std::time::Instant;

use ml_rl::dqn::{DqnConfig, train_dqn};
use ml_rl::ppo::evaluate;

fn main() -> ml_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let id = args.get(1).map_or("CartPole-v1", String::as_str);
    let steps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50_000);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let cfg = DqnConfig {
        seed,
        ..DqnConfig::default()
    };
    let started = Instant::now();
    let (policy, stats) = train_dqn(id, &cfg, steps, &mut |s| {
        if s.updates % 20 == 0 {
            let recent = &s.episode_returns[s.episode_returns.len().saturating_sub(20)..];
            let mean = recent.iter().sum::<f64>() / recent.len().max(1) as f64;
            eprintln!(
                "update {}: {} steps, recent mean return {mean:.1}",
                s.updates, s.env_steps
            );
        }
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let returns = evaluate(&policy, id, 100, 10_000)?;
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    println!(
        "{}",
        serde_json::json!({"env": id, "algo": "dqn", "seed": seed, "mean_return": mean, "episodes": returns.len(),
                           "env_steps": stats.env_steps, "seconds": seconds})
    );
    Ok(())
}
