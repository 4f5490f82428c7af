//! A reinforcement-learning agent from training to serving, in one run:
//! PPO learns CartPole-v1 (Gymnasium's dynamics, bit for bit) with its
//! return curve and losses logged to an MLflow run; 100 deterministic
//! episodes evaluate it; one episode is rendered to a GIF; the policy is
//! saved (a resumable `policy.mlrl` and a `model.mlsdk` any model tool
//! takes) and served over the Open Inference Protocol, where the actions it
//! answers for states the agent visited are the actions it played.
//!
//! ```text
//! cargo run --release -p ml-sdk-agent-examples --bin rl_agent [-- OUT_DIR [STEPS]]
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use ml_sdk::core::{RunStatus, Target, Tracker};
use ml_sdk::rl::model::visited_dataset;
use ml_sdk::rl::ppo::{POLICY_FILE, evaluate, render_episode};
use ml_sdk::rl::{train_agent, write_gif};
use ml_sdk::serve::{ServeConfig, build_repository};
use ml_sdk::track::{MlflowStore, RunGuard, log_epoch};

const ENV: &str = "CartPole-v1";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "out/rl_agent".into()));
    let steps: usize = args.next().map_or(Ok(100_000), |s| s.parse()).context("STEPS")?;
    std::fs::create_dir_all(&out)?;
    let out = out.canonicalize()?;
    let store = MlflowStore::open(out.join("mlruns"))?;
    let run = store.start_run("rl_agent", Some("ppo-cartpole"))?;
    let guard = RunGuard::new(&store, run.clone());

    // 1. Train, logging the return curve and the losses after each update.
    let started = std::time::Instant::now();
    let mut log_error = None;
    let (saved, stats) = train_agent(ENV, "ppo", steps, 0, &mut |s| {
        if let Err(e) = log_epoch(&store, &run, s.env_steps, &s.figures()) {
            log_error.get_or_insert(e);
        }
    })?;
    if let Some(e) = log_error {
        return Err(e.into());
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "1. trained PPO on {ENV}: {} environment steps, {} updates, {} episodes in {seconds:.1} s",
        stats.env_steps,
        stats.updates,
        stats.episode_returns.len()
    );

    // 2. Evaluate.
    let returns = evaluate(&saved.policy, ENV, 100, 10_000)?;
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    println!("2. mean return over 100 deterministic episodes: {mean:.1} (500 is the most an episode gives)");

    // 3. Watch it.
    let (frames, ret) = render_episode(&saved.policy, ENV, 10_000)?;
    let gif = out.join("cartpole.gif");
    write_gif(&frames, 50, &gif)?;
    println!(
        "3. rendered one episode ({} frames, return {ret}) to {}",
        frames.len(),
        gif.display()
    );

    // 4. Save the policy and log the run.
    let dir = out.join("policy");
    saved.save(&dir)?;
    store.log_params(&run, &saved.params())?;
    log_epoch(
        &store,
        &run,
        stats.env_steps,
        &[("mean_return", mean), ("seconds", seconds)],
    )?;
    store.log_artifact(
        &run,
        &format!("policy/{POLICY_FILE}"),
        &std::fs::read(dir.join(POLICY_FILE))?,
    )?;
    store.log_artifact(&run, "cartpole.gif", &std::fs::read(&gif)?)?;
    guard.end(RunStatus::Finished)?;
    println!(
        "4. saved the policy to {} (policy.mlrl resumes training; model.mlsdk predicts) and logged run {} to {}",
        dir.display(),
        run.0,
        out.join("mlruns").display()
    );

    // 5. Serve the policy as a model; its answers are the actions played.
    let visited = visited_dataset(&saved, ENV, 2, 20_000)?;
    let Some(Target::Classes { labels: played, .. }) = visited.target() else {
        anyhow::bail!("a discrete policy's actions are classes");
    };
    let model = dir.join(ml_sdk::core::MODEL_FILE).to_string_lossy().into_owned();
    let repo = build_repository(&[("cartpole".into(), model)], None, &Default::default())?;
    let server = ml_sdk::serve::start(
        Arc::new(repo),
        ServeConfig::new().bind([127, 0, 0, 1].into(), 0).grpc(0),
    )?;
    let base = format!("http://{}", server.http_addr());
    let served = ml_sdk::serve::client::infer_labels(&base, "cartpole", visited.features());
    server.stop();
    let served = served?;
    ensure!(
        served == played.to_vec(),
        "served actions differ from the actions played"
    );
    println!(
        "5. served the policy over the Open Inference Protocol: the actions for {} visited states equal the ones played",
        served.len()
    );
    println!(
        "\nmlflow ui --backend-store-uri {} shows the curves",
        out.join("mlruns").display()
    );
    Ok(())
}
