//! Wrappers in Gymnasium's sense: an environment around an environment.

use std::collections::VecDeque;
use std::time::Instant;

use ml_core::Result;

use crate::env::{Env, Info, Step};
use crate::render::Frame;
use crate::space::{Action, Space};

macro_rules! delegate_spaces {
    () => {
        fn id(&self) -> &str {
            self.env.id()
        }
        fn action_space(&self) -> &Space {
            self.env.action_space()
        }
        fn render(&self) -> Result<Frame> {
            self.env.render()
        }
    };
}

/// Truncates an episode after `max_episode_steps` steps (Gymnasium's
/// `TimeLimit`, which `make` adds with the registered limit).
#[derive(Debug, Clone)]
pub struct TimeLimit<E> {
    env: E,
    max_episode_steps: usize,
    elapsed: usize,
}

impl<E: Env> TimeLimit<E> {
    /// Wrap `env`.
    pub fn new(env: E, max_episode_steps: usize) -> Self {
        Self {
            env,
            max_episode_steps,
            elapsed: 0,
        }
    }

    /// Steps taken in the current episode.
    pub fn elapsed_steps(&self) -> usize {
        self.elapsed
    }
}

impl<E: Env> Env for TimeLimit<E> {
    delegate_spaces!();
    fn observation_space(&self) -> &Space {
        self.env.observation_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        self.elapsed = 0;
        self.env.reset(seed)
    }
    fn step(&mut self, action: &Action) -> Result<Step> {
        let mut step = self.env.step(action)?;
        self.elapsed += 1;
        if self.elapsed >= self.max_episode_steps {
            step.truncated = true;
        }
        Ok(step)
    }
}

/// Adds `episode_return`, `episode_length` and `episode_seconds` to the
/// info of an episode's last step, and keeps the last `buffer` episodes'
/// returns and lengths (Gymnasium's `RecordEpisodeStatistics`).
#[derive(Debug, Clone)]
pub struct RecordEpisodeStatistics<E> {
    env: E,
    episode_return: f64,
    episode_length: usize,
    started: Instant,
    /// The latest episodes' returns, oldest first.
    pub returns: VecDeque<f64>,
    /// The latest episodes' lengths, oldest first.
    pub lengths: VecDeque<usize>,
    buffer: usize,
}

impl<E: Env> RecordEpisodeStatistics<E> {
    /// Wrap `env`, keeping the last `buffer` episodes (Gymnasium: 100).
    pub fn new(env: E, buffer: usize) -> Self {
        Self {
            env,
            episode_return: 0.0,
            episode_length: 0,
            started: Instant::now(),
            returns: VecDeque::new(),
            lengths: VecDeque::new(),
            buffer: buffer.max(1),
        }
    }
}

impl<E: Env> Env for RecordEpisodeStatistics<E> {
    delegate_spaces!();
    fn observation_space(&self) -> &Space {
        self.env.observation_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        self.episode_return = 0.0;
        self.episode_length = 0;
        self.started = Instant::now();
        self.env.reset(seed)
    }
    fn step(&mut self, action: &Action) -> Result<Step> {
        let mut step = self.env.step(action)?;
        self.episode_return += step.reward;
        self.episode_length += 1;
        if step.terminated || step.truncated {
            step.info.insert("episode_return".into(), self.episode_return);
            step.info.insert("episode_length".into(), self.episode_length as f64);
            step.info
                .insert("episode_seconds".into(), self.started.elapsed().as_secs_f64());
            if self.returns.len() == self.buffer {
                self.returns.pop_front();
                self.lengths.pop_front();
            }
            self.returns.push_back(self.episode_return);
            self.lengths.push_back(self.episode_length);
        }
        Ok(step)
    }
}

/// Running mean and variance of a stream of vectors (Chan et al.'s
/// parallel update, as Gymnasium's `RunningMeanStd`, starting from a count
/// of 1e-4).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunningMeanStd {
    /// Per-element means.
    pub mean: Vec<f64>,
    /// Per-element variances.
    pub var: Vec<f64>,
    /// The (fractional) number of samples seen.
    pub count: f64,
}

impl RunningMeanStd {
    /// Statistics of vectors of `dim` elements, before any sample.
    pub fn new(dim: usize) -> Self {
        Self {
            mean: vec![0.0; dim],
            var: vec![1.0; dim],
            count: 1e-4,
        }
    }

    /// Add a batch of samples (each of `mean.len()` elements).
    pub fn update(&mut self, batch: &[Vec<f64>]) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as f64;
        let tot = self.count + n;
        for j in 0..self.mean.len() {
            let bm = batch.iter().map(|x| x[j]).sum::<f64>() / n;
            let bv = batch.iter().map(|x| (x[j] - bm) * (x[j] - bm)).sum::<f64>() / n;
            let delta = bm - self.mean[j];
            let m2 = self.var[j] * self.count + bv * n + delta * delta * self.count * n / tot;
            self.mean[j] += delta * n / tot;
            self.var[j] = m2 / tot;
        }
        self.count = tot;
    }

    /// `(x - mean) / sqrt(var + epsilon)`.
    pub fn normalize(&self, x: &[f64], epsilon: f64) -> Vec<f64> {
        x.iter()
            .zip(&self.mean)
            .zip(&self.var)
            .map(|((v, m), s)| (v - m) / (s + epsilon).sqrt())
            .collect()
    }
}

/// Observations standardized by running statistics, updated with every
/// observation while `training` is set (Gymnasium's
/// `NormalizeObservation`; freeze it for evaluation).
#[derive(Debug, Clone)]
pub struct NormalizeObservation<E> {
    env: E,
    /// The statistics (saved with a policy, to normalize the same way).
    pub stats: RunningMeanStd,
    /// Whether observations update the statistics.
    pub training: bool,
    space: Space,
}

impl<E: Env> NormalizeObservation<E> {
    /// Wrap `env`.
    pub fn new(env: E) -> Self {
        let dim = env.observation_space().flat_dim();
        let space = Space::Box {
            low: vec![f32::NEG_INFINITY; dim],
            high: vec![f32::INFINITY; dim],
            shape: vec![dim],
        };
        Self {
            env,
            stats: RunningMeanStd::new(dim),
            training: true,
            space,
        }
    }

    fn observe(&mut self, obs: Vec<f32>) -> Vec<f32> {
        let x: Vec<f64> = obs.iter().map(|&v| f64::from(v)).collect();
        if self.training {
            self.stats.update(std::slice::from_ref(&x));
        }
        self.stats.normalize(&x, 1e-8).into_iter().map(|v| v as f32).collect()
    }
}

impl<E: Env> Env for NormalizeObservation<E> {
    delegate_spaces!();
    fn observation_space(&self) -> &Space {
        &self.space
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        let (obs, info) = self.env.reset(seed)?;
        Ok((self.observe(obs), info))
    }
    fn step(&mut self, action: &Action) -> Result<Step> {
        let mut step = self.env.step(action)?;
        step.obs = self.observe(std::mem::take(&mut step.obs));
        Ok(step)
    }
}

/// Rewards scaled by the running standard deviation of the discounted
/// return (Gymnasium's `NormalizeReward`).
#[derive(Debug, Clone)]
pub struct NormalizeReward<E> {
    env: E,
    /// Statistics of the discounted return.
    pub stats: RunningMeanStd,
    gamma: f64,
    discounted: f64,
    /// Whether rewards update the statistics.
    pub training: bool,
}

impl<E: Env> NormalizeReward<E> {
    /// Wrap `env` with discount `gamma` (Gymnasium: 0.99).
    pub fn new(env: E, gamma: f64) -> Self {
        Self {
            env,
            stats: RunningMeanStd::new(1),
            gamma,
            discounted: 0.0,
            training: true,
        }
    }
}

impl<E: Env> Env for NormalizeReward<E> {
    delegate_spaces!();
    fn observation_space(&self) -> &Space {
        self.env.observation_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        self.env.reset(seed)
    }
    fn step(&mut self, action: &Action) -> Result<Step> {
        let mut step = self.env.step(action)?;
        let keep = if step.terminated { 0.0 } else { 1.0 };
        self.discounted = self.discounted * self.gamma * keep + step.reward;
        if self.training {
            self.stats.update(&[vec![self.discounted]]);
        }
        step.reward /= (self.stats.var[0] + 1e-8).sqrt();
        Ok(step)
    }
}

/// The last `size` observations side by side, oldest first; after a reset
/// the stack is filled with the first observation (Gymnasium's
/// `FrameStackObservation` with `padding_type="reset"`).
#[derive(Debug, Clone)]
pub struct FrameStack<E> {
    env: E,
    size: usize,
    frames: VecDeque<Vec<f32>>,
    space: Space,
}

impl<E: Env> FrameStack<E> {
    /// Wrap `env`, stacking `size` observations (at least 1).
    pub fn new(env: E, size: usize) -> Self {
        let size = size.max(1);
        let inner = env.observation_space().clone();
        let (low, high, shape) = match &inner {
            Space::Box { low, high, shape } => (low.repeat(size), high.repeat(size), [&[size][..], shape].concat()),
            other => {
                let d = other.flat_dim();
                (
                    vec![f32::NEG_INFINITY; d * size],
                    vec![f32::INFINITY; d * size],
                    vec![size, d],
                )
            }
        };
        Self {
            env,
            size,
            frames: VecDeque::new(),
            space: Space::Box { low, high, shape },
        }
    }

    fn stacked(&self) -> Vec<f32> {
        self.frames.iter().flatten().copied().collect()
    }
}

impl<E: Env> Env for FrameStack<E> {
    delegate_spaces!();
    fn observation_space(&self) -> &Space {
        &self.space
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        let (obs, info) = self.env.reset(seed)?;
        self.frames = std::iter::repeat_n(obs, self.size).collect();
        Ok((self.stacked(), info))
    }
    fn step(&mut self, action: &Action) -> Result<Step> {
        let mut step = self.env.step(action)?;
        self.frames.pop_front();
        self.frames.push_back(std::mem::take(&mut step.obs));
        step.obs = self.stacked();
        Ok(step)
    }
}

/// Keeps a rendered frame of every state (after the reset and each step),
/// for [`crate::render::write_gif`]: Gymnasium's `RecordVideo` without
/// the video encoder.
#[derive(Debug, Clone)]
pub struct RecordFrames<E> {
    env: E,
    /// The frames of the current episode.
    pub frames: Vec<Frame>,
}

impl<E: Env> RecordFrames<E> {
    /// Wrap `env`.
    pub fn new(env: E) -> Self {
        Self {
            env,
            frames: Vec::new(),
        }
    }
}

impl<E: Env> Env for RecordFrames<E> {
    delegate_spaces!();
    fn observation_space(&self) -> &Space {
        self.env.observation_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        let out = self.env.reset(seed)?;
        self.frames = vec![self.env.render()?];
        Ok(out)
    }
    fn step(&mut self, action: &Action) -> Result<Step> {
        let step = self.env.step(action)?;
        self.frames.push(self.env.render()?);
        Ok(step)
    }
}
