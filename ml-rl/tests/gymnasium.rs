#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
//! The classic-control environments against the real Gymnasium: every
//! episode `scripts/gen_rl.py` recorded (its version in
//! `testdata/rl/gymnasium_classic.json`) is replayed from the same seed with
//! the same actions, and must give the same observations (to single
//! precision), rewards, terminations and truncations, step for step.

use ml_rl::{Action, SyncVectorEnv, ThreadVectorEnv, VectorEnv, make, rollout};
use serde_json::Value;

/// The committed recording, or a fresh one from `MLSDK_RL_FIXTURES` (a
/// directory `scripts/gen_rl.py` wrote; `scripts/test.sh` makes one with
/// the installed Gymnasium).
fn fixture() -> Value {
    let path = match std::env::var_os("MLSDK_RL_FIXTURES") {
        Some(dir) => std::path::PathBuf::from(dir).join("gymnasium_classic.json"),
        None => concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/rl/gymnasium_classic.json").into(),
    };
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn action(v: &Value) -> Action {
    match v {
        Value::Array(a) => Action::Continuous(a.iter().map(|x| x.as_f64().unwrap() as f32).collect()),
        n => Action::Discrete(n.as_i64().unwrap()),
    }
}

fn close(got: &[f32], want: &[f64], tol: f64) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| (f64::from(*g) - w).abs() <= tol * w.abs().max(1.0))
}

#[test]
fn every_recorded_episode_replays_identically() {
    let doc = fixture();
    let mut worst = std::collections::BTreeMap::<String, f64>::new();
    let mut steps_checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let id = case["env"].as_str().unwrap();
        let seed = case["seed"].as_u64().unwrap();
        let label = format!("{id} seed {seed} {}", case["policy"].as_str().unwrap());
        let actions: Vec<Action> = case["actions"].as_array().unwrap().iter().map(action).collect();
        let mut env = make(id).unwrap();
        let got = rollout(env.as_mut(), Some(seed), &actions).unwrap();
        assert!(
            close(&got.reset_obs, &floats(&case["reset_obs"]), 0.0),
            "{label}: reset {:?}",
            got.reset_obs
        );
        let want = case["steps"].as_array().unwrap();
        assert_eq!(got.steps.len(), want.len(), "{label}: episode length");
        for (i, (g, w)) in got.steps.iter().zip(want).enumerate() {
            let wo = floats(&w["obs"]);
            let diff = g
                .obs
                .iter()
                .zip(&wo)
                .map(|(a, b)| (f64::from(*a) - b).abs())
                .fold(0.0, f64::max);
            let e = worst.entry(id.to_string()).or_default();
            *e = e.max(diff);
            // Bit-identical here; the tolerance allows another platform's
            // libm a last-place difference in sin and cos.
            assert!(close(&g.obs, &wo, 1e-6), "{label} step {i}: obs {:?} != {wo:?}", g.obs);
            let wr = w["reward"].as_f64().unwrap();
            assert!(
                (g.reward - wr).abs() <= 1e-12 * wr.abs().max(1.0),
                "{label} step {i}: reward {} != {wr}",
                g.reward
            );
            assert_eq!(
                (g.terminated, g.truncated),
                (w["terminated"].as_bool().unwrap(), w["truncated"].as_bool().unwrap()),
                "{label} step {i}"
            );
            steps_checked += 1;
        }
    }
    eprintln!(
        "{steps_checked} steps match Gymnasium {}; largest observation difference by environment: {worst:?}",
        doc["versions"]["gymnasium"]
    );
    assert!(steps_checked > 10_000);
}

fn replay_vector(envs: &mut dyn VectorEnv, case: &Value, label: &str) {
    let seed = case["seed"].as_u64().unwrap();
    let (obs, _) = envs.reset(Some(seed)).unwrap();
    let rows = |v: &Value| -> Vec<Vec<f64>> { v.as_array().unwrap().iter().map(floats).collect() };
    for (o, w) in obs.iter().zip(rows(&case["reset_obs"])) {
        assert!(close(o, &w, 1e-6), "{label}: reset");
    }
    let mut resets = 0;
    for (i, (acts, want)) in case["actions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(case["steps"].as_array().unwrap())
        .enumerate()
    {
        let actions: Vec<Action> = acts.as_array().unwrap().iter().map(action).collect();
        let got = envs.step(&actions).unwrap();
        for (k, w) in rows(&want["obs"]).iter().enumerate() {
            assert!(close(&got.obs[k], w, 1e-6), "{label} step {i} env {k}: obs");
        }
        assert_eq!(got.rewards, floats(&want["reward"]), "{label} step {i}");
        let flags = |key: &str| -> Vec<bool> {
            want[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_bool().unwrap())
                .collect()
        };
        assert_eq!(got.terminated, flags("terminated"), "{label} step {i}");
        assert_eq!(got.truncated, flags("truncated"), "{label} step {i}");
        resets += got.rewards.iter().filter(|r| **r == 0.0).count();
    }
    assert!(resets > 0, "{label}: no autoreset happened");
}

/// Gymnasium's `SyncVectorEnv` with next-step autoreset, replayed by both
/// of ours: the step after an episode ends returns the reset observation,
/// reward 0 and no flags, and each sub-environment's generator goes on.
#[test]
fn vector_envs_autoreset_as_gymnasium_does() {
    let doc = fixture();
    for case in doc["vector"].as_array().unwrap() {
        let id = case["env"].as_str().unwrap();
        let n = case["num_envs"].as_u64().unwrap() as usize;
        replay_vector(&mut SyncVectorEnv::make(id, n).unwrap(), case, &format!("sync {id}"));
        replay_vector(
            &mut ThreadVectorEnv::make(id, n, 2).unwrap(),
            case,
            &format!("threads {id}"),
        );
    }
}
