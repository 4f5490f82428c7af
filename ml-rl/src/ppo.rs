//! Proximal Policy Optimization (Schulman et al., 2017) on ml-neural's
//! networks: an actor and a critic (separate MLPs), rollouts from several
//! environments, generalized advantage estimation, the clipped surrogate
//! objective with optional value clipping, an entropy bonus, minibatch
//! epochs, advantage normalization, learning-rate annealing and gradient
//! clipping. Discrete actions sample a softmax; continuous ones a Gaussian
//! with a learned, state-independent log standard deviation.
//!
//! The defaults are rl-baselines3-zoo's tuned CartPole-v1 hyper-parameters.

use std::collections::BTreeMap;

use ml_core::{Activation, Error, Layer, Result};
use ml_neural::tape::{Optim, Tape, Tensor, activation, forward_rows, gradients, read};
use ml_neural::{BackendKind, Network, Optimizer, Sequential};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::env::{Env, make};
use crate::rng::NumpyRng;
use crate::space::{Action, Space};
use crate::wrappers::RunningMeanStd;

/// PPO's hyper-parameters (Stable-Baselines3's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoConfig {
    /// Environments stepped together.
    pub n_envs: usize,
    /// Steps per environment between updates.
    pub n_steps: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// Passes over each rollout.
    pub n_epochs: usize,
    /// Discount.
    pub gamma: f64,
    /// GAE's λ.
    pub gae_lambda: f64,
    /// The surrogate's clipping range.
    pub clip_range: f64,
    /// Clip the value function's change to this range (None: no clipping).
    pub clip_range_vf: Option<f64>,
    /// Entropy bonus coefficient.
    pub ent_coef: f64,
    /// Value loss coefficient.
    pub vf_coef: f64,
    /// Global gradient-norm clip of each network.
    pub max_grad_norm: f64,
    /// Adam's learning rate at the start.
    pub learning_rate: f64,
    /// Anneal the learning rate linearly to 0.
    pub anneal_lr: bool,
    /// Normalize advantages per minibatch.
    pub normalize_advantage: bool,
    /// Hidden layer widths of both networks.
    pub hidden: Vec<usize>,
    /// Their activation.
    pub activation: Activation,
    /// Initial log standard deviation of continuous actions.
    pub log_std_init: f64,
    /// Standardize observations by running statistics (Stable-Baselines3's
    /// `VecNormalize(norm_obs=True)`, without its clipping at ±10, so the
    /// policy as a model is exactly a standard scaling and its network).
    #[serde(default)]
    pub normalize_observations: bool,
    /// Seed of initialization, sampling and shuffling.
    pub seed: u64,
}

impl Default for PpoConfig {
    fn default() -> Self {
        Self {
            n_envs: 8,
            n_steps: 32,
            batch_size: 256,
            n_epochs: 20,
            gamma: 0.98,
            gae_lambda: 0.8,
            clip_range: 0.2,
            clip_range_vf: None,
            ent_coef: 0.0,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            learning_rate: 1e-3,
            anneal_lr: true,
            normalize_advantage: true,
            hidden: vec![64, 64],
            activation: Activation::Tanh,
            log_std_init: 0.0,
            normalize_observations: false,
            seed: 0,
        }
    }
}

impl PpoConfig {
    /// Hyper-parameters for `env_id` after rl-baselines3-zoo's tuned ones
    /// (without its state-dependent exploration for Pendulum); the
    /// defaults (its CartPole-v1 settings) elsewhere.
    pub fn tuned(env_id: &str) -> Self {
        match env_id {
            "Pendulum-v1" | "MountainCarContinuous-v0" => Self {
                n_envs: 4,
                n_steps: 1024,
                batch_size: 64,
                n_epochs: 10,
                gamma: 0.9,
                gae_lambda: 0.95,
                learning_rate: 1e-3,
                log_std_init: -0.5,
                ..Self::default()
            },
            _ => Self::default(),
        }
    }
}

/// A policy: the actor (and, for continuous actions, its log standard
/// deviations) with the critic it was trained with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoPolicy {
    /// Observations → action logits, or Gaussian means.
    pub actor: Network,
    /// Observations → state value (PPO), or the target Q-network (DQN,
    /// whose actor is the Q-network).
    pub critic: Network,
    /// Continuous actions: a one-input dense layer whose output (for input
    /// 1) is the log standard deviation, so it trains like any weight.
    pub log_std: Option<Network>,
    /// The action space.
    pub action_space: Space,
    /// Running statistics that standardize observations before both
    /// networks (with [`PpoConfig::normalize_observations`]).
    #[serde(default)]
    pub obs_norm: Option<RunningMeanStd>,
}

/// Added to variances before their square root when standardizing
/// observations (Stable-Baselines3's `VecNormalize` epsilon).
pub const OBS_EPSILON: f64 = 1e-8;

/// `(x - mean) / sqrt(var + ε)` of one observation.
fn normalize_obs(stats: &RunningMeanStd, x: &[f32]) -> Vec<f32> {
    x.iter()
        .zip(&stats.mean)
        .zip(&stats.var)
        .map(|((v, m), s)| ((f64::from(*v) - m) / (s + OBS_EPSILON).sqrt()) as f32)
        .collect()
}

/// What one training run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PpoStats {
    /// Environment steps taken.
    pub env_steps: usize,
    /// Updates made.
    pub updates: usize,
    /// Returns of the episodes finished, in order.
    pub episode_returns: Vec<f64>,
    /// The last update's training figures, means over its minibatches
    /// (PPO: `policy_loss`, `value_loss`, `entropy`, `approx_kl`,
    /// `clip_fraction`, `learning_rate`; DQN: `td_loss`, `epsilon`), under
    /// Stable-Baselines3's names without the `train/` prefix.
    #[serde(default)]
    pub losses: BTreeMap<String, f64>,
    /// Periodic evaluations during training, as (environment steps, mean
    /// return of the deterministic evaluation episodes): Stable-Baselines3's
    /// `evaluations.npz`. DQN keeps the best of them (`DqnConfig::eval_freq`).
    #[serde(default)]
    pub evaluations: Vec<(usize, f64)>,
}

impl PpoStats {
    /// The mean return of the last `n` finished episodes (None before the
    /// first): the learning curve's value.
    pub fn recent_return(&self, n: usize) -> Option<f64> {
        let recent = &self.episode_returns[self.episode_returns.len().saturating_sub(n)..];
        (!recent.is_empty()).then(|| recent.iter().sum::<f64>() / recent.len() as f64)
    }

    /// What a tracker records after each update: the update's losses and
    /// the mean return of the last 20 episodes as `episode_return`.
    pub fn figures(&self) -> Vec<(&str, f64)> {
        let mut figures: Vec<(&str, f64)> = self.losses.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        figures.extend(self.recent_return(20).map(|r| ("episode_return", r)));
        figures
    }
}

fn network(cfg: &PpoConfig, inputs: usize, outputs: usize, rng: &mut ml_core::SeededRng) -> Result<Network> {
    let mut arch = Sequential::new();
    for &h in &cfg.hidden {
        arch = arch.dense(h).activation(cfg.activation);
    }
    Network::new(&arch, inputs, outputs, rng)
}

/// The categorical blocks of a discrete action space's logits: one
/// `(offset, size)` per dimension (`Discrete` has one, `MultiDiscrete` one
/// per entry of `nvec`); `None` for continuous actions.
fn blocks(space: &Space) -> Option<Vec<(usize, usize)>> {
    let sizes: Vec<usize> = match space {
        Space::Discrete { n, .. } => vec![usize::try_from(*n).unwrap_or(usize::MAX)],
        Space::MultiDiscrete { nvec } => nvec.iter().map(|&n| usize::try_from(n).unwrap_or(usize::MAX)).collect(),
        Space::Box { .. } => return None,
    };
    let mut offset = 0usize;
    Some(
        sizes
            .into_iter()
            .map(|n| {
                let block = (offset, n);
                offset = offset.saturating_add(n);
                block
            })
            .collect(),
    )
}

/// The action of one row of logits, a sample or the most likely value per
/// block, with the indices chosen and their log-probability.
fn categorical(
    space: &Space,
    blocks: &[(usize, usize)],
    logits: &[f64],
    deterministic: bool,
    rng: &mut NumpyRng,
) -> (Action, Vec<f64>, f64) {
    let mut picks = Vec::with_capacity(blocks.len());
    let mut logp = 0.0;
    for &(o, n) in blocks {
        let p = softmax(&logits[o..o + n]);
        let k = if deterministic {
            argmax(&logits[o..o + n])
        } else {
            sample(&p, rng)
        };
        logp += p[k].max(1e-300).ln();
        picks.push(k);
    }
    let action = match space {
        Space::Discrete { start, .. } => Action::Discrete(start + picks[0] as i64),
        _ => Action::MultiDiscrete(picks.iter().map(|&k| k as i64).collect()),
    };
    (action, picks.into_iter().map(|k| k as f64).collect(), logp)
}

/// The index of the largest value (the first of equals).
pub(crate) fn argmax(v: &[f64]) -> usize {
    v.iter().enumerate().fold(0, |b, (i, x)| if *x > v[b] { i } else { b })
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// The Gaussian log density of `a` under mean `mu` and log std `ls`, summed.
fn gauss_logp(a: &[f64], mu: &[f64], ls: &[f64]) -> f64 {
    a.iter()
        .zip(mu)
        .zip(ls)
        .map(|((a, m), l)| -0.5 * ((a - m) / l.exp()).powi(2) - l - 0.5 * (2.0 * std::f64::consts::PI).ln())
        .sum()
}

/// A policy's networks as inference layers, for fast host-side passes.
struct Cached {
    width: usize,
    actor: Vec<Layer>,
    critic: Vec<Layer>,
    log_std: Option<Vec<f64>>,
    norm: Option<RunningMeanStd>,
}

impl Cached {
    /// Outputs of `layers` (the actor's or the critic's) for each row
    /// (standardized first where the policy does).
    fn forward<R: AsRef<[f32]>>(&self, layers: &[Layer], rows: &[R]) -> Result<Vec<Vec<f64>>> {
        match &self.norm {
            None => forward_rows(layers, self.width, rows),
            Some(n) => {
                let rows: Vec<Vec<f32>> = rows.iter().map(|r| normalize_obs(n, r.as_ref())).collect();
                forward_rows(layers, self.width, &rows)
            }
        }
    }

    /// The action for one observation: the most likely (deterministic) or
    /// a sample.
    fn act(&self, space: &Space, obs: &[f32], deterministic: bool, rng: &mut NumpyRng) -> Result<Action> {
        let out = self.forward(&self.actor, &[obs])?.remove(0);
        if let Some(blocks) = blocks(space) {
            return Ok(categorical(space, &blocks, &out, deterministic, rng).0);
        }
        let ls = self.log_std.clone().unwrap_or_else(|| vec![0.0; out.len()]);
        Ok(Action::Continuous(
            out.iter()
                .zip(&ls)
                .map(|(m, l)| if deterministic { *m } else { m + l.exp() * rng.normal() } as f32)
                .collect(),
        ))
    }

    /// The return of one deterministic episode in `env` from `reset(seed)`,
    /// each observation and the action taken on it pushed to `record`.
    fn play(
        &self,
        space: &Space,
        env: &mut dyn Env,
        seed: u64,
        mut record: Option<&mut Vec<(Vec<f32>, Action)>>,
    ) -> Result<f64> {
        let (mut obs, _) = env.reset(Some(seed))?;
        let mut rng = NumpyRng::new(u128::from(seed));
        let mut total = 0.0;
        loop {
            let action = self.act(space, &obs, true, &mut rng)?;
            let s = env.step(&action)?;
            if let Some(r) = record.as_deref_mut() {
                r.push((obs, action));
            }
            total += s.reward;
            obs = s.obs;
            if s.terminated || s.truncated {
                return Ok(total);
            }
        }
    }
}

impl PpoPolicy {
    /// Check that the networks fit each other and the action space: the
    /// actor has one output per discrete action (or per continuous
    /// dimension), the critic reads the actor's inputs and gives one value
    /// (PPO) or one per action (DQN's target network), and the log
    /// standard deviations map 1 input to one value per dimension.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the network that does not fit.
    pub fn validate(&self) -> Result<()> {
        let outputs = self.actor.output_width();
        let wanted = match &self.action_space {
            Space::Discrete { n, .. } => usize::try_from(*n).unwrap_or(usize::MAX),
            Space::Box { low, .. } => low.len(),
            Space::MultiDiscrete { nvec } => nvec
                .iter()
                .try_fold(0usize, |a, &n| a.checked_add(usize::try_from(n).ok()?))
                .unwrap_or(usize::MAX),
        };
        let bad = |reason: String| Err(Error::Corrupt { what: "policy", reason });
        if outputs != wanted {
            return bad(format!("the actor has {outputs} outputs for {wanted} actions"));
        }
        let value = self.critic.output_width();
        if self.critic.input_width != self.actor.input_width || (value != 1 && value != outputs) {
            return bad("the critic does not fit the actor".into());
        }
        match (&self.log_std, &self.action_space) {
            (Some(ls), Space::Box { .. }) if ls.input_width == 1 && ls.output_width() == outputs => {}
            (None, Space::Discrete { .. } | Space::MultiDiscrete { .. }) => {}
            _ => return bad("log standard deviations that do not fit the action space".into()),
        }
        if let Some(n) = &self.obs_norm {
            let width = self.actor.input_width;
            let fits = n.mean.len() == width && n.var.len() == width;
            if !fits || n.var.iter().chain(&n.mean).any(|v| !v.is_finite()) || n.var.iter().any(|v| *v < 0.0) {
                return bad("observation statistics that do not fit the actor".into());
            }
        }
        Ok(())
    }

    /// A checkpoint's policy must be valid and read `env_id`'s
    /// observations and act in its action space.
    pub(crate) fn check_fits(&self, obs_dim: usize, action_space: &Space, env_id: &str) -> Result<()> {
        if self.actor.input_width != obs_dim || self.action_space != *action_space {
            return Err(Error::invalid(
                "checkpoint",
                format!("its policy does not fit {env_id}'s observations and actions"),
            ));
        }
        self.validate()
    }

    fn cached(&self) -> Result<Cached> {
        let log_std = match &self.log_std {
            Some(n) => Some(n.predict(&[1.0])?),
            None => None,
        };
        Ok(Cached {
            width: self.actor.input_width,
            actor: self.actor.inference_layers()?,
            critic: self.critic.inference_layers()?,
            log_std,
            norm: self.obs_norm.clone(),
        })
    }

    /// The action for one observation: the most likely (deterministic) or
    /// a sample.
    ///
    /// # Errors
    /// An observation of the wrong width.
    pub fn act(&self, obs: &[f32], deterministic: bool, rng: &mut NumpyRng) -> Result<Action> {
        self.cached()?.act(&self.action_space, obs, deterministic, rng)
    }
}

fn sample(p: &[f64], rng: &mut NumpyRng) -> usize {
    let u = rng.next_f64();
    let mut acc = 0.0;
    for (i, v) in p.iter().enumerate() {
        acc += v;
        if u < acc {
            return i;
        }
    }
    p.len() - 1
}

/// One value of a scalar tensor.
pub(crate) fn scalar(t: Tensor<1>) -> Result<f64> {
    Ok(read(t)?.first().map_or(f64::NAN, |&v| f64::from(v)))
}

/// PPO's training figures over one update's minibatches.
#[derive(Default)]
struct Figures {
    policy_loss: Vec<f64>,
    value_loss: Vec<f64>,
    entropy: Vec<f64>,
    approx_kl: Vec<f64>,
    clip_fraction: Vec<f64>,
}

impl Figures {
    /// Record a minibatch's probability ratios (for the KL estimate
    /// `(r - 1) - ln r` and the clipped fraction), surrogate loss and entropy.
    fn policy(&mut self, ratios: &[f32], clip: f32, loss: f64, entropy: f64) {
        let n = ratios.len().max(1) as f64;
        let kl = ratios
            .iter()
            .map(|&r| f64::from(r - 1.0) - f64::from(r).ln())
            .sum::<f64>()
            / n;
        let clipped = ratios.iter().filter(|&&r| (r - 1.0).abs() > clip).count() as f64 / n;
        self.approx_kl.push(kl);
        self.clip_fraction.push(clipped);
        self.policy_loss.push(loss);
        self.entropy.push(entropy);
    }

    fn means(&self, learning_rate: f64) -> BTreeMap<String, f64> {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        [
            ("policy_loss", mean(&self.policy_loss)),
            ("value_loss", mean(&self.value_loss)),
            ("entropy", mean(&self.entropy)),
            ("approx_kl", mean(&self.approx_kl)),
            ("clip_fraction", mean(&self.clip_fraction)),
            ("learning_rate", learning_rate),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Rollout storage, `n_steps × n_envs` flattened step-major.
#[derive(Default)]
struct Buffer {
    obs: Vec<Vec<f32>>,
    actions: Vec<Vec<f64>>,
    logp: Vec<f64>,
    rewards: Vec<f64>,
    dones: Vec<bool>,
    values: Vec<f64>,
}

/// Train a PPO policy on `n_envs` copies of the registered environment
/// `env_id` for about `total_steps` environment steps, calling `on_update`
/// after each update with the stats so far.
///
/// # Errors
/// An unknown environment, bad settings.
pub fn train_ppo(
    env_id: &str,
    cfg: &PpoConfig,
    total_steps: usize,
    on_update: &mut dyn FnMut(&PpoStats),
) -> Result<(PpoPolicy, PpoStats)> {
    let (policy, state) = continue_ppo(env_id, cfg, None, total_steps, on_update)?;
    Ok((policy, state.stats))
}

/// Train PPO from scratch (`from` is `None`) or on from a checkpoint's
/// policy and training state, for about `steps` more environment steps;
/// returns the policy with the state to resume from again.
///
/// A resumed run keeps the networks, the optimizers' moments and the
/// counters; learning-rate annealing runs over the whole (earlier and new)
/// number of updates, as Stable-Baselines3's `learn(reset_num_timesteps=False)`
/// does. The environments start new episodes (seeded from the seed and the
/// steps done).
///
/// # Errors
/// As [`train_ppo`]; a checkpoint whose networks or optimizers do not fit
/// the environment.
pub fn continue_ppo(
    env_id: &str,
    cfg: &PpoConfig,
    from: Option<(PpoPolicy, TrainingState)>,
    steps: usize,
    on_update: &mut dyn FnMut(&PpoStats),
) -> Result<(PpoPolicy, TrainingState)> {
    continue_ppo_on(&mut || make(env_id), cfg, from, steps, on_update)
}

/// [`continue_ppo`] on environments of one's own: `make_env` is called
/// once per environment of [`PpoConfig::n_envs`] (any [`Env`]: a wrapped
/// registered one, a [`crate::ProcessEnv`], a simulator of one's own).
/// Actions may be `Discrete`, `MultiDiscrete` (one softmax per dimension)
/// or `Box`.
///
/// # Errors
/// As [`continue_ppo`]; `make_env`'s errors.
pub fn continue_ppo_on(
    make_env: &mut dyn FnMut() -> Result<Box<dyn Env>>,
    cfg: &PpoConfig,
    from: Option<(PpoPolicy, TrainingState)>,
    steps: usize,
    on_update: &mut dyn FnMut(&PpoStats),
) -> Result<(PpoPolicy, TrainingState)> {
    if cfg.n_envs == 0 || cfg.n_steps == 0 || cfg.batch_size == 0 || cfg.n_epochs == 0 {
        return Err(Error::invalid(
            "ppo",
            "n_envs, n_steps, batch_size and n_epochs must be positive",
        ));
    }
    let mut envs: Vec<Box<dyn Env>> = (0..cfg.n_envs).map(|_| make_env()).collect::<Result<_>>()?;
    let env_id = envs[0].id().to_string();
    let obs_dim = envs[0].observation_space().flat_dim();
    let action_space = envs[0].action_space().clone();
    let blocks = blocks(&action_space);
    let n_out = match (&blocks, &action_space) {
        (Some(b), _) => b.last().map_or(0, |&(o, n)| o.saturating_add(n)),
        (None, Space::Box { low, .. }) => low.len(),
        (None, other) => return Err(Error::Unsupported(format!("PPO on a {other} action space"))),
    };
    if n_out == 0 {
        return Err(Error::invalid("ppo", format!("{n_out} action outputs")));
    }
    let (mut policy, resumed) = match from {
        Some((policy, state)) => {
            policy.check_fits(obs_dim, &action_space, &env_id)?;
            (policy, Some(state))
        }
        None => (new_policy(cfg, obs_dim, &action_space, n_out)?, None),
    };
    // The statistics live outside the policy while it trains, so its cached
    // networks take the observations standardized here.
    let mut rms = policy
        .obs_norm
        .take()
        .or_else(|| cfg.normalize_observations.then(|| RunningMeanStd::new(obs_dim)));
    let standardized = |rms: &Option<RunningMeanStd>, o: &[f32]| match rms {
        Some(r) => normalize_obs(r, o),
        None => o.to_vec(),
    };
    let mut optims: Vec<Optim> = (0..3)
        .map(|_| {
            let mut o = Optim::new(
                Optimizer::Adam {
                    beta1: 0.9,
                    beta2: 0.999,
                    epsilon: 1e-5,
                },
                cfg.learning_rate,
            );
            o.clip_norm = Some(cfg.max_grad_norm);
            o
        })
        .collect();
    let mut stats = PpoStats::default();
    if let Some(state) = resumed {
        state.restore(&mut optims, "PPO")?;
        stats = state.stats;
    }
    // A resumed run draws other numbers than the run it continues.
    let done = stats.updates as u64;
    let mut rng = NumpyRng::new(u128::from(cfg.seed) + 1 + u128::from(done) * 7919);
    let mut shuffle = ml_core::seeded_rng(cfg.seed.wrapping_add(2).wrapping_add(done.wrapping_mul(7919)));
    let mut obs: Vec<Vec<f32>> = Vec::new();
    for (i, e) in envs.iter_mut().enumerate() {
        let seed = cfg.seed.wrapping_mul(1000).wrapping_add(i as u64);
        obs.push(e.reset(Some(seed.wrapping_add(stats.env_steps as u64)))?.0);
    }
    let mut ep_ret = vec![0.0; cfg.n_envs];
    let per_update = cfg.n_envs * cfg.n_steps;
    let first = stats.updates;
    let updates = first + steps.div_ceil(per_update).max(1);
    for update in first..updates {
        if cfg.anneal_lr {
            let frac = 1.0 - update as f64 / updates as f64;
            optims
                .iter_mut()
                .for_each(|o| o.learning_rate = cfg.learning_rate * frac);
        }
        let cached = policy.cached()?;
        let log_std = &cached.log_std;
        let mut buf = Buffer::default();
        for _ in 0..cfg.n_steps {
            let normed: Option<Vec<Vec<f32>>> = rms.as_mut().map(|r| {
                r.update(
                    &obs.iter()
                        .map(|o| o.iter().map(|&v| f64::from(v)).collect())
                        .collect::<Vec<_>>(),
                );
                obs.iter().map(|o| normalize_obs(r, o)).collect()
            });
            let inputs = normed.as_deref().unwrap_or(&obs);
            let outs = cached.forward(&cached.actor, inputs)?;
            let vals = cached.forward(&cached.critic, inputs)?;
            for (i, env) in envs.iter_mut().enumerate() {
                let (action, a, logp) = if let Some(blocks) = &blocks {
                    categorical(&action_space, blocks, &outs[i], false, &mut rng)
                } else {
                    let ls = log_std.as_deref().unwrap_or(&[]);
                    let a: Vec<f64> = outs[i]
                        .iter()
                        .zip(ls)
                        .map(|(m, l)| m + l.exp() * rng.normal())
                        .collect();
                    let lp = gauss_logp(&a, &outs[i], ls);
                    (Action::Continuous(a.iter().map(|&v| v as f32).collect()), a, lp)
                };
                let step = env.step(&action)?;
                let mut reward = step.reward;
                ep_ret[i] += step.reward;
                let done = step.terminated || step.truncated;
                if step.truncated && !step.terminated {
                    // A cut-off episode still had a future: bootstrap it.
                    let next = standardized(&rms, &step.obs);
                    reward += cfg.gamma * cached.forward(&cached.critic, &[next])?[0][0];
                }
                buf.obs.push(match &normed {
                    Some(n) => n[i].clone(),
                    None => std::mem::take(&mut obs[i]),
                });
                buf.actions.push(a);
                buf.logp.push(logp);
                buf.rewards.push(reward);
                buf.dones.push(done);
                buf.values.push(vals[i][0]);
                obs[i] = if done {
                    stats.episode_returns.push(ep_ret[i]);
                    ep_ret[i] = 0.0;
                    env.reset(None)?.0
                } else {
                    step.obs
                };
            }
            stats.env_steps += cfg.n_envs;
        }
        // GAE over the rollout, bootstrapped with the values of the last observations.
        let inputs: Vec<Vec<f32>> = obs.iter().map(|o| standardized(&rms, o)).collect();
        let last = cached.forward(&cached.critic, &inputs)?;
        let n = buf.rewards.len();
        let mut adv = vec![0.0; n];
        for (i, last_value) in last.iter().enumerate() {
            let mut gae = 0.0;
            for t in (0..cfg.n_steps).rev() {
                let k = t * cfg.n_envs + i;
                let next_value = if t + 1 == cfg.n_steps {
                    last_value[0]
                } else {
                    buf.values[k + cfg.n_envs]
                };
                let keep = if buf.dones[k] { 0.0 } else { 1.0 };
                let delta = buf.rewards[k] + cfg.gamma * next_value * keep - buf.values[k];
                gae = delta + cfg.gamma * cfg.gae_lambda * keep * gae;
                adv[k] = gae;
            }
        }
        let returns: Vec<f64> = adv.iter().zip(&buf.values).map(|(a, v)| a + v).collect();
        let mut order: Vec<usize> = (0..n).collect();
        let mut figures = Figures::default();
        for _ in 0..cfg.n_epochs {
            for i in (1..n).rev() {
                order.swap(i, shuffle.random_range(0..=i));
            }
            for mb in order.chunks(cfg.batch_size.min(n)) {
                let b = mb.len();
                let mut a_mb: Vec<f64> = mb.iter().map(|&k| adv[k]).collect();
                if cfg.normalize_advantage && b > 1 {
                    let m = a_mb.iter().sum::<f64>() / b as f64;
                    let s = (a_mb.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (b - 1) as f64).sqrt();
                    a_mb.iter_mut().for_each(|v| *v = (*v - m) / (s + 1e-8));
                }
                let x: Vec<f32> = mb.iter().flat_map(|&k| buf.obs[k].iter().copied()).collect();
                let col = |v: Vec<f64>| -> Vec<f32> { v.into_iter().map(|x| x as f32).collect() };
                // Actor (and log std): the clipped surrogate with the entropy bonus.
                let tape = Tape::new(&policy.actor, BackendKind::Cpu)?;
                let ls_tape = match &policy.log_std {
                    Some(net) => Some(Tape::new(net, BackendKind::Cpu)?),
                    None => None,
                };
                let out = tape.forward(tape.matrix(x.clone(), b, obs_dim));
                let old = tape.matrix(col(mb.iter().map(|&k| buf.logp[k]).collect()), b, 1);
                let adv_t = tape.matrix(col(a_mb), b, 1);
                let (logp, entropy): (Tensor<2>, Tensor<1>) = if let Some(blocks) = &blocks {
                    // Log-probabilities per block, side by side: the action's
                    // log-probability and the entropy are sums over blocks.
                    let logits = if blocks.len() == 1 {
                        activation::log_softmax(out, 1)
                    } else {
                        Tensor::cat(
                            blocks
                                .iter()
                                .map(|&(o, n)| activation::log_softmax(out.clone().slice([0..b, o..o + n]), 1))
                                .collect(),
                            1,
                        )
                    };
                    let mut onehot = vec![0f32; b * n_out];
                    for (r, &k) in mb.iter().enumerate() {
                        for (&(o, _), &pick) in blocks.iter().zip(&buf.actions[k]) {
                            onehot[r * n_out + o + pick as usize] = 1.0;
                        }
                    }
                    let lp = (logits.clone() * tape.matrix(onehot, b, n_out)).sum_dim(1);
                    let ent = -(logits.clone().exp() * logits).sum_dim(1).mean();
                    (lp, ent)
                } else {
                    let lt = ls_tape.as_ref().ok_or_else(|| Error::invalid("ppo", "no log std"))?;
                    let ls = lt.forward(lt.matrix(vec![1.0], 1, 1)); // [1, n_out]
                    let a = tape.matrix(col(mb.iter().flat_map(|&k| buf.actions[k].clone()).collect()), b, n_out);
                    let z = (a - out) / ls.clone().exp();
                    let half_log_2pi = (0.5 * (2.0 * std::f64::consts::PI).ln()) as f32;
                    let lp = (-(z.square() * 0.5) - ls.clone() - half_log_2pi).sum_dim(1);
                    let ent = (ls + (0.5 + half_log_2pi)).sum_dim(1).mean();
                    (lp, ent)
                };
                let ratio = (logp - old).exp();
                let c = cfg.clip_range as f32;
                let surr = (ratio.clone() * adv_t.clone()).min_pair(ratio.clone().clamp(1.0 - c, 1.0 + c) * adv_t);
                let policy_loss = -surr.mean();
                figures.policy(&read(ratio)?, c, scalar(policy_loss.clone())?, scalar(entropy.clone())?);
                let loss = policy_loss - entropy * (cfg.ent_coef as f32);
                let mut tapes = vec![&tape];
                tapes.extend(ls_tape.as_ref());
                let mut all = gradients(loss, &tapes)?.into_iter();
                let grads = all.next().unwrap_or_default();
                let ls_grads = all.next();
                drop(tape);
                drop(ls_tape);
                optims[0].step(&mut policy.actor, grads);
                if let (Some(net), Some(g)) = (policy.log_std.as_mut(), ls_grads) {
                    optims[2].step(net, g);
                }
                // Critic: squared error to the returns, optionally clipped.
                let tape = Tape::new(&policy.critic, BackendKind::Cpu)?;
                let v = tape.forward(tape.matrix(x, b, obs_dim));
                let ret = tape.matrix(col(mb.iter().map(|&k| returns[k]).collect()), b, 1);
                let vloss = match cfg.clip_range_vf {
                    None => (v - ret).square().mean(),
                    Some(cv) => {
                        let old_v = tape.matrix(col(mb.iter().map(|&k| buf.values[k]).collect()), b, 1);
                        let clipped = old_v.clone() + (v.clone() - old_v).clamp(-cv as f32, cv as f32);
                        (v - ret.clone()).square().max_pair((clipped - ret).square()).mean()
                    }
                };
                figures.value_loss.push(scalar(vloss.clone())?);
                let grads = tape.gradients(vloss * (cfg.vf_coef as f32))?;
                drop(tape);
                optims[1].step(&mut policy.critic, grads);
            }
        }
        stats.losses = figures.means(optims[0].learning_rate);
        stats.updates += 1;
        on_update(&stats);
    }
    policy.obs_norm = rms;
    let state = TrainingState::new(&optims, stats);
    Ok((policy, state))
}

/// A fresh actor and critic (and log standard deviations for continuous
/// actions) from the configuration's seed.
fn new_policy(cfg: &PpoConfig, obs_dim: usize, action_space: &Space, n_out: usize) -> Result<PpoPolicy> {
    let mut init = ml_core::seeded_rng(cfg.seed);
    let mut policy = PpoPolicy {
        actor: network(cfg, obs_dim, n_out, &mut init)?,
        critic: network(cfg, obs_dim, 1, &mut init)?,
        log_std: None,
        action_space: action_space.clone(),
        obs_norm: None,
    };
    if matches!(action_space, Space::Box { .. }) {
        let mut ls = Network::new(&Sequential::new(), 1, n_out, &mut init)?;
        for p in &mut ls.params {
            let bias = p.kind == ml_neural::ParamKind::Bias;
            p.value
                .iter_mut()
                .for_each(|v| *v = if bias { cfg.log_std_init as f32 } else { 0.0 });
        }
        policy.log_std = Some(ls);
    }
    Ok(policy)
}

/// An optimizer's state as stored: the step count and its moment vectors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredOptimizer {
    /// Updates made.
    pub step: u64,
    /// Per parameter, the optimizer's vectors (empty before its first update).
    pub slots: Vec<Vec<Vec<f32>>>,
}

/// What training needs, besides the networks, to go on where it stopped:
/// the optimizers' states and the counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingState {
    /// The optimizers in the algorithm's order (PPO: actor, critic, log
    /// standard deviation; DQN: the Q-network).
    pub optimizers: Vec<StoredOptimizer>,
    /// Steps, updates and episode returns so far.
    pub stats: PpoStats,
}

impl TrainingState {
    pub(crate) fn new(optims: &[Optim], stats: PpoStats) -> Self {
        Self {
            optimizers: optims
                .iter()
                .map(|o| StoredOptimizer {
                    step: o.state.step,
                    slots: o.state.slots.clone(),
                })
                .collect(),
            stats,
        }
    }

    /// Put the stored optimizer states into `optims`.
    pub(crate) fn restore(&self, optims: &mut [Optim], algo: &str) -> Result<()> {
        if self.optimizers.len() != optims.len() {
            return Err(Error::invalid(
                "checkpoint",
                format!(
                    "{} optimizer states where {algo} keeps {}",
                    self.optimizers.len(),
                    optims.len()
                ),
            ));
        }
        for (o, s) in optims.iter_mut().zip(&self.optimizers) {
            o.state.step = s.step;
            o.state.slots = s.slots.clone();
        }
        Ok(())
    }
}

/// Mean return of `episodes` deterministic episodes of `policy` on fresh
/// copies of `env_id`, episode `i` from `reset(seed + i)`.
///
/// # Errors
/// An unknown environment, a policy that does not fit it.
pub fn evaluate(policy: &PpoPolicy, env_id: &str, episodes: usize, seed: u64) -> Result<Vec<f64>> {
    evaluate_on(policy, make(env_id)?.as_mut(), episodes, seed)
}

/// [`evaluate`] on an environment of one's own.
///
/// # Errors
/// A policy that does not fit the environment, the environment's errors.
pub fn evaluate_on(policy: &PpoPolicy, env: &mut dyn Env, episodes: usize, seed: u64) -> Result<Vec<f64>> {
    let cached = policy.cached()?;
    (0..episodes)
        .map(|e| cached.play(&policy.action_space, env, seed.wrapping_add(e as u64), None))
        .collect()
}

/// The file a saved policy lives in, inside its directory.
pub const POLICY_FILE: &str = "policy.mlrl";
/// The policy file format this build writes and reads.
pub const POLICY_VERSION: u32 = 1;
const POLICY_KIND: &str = "rl-policy";

/// A network as stored: its architecture (weights are not serialized with
/// it) and its weights beside it.
#[derive(Serialize, Deserialize)]
struct StoredNet {
    network: Network,
    weights: Vec<Vec<f32>>,
}

impl StoredNet {
    fn new(n: &Network) -> Self {
        Self {
            network: n.clone(),
            weights: n.params.iter().map(|p| p.value.clone()).collect(),
        }
    }

    fn into_network(self, what: &str) -> Result<Network> {
        let mut net = self.network;
        if self.weights.len() != net.params.len() {
            return Err(Error::Corrupt {
                what: "policy file",
                reason: format!("{what}: weights for another architecture"),
            });
        }
        for (p, w) in net.params.iter_mut().zip(self.weights) {
            p.value = w;
        }
        net.validate()?;
        Ok(net)
    }
}

/// The policy file's JSON payload.
#[derive(Serialize, Deserialize)]
struct PolicyDoc {
    env: String,
    algo: String,
    config: serde_json::Value,
    env_steps: usize,
    action_space: Space,
    actor: StoredNet,
    critic: StoredNet,
    log_std: Option<StoredNet>,
    // Absent from policies saved without their training state.
    #[serde(default)]
    training: Option<TrainingState>,
    // Absent from policies trained without observation normalization.
    #[serde(default)]
    obs_norm: Option<RunningMeanStd>,
}

/// A trained policy with what it was trained on, as saved.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedPolicy {
    /// The environment id.
    pub env: String,
    /// The algorithm (`ppo`, `dqn`).
    pub algo: String,
    /// The algorithm's hyper-parameters ([`PpoConfig`] or
    /// [`crate::dqn::DqnConfig`] as JSON).
    pub config: serde_json::Value,
    /// The policy.
    pub policy: PpoPolicy,
    /// Environment steps it was trained for.
    pub env_steps: usize,
    /// The optimizers' states and counters, to resume training from
    /// ([`crate::resume_agent`]); `None` for a policy kept for inference.
    pub training: Option<TrainingState>,
}

impl SavedPolicy {
    /// The run parameters to track: environment, algorithm and every
    /// hyper-parameter.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("env".to_string(), self.env.clone()),
            ("algo".into(), self.algo.clone()),
        ];
        if let Some(map) = self.config.as_object() {
            params.extend(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.to_string().trim_matches('"').to_string())),
            );
        }
        params
    }

    /// The sealed bytes (ml-core's container: kind, version, SHA-256).
    ///
    /// # Errors
    /// Serialization failures.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let p = &self.policy;
        let doc = PolicyDoc {
            env: self.env.clone(),
            algo: self.algo.clone(),
            config: self.config.clone(),
            env_steps: self.env_steps,
            action_space: p.action_space.clone(),
            actor: StoredNet::new(&p.actor),
            critic: StoredNet::new(&p.critic),
            log_std: p.log_std.as_ref().map(StoredNet::new),
            training: self.training.clone(),
            obs_norm: p.obs_norm.clone(),
        };
        let payload = serde_json::to_vec(&doc).map_err(|e| Error::invalid("policy", e.to_string()))?;
        Ok(ml_core::io::seal(POLICY_KIND, POLICY_VERSION, &payload))
    }

    /// Read sealed bytes.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for a foreign, truncated or altered file or one
    /// whose networks do not fit; [`Error::UnsupportedVersion`] for a newer
    /// one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (_, payload) = ml_core::io::unseal("policy file", POLICY_KIND, POLICY_VERSION, bytes)?;
        let doc: PolicyDoc = serde_json::from_slice(payload).map_err(|e| Error::Corrupt {
            what: "policy file",
            reason: e.to_string(),
        })?;
        let log_std = match doc.log_std {
            Some(n) => Some(n.into_network("log_std")?),
            None => None,
        };
        let policy = PpoPolicy {
            actor: doc.actor.into_network("actor")?,
            critic: doc.critic.into_network("critic")?,
            log_std,
            action_space: doc.action_space,
            obs_norm: doc.obs_norm,
        };
        policy.validate()?;
        Ok(Self {
            env: doc.env,
            algo: doc.algo,
            config: doc.config,
            env_steps: doc.env_steps,
            training: doc.training,
            policy,
        })
    }

    /// Write `dir/policy.mlrl` (the directory is created), atomically, and
    /// beside it the policy as a model (`dir/model.mlsdk`, see
    /// [`crate::model`]), so the directory is also a model directory for
    /// prediction, ONNX export, serving and explanations. A policy over
    /// several action dimensions is one model per dimension instead, in
    /// `dir/action_0/`, `dir/action_1/`, ….
    /// Returns the policy file's path.
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(&self, dir: &std::path::Path) -> Result<std::path::PathBuf> {
        let path = ml_core::io::save_in_dir(dir, POLICY_FILE, &self.to_bytes()?)?;
        let models = self.to_saved_models()?;
        if let [model] = models.as_slice() {
            model.save(dir)?;
        } else {
            for (d, model) in models.iter().enumerate() {
                model.save(&dir.join(format!("action_{d}")))?;
            }
        }
        Ok(path)
    }

    /// Read a policy from its directory (or the file itself).
    ///
    /// # Errors
    /// A missing, corrupt or future-version file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        Self::from_bytes(&ml_core::io::read_in("policy file", path, POLICY_FILE, 1 << 30)?)
    }
}

/// Play one deterministic episode of `policy` from `reset(seed)`, drawing
/// every state; returns the frames and the episode's return.
///
/// # Errors
/// An unknown environment, a policy that does not fit it.
pub fn render_episode(policy: &PpoPolicy, env_id: &str, seed: u64) -> Result<(Vec<crate::render::Frame>, f64)> {
    let mut env = crate::wrappers::RecordFrames::new(make(env_id)?);
    let total = policy.cached()?.play(&policy.action_space, &mut env, seed, None)?;
    Ok((env.frames, total))
}

/// The observations of `episodes` deterministic episodes of `policy` on
/// `env_id` (episode `i` from `reset(seed + i)`) with the action taken on
/// each: the rows to explain a policy on, as it meets them.
///
/// # Errors
/// An unknown environment, a policy that does not fit it.
pub fn visited_states(policy: &PpoPolicy, env_id: &str, episodes: usize, seed: u64) -> Result<Vec<(Vec<f32>, Action)>> {
    let mut env = make(env_id)?;
    let cached = policy.cached()?;
    let mut visited = Vec::new();
    for e in 0..episodes {
        cached.play(
            &policy.action_space,
            env.as_mut(),
            seed.wrapping_add(e as u64),
            Some(&mut visited),
        )?;
    }
    Ok(visited)
}
