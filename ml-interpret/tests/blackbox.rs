//! KernelSHAP, permutation importance and partial dependence on models we
//! train: exactness where it is provable, properties where it is not, and
//! typed errors.

use ml_core::ndarray::{Array2, s};
use ml_core::{Dataset, Explainer, Model, Trainer};
use ml_interpret::{KernelShap, LinearShap, PartialDependence, PermutationImportance, exact_shapley};
use ml_learn::Pipeline;

mod common;
use common::params;

#[test]
fn sampled_kernel_shap_is_exact_on_an_additive_model() {
    // A linear regression's prediction is additive in its inputs, so every
    // coalition's value is too and the weighted regression fits exactly,
    // even from a sample of the 2^10 coalitions.
    let data = ml_datasets::load("diabetes").unwrap();
    let model = Pipeline::from_params("linear", &[], None).unwrap().fit(&data).unwrap();
    let x = data.features();
    let bg = x.slice(s![..40, ..]).to_owned();
    let rows = Dataset::new(x.slice(s![100..110, ..]).to_owned(), data.feature_names()).unwrap();
    let kernel = KernelShap {
        n_samples: Some(200),
        ..KernelShap::new(bg.clone())
    }
    .explain(model.as_ref(), &rows)
    .unwrap();
    // Linear SHAP on the raw inputs: scaling is linear, so w_j (x_j - mean).
    let linear = LinearShap { background: Some(bg) }
        .explain(model.as_ref(), &rows)
        .unwrap();
    let d = (&kernel.values - &linear.values)
        .mapv(f64::abs)
        .fold(0.0, |a: f64, &b| a.max(b));
    assert!(d < 1e-8, "KernelSHAP differs from linear SHAP by {d}");
}

#[test]
fn kernel_shap_equals_enumeration_on_a_forest() {
    let data = ml_datasets::load("iris").unwrap();
    let model = Pipeline::from_params("forest", &params(&[("n_trees", "8")]), Some(2))
        .unwrap()
        .fit(&data)
        .unwrap();
    let x = data.features();
    let bg = x.slice(s![..;15, ..]).to_owned();
    let rows = Dataset::new(x.slice(s![60..66, ..]).to_owned(), data.feature_names()).unwrap();
    let e = KernelShap::new(bg.clone()).explain(model.as_ref(), &rows).unwrap();
    for i in 0..rows.n_samples() {
        let row = rows.features().row(i).to_owned();
        let exact = exact_shapley(4, 3, |in_s| {
            let mut mixed = bg.clone();
            for mut z in mixed.outer_iter_mut() {
                for j in 0..4 {
                    if in_s[j] {
                        z[j] = row[j];
                    }
                }
            }
            let ml_core::Predictions::Classification {
                probabilities: Some(p), ..
            } = model.predict(mixed.view()).unwrap()
            else {
                panic!("probabilities expected")
            };
            (0..3).map(|o| p.column(o).mean().unwrap()).collect()
        })
        .unwrap();
        for (j, ex) in exact.iter().enumerate() {
            for (o, v) in ex.iter().enumerate() {
                assert!((e.values[[i, j, o]] - v).abs() < 1e-10, "row {i} feature {j} class {o}");
            }
        }
    }
    // Feature-count regularization keeps at most k non-zero values and still
    // sums to f(x) - E f.
    let e2 = KernelShap {
        max_features: Some(2),
        ..KernelShap::new(bg)
    }
    .explain(model.as_ref(), &rows)
    .unwrap();
    for i in 0..rows.n_samples() {
        for o in 0..3 {
            let col: Vec<f64> = (0..4).map(|j| e2.values[[i, j, o]]).collect();
            assert!(col.iter().filter(|v| **v != 0.0).count() <= 2);
            let full: f64 = (0..4).map(|j| e.values[[i, j, o]]).sum();
            assert!((col.iter().sum::<f64>() - full).abs() < 1e-10);
        }
    }
}

#[test]
fn permutation_importance_ignores_unused_features() {
    let data = ml_datasets::load("breast_cancer").unwrap();
    // A depth-1 tree uses one feature: every other importance is exactly 0.
    let model = Pipeline::from_params("tree", &params(&[("max_depth", "1")]), None)
        .unwrap()
        .fit(&data)
        .unwrap();
    let imp = PermutationImportance::default()
        .importances(model.as_ref(), &data)
        .unwrap();
    let used: Vec<usize> = (0..30).filter(|&j| imp.mean[j] != 0.0).collect();
    assert_eq!(used.len(), 1, "{:?}", imp.mean);
    assert!(imp.mean[used[0]] > 0.1, "{:?}", imp.mean);
    assert!(imp.all.iter().all(|d| d.len() == 5));
    let again = PermutationImportance::default()
        .importances(model.as_ref(), &data)
        .unwrap();
    assert_eq!(imp.mean, again.mean, "seeded shuffles repeat");
    // The chart shows the used feature first.
    let chart = ml_interpret::charts::Chart::importances(&imp, &data.feature_names(), 3);
    let ml_interpret::charts::Chart::Bars { labels, values, .. } = chart else {
        panic!("importances are bars")
    };
    assert_eq!((labels.len(), values[0]), (3, imp.mean[used[0]]));
    assert_eq!(labels[0], data.feature_names()[used[0]]);
}

#[test]
fn bad_input_is_a_typed_error() {
    let data = ml_datasets::load("iris").unwrap();
    let model = Pipeline::from_params("logistic", &[], None)
        .unwrap()
        .fit(&data)
        .unwrap();
    assert!(
        KernelShap::new(Array2::zeros((0, 4)))
            .explain(model.as_ref(), &data)
            .is_err()
    );
    assert!(
        KernelShap::new(Array2::zeros((3, 2)))
            .explain(model.as_ref(), &data)
            .is_err()
    );
    let mut nan = Array2::zeros((3, 4));
    nan[[1, 1]] = f64::NAN;
    assert!(KernelShap::new(nan).explain(model.as_ref(), &data).is_err());
    let unlabeled = Dataset::new(data.features().to_owned(), data.feature_names()).unwrap();
    let err = PermutationImportance::default()
        .importances(model.as_ref(), &unlabeled)
        .unwrap_err();
    assert!(err.to_string().contains("target"), "{err}");
    let pd = PartialDependence::default();
    assert!(pd.curves(model.as_ref(), &data, 9).is_err());
    // By name: in the order named, every feature when none is, and an
    // unknown name is an unknown column.
    let names = data.feature_names();
    let two = pd
        .curves_of(model.as_ref(), &data, &[names[2].clone(), names[0].clone()])
        .unwrap();
    assert_eq!(
        (two[0].feature.as_str(), two[1].feature.as_str()),
        (names[2].as_str(), names[0].as_str())
    );
    assert_eq!(pd.curves_of(model.as_ref(), &data, &[]).unwrap().len(), 4);
    assert!(matches!(
        pd.curves_of(model.as_ref(), &data, &["nope".into()]),
        Err(ml_interpret::Error::Core(ml_core::Error::UnknownColumn { .. }))
    ));
    let bad = PartialDependence {
        percentiles: (0.9, 0.1),
        ..Default::default()
    };
    assert!(bad.curves(model.as_ref(), &data, 0).is_err());
    // Linear SHAP refuses a forest; TreeSHAP-only errors are in tree_shap.rs.
    let forest = Pipeline::from_params("forest", &params(&[("n_trees", "2")]), None)
        .unwrap()
        .fit(&data)
        .unwrap();
    assert!(LinearShap::default().explain(forest.as_ref(), &data).is_err());
}

#[test]
fn lime_finds_the_one_feature_a_stump_uses() {
    use ml_interpret::Lime;
    let data = ml_datasets::load("breast_cancer").unwrap();
    let model = Pipeline::from_params("tree", &params(&[("max_depth", "1")]), None)
        .unwrap()
        .fit(&data)
        .unwrap();
    let used = model.describe().unwrap().estimator.clone();
    let ml_core::Estimator::TreeEnsemble { trees, .. } = used else {
        panic!("tree expected")
    };
    let feature = trees[0].nodes[0].split.unwrap().feature;
    let rows = Dataset::new(data.features().slice(s![..5, ..]).to_owned(), data.feature_names()).unwrap();
    let lime = Lime::new(data.features().to_owned());
    let e = lime.explain(model.as_ref(), &rows).unwrap();
    assert_eq!(e.values.shape(), &[5, 30, 2]);
    for i in 0..5 {
        let w: Vec<f64> = (0..30).map(|j| e.values[[i, j, 1]].abs()).collect();
        let top = (0..30).max_by(|&a, &b| w[a].total_cmp(&w[b])).unwrap();
        assert_eq!(top, feature, "row {i}: {w:?}");
        let rest = (0..30).filter(|&j| j != feature).map(|j| w[j]).fold(0.0, f64::max);
        // The others only pick up sampling noise.
        assert!(
            rest < 0.2 * w[feature],
            "row {i}: other weights up to {rest} against {}",
            w[feature]
        );
    }
    assert_eq!(lime.explain(model.as_ref(), &rows).unwrap(), e, "seeded");
    assert!(
        Lime::new(Array2::zeros((0, 30)))
            .explain(model.as_ref(), &rows)
            .is_err()
    );
    assert!(Lime::new(Array2::zeros((4, 3))).explain(model.as_ref(), &rows).is_err());
}

#[test]
fn a_default_background_takes_evenly_spaced_rows() {
    let x = Array2::from_shape_fn((250, 2), |(i, j)| (i * 10 + j) as f64);
    // Every third row: rows 0, 3, …, 249.
    let k = KernelShap::with_background_from(x.view(), 100);
    assert_eq!(k.background.nrows(), 84);
    assert_eq!(k.background.row(1).to_vec(), [30.0, 31.0]);
    assert_eq!(
        KernelShap::with_background_from(x.slice(s![..50, ..]), 100)
            .background
            .nrows(),
        50
    );
}
