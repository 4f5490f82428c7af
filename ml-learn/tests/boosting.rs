//! Histogram gradient boosting against scikit-learn's
//! HistGradientBoosting on the same splits with the same (default)
//! hyper-parameters (testdata/sklearn_models.json, scripts/gen_sklearn.py),
//! missing values learned per split, and the fitted model as its spec.
#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use ml_core::ndarray::Array2;
use ml_core::{Estimator, Model, Predictions, Trainer, metrics};
use ml_learn::{BoostTarget, HistGradientBoosting, Pipeline};
use serde_json::Value;

mod common;
use common::indices;

fn fixture() -> Value {
    common::fixture("sklearn_models.json")["hist_gradient_boosting"].clone()
}

fn labels_of(model: &dyn Model, x: ml_core::ndarray::ArrayView2<'_, f64>) -> Vec<usize> {
    let Predictions::Classification { labels, .. } = model.predict(x).unwrap() else {
        panic!("a classifier")
    };
    labels.to_vec()
}

fn classification_case(name: &str, data: ml_core::Dataset) {
    let f = &fixture()[name];
    let train = data.select_rows(&indices(&f["train"])).unwrap();
    let test = data.select_rows(&indices(&f["test"])).unwrap();
    let model = Pipeline::from_params("hgb", &[], Some(0)).unwrap().fit(&train).unwrap();
    let ours = labels_of(model.as_ref(), test.features());
    let truth = test.classes().unwrap().0.to_vec();
    let acc = metrics::accuracy(&truth, &ours).unwrap();
    let expected = f["accuracy"].as_f64().unwrap();
    let theirs = indices(&f["predictions"]);
    let agree = ours.iter().zip(&theirs).filter(|(a, b)| a == b).count() as f64 / ours.len() as f64;
    println!("hgb on {name}: ours {acc:.4}, scikit-learn {expected:.4}, same label on {agree:.4} of the test rows");
    assert!(
        (acc - expected).abs() <= 0.005 + 1e-12,
        "ours {acc} vs scikit-learn {expected}"
    );
}

#[test]
fn binary_boosting_matches_sklearn_on_breast_cancer() {
    classification_case("breast_cancer", ml_datasets::breast_cancer().unwrap());
}

#[test]
fn multiclass_boosting_matches_sklearn_on_digits() {
    classification_case("digits", ml_datasets::digits().unwrap());
}

#[test]
fn regression_boosting_matches_sklearn_on_diabetes() {
    let f = &fixture()["diabetes"];
    let data = ml_datasets::diabetes().unwrap();
    let train = data.select_rows(&indices(&f["train"])).unwrap();
    let test = data.select_rows(&indices(&f["test"])).unwrap();
    let model = Pipeline::from_params("hgb", &[], Some(0)).unwrap().fit(&train).unwrap();
    let Predictions::Regression { values } = model.predict(test.features()).unwrap() else {
        panic!("a regressor")
    };
    let r2 = metrics::r2_score(test.values().unwrap(), values.view()).unwrap();
    let expected = f["r2"].as_f64().unwrap();
    println!("hgb on diabetes: R² ours {r2:.4}, scikit-learn {expected:.4}");
    assert!((r2 - expected).abs() <= 0.005, "ours {r2} vs scikit-learn {expected}");
}

#[test]
fn missing_values_are_learned_per_split() {
    let f = &fixture()["breast_cancer_missing"];
    let data = ml_datasets::breast_cancer().unwrap();
    let x = common::breast_cancer_with_holes(f);
    let (labels, _) = data.classes().unwrap();
    let (train, test) = (indices(&f["train"]), indices(&f["test"]));
    let pick = |rows: &[usize]| x.select(ml_core::ndarray::Axis(0), rows);
    let y: Vec<usize> = train.iter().map(|&i| labels[i]).collect();
    let (estimator, iterations) = HistGradientBoosting::default()
        .fit_design(
            pick(&train).view(),
            BoostTarget::Classes {
                labels: &y,
                n_classes: 2,
            },
            None,
        )
        .unwrap();
    assert_eq!(iterations, 100);
    let Estimator::TreeEnsemble { trees, .. } = &estimator else {
        panic!("boosting gives a tree ensemble")
    };
    let splits: Vec<_> = trees
        .iter()
        .flat_map(|t| t.nodes.iter().filter_map(|n| n.split))
        .collect();
    let left = splits.iter().filter(|s| s.missing_left).count();
    assert!(
        left > 0 && left < splits.len(),
        "{left} of {} splits send missing values left",
        splits.len()
    );
    let raw = estimator.raw_output(pick(&test).view());
    let ours: Vec<usize> = raw.column(0).iter().map(|&m| usize::from(m > 0.0)).collect();
    let truth: Vec<usize> = test.iter().map(|&i| labels[i]).collect();
    let acc = metrics::accuracy(&truth, &ours).unwrap();
    let expected = f["accuracy"].as_f64().unwrap();
    println!("hgb on breast_cancer with 20% missing: ours {acc:.4}, scikit-learn {expected:.4}");
    assert!(
        (acc - expected).abs() <= 0.005 + 1e-12,
        "ours {acc} vs scikit-learn {expected}"
    );
}

#[test]
fn the_model_is_its_spec() {
    let data = ml_datasets::digits().unwrap();
    let model = Pipeline::from_params("hgb", &[("max_iter".into(), "20".into())], Some(0))
        .unwrap()
        .fit_pipeline(&data)
        .unwrap();
    let spec = model.spec();
    let Estimator::TreeEnsemble { trees, base_values, .. } = &spec.estimator else {
        panic!("boosting gives a tree ensemble")
    };
    // A tree per class and iteration, each with at most 31 leaves.
    assert_eq!((trees.len(), base_values.len()), (200, 10));
    assert!(
        trees
            .iter()
            .all(|t| t.nodes.iter().filter(|n| n.split.is_none()).count() <= 31)
    );
    // The spec predicts what the fitted model predicts, and round-trips.
    assert_eq!(labels_of(&spec, data.features()), labels_of(&model, data.features()));
    let back: ml_core::ModelSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
}

#[test]
fn early_stopping_stops_where_the_validation_loss_stops_falling() {
    let theirs = indices(&fixture()["diabetes_early_stopping"]["n_iter"]);
    let data = ml_datasets::diabetes().unwrap();
    let mut ours = Vec::new();
    for seed in 0..3 {
        let p = Pipeline::from_params("hgb", &[("early_stopping".into(), "true".into())], Some(seed)).unwrap();
        let Estimator::TreeEnsemble { trees, .. } = p.fit_pipeline(&data).unwrap().spec().estimator else {
            panic!("boosting gives a tree ensemble")
        };
        ours.push(trees.len());
    }
    println!("early stopping on diabetes, iterations for seeds 0-2: ours {ours:?}, scikit-learn {theirs:?}");
    // Noisy targets overfit early: both stop long before 100 iterations.
    let (lo, hi) = (theirs.iter().min().unwrap() / 2, theirs.iter().max().unwrap() * 2);
    assert!(
        ours.iter().all(|&n| n >= lo && n <= hi.min(99)),
        "ours {ours:?} vs scikit-learn {theirs:?}"
    );
}

#[test]
fn bad_settings_and_data_are_refused() {
    let data = ml_datasets::breast_cancer().unwrap();
    for (k, v) in [
        ("learning_rate", "0"),
        ("max_leaf_nodes", "1"),
        ("max_bins", "256"),
        ("validation_fraction", "1.5"),
        ("min_samples_leaf", "0"),
    ] {
        let err = Pipeline::from_params("hgb", &[(k.into(), v.into())], None).unwrap_err();
        assert!(err.to_string().contains(k), "{k}={v}: {err}");
    }
    let err = Pipeline::from_params("hgb", &[("n_trees".into(), "5".into())], None).unwrap_err();
    assert!(err.to_string().contains("max_leaf_nodes"), "{err}");
    let mut x: Array2<f64> = data.features().to_owned();
    x[[3, 2]] = f64::INFINITY;
    let y = data.classes().unwrap().0.to_vec();
    let target = BoostTarget::Classes {
        labels: &y,
        n_classes: 2,
    };
    let err = HistGradientBoosting::default()
        .fit_design(x.view(), target, None)
        .unwrap_err();
    assert!(err.to_string().contains("row 3"), "{err}");
    let empty = Array2::<f64>::zeros((0, 3));
    let none = BoostTarget::Values(&[]);
    assert!(
        HistGradientBoosting::default()
            .fit_design(empty.view(), none, None)
            .is_err()
    );
}

#[test]
fn the_model_does_not_depend_on_the_threads() {
    // Large enough that histograms, partitions, binning and gradients take
    // their multi-threaded paths (10,000 rows × 20 features, several
    // feature groups), with some missing values; three classes so the
    // per-class trees grow side by side too.
    let (n, d) = (10_000, 20);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let x = Array2::from_shape_fn((n, d), |_| next());
    let mut x_holes = x.clone();
    for i in (0..n).step_by(7) {
        x_holes[[i, i % d]] = f64::NAN;
    }
    let labels: Vec<usize> = x
        .rows()
        .into_iter()
        .map(|r| {
            let s = r[0] + 2.0 * r[1] - r[2] + 0.5 * r[3];
            usize::from(s > 0.8) + usize::from(s > 1.6)
        })
        .collect();
    let fit = |threads: usize| {
        let cfg = HistGradientBoosting {
            max_iter: 15,
            n_threads: threads,
            ..HistGradientBoosting::default()
        };
        cfg.fit_design(
            x_holes.view(),
            BoostTarget::Classes {
                labels: &labels,
                n_classes: 3,
            },
            None,
        )
        .unwrap()
    };
    let one = fit(1);
    assert_eq!(one, fit(2));
    // Three threads: feature groups and split scans dealt out in threes.
    assert_eq!(one, fit(3));
    assert_eq!(one, fit(0));
}

#[test]
fn categorical_columns_split_natively_as_scikit_learns_do() {
    let f = &fixture()["german_credit_categorical"];
    let data = ml_datasets::german_credit().unwrap();
    let names: Vec<String> = f["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(data.feature_names(), names, "the fixture's columns are ours");
    let train = data.select_rows(&indices(&f["train"])).unwrap();
    let test = data.select_rows(&indices(&f["test"])).unwrap();
    let truth = test.classes().unwrap().0.to_vec();
    let fit = |ps: &[(&str, &str)]| {
        let ps: Vec<(String, String)> = ps.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Pipeline::from_params("hgb", &ps, Some(0))
            .unwrap()
            .fit_pipeline(&train)
            .unwrap()
    };
    let native = fit(&[]);
    let spec = native.spec();
    // No one-hot step: the trees split on the category codes.
    assert!(spec.preprocessing.is_empty(), "{:?}", spec.preprocessing);
    let Estimator::TreeEnsemble { trees, .. } = &spec.estimator else {
        panic!("boosting gives a tree ensemble")
    };
    let categorical_splits = trees
        .iter()
        .flat_map(|t| &t.nodes)
        .filter(|n| n.split.is_some_and(|s| s.categories.is_some()))
        .count();
    let ours = labels_of(&native, test.features());
    let acc = metrics::accuracy(&truth, &ours).unwrap();
    let expected = f["accuracy"].as_f64().unwrap();
    let theirs = indices(&f["predictions"]);
    let same = ours.iter().zip(&theirs).filter(|(a, b)| a == b).count();
    let onehot = fit(&[("categorical_features", "onehot")]);
    let onehot_acc = metrics::accuracy(&truth, &labels_of(&onehot, test.features())).unwrap();
    println!(
        "hgb on German credit, native categories: ours {acc:.4} ({categorical_splits} categorical splits), scikit-learn {expected:.4} ({} categorical splits), {same} of {} labels equal; one-hot: ours {onehot_acc:.4}, scikit-learn {:.4}",
        f["n_categorical_splits"],
        theirs.len(),
        f["onehot_accuracy"].as_f64().unwrap()
    );
    assert!(categorical_splits > 0);
    assert!(
        (acc - expected).abs() <= 0.005 + 1e-12,
        "ours {acc} vs scikit-learn {expected}"
    );
    // The spec routes rows as the fitted model does, and round-trips.
    assert_eq!(labels_of(&spec, test.features()), ours);
    let back: ml_core::ModelSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
    // Codes past max_bins are refused by name, with the way out.
    let e = Pipeline::from_params("hgb", &[("max_bins".into(), "3".into())], Some(0))
        .unwrap()
        .fit(&train)
        .unwrap_err();
    assert!(e.to_string().contains("categorical_features=onehot"), "{e}");
    // So are scaling and the like, which would change the codes.
    let e = Pipeline::from_params("hgb", &[("scale".into(), "standard".into())], Some(0))
        .unwrap()
        .fit(&train)
        .unwrap_err();
    assert!(e.to_string().contains("categorical_features=onehot"), "{e}");
}
