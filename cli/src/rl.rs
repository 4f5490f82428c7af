//! `mlsdk rl`: reinforcement-learning environments.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use ml_sdk::rl::{self, Env, RecordFrames};
use serde_json::{Value, json};

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum RlCommand {
    /// List the environments with their spaces and episode limits.
    Envs,
    /// Play actions from `reset(seed)` and print each step, stopping at
    /// the first termination or truncation.
    Rollout {
        /// Environment id (CartPole-v1, MountainCar-v0, MountainCarContinuous-v0, Acrobot-v1, Pendulum-v1).
        #[arg(long)]
        env: String,
        /// Seed of the reset (as gymnasium's `reset(seed=S)`).
        #[arg(long)]
        seed: Option<u64>,
        /// Actions, one per line: an integer, or comma-separated numbers for continuous actions.
        #[arg(long)]
        actions: PathBuf,
        /// Also draw the episode: an animated GIF (`.gif`) or a PNG strip (`.png`).
        #[arg(long)]
        render: Option<PathBuf>,
    },
}

/// An `f32` as the `f64` of the same value, as Python's `float()` of a
/// NumPy `float32` prints it.
fn values(v: &[f32]) -> Value {
    json!(v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>())
}

pub fn run(cmd: &RlCommand, out: &Output) -> Result<()> {
    match cmd {
        RlCommand::Envs => {
            let mut rows = Vec::new();
            for spec in rl::REGISTRY {
                let env = rl::make(spec.id)?;
                rows.push(json!({
                    "id": spec.id,
                    "observation_space": env.observation_space(),
                    "action_space": env.action_space(),
                    "max_episode_steps": spec.max_episode_steps,
                    "reward_threshold": spec.reward_threshold,
                }));
            }
            out.emit(&json!({ "envs": rows }), || {
                rl::REGISTRY
                    .iter()
                    .map(|s| {
                        let env = rl::make(s.id).ok();
                        let (o, a) = env
                            .map(|e| (e.observation_space().to_string(), e.action_space().to_string()))
                            .unwrap_or_default();
                        format!(
                            "  {:<26} obs {:<8} actions {:<10} {} steps\n",
                            s.id, o, a, s.max_episode_steps
                        )
                    })
                    .collect()
            });
        }
        RlCommand::Rollout {
            env,
            seed,
            actions,
            render,
        } => {
            let mut environment = rl::make(env)?;
            let text = std::fs::read_to_string(actions).with_context(|| format!("reading {}", actions.display()))?;
            let actions = rl::parse_actions(&text, environment.action_space())?;
            let rollout = match render {
                None => rl::rollout(environment.as_mut(), *seed, &actions)?,
                Some(path) => {
                    let mut recorded = RecordFrames::new(environment);
                    let r = rl::rollout(&mut recorded, *seed, &actions)?;
                    match path.extension().and_then(|e| e.to_str()) {
                        Some("png") => rl::write_png_strip(&recorded.frames, 10, path)?,
                        _ => rl::write_gif(&recorded.frames, 30, path)?,
                    }
                    r
                }
            };
            let steps: Vec<Value> = rollout
                .steps
                .iter()
                .map(|s| {
                    json!({
                        "obs": values(&s.obs), "reward": s.reward,
                        "terminated": s.terminated, "truncated": s.truncated,
                    })
                })
                .collect();
            let value = json!({ "env": env, "seed": seed, "reset_obs": values(&rollout.reset_obs), "steps": steps });
            out.emit(&value, || {
                let total: f64 = rollout.steps.iter().map(|s| s.reward).sum();
                let end = match rollout.steps.last() {
                    Some(s) if s.terminated => "terminated",
                    Some(s) if s.truncated => "truncated",
                    _ => "still running (actions ran out)",
                };
                format!("{env}: {} steps, return {total}, {end}\n", rollout.steps.len())
            });
        }
    }
    Ok(())
}
