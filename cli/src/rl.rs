//! `mlsdk rl`: reinforcement-learning environments.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ml_sdk::core::RunStatus;
use ml_sdk::rl::ppo::{self, SavedPolicy};
use ml_sdk::rl::progress::StepsProgress;
use ml_sdk::rl::{self, RecordFrames};
use ml_sdk::track::log_epoch;
use serde_json::{Value, json};

use crate::output::Output;
use crate::track::TrackingArgs;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Environment id (`mlsdk rl envs`), or `process:PROGRAM ARG…` for an
    /// environment served by another program over ml-rl's line protocol.
    #[arg(long)]
    env: String,
    /// Algorithm: ppo (the default) or dqn (discrete actions).
    #[arg(long)]
    algo: Option<String>,
    /// Environment steps to train for (with --resume: more steps).
    #[arg(long, default_value_t = 100_000)]
    steps: usize,
    /// Go on training a saved policy (its directory or policy.mlrl) with its
    /// algorithm, hyper-parameters, optimizer states and counters.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Seed of initialization, sampling and the environments.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for the policy (policy.mlrl).
    #[arg(long)]
    out: PathBuf,
    /// Episodes of the deterministic evaluation after training.
    #[arg(long, default_value_t = 100)]
    episodes: usize,
    #[command(flatten)]
    tracking: TrackingArgs,
}

#[derive(Debug, Subcommand)]
pub enum RlCommand {
    /// List the environments with their spaces and episode limits.
    Envs,
    /// Play actions from `reset(seed)` and print each step, stopping at
    /// the first termination or truncation.
    Rollout {
        /// Environment id (CartPole-v1, MountainCar-v0, MountainCarContinuous-v0, Acrobot-v1, Pendulum-v1),
        /// or `process:PROGRAM ARG…` for an environment served by another program.
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
    /// Train a policy, save it, and evaluate it deterministically.
    Train(Box<TrainArgs>),
    /// Mean return of a saved policy over deterministic episodes.
    Evaluate {
        /// The policy's directory (or policy.mlrl).
        #[arg(long)]
        policy: PathBuf,
        /// Environment id (default: the one it was trained on).
        #[arg(long)]
        env: Option<String>,
        /// Episodes, episode i from reset(seed + i).
        #[arg(long, default_value_t = 100)]
        episodes: usize,
        /// Seed of the first episode.
        #[arg(long, default_value_t = 10_000)]
        seed: u64,
    },
    /// Write the states deterministic episodes of a saved policy visit, with
    /// the action taken on each, as CSV: rows to explain the policy on
    /// (`mlsdk explain --model DIR --data FILE`).
    States {
        /// The policy's directory (or policy.mlrl).
        #[arg(long)]
        policy: PathBuf,
        /// Environment id (default: the one it was trained on).
        #[arg(long)]
        env: Option<String>,
        /// Episodes, episode i from reset(seed + i).
        #[arg(long, default_value_t = 5)]
        episodes: usize,
        /// Seed of the first episode.
        #[arg(long, default_value_t = 10_000)]
        seed: u64,
        /// Output CSV file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Draw one deterministic episode of a saved policy as a GIF (or PNG strip).
    Render {
        /// The policy's directory (or policy.mlrl).
        #[arg(long)]
        policy: PathBuf,
        /// Environment id (default: the one it was trained on).
        #[arg(long)]
        env: Option<String>,
        /// Output file: .gif, or .png for a strip of every tenth frame.
        #[arg(long)]
        out: PathBuf,
        /// Seed of the episode.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// An `f32` as the `f64` of the same value, as Python's `float()` of a
/// NumPy `float32` prints it.
fn values(v: &[f32]) -> Value {
    json!(v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>())
}

pub fn run(cmd: &RlCommand, out: &Output) -> Result<()> {
    match cmd {
        RlCommand::Envs => {
            let envs = rl::REGISTRY
                .iter()
                .map(|spec| Ok((spec, rl::make(spec.id)?)))
                .collect::<Result<Vec<_>>>()?;
            let rows: Vec<Value> = envs
                .iter()
                .map(|(spec, env)| {
                    json!({
                        "id": spec.id,
                        "observation_space": env.observation_space(),
                        "action_space": env.action_space(),
                        "max_episode_steps": spec.max_episode_steps,
                        "reward_threshold": spec.reward_threshold,
                    })
                })
                .collect();
            out.emit(&json!({ "envs": rows }), || {
                envs.iter()
                    .map(|(spec, env)| {
                        format!(
                            "  {:<26} obs {:<8} actions {:<10} {} steps\n",
                            spec.id,
                            env.observation_space().to_string(),
                            env.action_space().to_string(),
                            spec.max_episode_steps
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
                    rl::write_episode(&recorded.frames, path, 1)?;
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
        RlCommand::Train(args) => train(args, out)?,
        RlCommand::Evaluate {
            policy,
            env,
            episodes,
            seed,
        } => {
            let saved = SavedPolicy::load(policy)?;
            let env = env.clone().unwrap_or(saved.env.clone());
            let returns = ppo::evaluate(&saved.policy, &env, *episodes, *seed)?;
            let value =
                json!({"env": env, "mean_return": mean(&returns), "episodes": returns.len(), "returns": returns});
            out.emit(&value, || {
                format!(
                    "{env}: mean return {:.2} over {} episodes\n",
                    mean(&returns),
                    returns.len()
                )
            });
        }
        RlCommand::States {
            policy,
            env,
            episodes,
            seed,
            out: path,
        } => {
            let saved = SavedPolicy::load(policy)?;
            let env = env.clone().unwrap_or(saved.env.clone());
            let data = rl::model::visited_dataset(&saved, &env, *episodes, *seed)?;
            let mut csv = Vec::new();
            ml_sdk::core::write_csv(&data, &mut csv)?;
            ml_sdk::core::io::write_atomic(path, &csv)?;
            let value = json!({"env": env, "rows": data.n_samples(), "columns": data.feature_names(), "out": path});
            out.emit(&value, || {
                format!(
                    "{env}: {} states of {episodes} episodes -> {}\n",
                    data.n_samples(),
                    path.display()
                )
            });
        }
        RlCommand::Render {
            policy,
            env,
            out: path,
            seed,
        } => {
            let saved = SavedPolicy::load(policy)?;
            let env = env.clone().unwrap_or(saved.env.clone());
            let (frames, total) = ppo::render_episode(&saved.policy, &env, *seed)?;
            rl::write_episode(&frames, path, 10)?;
            let value = json!({"env": env, "return": total, "frames": frames.len(), "out": path});
            out.emit(&value, || {
                format!("{env}: return {total}, {} frames -> {}\n", frames.len(), path.display())
            });
        }
    }
    Ok(())
}

fn train(args: &TrainArgs, out: &Output) -> Result<()> {
    let resume = match &args.resume {
        Some(path) => Some(SavedPolicy::load(path).with_context(|| format!("--resume {}", path.display()))?),
        None => None,
    };
    let algo = match (&args.algo, &resume) {
        (Some(a), Some(saved)) if *a != saved.algo => {
            bail!("--algo {a}: the policy to resume was trained with {}", saved.algo)
        }
        (_, Some(saved)) => saved.algo.clone(),
        (Some(a), None) => a.clone(),
        (None, None) => "ppo".to_string(),
    };
    if !rl::ALGORITHMS.contains(&algo.as_str()) {
        bail!(
            "--algo {algo}: unknown algorithm (known: {})",
            rl::ALGORITHMS.join(", ")
        );
    }
    rl::check_id(&args.env)?;
    if let Some(saved) = &resume
        && saved.env != args.env
    {
        bail!("--env {}: the policy to resume was trained on {}", args.env, saved.env);
    }
    args.tracking.check()?;
    let active = args.tracking.start()?;
    let guard = active.as_ref().map(|a| a.guard());
    let started = std::time::Instant::now();
    let done = resume.as_ref().map_or(0, |s| s.env_steps);
    let progress = if out.json {
        StepsProgress::hidden()
    } else {
        StepsProgress::new(done, args.steps)
    };
    let mut log_error = None;
    let mut on_update = |s: &ppo::PpoStats| {
        progress.update(s);
        if let Some(a) = &active {
            // The return curve and the update's losses, one point per update.
            if let Err(e) = log_epoch(a.tracker.as_ref(), &a.run, s.env_steps, &s.figures()) {
                log_error.get_or_insert(e);
            }
        }
    };
    let trained = match &resume {
        Some(saved) => rl::resume_agent(saved, args.steps, &mut on_update),
        None => rl::train_agent(&args.env, &algo, args.steps, args.seed, &mut on_update),
    };
    progress.finish();
    let (saved, stats) = trained?;
    if let Some(e) = log_error {
        return Err(e.into());
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(a) = &active {
        a.tracker.log_params(&a.run, &saved.params())?;
    }
    let path = saved.save(&args.out)?;
    let returns = ppo::evaluate(&saved.policy, &args.env, args.episodes, 10_000)?;
    let mean_return = mean(&returns);
    if let (Some(a), Some(guard)) = (&active, guard) {
        log_epoch(
            a.tracker.as_ref(),
            &a.run,
            stats.env_steps,
            &[("mean_return", mean_return), ("seconds", seconds)],
        )?;
        a.tracker
            .log_artifact(&a.run, "policy/policy.mlrl", &std::fs::read(&path)?)?;
        guard.end(RunStatus::Finished)?;
    }
    let value = json!({
        "env": args.env, "algo": algo, "mean_return": mean_return, "episodes": returns.len(),
        "env_steps": stats.env_steps, "seconds": seconds, "policy": path,
        "run": active.as_ref().map(|a| a.describe()),
    });
    out.emit(&value, || {
        format!(
            "{}: {}, {} steps in {seconds:.1} s; mean return {mean_return:.2} over {} deterministic episodes; policy {}\n",
            args.env,
            algo,
            stats.env_steps,
            returns.len(),
            path.display()
        )
    });
    Ok(())
}
