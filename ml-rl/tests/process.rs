#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.
//! A Gymnasium environment in a Python process, driven from Rust over
//! ml-rl's line protocol (`scripts/gym_server.py`): its spaces arrive
//! intact, and the same seed and actions give the same episode as ml-rl's
//! own CartPole, also when several run at once under a vector env. Needs
//! `.venv-rl` (`scripts/setup-python.sh rl`); `scripts/test.sh` runs it with
//! `MLSDK_PYTHON_RL=.venv-rl/bin/python -- --include-ignored`.

use ml_rl::{Action, Env, ProcessEnv, Space, ThreadVectorEnv, VectorEnv, make, rollout};

fn server(id: &str) -> ProcessEnv {
    let python = std::env::var("MLSDK_PYTHON_RL").expect("set MLSDK_PYTHON_RL to .venv-rl/bin/python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/gym_server.py");
    ProcessEnv::spawn(&python, &[script, id]).unwrap()
}

#[test]
#[ignore = "needs .venv-rl (scripts/test.sh)"]
fn a_python_gymnasium_env_runs_from_rust() {
    let mut remote = server("CartPole-v1");
    assert_eq!(remote.id(), "CartPole-v1");
    let mut local = make("CartPole-v1").unwrap();
    assert_eq!(remote.action_space(), local.action_space());
    assert_eq!(remote.observation_space(), local.observation_space());
    let actions: Vec<Action> = (0..600).map(|i| Action::Discrete(i64::from((i * 7 % 5) > 1))).collect();
    let a = rollout(&mut remote, Some(11), &actions).unwrap();
    let b = rollout(local.as_mut(), Some(11), &actions).unwrap();
    assert_eq!(a, b);
    // A bad action is refused before it is sent; the process goes on.
    assert!(remote.step(&Action::Discrete(5)).is_err());
    remote.reset(Some(1)).unwrap();
    assert!(remote.step(&Action::Discrete(1)).is_ok());

    // Continuous actions and unbounded Box sides cross the wire too.
    let mut pendulum = server("Pendulum-v1");
    assert_eq!(pendulum.action_space(), &Space::boxed(vec![-2.0], vec![2.0]));
    let torques: Vec<Action> = (0..50)
        .map(|i| Action::Continuous(vec![(i as f32 * 0.37).sin() * 2.0]))
        .collect();
    let a = rollout(&mut pendulum, Some(3), &torques).unwrap();
    let b = rollout(make("Pendulum-v1").unwrap().as_mut(), Some(3), &torques).unwrap();
    assert_eq!(a, b);
}

#[test]
#[ignore = "needs .venv-rl (scripts/test.sh)"]
fn external_envs_step_in_parallel() {
    let envs: Vec<Box<dyn Env>> = (0..4)
        .map(|_| Box::new(server("MountainCar-v0")) as Box<dyn Env>)
        .collect();
    let mut remote = ThreadVectorEnv::new(envs, 4).unwrap();
    let mut local = ml_rl::SyncVectorEnv::make("MountainCar-v0", 4).unwrap();
    let (ra, _) = remote.reset(Some(100)).unwrap();
    let (la, _) = local.reset(Some(100)).unwrap();
    assert_eq!(ra, la);
    for t in 0..250 {
        let actions: Vec<Action> = (0..4).map(|k| Action::Discrete((t + k) as i64 % 3)).collect();
        let (r, l) = (remote.step(&actions).unwrap(), local.step(&actions).unwrap());
        assert_eq!(r, l, "step {t}");
    }
}

#[test]
fn a_missing_or_silent_program_is_an_error() {
    let err = ProcessEnv::spawn("/nonexistent/env-server", &[]).unwrap_err();
    assert!(err.to_string().contains("starting"), "{err}");
    // `true` exits at once: the spaces request gets no reply.
    let err = ProcessEnv::spawn("true", &[]).unwrap_err();
    assert!(
        err.to_string().contains("closed") || err.to_string().contains("writing"),
        "{err}"
    );
}

#[test]
#[ignore = "needs .venv-rl (scripts/test.sh)"]
fn agents_train_and_evaluate_on_a_process_env_id() {
    let python = std::env::var("MLSDK_PYTHON_RL").expect("set MLSDK_PYTHON_RL to .venv-rl/bin/python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/gym_server.py");
    let id = format!("{}{python} {script} CartPole-v1", ml_rl::PROCESS_PREFIX);
    ml_rl::check_id(&id).unwrap();
    let (saved, stats) = ml_rl::train_agent(&id, "dqn", 1500, 3, &mut |_| {}).unwrap();
    assert_eq!(stats.env_steps, 1500);
    assert_eq!(saved.env, id);
    // The remote CartPole is Gymnasium's: the policy's deterministic
    // episodes there return what they return on ml-rl's own.
    let remote = ml_rl::ppo::evaluate(&saved.policy, &id, 3, 50).unwrap();
    let local = ml_rl::ppo::evaluate(&saved.policy, "CartPole-v1", 3, 50).unwrap();
    assert_eq!(remote, local);
    // Saved, it is a model over the observation's components.
    let dir = tempfile::tempdir().unwrap();
    saved.save(dir.path()).unwrap();
    let model = ml_core::SavedModel::load(dir.path()).unwrap();
    assert_eq!(model.spec.signature.inputs.len(), 4);
}

#[test]
fn a_process_id_without_a_program_is_an_error() {
    let err = ml_rl::check_id("process:  ").unwrap_err();
    assert!(err.to_string().contains("no program"), "{err}");
    assert!(make("process:").is_err());
    let err = ml_rl::check_id("CartPole-v9").unwrap_err();
    assert!(err.to_string().contains("CartPole-v1"), "{err}");
}
