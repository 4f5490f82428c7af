//! Train PPO or DQN on a classic-control task with its tuned settings and
//! evaluate the policy deterministically.
//!
//! `cargo run --release -p ml-rl --example agent [ppo|dqn] [ENV] [STEPS] [SEED]`
//! prints a JSON line: mean return over 100 episodes, steps, seconds.

use std::time::Instant;

use ml_rl::ppo::evaluate;
use ml_rl::train_agent;

fn main() -> ml_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let algo = args.get(1).map_or("ppo", String::as_str);
    let id = args.get(2).map_or("CartPole-v1", String::as_str);
    let steps: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let seed: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
    let started = Instant::now();
    let (saved, stats) = train_agent(id, algo, steps, seed, &mut |s| {
        if s.updates % 50 == 0 {
            let recent = &s.episode_returns[s.episode_returns.len().saturating_sub(20)..];
            let mean = recent.iter().sum::<f64>() / recent.len().max(1) as f64;
            eprintln!(
                "update {}: {} steps, recent mean return {mean:.1}",
                s.updates, s.env_steps
            );
        }
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let returns = evaluate(&saved.policy, id, 100, 10_000)?;
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    println!(
        "{}",
        serde_json::json!({"env": id, "algo": algo, "seed": seed, "mean_return": mean, "episodes": returns.len(),
                           "env_steps": stats.env_steps, "seconds": seconds})
    );
    Ok(())
}
