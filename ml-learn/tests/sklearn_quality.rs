//! Model quality against scikit-learn on the same data and splits
//! (testdata/sklearn_models.json, made by scripts/gen_sklearn.py with the
//! scikit-learn version recorded in the file).
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::{KFold, Model, Predictions, Trainer, cross_validate, default_score, metrics};
use ml_learn::{Algorithm, FittedPipeline, KMeans, Pipeline, inertia};
use serde_json::Value;

mod common;
use common::{fixture, indices};

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn test_accuracy(model: &FittedPipeline, test: &ml_core::Dataset) -> f64 {
    let pred = model.predict(test.features()).unwrap();
    let Predictions::Classification { labels, .. } = pred else {
        panic!("classifier")
    };
    metrics::accuracy(&test.classes().unwrap().0.to_vec(), &labels.to_vec()).unwrap()
}

#[test]
fn logistic_cv_on_breast_cancer_within_half_a_point() {
    let f = fixture("sklearn_models.json");
    let expected = f["logistic_breast_cancer_cv5"]["mean_accuracy"].as_f64().unwrap();
    let data = ml_datasets::breast_cancer().unwrap();
    let trainer = Pipeline::from_params("logistic", &params(&[("c", "1.0")]), None).unwrap();
    let folds = KFold::new(5).stratified(true).split(&data).unwrap();
    let cv = cross_validate(&trainer, &data, &folds, &default_score).unwrap();
    println!(
        "logistic 5-fold CV: ours {:.4} sklearn {expected:.4} folds {:?}",
        cv.mean(),
        cv.scores
    );
    assert!(
        (cv.mean() - expected).abs() <= 0.005,
        "ours {} vs sklearn {expected}",
        cv.mean()
    );
}

#[test]
fn random_forest_on_digits_within_one_and_a_half_points() {
    let f = fixture("sklearn_models.json");
    let split = &f["digits_split"];
    let expected = split["forest_mean_accuracy"].as_f64().unwrap();
    let data = ml_datasets::digits().unwrap();
    let train = data.select_rows(&indices(&split["train"])).unwrap();
    let test = data.select_rows(&indices(&split["test"])).unwrap();
    let mut accs = Vec::new();
    for seed in 0..3 {
        let p =
            Pipeline::from_params("forest", &params(&[("n_trees", "100"), ("max_depth", "8")]), Some(seed)).unwrap();
        accs.push(test_accuracy(&p.fit_pipeline(&train).unwrap(), &test));
    }
    let ours = accs.iter().sum::<f64>() / accs.len() as f64;
    println!("forest on digits: ours {ours:.4} {accs:?}, sklearn {expected:.4}");
    assert!((ours - expected).abs() <= 0.015, "ours {ours} vs sklearn {expected}");
}

#[test]
fn decision_trees_match_sklearn_accuracy() {
    let f = fixture("sklearn_models.json");
    let split = &f["breast_cancer_tree"];
    let data = ml_datasets::breast_cancer().unwrap();
    let train = data.select_rows(&indices(&split["train"])).unwrap();
    let test = data.select_rows(&indices(&split["test"])).unwrap();
    let p = Pipeline::from_params("tree", &params(&[("max_depth", "4")]), Some(0)).unwrap();
    let ours = test_accuracy(&p.fit_pipeline(&train).unwrap(), &test);
    let expected = split["depth4_accuracy"].as_f64().unwrap();
    println!("depth-4 tree on breast_cancer: ours {ours:.4}, sklearn {expected:.4}");
    assert!((ours - expected).abs() <= 0.015, "ours {ours} vs sklearn {expected}");

    let split = &f["digits_split"];
    let data = ml_datasets::digits().unwrap();
    let train = data.select_rows(&indices(&split["train"])).unwrap();
    let test = data.select_rows(&indices(&split["test"])).unwrap();
    let mut accs = Vec::new();
    for seed in 0..5 {
        let p = Pipeline::from_params("tree", &[], Some(seed)).unwrap();
        accs.push(test_accuracy(&p.fit_pipeline(&train).unwrap(), &test));
    }
    let ours = accs.iter().sum::<f64>() / accs.len() as f64;
    let expected = split["tree_accuracy"].as_f64().unwrap();
    println!("full tree on digits: ours {ours:.4} {accs:?}, sklearn {expected:.4}");
    assert!((ours - expected).abs() <= 0.025, "ours {ours} vs sklearn {expected}");
}

#[test]
fn kmeans_inertia_on_digits_within_one_percent() {
    let f = fixture("sklearn_models.json");
    let expected = f["kmeans_digits"]["inertia"].as_f64().unwrap();
    let data = ml_datasets::digits().unwrap();
    let p = Pipeline::new(Algorithm::KMeans(KMeans {
        n_clusters: 10,
        n_init: 10,
        ..KMeans::default()
    }));
    let model = p.fit_pipeline(&data).unwrap();
    let ml_core::Estimator::Centroids { centroids } = model.spec().estimator else {
        panic!("centroids")
    };
    let ours = inertia(data.features(), centroids.view());
    println!("k-means inertia on digits: ours {ours:.1}, sklearn {expected:.1}");
    assert!(ours <= expected * 1.01, "ours {ours} vs sklearn {expected}");
}

fn linear_coefficients(model: &FittedPipeline) -> (Vec<f64>, f64) {
    let ml_core::Estimator::Linear {
        coefficients,
        intercepts,
        ..
    } = model.spec().estimator
    else {
        panic!("linear")
    };
    (coefficients.row(0).to_vec(), intercepts[0])
}

#[test]
fn least_squares_and_ridge_equal_sklearn_coefficients() {
    let f = fixture("sklearn_models.json");
    let r = &f["diabetes_regression"];
    let data = ml_datasets::diabetes().unwrap();
    for (name, coef_key, icpt_key, extra) in [
        ("linear", "ols_coef", "ols_intercept", vec![]),
        ("ridge", "ridge_coef", "ridge_intercept", vec![("alpha", "10")]),
    ] {
        let mut ps = params(&extra);
        ps.push(("scale".into(), "none".into()));
        let model = Pipeline::from_params(name, &ps, None)
            .unwrap()
            .fit_pipeline(&data)
            .unwrap();
        let (coef, icpt) = linear_coefficients(&model);
        for (a, b) in coef.iter().zip(floats(&r[coef_key])) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{name}: coefficient {a} vs {b}"
            );
        }
        let b = r[icpt_key].as_f64().unwrap();
        assert!(
            (icpt - b).abs() <= 1e-6 * b.abs().max(1.0),
            "{name}: intercept {icpt} vs {b}"
        );
    }
    // Scaling inside the pipeline must not change an OLS fit's predictions.
    let scaled = Pipeline::from_params("linear", &[], None).unwrap().fit(&data).unwrap();
    let m = metrics::evaluate(&data, &scaled.predict(data.features()).unwrap()).unwrap();
    assert!((m["r2"] - r["ols_r2"].as_f64().unwrap()).abs() < 1e-9);
}

#[test]
fn logistic_coefficients_close_to_sklearn() {
    let f = fixture("sklearn_models.json");
    let r = &f["logistic_breast_cancer_cv5"];
    let data = ml_datasets::breast_cancer().unwrap();
    let model = Pipeline::from_params("logistic", &[], None)
        .unwrap()
        .fit_pipeline(&data)
        .unwrap();
    let (coef, icpt) = linear_coefficients(&model);
    let expected = floats(&r["coef"]);
    let diff = coef
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let scale = expected.iter().map(|b| b.abs()).fold(0.0, f64::max);
    println!(
        "logistic coefficients: max |diff| {diff:.4} of max |coef| {scale:.3}; intercept {icpt:.4} vs {}",
        r["intercept"]
    );
    // Both solvers stop at a gradient tolerance, so the optima agree only to a few percent.
    assert!(diff <= 0.05 * scale, "max coefficient difference {diff}");
}
