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

#[test]
fn a_renyi_filter_composes_one_order_exactly() {
    use ml_privacy::PrivacyLoss;
    let alpha = 10.0;
    let ledger = PrivacyLedger::filter(Budget::Renyi { alpha, epsilon: 2.25 }).unwrap();
    // ρ = 0.125 zCDP is (10, 1.25)-RDP, exactly representable: one fits.
    let spent = ledger.charge("g1", PrivacyLoss::Zcdp { rho: 0.125 }).unwrap();
    assert!(spent.epsilon.is_none() && spent.rho.is_none());
    assert_eq!(spent.renyi_epsilon, Some(1.25));
    // ρ = 0.1 as a double is a little above 1/10 (though 1.25 + 10 · 0.1
    // rounds to 2.25 in doubles): the exact total is past the budget.
    let err = ledger.charge("g2", PrivacyLoss::Zcdp { rho: 0.1 }).unwrap_err();
    assert!(err.to_string().contains("order 10"), "{err}");
    assert!(!ledger.can_afford(&PrivacyLoss::Zcdp { rho: 0.1 }).unwrap());
    assert!(ledger.can_afford(&PrivacyLoss::Zcdp { rho: 0.0999 }).unwrap());

    let odometer = PrivacyLedger::odometer(Budget::Renyi { alpha, epsilon: 0.0 }).unwrap();
    // Pure ε = 0.2 counts as min(0.2, 10 · 0.04 / 2) = 0.2; ε = 0.05 as 0.0125.
    odometer.charge("p", PrivacyLoss::Pure { epsilon: 0.2 }).unwrap();
    odometer.charge("q", PrivacyLoss::Pure { epsilon: 0.05 }).unwrap();
    // A Rényi loss of a higher order holds at 10; of a lower one it does not.
    odometer
        .charge(
            "r",
            PrivacyLoss::Renyi {
                alpha: 32.0,
                epsilon: 0.5,
            },
        )
        .unwrap();
    assert!(
        odometer
            .charge(
                "s",
                PrivacyLoss::Renyi {
                    alpha: 2.0,
                    epsilon: 0.5
                }
            )
            .is_err()
    );
    assert!(
        odometer
            .charge(
                "t",
                PrivacyLoss::Approximate {
                    epsilon: 1.0,
                    delta: 1e-6
                }
            )
            .is_err()
    );
    let total = odometer.spent().unwrap().renyi_epsilon.unwrap();
    assert!((total - 0.7125).abs() < 1e-12, "{total}");
    assert_eq!(odometer.entries().unwrap().len(), 3);
    assert!(
        PrivacyLedger::odometer(Budget::Renyi {
            alpha: 1.0,
            epsilon: 0.0
        })
        .is_err()
    );
    assert!(
        PrivacyLedger::filter(Budget::Renyi {
            alpha: 2.0,
            epsilon: f64::NAN
        })
        .is_err()
    );
    // An (ε, δ) ledger takes a Rényi loss only once converted.
    let approx = PrivacyLedger::filter(Budget::Approximate {
        epsilon: 10.0,
        delta: 1e-5,
    })
    .unwrap();
    let loss = PrivacyLoss::Renyi { alpha, epsilon: 1.0 };
    assert!(approx.charge("r", loss).is_err());
    let (eps, delta) = loss.to_approximate(Some(1e-6)).unwrap();
    approx
        .charge("r", PrivacyLoss::Approximate { epsilon: eps, delta })
        .unwrap();
}
