#![doc = include_str!("../README.md")]

pub mod classic;
#[cfg(feature = "agents")]
pub mod dqn;
pub mod env;
#[cfg(feature = "agents")]
pub mod model;
#[cfg(feature = "agents")]
pub mod ppo;
pub mod process;
#[cfg(feature = "agents")]
pub mod progress;
pub mod render;
pub mod rng;
pub mod space;
pub mod vector;
pub mod wrappers;

pub use env::{Env, EnvSpec, Info, PROCESS_PREFIX, REGISTRY, Step, check_id, make, make_unwrapped, spec};
pub use process::ProcessEnv;
pub use render::{Frame, write_episode, write_gif, write_png_strip};
pub use rng::NumpyRng;
pub use space::{Action, Space};
pub use vector::{SyncVectorEnv, ThreadVectorEnv, VecStep, VectorEnv};
pub use wrappers::{
    FrameStack, NormalizeObservation, NormalizeReward, RecordEpisodeStatistics, RecordFrames, RunningMeanStd, TimeLimit,
};

/// A rollout: the actions played from `reset(seed)`, stopping at the first
/// termination or truncation (what `mlsdk rl rollout` prints).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rollout {
    /// The observation `reset(seed)` returned.
    pub reset_obs: Vec<f32>,
    /// One entry per action played.
    pub steps: Vec<RolloutStep>,
}

/// One step of a [`Rollout`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RolloutStep {
    /// The observation after the step.
    pub obs: Vec<f32>,
    /// The reward.
    pub reward: f64,
    /// Whether the episode terminated.
    pub terminated: bool,
    /// Whether it was truncated.
    pub truncated: bool,
}

/// Actions one per line, as `mlsdk rl rollout --actions` reads them: an
/// integer, or comma-separated numbers for `Box` and `MultiDiscrete`
/// spaces. Blank lines and lines starting with `#` are skipped.
///
/// # Errors
/// A line that is not an action of `space`, naming its line number.
pub fn parse_actions(text: &str, space: &Space) -> ml_core::Result<Vec<Action>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            Action::parse(l, space)
                .map_err(|e| ml_core::Error::invalid(format!("actions line {}", i + 1), e.to_string()))
        })
        .collect()
}

/// Play `actions` in `env` from `reset(seed)`, stopping after the first
/// step that terminates or truncates the episode.
///
/// # Errors
/// A bad action (naming its index), a failing environment.
pub fn rollout(env: &mut dyn Env, seed: Option<u64>, actions: &[Action]) -> ml_core::Result<Rollout> {
    let (reset_obs, _) = env.reset(seed)?;
    let mut steps = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        let s = env
            .step(a)
            .map_err(|e| ml_core::Error::invalid(format!("action {}", i + 1), e.to_string()))?;
        let done = s.terminated || s.truncated;
        steps.push(RolloutStep {
            obs: s.obs,
            reward: s.reward,
            terminated: s.terminated,
            truncated: s.truncated,
        });
        if done {
            break;
        }
    }
    Ok(Rollout { reset_obs, steps })
}

/// The algorithms [`train_agent`] knows.
#[cfg(feature = "agents")]
pub const ALGORITHMS: [&str; 2] = ["ppo", "dqn"];

/// Train `algo` (`ppo` or `dqn`) on `env_id` for `steps` environment steps
/// with its tuned hyper-parameters and `seed`, calling `on_update` after
/// each update with the progress so far: what `mlsdk rl train` runs. The
/// policy comes back with its training state, so it can be resumed
/// ([`resume_agent`]).
///
/// # Errors
/// An unknown algorithm or environment, an algorithm that does not fit the
/// environment's actions (DQN needs discrete ones).
#[cfg(feature = "agents")]
pub fn train_agent(
    env_id: &str,
    algo: &str,
    steps: usize,
    seed: u64,
    on_update: &mut dyn FnMut(&ppo::PpoStats),
) -> ml_core::Result<(ppo::SavedPolicy, ppo::PpoStats)> {
    check_id(env_id)?;
    let config = match algo {
        "ppo" => to_json(serde_json::to_value(ppo::PpoConfig {
            seed,
            ..ppo::PpoConfig::tuned(env_id)
        })),
        "dqn" => to_json(serde_json::to_value(dqn::DqnConfig {
            seed,
            ..dqn::DqnConfig::default()
        })),
        other => Err(unknown_algorithm(other)),
    }?;
    run_agent(env_id, algo, config, None, steps, on_update)
}

/// Train a saved policy for `steps` more environment steps with the
/// algorithm, hyper-parameters and environment it was trained with, from
/// its networks, optimizer states and counters (`mlsdk rl train --resume`).
///
/// # Errors
/// A policy saved without its training state, or whose algorithm or
/// environment this build does not know.
#[cfg(feature = "agents")]
pub fn resume_agent(
    saved: &ppo::SavedPolicy,
    steps: usize,
    on_update: &mut dyn FnMut(&ppo::PpoStats),
) -> ml_core::Result<(ppo::SavedPolicy, ppo::PpoStats)> {
    let state = saved.training.clone().ok_or_else(|| {
        ml_core::Error::invalid(
            "resume",
            "the policy was saved without its training state (optimizers, counters)",
        )
    })?;
    run_agent(
        &saved.env,
        &saved.algo,
        saved.config.clone(),
        Some((saved.policy.clone(), state)),
        steps,
        on_update,
    )
}

#[cfg(feature = "agents")]
fn to_json(v: serde_json::Result<serde_json::Value>) -> ml_core::Result<serde_json::Value> {
    v.map_err(|e| ml_core::Error::invalid("config", e.to_string()))
}

#[cfg(feature = "agents")]
fn unknown_algorithm(algo: &str) -> ml_core::Error {
    ml_core::Error::invalid(
        "algo",
        format!("unknown algorithm {algo:?} (known: {})", ALGORITHMS.join(", ")),
    )
}

/// Train or resume `algo` with the configuration `config` (its JSON).
#[cfg(feature = "agents")]
fn run_agent(
    env_id: &str,
    algo: &str,
    config: serde_json::Value,
    from: Option<(ppo::PpoPolicy, ppo::TrainingState)>,
    steps: usize,
    on_update: &mut dyn FnMut(&ppo::PpoStats),
) -> ml_core::Result<(ppo::SavedPolicy, ppo::PpoStats)> {
    check_id(env_id)?;
    let bad_config = |e: serde_json::Error| ml_core::Error::invalid("config", format!("{algo}: {e}"));
    let (policy, state) = match algo {
        "ppo" => {
            let cfg: ppo::PpoConfig = serde_json::from_value(config.clone()).map_err(bad_config)?;
            ppo::continue_ppo(env_id, &cfg, from, steps, on_update)?
        }
        "dqn" => {
            let cfg: dqn::DqnConfig = serde_json::from_value(config.clone()).map_err(bad_config)?;
            dqn::continue_dqn(env_id, &cfg, from, steps, on_update)?
        }
        other => return Err(unknown_algorithm(other)),
    };
    let stats = state.stats.clone();
    let saved = ppo::SavedPolicy {
        env: env_id.to_string(),
        algo: algo.to_string(),
        config,
        policy,
        env_steps: stats.env_steps,
        training: Some(state),
    };
    Ok((saved, stats))
}
