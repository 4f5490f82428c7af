#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
//! PPO learns CartPole, runs on continuous actions, and its policies save,
//! reload to the same actions, and refuse corrupt files.

use ml_rl::ppo::{PpoConfig, SavedPolicy, evaluate, render_episode, train_ppo};
use ml_rl::{Action, NumpyRng};

#[test]
fn ppo_learns_cartpole_and_its_policy_round_trips() {
    let cfg = PpoConfig::default();
    let mut updates = 0;
    let (policy, stats) = train_ppo("CartPole-v1", &cfg, 50_000, &mut |_| updates += 1).unwrap();
    assert_eq!(updates, stats.updates);
    assert!(stats.env_steps >= 50_000);
    let returns = evaluate(&policy, "CartPole-v1", 20, 10_000).unwrap();
    let mean = returns.iter().sum::<f64>() / 20.0;
    let first = stats.episode_returns.iter().take(20).sum::<f64>() / 20.0;
    eprintln!(
        "PPO CartPole after {} steps: mean return {mean} (first episodes {first})",
        stats.env_steps
    );
    assert!(mean >= 300.0, "mean return {mean}");

    let saved = SavedPolicy {
        env: "CartPole-v1".into(),
        algo: "ppo".into(),
        config: serde_json::to_value(&cfg).unwrap(),
        policy,
        env_steps: stats.env_steps,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = saved.save(dir.path()).unwrap();
    let back = SavedPolicy::load(dir.path()).unwrap();
    assert_eq!(back, saved);
    let mut rng = NumpyRng::new(0);
    let obs = [0.01f32, -0.2, 0.03, 0.1];
    assert_eq!(
        back.policy.act(&obs, true, &mut rng).unwrap(),
        saved.policy.act(&obs, true, &mut rng).unwrap()
    );
    let (frames, ret) = render_episode(&back.policy, "CartPole-v1", 3).unwrap();
    assert_eq!(frames.len() as f64, ret + 1.0);

    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(SavedPolicy::from_bytes(&bytes[..cut]).is_err(), "truncated at {cut}");
    }
    let mut flipped = bytes.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x20;
    assert!(SavedPolicy::from_bytes(&flipped).is_err());
    let future = ml_core::io::seal("rl-policy", 99, b"{}");
    assert!(matches!(
        SavedPolicy::from_bytes(&future),
        Err(ml_core::Error::UnsupportedVersion { .. })
    ));
    assert!(SavedPolicy::from_bytes(&ml_core::io::seal("model", 1, b"{}")).is_err());
}

#[test]
fn ppo_runs_on_continuous_actions() {
    let cfg = PpoConfig {
        n_envs: 4,
        n_steps: 64,
        n_epochs: 4,
        batch_size: 64,
        ..PpoConfig::default()
    };
    let (policy, stats) = train_ppo("Pendulum-v1", &cfg, 2048, &mut |_| {}).unwrap();
    assert_eq!(stats.env_steps, 2048);
    let ls = policy.log_std.as_ref().unwrap();
    let std = ls.predict(&[1.0]).unwrap()[0];
    assert!(std.is_finite() && std != 0.0, "log std {std} should have moved from 0");
    let Action::Continuous(a) = policy.act(&[1.0, 0.0, 0.0], false, &mut NumpyRng::new(1)).unwrap() else {
        panic!()
    };
    assert!(a.len() == 1 && a[0].is_finite());
    assert!(
        train_ppo(
            "CartPole-v1",
            &PpoConfig {
                n_envs: 0,
                ..PpoConfig::default()
            },
            10,
            &mut |_| {}
        )
        .is_err()
    );
}
