#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
//! The RL example runs end to end (a short training) and shows what it claims.

#[test]
fn rl_agent_trains_evaluates_renders_logs_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rl_agent"))
        .args([dir.path().to_str().unwrap(), "20000"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for step in [
        "1. trained PPO",
        "2. mean return",
        "3. rendered",
        "4. saved",
        "5. served",
    ] {
        assert!(text.contains(step), "no {step:?} in:\n{text}");
    }
    // A random CartPole policy averages about 22; 20k steps of PPO do far better.
    let line = text.lines().find(|l| l.starts_with("2. mean return")).unwrap();
    let mean: f64 = line
        .split(": ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(mean > 100.0, "{line}");
    let gif = std::fs::read(dir.path().join("cartpole.gif")).unwrap();
    assert!(gif.starts_with(b"GIF89a"));
    for f in ["policy/policy.mlrl", "policy/model.mlsdk"] {
        assert!(dir.path().join(f).is_file(), "no {f}");
    }
    let store = ml_sdk::track::MlflowStore::open(dir.path().join("mlruns")).unwrap();
    let experiment = store.experiment_by_name("rl_agent").unwrap().unwrap();
    let runs = store.runs(&experiment.experiment_id).unwrap();
    let record = store.run(&runs[0].run_id).unwrap();
    assert!(record.metrics["episode_return"].len() > 10, "one point per update");
    assert!(record.metrics.contains_key("policy_loss") && record.metrics.contains_key("mean_return"));
}
