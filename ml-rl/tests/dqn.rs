#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
//! DQN learns CartPole, and refuses continuous actions.

use ml_rl::dqn::{DqnConfig, train_dqn};
use ml_rl::ppo::evaluate;

#[test]
fn dqn_learns_cartpole() {
    let cfg = DqnConfig::default();
    let (policy, stats) = train_dqn("CartPole-v1", &cfg, 20_000, &mut |_| {}).unwrap();
    assert_eq!(stats.env_steps, 20_000);
    assert!(
        stats.losses["td_loss"].is_finite() && stats.losses["epsilon"] > 0.0,
        "{:?}",
        stats.losses
    );
    // Evaluated every 2,500 steps (at the training round that passes the
    // mark) and at the end; the policy returned is the best evaluated one.
    let steps: Vec<usize> = stats.evaluations.iter().map(|e| e.0).collect();
    assert_eq!(steps.len(), 8, "{steps:?}"); // at 2,560, 5,120, …, 17,664 and 20,000
    assert!(steps[0] >= 2_500 && steps[0] < 2_500 + cfg.train_freq, "{steps:?}");
    assert_eq!(*steps.last().unwrap(), 20_000);
    let best = stats.evaluations.iter().map(|e| e.1).fold(f64::MIN, f64::max);
    let again = evaluate(&policy, "CartPole-v1", cfg.eval_episodes, ml_rl::dqn::EVAL_SEED).unwrap();
    assert_eq!(
        again.iter().sum::<f64>() / again.len() as f64,
        best,
        "{:?}",
        stats.evaluations
    );
    let random = stats.episode_returns.iter().take(20).sum::<f64>() / 20.0;
    let returns = evaluate(&policy, "CartPole-v1", 20, 10_000).unwrap();
    let mean = returns.iter().sum::<f64>() / 20.0;
    eprintln!("DQN CartPole after 20k steps: greedy mean return {mean} (random play {random})");
    assert!(mean > 3.0 * random, "greedy {mean}, random {random}");
    let err = train_dqn("Pendulum-v1", &cfg, 100, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("discrete"), "{err}");
}
