//! Cross-validated probability calibration against scikit-learn's
//! `CalibratedClassifierCV(cv=5, ensemble=False)` (fixtures from
//! scripts/gen_sklearn.py): the fitted calibrators, every test probability
//! and label, for a decision function (logistic regression on
//! breast_cancer) and for probabilities (Gaussian naive Bayes on digits).
#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use common::{fixture, indices};
use ml_core::{Calibrator, Estimator, Model, Predictions, Trainer};
use ml_learn::{CalibrationMethod, Pipeline};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// The largest difference between predicted probabilities and a fixture
/// case's, how many labels agree, and how many there are.
fn against(pred: &Predictions, theirs: &Value) -> (f64, usize, usize) {
    let Predictions::Classification {
        labels, probabilities, ..
    } = pred
    else {
        panic!("classification")
    };
    let mut worst = 0.0f64;
    for (ours, want) in probabilities
        .as_ref()
        .unwrap()
        .outer_iter()
        .zip(theirs["probabilities"].as_array().unwrap())
    {
        for (a, b) in ours.iter().zip(floats(want)) {
            worst = worst.max((a - b).abs());
        }
    }
    let want = indices(&theirs["predictions"]);
    let same = labels.iter().zip(&want).filter(|(a, b)| a == b).count();
    (worst, same, want.len())
}

/// The largest difference between our test probabilities and the
/// fixture's, and how many labels agree.
fn compare(case: &str, data: &str, model: &str, method: &str) -> (f64, usize, usize, Vec<Calibrator>) {
    let f = fixture("sklearn_models.json")["calibration"][case].clone();
    let d = ml_datasets::load(data).unwrap();
    let train = d.select_rows(&indices(&f["train"])).unwrap();
    let test = d.select_rows(&indices(&f["test"])).unwrap();
    let ps = vec![("calibration".to_string(), method.to_string())];
    let fitted = Pipeline::from_params(model, &ps, None)
        .unwrap()
        .fit_pipeline(&train)
        .unwrap();
    let Estimator::Calibrated { calibrators, .. } = fitted.spec().estimator else {
        panic!("a calibrated estimator")
    };
    let (worst, same, n) = against(&fitted.predict(test.features()).unwrap(), &f[method]);
    // The spec predicts what the fitted pipeline predicts, and round-trips.
    let spec = fitted.spec();
    spec.validate().unwrap();
    let back: ml_core::ModelSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
    println!("{case} {method}: largest probability difference {worst:.2e}, {same} of {n} labels equal");
    (worst, same, n, calibrators)
}

/// The calibrators fitted on scikit-learn's own cross-validated scores
/// against the ones it fitted: the calibration itself, apart from the
/// classifiers' small differences.
#[test]
fn calibrators_fitted_on_the_same_scores_equal_scikit_learns() {
    for (case, data) in [
        ("logistic_breast_cancer", "breast_cancer"),
        ("gaussian_nb_digits", "digits"),
    ] {
        let f = fixture("sklearn_models.json")["calibration"][case].clone();
        let d = ml_datasets::load(data).unwrap();
        let train = d.select_rows(&indices(&f["train"])).unwrap();
        let labels = train.classes().unwrap().0.to_vec();
        let scores: Vec<Vec<f64>> = f["cv_scores"].as_array().unwrap().iter().map(floats).collect();
        let width = scores[0].len();
        for method in ["sigmoid", "isotonic"] {
            let theirs = f[method]["calibrators"].as_array().unwrap();
            assert_eq!(theirs.len(), width);
            for (c, want) in theirs.iter().enumerate() {
                let positive = if width == 1 { 1 } else { c };
                let column: Vec<f64> = scores.iter().map(|r| r[c]).collect();
                let targets: Vec<bool> = labels.iter().map(|&l| l == positive).collect();
                let ours = CalibrationMethod::parse(method)
                    .unwrap()
                    .fit(&column, &targets)
                    .unwrap();
                match ours {
                    Calibrator::Sigmoid { a, b } => {
                        let (ta, tb) = (want["a"].as_f64().unwrap(), want["b"].as_f64().unwrap());
                        assert!(
                            (a - ta).abs() <= 1e-5 * ta.abs().max(1.0) && (b - tb).abs() <= 1e-5 * tb.abs().max(1.0),
                            "{case} class {c}: ({a}, {b}) vs ({ta}, {tb})"
                        );
                    }
                    Calibrator::Isotonic { x, y } => {
                        assert_eq!(x, floats(&want["x"]), "{case} class {c}");
                        for (a, b) in y.iter().zip(floats(&want["y"])) {
                            assert!((a - b).abs() <= 1e-12, "{case} class {c}: {a} vs {b}");
                        }
                    }
                }
            }
        }
    }
}

/// End to end, the classifiers' own small differences from scikit-learn's
/// (solver tolerances) move the scores the calibrators see: labels agree,
/// probabilities are close (isotonic steps amplify score differences).
#[test]
fn calibrated_pipelines_predict_as_scikit_learns() {
    for (case, data, model, method, tolerance) in [
        ("logistic_breast_cancer", "breast_cancer", "logistic", "sigmoid", 1e-2),
        ("logistic_breast_cancer", "breast_cancer", "logistic", "isotonic", 5e-2),
        ("gaussian_nb_digits", "digits", "naive_bayes", "sigmoid", 1e-6),
        ("gaussian_nb_digits", "digits", "naive_bayes", "isotonic", 5e-2),
    ] {
        let (worst, same, n, cals) = compare(case, data, model, method);
        assert_eq!(cals.len(), if model == "logistic" { 1 } else { 10 });
        assert!(worst <= tolerance, "{case} {method}: {worst}");
        assert!(same as f64 >= 0.99 * n as f64, "{case} {method}: {same} of {n}");
    }
}

/// scikit-learn's default, `ensemble=True`: one calibrated classifier per
/// fold (each with its own scaler), probabilities averaged. Same
/// tolerances as the single model's.
#[test]
fn calibrated_ensembles_predict_as_scikit_learns() {
    for (case, data, model, method, tolerance) in [
        ("logistic_breast_cancer", "breast_cancer", "logistic", "sigmoid", 1e-2),
        ("logistic_breast_cancer", "breast_cancer", "logistic", "isotonic", 5e-2),
        ("gaussian_nb_digits", "digits", "naive_bayes", "sigmoid", 1e-6),
        ("gaussian_nb_digits", "digits", "naive_bayes", "isotonic", 5e-2),
    ] {
        let f = fixture("sklearn_models.json")["calibration"][case].clone();
        let d = ml_datasets::load(data).unwrap();
        let train = d.select_rows(&indices(&f["train"])).unwrap();
        let test = d.select_rows(&indices(&f["test"])).unwrap();
        let ps = vec![
            ("calibration".to_string(), method.to_string()),
            ("calibration_ensemble".to_string(), "true".to_string()),
        ];
        let fitted = Pipeline::from_params(model, &ps, None)
            .unwrap()
            .fit_pipeline(&train)
            .unwrap();
        let spec = fitted.spec();
        let Estimator::Averaged { members } = &spec.estimator else {
            panic!("an averaged ensemble")
        };
        assert_eq!(members.len(), 5);
        let summary = spec.estimator.summary();
        assert_eq!(summary["kind"], "averaged");
        assert_eq!(summary["members"], 5);
        assert_eq!(summary["member"]["kind"], "calibrated");
        assert!(
            members
                .iter()
                .all(|m| matches!(m.estimator, Estimator::Calibrated { .. }))
        );
        let pred = fitted.predict(test.features()).unwrap();
        let (worst, same, n) = against(&pred, &f[format!("{method}_ensemble")]);
        println!("{case} {method} ensemble: largest probability difference {worst:.2e}, {same} of {n} labels equal");
        assert!(worst <= tolerance, "{case} {method}: {worst}");
        assert!(same as f64 >= 0.99 * n as f64, "{case} {method}: {same} of {n}");
        // The spec predicts the same and survives saving (onnxruntime runs
        // its export in ml-onnx's tests).
        spec.validate().unwrap();
        assert_eq!(spec.predict(test.features()).unwrap(), pred);
        let back: ml_core::ModelSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back.predict(test.features()).unwrap(), pred);
    }
}

#[test]
fn calibration_settings_are_checked() {
    let data = ml_datasets::diabetes().unwrap();
    for (model, ps, needle) in [
        ("linear", vec![("calibration", "sigmoid")], "'linear' is not one"),
        (
            "logistic",
            vec![("calibration", "platt")],
            "expected sigmoid or isotonic",
        ),
        (
            "logistic",
            vec![("calibration_cv", "3")],
            "give calibration=sigmoid|isotonic too",
        ),
        (
            "logistic",
            vec![("calibration", "sigmoid"), ("calibration_cv", "1")],
            "at least 2",
        ),
        (
            "logistic",
            vec![("calibration_ensemble", "true")],
            "give calibration=sigmoid|isotonic too",
        ),
    ] {
        let ps: Vec<(String, String)> = ps.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let e = Pipeline::from_params(model, &ps, None).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
    // A tree on values is no classifier either.
    let e = Pipeline::from_params("tree", &[("calibration".into(), "isotonic".into())], None)
        .unwrap()
        .fit(&data)
        .unwrap_err();
    assert!(e.to_string().contains("class labels"), "{e}");
}

#[test]
fn calibration_reads_held_out_rows_through_a_column_selector() {
    let data = ml_datasets::breast_cancer().unwrap();
    let columns = data.feature_names()[..5].join(",");
    let ps: Vec<(String, String)> = [("calibration", "sigmoid"), ("columns", columns.as_str())]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let fitted = Pipeline::from_params("logistic", &ps, None)
        .unwrap()
        .fit_pipeline(&data)
        .unwrap();
    assert_eq!(fitted.signature().inputs.len(), 5);
    assert!(matches!(fitted.spec().estimator, Estimator::Calibrated { .. }));
}
