//! Deep Q-learning (Mnih et al., 2015) on ml-neural's networks, optionally
//! with double Q-learning's targets (van Hasselt et al., 2016): a replay
//! buffer, a target network copied every few steps, a linearly decaying
//! ε-greedy exploration, the Huber loss and gradient clipping. Discrete
//! actions only.
//!
//! The defaults are rl-baselines3-zoo's tuned CartPole-v1 hyper-parameters
//! (256-256 ReLU, 128 gradient steps every 256 environment steps, the
//! target network copied every 10 steps) with Stable-Baselines3's vanilla
//! targets: double Q-learning is an option (`double_q`), off by default,
//! because with these settings it learned CartPole less reliably here
//! (BENCHMARKS.md, `examples/dqn_variants.rs`).
//!
//! DQN's greedy policy swings between good and poor from one round to the
//! next, so by default training evaluates it every `eval_freq` steps on
//! `eval_episodes` deterministic episodes of a separate copy of the
//! environment and returns the best one seen, as Stable-Baselines3's
//! `EvalCallback(best_model_save_path=…)` keeps `best_model.zip`.
//! Evaluation steps are not counted as training steps (nor are they in
//! Stable-Baselines3).

use ml_core::{Activation, Error, Layer, Result};
use ml_neural::tape::{Optim, Tape, forward_rows};
use ml_neural::{BackendKind, Network, Optimizer, Sequential};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::env::make;
use crate::ppo::{PpoPolicy, PpoStats, TrainingState, argmax, scalar};
use crate::rng::NumpyRng;
use crate::space::{Action, Space};

/// DQN's hyper-parameters (Stable-Baselines3's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DqnConfig {
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Transitions kept.
    pub buffer_size: usize,
    /// Steps of random play before learning.
    pub learning_starts: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// Discount.
    pub gamma: f64,
    /// Environment steps between training rounds.
    pub train_freq: usize,
    /// Gradient steps per round.
    pub gradient_steps: usize,
    /// Environment steps between copies to the target network.
    pub target_update_interval: usize,
    /// Fraction of training over which ε falls from 1 to its final value.
    pub exploration_fraction: f64,
    /// The final ε.
    pub exploration_final_eps: f64,
    /// Gradient-norm clip.
    pub max_grad_norm: f64,
    /// Double Q-learning targets (the online network picks the next action).
    pub double_q: bool,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Seed of initialization, exploration and sampling.
    pub seed: u64,
    /// Environment steps between evaluations of the greedy policy; 0 turns
    /// evaluation off and returns the last policy.
    #[serde(default)]
    pub eval_freq: usize,
    /// Deterministic episodes per evaluation.
    #[serde(default)]
    pub eval_episodes: usize,
}

impl Default for DqnConfig {
    fn default() -> Self {
        Self {
            learning_rate: 2.3e-3,
            buffer_size: 100_000,
            learning_starts: 1000,
            batch_size: 64,
            gamma: 0.99,
            train_freq: 256,
            gradient_steps: 128,
            target_update_interval: 10,
            exploration_fraction: 0.16,
            exploration_final_eps: 0.04,
            max_grad_norm: 10.0,
            double_q: false,
            hidden: vec![256, 256],
            seed: 0,
            eval_freq: 2_500,
            eval_episodes: 10,
        }
    }
}

/// One step kept in the replay buffer.
struct Transition {
    obs: Vec<f32>,
    action: usize,
    reward: f64,
    next: Vec<f32>,
    terminated: bool,
}

/// Train DQN on the registered environment `env_id` for `total_steps`
/// steps. The policy comes back as a [`PpoPolicy`] whose actor is the
/// Q-network (its greedy action is the argmax) and whose critic is the
/// target network, so evaluation, rendering and saving are shared.
///
/// # Errors
/// An unknown environment, an action space that is not `Discrete`, bad
/// settings.
pub fn train_dqn(
    env_id: &str,
    cfg: &DqnConfig,
    total_steps: usize,
    on_round: &mut dyn FnMut(&PpoStats),
) -> Result<(PpoPolicy, PpoStats)> {
    let (policy, state) = continue_dqn(env_id, cfg, None, total_steps, on_round)?;
    Ok((policy, state.stats))
}

/// Train DQN from scratch (`from` is `None`) or on from a checkpoint's
/// Q-network, target network and training state, for `steps` more
/// environment steps; returns the policy with the state to resume from.
///
/// A resumed run keeps the networks, Adam's moments and the counters; ε
/// goes on falling over the whole (earlier and new) number of steps, as in
/// Stable-Baselines3. The replay buffer is not kept: it fills again (with
/// the ε-greedy policy, not random play) before training resumes.
///
/// # Errors
/// As [`train_dqn`]; a checkpoint that does not fit the environment.
pub fn continue_dqn(
    env_id: &str,
    cfg: &DqnConfig,
    from: Option<(PpoPolicy, TrainingState)>,
    steps: usize,
    on_round: &mut dyn FnMut(&PpoStats),
) -> Result<(PpoPolicy, TrainingState)> {
    continue_dqn_on(&mut || make(env_id), cfg, from, steps, on_round)
}

/// [`continue_dqn`] on an environment of one's own: `make_env` is called
/// twice, for the environment trained on and (with
/// [`DqnConfig::eval_freq`]) for the one evaluated on; any [`crate::Env`]
/// with a `Discrete` action space (a wrapped registered one, a
/// [`crate::ProcessEnv`], a simulator of one's own).
///
/// # Errors
/// As [`continue_dqn`]; `make_env`'s errors.
pub fn continue_dqn_on(
    make_env: &mut dyn FnMut() -> Result<Box<dyn crate::Env>>,
    cfg: &DqnConfig,
    from: Option<(PpoPolicy, TrainingState)>,
    steps: usize,
    on_round: &mut dyn FnMut(&PpoStats),
) -> Result<(PpoPolicy, TrainingState)> {
    if cfg.batch_size == 0 || cfg.buffer_size == 0 || cfg.train_freq == 0 {
        return Err(Error::invalid(
            "dqn",
            "batch_size, buffer_size and train_freq must be positive",
        ));
    }
    let mut env = make_env()?;
    let env_id = env.id().to_string();
    let space = env.action_space().clone();
    let Space::Discrete { n, start } = space else {
        return Err(Error::Unsupported(format!(
            "DQN on a {space} action space (it needs discrete actions)"
        )));
    };
    let n = n as usize;
    let obs_dim = env.observation_space().flat_dim();
    let mut optim = Optim::new(Optimizer::adam(), cfg.learning_rate);
    optim.clip_norm = Some(cfg.max_grad_norm);
    let mut stats = PpoStats::default();
    let (mut q, mut target) = match from {
        Some((policy, state)) => {
            policy.check_fits(obs_dim, &space, &env_id)?;
            state.restore(std::slice::from_mut(&mut optim), "DQN")?;
            stats = state.stats;
            (policy.actor, policy.critic)
        }
        None => {
            let mut init = ml_core::seeded_rng(cfg.seed);
            let mut arch = Sequential::new();
            for &h in &cfg.hidden {
                arch = arch.dense(h).activation(Activation::Relu);
            }
            let q = Network::new(&arch, obs_dim, n, &mut init)?;
            (q.clone(), q)
        }
    };
    // A resumed run draws other numbers than the run it continues.
    let done = stats.env_steps as u64;
    let mut rng = NumpyRng::new(u128::from(cfg.seed) + 11 + u128::from(done) * 7919);
    let mut sampler = ml_core::seeded_rng(cfg.seed.wrapping_add(12).wrapping_add(done.wrapping_mul(7919)));
    // Replay buffer: a ring of transitions.
    let mut replay: Vec<Transition> = Vec::new();
    let mut next_slot = 0;
    let forward = |layers: &[Layer], rows: &[&[f32]]| forward_rows(layers, obs_dim, rows);
    let mut q_layers = q.inference_layers()?;
    let mut target_layers = target.inference_layers()?;
    let (mut obs, _) = env.reset(Some(cfg.seed.wrapping_add(done)))?;
    let mut ep_ret = 0.0;
    let first = stats.env_steps;
    let total_steps = first + steps;
    let explore_steps = (cfg.exploration_fraction * total_steps as f64).max(1.0);
    // Training waits for this many transitions (a resumed run refills its buffer).
    let warm = cfg.learning_starts.min(cfg.buffer_size).max(1);
    let mut td_losses = Vec::new();
    let evaluating = cfg.eval_freq > 0 && cfg.eval_episodes > 0;
    let mut eval_env = if evaluating { Some(make_env()?) } else { None };
    // The best evaluated Q-network with its optimizer state (a resumed run
    // goes on from what it returned).
    let mut best: Option<(f64, Network, Optim)> = None;
    let mut next_eval = first + cfg.eval_freq;
    for t in first..total_steps {
        let eps =
            (1.0 - t as f64 / explore_steps).max(0.0) * (1.0 - cfg.exploration_final_eps) + cfg.exploration_final_eps;
        let k = if t < cfg.learning_starts || rng.next_f64() < eps {
            rng.below(n as u64) as usize
        } else {
            argmax(&forward(&q_layers, &[&obs])?[0])
        };
        let step = env.step(&Action::Discrete(start + k as i64))?;
        ep_ret += step.reward;
        let transition = Transition {
            obs: obs.clone(),
            action: k,
            reward: step.reward,
            next: step.obs.clone(),
            terminated: step.terminated,
        };
        if replay.len() < cfg.buffer_size {
            replay.push(transition);
        } else {
            replay[next_slot] = transition;
        }
        next_slot = (next_slot + 1) % cfg.buffer_size;
        obs = if step.terminated || step.truncated {
            stats.episode_returns.push(ep_ret);
            ep_ret = 0.0;
            env.reset(None)?.0
        } else {
            step.obs
        };
        stats.env_steps += 1;
        if (t + 1) % cfg.target_update_interval.max(1) == 0 {
            target = q.clone();
            target_layers = q_layers.clone();
        }
        if replay.len() < warm || (t + 1) % cfg.train_freq != 0 {
            continue;
        }
        for _ in 0..cfg.gradient_steps {
            let batch: Vec<&Transition> = (0..cfg.batch_size)
                .map(|_| &replay[sampler.random_range(0..replay.len())])
                .collect();
            let next: Vec<&[f32]> = batch.iter().map(|t| t.next.as_slice()).collect();
            let tq = forward(&target_layers, &next)?;
            let picks: Vec<usize> = if cfg.double_q {
                forward(&q_layers, &next)?.iter().map(|v| argmax(v)).collect()
            } else {
                tq.iter().map(|v| argmax(v)).collect()
            };
            let y: Vec<f32> = batch
                .iter()
                .enumerate()
                .map(|(r, t)| {
                    let future = if t.terminated { 0.0 } else { cfg.gamma * tq[r][picks[r]] };
                    (t.reward + future) as f32
                })
                .collect();
            let b = batch.len();
            let tape = Tape::new(&q, BackendKind::Cpu)?;
            let x: Vec<f32> = batch.iter().flat_map(|t| t.obs.iter().copied()).collect();
            let out = tape.forward(tape.matrix(x, b, obs_dim));
            let mut onehot = vec![0f32; b * n];
            for (r, t) in batch.iter().enumerate() {
                onehot[r * n + t.action] = 1.0;
            }
            let qa = (out * tape.matrix(onehot, b, n)).sum_dim(1);
            let diff = qa - tape.matrix(y, b, 1);
            // Huber loss (δ = 1), as smooth L1.
            let abs = diff.clone().abs();
            let quad = abs.clone().clamp_max(1.0);
            let loss = (quad.clone() * quad.clone() * 0.5 + (abs - quad)).mean();
            td_losses.push(scalar(loss.clone())?);
            let grads = tape.gradients(loss)?;
            drop(tape);
            optim.step(&mut q, grads);
            q_layers = q.inference_layers()?;
        }
        if let Some(env) = eval_env.as_mut()
            && t + 1 >= next_eval
        {
            next_eval += cfg.eval_freq * ((t + 1 - next_eval) / cfg.eval_freq + 1);
            let mean = greedy_return(&q, &space, env.as_mut(), cfg)?;
            stats.evaluations.push((stats.env_steps, mean));
            // Later policies win ties: they have trained longer.
            if best.as_ref().is_none_or(|(b, _, _)| mean >= *b) {
                best = Some((mean, q.clone(), optim.clone()));
            }
        }
        let td_loss = td_losses.iter().sum::<f64>() / td_losses.len().max(1) as f64;
        td_losses.clear();
        stats.losses = [("td_loss".to_string(), td_loss), ("epsilon".to_string(), eps)].into();
        stats.updates += 1;
        on_round(&stats);
    }
    if let Some(env) = eval_env.as_mut()
        && best.is_some()
    {
        let mean = greedy_return(&q, &space, env.as_mut(), cfg)?;
        stats.evaluations.push((stats.env_steps, mean));
        if let Some((b, net, opt)) = best
            && b > mean
        {
            target = net.clone();
            q = net;
            optim = opt;
        }
    }
    let state = TrainingState::new(std::slice::from_ref(&optim), stats);
    Ok((
        PpoPolicy {
            actor: q,
            critic: target,
            log_std: None,
            action_space: space,
            obs_norm: None,
        },
        state,
    ))
}

/// The seeds of DQN's periodic evaluations: the same episodes every time, so
/// that evaluations compare, and apart from the seeds `evaluate` is usually
/// given for reporting.
pub const EVAL_SEED: u64 = 1_000_000;

/// Mean return of `cfg.eval_episodes` deterministic episodes of the greedy
/// Q-network from `reset(EVAL_SEED + seed · 1000 + i)`.
fn greedy_return(q: &Network, space: &Space, env: &mut dyn crate::Env, cfg: &DqnConfig) -> Result<f64> {
    let policy = PpoPolicy {
        actor: q.clone(),
        critic: q.clone(),
        log_std: None,
        action_space: space.clone(),
        obs_norm: None,
    };
    let base = EVAL_SEED.wrapping_add(cfg.seed.wrapping_mul(1000));
    let returns = crate::ppo::evaluate_on(&policy, env, cfg.eval_episodes, base)?;
    Ok(returns.iter().sum::<f64>() / returns.len().max(1) as f64)
}
