//! ml-rl's side of `benches/compare_rl.py`: environment steps a second,
//! random actions, one environment and vectors of eight.
//!
//! `cargo run --release -p ml-rl --example env_throughput [ENV] [STEPS]`
//! prints one JSON object per setting.

use std::time::Instant;

use ml_rl::{Action, Env, NumpyRng, SyncVectorEnv, ThreadVectorEnv, VectorEnv, make};

fn main() -> ml_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let id = args.get(1).map_or("CartPole-v1", String::as_str);
    let steps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let mut rng = NumpyRng::new(0);

    let mut env = make(id)?;
    let space = env.action_space().clone();
    // Actions drawn beforehand, so the timing is the environment's.
    let actions: Vec<Action> = (0..4096).map(|_| space.sample(&mut rng)).collect();
    env.reset(Some(0))?;
    let t = Instant::now();
    for i in 0..steps {
        let s = env.step(&actions[i % actions.len()])?;
        if s.terminated || s.truncated {
            env.reset(None)?;
        }
    }
    let single = steps as f64 / t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"tool": "ml-rl", "env": id, "setting": "single", "steps_per_second": single})
    );

    let n = 8;
    let batches: Vec<Vec<Action>> = (0..512)
        .map(|_| (0..n).map(|_| space.sample(&mut rng)).collect())
        .collect();
    let run = |envs: &mut dyn VectorEnv, name: &str| -> ml_core::Result<()> {
        envs.reset(Some(0))?;
        let rounds = steps / n;
        let t = Instant::now();
        for r in 0..rounds {
            envs.step(&batches[r % batches.len()])?;
        }
        let rate = (rounds * n) as f64 / t.elapsed().as_secs_f64();
        println!(
            "{}",
            serde_json::json!({"tool": "ml-rl", "env": id, "setting": name, "steps_per_second": rate})
        );
        Ok(())
    };
    run(&mut SyncVectorEnv::make(id, n)?, "sync_vector_8")?;
    run(&mut ThreadVectorEnv::make(id, n, 2)?, "thread_vector_8_on_2")?;
    Ok(())
}
