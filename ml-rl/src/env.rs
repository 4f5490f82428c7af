//! The environment interface, in Gymnasium 1.x's shape, and the registry
//! that makes environments by id.

use std::collections::BTreeMap;

use ml_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::render::Frame;
use crate::space::{Action, Space};

/// Extra information returned by `reset` and `step` (Gymnasium's `info`
/// dict), as numbers by name.
pub type Info = BTreeMap<String, f64>;

/// What one step returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The next observation, flattened.
    pub obs: Vec<f32>,
    /// The reward for the step.
    pub reward: f64,
    /// The episode reached a terminal state of the task.
    pub terminated: bool,
    /// The episode was cut short (a time limit).
    pub truncated: bool,
    /// Extra information.
    pub info: Info,
}

/// An environment: `reset(seed)`, then `step(action)` until `terminated`
/// or `truncated`.
pub trait Env: Send {
    /// The registered id (`CartPole-v1`).
    fn id(&self) -> &str;

    /// The observations' space.
    fn observation_space(&self) -> &Space;

    /// The actions' space.
    fn action_space(&self) -> &Space;

    /// Start an episode. With a seed, the environment's generator is seeded
    /// afresh (the same seed gives the same episode); without one it goes
    /// on (seeded from entropy the first time).
    ///
    /// # Errors
    /// Failures of external environments.
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)>;

    /// Take one action.
    ///
    /// # Errors
    /// An action outside [`Env::action_space`], a step before the first
    /// reset, failures of external environments.
    fn step(&mut self, action: &Action) -> Result<Step>;

    /// The current state drawn as an RGB frame.
    ///
    /// # Errors
    /// Environments that cannot draw themselves, a render before reset.
    fn render(&self) -> Result<Frame> {
        Err(Error::Unsupported(format!("rendering {}", self.id())))
    }
}

impl<E: Env + ?Sized> Env for Box<E> {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn observation_space(&self) -> &Space {
        (**self).observation_space()
    }
    fn action_space(&self) -> &Space {
        (**self).action_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        (**self).reset(seed)
    }
    fn step(&mut self, action: &Action) -> Result<Step> {
        (**self).step(action)
    }
    fn render(&self) -> Result<Frame> {
        (**self).render()
    }
}

/// A registered environment: its id, episode limit and solved threshold
/// (Gymnasium's `EnvSpec`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvSpec {
    /// The id.
    pub id: &'static str,
    /// Steps before [`crate::TimeLimit`] truncates an episode.
    pub max_episode_steps: usize,
    /// The mean return that counts as solved, where Gymnasium sets one.
    pub reward_threshold: Option<f64>,
    /// Names of the observation's components, as Gymnasium's documentation
    /// describes them: the input columns of a policy as a model.
    pub observations: &'static [&'static str],
}

/// The environments [`make`] knows, with Gymnasium 1.4's limits.
pub const REGISTRY: [EnvSpec; 5] = [
    EnvSpec {
        id: "CartPole-v1",
        max_episode_steps: 500,
        reward_threshold: Some(475.0),
        observations: &["cart_position", "cart_velocity", "pole_angle", "pole_angular_velocity"],
    },
    EnvSpec {
        id: "MountainCar-v0",
        max_episode_steps: 200,
        reward_threshold: Some(-110.0),
        observations: &["position", "velocity"],
    },
    EnvSpec {
        id: "MountainCarContinuous-v0",
        max_episode_steps: 999,
        reward_threshold: Some(90.0),
        observations: &["position", "velocity"],
    },
    EnvSpec {
        id: "Acrobot-v1",
        max_episode_steps: 500,
        reward_threshold: Some(-100.0),
        observations: &[
            "cos_theta1",
            "sin_theta1",
            "cos_theta2",
            "sin_theta2",
            "theta1_dot",
            "theta2_dot",
        ],
    },
    EnvSpec {
        id: "Pendulum-v1",
        max_episode_steps: 200,
        reward_threshold: None,
        observations: &["cos_theta", "sin_theta", "theta_dot"],
    },
];

/// The registered spec of `id`.
///
/// # Errors
/// An unknown id, naming the known ones.
pub fn spec(id: &str) -> Result<EnvSpec> {
    REGISTRY.iter().find(|s| s.id == id).copied().ok_or_else(|| {
        let known: Vec<&str> = REGISTRY.iter().map(|s| s.id).collect();
        Error::invalid(
            "env",
            format!("unknown environment {id:?} (known: {})", known.join(", ")),
        )
    })
}

/// The bare environment of `id`, without its time limit.
///
/// # Errors
/// An unknown id.
pub fn make_unwrapped(id: &str) -> Result<Box<dyn Env>> {
    use crate::classic::{Acrobot, CartPole, MountainCar, MountainCarContinuous, Pendulum};
    let spec = spec(id)?;
    Ok(match spec.id {
        "CartPole-v1" => Box::new(CartPole::new()),
        "MountainCar-v0" => Box::new(MountainCar::new()),
        "MountainCarContinuous-v0" => Box::new(MountainCarContinuous::new()),
        "Acrobot-v1" => Box::new(Acrobot::new()),
        _ => Box::new(Pendulum::new()),
    })
}

/// Environment ids that start with this run an environment in another
/// process: `process:PROGRAM ARG…` (split at whitespace) starts
/// [`crate::ProcessEnv::spawn`]`(PROGRAM, ARG…)`, so a simulator of one's
/// own trains, evaluates and serves through every call that takes an id
/// (`mlsdk rl train --env "process:python3 scripts/gym_server.py
/// CartPole-v1"`). The program handles its own time limit.
pub const PROCESS_PREFIX: &str = "process:";

/// The program and arguments of a `process:` id, `None` for other ids.
fn process_command(id: &str) -> Option<Vec<&str>> {
    id.strip_prefix(PROCESS_PREFIX).map(|c| c.split_whitespace().collect())
}

/// Check that `id` names an environment [`make`] can start: a registered
/// one, or a `process:` id with a program ([`PROCESS_PREFIX`]).
///
/// # Errors
/// An unknown id, naming the known ones; a `process:` id without a program.
pub fn check_id(id: &str) -> Result<()> {
    match process_command(id) {
        Some(command) if command.is_empty() => Err(Error::invalid(
            "env",
            format!("{id:?} names no program (write {PROCESS_PREFIX}PROGRAM ARG…)"),
        )),
        Some(_) => Ok(()),
        None => spec(id).map(|_| ()),
    }
}

/// The environment of `id` as `gymnasium.make` returns it: wrapped in its
/// [`crate::TimeLimit`]; for a `process:` id ([`PROCESS_PREFIX`]) the
/// program's environment as it serves it.
///
/// # Errors
/// An unknown id; a program that does not start or speak the protocol.
pub fn make(id: &str) -> Result<Box<dyn Env>> {
    if let Some(command) = process_command(id) {
        check_id(id)?;
        return Ok(Box::new(crate::ProcessEnv::spawn(command[0], &command[1..])?));
    }
    let spec = spec(id)?;
    Ok(Box::new(crate::wrappers::TimeLimit::new(
        make_unwrapped(id)?,
        spec.max_episode_steps,
    )))
}
