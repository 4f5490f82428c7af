#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
//! DP-SGD: the ε reported for a run equals dp-accounting's for the run's
//! (σ, q, steps, δ) (fixtures from `scripts/gen_privacy.py`, version
//! recorded there), the budget is never overspent, and private networks
//! still learn.

use ml_core::{Model, Predictions};
use ml_neural::{AccountantKind, DpConfig, NetTrainer, Sequential};

fn fixtures() -> serde_json::Value {
    let path = std::env::var("MLSDK_PRIVACY_FIXTURES").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/privacy"),
        std::path::PathBuf::from,
    );
    serde_json::from_str(&std::fs::read_to_string(path.join("accounting.json")).unwrap()).unwrap()
}

fn private(epochs: usize, dp: DpConfig) -> NetTrainer {
    NetTrainer {
        architecture: Sequential::new().dense(16).relu(),
        epochs,
        batch_size: 64,
        learning_rate: 5e-3,
        seed: 5,
        dp: Some(dp),
        ..NetTrainer::default()
    }
}

fn config(epsilon: f64, noise: Option<f64>, accountant: AccountantKind) -> DpConfig {
    DpConfig {
        epsilon,
        delta: 1e-5,
        clip: 1.0,
        noise_multiplier: noise,
        accountant,
        insecure_seed: Some(9),
    }
}

#[test]
fn reported_epsilon_equals_dp_accounting_for_the_runs_parameters() {
    let data = ml_datasets::breast_cancer().unwrap();
    let fx = fixtures();
    for case in fx["dp_sgd"].as_array().unwrap() {
        let accountant = AccountantKind::parse(case["accountant"].as_str().unwrap()).unwrap();
        let sigma = case["noise_multiplier"].as_f64().unwrap();
        let mut epsilons = Vec::new();
        let net = private(10, config(100.0, Some(sigma), accountant))
            .fit_network(&data, &mut |e| epsilons.push(e.epsilon.unwrap()))
            .unwrap();
        let report = net.privacy().unwrap();
        assert_eq!(report.steps, case["steps"].as_u64().unwrap());
        assert!((report.sampling_rate - case["sampling_rate"].as_f64().unwrap()).abs() < 1e-15);
        assert_eq!(report.delta, case["delta"].as_f64().unwrap());
        assert_eq!(report.accountant, accountant.name());
        assert_eq!(report.per_example, "dense_probes");
        let want = case["epsilon"].as_f64().unwrap();
        assert!(
            (report.epsilon - want).abs() <= 1e-6 * want,
            "{accountant:?}: {} vs {want}",
            report.epsilon
        );
        assert!(
            epsilons.windows(2).all(|w| w[0] < w[1]),
            "ε grows every epoch: {epsilons:?}"
        );
        assert_eq!(*epsilons.last().unwrap(), report.epsilon);
    }
}

#[test]
fn training_stops_before_the_budget_would_be_overspent() {
    let data = ml_datasets::breast_cancer().unwrap();
    let budget = 2.0;
    let net = private(50, config(budget, Some(1.1), AccountantKind::Rdp))
        .fit_network(&data, &mut |_| {})
        .unwrap();
    let r = net.privacy().unwrap();
    assert!(r.epsilon <= budget, "{}", r.epsilon);
    let next = AccountantKind::Rdp
        .epsilon(r.noise_multiplier, r.sampling_rate, r.steps + 1, r.delta)
        .unwrap();
    assert!(next > budget, "one more step ({next}) would still fit");
    assert!(
        net.history()
            .stopped_early
            .as_deref()
            .unwrap()
            .contains("privacy budget")
    );
    assert!(net.history().epochs.len() < 50);
}

#[test]
fn calibrated_noise_spends_the_budget_and_private_networks_still_learn() {
    let data = ml_datasets::breast_cancer().unwrap();
    let (train, test) = ml_core::train_test_split(&data, 0.25, 0, true).unwrap();
    let net = private(15, config(3.0, None, AccountantKind::Rdp))
        .fit_network(&train, &mut |_| {})
        .unwrap();
    let r = net.privacy().unwrap();
    assert!(r.epsilon <= 3.0 && r.epsilon > 2.97, "ε {}", r.epsilon);
    let Predictions::Classification { labels, .. } = net.predict(test.features()).unwrap() else {
        panic!()
    };
    let (y, _) = test.classes().unwrap();
    let acc = y.iter().zip(&labels).filter(|(a, b)| a == b).count() as f64 / y.len() as f64;
    eprintln!(
        "breast_cancer DP-SGD at ε = {:.2}: accuracy {acc:.3}, σ = {:.3}",
        r.epsilon, r.noise_multiplier
    );
    assert!(acc >= 0.85, "accuracy {acc}");
}

#[test]
fn convolutions_use_micro_batches_and_batch_norm_is_refused() {
    let data = ml_datasets::digits().unwrap();
    let small = data.select_rows(&(0..300).collect::<Vec<_>>()).unwrap();
    let trainer = NetTrainer {
        architecture: Sequential::new().reshape(1, 8, 8).conv2d(4, 3).relu().flatten(),
        ..private(1, config(5.0, Some(1.0), AccountantKind::Rdp))
    };
    let net = trainer.fit_network(&small, &mut |_| {}).unwrap();
    assert_eq!(net.privacy().unwrap().per_example, "micro_batches");
    let bn = NetTrainer {
        architecture: Sequential::new().dense(8).batch_norm(),
        ..trainer
    };
    let err = bn.fit_network(&small, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("batch normalization"), "{err}");
    let bad = private(
        1,
        DpConfig {
            delta: 1.5,
            ..config(1.0, None, AccountantKind::Rdp)
        },
    );
    assert!(
        bad.fit_network(&small, &mut |_| {})
            .unwrap_err()
            .to_string()
            .contains("dp_delta")
    );
}
