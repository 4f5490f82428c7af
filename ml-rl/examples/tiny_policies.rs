//! Write small policy files (a few weights each) for the `rl_policy` fuzz
//! target's seeds: a discrete PPO policy, a continuous one with observation
//! statistics, a DQN Q-network, each with its training state.
//!
//! `cargo run -p ml-rl --example tiny_policies DIR`

use ml_rl::dqn::{DqnConfig, continue_dqn};
use ml_rl::ppo::{PpoConfig, PpoPolicy, SavedPolicy, TrainingState, continue_ppo};

fn main() -> ml_core::Result<()> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "seeds".into()));
    std::fs::create_dir_all(&out).map_err(|e| ml_core::Error::invalid("out", format!("{}: {e}", out.display())))?;
    let ppo = |normalize_observations| PpoConfig {
        n_envs: 1,
        n_steps: 16,
        batch_size: 16,
        n_epochs: 1,
        hidden: vec![3],
        normalize_observations,
        ..PpoConfig::default()
    };
    let dqn = DqnConfig {
        hidden: vec![3],
        learning_starts: 8,
        batch_size: 4,
        train_freq: 8,
        gradient_steps: 1,
        ..DqnConfig::default()
    };
    for (name, env, normalize) in [
        ("ppo_cartpole", "CartPole-v1", false),
        ("ppo_pendulum_normalized", "Pendulum-v1", true),
    ] {
        let cfg = ppo(normalize);
        let (policy, state) = continue_ppo(env, &cfg, None, 32, &mut |_| {})?;
        write(&out, name, env, "ppo", json(&cfg)?, policy, state)?;
    }
    let (policy, state) = continue_dqn("Acrobot-v1", &dqn, None, 32, &mut |_| {})?;
    write(&out, "dqn_acrobot", "Acrobot-v1", "dqn", json(&dqn)?, policy, state)?;
    Ok(())
}

fn json(config: &impl serde::Serialize) -> ml_core::Result<serde_json::Value> {
    serde_json::to_value(config).map_err(|e| ml_core::Error::invalid("config", e.to_string()))
}

fn write(
    out: &std::path::Path,
    name: &str,
    env: &str,
    algo: &str,
    config: serde_json::Value,
    policy: PpoPolicy,
    state: TrainingState,
) -> ml_core::Result<()> {
    let saved = SavedPolicy {
        env: env.into(),
        algo: algo.into(),
        config,
        policy,
        env_steps: state.stats.env_steps,
        training: Some(state),
    };
    let bytes = saved.to_bytes()?;
    let path = out.join(format!("{name}.mlrl"));
    ml_core::io::write_atomic(&path, &bytes)?;
    println!("{} ({} bytes)", path.display(), bytes.len());
    Ok(())
}
