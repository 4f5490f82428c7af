//! k-nearest neighbours, naive Bayes and linear SVMs against scikit-learn's
//! on the same splits (fixtures from scripts/gen_sklearn.py): scores,
//! every test prediction, probabilities and weights; their specs predict as
//! they do and save and load.
#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use common::{fixture, indices};
use ml_core::{Dataset, Estimator, Link, Model, Predictions, Trainer};
use ml_learn::Pipeline;
use serde_json::Value;

fn case(name: &str) -> Value {
    fixture("sklearn_models.json")["everyday"][name].clone()
}

fn split(data: &str, f: &Value) -> (Dataset, Dataset) {
    let d = ml_datasets::load(data).unwrap();
    (
        d.select_rows(&indices(&f["train"])).unwrap(),
        d.select_rows(&indices(&f["test"])).unwrap(),
    )
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Fit, compare with the fixture, and return the model's test predictions.
fn compare(
    fixture_name: &str,
    data: &str,
    model: &str,
    ps: &[(&str, &str)],
    score_tolerance: f64,
    min_same: f64,
) -> Predictions {
    let f = case(fixture_name);
    let (train, test) = split(data, &f);
    let fitted = Pipeline::from_params(model, &params(ps), Some(0))
        .unwrap()
        .fit(&train)
        .unwrap();
    let pred = fitted.predict(test.features()).unwrap();
    let theirs = f["score"].as_f64().unwrap();
    match &pred {
        Predictions::Classification { labels, .. } => {
            let (truth, _) = test.classes().unwrap();
            let acc = labels.iter().zip(truth).filter(|(a, b)| a == b).count() as f64 / labels.len() as f64;
            let want = indices(&f["predictions"]);
            let same = labels.iter().zip(&want).filter(|(a, b)| *a == *b).count() as f64 / want.len() as f64;
            println!("{fixture_name}: accuracy {acc:.4} (scikit-learn {theirs:.4}), same labels {same:.4}");
            assert!(
                (acc - theirs).abs() <= score_tolerance + 1e-12,
                "{fixture_name}: {acc} vs {theirs}"
            );
            assert!(same >= min_same, "{fixture_name}: {same} of the labels agree");
        }
        Predictions::Regression { values } => {
            let r2 = ml_core::metrics::r2_score(test.values().unwrap(), values.view()).unwrap();
            let want: Vec<f64> = f["predictions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let worst = values.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            println!("{fixture_name}: R² {r2:.4} (scikit-learn {theirs:.4}), largest difference {worst:.2e}");
            assert!(worst <= 1e-9, "{fixture_name}: predictions differ by {worst}");
        }
        other => panic!("{other:?}"),
    }
    // The spec predicts as the model does, and survives saving.
    let spec = fitted.describe().unwrap();
    spec.validate().unwrap();
    assert_eq!(spec.predict(test.features()).unwrap(), pred);
    let json = serde_json::to_string(&spec).unwrap();
    let back: ml_core::ModelSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back.predict(test.features()).unwrap(), pred);
    if let Some(head) = f.get("proba_head") {
        let Predictions::Classification {
            probabilities: Some(p), ..
        } = &pred
        else {
            panic!("{fixture_name}: probabilities expected")
        };
        for (i, row) in head.as_array().unwrap().iter().enumerate() {
            for (j, b) in row.as_array().unwrap().iter().enumerate() {
                let (a, b) = (p[[i, j]], b.as_f64().unwrap());
                assert!((a - b).abs() <= 1e-6, "{fixture_name} proba [{i}, {j}]: {a} vs {b}");
            }
        }
    }
    pred
}

#[test]
fn k_nearest_neighbours_equal_scikit_learns() {
    compare("knn_digits", "digits", "knn", &[], 0.0, 1.0);
    compare(
        "knn_distance_scaled_breast_cancer",
        "breast_cancer",
        "knn",
        &[("n_neighbors", "7"), ("weights", "distance"), ("scale", "standard")],
        0.0,
        1.0,
    );
    compare("knn_regression_diabetes", "diabetes", "knn", &[], 0.0, 1.0);
}

/// The search finds the same neighbours whichever it is: a KD-tree over
/// breast_cancer's 30 columns (`auto` would search by brute force) and
/// brute force over diabetes' 10 (`auto` would build a tree), each against
/// scikit-learn's predictions, also through the compiled spec a server uses.
#[test]
fn k_nearest_neighbours_search_does_not_change_predictions() {
    compare(
        "knn_distance_scaled_breast_cancer",
        "breast_cancer",
        "knn",
        &[
            ("n_neighbors", "7"),
            ("weights", "distance"),
            ("scale", "standard"),
            ("algorithm", "kd_tree"),
            ("leaf_size", "3"),
        ],
        0.0,
        1.0,
    );
    compare(
        "knn_regression_diabetes",
        "diabetes",
        "knn",
        &[("algorithm", "brute")],
        0.0,
        1.0,
    );
    for (name, ps) in [
        ("breast_cancer", vec![("algorithm", "kd_tree"), ("n_neighbors", "7")]),
        ("diabetes", vec![("algorithm", "auto")]),
    ] {
        let data = match name {
            "breast_cancer" => ml_datasets::breast_cancer().unwrap(),
            _ => ml_datasets::diabetes().unwrap(),
        };
        let model = Pipeline::from_params("knn", &params(&ps), None)
            .unwrap()
            .fit_pipeline(&data)
            .unwrap();
        let compiled = ml_core::CompiledSpec::new(model.describe().unwrap());
        assert_eq!(
            compiled.predict(data.features()).unwrap(),
            model.predict(data.features()).unwrap()
        );
        // The spec keeps the search; the default stays out of the file.
        let json = serde_json::to_string(&model.describe().unwrap()).unwrap();
        assert_eq!(json.contains("kd_tree"), name == "breast_cancer", "{name}");
    }
}

#[test]
fn naive_bayes_equals_scikit_learns() {
    compare("gaussian_nb_digits", "digits", "naive_bayes", &[], 0.005, 0.99);
    compare(
        "gaussian_nb_breast_cancer",
        "breast_cancer",
        "naive_bayes",
        &[],
        0.0,
        1.0,
    );
    compare("gaussian_nb_iris", "iris", "naive_bayes", &[], 0.0, 1.0);
    compare(
        "multinomial_nb_digits",
        "digits",
        "naive_bayes",
        &[("distribution", "multinomial")],
        0.0,
        1.0,
    );
}

#[test]
fn linear_svms_equal_liblinears() {
    for loss in ["squared_hinge", "hinge"] {
        let name = format!("linear_svc_{loss}_breast_cancer");
        let f = case(&name);
        let (train, _) = split("breast_cancer", &f);
        compare(&name, "breast_cancer", "linear_svm", &[("loss", loss)], 0.005, 0.99);
        let spec = Pipeline::from_params(
            "linear_svm",
            &params(&[("loss", loss), ("tol", "1e-8"), ("max_iter", "200000")]),
            Some(0),
        )
        .unwrap()
        .fit_pipeline(&train)
        .unwrap()
        .spec();
        let Estimator::Linear {
            coefficients,
            intercepts,
            link,
        } = &spec.estimator
        else {
            panic!("a linear spec")
        };
        assert_eq!(*link, Link::Margin);
        // Against liblinear run to a tight tolerance (its default stops short
        // of the unique optimum).
        let want: Vec<f64> = f["converged_coef"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let scale = want.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        let worst = coefficients
            .row(0)
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let b = f["converged_intercept"].as_f64().unwrap();
        println!(
            "{loss}: largest weight difference {worst:.2e} (largest weight {scale:.3}); intercept {} vs {b}",
            intercepts[0]
        );
        assert!(worst <= 1e-5 * scale, "{loss}: weights differ by {worst}");
        assert!((intercepts[0] - b).abs() <= 1e-5 * scale, "{loss}: intercept");
    }
    compare("linear_svc_digits", "digits", "linear_svm", &[], 0.005, 0.98);
}

#[test]
fn bad_inputs_are_named() {
    let iris = ml_datasets::iris().unwrap();
    let diabetes = ml_datasets::diabetes().unwrap();
    let fit = |model: &str, ps: &[(&str, &str)], data: &Dataset| {
        Pipeline::from_params(model, &params(ps), None).and_then(|p| p.fit_pipeline(data))
    };
    let e = fit("knn", &[("n_neighbors", "1000")], &iris).unwrap_err().to_string();
    assert!(e.contains("150 training rows"), "{e}");
    let e = fit("knn", &[("weights", "gaussian")], &iris).unwrap_err().to_string();
    assert!(e.contains("uniform or distance"), "{e}");
    let e = fit("knn", &[("algorithm", "ball_tree")], &iris)
        .unwrap_err()
        .to_string();
    assert!(e.contains("auto, kd_tree or brute"), "{e}");
    let e = fit("knn", &[("leaf_size", "0")], &iris).unwrap_err().to_string();
    assert!(e.contains("leaf_size"), "{e}");
    let e = fit("naive_bayes", &[], &diabetes).unwrap_err().to_string();
    assert!(e.contains("class labels"), "{e}");
    let e = fit("linear_svm", &[], &diabetes).unwrap_err().to_string();
    assert!(e.contains("class labels"), "{e}");
    let e = fit("naive_bayes", &[("alpha", "1")], &iris).unwrap_err().to_string();
    assert!(e.contains("distribution=multinomial"), "{e}");
    // Multinomial naive Bayes needs counts: a standardized column is named.
    let e = fit(
        "naive_bayes",
        &[("distribution", "multinomial"), ("scale", "standard")],
        &iris,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("sepal length") && e.contains("non-negative"), "{e}");
    let e = fit("linear_svm", &[("c", "0")], &iris).unwrap_err().to_string();
    assert!(e.contains("'c'"), "{e}");
}

#[test]
fn pca_equals_scikit_learns() {
    let f = fixture("sklearn_models.json")["pca"].clone();
    let digits = ml_datasets::digits().unwrap();
    let fitted = ml_learn::Pca { n_components: 10 }.fit(digits.features()).unwrap();
    let rows = |v: &Value| -> Vec<Vec<f64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
            .collect()
    };
    let ratios: Vec<f64> = f["digits"]["explained_variance_ratio"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (a, b) in fitted.explained_variance_ratio.iter().zip(&ratios) {
        assert!((a - b).abs() <= 1e-10, "variance ratio {a} vs {b}");
    }
    let ml_core::Preprocess::Project { components, .. } = &fitted.step else {
        panic!("a projection")
    };
    for (i, row) in rows(&f["digits"]["components"]).iter().enumerate() {
        for (j, b) in row.iter().enumerate() {
            assert!((components[[i, j]] - b).abs() <= 1e-8, "component [{i}, {j}]");
        }
    }
    let head = digits.select_rows(&[0, 1, 2, 3, 4]).unwrap();
    let projected = fitted.step.apply(head.features()).unwrap();
    for (i, row) in rows(&f["digits"]["transformed_head"]).iter().enumerate() {
        for (j, b) in row.iter().enumerate() {
            assert!((projected[[i, j]] - b).abs() <= 1e-7, "projected [{i}, {j}]");
        }
    }
    // In a pipeline, after scaling.
    let c = &f["logistic_breast_cancer"];
    let p = compare_split(c, "breast_cancer", "logistic", &[("pca", "5")]);
    let theirs = c["accuracy"].as_f64().unwrap();
    assert!((p.0 - theirs).abs() <= 1e-12, "accuracy {} vs {theirs}", p.0);
    assert!(p.1 >= 0.99, "{} of the labels agree", p.1);
    // Too many components is named.
    let e = Pipeline::from_params("logistic", &params(&[("pca", "31")]), None)
        .unwrap()
        .fit(&ml_datasets::breast_cancer().unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("31 components of 30 columns"), "{e}");
}

/// Accuracy and agreement with the fixture's predictions of a pipeline
/// fitted on the fixture's split.
fn compare_split(f: &Value, data: &str, model: &str, ps: &[(&str, &str)]) -> (f64, f64) {
    let (train, test) = split(data, f);
    let fitted = Pipeline::from_params(model, &params(ps), None)
        .unwrap()
        .fit(&train)
        .unwrap();
    let Predictions::Classification { labels, .. } = fitted.predict(test.features()).unwrap() else {
        panic!("classification")
    };
    let (truth, _) = test.classes().unwrap();
    let acc = labels.iter().zip(truth).filter(|(a, b)| a == b).count() as f64 / labels.len() as f64;
    let want = indices(&f["predictions"]);
    let same = labels.iter().zip(&want).filter(|(a, b)| *a == *b).count() as f64 / want.len() as f64;
    (acc, same)
}

#[test]
fn polynomial_features_and_a_column_selector_equal_scikit_learns() {
    let f = fixture("sklearn_models.json")["polynomial"].clone();
    let data = ml_datasets::breast_cancer().unwrap();
    let names: Vec<String> = indices(&f["columns"])
        .iter()
        .map(|&j| data.feature_names()[j].clone())
        .collect();
    let selected = data.select_columns(&names).unwrap();
    // Degree 3 in scikit-learn's column order.
    let step = ml_learn::PolynomialFeatures {
        degree: 3,
        interaction_only: false,
    }
    .step(4)
    .unwrap();
    let head = step
        .apply(selected.select_rows(&[0, 1, 2]).unwrap().features())
        .unwrap();
    let want = f["degree3_head"].as_array().unwrap();
    assert_eq!(head.ncols(), want[0].as_array().unwrap().len());
    for (i, row) in want.iter().enumerate() {
        for (j, b) in row.as_array().unwrap().iter().enumerate() {
            let b = b.as_f64().unwrap();
            assert!((head[[i, j]] - b).abs() <= 1e-9 * b.abs().max(1.0), "[{i}, {j}]");
        }
    }
    // The selector then polynomial -> scaler -> logistic regression, as
    // a pipeline: the same accuracy and labels.
    let columns = names.join(",");
    for (case, interaction_only) in [("degree2", "false"), ("interactions", "true")] {
        let c = &f[case];
        let (train, test) = split("breast_cancer", c);
        let ps = params(&[
            ("polynomial", "2"),
            ("interaction_only", interaction_only),
            ("columns", &columns),
        ]);
        let fitted = Pipeline::from_params("logistic", &ps, None)
            .unwrap()
            .fit_pipeline(&train)
            .unwrap();
        // The model takes the selected columns only.
        assert_eq!(fitted.signature().inputs.len(), 4);
        let Some(ml_core::Preprocess::Polynomial { terms }) = fitted
            .spec()
            .preprocessing
            .iter()
            .find(|s| matches!(s, ml_core::Preprocess::Polynomial { .. }))
            .cloned()
        else {
            panic!("a polynomial step")
        };
        assert_eq!(4 + terms.len(), c["n_output_features"].as_u64().unwrap() as usize);
        let Predictions::Classification { labels, .. } =
            fitted.predict(test.select_columns(&names).unwrap().features()).unwrap()
        else {
            panic!("classification")
        };
        let (truth, _) = test.classes().unwrap();
        let acc = labels.iter().zip(truth).filter(|(a, b)| a == b).count() as f64 / labels.len() as f64;
        let want = indices(&c["predictions"]);
        let same = labels.iter().zip(&want).filter(|(a, b)| *a == *b).count();
        let theirs = c["accuracy"].as_f64().unwrap();
        println!(
            "{case}: accuracy ours {acc:.4}, scikit-learn {theirs:.4}, {same} of {} labels equal",
            want.len()
        );
        assert!((acc - theirs).abs() <= 1e-12, "accuracy {acc} vs {theirs}");
        assert!(same as f64 >= 0.99 * want.len() as f64);
    }
    // Bad settings are named.
    for (ps, needle) in [
        (vec![("polynomial", "1")], "degree 1: expected 2 to 5"),
        (vec![("interaction_only", "true")], "give polynomial=DEGREE too"),
        (vec![("columns", "mean radius,mean radius")], "selected twice"),
    ] {
        let e = Pipeline::from_params("logistic", &params(&ps), None).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
    let e = Pipeline::from_params("logistic", &params(&[("columns", "mean radius,nope")]), None)
        .unwrap()
        .fit(&data)
        .unwrap_err();
    assert!(e.to_string().contains("unknown column 'nope'"), "{e}");
    let e = Pipeline::from_params("logistic", &params(&[("polynomial", "5")]), None)
        .unwrap()
        .fit(&data)
        .unwrap_err();
    assert!(e.to_string().contains("more than 10000 columns"), "{e}");
}
