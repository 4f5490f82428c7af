#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
//! PPO learns CartPole, runs on continuous actions, and its policies save,
//! reload to the same actions, refuse corrupt files, resume training, and
//! predict as models what they play.

use ml_core::{Model, Predictions, SavedModel};
use ml_rl::model::visited_dataset;
use ml_rl::ppo::{
    PpoConfig, SavedPolicy, continue_ppo, continue_ppo_on, evaluate, evaluate_on, render_episode, train_ppo,
};
use ml_rl::{Action, Env, Info, NumpyRng, Space, Step, resume_agent, train_agent};

#[test]
fn ppo_learns_cartpole_and_its_policy_round_trips() {
    let cfg = PpoConfig::default();
    let mut updates = 0;
    let (policy, state) = continue_ppo("CartPole-v1", &cfg, None, 50_000, &mut |_| updates += 1).unwrap();
    let stats = state.stats.clone();
    assert_eq!(updates, stats.updates);
    for key in ["policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"] {
        assert!(stats.losses[key].is_finite(), "{key}: {:?}", stats.losses);
    }
    assert!(stats.losses["entropy"] > 0.0 && stats.losses["learning_rate"] >= 0.0);
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
        training: Some(state),
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

    // The directory is also a model directory: the spec predicts, for every
    // state the policy meets, the action it plays.
    let model = SavedModel::load(dir.path()).unwrap();
    assert_eq!(model.trainer, "ppo");
    assert_eq!(
        model.signature().input_names(),
        ["cart_position", "cart_velocity", "pole_angle", "pole_angular_velocity"]
    );
    let states = visited_dataset(&saved, "CartPole-v1", 3, 10_000).unwrap();
    assert!(states.n_samples() >= 3 * 300);
    let (played, classes) = states.classes().unwrap();
    assert_eq!(classes, ["0", "1"]);
    let Predictions::Classification {
        labels, probabilities, ..
    } = model.predict(states.features()).unwrap()
    else {
        panic!("a discrete policy is a classifier")
    };
    assert_eq!(labels, played);
    for row in probabilities.unwrap().outer_iter() {
        assert!((row.sum() - 1.0).abs() < 1e-9);
    }

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

/// With standardized observations, the statistics train along, save with
/// the policy, and head its model as a `StandardScale` step.
#[test]
fn pendulum_policy_is_a_regressor_of_its_mean_action() {
    let cfg = PpoConfig {
        n_envs: 2,
        n_steps: 64,
        batch_size: 64,
        n_epochs: 2,
        normalize_observations: true,
        ..PpoConfig::tuned("Pendulum-v1")
    };
    let (policy, state) = continue_ppo("Pendulum-v1", &cfg, None, 256, &mut |_| {}).unwrap();
    let stats = policy.obs_norm.clone().unwrap();
    assert!(stats.count > 256.0 && stats.var.iter().all(|v| *v > 0.0), "{stats:?}");
    let names: Vec<String> = ["cos_theta", "sin_theta", "theta_dot"].map(String::from).to_vec();
    let spec = policy.to_spec(&names).unwrap();
    assert_eq!(spec.preprocessing.len(), 1);
    let saved = SavedPolicy {
        env: "Pendulum-v1".into(),
        algo: "ppo".into(),
        config: serde_json::to_value(&cfg).unwrap(),
        policy: policy.clone(),
        env_steps: state.stats.env_steps,
        training: Some(state.clone()),
    };
    let back = SavedPolicy::from_bytes(&saved.to_bytes().unwrap()).unwrap();
    assert_eq!(back.policy.obs_norm, policy.obs_norm);
    let states = visited_dataset(&back, "Pendulum-v1", 1, 5).unwrap();
    let Predictions::Regression { values } = spec.predict(states.features()).unwrap() else {
        panic!("a continuous policy is a regressor")
    };
    let played = states.values().unwrap();
    for (p, a) in values.iter().zip(played) {
        assert!((p - a).abs() < 1e-4 * (1.0 + a.abs()), "{p} vs {a}");
    }
    assert!(policy.to_spec(&names[..2]).is_err());
    // Resuming goes on from the statistics.
    let (resumed, _) = continue_ppo("Pendulum-v1", &cfg, Some((policy, state)), 256, &mut |_| {}).unwrap();
    assert!(resumed.obs_norm.unwrap().count > stats.count + 255.0);
}

#[test]
fn training_resumes_from_a_saved_policy() {
    let mut seen = Vec::new();
    let (first, stats) = train_agent("CartPole-v1", "ppo", 2048, 3, &mut |s| seen.push(s.env_steps)).unwrap();
    let state = first.training.clone().unwrap();
    assert_eq!(state.optimizers.len(), 3);
    assert!(state.optimizers[0].step > 0 && !state.optimizers[0].slots.is_empty());
    let dir = tempfile::tempdir().unwrap();
    first.save(dir.path()).unwrap();
    let loaded = SavedPolicy::load(dir.path()).unwrap();
    assert_eq!(loaded, first);

    let (more, more_stats) = resume_agent(&loaded, 2048, &mut |s| seen.push(s.env_steps)).unwrap();
    assert_eq!(more_stats.env_steps, stats.env_steps + 2048);
    assert_eq!(more_stats.updates, 2 * stats.updates);
    assert!(more_stats.episode_returns.len() > stats.episode_returns.len());
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "progress counts on: {seen:?}");
    let resumed = more.training.as_ref().unwrap();
    assert!(resumed.optimizers[0].step > state.optimizers[0].step);
    assert_ne!(more.policy, first.policy);
    // Resuming is reproducible.
    let (again, _) = resume_agent(&loaded, 2048, &mut |_| {}).unwrap();
    assert_eq!(again, more);

    // DQN too: its Q-network, Adam state and step counter.
    let (dqn, dqn_stats) = train_agent("CartPole-v1", "dqn", 1200, 0, &mut |_| {}).unwrap();
    let (dqn_more, dqn_more_stats) = resume_agent(&dqn, 1200, &mut |_| {}).unwrap();
    assert_eq!(dqn_more_stats.env_steps, dqn_stats.env_steps + 1200);
    let before = &dqn.training.as_ref().unwrap().optimizers[0];
    assert!(dqn_more.training.as_ref().unwrap().optimizers[0].step > before.step);

    // A policy kept without its training state, or a checkpoint for
    // another environment, is refused.
    let bare = SavedPolicy {
        training: None,
        ..first.clone()
    };
    assert!(resume_agent(&bare, 100, &mut |_| {}).is_err());
    let elsewhere = SavedPolicy {
        env: "Acrobot-v1".into(),
        ..first
    };
    assert!(resume_agent(&elsewhere, 100, &mut |_| {}).is_err());
}

/// A one-step task of our own with two action dimensions: the observation
/// shows a number `s` in 0..3 (one-hot); the action `(a, b)` earns 1 for
/// `a == s` and 1 for `b == s % 2`.
struct Match {
    s: i64,
    rng: NumpyRng,
    observations: Space,
    actions: Space,
}

impl Match {
    fn new() -> Self {
        Self {
            s: 0,
            rng: NumpyRng::new(0),
            observations: Space::Box {
                low: vec![0.0; 3],
                high: vec![1.0; 3],
                shape: vec![3],
            },
            actions: Space::MultiDiscrete { nvec: vec![3, 2] },
        }
    }

    fn obs(&self) -> Vec<f32> {
        (0..3).map(|i| if i == self.s { 1.0 } else { 0.0 }).collect()
    }
}

impl Env for Match {
    fn id(&self) -> &str {
        "Match"
    }
    fn observation_space(&self) -> &Space {
        &self.observations
    }
    fn action_space(&self) -> &Space {
        &self.actions
    }
    fn reset(&mut self, seed: Option<u64>) -> ml_core::Result<(Vec<f32>, Info)> {
        if let Some(seed) = seed {
            self.rng = NumpyRng::new(u128::from(seed));
        }
        self.s = self.rng.below(3) as i64;
        Ok((self.obs(), Info::new()))
    }
    fn step(&mut self, action: &Action) -> ml_core::Result<Step> {
        let Action::MultiDiscrete(a) = action else {
            return Err(ml_core::Error::invalid("action", format!("{action:?}")));
        };
        let reward = f64::from(u8::from(a[0] == self.s)) + f64::from(u8::from(a[1] == self.s % 2));
        Ok(Step {
            obs: self.obs(),
            reward,
            terminated: true,
            truncated: false,
            info: Info::new(),
        })
    }
}

#[test]
fn ppo_learns_multi_discrete_actions_on_an_environment_of_ones_own() {
    let cfg = PpoConfig {
        n_envs: 4,
        n_steps: 32,
        batch_size: 64,
        n_epochs: 4,
        ..PpoConfig::default()
    };
    let (policy, state) = continue_ppo_on(&mut || Ok(Box::new(Match::new())), &cfg, None, 6000, &mut |_| {}).unwrap();
    let random = state.stats.episode_returns.iter().take(50).sum::<f64>() / 50.0;
    let returns = evaluate_on(&policy, &mut Match::new(), 30, 7).unwrap();
    let mean = returns.iter().sum::<f64>() / 30.0;
    eprintln!("PPO on MultiDiscrete([3, 2]): greedy mean {mean} (first episodes {random})");
    assert!(mean > 1.9 && random < 1.5, "greedy {mean}, first {random}");
    let Action::MultiDiscrete(a) = policy.act(&[0.0, 1.0, 0.0], true, &mut NumpyRng::new(0)).unwrap() else {
        panic!("a MultiDiscrete policy acts with MultiDiscrete actions")
    };
    assert_eq!(a, [1, 1]);
    // Not one model (a model predicts one class), but one per dimension:
    // each predicts its part of the policy's action.
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    assert!(matches!(policy.to_spec(&names), Err(ml_core::Error::Unsupported(_))));
    let rows = ml_core::ndarray::Array2::from_shape_vec((3, 3), vec![1., 0., 0., 0., 1., 0., 0., 0., 1.]).unwrap();
    let mut parts = Vec::new();
    for d in 0..2 {
        let Predictions::Classification { labels, .. } =
            policy.dimension_spec(&names, d).unwrap().predict(rows.view()).unwrap()
        else {
            panic!("a MultiDiscrete dimension is a classifier")
        };
        parts.push(labels);
    }
    for (i, row) in rows.rows().into_iter().enumerate() {
        let obs: Vec<f32> = row.iter().map(|&v| v as f32).collect();
        let Action::MultiDiscrete(a) = policy.act(&obs, true, &mut NumpyRng::new(0)).unwrap() else {
            panic!("a MultiDiscrete policy acts with MultiDiscrete actions")
        };
        assert_eq!(a, [parts[0][i] as i64, parts[1][i] as i64]);
    }
    assert!(policy.dimension_spec(&names, 2).is_err());
    let saved = SavedPolicy {
        env: "Match".into(),
        algo: "ppo".into(),
        config: serde_json::to_value(&cfg).unwrap(),
        policy,
        env_steps: state.stats.env_steps,
        training: Some(state),
    };
    assert_eq!(SavedPolicy::from_bytes(&saved.to_bytes().unwrap()).unwrap(), saved);
    // Saved, it is a model directory per dimension.
    let dir = tempfile::tempdir().unwrap();
    saved.save(dir.path()).unwrap();
    assert!(!dir.path().join("model.mlsdk").exists());
    for d in 0..2 {
        let model = SavedModel::load(&dir.path().join(format!("action_{d}"))).unwrap();
        assert_eq!(model.spec.estimator, saved.to_saved_models().unwrap()[d].spec.estimator);
    }
}

/// Two continuous action dimensions: reward for matching the observation.
struct Reach {
    target: Vec<f32>,
    rng: NumpyRng,
    observations: Space,
    actions: Space,
}

impl Env for Reach {
    fn id(&self) -> &str {
        "Reach"
    }
    fn observation_space(&self) -> &Space {
        &self.observations
    }
    fn action_space(&self) -> &Space {
        &self.actions
    }
    fn reset(&mut self, seed: Option<u64>) -> ml_core::Result<(Vec<f32>, Info)> {
        if let Some(seed) = seed {
            self.rng = NumpyRng::new(u128::from(seed));
        }
        self.target = (0..2).map(|_| self.rng.next_f64() as f32 * 2.0 - 1.0).collect();
        Ok((self.target.clone(), Info::new()))
    }
    fn step(&mut self, action: &Action) -> ml_core::Result<Step> {
        let Action::Continuous(a) = action else {
            return Err(ml_core::Error::invalid("action", format!("{action:?}")));
        };
        let miss: f32 = a.iter().zip(&self.target).map(|(a, t)| (a - t).abs()).sum();
        Ok(Step {
            obs: self.target.clone(),
            reward: -f64::from(miss),
            terminated: true,
            truncated: false,
            info: Info::new(),
        })
    }
}

#[test]
fn a_policy_over_two_continuous_dimensions_is_two_regressors() {
    let make = || Reach {
        target: vec![0.0; 2],
        rng: NumpyRng::new(0),
        observations: Space::Box {
            low: vec![-1.0; 2],
            high: vec![1.0; 2],
            shape: vec![2],
        },
        actions: Space::Box {
            low: vec![-1.0; 2],
            high: vec![1.0; 2],
            shape: vec![2],
        },
    };
    let cfg = PpoConfig {
        n_envs: 2,
        n_steps: 32,
        batch_size: 32,
        n_epochs: 2,
        ..PpoConfig::default()
    };
    let (policy, state) = continue_ppo_on(&mut || Ok(Box::new(make())), &cfg, None, 128, &mut |_| {}).unwrap();
    let names: Vec<String> = ["x", "y"].map(String::from).to_vec();
    assert!(matches!(policy.to_spec(&names), Err(ml_core::Error::Unsupported(_))));
    let rows = ml_core::ndarray::array![[0.5, -0.25], [-0.75, 0.1], [0.0, 0.9]];
    let mut parts = Vec::new();
    for d in 0..2 {
        let Predictions::Regression { values } =
            policy.dimension_spec(&names, d).unwrap().predict(rows.view()).unwrap()
        else {
            panic!("a Box dimension is a regressor")
        };
        parts.push(values);
    }
    for (i, row) in rows.rows().into_iter().enumerate() {
        let obs: Vec<f32> = row.iter().map(|&v| v as f32).collect();
        let Action::Continuous(a) = policy.act(&obs, true, &mut NumpyRng::new(0)).unwrap() else {
            panic!("a Box policy acts with continuous actions")
        };
        for d in 0..2 {
            assert!((f64::from(a[d]) - parts[d][i]).abs() < 1e-5, "{a:?} vs {}", parts[d][i]);
        }
    }
    let saved = SavedPolicy {
        env: "Reach".into(),
        algo: "ppo".into(),
        config: serde_json::to_value(&cfg).unwrap(),
        policy,
        env_steps: state.stats.env_steps,
        training: Some(state),
    };
    let models = saved.to_saved_models().unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[1].spec.signature.inputs[0].name, "obs_0");
}
