//! Several environments stepped together, with Gymnasium 1.x's autoreset
//! ("next step"): the step after an episode ends resets that environment,
//! ignoring its action, and reports its first observation with reward 0
//! and neither flag set.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use ml_core::{Error, Result};

use crate::env::{Env, Info, Step};
use crate::space::{Action, Space};

/// One step of every environment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VecStep {
    /// Observations, one per environment.
    pub obs: Vec<Vec<f32>>,
    /// Rewards.
    pub rewards: Vec<f64>,
    /// Terminations.
    pub terminated: Vec<bool>,
    /// Truncations.
    pub truncated: Vec<bool>,
    /// Infos.
    pub infos: Vec<Info>,
}

impl VecStep {
    fn push(&mut self, s: Step) {
        self.obs.push(s.obs);
        self.rewards.push(s.reward);
        self.terminated.push(s.terminated);
        self.truncated.push(s.truncated);
        self.infos.push(s.info);
    }
}

/// Environments stepped as a batch.
pub trait VectorEnv {
    /// How many.
    fn num_envs(&self) -> usize;
    /// One environment's observation space.
    fn single_observation_space(&self) -> &Space;
    /// One environment's action space.
    fn single_action_space(&self) -> &Space;
    /// Reset all; environment `i` gets `seed + i` (Gymnasium's rule).
    ///
    /// # Errors
    /// A failing environment.
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<Vec<f32>>, Vec<Info>)>;
    /// One action per environment.
    ///
    /// # Errors
    /// The wrong number of actions, a bad action, a failing environment.
    fn step(&mut self, actions: &[Action]) -> Result<VecStep>;
}

/// One environment's slot: the environment and whether its next step
/// resets it.
struct Slot {
    env: Box<dyn Env>,
    autoreset: bool,
}

impl Slot {
    fn step(&mut self, action: &Action) -> Result<Step> {
        let step = if self.autoreset {
            let (obs, info) = self.env.reset(None)?;
            Step {
                obs,
                reward: 0.0,
                terminated: false,
                truncated: false,
                info,
            }
        } else {
            self.env.step(action)?
        };
        self.autoreset = step.terminated || step.truncated;
        Ok(step)
    }
}

/// Reset `slots`, the one at index `i` with `seed + offset + i`.
fn reset_slots(slots: &mut [Slot], seed: Option<u64>, offset: usize) -> Result<(Vec<Vec<f32>>, Vec<Info>)> {
    let mut out = (Vec::with_capacity(slots.len()), Vec::with_capacity(slots.len()));
    for (i, slot) in slots.iter_mut().enumerate() {
        let (obs, info) = slot.env.reset(seed.map(|s| s.wrapping_add((offset + i) as u64)))?;
        slot.autoreset = false;
        out.0.push(obs);
        out.1.push(info);
    }
    Ok(out)
}

/// One action per slot.
fn step_slots(slots: &mut [Slot], actions: &[Action]) -> Result<VecStep> {
    let mut out = VecStep::default();
    for (slot, a) in slots.iter_mut().zip(actions) {
        out.push(slot.step(a)?);
    }
    Ok(out)
}

fn check_spaces(envs: &[Box<dyn Env>]) -> Result<(Space, Space)> {
    let first = envs.first().ok_or_else(|| Error::invalid("envs", "no environments"))?;
    let (o, a) = (first.observation_space().clone(), first.action_space().clone());
    if envs
        .iter()
        .any(|e| *e.observation_space() != o || *e.action_space() != a)
    {
        return Err(Error::invalid("envs", "environments with different spaces"));
    }
    Ok((o, a))
}

/// The environments stepped one after another on the calling thread
/// (Gymnasium's `SyncVectorEnv`): the fastest for cheap environments.
pub struct SyncVectorEnv {
    slots: Vec<Slot>,
    spaces: (Space, Space),
}

impl SyncVectorEnv {
    /// Vectorize `envs` (all with the same spaces).
    ///
    /// # Errors
    /// No environments, or different spaces.
    pub fn new(envs: Vec<Box<dyn Env>>) -> Result<Self> {
        let spaces = check_spaces(&envs)?;
        Ok(Self {
            slots: envs.into_iter().map(|env| Slot { env, autoreset: false }).collect(),
            spaces,
        })
    }

    /// `n` copies of a registered environment (with its time limit).
    ///
    /// # Errors
    /// An unknown id, or `n` of 0.
    pub fn make(id: &str, n: usize) -> Result<Self> {
        Self::new((0..n).map(|_| crate::env::make(id)).collect::<Result<_>>()?)
    }

    /// The environments, for rendering or inspection.
    pub fn envs(&self) -> impl Iterator<Item = &dyn Env> {
        self.slots.iter().map(|s| s.env.as_ref())
    }
}

impl VectorEnv for SyncVectorEnv {
    fn num_envs(&self) -> usize {
        self.slots.len()
    }
    fn single_observation_space(&self) -> &Space {
        &self.spaces.0
    }
    fn single_action_space(&self) -> &Space {
        &self.spaces.1
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<Vec<f32>>, Vec<Info>)> {
        reset_slots(&mut self.slots, seed, 0)
    }
    fn step(&mut self, actions: &[Action]) -> Result<VecStep> {
        if actions.len() != self.slots.len() {
            return Err(Error::invalid(
                "actions",
                format!("{} actions for {} environments", actions.len(), self.slots.len()),
            ));
        }
        step_slots(&mut self.slots, actions)
    }
}

enum Job {
    Reset(Option<u64>),
    Step(Vec<Action>),
}

type Reply = Result<VecStep>;

struct Worker {
    jobs: Sender<Job>,
    replies: Receiver<Reply>,
    handle: Option<JoinHandle<()>>,
    n: usize,
}

/// The environments split over worker threads, each stepping its share
/// (Gymnasium's `AsyncVectorEnv` with threads instead of processes): for
/// environments whose step costs more than a channel round trip, external
/// simulators above all.
pub struct ThreadVectorEnv {
    workers: Vec<Worker>,
    spaces: (Space, Space),
}

impl ThreadVectorEnv {
    /// Vectorize `envs` over `threads` workers (at least 1, at most one per
    /// environment).
    ///
    /// # Errors
    /// No environments, or different spaces.
    pub fn new(envs: Vec<Box<dyn Env>>, threads: usize) -> Result<Self> {
        let spaces = check_spaces(&envs)?;
        let threads = threads.clamp(1, envs.len());
        let per = envs.len().div_ceil(threads);
        let mut envs = envs.into_iter();
        let mut workers = Vec::new();
        let mut offset = 0;
        loop {
            let mut slots: Vec<Slot> = envs
                .by_ref()
                .take(per)
                .map(|env| Slot { env, autoreset: false })
                .collect();
            if slots.is_empty() {
                break;
            }
            let n = slots.len();
            let (jobs, job_rx) = channel::<Job>();
            let (reply_tx, replies) = channel::<Reply>();
            let first = offset;
            let handle = std::thread::Builder::new()
                .name(format!("ml-rl-envs-{first}"))
                .spawn(move || {
                    while let Ok(job) = job_rx.recv() {
                        let reply = match job {
                            Job::Reset(seed) => reset_slots(&mut slots, seed, first).map(|(obs, infos)| VecStep {
                                obs,
                                infos,
                                ..VecStep::default()
                            }),
                            Job::Step(actions) => step_slots(&mut slots, &actions),
                        };
                        if reply_tx.send(reply).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| Error::invalid("threads", format!("starting a worker: {e}")))?;
            workers.push(Worker {
                jobs,
                replies,
                handle: Some(handle),
                n,
            });
            offset += n;
        }
        Ok(Self { workers, spaces })
    }

    /// `n` copies of a registered environment over `threads` workers.
    ///
    /// # Errors
    /// An unknown id, or `n` of 0.
    pub fn make(id: &str, n: usize, threads: usize) -> Result<Self> {
        Self::new((0..n).map(|_| crate::env::make(id)).collect::<Result<_>>()?, threads)
    }

    fn round(&mut self, jobs: Vec<Job>) -> Result<VecStep> {
        let lost = || Error::invalid("envs", "an environment worker stopped");
        for (w, job) in self.workers.iter().zip(jobs) {
            w.jobs.send(job).map_err(|_| lost())?;
        }
        // Every worker's reply is read, failed or not, so the next round
        // starts in step.
        let mut out = VecStep::default();
        let mut failure = None;
        for w in &self.workers {
            match w.replies.recv() {
                Ok(Ok(part)) => {
                    out.obs.extend(part.obs);
                    out.rewards.extend(part.rewards);
                    out.terminated.extend(part.terminated);
                    out.truncated.extend(part.truncated);
                    out.infos.extend(part.infos);
                }
                Ok(Err(e)) => {
                    failure.get_or_insert(e);
                }
                Err(_) => {
                    failure.get_or_insert_with(lost);
                }
            }
        }
        failure.map_or(Ok(out), Err)
    }
}

impl std::fmt::Debug for SyncVectorEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncVectorEnv")
            .field("num_envs", &self.slots.len())
            .finish()
    }
}

impl std::fmt::Debug for ThreadVectorEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadVectorEnv")
            .field("num_envs", &self.num_envs())
            .field("threads", &self.workers.len())
            .finish()
    }
}

impl Drop for ThreadVectorEnv {
    fn drop(&mut self) {
        for w in &mut self.workers {
            // Closing the job channel ends the worker's loop.
            let (dead, _) = channel();
            drop(std::mem::replace(&mut w.jobs, dead));
            if let Some(h) = w.handle.take() {
                let _ = h.join();
            }
        }
    }
}

impl VectorEnv for ThreadVectorEnv {
    fn num_envs(&self) -> usize {
        self.workers.iter().map(|w| w.n).sum()
    }
    fn single_observation_space(&self) -> &Space {
        &self.spaces.0
    }
    fn single_action_space(&self) -> &Space {
        &self.spaces.1
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<Vec<f32>>, Vec<Info>)> {
        let jobs = self.workers.iter().map(|_| Job::Reset(seed)).collect();
        let out = self.round(jobs)?;
        Ok((out.obs, out.infos))
    }
    fn step(&mut self, actions: &[Action]) -> Result<VecStep> {
        if actions.len() != self.num_envs() {
            return Err(Error::invalid(
                "actions",
                format!("{} actions for {} environments", actions.len(), self.num_envs()),
            ));
        }
        let mut rest = actions;
        let mut jobs = Vec::new();
        for w in &self.workers {
            let (mine, tail) = rest.split_at(w.n);
            jobs.push(Job::Step(mine.to_vec()));
            rest = tail;
        }
        self.round(jobs)
    }
}
