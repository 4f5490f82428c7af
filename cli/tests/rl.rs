#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
#![cfg(unix)]
//! `mlsdk rl rollout` against Gymnasium's recorded episodes
//! (`testdata/rl/gymnasium_classic.json`): the printed observations,
//! rewards and flags are Gymnasium's, exactly; bad input is a one-line
//! error.

mod common;

use common::{Serve, command, csv_rows, run_in};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/rl/gymnasium_classic.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn rollouts_print_gymnasiums_episodes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let doc = fixture();
    // One episode of each environment, both policies across them.
    let mut seen = std::collections::BTreeSet::new();
    for case in doc["cases"].as_array().unwrap() {
        let id = case["env"].as_str().unwrap();
        if !seen.insert(id) {
            continue;
        }
        let lines: Vec<String> = case["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| match a {
                Value::Array(v) => v.iter().map(Value::to_string).collect::<Vec<_>>().join(","),
                n => n.to_string(),
            })
            .collect();
        std::fs::write(dir.join("actions.txt"), lines.join("\n") + "\n").unwrap();
        let seed = case["seed"].to_string();
        let text = run_in(
            dir,
            &[
                "--json",
                "rl",
                "rollout",
                "--env",
                id,
                "--seed",
                &seed,
                "--actions",
                "actions.txt",
            ],
        );
        let got: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(got["reset_obs"], case["reset_obs"], "{id}");
        assert_eq!(got["steps"], case["steps"], "{id}");
    }
    assert_eq!(seen.len(), 5);
}

#[test]
fn rollouts_render_and_refuse_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("a.txt"), "1\n0\n# a comment\n\n1\n").unwrap();
    let text = run_in(
        dir,
        &[
            "--json",
            "rl",
            "rollout",
            "--env",
            "CartPole-v1",
            "--seed",
            "0",
            "--actions",
            "a.txt",
            "--render",
            "ep.gif",
        ],
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["steps"].as_array().unwrap().len(), 3);
    let gif = std::fs::read(dir.join("ep.gif")).unwrap();
    assert!(gif.starts_with(b"GIF89a"));
    let envs: Value = serde_json::from_str(&run_in(dir, &["--json", "rl", "envs"])).unwrap();
    assert_eq!(envs["envs"].as_array().unwrap().len(), 5);

    std::fs::write(dir.join("bad.txt"), "1\n2\n").unwrap();
    std::fs::write(dir.join("words.txt"), "left\n").unwrap();
    for (args, expected) in [
        (vec!["--env", "CartPole-v1", "--actions", "bad.txt"], "actions line 2"),
        (vec!["--env", "CartPole-v1", "--actions", "words.txt"], "actions line 1"),
        (vec!["--env", "Pendulum-v1", "--actions", "words.txt"], "actions line 1"),
        (vec!["--env", "Pong-v5", "--actions", "a.txt"], "unknown environment"),
        (vec!["--env", "CartPole-v1", "--actions", "missing.txt"], "missing.txt"),
    ] {
        let out = command(&[&["rl", "rollout"], &args[..]].concat())
            .current_dir(dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

/// `mlsdk rl train` trains PPO (and DQN), saves the policy, evaluates it over 100
/// deterministic episodes and logs the run; `evaluate` and `render` take
/// the saved policy.
#[test]
fn ppo_trains_evaluates_and_renders_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let t: Value = serde_json::from_str(&run_in(
        dir,
        &[
            "--json",
            "rl",
            "train",
            "--env",
            "CartPole-v1",
            "--algo",
            "ppo",
            "--steps",
            "40000",
            "--seed",
            "1",
            "--out",
            "agent",
            "--tracking-uri",
            "mlruns",
        ],
    ))
    .unwrap();
    assert_eq!(t["episodes"], 100, "{t}");
    assert!(t["env_steps"].as_u64().unwrap() >= 40_000);
    assert!(t["seconds"].as_f64().unwrap() > 0.0);
    let trained = t["mean_return"].as_f64().unwrap();
    assert!(trained > 150.0, "{t}");
    assert!(dir.join("agent/policy.mlrl").exists());
    let e: Value = serde_json::from_str(&run_in(
        dir,
        &[
            "--json",
            "rl",
            "evaluate",
            "--policy",
            "agent",
            "--env",
            "CartPole-v1",
            "--episodes",
            "100",
        ],
    ))
    .unwrap();
    assert_eq!(
        e["mean_return"].as_f64().unwrap(),
        trained,
        "the same evaluation seeds give the same figure"
    );
    run_in(
        dir,
        &[
            "rl",
            "render",
            "--policy",
            "agent",
            "--env",
            "CartPole-v1",
            "--out",
            "episode.gif",
        ],
    );
    assert!(std::fs::read(dir.join("episode.gif")).unwrap().starts_with(b"GIF89a"));

    // The policy is a model: the states it visits, predicted by its model
    // directory and by its ONNX export on tract, give the actions it played;
    // SHAP explains it on those states.
    run_in(
        dir,
        &[
            "rl",
            "states",
            "--policy",
            "agent",
            "--episodes",
            "2",
            "--out",
            "states.csv",
        ],
    );
    let states = std::fs::read_to_string(dir.join("states.csv")).unwrap();
    let header = states.lines().next().unwrap();
    assert_eq!(
        header,
        "cart_position,cart_velocity,pole_angle,pole_angular_velocity,action"
    );
    let played: Vec<String> = states
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect();
    assert!(played.len() >= 2 * 100, "{} states", played.len());
    run_in(dir, &["export-onnx", "--model", "agent", "--out", "policy.onnx"]);
    for model in ["agent", "policy.onnx"] {
        let predicted = run_in(dir, &["predict", "--model", model, "--data", "states.csv"]);
        let labels: Vec<String> = predicted
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect();
        assert_eq!(labels, played, "{model}");
    }
    let explained: Value = serde_json::from_str(&run_in(
        dir,
        &[
            "--json",
            "explain",
            "--model",
            "agent",
            "--data",
            "states.csv",
            "--method",
            "kernel-shap",
            "--rows",
            "3",
            "--target",
            "action",
        ],
    ))
    .unwrap();
    assert!(explained.to_string().contains("pole_angle"), "{explained}");

    // `mlsdk serve` serves it as any model: the most likely action is the one played.
    let server = Serve::start(dir, &["--model", "cartpole=agent"]);
    let rows = csv_rows(&dir.join("states.csv"), "action", 5);
    let body = serde_json::to_vec(&serde_json::json!({ "instances": rows })).unwrap();
    let mut reply = ureq::post(format!("http://{}/invocations", server.http))
        .header("Content-Type", "application/json")
        .send(&body[..])
        .unwrap();
    let served: Value = serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
    let probabilities: Vec<Vec<f64>> = serde_json::from_value(served["predictions"]["probabilities"].clone())
        .unwrap_or_else(|e| panic!("{e}: {served}"));
    let greedy: Vec<String> = probabilities
        .iter()
        .map(|p| if p[1] > p[0] { "1" } else { "0" }.to_string())
        .collect();
    assert_eq!(greedy, played[..5]);
    server.terminate(std::time::Duration::from_secs(10));

    // Training resumes from the saved policy, counting on.
    let r: Value = serde_json::from_str(&run_in(
        dir,
        &[
            "--json",
            "rl",
            "train",
            "--env",
            "CartPole-v1",
            "--steps",
            "4096",
            "--out",
            "more",
            "--resume",
            "agent",
            "--episodes",
            "5",
        ],
    ))
    .unwrap();
    assert_eq!(r["algo"], "ppo", "{r}");
    assert_eq!(
        r["env_steps"].as_u64().unwrap(),
        t["env_steps"].as_u64().unwrap() + 4096,
        "{r}"
    );
    for (args, expected) in [
        (
            vec!["--env", "Acrobot-v1", "--resume", "agent"],
            "trained on CartPole-v1",
        ),
        (
            vec!["--env", "CartPole-v1", "--algo", "dqn", "--resume", "agent"],
            "trained with ppo",
        ),
    ] {
        let out = command(&[&["rl", "train", "--out", "x", "--steps", "10"], &args[..]].concat())
            .current_dir(dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{args:?}: {err}");
    }

    // The run holds the learning curve, the losses and the policy.
    let mut found = (false, false);
    let mut losses = std::collections::BTreeSet::new();
    let mut stack = vec![dir.join("mlruns")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.ends_with("metrics/episode_return") {
                found.0 = true;
            } else if p.parent().is_some_and(|d| d.ends_with("metrics")) {
                losses.insert(p.file_name().unwrap().to_string_lossy().to_string());
            } else if p.ends_with("policy/policy.mlrl") {
                found.1 = true;
            }
        }
    }
    assert_eq!(found, (true, true));
    for key in [
        "policy_loss",
        "value_loss",
        "entropy",
        "approx_kl",
        "clip_fraction",
        "learning_rate",
    ] {
        assert!(losses.contains(key), "{key} not logged: {losses:?}");
    }
    for (args, expected) in [
        (
            vec!["rl", "train", "--env", "CartPole-v1", "--algo", "a3c", "--out", "x"],
            "a3c",
        ),
        (vec!["rl", "evaluate", "--policy", "nowhere"], "nowhere"),
        (
            vec!["rl", "train", "--env", "Pendulum-v1", "--algo", "dqn", "--out", "x"],
            "discrete",
        ),
    ] {
        let out = command(&args).current_dir(dir).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{args:?}: {err}");
    }
    std::fs::write(dir.join("agent/policy.mlrl"), b"garbage").unwrap();
    let out = command(&["rl", "evaluate", "--policy", "agent"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupt"), "{out:?}");
}
