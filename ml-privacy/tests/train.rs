//! Private logistic regression: the solver finds scikit-learn's minimiser of
//! the same objective (`scripts/gen_privacy.py`), the noise shrinks as ε
//! grows, and bad input is refused.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::{Model, Predictions, Trainer};
use ml_privacy::{DpLogisticRegression, PrivacyLoss};
use serde_json::Value;

fn fixtures() -> Value {
    let dir = std::env::var_os("MLSDK_PRIVACY_FIXTURES").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/privacy"),
        std::path::PathBuf::from,
    );
    serde_json::from_str(&std::fs::read_to_string(dir.join("accounting.json")).unwrap()).unwrap()
}

fn trainer(lambda: f64, bounds: Vec<(f64, f64)>, epsilon: f64, seed: u64) -> DpLogisticRegression {
    let row_scale = None;
    with_rows(lambda, bounds, epsilon, seed, row_scale)
}

fn with_rows(
    lambda: f64,
    bounds: Vec<(f64, f64)>,
    epsilon: f64,
    seed: u64,
    row_scale: Option<f64>,
) -> DpLogisticRegression {
    DpLogisticRegression {
        lambda,
        feature_bounds: bounds,
        epsilon,
        delta: 1e-6,
        row_scale,
        insecure_seed: Some(seed),
    }
}

fn accuracy(model: &dyn Model, data: &ml_core::Dataset) -> f64 {
    let Predictions::Classification { labels, .. } = model.predict(data.features()).unwrap() else {
        panic!("classification expected");
    };
    ml_core::metrics::accuracy(&data.classes().unwrap().0.to_vec(), &labels.to_vec()).unwrap()
}

#[test]
fn the_minimiser_equals_scikit_learns() {
    let data = ml_datasets::breast_cancer().unwrap();
    for case in fixtures()["logistic"].as_array().unwrap() {
        let bounds: Vec<(f64, f64)> = serde_json::from_value(case["bounds"].clone()).unwrap();
        let want: Vec<f64> = serde_json::from_value(case["coefficients"].clone()).unwrap();
        let lambda = case["lambda"].as_f64().unwrap();
        let got = trainer(lambda, bounds, 1.0, 0)
            .minimiser_without_privacy(&data)
            .unwrap();
        let scale = want.iter().map(|w| w.abs()).fold(0.0, f64::max);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-6 * scale, "lambda {lambda}: {got:?} vs {want:?}");
        }
    }
}

#[test]
fn private_models_spend_what_they_say_and_improve_with_epsilon() {
    let data = ml_datasets::breast_cancer().unwrap();
    let fx = fixtures();
    let bounds: Vec<(f64, f64)> = serde_json::from_value(fx["logistic"][1]["bounds"].clone()).unwrap();
    let mean_acc = |eps: f64| {
        (0..10)
            .map(|s| {
                // Rows normalised to the unit sphere: the better-performing design here.
                let m = with_rows(0.01, bounds.clone(), eps, s, Some(1.0))
                    .fit_private(&data)
                    .unwrap();
                match m.loss() {
                    PrivacyLoss::Approximate { epsilon, delta } => {
                        assert!(epsilon <= eps && delta == 1e-6, "{:?}", m.loss())
                    }
                    other => panic!("{other:?}"),
                }
                accuracy(&m, &data)
            })
            .sum::<f64>()
            / 10.0
    };
    let (low, high) = (mean_acc(0.1), mean_acc(10.0));
    assert!(high > 0.88, "accuracy at epsilon 10: {high}");
    assert!(high > low, "{low} !< {high}");
    // The trait path and the exported spec agree.
    let boxed = Trainer::fit(&trainer(0.01, bounds.clone(), 1.0, 3), &data).unwrap();
    let spec = boxed.describe().unwrap();
    assert_eq!(
        spec.predict(data.features()).unwrap(),
        boxed.predict(data.features()).unwrap()
    );
}

#[test]
fn bad_input_is_refused() {
    let data = ml_datasets::breast_cancer().unwrap();
    let d = data.n_features();
    let ok = vec![(0.0, 1.0); d];
    assert!(trainer(0.0, ok.clone(), 1.0, 0).fit_private(&data).is_err());
    assert!(
        trainer(0.01, vec![(0.0, 1.0); d - 1], 1.0, 0)
            .fit_private(&data)
            .is_err()
    );
    let mut bad = ok.clone();
    bad[3] = (2.0, 1.0);
    assert!(trainer(0.01, bad, 1.0, 0).fit_private(&data).is_err());
    assert!(trainer(0.01, ok.clone(), -1.0, 0).fit_private(&data).is_err());
    assert!(
        with_rows(0.01, ok.clone(), 1.0, 0, Some(0.0))
            .fit_private(&data)
            .is_err()
    );
    let iris = ml_datasets::iris().unwrap();
    let err = trainer(0.01, vec![(0.0, 10.0); 4], 1.0, 0)
        .fit_private(&iris)
        .unwrap_err();
    assert!(err.to_string().contains("binary"), "{err}");
}
