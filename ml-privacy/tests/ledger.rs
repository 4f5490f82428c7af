//! The ledger logged to a tracking run: totals as metrics, the ledger as an
//! artifact, read back from the MLflow store.

use ml_core::Tracker;
use ml_privacy::aggregates::{self, Bounds, Neighbouring, NoiseSpec};
use ml_privacy::{Budget, DpRng, PrivacyLedger};

#[test]
fn a_filter_refuses_overspend_and_logs_to_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = ml_track::MlflowStore::open(dir.path().join("mlruns")).unwrap();
    let run = store.start_run("privacy", Some("ledger")).unwrap();
    let ledger = PrivacyLedger::filter(Budget::Approximate {
        epsilon: 1.0,
        delta: 1e-6,
    })
    .unwrap();
    let xs: Vec<f64> = (0..200).map(|i| f64::from(i % 50)).collect();
    let b = Bounds::new(0.0, 50.0).unwrap();
    let mut rng = DpRng::insecure_seeded_for_tests(1);
    // Charge before releasing: a refused query releases nothing.
    let mut released = 0;
    for _ in 0..5 {
        let spec = NoiseSpec::Laplace { epsilon: 0.3 };
        let r = aggregates::mean(&mut rng, &xs, b, spec, Neighbouring::AddRemove).unwrap();
        if ledger.charge("mean", r.loss).is_ok() {
            released += 1;
        }
    }
    assert_eq!(released, 3);
    ledger.log_to(&store, &run).unwrap();
    let rec = store.run(&run.0).unwrap();
    let eps = rec.metrics["privacy_epsilon_spent"][0].value;
    assert!(eps <= 1.0 && eps > 0.89, "{eps}");
    assert_eq!(rec.metrics["privacy_delta_spent"][0].value, 0.0);
    let artifact = std::fs::read_to_string(
        dir.path()
            .join("mlruns")
            .join(rec.info.experiment_id.clone())
            .join(&run.0)
            .join("artifacts/privacy/ledger.json"),
    )
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&artifact).unwrap();
    assert_eq!(doc["entries"].as_array().unwrap().len(), 3);
    assert_eq!(doc["budget"]["epsilon"], 1.0);
}
